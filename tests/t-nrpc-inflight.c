/*
 * t-nrpc-inflight: 10 000 calls in flight at once from one caller to one
 * server, over shm and over tcp.
 *
 * The server holds (nrpc_req_detach) every request until it holds all N,
 * so no reply can come before the last call is issued: when the issue loop
 * ends, nothing may have completed, and N calls are in flight together.
 * The calls are issued back to back with nrpc_call_async, polling and
 * retrying on -EAGAIN (ring space); half are NRPC_CONT (a continuation
 * records the result) and half NRPC_WAIT (collected with nrpc_wait once
 * the continuations have all run).  The server then answers them in a
 * scrambled order.  Every call completes exactly once with its own result
 * (the id it sent, transformed); the counters add up.
 *
 * Server protocol (node 2):
 *   OP_HOLD (1, fast)  args { u32 id, u32 salt }
 *        held until N requests are held, then answered (order: a stride
 *        permutation) with status 0, res { u32 id, u32 id * 7 + salt }
 *   The server writes N on the pipe once it held them all.
 *
 * The client's NetRPC config allows the N calls in flight to one peer
 * (max_calls and credits 16384; the defaults allow 8192 per peer).
 */
#include "nrpc_testlib.h"

#define OP_HOLD 1
#define N       10000u
#define SALT    0x1234u

/* ---- server ------------------------------------------------------------- */

static struct nrpc_req *held[N];
static uint32_t nheld;
static bool answered, told;

static void op_hold(struct nrpc_req *req, void *arg)
{
	CHECK(nheld < N, "server: more than %u requests", N);
	CHECK(req->args_len == 8, "server: args_len %u", req->args_len);
	held[nheld] = nrpc_req_detach(req);
	CHECK(held[nheld] != NULL, "server: nrpc_req_detach failed");
	nheld++;
}

static void answer_all(struct nrpc *r, void *arg)
{
	struct tl_proc *self = arg;

	if (answered || nheld < N)
		return;
	answered = true;
	/* 7919 is prime, so i * 7919 mod N visits every index once. */
	for (uint32_t i = 0; i < N; i++) {
		struct nrpc_req *q = held[(uint64_t)i * 7919 % N];
		uint32_t id = nt_u32(q->args, 0), salt = nt_u32(q->args, 4);
		uint32_t out[2] = { id, id * 7 + salt };
		int rc = nrpc_reply(q, 0, out, 8, NULL, 0, NULL, NULL);
		CHECK(rc == 0, "server: nrpc_reply %u: %d %s", i, rc, tpz_strerror(rc));
		/* netrpc.h does not say who frees a detached request; the library
		 * malloc()s it and never frees it, so the holder does. */
		nrpc_req_free(q);
		held[(uint64_t)i * 7919 % N] = NULL;
	}
	if (!told) {
		told = true;
		tl_put_u32(self->wr, nheld);
	}
}

static int server(struct tl_proc *self, void *arg)
{
	enum tl_link link = (enum tl_link)(intptr_t)arg;
	struct tpz_config cfg;

	tl_config(&cfg, 2, link);
	struct tpz_endpoint *ep = tl_endpoint(&cfg);
	struct nrpc *r = nt_nrpc(ep, NULL);
	nt_register(r, OP_HOLD, op_hold, NULL, NRPC_OP_FAST);
	tl_put_u32(self->wr, (uint32_t)tl_listen(ep, link));
	nt_serve(r, self, 50000, answer_all, self);
	nrpc_destroy(r);
	tpz_endpoint_destroy(ep);
	return 0;
}

/* ---- client ------------------------------------------------------------- */

static uint16_t seen[N];
static uint32_t got[N];
static int bad_status[N];
static uint32_t ncont;

struct slot { uint32_t id; };
static struct slot slots[N];

static void on_reply(struct nrpc *r, struct nrpc_result *res, void *arg)
{
	struct slot *s = arg;

	seen[s->id]++;
	ncont++;
	bad_status[s->id] = res->status;
	got[s->id] = res->res_len == 8 && nt_u32(res->res, 0) == s->id ? nt_u32(res->res, 4)
								      : UINT32_MAX;
}

