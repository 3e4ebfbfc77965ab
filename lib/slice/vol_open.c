/*
 * vol_open.c - opening a volume: the cluster file, our node on the
 * Trapeze fabric (the first free id of the cluster's client range), NetRPC
 * with a thread that drives delivery (replies, peers going down), the data
 * path's client, and the root handle (MOUNT on manager 0).  Managers and
 * block servers are connected when first used.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "vol_internal.h"

void slice_vol_config_default(struct slice_vol_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->timeout_ms = 5000;
	cfg->conns = 4;
}

static int read_secret(const char *path, char *buf, size_t cap)
{
	FILE *fp = fopen(path, "r");
	if (!fp)
		return -errno;
	size_t n = fread(buf, 1, cap - 1, fp);
	fclose(fp);
	while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		n--;
	buf[n] = 0;
	return n ? 0 : -EINVAL;
}

static void *delivery(void *arg)
{
	struct slice_vol *v = arg;
	while (!atomic_load(&v->stop))
		nrpc_progress(v->r, 50);
	return NULL;
}

int vol_connect_node(struct slice_vol *v, uint32_t node)
{
	const struct slice_cluster_node *n = slice_cluster_node_by_id(v->cl, node);
	if (!n || n->role == SLICE_ROLE_PROXY)
		return -ENOENT;
	pthread_mutex_lock(&v->connect_lock);
	int rc = tpz_peer_is_up(v->ep, node) ? 0 : tpz_connect(v->ep, node, n->tpz[0] ? n->tpz : "shm",
							       v->cfg.timeout_ms < 2000 ? v->cfg.timeout_ms : 2000);
	pthread_mutex_unlock(&v->connect_lock);
	return rc == -EISCONN ? 0 : rc;
}

static int connect_cb(void *arg, uint32_t node)
{
	return vol_connect_node(arg, node);
}

/* Our node id: the configured one, or the first of the client range that
 * no live process holds (the fabric says -EADDRINUSE for those). */
static int join(struct slice_vol *v)
{
	struct tpz_config tc;
	tpz_config_default(&tc);
	bool shm = false;
	for (uint32_t i = 0; i < v->cl->nnodes; i++)
		if (!v->cl->nodes[i].tpz[0] || strcmp(v->cl->nodes[i].tpz, "shm") == 0)
			shm = true;
	tc.fabric = shm ? v->cl->name : NULL;
	/* if we make the fabric: room for every node id of the cluster */
	tc.fabric_nodes = SLICE_CLUSTER_NODE_IDS;
	if (v->cfg.node >= tc.fabric_nodes)
		tc.fabric_nodes = v->cfg.node + 1 <= TPZ_MAX_NODES ? v->cfg.node + 1 : TPZ_MAX_NODES;
	if (v->cl->secret_file[0]) {
		int rc = read_secret(v->cl->secret_file, v->secret, sizeof(v->secret));
		if (rc < 0)
			return rc;
		tc.secret = v->secret;
	}
	uint32_t lo = v->cfg.node ? v->cfg.node : v->cl->client_lo;
	uint32_t hi = v->cfg.node ? v->cfg.node : v->cl->client_hi;
	int rc = -EADDRINUSE;
	for (uint32_t id = lo; id <= hi && id < TPZ_MAX_NODES; id++) {
		tc.node = id;
		rc = tpz_endpoint_create(&tc, &v->ep);
		if (rc != -EADDRINUSE)
			break;
	}
	return rc;
}

