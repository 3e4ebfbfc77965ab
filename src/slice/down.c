/*
 * down.c - `slice down`: unmount the cluster's slicefs mounts, then stop
 * proxies, managers, block servers (SIGTERM, a bounded wait, SIGKILL), and
 * remove what they leave: pid files, ready files, a fabric's shm segment
 * and Trapeze stat pages of daemons that had to be killed.
 *
 * It works from the pid files in the run directory, so a cluster whose
 * daemons died, or whose cluster file is broken, still comes down.
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "sc.h"

#define STOP_TIMEOUT_MS 12000   /* slice-blockd may take 10 s to finish requests */

static const char usage[] =
"usage: slice down --dir DIR\n"
"       slice down --cluster FILE [--host H] [--dir STATEDIR]\n"
"Unmount this cluster's slicefs mounts (those `slice mount` recorded), stop\n"
"its proxies, file managers and block servers on this host (SIGTERM; SIGKILL\n"
"after 12 s), and remove their pid files.  Data directories stay.\n"
"With --host, only that host's nodes.  Exit 0 when nothing is left running.\n";

struct victim {
	char  name[64];
	pid_t pid;     /* 0: the pid file names no live daemon */
	pid_t dead;    /* the pid a pid file of a dead daemon names */
	int   rank;    /* stop order: proxies, managers, block servers */
};

static int rank_of(const char *name, const char **prog)
{
	if (!strncmp(name, "slicefs-", 8)) {   /* its mount is gone by now: it exits */
		*prog = "slicefs";
		return 0;
	}
	if (!strncmp(name, "nfsproxy-", 9) || !strncmp(name, "proxy-", 6)) {
		*prog = "slice-proxy";
		return 0;
	}
	if (!strncmp(name, "fmd-", 4)) {
		*prog = "slice-fmd";
		return 1;
	}
	if (!strncmp(name, "blockd-", 7)) {
		*prog = "slice-blockd";
		return 2;
	}
	return -1;
}

/* Is the daemon called name one this command handles (--host)? */
static bool wanted(const struct sc_state *st, const char *name)
{
	if (!st->c || !st->host[0] || !strncmp(name, "nfsproxy-", 9) || !strncmp(name, "slicefs-", 8))
		return true;
	for (uint32_t i = 0; i < st->c->nnodes; i++) {
		char n[64];
		sc_node_name(&st->c->nodes[i], n, sizeof(n));
		if (!strcmp(n, name))
			return sc_state_mine(st, &st->c->nodes[i]);
	}
	return false;
}

static int collect(const struct sc_state *st, struct victim *v, int max)
{
	char run[PATH_MAX + 8];
	int n = 0;
	snprintf(run, sizeof(run), "%s/run", st->dir);
	DIR *d = opendir(run);
	if (!d)
		return 0;
	for (struct dirent *e; (e = readdir(d)) && n < max;) {
		size_t len = strlen(e->d_name);
		const char *prog;
		if (len < 5 || len >= sizeof(v[0].name) + 4 || strcmp(e->d_name + len - 4, ".pid"))
			continue;
		memcpy(v[n].name, e->d_name, len - 4);
		v[n].name[len - 4] = 0;
		if ((v[n].rank = rank_of(v[n].name, &prog)) < 0 || !wanted(st, v[n].name))
			continue;
		char pidf[PATH_MAX + 300];
		snprintf(pidf, sizeof(pidf), "%s/%s", run, e->d_name);
		v[n].pid = sc_pid_alive(pidf, prog);
		char buf[32];
		v[n].dead = !v[n].pid && sc_read_line(pidf, buf, sizeof(buf)) ? (pid_t)atoi(buf) : 0;
		n++;
	}
	closedir(d);
	return n;
}

/* Trapeze's stat pages of a process that could not remove them. */
static void remove_stat_pages(pid_t pid)
{
	char prefix[64];
	snprintf(prefix, sizeof(prefix), "tpz-stat.%u.%d.", (unsigned)geteuid(), (int)pid);
	DIR *d = opendir("/dev/shm");
	if (!d)
		return;
	for (struct dirent *e; (e = readdir(d));) {
		if (!strncmp(e->d_name, prefix, strlen(prefix))) {
			char p[300];
			snprintf(p, sizeof(p), "/%s", e->d_name);
			shm_unlink(p);
		}
	}
	closedir(d);
}

