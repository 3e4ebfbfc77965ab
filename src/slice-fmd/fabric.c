/*
 * fabric.c - the file manager as a Trapeze node: an endpoint (shm fabric
 * and/or tcp, authenticated with the cluster secret), a NetRPC instance on
 * it that serves the map service (mapsvc.c) and carries the data path's
 * calls to the block servers (data.c).  Without --node the file manager
 * stays off the fabric: the name space works, file data does not.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "fabric.h"

static void tpz_log(void *arg, int level, const char *msg)
{
	fmd_log(level <= TPZ_LOG_WARN ? LOG_WARNING : LOG_DEBUG, "trapeze: %s", msg);
}

/* The secret file's first line (as slice-obj and the daemons read it). */
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

/* Someone must drive delivery for the map service's requests and the
 * handshakes of peers that connect; calls the data path makes are
 * completed here too (their waits find delivery driven). */
static void *delivery(void *arg)
{
	struct fmd_fabric *fb = arg;
	while (!atomic_load(&fb->stop))
		nrpc_progress(fb->r, 100);
	return NULL;
}

int fabric_open(struct fmd *f, struct fmd_fabric **out)
{
	const struct fmd_config *c = &f->cfg;
	struct fmd_fabric *fb = calloc(1, sizeof(*fb));
	struct tpz_config tc;
	struct nrpc_config nc;
	int rc;

	if (!fb)
		return -ENOMEM;
	tpz_config_default(&tc);
	tc.node = c->node;
	tc.fabric = c->fabric;
	tc.log = tpz_log;
	if (c->secret_file) {
		if ((rc = read_secret(c->secret_file, fb->secret, sizeof(fb->secret))) < 0) {
			fmd_log(LOG_ERR, "cannot read a secret from %s", c->secret_file);
			goto fail;
		}
		tc.secret = fb->secret;
	}
	if ((rc = tpz_endpoint_create(&tc, &fb->ep)) < 0) {
		fmd_log(LOG_ERR, "Trapeze endpoint (node %u): %s", c->node, tpz_strerror(rc));
		goto fail;
	}
	if (c->fabric && (rc = tpz_listen(fb->ep, "shm")) < 0) {
		fmd_log(LOG_ERR, "listen on fabric %s: %s", c->fabric, tpz_strerror(rc));
		goto fail;
	}
	if (c->tpz_listen && (rc = tpz_listen(fb->ep, c->tpz_listen)) < 0) {
		fmd_log(LOG_ERR, "listen on %s: %s", c->tpz_listen, tpz_strerror(rc));
		goto fail;
	}
	nrpc_config_default(&nc);
	/* the other managers' calls wait for commits on these workers */
	nc.workers = c->managers > 1 ? 8 : 2;
	if ((rc = nrpc_create(fb->ep, &nc, &fb->r)) < 0) {
		fmd_log(LOG_ERR, "NetRPC: %s", tpz_strerror(rc));
		goto fail;
	}
	if ((rc = pthread_create(&fb->thread, NULL, delivery, fb))) {
		nrpc_destroy(fb->r);
		rc = -rc;
		goto fail;
	}
	*out = fb;
	return 0;
fail:
	if (fb->ep)
		tpz_endpoint_destroy(fb->ep);
	free(fb);
	return rc;
}

void fabric_close(struct fmd_fabric *fb)
{
	if (!fb)
		return;
	atomic_store(&fb->stop, true);
	pthread_join(fb->thread, NULL);
	nrpc_destroy(fb->r);
	tpz_endpoint_destroy(fb->ep);
	free(fb);
}

int fabric_connect(struct fmd *f, uint32_t node)
{
	for (uint32_t i = 0; i < f->cfg.nblockd; i++)
		if (f->cfg.blockd[i].node == node)
			return tpz_connect(f->fabric->ep, node, f->cfg.blockd[i].url, 2000);
	return -ENOENT;
}
