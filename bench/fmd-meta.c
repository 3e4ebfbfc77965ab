/*
 * fmd-meta.c - NFS metadata benchmark over libnfs's synchronous API (the
 * approach of the peers' nfsmeta.c: the same client for every server), with
 * one or many client processes, each with its own connection and its own
 * directory.
 *
 *   fmd-meta URL [--files N] [--size B] [--clients K] [--mixed OPS] [--seed S]
 *
 *   fmd-meta URL --raw-ports NFS:MOUNT[,NFS:MOUNT...] [same options]
 *
 * URL: nfs://127.0.0.1/EXPORT?nfsport=P&mountport=M.
 *
 * --raw-ports: instead of libnfs's path API (which looks up every path
 * component on each call, as nfsmeta does), raw NFSv3 calls against the
 * directory's handle, one connection per server given, each call sent to
 * the file manager that holds the name (libslice's routing, slice_route.h:
 * a volume of several managers is listed in index order).  A create is
 * CREATE (+ WRITE + COMMIT), a stat one LOOKUP, a remove one REMOVE: what a
 * kernel client with warm caches sends.  With one server it works against
 * any NFSv3 server.
 *
 * Each client makes
 * /fm.<pid>.<k>, then the phases run one after the other, every client
 * starting a phase at the same moment (a barrier through pipes):
 *   create  N files: CREATE (exclusive) + WRITE B bytes (if B > 0) + close
 *   stat    each of them (LOOKUP + GETATTR)
 *   mixed   OPS operations: 40% stat, 20% create+write, 20% remove,
 *           10% rename, 10% stat of a name that does not exist
 *   remove  what is left, then the directory
 * Output: one JSON line: clients, files, size, and per phase the aggregate
 * rate (ops of all clients / wall time from the barrier to the last
 * client's end), plus errors.  Exit 1 if any operation failed.
 */

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <poll.h>

#include <nfsc/libnfs.h>
#include <nfsc/libnfs-raw.h>
#include <nfsc/libnfs-raw-mount.h>
#include <nfsc/libnfs-raw-nfs.h>

#include "slice_route.h"

#define MAX_CLIENTS 64
#define NPHASES     4
static const char *const phase_name[NPHASES] = { "create", "stat", "mixed", "remove" };

#define MAX_SERVERS 16

struct opts {
	const char *url;
	int         nsrv;                      /* --raw-ports: servers given */
	int         nfs_port[MAX_SERVERS], mount_port[MAX_SERVERS];
	long        files, size, mixed, clients;
	unsigned    seed;
};

struct result {
	double ops, errors, secs;
};

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void put(int fd, const void *p, size_t n)
{
	if (write(fd, p, n) != (ssize_t)n)
		_exit(3);
}

static void get(int fd, void *p, size_t n)
{
	size_t got = 0;
	while (got < n) {
		ssize_t r = read(fd, (char *)p + got, n - got);
		if (r <= 0)
			_exit(3);
		got += (size_t)r;
	}
}

/* ---- one client ---------------------------------------------------------- */

struct rfh {
	uint32_t len;
	char     b[64];
};

struct client {
	struct nfs_context *nfs;
	/* raw mode */
	int                 nsrv;
	struct rpc_context *rpc[MAX_SERVERS];
	struct rfh          dirfh, root;
	char                dir[64];
	char              **names;   /* the files that exist now */
	long                nnames, cap;
	long                serial;
	char               *buf;
	long                size;
	unsigned            rng;
	long                errors;
};

static unsigned rnd(struct client *c)
{
	c->rng = c->rng * 1103515245u + 12345u;
	return c->rng >> 8;
}

static void err(struct client *c, const char *what, const char *path)
{
	if (c->errors++ < 5)
		fprintf(stderr, "fmd-meta: %s %s: %s\n", what, path, nfs_get_error(c->nfs));
}

/* ---- raw mode: one call at a time on the right connection ---------------------- */

struct rwait {
	bool done;
	int  rpc;        /* RPC_STATUS_* */
	int  status;     /* nfsstat3 */
	struct rfh fh;   /* CREATE / MKDIR / LOOKUP: the handle; MNT: the root */
};

