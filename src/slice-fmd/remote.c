/*
 * remote.c - the other file managers of the volume (slice_fmd_wire.h):
 * calling them, and serving their calls.
 *
 * Calls are NetRPC over the fabric, made from data threads and NetRPC
 * workers only (they wait).  A peer not connected yet is connected on the
 * first call (its --peer-fmd URL).
 *
 *   forwarding   an NFS call that reached the wrong manager goes to the
 *                right one whole; its answer comes back as the encoded
 *                result, which we send to the client as ours
 *   attributes   of files held elsewhere (parents of names made here)
 *   touches      our partial count of a directory held elsewhere, after
 *                every change of it, to the directory's manager; a touch
 *                that could not be delivered is retried by the resolver,
 *                and all of them are sent again at start (they are
 *                idempotent: a version orders them)
 *   listings     the names of a directory that we hold, for its manager's
 *                READDIR
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "data.h"
#include "fabric.h"
#include "nfs_op.h"
#include "remote.h"
#include "slice_route.h"

/* ---- calling a peer ------------------------------------------------------------ */

int peer_call(struct fmd *f, uint32_t idx, uint16_t op, const void *args, uint32_t alen,
	      struct tpz_payload *pl, struct tpz_payload *reply_buf, int timeout_ms, struct nrpc_result *res)
{
	if (idx >= f->cfg.managers || idx == f->cfg.index || !f->fabric)
		return -EINVAL;
	uint32_t node = f->cfg.peers[idx].node;
	struct tpz_endpoint *ep = f->fabric->ep;
	if (!tpz_peer_is_up(ep, node)) {
		int rc = tpz_connect(ep, node, f->cfg.peers[idx].url, 2000);
		if (rc < 0 && rc != -EISCONN && rc != -EALREADY) {
			if (pl)
				tpz_payload_free(ep, pl);
			return rc;
		}
	}
	struct nrpc_call_desc d = { .dst = node, .op = op, .args = args, .args_len = alen,
				    .payload = pl && pl->nseg ? pl : NULL, .reply_buf = reply_buf,
				    .timeout_ms = timeout_ms };
	int rc = nrpc_call(f->fabric->r, &d, res);
	if (rc < 0) {
		if (pl)
			tpz_payload_free(ep, pl);
		return rc;
	}
	return res->status;
}

/* Bytes into pool frames (they go with the message). */
static int to_frames(struct fmd *f, struct tpz_payload *pl, const void *a, size_t alen, const void *b,
		     size_t blen)
{
	int rc = tpz_payload_alloc(f->fabric->ep, pl, alen + blen);
	if (rc < 0)
		return rc;
	size_t off = 0;
	for (uint32_t i = 0; i < pl->nseg; i++) {
		uint8_t *dst = pl->seg[i].base;
		size_t room = pl->seg[i].len;
		while (room > 0 && off < alen + blen) {
			const uint8_t *src = off < alen ? (const uint8_t *)a + off : (const uint8_t *)b + (off - alen);
			size_t n = off < alen ? alen - off : alen + blen - off;
			if (n > room)
				n = room;
			memcpy(dst, src, n);
			dst += n;
			room -= n;
			off += n;
		}
	}
	return 0;
}

/* A reply payload, placed in our buffer or in frames, into buf. */
static size_t from_reply(struct fmd *f, struct nrpc_result *res, uint8_t *buf, size_t cap)
{
	size_t n = res->payload_len < cap ? res->payload_len : cap;
	if (res->placed)
		return n;
	size_t off = 0;
	for (uint32_t i = 0; i < res->payload.nseg && off < n; i++) {
		size_t k = res->payload.seg[i].len < n - off ? res->payload.seg[i].len : n - off;
		memcpy(buf + off, res->payload.seg[i].base, k);
		off += k;
	}
	tpz_payload_free(f->fabric->ep, &res->payload);
	return off;
}

/* ---- attributes on the wire --------------------------------------------------- */

void attr_to_wire(const struct inode *ino, struct fmd_attr *a)
{
	memset(a, 0, sizeof(*a));
	a->type = ino->type;
	a->flags = ino->flags;
	a->mode = ino->mode;
	a->uid = ino->uid;
	a->gid = ino->gid;
	a->gen = ino->gen;
	a->parent = ino->parent;
	a->atime = ino->atime;
	a->mtime = ino->mtime > ino->x_mtime ? ino->mtime : ino->x_mtime;
	a->ctime = ino->ctime > ino->x_ctime ? ino->ctime : ino->x_ctime;
	if (ino->type == NF3DIR) {
		a->size = ino->entries + ino->x_entries;
		a->nlink = ino->nlink + ino->x_subdirs;
	} else {
		a->size = ino->size;
		a->nlink = ino->nlink;
	}
}

