/*
 * t-fmd-mkdir-switch.c - a volume of three file managers placing
 * directories by mkdir switching (--mkdir-switch 667): every directory
 * keeps its names on its own manager, and a new directory goes to another
 * manager than its parent's with probability 2/3, chosen by libslice's
 * slice_route_mkdir as any router would.  Checked: the placement, that a
 * directory's files live with it, attributes given at MKDIR, the parent's
 * link count and size, LOOKUP of the new name and of "..", listings,
 * RMDIR (NOTEMPTY, then done: the handle goes STALE), RENAME within the
 * parent (fine) and to another parent (XDEV: ".." is another manager's).
 * Then a MKDIR and an RMDIR that span two managers are killed (SIGKILL,
 * --crash-at) at every step of their two-phase commit, on the coordinator
 * (the parent's manager) and on the participant (the new directory's):
 * after the restart and the resolvers the directory exists exactly when
 * the decision was made before the kill.  At the end every store passes
 * slice-fmd --check.
 */
#include "fmd_testlib.h"
#include "slice_route.h"

#define N  3
#define PM 667
#define NDIRS 48

static struct ft_daemon *d[N];
static struct nc c[N];
static struct tfh root;
static char base_args[N][1600];

static struct slice_fh_info info(const struct tfh *h)
{
	struct slice_fh_info i;
	CHECK(slice_fh_parse(h->b, h->len, &i) == 0, "parse handle");
	return i;
}

/* Where MKDIR (dir, name) puts the directory, as a router computes it. */
static uint32_t placed(const struct tfh *dir, const char *name)
{
	struct slice_fh_info i = info(dir);
	return slice_route_mkdir(i.fileid, name, strlen(name), i.manager, PM, N);
}

/* A name whose directory goes to manager m when made in dir. */
static void name_placed(const struct tfh *dir, uint32_t m, const char *prefix, int k, char *out, size_t len)
{
	for (int i = 0; i < 100000; i++) {
		snprintf(out, len, "%s%d-%d", prefix, k, i);
		if (placed(dir, out) == m)
			return;
	}
	CHECK(false, "no name for manager %u", m);
}

static void connect_all(void)
{
	for (int i = 0; i < N; i++) {
		nc_close(&c[i]);
		nc_open(&c[i], d[i]->nfs_port, NFS_PROGRAM, 0, 0, 0, NULL);
	}
}

