/*
 * netrpc.h - NetRPC: RPC for block I/O on one Trapeze handler id.
 *
 * A call carries an operation code, up to NRPC_INLINE_MAX bytes of inline
 * arguments and an optional payload (a write's data).  Its reply carries a
 * status, inline results and an optional payload (a read's data), which the
 * Trapeze engine places straight into the buffer the caller named (through
 * an IPT token) - no copy in NetRPC.  Many calls may be in flight; a reply
 * is taken by a blocking wait, by continuations run on the delivery path, or
 * by a deferred continuation run on a worker thread.  A server may delegate
 * a call to another node, which replies directly to the caller.
 *
 * Threads: calls may be issued from any thread.  Replies and fast server
 * operations are handled by whichever thread drives delivery: nrpc_poll /
 * nrpc_progress, or a thread blocked in nrpc_call / nrpc_wait (it drives
 * delivery itself when nobody else does).  Blocking server operations and
 * deferred continuations run on the worker pool.
 *
 * Errors are values: every call returns 0 or -errno; a reply's status is 0
 * or a negative errno: -ETIMEDOUT (no reply in time), -ECONNRESET (the peer
 * went down), -EOPNOTSUPP (no such operation at the server), -EBADMSG
 * (malformed arguments), -ECANCELED (nrpc_cancel), or the server's own.
 */
#ifndef NETRPC_H
#define NETRPC_H

#include <stdbool.h>
#include <stdint.h>

#include "netrpc_wire.h"
#include "trapeze.h"

