/*
 * t-nrpc-tcp: NetRPC over tcp on 127.0.0.1 (authenticated with the cluster
 * secret): the reply modes and reads and writes with payloads.
 *
 *   - nrpc_call: fast op and blocking op (served on the server's workers);
 *   - NRPC_WAIT: four in flight, collected out of order;
 *   - NRPC_CONT: a stack of three runs inside nrpc_poll on the polling
 *     thread, last pushed first;
 *   - NRPC_DEFERRED: runs on a worker thread, not the poller;
 *   - a read of 300000 bytes into a malloc'ed reply_buf: placed at the
 *     caller's address, byte for byte, the engine placed it (ipt_hits) and
 *     the client's engine made no copy of it (tcp reads straight into it);
 *   - writes: a request payload of pool frames, and one of malloc'ed memory
 *     that the caller scribbles over as soon as nrpc_call_async returns
 *     (the memory is free again then, see tpz_send): the server gets the
 *     original bytes either way.
 *
 * Server protocol (node 2):
 *   OP_ECHO  (1, fast)      args u32 x -> status 0, res u32 2x+1
 *   OP_BECHO (2, blocking)  args u32 x -> status 0, res u32 x+1000
 *   OP_READ  (3, fast)      args { u32 seed, u32 len } -> status 0,
 *                           res { u32 len }, payload len bytes tl_fill(seed)
 *   OP_WRITE (4, blocking)  args { u32 seed, u32 len }, payload -> status 0,
 *                           res { u32 payload_len, u32 ok } (ok: the
 *                           payload is len bytes of tl_fill(seed))
 */
#include "nrpc_testlib.h"

#include <stdatomic.h>

#define OP_ECHO  1
#define OP_BECHO 2
#define OP_READ  3
#define OP_WRITE 4

/* ---- server ------------------------------------------------------------- */

static void op_echo(struct nrpc_req *req, void *arg)
{
	uint32_t y = 2 * nt_u32(req->args, 0) + 1;

	nrpc_reply(req, 0, &y, 4, NULL, 0, NULL, NULL);
}

static void op_becho(struct nrpc_req *req, void *arg)
{
	uint32_t y = nt_u32(req->args, 0) + 1000;

	usleep(2000);
	nrpc_reply(req, 0, &y, 4, NULL, 0, NULL, NULL);
}

static void op_read(struct nrpc_req *req, void *arg)
{
	struct tpz_payload pl;
	uint32_t seed = nt_u32(req->args, 0), len = nt_u32(req->args, 4);

	if (tpz_payload_alloc(nrpc_endpoint(req->r), &pl, len) < 0) {
		nrpc_reply(req, -ENOMEM, NULL, 0, NULL, 0, NULL, NULL);
		return;
	}
	tl_fill_payload(&pl, len, seed);
	int rc = nrpc_reply(req, 0, &len, 4, &pl, 0, NULL, NULL);
	CHECK(rc == 0, "server: nrpc_reply: %d", rc);
}

static void op_write(struct nrpc_req *req, void *arg)
{
	uint32_t seed = nt_u32(req->args, 0), len = nt_u32(req->args, 4);
	uint32_t out[2] = { req->payload_len, 0 };

	out[1] = req->payload_len == len && tl_verify_payload(&req->payload, len, seed) < 0;
	nrpc_reply(req, 0, out, sizeof(out), NULL, 0, NULL, NULL);
}

static int server(struct tl_proc *self, void *arg)
{
	struct tpz_config cfg;

	tl_config(&cfg, 2, TL_TCP);
	struct tpz_endpoint *ep = tl_endpoint(&cfg);
	struct nrpc *r = nt_nrpc(ep, NULL);
	nt_register(r, OP_ECHO, op_echo, NULL, NRPC_OP_FAST);
	nt_register(r, OP_BECHO, op_becho, NULL, NRPC_OP_BLOCKING);
	nt_register(r, OP_READ, op_read, NULL, NRPC_OP_FAST);
	nt_register(r, OP_WRITE, op_write, NULL, NRPC_OP_BLOCKING);
	tl_put_u32(self->wr, (uint32_t)tl_listen(ep, TL_TCP));
	nt_serve(r, self, 30000, NULL, NULL);
	nrpc_destroy(r);
	tpz_endpoint_destroy(ep);
	return 0;
}

/* ---- client ------------------------------------------------------------- */

static pthread_t main_thread;
static bool in_poll;
static _Atomic int nlog;
static int order[4];
static bool on_poller[4];
static uint32_t vals[4];

