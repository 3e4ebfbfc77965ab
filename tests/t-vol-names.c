/*
 * t-vol-names.c - slice_vol's name space on a volume of 2 managers: every
 * call of the name-space section works and routes (names spread over both
 * managers), its errors are a local file system's (ENOENT, EEXIST,
 * ENOTEMPTY, ENOTDIR, EISDIR, ENAMETOOLONG, EACCES for another user), a
 * listing returns every name once across both managers and resumes from
 * a cookie, and forged or garbage handles give ESTALE - never a crash.
 */
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "cluster_testlib.h"
#include "slice_route.h"
#include "vol_testlib.h"

#define NFILES 40

struct seen {
	uint32_t n, dots;
	bool     got[NFILES];
	uint64_t cookie_at[NFILES];
	uint32_t stop_after;      /* 0: never */
	uint32_t calls;
	uint64_t last;            /* the cookie of the last entry given */
	bool     bad;
};

static int on_ent(void *arg, const char *name, uint64_t fileid, uint64_t cookie, const struct slice_vfh *fh,
		  const struct slice_attr *attr)
{
	struct seen *s = arg;
	s->calls++;
	s->last = cookie;
	if (!strcmp(name, ".") || !strcmp(name, "..")) {
		s->dots++;
		return 0;
	}
	unsigned i;
	if (sscanf(name, "f%u", &i) != 1 || i >= NFILES || s->got[i] || !fh || !attr || attr->fileid != fileid)
		s->bad = true;
	else {
		s->got[i] = true;
		s->cookie_at[i] = cookie;
	}
	s->n++;
	return s->stop_after && s->calls >= s->stop_after;
}