void attr_from_wire(uint64_t fileid, const struct fmd_attr *a, struct inode *ino)
{
	memset(ino, 0, sizeof(*ino));
	ino->fileid = fileid;
	ino->type = a->type;
	ino->flags = a->flags;
	ino->mode = a->mode;
	ino->uid = a->uid;
	ino->gid = a->gid;
	ino->gen = a->gen;
	ino->parent = a->parent;
	ino->atime = a->atime;
	ino->mtime = a->mtime;
	ino->ctime = a->ctime;
	ino->nlink = a->nlink;
	if (a->type == NF3DIR)
		ino->entries = a->size;
	else
		ino->size = a->size;
	ino->x_remote = 1;
}

int remote_getattr(struct fmd *f, uint64_t fileid, uint32_t gen, struct inode *out)
{
	struct fmd_file a = { .fileid = fileid, .gen = gen };
	struct nrpc_result res;
	struct fmd_attr at;
	int rc = peer_call(f, slice_fileid_manager(fileid), FMD_GETATTR, &a, sizeof(a), NULL, NULL, 5000, &res);
	if (rc)
		return rc;
	if (res.res_len != sizeof(at))
		return -EBADMSG;
	memcpy(&at, res.res, sizeof(at));
	attr_from_wire(fileid, &at, out);
	return 0;
}

/* ---- touches -------------------------------------------------------------------- */

static pthread_mutex_t retry_mu = PTHREAD_MUTEX_INITIALIZER;
static uint64_t retry_dirs[1024];
static int nretry;

static void retry_later(uint64_t dir)
{
	pthread_mutex_lock(&retry_mu);
	bool have = false;
	for (int i = 0; i < nretry; i++)
		have |= retry_dirs[i] == dir;
	if (!have && nretry < 1024)
		retry_dirs[nretry++] = dir;
	pthread_mutex_unlock(&retry_mu);
}

int remote_touch(struct fmd *f, uint64_t dir)
{
	MDB_txn *t;
	struct partial p;
	int rc = store_rd(f->st, &t);
	if (rc)
		return rc;
	rc = partial_get(f->st, t, dir, &p);
	store_rd_done(t);
	if (rc)
		return rc;
	struct fmd_touch a = { .dir = dir, .entries = p.entries, .subdirs = p.subdirs, .mtime = p.mtime,
			       .ctime = p.ctime, .version = p.version, .origin = f->cfg.index };
	struct nrpc_result res;
	rc = peer_call(f, slice_fileid_manager(dir), FMD_TOUCH, &a, sizeof(a), NULL, NULL, 5000, &res);
	if (rc && rc != -ENOENT) {
		retry_later(dir);
		return rc;
	}
	return 0;
}

/* After a commit that changed names of directories held elsewhere: tell
 * their managers before the client hears of it. */
void remote_after_touch(struct fmd_op *op)
{
	for (int i = 0; i < op->ntouch; i++)
		remote_touch(op->f, op->touch[i]);
	op->ntouch = 0;
	nfs_finish(op);
}

void remote_retry_touches(struct fmd *f)
{
	uint64_t dirs[1024];
	pthread_mutex_lock(&retry_mu);
	int n = nretry;
	memcpy(dirs, retry_dirs, sizeof(dirs[0]) * (size_t)n);
	nretry = 0;
	pthread_mutex_unlock(&retry_mu);
	for (int i = 0; i < n; i++)
		remote_touch(f, dirs[i]);
}

static int touch_all_cb(void *arg, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl)
{
	uint64_t dir = 0;
	if (kl == 8) {
		for (int i = 0; i < 8; i++)
			dir = dir << 8 | k[i];
		retry_later(dir);
	}
	return 0;
}

void remote_touch_all(struct fmd *f)
{
	MDB_txn *t;
	if (store_rd(f->st, &t))
		return;
	store_scan(f->st, t, T_PARTIALS, touch_all_cb, f);
	store_rd_done(t);
}

/* ---- serving: GETATTR, TOUCH, LIST ------------------------------------------------- */

