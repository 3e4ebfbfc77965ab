/*
 * state.c - which cluster a command is about (--dir DIR, or --cluster FILE
 * with --host H) and where its state lives on this host.
 */
#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sc.h"

int sc_state_open(struct sc_state *st, const char *dir, const char *cluster, const char *host)
{
	char err[512], tmp[PATH_MAX + 32];

	memset(st, 0, sizeof(*st));
	if (!dir && !cluster) {
		fprintf(stderr, "%s: give --dir DIR or --cluster FILE\n", SC_PROG);
		return 2;
	}
	if (cluster) {
		if (!realpath(cluster, st->file)) {
			fprintf(stderr, "%s: cluster file %s: %s\n", SC_PROG, cluster, strerror(errno));
			return 2;
		}
		snprintf(tmp, sizeof(tmp), "%s", st->file);
		snprintf(st->dir, sizeof(st->dir), "%s", dirname(tmp));
	}
	if (dir) {
		if (!realpath(dir, st->dir)) {
			fprintf(stderr, "%s: %s: %s\n", SC_PROG, dir, strerror(errno));
			return 1;
		}
		if (!cluster)
			snprintf(st->file, sizeof(st->file), "%s/%s", st->dir, SLICE_CLUSTER_FILE);
	}
	if (!cluster && access(st->file, F_OK) != 0) {
		fprintf(stderr, "%s: no cluster in %s (no %s): start one with `slice up --dir %s`\n",
			SC_PROG, st->dir, SLICE_CLUSTER_FILE, dir);
		return 1;
	}
	snprintf(st->host, sizeof(st->host), "%s", host ? host : "");
	st->c = calloc(1, sizeof(*st->c));
	if (!st->c) {
		fprintf(stderr, "%s: out of memory\n", SC_PROG);
		return 1;
	}
	err[0] = 0;
	int rc = slice_cluster_load(st->file, st->c, err, sizeof(err));
	if (rc < 0) {
		fprintf(stderr, "%s: %s\n", SC_PROG, err[0] ? err : strerror(-rc));
		sc_state_close(st);
		return 2;
	}
	if (host) {
		bool any = false;
		for (uint32_t i = 0; i < st->c->nnodes; i++)
			any |= strcmp(st->c->nodes[i].host, host) == 0;
		if (!any) {
			fprintf(stderr, "%s: %s has no node on host '%s'\n", SC_PROG, st->file, host);
			sc_state_close(st);
			return 2;
		}
	}
	return 0;
}

void sc_state_close(struct sc_state *st)
{
	free(st->c);
	st->c = NULL;
}

/* Without --host: the nodes of host "local" and of this machine's name. */
bool sc_state_mine(const struct sc_state *st, const struct slice_cluster_node *n)
{
	if (st->host[0])
		return strcmp(n->host, st->host) == 0;
	char me[128] = "";
	gethostname(me, sizeof(me) - 1);
	return strcmp(n->host, "local") == 0 || strcmp(n->host, me) == 0;
}

void sc_path(char *out, size_t len, const struct sc_state *st, const char *sub, const char *name,
	     const char *ext)
{
	snprintf(out, len, "%s/%s/%s%s", st->dir, sub, name, ext);
}
