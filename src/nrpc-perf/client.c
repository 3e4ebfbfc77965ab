/*
 * client.c - the calling end (node 1 by default): connects, starts a session
 * on the server, keeps --inflight calls in flight, times the reps and
 * collects the counters.
 *
 * Each of the K slots has at most one call in flight.  A call is issued with
 * nrpc_call_async(NRPC_CONT); its continuation, run on the delivery path
 * inside nrpc_poll / nrpc_progress, checks the result, counts it and issues
 * the slot's next call at once, so the pipeline never drains between reps:
 * a rep is simply the next --iters completions.  A call refused for lack of
 * credit, ring space or frames (-EAGAIN, -ENOBUFS, -ENOMEM) waits on a retry
 * list that the main loop works off after each poll.
 *
 * A READ names the slot's reply buffer - pool frames, the caller's "pages" -
 * so the engine places the reply payload in it; a WRITE sends fresh pool
 * frames (handed over: the server frees them).  Checks are cheap: the first
 * and last byte of each read (poisoned before the call) and of each write
 * (checked by the server) must hold the cache pattern for their offset.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nperf.h"

#define CONNECT_TIMEOUT_MS 10000
#define CTL_TIMEOUT_MS     5000

struct client;

struct slot {
	struct client     *c;
	uint32_t           idx;
	struct np_rw       a;          /* the range of the call in flight */
	struct tpz_payload buf;        /* READ: the reply buffer (pool frames) */
	struct tpz_payload wpl;        /* WRITE: request frames not yet sent */
	bool               wpl_held;
	bool               queued;     /* on the retry list */
};

struct client {
	const struct np_opts *o;
	struct tpz_endpoint  *ep;
	struct nrpc          *r;
	struct np_result     *res;
	struct slot          *slots;
	uint32_t             *retry;        /* slot indices waiting to be issued */
	uint32_t              nretry;
	uint64_t              seq;          /* calls issued so far (picks the block) */
	uint64_t              completed, total;
	uint64_t              next_mark;    /* completion count ending the warm-up/rep */
	int                   rep;          /* -1: warm-up */
	uint64_t              t_rep0;
	uint64_t              errors;
	int                   fatal;
	bool                  stopping, peer_down;
	struct np_cli_cnt     mark;
};

static void cnt_snapshot(struct client *c, struct np_cli_cnt *x)
{
	struct nrpc_counters n;
	struct tpz_counters t;

	nrpc_counters(c->r, &n);
	tpz_counters(c->ep, &t);
	*x = (struct np_cli_cnt){
		.calls_issued = n.calls_issued, .calls_completed = n.calls_completed,
		.calls_failed = n.calls_failed, .calls_timed_out = n.calls_timed_out,
		.retries = n.retries, .late_replies = n.late_replies,
		.payload_copies = t.payload_copies, .payload_zero_copy = t.payload_zero_copy,
		.ipt_hits = t.ipt_hits, .ipt_misses = t.ipt_misses,
		.sleeps = t.sleeps, .wakeups_sent = t.wakeups_sent, .ring_full = t.ring_full,
	};
}

static void cnt_delta(struct np_cli_cnt *d, const struct np_cli_cnt *b, const struct np_cli_cnt *a)
{
	const uint64_t *pb = (const uint64_t *)b, *pa = (const uint64_t *)a;
	uint64_t *pd = (uint64_t *)d;

	for (size_t i = 0; i < sizeof *d / sizeof(uint64_t); i++)
		pd[i] = pb[i] - pa[i];
}

static bool transient(int rc)
{
	return rc == -EAGAIN || rc == -ENOBUFS || rc == -ENOMEM;
}

static void retry_later(struct client *c, struct slot *s)
{
	if (!s->queued) {
		s->queued = true;
		c->retry[c->nretry++] = s->idx;
	}
}

static void on_reply(struct nrpc *r, struct nrpc_result *res, void *arg);

