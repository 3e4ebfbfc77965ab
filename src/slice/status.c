/*
 * status.c - `slice status`: every node of the cluster, whether it serves
 * (its process if it runs here, and a real request: a block server's
 * STATFS, a manager's MOUNT + FSSTAT), its capacity and its counters.
 */
#include <dirent.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "sc.h"
#include "slice.h"
#include "slice_blockd.h"
#include "trapeze_stat.h"

static const char usage[] =
"usage: slice status --dir DIR [--json]\n"
"       slice status --cluster FILE [--host H] [--dir STATEDIR] [--json]\n"
"Show every node of the cluster: role, index, Trapeze node id, host,\n"
"address, process (when it runs on this host), health (a STATFS to each\n"
"block server, MOUNT + FSSTAT to each manager and proxy), capacity and\n"
"counters.  Exit 0 when every node is up, 1 when one is down.\n";

struct row {
	const struct slice_cluster_node *n;
	char name[64];
	pid_t pid;                 /* > 0: runs here; 0: no pid file; -1: recorded, gone */
	bool up;
	char why[256];
	bool have_fs, have_ctr, have_tpz, have_nfs;
	struct slb_statfs_res fs;
	struct slb_blockd_counters ctr;
	struct tpz_counters tpz;
	struct sc_nfs_fs nfs;
};

