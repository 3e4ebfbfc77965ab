/*
 * t-fs-random.c - slicefs: data integrity under a random mix.  3000
 * operations (writes of 1 byte to 192 KiB at random offsets, truncates up
 * and down by descriptor and by path, reads, renames over other files,
 * unlinks, closes and reopens) on 6 files of up to 3 MiB, applied both to
 * the mount and to a model in memory; every read and every stat is
 * compared, then every file, then again after a remount.  Seeded: the
 * seed is printed (give one as argv[1] to replay it).
 */
#include <time.h>

#include "cluster_testlib.h"
#include "fs_testlib.h"

#define NF    6
#define MAXS  (3u << 20)
#define OPS   3000
#define MAXW  (192u << 10)

static uint64_t rs;
static uint32_t rnd(uint32_t n)
{
	rs ^= rs << 13;
	rs ^= rs >> 7;
	rs ^= rs << 17;
	return n ? (uint32_t)(rs % n) : 0;
}

static struct fs_mount *M;
static char *model[NF];
static size_t msize[NF];
static bool mexists[NF];
static int fds[NF];

static const char *name(int i)
{
	static char b[8][16];
	static int k;
	char *p = b[k++ & 7];
	snprintf(p, 16, "r%d", i);
	return fs_path(M, p);
}

static void close_fd(int i)
{
	if (fds[i] >= 0) {
		CHECK(close(fds[i]) == 0, "close r%d: %s", i, strerror(errno));
		fds[i] = -1;
	}
}

static int fd_of(int i)
{
	if (fds[i] < 0) {
		fds[i] = open(name(i), O_RDWR | O_CREAT, 0644);
		CHECK(fds[i] >= 0, "open r%d: %s", i, strerror(errno));
		if (!mexists[i]) {
			mexists[i] = true;
			msize[i] = 0;
		}
	}
	return fds[i];
}

static void set_size(int i, size_t size)
{
	if (size > msize[i])
		memset(model[i] + msize[i], 0, size - msize[i]);
	msize[i] = size;
}

static void compare(int i, const char *when, int op)
{
	static char *buf;
	if (!buf)
		CHECK((buf = malloc(MAXS + 1)), "memory");
	struct stat st;
	if (!mexists[i]) {
		CHECK(stat(name(i), &st) < 0 && errno == ENOENT, "op %d %s: r%d should not exist", op, when, i);
		return;
	}
	size_t n = fs_read_file(name(i), buf, MAXS + 1);
	CHECK(n == msize[i], "op %d %s: r%d has %zu bytes, model %zu", op, when, i, n, msize[i]);
	for (size_t k = 0; k < n; k++)
		CHECK(buf[k] == model[i][k], "op %d %s: r%d byte %zu is %02x, model %02x", op, when, i, k,
		      (unsigned char)buf[k], (unsigned char)model[i][k]);
}

