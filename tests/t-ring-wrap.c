/*
 * t-ring-wrap: over shm with 8-slot rings, many more messages than slots
 * arrive in order and intact across wrap-around; with the receiver not
 * polling, the sender is refused with -EAGAIN (counted in ring_full) rather
 * than losing anything, and once the receiver polls every accepted message
 * arrives exactly once, in order.
 */
#include "testlib.h"

#include <unistd.h>

#define SLOTS    8u
#define H        9
#define PHASE1_N 2000u
#define PHASE3_N 300u
#define K_LIMIT  (8 * SLOTS)   /* generous bound on what a full pipe may hold */

static uint32_t next_seq;    /* receiver: the seq it expects next */
static uint32_t received;

static uint32_t msg_len(uint32_t seq)
{
	return 4 + seq % (TPZ_INLINE_MAX - 3);   /* 4 .. 96 */
}

static void make_msg(uint8_t *buf, uint32_t seq)
{
	memcpy(buf, &seq, 4);
	tl_fill(buf + 4, msg_len(seq) - 4, seq, 0);
}

static void on_recv(struct tpz_endpoint *ep, struct tpz_rx *rx, void *arg)
{
	uint32_t seq;

	CHECK(rx->src == 1, "message from node %u, want 1", rx->src);
	CHECK(rx->msg != NULL && rx->msg->hdr.handler == H, "handler id in header");
	CHECK(rx->data_len >= 4, "message %u: data_len %u", next_seq, rx->data_len);
	CHECK(rx->data_len == rx->msg->hdr.inline_len, "data_len %u vs header inline_len %u",
	      rx->data_len, rx->msg->hdr.inline_len);
	memcpy(&seq, rx->data, 4);
	CHECK(seq == next_seq, "out of order: got message %u, expected %u", seq, next_seq);
	CHECK(rx->data_len == msg_len(seq), "message %u: data_len %u, want %u", seq,
	      rx->data_len, msg_len(seq));
	long bad = tl_verify((const uint8_t *)rx->data + 4, rx->data_len - 4, seq, 0);
	CHECK(bad < 0, "message %u: inline byte %ld corrupted", seq, bad + 4);
	CHECK(rx->payload_len == 0, "message %u has payload_len %u", seq, rx->payload_len);
	next_seq++;
	received++;
}

static int receiver(struct tl_proc *self, void *arg)
{
	struct tpz_config cfg;
	struct tpz_handler_ops ops = { .recv = on_recv };

	tl_config(&cfg, 2, TL_SHM);
	cfg.ring_slots = SLOTS;
	struct tpz_endpoint *ep = tl_endpoint(&cfg);
	CHECK_RC(tpz_handler_register(ep, H, &ops), 0);
	tl_listen(ep, TL_SHM);
	tl_put_u32(self->wr, 0);                      /* ready */
	tl_wait_up(ep, 1, 5000);

	/* Phase 1: poll continuously. */
	CHECK(POLL_UNTIL(ep, received == PHASE1_N, 8000),
	      "phase 1: received %u of %u messages", received, PHASE1_N);
	tl_put_u32(self->wr, received);

	/* Phase 2: do not poll until the sender has filled everything up. */
	uint32_t k = tl_get_u32(self->rd, 8000);
	uint32_t want = PHASE1_N + k;
	double end = tl_now_ms() + 5000;
	while (received < want && tl_now_ms() < end) {
		uint32_t before = received;
		int n = tpz_poll(ep, 3);
		CHECK(n >= 0 && n <= 3, "tpz_poll(ep, 3) returned %d", n);
		CHECK(received - before == (uint32_t)n,
		      "tpz_poll returned %d but ran %u upcalls", n, received - before);
		if (n == 0)
			tl_idle(ep);
	}
	CHECK(received == want, "phase 2: %u messages were accepted, %u arrived",
	      k, received - PHASE1_N);
	/* Exactly once: nothing more shows up. */
	POLL_UNTIL(ep, false, 300);
	CHECK(received == want, "phase 2: %u extra messages arrived", received - want);
	tl_put_u32(self->wr, received - PHASE1_N);

	/* Phase 3: the sender can go on. */
	want += PHASE3_N;
	CHECK(POLL_UNTIL(ep, received == want, 8000),
	      "phase 3: received %u of %u", received - (want - PHASE3_N), PHASE3_N);
	tl_put_u32(self->wr, received);
	tl_get_u32_poll(ep, self->rd, 5000);          /* bye */
	tpz_endpoint_destroy(ep);
	return 0;
}