/* The daemon's Trapeze stat page (trapeze_stat.h), as tpz-stat reads it. */
static bool read_tpz_page(pid_t pid, uint32_t node, struct tpz_counters *out)
{
	char name[128];
	snprintf(name, sizeof(name), "/" TPZ_STAT_PREFIX "%u.%d.%u", (unsigned)geteuid(), (int)pid, node);
	int fd = shm_open(name, O_RDONLY | O_CLOEXEC, 0);
	if (fd < 0)
		return false;
	struct tpz_stat_page *p = mmap(NULL, sizeof(*p), PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	if (p == MAP_FAILED)
		return false;
	bool ok = false;
	for (int tries = 0; tries < 100 && !ok; tries++) {   /* seqlock read */
		uint64_t g = atomic_load_explicit(&p->gen, memory_order_acquire);
		if (g & 1)
			continue;
		memcpy(out, &p->ctr, sizeof(*out));
		atomic_thread_fence(memory_order_acquire);
		ok = atomic_load_explicit(&p->gen, memory_order_relaxed) == g && p->magic == TPZ_STAT_MAGIC;
	}
	munmap(p, sizeof(*p));
	return ok;
}

static void probe_row(struct sc_state *st, struct sc_probe *pr, struct row *r)
{
	const struct slice_cluster_node *n = r->n;
	char pidf[PATH_MAX], buf[32];
	int rc;

	sc_node_name(n, r->name, sizeof(r->name));
	if (sc_state_mine(st, n)) {
		sc_path(pidf, sizeof(pidf), st, "run", r->name, ".pid");
		r->pid = sc_pid_alive(pidf, sc_node_prog(n->role));
		if (!r->pid && sc_read_line(pidf, buf, sizeof(buf)))
			r->pid = -1;
		if (r->pid > 0)
			r->have_tpz = read_tpz_page(r->pid, n->node, &r->tpz);
	}
	if (n->role == SLICE_ROLE_BLOCKD)
		rc = sc_probe_blockd(pr, n, &r->fs, &r->ctr, &r->have_ctr, r->why, sizeof(r->why));
	else
		rc = sc_probe_nfs(st->c, n->nfs, &r->nfs, r->why, sizeof(r->why));
	r->have_fs = rc == 0 && n->role == SLICE_ROLE_BLOCKD;
	r->have_nfs = rc == 0 && n->role != SLICE_ROLE_BLOCKD;
	r->up = rc == 0;
	/* The process tells more than the probe's error. */
	if (r->pid < 0) {
		snprintf(r->why, sizeof(r->why), "process gone (its pid file is left: see logs/%s.log)", r->name);
		r->up = false;
	} else if (!r->up && r->pid == 0 && sc_state_mine(st, n)) {
		char w[256];
		snprintf(w, sizeof(w), "not running here (%.200s)", r->why);
		snprintf(r->why, sizeof(r->why), "%s", w);
	}
}

/* The fronts `slice mount` and `slice nfs` started here: not nodes of the
 * cluster file, but what an operator wants to see beside them. */
struct front {
	char name[64];
	pid_t pid;        /* 0: gone */
	char what[300];   /* the mount point or the URL */
};

static int list_fronts(const struct sc_state *st, struct front *f, int max)
{
	char run[PATH_MAX + 8], mps[64][PATH_MAX];
	int n = 0, nm = sc_mounts_read(st, mps, 64), km = 0;
	snprintf(run, sizeof(run), "%s/run", st->dir);
	DIR *d = opendir(run);
	if (!d)
		return 0;
	for (struct dirent *e; (e = readdir(d)) && n < max;) {
		size_t len = strlen(e->d_name);
		bool fs = !strncmp(e->d_name, "slicefs-", 8), nfs = !strncmp(e->d_name, "nfsproxy-", 9);
		if ((!fs && !nfs) || len < 5 || len >= sizeof(f[0].name) + 4 || strcmp(e->d_name + len - 4, ".pid"))
			continue;
		memcpy(f[n].name, e->d_name, len - 4);
		f[n].name[len - 4] = 0;
		char path[PATH_MAX], line[512];
		sc_path(path, sizeof(path), st, "run", f[n].name, ".pid");
		f[n].pid = sc_pid_alive(path, fs ? "slicefs" : "slice-proxy");
		f[n].what[0] = 0;
		sc_path(path, sizeof(path), st, "run", f[n].name, ".out");
		if (sc_read_line(path, line, sizeof(line))) {
			const char *k = strstr(line, fs ? "mountpoint=" : "url=");
			if (k)
				snprintf(f[n].what, sizeof(f[n].what), "%s", strchr(k, '=') + 1);
		}
		if (fs && !f[n].what[0] && km < nm)
			snprintf(f[n].what, sizeof(f[n].what), "%s", mps[km++]);
		n++;
	}
	closedir(d);
	return n;
}

static void print_fronts(const struct front *f, int n)
{
	for (int i = 0; i < n; i++)
		printf("%s%-12s pid %-7d %-5s %s\n", i ? "" : "fronts started here:\n", f[i].name, (int)f[i].pid,
		       f[i].pid ? "up" : "gone", f[i].what);
}

/* One row's capacity and counters as text. */
static void row_text(const struct row *r, char *cap, size_t caplen, char *ctr, size_t ctrlen)
{
	char a[16], b[16], c[16];
	snprintf(cap, caplen, "-");
	ctr[0] = 0;
	if (r->have_fs) {
		sc_human(a, sizeof(a), r->fs.free_bytes);
		sc_human(b, sizeof(b), r->fs.total_bytes);
		sc_human(c, sizeof(c), r->fs.cache_bytes);
		snprintf(cap, caplen, "%s/%s cache %s", a, b, c);
	} else if (r->have_nfs) {
		sc_human(a, sizeof(a), r->nfs.free);
		sc_human(b, sizeof(b), r->nfs.total);
		snprintf(cap, caplen, "%s/%s", a, b);
	}
	size_t k = 0;
	if (r->have_ctr) {
		sc_human(a, sizeof(a), r->ctr.bytes_read);
		sc_human(b, sizeof(b), r->ctr.bytes_written);
		k += (size_t)snprintf(ctr, ctrlen,
				      "rd %" PRIu64 " (%s) wr %" PRIu64 " (%s) hits %" PRIu64 " crc-err %" PRIu64
				      " err %" PRIu64 "  ",
				      r->ctr.reads, a, r->ctr.writes, b, r->ctr.cache_hits, r->ctr.crc_errors,
				      r->ctr.errors);
	}
	if (r->have_tpz && k < ctrlen)
		snprintf(ctr + k, ctrlen - k, "tpz msgs %" PRIu64 "/%" PRIu64 " peers %" PRIu64,
			 r->tpz.msgs_sent, r->tpz.msgs_recv, r->tpz.peers_up - r->tpz.peers_down);
}

static int widest(int w, const char *s)
{
	int l = (int)strlen(s);
	return l > w ? l : w;
}

static void print_table(const struct sc_state *st, const struct row *rows, int n)
{
	static char cap[SLICE_CLUSTER_MAX_NODES][64], ctr[SLICE_CLUSTER_MAX_NODES][256];
	int up = 0, wh = 4, wt = 7, wn = 3, wc = 21;
	for (int i = 0; i < n; i++) {
		up += rows[i].up;
		row_text(&rows[i], cap[i], sizeof(cap[i]), ctr[i], sizeof(ctr[i]));
		wh = widest(wh, rows[i].n->host);
		wt = widest(wt, rows[i].n->tpz);
		wn = widest(wn, rows[i].n->nfs);
		wc = widest(wc, cap[i]);
	}
	printf("cluster %s (%s): volume %s, %u manager%s; %d of %d nodes up\n", st->c->name, st->file,
	       st->c->volume, st->c->managers, st->c->managers == 1 ? "" : "s", up, n);
	printf("%-9s %4s %-*s %-*s %-*s %7s %-6s %-*s %s\n", "NODE", "ID", wh, "HOST", wt, "TRAPEZE", wn, "NFS",
	       "PID", "HEALTH", wc, "CAPACITY (free/total)", "COUNTERS");
	for (int i = 0; i < n; i++) {
		const struct row *r = &rows[i];
		char pid[16];
		if (r->pid > 0)
			snprintf(pid, sizeof(pid), "%d", (int)r->pid);
		else
			snprintf(pid, sizeof(pid), "%s", r->pid < 0 ? "gone" : "-");
		printf("%-9s %4u %-*s %-*s %-*s %7s %-6s %-*s %s\n", r->name, r->n->node, wh, r->n->host, wt, r->n->tpz,
		       wn, r->n->nfs[0] ? r->n->nfs : "-", pid, r->up ? "up" : "DOWN", wc, cap[i], ctr[i]);
	}
	for (int i = 0; i < n; i++)
		if (!rows[i].up)
			printf("%s is down: %s\n", rows[i].name, rows[i].why);
}

static void jstr(const char *k, const char *v, bool comma)
{
	printf("\"%s\":\"", k);
	for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
		if (*p == '"' || *p == '\\')
			printf("\\%c", *p);
		else if (*p < 0x20)
			printf("\\u%04x", *p);
		else
			putchar(*p);
	}
	printf("\"%s", comma ? "," : "");
}