static void srv_getattr(struct nrpc_req *req, void *arg)
{
	struct fmd *f = arg;
	struct fmd_file a;
	struct inode ino;
	MDB_txn *t;
	if (req->args_len != sizeof(a)) {
		nrpc_reply(req, -EBADMSG, NULL, 0, NULL, 0, NULL, NULL);
		return;
	}
	memcpy(&a, req->args, sizeof(a));
	int rc = store_rd(f->st, &t);
	if (rc == 0) {
		rc = ino_get(f->st, t, a.fileid, &ino);
		store_rd_done(t);
	}
	if (rc == 0 && a.gen && a.gen != ino.gen)
		rc = -ENOENT;
	if (rc) {
		nrpc_reply(req, rc == -ENOENT ? -ENOENT : -EIO, NULL, 0, NULL, 0, NULL, NULL);
		return;
	}
	struct fmd_attr at;
	attr_to_wire(&ino, &at);
	nrpc_reply(req, 0, &at, sizeof(at), NULL, 0, NULL, NULL);
}

struct touch_ctx {
	struct fmd_touch a;
	struct fmd_attr  attr;
	int              err;
};

static int touch_mutate(struct fmd_op *op, MDB_txn *t)
{
	struct touch_ctx *x = op->ctx;
	struct inode ino;
	int rc = ino_get(op->f->st, t, x->a.dir, &ino);
	if (rc) {
		x->err = rc == -ENOENT ? -ENOENT : 0;
		return rc == -ENOENT ? 0 : rc;
	}
	struct partial p = { .entries = x->a.entries, .subdirs = x->a.subdirs, .mtime = x->a.mtime,
			     .ctime = x->a.ctime, .version = x->a.version };
	if ((rc = rpartial_put(op->f->st, t, x->a.dir, x->a.origin, &p)) < 0)
		return rc;
	/* the attributes after it, all managers counted */
	memset(&ino, 0, sizeof(ino));
	if ((rc = ino_get(op->f->st, t, x->a.dir, &ino)))
		return rc;
	attr_to_wire(&ino, &x->attr);
	return 0;
}

static void srv_touch(struct nrpc_req *req, void *arg)
{
	struct fmd *f = arg;
	struct touch_ctx x = { 0 };
	if (req->args_len != sizeof(x.a)) {
		nrpc_reply(req, -EBADMSG, NULL, 0, NULL, 0, NULL, NULL);
		return;
	}
	memcpy(&x.a, req->args, sizeof(x.a));
	if (!op_is_ours(f, x.a.dir) || x.a.origin >= f->cfg.managers) {
		nrpc_reply(req, -EINVAL, NULL, 0, NULL, 0, NULL, NULL);
		return;
	}
	struct fmd_op *op = calloc(1, sizeof(*op));
	if (!op) {
		nrpc_reply(req, -ENOMEM, NULL, 0, NULL, 0, NULL, NULL);
		return;
	}
	op->f = f;
	op->ctx = &x;
	int rc = commit_run(f, op, touch_mutate);
	free(op);
	if (rc == 0)
		rc = x.err;
	nrpc_reply(req, rc, rc ? NULL : &x.attr, rc ? 0 : sizeof(x.attr), NULL, 0, NULL, NULL);
}

static void srv_list(struct nrpc_req *req, void *arg)
{
	struct fmd *f = arg;
	struct fmd_list a;
	if (req->args_len != sizeof(a)) {
		nrpc_reply(req, -EBADMSG, NULL, 0, NULL, 0, NULL, NULL);
		return;
	}
	memcpy(&a, req->args, sizeof(a));
	uint32_t max = a.max_bytes;
	if (max > tpz_max_payload(f->fabric->ep))
		max = tpz_max_payload(f->fabric->ep);
	uint8_t *buf = malloc(max ? max : 1);
	MDB_txn *t;
	struct dent_iter it;
	struct fmd_list_res res = { 0 };
	size_t used = 0;
	int rc = buf ? store_rd(f->st, &t) : -ENOMEM;
	if (rc) {
		free(buf);
		nrpc_reply(req, -EIO, NULL, 0, NULL, 0, NULL, NULL);
		return;
	}
	rc = dent_iter_open(f->st, t, a.dir, a.after, &it);
	res.eof = 1;
	while (rc == 0) {
		struct dirent_val d;
		const char *name;
		uint32_t nl;
		int k = dent_iter_next(&it, &d, &name, &nl);
		if (k < 0)
			rc = k;
		if (k <= 0)
			break;
		size_t sz = sizeof(struct fmd_lent) + ((nl + 8) & ~7u);   /* a NUL always follows */
		if (used + sz > max) {
			res.eof = 0;
			break;
		}
		struct fmd_lent e = { .fileid = d.fileid, .pos = d.cookie, .gen = d.gen, .type = d.type,
				      .namelen = (uint8_t)nl, .rsv = d.flags };
		struct inode ino;
		if ((a.flags & FMD_LIST_PLUS) && op_is_ours(f, d.fileid) && ino_get(f->st, t, d.fileid, &ino) == 0) {
			attr_to_wire(&ino, &e.attr);
			e.has_attr = 1;
		}
		memcpy(buf + used, &e, sizeof(e));
		memset(buf + used + sizeof(e), 0, sz - sizeof(e));
		memcpy(buf + used + sizeof(e), name, nl);
		used += sz;
		res.count++;
	}
	if (it.cur)
		dent_iter_close(&it);
	store_rd_done(t);
	struct tpz_payload pl = { 0 };
	if (rc == 0 && used && (rc = to_frames(f, &pl, buf, used, NULL, 0)) < 0)
		pl.nseg = 0;
	free(buf);
	if (rc) {
		nrpc_reply(req, -EIO, NULL, 0, NULL, 0, NULL, NULL);
		return;
	}
	if (nrpc_reply(req, 0, &res, sizeof(res), used ? &pl : NULL, 0, NULL, NULL) < 0 && used)
		tpz_payload_free(f->fabric->ep, &pl);
}

