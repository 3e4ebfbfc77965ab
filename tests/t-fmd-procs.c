/*
 * t-fmd-procs.c - every NFSv3 procedure against one slice-fmd through
 * libnfs's raw calls, with its error cases: NOENT, EXIST, NOTDIR, ISDIR,
 * NOTEMPTY, INVAL, STALE, BADHANDLE, NAMETOOLONG, NOT_SYNC, BADTYPE,
 * TOOSMALL; the wcc data and attributes of the directories involved; and
 * everything still there, under the same handles, after a restart.
 * (Permissions, exclusive create, the DRC, large listings, bad bytes and
 * crashes have tests of their own.)
 */
#include "fmd_testlib.h"

static struct nc c;
static struct tfh root;

static uint64_t ns(const nfstime3 *t)
{
	return (uint64_t)t->seconds * 1000000000ull + t->nseconds;
}

static struct tfh made(int st, const struct nres *r, const char *what)
{
	CHECK(st == NFS3_OK, "%s: status %d", what, st);
	CHECK(r->fh.len > 0 && r->has_attr, "%s: no handle or attributes", what);
	return r->fh;
}

static void test_fs(void)
{
	struct nres r;
	CHECK(nc_null(&c) == 0, "NULL");
	EXPECT_NFS(nc_fsinfo(&c, &root, &r), NFS3_OK);
	CHECK(r.u64[0] >= 65536 && r.u64[1] >= 65536 && r.u64[2] > 0, "fsinfo rtmax/wtmax/dtpref");
	EXPECT_NFS(nc_fsstat(&c, &root, &r), NFS3_OK);
	CHECK(r.u64[0] > 0 && r.u64[3] > 0, "fsstat tbytes %llu tfiles %llu",
	      (unsigned long long)r.u64[0], (unsigned long long)r.u64[3]);
	EXPECT_NFS(nc_pathconf(&c, &root, &r), NFS3_OK);
	CHECK(r.u64[1] == 255 && r.u64[2] == 1, "pathconf name_max %llu", (unsigned long long)r.u64[1]);
	EXPECT_NFS(nc_getattr(&c, &root, &r), NFS3_OK);
	CHECK(r.attr.type == NF3DIR && r.attr.nlink == 2, "root: type %d nlink %u", r.attr.type, r.attr.nlink);
}

