/*
 * t-fmd-excl.c - exclusive CREATE: replayed with the same verifier it
 * succeeds with the same file (also after the client's SETATTR, and after
 * a server restart, when no DRC remembers); with another verifier it is
 * NFS3ERR_EXIST; GUARDED on the name is EXIST.
 */
#include "fmd_testlib.h"

int main(int argc, char **argv)
{
	tl_init(argc, argv, 60);
	struct ft_daemon *d = ft_new("fmd", "--no-root-squash");
	struct tfh root;
	struct nc c;
	struct nres r;

	EXPECT_NFS(nc_mount(d->mount_port, "/slice", &root), MNT3_OK);
	nc_open(&c, d->nfs_port, NFS_PROGRAM, 0, 0, 0, NULL);

	EXPECT_NFS(nc_create(&c, &root, "x", EXCLUSIVE, -1, "verif-A1", &r), NFS3_OK);
	struct tfh x = r.fh;
	uint64_t id = r.attr.fileid;
	EXPECT_NFS(nc_create(&c, &root, "x", EXCLUSIVE, -1, "verif-A1", &r), NFS3_OK);
	CHECK(r.attr.fileid == id && r.fh.len == x.len && !memcmp(r.fh.b, x.b, x.len), "replay: same file");
	EXPECT_NFS(nc_create(&c, &root, "x", EXCLUSIVE, -1, "verif-B2", &r), NFS3ERR_EXIST);
	EXPECT_NFS(nc_create(&c, &root, "x", GUARDED, 0644, NULL, &r), NFS3ERR_EXIST);

	/* the client sets the attributes after an exclusive create */
	sattr3 s;
	memset(&s, 0, sizeof(s));
	s.mode.set_it = 1;
	s.mode.set_mode3_u.mode = 0640;
	s.mtime.set_it = SET_TO_SERVER_TIME;
	EXPECT_NFS(nc_setattr(&c, &x, &s, NULL, &r), NFS3_OK);
	EXPECT_NFS(nc_create(&c, &root, "x", EXCLUSIVE, -1, "verif-A1", &r), NFS3_OK);
	CHECK(r.attr.fileid == id && r.attr.mode == 0640, "replay after SETATTR");

	/* an exclusive create of a name that a plain create made */
	EXPECT_NFS(nc_create(&c, &root, "plain", UNCHECKED, 0644, NULL, &r), NFS3_OK);
	EXPECT_NFS(nc_create(&c, &root, "plain", EXCLUSIVE, -1, "verif-A1", &r), NFS3ERR_EXIST);

	/* after a restart the verifier still decides */
	nc_close(&c);
	CHECK(ft_stop(d) == 0, "clean shutdown");
	ft_start(d);
	nc_open(&c, d->nfs_port, NFS_PROGRAM, 0, 0, 0, NULL);
	EXPECT_NFS(nc_create(&c, &root, "x", EXCLUSIVE, -1, "verif-A1", &r), NFS3_OK);
	CHECK(r.attr.fileid == id, "replay after a restart");
	EXPECT_NFS(nc_create(&c, &root, "x", EXCLUSIVE, -1, "verif-B2", &r), NFS3ERR_EXIST);
	nc_close(&c);
	return 0;
}