int sc_down_all(struct sc_state *st, bool quiet)
{
	struct victim v[SLICE_CLUSTER_MAX_NODES + 32];
	char mps[64][PATH_MAX];
	int rc = 0, unmounted = 0, stopped = 0, killed = 0, dead = 0;

	/* Mounts first: a mount holds the managers and block servers open. */
	int nm = st->host[0] ? 0 : sc_mounts_read(st, mps, 64);
	for (int i = 0; i < nm; i++) {
		if (sc_is_mounted(mps[i])) {
			if (sc_unmount(mps[i]) < 0) {
				fprintf(stderr, "%s: cannot unmount %s\n", SC_PROG, mps[i]);
				rc = 1;
				continue;
			}
			unmounted++;
		}
		sc_mounts_forget(st, mps[i]);
	}

	int n = collect(st, v, (int)(sizeof(v) / sizeof(v[0])));
	for (int rank = 0; rank <= 2; rank++) {
		pid_t pids[sizeof(v) / sizeof(v[0])];
		int np = 0;
		for (int i = 0; i < n; i++)
			if (v[i].rank == rank && v[i].pid > 0)
				pids[np++] = v[i].pid;
		int k = sc_stop(pids, np, STOP_TIMEOUT_MS);
		killed += k;
		stopped += np;
		for (int i = 0; i < n; i++) {
			if (v[i].rank != rank)
				continue;
			if (v[i].pid > 0 && !sc_gone(v[i].pid)) {
				fprintf(stderr, "%s: %s (pid %d) does not go away\n", SC_PROG, v[i].name, (int)v[i].pid);
				rc = 1;
				continue;
			}
			/* A killed daemon (by us or by someone just before) could
			 * not remove its stat page; a pid nobody has now cannot be
			 * someone else's. */
			if (v[i].pid > 0)
				remove_stat_pages(v[i].pid);
			if (v[i].dead > 1 && sc_gone(v[i].dead))
				remove_stat_pages(v[i].dead);
			/* slicefs exits by itself once unmounted: not a death. */
			dead += v[i].pid == 0 && strncmp(v[i].name, "slicefs-", 8) != 0;
			char p[PATH_MAX];
			sc_path(p, sizeof(p), st, "run", v[i].name, ".pid");
			unlink(p);
			sc_path(p, sizeof(p), st, "run", v[i].name, ".out");
			unlink(p);
		}
	}
	/* A fabric whose last member was killed keeps its segment; once none
	 * of ours runs here, nobody else may use it (the name is the cluster's).
	 * (A clean last leaver removed it already: then this finds nothing.) */
	bool shm_elsewhere = false;   /* shm nodes of other hosts (same machine) */
	for (uint32_t i = 0; st->c && i < st->c->nnodes; i++)
		shm_elsewhere |= !strcmp(st->c->nodes[i].tpz, "shm") && !sc_state_mine(st, &st->c->nodes[i]) &&
				 st->host[0];
	if (st->c && !shm_elsewhere) {
		char p[128];
		snprintf(p, sizeof(p), "/tpz-%s", st->c->name);
		if (!collect(st, v, (int)(sizeof(v) / sizeof(v[0]))) && shm_unlink(p) == 0 && !quiet)
			printf("removed the fabric's leftover segment /dev/shm%s\n", p);
	}
	if (!quiet) {
		printf("stopped %d daemon%s", stopped, stopped == 1 ? "" : "s");
		if (killed)
			printf(" (%d with SIGKILL)", killed);
		if (dead)
			printf(", %d pid file%s of dead daemons removed", dead, dead == 1 ? "" : "s");
		if (unmounted)
			printf(", unmounted %d", unmounted);
		printf("\n");
	}
	return rc;
}

int sc_cmd_down(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "dir", 1, 0, 'd' }, { "cluster", 1, 0, 'C' }, { "host", 1, 0, 'H' },
		{ "help", 0, 0, 'h' }, { 0 } };
	const char *dir = NULL, *cluster = NULL, *host = NULL;
	int o;

	while ((o = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (o) {
		case 'd': dir = optarg; break;
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
	struct sc_state st;
	char conf[PATH_MAX];
	snprintf(conf, sizeof(conf), "%s/%s", dir ? dir : "", SLICE_CLUSTER_FILE);
	int rc = cluster || access(conf, F_OK) == 0 ? sc_state_open(&st, dir, cluster, host) : -1;
	if (rc) {
		/* No usable cluster file: what the run directory records still
		 * comes down (a half-made cluster, an edited file). */
		if (cluster)
			return rc;
		memset(&st, 0, sizeof(st));
		if (!realpath(dir, st.dir)) {
			fprintf(stderr, "%s: %s: %s\n", SC_PROG, dir, strerror(errno));
			return 1;
		}
		fprintf(stderr, "%s: %s: stopping what %s/run records\n", SC_PROG,
			rc > 0 ? "the cluster file is unusable" : "no cluster file", st.dir);
	}
	rc = sc_down_all(&st, false);
	sc_state_close(&st);
	return rc;
}
