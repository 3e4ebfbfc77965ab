/*
 * t-proxy-perms.c - the proxy's data path checks the caller, as a file
 * manager does (knfsd's rule): uid 2000 may not READ or WRITE uid 1000's
 * 0600 file (NFS3ERR_ACCES), may READ but not WRITE its 0644 file, even
 * right after the owner used it (the volume client already has it open);
 * the owner may write its own 0444 file (NFS has no open: the client
 * checked when it made it); a READ of a directory is NFS3ERR_ISDIR.
 */
#include "fmd_testlib.h"
#include "proxy_testlib.h"

int main(int argc, char **argv)
{
	tl_init(argc, argv, 60);
	struct ct_cluster *cl = ct_start(4, 2, NULL);
	struct px *p = px_start(cl, NULL);
	struct tfh root, priv, pub, ro;
	struct nres r;
	struct nc owner, other;
	static char buf[8192];

	memset(buf, 'x', sizeof(buf));
	EXPECT_NFS(nc_mount(p->port, "/slice", &root), MNT3_OK);
	nc_open(&owner, p->port, NFS_PROGRAM, 1000, 1000, 0, NULL);
	nc_open(&other, p->port, NFS_PROGRAM, 2000, 2000, 0, NULL);

	EXPECT_NFS(nc_create(&owner, &root, "private", UNCHECKED, 0600, NULL, &r), NFS3_OK);
	priv = r.fh;
	EXPECT_NFS(nc_create(&owner, &root, "public", UNCHECKED, 0644, NULL, &r), NFS3_OK);
	pub = r.fh;
	EXPECT_NFS(nc_create(&owner, &root, "readonly", UNCHECKED, 0444, NULL, &r), NFS3_OK);
	ro = r.fh;
	/* the owner uses them first: the volume client has them open */
	EXPECT_NFS(nc_write(&owner, &priv, 0, buf, sizeof(buf), FILE_SYNC, &r), NFS3_OK);
	EXPECT_NFS(nc_write(&owner, &pub, 0, buf, sizeof(buf), FILE_SYNC, &r), NFS3_OK);
	EXPECT_NFS(nc_write(&owner, &ro, 0, buf, sizeof(buf), FILE_SYNC, &r), NFS3_OK);
	EXPECT_NFS(nc_read(&owner, &priv, 0, sizeof(buf), buf, &r), NFS3_OK);

	EXPECT_NFS(nc_read(&other, &priv, 0, sizeof(buf), buf, &r), NFS3ERR_ACCES);
	EXPECT_NFS(nc_write(&other, &priv, 0, buf, 100, FILE_SYNC, &r), NFS3ERR_ACCES);
	EXPECT_NFS(nc_read(&other, &pub, 0, sizeof(buf), buf, &r), NFS3_OK);
	CHECK(r.count == sizeof(buf), "READ of the public file: %u bytes", r.count);
	EXPECT_NFS(nc_write(&other, &pub, 0, buf, 100, UNSTABLE, &r), NFS3ERR_ACCES);
	EXPECT_NFS(nc_write(&other, &ro, 0, buf, 100, UNSTABLE, &r), NFS3ERR_ACCES);
	EXPECT_NFS(nc_read(&owner, &root, 0, 100, buf, &r), NFS3ERR_ISDIR);

	nc_close(&owner);
	nc_close(&other);
	CHECK_RC(px_stop(p), 0);
	ct_stop(cl);
	return tl_finish();
}
