/*
 * t-nrpc-peer-kill: the server process is SIGKILLed while the client has
 * many calls in flight to it (over shm, then over tcp).  The server holds
 * every request and never answers, so all of them are in flight when it
 * dies.  Every call, whatever its mode (NRPC_WAIT with and without a
 * reply_buf, NRPC_CONT, NRPC_DEFERRED, and a blocking nrpc_call made by a
 * second thread), fails exactly once with -ECONNRESET, promptly: within
 * 3 s of the kill, although the calls' timeout is 20 s (so nothing times
 * out); the reply buffers keep their canary; afterwards a call to the dead
 * node fails at once (not issued, or -ECONNRESET).
 *
 * Server protocol (node 2):
 *   OP_HOLD (1, fast) args { u32 id }: detached, never answered; when the
 *        server holds `want` requests (want: a u32 the parent wrote on the
 *        pipe first) it writes that count on the pipe.
 */
#include "nrpc_testlib.h"

#include <signal.h>
#include <stdatomic.h>
#include <sys/wait.h>

#define OP_HOLD 1
#define N       2000u
#define BLEN    4096u
#define CANARY  0xc3

/* ---- server ------------------------------------------------------------- */

static uint32_t nheld, want;
static bool told;

static void op_hold(struct nrpc_req *req, void *arg)
{
	CHECK(nrpc_req_detach(req) != NULL, "server: nrpc_req_detach failed");
	nheld++;
}

static void report(struct nrpc *r, void *arg)
{
	struct tl_proc *self = arg;

	if (!told && nheld >= want) {
		told = true;
		tl_put_u32(self->wr, nheld);
	}
}

static int server(struct tl_proc *self, void *arg)
{
	enum tl_link link = (enum tl_link)(intptr_t)arg;
	struct tpz_config cfg;

	want = tl_get_u32(self->rd, 5000);
	tl_config(&cfg, 2, link);
	struct tpz_endpoint *ep = tl_endpoint(&cfg);
	struct nrpc *r = nt_nrpc(ep, NULL);
	nt_register(r, OP_HOLD, op_hold, NULL, NRPC_OP_FAST);
	tl_put_u32(self->wr, (uint32_t)tl_listen(ep, link));
	nt_serve(r, self, 40000, report, self);   /* until killed */
	return 1;
}

/* ---- client ------------------------------------------------------------- */

static _Atomic uint32_t ndone;
static _Atomic uint32_t nthreaded_wrong;
static uint16_t times[N];
static int status_of[N];
static pthread_t main_thread;

static void on_end(struct nrpc *r, struct nrpc_result *res, void *arg)
{
	uint32_t id = (uint32_t)(uintptr_t)arg;

	times[id]++;
	status_of[id] = res->status;
	if (id % 4 == 2 && pthread_equal(pthread_self(), main_thread))
		atomic_fetch_add(&nthreaded_wrong, 1);   /* deferred on the poller */
	atomic_fetch_add(&ndone, 1);
}

struct blocker {
	struct nrpc       *r;
	struct nrpc_result res;
	int                rc;
	_Atomic bool       done;
	double             t_end;
};

static void *blocking_caller(void *arg)
{
	struct blocker *b = arg;
	uint32_t id = 999999;
	struct nrpc_call_desc d = { .dst = 2, .op = OP_HOLD, .args = &id, .args_len = 4 };

	b->rc = nrpc_call(b->r, &d, &b->res);
	b->t_end = tl_now_ms();
	atomic_store(&b->done, true);
	return NULL;
}

