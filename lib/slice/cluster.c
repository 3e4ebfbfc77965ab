/*
 * cluster.c - the cluster file (slice_cluster.h): load with inih, check,
 * save.  The format is documented in slice_cluster.h and docs/cluster.md.
 */
#include <errno.h>
#include <ini.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "slice_cluster.h"

/* Node ids are below the shm fabric's default size (trapeze.h:
 * fabric_nodes), so that whichever node of the cluster creates the fabric
 * makes room for all the others. */
#define TPZ_NODES_MAX SLICE_CLUSTER_NODE_IDS

struct load_ctx {
	struct slice_cluster *c;
	char                  what[160];   /* why the handler refused a line */
};

static int parse_u32(const char *s, uint32_t lo, uint32_t hi, uint32_t *out)
{
	char *end;

	errno = 0;
	unsigned long long v = strtoull(s, &end, 0);
	if (errno || end == s || *end || s[0] == '-' || v < lo || v > hi)
		return -EINVAL;
	*out = (uint32_t)v;
	return 0;
}

static int copy_str(char *dst, size_t cap, const char *src)
{
	size_t n = strlen(src);

	if (n >= cap)
		return -ENAMETOOLONG;
	memcpy(dst, src, n + 1);
	return 0;
}

/* A relative path is relative to the cluster file's folder. */
static int set_path(const struct slice_cluster *c, char *dst, size_t cap, const char *v)
{
	if (v[0] == '/' || !v[0])
		return copy_str(dst, cap, v);
	int n = snprintf(dst, cap, "%s/%s", c->dir, v);
	return n < 0 || (size_t)n >= cap ? -ENAMETOOLONG : 0;
}

static int cluster_key(struct load_ctx *x, const char *key, const char *v)
{
	struct slice_cluster *c = x->c;

	if (!strcmp(key, "name"))
		return copy_str(c->name, sizeof(c->name), v);
	if (!strcmp(key, "volume"))
		return copy_str(c->volume, sizeof(c->volume), v);
	if (!strcmp(key, "export")) {
		if (v[0] != '/')
			return -EINVAL;
		return copy_str(c->export_path, sizeof(c->export_path), v);
	}
	if (!strcmp(key, "secret_file"))
		return set_path(c, c->secret_file, sizeof(c->secret_file), v);
	if (!strcmp(key, "stripe_unit")) {
		int rc = parse_u32(v, 4096, 1u << 20, &c->stripe_unit);
		return rc ? rc : (c->stripe_unit & (c->stripe_unit - 1)) ? -EINVAL : 0;
	}
	if (!strcmp(key, "mkdir_switch"))
		return parse_u32(v, 0, 1000, &c->mkdir_switch);
	if (!strcmp(key, "client_nodes")) {
		char lo[16], hi[16];
		const char *dash = strchr(v, '-');
		if (!dash || dash - v >= (long)sizeof(lo) || strlen(dash + 1) >= sizeof(hi))
			return -EINVAL;
		memcpy(lo, v, (size_t)(dash - v));
		lo[dash - v] = 0;
		strcpy(hi, dash + 1);
		if (parse_u32(lo, 1, TPZ_NODES_MAX - 1, &c->client_lo) ||
		    parse_u32(hi, c->client_lo, TPZ_NODES_MAX - 1, &c->client_hi))
			return -EINVAL;
		return 0;
	}
	if (!strcmp(key, "root_squash")) {
		if (!strcmp(v, "yes") || !strcmp(v, "true") || !strcmp(v, "1"))
			c->root_squash = 1;
		else if (!strcmp(v, "no") || !strcmp(v, "false") || !strcmp(v, "0"))
			c->root_squash = 0;
		else
			return -EINVAL;
		return 0;
	}
	if (!strcmp(key, "allow"))
		return copy_str(c->allow, sizeof(c->allow), v);
	snprintf(x->what, sizeof(x->what), "unknown key '%s' in [cluster]", key);
	return -ENOENT;
}

