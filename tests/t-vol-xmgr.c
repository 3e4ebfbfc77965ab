/*
 * t-vol-xmgr.c - rename and link through slice_vol where the two names
 * live on different managers (2 managers; names chosen with slice_route.h
 * so that both directions are covered): the file keeps its id, the old
 * name goes, the new one appears, a replaced target goes; hard links
 * across managers count in nlink; a directory renamed keeps its contents
 * (to another manager: EXDEV, the managers' documented limit); errors (ENOENT, EXDEV, EEXIST on link) as a
 * local file system gives them.
 */
#include <sys/stat.h>

#include "cluster_testlib.h"
#include "slice_route.h"
#include "vol_testlib.h"

static struct slice_vol *v;
static struct slice_cred me;

/* A name in dir that lives on manager m: prefix + a number. */
static void name_on(const struct slice_vfh *dir, uint32_t m, const char *prefix, char *out, size_t cap)
{
	struct slice_fh_info fi;
	CHECK_RC(slice_fh_parse(dir->b, dir->len, &fi), 0);
	for (int i = 0; i < 1000; i++) {
		snprintf(out, cap, "%s%d", prefix, i);
		if (slice_route_entry(&fi, out, strlen(out), 2) == m)
			return;
	}
	CHECK(false, "no name on manager %u", m);
}

static uint64_t id_of(const struct slice_vfh *dir, const char *name)
{
	struct slice_attr a;
	CHECK_ERR(slice_vol_lookup(v, &me, dir, name, NULL, &a), 0);
	return a.fileid;
}

int main(int argc, char **argv)
{
	tl_init(argc, argv, 60);
	struct ct_cluster *c = ct_start(2, 2, NULL);
	v = vt_open(c, 0);
	me = vt_cred(1000, 1000);
	struct slice_vfh root, d1, d2, f;
	struct slice_attr a;
	char n0[32], n1[32], t0[32], t1[32];

	CHECK_ERR(slice_vol_root(v, &root, NULL), 0);
	CHECK_ERR(slice_vol_mkdir(v, &me, &root, "d1", 0755, &d1, NULL), 0);
	CHECK_ERR(slice_vol_mkdir(v, &me, &root, "d2", 0755, &d2, NULL), 0);

	for (uint32_t from = 0; from < 2; from++) {
		uint32_t to = 1 - from;
		name_on(&d1, from, "src", n0, sizeof(n0));
		name_on(&d2, to, "dst", t0, sizeof(t0));
		CHECK_ERR(slice_vol_create(v, &me, &d1, n0, 0644, true, &f, &a), 0);
		uint64_t id = a.fileid;
		CHECK_ERR(slice_vol_rename(v, &me, &d1, n0, &d2, t0), 0);
		CHECK_ERR(slice_vol_lookup(v, &me, &d1, n0, NULL, NULL), -ENOENT);
		CHECK(id_of(&d2, t0) == id, "manager %u -> %u: the renamed file keeps its id", from, to);
		CHECK_ERR(slice_vol_getattr(v, &me, &f, &a), 0);   /* its handle still works */
		CHECK_ERR(slice_vol_rename(v, &me, &d1, n0, &d2, t0), -ENOENT);

		/* onto an existing file on the other manager: it is replaced */
		name_on(&d1, from, "rep", n1, sizeof(n1));
		CHECK_ERR(slice_vol_create(v, &me, &d1, n1, 0644, true, NULL, &a), 0);
		uint64_t id2 = a.fileid;
		CHECK_ERR(slice_vol_rename(v, &me, &d1, n1, &d2, t0), 0);
		CHECK(id_of(&d2, t0) == id2, "the target was replaced");
		CHECK_ERR(slice_vol_getattr(v, &me, &f, &a), -ESTALE);   /* the replaced file is gone */

		/* link across managers */
		struct slice_vfh g;
		name_on(&d1, from, "lnk", n1, sizeof(n1));
		CHECK_ERR(slice_vol_lookup(v, &me, &d2, t0, &g, NULL), 0);
		CHECK_ERR(slice_vol_link(v, &me, &g, &d1, n1, &a), 0);
		CHECK(a.nlink == 2, "nlink after link: %u", a.nlink);
		CHECK(id_of(&d1, n1) == id2, "the link names the same file");
		CHECK_ERR(slice_vol_link(v, &me, &g, &d1, n1, NULL), -EEXIST);
		CHECK_ERR(slice_vol_remove(v, &me, &d2, t0), 0);
		CHECK_ERR(slice_vol_getattr(v, &me, &g, &a), 0);
		CHECK(a.nlink == 1, "nlink after removing one name: %u", a.nlink);
		CHECK_ERR(slice_vol_remove(v, &me, &d1, n1), 0);
		CHECK_ERR(slice_vol_getattr(v, &me, &g, &a), -ESTALE);
	}

	/* a directory is not renamed to a name on another manager (the
	 * managers' documented limit: XDEV, `mv` copies); on its own it is */
	struct slice_vfh sub;
	name_on(&root, 0, "dir", n0, sizeof(n0));
	name_on(&root, 1, "moved", t0, sizeof(t0));
	CHECK_ERR(slice_vol_mkdir(v, &me, &root, n0, 0755, &sub, NULL), 0);
	CHECK_ERR(slice_vol_create(v, &me, &sub, "inner", 0644, true, NULL, NULL), 0);
	CHECK_ERR(slice_vol_rename(v, &me, &root, n0, &root, t0), -EXDEV);
	name_on(&root, 0, "moved", t0, sizeof(t0));
	CHECK_ERR(slice_vol_rename(v, &me, &root, n0, &root, t0), 0);
	struct slice_vfh sub2;
	CHECK_ERR(slice_vol_lookup(v, &me, &root, t0, &sub2, NULL), 0);
	CHECK_ERR(slice_vol_lookup(v, &me, &sub2, "inner", NULL, NULL), 0);
	CHECK_ERR(slice_vol_lookup(v, &me, &root, n0, NULL, NULL), -ENOENT);
	/* a directory onto another (spread) directory: XDEV, the managers' limit */
	name_on(&root, 0, "empty", t1, sizeof(t1));
	CHECK_ERR(slice_vol_mkdir(v, &me, &root, t1, 0755, NULL, NULL), 0);
	CHECK_ERR(slice_vol_rename(v, &me, &root, t1, &root, t0), -EXDEV);
	CHECK_ERR(slice_vol_rmdir(v, &me, &root, t1), 0);
	CHECK_ERR(slice_vol_remove(v, &me, &sub2, "inner"), 0);
	CHECK_ERR(slice_vol_rmdir(v, &me, &root, t0), 0);

	slice_vol_close(v);
	ct_stop(c);
	return tl_finish();
}
