/*
 * t-fmd-perms.c - AUTH_SYS access control with several users: mode bits
 * for owner, group (primary and supplementary) and others; who may chmod,
 * chown and chgrp; the sticky bit; ACCESS answers; root squash (and
 * --no-root-squash); AUTH_NONE as the anonymous user; and --allow refusing
 * a client address for MOUNT and NFS alike.
 */
#include "fmd_testlib.h"
#include "orpc_testlib.h"

#define ALICE 1000
#define BOB   1001
#define CAROL 1002
#define TEAM  2000

static struct nc alice, bob, carol, root;
static struct tfh top;

static void open_users(struct ft_daemon *d)
{
	uint32_t team[1] = { TEAM };
	nc_open(&alice, d->nfs_port, NFS_PROGRAM, ALICE, ALICE, 1, team);
	nc_open(&bob, d->nfs_port, NFS_PROGRAM, BOB, BOB, 1, team);
	nc_open(&carol, d->nfs_port, NFS_PROGRAM, CAROL, CAROL, 0, NULL);
	nc_open(&root, d->nfs_port, NFS_PROGRAM, 0, 0, 0, NULL);
}

static void close_users(void)
{
	nc_close(&alice);
	nc_close(&bob);
	nc_close(&carol);
	nc_close(&root);
}

static void test_modes(void)
{
	struct nres r;
	sattr3 s;

	/* alice: a team directory, group-writable */
	EXPECT_NFS(nc_mkdir(&alice, &top, "team", 0770, &r), NFS3_OK);
	struct tfh team = r.fh;
	CHECK(r.attr.uid == ALICE && r.attr.gid == ALICE, "owner of a new directory: %u:%u", r.attr.uid, r.attr.gid);
	memset(&s, 0, sizeof(s));
	s.gid.set_it = 1;
	s.gid.set_gid3_u.gid = TEAM;
	EXPECT_NFS(nc_setattr(&alice, &team, &s, NULL, &r), NFS3_OK);   /* she is in TEAM */
	s.gid.set_gid3_u.gid = 4242;
	EXPECT_NFS(nc_setattr(&alice, &team, &s, NULL, &r), NFS3ERR_PERM);   /* she is not in 4242 */

	/* bob, through his supplementary group, may create; carol may not even look */
	EXPECT_NFS(nc_create(&bob, &team, "plan", GUARDED, 0600, NULL, &r), NFS3_OK);
	struct tfh plan = r.fh;
	CHECK(r.attr.uid == BOB, "bob owns plan");
	EXPECT_NFS(nc_lookup(&carol, &team, "plan", &r), NFS3ERR_ACCES);
	EXPECT_NFS(nc_create(&carol, &team, "c", GUARDED, 0644, NULL, &r), NFS3ERR_ACCES);
	EXPECT_NFS(nc_readdir(&carol, &team, 0, 4096, NULL, 0, &r), NFS3ERR_ACCES);
	EXPECT_NFS(nc_access(&carol, &team, 0x3f, &r), NFS3_OK);
	CHECK(r.access == 0, "carol's access to team: 0x%x", r.access);
	EXPECT_NFS(nc_access(&bob, &team, 0x3f, &r), NFS3_OK);
	CHECK(r.access == (ACCESS3_READ | ACCESS3_LOOKUP | ACCESS3_MODIFY | ACCESS3_EXTEND | ACCESS3_DELETE),
	      "bob's access to team: 0x%x", r.access);

	/* the file is bob's: 0600 keeps alice out of its contents */
	EXPECT_NFS(nc_read(&alice, &plan, 0, 100, NULL, &r), NFS3ERR_ACCES);
	EXPECT_NFS(nc_read(&bob, &plan, 0, 100, NULL, &r), NFS3_OK);
	memset(&s, 0, sizeof(s));
	s.size.set_it = 1;
	EXPECT_NFS(nc_setattr(&alice, &plan, &s, NULL, &r), NFS3ERR_ACCES);
	memset(&s, 0, sizeof(s));
	s.mode.set_it = 1;
	s.mode.set_mode3_u.mode = 0644;
	EXPECT_NFS(nc_setattr(&alice, &plan, &s, NULL, &r), NFS3ERR_PERM);   /* not the owner */
	EXPECT_NFS(nc_setattr(&bob, &plan, &s, NULL, &r), NFS3_OK);
	memset(&s, 0, sizeof(s));
	s.uid.set_it = 1;
	s.uid.set_uid3_u.uid = CAROL;
	EXPECT_NFS(nc_setattr(&bob, &plan, &s, NULL, &r), NFS3ERR_PERM);     /* only root gives away */
	memset(&s, 0, sizeof(s));
	s.mtime.set_it = SET_TO_CLIENT_TIME;
	EXPECT_NFS(nc_setattr(&alice, &plan, &s, NULL, &r), NFS3ERR_PERM);
	s.mtime.set_it = SET_TO_SERVER_TIME;
	EXPECT_NFS(nc_setattr(&carol, &plan, &s, NULL, &r), NFS3ERR_ACCES); /* no write: carol is other, 0644 */

	/* others may remove from a directory they can write, but not if
	 * they cannot search it */
	EXPECT_NFS(nc_remove(&carol, &team, "plan", &r), NFS3ERR_ACCES);
	EXPECT_NFS(nc_rename(&carol, &team, "plan", &top, "stolen", &r), NFS3ERR_ACCES);
}