static void rcopy_fh(struct rfh *dst, const nfs_fh3 *src)
{
	dst->len = src->data.data_len > 64 ? 64 : src->data.data_len;
	memcpy(dst->b, src->data.data_val, dst->len);
}

static void rcb(struct rpc_context *rpc, int status, void *data, void *priv)
{
	struct rwait *w = priv;
	w->done = true;
	w->rpc = status;
	w->status = status == RPC_STATUS_SUCCESS && data ? *(int *)data : -1;
}

static void rcb_create(struct rpc_context *rpc, int status, void *data, void *priv)
{
	struct rwait *w = priv;
	rcb(rpc, status, data, priv);
	CREATE3res *r = data;   /* MKDIR3res has the same layout up to the handle */
	if (w->status == NFS3_OK && r->CREATE3res_u.resok.obj.handle_follows)
		rcopy_fh(&w->fh, &r->CREATE3res_u.resok.obj.post_op_fh3_u.handle);
}

static void rcb_lookup(struct rpc_context *rpc, int status, void *data, void *priv)
{
	struct rwait *w = priv;
	rcb(rpc, status, data, priv);
	LOOKUP3res *r = data;
	if (w->status == NFS3_OK)
		rcopy_fh(&w->fh, &r->LOOKUP3res_u.resok.object);
}

static void rcb_mnt(struct rpc_context *rpc, int status, void *data, void *priv)
{
	struct rwait *w = priv;
	rcb(rpc, status, data, priv);
	mountres3 *m = data;
	if (w->status == MNT3_OK) {
		w->fh.len = m->mountres3_u.mountinfo.fhandle.fhandle3_len > 64 ? 64
			    : m->mountres3_u.mountinfo.fhandle.fhandle3_len;
		memcpy(w->fh.b, m->mountres3_u.mountinfo.fhandle.fhandle3_val, w->fh.len);
	}
}

static int rwait(struct rpc_context *rpc, struct rwait *w)
{
	while (!w->done) {
		struct pollfd p = { .fd = rpc_get_fd(rpc), .events = (short)rpc_which_events(rpc) };
		int n = poll(&p, 1, 1000);
		if (rpc_service(rpc, n > 0 ? p.revents : 0) < 0)
			return -1;
	}
	return w->rpc == RPC_STATUS_SUCCESS ? w->status : -1;
}

static void rconnected(struct rpc_context *rpc, int status, void *data, void *priv)
{
	struct rwait *w = priv;
	w->done = true;
	w->rpc = status;
}

static struct rpc_context *rconnect(int port, int prog)
{
	struct rpc_context *rpc = rpc_init_context();
	struct rwait w = { 0 };
	if (!rpc || rpc_connect_port_async(rpc, "127.0.0.1", port, prog, 3, rconnected, &w) != 0)
		return NULL;
	while (!w.done) {
		struct pollfd p = { .fd = rpc_get_fd(rpc), .events = (short)rpc_which_events(rpc) };
		int n = poll(&p, 1, 1000);
		if (rpc_service(rpc, n > 0 ? p.revents : 0) < 0)
			return NULL;
	}
	return w.rpc == RPC_STATUS_SUCCESS ? rpc : NULL;
}

static nfs_fh3 rarg(const struct rfh *f)
{
	nfs_fh3 h = { .data = { f->len, (char *)f->b } };
	return h;
}

/* The connection of the server that holds name (in our directory). */
static struct rpc_context *rroute(struct client *c, const char *name)
{
	struct slice_fh_info i;
	if (c->nsrv <= 1 || slice_fh_parse(c->dirfh.b, c->dirfh.len, &i))
		return c->rpc[0];
	return c->rpc[slice_route_entry(&i, name, strlen(name), (uint32_t)c->nsrv)];
}

static struct rpc_context *rroute_fh(struct client *c, const struct rfh *fh)
{
	struct slice_fh_info i;
	if (c->nsrv <= 1 || slice_fh_parse(fh->b, fh->len, &i) || i.manager >= (uint32_t)c->nsrv)
		return c->rpc[0];
	return c->rpc[i.manager];
}

static void rerr(struct client *c, const char *what, const char *name, int st)
{
	if (c->errors++ < 5)
		fprintf(stderr, "fmd-meta: %s %s: status %d\n", what, name, st);
}

