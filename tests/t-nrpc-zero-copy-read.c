/*
 * t-nrpc-zero-copy-read: a read's reply payload lands where the caller said,
 * over shm and over tcp.
 *
 * The client names a reply_buf (one malloc'ed buffer, a scatter list of
 * three odd-sized malloc'ed pieces, or pool frames) and the server replies
 * with a payload: fresh pool frames filled with a pattern, or frames of its
 * "cache" lent with TPZ_SEND_LEND (the done callback must fire, once, with
 * status 0, and the cache stays intact and the server's).  Checked for
 * every read: status, res.placed, res.payload_len, res.payload is the
 * caller's own list (same segment addresses), the bytes are right, the
 * bytes after the payload in the buffer are untouched (canary); NetRPC made
 * no copy of its own: the engine placed each payload (client ipt_hits moves
 * by one per read) with at most the engine's single copy (client
 * payload_copies moves by at most one per read; over tcp the socket read is
 * the placement).  Eight reads in flight at once (read-ahead) each land in
 * their own buffer.  Without a reply_buf the payload comes in frames, which
 * become the caller's (over shm: moved by index, payload_copies does not
 * move).  A reply_buf that is too small: the payload is dropped, the buffer
 * untouched (the call still completes).
 *
 * Server protocol (node 2):
 *   OP_READ (1, fast)  args { u32 seed, u32 len }
 *        -> status 0, res { u32 len, u32 seed }, payload: len bytes of
 *           tl_fill(seed) in fresh pool frames (len 0: no payload)
 *   OP_LEND (2, fast)  args { u32 len }  (len <= CACHE_LEN)
 *        -> status 0, res { u32 len, u32 CACHE_SEED }, payload: the first
 *           len bytes of the server's cache frames (pattern CACHE_SEED),
 *           lent (TPZ_SEND_LEND) with a done callback
 *   OP_LENDSTAT (3, fast) -> res { u32 lends, u32 dones, u32 bad_status,
 *           u32 cache_ok } (cache_ok: the cache still holds its pattern and
 *           all its frames are still the server's)
 */
#include "nrpc_testlib.h"

#define OP_READ     1
#define OP_LEND     2
#define OP_LENDSTAT 3

#define CACHE_LEN   (3u * 65536u)
#define CACHE_SEED  0xcace
#define CANARY      0xa5

/* ---- server ------------------------------------------------------------- */

static struct tpz_payload cache;
static uint32_t lends, dones, bad_status;

static void op_read(struct nrpc_req *req, void *arg)
{
	struct tpz_endpoint *ep = nrpc_endpoint(req->r);
	struct tpz_payload pl;
	uint32_t seed, len, out[2];
	int rc;

	if (req->args_len != 8) {
		nrpc_reply(req, NRPC_EBADARGS, NULL, 0, NULL, 0, NULL, NULL);
		return;
	}
	seed = nt_u32(req->args, 0);
	len = nt_u32(req->args, 4);
	out[0] = len;
	out[1] = seed;
	if (len == 0) {
		rc = nrpc_reply(req, 0, out, 8, NULL, 0, NULL, NULL);
		CHECK(rc == 0, "server: nrpc_reply: %d", rc);
		return;
	}
	rc = tpz_payload_alloc(ep, &pl, len);
	if (rc < 0) {
		nrpc_reply(req, -ENOMEM, NULL, 0, NULL, 0, NULL, NULL);
		return;
	}
	tl_fill_payload(&pl, len, seed);
	rc = nrpc_reply(req, 0, out, 8, &pl, 0, NULL, NULL);
	CHECK(rc == 0, "server: nrpc_reply with a payload: %d %s", rc, tpz_strerror(rc));
}

static void lend_done(void *arg, int status)
{
	dones++;
	if (status != 0)
		bad_status++;
}