int main(int argc, char **argv)
{
	tl_init(argc, argv, 60);
	struct ct_cluster *c = ct_start(2, 2, NULL);
	struct slice_vol *v = vt_open(c, 0);
	struct slice_cred me = vt_cred(1000, 1000), other = vt_cred(2000, 2000);
	struct slice_vfh root, d, f, g, h;
	struct slice_attr a, ra;

	CHECK_ERR(slice_vol_root(v, &root, &ra), 0);
	CHECK(ra.type == S_IFDIR && ra.mode == 0777, "root: type %o mode %o", ra.type, ra.mode);
	uint32_t node = slice_vol_node(v);
	CHECK(node >= CT_CLIENT_LO && node <= CT_CLIENT_HI, "client node %u in the client range", node);

	/* directories, files, errors */
	CHECK_ERR(slice_vol_mkdir(v, &me, &root, "d", 0755, &d, &a), 0);
	CHECK(a.type == S_IFDIR && a.mode == 0755 && a.uid == 1000, "mkdir attr: %o %o uid %u", a.type, a.mode, a.uid);
	CHECK_ERR(slice_vol_mkdir(v, &me, &root, "d", 0755, NULL, NULL), -EEXIST);
	CHECK_ERR(slice_vol_create(v, &me, &d, "f", 0640, true, &f, &a), 0);
	CHECK(a.type == S_IFREG && a.mode == 0640 && a.size == 0 && a.nlink == 1, "create attr");
	CHECK_ERR(slice_vol_create(v, &me, &d, "f", 0640, true, NULL, NULL), -EEXIST);
	CHECK_ERR(slice_vol_create(v, &me, &d, "f", 0640, false, &g, NULL), 0);   /* UNCHECKED: the same file */
	CHECK(g.len == f.len && !memcmp(g.b, f.b, f.len), "UNCHECKED create of an existing name gives it");
	CHECK_ERR(slice_vol_lookup(v, &me, &d, "f", &g, &a), 0);
	CHECK(g.len == f.len && !memcmp(g.b, f.b, f.len) && a.type == S_IFREG, "lookup finds it");
	CHECK_ERR(slice_vol_lookup(v, &me, &d, "nope", &g, NULL), -ENOENT);
	CHECK_ERR(slice_vol_lookup(v, &me, &f, "x", &g, NULL), -ENOTDIR);
	char longname[300];
	memset(longname, 'n', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = 0;
	CHECK_ERR(slice_vol_create(v, &me, &d, longname, 0644, true, NULL, NULL), -ENAMETOOLONG);
	CHECK_ERR(slice_vol_create(v, &me, &d, "", 0644, true, NULL, NULL), -EINVAL);

	/* attributes, access */
	struct slice_sattr s = { .valid = SLICE_SET_MODE, .mode = 0600 };
	CHECK_ERR(slice_vol_setattr(v, &me, &f, &s, &a), 0);
	CHECK(a.mode == 0600, "setattr mode: %o", a.mode);
	CHECK_ERR(slice_vol_getattr(v, &me, &f, &a), 0);
	CHECK(a.mode == 0600, "getattr mode: %o", a.mode);
	uint32_t granted = 0;
	CHECK_ERR(slice_vol_access(v, &me, &f, R_OK | W_OK | X_OK, &granted), 0);
	CHECK(granted == (R_OK | W_OK), "owner: granted %#x", granted);
	CHECK_ERR(slice_vol_access(v, &other, &f, R_OK | W_OK, &granted), 0);
	CHECK(granted == 0, "other user: granted %#x", granted);
	CHECK_ERR(slice_vol_setattr(v, &other, &f, &s, NULL), -EPERM);
	CHECK_ERR(slice_vol_create(v, &other, &d, "theirs", 0644, true, NULL, NULL), -EACCES);

	/* symlink, mknod */
	CHECK_ERR(slice_vol_symlink(v, &me, &d, "l", "some/where", &h, &a), 0);
	CHECK(a.type == S_IFLNK, "symlink type %o", a.type);
	char buf[64];
	CHECK_ERR(slice_vol_readlink(v, &me, &h, buf, sizeof(buf)), 10);
	CHECK(!strcmp(buf, "some/where"), "readlink: '%s'", buf);
	CHECK_ERR(slice_vol_readlink(v, &me, &h, buf, 5), 10);
	CHECK(!strcmp(buf, "some"), "readlink truncated: '%s'", buf);
	CHECK_ERR(slice_vol_readlink(v, &me, &f, buf, sizeof(buf)), -EINVAL);
	CHECK_ERR(slice_vol_mknod(v, &me, &d, "fifo", S_IFIFO, 0600, 0, NULL, &a), 0);
	CHECK(a.type == S_IFIFO, "fifo type %o", a.type);
	CHECK_ERR(slice_vol_mknod(v, &me, &d, "reg", S_IFREG, 0600, 0, NULL, NULL), -EINVAL);

	/* many names: spread over both managers; one listing sees each once */
	for (int i = 0; i < NFILES; i++) {
		char n[16];
		snprintf(n, sizeof(n), "f%d", i);
		CHECK_ERR(slice_vol_create(v, &me, &root, n, 0644, true, NULL, NULL), 0);
	}
	struct slice_vfh sub;
	CHECK_ERR(slice_vol_mkdir(v, &me, &root, "list", 0755, &sub, NULL), 0);
	for (int i = 0; i < NFILES; i++) {
		char n[16];
		snprintf(n, sizeof(n), "f%d", i);
		CHECK_ERR(slice_vol_create(v, &me, &sub, n, 0644, true, NULL, NULL), 0);
	}
	struct seen se = { 0 };
	bool eof = false;
	CHECK_ERR(slice_vol_readdir(v, &me, &sub, 0, on_ent, &se, &eof), 0);
	CHECK(eof && !se.bad && se.n == NFILES && se.dots == 2, "listing: %u names, %u dots, eof %d, bad %d", se.n,
	      se.dots, eof, se.bad);
	uint32_t mgrs_seen = 0;
	for (int i = 0; i < NFILES; i++)
		mgrs_seen |= 1u << slice_cookie_manager(se.cookie_at[i]);
	CHECK(mgrs_seen == 3, "the names live on both managers (cookie managers %#x)", mgrs_seen);
	/* stop after 12 entries, resume from the last cookie */
	struct seen part = { .stop_after = 12 };
	CHECK_ERR(slice_vol_readdir(v, &me, &sub, 0, on_ent, &part, &eof), 0);
	CHECK(!eof && part.calls == 12, "stopped: %u calls eof %d", part.calls, eof);
	struct seen rest = { 0 };
	CHECK_ERR(slice_vol_readdir(v, &me, &sub, part.last, on_ent, &rest, &eof), 0);
	CHECK(eof && !rest.bad, "resumed listing: eof %d bad %d", eof, rest.bad);
	for (int i = 0; i < NFILES; i++)
		CHECK(part.got[i] + rest.got[i] == 1, "f%d seen %d times across the two parts", i,
		      part.got[i] + rest.got[i]);

	/* remove, rmdir, ENOTEMPTY, EISDIR */
	CHECK_ERR(slice_vol_rmdir(v, &me, &root, "list"), -ENOTEMPTY);
	CHECK_ERR(slice_vol_remove(v, &me, &root, "list"), -EISDIR);
	CHECK_ERR(slice_vol_rmdir(v, &me, &sub, "f0"), -ENOTDIR);
	CHECK_ERR(slice_vol_remove(v, &me, &sub, "nope"), -ENOENT);
	for (int i = 0; i < NFILES; i++) {
		char n[16];
		snprintf(n, sizeof(n), "f%d", i);
		CHECK_ERR(slice_vol_remove(v, &me, &sub, n), 0);
	}
	CHECK_ERR(slice_vol_rmdir(v, &me, &root, "list"), 0);
	CHECK_ERR(slice_vol_getattr(v, &me, &sub, &a), -ESTALE);

	/* statfs */
	struct slice_statfs sf;
	CHECK_ERR(slice_vol_statfs(v, &me, &root, &sf), 0);
	CHECK(sf.tbytes > 0 && sf.namemax == 255, "statfs: %llu bytes", (unsigned long long)sf.tbytes);

	/* garbage and forged handles */
	struct slice_vfh bad = { .len = 0 };
	CHECK_ERR(slice_vol_getattr(v, &me, &bad, &a), -ESTALE);
	bad.len = 7;
	memset(bad.b, 0xab, 7);
	CHECK_ERR(slice_vol_getattr(v, &me, &bad, &a), -ESTALE);
	bad.len = 200;
	CHECK_ERR(slice_vol_getattr(v, &me, &bad, &a), -ESTALE);
	bad = f;
	bad.b[bad.len - 1] ^= 0x5a;   /* the MAC */
	int rc = slice_vol_getattr(v, &me, &bad, &a);
	CHECK(rc == -ESTALE, "forged MAC: %d (%s)", rc, strerror(-rc));
	CHECK(slice_vol_lookup(v, &me, &bad, "x", NULL, NULL) < 0, "lookup in a forged dir fails");
	CHECK(slice_vol_remove(v, &me, &bad, "x") < 0, "remove in a forged dir fails");
	bad = f;
	bad.b[8] ^= 0x01;   /* the file id */
	rc = slice_vol_getattr(v, &me, &bad, &a);
	CHECK(rc == -ESTALE, "forged file id: %d (%s)", rc, strerror(-rc));
	struct slice_vfile *vf;
	CHECK(slice_vol_fopen(v, &me, &bad, &vf) == -ESTALE, "fopen of a forged handle");
	CHECK_ERR(slice_vol_fopen(v, &me, &d, &vf), -EISDIR);
	CHECK_ERR(slice_vol_getattr(v, &me, &f, &a), 0);   /* still fine */

	/* a node id in use, a missing or garbage cluster file: errors, no volume */
	struct slice_vol_config cfg;
	struct slice_vol *v2 = NULL;
	slice_vol_config_default(&cfg);
	cfg.cluster_file = c->file;
	cfg.node = slice_vol_node(v);
	CHECK_ERR(slice_vol_open(&cfg, &v2), -EADDRINUSE);
	cfg.node = 0;
	char path[300];
	snprintf(path, sizeof(path), "%s/none.conf", c->base);
	cfg.cluster_file = path;
	CHECK_ERR(slice_vol_open(&cfg, &v2), -ENOENT);
	FILE *fp = fopen(path, "w");
	CHECK(fp && fputs("[cluster]\nname = x\n\x01\xff garbage = = =\n[fmd 9]\n", fp) >= 0 && fclose(fp) == 0, "file");
	CHECK(slice_vol_open(&cfg, &v2) < 0 && !v2, "a garbage cluster file is refused");

	slice_vol_close(v);
	ct_stop(c);
	return tl_finish();
}
