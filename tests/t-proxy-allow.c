/*
 * t-proxy-allow.c - slice-proxy applies the cluster's allow list itself
 * (the managers only see the proxy's address): with allow = 10.9.0.0/16 a
 * client on 127.0.0.1 gets MNT3ERR_ACCES for MNT and NFS3ERR_ACCES for
 * NFS calls, even with a valid handle it got from a manager directly, on
 * the forwarded and on the data path; with 127.0.0.0/8 added it is served.
 */
#include "fmd_testlib.h"
#include "proxy_testlib.h"

static void set_allow(struct ct_cluster *cl, const char *allow)
{
	static struct slice_cluster sc;
	char err[300] = "";
	CHECK(slice_cluster_load(cl->file, &sc, err, sizeof(err)) == 0, "load: %s", err);
	snprintf(sc.allow, sizeof(sc.allow), "%s", allow);
	CHECK_RC(slice_cluster_save(&sc, cl->file), 0);
}

int main(int argc, char **argv)
{
	tl_init(argc, argv, 60);
	struct ct_cluster *cl = ct_start(4, 2, NULL);
	struct tfh root, f;
	struct nres r;
	struct nc c;
	static char buf[4096];

	/* a handle got straight from a manager */
	EXPECT_NFS(nc_mount(ct_fmd(cl, 0)->port, "/slice", &root), MNT3_OK);
	nc_open(&c, ct_fmd(cl, 0)->port, NFS_PROGRAM, 0, 0, 0, NULL);
	EXPECT_NFS(nc_create(&c, &root, "f", UNCHECKED, 0644, NULL, &r), NFS3_OK);
	f = r.fh;
	nc_close(&c);

	set_allow(cl, "10.9.0.0/16");
	struct px *p = px_start(cl, NULL);
	EXPECT_NFS(nc_mount(p->port, "/slice", NULL), MNT3ERR_ACCES);
	nc_open(&c, p->port, NFS_PROGRAM, 0, 0, 0, NULL);
	EXPECT_NFS(nc_getattr(&c, &root, &r), NFS3ERR_ACCES);
	EXPECT_NFS(nc_lookup(&c, &root, "f", &r), NFS3ERR_ACCES);
	EXPECT_NFS(nc_read(&c, &f, 0, sizeof(buf), buf, &r), NFS3ERR_ACCES);
	EXPECT_NFS(nc_write(&c, &f, 0, buf, 100, FILE_SYNC, &r), NFS3ERR_ACCES);
	nc_close(&c);
	CHECK_RC(px_stop(p), 0);
	px_current = NULL;

	set_allow(cl, "10.9.0.0/16, 127.0.0.0/8");
	p = px_start(cl, NULL);
	EXPECT_NFS(nc_mount(p->port, "/slice", NULL), MNT3_OK);
	nc_open(&c, p->port, NFS_PROGRAM, 0, 0, 0, NULL);
	EXPECT_NFS(nc_getattr(&c, &root, &r), NFS3_OK);
	EXPECT_NFS(nc_write(&c, &f, 0, buf, 100, FILE_SYNC, &r), NFS3_OK);
	nc_close(&c);
	CHECK_RC(px_stop(p), 0);
	ct_stop(cl);
	return tl_finish();
}
