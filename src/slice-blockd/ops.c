/*
 * ops.c - the NetRPC operations of slice_wire.h.  Every one is registered
 * NRPC_OP_FAST: its handler runs on the delivery path, checks the request
 * completely (so a bad one is answered at once and never reaches the
 * disk), answers a READ whose blocks are all in memory, and detaches
 * everything else to the I/O threads.
 *
 * Errors: wrong argument size -EBADMSG; a bad value (length over
 * SLB_IO_MAX, a write whose length is not its payload's, a range past
 * STORE_MAX_SIZE or wrapping around, unknown flags, a payload where none
 * belongs) -EINVAL; during shutdown -ESHUTDOWN.  Unknown ops get
 * -EOPNOTSUPP from NetRPC itself.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "blockd.h"

_Static_assert(STORE_MAX_SIZE == SLB_BLOCKD_SIZE_MAX, "the store takes what the protocol allows");

struct bjob {
	struct ioq_job   j;
	struct blockd   *bd;
	struct nrpc_req *req;
	blockd_io_fn     run;
};

const char *blockd_op_name(uint16_t op)
{
	switch (op) {
	case SLB_READ:            return "READ";
	case SLB_WRITE:           return "WRITE";
	case SLB_COMMIT:          return "COMMIT";
	case SLB_TRUNCATE:        return "TRUNCATE";
	case SLB_REMOVE:          return "REMOVE";
	case SLB_STAT:            return "STAT";
	case SLB_STATFS:          return "STATFS";
	case SLB_BLOCKD_COUNTERS: return "COUNTERS";
	default:                  return "?";
	}
}

void blockd_fail(struct blockd *bd, struct nrpc_req *req, int status)
{
	BCTR(bd, errors, 1);
	/* The client's mistakes and ordinary answers (-ENOENT) are debug
	 * lines; the server's own failures are warnings (a CRC error also
	 * has the store's line saying which block). */
	bool ours = status != -EBADMSG && status != -EINVAL && status != -ENOENT && status != -ESHUTDOWN;
	uint64_t obj = 0;
	if (req->args_len >= sizeof(obj))
		memcpy(&obj, req->args, sizeof(obj));
	blog(ours ? BLOG_WARN : BLOG_DEBUG, "%s from node %u (object %016llx): %s",
	     blockd_op_name(req->op), req->caller, (unsigned long long)obj, strerror(-status));
	nrpc_reply(req, status, NULL, 0, NULL, 0, NULL, NULL);
}

static void bjob_run(struct ioq_job *j)
{
	struct bjob *b = (struct bjob *)j;

	b->run(b->bd, b->req);
	nrpc_req_free(b->req);   /* and the request frames, if still held */
	free(b);
}

void blockd_defer(struct blockd *bd, struct nrpc_req *req, blockd_io_fn run)
{
	struct bjob *b = malloc(sizeof(*b));
	struct nrpc_req *copy = b ? nrpc_req_detach(req) : NULL;

	if (!copy) {
		free(b);
		blockd_fail(bd, req, -ENOMEM);
		return;
	}
	*b = (struct bjob){ .j.run = bjob_run, .bd = bd, .req = copy, .run = run };
	ioq_push(&bd->ioq, &b->j);
}

/* ---- checks ------------------------------------------------------------------ */

/* Exactly the struct, nothing more or less; a payload only for WRITE. */
static int take_args(struct blockd *bd, const struct nrpc_req *req, void *a, size_t len, bool payload)
{
	if (atomic_load_explicit(&bd->stopping, memory_order_relaxed))
		return -ESHUTDOWN;
	if (req->args_len != len)
		return NRPC_EBADARGS;
	if (len)
		memcpy(a, req->args, len);
	if (!payload && (req->payload_len || req->payload.nseg))
		return -EINVAL;
	return 0;
}

static bool range_ok(uint64_t off, uint64_t len)
{
	return off <= STORE_MAX_SIZE && len <= STORE_MAX_SIZE - off;
}

