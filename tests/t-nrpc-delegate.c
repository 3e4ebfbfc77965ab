/*
 * t-nrpc-delegate: 3-way calls.  Three processes: the client (node 1),
 * server A (node 2) and server B (node 3), all connected to each other, over
 * shm and over tcp.  The client calls A; A nrpc_forward()s the request to B
 * (from its delivery path, and from a worker thread for a blocking op); B
 * replies directly to the client.  Checked: status 0, res.replier == 3 (B,
 * not A), B saw the request as delegated (NRPC_F_DELEGATED, src A, caller
 * the client); B's reply payload was placed in the client's reply_buf (a
 * malloc'ed buffer, or pool frames) at the same address, byte for byte, the
 * engine placed it (client ipt_hits); a forwarded write carries its payload
 * on to B intact; without a reply_buf the payload arrives in frames; many
 * delegated calls in flight at once, interleaved with calls A answers
 * itself (replier 2), all complete with their own results; A counts its
 * forwards (requests_forwarded), the client counts no late replies.
 *
 * Server protocol:
 *   at B (node 3):
 *     OP_READ   (1, fast)      args { u32 seed, u32 len }
 *                 -> status 0, res { u32 3, u32 src, u32 caller, u32 flags,
 *                    u32 seed }, payload len bytes of tl_fill(seed) in frames
 *     OP_READ_B (2, fast)      same as OP_READ
 *     OP_WRITE  (3, fast)      args { u32 seed, u32 len }, payload
 *                 -> status 0, res { u32 3, u32 payload_len, u32 ok } where
 *                    ok = 1 if the payload is len bytes of tl_fill(seed)
 *   at A (node 2):
 *     OP_READ, OP_WRITE (fast) and OP_READ_B (blocking, on a worker):
 *                 nrpc_forward(req, 3) (on failure: reply its status)
 *     OP_LOCAL  (4, fast)      args { u32 x } -> status 0, res { u32 2, u32 x }
 *     OP_STAT   (5, fast)      -> res { u32 requests_forwarded }
 */
#include "nrpc_testlib.h"

#define OP_READ   1
#define OP_READ_B 2
#define OP_WRITE  3
#define OP_LOCAL  4
#define OP_STAT   5

#define CANARY 0x3c

/* ---- server B (node 3) -------------------------------------------------- */

static void b_read(struct nrpc_req *req, void *arg)
{
	struct tpz_endpoint *ep = nrpc_endpoint(req->r);
	struct tpz_payload pl;
	uint32_t seed = nt_u32(req->args, 0), len = nt_u32(req->args, 4);
	uint32_t out[5] = { 3, req->src, req->caller, req->flags, seed };

	CHECK(req->args_len == 8, "B: args_len %u", req->args_len);
	if (len == 0) {
		nrpc_reply(req, 0, out, sizeof(out), NULL, 0, NULL, NULL);
		return;
	}
	if (tpz_payload_alloc(ep, &pl, len) < 0) {
		nrpc_reply(req, -ENOMEM, NULL, 0, NULL, 0, NULL, NULL);
		return;
	}
	tl_fill_payload(&pl, len, seed);
	int rc = nrpc_reply(req, 0, out, sizeof(out), &pl, 0, NULL, NULL);
	CHECK(rc == 0, "B: nrpc_reply: %d %s", rc, tpz_strerror(rc));
}

static void b_write(struct nrpc_req *req, void *arg)
{
	uint32_t seed = nt_u32(req->args, 0), len = nt_u32(req->args, 4);
	uint32_t out[3] = { 3, req->payload_len, 0 };

	out[2] = req->payload_len == len && tl_verify_payload(&req->payload, len, seed) < 0;
	nrpc_reply(req, 0, out, sizeof(out), NULL, 0, NULL, NULL);
}

static int server_b(struct tl_proc *self, void *arg)
{
	enum tl_link link = (enum tl_link)(intptr_t)arg;
	struct tpz_config cfg;

	tl_config(&cfg, 3, link);
	struct tpz_endpoint *ep = tl_endpoint(&cfg);
	struct nrpc *r = nt_nrpc(ep, NULL);
	nt_register(r, OP_READ, b_read, NULL, NRPC_OP_FAST);
	nt_register(r, OP_READ_B, b_read, NULL, NRPC_OP_FAST);
	nt_register(r, OP_WRITE, b_write, NULL, NRPC_OP_FAST);
	tl_put_u32(self->wr, (uint32_t)tl_listen(ep, link));
	nt_serve(r, self, 40000, NULL, NULL);
	nrpc_destroy(r);
	tpz_endpoint_destroy(ep);
	return 0;
}