static void op_lend(struct nrpc_req *req, void *arg)
{
	struct tpz_payload pl = { 0 };
	uint32_t len, out[2];

	len = req->args_len == 4 ? nt_u32(req->args, 0) : 0;
	if (len == 0 || len > CACHE_LEN) {
		nrpc_reply(req, NRPC_EBADARGS, NULL, 0, NULL, 0, NULL, NULL);
		return;
	}
	/* The first len bytes of the cache. */
	for (uint32_t i = 0, left = len; i < cache.nseg && left; i++) {
		uint32_t n = cache.seg[i].len < left ? cache.seg[i].len : left;
		pl.seg[pl.nseg++] = (struct tpz_iov){ cache.seg[i].base, n };
		left -= n;
	}
	out[0] = len;
	out[1] = CACHE_SEED;
	int rc = nrpc_reply(req, 0, out, 8, &pl, TPZ_SEND_LEND, lend_done, NULL);
	CHECK(rc == 0, "server: lent nrpc_reply: %d %s", rc, tpz_strerror(rc));
	lends++;
}

static void op_lendstat(struct nrpc_req *req, void *arg)
{
	struct tpz_endpoint *ep = nrpc_endpoint(req->r);
	uint32_t out[4] = { lends, dones, bad_status, 1 };

	for (uint32_t i = 0; i < cache.nseg; i++)
		if (!tpz_is_frame(ep, cache.seg[i].base))
			out[3] = 0;
	if (tl_verify_payload(&cache, CACHE_LEN, CACHE_SEED) >= 0)
		out[3] = 0;
	nrpc_reply(req, 0, out, sizeof(out), NULL, 0, NULL, NULL);
}

static int server(struct tl_proc *self, void *arg)
{
	enum tl_link link = (enum tl_link)(intptr_t)arg;
	struct tpz_config cfg;

	tl_config(&cfg, 2, link);
	struct tpz_endpoint *ep = tl_endpoint(&cfg);
	struct nrpc *r = nt_nrpc(ep, NULL);
	CHECK_RC(tpz_payload_alloc(ep, &cache, CACHE_LEN), 0);
	tl_fill_payload(&cache, CACHE_LEN, CACHE_SEED);
	nt_register(r, OP_READ, op_read, NULL, NRPC_OP_FAST);
	nt_register(r, OP_LEND, op_lend, NULL, NRPC_OP_FAST);
	nt_register(r, OP_LENDSTAT, op_lendstat, NULL, NRPC_OP_FAST);
	tl_put_u32(self->wr, (uint32_t)tl_listen(ep, link));
	nt_serve(r, self, 30000, NULL, NULL);
	nrpc_destroy(r);
	tpz_payload_free(ep, &cache);
	tpz_endpoint_destroy(ep);
	return 0;
}

/* ---- client ------------------------------------------------------------- */

static struct nrpc *R;
static struct tpz_endpoint *EP;
static const char *LN;
static uint32_t nplaced;        /* reads that must have been placed by the engine */

/* Fill a reply list with the canary. */
static void canary(const struct tpz_payload *pl)
{
	for (uint32_t i = 0; i < pl->nseg; i++)
		memset(pl->seg[i].base, CANARY, pl->seg[i].len);
}

/* The bytes of pl after the first len are still the canary. */
static bool tail_intact(const struct tpz_payload *pl, uint32_t len)
{
	uint32_t off = 0;

	for (uint32_t i = 0; i < pl->nseg; i++) {
		uint32_t n = pl->seg[i].len, skip = 0;
		if (off < len)
			skip = len - off < n ? len - off : n;
		if (!tl_all_bytes((uint8_t *)pl->seg[i].base + skip, n - skip, CANARY))
			return false;
		off += n;
	}
	return true;
}

