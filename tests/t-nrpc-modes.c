/*
 * t-nrpc-modes: the four ways a NetRPC caller takes a reply, over shm.
 *
 *   - nrpc_call (blocking): the result is filled in when it returns;
 *   - NRPC_WAIT: several calls in flight, collected with nrpc_wait in any
 *     order; a collected handle is stale afterwards;
 *   - NRPC_CONT: the continuations run on the delivery path, i.e. inside
 *     nrpc_poll on the polling thread (never inside nrpc_call_async or
 *     nrpc_push_cont), and a stack of three (one given to nrpc_call_async,
 *     two pushed) runs last-pushed first, each seeing the same result; a
 *     push after completion is refused;
 *   - NRPC_DEFERRED: the continuations run on a worker thread (not the
 *     poller), in stack order too, and may block: while one sleeps 300 ms
 *     the polling thread completes a blocking call in far less.
 * The counters replies_wait / replies_cont / replies_deferred move by the
 * number of calls of each mode.
 *
 * Server protocol (node 2):
 *   OP_ECHO  (1, fast)     args u32 x          -> status 0, res u32 2x+1
 *   OP_BECHO (2, blocking) args u32 x          -> status 0, res u32 x+1000
 *                          (runs on a server worker: sleeps 5 ms first)
 *   OP_HOLD  (3, fast)     detached, never answered
 *
 * Also: at most 4 continuations stack on one call (docs/netrpc.md): a 5th
 * push is refused and the 4 run last-pushed first; nrpc_destroy with an
 * NRPC_CONT and an NRPC_DEFERRED call in flight runs each continuation
 * once with -ECANCELED before it returns.
 */
#include "nrpc_testlib.h"

#include <stdatomic.h>

#define OP_ECHO  1
#define OP_BECHO 2
#define OP_HOLD  3

/* ---- server ------------------------------------------------------------- */

static void op_echo(struct nrpc_req *req, void *arg)
{
	uint32_t x, y;

	if (req->args_len != 4) {
		nrpc_reply(req, NRPC_EBADARGS, NULL, 0, NULL, 0, NULL, NULL);
		return;
	}
	x = nt_u32(req->args, 0);
	y = 2 * x + 1;
	nrpc_reply(req, 0, &y, 4, NULL, 0, NULL, NULL);
}

static void op_becho(struct nrpc_req *req, void *arg)
{
	uint32_t y;

	usleep(5000);
	y = nt_u32(req->args, 0) + 1000;
	nrpc_reply(req, 0, &y, 4, NULL, 0, NULL, NULL);
}

static struct nrpc_req *held[4];
static int nheld;

static void op_hold(struct nrpc_req *req, void *arg)
{
	if (nheld < 4)
		held[nheld++] = nrpc_req_detach(req);
}

static int server(struct tl_proc *self, void *arg)
{
	struct tpz_config cfg;

	tl_config(&cfg, 2, TL_SHM);
	struct tpz_endpoint *ep = tl_endpoint(&cfg);
	struct nrpc *r = nt_nrpc(ep, NULL);
	nt_register(r, OP_ECHO, op_echo, NULL, NRPC_OP_FAST);
	nt_register(r, OP_BECHO, op_becho, NULL, NRPC_OP_BLOCKING);
	nt_register(r, OP_HOLD, op_hold, NULL, NRPC_OP_FAST);
	tl_put_u32(self->wr, (uint32_t)tl_listen(ep, TL_SHM));
	nt_serve(r, self, 30000, NULL, NULL);
	nrpc_destroy(r);
	tpz_endpoint_destroy(ep);
	return 0;
}

/* ---- client ------------------------------------------------------------- */

static pthread_t main_thread;
static bool in_poll;            /* the main thread is inside nrpc_poll */

struct cont_log {
	_Atomic int n;
	int         order[8];       /* which continuation ran, in order */
	pthread_t   thread[8];
	bool        in_poll[8];
	int         status[8];
	uint32_t    res_len[8], val[8], replier[8];
	int         block_ms;       /* deferred: sleep this long in the first one run */
	_Atomic int finished;       /* deferred: conts that returned */
};

struct cont_arg {
	struct cont_log *log;
	int              tag;
};

static void cont(struct nrpc *r, struct nrpc_result *res, void *arg)
{
	struct cont_arg *a = arg;
	struct cont_log *l = a->log;
	int i = atomic_fetch_add(&l->n, 1);

	if (i < 8) {
		l->order[i] = a->tag;
		l->thread[i] = pthread_self();
		l->in_poll[i] = in_poll && pthread_equal(pthread_self(), main_thread);
		l->status[i] = res->status;
		l->res_len[i] = res->res_len;
		l->val[i] = res->res_len >= 4 ? nt_u32(res->res, 0) : 0;
		l->replier[i] = res->replier;
	}
	if (i == 0 && l->block_ms)
		usleep((useconds_t)l->block_ms * 1000);
	atomic_fetch_add(&l->finished, 1);
}

