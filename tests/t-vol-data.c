/*
 * t-vol-data.c - file data through slice_vol on 4 block servers (64 KiB
 * stripe unit) against an in-memory model: random writes (write-behind),
 * reads bounded by the size, holes, truncation down, up and to zero (a new
 * object), flush, fsync; after close and reopen the whole file and the
 * manager's GETATTR size match the model.  Reads past the end are 0,
 * a directory does not open.
 */
#include <sys/stat.h>

#include "cluster_testlib.h"
#include "vol_testlib.h"

#define MAXSZ (3u << 20)

static uint8_t model[MAXSZ], rbuf[MAXSZ], wbuf[1u << 20];
static uint64_t msize;

static uint32_t rnd_state = 12345;
static uint32_t rnd(void)
{
	rnd_state = rnd_state * 1103515245u + 12345u;
	return rnd_state >> 8;
}

static void verify(struct slice_vfile *f, const char *when)
{
	CHECK(slice_vol_fsize(f) == msize, "%s: size %llu, model %llu", when, (unsigned long long)slice_vol_fsize(f),
	      (unsigned long long)msize);
	memset(rbuf, 0xee, msize + 100);
	ssize_t n = slice_vol_read(f, rbuf, msize + 100, 0);
	CHECK(n == (ssize_t)msize, "%s: read %zd of %llu", when, n, (unsigned long long)msize);
	for (uint64_t i = 0; i < msize; i++)
		CHECK(rbuf[i] == model[i], "%s: byte %llu is %u, model %u", when, (unsigned long long)i, rbuf[i], model[i]);
}

int main(int argc, char **argv)
{
	tl_init(argc, argv, 60);
	struct ct_cluster *c = ct_start(4, 1, NULL);
	struct slice_vol *v = vt_open(c, 0);
	struct slice_cred me = vt_cred(1000, 1000);
	struct slice_vfh root, fh;
	struct slice_attr a;
	CHECK_ERR(slice_vol_root(v, &root, NULL), 0);
	CHECK_ERR(slice_vol_create(v, &me, &root, "data", 0644, true, &fh, NULL), 0);

	struct slice_vfile *f;
	CHECK_ERR(slice_vol_fopen(v, &me, &fh, &f), 0);
	CHECK_ERR(slice_vol_read(f, rbuf, 100, 0), 0);

	for (int step = 0; step < 120; step++) {
		uint32_t op = rnd() % 10;
		if (op < 6) {
			uint32_t len = 1 + rnd() % (op == 0 ? sizeof(wbuf) : 70000);
			uint64_t off = rnd() % (MAXSZ - len);
			tl_fill(wbuf, len, (uint32_t)step, 0);
			CHECK_ERR(slice_vol_write(f, wbuf, len, off), len);
			memcpy(model + off, wbuf, len);
			if (off + len > msize)
				msize = off + len;
		} else if (op < 8) {
			uint64_t off = rnd() % MAXSZ, len = 1 + rnd() % 300000;
			ssize_t want = off >= msize ? 0 : (ssize_t)(msize - off < len ? msize - off : len);
			CHECK_ERR(slice_vol_read(f, rbuf, len, off), want);
			CHECK(memcmp(rbuf, model + off, (size_t)want) == 0, "step %d: read at %llu differs", step,
			      (unsigned long long)off);
		} else if (op == 8) {
			uint64_t sz = rnd() % 4 == 0 ? 0 : rnd() % MAXSZ;
			CHECK_ERR(slice_vol_ftruncate(f, sz), 0);
			if (sz < msize)
				memset(model + sz, 0, msize - sz);
			msize = sz;
			CHECK_ERR(slice_vol_getattr(v, &me, &fh, &a), 0);
			CHECK(a.size == sz, "step %d: manager's size %llu after truncate to %llu", step,
			      (unsigned long long)a.size, (unsigned long long)sz);
		} else {
			CHECK_ERR(rnd() % 2 ? slice_vol_flush(f) : slice_vol_fsync(f), 0);
			CHECK_ERR(slice_vol_getattr(v, &me, &fh, &a), 0);
			CHECK(a.size == msize, "step %d: manager's size %llu after flush, model %llu", step,
			      (unsigned long long)a.size, (unsigned long long)msize);
		}
	}
	verify(f, "after the random steps");
	/* to zero (the manager swaps in a new object), then data again */
	CHECK_ERR(slice_vol_ftruncate(f, 0), 0);
	memset(model, 0, msize);
	msize = 0;
	verify(f, "truncated to zero");
	tl_fill(wbuf, 200000, 77, 0);
	CHECK_ERR(slice_vol_write(f, wbuf, 200000, 5000), 200000);
	memcpy(model + 5000, wbuf, 200000);
	msize = 205000;
	verify(f, "written after truncation to zero");
	CHECK_ERR(slice_vol_fsync(f), 0);
	CHECK_ERR(slice_vol_fclose(f), 0);
	CHECK_ERR(slice_vol_getattr(v, &me, &fh, &a), 0);
	CHECK(a.size == msize, "manager's size %llu after close, model %llu", (unsigned long long)a.size,
	      (unsigned long long)msize);
	CHECK_ERR(slice_vol_fopen(v, &me, &fh, &f), 0);
	verify(f, "after reopen");

	/* a hole past the end, then data: zeros in between */
	uint64_t end = msize;
	tl_fill(wbuf, 1000, 99, 0);
	CHECK_ERR(slice_vol_write(f, wbuf, 1000, end + 300000), 1000);
	memcpy(model + end + 300000, wbuf, 1000);
	msize = end + 301000;
	CHECK_ERR(slice_vol_fclose(f), 0);
	CHECK_ERR(slice_vol_fopen(v, &me, &fh, &f), 0);
	verify(f, "after a hole");
	/* release without a commit: the data is there for the next open, and
	 * the attributes handed back are the manager's */
	struct slice_attr ra;
	CHECK(msize + 5000 + 100 <= MAXSZ, "model room: %llu", (unsigned long long)msize);
	tl_fill(wbuf, 5000, 7, 0);
	CHECK_ERR(slice_vol_write(f, wbuf, 5000, msize), 5000);
	memcpy(model + msize, wbuf, 5000);
	msize += 5000;
	CHECK_ERR(slice_vol_frelease(f, &ra), 0);
	CHECK(ra.size == msize, "frelease's size %llu, model %llu", (unsigned long long)ra.size,
	      (unsigned long long)msize);
	/* an open with the attributes just fetched */
	CHECK_ERR(slice_vol_getattr(v, &me, &fh, &a), 0);
	CHECK(a.size == msize && a.mtime.tv_sec == ra.mtime.tv_sec && a.mtime.tv_nsec == ra.mtime.tv_nsec,
	      "getattr after frelease: size %llu", (unsigned long long)a.size);
	CHECK_ERR(slice_vol_fopen_attr(v, &me, &fh, &a, &f), 0);
	verify(f, "after frelease");
	CHECK_ERR(slice_vol_fclose(f), 0);

	struct slice_vfile *bad;
	CHECK_ERR(slice_vol_fopen(v, &me, &root, &bad), -EISDIR);
	/* attributes of another file than the handle's: refused */
	struct slice_attr ra2;
	CHECK_ERR(slice_vol_getattr(v, &me, &root, &ra2), 0);
	CHECK_ERR(slice_vol_fopen_attr(v, &me, &fh, &ra2, &bad), -ESTALE);
	CHECK_ERR(slice_vol_frelease(NULL, NULL), -EINVAL);
	slice_vol_close(v);
	ct_stop(c);
	return tl_finish();
}