/* Issue the slot's next call, if the run wants more. */
static void issue(struct client *c, struct slot *s)
{
	const struct np_opts *o = c->o;
	struct nrpc_call_desc d = { .dst = PK_SERVER_NODE };
	nrpc_call_t call;
	int rc;

	if (c->seq >= c->total || c->stopping || c->fatal)
		return;
	s->a = (struct np_rw){ .offset = (c->seq % NP_CACHE_BLOCKS) * (uint64_t)o->size,
			       .length = o->size };
	switch (o->test) {
	case TEST_NULL:
		d.op = NP_OP_NULL;
		break;
	case TEST_READ:
		d.op = NP_OP_READ;
		d.args = &s->a;
		d.args_len = sizeof s->a;
		d.reply_buf = &s->buf;
		/* Poison the bytes checked on return: a reply that did not
		 * land here cannot pass for one that did. */
		*np_byte_at(&s->buf, 0) = (uint8_t)~np_pattern(s->a.offset);
		*np_byte_at(&s->buf, o->size - 1) = (uint8_t)~np_pattern(s->a.offset + o->size - 1);
		break;
	case TEST_WRITE:
		d.op = NP_OP_WRITE;
		d.args = &s->a;
		d.args_len = sizeof s->a;
		if (!s->wpl_held) {
			rc = tpz_payload_alloc(c->ep, &s->wpl, o->size);
			if (rc < 0) {
				if (transient(rc)) {
					retry_later(c, s);
					return;
				}
				c->fatal = rc;
				return;
			}
			s->wpl_held = true;
		}
		*np_byte_at(&s->wpl, 0) = np_pattern(s->a.offset);
		*np_byte_at(&s->wpl, o->size - 1) = np_pattern(s->a.offset + o->size - 1);
		d.payload = &s->wpl;
		break;
	}
	rc = nrpc_call_async(c->r, &d, NRPC_CONT, on_reply, s, &call);
	if (rc < 0) {
		if (transient(rc)) {
			retry_later(c, s);
		} else {
			fprintf(stderr, "nrpc-perf: client: nrpc_call_async: %s\n", tpz_strerror(rc));
			c->fatal = rc;
		}
		return;
	}
	s->wpl_held = false;   /* the frames went with the request */
	c->seq++;
}

/* A rep (or the warm-up) ends with this completion. */
static void boundary(struct client *c, uint64_t now)
{
	const struct np_opts *o = c->o;
	struct np_result *r = c->res;

	if (c->rep >= 0) {
		double ns = (double)(now - c->t_rep0), n = (double)o->pk.iters;
		/* Little's law: each slot always has one call in flight, so the
		 * mean time a call takes is inflight x elapsed / calls (with
		 * inflight 1: the mean of back-to-back round trips).  No clock
		 * is read per call: at millions of calls/s it would cost more
		 * than NetRPC's own bookkeeping. */
		r->rtt_us[c->rep] = (double)o->inflight * ns / n / 1e3;
		r->mcps[c->rep] = n / ns * 1e3;
		r->gbps[c->rep] = o->test == TEST_NULL ? 0 : n * o->size / ns;   /* B/ns = GB/s */
		if (o->pk.verbose)
			fprintf(stderr, "nrpc-perf: rep %d: rtt %.4g us, %.4g Mcalls/s, %.4g GB/s\n",
				c->rep + 1, r->rtt_us[c->rep], r->mcps[c->rep], r->gbps[c->rep]);
		r->n = c->rep + 1;
	} else {
		cnt_snapshot(c, &c->mark);
	}
	c->rep++;
	if (c->rep == o->pk.reps) {   /* the timed part is over */
		struct np_cli_cnt end;
		cnt_snapshot(c, &end);
		cnt_delta(&r->client, &end, &c->mark);
		r->calls = (uint64_t)o->pk.reps * o->pk.iters;
		c->next_mark = UINT64_MAX;
		return;
	}
	c->next_mark += o->pk.iters;
	c->t_rep0 = now;
}

static bool read_ok(struct client *c, const struct slot *s, const struct nrpc_result *res)
{
	uint32_t n = c->o->size;

	if (!res->placed || res->payload_len != n)
		return false;
	return *np_byte_at(&s->buf, 0) == np_pattern(s->a.offset) &&
	       *np_byte_at(&s->buf, n - 1) == np_pattern(s->a.offset + n - 1);
}

