/*
 * t-nrpc-mt: calls issued from several threads while another thread drives
 * delivery (netrpc.h: "calls may be issued from any thread"; a thread
 * blocked in nrpc_call drives delivery when nobody else does), over shm.
 *
 * Each round uses a fresh NetRPC instance.  A delivery thread loops in
 * nrpc_progress (which also runs the timer scan); NI issuing threads issue
 * H calls in all (NRPC_CONT, timeout 20 s, yielding on -EAGAIN); a last
 * thread makes blocking nrpc_calls meanwhile.  The server holds the H
 * calls until it has all of them, so they are all in flight at once, then
 * answers them.  Every call must complete exactly once with status 0 and
 * its own result: none may time out (the timeout is 20 s, a round takes a
 * fraction of a second), none may get another call's reply, none may be
 * lost.  calls_timed_out stays 0.
 *
 * Server protocol (node 2):
 *   OP_HOLD (1, fast) args { u32 id }: held until H are held, then all
 *                     answered: status 0, res { u32 id, u32 ~id }
 *   OP_ECHO (2, fast) args { u32 id } -> status 0, res { u32 id, u32 ~id }
 */
#include "nrpc_testlib.h"

#include <stdatomic.h>

#define OP_HOLD 1
#define OP_ECHO 2
#define NI      3u          /* issuing threads */
#define H       15000u      /* calls per round, all in flight at once */
#define ROUNDS  30

/* ---- server ------------------------------------------------------------- */

static struct nrpc_req *held[H];
static uint32_t nheld;

static void reply_id(struct nrpc_req *req)
{
	uint32_t id = nt_u32(req->args, 0);
	uint32_t out[2] = { id, ~id };

	nrpc_reply(req, 0, out, sizeof(out), NULL, 0, NULL, NULL);
}

static void op_hold(struct nrpc_req *req, void *arg)
{
	CHECK(nheld < H, "server: more than %u held", H);
	held[nheld] = nrpc_req_detach(req);
	CHECK(held[nheld], "server: detach");
	nheld++;
}

static void op_echo(struct nrpc_req *req, void *arg)
{
	reply_id(req);
}

static void answer_held(struct nrpc *r, void *arg)
{
	if (nheld < H)
		return;
	for (uint32_t i = 0; i < H; i++) {
		reply_id(held[i]);
		/* netrpc.h does not say who frees a detached request; the library
		 * malloc()s it and never frees it, so the holder does. */
		nrpc_req_free(held[i]);
		held[i] = NULL;
	}
	nheld = 0;
}

static int server(struct tl_proc *self, void *arg)
{
	struct tpz_config cfg;

	tl_config(&cfg, 2, TL_SHM);
	struct tpz_endpoint *ep = tl_endpoint(&cfg);
	struct nrpc *r = nt_nrpc(ep, NULL);
	nt_register(r, OP_HOLD, op_hold, NULL, NRPC_OP_FAST);
	nt_register(r, OP_ECHO, op_echo, NULL, NRPC_OP_FAST);
	tl_put_u32(self->wr, (uint32_t)tl_listen(ep, TL_SHM));
	nt_serve(r, self, 50000, answer_held, NULL);
	nrpc_destroy(r);
	tpz_endpoint_destroy(ep);
	return 0;
}

/* ---- client ------------------------------------------------------------- */

static struct nrpc *R;
static _Atomic bool stop, issued;
static _Atomic uint32_t nthreads_done;   /* issuers and the blocker that returned */
static _Atomic uint32_t ndone, nbad, ntimedout, nmixed, nblocking, nblocking_bad;
static _Atomic uint16_t times[H];
static uint32_t ids[H];
static _Atomic uint32_t next_id;

static void on_reply(struct nrpc *r, struct nrpc_result *res, void *arg)
{
	uint32_t id = *(uint32_t *)arg;

	atomic_fetch_add(&times[id], 1);
	if (res->status != 0 || res->res_len != 8 || nt_u32(res->res, 0) != id ||
	    nt_u32(res->res, 4) != ~id) {
		if (res->status == -ETIMEDOUT)
			atomic_fetch_add(&ntimedout, 1);
		else if (res->status == 0)
			atomic_fetch_add(&nmixed, 1);
		if (atomic_fetch_add(&nbad, 1) < 5)
			NOTE("call %u (completion #%u of it): status %d (%s) res_len %u res {%#x, %#x}",
			     id, atomic_load(&times[id]), res->status, tpz_strerror(res->status),
			     res->res_len, nt_u32(res->res, 0), nt_u32(res->res, 4));
	}
	atomic_fetch_add(&ndone, 1);
}

static void *driver(void *arg)
{
	while (!atomic_load(&stop)) {
		int n = nrpc_progress(R, 1);
		if (n == -EBUSY)
			sched_yield();
		else
			CHECK(n >= 0, "nrpc_progress: %d %s", n, tpz_strerror(n));
	}
	return NULL;
}

