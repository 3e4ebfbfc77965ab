/*
 * t-vol-blockd-down.c - a block server killed while a slice_vol client
 * writes (4 block servers): the writes, or the fsync after them, fail with
 * -EIO within the timeout - never a hang - and reads of its blocks too;
 * after it restarts, the same open file writes, syncs and reads again.
 */
#include <sys/stat.h>

#include "cluster_testlib.h"
#include "vol_testlib.h"

static uint8_t buf[1 << 20], rbuf[1 << 20];

int main(int argc, char **argv)
{
	tl_init(argc, argv, 60);
	struct ct_cluster *c = ct_start(4, 1, NULL);
	struct slice_vol *v = vt_open(c, 2000);
	struct slice_cred me = vt_cred(1000, 1000);
	struct slice_vfh root, fh;
	struct slice_vfile *f;
	CHECK_ERR(slice_vol_root(v, &root, NULL), 0);
	CHECK_ERR(slice_vol_create(v, &me, &root, "f", 0644, true, &fh, NULL), 0);
	CHECK_ERR(slice_vol_fopen(v, &me, &fh, &f), 0);
	tl_fill(buf, sizeof(buf), 5, 0);
	CHECK_ERR(slice_vol_write(f, buf, sizeof(buf), 0), sizeof(buf));
	CHECK_ERR(slice_vol_fsync(f), 0);

	ct_kill(c, ct_blockd(c, 2));
	double t0 = tl_now_ms();
	int err = 0;
	for (int i = 0; i < 16 && !err; i++) {
		ssize_t n = slice_vol_write(f, buf, sizeof(buf), (uint64_t)i << 20);
		if (n < 0)
			err = (int)n;
	}
	if (!err)
		err = slice_vol_fsync(f);
	CHECK(err == -EIO, "writes with a block server down: %d (%s)", err, strerror(-err));
	NOTE("writes with a block server down: -EIO after %.0f ms", tl_now_ms() - t0);
	t0 = tl_now_ms();
	ssize_t n = slice_vol_read(f, rbuf, sizeof(rbuf), 0);
	CHECK(n == -EIO, "a read over the dead server: %zd", n);
	NOTE("read with a block server down: -EIO after %.0f ms", tl_now_ms() - t0);

	ct_restart(c, ct_blockd(c, 2));
	tl_fill(buf, sizeof(buf), 6, 0);
	int rc = -EIO;
	/* the error was reported once; the server is reconnected on use */
	for (int i = 0; i < 3 && rc < 0; i++) {
		ssize_t w = slice_vol_write(f, buf, sizeof(buf), 0);
		rc = w < 0 ? (int)w : slice_vol_fsync(f);
	}
	CHECK_ERR(rc, 0);
	CHECK_ERR(slice_vol_read(f, rbuf, sizeof(rbuf), 0), sizeof(rbuf));
	CHECK(tl_verify(rbuf, sizeof(rbuf), 6, 0) < 0, "data after the restart");
	CHECK_ERR(slice_vol_fclose(f), 0);
	slice_vol_close(v);
	ct_stop(c);
	return tl_finish();
}