int remote_list(struct fmd *f, uint32_t idx, uint64_t dir, uint64_t after, bool plus, uint8_t *buf,
		uint32_t cap, uint32_t *count, bool *eof, size_t *len)
{
	struct fmd_list a = { .dir = dir, .after = after, .max_bytes = cap, .flags = plus ? FMD_LIST_PLUS : 0 };
	struct tpz_payload rb = { .nseg = 1, .seg = { { buf, cap } } };
	struct nrpc_result res;
	int rc = peer_call(f, idx, FMD_LIST, &a, sizeof(a), NULL, &rb, 5000, &res);
	if (rc)
		return rc;
	struct fmd_list_res lr;
	if (res.res_len != sizeof(lr))
		return -EBADMSG;
	memcpy(&lr, res.res, sizeof(lr));
	*len = res.payload_len ? from_reply(f, &res, buf, cap) : 0;
	*count = lr.count;
	*eof = lr.eof != 0;
	return 0;
}

/* ---- forwarding ----------------------------------------------------------------------- */

static void fwd_fill_hdr(const struct fmd_op *op, struct fmd_fwd *h)
{
	memset(h, 0, sizeof(*h));
	h->proc = op->proc;
	h->xid = op->xid;
	h->flavor = op->ocred.flavor;
	h->uid = op->ocred.uid;
	h->gid = op->ocred.gid;
	h->ngids = op->ocred.ngids;
	memcpy(h->gids, op->ocred.gids, sizeof(uint32_t) * op->ocred.ngids);
	h->family = op->peer.ss_family;
	if (op->peer.ss_family == AF_INET)
		memcpy(h->addr, &((const struct sockaddr_in *)&op->peer)->sin_addr, 4);
	else if (op->peer.ss_family == AF_INET6)
		memcpy(h->addr, &((const struct sockaddr_in6 *)&op->peer)->sin6_addr, 16);
	h->args_len = op->args_len;
}

/* Data thread: send the call to the manager that serves it, pass its
 * answer on. */
void remote_forward_job(struct fmd_op *op)
{
	struct fmd *f = op->f;
	struct fmd_fwd h;
	struct tpz_payload pl;
	struct nrpc_result res;
	uint32_t cap = FMD_RW_MAX + (32u << 10);
	uint8_t *rbuf = malloc(cap);
	int target = op->fwd_target;

	fwd_fill_hdr(op, &h);
	int rc = rbuf ? to_frames(f, &pl, &h, sizeof(h), op->args, op->args_len) : -ENOMEM;
	if (rc == 0) {
		struct tpz_payload rb = { .nseg = 1, .seg = { { rbuf, cap } } };
		rc = peer_call(f, (uint32_t)target, FMD_FORWARD, NULL, 0, &pl, &rb, 20000, &res);
	}
	struct fmd_fwd_res fr;
	if (rc == 0 && res.res_len == sizeof(fr)) {
		memcpy(&fr, res.res, sizeof(fr));
		size_t n = res.payload_len ? from_reply(f, &res, rbuf, cap) : 0;
		if (fr.accept != 0) {
			free(rbuf);
			orpc_reply_error(op->call, (enum orpc_accept_stat)fr.accept);
			nfs_op_free(op);
			return;
		}
		uint8_t *body = orpc_reply_buf(op->call, n);
		if (body && n == fr.body_len) {
			memcpy(body, rbuf, n);
			free(rbuf);
			orpc_reply_send(op->call, n);
			nfs_op_free(op);
			return;
		}
	}
	free(rbuf);
	/* the manager that holds it cannot be reached: ask the client to
	 * try again later */
	fmd_log(LOG_DEBUG, "forwarding %s to manager %d failed: %s", nfs_procs[op->proc].name, target,
		strerror(rc < 0 ? -rc : EIO));
	nfs_fail(op, NFS3ERR_JUKEBOX);
	nfs_finish(op);
}

