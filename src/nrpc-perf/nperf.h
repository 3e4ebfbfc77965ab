/*
 * nperf.h - nrpc-perf internals: options, the operations the two ends
 * speak over NetRPC, and the functions each file provides.
 *
 * Everything, control included, travels as NetRPC calls on one Trapeze
 * handler (NRPC_HANDLER).  The measured ops are NULL, READ and WRITE; the
 * control ops (START, STATS, STOP) have codes of their own and are never
 * issued while a rep is being timed.  One more Trapeze handler id
 * (NP_H_WATCH) is registered only for its peer_up/peer_down upcalls.
 */
#ifndef NRPC_PERF_H
#define NRPC_PERF_H

#include <stdbool.h>
#include <stdint.h>

#include "netrpc.h"
#include "perfkit.h"

#define NP_H_WATCH        1       /* Trapeze handler: peer up/down only */
#define NP_MAX_INFLIGHT   4096
#define NP_CACHE_BLOCKS   4       /* the server's cache: this many --size blocks */

/* Operation codes. */
enum {
	NP_OP_NULL  = 1,          /* no args, no payload; reply status 0 */
	NP_OP_READ  = 2,          /* args: struct np_rw; reply: --size bytes of cache */
	NP_OP_WRITE = 3,          /* args: struct np_rw; request payload: --size bytes */
	NP_OP_START = 0x100,      /* args: struct np_start; the server sets up the session */
	NP_OP_STATS = 0x101,      /* reply results: struct np_srv_stats (since START) */
	NP_OP_STOP  = 0x102,      /* session over */
};

enum np_test { TEST_NULL = 1, TEST_READ, TEST_WRITE };

/* READ / WRITE arguments: a byte range of the server's cache. */
struct np_rw {
	uint64_t offset;
	uint32_t length;
	uint32_t reserved;
};

struct np_start {
	uint32_t test, size, inflight, mode;
};

/* The server's counters since START, sent back as STATS results. */
struct np_srv_stats {
	uint64_t requests;            /* NULL/READ/WRITE served */
	uint64_t errors;              /* bad arguments, wrong write data, failed replies */
	uint64_t lends;               /* READ replies lent from the cache */
	uint64_t lends_failed;        /* ... whose done callback reported an error */
	uint64_t payload_copies, payload_zero_copy;   /* Trapeze, this end */
	uint64_t sleeps, wakeups_sent;
};
_Static_assert(sizeof(struct np_srv_stats) <= NRPC_INLINE_MAX, "stats fit inline");

struct np_opts {
	struct pk_opts pk;       /* pk.iters: calls per rep */
	enum np_test test;
	uint32_t size;
	uint32_t inflight;
	uint32_t max_calls;      /* NetRPC call records (0: NetRPC's default) */
	int      call_timeout_ms;   /* NetRPC per-call timeout (0: NetRPC's default) */
};

/* The client end's counters over the timed reps. */
struct np_cli_cnt {
	uint64_t calls_issued, calls_completed, calls_failed, calls_timed_out, retries;
	uint64_t late_replies;
	uint64_t payload_copies, payload_zero_copy, ipt_hits, ipt_misses;
	uint64_t sleeps, wakeups_sent, ring_full;
};

struct np_result {
	double   rtt_us[PK_MAX_REPS];       /* per rep: mean round trip, us */
	double   gbps[PK_MAX_REPS];         /* per rep: payload GB/s (1e9 B/s) */
	double   mcps[PK_MAX_REPS];         /* per rep: million calls/s */
	int      n;
	uint64_t calls;                     /* calls completed in the timed reps */
	struct np_cli_cnt client;           /* deltas over the timed reps */
	struct np_srv_stats server;         /* the server's whole session */
	bool     have_server;
	uint64_t errors;
	uint64_t timed_out;                 /* calls that ended with -ETIMEDOUT (all run) */
	uint32_t pool_frames;
	uint32_t max_calls;
};

/* main.c */
const char *test_name(enum np_test t);

/* util.c */
/* The cache's contents: one byte per offset, cheap to recompute anywhere. */
static inline uint8_t np_pattern(uint64_t off)
{
	return (uint8_t)((off * 0x9E3779B97F4A7C15ull) >> 56);
}
uint32_t np_pool_frames(const struct np_opts *o);
uint32_t np_ring_slots(const struct np_opts *o);
/* perfkit's pk_ends.open; arg: the struct np_opts */
int  endpoint_open(void *arg, uint32_t node, const char *fabric, const char *who,
		   struct tpz_endpoint **out);
int  np_nrpc_open(const struct np_opts *o, struct tpz_endpoint *ep, const char *who,
		  struct nrpc **out);
uint8_t *np_byte_at(const struct tpz_payload *pl, uint32_t off);
/* Drive delivery once in the end's mode. */
int  np_drive(const struct np_opts *o, struct nrpc *r);

/* server.c: serve one session (forked) or sessions forever (--listen);
 * perfkit's pk_ends.serve, arg: the struct np_opts. */
int server_run(void *arg, struct tpz_endpoint *ep, const char *url, int ready_fd, bool forever);

/* client.c */
int client_run(const struct np_opts *o, struct tpz_endpoint *ep, const char *url,
	       struct np_result *res);

/* report.c */
void report_json(const struct np_opts *o, const struct np_result *r);

#endif /* NRPC_PERF_H */