static int raw_setup(struct client *c, const struct opts *o, const char *export)
{
	struct rwait w = { 0 };
	c->nsrv = o->nsrv;
	for (int i = 0; i < o->nsrv; i++)
		if (!(c->rpc[i] = rconnect(o->nfs_port[i], NFS_PROGRAM)))
			return -1;
	struct rpc_context *m = rconnect(o->mount_port[0], MOUNT_PROGRAM);
	if (!m || rpc_mount3_mnt_async(m, rcb_mnt, (char *)export, &w) || rwait(m, &w) != MNT3_OK)
		return -1;
	rpc_destroy_context(m);
	struct rfh root = w.fh;
	/* our directory, on the manager of its name */
	MKDIR3args a;
	memset(&a, 0, sizeof(a));
	a.where.dir = rarg(&root);
	a.where.name = c->dir + 1;   /* without its "/" */
	a.attributes.mode.set_it = 1;
	a.attributes.mode.set_mode3_u.mode = 0755;
	struct rfh saved = c->dirfh;
	c->dirfh = root;
	struct rpc_context *rpc = rroute(c, a.where.name);
	c->dirfh = saved;
	memset(&w, 0, sizeof(w));
	if (rpc_nfs3_mkdir_async(rpc, rcb_create, &a, &w) || rwait(rpc, &w) != NFS3_OK)
		return -1;
	c->dirfh = w.fh;
	c->root = root;
	return 0;
}

static void raw_teardown(struct client *c)
{
	RMDIR3args a = { .object = { .dir = rarg(&c->root), .name = c->dir + 1 } };
	struct rwait w = { 0 };
	struct rfh saved = c->dirfh;
	c->dirfh = c->root;
	struct rpc_context *rpc = rroute(c, a.object.name);
	c->dirfh = saved;
	int st = -1;
	if (rpc_nfs3_rmdir_async(rpc, rcb, &a, &w) == 0)
		st = rwait(rpc, &w);
	if (st != NFS3_OK)
		rerr(c, "rmdir", c->dir, st);
	for (int i = 0; i < c->nsrv; i++)
		rpc_destroy_context(c->rpc[i]);
}

static int raw_create(struct client *c, const char *name)
{
	CREATE3args a;
	memset(&a, 0, sizeof(a));
	a.where.dir = rarg(&c->dirfh);
	a.where.name = (char *)name;
	a.how.mode = GUARDED;
	a.how.createhow3_u.obj_attributes.mode.set_it = 1;
	a.how.createhow3_u.obj_attributes.mode.set_mode3_u.mode = 0644;
	struct rwait w = { 0 };
	struct rpc_context *rpc = rroute(c, name);
	int st = rpc_nfs3_create_async(rpc, rcb_create, &a, &w) ? -1 : rwait(rpc, &w);
	if (st != NFS3_OK) {
		rerr(c, "create", name, st);
		return -1;
	}
	if (c->size > 0) {
		struct rfh fh = w.fh;
		rpc = rroute_fh(c, &fh);
		WRITE3args wa = { .file = rarg(&fh), .offset = 0, .count = (uint32_t)c->size, .stable = UNSTABLE };
		wa.data.data_len = (uint32_t)c->size;
		wa.data.data_val = c->buf;
		memset(&w, 0, sizeof(w));
		st = rpc_nfs3_write_async(rpc, rcb, &wa, &w) ? -1 : rwait(rpc, &w);
		if (st != NFS3_OK)
			rerr(c, "write", name, st);
		COMMIT3args ca = { .file = rarg(&fh) };
		memset(&w, 0, sizeof(w));
		st = rpc_nfs3_commit_async(rpc, rcb, &ca, &w) ? -1 : rwait(rpc, &w);
		if (st != NFS3_OK)
			rerr(c, "commit", name, st);
	}
	return 0;
}

