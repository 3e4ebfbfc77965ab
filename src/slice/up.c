/*
 * up.c - `slice up`: start the daemons of a cluster on this host.
 *
 * With --dir only, a directory without a cluster file gets a new local
 * cluster (conf.c).  Then every node of this host that is not running is
 * started: block servers first, then managers (all of a role at once, then
 * their ready lines: managers of one volume may wait for each other), then
 * proxies.  A node that runs is left alone, so `slice up` after a node died
 * restarts just that one; when every node runs it says so and fails.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sc.h"

#define READY_TIMEOUT_MS 30000

static const char usage[] =
"usage: slice up --dir DIR [--blockds N] [--managers M] [--cache-mb N]\n"
"                [--stripe-unit BYTES] [--tcp]\n"
"       slice up --cluster FILE [--host H] [--dir STATEDIR]\n"
"Start a Slice cluster's daemons (slice-blockd, slice-fmd, slice-proxy) on\n"
"this host, in the background; wait until each is ready; print a summary.\n"
"\n"
"  --dir DIR          a local cluster in DIR: made (secret, cluster.conf,\n"
"                     data directories) if DIR has no cluster.conf\n"
"  --blockds N        new local cluster: block servers (default 4)\n"
"  --managers M       new local cluster: file managers (default 2)\n"
"  --cache-mb N       new local cluster: each block server's cache (default 64)\n"
"  --stripe-unit B    new local cluster: stripe unit (default 262144)\n"
"  --tcp              new local cluster: Trapeze over tcp://127.0.0.1 (with\n"
"                     the secret) instead of shared memory\n"
"  --cluster FILE     a cluster file (docs/cluster.md)\n"
"  --host H           start the nodes of host H (default: hosts \"local\" and\n"
"                     this machine's name)\n"
"\n"
"Daemons log to STATEDIR/logs/NAME.log; pid files are STATEDIR/run/NAME.pid\n"
"(STATEDIR: --dir, or the cluster file's folder).  Exit 0 when every node\n"
"of this host runs, 1 if one cannot start or all already ran, 2 for a bad\n"
"command line or cluster file.\n";

struct started {
	const struct slice_cluster_node *n;
	pid_t pid;
	char ready[256];
};

static void log_tail(const struct sc_state *st, const char *name)
{
	char path[PATH_MAX], line[512];
	sc_path(path, sizeof(path), st, "logs", name, ".log");
	FILE *f = fopen(path, "r");
	if (!f)
		return;
	/* The last 10 lines: keep a ring of them. */
	char ring[10][512];
	int n = 0;
	while (fgets(line, sizeof(line), f))
		snprintf(ring[n++ % 10], sizeof(ring[0]), "%s", line);
	fclose(f);
	fprintf(stderr, "--- %s (last lines)\n", path);
	for (int i = n > 10 ? n - 10 : 0; i < n; i++)
		fprintf(stderr, "    %s", ring[i % 10]);
}

static int start_role(struct sc_state *st, enum slice_role role, struct started *s, int *ns)
{
	int first = *ns, rc = 0;
	for (uint32_t i = 0; i < st->c->nnodes; i++) {
		const struct slice_cluster_node *n = &st->c->nodes[i];
		char name[64], pidf[PATH_MAX], outf[PATH_MAX], logf[PATH_MAX];
		struct sc_argv a;
		if (n->role != role || !sc_state_mine(st, n))
			continue;
		sc_node_name(n, name, sizeof(name));
		sc_path(pidf, sizeof(pidf), st, "run", name, ".pid");
		if (sc_pid_alive(pidf, sc_node_prog(role)))
			continue;
		if (sc_node_argv(st->c, n, &a) < 0)
			return -1;
		/* The daemons make their data directory, not its parents. */
		if (n->data[0]) {
			char parent[sizeof(n->data)];
			snprintf(parent, sizeof(parent), "%s", n->data);
			char *slash = strrchr(parent, '/');
			if (slash && slash != parent) {
				*slash = 0;
				sc_mkdir_p(parent, 0755);
			}
		}
		sc_path(outf, sizeof(outf), st, "run", name, ".out");
		sc_path(logf, sizeof(logf), st, "logs", name, ".log");
		pid_t pid = sc_spawn(a.argv, outf, logf);
		if (pid < 0) {
			fprintf(stderr, "%s: cannot start %s: %s\n", SC_PROG, name, strerror(-pid));
			return -1;
		}
		sc_write_pid(pidf, pid);
		s[*ns].n = n;
		s[*ns].pid = pid;
		(*ns)++;
	}
	for (int i = first; i < *ns; i++) {
		char name[64], outf[PATH_MAX];
		sc_node_name(s[i].n, name, sizeof(name));
		sc_path(outf, sizeof(outf), st, "run", name, ".out");
		int r = sc_wait_ready(s[i].pid, outf, READY_TIMEOUT_MS, s[i].ready, sizeof(s[i].ready));
		if (r < 0) {
			fprintf(stderr, "%s: %s (%s) %s\n", SC_PROG, name, sc_node_prog(role),
				r == -ECHILD ? "exited at start" : "did not get ready within 30 s");
			log_tail(st, name);
			rc = -1;
		}
	}
	return rc;
}

