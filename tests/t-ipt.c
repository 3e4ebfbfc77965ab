/*
 * t-ipt: the incoming payload table, over shm and over tcp.
 *
 * The receiver (child) posts buffers and hands the tokens to the sender
 * (parent) through the test pipe; the sender sends a message carrying the
 * token and a payload.  Checked: a hit places the payload in the posted
 * buffer (rx.placed, cookie returned, the rest of the buffer untouched); a
 * forged key, a forged index, a cancelled entry, a second use of a token, a
 * payload larger than the buffer and a payload from the wrong node are all
 * dropped: the control message is delivered with TPZ_F_DROPPED and
 * payload_len 0 and the buffer is untouched; a forged key neither hits nor
 * kills the real entry; cancel of an unknown or forged token is -ENOENT;
 * the counters ipt_hits and ipt_drops/ipt_misses add up.
 */
#include "testlib.h"

#include <stdlib.h>
#include <unistd.h>

#define H    6
#define FILL 0xee

struct req {              /* child -> parent: send case `id` with this */
	uint32_t id;
	uint32_t len;
	uint64_t token;
};
#define REQ_END UINT32_MAX

/* ---- receiver ----------------------------------------------------------- */

struct seen {
	bool     got;
	uint32_t id;
	uint16_t flags;
	uint32_t payload_len;
	bool     placed;
	void    *cookie;
	uint32_t nseg;
	struct tpz_iov seg[TPZ_SG_MAX];
	uint64_t hdr_token;
	long     bad;      /* first wrong byte of an unplaced payload, or -1 */
};
static struct seen last;

static void on_recv(struct tpz_endpoint *ep, struct tpz_rx *rx, void *arg)
{
	CHECK(!last.got, "two messages for one case");
	CHECK(rx->data_len == 4, "data_len %u", rx->data_len);
	memcpy(&last.id, rx->data, 4);
	last.flags = rx->flags;
	last.payload_len = rx->payload_len;
	last.placed = rx->placed;
	last.cookie = rx->ipt_cookie;
	last.nseg = rx->payload.nseg;
	memcpy(last.seg, rx->payload.seg, sizeof(last.seg));
	last.hdr_token = rx->msg->hdr.token;
	last.bad = -1;
	if (!rx->placed && rx->payload_len > 0)
		last.bad = tl_verify_payload(&rx->payload, rx->payload_len, 500 + last.id);
	last.got = true;
	if (!rx->placed)
		tpz_rx_release(ep, rx);   /* nothing to free when dropped; must be harmless */
}

struct rctx {
	struct tpz_endpoint *ep;
	struct tl_proc *self;
	enum tl_link link;
};

/* Ask the sender for case id (len bytes, token) and wait for its message. */
static struct tpz_counters before;    /* counters when the case was asked */

static void ask(struct rctx *r, uint32_t id, uint32_t len, uint64_t token)
{
	struct req q = { id, len, token };

	before = tl_counters(r->ep);

	memset(&last, 0, sizeof(last));
	tl_put(r->self->wr, &q, sizeof(q));
	CHECK(POLL_UNTIL(r->ep, last.got, 8000), "%s case %u: message not delivered "
	      "(a dropped payload must still deliver its control message)",
	      tl_link_name(r->link), id);
	CHECK(last.id == id, "case %u: got the message of case %u", id, last.id);
}

static void expect_hit(struct rctx *r, uint32_t id, void *cookie, const struct tpz_payload *pl,
		       uint32_t len)
{
	const char *ln = tl_link_name(r->link);

	CHECK(!(last.flags & TPZ_F_DROPPED), "%s case %u: payload dropped on a valid token", ln, id);
	CHECK(last.placed, "%s case %u: rx.placed false on a valid token", ln, id);
	CHECK(last.cookie == cookie, "%s case %u: cookie %p, want %p", ln, id, last.cookie, cookie);
	CHECK(last.payload_len == len, "%s case %u: payload_len %u, want %u", ln, id,
	      last.payload_len, len);
	CHECK(last.nseg >= 1 && last.seg[0].base == pl->seg[0].base,
	      "%s case %u: rx.payload does not name the posted buffer", ln, id);
	long bad = tl_verify_payload(pl, len, 500 + id);
	CHECK(bad < 0, "%s case %u: byte %ld of the placed payload is wrong", ln, id, bad);
	/* Nothing written past the payload inside the posted buffer. */
	size_t off = 0;
	for (uint32_t i = 0; i < pl->nseg; i++) {
		const uint8_t *b = pl->seg[i].base;
		for (uint32_t j = 0; j < pl->seg[i].len; j++, off++)
			if (off >= len)
				CHECK(b[j] == FILL, "%s case %u: posted buffer written at %zu, past "
				      "the %u-byte payload", ln, id, off, len);
	}
}