int slice_vol_open(const struct slice_vol_config *cfg, struct slice_vol **out)
{
	if (!cfg || !cfg->cluster_file || !out)
		return -EINVAL;
	struct slice_vol *v = calloc(1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	v->cfg = *cfg;
	if (v->cfg.timeout_ms <= 0)
		v->cfg.timeout_ms = 5000;
	pthread_mutex_init(&v->connect_lock, NULL);
	pthread_mutex_init(&v->root_lock, NULL);
	pthread_mutex_init(&v->files_lock, NULL);
	uint64_t verf = 0;
	if (getrandom(&verf, sizeof(verf), 0) != sizeof(verf))
		verf = (uint64_t)vol_now_ns();
	atomic_store(&v->verifier, verf);
	/* libnfs writes to sockets a manager may have closed */
	struct sigaction sa;
	if (sigaction(SIGPIPE, NULL, &sa) == 0 && sa.sa_handler == SIG_DFL)
		signal(SIGPIPE, SIG_IGN);

	int rc = -ENOMEM;
	if (!(v->cl = calloc(1, sizeof(*v->cl))))
		goto fail;
	if ((rc = slice_cluster_load(cfg->cluster_file, v->cl, NULL, 0)) < 0)
		goto fail;
	if ((rc = vol_nfs_init(v)) < 0)
		goto fail;
	if ((rc = join(v)) < 0)
		goto fail;
	struct nrpc_config nc;
	nrpc_config_default(&nc);
	nc.workers = 1;
	nc.timeout_ms = v->cfg.timeout_ms;
	if ((rc = nrpc_create(v->ep, &nc, &v->r)) < 0)
		goto fail;
	struct slice_client_config cc;
	slice_client_config_default(&cc);
	if (cfg->readahead)
		cc.readahead = cfg->readahead;
	if (cfg->dirty_max)
		cc.dirty_max = cfg->dirty_max;
	cc.timeout_ms = v->cfg.timeout_ms < cc.timeout_ms ? v->cfg.timeout_ms : cc.timeout_ms;
	cc.connect = connect_cb;
	cc.connect_arg = v;
	if ((rc = slice_client_create(v->r, &cc, &v->sc)) < 0)
		goto fail;
	if ((rc = -pthread_create(&v->thread, NULL, delivery, v)) < 0) {
		slice_client_destroy(v->sc);
		v->sc = NULL;
		goto fail;
	}
	/* fail early (and cache the root) if the volume is not there */
	struct slice_vfh root;
	if ((rc = slice_vol_root(v, &root, NULL)) < 0) {
		slice_vol_close(v);
		return rc;
	}
	*out = v;
	return 0;
fail:
	if (v->r)
		nrpc_destroy(v->r);
	if (v->ep)
		tpz_endpoint_destroy(v->ep);
	vol_nfs_fini(v);
	free(v->cl);
	free(v);
	return rc;
}

void slice_vol_close(struct slice_vol *v)
{
	if (!v)
		return;
	vol_files_close_all(v);
	atomic_store(&v->stop, true);
	pthread_join(v->thread, NULL);
	slice_client_destroy(v->sc);
	nrpc_destroy(v->r);
	tpz_endpoint_destroy(v->ep);
	vol_nfs_fini(v);
	pthread_mutex_destroy(&v->connect_lock);
	pthread_mutex_destroy(&v->root_lock);
	pthread_mutex_destroy(&v->files_lock);
	free(v->cl);
	free(v);
}

const struct slice_cluster *slice_vol_cluster(const struct slice_vol *v)
{
	return v->cl;
}

uint32_t slice_vol_node(const struct slice_vol *v)
{
	return tpz_node(v->ep);
}

uint64_t slice_vol_write_verifier(const struct slice_vol *v)
{
	return atomic_load(&((struct slice_vol *)v)->verifier);
}

static void cp_mnt(struct vol_call *c, void *res)
{
	mountres3 *m = res;
	struct slice_vfh *fh = c->out;
	if (m->fhs_status == MNT3_OK) {
		fh->len = m->mountres3_u.mountinfo.fhandle.fhandle3_len;
		if (fh->len > SLICE_VOL_FH_MAX)
			fh->len = SLICE_VOL_FH_MAX;
		memcpy(fh->b, m->mountres3_u.mountinfo.fhandle.fhandle3_val, fh->len);
	}
}

int slice_vol_root(struct slice_vol *v, struct slice_vfh *fh, struct slice_attr *attr)
{
	pthread_mutex_lock(&v->root_lock);
	int rc = 0;
	if (!v->have_root) {
		struct slice_vfh r = { 0 };
		struct vol_call c = { .mount = true, .args = v->cl->export_path, .copy = cp_mnt, .out = &r };
		rc = vol_nfs_call(v, 0, NULL, &c);
		if (rc == 0 && c.status != MNT3_OK)
			rc = c.status == MNT3ERR_NOENT ? -ENOENT : c.status == MNT3ERR_ACCES ? -EACCES : -EIO;
		if (rc == 0) {
			v->root = r;
			v->have_root = true;
		}
	}
	if (rc == 0)
		*fh = v->root;
	pthread_mutex_unlock(&v->root_lock);
	if (rc == 0 && attr)
		rc = slice_vol_getattr(v, NULL, fh, attr);
	return rc;
}