static int send_one(struct tpz_endpoint *ep, uint32_t seq)
{
	uint8_t buf[TPZ_INLINE_MAX];

	make_msg(buf, seq);
	return tpz_send_inline(ep, 2, H, buf, msg_len(seq));
}

int main(int argc, char **argv)
{
	struct tl_proc rx = { 0 };
	struct tpz_config cfg;
	uint32_t seq = 0;

	tl_init(argc, argv, 30);
	tl_spawn(&rx, receiver, NULL);
	tl_get_u32(rx.rd, 5000);

	tl_config(&cfg, 1, TL_SHM);
	cfg.ring_slots = SLOTS;
	struct tpz_endpoint *ep = tl_endpoint(&cfg);
	tl_listen(ep, TL_SHM);
	tl_connect(ep, 2, TL_SHM, 0);

	/* Phase 1: 250 laps of the ring, retrying when it is full. */
	for (; seq < PHASE1_N; seq++) {
		uint8_t buf[TPZ_INLINE_MAX];
		make_msg(buf, seq);
		int r = tl_send_inline(ep, 2, H, buf, msg_len(seq), 5000);
		CHECK_RC(r, 0);
	}
	uint32_t got = tl_get_u32_poll(ep, rx.rd, 10000);
	CHECK_RC(got, PHASE1_N);

	/* Phase 2: the receiver sleeps in read(); fill until refused. */
	struct tpz_counters c0 = tl_counters(ep);
	uint32_t k = 0;
	int attempts = 0;
	double first_eagain = 0;
	for (;;) {
		CHECK(++attempts < 200000, "no -EAGAIN after %d attempts", attempts);
		int r = send_one(ep, seq);
		if (r == 0) {
			seq++;
			k++;
			first_eagain = 0;
			CHECK(k <= K_LIMIT, "%u messages accepted with an 8-slot ring and a "
			      "receiver that does not poll: the queue is not bounded", k);
			continue;
		}
		CHECK(r == -EAGAIN, "tpz_send on a full ring: %d %s (want -EAGAIN)", r,
		      tpz_strerror(r));
		if (first_eagain == 0)
			first_eagain = tl_now_ms();
		else if (tl_now_ms() - first_eagain > 300)
			break;                 /* refused for 300 ms: the pipe is full */
		int pr = tpz_poll(ep, 0);
		CHECK(pr >= 0, "tpz_poll: %d", pr);
		usleep(200);
	}
	struct tpz_counters c1 = tl_counters(ep);
	CHECK(k >= 1, "no message accepted after phase 1");
	CHECK(c1.ring_full > c0.ring_full, "ring_full did not move (%llu -> %llu) although "
	      "tpz_send returned -EAGAIN", (unsigned long long)c0.ring_full,
	      (unsigned long long)c1.ring_full);
	fprintf(stderr, "phase 2: %u messages accepted before -EAGAIN, ring_full %llu\n", k,
		(unsigned long long)(c1.ring_full - c0.ring_full));
	tl_put_u32(rx.wr, k);
	got = tl_get_u32_poll(ep, rx.rd, 10000);
	CHECK_RC(got, k);

	/* Phase 3: credit is back. */
	for (uint32_t i = 0; i < PHASE3_N; i++, seq++) {
		uint8_t buf[TPZ_INLINE_MAX];
		make_msg(buf, seq);
		CHECK_RC(tl_send_inline(ep, 2, H, buf, msg_len(seq), 5000), 0);
	}
	got = tl_get_u32_poll(ep, rx.rd, 10000);
	CHECK_RC(got, seq);
	struct tpz_counters c2 = tl_counters(ep);
	CHECK(c2.msgs_sent >= seq, "msgs_sent %llu < %u", (unsigned long long)c2.msgs_sent, seq);
	tl_put_u32(rx.wr, 0);
	tl_reap(&rx, 5000);
	tpz_endpoint_destroy(ep);
	printf("t-ring-wrap: ok (%u messages, %u before back-pressure)\n", seq, k);
	return 0;
}