/* How trapeze.h classifies a drop: ipt_misses "no such entry", ipt_drops
 * "wrong key or size"; some cases it leaves open. */
enum drop_kind { D_DROP, D_MISS, D_EITHER };

static void expect_drop(struct rctx *r, uint32_t id, const void *buf, size_t buflen,
			const char *why, enum drop_kind kind)
{
	const char *ln = tl_link_name(r->link);
	struct tpz_counters now = tl_counters(r->ep);
	uint64_t dd = now.ipt_drops - before.ipt_drops, dm = now.ipt_misses - before.ipt_misses;

	CHECK(last.flags & TPZ_F_DROPPED, "%s case %u (%s): no TPZ_F_DROPPED (flags 0x%x, "
	      "payload_len %u, placed %d)", ln, id, why, last.flags, last.payload_len, last.placed);
	CHECK(last.payload_len == 0, "%s case %u (%s): payload_len %u on a dropped payload",
	      ln, id, why, last.payload_len);
	CHECK(!last.placed, "%s case %u (%s): rx.placed on a dropped payload", ln, id, why);
	if (buf)
		CHECK(tl_all_bytes(buf, buflen, FILL), "%s case %u (%s): the posted buffer was "
		      "written although the payload was dropped", ln, id, why);
	CHECK(now.ipt_hits == before.ipt_hits, "%s case %u (%s): ipt_hits moved", ln, id, why);
	CHECK(dd + dm == 1, "%s case %u (%s): ipt_drops moved by %llu and ipt_misses by %llu, "
	      "want 1 in all", ln, id, why, (unsigned long long)dd, (unsigned long long)dm);
	EXPECT(kind != D_DROP || dd == 1, "%s case %u (%s): counted in ipt_misses; trapeze.h "
	       "says ipt_drops counts entries that exist but cannot take it", ln, id, why);
	EXPECT(kind != D_MISS || dm == 1, "%s case %u (%s): counted in ipt_drops; trapeze.h "
	       "says ipt_misses counts tokens with no live entry (forged, stale)", ln, id, why);
}

static struct tpz_payload one_seg(void *b, uint32_t len)
{
	struct tpz_payload p = { .nseg = 1 };

	p.seg[0].base = b;
	p.seg[0].len = len;
	return p;
}

static uint8_t *fresh(size_t len)
{
	uint8_t *b = aligned_alloc(4096, (len + 4095) / 4096 * 4096);

	CHECK(b, "aligned_alloc");
	memset(b, FILL, len);
	return b;
}

