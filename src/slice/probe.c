/*
 * probe.c - is a node really serving?  A block server answers a NetRPC
 * STATFS (slice_statfs) and its counters (SLB_BLOCKD_COUNTERS); a manager
 * or proxy answers MOUNT and an NFSv3 FSSTAT.  Every probe is bounded by
 * a timeout, so a hung node shows as down instead of hanging `status`.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include <nfsc/libnfs.h>

#include "sc.h"
#include "slice.h"
#include "slice_blockd.h"

#define PROBE_TIMEOUT_MS 2000

struct sc_probe {
	struct tpz_endpoint *ep;
	struct nrpc *r;
	struct slice_client *sc;
	bool fabric;                 /* joined the cluster's shm fabric */
	char secret[256];
	char err[512];               /* why there is no endpoint */
	char last_log[256];          /* Trapeze's last warning: the reason of a failed connect */
};

static void logcb(void *arg, int level, const char *msg)
{
	struct sc_probe *p = arg;
	if (level <= TPZ_LOG_WARN)
		snprintf(p->last_log, sizeof(p->last_log), "%s", msg);
}

static bool fabric_exists(const char *name)
{
	char path[128];
	snprintf(path, sizeof(path), "/dev/shm/tpz-%s", name);
	return access(path, F_OK) == 0;
}

struct sc_probe *sc_probe_open(const struct slice_cluster *c, char *err, size_t errlen)
{
	struct sc_probe *p = calloc(1, sizeof(*p));
	struct tpz_config cfg;
	bool want_shm = false;
	int rc = -EINVAL;

	if (!p)
		return NULL;
	for (uint32_t i = 0; i < c->nnodes; i++)
		want_shm |= c->nodes[i].role == SLICE_ROLE_BLOCKD && !strcmp(c->nodes[i].tpz, "shm");
	/* Joining a fabric that does not exist would create it: when no block
	 * server runs, shm servers are simply reported down. */
	p->fabric = want_shm && fabric_exists(c->name);
	if (c->secret_file[0] && !sc_read_line(c->secret_file, p->secret, sizeof(p->secret)))
		p->secret[0] = 0;
	/* A free client id: shm refuses one in use; over tcp, a random one
	 * makes two probes at once unlikely to collide. */
	uint32_t span = c->client_hi - c->client_lo + 1, start = 0;
	getrandom(&start, sizeof(start), 0);
	for (uint32_t k = 0; k < span && rc < 0; k++) {
		tpz_config_default(&cfg);
		cfg.node = c->client_lo + (start + k) % span;
		cfg.fabric = p->fabric ? c->name : NULL;
		cfg.fabric_nodes = SLICE_CLUSTER_NODE_IDS;
		cfg.secret = p->secret[0] ? p->secret : NULL;
		cfg.pool_frames = 64;
		cfg.log = logcb;
		cfg.log_arg = p;
		rc = tpz_endpoint_create(&cfg, &p->ep);
	}
	if (rc < 0) {
		snprintf(p->err, sizeof(p->err), "no Trapeze endpoint for probing: %s%s%s", tpz_strerror(rc),
			 p->last_log[0] ? ": " : "", p->last_log);
		snprintf(err, errlen, "%s", p->err);
		p->ep = NULL;
		return p;
	}
	struct nrpc_config ncfg;
	nrpc_config_default(&ncfg);
	ncfg.workers = 1;
	struct slice_client_config ccfg;
	slice_client_config_default(&ccfg);
	ccfg.timeout_ms = PROBE_TIMEOUT_MS;
	ccfg.retries = 0;
	if ((rc = nrpc_create(p->ep, &ncfg, &p->r)) < 0 || (rc = slice_client_create(p->r, &ccfg, &p->sc)) < 0) {
		snprintf(p->err, sizeof(p->err), "NetRPC: %s", tpz_strerror(rc));
		snprintf(err, errlen, "%s", p->err);
	}
	return p;
}

