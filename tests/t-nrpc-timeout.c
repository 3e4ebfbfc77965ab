/*
 * t-nrpc-timeout: timeouts, cancellation and retry, over shm.
 *
 *   - a call whose reply comes after its timeout (timeout 50 ms, reply with
 *     a payload after 200 ms) ends with -ETIMEDOUT after about 50 ms, for a
 *     blocking call, an NRPC_WAIT call and an NRPC_CONT call (whose
 *     continuation runs once); the late reply, which certainly arrives
 *     afterwards, is dropped: the reply_buf keeps its canary, the client's
 *     engine refuses the payload (ipt_hits does not move, ipt_misses or
 *     ipt_drops does), calls_timed_out and late_replies move by one per call;
 *   - nrpc_cancel ends a call at once with -ECANCELED; its late reply does
 *     not touch the reply buffer either; a second cancel is -ENOENT;
 *   - an idempotent op (nrpc_set_idempotent on the client) whose first
 *     request the server drops succeeds through a retransmission (the server
 *     sees NRPC_F_RETRY on it), its payload in the reply_buf; counters.retries
 *     moves by one;
 *   - an idempotent op never answered is sent 1 + cfg.retries times and
 *     then fails with -ETIMEDOUT, each attempt bounded by the call's own
 *     timeout (100 ms: the whole call well under a second, although the
 *     instance's default timeout is 2 s);
 *   - a non-idempotent op never answered is sent once and times out.
 *
 * Server protocol (node 2):
 *   OP_LATE  (1, fast)  args { u32 delay_ms, u32 seed, u32 len }
 *        detached; answered delay_ms later with status 0, res { u32 seed },
 *        payload len bytes of tl_fill(seed); right after sending that reply
 *        the server writes seed on the pipe
 *   OP_IDEM  (2, fast)  args { u32 key, u32 mode }
 *        counts the transmission for key; mode 0: a request without
 *        NRPC_F_RETRY is dropped (detached, never answered), a retransmission
 *        is answered with status 0, res { u32 key + 1, u32 req flags,
 *        u32 count }, payload 4096 bytes of tl_fill(key); mode 1: never
 *        answered
 *   OP_DROP  (3, fast)  args { u32 key } counted, never answered
 *   OP_COUNT (4, fast)  args { u32 key } -> res { u32 transmissions seen }
 */
#include "nrpc_testlib.h"

#define OP_LATE  1
#define OP_IDEM  2
#define OP_DROP  3
#define OP_COUNT 4

#define CANARY   0x77

/* ---- server ------------------------------------------------------------- */

#define MAXLATE 16
static struct { struct nrpc_req *req; double due; } late[MAXLATE];
static struct nrpc_req *dropped[64];
static uint32_t ndropped;
static uint32_t count[64];

static void keep_dropped(struct nrpc_req *req)
{
	struct nrpc_req *q = nrpc_req_detach(req);

	CHECK(q, "server: nrpc_req_detach failed");
	CHECK(ndropped < 64, "server: too many dropped requests");
	dropped[ndropped++] = q;      /* never answered */
}

static void op_late(struct nrpc_req *req, void *arg)
{
	CHECK(req->args_len == 12, "server: args_len %u", req->args_len);
	for (int i = 0; i < MAXLATE; i++) {
		if (late[i].req)
			continue;
		late[i].req = nrpc_req_detach(req);
		CHECK(late[i].req, "server: nrpc_req_detach failed");
		late[i].due = tl_now_ms() + nt_u32(req->args, 0);
		return;
	}
	CHECK(0, "server: too many late requests");
}

static void late_replies(struct nrpc *r, void *arg)
{
	struct tl_proc *self = arg;

	for (int i = 0; i < MAXLATE; i++) {
		struct nrpc_req *q = late[i].req;
		if (!q || tl_now_ms() < late[i].due)
			continue;
		uint32_t seed = nt_u32(q->args, 4), len = nt_u32(q->args, 8);
		struct tpz_payload pl;
		CHECK_RC(tpz_payload_alloc(nrpc_endpoint(r), &pl, len), 0);
		tl_fill_payload(&pl, len, seed);
		int rc = nrpc_reply(q, 0, &seed, 4, &pl, 0, NULL, NULL);
		CHECK(rc == 0, "server: late nrpc_reply: %d %s", rc, tpz_strerror(rc));
		/* netrpc.h does not say who frees a detached request; the library
		 * malloc()s it and never frees it, so the holder does. */
		nrpc_req_free(q);
		late[i].req = NULL;
		/* Make sure it left before we say so. */
		NRPC_POLL_UNTIL(r, false, 5);
		tl_put_u32(self->wr, seed);
	}
}

