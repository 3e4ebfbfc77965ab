/*
 * t-inline-bounds: inline data of 0, 1, 95 and 96 bytes arrives intact over
 * shm and tcp; 97 bytes (and more) is refused with -EMSGSIZE and nothing of
 * the refused message reaches the receiver.
 */
#include "testlib.h"

#define H 3

static const uint32_t lens[] = { 0, 1, 95, 96, 96, 0, 1, 95 };
#define NLENS (sizeof(lens) / sizeof(lens[0]))

static uint32_t got;
static bool     got_last;

static void on_recv(struct tpz_endpoint *ep, struct tpz_rx *rx, void *arg)
{
	CHECK(rx->src == 1, "src %u", rx->src);
	CHECK(rx->payload_len == 0, "payload_len %u on an inline-only message", rx->payload_len);
	if (got == NLENS) {
		/* The marker after the refused sends: "END". */
		CHECK(rx->data_len == 3 && memcmp(rx->data, "END", 3) == 0,
		      "after %zu messages got another of %u bytes instead of the END marker "
		      "(a refused message leaked through?)", NLENS, rx->data_len);
		got_last = true;
		return;
	}
	CHECK(!got_last, "message after END");
	CHECK(rx->data_len == lens[got], "message %u: data_len %u, want %u", got,
	      rx->data_len, lens[got]);
	CHECK(rx->msg->hdr.inline_len == lens[got], "message %u: hdr.inline_len %u, want %u",
	      got, rx->msg->hdr.inline_len, lens[got]);
	if (rx->data_len > 0) {
		CHECK(rx->data != NULL, "data NULL with data_len %u", rx->data_len);
		long bad = tl_verify(rx->data, rx->data_len, 1000 + got, 0);
		CHECK(bad < 0, "message %u (%u bytes): byte %ld corrupted", got, lens[got], bad);
		/* The inline data lives in the 128-byte message. */
		CHECK((const uint8_t *)rx->data == rx->msg->data,
		      "rx->data does not point at msg->data");
	}
	got++;
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
	CHECK(POLL_UNTIL(ep, got_last, 5000), "%s: got %u of %zu messages, END %s",
	      tl_link_name(link), got, NLENS, got_last ? "seen" : "not seen");
	struct tpz_counters c = tl_counters(ep);
	CHECK(c.msgs_recv >= NLENS + 1, "msgs_recv %llu", (unsigned long long)c.msgs_recv);
	tl_put_u32(self->wr, got);
	tl_get_u32_poll(ep, self->rd, 5000);
	tpz_endpoint_destroy(ep);
	return 0;
}

static void run(enum tl_link link)
{
	struct tl_proc rx = { 0 };
	struct tpz_config cfg;
	uint8_t buf[256];

	tl_spawn(&rx, receiver, (void *)(intptr_t)link);
	int port = (int)tl_get_u32(rx.rd, 5000);
	tl_config(&cfg, 1, link);
	struct tpz_endpoint *ep = tl_endpoint(&cfg);
	if (link == TL_SHM)
		tl_listen(ep, link);
	tl_connect(ep, 2, link, port);

	for (uint32_t i = 0; i < NLENS; i++) {
		tl_fill(buf, lens[i], 1000 + i, 0);
		if (i % 2 == 0) {
			CHECK_RC(tl_send_inline(ep, 2, H, lens[i] ? buf : NULL, lens[i], 5000), 0);
		} else {
			struct tpz_send s = { .dst = 2, .handler = H, .data = buf,
					      .data_len = lens[i] };
			CHECK_RC(tl_send(ep, &s, 5000), 0);
		}
	}
	/* Over the limit: refused, whatever the path. */
	static const uint32_t bad[] = { 97, 128, 200, 4096, 65536, UINT32_MAX };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct tpz_send s = { .dst = 2, .handler = H, .data = buf, .data_len = bad[i] };
		CHECK_RC(tpz_send(ep, &s), -EMSGSIZE);
		CHECK_RC(tpz_send_inline(ep, 2, H, buf, bad[i]), -EMSGSIZE);
	}
	CHECK_RC(tl_send_inline(ep, 2, H, "END", 3, 5000), 0);
	uint32_t n = tl_get_u32_poll(ep, rx.rd, 8000);
	CHECK_RC(n, NLENS);
	tl_put_u32(rx.wr, 0);
	tl_reap(&rx, 5000);
	tpz_endpoint_destroy(ep);
	printf("t-inline-bounds: %s ok\n", tl_link_name(link));
}

int main(int argc, char **argv)
{
	tl_init(argc, argv, 30);
	run(TL_SHM);
	run(TL_TCP);
	return 0;
}
