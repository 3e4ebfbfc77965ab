/*
 * server.c - the serving end (node 0): NetRPC ops NULL, READ and WRITE, and
 * the control ops START, STATS and STOP.  All are fast ops: they run on the
 * delivery path, inside nrpc_poll / nrpc_progress, and never block.
 *
 * READ serves a byte range of the cache: NP_CACHE_BLOCKS blocks of --size
 * bytes in pool frames, allocated once per session and filled with
 * np_pattern().  A reply lends the frames (TPZ_SEND_LEND) with a done
 * callback: nothing is allocated, copied by us or freed per call; the engine
 * puts the bytes straight into the caller's reply buffer.  WRITE takes the
 * request's frames, checks the first and last byte and frees them.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nperf.h"

/* The cache of one session.  A cache replaced while replies still borrow
 * its frames (a client that vanished mid-run) is freed by the last done. */
struct cache {
	struct tpz_endpoint *ep;
	void   **frame;
	uint32_t nframes;
	uint64_t bytes;
	uint32_t refs;           /* lent replies not yet done */
	bool     retired;
};

struct server {
	struct tpz_endpoint *ep;
	struct nrpc *r;
	const struct np_opts *o;
	bool     done;
	bool     forever;             /* --listen: serve client after client */
	uint32_t client;              /* node of the current session */
	struct np_start params;
	struct cache *cache;
	struct np_srv_stats st;
	struct tpz_counters mark;     /* endpoint counters at START */
};

/* Static: lend completions may still run while the endpoint is torn down. */
static struct server srv;

static void cache_free(struct cache *c)
{
	for (uint32_t i = 0; i < c->nframes; i++)
		if (c->frame[i])
			tpz_frame_free(c->ep, c->frame[i]);
	free(c->frame);
	free(c);
}

static void cache_retire(struct cache *c)
{
	if (!c)
		return;
	c->retired = true;
	if (c->refs == 0)
		cache_free(c);
}

static int cache_create(struct tpz_endpoint *ep, uint64_t bytes, struct cache **out)
{
	size_t fs = tpz_frame_size(ep);
	struct cache *c = calloc(1, sizeof *c);

	if (!c)
		return -ENOMEM;
	c->ep = ep;
	c->bytes = bytes;
	c->nframes = (uint32_t)((bytes + fs - 1) / fs);
	c->frame = calloc(c->nframes ? c->nframes : 1, sizeof *c->frame);
	if (!c->frame) {
		free(c);
		return -ENOMEM;
	}
	for (uint32_t i = 0; i < c->nframes; i++) {
		uint8_t *f = tpz_frame_alloc(ep);
		if (!f) {
			cache_free(c);
			return -ENOBUFS;
		}
		c->frame[i] = f;
		for (size_t k = 0; k < fs; k++)
			f[k] = np_pattern(i * fs + k);
	}
	*out = c;
	return 0;
}

/* The frames holding [off, off + len) of the cache, as a payload. */
static int cache_range(const struct cache *c, uint64_t off, uint32_t len, struct tpz_payload *pl)
{
	size_t fs = tpz_frame_size(c->ep);

	if (!len || off > c->bytes || len > c->bytes - off)
		return -ERANGE;
	pl->nseg = 0;
	while (len) {
		uint32_t fo = (uint32_t)(off % fs), n = (uint32_t)(fs - fo);
		if (n > len)
			n = len;
		if (pl->nseg == TPZ_SG_MAX)
			return -E2BIG;
		pl->seg[pl->nseg++] = (struct tpz_iov){ (uint8_t *)c->frame[off / fs] + fo, n };
		off += n;
		len -= n;
	}
	return 0;
}

static void lend_done(void *arg, int status)
{
	struct cache *c = arg;

	if (status < 0)
		srv.st.lends_failed++;
	if (--c->refs == 0 && c->retired)
		cache_free(c);
}

/* ---- measured ops ------------------------------------------------------- */

static void op_null(struct nrpc_req *req, void *arg)
{
	struct server *s = arg;

	s->st.requests++;
	if (nrpc_reply(req, 0, NULL, 0, NULL, 0, NULL, NULL) < 0)
		s->st.errors++;
}

