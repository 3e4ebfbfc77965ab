/*
 * node.c - the command line of a node's daemon, from the cluster file: the
 * one place that knows how a [blockd N] or [fmd N] section turns into
 * slice-blockd / slice-fmd options (docs/blockd.md, docs/file-manager.md).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "sc.h"

const char *sc_role_name(enum slice_role r)
{
	switch (r) {
	case SLICE_ROLE_BLOCKD: return "blockd";
	case SLICE_ROLE_FMD:    return "fmd";
	case SLICE_ROLE_PROXY:  return "proxy";
	}
	return "?";
}

const char *sc_node_prog(enum slice_role r)
{
	switch (r) {
	case SLICE_ROLE_BLOCKD: return "slice-blockd";
	case SLICE_ROLE_FMD:    return "slice-fmd";
	case SLICE_ROLE_PROXY:  return "slice-proxy";
	}
	return "?";
}

void sc_node_name(const struct slice_cluster_node *n, char *out, size_t len)
{
	snprintf(out, len, "%s-%u", sc_role_name(n->role), n->index);
}

void sc_argv_add(struct sc_argv *a, const char *fmt, ...)
{
	if (a->argc + 1 >= (int)(sizeof(a->argv) / sizeof(a->argv[0])) || a->used >= sizeof(a->buf))
		return;   /* sc_node_argv checks the room it needs up front */
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(a->buf + a->used, sizeof(a->buf) - a->used, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(a->buf) - a->used)
		return;
	a->argv[a->argc++] = a->buf + a->used;
	a->argv[a->argc] = NULL;
	a->used += (size_t)n + 1;
}

static bool is_shm(const char *url)
{
	return strcmp(url, "shm") == 0;
}

/* "ADDR:PORT" into its parts. */
static int split_addr(const char *s, char *addr, size_t len, unsigned *port)
{
	const char *colon = strrchr(s, ':');
	if (!colon || (size_t)(colon - s) >= len)
		return -1;
	memcpy(addr, s, (size_t)(colon - s));
	addr[colon - s] = 0;
	return sscanf(colon + 1, "%u", port) == 1 ? 0 : -1;
}

static void add_blockd(const struct slice_cluster *c, const struct slice_cluster_node *n, struct sc_argv *a)
{
	sc_argv_add(a, "--node");
	sc_argv_add(a, "%u", n->node);
	sc_argv_add(a, "--data");
	sc_argv_add(a, "%s", n->data);
	sc_argv_add(a, "--listen");
	sc_argv_add(a, "%s", n->tpz);
	if (is_shm(n->tpz)) {
		sc_argv_add(a, "--fabric");
		sc_argv_add(a, "%s", c->name);
	} else {
		sc_argv_add(a, "--secret-file");
		sc_argv_add(a, "%s", c->secret_file);
	}
	if (n->cache_mb) {
		sc_argv_add(a, "--cache-mb");
		sc_argv_add(a, "%u", n->cache_mb);
	}
}

