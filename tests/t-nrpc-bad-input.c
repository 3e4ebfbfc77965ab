/*
 * t-nrpc-bad-input: NetRPC turns bad input into error values, never crashes
 * (over shm, then over tcp).
 *
 * Three endpoints: the server (node 2, a forked process), a NetRPC client
 * (node 1) and a raw Trapeze endpoint (node 3) that registers the NetRPC
 * handler id itself and sends hand-made NetRPC messages with tpz_send; both
 * live in the parent process.  Checked:
 *   - a call to an op the server does not have -> status -EOPNOTSUPP;
 *   - a handler that returns without replying (fast, and blocking on a
 *     worker) -> the caller gets -EIO;
 *   - nrpc_reply: results over NRPC_INLINE_MAX are refused, a second reply
 *     to the same request is refused, and the caller sees only the first;
 *   - raw requests from node 3: a well-formed one is answered (status 0,
 *     call id and generation echoed, kind REPLY, caller 3); one with an
 *     unknown op gets -EOPNOTSUPP; a header that is well-formed enough to
 *     answer (a request whose caller is the sender) but malformed
 *     (arg_len mismatch, arg_len over 64, reserved != 0, unknown flags, a
 *     status in a request) gets -EBADMSG with the call id and generation
 *     echoed; what cannot be answered (data shorter than the header, a bad
 *     kind, a direct request whose caller is not the sender, a caller node
 *     out of range, a stray reply) gets no answer at all, and nobody else
 *     (node 1) is answered in its place; the server counts bad requests,
 *     keeps the connection and still serves;
 *   - replies forged by node 3 to node 1 for a call in flight: a stale
 *     generation (either side) is dropped and counted in late_replies, a
 *     call id out of range and a positive status are dropped too; the
 *     call still ends with the server's real reply.
 *
 * Server protocol (node 2):
 *   OP_ECHO     (1, fast)     args { u32 x } -> status 0, res { u32 x + 1 }
 *   OP_NOREPLY  (2, fast)     returns without replying
 *   OP_NOREPLYB (3, blocking) returns without replying
 *   OP_TWICE    (4, fast)     nrpc_reply with res_len 65 (rc0), then
 *                             res { u32 1 } (rc1), then res { u32 2 } (rc2)
 *   OP_RCS      (5, fast)     -> res { i32 rc0, i32 rc1, i32 rc2 }
 *   OP_SLOW     (6, fast)     detached, answered 300 ms later: status 0,
 *                             res { u32 0xabc }
 *   OP_STAT     (7, fast)     -> res { u32 bad_requests, u32 late_replies }
 *   (no op 999, no op 777)
 */
#include "nrpc_testlib.h"

#include <stdatomic.h>

#define OP_ECHO     1
#define OP_NOREPLY  2
#define OP_NOREPLYB 3
#define OP_TWICE    4
#define OP_RCS      5
#define OP_SLOW     6
#define OP_STAT     7

/* ---- server ------------------------------------------------------------- */

static int rcs[3];
static struct nrpc_req *slow_req;
static double slow_due;

static void op_echo(struct nrpc_req *req, void *arg)
{
	uint32_t y = (req->args_len >= 4 ? nt_u32(req->args, 0) : 0) + 1;

	nrpc_reply(req, 0, &y, 4, NULL, 0, NULL, NULL);
}

static void op_noreply(struct nrpc_req *req, void *arg)
{
}

static void op_twice(struct nrpc_req *req, void *arg)
{
	static uint8_t big[NRPC_INLINE_MAX + 1];
	uint32_t one = 1, two = 2;

	rcs[0] = nrpc_reply(req, 0, big, sizeof(big), NULL, 0, NULL, NULL);
	rcs[1] = nrpc_reply(req, 0, &one, 4, NULL, 0, NULL, NULL);
	rcs[2] = nrpc_reply(req, 0, &two, 4, NULL, 0, NULL, NULL);
}