/* nrpc_poll with in_poll set, so a continuation knows it runs inside it. */
static bool poll_until_n(struct nrpc *r, _Atomic int *n, int want, int ms)
{
	double end = tl_now_ms() + ms;

	while (atomic_load(n) < want) {
		if (tl_now_ms() > end)
			return false;
		in_poll = true;
		int k = nrpc_poll(r, 0);
		in_poll = false;
		CHECK(k >= 0, "nrpc_poll: %d %s", k, tpz_strerror(k));
		if (k == 0)
			tl_idle(nrpc_endpoint(r));
	}
	return true;
}

static struct nrpc_call_desc echo_desc(uint16_t op, const uint32_t *x)
{
	return (struct nrpc_call_desc){ .dst = 2, .op = op, .args = x, .args_len = 4 };
}

int main(int argc, char **argv)
{
	struct tl_proc srv = { .index = 0 };
	struct nrpc_result res;
	int rc;

	tl_init(argc, argv, 40);
	main_thread = pthread_self();
	tl_spawn(&srv, server, NULL);
	int port = (int)tl_get_u32(srv.rd, 5000);
	struct tpz_endpoint *ep = nt_client_ep(1, TL_SHM, 2, port);
	struct nrpc *r = nt_nrpc(ep, NULL);
	struct nrpc_counters c0 = nt_counters(r);

	/* 1. Blocking call. */
	uint32_t x = 7;
	struct nrpc_call_desc d = echo_desc(OP_ECHO, &x);
	memset(&res, 0x5a, sizeof(res));
	CHECK_RC(nrpc_call(r, &d, &res), 0);
	CHECK(res.status == 0, "blocking call: status %d (%s)", res.status, tpz_strerror(res.status));
	CHECK(res.res_len == 4 && nt_u32(res.res, 0) == 15, "blocking call: res_len %u value %u, "
	      "want 4 / 15", res.res_len, nt_u32(res.res, 0));
	CHECK(res.replier == 2, "blocking call: replier %u", res.replier);
	CHECK(res.payload_len == 0 && !res.placed, "blocking call: payload_len %u placed %d",
	      res.payload_len, res.placed);
	/* ... and one served on the server's worker pool. */
	x = 8;
	d = echo_desc(OP_BECHO, &x);
	CHECK_RC(nrpc_call(r, &d, &res), 0);
	CHECK(res.status == 0 && res.res_len == 4 && nt_u32(res.res, 0) == 1008,
	      "blocking op: status %d res_len %u value %u, want 0/4/1008", res.status, res.res_len,
	      nt_u32(res.res, 0));

	/* 2. NRPC_WAIT: three in flight, collected in reverse order. */
	uint32_t wx[3] = { 10, 11, 12 };
	nrpc_call_t wc[3];
	for (int i = 0; i < 3; i++) {
		d = echo_desc(OP_ECHO, &wx[i]);
		CHECK_RC(nrpc_call_async(r, &d, NRPC_WAIT, NULL, NULL, &wc[i]), 0);
	}
	CHECK(wc[0] != wc[1] && wc[1] != wc[2] && wc[0] != wc[2], "three calls share a handle");
	for (int i = 2; i >= 0; i--) {
		memset(&res, 0, sizeof(res));
		CHECK_RC(nrpc_wait(r, wc[i], &res), 0);
		CHECK(res.status == 0 && res.res_len == 4 && nt_u32(res.res, 0) == 2 * wx[i] + 1,
		      "wait call %d: status %d res_len %u value %u, want 0/4/%u", i, res.status,
		      res.res_len, nt_u32(res.res, 0), 2 * wx[i] + 1);
		CHECK(res.replier == 2, "wait call %d: replier %u", i, res.replier);
	}
	rc = nrpc_wait(r, wc[1], &res);
	CHECK(rc < 0, "nrpc_wait on a handle already collected: %d, want an error", rc);

	/* 3. NRPC_CONT: a stack of three, run inside nrpc_poll, last pushed first. */
	static struct cont_log cl;
	struct cont_arg ca[3] = { { &cl, 1 }, { &cl, 2 }, { &cl, 3 } };
	nrpc_call_t cc;
	x = 20;
	d = echo_desc(OP_ECHO, &x);
	CHECK_RC(nrpc_call_async(r, &d, NRPC_CONT, cont, &ca[0], &cc), 0);
	CHECK_RC(nrpc_push_cont(r, cc, cont, &ca[1]), 0);
	CHECK_RC(nrpc_push_cont(r, cc, cont, &ca[2]), 0);
	CHECK(atomic_load(&cl.n) == 0, "a continuation ran before anybody polled");
	CHECK(poll_until_n(r, &cl.n, 3, 5000), "NRPC_CONT: %d of 3 continuations ran in 5 s",
	      atomic_load(&cl.n));
	CHECK(NRPC_POLL_UNTIL(r, false, 50) == false, "settle");
	CHECK(atomic_load(&cl.n) == 3, "NRPC_CONT: %d continuations ran, want 3", atomic_load(&cl.n));
	for (int i = 0; i < 3; i++) {
		CHECK(cl.order[i] == 3 - i, "NRPC_CONT: continuation #%d to run was %d, want %d "
		      "(last pushed first)", i, cl.order[i], 3 - i);
		CHECK(pthread_equal(cl.thread[i], main_thread) && cl.in_poll[i],
		      "NRPC_CONT: continuation %d did not run inside nrpc_poll on the polling thread "
		      "(same thread %d)", cl.order[i], pthread_equal(cl.thread[i], main_thread));
		CHECK(cl.status[i] == 0 && cl.res_len[i] == 4 && cl.val[i] == 41 && cl.replier[i] == 2,
		      "NRPC_CONT: continuation %d saw status %d res_len %u value %u replier %u, "
		      "want 0/4/41/2", cl.order[i], cl.status[i], cl.res_len[i], cl.val[i],
		      cl.replier[i]);
	}
	rc = nrpc_push_cont(r, cc, cont, &ca[0]);
	CHECK(rc < 0, "nrpc_push_cont on a finished call: %d, want an error", rc);

	/* Four stacked, a fifth refused. */
	static struct cont_log fl;
	struct cont_arg fa[5] = { { &fl, 1 }, { &fl, 2 }, { &fl, 3 }, { &fl, 4 }, { &fl, 5 } };
	x = 21;
	CHECK_RC(nrpc_call_async(r, &d, NRPC_CONT, cont, &fa[0], &cc), 0);
	for (int i = 1; i < 4; i++)
		CHECK_RC(nrpc_push_cont(r, cc, cont, &fa[i]), 0);
	rc = nrpc_push_cont(r, cc, cont, &fa[4]);
	CHECK(rc < 0, "a 5th continuation on one call: nrpc_push_cont returned %d, want an error "
	      "(at most 4)", rc);
	CHECK(poll_until_n(r, &fl.n, 4, 5000), "4 stacked continuations: %d ran", atomic_load(&fl.n));
	NRPC_POLL_UNTIL(r, false, 20);
	CHECK(atomic_load(&fl.n) == 4, "4 stacked continuations: %d ran", atomic_load(&fl.n));
	for (int i = 0; i < 4; i++)
		CHECK(fl.order[i] == 4 - i && fl.val[i] == 43, "4 stacked continuations: #%d was %d "
		      "with value %u, want %d / 43", i, fl.order[i], fl.val[i], 4 - i);

	/* 4. NRPC_DEFERRED: on a worker thread, stack order, may block. */
	static struct cont_log dl;
	struct cont_arg da[2] = { { &dl, 1 }, { &dl, 2 } };
	nrpc_call_t dc;
	dl.block_ms = 300;
	x = 30;
	d = echo_desc(OP_ECHO, &x);
	CHECK_RC(nrpc_call_async(r, &d, NRPC_DEFERRED, cont, &da[0], &dc), 0);
	CHECK_RC(nrpc_push_cont(r, dc, cont, &da[1]), 0);
	CHECK(poll_until_n(r, &dl.n, 1, 5000), "NRPC_DEFERRED: no continuation ran in 5 s");
	/* The first continuation is now asleep for 300 ms on its worker: the
	 * delivery path must go on meanwhile. */
	double t0 = tl_now_ms();
	x = 31;
	d = echo_desc(OP_ECHO, &x);
	CHECK_RC(nrpc_call(r, &d, &res), 0);
	double took = tl_now_ms() - t0;
	CHECK(res.status == 0 && nt_u32(res.res, 0) == 63, "call during a blocked deferred "
	      "continuation: status %d value %u", res.status, nt_u32(res.res, 0));
	CHECK(atomic_load(&dl.finished) == 0, "the deferred continuation did not block (it "
	      "finished within %.0f ms)", took);
	CHECK(took < 200, "a blocking call took %.0f ms while a deferred continuation slept: "
	      "the delivery path was blocked", took);
	CHECK(poll_until_n(r, &dl.finished, 2, 5000), "NRPC_DEFERRED: %d of 2 continuations "
	      "finished in 5 s", atomic_load(&dl.finished));
	for (int i = 0; i < 2; i++) {
		CHECK(dl.order[i] == 2 - i, "NRPC_DEFERRED: continuation #%d to run was %d, want %d",
		      i, dl.order[i], 2 - i);
		CHECK(!pthread_equal(dl.thread[i], main_thread), "NRPC_DEFERRED: continuation %d ran "
		      "on the polling thread", dl.order[i]);
		CHECK(dl.status[i] == 0 && dl.res_len[i] == 4 && dl.val[i] == 61 && dl.replier[i] == 2,
		      "NRPC_DEFERRED: continuation %d saw status %d res_len %u value %u replier %u, "
		      "want 0/4/61/2", dl.order[i], dl.status[i], dl.res_len[i], dl.val[i],
		      dl.replier[i]);
	}
	CHECK(pthread_equal(dl.thread[0], dl.thread[1]), "NRPC_DEFERRED: one stack ran on two "
	      "threads");

	/* Counters: 2 blocking + 3 wait + 1 blocking = 6 WAIT, 2 CONT, 1 DEFERRED;
	 * 8 of the 9 calls are OP_ECHO. */
	struct nrpc_counters c1 = nt_counters(r);
	nt_print_counters("client", &c1);
	EXPECT(c1.calls_issued - c0.calls_issued == 9, "calls_issued moved by %llu, want 9",
	       (unsigned long long)(c1.calls_issued - c0.calls_issued));
	EXPECT(c1.calls_completed - c0.calls_completed == 9, "calls_completed moved by %llu, want 9",
	       (unsigned long long)(c1.calls_completed - c0.calls_completed));
	EXPECT(c1.calls_failed == c0.calls_failed, "calls_failed moved by %llu",
	       (unsigned long long)(c1.calls_failed - c0.calls_failed));
	EXPECT(c1.replies_wait - c0.replies_wait == 6, "replies_wait moved by %llu, want 6",
	       (unsigned long long)(c1.replies_wait - c0.replies_wait));
	EXPECT(c1.replies_cont - c0.replies_cont == 2, "replies_cont moved by %llu, want 2",
	       (unsigned long long)(c1.replies_cont - c0.replies_cont));
	EXPECT(c1.replies_deferred - c0.replies_deferred == 1, "replies_deferred moved by %llu, "
	       "want 1", (unsigned long long)(c1.replies_deferred - c0.replies_deferred));
	uint64_t hist[NRPC_HIST_BUCKETS], sum = 0;
	CHECK_RC(nrpc_latency_hist(r, OP_ECHO, hist), 0);
	for (int i = 0; i < NRPC_HIST_BUCKETS; i++)
		sum += hist[i];
	/* One call in 8 is timed (netrpc.h): of the 8 echo calls, one or two
	 * samples (the count runs across all ops). */
	EXPECT(sum >= 1 && sum <= 2, "latency histogram of OP_ECHO holds %llu samples of 8 calls, "
	       "want 1 or 2", (unsigned long long)sum);

	/* nrpc_destroy with calls in flight: -ECANCELED, each continuation once. */
	static struct cont_log xl;
	struct cont_arg xa[2] = { { &xl, 1 }, { &xl, 2 } };
	nrpc_call_t xc;
	d = (struct nrpc_call_desc){ .dst = 2, .op = OP_HOLD, .timeout_ms = -1 };
	CHECK_RC(nrpc_call_async(r, &d, NRPC_CONT, cont, &xa[0], &xc), 0);
	CHECK_RC(nrpc_call_async(r, &d, NRPC_DEFERRED, cont, &xa[1], &xc), 0);
	NRPC_POLL_UNTIL(r, false, 50);
	CHECK(atomic_load(&xl.n) == 0, "a held call ended before nrpc_destroy");
	nrpc_destroy(r);
	CHECK(atomic_load(&xl.finished) == 2, "nrpc_destroy with an NRPC_CONT and an NRPC_DEFERRED "
	      "call in flight: %d continuations had run when it returned, want 2",
	      atomic_load(&xl.finished));
	for (int i = 0; i < 2; i++)
		CHECK(xl.status[i] == -ECANCELED, "nrpc_destroy: continuation %d saw status %d (%s), "
		      "want -ECANCELED", xl.order[i], xl.status[i], tpz_strerror(xl.status[i]));
	CHECK(xl.order[0] + xl.order[1] == 3, "nrpc_destroy: continuations %d and %d ran",
	      xl.order[0], xl.order[1]);

	tl_put_u32(srv.wr, 0);
	tl_reap(&srv, 5000);
	tpz_endpoint_destroy(ep);
	return tl_finish();
}
