/*
 * t-send-lend: TPZ_SEND_LEND, over shm and tcp.  Pool frames sent with the
 * flag stay the sender's: done runs once the engine no longer reads them;
 * then the sender may overwrite and free them (tpz_frame_free succeeds: it
 * still owns them), while the receiver's payload, an independent copy, stays
 * intact.  Over shm that copy is counted (one payload_copies per message);
 * over tcp the wire is the copy (none).  The flag needs a done callback and
 * unknown flags are refused (-EINVAL).
 */
#include "testlib.h"

#include <stdlib.h>
#include <unistd.h>

#define H 11
static const uint32_t sizes[] = { 5000, 65536, 200001, 0 /* max */ };
#define N (sizeof(sizes) / sizeof(sizes[0]))

/* ---- receiver: keeps every payload until told to check it again -------- */

static struct tpz_payload kept[N + 1];
static uint32_t kept_len[N + 1], nkept;

static void on_recv(struct tpz_endpoint *ep, struct tpz_rx *rx, void *arg)
{
	uint32_t i;

	CHECK(rx->data_len == 4, "data_len %u", rx->data_len);
	memcpy(&i, rx->data, 4);
	CHECK(i == nkept && i <= N, "message %u, expected %u", i, nkept);
	CHECK(!(rx->flags & TPZ_F_DROPPED), "message %u dropped", i);
	long bad = tl_verify_payload(&rx->payload, rx->payload_len, 300 + i);
	CHECK(bad < 0, "message %u: lent payload byte %ld wrong on arrival", i, bad);
	kept[i] = rx->payload;            /* ours now: keep it */
	kept_len[i] = rx->payload_len;
	nkept++;
}

static int receiver(struct tl_proc *self, void *arg)
{
	enum tl_link link = (enum tl_link)(intptr_t)arg;
	struct tpz_config cfg;
	struct tpz_handler_ops ops = { .recv = on_recv };

	tl_config(&cfg, 2, link);
	struct tpz_endpoint *ep = tl_endpoint(&cfg);
	CHECK_RC(tpz_handler_register(ep, H, &ops), 0);
	tl_put_u32(self->wr, (uint32_t)tl_listen(ep, link));
	tl_wait_up(ep, 1, 5000);
	struct tpz_counters c0 = tl_counters(ep);
	uint32_t want = tl_get_u32_poll(ep, self->rd, 10000);
	CHECK(POLL_UNTIL(ep, nkept == want, 8000), "received %u of %u", nkept, want);
	tl_put(self->wr, &c0, sizeof(c0));
	struct tpz_counters c1 = tl_counters(ep);
	tl_put(self->wr, &c1, sizeof(c1));

	/* The sender has overwritten and freed its frames: ours are intact. */
	tl_get_u32_poll(ep, self->rd, 10000);
	for (uint32_t i = 0; i < nkept; i++) {
		long bad = tl_verify_payload(&kept[i], kept_len[i], 300 + i);
		CHECK(bad < 0, "%s: message %u: byte %ld of the received payload changed when the "
		      "sender reused its lent frames (not a copy)", tl_link_name(link), i, bad);
		tpz_payload_free(ep, &kept[i]);
	}
	struct tpz_counters c = tl_counters(ep);
	CHECK(c.frames_free == c.frames_total, "receiver: %llu of %llu frames free",
	      (unsigned long long)c.frames_free, (unsigned long long)c.frames_total);
	tl_put_u32(self->wr, nkept);
	tl_get_u32_poll(ep, self->rd, 5000);
	tpz_endpoint_destroy(ep);
	return 0;
}

/* ---- sender ------------------------------------------------------------- */

struct done_rec { int calls, status; };

static void on_done(void *arg, int status)
{
	struct done_rec *d = arg;

	d->calls++;
	d->status = status;
}