static void print_json(const struct sc_state *st, const struct row *rows, int n, const struct front *f,
		       int nf)
{
	printf("{");
	jstr("cluster", st->c->name, true);
	jstr("file", st->file, true);
	jstr("volume", st->c->volume, true);
	printf("\"managers\":%u,\"nodes\":[", st->c->managers);
	for (int i = 0; i < n; i++) {
		const struct row *r = &rows[i];
		printf("%s{", i ? "," : "");
		jstr("name", r->name, true);
		jstr("role", sc_role_name(r->n->role), true);
		printf("\"index\":%u,\"node\":%u,", r->n->index, r->n->node);
		jstr("host", r->n->host, true);
		jstr("tpz", r->n->tpz, true);
		jstr("nfs", r->n->nfs, true);
		printf("\"pid\":%d,\"local\":%s,\"up\":%s,", r->pid > 0 ? (int)r->pid : 0,
		       r->pid != 0 ? "true" : "false", r->up ? "true" : "false");
		jstr("error", r->up ? "" : r->why, false);
		if (r->have_fs)
			printf(",\"capacity\":{\"total_bytes\":%" PRIu64 ",\"free_bytes\":%" PRIu64 ",\"objects\":%" PRIu64
			       ",\"cache_bytes\":%" PRIu64 ",\"cache_used\":%" PRIu64 "}",
			       r->fs.total_bytes, r->fs.free_bytes, r->fs.objects, r->fs.cache_bytes, r->fs.cache_used);
		if (r->have_nfs)
			printf(",\"capacity\":{\"total_bytes\":%" PRIu64 ",\"free_bytes\":%" PRIu64 ",\"files\":%" PRIu64
			       ",\"files_free\":%" PRIu64 "}", r->nfs.total, r->nfs.free, r->nfs.files, r->nfs.ffree);
		if (r->have_ctr)
			printf(",\"counters\":{\"reads\":%" PRIu64 ",\"writes\":%" PRIu64 ",\"bytes_read\":%" PRIu64
			       ",\"bytes_written\":%" PRIu64 ",\"cache_hits\":%" PRIu64 ",\"cache_misses\":%" PRIu64
			       ",\"crc_errors\":%" PRIu64 ",\"errors\":%" PRIu64 "}",
			       r->ctr.reads, r->ctr.writes, r->ctr.bytes_read, r->ctr.bytes_written, r->ctr.cache_hits,
			       r->ctr.cache_misses, r->ctr.crc_errors, r->ctr.errors);
		if (r->have_tpz)
			printf(",\"trapeze\":{\"msgs_sent\":%" PRIu64 ",\"msgs_recv\":%" PRIu64 ",\"bytes_sent\":%" PRIu64
			       ",\"bytes_recv\":%" PRIu64 ",\"peers_up\":%" PRIu64 ",\"peers_down\":%" PRIu64
			       ",\"protocol_errors\":%" PRIu64 ",\"auth_refused\":%" PRIu64 "}",
			       r->tpz.msgs_sent, r->tpz.msgs_recv, r->tpz.bytes_sent, r->tpz.bytes_recv, r->tpz.peers_up,
			       r->tpz.peers_down, r->tpz.protocol_errors, r->tpz.auth_refused);
		printf("}");
	}
	printf("],\"fronts\":[");
	for (int i = 0; i < nf; i++) {
		printf("%s{", i ? "," : "");
		jstr("name", f[i].name, true);
		printf("\"pid\":%d,\"up\":%s,", (int)f[i].pid, f[i].pid ? "true" : "false");
		jstr(strncmp(f[i].name, "slicefs-", 8) ? "url" : "mountpoint", f[i].what, false);
		printf("}");
	}
	printf("]}\n");
}