/* Check a placed read: res against the expected bytes in buf. */
static void check_placed(const char *what, const struct nrpc_result *res,
			 const struct tpz_payload *buf, uint32_t len, uint32_t seed)
{
	CHECK(res->status == 0, "%s %s: status %d (%s)", LN, what, res->status,
	      tpz_strerror(res->status));
	CHECK(res->res_len == 8 && nt_u32(res->res, 0) == len && nt_u32(res->res, 4) == seed,
	      "%s %s: res_len %u res {%u, %#x}, want 8 {%u, %#x}", LN, what, res->res_len,
	      nt_u32(res->res, 0), nt_u32(res->res, 4), len, seed);
	CHECK(res->replier == 2, "%s %s: replier %u", LN, what, res->replier);
	CHECK(res->payload_len == len, "%s %s: payload_len %u, want %u", LN, what,
	      res->payload_len, len);
	CHECK(res->placed, "%s %s: placed is false: the payload did not land in the reply_buf",
	      LN, what);
	CHECK(res->payload.nseg == buf->nseg, "%s %s: res.payload has %u segments, reply_buf %u",
	      LN, what, res->payload.nseg, buf->nseg);
	for (uint32_t i = 0; i < buf->nseg; i++)
		CHECK(res->payload.seg[i].base == buf->seg[i].base,
		      "%s %s: res.payload.seg[%u].base %p is not the caller's buffer %p", LN, what,
		      i, res->payload.seg[i].base, buf->seg[i].base);
	long bad = tl_verify_payload(buf, len, seed);
	CHECK(bad < 0, "%s %s: byte %ld of %u wrong in the reply buffer", LN, what, bad, len);
	CHECK(tail_intact(buf, len), "%s %s: bytes after the payload were written", LN, what);
}

/* One blocking read of len bytes into buf; checked. */
static void read_into(const char *what, uint16_t op, struct tpz_payload *buf, uint32_t len,
		      uint32_t seed)
{
	uint32_t args[2] = { seed, len };
	struct nrpc_call_desc d = { .dst = 2, .op = op, .args = op == OP_LEND ? &len : (void *)args,
				    .args_len = op == OP_LEND ? 4 : 8, .reply_buf = buf };
	struct nrpc_result res;
	struct tpz_counters t0 = tl_counters(EP), t1;

	canary(buf);
	memset(&res, 0, sizeof(res));
	CHECK_RC(nrpc_call(R, &d, &res), 0);
	check_placed(what, &res, buf, len, op == OP_LEND ? CACHE_SEED : seed);
	t1 = tl_counters(EP);
	CHECK(t1.ipt_hits - t0.ipt_hits == 1, "%s %s: client ipt_hits moved by %llu, want 1 (the "
	      "engine placed the payload)", LN, what, (unsigned long long)(t1.ipt_hits - t0.ipt_hits));
	CHECK(t1.payload_copies - t0.payload_copies <= 1, "%s %s: client payload_copies moved by "
	      "%llu for one payload", LN, what,
	      (unsigned long long)(t1.payload_copies - t0.payload_copies));
	nplaced++;
}