static int receiver(struct tl_proc *self, void *arg)
{
	enum tl_link link = (enum tl_link)(intptr_t)arg;
	struct tpz_config cfg;
	struct tpz_handler_ops ops = { .recv = on_recv };
	int cookies[16];
	uint64_t t1, t2, t3, t4, t5, t6, t7, t8, t9;
	int hits = 0, drops = 0, r;

	tl_config(&cfg, 2, link);
	struct tpz_endpoint *ep = tl_endpoint(&cfg);
	struct rctx rc = { ep, self, link };
	CHECK_RC(tpz_handler_register(ep, H, &ops), 0);
	tl_put_u32(self->wr, (uint32_t)tl_listen(ep, link));
	tl_wait_up(ep, 1, 5000);
	struct tpz_counters c0 = tl_counters(ep);

	/* 1: hit. */
	uint8_t *b1 = fresh(65536);
	struct tpz_payload p1 = one_seg(b1, 65536);
	CHECK_RC(tpz_ipt_post(ep, 1, &p1, &cookies[1], &t1), 0);
	CHECK(t1 != 0, "tpz_ipt_post returned token 0");
	ask(&rc, 1, 10000, t1);
	expect_hit(&rc, 1, &cookies[1], &p1, 10000);
	CHECK(last.hdr_token == t1, "hdr.token 0x%llx, sent 0x%llx",
	      (unsigned long long)last.hdr_token, (unsigned long long)t1);
	hits++;
	CHECK_RC(tpz_ipt_cancel(ep, t1), -ENOENT);   /* died on the match */

	/* 2: forged key (same index): dropped, buffer untouched. */
	uint8_t *b2 = fresh(8192);
	struct tpz_payload p2 = one_seg(b2, 8192);
	CHECK_RC(tpz_ipt_post(ep, 1, &p2, &cookies[2], &t2), 0);
	ask(&rc, 2, 3000, t2 ^ (0x5aull << 32));
	expect_drop(&rc, 2, b2, 8192, "forged key", D_MISS);
	drops++;

	/* 3: the forgery did not kill the real entry: the true token still hits. */
	ask(&rc, 3, 3000, t2);
	expect_hit(&rc, 3, &cookies[2], &p2, 3000);
	hits++;

	/* 4: forged index (the key of a real entry, an index nobody posted). */
	ask(&rc, 4, 100, (t1 & 0xffffffff00000000ull) | 0x00fffff0u);
	expect_drop(&rc, 4, NULL, 0, "forged index", D_MISS);
	drops++;

	/* 5: cancel, then the payload arrives late. */
	uint8_t *b3 = fresh(8192);
	struct tpz_payload p3 = one_seg(b3, 8192);
	CHECK_RC(tpz_ipt_post(ep, 1, &p3, &cookies[3], &t3), 0);
	CHECK_RC(tpz_ipt_cancel(ep, t3), 0);
	ask(&rc, 5, 5000, t3);
	expect_drop(&rc, 5, b3, 8192, "cancelled entry", D_EITHER);
	drops++;
	CHECK_RC(tpz_ipt_cancel(ep, t3), -ENOENT);

	/* 6: a token is good once. */
	uint8_t *b4 = fresh(4096);
	struct tpz_payload p4 = one_seg(b4, 4096);
	CHECK_RC(tpz_ipt_post(ep, 1, &p4, &cookies[4], &t4), 0);
	ask(&rc, 6, 2000, t4);
	expect_hit(&rc, 6, &cookies[4], &p4, 2000);
	hits++;
	memset(b4, FILL, 4096);
	ask(&rc, 7, 2000, t4);
	expect_drop(&rc, 7, b4, 4096, "token used twice", D_EITHER);
	drops++;

	/* 8: payload larger than the posted buffer (a canary page follows it). */
	uint8_t *b5 = fresh(8192);
	struct tpz_payload p5 = one_seg(b5, 4096);
	CHECK_RC(tpz_ipt_post(ep, 1, &p5, &cookies[5], &t5), 0);
	ask(&rc, 8, 4097, t5);
	expect_drop(&rc, 8, b5, 8192, "payload larger than the buffer", D_DROP);
	drops++;
	r = tpz_ipt_cancel(ep, t5);
	CHECK(r == 0 || r == -ENOENT, "cancel after an oversize drop: %d", r);

	/* 9: posted for node 77 only; node 1 uses the token. */
	uint8_t *b6 = fresh(4096);
	struct tpz_payload p6 = one_seg(b6, 4096);
	CHECK_RC(tpz_ipt_post(ep, 77, &p6, &cookies[6], &t6), 0);
	ask(&rc, 9, 100, t6);
	expect_drop(&rc, 9, b6, 4096, "token posted for another node", D_EITHER);
	drops++;
	r = tpz_ipt_cancel(ep, t6);
	CHECK(r == 0 || r == -ENOENT, "cancel after a wrong-node drop: %d", r);

	/* 10: two pool frames as the buffer: the payload spans both. */
	struct tpz_payload p7;
	size_t fs = tpz_frame_size(ep);
	CHECK_RC(tpz_payload_alloc(ep, &p7, 2 * fs), 0);
	for (uint32_t i = 0; i < p7.nseg; i++)
		memset(p7.seg[i].base, FILL, p7.seg[i].len);
	CHECK_RC(tpz_ipt_post(ep, 1, &p7, &cookies[7], &t7), 0);
	ask(&rc, 10, (uint32_t)fs + 1000, t7);
	expect_hit(&rc, 10, &cookies[7], &p7, (uint32_t)fs + 1000);
	hits++;
	tpz_payload_free(ep, &p7);

	/* 11: exact fit, from any node. */
	uint8_t *b8 = fresh(4096);
	struct tpz_payload p8 = one_seg(b8, 4096);
	CHECK_RC(tpz_ipt_post(ep, TPZ_NODE_ANY, &p8, &cookies[8], &t8), 0);
	ask(&rc, 11, 4096, t8);
	expect_hit(&rc, 11, &cookies[8], &p8, 4096);
	hits++;

	/* 12: cancel needs the key too; an unknown token is -ENOENT. */
	uint8_t *b9 = fresh(4096);
	struct tpz_payload p9 = one_seg(b9, 4096);
	CHECK_RC(tpz_ipt_post(ep, 1, &p9, &cookies[9], &t9), 0);
	CHECK_RC(tpz_ipt_cancel(ep, t9 ^ (1ull << 40)), -ENOENT);
	CHECK_RC(tpz_ipt_cancel(ep, (t9 & 0xffffffff00000000ull) | 0x00ffff00u), -ENOENT);
	CHECK_RC(tpz_ipt_cancel(ep, t9), 0);
	CHECK_RC(tpz_ipt_cancel(ep, t9), -ENOENT);
	r = tpz_ipt_cancel(ep, 0);
	CHECK(r == -ENOENT || r == -EINVAL, "tpz_ipt_cancel(0): %d", r);
	CHECK(tl_all_bytes(b9, 4096, FILL), "cancelled buffer written");

	/* 13: no token at all still works as a normal payload. */
	ask(&rc, 13, 5000, 0);
	CHECK(!last.placed && !(last.flags & TPZ_F_DROPPED) && last.payload_len == 5000,
	      "%s case 13: plain payload: placed %d flags 0x%x len %u", tl_link_name(link),
	      last.placed, last.flags, last.payload_len);
	CHECK(last.bad < 0, "%s case 13: plain payload byte %ld is wrong", tl_link_name(link),
	      last.bad);

	struct req end = { REQ_END, 0, 0 };
	tl_put(self->wr, &end, sizeof(end));

	struct tpz_counters c1 = tl_counters(ep);
	uint64_t h = c1.ipt_hits - c0.ipt_hits;
	uint64_t d = (c1.ipt_drops - c0.ipt_drops) + (c1.ipt_misses - c0.ipt_misses);
	tl_print_counters("receiver", &c1);
	CHECK(h == (uint64_t)hits, "%s: ipt_hits moved by %llu, want %d", tl_link_name(link),
	      (unsigned long long)h, hits);
	CHECK(d == (uint64_t)drops, "%s: ipt_drops + ipt_misses moved by %llu, want %d",
	      tl_link_name(link), (unsigned long long)d, drops);
	tl_get_u32_poll(ep, self->rd, 5000);
	CHECK(POLL_UNTIL(ep, ({ struct tpz_counters _c = tl_counters(ep);
				_c.frames_free == _c.frames_total; }), 3000),
	      "receiver: frames leaked: %llu of %llu free",
	      (unsigned long long)tl_counters(ep).frames_free,
	      (unsigned long long)tl_counters(ep).frames_total);
	tpz_endpoint_destroy(ep);
	free(b1); free(b2); free(b3); free(b4); free(b5); free(b6); free(b8); free(b9);
	return tl_finish();
}