/* ---- server A (node 2) -------------------------------------------------- */

static void a_forward(struct nrpc_req *req, void *arg)
{
	int rc = nrpc_forward(req, 3);

	if (rc < 0)
		nrpc_reply(req, rc, NULL, 0, NULL, 0, NULL, NULL);
}

static void a_local(struct nrpc_req *req, void *arg)
{
	uint32_t out[2] = { 2, nt_u32(req->args, 0) };

	nrpc_reply(req, 0, out, sizeof(out), NULL, 0, NULL, NULL);
}

static void a_stat(struct nrpc_req *req, void *arg)
{
	struct nrpc_counters c = nt_counters(req->r);
	uint32_t out = (uint32_t)c.requests_forwarded;

	nrpc_reply(req, 0, &out, 4, NULL, 0, NULL, NULL);
}

static int server_a(struct tl_proc *self, void *arg)
{
	enum tl_link link = (enum tl_link)(intptr_t)arg;
	struct tpz_config cfg;
	int port_b = (int)tl_get_u32(self->rd, 5000);

	tl_config(&cfg, 2, link);
	struct tpz_endpoint *ep = tl_endpoint(&cfg);
	struct nrpc *r = nt_nrpc(ep, NULL);
	nt_register(r, OP_READ, a_forward, NULL, NRPC_OP_FAST);
	nt_register(r, OP_WRITE, a_forward, NULL, NRPC_OP_FAST);
	nt_register(r, OP_READ_B, a_forward, NULL, NRPC_OP_BLOCKING);
	nt_register(r, OP_LOCAL, a_local, NULL, NRPC_OP_FAST);
	nt_register(r, OP_STAT, a_stat, NULL, NRPC_OP_FAST);
	int port = tl_listen(ep, link);
	tl_connect(ep, 3, link, port_b);
	tl_put_u32(self->wr, (uint32_t)port);
	nt_serve(r, self, 40000, NULL, NULL);
	nrpc_destroy(r);
	tpz_endpoint_destroy(ep);
	return 0;
}

/* ---- client (node 1) ---------------------------------------------------- */

static const char *LN;

static void check_delegated(const char *what, const struct nrpc_result *res, uint32_t seed)
{
	CHECK(res->status == 0, "%s %s: status %d (%s)", LN, what, res->status,
	      tpz_strerror(res->status));
	CHECK(res->replier == 3, "%s %s: replier %u, want 3 (B answers the delegated call)", LN,
	      what, res->replier);
	CHECK(res->res_len == 20, "%s %s: res_len %u, want 20", LN, what, res->res_len);
	CHECK(nt_u32(res->res, 0) == 3 && nt_u32(res->res, 4) == 2 && nt_u32(res->res, 8) == 1,
	      "%s %s: B says it is node %u and saw src %u caller %u; want 3 / 2 / 1", LN, what,
	      nt_u32(res->res, 0), nt_u32(res->res, 4), nt_u32(res->res, 8));
	CHECK(nt_u32(res->res, 12) & NRPC_F_DELEGATED, "%s %s: B saw request flags %#x, without "
	      "NRPC_F_DELEGATED", LN, what, nt_u32(res->res, 12));
	CHECK(nt_u32(res->res, 16) == seed, "%s %s: result of another call (seed %#x, want %#x)",
	      LN, what, nt_u32(res->res, 16), seed);
}

static void check_in_buf(const char *what, const struct nrpc_result *res,
			 const struct tpz_payload *buf, uint32_t len, uint32_t seed)
{
	CHECK(res->placed && res->payload_len == len, "%s %s: placed %d payload_len %u, want "
	      "true / %u: B's payload did not land in the client's reply_buf", LN, what,
	      res->placed, res->payload_len, len);
	CHECK(res->payload.nseg == buf->nseg, "%s %s: %u segments, reply_buf has %u", LN, what,
	      res->payload.nseg, buf->nseg);
	for (uint32_t i = 0; i < buf->nseg; i++)
		CHECK(res->payload.seg[i].base == buf->seg[i].base, "%s %s: segment %u at %p, the "
		      "reply_buf at %p", LN, what, i, res->payload.seg[i].base, buf->seg[i].base);
	long bad = tl_verify_payload(buf, len, seed);
	CHECK(bad < 0, "%s %s: byte %ld of %u wrong in the reply_buf", LN, what, bad, len);
}