int main(int argc, char **argv)
{
	tl_init(argc, argv, 58);
	uint64_t seed = argc > 1 ? strtoull(argv[1], NULL, 0) : (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
	if (!seed)
		seed = 1;
	NOTE("seed %llu (replay: t-fs-random %llu)", (unsigned long long)seed, (unsigned long long)seed);
	rs = seed;
	struct ct_cluster *c = ct_start(3, 1, NULL);
	M = fs_mount(c);
	char *wbuf = malloc(MAXW), *rbuf = malloc(MAXW);
	CHECK(wbuf && rbuf, "memory");
	for (int i = 0; i < NF; i++) {
		CHECK((model[i] = calloc(1, MAXS)), "memory");
		fds[i] = -1;
	}
	unsigned counts[8] = { 0 };

	for (int op = 0; op < OPS; op++) {
		int i = (int)rnd(NF), j;
		uint32_t kind = rnd(100);
		if (kind < 45) {                         /* write */
			uint32_t len = rnd(4) == 0 ? 1 + rnd(16) : 1 + rnd(MAXW);
			uint32_t off = rnd(MAXS - len + 1);
			for (uint32_t k = 0; k < len; k++)
				wbuf[k] = (char)rnd(256);
			int fd = fd_of(i);
			CHECK(pwrite(fd, wbuf, len, off) == (ssize_t)len, "op %d: pwrite r%d %u at %u: %s", op, i, len,
			      off, strerror(errno));
			if (off + len > msize[i])
				set_size(i, off + len);
			memcpy(model[i] + off, wbuf, len);
			counts[0]++;
		} else if (kind < 70) {                  /* read */
			if (!mexists[i])
				continue;
			uint32_t len = 1 + rnd(MAXW);
			uint32_t off = rnd((uint32_t)msize[i] + 1000);
			int fd = fd_of(i);
			ssize_t n = pread(fd, rbuf, len, off);
			size_t want = off >= msize[i] ? 0 : (msize[i] - off < len ? msize[i] - off : len);
			CHECK(n == (ssize_t)want, "op %d: pread r%d %u at %u: %zd, want %zu (%s)", op, i, len, off, n,
			      want, n < 0 ? strerror(errno) : "");
			CHECK(want == 0 || memcmp(rbuf, model[i] + off, want) == 0, "op %d: r%d data at %u differs", op,
			      i, off);
			counts[1]++;
		} else if (kind < 80) {                  /* truncate */
			if (!mexists[i])
				continue;
			uint32_t size = rnd(3) == 0 ? 0 : rnd(MAXS);
			if (fds[i] >= 0 && rnd(2))
				CHECK(ftruncate(fds[i], size) == 0, "op %d: ftruncate r%d %u: %s", op, i, size,
				      strerror(errno));
			else
				CHECK(truncate(name(i), size) == 0, "op %d: truncate r%d %u: %s", op, i, size,
				      strerror(errno));
			set_size(i, size);
			counts[2]++;
		} else if (kind < 87) {                  /* rename over */
			j = (int)rnd(NF);
			if (!mexists[i] || j == i)
				continue;
			close_fd(i);
			close_fd(j);
			CHECK(rename(name(i), name(j)) == 0, "op %d: rename r%d r%d: %s", op, i, j, strerror(errno));
			char *t = model[j];
			model[j] = model[i];
			model[i] = t;
			msize[j] = msize[i];
			mexists[j] = true;
			mexists[i] = false;
			msize[i] = 0;
			counts[3]++;
		} else if (kind < 90) {                  /* unlink */
			if (!mexists[i])
				continue;
			close_fd(i);
			CHECK(unlink(name(i)) == 0, "op %d: unlink r%d: %s", op, i, strerror(errno));
			mexists[i] = false;
			msize[i] = 0;
			counts[4]++;
		} else if (kind < 97) {                  /* close (and later reopen) */
			close_fd(i);
			counts[5]++;
		} else {                                 /* whole-file compare */
			close_fd(i);
			compare(i, "compare", op);
			counts[6]++;
		}
		if (rnd(50) == 0) {
			struct stat st;
			if (mexists[i]) {
				CHECK(stat(name(i), &st) == 0 && (size_t)st.st_size == msize[i],
				      "op %d: stat r%d size %lld, model %zu", op, i, (long long)st.st_size, msize[i]);
			}
		}
	}
	NOTE("writes %u reads %u truncates %u renames %u unlinks %u closes %u compares %u", counts[0], counts[1],
	     counts[2], counts[3], counts[4], counts[5], counts[6]);
	for (int i = 0; i < NF; i++) {
		close_fd(i);
		compare(i, "end", OPS);
	}
	CHECK(fs_umount(M) == 0, "slicefs exits 0");
	M = fs_mount(c);
	for (int i = 0; i < NF; i++)
		compare(i, "after a remount", OPS);
	CHECK(fs_umount(M) == 0, "slicefs exits 0");
	ct_stop(c);
	for (int i = 0; i < NF; i++)
		free(model[i]);
	free(wbuf);
	free(rbuf);
	return tl_finish();
}