/* ---- sender ------------------------------------------------------------- */

int main(int argc, char **argv)
{
	tl_init(argc, argv, 40);
	for (int li = 0; li < 2; li++) {
		enum tl_link link = li == 0 ? TL_SHM : TL_TCP;
		struct tl_proc rx = { 0 };
		struct tpz_config cfg;

		tl_spawn(&rx, receiver, (void *)(intptr_t)link);
		int port = (int)tl_get_u32(rx.rd, 5000);
		tl_config(&cfg, 1, link);
		struct tpz_endpoint *ep = tl_endpoint(&cfg);
		if (link == TL_SHM)
			tl_listen(ep, link);
		tl_connect(ep, 2, link, port);

		for (int n = 0;; n++) {
			struct req q;
			CHECK(n < 100, "too many requests");
			tl_get_poll(ep, rx.rd, &q, sizeof(q), 10000);
			if (q.id == REQ_END)
				break;
			/* Alternate pool frames and ordinary memory (copied at send). */
			struct tpz_payload pl = { 0 };
			uint8_t *mem = NULL;
			if (q.id % 2) {
				CHECK_RC(tpz_payload_alloc(ep, &pl, q.len), 0);
				size_t left = q.len;
				for (uint32_t i = 0; i < pl.nseg; i++) {
					if (pl.seg[i].len > left)
						pl.seg[i].len = (uint32_t)left;
					left -= pl.seg[i].len;
				}
			} else {
				mem = malloc(q.len);
				CHECK(mem, "malloc");
				pl = one_seg(mem, q.len);
			}
			tl_fill_payload(&pl, q.len, 500 + q.id);
			struct tpz_send s = { .dst = 2, .handler = H, .data = &q.id, .data_len = 4,
					      .payload = &pl, .token = q.token };
			int r = tl_send(ep, &s, 5000);
			CHECK(r == 0, "case %u: tpz_send %d %s", q.id, r, tpz_strerror(r));
			free(mem);
		}
		tl_put_u32(rx.wr, 0);
		EXPECT(tl_reap_ok(&rx, 8000), "%s: the receiver failed (see above)",
		       tl_link_name(link));
		CHECK(POLL_UNTIL(ep, ({ struct tpz_counters _c = tl_counters(ep);
					_c.frames_free == _c.frames_total; }), 3000),
		      "%s sender: %llu of %llu frames free after dropped payloads",
		      tl_link_name(link), (unsigned long long)tl_counters(ep).frames_free,
		      (unsigned long long)tl_counters(ep).frames_total);
		tpz_endpoint_destroy(ep);
		printf("t-ipt: %s done\n", tl_link_name(link));
	}
	return tl_finish();
}