static void run(enum tl_link link)
{
	struct tl_proc pa = { .index = 0 }, pb = { .index = 1 };
	struct nrpc_result res;

	LN = tl_link_name(link);
	tl_spawn(&pb, server_b, (void *)(intptr_t)link);
	int port_b = (int)tl_get_u32(pb.rd, 5000);
	tl_spawn(&pa, server_a, (void *)(intptr_t)link);
	tl_put_u32(pa.wr, (uint32_t)port_b);
	int port_a = (int)tl_get_u32(pa.rd, 10000);

	struct tpz_endpoint *ep = nt_client_ep(1, link, 2, port_a);
	tl_connect(ep, 3, link, port_b);
	struct nrpc *r = nt_nrpc(ep, NULL);
	struct tpz_counters t0 = tl_counters(ep);
	uint32_t nforward = 0, nplaced = 0;

	/* 1. A delegated read into a malloc'ed buffer. */
	uint32_t len = 100000, blen = 131072;
	uint8_t *mb = malloc(blen);
	CHECK(mb, "malloc");
	memset(mb, CANARY, blen);
	struct tpz_payload buf = nt_buf_payload(mb, blen);
	uint32_t args[2] = { 0x100, len };
	struct nrpc_call_desc d = { .dst = 2, .op = OP_READ, .args = args, .args_len = 8,
				    .reply_buf = &buf };
	CHECK_RC(nrpc_call(r, &d, &res), 0);
	nforward++;
	check_delegated("read via A (fast forward)", &res, 0x100);
	check_in_buf("read via A (fast forward)", &res, &buf, len, 0x100);
	nplaced++;
	CHECK(tl_all_bytes(mb + len, blen - len, CANARY), "%s: bytes after the payload written", LN);

	/* 2. Forwarded from A's worker pool, into pool frames. */
	struct tpz_payload fb;
	CHECK_RC(tpz_payload_alloc(ep, &fb, 150000), 0);
	args[0] = 0x200;
	args[1] = 150000;
	d = (struct nrpc_call_desc){ .dst = 2, .op = OP_READ_B, .args = args, .args_len = 8,
				     .reply_buf = &fb };
	CHECK_RC(nrpc_call(r, &d, &res), 0);
	nforward++;
	check_delegated("read via A (forward from a worker)", &res, 0x200);
	check_in_buf("read via A (forward from a worker)", &res, &fb, 150000, 0x200);
	nplaced++;

	/* 3. A forwarded write: the request payload goes on to B. */
	struct tpz_payload wp;
	CHECK_RC(tpz_payload_alloc(ep, &wp, 90000), 0);
	tl_fill_payload(&wp, 90000, 0x300);
	args[0] = 0x300;
	args[1] = 90000;
	d = (struct nrpc_call_desc){ .dst = 2, .op = OP_WRITE, .args = args, .args_len = 8,
				     .payload = &wp };
	CHECK_RC(nrpc_call(r, &d, &res), 0);   /* the frames are the engine's now */
	nforward++;
	CHECK(res.status == 0 && res.replier == 3 && res.res_len == 12, "%s forwarded write: "
	      "status %d replier %u res_len %u", LN, res.status, res.replier, res.res_len);
	CHECK(nt_u32(res.res, 4) == 90000 && nt_u32(res.res, 8) == 1, "%s forwarded write: B got "
	      "%u payload bytes, intact %u; want 90000 / 1", LN, nt_u32(res.res, 4),
	      nt_u32(res.res, 8));

	/* 4. No reply_buf: B's payload arrives in frames. */
	args[0] = 0x400;
	args[1] = 70000;
	d = (struct nrpc_call_desc){ .dst = 2, .op = OP_READ, .args = args, .args_len = 8 };
	CHECK_RC(nrpc_call(r, &d, &res), 0);
	nforward++;
	check_delegated("read via A without reply_buf", &res, 0x400);
	CHECK(!res.placed && res.payload_len == 70000, "%s read without reply_buf: placed %d "
	      "payload_len %u", LN, res.placed, res.payload_len);
	CHECK(tl_verify_payload(&res.payload, 70000, 0x400) < 0, "%s read without reply_buf: "
	      "wrong bytes", LN);
	tpz_payload_free(ep, &res.payload);

	/* 5. Many at once: delegated reads into their own buffers, and calls A
	 *    answers itself, interleaved. */
	enum { NM = 64, MLEN = 6000 };
	static uint8_t mbufs[NM][MLEN];
	struct tpz_payload mpl[NM];
	nrpc_call_t calls[NM];
	uint32_t margs[NM][2];
	memset(mbufs, CANARY, sizeof(mbufs));
	for (int i = 0; i < NM; i++) {
		mpl[i] = nt_buf_payload(mbufs[i], MLEN);
		margs[i][0] = 0x1000 + (uint32_t)i;
		margs[i][1] = MLEN - (uint32_t)i * 10;
		if (i % 4 == 3)
			d = (struct nrpc_call_desc){ .dst = 2, .op = OP_LOCAL, .args = margs[i],
						     .args_len = 4 };
		else
			d = (struct nrpc_call_desc){ .dst = 2, .op = i % 4 == 1 ? OP_READ_B : OP_READ,
						     .args = margs[i], .args_len = 8,
						     .reply_buf = &mpl[i] };
		int rc;
		double end = tl_now_ms() + 5000;
		while ((rc = nrpc_call_async(r, &d, NRPC_WAIT, NULL, NULL, &calls[i])) == -EAGAIN) {
			CHECK(tl_now_ms() < end, "%s: -EAGAIN for 5 s", LN);
			CHECK(nrpc_poll(r, 0) >= 0, "nrpc_poll");
		}
		CHECK(rc == 0, "%s: nrpc_call_async %d: %d %s", LN, i, rc, tpz_strerror(rc));
	}
	for (int i = NM; i-- > 0;) {
		char what[64];
		snprintf(what, sizeof(what), "call %d of %d in flight", i, NM);
		CHECK_RC(nrpc_wait(r, calls[i], &res), 0);
		if (i % 4 == 3) {
			CHECK(res.status == 0 && res.replier == 2 && res.res_len == 8 &&
			      nt_u32(res.res, 0) == 2 && nt_u32(res.res, 4) == margs[i][0],
			      "%s %s (A itself): status %d replier %u res_len %u res {%u, %#x}", LN,
			      what, res.status, res.replier, res.res_len, nt_u32(res.res, 0),
			      nt_u32(res.res, 4));
			CHECK(tl_all_bytes(mbufs[i], MLEN, CANARY), "%s %s: unused buffer written", LN,
			      what);
			continue;
		}
		nforward++;
		check_delegated(what, &res, margs[i][0]);
		check_in_buf(what, &res, &mpl[i], margs[i][1], margs[i][0]);
		nplaced++;
	}

	struct tpz_counters t1 = tl_counters(ep);
	CHECK(t1.ipt_hits - t0.ipt_hits == nplaced, "%s: client ipt_hits moved by %llu, want %u", LN,
	      (unsigned long long)(t1.ipt_hits - t0.ipt_hits), nplaced);
	d = (struct nrpc_call_desc){ .dst = 2, .op = OP_STAT };
	CHECK_RC(nrpc_call(r, &d, &res), 0);
	CHECK(res.status == 0 && res.res_len == 4 && res.replier == 2, "%s stat: status %d",
	      LN, res.status);
	EXPECT(nt_u32(res.res, 0) == nforward, "%s: A's requests_forwarded is %u, want %u", LN,
	       nt_u32(res.res, 0), nforward);
	struct nrpc_counters c = nt_counters(r);
	nt_print_counters(LN, &c);
	EXPECT(c.late_replies == 0 && c.calls_failed == 0, "%s: late_replies %llu calls_failed %llu",
	       LN, (unsigned long long)c.late_replies, (unsigned long long)c.calls_failed);

	tl_put_u32(pa.wr, 0);
	tl_reap(&pa, 5000);
	tl_put_u32(pb.wr, 0);
	tl_reap(&pb, 5000);
	tpz_payload_free(ep, &fb);
	nrpc_destroy(r);
	tpz_endpoint_destroy(ep);
	free(mb);
	printf("t-nrpc-delegate: %s done (%u delegated calls)\n", LN, nforward);
}

int main(int argc, char **argv)
{
	tl_init(argc, argv, 50);
	run(TL_SHM);
	run(TL_TCP);
	return tl_finish();
}