static void stop_started(struct sc_state *st, struct started *s, int ns)
{
	pid_t pids[SLICE_CLUSTER_MAX_NODES];
	for (int i = 0; i < ns; i++)
		pids[i] = s[i].pid;
	sc_stop(pids, ns, 10000);
	for (int i = 0; i < ns; i++) {
		char name[64], path[PATH_MAX];
		sc_node_name(s[i].n, name, sizeof(name));
		sc_path(path, sizeof(path), st, "run", name, ".pid");
		unlink(path);
		sc_path(path, sizeof(path), st, "run", name, ".out");
		unlink(path);
	}
}

static void summary(const struct sc_state *st, const struct started *s, int ns, int running)
{
	printf("cluster %s (%s): volume %s, %u manager%s\n", st->c->name, st->file, st->c->volume,
	       st->c->managers, st->c->managers == 1 ? "" : "s");
	printf("%-10s %5s  %-28s %-22s %7s  %s\n", "NODE", "ID", "TRAPEZE", "NFS", "PID", "READY");
	for (int i = 0; i < ns; i++) {
		char name[64];
		sc_node_name(s[i].n, name, sizeof(name));
		printf("%-10s %5u  %-28s %-22s %7d  %s\n", name, s[i].n->node, s[i].n->tpz,
		       s[i].n->nfs[0] ? s[i].n->nfs : "-", (int)s[i].pid, s[i].ready);
	}
	if (running)
		printf("(%d node%s already running)\n", running, running == 1 ? " was" : "s were");
	const struct slice_cluster_node *m0 = slice_cluster_fmd(st->c, 0);
	if (m0 && sc_state_mine(st, m0)) {
		const char *colon = strrchr(m0->nfs, ':');
		char conf[PATH_MAX + 32];
		snprintf(conf, sizeof(conf), "%s/%s", st->dir, SLICE_CLUSTER_FILE);
		if (!strcmp(conf, st->file))
			printf("logs: %s/logs/   status: slice status --dir %s\n", st->dir, st->dir);
		else
			printf("logs: %s/logs/   status: slice status --cluster %s\n", st->dir, st->file);
		printf("NFS (manager 0): nfs://%.*s%s?nfsport=%s&mountport=%s&version=3\n",
		       (int)(colon - m0->nfs), m0->nfs, st->c->export_path, colon + 1, colon + 1);
	}
}