static void op_rcs(struct nrpc_req *req, void *arg)
{
	nrpc_reply(req, 0, rcs, sizeof(rcs), NULL, 0, NULL, NULL);
}

static void op_slow(struct nrpc_req *req, void *arg)
{
	CHECK(!slow_req, "server: two slow requests");
	slow_req = nrpc_req_detach(req);
	CHECK(slow_req, "server: detach");
	slow_due = tl_now_ms() + 300;
}

static void op_stat(struct nrpc_req *req, void *arg)
{
	struct nrpc_counters c = nt_counters(req->r);
	uint32_t out[2] = { (uint32_t)c.bad_requests, (uint32_t)c.late_replies };

	nrpc_reply(req, 0, out, sizeof(out), NULL, 0, NULL, NULL);
}

static void answer_slow(struct nrpc *r, void *arg)
{
	if (slow_req && tl_now_ms() >= slow_due) {
		uint32_t v = 0xabc;
		CHECK_RC(nrpc_reply(slow_req, 0, &v, 4, NULL, 0, NULL, NULL), 0);
		/* netrpc.h does not say who frees a detached request; the library
		 * malloc()s it and never frees it, so the holder does. */
		nrpc_req_free(slow_req);
		slow_req = NULL;
	}
}

static int server(struct tl_proc *self, void *arg)
{
	enum tl_link link = (enum tl_link)(intptr_t)arg;
	struct tpz_config cfg;

	tl_config(&cfg, 2, link);
	struct tpz_endpoint *ep = tl_endpoint(&cfg);
	struct nrpc *r = nt_nrpc(ep, NULL);
	nt_register(r, OP_ECHO, op_echo, NULL, NRPC_OP_FAST);
	nt_register(r, OP_NOREPLY, op_noreply, NULL, NRPC_OP_FAST);
	nt_register(r, OP_NOREPLYB, op_noreply, NULL, NRPC_OP_BLOCKING);
	nt_register(r, OP_TWICE, op_twice, NULL, NRPC_OP_FAST);
	nt_register(r, OP_RCS, op_rcs, NULL, NRPC_OP_FAST);
	nt_register(r, OP_SLOW, op_slow, NULL, NRPC_OP_FAST);
	nt_register(r, OP_STAT, op_stat, NULL, NRPC_OP_FAST);
	tl_put_u32(self->wr, (uint32_t)tl_listen(ep, link));
	nt_serve(r, self, 40000, answer_slow, NULL);
	nrpc_destroy(r);
	tpz_endpoint_destroy(ep);
	return 0;
}

/* ---- the raw endpoint (node 3) ------------------------------------------ */

#define MAXRAW 64
struct raw_msg {
	uint32_t        src;
	uint32_t        len;
	struct nrpc_hdr h;
	uint8_t         data[TPZ_INLINE_MAX];
};
static struct raw_msg raw[MAXRAW];
static uint32_t nraw;

static void raw_recv(struct tpz_endpoint *ep, struct tpz_rx *rx, void *arg)
{
	CHECK(nraw < MAXRAW, "raw endpoint: too many messages");
	struct raw_msg *m = &raw[nraw++];
	m->src = rx->src;
	m->len = rx->data_len;
	memcpy(m->data, rx->data, rx->data_len);
	memset(&m->h, 0, sizeof(m->h));
	if (rx->data_len >= NRPC_HDR_SIZE)
		memcpy(&m->h, rx->data, NRPC_HDR_SIZE);
	tpz_rx_release(ep, rx);
}

static struct tpz_endpoint *EP1, *EP3;
static struct nrpc *R;
static const char *LN;