static bool get_rw(struct nrpc_req *req, struct np_rw *a)
{
	if (req->args_len != sizeof *a)
		return false;
	memcpy(a, req->args, sizeof *a);
	return true;
}

static void op_read(struct nrpc_req *req, void *arg)
{
	struct server *s = arg;
	struct tpz_payload pl;
	struct np_rw a;
	int rc;

	s->st.requests++;
	if (!s->cache || !get_rw(req, &a) || cache_range(s->cache, a.offset, a.length, &pl) < 0) {
		s->st.errors++;
		nrpc_reply(req, NRPC_EBADARGS, NULL, 0, NULL, 0, NULL, NULL);
		return;
	}
	s->cache->refs++;
	rc = nrpc_reply(req, 0, NULL, 0, &pl, TPZ_SEND_LEND, lend_done, s->cache);
	if (rc < 0) {   /* not sent: no done will come (NetRPC answers -EIO for us) */
		s->cache->refs--;
		s->st.errors++;
		if (s->o->pk.verbose)
			fprintf(stderr, "nrpc-perf: server: read reply: %s\n", tpz_strerror(rc));
		return;
	}
	s->st.lends++;
}

static void op_write(struct nrpc_req *req, void *arg)
{
	struct server *s = arg;
	struct np_rw a;
	int status = 0;

	s->st.requests++;
	if (!get_rw(req, &a) || a.length != req->payload_len || !a.length) {
		status = NRPC_EBADARGS;
	} else {
		const uint8_t *first = np_byte_at(&req->payload, 0);
		const uint8_t *last = np_byte_at(&req->payload, a.length - 1);
		if (!first || !last || *first != np_pattern(a.offset) ||
		    *last != np_pattern(a.offset + a.length - 1))
			status = -EILSEQ;
	}
	if (status)
		s->st.errors++;
	/* The data is "written": give the frames back to the pool. */
	tpz_payload_free(s->ep, &req->payload);
	if (nrpc_reply(req, status, NULL, 0, NULL, 0, NULL, NULL) < 0)
		s->st.errors++;
}

/* ---- control ops ---------------------------------------------------------- */

static void op_start(struct nrpc_req *req, void *arg)
{
	struct server *s = arg;
	struct np_start p;
	int status = 0;

	if (req->args_len != sizeof p) {
		nrpc_reply(req, NRPC_EBADARGS, NULL, 0, NULL, 0, NULL, NULL);
		return;
	}
	memcpy(&p, req->args, sizeof p);
	cache_retire(s->cache);
	s->cache = NULL;
	memset(&s->st, 0, sizeof s->st);
	tpz_counters(s->ep, &s->mark);
	s->params = p;
	s->client = req->caller;
	if (p.mode != (uint32_t)s->o->pk.mode)
		fprintf(stderr, "nrpc-perf: server: client asks for %s mode, this end runs %s\n",
			pk_mode_name((enum pk_mode)p.mode), pk_mode_name(s->o->pk.mode));
	if (p.test == TEST_READ) {
		if (p.size == 0 || p.size > tpz_max_payload(s->ep))
			status = -EMSGSIZE;
		else
			status = cache_create(s->ep, (uint64_t)NP_CACHE_BLOCKS * p.size, &s->cache);
	}
	if (s->o->pk.verbose)
		fprintf(stderr, "nrpc-perf: server: node %u starts %s size %u inflight %u: %s\n",
			req->caller, test_name((enum np_test)p.test), p.size, p.inflight,
			tpz_strerror(status));
	nrpc_reply(req, status, NULL, 0, NULL, 0, NULL, NULL);
}

static void op_stats(struct nrpc_req *req, void *arg)
{
	struct server *s = arg;
	struct np_srv_stats st = s->st;
	struct tpz_counters k;

	tpz_counters(s->ep, &k);
	st.payload_copies = k.payload_copies - s->mark.payload_copies;
	st.payload_zero_copy = k.payload_zero_copy - s->mark.payload_zero_copy;
	st.sleeps = k.sleeps - s->mark.sleeps;
	st.wakeups_sent = k.wakeups_sent - s->mark.wakeups_sent;
	nrpc_reply(req, 0, &st, sizeof st, NULL, 0, NULL, NULL);
}