static void run(enum tl_link link)
{
	struct tl_proc srv = { .index = 0 };
	static const uint32_t sizes[] = { 1, 4095, 4096, 65536, 65537, 100000, 200000, 1u << 20 };
	char what[96];

	LN = tl_link_name(link);
	nplaced = 0;
	tl_spawn(&srv, server, (void *)(intptr_t)link);
	int port = (int)tl_get_u32(srv.rd, 5000);
	EP = nt_client_ep(1, link, 2, port);
	R = nt_nrpc(EP, NULL);
	struct tpz_counters tc0 = tl_counters(EP);
	struct nrpc_counters nc0 = nt_counters(R);
	uint64_t want_bytes = 0;

	/* One malloc'ed buffer of the maximum payload (a reply list is a
	 * payload: at most the maximum). */
	uint32_t blen = 1u << 20;
	uint8_t *mb = malloc(blen);
	CHECK(mb, "malloc");
	struct tpz_payload mbuf = nt_buf_payload(mb, blen);
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		snprintf(what, sizeof(what), "malloc buffer, %u bytes", sizes[i]);
		read_into(what, OP_READ, &mbuf, sizes[i], 1000 + (uint32_t)i);
		want_bytes += sizes[i];
	}

	/* A scatter list of three odd pieces (the payload straddles them). */
	uint8_t *p1 = malloc(1000), *p2 = malloc(70001), *p3 = malloc(60000);
	CHECK(p1 && p2 && p3, "malloc");
	struct tpz_payload sg = { .nseg = 3, .seg = { { p1, 1000 }, { p2, 70001 }, { p3, 60000 } } };
	read_into("3-piece malloc list, 100000 bytes", OP_READ, &sg, 100000, 2000);
	read_into("3-piece malloc list, 131001 bytes (full)", OP_READ, &sg, 131001, 2001);
	read_into("3-piece malloc list, 500 bytes", OP_READ, &sg, 500, 2002);
	want_bytes += 100000 + 131001 + 500;

	/* Pool frames as the reply buffer. */
	struct tpz_payload fb;
	CHECK_RC(tpz_payload_alloc(EP, &fb, 200000), 0);
	CHECK(fb.nseg >= 2, "%s: 200000 bytes of frames in %u segment(s)", LN, fb.nseg);
	read_into("pool frames, 200000 bytes", OP_READ, &fb, 200000, 3000);
	read_into("pool frames, 70000 bytes", OP_READ, &fb, 70000, 3001);
	want_bytes += 200000 + 70000;

	/* Lent cache frames from the server, into malloc memory and into frames. */
	read_into("lent cache frames, 5000 bytes", OP_LEND, &mbuf, 5000, 0);
	read_into("lent cache frames, all", OP_LEND, &mbuf, CACHE_LEN, 0);
	read_into("lent cache frames into pool frames", OP_LEND, &fb, 150000, 0);
	want_bytes += 5000 + CACHE_LEN + 150000;

	/* Read-ahead: eight reads in flight at once, each into its own buffer. */
	enum { NR = 8, RLEN = 50000 };
	uint8_t *rb[NR];
	struct tpz_payload rpl[NR];
	nrpc_call_t rc_[NR];
	uint32_t rargs[NR][2];
	struct tpz_counters ra0 = tl_counters(EP);
	for (int i = 0; i < NR; i++) {
		rb[i] = malloc(RLEN + 100);
		CHECK(rb[i], "malloc");
		rpl[i] = nt_buf_payload(rb[i], RLEN + 100);
		canary(&rpl[i]);
		rargs[i][0] = 4000 + (uint32_t)i;
		rargs[i][1] = RLEN - (uint32_t)i * 1000;
		struct nrpc_call_desc d = { .dst = 2, .op = OP_READ, .args = rargs[i], .args_len = 8,
					    .reply_buf = &rpl[i] };
		CHECK_RC(nrpc_call_async(R, &d, NRPC_WAIT, NULL, NULL, &rc_[i]), 0);
		want_bytes += rargs[i][1];
	}
	for (int i = NR; i-- > 0;) {
		struct nrpc_result res;
		CHECK_RC(nrpc_wait(R, rc_[i], &res), 0);
		snprintf(what, sizeof(what), "read-ahead #%d", i);
		check_placed(what, &res, &rpl[i], rargs[i][1], rargs[i][0]);
		nplaced++;
	}
	struct tpz_counters ra1 = tl_counters(EP);
	CHECK(ra1.ipt_hits - ra0.ipt_hits == NR, "%s read-ahead: ipt_hits moved by %llu, want %d",
	      LN, (unsigned long long)(ra1.ipt_hits - ra0.ipt_hits), NR);

	/* No reply_buf: the payload comes in frames that are now ours. */
	{
		uint32_t args[2] = { 5000, 150000 };
		struct nrpc_call_desc d = { .dst = 2, .op = OP_READ, .args = args, .args_len = 8 };
		struct nrpc_result res;
		struct tpz_counters f0 = tl_counters(EP), f1;
		CHECK_RC(nrpc_call(R, &d, &res), 0);
		f1 = tl_counters(EP);
		CHECK(res.status == 0 && res.payload_len == 150000 && !res.placed,
		      "%s no reply_buf: status %d payload_len %u placed %d", LN, res.status,
		      res.payload_len, res.placed);
		CHECK(res.payload.nseg >= 3 && res.payload.nseg <= TPZ_SG_MAX,
		      "%s no reply_buf: %u segments for 150000 bytes", LN, res.payload.nseg);
		for (uint32_t i = 0; i < res.payload.nseg; i++)
			CHECK(tpz_is_frame(EP, res.payload.seg[i].base), "%s no reply_buf: segment %u "
			      "is not a pool frame", LN, i);
		long bad = tl_verify_payload(&res.payload, 150000, 5000);
		CHECK(bad < 0, "%s no reply_buf: byte %ld wrong", LN, bad);
		if (link == TL_SHM)
			CHECK(f1.payload_copies == f0.payload_copies, "%s no reply_buf: pool frames "
			      "were copied (payload_copies +%llu)", LN,
			      (unsigned long long)(f1.payload_copies - f0.payload_copies));
		tpz_payload_free(EP, &res.payload);
		want_bytes += 150000;
	}

	/* A reply_buf too small for the reply: dropped, buffer untouched. */
	{
		uint8_t small[1000];
		struct tpz_payload spl = nt_buf_payload(small, sizeof(small));
		uint32_t args[2] = { 6000, 5000 };
		struct nrpc_call_desc d = { .dst = 2, .op = OP_READ, .args = args, .args_len = 8,
					    .reply_buf = &spl };
		struct nrpc_result res;
		memset(small, CANARY, sizeof(small));
		CHECK_RC(nrpc_call(R, &d, &res), 0);
		CHECK(!res.placed && res.payload_len == 0, "%s too small reply_buf: placed %d "
		      "payload_len %u, want false / 0", LN, res.placed, res.payload_len);
		CHECK(tl_all_bytes(small, sizeof(small), CANARY), "%s too small reply_buf: the "
		      "buffer was written", LN);
		CHECK(res.res_len == 8 && nt_u32(res.res, 0) == 5000, "%s too small reply_buf: "
		      "inline results lost (res_len %u)", LN, res.res_len);
	}

	/* Server side of the lent replies. */
	{
		struct nrpc_call_desc d = { .dst = 2, .op = OP_LENDSTAT };
		struct nrpc_result res;
		bool ok = false;
		for (int tries = 0; tries < 100 && !ok; tries++) {
			CHECK_RC(nrpc_call(R, &d, &res), 0);
			CHECK(res.status == 0 && res.res_len == 16, "%s lendstat: status %d len %u", LN,
			      res.status, res.res_len);
			ok = nt_u32(res.res, 4) >= 3;
			if (!ok)
				NRPC_POLL_UNTIL(R, false, 10);
		}
		CHECK(nt_u32(res.res, 0) == 3 && nt_u32(res.res, 4) == 3 && nt_u32(res.res, 8) == 0,
		      "%s TPZ_SEND_LEND replies: %u lent, %u done callbacks, %u with a bad status; "
		      "want 3 / 3 / 0", LN, nt_u32(res.res, 0), nt_u32(res.res, 4),
		      nt_u32(res.res, 8));
		CHECK(nt_u32(res.res, 12) == 1, "%s the server's lent cache frames changed or are "
		      "no longer its frames", LN);
	}

	struct tpz_counters tc1 = tl_counters(EP);
	struct nrpc_counters nc1 = nt_counters(R);
	tl_print_counters(LN, &tc1);
	nt_print_counters(LN, &nc1);
	CHECK(tc1.ipt_hits - tc0.ipt_hits == nplaced, "%s: client ipt_hits moved by %llu, want %u",
	      LN, (unsigned long long)(tc1.ipt_hits - tc0.ipt_hits), nplaced);
	CHECK(tc1.payload_copies - tc0.payload_copies <= nplaced + 1, "%s: client payload_copies "
	      "moved by %llu for %u placed reads", LN,
	      (unsigned long long)(tc1.payload_copies - tc0.payload_copies), nplaced);
	EXPECT(nc1.bytes_received - nc0.bytes_received == want_bytes, "%s: NetRPC bytes_received "
	       "moved by %llu, want %llu", LN,
	       (unsigned long long)(nc1.bytes_received - nc0.bytes_received),
	       (unsigned long long)want_bytes);

	tpz_payload_free(EP, &fb);
	tl_put_u32(srv.wr, 0);
	tl_reap(&srv, 5000);
	nrpc_destroy(R);
	tpz_endpoint_destroy(EP);
	free(mb);
	free(p1);
	free(p2);
	free(p3);
	for (int i = 0; i < NR; i++)
		free(rb[i]);
	printf("t-nrpc-zero-copy-read: %s done (%u placed reads)\n", LN, nplaced);
}

int main(int argc, char **argv)
{
	tl_init(argc, argv, 50);
	run(TL_SHM);
	run(TL_TCP);
	return tl_finish();
}