int sc_cmd_status(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "dir", 1, 0, 'd' }, { "cluster", 1, 0, 'C' }, { "host", 1, 0, 'H' },
		{ "json", 0, 0, 'j' }, { "help", 0, 0, 'h' }, { 0 } };
	const char *dir = NULL, *cluster = NULL, *host = NULL;
	bool json = false;
	int o;

	while ((o = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (o) {
		case 'd': dir = optarg; break;
		case 'C': cluster = optarg; break;
		case 'H': host = optarg; break;
		case 'j': json = true; break;
		case 'h': fputs(usage, stdout); return 0;
		default: fputs(usage, stderr); return 2;
		}
	}
	if (optind != argc || (!dir && !cluster)) {
		fputs(usage, stderr);
		return 2;
	}
	struct sc_state st;
	int rc = sc_state_open(&st, dir, cluster, host);
	if (rc)
		return rc;
	char err[256] = "";
	struct sc_probe *pr = sc_probe_open(st.c, err, sizeof(err));
	struct row *rows = calloc(st.c->nnodes, sizeof(*rows));
	if (!pr || !rows) {
		fprintf(stderr, "%s: out of memory\n", SC_PROG);
		return 1;
	}
	/* Block servers first, then managers, then proxies: the table reads
	 * from the bottom of the stack up. */
	int n = 0;
	for (int role = SLICE_ROLE_BLOCKD; role <= SLICE_ROLE_PROXY; role++)
		for (uint32_t i = 0; i < st.c->nnodes; i++)
			if ((int)st.c->nodes[i].role == role) {
				rows[n].n = &st.c->nodes[i];
				probe_row(&st, pr, &rows[n++]);
			}
	sc_probe_close(pr);
	struct front fronts[32];
	int nf = list_fronts(&st, fronts, 32);
	if (json) {
		print_json(&st, rows, n, fronts, nf);
	} else {
		print_table(&st, rows, n);
		print_fronts(fronts, nf);
	}
	rc = 0;
	for (int i = 0; i < n; i++)
		if (!rows[i].up)
			rc = 1;
	free(rows);
	sc_state_close(&st);
	return rc;
}