static void test_sticky(void)
{
	struct nres r;
	EXPECT_NFS(nc_mkdir(&alice, &top, "tmp", 01777, &r), NFS3_OK);
	struct tfh tmp = r.fh;
	CHECK(r.attr.mode == 01777, "sticky mode: 0%o", r.attr.mode);
	EXPECT_NFS(nc_create(&bob, &tmp, "bobs", GUARDED, 0666, NULL, &r), NFS3_OK);
	EXPECT_NFS(nc_create(&carol, &tmp, "carols", GUARDED, 0666, NULL, &r), NFS3_OK);
	EXPECT_NFS(nc_remove(&carol, &tmp, "bobs", &r), NFS3ERR_ACCES);        /* not hers */
	EXPECT_NFS(nc_rename(&carol, &tmp, "bobs", &tmp, "mine", &r), NFS3ERR_ACCES);
	EXPECT_NFS(nc_remove(&carol, &tmp, "carols", &r), NFS3_OK);            /* hers */
	EXPECT_NFS(nc_remove(&alice, &tmp, "bobs", &r), NFS3_OK);              /* the directory's owner */
}

static void test_root_squash(struct ft_daemon *d)
{
	struct nres r;
	/* squashed root is nobody: no write in alice's 0755 top directory */
	EXPECT_NFS(nc_create(&root, &top, "r", GUARDED, 0644, NULL, &r), NFS3ERR_ACCES);
	EXPECT_NFS(nc_mkdir(&alice, &top, "open", 0777, &r), NFS3_OK);
	struct tfh open = r.fh;
	EXPECT_NFS(nc_create(&root, &open, "r", GUARDED, 0644, NULL, &r), NFS3_OK);
	CHECK(r.attr.uid == 65534 && r.attr.gid == 65534, "squashed owner %u:%u", r.attr.uid, r.attr.gid);

	/* AUTH_NONE: the anonymous user too */
	int fd = rpc_connect(d->nfs_port);
	struct rbuf b;
	uint8_t rep[512];
	b.n = 0;
	rb_u32(&b, 77); rb_u32(&b, 0); rb_u32(&b, 2);
	rb_u32(&b, NFS_PROGRAM); rb_u32(&b, 3); rb_u32(&b, NFS3_CREATE);
	rb_u32(&b, 0); rb_u32(&b, 0);   /* AUTH_NONE */
	rb_u32(&b, 0); rb_u32(&b, 0);
	rb_opaque(&b, top.b, top.len);
	rb_opaque(&b, "anon", 4);
	rb_u32(&b, GUARDED);
	for (int i = 0; i < 6; i++)
		rb_u32(&b, 0);   /* empty sattr3 */
	rpc_send(fd, &b);
	long n = rpc_recv(fd, rep, sizeof(rep), 5000);
	struct rpc_reply rr;
	CHECK(n > 0 && rpc_parse_reply(rep, n, &rr) && rr.accepted && rr.stat == 0, "AUTH_NONE create: rpc");
	CHECK(be32_at(rep, rr.body_off) == NFS3ERR_ACCES, "AUTH_NONE in a 0755 dir: %u",
	      be32_at(rep, rr.body_off));
	close(fd);

	/* --no-root-squash: root is root */
	struct ft_daemon *d2 = ft_new("trusting", "--no-root-squash");
	struct tfh top2;
	struct nc r2;
	EXPECT_NFS(nc_mount(d2->mount_port, "/slice", &top2), MNT3_OK);
	nc_open(&r2, d2->nfs_port, NFS_PROGRAM, 0, 0, 0, NULL);
	EXPECT_NFS(nc_create(&r2, &top2, "r", GUARDED, 0644, NULL, &r), NFS3_OK);
	CHECK(r.attr.uid == 0, "unsquashed owner %u", r.attr.uid);
	nc_close(&r2);
}

static void test_allow(void)
{
	struct ft_daemon *d = ft_new("fenced", "--allow 10.0.0.0/8 --no-root-squash");
	struct tfh fh;
	EXPECT_NFS(nc_mount(d->mount_port, "/slice", &fh), MNT3ERR_ACCES);
	/* a handle from elsewhere gets nothing either */
	struct ft_daemon *d2 = ft_new("open", "--allow 127.0.0.1/32");
	EXPECT_NFS(nc_mount(d2->mount_port, "/slice", &fh), MNT3_OK);
	struct nc c;
	struct nres r;
	nc_open(&c, d->nfs_port, NFS_PROGRAM, 0, 0, 0, NULL);
	EXPECT_NFS(nc_getattr(&c, &fh, &r), NFS3ERR_ACCES);
	CHECK(nc_null(&c) == 0, "NULL is always answered");
	nc_close(&c);
}

int main(int argc, char **argv)
{
	tl_init(argc, argv, 60);
	struct ft_daemon *d = ft_new("fmd", "--root-owner 1000:1000 --root-mode 0755");
	EXPECT_NFS(nc_mount(d->mount_port, "/slice", &top), MNT3_OK);
	open_users(d);
	test_modes();
	test_sticky();
	test_root_squash(d);
	close_users();
	test_allow();
	return 0;
}