static void raw_stat(struct client *c, const char *name, bool expect)
{
	LOOKUP3args a = { .what = { .dir = rarg(&c->dirfh), .name = (char *)name } };
	struct rwait w = { 0 };
	struct rpc_context *rpc = rroute(c, name);
	int st = rpc_nfs3_lookup_async(rpc, rcb_lookup, &a, &w) ? -1 : rwait(rpc, &w);
	if ((st == NFS3_OK) != expect)
		rerr(c, expect ? "lookup" : "lookup (expected to fail)", name, st);
}

static void raw_remove(struct client *c, const char *name)
{
	REMOVE3args a = { .object = { .dir = rarg(&c->dirfh), .name = (char *)name } };
	struct rwait w = { 0 };
	struct rpc_context *rpc = rroute(c, name);
	int st = rpc_nfs3_remove_async(rpc, rcb, &a, &w) ? -1 : rwait(rpc, &w);
	if (st != NFS3_OK)
		rerr(c, "remove", name, st);
}

static void raw_rename(struct client *c, const char *from, const char *to)
{
	RENAME3args a = { .from = { .dir = rarg(&c->dirfh), .name = (char *)from },
			  .to = { .dir = rarg(&c->dirfh), .name = (char *)to } };
	struct rwait w = { 0 };
	struct rpc_context *rpc = rroute(c, from);
	int st = rpc_nfs3_rename_async(rpc, rcb, &a, &w) ? -1 : rwait(rpc, &w);
	if (st != NFS3_OK)
		rerr(c, "rename", from, st);
}

static void remember(struct client *c, const char *name)
{
	if (c->nnames == c->cap) {
		c->cap = c->cap ? c->cap * 2 : 1024;
		c->names = realloc(c->names, sizeof(char *) * (size_t)c->cap);
	}
	c->names[c->nnames++] = strdup(name);
}

/* ---- libnfs's path API (or raw) --------------------------------------------------- */

static int create_one(struct client *c, const char *name)
{
	if (c->nsrv) {
		if (raw_create(c, name))
			return -1;
		remember(c, name);
		return 0;
	}
	char path[160];
	struct nfsfh *fh;
	snprintf(path, sizeof(path), "%s/%s", c->dir, name);
	if (nfs_create(c->nfs, path, O_WRONLY | O_EXCL, 0644, &fh) != 0) {
		err(c, "create", path);
		return -1;
	}
#ifdef LIBNFS_API_V2
	if (c->size > 0 && nfs_write(c->nfs, fh, c->buf, c->size) != c->size)
#else
	if (c->size > 0 && nfs_write(c->nfs, fh, c->size, c->buf) != c->size)
#endif
		err(c, "write", path);
	if (nfs_close(c->nfs, fh) != 0)
		err(c, "close", path);
	remember(c, name);
	return 0;
}

static void stat_one(struct client *c, const char *name, bool expect)
{
	if (c->nsrv) {
		raw_stat(c, name, expect);
		return;
	}
	char path[160];
	struct nfs_stat_64 st;
	snprintf(path, sizeof(path), "%s/%s", c->dir, name);
	int rc = nfs_stat64(c->nfs, path, &st);
	if ((rc == 0) != expect)
		err(c, expect ? "stat" : "stat (expected to fail)", path);
	else if (expect && (long)st.nfs_size != c->size)
		err(c, "size of", path);
}

static void remove_at(struct client *c, long i)
{
	char path[160];
	snprintf(path, sizeof(path), "%s/%s", c->dir, c->names[i]);
	if (c->nsrv)
		raw_remove(c, c->names[i]);
	else if (nfs_unlink(c->nfs, path) != 0)
		err(c, "unlink", path);
	free(c->names[i]);
	c->names[i] = c->names[--c->nnames];
}

static void rename_at(struct client *c, long i)
{
	char from[160], to[160], name[64];
	snprintf(name, sizeof(name), "r%07ld", c->serial++);
	snprintf(from, sizeof(from), "%s/%s", c->dir, c->names[i]);
	snprintf(to, sizeof(to), "%s/%s", c->dir, name);
	if (c->nsrv)
		raw_rename(c, c->names[i], name);
	else if (nfs_rename(c->nfs, from, to) != 0)
		err(c, "rename", from);
	free(c->names[i]);
	c->names[i] = strdup(name);
}