void sc_probe_close(struct sc_probe *p)
{
	if (!p)
		return;
	if (p->sc)
		slice_client_destroy(p->sc);
	if (p->r)
		nrpc_destroy(p->r);
	if (p->ep)
		tpz_endpoint_destroy(p->ep);
	free(p);
}

int sc_probe_blockd(struct sc_probe *p, const struct slice_cluster_node *n, struct slb_statfs_res *fs,
		    struct slb_blockd_counters *ctr, bool *have_ctr, char *err, size_t errlen)
{
	*have_ctr = false;
	if (!p->sc) {
		snprintf(err, errlen, "%s", p->err);
		return -EIO;
	}
	if (!strcmp(n->tpz, "shm") && !p->fabric) {
		snprintf(err, errlen, "no shm fabric (nothing of the cluster runs on this host)");
		return -ENOTCONN;
	}
	if (strcmp(n->tpz, "shm") && !p->secret[0]) {
		snprintf(err, errlen, "no secret to reach tcp nodes (cluster secret_file)");
		return -EACCES;
	}
	p->last_log[0] = 0;
	int rc = tpz_connect(p->ep, n->node, n->tpz, PROBE_TIMEOUT_MS);
	if (rc < 0 && rc != -EISCONN && rc != -EALREADY) {
		snprintf(err, errlen, "connect %s: %s", n->tpz, p->last_log[0] ? p->last_log : tpz_strerror(rc));
		return rc;
	}
	if ((rc = slice_statfs(p->sc, n->node, fs)) < 0) {
		snprintf(err, errlen, "statfs: %s", tpz_strerror(rc));
		tpz_disconnect(p->ep, n->node);
		return rc;
	}
	struct nrpc_call_desc d = { .dst = n->node, .op = SLB_BLOCKD_COUNTERS, .timeout_ms = PROBE_TIMEOUT_MS };
	struct nrpc_result res;
	if (nrpc_call(p->r, &d, &res) == 0 && res.status == 0 && res.res_len >= sizeof(*ctr)) {
		memcpy(ctr, res.res, sizeof(*ctr));
		*have_ctr = true;
	}
	if (res.payload_len && !res.placed)
		tpz_payload_free(p->ep, &res.payload);
	return 0;
}

int sc_probe_nfs(const struct slice_cluster *c, const char *addr, struct sc_nfs_fs *out, char *err,
		 size_t errlen)
{
	const char *colon = strrchr(addr, ':');
	char url[512];
	int rc = -EIO;

	if (!colon) {
		snprintf(err, errlen, "bad address %s", addr);
		return -EINVAL;
	}
	struct nfs_context *nfs = nfs_init_context();
	if (!nfs) {
		snprintf(err, errlen, "libnfs: no context");
		return -ENOMEM;
	}
	nfs_set_timeout(nfs, PROBE_TIMEOUT_MS);
	snprintf(url, sizeof(url), "nfs://%.*s%s?nfsport=%s&mountport=%s&version=3", (int)(colon - addr), addr,
		 c->export_path, colon + 1, colon + 1);
	struct nfs_url *u = nfs_parse_url_dir(nfs, url);
	if (!u) {
		snprintf(err, errlen, "%s: %s", url, nfs_get_error(nfs));
		goto out;
	}
	if (nfs_mount(nfs, u->server, u->path) != 0) {
		snprintf(err, errlen, "MOUNT %s: %s", addr, nfs_get_error(nfs));
		goto out_url;
	}
	struct nfs_statvfs_64 sv;
	if (nfs_statvfs64(nfs, "/", &sv) != 0) {
		snprintf(err, errlen, "FSSTAT: %s", nfs_get_error(nfs));
		goto out_url;
	}
	out->total = sv.f_blocks * sv.f_frsize;
	out->free = sv.f_bavail * sv.f_frsize;
	out->files = sv.f_files;
	out->ffree = sv.f_ffree;
	rc = 0;
out_url:
	nfs_destroy_url(u);
out:
	nfs_destroy_context(nfs);
	return rc;
}
