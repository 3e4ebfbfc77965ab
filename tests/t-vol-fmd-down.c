/*
 * t-vol-fmd-down.c - a manager killed under a slice_vol client (2
 * managers, 2 block servers): calls it serves fail with -EIO (or -EAGAIN /
 * -ETIMEDOUT, never a hang) within the timeout, calls the other manager
 * serves alone go on; an open file keeps writing to the block servers
 * but its flush (the size report) fails; after the restart the same
 * volume, the same handles and the same open file work again, and the
 * size reaches the manager.
 */
#include <sys/stat.h>

#include "cluster_testlib.h"
#include "slice_route.h"
#include "vol_testlib.h"

static uint8_t buf[256 << 10], rbuf[256 << 10];

static bool down_err(int rc)
{
	return rc == -EIO || rc == -EAGAIN || rc == -ETIMEDOUT;
}

int main(int argc, char **argv)
{
	tl_init(argc, argv, 60);
	struct ct_cluster *c = ct_start(2, 2, NULL);
	struct slice_vol *v = vt_open(c, 2000);
	struct slice_cred me = vt_cred(1000, 1000);
	struct slice_vfh root, fh;
	struct slice_attr a;
	struct slice_fh_info fi;
	CHECK_ERR(slice_vol_root(v, &root, NULL), 0);
	/* a file whose attributes live on manager 1 */
	char name[32];
	CHECK_RC(slice_fh_parse(root.b, root.len, &fi), 0);
	for (int i = 0;; i++) {
		snprintf(name, sizeof(name), "f%d", i);
		if (slice_route_entry(&fi, name, strlen(name), 2) == 1)
			break;
		CHECK(i < 1000, "no name on manager 1");
	}
	CHECK_ERR(slice_vol_create(v, &me, &root, name, 0644, true, &fh, NULL), 0);
	CHECK_RC(slice_fh_parse(fh.b, fh.len, &fi), 0);
	CHECK(fi.manager == 1, "the file is on manager %u", fi.manager);
	struct slice_vfile *f;
	CHECK_ERR(slice_vol_fopen(v, &me, &fh, &f), 0);
	tl_fill(buf, sizeof(buf), 8, 0);
	CHECK_ERR(slice_vol_write(f, buf, sizeof(buf), 0), sizeof(buf));
	CHECK_ERR(slice_vol_flush(f), 0);

	ct_kill(c, ct_fmd(c, 1));
	double t0 = tl_now_ms();
	int rc = slice_vol_getattr(v, &me, &fh, &a);
	CHECK(down_err(rc), "getattr on the dead manager: %d (%s)", rc, strerror(-rc));
	NOTE("getattr with its manager down: %s after %.0f ms", strerror(-rc), tl_now_ms() - t0);
	t0 = tl_now_ms();
	rc = slice_vol_lookup(v, &me, &root, name, NULL, NULL);
	CHECK(down_err(rc), "lookup of a name the dead manager holds: %d (%s)", rc, strerror(-rc));
	NOTE("lookup with its manager down: %s after %.0f ms", strerror(-rc), tl_now_ms() - t0);
	CHECK_ERR(slice_vol_getattr(v, &me, &root, &a), 0);   /* manager 0 alone */
	struct slice_vfile *g;
	rc = slice_vol_fopen(v, &me, &fh, &g);
	CHECK(down_err(rc), "fopen with the file's manager down: %d", rc);
	/* the open file: data still goes to the block servers; its size report cannot */
	tl_fill(buf, sizeof(buf), 9, 0);
	CHECK_ERR(slice_vol_write(f, buf, sizeof(buf), sizeof(buf)), sizeof(buf));
	t0 = tl_now_ms();
	rc = slice_vol_flush(f);
	CHECK(down_err(rc), "flush with the manager down: %d (%s)", rc, strerror(-rc));
	NOTE("flush with its manager down: %s after %.0f ms", strerror(-rc), tl_now_ms() - t0);

	ct_restart(c, ct_fmd(c, 1));
	rc = -EIO;
	for (int i = 0; i < 50 && down_err(rc); i++) {
		rc = slice_vol_getattr(v, &me, &fh, &a);
		if (down_err(rc))
			usleep(100000);
	}
	CHECK_ERR(rc, 0);
	CHECK_ERR(slice_vol_flush(f), 0);   /* the report goes now */
	CHECK_ERR(slice_vol_getattr(v, &me, &fh, &a), 0);
	CHECK(a.size == 2 * sizeof(buf), "the manager knows the size after its restart: %llu",
	      (unsigned long long)a.size);
	CHECK_ERR(slice_vol_fclose(f), 0);
	CHECK_ERR(slice_vol_fopen(v, &me, &fh, &f), 0);
	CHECK_ERR(slice_vol_read(f, rbuf, sizeof(rbuf), sizeof(buf)), sizeof(rbuf));
	CHECK(tl_verify(rbuf, sizeof(rbuf), 9, 0) < 0, "the bytes written while it was down");
	CHECK_ERR(slice_vol_fclose(f), 0);
	CHECK_ERR(slice_vol_lookup(v, &me, &root, name, NULL, NULL), 0);
	slice_vol_close(v);
	ct_stop(c);
	return tl_finish();
}