static const char *role_name(enum slice_role r)
{
	return r == SLICE_ROLE_BLOCKD ? "blockd" : r == SLICE_ROLE_FMD ? "fmd" : "proxy";
}

/* "blockd 3" -> the node record for it (made on first sight). */
static struct slice_cluster_node *node_of(struct load_ctx *x, const char *section)
{
	struct slice_cluster *c = x->c;
	enum slice_role role;
	char word[16];
	uint32_t index;
	const char *sp = strchr(section, ' ');

	if (!sp || sp - section >= (long)sizeof(word)) {
		snprintf(x->what, sizeof(x->what), "unknown section [%s]", section);
		return NULL;
	}
	memcpy(word, section, (size_t)(sp - section));
	word[sp - section] = 0;
	if (!strcmp(word, "blockd"))
		role = SLICE_ROLE_BLOCKD;
	else if (!strcmp(word, "fmd"))
		role = SLICE_ROLE_FMD;
	else if (!strcmp(word, "proxy"))
		role = SLICE_ROLE_PROXY;
	else {
		snprintf(x->what, sizeof(x->what), "unknown section [%s]", section);
		return NULL;
	}
	if (parse_u32(sp + 1, 0, SLICE_CLUSTER_MAX_NODES - 1, &index)) {
		snprintf(x->what, sizeof(x->what), "bad index in [%s]", section);
		return NULL;
	}
	for (uint32_t i = 0; i < c->nnodes; i++)
		if (c->nodes[i].role == role && c->nodes[i].index == index)
			return &c->nodes[i];
	if (c->nnodes == SLICE_CLUSTER_MAX_NODES) {
		snprintf(x->what, sizeof(x->what), "more than %u nodes", SLICE_CLUSTER_MAX_NODES);
		return NULL;
	}
	struct slice_cluster_node *n = &c->nodes[c->nnodes++];
	memset(n, 0, sizeof(*n));
	n->role = role;
	n->index = index;
	n->node = UINT32_MAX;   /* required: checked after parsing */
	strcpy(n->host, "local");
	strcpy(n->tpz, "shm");
	return n;
}

static int node_key(struct load_ctx *x, struct slice_cluster_node *n, const char *key, const char *v)
{
	if (!strcmp(key, "host"))
		return v[0] ? copy_str(n->host, sizeof(n->host), v) : -EINVAL;
	if (!strcmp(key, "node"))
		return parse_u32(v, 0, TPZ_NODES_MAX - 1, &n->node);
	if (!strcmp(key, "tpz")) {
		if (strcmp(v, "shm") && strncmp(v, "tcp://", 6))
			return -EINVAL;
		return copy_str(n->tpz, sizeof(n->tpz), v);
	}
	if (!strcmp(key, "nfs") && n->role != SLICE_ROLE_BLOCKD) {
		const char *colon = strrchr(v, ':');
		uint32_t port;
		if (!colon || colon == v || parse_u32(colon + 1, 1, 65535, &port))
			return -EINVAL;
		return copy_str(n->nfs, sizeof(n->nfs), v);
	}
	if (!strcmp(key, "data") && n->role != SLICE_ROLE_PROXY)
		return set_path(x->c, n->data, sizeof(n->data), v);
	if (!strcmp(key, "cache_mb") && n->role == SLICE_ROLE_BLOCKD)
		return parse_u32(v, 0, 1u << 24, &n->cache_mb);
	snprintf(x->what, sizeof(x->what), "unknown key '%s' in [%s %u]", key, role_name(n->role), n->index);
	return -ENOENT;
}

static int on_line(void *user, const char *section, const char *key, const char *value)
{
	struct load_ctx *x = user;
	int rc;

	x->what[0] = 0;
	if (!strcmp(section, "cluster")) {
		rc = cluster_key(x, key, value);
	} else {
		struct slice_cluster_node *n = node_of(x, section);
		if (!n)
			return 0;
		rc = node_key(x, n, key, value);
	}
	if (rc && !x->what[0])
		snprintf(x->what, sizeof(x->what), "bad value '%s' for %s", value, key);
	return rc == 0;
}