static void cont(struct nrpc *r, struct nrpc_result *res, void *arg)
{
	int i = atomic_fetch_add(&nlog, 1);

	if (i < 4) {
		order[i] = (int)(intptr_t)arg;
		on_poller[i] = pthread_equal(pthread_self(), main_thread) && in_poll;
		vals[i] = res->status == 0 && res->res_len == 4 ? nt_u32(res->res, 0) : UINT32_MAX;
	}
}

static bool poll_until_log(struct nrpc *r, int want, int ms)
{
	double end = tl_now_ms() + ms;

	while (atomic_load(&nlog) < want) {
		if (tl_now_ms() > end)
			return false;
		in_poll = true;
		int n = nrpc_poll(r, 0);
		in_poll = false;
		CHECK(n >= 0, "nrpc_poll: %d", n);
		if (n == 0)
			tl_idle(nrpc_endpoint(r));
	}
	return true;
}

int main(int argc, char **argv)
{
	struct tl_proc srv = { .index = 0 };
	struct nrpc_result res;
	struct nrpc_call_desc d;
	uint32_t x;

	tl_init(argc, argv, 40);
	main_thread = pthread_self();
	tl_spawn(&srv, server, NULL);
	int port = (int)tl_get_u32(srv.rd, 5000);
	struct tpz_endpoint *ep = nt_client_ep(1, TL_TCP, 2, port);
	struct nrpc *r = nt_nrpc(ep, NULL);

	/* Blocking calls. */
	x = 5;
	d = (struct nrpc_call_desc){ .dst = 2, .op = OP_ECHO, .args = &x, .args_len = 4 };
	CHECK_RC(nrpc_call(r, &d, &res), 0);
	CHECK(res.status == 0 && res.res_len == 4 && nt_u32(res.res, 0) == 11 && res.replier == 2,
	      "tcp blocking call: status %d res_len %u value %u replier %u", res.status, res.res_len,
	      nt_u32(res.res, 0), res.replier);
	d.op = OP_BECHO;
	CHECK_RC(nrpc_call(r, &d, &res), 0);
	CHECK(res.status == 0 && nt_u32(res.res, 0) == 1005, "tcp blocking op: status %d value %u",
	      res.status, nt_u32(res.res, 0));

	/* NRPC_WAIT, four in flight. */
	uint32_t wx[4] = { 100, 200, 300, 400 };
	nrpc_call_t wc[4];
	for (int i = 0; i < 4; i++) {
		d = (struct nrpc_call_desc){ .dst = 2, .op = i % 2 ? OP_BECHO : OP_ECHO,
					     .args = &wx[i], .args_len = 4 };
		CHECK_RC(nrpc_call_async(r, &d, NRPC_WAIT, NULL, NULL, &wc[i]), 0);
	}
	static const int worder[4] = { 2, 0, 3, 1 };
	for (int k = 0; k < 4; k++) {
		int i = worder[k];
		uint32_t want = i % 2 ? wx[i] + 1000 : 2 * wx[i] + 1;
		CHECK_RC(nrpc_wait(r, wc[i], &res), 0);
		CHECK(res.status == 0 && nt_u32(res.res, 0) == want, "tcp wait call %d: status %d "
		      "value %u, want %u", i, res.status, nt_u32(res.res, 0), want);
	}

	/* NRPC_CONT: stack of three. */
	nrpc_call_t cc;
	x = 50;
	d = (struct nrpc_call_desc){ .dst = 2, .op = OP_ECHO, .args = &x, .args_len = 4 };
	CHECK_RC(nrpc_call_async(r, &d, NRPC_CONT, cont, (void *)1, &cc), 0);
	CHECK_RC(nrpc_push_cont(r, cc, cont, (void *)2), 0);
	CHECK_RC(nrpc_push_cont(r, cc, cont, (void *)3), 0);
	CHECK(poll_until_log(r, 3, 5000), "tcp NRPC_CONT: %d of 3 continuations ran",
	      atomic_load(&nlog));
	for (int i = 0; i < 3; i++)
		CHECK(order[i] == 3 - i && on_poller[i] && vals[i] == 101, "tcp NRPC_CONT: #%d: "
		      "continuation %d, inside nrpc_poll on the poller %d, value %u; want %d / 1 / 101",
		      i, order[i], on_poller[i], vals[i], 3 - i);

	/* NRPC_DEFERRED. */
	atomic_store(&nlog, 0);
	x = 60;
	CHECK_RC(nrpc_call_async(r, &d, NRPC_DEFERRED, cont, (void *)9, &cc), 0);
	CHECK(NRPC_POLL_UNTIL(r, atomic_load(&nlog) >= 1, 5000), "tcp NRPC_DEFERRED: no continuation");
	CHECK(order[0] == 9 && vals[0] == 121, "tcp NRPC_DEFERRED: continuation %d value %u",
	      order[0], vals[0]);
	CHECK(!on_poller[0], "tcp NRPC_DEFERRED: ran on the polling thread");

	/* A read into a malloc'ed reply_buf. */
	{
		enum { RLEN = 300000 };
		uint8_t *buf = malloc(RLEN + 1000);
		CHECK(buf, "malloc");
		memset(buf, 0xee, RLEN + 1000);
		struct tpz_payload bp = nt_buf_payload(buf, RLEN + 1000);
		uint32_t args[2] = { 77, RLEN };
		d = (struct nrpc_call_desc){ .dst = 2, .op = OP_READ, .args = args, .args_len = 8,
					     .reply_buf = &bp };
		struct tpz_counters t0 = tl_counters(ep), t1;
		CHECK_RC(nrpc_call(r, &d, &res), 0);
		t1 = tl_counters(ep);
		CHECK(res.status == 0 && res.placed && res.payload_len == RLEN && res.payload.nseg == 1 &&
		      res.payload.seg[0].base == buf, "tcp read: status %d placed %d payload_len %u "
		      "nseg %u base %p (buffer %p)", res.status, res.placed, res.payload_len,
		      res.payload.nseg, res.payload.seg[0].base, (void *)buf);
		long bad = tl_verify(buf, RLEN, 77, 0);
		CHECK(bad < 0, "tcp read: byte %ld wrong", bad);
		CHECK(tl_all_bytes(buf + RLEN, 1000, 0xee), "tcp read: bytes after the payload written");
		CHECK(t1.ipt_hits - t0.ipt_hits == 1 && t1.payload_copies == t0.payload_copies,
		      "tcp read: ipt_hits +%llu payload_copies +%llu, want +1 / +0",
		      (unsigned long long)(t1.ipt_hits - t0.ipt_hits),
		      (unsigned long long)(t1.payload_copies - t0.payload_copies));
		free(buf);
	}

	/* Writes: pool frames, and malloc'ed memory free again on return. */
	{
		struct tpz_payload fp;
		CHECK_RC(tpz_payload_alloc(ep, &fp, 200000), 0);
		tl_fill_payload(&fp, 200000, 88);
		uint32_t args[2] = { 88, 200000 };
		d = (struct nrpc_call_desc){ .dst = 2, .op = OP_WRITE, .args = args, .args_len = 8,
					     .payload = &fp };
		CHECK_RC(nrpc_call(r, &d, &res), 0);
		CHECK(res.status == 0 && nt_u32(res.res, 0) == 200000 && nt_u32(res.res, 4) == 1,
		      "tcp write of frames: status %d, server got %u bytes, intact %u", res.status,
		      nt_u32(res.res, 0), nt_u32(res.res, 4));

		enum { WLEN = 500000 };
		uint8_t *w = malloc(WLEN);
		CHECK(w, "malloc");
		tl_fill(w, WLEN, 99, 0);
		struct tpz_payload wp = nt_buf_payload(w, WLEN);
		uint32_t wargs[2] = { 99, WLEN };
		nrpc_call_t wcall;
		d = (struct nrpc_call_desc){ .dst = 2, .op = OP_WRITE, .args = wargs, .args_len = 8,
					     .payload = &wp };
		CHECK_RC(nrpc_call_async(r, &d, NRPC_WAIT, NULL, NULL, &wcall), 0);
		memset(w, 0, WLEN);       /* ours again: tpz_send without a done callback */
		CHECK_RC(nrpc_wait(r, wcall, &res), 0);
		CHECK(res.status == 0 && nt_u32(res.res, 0) == WLEN && nt_u32(res.res, 4) == 1,
		      "tcp write of malloc'ed memory: status %d, server got %u bytes, intact %u",
		      res.status, nt_u32(res.res, 0), nt_u32(res.res, 4));
		free(w);
	}

	struct nrpc_counters c = nt_counters(r);
	nt_print_counters("tcp client", &c);
	EXPECT(c.calls_failed == 0 && c.calls_completed == c.calls_issued, "tcp: %llu failed, "
	       "%llu of %llu completed", (unsigned long long)c.calls_failed,
	       (unsigned long long)c.calls_completed, (unsigned long long)c.calls_issued);
	tl_put_u32(srv.wr, 0);
	tl_reap(&srv, 5000);
	nrpc_destroy(r);
	tpz_endpoint_destroy(ep);
	return tl_finish();
}