#ifdef __cplusplus
extern "C" {
#endif

struct nrpc;

struct nrpc_config {
	uint8_t  handler;          /* Trapeze handler id; default NRPC_HANDLER */
	uint32_t max_calls;        /* call records; default 16384 */
	uint32_t credits;          /* calls in flight per peer; default 8192 */
	uint32_t workers;          /* worker threads; default 2 */
	int      timeout_ms;       /* default per-call timeout; default 5000 */
	uint32_t retries;          /* retransmissions of idempotent calls; default 2 */
};
void nrpc_config_default(struct nrpc_config *cfg);

int  nrpc_create(struct tpz_endpoint *ep, const struct nrpc_config *cfg, struct nrpc **out);
/* Fails calls still in flight with -ECANCELED, stops the workers. */
void nrpc_destroy(struct nrpc *r);
struct tpz_endpoint *nrpc_endpoint(struct nrpc *r);

/* ---- client ---------------------------------------------------------------- */

struct nrpc_result {
	int                status;
	uint32_t           res_len;
	uint8_t            res[NRPC_INLINE_MAX];   /* inline results */
	uint32_t           payload_len;            /* reply payload bytes */
	bool               placed;                 /* ... placed in the call's reply_buf */
	struct tpz_payload payload;                /* else: frames, now the caller's */
	uint32_t           replier;                /* node that replied (delegation) */
};

/* A continuation.  On the delivery path it must not block. */
typedef void (*nrpc_cont_fn)(struct nrpc *r, struct nrpc_result *res, void *arg);

enum nrpc_mode {
	NRPC_WAIT     = 0,   /* the caller collects the result with nrpc_wait */
	NRPC_CONT     = 1,   /* continuations run on the delivery path */
	NRPC_DEFERRED = 2,   /* continuations run on a worker thread */
};

struct nrpc_call_desc {
	uint32_t                  dst;
	uint16_t                  op;
	const void               *args;
	uint32_t                  args_len;     /* <= NRPC_INLINE_MAX */
	const struct tpz_payload *payload;      /* request payload (see tpz_send) */
	struct tpz_payload       *reply_buf;    /* reply payload lands here; NULL: in frames */
	int                       timeout_ms;   /* 0: the default; < 0: none */
};

typedef uint64_t nrpc_call_t;   /* a handle: record index and generation */

/* Blocking call: returns 0 with *res filled in (res->status says how the
 * call ended), or -errno if it could not be issued. */
int nrpc_call(struct nrpc *r, const struct nrpc_call_desc *d, struct nrpc_result *res);
/* Non-blocking: issue it and return.  -EAGAIN: out of credit or ring space
 * (poll, then retry); -EMSGSIZE: reply_buf larger than the endpoint's
 * maximum payload.  fn (may be NULL for NRPC_WAIT) is the first
 * continuation. */
int nrpc_call_async(struct nrpc *r, const struct nrpc_call_desc *d, enum nrpc_mode mode,
		    nrpc_cont_fn fn, void *arg, nrpc_call_t *call);
/* Push one more continuation; the stack runs last-pushed first. */
int nrpc_push_cont(struct nrpc *r, nrpc_call_t call, nrpc_cont_fn fn, void *arg);
/* Collect an NRPC_WAIT call (blocks, driving delivery if nobody else does). */
int nrpc_wait(struct nrpc *r, nrpc_call_t call, struct nrpc_result *res);
/* End a call now with -ECANCELED; its reply buffer is untouched afterwards. */
int nrpc_cancel(struct nrpc *r, nrpc_call_t call);
/* Calls to this op may be retransmitted after a timeout. */
int nrpc_set_idempotent(struct nrpc *r, uint16_t op, bool on);

/* Drive delivery: poll once (nrpc_poll) or wait up to timeout_ms for
 * something to happen (nrpc_progress).  Both also expire timed-out calls. */
int nrpc_poll(struct nrpc *r, int max);
int nrpc_progress(struct nrpc *r, int timeout_ms);

/* ---- server ----------------------------------------------------------------- */

struct nrpc_req {
	struct nrpc       *r;
	uint16_t           op;
	uint32_t           src;          /* node the request came from */
	uint32_t           caller;       /* node the reply goes to */
	const void        *args;
	uint32_t           args_len;
	struct tpz_payload payload;      /* request payload frames; the handler may
	                                    take them (then set payload.nseg = 0) */
	uint32_t           payload_len;
	/* private: the reply context */
	uint32_t           call_id, call_gen;
	uint64_t           reply_token;
	uint8_t            flags;
	bool               answered;
	bool               detached;
	uint8_t            args_buf[NRPC_INLINE_MAX];
};

typedef void (*nrpc_op_fn)(struct nrpc_req *req, void *arg);

#define NRPC_OP_FAST       0x0u   /* runs on the delivery path: must not block */
#define NRPC_OP_BLOCKING   0x1u   /* runs on the worker pool */

int nrpc_register(struct nrpc *r, uint16_t op, nrpc_op_fn fn, void *arg, unsigned flags);

/*
 * Answer a request exactly once.  payload goes to the caller's reply buffer;
 * flags TPZ_SEND_LEND lends cache frames (done runs when they are free
 * again).  A handler that returns without answering, detaching or
 * forwarding gets an -EIO reply sent for it: a caller never hangs.
 */
int nrpc_reply(struct nrpc_req *req, int status, const void *res, uint32_t res_len,
	       const struct tpz_payload *payload, uint32_t flags, tpz_done_fn done, void *done_arg);
/* Delegate: send the request on to node, which replies to the caller. */
int nrpc_forward(struct nrpc_req *req, uint32_t node);
/* Keep a request past the handler's return (answer it later).  The copy
 * returned is the caller's: answer it, then free it with nrpc_req_free. */
struct nrpc_req *nrpc_req_detach(struct nrpc_req *req);
/* Free a detached request, and the request payload frames it still holds. */
void nrpc_req_free(struct nrpc_req *req);

/* ---- counters ------------------------------------------------------------- */

#define NRPC_HIST_BUCKETS 24   /* latency buckets: [2^i, 2^(i+1)) microseconds/8 */
struct nrpc_counters {
	uint64_t calls_issued, calls_completed, calls_failed, calls_timed_out, retries;
	uint64_t replies_wait, replies_cont, replies_deferred;
	uint64_t bytes_sent, bytes_received;       /* payload bytes of calls and replies */
	uint64_t late_replies;                     /* for calls already ended */
	uint64_t requests_served, requests_forwarded, bad_requests;
};
void nrpc_counters(struct nrpc *r, struct nrpc_counters *out);
/* Latency histogram of one op (client side): hist[i] counts calls whose
 * round trip took [2^i, 2^(i+1)) units of 125 ns.  One call in 8 is timed
 * (a precise clock read costs about 20 ns), so counts are a sample. */
int nrpc_latency_hist(struct nrpc *r, uint16_t op, uint64_t hist[NRPC_HIST_BUCKETS]);

#ifdef __cplusplus
}
#endif
#endif