/* Poll both of our endpoints until cond. */
#define BOTH_UNTIL(cond, ms) ({                                             \
	bool _ok = false;                                                   \
	double _end = tl_now_ms() + (ms);                                   \
	for (;;) {                                                          \
		if (cond) { _ok = true; break; }                            \
		if (tl_now_ms() > _end) break;                              \
		int _a = nrpc_poll(R, 0), _b = tpz_poll(EP3, 0);            \
		CHECK(_a >= 0 && _b >= 0, "poll: %d %d", _a, _b);           \
		if (_a == 0 && _b == 0) tl_idle(EP3);                       \
	}                                                                   \
	_ok;                                                                \
})

/* Send raw NetRPC bytes from node 3 to node dst. */
static void raw_send(uint32_t dst, const struct nrpc_hdr *h, const void *args, uint32_t args_len,
		     uint32_t data_len)
{
	uint8_t data[TPZ_INLINE_MAX];

	memset(data, 0, sizeof(data));
	memcpy(data, h, sizeof(*h));
	if (args_len)
		memcpy(data + NRPC_HDR_SIZE, args, args_len);
	CHECK(data_len <= TPZ_INLINE_MAX, "raw message too long");
	int rc = tl_send_inline(EP3, dst, NRPC_HANDLER, data, data_len, 3000);
	CHECK(rc == 0, "%s: raw tpz_send: %d %s", LN, rc, tpz_strerror(rc));
}

/* A request header from node 3 for case c. */
static struct nrpc_hdr req_hdr(uint32_t c, uint16_t op, uint16_t arg_len)
{
	return (struct nrpc_hdr){ .op = op, .kind = NRPC_REQUEST, .call_id = 100 + c,
				  .call_gen = 7000 + c, .caller = 3, .arg_len = arg_len };
}

struct conn_job {
	char         url[64];
	int          rc;
	_Atomic bool done;
};

static void *connect_3_to_1(void *arg)
{
	struct conn_job *j = arg;

	j->rc = tpz_connect(EP3, 1, j->url, 5000);
	atomic_store(&j->done, true);
	return NULL;
}

enum { NOREPLY = 1 };
struct rcase {
	const char *name;
	int         want;       /* status of the answer, or NOREPLY (none at all) */
};