static bool same_fh(const struct tfh *a, const struct tfh *b)
{
	return a->len == b->len && !memcmp(a->b, b->b, a->len);
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

/* ---- the name space ---------------------------------------------------------------- */

static void placement(void)
{
	struct nres r;
	char name[64];
	struct tfh dirs[NDIRS];
	int per[N] = { 0 };

	CHECK(info(&root).flags & SLICE_FH_F_LOCAL, "the root keeps its names (local flag)");
	EXPECT_NFS(nc_getattr(&c[0], &root, &r), NFS3_OK);
	fattr3 root0 = r.attr;

	/* directories made through manager 0 (the root's): placed as routed */
	for (int i = 0; i < NDIRS; i++) {
		snprintf(name, sizeof(name), "d%02d", i);
		EXPECT_NFS(nc_mkdir(&c[0], &root, name, 0750, &r), NFS3_OK);
		dirs[i] = r.fh;
		struct slice_fh_info fi = info(&r.fh);
		CHECK(fi.manager == placed(&root, name), "%s on manager %u, routed to %u", name, fi.manager,
		      placed(&root, name));
		CHECK(fi.flags & SLICE_FH_F_LOCAL, "%s: local flag", name);
		CHECK(r.has_attr && r.attr.type == NF3DIR && (r.attr.mode & 07777) == 0750 && r.attr.nlink == 2,
		      "%s: attributes in the MKDIR reply (mode %o)", name, r.attr.mode);
		per[fi.manager]++;
	}
	for (int i = 0; i < N; i++)
		CHECK(per[i] >= 4, "manager %d holds only %d of %d directories", i, per[i], NDIRS);
	NOTE("%d directories over %d managers: %d %d %d", NDIRS, N, per[0], per[1], per[2]);
	EXPECT_NFS(nc_getattr(&c[1], &root, &r), NFS3_OK);
	CHECK(r.attr.nlink == root0.nlink + NDIRS && r.attr.size == root0.size + 32 * NDIRS,
	      "root after the mkdirs: nlink %u size %llu", r.attr.nlink, (unsigned long long)r.attr.size);

	/* a switched directory: its attributes on its manager, via any */
	int sw = -1;
	for (int i = 0; i < NDIRS && sw < 0; i++)
		if (info(&dirs[i]).manager == 2)
			sw = i;
	CHECK(sw >= 0, "a directory on manager 2");
	struct tfh dir = dirs[sw];
	snprintf(name, sizeof(name), "d%02d", sw);
	for (int k = 0; k < N; k++) {
		EXPECT_NFS(nc_getattr(&c[k], &dir, &r), NFS3_OK);
		CHECK(r.attr.type == NF3DIR && (r.attr.mode & 07777) == 0750 && r.attr.nlink == 2 &&
		      r.attr.size == 4096, "the switched directory via manager %d", k);
	}
	EXPECT_NFS(nc_lookup(&c[0], &root, name, &r), NFS3_OK);
	CHECK(same_fh(&r.fh, &dir), "LOOKUP of %s gives its handle", name);
	EXPECT_NFS(nc_lookup(&c[2], &dir, "..", &r), NFS3_OK);
	CHECK(same_fh(&r.fh, &root), "its .. is the root");

	/* its files live with it, whichever manager the client asks */
	for (int i = 0; i < 20; i++) {
		char f[32];
		snprintf(f, sizeof(f), "f%02d", i);
		EXPECT_NFS(nc_create(&c[i % N], &dir, f, GUARDED, 0644, NULL, &r), NFS3_OK);
		CHECK(info(&r.fh).manager == 2, "%s in it on manager %u", f, info(&r.fh).manager);
	}
	EXPECT_NFS(nc_getattr(&c[0], &dir, &r), NFS3_OK);
	CHECK(r.attr.size == 4096 + 32 * 20 && r.attr.nlink == 2, "after 20 creates: size %llu",
	      (unsigned long long)r.attr.size);

	/* a directory in it: placed from it (the parent's manager is 2) */
	name_placed(&dir, 1, "sub", 0, name, sizeof(name));
	EXPECT_NFS(nc_mkdir(&c[2], &dir, name, 0755, &r), NFS3_OK);
	struct tfh sub = r.fh;
	CHECK(info(&sub).manager == 1, "sub on manager %u", info(&sub).manager);
	EXPECT_NFS(nc_getattr(&c[0], &dir, &r), NFS3_OK);
	CHECK(r.attr.nlink == 3, "nlink with a subdirectory elsewhere: %u", r.attr.nlink);
	EXPECT_NFS(nc_lookup(&c[1], &sub, "..", &r), NFS3_OK);
	CHECK(same_fh(&r.fh, &dir), "sub's .. is its parent");

	/* the root's listing: every directory once, in small pages */
	static struct tdirent ents[256];
	int seen = 0;
	uint64_t cookie = 0;
	for (int page = 0; page < 200; page++) {
		EXPECT_NFS(nc_readdir(&c[1], &root, cookie, 500, ents, 256, &r), NFS3_OK);
		for (uint32_t i = 0; i < r.nents; i++)
			if (strcmp(ents[i].name, ".") && strcmp(ents[i].name, ".."))
				seen++;
		if (r.nents)
			cookie = ents[r.nents - 1].cookie;
		if (r.eof)
			break;
	}
	CHECK(seen == NDIRS, "listing of the root: %d names", seen);
	EXPECT_NFS(nc_readdirplus(&c[0], &dir, 0, 4096, 32768, ents, 256, &r), NFS3_OK);
	CHECK(r.nents == 2 + 20 + 1 && r.eof, "READDIRPLUS of the switched directory: %u entries", r.nents);

	/* RMDIR: of an empty switched directory; of one with names not
	 * before they are gone; then gone everywhere */
	int e = -1;
	for (int i = 0; i < NDIRS && e < 0; i++)
		if (i != sw && info(&dirs[i]).manager != 0)
			e = i;
	CHECK(e >= 0, "another switched directory");
	snprintf(name, sizeof(name), "d%02d", e);
	EXPECT_NFS(nc_rmdir(&c[2], &root, name, &r), NFS3_OK);
	EXPECT_NFS(nc_getattr(&c[0], &dirs[e], &r), NFS3ERR_STALE);
	snprintf(name, sizeof(name), "d%02d", sw);
	EXPECT_NFS(nc_rmdir(&c[0], &root, name, &r), NFS3ERR_NOTEMPTY);
	for (int i = 0; i < 20; i++) {
		char f[32];
		snprintf(f, sizeof(f), "f%02d", i);
		EXPECT_NFS(nc_remove(&c[2], &dir, f, &r), NFS3_OK);
	}
	{
		char s[64];
		name_placed(&dir, 1, "sub", 0, s, sizeof(s));
		EXPECT_NFS(nc_rmdir(&c[2], &dir, s, &r), NFS3_OK);
		EXPECT_NFS(nc_getattr(&c[1], &sub, &r), NFS3ERR_STALE);
	}
	EXPECT_NFS(nc_rmdir(&c[1], &root, name, &r), NFS3_OK);   /* forwarded to manager 0 */
	EXPECT_NFS(nc_getattr(&c[2], &dir, &r), NFS3ERR_STALE);
	EXPECT_NFS(nc_lookup(&c[0], &root, name, &r), NFS3ERR_NOENT);
	EXPECT_NFS(nc_getattr(&c[0], &root, &r), NFS3_OK);
	CHECK(r.attr.nlink == root0.nlink + NDIRS - 2, "root after two rmdirs: nlink %u", r.attr.nlink);

	/* RENAME of a switched directory: within its parent yes, to another
	 * parent no (its ".." is on another manager) */
	int a = -1, b = -1;
	for (int i = 0; i < NDIRS; i++) {
		if (i == sw || i == e)
			continue;
		if (a < 0 && info(&dirs[i]).manager != 0)
			a = i;
		else if (b < 0 && info(&dirs[i]).manager == 0)
			b = i;
	}
	CHECK(a >= 0 && b >= 0, "directories on manager 0 and elsewhere");
	char an[32], bn[32];
	snprintf(an, sizeof(an), "d%02d", a);
	snprintf(bn, sizeof(bn), "d%02d", b);
	EXPECT_NFS(nc_rename(&c[0], &root, an, &root, "renamed", &r), NFS3_OK);
	EXPECT_NFS(nc_lookup(&c[0], &root, "renamed", &r), NFS3_OK);
	CHECK(same_fh(&r.fh, &dirs[a]), "the renamed directory keeps its handle");
	EXPECT_NFS(nc_getattr(&c[0], &dirs[a], &r), NFS3_OK);
	EXPECT_NFS(nc_rename(&c[0], &root, "renamed", &dirs[b], "x", &r), NFS3ERR_XDEV);
	EXPECT_NFS(nc_rename(&c[0], &root, bn, &root, "renamed", &r), NFS3ERR_XDEV);   /* over it: XDEV */
	EXPECT_NFS(nc_rename(&c[0], &root, "renamed", &root, an, &r), NFS3_OK);
}

/* ---- crashes ----------------------------------------------------------------------- */

/* RENAME(x, x) in the root: OK (it exists) or NOENT when the name is
 * free, JUKEBOX while an operation across managers holds it. */
static int probe(const char *name)
{
	struct nres r;
	int st = nc_rename(&c[0], &root, name, &root, name, &r);
	if (st < 0) {   /* the connection went: a manager restarted */
		connect_all();
		return NFS3ERR_JUKEBOX;
	}
	return st;
}

static int wait_free(const char *name)
{
	double end = tl_now_ms() + 20000;
	for (;;) {
		int st = probe(name);
		if (st != NFS3ERR_JUKEBOX)
			return st;
		CHECK(tl_now_ms() < end, "%s still held after 20 s", name);
		usleep(50000);
	}
}

struct hook {
	const char *point;
	int         who;       /* 0: coordinator (manager 0), 1: participant (manager 1) */
	bool        done;      /* the decision it comes after */
};

static const struct hook hooks[] = {
	{ "x-begin", 0, false },
	{ "x-prepared", 0, false },
	{ "p-prepared", 1, false },
	{ "x-decided", 0, true },
	{ "p-applied", 1, true },
	{ "x-told", 0, true },
};

static void crashes(void)
{
	int nh = (int)(sizeof(hooks) / sizeof(hooks[0]));
	for (int round = 0; round < 2 * nh; round++) {
		const struct hook *h = &hooks[round % nh];
		bool rmdir = round >= nh;
		char name[64];
		struct nres r;
		struct tfh made = { 0 };
		name_placed(&root, 1, "k", round, name, sizeof(name));
		if (rmdir) {
			EXPECT_NFS(nc_mkdir(&c[0], &root, name, 0755, &r), NFS3_OK);
			made = r.fh;
			CHECK(info(&made).manager == 1, "made on manager 1");
		}
		EXPECT_NFS(nc_getattr(&c[0], &root, &r), NFS3_OK);
		uint32_t nlink0 = r.attr.nlink;

		struct ft_daemon *x = d[h->who];
		/* a restart to arm the hook: how it stops here is not what this
		 * test judges (a shutdown may wait on calls to a peer that has
		 * just died; the clean shutdowns at the end are checked) */
		int stop_st = ft_stop(x);
		if (stop_st != 0)
			NOTE("round %d: manager %d stopped with status %d", round, h->who, stop_st);
		snprintf(x->args, sizeof(x->args), "%s --crash-at %s:1", base_args[h->who], h->point);
		ft_start(x);
		connect_all();

		int st = rmdir ? nc_rmdir(&c[0], &root, name, &r) : nc_mkdir(&c[0], &root, name, 0755, &r);
		CHECK(ft_dead(x, 10000), "round %d: %s did not fire", round, h->point);
		NOTE("round %d: %s killed at %s; the client got %d", round, rmdir ? "RMDIR" : "MKDIR", h->point, st);

		snprintf(x->args, sizeof(x->args), "%s", base_args[h->who]);
		ft_start(x);
		connect_all();
		st = wait_free(name);

		bool exists = rmdir ? !h->done : h->done;
		CHECK(st == (exists ? NFS3_OK : NFS3ERR_NOENT), "round %d (%s %s): the name %s (%d)", round,
		      rmdir ? "rmdir" : "mkdir", h->point, exists ? "should be there" : "should be gone", st);
		EXPECT_NFS(nc_getattr(&c[0], &root, &r), NFS3_OK);
		int32_t dl = (int32_t)r.attr.nlink - (int32_t)nlink0;
		CHECK(dl == (rmdir ? (exists ? 0 : -1) : (exists ? 1 : 0)), "round %d: root nlink moved by %d", round, dl);
		if (exists) {
			EXPECT_NFS(nc_lookup(&c[0], &root, name, &r), NFS3_OK);
			struct tfh fh = r.fh;
			CHECK(info(&fh).manager == 1 && (!rmdir || same_fh(&fh, &made)), "round %d: the handle", round);
			EXPECT_NFS(nc_getattr(&c[1], &fh, &r), NFS3_OK);
			CHECK(r.attr.type == NF3DIR && r.attr.nlink == 2, "round %d: the directory on manager 1", round);
			/* and it can be used, and removed */
			EXPECT_NFS(nc_create(&c[1], &fh, "f", GUARDED, 0644, NULL, &r), NFS3_OK);
			EXPECT_NFS(nc_remove(&c[1], &fh, "f", &r), NFS3_OK);
			EXPECT_NFS(nc_rmdir(&c[0], &root, name, &r), NFS3_OK);
			EXPECT_NFS(nc_getattr(&c[1], &fh, &r), NFS3ERR_STALE);
		} else if (rmdir) {
			EXPECT_NFS(nc_getattr(&c[1], &made, &r), NFS3ERR_STALE);
		} else {
			/* not made: it can be made now */
			EXPECT_NFS(nc_mkdir(&c[0], &root, name, 0755, &r), NFS3_OK);
			EXPECT_NFS(nc_rmdir(&c[0], &root, name, &r), NFS3_OK);
		}
	}
}

int main(int argc, char **argv)
{
	tl_init(argc, argv, 240);
	nc_soft = true;
	struct tpz_config cfg;
	tl_config(&cfg, 1, TL_SHM);
	cfg.pool_frames = 512;   /* the managers forward through it */
	struct tpz_endpoint *ep = tl_endpoint(&cfg);   /* makes the fabric */
	char extra[64];
	snprintf(extra, sizeof(extra), "--no-root-squash --root-mode 0777 --mkdir-switch %d", PM);
	ft_volume(d, N, extra);
	for (int i = 0; i < N; i++)
		snprintf(base_args[i], sizeof(base_args[i]), "%s", d[i]->args);
	EXPECT_NFS(nc_mount(d[0]->mount_port, "/slice", &root), MNT3_OK);
	for (int i = 1; i < N; i++) {
		struct tfh ri;
		EXPECT_NFS(nc_mount(d[i]->mount_port, "/slice", &ri), MNT3_OK);
		CHECK(same_fh(&ri, &root), "root from manager %d differs", i);
	}
	connect_all();

	placement();
	crashes();

	for (int i = 0; i < N; i++)
		nc_close(&c[i]);
	for (int i = 0; i < N; i++)
		CHECK(ft_stop(d[i]) == 0, "clean shutdown of manager %d", i);
	check_all();
	/* the volume remembers its placement: another is refused */
	char cmd[1200];
	snprintf(cmd, sizeof(cmd), "'%s' --data '%s' --export /slice --volume vol --managers %d --index 0 "
		 "--mkdir-switch 10 --check >>'%s' 2>&1", ft_bin("slice-fmd"), d[0]->dir, N, d[0]->log);
	CHECK(system(cmd) != 0, "another --mkdir-switch is refused");
	tpz_endpoint_destroy(ep);
	return 0;
}