static void on_reply(struct nrpc *r, struct nrpc_result *res, void *arg)
{
	struct slot *s = arg;
	struct client *c = s->c;
	bool ok = res->status == 0;

	(void)r;
	if (ok && c->o->test == TEST_READ)
		ok = read_ok(c, s, res);
	else if (ok && res->payload_len)   /* no payload was asked for */
		ok = false;
	if (res->payload_len && !res->placed)   /* frames, ours now: give them back */
		tpz_payload_free(c->ep, &res->payload);
	/* The run is over or failed (the server went away: every call in
	 * flight ends with -ECONNRESET): no counting, no re-issue. */
	if (c->stopping || c->peer_down)
		return;
	if (!ok) {
		c->errors++;
		if (c->errors <= 5 || c->o->pk.verbose)
			fprintf(stderr, "nrpc-perf: client: call %llu: status %d (%s), %u payload bytes%s\n",
				(unsigned long long)c->completed, res->status,
				res->status ? tpz_strerror(res->status) : "ok", res->payload_len,
				res->status ? "" : ", wrong data");
		if (res->status == -ECONNRESET)
			c->peer_down = true;
		/* A lost reply will not be the last: stop now rather than
		 * spend the watchdog's time on more of them. */
		if (res->status == -ETIMEDOUT && !c->fatal) {
			c->res->timed_out++;
			c->fatal = -ETIMEDOUT;
		}
	}
	c->completed++;
	if (c->completed == c->next_mark)
		boundary(c, pk_now_ns());
	issue(c, s);
}

static void retry_all(struct client *c)
{
	uint32_t n = c->nretry;

	c->nretry = 0;
	for (uint32_t i = 0; i < n; i++) {
		struct slot *s = &c->slots[c->retry[i]];
		s->queued = false;
		issue(c, s);
	}
}

/* Nothing is sent to the watch handler; drop whatever comes. */
static void watch_recv(struct tpz_endpoint *ep, struct tpz_rx *rx, void *arg)
{
	(void)arg;
	tpz_rx_release(ep, rx);
}

static void on_peer_down(struct tpz_endpoint *ep, uint32_t node, int reason, void *arg)
{
	struct client *c = arg;

	(void)ep;
	if (node != PK_SERVER_NODE || c->stopping)
		return;
	c->peer_down = true;
	fprintf(stderr, "nrpc-perf: client: server node %u went down (reason %d)\n", node, reason);
}

static int connect_server(struct client *c, const char *url)
{
	uint64_t deadline = pk_now_ns() + CONNECT_TIMEOUT_MS * 1000000ull;
	int rc = tpz_connect(c->ep, PK_SERVER_NODE, url, CONNECT_TIMEOUT_MS);

	if (rc < 0) {
		fprintf(stderr, "nrpc-perf: client: connect to %s: %s\n", url, tpz_strerror(rc));
		return rc;
	}
	while (!tpz_peer_is_up(c->ep, PK_SERVER_NODE)) {
		if ((rc = nrpc_poll(c->r, 0)) < 0)
			return rc;
		if (pk_now_ns() > deadline || pk_stop) {
			fprintf(stderr, "nrpc-perf: client: server at %s never came up\n", url);
			return -ETIMEDOUT;
		}
	}
	return 0;
}

/* A blocking control call; its status is the return value. */
static int ctl_call(struct client *c, uint16_t op, const void *args, uint32_t len,
		    struct nrpc_result *out)
{
	struct nrpc_call_desc d = { .dst = PK_SERVER_NODE, .op = op, .args = args,
				    .args_len = len, .timeout_ms = CTL_TIMEOUT_MS };
	struct nrpc_result res;
	int rc = nrpc_call(c->r, &d, &res);

	if (rc == 0)
		rc = res.status;
	if (out)
		*out = res;
	return rc;
}

static int slots_setup(struct client *c)
{
	const struct np_opts *o = c->o;

	c->slots = calloc(o->inflight, sizeof *c->slots);
	c->retry = calloc(o->inflight, sizeof *c->retry);
	if (!c->slots || !c->retry)
		return -ENOMEM;
	for (uint32_t i = 0; i < o->inflight; i++) {
		struct slot *s = &c->slots[i];
		s->c = c;
		s->idx = i;
		if (o->test == TEST_READ) {
			int rc = tpz_payload_alloc(c->ep, &s->buf, o->size);
			if (rc < 0) {
				fprintf(stderr, "nrpc-perf: client: %u reply buffers of %u bytes: %s\n",
					o->inflight, o->size, tpz_strerror(rc));
				return rc;
			}
			/* Fault the pages in now, not in the first timed rep. */
			for (uint32_t k = 0; k < s->buf.nseg; k++)
				memset(s->buf.seg[k].base, 0, s->buf.seg[k].len);
		}
	}
	return 0;
}