static int check(struct load_ctx *x)
{
	struct slice_cluster *c = x->c;
	uint32_t nblockd = 0;

	c->managers = 0;
	for (uint32_t i = 0; i < c->nnodes; i++) {
		const struct slice_cluster_node *n = &c->nodes[i];
		const char *r = role_name(n->role);
		if (n->node == UINT32_MAX) {
			snprintf(x->what, sizeof(x->what), "[%s %u] has no node id", r, n->index);
			return -EINVAL;
		}
		if (n->node >= c->client_lo && n->node <= c->client_hi) {
			snprintf(x->what, sizeof(x->what), "[%s %u]: node %u is in the client range %u-%u",
				 r, n->index, n->node, c->client_lo, c->client_hi);
			return -EINVAL;
		}
		for (uint32_t j = 0; j < i; j++)
			if (c->nodes[j].node == n->node) {
				snprintf(x->what, sizeof(x->what), "node id %u used twice", n->node);
				return -EINVAL;
			}
		if (n->role != SLICE_ROLE_PROXY && !n->data[0]) {
			snprintf(x->what, sizeof(x->what), "[%s %u] has no data directory", r, n->index);
			return -EINVAL;
		}
		if (n->role != SLICE_ROLE_BLOCKD && !n->nfs[0]) {
			snprintf(x->what, sizeof(x->what), "[%s %u] has no nfs address", r, n->index);
			return -EINVAL;
		}
		if (strncmp(n->tpz, "tcp://", 6) == 0 && !c->secret_file[0]) {
			snprintf(x->what, sizeof(x->what), "[%s %u] is on tcp: the cluster needs a secret_file",
				 r, n->index);
			return -EINVAL;
		}
		if (n->role == SLICE_ROLE_FMD)
			c->managers++;
		if (n->role == SLICE_ROLE_BLOCKD)
			nblockd++;
	}
	if (!c->managers || !nblockd) {
		snprintf(x->what, sizeof(x->what), "a cluster needs at least one [fmd 0] and one [blockd 0]");
		return -EINVAL;
	}
	for (uint32_t i = 0; i < c->managers; i++)
		if (!slice_cluster_fmd(c, i)) {
			snprintf(x->what, sizeof(x->what), "[fmd %u] missing: managers are numbered 0..%u",
				 i, c->managers - 1);
			return -EINVAL;
		}
	if (!c->name[0] || !c->volume[0]) {
		snprintf(x->what, sizeof(x->what), "[cluster] needs a name and a volume");
		return -EINVAL;
	}
	return 0;
}

int slice_cluster_load(const char *path, struct slice_cluster *out, char *err, size_t errlen)
{
	struct load_ctx x = { .c = out };
	char abs[PATH_MAX];

	memset(out, 0, sizeof(*out));
	if (err && errlen)
		err[0] = 0;
	if (!realpath(path, abs)) {
		int e = errno;
		if (err)
			snprintf(err, errlen, "%s: %s", path, strerror(e));
		return -e;
	}
	if (copy_str(out->path, sizeof(out->path), abs))
		return -ENAMETOOLONG;
	char *slash = strrchr(abs, '/');
	*slash = 0;
	if (copy_str(out->dir, sizeof(out->dir), abs[0] ? abs : "/"))
		return -ENAMETOOLONG;
	strcpy(out->export_path, "/slice");
	out->stripe_unit = 262144;
	out->client_lo = 32;
	out->client_hi = 63;

	int line = ini_parse(out->path, on_line, &x);
	if (line == -1 || line == -2) {
		if (err)
			snprintf(err, errlen, "%s: %s", out->path, line == -1 ? "cannot open" : "out of memory");
		return line == -1 ? -EIO : -ENOMEM;
	}
	if (line > 0) {
		if (err)
			snprintf(err, errlen, "%s:%d: %s", out->path, line, x.what[0] ? x.what : "syntax error");
		return -EINVAL;
	}
	int rc = check(&x);
	if (rc && err)
		snprintf(err, errlen, "%s: %s", out->path, x.what);
	return rc;
}

