/*
 * vol_map.c - the file manager's map service (slice_map_wire.h) over
 * NetRPC: a file's block map (SLM_GETMAP) and the size and mtime our
 * writes made (SLM_SETATTR).  The manager's node is connected when first
 * used and again after it went down (it restarted): both calls are safe
 * to repeat, so a lost one is sent once more on the new connection.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vol_internal.h"

static bool lost(int rc)
{
	return rc == -ENOTCONN || rc == -ECONNRESET || rc == -EPIPE || rc == -ECONNREFUSED;
}

/* One call to manager m, reconnecting once if the node went down. */
static int call(struct slice_vol *v, uint32_t m, struct nrpc_call_desc *d, struct nrpc_result *res)
{
	if (m >= v->nmgr)
		return -ESTALE;
	d->dst = v->mgr[m].node;
	d->timeout_ms = v->cfg.timeout_ms;
	int rc = 0;
	for (int attempt = 0; attempt < 3; attempt++) {
		if (attempt)
			usleep(50000);   /* let the endpoint see the old connection down */
		if ((rc = vol_connect_node(v, d->dst)) < 0) {
			if (lost(rc) || rc == -ETIMEDOUT)
				continue;
			return -EIO;
		}
		rc = nrpc_call(v->r, d, res);
		if (rc == 0)
			rc = res->status;
		if (!lost(rc))
			break;
	}
	if (lost(rc))
		rc = -EIO;
	return rc;
}

static int decode(const uint8_t *buf, size_t len, struct slice_block_map *m)
{
	struct slm_map h;
	memset(m, 0, sizeof(*m));
	if (len < sizeof(h))
		return -EBADMSG;
	memcpy(&h, buf, sizeof(h));
	if (h.width == 0 || h.width > SLICE_STRIPE_MAX || h.nexc > SLM_MAP_MAX_EXC || len != slm_map_len(h.width, h.nexc))
		return -EBADMSG;
	m->obj = h.obj;
	m->version = h.version;
	m->layout.stripe_unit = h.stripe_unit;
	m->layout.width = h.width;
	const uint8_t *p = buf + sizeof(h);
	memcpy(m->layout.servers, p, 4 * (size_t)h.width);
	p += 4 * (size_t)h.width;
	if (h.nexc) {
		if (!(m->exc = calloc(h.nexc, sizeof(*m->exc))))
			return -ENOMEM;
		for (uint32_t i = 0; i < h.nexc; i++, p += sizeof(struct slm_exc)) {
			struct slm_exc e;
			memcpy(&e, p, sizeof(e));
			m->exc[i].block = e.block;
			m->exc[i].node = e.node;
		}
		m->nexc = h.nexc;
	}
	if (slice_layout_check(&m->layout) < 0) {
		slice_map_clear(m);
		return -EBADMSG;
	}
	return 0;
}

int vol_getmap(struct slice_vol *v, uint32_t manager, uint64_t fileid, struct slice_block_map *map,
	       struct slm_getmap_res *out)
{
	struct slm_file a = { .fileid = fileid };
	struct nrpc_call_desc d = { .op = SLM_GETMAP, .args = &a, .args_len = sizeof(a) };
	struct nrpc_result res;
	memset(&res, 0, sizeof(res));
	int rc = call(v, manager, &d, &res);
	if (rc == 0 && res.res_len < sizeof(*out))
		rc = -EBADMSG;
	uint8_t *buf = NULL;
	if (rc == 0) {
		memcpy(out, res.res, sizeof(*out));
		if (out->map_len != res.payload_len || !(buf = calloc(1, res.payload_len ? res.payload_len : 1)))
			rc = out->map_len != res.payload_len ? -EBADMSG : -ENOMEM;
	}
	if (rc == 0) {
		size_t off = 0;
		for (uint32_t i = 0; i < res.payload.nseg && off < res.payload_len; i++) {
			size_t n = res.payload_len - off < res.payload.seg[i].len ? res.payload_len - off
										 : res.payload.seg[i].len;
			memcpy(buf + off, res.payload.seg[i].base, n);
			off += n;
		}
		rc = off == res.payload_len ? decode(buf, res.payload_len, map) : -EBADMSG;
	}
	if (res.payload.nseg)
		tpz_payload_free(v->ep, &res.payload);
	free(buf);
	/* the file is gone (removed): its handle is stale */
	return rc == -ENOENT ? -ESTALE : rc;
}

int vol_report(struct slice_vol *v, uint32_t manager, uint64_t fileid, uint64_t size, uint64_t mtime_ns,
	       uint32_t flags, struct slm_attr_res *out)
{
	struct slm_setattr a = { .fileid = fileid, .size = size, .mtime_ns = mtime_ns, .flags = flags };
	struct nrpc_call_desc d = { .op = SLM_SETATTR, .args = &a, .args_len = sizeof(a) };
	struct nrpc_result res;
	memset(&res, 0, sizeof(res));
	int rc = call(v, manager, &d, &res);
	if (rc == 0 && res.res_len < sizeof(*out))
		rc = -EBADMSG;
	if (rc == 0)
		memcpy(out, res.res, sizeof(*out));
	return rc == -ENOENT ? -ESTALE : rc;
}