static double run_phase(struct client *c, int phase, const struct opts *o)
{
	char name[64];
	double t0 = now();
	long n = 0;
	switch (phase) {
	case 0:
		for (long i = 0; i < o->files; i++, n++) {
			snprintf(name, sizeof(name), "f%07ld", c->serial++);
			create_one(c, name);
		}
		break;
	case 1:
		for (long i = 0; i < c->nnames; i++, n++)
			stat_one(c, c->names[i], true);
		break;
	case 2:
		for (long i = 0; i < o->mixed; i++, n++) {
			unsigned r = rnd(c) % 100;
			if (c->nnames == 0 || (r >= 40 && r < 60)) {
				snprintf(name, sizeof(name), "m%07ld", c->serial++);
				create_one(c, name);
			} else if (r < 40) {
				stat_one(c, c->names[rnd(c) % (unsigned)c->nnames], true);
			} else if (r < 80) {
				remove_at(c, rnd(c) % (unsigned)c->nnames);
			} else if (r < 90) {
				rename_at(c, rnd(c) % (unsigned)c->nnames);
			} else {
				snprintf(name, sizeof(name), "missing%07ld", c->serial++);
				stat_one(c, name, false);
			}
		}
		break;
	case 3:
		while (c->nnames > 0) {
			remove_at(c, c->nnames - 1);
			n++;
		}
		if (c->nsrv)
			raw_teardown(c);
		else if (nfs_rmdir(c->nfs, c->dir) != 0)
			err(c, "rmdir", c->dir);
		break;
	}
	(void)n;
	return now() - t0;
}

static long phase_ops(const struct opts *o, int phase, long before)
{
	switch (phase) {
	case 0: return o->files;
	case 1: return o->files;
	case 2: return o->mixed;
	default: return before;
	}
}

static int client_main(const struct opts *o, int k, int rd, int wr)
{
	struct client c = { .size = o->size, .rng = o->seed + 7919u * (unsigned)k };
	c.buf = malloc(o->size > 0 ? (size_t)o->size : 1);
	memset(c.buf, 'x', o->size > 0 ? (size_t)o->size : 1);
	snprintf(c.dir, sizeof(c.dir), "/fm.%d.%d", (int)getppid(), k);
	struct nfs_url *url = NULL;
	if (o->nsrv) {
		/* the export's path from the URL: nfs://HOST/PATH?... */
		char export[256] = "/";
		const char *p = strstr(o->url, "://");
		p = p ? strchr(p + 3, '/') : NULL;
		if (p) {
			size_t n = strcspn(p, "?");
			snprintf(export, sizeof(export), "%.*s", (int)n, p);
		}
		if (raw_setup(&c, o, export)) {
			fprintf(stderr, "fmd-meta: cannot reach the servers or make %s\n", c.dir);
			return 2;
		}
	} else {
		c.nfs = nfs_init_context();
		if (!c.nfs)
			return 2;
		url = nfs_parse_url_dir(c.nfs, o->url);
		if (!url || nfs_mount(c.nfs, url->server, url->path) != 0) {
			fprintf(stderr, "fmd-meta: mount %s: %s\n", o->url, nfs_get_error(c.nfs));
			return 2;
		}
		if (nfs_mkdir(c.nfs, c.dir) != 0) {
			fprintf(stderr, "fmd-meta: mkdir %s: %s\n", c.dir, nfs_get_error(c.nfs));
			return 2;
		}
	}
	for (int p = 0; p < NPHASES; p++) {
		char go;
		long before = c.nnames;
		put(wr, "r", 1);
		get(rd, &go, 1);
		long e0 = c.errors;
		struct result r;
		r.secs = run_phase(&c, p, o);
		r.ops = (double)phase_ops(o, p, before);
		r.errors = (double)(c.errors - e0);
		put(wr, &r, sizeof(r));
	}
	if (url)
		nfs_destroy_url(url);
	if (c.nfs)
		nfs_destroy_context(c.nfs);
	for (long i = 0; i < c.nnames; i++)
		free(c.names[i]);
	free(c.names);
	free(c.buf);
	return c.errors ? 1 : 0;
}

/* ---- the parent: barriers and the sums -------------------------------------- */

