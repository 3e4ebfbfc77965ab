/*
 * fmd-meta.c - NFS metadata benchmark over libnfs's synchronous API (the
 * approach of the peers' nfsmeta.c: the same client for every server), with
 * one or many client processes, each with its own connection and its own
 * directory.
 *
 *   fmd-meta URL [--files N] [--size B] [--clients K] [--mixed OPS] [--seed S]
 *
 * URL: nfs://127.0.0.1/EXPORT?nfsport=P&mountport=M.  Each client makes
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

#include <nfsc/libnfs.h>

#define MAX_CLIENTS 64
#define NPHASES     4
static const char *const phase_name[NPHASES] = { "create", "stat", "mixed", "remove" };

struct opts {
	const char *url;
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

struct client {
	struct nfs_context *nfs;
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

static int create_one(struct client *c, const char *name)
{
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
	if (c->nnames == c->cap) {
		c->cap = c->cap ? c->cap * 2 : 1024;
		c->names = realloc(c->names, sizeof(char *) * (size_t)c->cap);
	}
	c->names[c->nnames++] = strdup(name);
	return 0;
}

static void stat_one(struct client *c, const char *name, bool expect)
{
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
	if (nfs_unlink(c->nfs, path) != 0)
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
	if (nfs_rename(c->nfs, from, to) != 0)
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
		if (nfs_rmdir(c->nfs, c->dir) != 0)
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
	c.nfs = nfs_init_context();
	if (!c.nfs)
		return 2;
	struct nfs_url *url = nfs_parse_url_dir(c.nfs, o->url);
	if (!url || nfs_mount(c.nfs, url->server, url->path) != 0) {
		fprintf(stderr, "fmd-meta: mount %s: %s\n", o->url, nfs_get_error(c.nfs));
		return 2;
	}
	snprintf(c.dir, sizeof(c.dir), "/fm.%d.%d", (int)getppid(), k);
	if (nfs_mkdir(c.nfs, c.dir) != 0) {
		fprintf(stderr, "fmd-meta: mkdir %s: %s\n", c.dir, nfs_get_error(c.nfs));
		return 2;
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
	nfs_destroy_url(url);
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
	fprintf(f, "usage: fmd-meta URL [--files N] [--size BYTES] [--clients K] [--mixed OPS] [--seed S]\n"
		   "  URL: nfs://127.0.0.1/EXPORT?nfsport=P&mountport=M\n"
		   "  defaults: --files 10000 --size 4096 --clients 1 --mixed 10000\n");
}

int main(int argc, char **argv)
{
	struct opts o = { .files = 10000, .size = 4096, .mixed = 10000, .clients = 1, .seed = 1 };
	static const struct option lo[] = {
		{ "files", 1, 0, 'n' }, { "size", 1, 0, 's' }, { "clients", 1, 0, 'c' },
		{ "mixed", 1, 0, 'm' }, { "seed", 1, 0, 'S' }, { "help", 0, 0, 'h' }, { 0 } };
	int opt;
	while ((opt = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (opt) {
		case 'n': o.files = atol(optarg); break;
		case 's': o.size = atol(optarg); break;
		case 'c': o.clients = atol(optarg); break;
		case 'm': o.mixed = atol(optarg); break;
		case 'S': o.seed = (unsigned)atol(optarg); break;
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
