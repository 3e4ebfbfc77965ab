/*
 * t-fs-parallel.c - slicefs: the multi-threaded loop under concurrent
 * users.  4 processes each rewrite and verify their own file (random
 * sizes and offsets, seeded per process), 2 processes share one file
 * through separate descriptors (disjoint 64 KiB regions, so each region's
 * last writer is known), and one lists and stats the directory meanwhile;
 * all end with the expected data.
 */
#include "cluster_testlib.h"
#include "fs_testlib.h"

#define ROUNDS 60
#define REG    (64u << 10)

static struct fs_mount *M;

static int own_file(int id)
{
	char name[32];
	snprintf(name, sizeof(name), "own%d", id);
	const char *p = fs_path(M, name);
	size_t cap = 1u << 20;
	char *buf = malloc(cap), *rd = malloc(cap);
	if (!buf || !rd)
		return 2;
	for (int r = 0; r < ROUNDS; r++) {
		size_t len = 1 + (size_t)((r * 7919u + (unsigned)id * 104729u) % cap);
		tl_fill(buf, len, (uint32_t)(id * 1000 + r), 0);
		int fd = open(p, O_RDWR | O_CREAT | O_TRUNC, 0644);
		if (fd < 0 || write(fd, buf, len) != (ssize_t)len || close(fd) != 0)
			return 3;
		fd = open(p, O_RDONLY);
		if (fd < 0)
			return 4;
		ssize_t n = read(fd, rd, cap);
		close(fd);
		if (n != (ssize_t)len || tl_verify(rd, len, (uint32_t)(id * 1000 + r), 0) >= 0) {
			NOTE("own%d round %d: read %zd of %zu (%s)", id, r, n, len, n < 0 ? strerror(errno) : "");
			return 5;
		}
	}
	free(buf);
	free(rd);
	return 0;
}

/* Writers 0 and 1 share "shared": each owns every other 64 KiB region. */
static int shared_writer(int id)
{
	char *buf = malloc(REG);
	if (!buf)
		return 2;
	int fd = open(fs_path(M, "shared"), O_RDWR);
	if (fd < 0)
		return 3;
	for (int r = 0; r < ROUNDS; r++)
		for (int k = id; k < 16; k += 2) {
			tl_fill(buf, REG, (uint32_t)(k * 100 + r), 0);
			if (pwrite(fd, buf, REG, (off_t)k * REG) != REG)
				return 4;
		}
	free(buf);
	return close(fd) == 0 ? 0 : 5;
}

static int lister(void)
{
	for (int r = 0; r < ROUNDS * 2; r++) {
		DIR *d = opendir(M->dir);
		if (!d)
			return 2;
		struct dirent *de;
		while ((de = readdir(d))) {
			struct stat st;
			char p[600];
			snprintf(p, sizeof(p), "%s/%s", M->dir, de->d_name);
			if (stat(p, &st) < 0 && errno != ENOENT)
				return 3;
		}
		closedir(d);
	}
	return 0;
}

int main(int argc, char **argv)
{
	tl_init(argc, argv, 58);
	struct ct_cluster *c = ct_start(3, 1, NULL);
	M = fs_mount(c);
	int fd = open(fs_path(M, "shared"), O_RDWR | O_CREAT, 0644);
	CHECK(fd >= 0 && ftruncate(fd, 16 * REG) == 0 && close(fd) == 0, "shared");

	pid_t kids[7];
	for (int i = 0; i < 7; i++) {
		kids[i] = fork();
		CHECK(kids[i] >= 0, "fork");
		if (kids[i] == 0) {
			tl_is_child = true;
			alarm(50);
			_exit(i < 4 ? own_file(i) : i < 6 ? shared_writer(i - 4) : lister());
		}
	}
	for (int i = 0; i < 7; i++) {
		int ws = 0;
		CHECK(waitpid(kids[i], &ws, 0) == kids[i], "wait");
		CHECK(WIFEXITED(ws) && WEXITSTATUS(ws) == 0, "child %d: %s %d", i,
		      WIFEXITED(ws) ? "exit" : "signal", WIFEXITED(ws) ? WEXITSTATUS(ws) : WTERMSIG(ws));
	}
	char *rd = malloc(16 * REG);
	CHECK(rd && fs_read_file(fs_path(M, "shared"), rd, 16 * REG) == 16 * REG, "read shared");
	for (int k = 0; k < 16; k++)
		CHECK(tl_verify(rd + (size_t)k * REG, REG, (uint32_t)(k * 100 + ROUNDS - 1), 0) < 0,
		      "shared region %d holds its writer's last round", k);
	free(rd);
	CHECK(fs_umount(M) == 0, "slicefs exits 0");
	ct_stop(c);
	return tl_finish();
}
