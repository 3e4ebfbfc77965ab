/*
 * t-fmd-crash.c - kill -9 at any moment leaves a consistent name space,
 * and nothing a client was told is lost.
 *
 * A client runs a script of creates, mkdirs, links, renames, removes and
 * rmdirs against one file manager and keeps a model of what was
 * acknowledged.  The file manager is killed (SIGKILL) by its test hook
 * just before or just after the N-th commit (several N, both points), or
 * by the test at an arbitrary moment, with one call or a whole window of
 * calls in flight.  After each kill: `slice-fmd --check` must find the
 * store consistent, and after a restart every acknowledged name must be
 * there - and nothing else, except what the unanswered calls did.
 */
#include "fmd_testlib.h"

#define MAXN 600

struct ment {
	char    name[32];
	uint8_t type;        /* NF3REG, NF3DIR; 0: free */
	int     dir;         /* -1: in the root; else the index of its directory */
};

static struct ment model[MAXN];
static int nmodel;
static struct ft_daemon *d;
static struct tfh root;
static struct nc c;
static unsigned rng = 12345;

/* The step in flight when the server died: did it happen?  Decided after
 * the restart by looking (reconcile). */
enum { P_NONE, P_ADD, P_MOVE, P_DROP };
static struct {
	int     kind;
	int     idx;           /* P_MOVE, P_DROP: the model entry */
	char    name[32];      /* P_ADD, P_MOVE: the new name */
	int     dir;           /* ... in this directory */
	uint8_t type;          /* P_ADD */
} pend;

static unsigned rnd(void)
{
	rng = rng * 1103515245u + 12345u;
	return rng >> 8;
}

static int find(const char *name, int dir)
{
	for (int i = 0; i < nmodel; i++)
		if (model[i].type && model[i].dir == dir && !strcmp(model[i].name, name))
			return i;
	return -1;
}

static int pick(uint8_t type, int dir_filter)
{
	int n = 0, idx[MAXN];
	for (int i = 0; i < nmodel; i++)
		if (model[i].type == type && (dir_filter == -2 || model[i].dir == dir_filter))
			idx[n++] = i;
	return n ? idx[rnd() % (unsigned)n] : -1;
}

static bool dir_empty(int di)
{
	for (int i = 0; i < nmodel; i++)
		if (model[i].type && model[i].dir == di)
			return false;
	return true;
}

/* The handle of model entry i's directory (the root or a model dir). */
static int dir_fh(int di, struct tfh *out)
{
	struct nres r;
	if (di < 0) {
		*out = root;
		return NFS3_OK;
	}
	int st = nc_lookup(&c, &root, model[di].name, &r);
	if (st == NFS3_OK)
		*out = r.fh;
	return st;
}

/* One step of the script: returns 1 acknowledged, 0 the server is gone
 * (the step may or may not have happened). */
