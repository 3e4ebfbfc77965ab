/*
 * t-fmd-multi.c - a volume of four file managers.  Names are placed by
 * hashing (every manager gets some); a client that talks to one manager
 * only reaches the whole volume (misrouted calls are forwarded), and a
 * client that routes with libslice reaches each name's manager directly;
 * every manager hands out the same root; a directory's link count, size
 * and mtime follow creates and removes made on other managers; a listing
 * gathers the names of all managers; RENAME and LINK across managers,
 * REMOVE of a name whose file is elsewhere, RMDIR of a spread directory
 * (refused while another manager holds a name in it) - and afterwards
 * every store passes slice-fmd --check.
 */
#include "fmd_testlib.h"
#include "slice_route.h"

#define N 4

static struct ft_daemon *d[N];
static struct nc c[N];      /* a connection to every manager */
static struct tfh root;

static uint32_t route_of(const struct tfh *dir, const char *name)
{
	struct slice_fh_info i;
	CHECK(slice_fh_parse(dir->b, dir->len, &i) == 0, "parse handle");
	return slice_route_entry(&i, name, strlen(name), N);
}

static uint32_t manager_of(const struct tfh *h)
{
	struct slice_fh_info i;
	CHECK(slice_fh_parse(h->b, h->len, &i) == 0, "parse handle");
	return i.manager;
}

/* A name in dir that routes to manager m (and starts with prefix). */
static void name_on(const struct tfh *dir, uint32_t m, const char *prefix, char *out, size_t len)
{
	for (int i = 0; i < 10000; i++) {
		snprintf(out, len, "%s%d", prefix, i);
		if (route_of(dir, out) == m)
			return;
	}
	CHECK(false, "no name routes to manager %u", m);
}

static uint64_t ns(const nfstime3 *t)
{
	return (uint64_t)t->seconds * 1000000000ull + t->nseconds;
}

static void check_all(void)
{
	for (int i = 0; i < N; i++) {
		char cmd[1024];
		snprintf(cmd, sizeof(cmd), "'%s' --data '%s' --export /slice --volume vol --managers %d "
			 "--index %d --check >>'%s' 2>&1", ft_bin("slice-fmd"), d[i]->dir, N, i, d[i]->log);
		CHECK(system(cmd) == 0, "--check of manager %d (see %s)", i, d[i]->log);
	}
}