static void run(enum tl_link link)
{
	const char *ln = tl_link_name(link);
	struct tl_proc srv = { .index = 0 };
	static nrpc_call_t calls[N];
	static uint32_t args[N][2];

	memset(seen, 0, sizeof(seen));
	memset(got, 0xff, sizeof(got));
	memset(bad_status, 0, sizeof(bad_status));
	ncont = 0;
	tl_spawn(&srv, server, (void *)(intptr_t)link);
	int port = (int)tl_get_u32(srv.rd, 5000);
	struct tpz_endpoint *ep = nt_client_ep(1, link, 2, port);
	struct nrpc_config ncfg;
	nrpc_config_default(&ncfg);
	ncfg.max_calls = 16384;
	ncfg.credits = 16384;
	ncfg.timeout_ms = 30000;      /* slow machines, sanitizers: no timeouts here */
	struct nrpc *r = nt_nrpc(ep, &ncfg);
	struct nrpc_counters c0 = nt_counters(r);

	double t0 = tl_now_ms(), end = t0 + 20000;
	uint32_t eagain = 0;
	for (uint32_t id = 0; id < N; id++) {
		args[id][0] = id;
		args[id][1] = SALT;
		slots[id].id = id;
		struct nrpc_call_desc d = { .dst = 2, .op = OP_HOLD, .args = args[id], .args_len = 8 };
		bool cont = id % 2 == 0;
		int rc;
		for (;;) {
			rc = nrpc_call_async(r, &d, cont ? NRPC_CONT : NRPC_WAIT, cont ? on_reply : NULL,
					     cont ? &slots[id] : NULL, &calls[id]);
			if (rc != -EAGAIN)
				break;
			eagain++;
			CHECK(tl_now_ms() < end, "%s: call %u still refused with -EAGAIN after 20 s", ln,
			      id);
			int n = nrpc_poll(r, 0);
			CHECK(n >= 0, "nrpc_poll: %d", n);
			if (n == 0)
				tl_idle(ep);
		}
		CHECK(rc == 0, "%s: nrpc_call_async %u: %d %s", ln, id, rc, tpz_strerror(rc));
	}
	double t_issued = tl_now_ms();
	struct nrpc_counters c1 = nt_counters(r);
	CHECK(ncont == 0 && c1.calls_completed == c0.calls_completed, "%s: %u continuations ran, "
	      "%llu calls completed before the server held all %u requests", ln, ncont,
	      (unsigned long long)(c1.calls_completed - c0.calls_completed), N);
	CHECK(c1.calls_issued - c0.calls_issued == N, "%s: calls_issued moved by %llu, want %u", ln,
	      (unsigned long long)(c1.calls_issued - c0.calls_issued), N);

	/* The server holds all N now (or soon); then it answers. */
	uint32_t held_n = nt_get_u32(r, srv.rd, 20000);
	CHECK(held_n == N, "%s: the server held %u requests at once, want %u", ln, held_n, N);
	CHECK(NRPC_POLL_UNTIL(r, ncont >= N / 2, 20000), "%s: %u of %u continuations ran", ln,
	      ncont, N / 2);
	for (uint32_t id = 1; id < N; id += 2) {
		struct nrpc_result res;
		memset(&res, 0, sizeof(res));
		CHECK_RC(nrpc_wait(r, calls[id], &res), 0);
		seen[id]++;
		bad_status[id] = res.status;
		got[id] = res.res_len == 8 && nt_u32(res.res, 0) == id ? nt_u32(res.res, 4)
								       : UINT32_MAX;
	}
	double t_done = tl_now_ms();
	NRPC_POLL_UNTIL(r, false, 100);   /* anything extra would show now */
	for (uint32_t id = 0; id < N; id++) {
		CHECK(seen[id] == 1, "%s: call %u (%s) completed %u times", ln, id,
		      id % 2 ? "NRPC_WAIT" : "NRPC_CONT", seen[id]);
		CHECK(bad_status[id] == 0, "%s: call %u: status %d (%s)", ln, id, bad_status[id],
		      tpz_strerror(bad_status[id]));
		CHECK(got[id] == id * 7 + SALT, "%s: call %u: result %#x, want %#x (a reply for "
		      "another call?)", ln, id, got[id], id * 7 + SALT);
	}
	CHECK(ncont == N / 2, "%s: %u continuations ran, want %u", ln, ncont, N / 2);
	struct nrpc_counters c2 = nt_counters(r);
	nt_print_counters(ln, &c2);
	EXPECT(c2.calls_completed - c0.calls_completed == N, "%s: calls_completed moved by %llu",
	       ln, (unsigned long long)(c2.calls_completed - c0.calls_completed));
	EXPECT(c2.replies_cont - c0.replies_cont == N / 2 && c2.replies_wait - c0.replies_wait == N / 2,
	       "%s: replies_cont +%llu replies_wait +%llu, want %u each", ln,
	       (unsigned long long)(c2.replies_cont - c0.replies_cont),
	       (unsigned long long)(c2.replies_wait - c0.replies_wait), N / 2);
	EXPECT(c2.calls_failed == c0.calls_failed && c2.late_replies == c0.late_replies,
	       "%s: calls_failed +%llu late_replies +%llu", ln,
	       (unsigned long long)(c2.calls_failed - c0.calls_failed),
	       (unsigned long long)(c2.late_replies - c0.late_replies));
	printf("t-nrpc-inflight: %s: %u calls issued in %.0f ms (%u x -EAGAIN), all answered "
	       "%.0f ms later\n", ln, N, t_issued - t0, eagain, t_done - t_issued);

	tl_put_u32(srv.wr, 0);
	tl_reap(&srv, 5000);
	nrpc_destroy(r);
	tpz_endpoint_destroy(ep);
}

int main(int argc, char **argv)
{
	tl_init(argc, argv, 100);
	run(TL_SHM);
	run(TL_TCP);
	return tl_finish();
}