/* Paths under the file's folder are written relative to it, so that a
 * cluster folder can be moved as a whole. */
static const char *rel(const char *p, const char *dir)
{
	size_t n = strlen(dir);

	if (n && !strncmp(p, dir, n) && p[n] == '/' && p[n + 1])
		return p + n + 1;
	return p;
}

int slice_cluster_save(const struct slice_cluster *c, const char *path)
{
	char tmp[PATH_MAX + 16], parent[PATH_MAX], dir[PATH_MAX];

	snprintf(parent, sizeof(parent), "%s", path);
	char *slash = strrchr(parent, '/');
	if (slash)
		*slash = 0;
	if (!realpath(slash ? (parent[0] ? parent : "/") : ".", dir))
		snprintf(dir, sizeof(dir), "%s", c->dir);
	snprintf(tmp, sizeof(tmp), "%s.tmp%d", path, (int)getpid());
	FILE *f = fopen(tmp, "w");
	if (!f)
		return -errno;
	fprintf(f, "# Slice cluster file (docs/cluster.md)\n[cluster]\n");
	fprintf(f, "name = %s\nvolume = %s\nexport = %s\n", c->name, c->volume,
		c->export_path[0] ? c->export_path : "/slice");
	if (c->secret_file[0])
		fprintf(f, "secret_file = %s\n", rel(c->secret_file, dir));
	fprintf(f, "stripe_unit = %u\nmkdir_switch = %u\nclient_nodes = %u-%u\nroot_squash = %s\n",
		c->stripe_unit ? c->stripe_unit : 262144, c->mkdir_switch,
		c->client_lo ? c->client_lo : 32, c->client_hi ? c->client_hi : 63,
		c->root_squash ? "yes" : "no");
	if (c->allow[0])
		fprintf(f, "allow = %s\n", c->allow);
	for (uint32_t i = 0; i < c->nnodes; i++) {
		const struct slice_cluster_node *n = &c->nodes[i];
		fprintf(f, "\n[%s %u]\nhost = %s\nnode = %u\ntpz = %s\n", role_name(n->role), n->index,
			n->host[0] ? n->host : "local", n->node, n->tpz[0] ? n->tpz : "shm");
		if (n->nfs[0])
			fprintf(f, "nfs = %s\n", n->nfs);
		if (n->data[0])
			fprintf(f, "data = %s\n", rel(n->data, dir));
		if (n->role == SLICE_ROLE_BLOCKD && n->cache_mb)
			fprintf(f, "cache_mb = %u\n", n->cache_mb);
	}
	if (fflush(f) || fsync(fileno(f))) {
		int e = errno;
		fclose(f);
		unlink(tmp);
		return -e;
	}
	if (fclose(f) || rename(tmp, path)) {
		int e = errno;
		unlink(tmp);
		return -e;
	}
	return 0;
}

const struct slice_cluster_node *slice_cluster_fmd(const struct slice_cluster *c, uint32_t index)
{
	for (uint32_t i = 0; i < c->nnodes; i++)
		if (c->nodes[i].role == SLICE_ROLE_FMD && c->nodes[i].index == index)
			return &c->nodes[i];
	return NULL;
}

const struct slice_cluster_node *slice_cluster_node_by_id(const struct slice_cluster *c, uint32_t node)
{
	for (uint32_t i = 0; i < c->nnodes; i++)
		if (c->nodes[i].node == node)
			return &c->nodes[i];
	return NULL;
}

uint32_t slice_cluster_blockds(const struct slice_cluster *c, const struct slice_cluster_node **out,
			       uint32_t max)
{
	uint32_t n = 0;

	/* by index: the stripe order */
	for (uint32_t idx = 0; idx < SLICE_CLUSTER_MAX_NODES && n < max; idx++)
		for (uint32_t i = 0; i < c->nnodes; i++)
			if (c->nodes[i].role == SLICE_ROLE_BLOCKD && c->nodes[i].index == idx) {
				out[n++] = &c->nodes[i];
				break;
			}
	return n;
}