static void srv_forward(struct nrpc_req *req, void *arg)
{
	struct fmd *f = arg;
	struct fmd_fwd h = { 0 };
	uint32_t len = req->payload_len;
	if (len < sizeof(h)) {
		nrpc_reply(req, -EBADMSG, NULL, 0, NULL, 0, NULL, NULL);
		return;
	}
	uint8_t *rec = malloc(len);
	if (!rec) {
		nrpc_reply(req, -ENOMEM, NULL, 0, NULL, 0, NULL, NULL);
		return;
	}
	size_t off = 0;
	for (uint32_t i = 0; i < req->payload.nseg && off < len; i++) {
		size_t k = req->payload.seg[i].len < len - off ? req->payload.seg[i].len : len - off;
		memcpy(rec + off, req->payload.seg[i].base, k);
		off += k;
	}
	if (off == len)
		memcpy(&h, rec, sizeof(h));
	if (off != len || h.args_len != len - sizeof(h) || h.ngids > FMD_FWD_MAX_GIDS ||
	    h.proc >= ORPC_NFS3_NPROCS) {
		free(rec);
		nrpc_reply(req, -EBADMSG, NULL, 0, NULL, 0, NULL, NULL);
		return;
	}
	struct fmd_op *op = calloc(1, sizeof(*op));
	if (!op) {
		free(rec);
		nrpc_reply(req, -ENOMEM, NULL, 0, NULL, 0, NULL, NULL);
		return;
	}
	op->f = f;
	op->fwd_rec = rec;
	op->args = rec + sizeof(h);
	op->args_len = h.args_len;
	op->proc = h.proc;
	op->xid = h.xid;
	op->ocred.flavor = h.flavor;
	op->ocred.uid = h.uid;
	op->ocred.gid = h.gid;
	op->ocred.ngids = h.ngids;
	memcpy(op->ocred.gids, h.gids, sizeof(uint32_t) * h.ngids);
	op->peer.ss_family = (sa_family_t)h.family;
	if (h.family == AF_INET)
		memcpy(&((struct sockaddr_in *)&op->peer)->sin_addr, h.addr, 4);
	else if (h.family == AF_INET6)
		memcpy(&((struct sockaddr_in6 *)&op->peer)->sin6_addr, h.addr, 16);
	op->fwd = nrpc_req_detach(req);
	nfs_start(op);
}

/* The answer to a forwarded call: the encoded result (or an accept_stat),
 * then the call is gone. */
void remote_forward_reply(struct fmd_op *op, int accept, const uint8_t *body, size_t len)
{
	struct fmd *f = op->f;
	struct fmd_fwd_res fr = { .accept = accept, .body_len = (uint32_t)len };
	struct tpz_payload pl = { 0 };
	if (len && to_frames(f, &pl, body, len, NULL, 0) < 0) {
		fr.accept = ORPC_SYSTEM_ERR;
		fr.body_len = 0;
		len = 0;
	}
	if (nrpc_reply(op->fwd, 0, &fr, sizeof(fr), len ? &pl : NULL, 0, NULL, NULL) < 0 && len)
		tpz_payload_free(f->fabric->ep, &pl);
	nrpc_req_free(op->fwd);
	op->fwd = NULL;
}

int remote_start(struct fmd *f)
{
	struct nrpc *r = f->fabric->r;
	int rc;
	if ((rc = nrpc_register(r, FMD_FORWARD, srv_forward, f, NRPC_OP_FAST)) ||
	    (rc = nrpc_register(r, FMD_GETATTR, srv_getattr, f, NRPC_OP_BLOCKING)) ||
	    (rc = nrpc_register(r, FMD_TOUCH, srv_touch, f, NRPC_OP_BLOCKING)) ||
	    (rc = nrpc_register(r, FMD_LIST, srv_list, f, NRPC_OP_BLOCKING)))
		return rc;
	return xop_register(f);
}