static void run(enum tl_link link)
{
	const char *ln = tl_link_name(link);
	struct tl_proc srv = { .index = 0 };
	static nrpc_call_t calls[N];
	static uint8_t bufs[N / 4][BLEN];
	static struct tpz_payload bpl[N / 4];
	static uint32_t ids[N];

	memset(times, 0, sizeof(times));
	memset(status_of, 0, sizeof(status_of));
	atomic_store(&ndone, 0);
	atomic_store(&nthreaded_wrong, 0);
	memset(bufs, CANARY, sizeof(bufs));
	tl_spawn(&srv, server, (void *)(intptr_t)link);
	tl_put_u32(srv.wr, N + 1);
	int port = (int)tl_get_u32(srv.rd, 5000);
	struct tpz_endpoint *ep = nt_client_ep(1, link, 2, port);
	struct nrpc_config ncfg;
	nrpc_config_default(&ncfg);
	ncfg.max_calls = 4096;
	ncfg.credits = 4096;
	ncfg.timeout_ms = 20000;
	struct nrpc *r = nt_nrpc(ep, &ncfg);
	struct nrpc_counters c0 = nt_counters(r);

	/* A second thread blocked in nrpc_call on the same instance. */
	struct blocker b = { .r = r };
	pthread_t th;
	CHECK(pthread_create(&th, NULL, blocking_caller, &b) == 0, "pthread_create");

	double end = tl_now_ms() + 10000;
	for (uint32_t id = 0; id < N; id++) {
		ids[id] = id;
		struct nrpc_call_desc d = { .dst = 2, .op = OP_HOLD, .args = &ids[id], .args_len = 4 };
		enum nrpc_mode mode = id % 4 == 1 ? NRPC_CONT : id % 4 == 2 ? NRPC_DEFERRED : NRPC_WAIT;
		if (id % 4 == 0) {
			bpl[id / 4] = nt_buf_payload(bufs[id / 4], BLEN);
			d.reply_buf = &bpl[id / 4];
		}
		int rc;
		while ((rc = nrpc_call_async(r, &d, mode, mode == NRPC_WAIT ? NULL : on_end,
					     (void *)(uintptr_t)id, &calls[id])) == -EAGAIN) {
			CHECK(tl_now_ms() < end, "%s: -EAGAIN for 10 s", ln);
			int n = nrpc_poll(r, 0);
			CHECK(n >= 0 || n == -EBUSY, "nrpc_poll: %d", n);
			if (n <= 0)
				sched_yield();
		}
		CHECK(rc == 0, "%s: nrpc_call_async %u: %d %s", ln, id, rc, tpz_strerror(rc));
	}
	uint32_t held = nt_get_u32(r, srv.rd, 10000);
	CHECK(held == N + 1, "%s: the server holds %u requests, want %u", ln, held, N + 1);
	if (atomic_load(&ndone) != 0 || atomic_load(&b.done)) {
		struct nrpc_counters cx = nt_counters(r);
		nt_print_counters(ln, &cx);
		for (uint32_t id = 0; id < N; id++)
			if (times[id])
				NOTE("%s: call %u ended with %d (%s)", ln, id, status_of[id],
				     tpz_strerror(status_of[id]));
		CHECK(0, "%s: calls ended before the kill: %u continuations ran, the blocking call "
		      "%s (rc %d, status %d %s)", ln, atomic_load(&ndone),
		      atomic_load(&b.done) ? "ended" : "is still blocked", b.rc, b.res.status,
		      tpz_strerror(b.res.status));
	}

	tl_kill(&srv, SIGKILL);
	double t_kill = tl_now_ms();
	bool all = NRPC_POLL_UNTIL(r, nt_counters(r).calls_completed - c0.calls_completed >= N + 1 &&
				      atomic_load(&ndone) == N / 2 && atomic_load(&b.done), 3000);
	double took = tl_now_ms() - t_kill;
	struct nrpc_counters c1 = nt_counters(r);
	CHECK(all, "%s: 3 s after SIGKILL of the server only %llu of %u calls had ended (%u "
	      "continuations ran, blocked thread done %d); the calls' timeout is 20 s", ln,
	      (unsigned long long)(c1.calls_completed - c0.calls_completed), N + 1,
	      atomic_load(&ndone), atomic_load(&b.done));
	CHECK(pthread_join(th, NULL) == 0, "pthread_join");
	CHECK(b.rc == 0 && b.res.status == -ECONNRESET, "%s: blocking nrpc_call in a second thread: "
	      "rc %d status %d (%s), want 0 / -ECONNRESET", ln, b.rc, b.res.status,
	      tpz_strerror(b.res.status));
	for (uint32_t id = 0; id < N; id++) {
		if (id % 4 == 0 || id % 4 == 3) {
			struct nrpc_result res;
			memset(&res, 0, sizeof(res));
			CHECK_RC(nrpc_wait(r, calls[id], &res), 0);
			times[id]++;
			status_of[id] = res.status;
			CHECK(res.payload_len == 0 && !res.placed, "%s: call %u ended with payload_len "
			      "%u placed %d", ln, id, res.payload_len, res.placed);
		}
	}
	NRPC_POLL_UNTIL(r, false, 100);   /* a second completion would show now */
	for (uint32_t id = 0; id < N; id++) {
		static const char *mn[] = { "NRPC_WAIT+buf", "NRPC_CONT", "NRPC_DEFERRED", "NRPC_WAIT" };
		CHECK(times[id] == 1, "%s: call %u (%s) ended %u times", ln, id, mn[id % 4], times[id]);
		CHECK(status_of[id] == -ECONNRESET, "%s: call %u (%s) ended with %d (%s), want "
		      "-ECONNRESET", ln, id, mn[id % 4], status_of[id], tpz_strerror(status_of[id]));
	}
	EXPECT(atomic_load(&nthreaded_wrong) == 0, "%s: %u deferred continuations ran on the "
	       "polling thread", ln, atomic_load(&nthreaded_wrong));
	for (uint32_t i = 0; i < N / 4; i++)
		CHECK(tl_all_bytes(bufs[i], BLEN, CANARY), "%s: reply buffer of call %u written", ln,
		      i * 4);
	struct nrpc_counters c2 = nt_counters(r);
	nt_print_counters(ln, &c2);
	CHECK(c2.calls_timed_out == c0.calls_timed_out, "%s: %llu calls timed out instead", ln,
	      (unsigned long long)(c2.calls_timed_out - c0.calls_timed_out));
	EXPECT(c2.calls_failed - c0.calls_failed == N + 1, "%s: calls_failed moved by %llu, want %u",
	       ln, (unsigned long long)(c2.calls_failed - c0.calls_failed), N + 1);
	printf("t-nrpc-peer-kill: %s: %u calls failed with -ECONNRESET %.0f ms after SIGKILL\n", ln,
	       N + 1, took);

	/* The dead node: a new call fails at once. */
	{
		uint32_t id = 5;
		struct nrpc_call_desc d = { .dst = 2, .op = OP_HOLD, .args = &id, .args_len = 4,
					    .timeout_ms = 10000 };
		struct nrpc_result res;
		double t0 = tl_now_ms();
		int rc = nrpc_call(r, &d, &res);
		CHECK(rc < 0 || res.status == -ECONNRESET, "%s: call to the dead node: rc %d status %d "
		      "(%s)", ln, rc, rc < 0 ? 0 : res.status, tpz_strerror(rc < 0 ? rc : res.status));
		CHECK(tl_now_ms() - t0 < 1000, "%s: call to the dead node took %.0f ms", ln,
		      tl_now_ms() - t0);
	}
	int st = tl_reap_status(&srv, 5000);
	CHECK(st != -1 && WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL, "%s: the server did not die "
	      "of SIGKILL (status %#x): it failed earlier", ln, st);
	nrpc_destroy(r);
	tpz_endpoint_destroy(ep);
}

int main(int argc, char **argv)
{
	tl_init(argc, argv, 60);
	main_thread = pthread_self();
	run(TL_SHM);
	run(TL_TCP);
	return tl_finish();
}