static void run(enum tl_link link)
{
	struct tl_proc srv = { .index = 0 };
	struct nrpc_result res;
	struct nrpc_call_desc d;
	uint32_t x = 41;

	LN = tl_link_name(link);
	nraw = 0;
	tl_spawn(&srv, server, (void *)(intptr_t)link);
	int port = (int)tl_get_u32(srv.rd, 5000);
	EP1 = nt_client_ep(1, link, 2, port);
	R = nt_nrpc(EP1, NULL);
	struct tpz_config cfg3;
	tl_config(&cfg3, 3, link);
	EP3 = tl_endpoint(&cfg3);
	struct tpz_handler_ops rops = { .recv = raw_recv };
	CHECK_RC(tpz_handler_register(EP3, NRPC_HANDLER, &rops), 0);
	if (link == TL_SHM)
		tl_listen(EP3, link);
	tl_connect(EP3, 2, link, port);
	/* Node 3 connects to node 1 too (for forged replies).  tpz_connect
	 * waits for the acceptor, which is in this process: connect from a
	 * thread while this one polls node 1. */
	struct conn_job cj = { .rc = 1 };
	if (link == TL_SHM)
		snprintf(cj.url, sizeof(cj.url), "shm");
	else
		snprintf(cj.url, sizeof(cj.url), "tcp://127.0.0.1:%d", tl_listen(EP1, link));
	pthread_t th;
	CHECK(pthread_create(&th, NULL, connect_3_to_1, &cj) == 0, "pthread_create");
	CHECK(NRPC_POLL_UNTIL(R, tpz_peer_is_up(EP1, 3) && atomic_load(&cj.done), 5000),
	      "%s: node 3 could not connect to node 1", LN);
	pthread_join(th, NULL);
	CHECK(cj.rc == 0, "%s: tpz_connect(node 3 -> node 1, %s): %d %s", LN, cj.url, cj.rc,
	      tpz_strerror(cj.rc));
	tl_wait_up(EP3, 1, 3000);

	/* 1. Errors through the API. */
	d = (struct nrpc_call_desc){ .dst = 2, .op = 777, .args = &x, .args_len = 4 };
	CHECK_RC(nrpc_call(R, &d, &res), 0);
	CHECK(res.status == -EOPNOTSUPP && res.status == NRPC_EUNKNOWN_OP && res.replier == 2,
	      "%s: unknown op: status %d (%s) replier %u, want -EOPNOTSUPP", LN, res.status,
	      tpz_strerror(res.status), res.replier);
	d.op = OP_NOREPLY;
	CHECK_RC(nrpc_call(R, &d, &res), 0);
	CHECK(res.status == -EIO, "%s: fast handler that did not reply: status %d (%s), want -EIO",
	      LN, res.status, tpz_strerror(res.status));
	d.op = OP_NOREPLYB;
	CHECK_RC(nrpc_call(R, &d, &res), 0);
	CHECK(res.status == -EIO, "%s: blocking handler that did not reply: status %d (%s), want "
	      "-EIO", LN, res.status, tpz_strerror(res.status));
	struct nrpc_counters cc0 = nt_counters(R);
	d.op = OP_TWICE;
	CHECK_RC(nrpc_call(R, &d, &res), 0);
	CHECK(res.status == 0 && res.res_len == 4 && nt_u32(res.res, 0) == 1, "%s: OP_TWICE: status "
	      "%d res_len %u value %u, want 0/4/1 (the first valid reply)", LN, res.status,
	      res.res_len, nt_u32(res.res, 0));
	d.op = OP_RCS;
	CHECK_RC(nrpc_call(R, &d, &res), 0);
	CHECK(res.status == 0 && res.res_len == 12, "%s: OP_RCS: status %d", LN, res.status);
	int rc0 = (int)nt_u32(res.res, 0), rc1 = (int)nt_u32(res.res, 4), rc2 = (int)nt_u32(res.res, 8);
	CHECK(rc0 < 0, "%s: nrpc_reply with %u bytes of results returned %d, want an error", LN,
	      NRPC_INLINE_MAX + 1, rc0);
	CHECK(rc1 == 0, "%s: the first valid nrpc_reply returned %d", LN, rc1);
	CHECK(rc2 < 0, "%s: a second nrpc_reply to the same request returned %d, want an error", LN,
	      rc2);
	BOTH_UNTIL(false, 50);
	struct nrpc_counters cc1 = nt_counters(R);
	CHECK(cc1.late_replies == cc0.late_replies, "%s: a second reply reached the caller", LN);

	/* 2. Raw requests from node 3. */
	struct rcase cases[20];
	uint32_t nc = 0;
	struct nrpc_hdr h;
	uint8_t args[64];
	memset(args, 0x11, sizeof(args));
	memcpy(args, &x, 4);

	h = req_hdr(nc, OP_ECHO, 4);
	raw_send(2, &h, args, 4, NRPC_HDR_SIZE + 4);
	cases[nc++] = (struct rcase){ "well-formed request", 0 };
	h = req_hdr(nc, 999, 4);
	raw_send(2, &h, args, 4, NRPC_HDR_SIZE + 4);
	cases[nc++] = (struct rcase){ "unknown op", -EOPNOTSUPP };
	h = req_hdr(nc, OP_ECHO, 8);
	raw_send(2, &h, args, 4, NRPC_HDR_SIZE + 4);
	cases[nc++] = (struct rcase){ "arg_len 8 with 4 bytes of arguments", -EBADMSG };
	h = req_hdr(nc, OP_ECHO, 0);
	raw_send(2, &h, args, 4, NRPC_HDR_SIZE + 4);
	cases[nc++] = (struct rcase){ "arg_len 0 with 4 bytes of arguments", -EBADMSG };
	h = req_hdr(nc, OP_ECHO, 70);
	raw_send(2, &h, args, 64, NRPC_HDR_SIZE + 64);
	cases[nc++] = (struct rcase){ "arg_len 70", -EBADMSG };
	h = req_hdr(nc, OP_ECHO, 4);
	h.reserved = 1;
	raw_send(2, &h, args, 4, NRPC_HDR_SIZE + 4);
	cases[nc++] = (struct rcase){ "reserved != 0", -EBADMSG };
	h = req_hdr(nc, OP_ECHO, 4);
	h.flags = 0x80;
	raw_send(2, &h, args, 4, NRPC_HDR_SIZE + 4);
	cases[nc++] = (struct rcase){ "unknown flag 0x80", -EBADMSG };
	h = req_hdr(nc, OP_ECHO, 4);
	h.flags = 0x04;
	raw_send(2, &h, args, 4, NRPC_HDR_SIZE + 4);
	cases[nc++] = (struct rcase){ "unknown flag 0x04", -EBADMSG };
	h = req_hdr(nc, OP_ECHO, 4);
	h.status = -5;
	raw_send(2, &h, args, 4, NRPC_HDR_SIZE + 4);
	cases[nc++] = (struct rcase){ "request with a status", -EBADMSG };
	/* Unanswerable. */
	h = req_hdr(nc, OP_ECHO, 4);
	raw_send(2, &h, args, 4, 10);
	cases[nc++] = (struct rcase){ "10 bytes of data", NOREPLY };
	h = req_hdr(nc, OP_ECHO, 4);
	raw_send(2, &h, args, 4, NRPC_HDR_SIZE - 1);
	cases[nc++] = (struct rcase){ "31 bytes of data", NOREPLY };
	h = req_hdr(nc, OP_ECHO, 4);
	h.kind = 7;
	raw_send(2, &h, args, 4, NRPC_HDR_SIZE + 4);
	cases[nc++] = (struct rcase){ "kind 7", NOREPLY };
	h = req_hdr(nc, OP_ECHO, 4);
	h.kind = 0;
	raw_send(2, &h, args, 4, NRPC_HDR_SIZE + 4);
	cases[nc++] = (struct rcase){ "kind 0", NOREPLY };
	h = req_hdr(nc, OP_ECHO, 4);
	h.caller = 1;     /* not the sender, not delegated: must not answer node 1 */
	raw_send(2, &h, args, 4, NRPC_HDR_SIZE + 4);
	cases[nc++] = (struct rcase){ "direct request with caller 1 from node 3", NOREPLY };
	h = req_hdr(nc, OP_ECHO, 4);
	h.caller = 300;
	h.flags = NRPC_F_DELEGATED;
	raw_send(2, &h, args, 4, NRPC_HDR_SIZE + 4);
	cases[nc++] = (struct rcase){ "delegated request with caller 300", NOREPLY };
	h = req_hdr(nc, OP_ECHO, 4);
	h.kind = NRPC_REPLY;
	raw_send(2, &h, args, 4, NRPC_HDR_SIZE + 4);
	cases[nc++] = (struct rcase){ "stray reply to the server", NOREPLY };
	h = req_hdr(nc, OP_ECHO, 4);
	h.kind = NRPC_REPLY;
	h.call_id = 0xffffffffu;
	raw_send(2, &h, args, 4, NRPC_HDR_SIZE + 4);
	cases[nc++] = (struct rcase){ "stray reply with call id 0xffffffff", NOREPLY };
	/* Last: a well-formed request; its answer comes after all others. */
	h = req_hdr(nc, OP_ECHO, 4);
	h.call_id = 0xffffffffu;   /* the caller's record index is its own business */
	raw_send(2, &h, args, 4, NRPC_HDR_SIZE + 4);
	uint32_t last = nc;
	cases[nc++] = (struct rcase){ "well-formed request, call id 0xffffffff", 0 };

	CHECK(BOTH_UNTIL(({ bool _f = false;
			    for (uint32_t i = 0; i < nraw; i++)
				    _f = _f || raw[i].h.call_gen == 7000 + last;
			    _f; }), 5000),
	      "%s: no answer to the last well-formed raw request within 5 s (%u answers so far)",
	      LN, nraw);
	BOTH_UNTIL(false, 50);
	for (uint32_t c = 0; c < nc; c++) {
		struct raw_msg *m = NULL;
		int n = 0;
		for (uint32_t i = 0; i < nraw; i++)
			if (raw[i].h.call_gen == 7000 + c) {
				m = &raw[i];
				n++;
			}
		if (cases[c].want == NOREPLY) {
			CHECK(n == 0, "%s: raw case \"%s\": answered (status %d), want no answer", LN,
			      cases[c].name, m->h.status);
			continue;
		}
		CHECK(n == 1, "%s: raw case \"%s\": %d answers, want 1 with status %d (%s)", LN,
		      cases[c].name, n, cases[c].want, tpz_strerror(cases[c].want));
		CHECK(m->h.status == cases[c].want, "%s: raw case \"%s\": status %d (%s), want %d (%s)",
		      LN, cases[c].name, m->h.status, tpz_strerror(m->h.status), cases[c].want,
		      tpz_strerror(cases[c].want));
		CHECK(m->src == 2 && m->h.kind == NRPC_REPLY && m->h.caller == 3 && m->h.reserved == 0 &&
		      (m->h.flags & ~NRPC_F_WIRE_MASK) == 0 && m->len == NRPC_HDR_SIZE + m->h.arg_len,
		      "%s: raw case \"%s\": malformed answer: src %u kind %u caller %u reserved %u "
		      "flags %#x len %u arg_len %u", LN, cases[c].name, m->src, m->h.kind, m->h.caller,
		      m->h.reserved, m->h.flags, m->len, m->h.arg_len);
		uint32_t want_id = c == last ? 0xffffffffu : 100 + c;
		CHECK(m->h.call_id == want_id, "%s: raw case \"%s\": call id %#x echoed, want %#x", LN,
		      cases[c].name, m->h.call_id, want_id);
		if (cases[c].want == 0)
			CHECK(m->h.arg_len == 4 && nt_u32(m->data, NRPC_HDR_SIZE) == 42, "%s: raw case "
			      "\"%s\": result len %u value %u, want 4 / 42", LN, cases[c].name,
			      m->h.arg_len, nt_u32(m->data, NRPC_HDR_SIZE));
	}
	uint32_t nanswered = 0;
	for (uint32_t c = 0; c < nc; c++)
		nanswered += cases[c].want != NOREPLY;
	CHECK(nraw == nanswered, "%s: node 3 got %u answers, want %u", LN, nraw, nanswered);
	struct nrpc_counters cc2 = nt_counters(R);
	CHECK(cc2.late_replies == cc1.late_replies && cc2.bad_requests == cc1.bad_requests,
	      "%s: node 1 received something for node 3's requests (late_replies +%llu, "
	      "bad_requests +%llu)", LN, (unsigned long long)(cc2.late_replies - cc1.late_replies),
	      (unsigned long long)(cc2.bad_requests - cc1.bad_requests));
	CHECK(tpz_peer_is_up(EP3, 2), "%s: the server dropped node 3's connection over bad NetRPC "
	      "messages", LN);

	/* 3. Forged replies from node 3 to node 1 for a call in flight. */
	nrpc_call_t call;
	d = (struct nrpc_call_desc){ .dst = 2, .op = OP_SLOW };
	CHECK_RC(nrpc_call_async(R, &d, NRPC_WAIT, NULL, NULL, &call), 0);
	uint32_t idx = (uint32_t)call, gen = (uint32_t)(call >> 32);
	uint32_t bogus = 0xbad;
	struct nrpc_hdr fh = { .op = OP_SLOW, .kind = NRPC_REPLY, .status = 0, .call_id = idx,
			       .call_gen = gen + 1, .caller = 1, .arg_len = 4 };
	raw_send(1, &fh, &bogus, 4, NRPC_HDR_SIZE + 4);          /* newer generation */
	fh.call_gen = gen - 1;
	raw_send(1, &fh, &bogus, 4, NRPC_HDR_SIZE + 4);          /* older generation */
	CHECK(BOTH_UNTIL(nt_counters(R).late_replies - cc2.late_replies >= 2, 2000),
	      "%s: replies with a stale generation not counted as late (late_replies +%llu, "
	      "bad_requests +%llu)", LN,
	      (unsigned long long)(nt_counters(R).late_replies - cc2.late_replies),
	      (unsigned long long)(nt_counters(R).bad_requests - cc2.bad_requests));
	struct nrpc_counters cc3 = nt_counters(R);
	fh.call_gen = gen;
	fh.call_id = 16384;    /* the default max_calls: out of range */
	raw_send(1, &fh, &bogus, 4, NRPC_HDR_SIZE + 4);
	fh.call_id = 0xffffffffu;
	raw_send(1, &fh, &bogus, 4, NRPC_HDR_SIZE + 4);
	fh.call_id = idx;
	fh.status = 5;         /* positive status: malformed */
	raw_send(1, &fh, &bogus, 4, NRPC_HDR_SIZE + 4);
	CHECK(BOTH_UNTIL(({ struct nrpc_counters _c = nt_counters(R);
			    (_c.late_replies + _c.bad_requests) - (cc3.late_replies + cc3.bad_requests) >= 3; }),
			 2000),
	      "%s: forged replies (call id out of range, positive status) not counted as dropped",
	      LN);
	struct nrpc_counters cc4 = nt_counters(R);
	CHECK(cc4.calls_completed == cc3.calls_completed, "%s: a forged reply completed the call",
	      LN);
	memset(&res, 0, sizeof(res));
	CHECK_RC(nrpc_wait(R, call, &res), 0);
	CHECK(res.status == 0 && res.replier == 2 && res.res_len == 4 && nt_u32(res.res, 0) == 0xabc,
	      "%s: the call ended with status %d replier %u res_len %u value %#x, want the "
	      "server's 0 / 2 / 4 / 0xabc", LN, res.status, res.replier, res.res_len,
	      nt_u32(res.res, 0));

	/* 4. The server is fine and counted what it refused. */
	d = (struct nrpc_call_desc){ .dst = 2, .op = OP_ECHO, .args = &x, .args_len = 4 };
	CHECK_RC(nrpc_call(R, &d, &res), 0);
	CHECK(res.status == 0 && nt_u32(res.res, 0) == 42, "%s: echo after the bad input: status %d",
	      LN, res.status);
	d = (struct nrpc_call_desc){ .dst = 2, .op = OP_STAT };
	CHECK_RC(nrpc_call(R, &d, &res), 0);
	NOTE("%s: server bad_requests %u late_replies %u", LN, nt_u32(res.res, 0),
	     nt_u32(res.res, 4));
	EXPECT(nt_u32(res.res, 0) >= 15, "%s: the server counted %u bad requests, want at least "
	       "15 (2 unknown ops, 7 answered malformed, 6 unanswerable)", LN, nt_u32(res.res, 0));

	tl_put_u32(srv.wr, 0);
	tl_reap(&srv, 5000);
	nrpc_destroy(R);
	tpz_endpoint_destroy(EP3);
	tpz_endpoint_destroy(EP1);
	printf("t-nrpc-bad-input: %s done\n", LN);
}

int main(int argc, char **argv)
{
	tl_init(argc, argv, 40);
	run(TL_SHM);
	run(TL_TCP);
	return tl_finish();
}