static void usage(FILE *f)
{
	fprintf(f, "usage: fmd-meta URL [--raw-ports NFS:MOUNT,...] [--files N] [--size BYTES] [--clients K]\n"
		   "                    [--mixed OPS] [--seed S]\n"
		   "  URL: nfs://127.0.0.1/EXPORT?nfsport=P&mountport=M\n"
		   "  defaults: --files 10000 --size 4096 --clients 1 --mixed 10000\n");
}

int main(int argc, char **argv)
{
	struct opts o = { .files = 10000, .size = 4096, .mixed = 10000, .clients = 1, .seed = 1 };
	static const struct option lo[] = {
		{ "files", 1, 0, 'n' }, { "size", 1, 0, 's' }, { "clients", 1, 0, 'c' },
		{ "mixed", 1, 0, 'm' }, { "seed", 1, 0, 'S' }, { "raw-ports", 1, 0, 'R' },
		{ "help", 0, 0, 'h' }, { 0 } };
	int opt;
	while ((opt = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (opt) {
		case 'n': o.files = atol(optarg); break;
		case 's': o.size = atol(optarg); break;
		case 'c': o.clients = atol(optarg); break;
		case 'm': o.mixed = atol(optarg); break;
		case 'S': o.seed = (unsigned)atol(optarg); break;
		case 'R': {
			char *save, *tok, buf[512];
			snprintf(buf, sizeof(buf), "%s", optarg);
			for (tok = strtok_r(buf, ",", &save); tok && o.nsrv < MAX_SERVERS;
			     tok = strtok_r(NULL, ",", &save)) {
				if (sscanf(tok, "%d:%d", &o.nfs_port[o.nsrv], &o.mount_port[o.nsrv]) != 2) {
					usage(stderr);
					return 2;
				}
				o.nsrv++;
			}
			break;
		}
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc - 1 || o.clients < 1 || o.clients > MAX_CLIENTS || o.files < 1 || o.size < 0 ||
	    o.mixed < 0) {
		usage(stderr);
		return 2;
	}
	o.url = argv[optind];
	signal(SIGPIPE, SIG_IGN);

	int to_child[MAX_CLIENTS][2], from_child[MAX_CLIENTS][2];
	pid_t pids[MAX_CLIENTS];
	for (long k = 0; k < o.clients; k++) {
		if (pipe(to_child[k]) || pipe(from_child[k]))
			return 2;
		pids[k] = fork();
		if (pids[k] < 0)
			return 2;
		if (pids[k] == 0) {
			alarm(600);
			_exit(client_main(&o, (int)k, to_child[k][0], from_child[k][1]));
		}
		close(to_child[k][0]);
		close(from_child[k][1]);
	}
	double rate[NPHASES] = { 0 }, errors = 0;
	bool broken = false;
	for (int p = 0; p < NPHASES && !broken; p++) {
		for (long k = 0; k < o.clients; k++) {
			char r;
			if (read(from_child[k][0], &r, 1) != 1)
				broken = true;
		}
		if (broken)
			break;
		double t0 = now();
		for (long k = 0; k < o.clients; k++)
			put(to_child[k][1], "g", 1);
		double ops = 0;
		for (long k = 0; k < o.clients; k++) {
			struct result r;
			size_t got = 0;
			while (got < sizeof(r)) {
				ssize_t n = read(from_child[k][0], (char *)&r + got, sizeof(r) - got);
				if (n <= 0) {
					broken = true;
					break;
				}
				got += (size_t)n;
			}
			if (broken)
				break;
			ops += r.ops;
			errors += r.errors;
		}
		rate[p] = ops / (now() - t0);
	}
	int status = broken ? 1 : 0;
	for (long k = 0; k < o.clients; k++) {
		int st;
		waitpid(pids[k], &st, 0);
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
			status = 1;
	}
	printf("{\"clients\":%ld,\"files\":%ld,\"size\":%ld,\"mixed\":%ld", o.clients, o.files, o.size, o.mixed);
	for (int p = 0; p < NPHASES; p++)
		printf(",\"%s_ops\":%.0f", phase_name[p], broken ? 0.0 : rate[p]);
	printf(",\"errors\":%.0f,\"ok\":%s}\n", errors, status == 0 ? "true" : "false");
	return status;
}