static int check_rw(struct blockd *bd, const struct nrpc_req *req, struct slb_rw *a, bool write)
{
	int rc = take_args(bd, req, a, sizeof(*a), write);

	if (rc)
		return rc;
	if ((a->flags & ~SLB_STABLE) || a->len > SLB_IO_MAX || a->len > tpz_max_payload(bd->ep) ||
	    !range_ok(a->off, a->len))
		return -EINVAL;
	if (write && a->len != req->payload_len)
		return -EINVAL;   /* also a payload the engine dropped: payload_len 0 */
	return 0;
}

/* ---- handlers (delivery path) ------------------------------------------------- */

static void op_read(struct nrpc_req *req, void *arg)
{
	struct blockd *bd = arg;
	struct slb_rw a;
	int rc = check_rw(bd, req, &a, false);

	if (rc)
		blockd_fail(bd, req, rc);
	else if (!read_fast(bd, req, &a))
		blockd_defer(bd, req, read_io);
}

static void op_write(struct nrpc_req *req, void *arg)
{
	struct blockd *bd = arg;
	struct slb_rw a;
	int rc = check_rw(bd, req, &a, true);

	if (rc)
		blockd_fail(bd, req, rc);   /* NetRPC frees the payload frames */
	else
		blockd_defer(bd, req, write_io);
}

static void op_obj(struct nrpc_req *req, struct blockd *bd, blockd_io_fn run)
{
	struct slb_obj a;
	int rc = take_args(bd, req, &a, sizeof(a), false);

	if (rc)
		blockd_fail(bd, req, rc);
	else
		blockd_defer(bd, req, run);
}

static void op_commit(struct nrpc_req *req, void *arg) { op_obj(req, arg, commit_io); }
static void op_remove(struct nrpc_req *req, void *arg) { op_obj(req, arg, remove_io); }
static void op_stat(struct nrpc_req *req, void *arg)   { op_obj(req, arg, stat_io); }

static void op_truncate(struct nrpc_req *req, void *arg)
{
	struct blockd *bd = arg;
	struct slb_trunc a;
	int rc = take_args(bd, req, &a, sizeof(a), false);

	if (rc == 0 && !range_ok(a.size, 0))
		rc = -EINVAL;
	if (rc)
		blockd_fail(bd, req, rc);
	else
		blockd_defer(bd, req, truncate_io);
}

static void op_statfs(struct nrpc_req *req, void *arg)
{
	struct blockd *bd = arg;
	int rc = take_args(bd, req, NULL, 0, false);

	if (rc)
		blockd_fail(bd, req, rc);
	else
		blockd_defer(bd, req, statfs_io);
}

void blockd_counters(struct blockd *bd, struct slb_blockd_counters *out)
{
	struct store_counters sc;

	store_counters(bd->st, &sc);
#define L(f) atomic_load_explicit(&bd->ctr.f, memory_order_relaxed)
	*out = (struct slb_blockd_counters){
		.reads = L(reads), .writes = L(writes), .bytes_read = L(bytes_read),
		.bytes_written = L(bytes_written), .cache_hits = L(cache_hits),
		.cache_misses = L(cache_misses), .crc_errors = sc.crc_errors, .errors = L(errors),
	};
#undef L
}

/* Counters are memory only: answered right here, even while stopping. */
static void op_counters(struct nrpc_req *req, void *arg)
{
	struct blockd *bd = arg;
	struct slb_blockd_counters c;

	if (req->args_len != 0 || req->payload_len) {
		blockd_fail(bd, req, req->args_len ? NRPC_EBADARGS : -EINVAL);
		return;
	}
	blockd_counters(bd, &c);
	nrpc_reply(req, 0, &c, sizeof(c), NULL, 0, NULL, NULL);
}

int blockd_register(struct blockd *bd)
{
	static const struct { uint16_t op; nrpc_op_fn fn; } ops[] = {
		{ SLB_READ, op_read },         { SLB_WRITE, op_write },   { SLB_COMMIT, op_commit },
		{ SLB_TRUNCATE, op_truncate }, { SLB_REMOVE, op_remove }, { SLB_STAT, op_stat },
		{ SLB_STATFS, op_statfs },     { SLB_BLOCKD_COUNTERS, op_counters },
	};

	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		int rc = nrpc_register(bd->r, ops[i].op, ops[i].fn, bd, NRPC_OP_FAST);
		if (rc < 0)
			return rc;
	}
	return 0;
}