int main(int argc, char **argv)
{
	tl_init(argc, argv, 120);
	struct tpz_config cfg;
	tl_config(&cfg, 1, TL_SHM);
	struct tpz_endpoint *ep = tl_endpoint(&cfg);   /* makes the fabric */
	ft_volume(d, N, "--no-root-squash --root-mode 0777");
	struct nres r, r2;
	char name[64], name2[64];

	/* the same root from every manager */
	EXPECT_NFS(nc_mount(d[0]->mount_port, "/slice", &root), MNT3_OK);
	for (int i = 0; i < N; i++) {
		struct tfh ri;
		EXPECT_NFS(nc_mount(d[i]->mount_port, "/slice", &ri), MNT3_OK);
		CHECK(ri.len == root.len && !memcmp(ri.b, root.b, root.len), "root from manager %d differs", i);
		nc_open(&c[i], d[i]->nfs_port, NFS_PROGRAM, 0, 0, 0, NULL);
	}

	/* a directory and 200 files, all through manager 0 */
	EXPECT_NFS(nc_getattr(&c[0], &root, &r), NFS3_OK);
	fattr3 root0 = r.attr;
	EXPECT_NFS(nc_mkdir(&c[0], &root, "d", 0755, &r), NFS3_OK);
	struct tfh dir = r.fh;
	int per[N] = { 0 };
	for (int i = 0; i < 200; i++) {
		snprintf(name, sizeof(name), "f%03d", i);
		EXPECT_NFS(nc_create(&c[0], &dir, name, GUARDED, 0644, NULL, &r), NFS3_OK);
		CHECK(manager_of(&r.fh) == route_of(&dir, name), "%s: its handle names manager %u, not %u", name,
		      manager_of(&r.fh), route_of(&dir, name));
		per[manager_of(&r.fh)]++;
	}
	for (int i = 0; i < N; i++)
		CHECK(per[i] > 20, "manager %d holds only %d of 200 names", i, per[i]);
	NOTE("200 names over 4 managers: %d %d %d %d", per[0], per[1], per[2], per[3]);
	EXPECT_NFS(nc_getattr(&c[0], &root, &r), NFS3_OK);
	CHECK(r.attr.nlink == root0.nlink + 1 && ns(&r.attr.mtime) > ns(&root0.mtime), "root after mkdir: nlink %u",
	      r.attr.nlink);

	/* the directory's attributes, asked of its own manager and of another */
	for (int k = 0; k < N; k++) {
		EXPECT_NFS(nc_getattr(&c[k], &dir, &r), NFS3_OK);
		CHECK(r.attr.size == 4096 + 32 * 200 && r.attr.nlink == 2, "dir via manager %d: size %llu nlink %u", k,
		      (unsigned long long)r.attr.size, r.attr.nlink);
	}
	fattr3 dir0 = r.attr;

	/* direct routing: a create sent straight to the name's manager, and a
	 * lookup sent to a wrong one (forwarded) */
	name_on(&dir, 3, "direct", name, sizeof(name));
	EXPECT_NFS(nc_create(&c[3], &dir, name, GUARDED, 0644, NULL, &r), NFS3_OK);
	EXPECT_NFS(nc_lookup(&c[1], &dir, name, &r), NFS3_OK);
	CHECK(manager_of(&r.fh) == 3, "direct create landed on manager %u", manager_of(&r.fh));
	EXPECT_NFS(nc_getattr(&c[2], &dir, &r), NFS3_OK);
	CHECK(r.attr.size == dir0.size + 32 && ns(&r.attr.mtime) > ns(&dir0.mtime),
	      "a create on manager 3 shows in the directory: size %llu", (unsigned long long)r.attr.size);

	/* subdirectories on other managers count in the link count */
	for (int k = 0; k < N; k++) {
		name_on(&dir, (uint32_t)k, "sub", name, sizeof(name));
		EXPECT_NFS(nc_mkdir(&c[0], &dir, name, 0755, &r), NFS3_OK);
	}
	EXPECT_NFS(nc_getattr(&c[1], &dir, &r), NFS3_OK);
	CHECK(r.attr.nlink == 2 + N, "nlink with a subdirectory on every manager: %u", r.attr.nlink);

	/* the listing gathers every manager's names, in small pages */
	static struct tdirent ents[512];
	int seen = 0, dots = 0;
	uint64_t cookie = 0;
	for (int page = 0; page < 1000; page++) {
		EXPECT_NFS(nc_readdir(&c[0], &dir, cookie, 600, ents, 512, &r), NFS3_OK);
		for (uint32_t i = 0; i < r.nents; i++) {
			if (!strcmp(ents[i].name, ".") || !strcmp(ents[i].name, ".."))
				dots++;
			else
				seen++;
		}
		if (r.nents)
			cookie = ents[r.nents - 1].cookie;
		if (r.eof)
			break;
	}
	CHECK(seen == 201 + N && dots == 2, "listing: %d names, %d dots", seen, dots);
	EXPECT_NFS(nc_readdirplus(&c[2], &dir, 0, 65536, 262144, ents, 512, &r), NFS3_OK);
	CHECK(r.eof && r.nents == 203 + N, "readdirplus: %u", r.nents);
	for (uint32_t i = 0; i < r.nents; i++)
		CHECK(ents[i].has_fh && ents[i].has_attr, "%s: handle and attributes", ents[i].name);

	/* RENAME across managers: a on manager 0 -> b on manager 2 */
	name_on(&dir, 0, "ra", name, sizeof(name));
	name_on(&dir, 2, "rb", name2, sizeof(name2));
	EXPECT_NFS(nc_create(&c[0], &dir, name, GUARDED, 0644, NULL, &r), NFS3_OK);
	struct tfh fa = r.fh;
	uint64_t fa_id = r.attr.fileid;
	EXPECT_NFS(nc_rename(&c[0], &dir, name, &dir, name2, &r), NFS3_OK);
	EXPECT_NFS(nc_lookup(&c[0], &dir, name, &r), NFS3ERR_NOENT);
	EXPECT_NFS(nc_lookup(&c[0], &dir, name2, &r), NFS3_OK);
	CHECK(r.fh.len == fa.len && !memcmp(r.fh.b, fa.b, fa.len), "the renamed file keeps its handle");
	EXPECT_NFS(nc_getattr(&c[1], &r.fh, &r2), NFS3_OK);
	CHECK(r2.attr.fileid == fa_id && r2.attr.nlink == 1, "its attributes");
	/* over an existing file on the other manager */
	EXPECT_NFS(nc_create(&c[0], &dir, name, GUARDED, 0644, NULL, &r), NFS3_OK);
	struct tfh fa2 = r.fh;
	EXPECT_NFS(nc_rename(&c[0], &dir, name, &dir, name2, &r), NFS3_OK);
	EXPECT_NFS(nc_getattr(&c[0], &fa, &r), NFS3ERR_STALE);
	EXPECT_NFS(nc_lookup(&c[3], &dir, name2, &r), NFS3_OK);
	CHECK(!memcmp(r.fh.b, fa2.b, fa2.len), "the name names the new file");
	/* a directory to another manager: not supported (mv copies) */
	name_on(&dir, 1, "subx", name, sizeof(name));
	EXPECT_NFS(nc_mkdir(&c[0], &dir, name, 0755, &r), NFS3_OK);
	name_on(&dir, 2, "suby", name2, sizeof(name2));
	EXPECT_NFS(nc_rename(&c[0], &dir, name, &dir, name2, &r), NFS3ERR_XDEV);
	EXPECT_NFS(nc_rmdir(&c[0], &dir, name, &r), NFS3_OK);

	/* LINK across managers, REMOVE of a name whose file is elsewhere */
	name_on(&dir, 1, "la", name, sizeof(name));
	name_on(&dir, 3, "lb", name2, sizeof(name2));
	EXPECT_NFS(nc_create(&c[0], &dir, name, GUARDED, 0644, NULL, &r), NFS3_OK);
	struct tfh la = r.fh;
	EXPECT_NFS(nc_link(&c[0], &la, &dir, name2, &r), NFS3_OK);
	EXPECT_NFS(nc_getattr(&c[0], &la, &r), NFS3_OK);
	CHECK(r.attr.nlink == 2, "nlink after a cross-manager link: %u", r.attr.nlink);
	EXPECT_NFS(nc_remove(&c[0], &dir, name2, &r), NFS3_OK);
	EXPECT_NFS(nc_getattr(&c[0], &la, &r), NFS3_OK);
	CHECK(r.attr.nlink == 1, "nlink after removing the remote name: %u", r.attr.nlink);
	EXPECT_NFS(nc_link(&c[0], &la, &dir, name2, &r), NFS3_OK);
	EXPECT_NFS(nc_remove(&c[0], &dir, name, &r), NFS3_OK);     /* the file's own name first */
	EXPECT_NFS(nc_remove(&c[0], &dir, name2, &r), NFS3_OK);    /* then the last, remote, name */
	EXPECT_NFS(nc_getattr(&c[0], &la, &r), NFS3ERR_STALE);

	/* RMDIR of a spread directory: refused while any manager holds a
	 * name in it, then done */
	EXPECT_NFS(nc_mkdir(&c[0], &root, "e", 0755, &r), NFS3_OK);
	struct tfh e = r.fh;
	name_on(&e, (manager_of(&e) + 1) % N, "x", name, sizeof(name));
	EXPECT_NFS(nc_create(&c[0], &e, name, GUARDED, 0644, NULL, &r), NFS3_OK);
	EXPECT_NFS(nc_rmdir(&c[0], &root, "e", &r), NFS3ERR_NOTEMPTY);
	EXPECT_NFS(nc_remove(&c[0], &e, name, &r), NFS3_OK);
	EXPECT_NFS(nc_rmdir(&c[0], &root, "e", &r), NFS3_OK);
	EXPECT_NFS(nc_getattr(&c[0], &e, &r), NFS3ERR_STALE);
	EXPECT_NFS(nc_create(&c[0], &e, name, GUARDED, 0644, NULL, &r), NFS3ERR_STALE);

	/* empty d and remove it */
	for (int i = 0; i < 200; i++) {
		snprintf(name, sizeof(name), "f%03d", i);
		EXPECT_NFS(nc_remove(&c[i % N], &dir, name, &r), NFS3_OK);
	}
	EXPECT_NFS(nc_getattr(&c[0], &dir, &r), NFS3_OK);
	CHECK(r.attr.size == 4096 + 32 * (2 + N), "size after the removes: %llu", (unsigned long long)r.attr.size);

	for (int i = 0; i < N; i++)
		nc_close(&c[i]);
	for (int i = 0; i < N; i++)
		CHECK(ft_stop(d[i]) == 0, "clean shutdown of manager %d", i);
	check_all();
	tpz_endpoint_destroy(ep);
	return 0;
}