static void op_stop(struct nrpc_req *req, void *arg)
{
	struct server *s = arg;

	if (s->o->pk.verbose)
		fprintf(stderr, "nrpc-perf: server: node %u done\n", req->caller);
	nrpc_reply(req, 0, NULL, 0, NULL, 0, NULL, NULL);
	s->done = true;
}

/* ---- peers ----------------------------------------------------------------- */

static void on_peer_up(struct tpz_endpoint *ep, uint32_t node, void *arg)
{
	struct server *s = arg;

	(void)ep;
	if (s->o->pk.verbose)
		fprintf(stderr, "nrpc-perf: server: node %u is up\n", node);
}

/* Nothing is sent to the watch handler; drop whatever comes. */
static void watch_recv(struct tpz_endpoint *ep, struct tpz_rx *rx, void *arg)
{
	(void)arg;
	tpz_rx_release(ep, rx);
}

static void on_peer_down(struct tpz_endpoint *ep, uint32_t node, int reason, void *arg)
{
	struct server *s = arg;

	(void)ep;
	if (node != s->client)   /* an old session's goodbye, or a stranger */
		return;
	if (s->o->pk.verbose || s->forever)
		fprintf(stderr, "nrpc-perf: server: node %u went down (reason %d)\n", node, reason);
	s->done = true;
}

/* Lent frames come back once the client has read them: wait for that
 * (briefly) before the cache goes, so the frames are freed, not leaked. */
static void drain_lends(struct server *s)
{
	uint64_t end = pk_now_ns() + 500000000ull;

	while (s->cache && s->cache->refs && pk_now_ns() < end)
		if (nrpc_poll(s->r, 0) < 0)
			break;
}

static int serve_session(struct server *s)
{
	int rc = 0;

	s->done = false;
	while (!s->done && !pk_stop) {
		rc = np_drive(s->o, s->r);
		if (rc < 0) {
			fprintf(stderr, "nrpc-perf: server: %s\n", tpz_strerror(rc));
			return rc;
		}
	}
	drain_lends(s);
	return 0;
}

int server_run(void *arg, struct tpz_endpoint *ep, const char *url, int ready_fd, bool forever)
{
	const struct np_opts *o = arg;
	struct server *s = &srv;
	struct tpz_handler_ops watch = { .recv = watch_recv, .peer_up = on_peer_up, .peer_down = on_peer_down, .arg = s };
	int rc;

	*s = (struct server){ .ep = ep, .o = o, .client = TPZ_NODE_ANY, .forever = forever };
	rc = np_nrpc_open(o, ep, "server", &s->r);
	if (rc < 0)
		return rc;
	rc = tpz_handler_register(ep, NP_H_WATCH, &watch);
	if (rc == 0)
		rc = nrpc_register(s->r, NP_OP_NULL, op_null, s, NRPC_OP_FAST);
	if (rc == 0)
		rc = nrpc_register(s->r, NP_OP_READ, op_read, s, NRPC_OP_FAST);
	if (rc == 0)
		rc = nrpc_register(s->r, NP_OP_WRITE, op_write, s, NRPC_OP_FAST);
	if (rc == 0)
		rc = nrpc_register(s->r, NP_OP_START, op_start, s, NRPC_OP_FAST);
	if (rc == 0)
		rc = nrpc_register(s->r, NP_OP_STATS, op_stats, s, NRPC_OP_FAST);
	if (rc == 0)
		rc = nrpc_register(s->r, NP_OP_STOP, op_stop, s, NRPC_OP_FAST);
	if (rc < 0) {
		fprintf(stderr, "nrpc-perf: server: register: %s\n", tpz_strerror(rc));
		goto out;
	}
	rc = pk_listen(ep, url, ready_fd, forever);
	if (rc < 0)
		goto out;
	do {
		rc = serve_session(s);
	} while (forever && rc == 0 && !pk_stop);
out:
	nrpc_destroy(s->r);
	tpz_handler_unregister(ep, NP_H_WATCH);
	/* A cache still lent out (the client died mid-reply) stays: the
	 * endpoint's destruction returns every frame anyway. */
	if (s->cache && s->cache->refs == 0)
		cache_free(s->cache);
	s->cache = NULL;
	return rc;
}