static int step(int k)
{
	struct nres r;
	struct tfh dfh, dfh2;
	char name[32];
	int st = -1, op = (int)(rnd() % 10);

	if (op <= 2 || nmodel < 4) {                                 /* create */
		int di = rnd() % 3 == 0 ? pick(NF3DIR, -1) : -1;
		snprintf(name, sizeof(name), "f%d", k);
		if (dir_fh(di, &dfh) != NFS3_OK)
			return 0;
		pend = (typeof(pend)){ P_ADD, -1, "", di, NF3REG };
		snprintf(pend.name, sizeof(pend.name), "%s", name);
		st = nc_create(&c, &dfh, name, GUARDED, 0644, NULL, &r);
		if (st == NFS3_OK && nmodel < MAXN)
			model[nmodel++] = (struct ment){ .type = NF3REG, .dir = di };
		if (st == NFS3_OK)
			snprintf(model[nmodel - 1].name, sizeof(model[0].name), "%s", name);
	} else if (op == 3) {                                        /* mkdir */
		snprintf(name, sizeof(name), "d%d", k);
		pend = (typeof(pend)){ P_ADD, -1, "", -1, NF3DIR };
		snprintf(pend.name, sizeof(pend.name), "%s", name);
		st = nc_mkdir(&c, &root, name, 0755, &r);
		if (st == NFS3_OK && nmodel < MAXN) {
			model[nmodel] = (struct ment){ .type = NF3DIR, .dir = -1 };
			snprintf(model[nmodel++].name, sizeof(model[0].name), "%s", name);
		}
	} else if (op <= 5) {                                        /* rename a file */
		int i = pick(NF3REG, -2), to = rnd() % 2 ? pick(NF3DIR, -1) : -1;
		if (i < 0)
			return 1;
		snprintf(name, sizeof(name), "r%d", k);
		if (dir_fh(model[i].dir, &dfh) != NFS3_OK || dir_fh(to, &dfh2) != NFS3_OK)
			return 0;
		pend = (typeof(pend)){ P_MOVE, i, "", to, 0 };
		snprintf(pend.name, sizeof(pend.name), "%s", name);
		st = nc_rename(&c, &dfh, model[i].name, &dfh2, name, &r);
		if (st == NFS3_OK) {
			model[i].dir = to;
			snprintf(model[i].name, sizeof(model[0].name), "%s", name);
		}
	} else if (op == 6) {                                        /* link */
		int i = pick(NF3REG, -1);
		if (i < 0)
			return 1;
		struct nres lr;
		if (nc_lookup(&c, &root, model[i].name, &lr) != NFS3_OK)
			return 0;
		snprintf(name, sizeof(name), "l%d", k);
		pend = (typeof(pend)){ P_ADD, -1, "", -1, NF3REG };
		snprintf(pend.name, sizeof(pend.name), "%s", name);
		st = nc_link(&c, &lr.fh, &root, name, &r);
		if (st == NFS3_OK && nmodel < MAXN) {
			model[nmodel] = (struct ment){ .type = NF3REG, .dir = -1 };
			snprintf(model[nmodel++].name, sizeof(model[0].name), "%s", name);
		}
	} else if (op <= 8) {                                        /* remove */
		int i = pick(NF3REG, -2);
		if (i < 0)
			return 1;
		if (dir_fh(model[i].dir, &dfh) != NFS3_OK)
			return 0;
		pend = (typeof(pend)){ P_DROP, i, "", 0, 0 };
		st = nc_remove(&c, &dfh, model[i].name, &r);
		if (st == NFS3_OK)
			model[i].type = 0;
	} else {                                                     /* rmdir */
		int i = pick(NF3DIR, -1);
		if (i < 0 || !dir_empty(i))
			return 1;
		pend = (typeof(pend)){ P_DROP, i, "", 0, 0 };
		st = nc_rmdir(&c, &root, model[i].name, &r);
		if (st == NFS3_OK)
			model[i].type = 0;
	}
	if (st < 0)
		return 0;
	pend.kind = P_NONE;
	CHECK(st == NFS3_OK, "step %d (op %d): status %d", k, op, st);
	return 1;
}

static void check_store(void)
{
	char cmd[1024];
	snprintf(cmd, sizeof(cmd), "'%s' --data '%s' --export /slice --volume vol --check >>'%s' 2>&1",
		 ft_bin("slice-fmd"), d->dir, d->log);
	int rc = system(cmd);
	CHECK(rc == 0, "slice-fmd --check found problems (status %d), see %s", rc, d->log);
}

/* Every acknowledged name is there; what else is there came from the
 * calls in flight (at most `slack` names). */
static void check_model(int slack)
{
	static struct tdirent ents[1024];
	struct nres r;
	int extra = 0;
	for (int i = 0; i < nmodel; i++) {
		if (!model[i].type)
			continue;
		struct tfh dfh;
		EXPECT_NFS(dir_fh(model[i].dir, &dfh), NFS3_OK);
		EXPECT_NFS(nc_lookup(&c, &dfh, model[i].name, &r), NFS3_OK);
		CHECK(r.attr.type == model[i].type, "%s: type %d", model[i].name, r.attr.type);
	}
	EXPECT_NFS(nc_readdir(&c, &root, 0, 65536, ents, 1024, &r), NFS3_OK);
	CHECK(r.eof, "root listing in one page");
	for (uint32_t j = 0; j < r.nents; j++)
		if (strcmp(ents[j].name, ".") && strcmp(ents[j].name, "..") && find(ents[j].name, -1) < 0)
			extra++;
	CHECK(extra <= slack, "%d names nobody was told about (slack %d)", extra, slack);
}

