/*
 * t-vol-c2o.c - close-to-open between two slice_vol clients of one cluster
 * (two Trapeze client nodes, 2 managers, 3 block servers): what one closed
 * the other's next open sees whole (size and bytes), both ways; a flush
 * makes the size visible to the other's GETATTR; a truncation to zero by
 * one is seen by the other's next open (the new object, not the old data).
 */
#include <sys/stat.h>

#include "cluster_testlib.h"
#include "vol_testlib.h"

static uint8_t buf[1 << 20], rbuf[1 << 20];

int main(int argc, char **argv)
{
	tl_init(argc, argv, 60);
	struct ct_cluster *c = ct_start(3, 2, NULL);
	struct slice_vol *va = vt_open(c, 0), *vb = vt_open(c, 0);
	CHECK(slice_vol_node(va) != slice_vol_node(vb), "two client nodes: %u %u", slice_vol_node(va),
	      slice_vol_node(vb));
	struct slice_cred me = vt_cred(1000, 1000);
	struct slice_vfh root, fh, fhb;
	struct slice_attr a;
	struct slice_vfile *fa, *fb;
	CHECK_ERR(slice_vol_root(va, &root, NULL), 0);
	CHECK_ERR(slice_vol_create(va, &me, &root, "shared", 0644, true, &fh, NULL), 0);

	/* A writes and closes; B opens and sees it all */
	tl_fill(buf, sizeof(buf), 1, 0);
	CHECK_ERR(slice_vol_fopen(va, &me, &fh, &fa), 0);
	CHECK_ERR(slice_vol_write(fa, buf, 700000, 0), 700000);
	CHECK_ERR(slice_vol_fclose(fa), 0);
	CHECK_ERR(slice_vol_lookup(vb, &me, &root, "shared", &fhb, &a), 0);
	CHECK(a.size == 700000, "B's lookup: size %llu", (unsigned long long)a.size);
	CHECK_ERR(slice_vol_fopen(vb, &me, &fhb, &fb), 0);
	CHECK(slice_vol_fsize(fb) == 700000, "B's open: size %llu", (unsigned long long)slice_vol_fsize(fb));
	CHECK_ERR(slice_vol_read(fb, rbuf, sizeof(rbuf), 0), 700000);
	CHECK(tl_verify(rbuf, 700000, 1, 0) < 0, "B reads A's bytes");

	/* B appends and flushes: A's GETATTR sees the size; closes: A's open sees the bytes */
	tl_fill(buf, 300000, 2, 0);
	CHECK_ERR(slice_vol_write(fb, buf, 300000, 700000), 300000);
	CHECK_ERR(slice_vol_flush(fb), 0);
	CHECK_ERR(slice_vol_getattr(va, &me, &fh, &a), 0);
	CHECK(a.size == 1000000, "A's getattr after B's flush: %llu", (unsigned long long)a.size);
	CHECK_ERR(slice_vol_fclose(fb), 0);
	CHECK_ERR(slice_vol_fopen(va, &me, &fh, &fa), 0);
	CHECK_ERR(slice_vol_read(fa, rbuf, sizeof(rbuf), 0), 1000000);
	CHECK(tl_verify(rbuf, 700000, 1, 0) < 0 && tl_verify(rbuf + 700000, 300000, 2, 0) < 0, "A reads both");

	/* B truncates to zero and writes anew while A still has it open */
	CHECK_ERR(slice_vol_fopen(vb, &me, &fhb, &fb), 0);
	CHECK_ERR(slice_vol_ftruncate(fb, 0), 0);
	tl_fill(buf, 4096, 3, 0);
	CHECK_ERR(slice_vol_write(fb, buf, 4096, 0), 4096);
	CHECK_ERR(slice_vol_fclose(fb), 0);
	CHECK_ERR(slice_vol_fclose(fa), 0);
	CHECK_ERR(slice_vol_fopen(va, &me, &fh, &fa), 0);
	CHECK(slice_vol_fsize(fa) == 4096, "A's reopen after B's truncation: %llu",
	      (unsigned long long)slice_vol_fsize(fa));
	memset(rbuf, 0, 8192);
	CHECK_ERR(slice_vol_read(fa, rbuf, 8192, 0), 4096);
	CHECK(tl_verify(rbuf, 4096, 3, 0) < 0, "A reads B's new bytes, not the old object");
	CHECK_ERR(slice_vol_fclose(fa), 0);

	slice_vol_close(vb);
	slice_vol_close(va);
	ct_stop(c);
	return tl_finish();
}