static void op_idem(struct nrpc_req *req, void *arg)
{
	uint32_t key = nt_u32(req->args, 0) % 64, mode = nt_u32(req->args, 4);

	count[key]++;
	if (mode == 1 || !(req->flags & NRPC_F_RETRY)) {
		keep_dropped(req);
		return;
	}
	uint32_t out[3] = { nt_u32(req->args, 0) + 1, req->flags, count[key] };
	struct tpz_payload pl;
	CHECK_RC(tpz_payload_alloc(nrpc_endpoint(req->r), &pl, 4096), 0);
	tl_fill_payload(&pl, 4096, nt_u32(req->args, 0));
	int rc = nrpc_reply(req, 0, out, sizeof(out), &pl, 0, NULL, NULL);
	CHECK(rc == 0, "server: nrpc_reply: %d", rc);
}

static void op_drop(struct nrpc_req *req, void *arg)
{
	count[nt_u32(req->args, 0) % 64]++;
	keep_dropped(req);
}

static void op_count(struct nrpc_req *req, void *arg)
{
	uint32_t n = count[nt_u32(req->args, 0) % 64];

	nrpc_reply(req, 0, &n, 4, NULL, 0, NULL, NULL);
}

static int server(struct tl_proc *self, void *arg)
{
	struct tpz_config cfg;

	tl_config(&cfg, 2, TL_SHM);
	struct tpz_endpoint *ep = tl_endpoint(&cfg);
	struct nrpc *r = nt_nrpc(ep, NULL);
	nt_register(r, OP_LATE, op_late, NULL, NRPC_OP_FAST);
	nt_register(r, OP_IDEM, op_idem, NULL, NRPC_OP_FAST);
	nt_register(r, OP_DROP, op_drop, NULL, NRPC_OP_FAST);
	nt_register(r, OP_COUNT, op_count, NULL, NRPC_OP_FAST);
	tl_put_u32(self->wr, (uint32_t)tl_listen(ep, TL_SHM));
	nt_serve(r, self, 40000, late_replies, self);
	nrpc_destroy(r);
	tpz_endpoint_destroy(ep);
	return 0;
}

/* ---- client ------------------------------------------------------------- */

static struct tl_proc srv = { .index = 0 };
static struct nrpc *R;
static struct tpz_endpoint *EP;

static uint32_t count_of(uint32_t key)
{
	struct nrpc_call_desc d = { .dst = 2, .op = OP_COUNT, .args = &key, .args_len = 4 };
	struct nrpc_result res;

	CHECK_RC(nrpc_call(R, &d, &res), 0);
	CHECK(res.status == 0 && res.res_len == 4, "OP_COUNT: status %d", res.status);
	return nt_u32(res.res, 0);
}

/* Wait until the server says it sent the late reply for seed, then until
 * our NetRPC has dropped it (late_replies moved past `late0`). */
static void await_late(uint32_t seed, uint64_t late0, const char *what)
{
	uint32_t s = nt_get_u32(R, srv.rd, 5000);

	CHECK(s == seed, "%s: the server sent the late reply for %#x, want %#x", what, s, seed);
	CHECK(NRPC_POLL_UNTIL(R, nt_counters(R).late_replies > late0, 3000),
	      "%s: the late reply was not counted in late_replies within 3 s", what);
}

static int cont_calls, cont_status;
static void on_cont(struct nrpc *r, struct nrpc_result *res, void *arg)
{
	cont_calls++;
	cont_status = res->status;
}