static void run(enum tl_link link)
{
	const char *ln = tl_link_name(link);
	struct tl_proc rx = { 0 };
	struct tpz_config cfg;
	struct tpz_payload pl[N];
	struct done_rec done[N + 1];
	uint8_t *mem;

	tl_spawn(&rx, receiver, (void *)(intptr_t)link);
	int port = (int)tl_get_u32(rx.rd, 5000);
	tl_config(&cfg, 1, link);
	struct tpz_endpoint *ep = tl_endpoint(&cfg);
	if (link == TL_SHM)
		tl_listen(ep, link);
	tl_connect(ep, 2, link, port);
	struct tpz_counters s0 = tl_counters(ep);
	memset(done, 0, sizeof(done));

	/* Refused: no done callback, unknown flags. */
	CHECK_RC(tpz_payload_alloc(ep, &pl[0], 4096), 0);
	uint32_t idx = 0;
	struct tpz_send s = { .dst = 2, .handler = H, .data = &idx, .data_len = 4,
			      .payload = &pl[0], .flags = TPZ_SEND_LEND };
	CHECK_RC(tpz_send(ep, &s), -EINVAL);
	s.done = on_done;
	s.done_arg = &done[0];
	s.flags = 0x2;
	CHECK_RC(tpz_send(ep, &s), -EINVAL);
	s.flags = 0x80000000u;
	CHECK_RC(tpz_send(ep, &s), -EINVAL);
	tpz_payload_free(ep, &pl[0]);
	CHECK(done[0].calls == 0, "done ran for a refused send");

	/* Lend N payloads of pool frames. */
	uint32_t max = tpz_max_payload(ep);
	for (uint32_t i = 0; i < N; i++) {
		uint32_t len = sizes[i] ? sizes[i] : max;
		CHECK_RC(tpz_payload_alloc(ep, &pl[i], len), 0);
		size_t left = len;
		for (uint32_t j = 0; j < pl[i].nseg; j++) {
			if (pl[i].seg[j].len > left)
				pl[i].seg[j].len = (uint32_t)left;
			left -= pl[i].seg[j].len;
		}
		tl_fill_payload(&pl[i], len, 300 + i);
		idx = i;
		s = (struct tpz_send){ .dst = 2, .handler = H, .data = &idx, .data_len = 4,
				       .payload = &pl[i], .done = on_done, .done_arg = &done[i],
				       .flags = TPZ_SEND_LEND };
		CHECK_RC(tl_send(ep, &s, 5000), 0);
	}
	/* And ordinary memory with the flag: nothing special, read in place. */
	mem = malloc(10000);
	CHECK(mem, "malloc");
	tl_fill(mem, 10000, 300 + N, 0);
	struct tpz_payload pm = { .nseg = 1, .seg = { { mem, 10000 } } };
	idx = N;
	s = (struct tpz_send){ .dst = 2, .handler = H, .data = &idx, .data_len = 4, .payload = &pm,
			       .done = on_done, .done_arg = &done[N], .flags = TPZ_SEND_LEND };
	CHECK_RC(tl_send(ep, &s, 5000), 0);

	CHECK(POLL_UNTIL(ep, ({ bool all = true;
		for (uint32_t i = 0; i <= N; i++) all = all && done[i].calls > 0; all; }), 5000),
	      "%s: not every done callback of a lent send ran", ln);
	tl_put_u32(rx.wr, N + 1);
	struct tpz_counters r0, r1;
	tl_get_poll(ep, rx.rd, &r0, sizeof(r0), 10000);
	tl_get_poll(ep, rx.rd, &r1, sizeof(r1), 5000);
	POLL_UNTIL(ep, false, 50);
	for (uint32_t i = 0; i <= N; i++)
		CHECK(done[i].calls == 1 && done[i].status == 0, "%s: done of message %u: %d calls, "
		      "status %d", ln, i, done[i].calls, done[i].status);

	/* The frames are still ours, untouched by the engine. */
	for (uint32_t i = 0; i < N; i++) {
		uint32_t len = sizes[i] ? sizes[i] : max;
		for (uint32_t j = 0; j < pl[i].nseg; j++)
			CHECK(tpz_is_frame(ep, pl[i].seg[j].base), "lent frame not a frame");
		long bad = tl_verify_payload(&pl[i], len, 300 + i);
		CHECK(bad < 0, "%s: the engine changed byte %ld of lent payload %u", ln, bad, i);
	}
	struct tpz_counters s1 = tl_counters(ep);
	CHECK(s1.frames_free + 16 + 4 + 1 + 1 <= s1.frames_total,
	      "%s: lent frames were returned to the pool (%llu of %llu free)", ln,
	      (unsigned long long)s1.frames_free, (unsigned long long)s1.frames_total);
	/* Reuse them, then free them: we own them. */
	for (uint32_t i = 0; i < N; i++)
		for (uint32_t j = 0; j < pl[i].nseg; j++) {
			memset(pl[i].seg[j].base, 0xcc, pl[i].seg[j].len);
			CHECK_RC(tpz_frame_free(ep, pl[i].seg[j].base), 0);
		}
	memset(mem, 0xcc, 10000);
	free(mem);
	tl_put_u32(rx.wr, 0);
	CHECK_RC(tl_get_u32_poll(ep, rx.rd, 10000), N + 1);

	long copies = (long)(s1.payload_copies - s0.payload_copies) +
		      (long)(r1.payload_copies - r0.payload_copies);
	fprintf(stderr, "%s: %zu lent payloads + 1 ordinary: payload_copies (both ends) %ld\n", ln,
		N, copies);
	if (link == TL_SHM)
		CHECK(copies == (long)N + 1, "%s: payload_copies moved by %ld for %zu lent + 1 "
		      "ordinary payloads; the receiver copies each once", ln, copies, N);
	else
		CHECK(copies == 0, "%s: payload_copies moved by %ld; tcp reads lent frames in place",
		      ln, copies);
	struct tpz_counters s2 = tl_counters(ep);
	CHECK(s2.frames_free == s2.frames_total, "%s: sender %llu of %llu frames free", ln,
	      (unsigned long long)s2.frames_free, (unsigned long long)s2.frames_total);
	tl_put_u32(rx.wr, 0);
	tl_reap(&rx, 5000);
	tpz_endpoint_destroy(ep);
	printf("t-send-lend: %s ok\n", ln);
}

int main(int argc, char **argv)
{
	tl_init(argc, argv, 30);
	run(TL_SHM);
	run(TL_TCP);
	return 0;
}
