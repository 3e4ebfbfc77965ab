/*
 * t-shm-multi: four processes on one shm fabric, each connected to every
 * other, exchange messages all-to-all at once (inline, and every 8th with a
 * pool-frame payload); every stream arrives complete, in order and intact,
 * and every frame is back in the pool at the end.
 */
#include "testlib.h"

#include <unistd.h>

#define NPROC 4
#define H     2
#define M     300      /* messages from each node to each other node */

struct body { uint32_t src, dst, seq, len; };

static uint32_t me;
static uint32_t next_from[NPROC + 1];
static uint32_t total_recv;

static uint32_t plen(uint32_t seq)
{
	return seq % 8 == 7 ? 1000 + (seq * 7919u) % 70000 : 0;
}

static uint32_t seed(uint32_t src, uint32_t dst, uint32_t seq)
{
	return src * 1000003u + dst * 7919u + seq;
}

static void on_recv(struct tpz_endpoint *ep, struct tpz_rx *rx, void *arg)
{
	struct body b;

	CHECK(rx->data_len == sizeof(b), "node %u: data_len %u", me, rx->data_len);
	memcpy(&b, rx->data, sizeof(b));
	CHECK(b.dst == me, "node %u got a message for node %u", me, b.dst);
	CHECK(b.src >= 1 && b.src <= NPROC && b.src != me, "node %u: bad src %u", me, b.src);
	CHECK(rx->src == b.src, "node %u: rx.src %u but the message is from %u", me, rx->src,
	      b.src);
	CHECK(b.seq == next_from[b.src], "node %u: from %u got seq %u, expected %u", me, b.src,
	      b.seq, next_from[b.src]);
	CHECK(rx->payload_len == plen(b.seq), "node %u: from %u seq %u: payload_len %u, want %u",
	      me, b.src, b.seq, rx->payload_len, plen(b.seq));
	if (rx->payload_len) {
		long bad = tl_verify_payload(&rx->payload, rx->payload_len,
					     seed(b.src, me, b.seq));
		CHECK(bad < 0, "node %u: from %u seq %u: payload byte %ld wrong", me, b.src,
		      b.seq, bad);
	}
	tpz_rx_release(ep, rx);
	next_from[b.src]++;
	total_recv++;
}

static int node_main(struct tl_proc *self, void *arg)
{
	struct tpz_config cfg;
	struct tpz_handler_ops ops = { .recv = on_recv };
	uint32_t sent[NPROC + 1] = { 0 };

	me = (uint32_t)self->index;
	tl_get_u32(self->rd, 10000);                /* create now */
	tl_config(&cfg, me, TL_SHM);
	cfg.ring_slots = 32;
	cfg.pool_frames = 256;
	struct tpz_endpoint *ep = tl_endpoint(&cfg);
	CHECK_RC(tpz_handler_register(ep, H, &ops), 0);
	tl_listen(ep, TL_SHM);
	tl_put_u32(self->wr, me);                   /* ready */

	tl_get_u32_poll(ep, self->rd, 10000);       /* connect */
	for (uint32_t j = 1; j < me; j++)
		tl_connect(ep, j, TL_SHM, 0);
	for (uint32_t j = 1; j <= NPROC; j++)
		if (j != me)
			tl_wait_up(ep, j, 8000);
	tl_put_u32(self->wr, me);                   /* all up */

	tl_get_u32_poll(ep, self->rd, 10000);       /* go */
	for (uint32_t seq = 0; seq < M; seq++) {
		for (uint32_t k = 1; k < NPROC; k++) {
			uint32_t dst = (me + k - 1) % NPROC + 1;     /* everyone but me */
			struct body b = { me, dst, seq, plen(seq) };
			struct tpz_payload pl;
			struct tpz_send s = { .dst = dst, .handler = H, .data = &b,
					      .data_len = sizeof(b) };
			if (b.len) {
				CHECK_RC(tpz_payload_alloc(ep, &pl, b.len), 0);
				size_t left = b.len;
				for (uint32_t i = 0; i < pl.nseg; i++) {
					if (pl.seg[i].len > left)
						pl.seg[i].len = (uint32_t)left;
					left -= pl.seg[i].len;
				}
				tl_fill_payload(&pl, b.len, seed(me, dst, seq));
				s.payload = &pl;
			}
			int r = tl_send(ep, &s, 5000);
			CHECK(r == 0, "node %u -> %u seq %u: tpz_send %d %s", me, dst, seq, r,
			      tpz_strerror(r));
			sent[dst]++;
		}
		tpz_poll(ep, 0);
	}
	CHECK(POLL_UNTIL(ep, total_recv == (NPROC - 1) * M, 8000),
	      "node %u received %u of %u messages (from 1..4: %u %u %u %u)", me, total_recv,
	      (NPROC - 1) * M, next_from[1], next_from[2], next_from[3], next_from[4]);
	tl_put_u32(self->wr, total_recv);

	tl_get_u32_poll(ep, self->rd, 10000);       /* everyone is done */
	CHECK(POLL_UNTIL(ep, ({ struct tpz_counters _c = tl_counters(ep);
				_c.frames_free == _c.frames_total; }), 3000),
	      "node %u: %llu of %llu frames free after all payloads were released", me,
	      (unsigned long long)tl_counters(ep).frames_free,
	      (unsigned long long)tl_counters(ep).frames_total);
	struct tpz_counters c = tl_counters(ep);
	CHECK(c.msgs_recv >= (NPROC - 1) * M, "node %u: msgs_recv %llu", me,
	      (unsigned long long)c.msgs_recv);
	tl_put_u32(self->wr, me);
	tl_get_u32_poll(ep, self->rd, 10000);       /* exit */
	tpz_endpoint_destroy(ep);
	return 0;
}

int main(int argc, char **argv)
{
	struct tl_proc p[NPROC + 1];

	tl_init(argc, argv, 40);
	for (int i = 1; i <= NPROC; i++) {
		p[i] = (struct tl_proc){ .index = i };
		tl_spawn(&p[i], node_main, NULL);
	}
	/* Node 1 creates the fabric; the others attach together. */
	tl_put_u32(p[1].wr, 0);
	CHECK_RC(tl_get_u32(p[1].rd, 8000), 1);
	for (int i = 2; i <= NPROC; i++)
		tl_put_u32(p[i].wr, 0);
	for (int i = 2; i <= NPROC; i++)
		CHECK_RC(tl_get_u32(p[i].rd, 8000), i);
	for (int i = 1; i <= NPROC; i++)
		tl_put_u32(p[i].wr, 0);                   /* connect */
	for (int i = 1; i <= NPROC; i++)
		CHECK_RC(tl_get_u32(p[i].rd, 15000), i);
	for (int i = 1; i <= NPROC; i++)
		tl_put_u32(p[i].wr, 0);                   /* go */
	for (int i = 1; i <= NPROC; i++)
		CHECK_RC(tl_get_u32(p[i].rd, 15000), (NPROC - 1) * M);
	for (int i = 1; i <= NPROC; i++)
		tl_put_u32(p[i].wr, 0);
	for (int i = 1; i <= NPROC; i++)
		CHECK_RC(tl_get_u32(p[i].rd, 8000), i);
	for (int i = 1; i <= NPROC; i++)
		tl_put_u32(p[i].wr, 0);
	for (int i = 1; i <= NPROC; i++)
		tl_reap(&p[i], 8000);
	printf("t-shm-multi: ok (%d nodes, %d messages each way)\n", NPROC, M);
	return 0;
}