/* After a restart: did the step in flight happen?  Apply it to the model
 * if so.  Returns 1 if it happened, 0 if not, -1 if nothing was in flight. */
static int reconcile(void)
{
	struct nres r;
	struct tfh dfh;
	int happened = -1;
	switch (pend.kind) {
	case P_ADD:
		EXPECT_NFS(dir_fh(pend.dir, &dfh), NFS3_OK);
		happened = nc_lookup(&c, &dfh, pend.name, &r) == NFS3_OK;
		if (happened) {
			model[nmodel] = (struct ment){ .type = pend.type, .dir = pend.dir };
			snprintf(model[nmodel++].name, sizeof(model[0].name), "%s", pend.name);
		}
		break;
	case P_MOVE:
		EXPECT_NFS(dir_fh(pend.dir, &dfh), NFS3_OK);
		happened = nc_lookup(&c, &dfh, pend.name, &r) == NFS3_OK;
		if (happened) {
			model[pend.idx].dir = pend.dir;
			snprintf(model[pend.idx].name, sizeof(model[0].name), "%s", pend.name);
		}
		break;
	case P_DROP:
		EXPECT_NFS(dir_fh(model[pend.idx].dir, &dfh), NFS3_OK);
		happened = nc_lookup(&c, &dfh, model[pend.idx].name, &r) == NFS3ERR_NOENT;
		if (happened)
			model[pend.idx].type = 0;
		break;
	}
	pend.kind = P_NONE;
	return happened;
}

static void reconnect(void)
{
	nc_close(&c);
	nc_open(&c, d->nfs_port, NFS_PROGRAM, 0, 0, 0, NULL);
}

/* Run the script until the server dies (or `steps` are done). */
static int run_until_dead(int *k, int steps)
{
	for (int i = 0; i < steps; i++, (*k)++)
		if (!step(*k))
			return 1;
	return 0;
}

/* ---- a window of creates in flight when the kill comes -------------------- */

#define BURST 400
static uint8_t acked[BURST];
static struct tfh wdir;

struct bctx { int idx; };
static struct bctx bctx[BURST];
static int b_inflight;

static void burst_cb(struct rpc_context *rpc, int status, void *data, void *priv)
{
	struct bctx *b = priv;
	b_inflight--;
	if (status == RPC_STATUS_SUCCESS && data && *(int *)data == NFS3_OK)
		acked[b->idx] = 1;
}

static void burst_round(int round)
{
	struct nres r;
	char name[32];
	snprintf(name, sizeof(name), "w%d", round);
	pend = (typeof(pend)){ P_ADD, -1, "", -1, NF3DIR };
	snprintf(pend.name, sizeof(pend.name), "%s", name);
	EXPECT_NFS(nc_mkdir(&c, &root, name, 0755, &r), NFS3_OK);
	pend.kind = P_NONE;
	model[nmodel] = (struct ment){ .type = NF3DIR, .dir = -1 };
	snprintf(model[nmodel++].name, sizeof(model[0].name), "%s", name);
	wdir = r.fh;
	memset(acked, 0, sizeof(acked));

	pid_t killer = fork();
	CHECK(killer >= 0, "fork");
	if (killer == 0) {
		usleep(3000 + 5000 * (unsigned)round);
		kill(d->pid, SIGKILL);
		_exit(0);
	}
	int next = 0;
	b_inflight = 0;
	double end = tl_now_ms() + 10000;
	while (tl_now_ms() < end && (next < BURST || b_inflight > 0)) {
		while (next < BURST && b_inflight < 32) {
			CREATE3args a;
			memset(&a, 0, sizeof(a));
			a.where.dir = fh_arg(&wdir);
			snprintf(name, sizeof(name), "w%d-%d", round, next);
			a.where.name = name;
			a.how.mode = GUARDED;
			bctx[next].idx = next;
			if (rpc_nfs3_create_async(c.rpc, burst_cb, &a, &bctx[next]) != 0)
				break;
			b_inflight++;
			next++;
		}
		struct pollfd p = { .fd = rpc_get_fd(c.rpc), .events = (short)rpc_which_events(c.rpc) };
		int n = poll(&p, 1, 50);
		if (rpc_service(c.rpc, n > 0 ? p.revents : 0) != 0)
			break;   /* the server is gone */
	}
	rpc_destroy_context(c.rpc);   /* the calls still out are cancelled now */
	c.rpc = NULL;
	waitpid(killer, NULL, 0);
	CHECK(ft_dead(d, 3000), "the daemon survived its kill");
}

