/*
 * perf.h - tpz-perf internals: options, the little benchmark protocol spoken
 * between the two ends, and the functions each file provides.
 *
 * Two handler ids are used on one endpoint: PERF_H_CTL carries struct
 * perf_ctl (start, acks, counter reports), PERF_H_DATA carries the measured
 * traffic, whose bytes are never interpreted except for an 8-byte sequence
 * number in latency pings that are big enough to hold it.
 */
#ifndef TPZ_PERF_H
#define TPZ_PERF_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "perfkit.h"
#include "trapeze.h"

#define PERF_H_CTL   1
#define PERF_H_DATA  2

enum perf_test { TEST_LAT = 1, TEST_BW, TEST_RATE };
/* How a payload reaches the engine: pool frames handed over (zero-copy),
 * or ordinary memory the engine copies once.  INLINE = no payload at all. */
enum perf_path { PATH_INLINE = 1, PATH_ZERO_COPY, PATH_COPY };

struct perf_opts {
	struct pk_opts pk;       /* pk.iters: round trips per batch, or messages per rep */
	enum perf_test test;
	enum perf_path path;
	uint32_t size;
	bool     force_inline, force_copy, force_zero_copy;
	bool     touch;          /* receivers read every payload they get */
};

/* Control messages (inline data of PERF_H_CTL). */
enum perf_op {
	OP_START = 1,   /* c->s: test, path, mode, size */
	OP_READY,       /* s->c */
	OP_MARK,        /* c->s: snapshot counters now (measurement starts) */
	OP_END,         /* c->s: end of a streaming rep */
	OP_ACK,         /* s->c: v[0] payload bytes, v[1] messages seen this rep */
	OP_REPORT,      /* c->s: send counter deltas since MARK */
	OP_STATS,       /* s->c: v[] = struct perf_cnt */
	OP_STOP,        /* c->s: session over */
};

#define PERF_F_TOUCH 1u      /* START v[0]: the server reads each payload */

struct perf_ctl {
	uint8_t  op, test, path, mode;
	uint32_t size;
	uint64_t v[8];
};
_Static_assert(sizeof(struct perf_ctl) <= TPZ_INLINE_MAX, "ctl fits inline");

/* The endpoint counters that explain a result, as deltas. */
struct perf_cnt {
	uint64_t wakeups_sent, wakeups_suppressed, sleeps;
	uint64_t payload_copies, payload_zero_copy, ring_full;
	uint64_t msgs_recv, bytes_recv;
};
_Static_assert(sizeof(struct perf_cnt) <= 8 * sizeof(uint64_t), "cnt fits ctl");

/* What a client run produces. */
struct perf_result {
	double   val[PK_MAX_REPS];     /* per rep: RTT us, GB/s or Mmsg/s */
	int      n;
	struct perf_cnt client, server;
	uint64_t errors;               /* wrong sizes, sequence, drops */
};

/* main.c */
const char *test_name(enum perf_test t);
const char *path_name(enum perf_path p);

/* util.c */
void cnt_snapshot(struct tpz_endpoint *ep, struct perf_cnt *c);
void cnt_delta(struct perf_cnt *d, const struct perf_cnt *now, const struct perf_cnt *then);
int  send_retry(struct tpz_endpoint *ep, const struct tpz_send *s);
int  send_ctl(struct tpz_endpoint *ep, uint32_t dst, const struct perf_ctl *c);
uint64_t payload_touch(const struct tpz_payload *pl, uint32_t len);
int  payload_alloc_retry(struct tpz_endpoint *ep, struct tpz_payload *pl, size_t len);
/* perfkit's pk_ends.open; arg: the struct perf_opts */
int  endpoint_open(void *arg, uint32_t node, const char *fabric, const char *who,
		   struct tpz_endpoint **out);

/* server.c: serve one session (forked) or sessions forever (--listen);
 * perfkit's pk_ends.serve, arg: the struct perf_opts. */
int server_run(void *arg, struct tpz_endpoint *ep, const char *url, int ready_fd, bool forever);

/* The client end's state; upcalls fill it, the measured loops read it. */
struct client {
	struct tpz_endpoint    *ep;
	const struct perf_opts *o;
	bool     peer_down;
	bool     ready, acked, stats;      /* control replies seen */
	struct perf_ctl ack, stat;
	/* latency: the pong of the current round trip */
	bool     got_pong;
	uint64_t pong_seq;
	struct tpz_payload pong_pl;        /* its frames, now ours (zero-copy path) */
	bool     pong_frames;
	uint64_t errors;
	uint64_t touched;                  /* keeps --touch reads from being optimised out */
	struct perf_cnt mark;              /* own counters when MARK was sent */
};

/* client.c */
int client_run(const struct perf_opts *o, struct tpz_endpoint *ep, const char *url,
	       struct perf_result *r);
int client_wait(struct client *c, bool *flag);
int client_send_ctl(struct client *c, uint8_t op);
int client_mark(struct client *c);
void client_unmark(struct client *c, struct perf_result *r);

/* lat.c, stream.c: the measured loops, called by client_run. */
int lat_run(struct client *c, const struct perf_opts *o, struct perf_result *r);
int stream_run(struct client *c, const struct perf_opts *o, struct perf_result *r);

/* report.c */
void report_json(const struct perf_opts *o, const struct perf_result *r);

#endif /* TPZ_PERF_H */