static void slots_free(struct client *c)
{
	if (!c->slots)
		return;
	for (uint32_t i = 0; i < c->o->inflight; i++) {
		tpz_payload_free(c->ep, &c->slots[i].buf);
		if (c->slots[i].wpl_held)
			tpz_payload_free(c->ep, &c->slots[i].wpl);
	}
	free(c->slots);
	free(c->retry);
}

static int measure(struct client *c)
{
	const struct np_opts *o = c->o;
	uint64_t warm = o->inflight == 1 ? o->pk.iters : o->pk.iters / 4;
	int rc = 0;

	if (warm < 2ull * o->inflight)
		warm = 2ull * o->inflight;
	c->total = warm + (uint64_t)o->pk.reps * o->pk.iters;
	c->next_mark = warm;
	c->rep = -1;
	for (uint32_t i = 0; i < o->inflight && !c->fatal; i++)
		issue(c, &c->slots[i]);
	while (c->completed < c->total) {
		if (c->fatal) {
			rc = c->fatal;
			break;
		}
		if (c->peer_down) {
			rc = -EPIPE;
			break;
		}
		if (pk_stop) {
			rc = -EINTR;
			break;
		}
		/* Never sleep with calls waiting to be issued. */
		rc = c->nretry ? nrpc_poll(c->r, 0) : np_drive(o, c->r);
		if (rc == -EBUSY)
			rc = 0;
		if (rc < 0)
			break;
		rc = 0;
		if (c->nretry)
			retry_all(c);
	}
	return rc;
}

int client_run(const struct np_opts *o, struct tpz_endpoint *ep, const char *url,
	       struct np_result *res)
{
	struct client c = { .o = o, .ep = ep, .res = res };
	struct tpz_handler_ops watch = { .recv = watch_recv, .peer_down = on_peer_down, .arg = &c };
	struct np_start st = { .test = o->test, .size = o->size, .inflight = o->inflight,
			       .mode = o->pk.mode };
	struct nrpc_result sr;
	int rc;

	rc = np_nrpc_open(o, ep, "client", &c.r);
	if (rc < 0)
		return rc;
	nrpc_set_idempotent(c.r, NP_OP_NULL, true);
	nrpc_set_idempotent(c.r, NP_OP_READ, true);
	{
		struct nrpc_config def;
		nrpc_config_default(&def);
		res->max_calls = o->max_calls ? o->max_calls : def.max_calls;
	}
	rc = tpz_handler_register(ep, NP_H_WATCH, &watch);
	if (rc < 0)
		fprintf(stderr, "nrpc-perf: client: register: %s\n", tpz_strerror(rc));
	if (rc == 0)
		rc = slots_setup(&c);
	if (rc == 0)
		rc = connect_server(&c, url);
	if (rc == 0 && (rc = ctl_call(&c, NP_OP_START, &st, sizeof st, NULL)) < 0)
		fprintf(stderr, "nrpc-perf: client: server cannot start the test: %s\n",
			tpz_strerror(rc));
	if (rc == 0)
		rc = measure(&c);
	if (rc == 0) {
		rc = ctl_call(&c, NP_OP_STATS, NULL, 0, &sr);
		if (rc == 0 && sr.res_len == sizeof res->server) {
			memcpy(&res->server, sr.res, sizeof res->server);
			res->have_server = true;
		} else {
			fprintf(stderr, "nrpc-perf: client: no server counters: %s\n", tpz_strerror(rc));
			rc = 0;
		}
	}
	if (rc < 0 && rc != -EINTR)
		fprintf(stderr, "nrpc-perf: client: %s test failed: %s\n", test_name(o->test),
			tpz_strerror(rc));
	/* From here on calls that end (an error path) are not re-issued, and
	 * the server going away is expected. */
	c.stopping = true;
	if (rc == 0 && !c.peer_down && tpz_peer_is_up(ep, PK_SERVER_NODE))
		ctl_call(&c, NP_OP_STOP, NULL, 0, NULL);
	res->errors += c.errors + (res->have_server ? res->server.errors : 0);
	/* Calls still in flight end here; only then may their buffers go. */
	nrpc_destroy(c.r);
	tpz_handler_unregister(ep, NP_H_WATCH);
	slots_free(&c);
	return rc;
}