int sc_cmd_up(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "dir", 1, 0, 'd' }, { "blockds", 1, 0, 'b' }, { "managers", 1, 0, 'm' },
		{ "cache-mb", 1, 0, 'c' }, { "stripe-unit", 1, 0, 'u' }, { "tcp", 0, 0, 't' },
		{ "cluster", 1, 0, 'C' }, { "host", 1, 0, 'H' }, { "help", 0, 0, 'h' }, { 0 } };
	struct sc_local_opts lo_opts = { .blockds = 4, .managers = 2, .cache_mb = 64,
					 .stripe_unit = 262144 };
	const char *dir = NULL, *cluster = NULL, *host = NULL;
	bool shape_given = false;
	int o;

	while ((o = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (o) {
		case 'd': dir = optarg; break;
		case 'b': lo_opts.blockds = (uint32_t)sc_parse_num(optarg, "--blockds", 1, 64); shape_given = true; break;
		case 'm': lo_opts.managers = (uint32_t)sc_parse_num(optarg, "--managers", 1, 64); shape_given = true; break;
		case 'c': lo_opts.cache_mb = (uint32_t)sc_parse_num(optarg, "--cache-mb", 0, 1 << 20); shape_given = true; break;
		case 'u': {
			uint64_t su = sc_parse_size(optarg);
			if (su < 4096 || su > (1u << 20) || (su & (su - 1))) {
				fprintf(stderr, "%s: --stripe-unit: a power of two, 4K..1M\n", SC_PROG);
				return 2;
			}
			lo_opts.stripe_unit = (uint32_t)su;
			shape_given = true;
			break;
		}
		case 't': lo_opts.tcp = true; shape_given = true; break;
		case 'C': cluster = optarg; break;
		case 'H': host = optarg; break;
		case 'h': fputs(usage, stdout); return 0;
		default: fputs(usage, stderr); return 2;
		}
	}
	if (optind != argc || (!dir && !cluster)) {
		fputs(usage, stderr);
		return 2;
	}
	if (!cluster) {
		char conf[PATH_MAX], err[512] = "";
		snprintf(conf, sizeof(conf), "%s/%s", dir, SLICE_CLUSTER_FILE);
		if (access(conf, F_OK) != 0) {
			if (sc_local_create(dir, &lo_opts, err, sizeof(err)) < 0) {
				fprintf(stderr, "%s: %s\n", SC_PROG, err);
				return 1;
			}
		} else if (shape_given) {
			fprintf(stderr, "%s: note: %s exists: its shape stands, the options for a new "
				"cluster are ignored\n", SC_PROG, conf);
		}
	} else if (shape_given) {
		fprintf(stderr, "%s: --blockds, --managers, --cache-mb, --stripe-unit and --tcp make a "
			"new local cluster: not with --cluster\n", SC_PROG);
		return 2;
	}

	struct sc_state st;
	int rc = sc_state_open(&st, dir, cluster, host);
	if (rc)
		return rc;
	char path[PATH_MAX];
	sc_path(path, sizeof(path), &st, "run", "", "");
	mkdir(path, 0755);
	sc_path(path, sizeof(path), &st, "logs", "", "");
	mkdir(path, 0755);

	int mine = 0, running = 0;
	for (uint32_t i = 0; i < st.c->nnodes; i++) {
		const struct slice_cluster_node *n = &st.c->nodes[i];
		char name[64], pidf[PATH_MAX];
		if (!sc_state_mine(&st, n))
			continue;
		mine++;
		sc_node_name(n, name, sizeof(name));
		sc_path(pidf, sizeof(pidf), &st, "run", name, ".pid");
		running += sc_pid_alive(pidf, sc_node_prog(n->role)) != 0;
	}
	if (mine == 0) {
		fprintf(stderr, "%s: %s has no node on this host (give --host)\n", SC_PROG, st.file);
		sc_state_close(&st);
		return 2;
	}
	if (running == mine) {
		fprintf(stderr, "%s: the cluster already runs in %s (%d node%s): see `slice status`\n",
			SC_PROG, st.dir, mine, mine == 1 ? "" : "s");
		sc_state_close(&st);
		return 1;
	}

	struct started *s = calloc(SLICE_CLUSTER_MAX_NODES, sizeof(*s));
	int ns = 0;
	rc = 0;
	if (!s || start_role(&st, SLICE_ROLE_BLOCKD, s, &ns) < 0 || start_role(&st, SLICE_ROLE_FMD, s, &ns) < 0 ||
	    start_role(&st, SLICE_ROLE_PROXY, s, &ns) < 0) {
		fprintf(stderr, "%s: stopping the %d daemon%s this run started\n", SC_PROG, ns, ns == 1 ? "" : "s");
		if (s)
			stop_started(&st, s, ns);
		rc = 1;
	} else {
		summary(&st, s, ns, running);
	}
	free(s);
	sc_state_close(&st);
	return rc;
}