static void *issuer(void *arg)
{
	double end = tl_now_ms() + 5000;

	for (;;) {
		uint32_t id = atomic_fetch_add(&next_id, 1);
		if (id >= H)
			return NULL;
		ids[id] = id;
		struct nrpc_call_desc d = { .dst = 2, .op = OP_HOLD, .args = &ids[id], .args_len = 4,
					    .timeout_ms = 20000 };
		nrpc_call_t c;
		int rc;
		while ((rc = nrpc_call_async(R, &d, NRPC_CONT, on_reply, &ids[id], &c)) == -EAGAIN) {
			CHECK(tl_now_ms() < end, "issuer: -EAGAIN for 5 s (call records lost?)");
			sched_yield();
		}
		CHECK(rc == 0, "issuer: nrpc_call_async %u: %d %s", id, rc, tpz_strerror(rc));
	}
}

static void *issuer_main(void *arg)
{
	issuer(arg);
	atomic_fetch_add(&nthreads_done, 1);
	return NULL;
}

static void *blocker(void *arg)
{
	for (uint32_t i = 0; !atomic_load(&issued) && i < 100000; i++) {
		uint32_t id = 0x80000000u + i;
		struct nrpc_call_desc d = { .dst = 2, .op = OP_ECHO, .args = &id, .args_len = 4,
					    .timeout_ms = 20000 };
		struct nrpc_result res;
		int rc = nrpc_call(R, &d, &res);
		CHECK(rc == 0, "blocking nrpc_call: %d %s", rc, tpz_strerror(rc));
		atomic_fetch_add(&nblocking, 1);
		if (res.status != 0 || nt_u32(res.res, 0) != id) {
			if (atomic_fetch_add(&nblocking_bad, 1) == 0)
				NOTE("blocking call %u: status %d (%s) value %#x", i, res.status,
				     tpz_strerror(res.status), nt_u32(res.res, 0));
		}
	}
	atomic_fetch_add(&nthreads_done, 1);
	return NULL;
}

int main(int argc, char **argv)
{
	struct tl_proc srv = { .index = 0 };
	pthread_t td, ti[NI], tb;

	tl_init(argc, argv, 40);
	tl_spawn(&srv, server, NULL);
	int port = (int)tl_get_u32(srv.rd, 5000);
	struct tpz_endpoint *ep = nt_client_ep(1, TL_SHM, 2, port);
	struct nrpc_config ncfg;
	nrpc_config_default(&ncfg);
	ncfg.timeout_ms = 20000;
	ncfg.credits = 16384;

	for (int round = 0; round < ROUNDS; round++) {
		R = nt_nrpc(ep, &ncfg);
		atomic_store(&stop, false);
		atomic_store(&issued, false);
		atomic_store(&next_id, 0);
		atomic_store(&ndone, 0);
		for (uint32_t i = 0; i < H; i++)
			atomic_store(&times[i], 0);
		double t0 = tl_now_ms();
		CHECK(pthread_create(&td, NULL, driver, NULL) == 0, "pthread_create");
		CHECK(pthread_create(&tb, NULL, blocker, NULL) == 0, "pthread_create");
		atomic_store(&nthreads_done, 0);
		for (uint32_t i = 0; i < NI; i++)
			CHECK(pthread_create(&ti[i], NULL, issuer_main, NULL) == 0, "pthread_create");
		/* Bounded joins: a thread stuck in the library fails the test. */
		CHECK(WAIT_UNTIL(atomic_load(&next_id) >= H && atomic_load(&nthreads_done) >= NI, 10000),
		      "round %d: the issuing threads did not finish in 10 s", round);
		for (uint32_t i = 0; i < NI; i++)
			pthread_join(ti[i], NULL);
		atomic_store(&issued, true);
		CHECK(WAIT_UNTIL(atomic_load(&nthreads_done) >= NI + 1, 5000), "round %d: the thread in "
		      "a blocking nrpc_call did not return within 5 s (its call was lost)", round);
		pthread_join(tb, NULL);
		bool all = WAIT_UNTIL(atomic_load(&ndone) >= H, 5000);
		usleep(20000);
		atomic_store(&stop, true);
		pthread_join(td, NULL);
		struct nrpc_counters c = nt_counters(R);
		nt_print_counters("client", &c);
		CHECK(atomic_load(&nbad) == 0, "round %d: %u of %u calls issued from %u threads ended "
		      "badly: %u with -ETIMEDOUT although the timeout is 20 s (the round took %.0f "
		      "ms), %u with another call's result", round, atomic_load(&nbad), H, NI,
		      atomic_load(&ntimedout), tl_now_ms() - t0, atomic_load(&nmixed));
		CHECK(all, "round %d: %u of %u calls completed (5 s after the last was issued: calls "
		      "were lost)", round, atomic_load(&ndone), H);
		for (uint32_t id = 0; id < H; id++)
			CHECK(atomic_load(&times[id]) == 1, "round %d: call %u completed %u times", round,
			      id, atomic_load(&times[id]));
		CHECK(atomic_load(&nblocking_bad) == 0, "round %d: %u of %u blocking calls ended badly",
		      round, atomic_load(&nblocking_bad), atomic_load(&nblocking));
		CHECK(c.calls_timed_out == 0, "round %d: calls_timed_out is %llu", round,
		      (unsigned long long)c.calls_timed_out);
		nrpc_destroy(R);
	}
	printf("t-nrpc-mt: %d rounds of %u calls from %u threads, %u blocking calls\n", ROUNDS, H, NI,
	       atomic_load(&nblocking));
	tl_put_u32(srv.wr, 0);
	tl_reap(&srv, 5000);
	tpz_endpoint_destroy(ep);
	return tl_finish();
}
