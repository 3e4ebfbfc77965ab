/*
 * mapsvc.c - the map service (slice_map_wire.h) on the fabric's NetRPC:
 * Slice clients fetch a file's block map (SLM_GETMAP) to read and write
 * the block servers directly, and report the size and mtime their writes
 * made (SLM_SETATTR).  GETMAP reads the store on a NetRPC worker; SETATTR
 * goes through the commit thread like every other change and is answered
 * after its commit.
 */
#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "data.h"
#include "fabric.h"
#include "nfs_op.h"

static void getmap(struct nrpc_req *req, void *arg)
{
	struct fmd *f = arg;
	struct slm_file a;
	struct inode ino;
	MDB_txn *t;
	const void *mv;
	size_t len;
	int rc;

	if (req->args_len != sizeof(a)) {
		nrpc_reply(req, -EBADMSG, NULL, 0, NULL, 0, NULL, NULL);
		return;
	}
	memcpy(&a, req->args, sizeof(a));
	if ((rc = store_rd(f->st, &t))) {
		nrpc_reply(req, -EIO, NULL, 0, NULL, 0, NULL, NULL);
		return;
	}
	rc = ino_get(f->st, t, a.fileid, &ino);
	if (rc == 0 && ino.type != NF3REG)
		rc = ino.type == NF3DIR ? -EISDIR : -EINVAL;
	if (rc == 0)
		rc = map_get_raw(f->st, t, a.fileid, &mv, &len);
	struct tpz_payload pl = { 0 };
	struct slm_map h = { 0 };
	if (rc == 0 && len < sizeof(h))
		rc = -EIO;
	if (rc == 0)
		memcpy(&h, mv, sizeof(h));
	if (rc == 0 && (rc = tpz_payload_alloc(f->fabric->ep, &pl, len)) == 0) {
		/* the map's bytes into pool frames: they go with the reply */
		const uint8_t *src = mv;
		size_t off = 0;
		for (uint32_t i = 0; i < pl.nseg && off < len; i++) {
			size_t n = len - off < pl.seg[i].len ? len - off : pl.seg[i].len;
			memcpy(pl.seg[i].base, src + off, n);
			off += n;
		}
	}
	store_rd_done(t);
	if (rc) {
		nrpc_reply(req, rc == -ENOENT ? -ENOENT : rc, NULL, 0, NULL, 0, NULL, NULL);
		return;
	}
	struct slm_getmap_res res = {
		.size = ino.size, .mtime_ns = ino.mtime, .version = h.version, .map_len = (uint32_t)len,
	};
	if ((rc = nrpc_reply(req, 0, &res, sizeof(res), &pl, 0, NULL, NULL)) < 0) {
		tpz_payload_free(f->fabric->ep, &pl);
		fmd_log(LOG_WARNING, "map service: GETMAP reply to node %u: %s", req->caller, tpz_strerror(rc));
	}
}

struct setattr_ctx {
	struct nrpc_req   *req;      /* detached: answered after the commit */
	struct slm_setattr a;
	struct slm_attr_res res;
	int                err;
};

static int setattr_mutate(struct fmd_op *op, MDB_txn *t)
{
	struct setattr_ctx *x = op->ctx;
	struct inode ino;
	int rc = ino_get(op->f->st, t, x->a.fileid, &ino);
	if (rc == -ENOENT) {
		x->err = -ENOENT;
		return 0;
	}
	if (rc)
		return rc;
	if (ino.type != NF3REG) {
		x->err = ino.type == NF3DIR ? -EISDIR : -EINVAL;
		return 0;
	}
	if (x->a.flags & SLM_SET_SIZE)
		ino.size = x->a.size;
	else if ((x->a.flags & SLM_SET_EXTEND) && x->a.size > ino.size)
		ino.size = x->a.size;
	uint64_t now = fmd_now();
	if (x->a.flags & SLM_SET_MTIME)
		ino.mtime = x->a.mtime_ns;
	else if (x->a.flags & (SLM_SET_SIZE | SLM_SET_EXTEND))
		ino.mtime = now;
	ino.ctime = now;
	if ((rc = ino_put(op->f->st, t, &ino)))
		return rc;
	x->res = (struct slm_attr_res){ .size = ino.size, .mtime_ns = ino.mtime, .ctime_ns = ino.ctime };
	/* The map's version, so a client reporting a size learns that
	 * another one swapped the object under it (truncation to 0). */
	const void *mv;
	size_t mlen;
	struct slm_map h;
	if (map_get_raw(op->f->st, t, x->a.fileid, &mv, &mlen) == 0 && mlen >= sizeof(h)) {
		memcpy(&h, mv, sizeof(h));
		x->res.version = le64toh(h.version);
	}
	x->err = 0;
	return 0;
}

static void setattr_finish(struct fmd_op *op)
{
	struct setattr_ctx *x = op->ctx;
	int err = op->res.status != NFS3_OK ? -EIO : x->err;   /* a failed commit */
	nrpc_reply(x->req, err, err ? NULL : &x->res, err ? 0 : sizeof(x->res), NULL, 0, NULL, NULL);
	nrpc_req_free(x->req);
	free(x);
	free(op);
}

static void setattr(struct nrpc_req *req, void *arg)
{
	struct fmd *f = arg;
	if (req->args_len != sizeof(struct slm_setattr)) {
		nrpc_reply(req, -EBADMSG, NULL, 0, NULL, 0, NULL, NULL);
		return;
	}
	struct setattr_ctx *x = calloc(1, sizeof(*x));
	struct fmd_op *op = calloc(1, sizeof(*op));
	if (!x || !op) {
		free(x);
		free(op);
		nrpc_reply(req, -ENOMEM, NULL, 0, NULL, 0, NULL, NULL);
		return;
	}
	memcpy(&x->a, req->args, sizeof(x->a));
	x->req = nrpc_req_detach(req);
	op->f = f;
	op->ctx = x;
	op->mutate = setattr_mutate;
	op->lazy = (x->a.flags & SLM_SET_LAZY) != 0;
	op->finish = setattr_finish;
	if (commit_submit(f->cq, op) < 0) {
		nrpc_reply(x->req, -ESHUTDOWN, NULL, 0, NULL, 0, NULL, NULL);
		nrpc_req_free(x->req);
		free(x);
		free(op);
	}
}

int mapsvc_start(struct fmd *f)
{
	int rc = nrpc_register(f->fabric->r, SLM_GETMAP, getmap, f, NRPC_OP_BLOCKING);
	if (rc == 0)
		rc = nrpc_register(f->fabric->r, SLM_SETATTR, setattr, f, NRPC_OP_BLOCKING);
	return rc;
}