int main(int argc, char **argv)
{
	struct nrpc_result res;
	enum { BLEN = 16384, PLEN = 8192 };
	static uint8_t buf[BLEN];
	struct tpz_payload bpl = nt_buf_payload(buf, BLEN);

	tl_init(argc, argv, 40);
	tl_spawn(&srv, server, NULL);
	int port = (int)tl_get_u32(srv.rd, 5000);
	EP = nt_client_ep(1, TL_SHM, 2, port);
	struct nrpc_config ncfg;
	nrpc_config_default(&ncfg);
	ncfg.timeout_ms = 2000;     /* calls below give their own, shorter timeouts */
	ncfg.retries = 2;
	R = nt_nrpc(EP, &ncfg);

	/* 1. Late reply, three ways to wait. */
	for (int way = 0; way < 3; way++) {
		static const char *names[] = { "blocking call", "NRPC_WAIT call", "NRPC_CONT call" };
		const char *what = names[way];
		uint32_t seed = 0x500 + (uint32_t)way;
		uint32_t args[3] = { 200, seed, PLEN };
		struct nrpc_call_desc d = { .dst = 2, .op = OP_LATE, .args = args, .args_len = 12,
					    .reply_buf = &bpl, .timeout_ms = 50 };
		struct nrpc_counters c0 = nt_counters(R);
		struct tpz_counters t0 = tl_counters(EP);
		nrpc_call_t call;

		memset(buf, CANARY, BLEN);
		memset(&res, 0, sizeof(res));
		double start = tl_now_ms();
		if (way == 0) {
			CHECK_RC(nrpc_call(R, &d, &res), 0);
		} else if (way == 1) {
			CHECK_RC(nrpc_call_async(R, &d, NRPC_WAIT, NULL, NULL, &call), 0);
			CHECK_RC(nrpc_wait(R, call, &res), 0);
		} else {
			cont_calls = 0;
			CHECK_RC(nrpc_call_async(R, &d, NRPC_CONT, on_cont, NULL, &call), 0);
			CHECK(NRPC_POLL_UNTIL(R, cont_calls > 0, 3000), "%s: no continuation in 3 s",
			      what);
			res.status = cont_status;
		}
		double took = tl_now_ms() - start;
		CHECK(res.status == -ETIMEDOUT, "%s: status %d (%s), want -ETIMEDOUT", what,
		      res.status, tpz_strerror(res.status));
		CHECK(took >= 45 && took < 190, "%s: timed out after %.0f ms, timeout 50 ms (the "
		      "reply comes at 200 ms)", what, took);
		if (way < 2)
			CHECK(res.payload_len == 0 && !res.placed, "%s: timed out with payload_len %u "
			      "placed %d", what, res.payload_len, res.placed);
		await_late(seed, c0.late_replies, what);
		NRPC_POLL_UNTIL(R, false, 20);
		CHECK(tl_all_bytes(buf, BLEN, CANARY), "%s: the late reply wrote into the reply "
		      "buffer of a call that had timed out (first bytes %02x %02x)", what, buf[0],
		      buf[1]);
		if (way == 2)
			CHECK(cont_calls == 1, "%s: the continuation ran %d times", what, cont_calls);
		struct nrpc_counters c1 = nt_counters(R);
		struct tpz_counters t1 = tl_counters(EP);
		CHECK(c1.calls_timed_out - c0.calls_timed_out == 1, "%s: calls_timed_out moved by "
		      "%llu", what, (unsigned long long)(c1.calls_timed_out - c0.calls_timed_out));
		CHECK(c1.late_replies - c0.late_replies == 1, "%s: late_replies moved by %llu", what,
		      (unsigned long long)(c1.late_replies - c0.late_replies));
		CHECK(c1.calls_failed - c0.calls_failed == 1, "%s: calls_failed moved by %llu", what,
		      (unsigned long long)(c1.calls_failed - c0.calls_failed));
		CHECK(t1.ipt_hits == t0.ipt_hits, "%s: the engine placed the late payload (ipt_hits "
		      "+%llu)", what, (unsigned long long)(t1.ipt_hits - t0.ipt_hits));
		CHECK((t1.ipt_misses + t1.ipt_drops) - (t0.ipt_misses + t0.ipt_drops) == 1,
		      "%s: the late payload's token was not refused once by the engine (misses "
		      "+%llu, drops +%llu)", what, (unsigned long long)(t1.ipt_misses - t0.ipt_misses),
		      (unsigned long long)(t1.ipt_drops - t0.ipt_drops));
	}

	/* 2. Cancel. */
	{
		uint32_t args[3] = { 100, 0x600, PLEN };
		struct nrpc_call_desc d = { .dst = 2, .op = OP_LATE, .args = args, .args_len = 12,
					    .reply_buf = &bpl, .timeout_ms = 5000 };
		struct nrpc_counters c0 = nt_counters(R);
		nrpc_call_t call;
		memset(buf, CANARY, BLEN);
		CHECK_RC(nrpc_call_async(R, &d, NRPC_WAIT, NULL, NULL, &call), 0);
		CHECK_RC(nrpc_cancel(R, call), 0);
		CHECK_RC(nrpc_cancel(R, call), -ENOENT);
		double start = tl_now_ms();
		CHECK_RC(nrpc_wait(R, call, &res), 0);
		CHECK(tl_now_ms() - start < 50, "nrpc_wait after nrpc_cancel took %.0f ms",
		      tl_now_ms() - start);
		CHECK(res.status == -ECANCELED, "cancelled call: status %d (%s), want -ECANCELED",
		      res.status, tpz_strerror(res.status));
		await_late(0x600, c0.late_replies, "cancelled call");
		NRPC_POLL_UNTIL(R, false, 20);
		CHECK(tl_all_bytes(buf, BLEN, CANARY), "the late reply wrote into the reply buffer of "
		      "a cancelled call");
	}

	/* 3. Idempotent op, first request dropped: a retransmission succeeds. */
	CHECK_RC(nrpc_set_idempotent(R, OP_IDEM, true), 0);
	{
		uint32_t args[2] = { 10, 0 };
		struct nrpc_call_desc d = { .dst = 2, .op = OP_IDEM, .args = args, .args_len = 8,
					    .reply_buf = &bpl, .timeout_ms = 100 };
		struct nrpc_counters c0 = nt_counters(R);
		memset(buf, CANARY, BLEN);
		double start = tl_now_ms();
		CHECK_RC(nrpc_call(R, &d, &res), 0);
		double took = tl_now_ms() - start;
		struct nrpc_counters c1 = nt_counters(R);
		CHECK(res.status == 0, "idempotent call, first request dropped: status %d (%s) after "
		      "%.0f ms, want success through a retransmission", res.status,
		      tpz_strerror(res.status), took);
		CHECK(res.res_len == 12 && nt_u32(res.res, 0) == 11, "idempotent call: res_len %u "
		      "value %u", res.res_len, nt_u32(res.res, 0));
		CHECK(nt_u32(res.res, 4) & NRPC_F_RETRY, "idempotent call: the answered request had "
		      "flags %#x, without NRPC_F_RETRY", nt_u32(res.res, 4));
		CHECK(nt_u32(res.res, 8) == 2, "idempotent call: answered at transmission %u, want 2",
		      nt_u32(res.res, 8));
		CHECK(res.placed && res.payload_len == 4096 && tl_verify(buf, 4096, 10, 0) < 0 &&
		      tl_all_bytes(buf + 4096, BLEN - 4096, CANARY), "idempotent call: payload of the "
		      "retransmission not in the reply_buf (placed %d len %u)", res.placed,
		      res.payload_len);
		CHECK(took >= 90 && took < 1000, "idempotent call: took %.0f ms with a 100 ms timeout",
		      took);
		CHECK(c1.retries - c0.retries == 1, "counters.retries moved by %llu, want 1",
		      (unsigned long long)(c1.retries - c0.retries));
		CHECK(c1.calls_timed_out == c0.calls_timed_out, "a retried call counted as timed out");
	}

	/* 4. Idempotent op never answered: 1 + retries transmissions, then -ETIMEDOUT,
	 *    each attempt bounded by the call's own timeout. */
	{
		uint32_t args[2] = { 20, 1 };
		struct nrpc_call_desc d = { .dst = 2, .op = OP_IDEM, .args = args, .args_len = 8,
					    .timeout_ms = 100 };
		struct nrpc_counters c0 = nt_counters(R);
		double start = tl_now_ms();
		CHECK_RC(nrpc_call(R, &d, &res), 0);
		double took = tl_now_ms() - start;
		struct nrpc_counters c1 = nt_counters(R);
		CHECK(res.status == -ETIMEDOUT, "idempotent call never answered: status %d (%s)",
		      res.status, tpz_strerror(res.status));
		EXPECT(c1.retries - c0.retries == 2, "idempotent call never answered: retries moved "
		       "by %llu, want cfg.retries = 2", (unsigned long long)(c1.retries - c0.retries));
		uint32_t n = count_of(20);
		EXPECT(n == 3, "idempotent call never answered: the server saw %u transmissions, "
		       "want 3", n);
		EXPECT(took >= 250 && took < 1000, "idempotent call never answered, timeout 100 ms, "
		       "2 retries: ended after %.0f ms, want about 300 ms (each retransmission waited "
		       "the instance default %d ms instead of the call's timeout?)", took,
		       ncfg.timeout_ms);
	}

	/* 5. Non-idempotent op never answered: one transmission only. */
	{
		uint32_t key = 30;
		struct nrpc_call_desc d = { .dst = 2, .op = OP_DROP, .args = &key, .args_len = 4,
					    .timeout_ms = 100 };
		struct nrpc_counters c0 = nt_counters(R);
		double start = tl_now_ms();
		CHECK_RC(nrpc_call(R, &d, &res), 0);
		double took = tl_now_ms() - start;
		struct nrpc_counters c1 = nt_counters(R);
		CHECK(res.status == -ETIMEDOUT && took >= 90 && took < 500, "non-idempotent call never "
		      "answered: status %d after %.0f ms", res.status, took);
		CHECK(c1.retries == c0.retries, "a non-idempotent call was retransmitted");
		NRPC_POLL_UNTIL(R, false, 150);
		CHECK(count_of(30) == 1, "the server saw %u transmissions of a non-idempotent call",
		      count_of(30));
	}

	struct nrpc_counters c = nt_counters(R);
	nt_print_counters("client", &c);
	tl_put_u32(srv.wr, 0);
	tl_reap(&srv, 5000);
	nrpc_destroy(R);
	tpz_endpoint_destroy(EP);
	return tl_finish();
}