int main(int argc, char **argv)
{
	tl_init(argc, argv, 60);
	struct ft_daemon *d = ft_new("fmd", "--no-root-squash");
	struct nres r, r2;
	char buf[8192];

	EXPECT_NFS(nc_mount(d->mount_port, "/nowhere", NULL), MNT3ERR_NOENT);
	EXPECT_NFS(nc_mount(d->mount_port, "/slice", &root), MNT3_OK);
	nc_open(&c, d->nfs_port, NFS_PROGRAM, 0, 0, 0, NULL);
	test_fs();

	/* MKDIR: the parent gains a link, a later mtime, a bigger size */
	EXPECT_NFS(nc_getattr(&c, &root, &r), NFS3_OK);
	fattr3 root0 = r.attr;
	struct tfh dir = made(nc_mkdir(&c, &root, "d", 0755, &r), &r, "mkdir d");
	CHECK(r.attr.type == NF3DIR && r.attr.mode == 0755 && r.attr.nlink == 2, "d attributes");
	CHECK(r.wcc.before.attributes_follow && r.wcc.after.attributes_follow, "mkdir dir_wcc");
	CHECK(ns(&r.wcc.before.pre_op_attr_u.attributes.mtime) == ns(&root0.mtime), "pre mtime is the old one");
	fattr3 *ra = &r.wcc.after.post_op_attr_u.attributes;
	CHECK(ra->nlink == 3 && ns(&ra->mtime) > ns(&root0.mtime) && ns(&ra->ctime) > ns(&root0.ctime) &&
	      ra->size > root0.size, "root after mkdir: nlink %u", ra->nlink);
	EXPECT_NFS(nc_mkdir(&c, &root, "d", 0755, &r), NFS3ERR_EXIST);
	EXPECT_NFS(nc_mkdir(&c, &root, ".", 0755, &r), NFS3ERR_EXIST);

	/* CREATE UNCHECKED / GUARDED */
	struct tfh f = made(nc_create(&c, &dir, "f", UNCHECKED, 0644, NULL, &r), &r, "create f");
	CHECK(r.attr.type == NF3REG && r.attr.mode == 0644 && r.attr.size == 0 && r.attr.nlink == 1, "f attrs");
	uint64_t f_id = r.attr.fileid;
	EXPECT_NFS(nc_create(&c, &dir, "f", GUARDED, 0644, NULL, &r), NFS3ERR_EXIST);
	EXPECT_NFS(nc_create(&c, &dir, "f", UNCHECKED, 0644, NULL, &r), NFS3_OK);
	CHECK(r.attr.fileid == f_id, "UNCHECKED on an existing file gives that file");
	EXPECT_NFS(nc_create(&c, &f, "x", UNCHECKED, 0644, NULL, &r), NFS3ERR_NOTDIR);
	EXPECT_NFS(nc_create(&c, &dir, "a/b", UNCHECKED, 0644, NULL, &r), NFS3ERR_ACCES);

	/* LOOKUP */
	EXPECT_NFS(nc_lookup(&c, &dir, "f", &r), NFS3_OK);
	CHECK(r.attr.fileid == f_id && r.fh.len == f.len && !memcmp(r.fh.b, f.b, f.len), "lookup f");
	EXPECT_NFS(nc_lookup(&c, &dir, "missing", &r), NFS3ERR_NOENT);
	EXPECT_NFS(nc_lookup(&c, &f, "x", &r), NFS3ERR_NOTDIR);
	EXPECT_NFS(nc_lookup(&c, &dir, ".", &r), NFS3_OK);
	CHECK(r.fh.len == dir.len && !memcmp(r.fh.b, dir.b, dir.len), "lookup .");
	EXPECT_NFS(nc_lookup(&c, &dir, "..", &r), NFS3_OK);
	CHECK(r.fh.len == root.len && !memcmp(r.fh.b, root.b, root.len), "lookup ..");
	EXPECT_NFS(nc_lookup(&c, &root, "..", &r), NFS3_OK);
	CHECK(!memcmp(r.fh.b, root.b, root.len), "the root's parent is the root");

	/* NAMETOOLONG: 256 bytes; 255 is fine */
	char longname[300];
	memset(longname, 'n', 256);
	longname[256] = 0;
	EXPECT_NFS(nc_lookup(&c, &dir, longname, &r), NFS3ERR_NAMETOOLONG);
	EXPECT_NFS(nc_create(&c, &dir, longname, UNCHECKED, 0644, NULL, &r), NFS3ERR_NAMETOOLONG);
	EXPECT_NFS(nc_mkdir(&c, &dir, longname, 0755, &r), NFS3ERR_NAMETOOLONG);
	EXPECT_NFS(nc_remove(&c, &dir, longname, &r), NFS3ERR_NAMETOOLONG);
	longname[255] = 0;
	EXPECT_NFS(nc_create(&c, &dir, longname, UNCHECKED, 0644, NULL, &r), NFS3_OK);
	EXPECT_NFS(nc_remove(&c, &dir, longname, &r), NFS3_OK);

	/* ACCESS */
	EXPECT_NFS(nc_access(&c, &f, ACCESS3_READ | ACCESS3_MODIFY | ACCESS3_EXECUTE, &r), NFS3_OK);
	CHECK(r.access == (ACCESS3_READ | ACCESS3_MODIFY), "root on 0644: access 0x%x", r.access);

	/* SETATTR: mode, size, times, guard */
	sattr3 s;
	memset(&s, 0, sizeof(s));
	s.mode.set_it = 1;
	s.mode.set_mode3_u.mode = 0600;
	EXPECT_NFS(nc_setattr(&c, &f, &s, NULL, &r), NFS3_OK);
	CHECK(r.has_attr && r.attr.mode == 0600, "mode set");
	nfstime3 ctime0 = r.attr.ctime;
	memset(&s, 0, sizeof(s));
	s.size.set_it = 1;
	s.size.set_size3_u.size = 100;
	EXPECT_NFS(nc_setattr(&c, &f, &s, &ctime0, &r), NFS3_OK);
	CHECK(r.attr.size == 100, "size set: %llu", (unsigned long long)r.attr.size);
	EXPECT_NFS(nc_setattr(&c, &f, &s, &ctime0, &r), NFS3ERR_NOT_SYNC);   /* ctime moved on */
	memset(&s, 0, sizeof(s));
	s.mtime.set_it = SET_TO_CLIENT_TIME;
	s.mtime.set_mtime_u.mtime.seconds = 1000000000;
	s.mtime.set_mtime_u.mtime.nseconds = 5;
	s.atime.set_it = SET_TO_SERVER_TIME;
	EXPECT_NFS(nc_setattr(&c, &f, &s, NULL, &r), NFS3_OK);
	CHECK(r.attr.mtime.seconds == 1000000000 && r.attr.mtime.nseconds == 5, "mtime set");
	memset(&s, 0, sizeof(s));
	s.size.set_it = 1;
	EXPECT_NFS(nc_setattr(&c, &dir, &s, NULL, &r), NFS3ERR_ISDIR);

	/* READ: past the end and of nothing; WRITE of nothing; COMMIT */
	EXPECT_NFS(nc_read(&c, &f, 200, 4096, buf, &r), NFS3_OK);
	CHECK(r.count == 0 && r.eof, "read past the end: count %u eof %d", r.count, r.eof);
	EXPECT_NFS(nc_read(&c, &dir, 0, 4096, buf, &r), NFS3ERR_ISDIR);
	EXPECT_NFS(nc_write(&c, &f, 0, buf, 0, FILE_SYNC, &r), NFS3_OK);
	EXPECT_NFS(nc_write(&c, &dir, 0, buf, 1, FILE_SYNC, &r), NFS3ERR_ISDIR);
	EXPECT_NFS(nc_commit(&c, &f, &r), NFS3_OK);

	/* SYMLINK, READLINK */
	struct tfh l = made(nc_symlink(&c, &dir, "l", "../some/target", &r), &r, "symlink");
	CHECK(r.attr.type == NF3LNK && r.attr.size == strlen("../some/target"), "symlink attrs");
	EXPECT_NFS(nc_readlink(&c, &l, buf, sizeof(buf), &r), NFS3_OK);
	CHECK(strcmp(buf, "../some/target") == 0, "readlink: %s", buf);
	EXPECT_NFS(nc_readlink(&c, &f, buf, sizeof(buf), &r), NFS3ERR_INVAL);
	EXPECT_NFS(nc_symlink(&c, &dir, "l", "x", &r), NFS3ERR_EXIST);

	/* MKNOD */
	made(nc_mknod(&c, &dir, "fifo", NF3FIFO, 0, 0, &r), &r, "mknod fifo");
	CHECK(r.attr.type == NF3FIFO, "fifo type");
	made(nc_mknod(&c, &dir, "chr", NF3CHR, 4, 64, &r), &r, "mknod chr");
	CHECK(r.attr.type == NF3CHR && r.attr.rdev.specdata1 == 4 && r.attr.rdev.specdata2 == 64, "chr rdev");
	EXPECT_NFS(nc_mknod(&c, &dir, "reg", NF3REG, 0, 0, &r), NFS3ERR_BADTYPE);

	/* LINK */
	EXPECT_NFS(nc_link(&c, &f, &dir, "f2", &r), NFS3_OK);
	CHECK(r.has_attr && r.attr.nlink == 2, "nlink after link: %u", r.attr.nlink);
	EXPECT_NFS(nc_link(&c, &f, &dir, "f2", &r), NFS3ERR_EXIST);
	EXPECT_NFS(nc_link(&c, &dir, &root, "dirlink", &r), NFS3ERR_PERM);

	/* READDIR / READDIRPLUS: every name exactly once */
	struct tdirent ents[64];
	const char *want[] = { ".", "..", "f", "l", "fifo", "chr", "f2" };
	EXPECT_NFS(nc_readdir(&c, &dir, 0, 8192, ents, 64, &r), NFS3_OK);
	CHECK(r.eof && r.nents == 7, "readdir: %u entries, eof %d", r.nents, r.eof);
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		int seen = 0;
		for (uint32_t j = 0; j < r.nents; j++)
			seen += strcmp(ents[j].name, want[i]) == 0;
		CHECK(seen == 1, "%s seen %d times", want[i], seen);
	}
	EXPECT_NFS(nc_readdirplus(&c, &dir, 0, 8192, 32768, ents, 64, &r), NFS3_OK);
	CHECK(r.eof && r.nents == 7, "readdirplus: %u", r.nents);
	for (uint32_t j = 0; j < r.nents; j++) {
		CHECK(ents[j].has_attr && ents[j].has_fh, "%s: attrs and handle", ents[j].name);
		CHECK(ents[j].attr.fileid == ents[j].fileid, "%s: fileid", ents[j].name);
		if (strcmp(ents[j].name, "f") == 0)
			CHECK(ents[j].attr.nlink == 2 && !memcmp(ents[j].fh.b, f.b, f.len), "f in readdirplus");
	}
	/* page by page with a tiny count: resume from cookies */
	uint64_t cookie = 0;
	uint32_t total = 0;
	for (int page = 0; page < 20; page++) {
		EXPECT_NFS(nc_readdir(&c, &dir, cookie, 140, ents, 64, &r), NFS3_OK);
		CHECK(r.nents >= 1, "a page with nothing in it");
		total += r.nents;
		cookie = ents[r.nents - 1].cookie;
		if (r.eof)
			break;
	}
	CHECK(total == 7 && r.eof, "paged readdir: %u entries", total);
	EXPECT_NFS(nc_readdir(&c, &dir, 0, 50, ents, 64, &r), NFS3ERR_TOOSMALL);
	EXPECT_NFS(nc_readdir(&c, &f, 0, 8192, ents, 64, &r), NFS3ERR_NOTDIR);

	/* RENAME */
	struct tfh sub = made(nc_mkdir(&c, &dir, "sub", 0755, &r), &r, "mkdir sub");
	made(nc_mkdir(&c, &dir, "full", 0755, &r), &r, "mkdir full");
	struct tfh full = r.fh;
	made(nc_create(&c, &full, "inside", UNCHECKED, 0644, NULL, &r), &r, "create full/inside");
	EXPECT_NFS(nc_rename(&c, &dir, "f2", &dir, "f3", &r), NFS3_OK);
	CHECK(r.wcc.after.attributes_follow && r.wcc2.after.attributes_follow, "rename wcc");
	EXPECT_NFS(nc_lookup(&c, &dir, "f2", &r), NFS3ERR_NOENT);
	EXPECT_NFS(nc_lookup(&c, &dir, "f3", &r), NFS3_OK);
	CHECK(r.attr.fileid == f_id, "f3 is f");
	EXPECT_NFS(nc_rename(&c, &dir, "f3", &dir, "f", &r), NFS3_OK);   /* same file: nothing */
	EXPECT_NFS(nc_lookup(&c, &dir, "f3", &r), NFS3_OK);
	EXPECT_NFS(nc_rename(&c, &dir, "missing", &dir, "x", &r), NFS3ERR_NOENT);
	EXPECT_NFS(nc_rename(&c, &dir, "sub", &sub, "x", &r), NFS3ERR_INVAL);     /* into itself */
	EXPECT_NFS(nc_rename(&c, &dir, "sub", &dir, "full", &r), NFS3ERR_NOTEMPTY);
	EXPECT_NFS(nc_rename(&c, &dir, "fifo", &dir, "sub", &r), NFS3ERR_ISDIR);
	EXPECT_NFS(nc_rename(&c, &dir, "sub", &dir, "fifo", &r), NFS3ERR_NOTDIR);
	EXPECT_NFS(nc_rename(&c, &dir, "l", &f, "x", &r), NFS3ERR_NOTDIR);
	/* a directory to another parent: link counts move */
	EXPECT_NFS(nc_getattr(&c, &dir, &r), NFS3_OK);
	uint32_t dir_nlink = r.attr.nlink;
	EXPECT_NFS(nc_rename(&c, &dir, "sub", &root, "sub-moved", &r), NFS3_OK);
	CHECK(r.wcc.after.post_op_attr_u.attributes.nlink == dir_nlink - 1, "old parent nlink");
	EXPECT_NFS(nc_lookup(&c, &sub, "..", &r), NFS3_OK);
	CHECK(!memcmp(r.fh.b, root.b, root.len), ".. of a moved directory");
	/* over an existing file: it goes */
	made(nc_create(&c, &dir, "victim", UNCHECKED, 0644, NULL, &r), &r, "create victim");
	struct tfh victim = r.fh;
	EXPECT_NFS(nc_rename(&c, &dir, "fifo", &dir, "victim", &r), NFS3_OK);
	EXPECT_NFS(nc_getattr(&c, &victim, &r), NFS3ERR_STALE);
	/* a directory over an empty one */
	made(nc_mkdir(&c, &dir, "empty", 0755, &r), &r, "mkdir empty");
	EXPECT_NFS(nc_rename(&c, &root, "sub-moved", &dir, "empty", &r), NFS3_OK);

	/* REMOVE / RMDIR */
	EXPECT_NFS(nc_remove(&c, &dir, "f3", &r), NFS3_OK);
	EXPECT_NFS(nc_getattr(&c, &f, &r2), NFS3_OK);
	CHECK(r2.attr.nlink == 1, "nlink back to 1: %u", r2.attr.nlink);
	EXPECT_NFS(nc_remove(&c, &dir, "f3", &r), NFS3ERR_NOENT);
	EXPECT_NFS(nc_remove(&c, &dir, "full", &r), NFS3ERR_ISDIR);
	EXPECT_NFS(nc_rmdir(&c, &dir, "f", &r), NFS3ERR_NOTDIR);
	EXPECT_NFS(nc_rmdir(&c, &dir, "full", &r), NFS3ERR_NOTEMPTY);
	EXPECT_NFS(nc_rmdir(&c, &dir, ".", &r), NFS3ERR_INVAL);
	EXPECT_NFS(nc_remove(&c, &full, "inside", &r), NFS3_OK);
	EXPECT_NFS(nc_getattr(&c, &dir, &r2), NFS3_OK);
	uint32_t before_rmdir = r2.attr.nlink;
	EXPECT_NFS(nc_rmdir(&c, &dir, "full", &r), NFS3_OK);
	CHECK(r.wcc.after.post_op_attr_u.attributes.nlink == before_rmdir - 1, "rmdir drops a link");
	EXPECT_NFS(nc_getattr(&c, &full, &r), NFS3ERR_STALE);
	EXPECT_NFS(nc_lookup(&c, &full, "x", &r), NFS3ERR_STALE);

	/* BADHANDLE: truncated, altered, random, empty */
	struct tfh bad = f;
	bad.len = 10;
	EXPECT_NFS(nc_getattr(&c, &bad, &r), NFS3ERR_BADHANDLE);
	bad = f;
	bad.b[9] ^= 1;   /* another file id: the MAC no longer matches */
	EXPECT_NFS(nc_getattr(&c, &bad, &r), NFS3ERR_BADHANDLE);
	for (uint32_t i = 0; i < bad.len; i++)
		bad.b[i] = (uint8_t)(i * 37 + 11);
	EXPECT_NFS(nc_getattr(&c, &bad, &r), NFS3ERR_BADHANDLE);
	EXPECT_NFS(nc_lookup(&c, &bad, "f", &r), NFS3ERR_BADHANDLE);
	EXPECT_NFS(nc_remove(&c, &bad, "f", &r), NFS3ERR_BADHANDLE);
	bad.len = 0;
	EXPECT_NFS(nc_getattr(&c, &bad, &r), NFS3ERR_BADHANDLE);
	bad.len = 64;
	EXPECT_NFS(nc_getattr(&c, &bad, &r), NFS3ERR_BADHANDLE);

	/* a restart: the same names under the same handles */
	nc_close(&c);
	CHECK(ft_stop(d) == 0, "clean shutdown");
	ft_start(d);
	nc_open(&c, d->nfs_port, NFS_PROGRAM, 0, 0, 0, NULL);
	struct tfh root2;
	EXPECT_NFS(nc_mount(d->mount_port, "/slice/", &root2), MNT3_OK);
	CHECK(root2.len == root.len && !memcmp(root2.b, root.b, root.len), "root handle survives");
	EXPECT_NFS(nc_lookup(&c, &dir, "f", &r), NFS3_OK);
	CHECK(r.attr.fileid == f_id && !memcmp(r.fh.b, f.b, f.len) && r.attr.mode == 0600 &&
	      r.attr.size == 100, "f after restart");
	EXPECT_NFS(nc_readlink(&c, &l, buf, sizeof(buf), &r), NFS3_OK);
	EXPECT_NFS(nc_getattr(&c, &victim, &r), NFS3ERR_STALE);
	EXPECT_NFS(nc_readdir(&c, &dir, 0, 8192, ents, 64, &r), NFS3_OK);
	CHECK(r.eof && r.nents == 7, "after restart: %u entries", r.nents);   /* . .. f l chr victim empty */
	nc_close(&c);
	return 0;
}