static int add_fmd(const struct slice_cluster *c, const struct slice_cluster_node *n, struct sc_argv *a)
{
	char addr[128];
	unsigned port;
	bool shm = is_shm(n->tpz);

	if (split_addr(n->nfs, addr, sizeof(addr), &port) < 0)
		return -1;
	sc_argv_add(a, "--data");
	sc_argv_add(a, "%s", n->data);
	sc_argv_add(a, "--export");
	sc_argv_add(a, "%s", c->export_path);
	sc_argv_add(a, "--volume");
	sc_argv_add(a, "%s", c->volume);
	sc_argv_add(a, "--listen-addr");
	sc_argv_add(a, "%s", addr);
	/* NFS and MOUNT on one listener: one port per manager in the file. */
	sc_argv_add(a, "--nfs-port");
	sc_argv_add(a, "%u", port);
	sc_argv_add(a, "--mount-port");
	sc_argv_add(a, "%u", port);
	sc_argv_add(a, "--managers");
	sc_argv_add(a, "%u", c->managers);
	sc_argv_add(a, "--index");
	sc_argv_add(a, "%u", n->index);
	sc_argv_add(a, "--node");
	sc_argv_add(a, "%u", n->node);
	for (uint32_t i = 0; i < c->nnodes; i++) {
		const struct slice_cluster_node *p = &c->nodes[i];
		if (p->role != SLICE_ROLE_FMD || p == n)
			continue;
		sc_argv_add(a, "--peer-fmd");
		sc_argv_add(a, "%u=%u=%s", p->index, p->node, p->tpz);
		shm |= is_shm(p->tpz);
	}
	const struct slice_cluster_node *bd[SLICE_CLUSTER_MAX_NODES];
	uint32_t nb = slice_cluster_blockds(c, bd, SLICE_CLUSTER_MAX_NODES);
	for (uint32_t i = 0; i < nb; i++) {
		sc_argv_add(a, "--blockd");
		sc_argv_add(a, "%u=%s", bd[i]->node, bd[i]->tpz);
		shm |= is_shm(bd[i]->tpz);
	}
	if (shm) {
		sc_argv_add(a, "--fabric");
		sc_argv_add(a, "%s", c->name);
	}
	if (!is_shm(n->tpz)) {
		sc_argv_add(a, "--tpz-listen");
		sc_argv_add(a, "%s", n->tpz);
	}
	if (c->secret_file[0]) {
		sc_argv_add(a, "--secret-file");
		sc_argv_add(a, "%s", c->secret_file);
	}
	sc_argv_add(a, "--stripe-unit");
	sc_argv_add(a, "%u", c->stripe_unit);
	if (c->mkdir_switch) {
		sc_argv_add(a, "--mkdir-switch");
		sc_argv_add(a, "%u", c->mkdir_switch);
	}
	sc_argv_add(a, c->root_squash ? "--root-squash" : "--no-root-squash");
	/* allow: comma-separated CIDRs; none: the manager's default (loopback). */
	char allow[SLICE_CLUSTER_STR];
	snprintf(allow, sizeof(allow), "%s", c->allow);
	for (char *save, *tok = strtok_r(allow, ", ", &save); tok; tok = strtok_r(NULL, ", ", &save)) {
		sc_argv_add(a, "--allow");
		sc_argv_add(a, "%s", tok);
	}
	/* The cluster file, not the host's rpcbind, says where managers
	 * listen; several clusters on one host must not fight over it. */
	sc_argv_add(a, "--no-rpcbind");
	return 0;
}

int sc_node_argv(const struct slice_cluster *c, const struct slice_cluster_node *n, struct sc_argv *a)
{
	char bin[PATH_MAX];
	const char *prog = sc_node_prog(n->role);

	memset(a, 0, sizeof(*a));
	if (sc_find_bin(prog, bin, sizeof(bin)) < 0) {
		fprintf(stderr, "%s: cannot find %s (neither beside %s nor in PATH)\n", SC_PROG, prog, SC_PROG);
		return -1;
	}
	sc_argv_add(a, "%s", bin);
	switch (n->role) {
	case SLICE_ROLE_BLOCKD:
		add_blockd(c, n, a);
		break;
	case SLICE_ROLE_FMD:
		if (add_fmd(c, n, a) < 0) {
			fprintf(stderr, "%s: fmd %u: nfs = '%s' is not ADDR:PORT\n", SC_PROG, n->index, n->nfs);
			return -1;
		}
		break;
	case SLICE_ROLE_PROXY:
		sc_argv_add(a, "--cluster");
		sc_argv_add(a, "%s", c->path);
		sc_argv_add(a, "--index");
		sc_argv_add(a, "%u", n->index);
		break;
	}
	/* Room check: a truncated command line must not start a wrong daemon. */
	if (a->argc + 2 >= (int)(sizeof(a->argv) / sizeof(a->argv[0])) || a->used + 256 > sizeof(a->buf)) {
		fprintf(stderr, "%s: the command line of %s is too long\n", SC_PROG, prog);
		return -1;
	}
	return 0;
}
