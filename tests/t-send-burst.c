/*
 * t-send-burst: tpz_send_burst queues runs of messages in order, over shm
 * and tcp, inline and with payloads from ordinary memory that the sender
 * overwrites as soon as the burst returns; a receiver asleep in tpz_wait is
 * woken at most once per burst (one doorbell per run, not per message).
 */
#include "testlib.h"

#define H       4
#define BURSTS  40
#define PER     64
#define PLEN    4000
#define TOTAL   (BURSTS * PER)

static uint32_t got, bad;

static void on_recv(struct tpz_endpoint *ep, struct tpz_rx *rx, void *arg)
{
	uint32_t seq;

	CHECK(rx->data_len == sizeof(seq), "data_len %u", rx->data_len);
	memcpy(&seq, rx->data, sizeof(seq));
	if (seq != got)
		bad++;   /* out of order or lost */
	if (seq % 4 == 3) {   /* these carry a payload */
		if (rx->payload_len != PLEN || tl_verify_payload(&rx->payload, PLEN, seq) >= 0)
			bad++;
		tpz_rx_release(ep, rx);
	}
	got++;
}

static int receiver(struct tl_proc *self, void *arg)
{
	enum tl_link link = (enum tl_link)(intptr_t)arg;
	struct tpz_config cfg;
	struct tpz_handler_ops ops = { .recv = on_recv };

	tl_config(&cfg, 2, link);
	cfg.spin_us = 0;   /* sleep at once: every wake-up is visible */
	struct tpz_endpoint *ep = tl_endpoint(&cfg);
	CHECK_RC(tpz_handler_register(ep, H, &ops), 0);
	tl_put_u32(self->wr, (uint32_t)tl_listen(ep, link));
	tl_wait_up(ep, 1, 5000);
	double end = tl_now_ms() + 20000;
	while (got < TOTAL && tl_now_ms() < end)
		CHECK(tpz_wait(ep, 100) >= 0, "tpz_wait failed");
	tl_put_u32(self->wr, got);
	tl_put_u32(self->wr, bad);
	tl_get_u32_poll(ep, self->rd, 5000);
	tpz_endpoint_destroy(ep);
	return 0;
}

static void run(enum tl_link link)
{
	static uint8_t bufs[PER][PLEN];
	struct tl_proc rx = { 0 };
	struct tpz_config cfg;
	struct tpz_send s[PER];
	struct tpz_payload pl[PER];
	uint32_t seqs[PER];

	tl_spawn(&rx, receiver, (void *)(intptr_t)link);
	int port = (int)tl_get_u32(rx.rd, 5000);
	tl_config(&cfg, 1, link);
	struct tpz_endpoint *ep = tl_endpoint(&cfg);
	if (link == TL_SHM)
		tl_listen(ep, link);
	tl_connect(ep, 2, link, port);
	struct tpz_counters c0 = tl_counters(ep);

	for (uint32_t b = 0; b < BURSTS; b++) {
		for (uint32_t i = 0; i < PER; i++) {
			seqs[i] = b * PER + i;
			s[i] = (struct tpz_send){ .dst = 2, .handler = H, .data = &seqs[i], .data_len = 4 };
			if (seqs[i] % 4 == 3) {
				tl_fill(bufs[i], PLEN, seqs[i], 0);
				pl[i] = (struct tpz_payload){ 1, { { bufs[i], PLEN } } };
				s[i].payload = &pl[i];
			}
		}
		int sent = 0;
		double end = tl_now_ms() + 5000;
		while (sent < PER) {
			int n = tpz_send_burst(ep, s + sent, PER - sent);
			CHECK(n > 0 || n == -EAGAIN || n == -ENOBUFS, "burst %u: %s", b, tpz_strerror(n));
			if (n > 0)
				sent += n;
			else
				tpz_poll(ep, 0);
			CHECK(tl_now_ms() < end, "burst %u stuck at %d of %d", b, sent, PER);
		}
		/* The engine must be done with our memory now: scribble on it. */
		memset(bufs, 0xee, sizeof(bufs));
		tl_pause();   /* let the receiver fall asleep between bursts */
	}
	uint32_t n = tl_get_u32_poll(ep, rx.rd, 20000), nbad = tl_get_u32(rx.rd, 1000);
	struct tpz_counters c1 = tl_counters(ep);
	uint64_t wakes = c1.wakeups_sent - c0.wakeups_sent;
	printf("t-send-burst: %s: %u of %u received, %u bad, %llu wake-ups for %u bursts\n",
	       tl_link_name(link), n, TOTAL, nbad, (unsigned long long)wakes, BURSTS);
	CHECK_RC(n, TOTAL);
	CHECK_RC(nbad, 0);
	CHECK(c1.msgs_sent - c0.msgs_sent == TOTAL, "msgs_sent moved by %llu",
	      (unsigned long long)(c1.msgs_sent - c0.msgs_sent));
	/* At most one doorbell per burst run; a retried tail may add one. */
	CHECK(wakes <= 2 * BURSTS, "%llu wake-ups for %u bursts", (unsigned long long)wakes, BURSTS);
	tl_put_u32(rx.wr, 0);
	tl_reap(&rx, 5000);
	tpz_endpoint_destroy(ep);
}

int main(int argc, char **argv)
{
	tl_init(argc, argv, 60);
	struct tpz_send none[1] = { { .dst = 9, .handler = H } };
	CHECK_RC(tpz_send_burst(NULL, none, 1), -EINVAL);
	run(TL_SHM);
	run(TL_TCP);
	return 0;
}
