/*
 * nrpc_internal.h - what the pieces of NetRPC share.  Not installed.
 *
 *   core.c    create/destroy, the Trapeze upcalls, counters
 *   decode.c  header checks for every message from the wire (fuzzed)
 *   call.c    the client: call records, issue, replies, timeouts, waiting
 *   serve.c   the server: dispatch, reply, forward, pending replies
 *   worker.c  the worker pool (blocking ops, deferred continuations)
 */
#ifndef NRPC_INTERNAL_H
#define NRPC_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "netrpc.h"

#define NRPC_CONT_MAX  4      /* continuations stacked on one call */
#define NRPC_HIST_OPS  256    /* ops with their own latency histogram */
#define NRPC_TICK_NS   1000000ull   /* timer scan period */

/* ACTIVE: in flight.  CLOSING: a reply, timeout, cancel or peer-down has
 * claimed it and is filling in the result.  DONE: a WAIT call's result is
 * ready for nrpc_wait. */
enum { REC_FREE = 0, REC_ACTIVE = 1, REC_CLOSING = 2, REC_DONE = 3 };

struct nrpc_cont { nrpc_cont_fn fn; void *arg; };

struct nrpc_rec {
	uint32_t           gen;
	uint8_t            state;
	uint8_t            mode;
	uint8_t            ncont;
	bool               has_buf;
	uint16_t           op;
	uint16_t           args_len;
	uint32_t           dst;
	uint32_t           retries_left;
	uint32_t           next_free;
	uint32_t           aprev, anext;  /* active list, while ACTIVE */
	uint64_t           token;        /* IPT token of the reply buffer */
	uint64_t           t_start;      /* precise, for sampled calls only; else 0 */
	uint64_t           deadline, tmo_ns;   /* coarse clock */
	struct tpz_payload reply_buf;
	struct nrpc_cont   cont[NRPC_CONT_MAX];
	struct nrpc_result res;
	uint8_t            args[NRPC_INLINE_MAX];   /* kept for a retransmission */
};

/* Replies that found no ring space on the delivery path wait here. */
struct nrpc_pending {
	struct nrpc_pending *next;
	struct tpz_send      s;
	struct tpz_payload   pl;
	uint8_t              data[TPZ_INLINE_MAX];
};

struct nrpc_job {
	struct nrpc_job *next;
	struct nrpc_req *req;        /* a blocking op, or ... */
	struct nrpc_rec  rec;        /* ... a deferred continuation stack (a copy) */
};

struct nrpc_opent {
	nrpc_op_fn fn;
	void      *arg;
	unsigned   flags;
	bool       used;
};

struct nrpc_ctr {
	_Atomic uint64_t calls_issued, calls_completed, calls_failed, calls_timed_out, retries;
	_Atomic uint64_t replies_wait, replies_cont, replies_deferred;
	_Atomic uint64_t bytes_sent, bytes_received, late_replies;
	_Atomic uint64_t requests_served, requests_forwarded, bad_requests;
};
#define NCTR(r, f, n) atomic_fetch_add_explicit(&(r)->ctr.f, (n), memory_order_relaxed)

struct nrpc {
	struct tpz_endpoint *ep;
	struct nrpc_config   cfg;
	struct nrpc_opent   *ops;          /* 65536 entries */
	uint8_t             *idempotent;   /* bitmap over op codes */
	/* call records */
	pthread_mutex_t      lock;
	pthread_cond_t       done_cond;    /* a WAIT call finished */
	struct nrpc_rec     *recs;
	uint32_t             free_head;
	uint32_t             active_head;
	uint32_t             nactive;
	uint32_t            *inflight;     /* per peer node */
	uint64_t             next_tick;
	uint32_t             polls;         /* nrpc_poll calls, for the tick */
	_Atomic uint32_t     sample;        /* calls issued, for latency sampling */
	/* server */
	pthread_mutex_t      pend_lock;
	struct nrpc_pending *pend_head, **pend_tail;
	_Atomic uint32_t     npending;
	/* workers */
	pthread_mutex_t      wlock;
	pthread_cond_t       wcond;
	struct nrpc_job     *jobs, **jobs_tail;
	bool                 stopping;
	pthread_t           *threads;
	uint32_t             nthreads;
	struct nrpc_ctr      ctr;
	_Atomic uint64_t     hist[NRPC_HIST_OPS][NRPC_HIST_BUCKETS];
};

static inline uint64_t nrpc_clock(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}
/* Precise time (about 20 ns a read here): only for sampled latencies. */
static inline uint64_t nrpc_now_ns(void) { return nrpc_clock(CLOCK_MONOTONIC); }
/* Deadlines and the timer tick are milliseconds apart: the coarse clock
 * (a few ns, a few ms of resolution) is plenty and keeps the per-call
 * path cheap. */
static inline uint64_t nrpc_coarse_ns(void) { return nrpc_clock(CLOCK_MONOTONIC_COARSE); }
#define NRPC_SAMPLE 8   /* one call in 8 has its round trip timed */

/* decode.c */
const char *nrpc_decode(const struct tpz_rx *rx, uint32_t max_calls, struct nrpc_hdr *h);
/* call.c */
int  nrpc_calls_init(struct nrpc *r);
void nrpc_calls_fini(struct nrpc *r);
void nrpc_on_reply(struct nrpc *r, struct tpz_rx *rx, const struct nrpc_hdr *h);
void nrpc_peer_down_calls(struct nrpc *r, uint32_t node);
void nrpc_timers(struct nrpc *r, uint64_t now);
void nrpc_run_conts(struct nrpc *r, struct nrpc_rec *rec);
/* serve.c */
void nrpc_on_request(struct nrpc *r, struct tpz_rx *rx, const struct nrpc_hdr *h);
/* Answer a request that cannot be served (unknown op, bad arguments). */
void nrpc_reply_error(struct nrpc *r, uint32_t to, const struct nrpc_hdr *h, int status);
void nrpc_flush_pending(struct nrpc *r);
void nrpc_pending_fini(struct nrpc *r);
void nrpc_run_op(struct nrpc *r, struct nrpc_req *req);
/* worker.c */
int  nrpc_workers_start(struct nrpc *r);
void nrpc_workers_stop(struct nrpc *r);
int  nrpc_job_push(struct nrpc *r, struct nrpc_job *job);
void nrpc_worker_mark(struct nrpc *r);   /* this thread is one of r's workers */

#endif