/* Every create that was answered is there; of the others, some. */
static void check_burst(int round)
{
	struct nres r;
	char name[32];
	int answered = 0, present = 0;
	for (int i = 0; i < BURST; i++) {
		snprintf(name, sizeof(name), "w%d-%d", round, i);
		int st = nc_lookup(&c, &wdir, name, &r);
		CHECK(st == NFS3_OK || st == NFS3ERR_NOENT, "lookup %s: %d", name, st);
		CHECK(!acked[i] || st == NFS3_OK, "%s was created (answered) but is gone", name);
		answered += acked[i];
		present += st == NFS3_OK;
	}
	NOTE("burst %d: %d creates answered before the kill, %d names there after it", round, answered,
	     present);
}

int main(int argc, char **argv)
{
	tl_init(argc, argv, 120);
	nc_soft = true;
	d = ft_new("fmd", "--no-root-squash");
	EXPECT_NFS(nc_mount(d->mount_port, "/slice", &root), MNT3_OK);
	nc_open(&c, d->nfs_port, NFS_PROGRAM, 0, 0, 0, NULL);
	int k = 0, kills = 0;
	CHECK(!run_until_dead(&k, 30), "a first part without crashes");

	/* the test hook: just before / just after the Nth commit */
	const char *points[] = { "before-commit", "after-commit" };
	const int nth[] = { 1, 2, 5, 13 };
	for (int p = 0; p < 2; p++) {
		for (int i = 0; i < 4; i++) {
			nc_close(&c);
			ft_stop(d);
			snprintf(d->args, sizeof(d->args), "--no-root-squash --crash-at %s:%d", points[p], nth[i]);
			ft_start(d);
			nc_open(&c, d->nfs_port, NFS_PROGRAM, 0, 0, 0, NULL);
			CHECK(run_until_dead(&k, 200), "%s:%d never fired", points[p], nth[i]);
			CHECK(ft_dead(d, 3000), "the daemon did not die at %s:%d", points[p], nth[i]);
			kills++;
			check_store();
			snprintf(d->args, sizeof(d->args), "--no-root-squash");
			ft_start(d);
			reconnect();
			/* one call in flight: killed before its commit it did not
			 * happen, killed after it did (yet was never answered) */
			int h = reconcile();
			CHECK(h == (p == 1), "%s:%d: the call in flight %s", points[p], nth[i],
			      h == 1 ? "happened" : h == 0 ? "did not happen" : "is missing");
			check_model(0);
		}
	}

	/* kills from outside at arbitrary moments, with a window of 32 creates
	 * in flight: group commits die half-gathered */
	for (int round = 0; round < 4; round++) {
		burst_round(round);
		kills++;
		check_store();
		ft_start(d);
		reconnect();
		check_burst(round);
		check_model(0);
	}
	NOTE("%d kills, %d script steps, %d names in the model", kills, k, nmodel);
	nc_close(&c);
	CHECK(ft_stop(d) == 0, "clean shutdown");
	check_store();
	return 0;
}
