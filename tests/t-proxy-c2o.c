/*
 * t-proxy-c2o.c - what another client changed is what slice-proxy reads,
 * even for a file its volume client still has open: a file written and
 * read through the proxy, then grown by 5000 bytes and overwritten at
 * its start through a file manager directly (another NFS client), reads
 * back through the proxy with the new size and the new bytes once the
 * client revalidated (GETATTR: the new size) - as the Linux client does at
 * open.
 */
#include "fmd_testlib.h"
#include "proxy_testlib.h"

int main(int argc, char **argv)
{
	tl_init(argc, argv, 60);
	struct ct_cluster *cl = ct_start(4, 2, NULL);
	struct px *p = px_start(cl, NULL);
	struct tfh root, f;
	struct nres r;
	struct nc viap, direct;
	static char a[1000], b[6000], back[8192];

	memset(a, 'a', sizeof(a));
	memset(b, 'b', sizeof(b));
	EXPECT_NFS(nc_mount(p->port, "/slice", &root), MNT3_OK);
	nc_open(&viap, p->port, NFS_PROGRAM, 0, 0, 0, NULL);
	nc_open(&direct, ct_fmd(cl, 0)->port, NFS_PROGRAM, 0, 0, 0, NULL);
	EXPECT_NFS(nc_create(&viap, &root, "shared", UNCHECKED, 0644, NULL, &r), NFS3_OK);
	f = r.fh;
	EXPECT_NFS(nc_write(&viap, &f, 0, a, sizeof(a), FILE_SYNC, &r), NFS3_OK);
	EXPECT_NFS(nc_commit(&viap, &f, &r), NFS3_OK);
	EXPECT_NFS(nc_read(&viap, &f, 0, sizeof(back), back, &r), NFS3_OK);
	CHECK(r.count == sizeof(a), "first read: %u bytes", r.count);

	/* another client, straight to a manager */
	EXPECT_NFS(nc_write(&direct, &f, 0, b, sizeof(b), FILE_SYNC, &r), NFS3_OK);
	EXPECT_NFS(nc_commit(&direct, &f, &r), NFS3_OK);

	EXPECT_NFS(nc_getattr(&viap, &f, &r), NFS3_OK);
	CHECK(r.attr.size == sizeof(b), "GETATTR through the proxy: size %llu", (unsigned long long)r.attr.size);
	EXPECT_NFS(nc_read(&viap, &f, 0, sizeof(back), back, &r), NFS3_OK);
	CHECK(r.count == sizeof(b) && r.eof, "READ through the proxy: %u bytes (eof %d), want %zu", r.count, r.eof,
	      sizeof(b));
	CHECK(memcmp(back, b, sizeof(b)) == 0, "READ through the proxy: old bytes");
	CHECK(r.has_attr && r.attr.size == sizeof(b), "READ's post-op size %llu", (unsigned long long)r.attr.size);
	nc_close(&viap);
	nc_close(&direct);
	CHECK_RC(px_stop(p), 0);
	ct_stop(cl);
	return tl_finish();
}
