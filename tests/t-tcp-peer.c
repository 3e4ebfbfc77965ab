/*
 * t-tcp-peer: the two ends of t-tcp-netns.sh (an echo server and a client
 * that checks the echoes).  Run without arguments it does nothing and exits
 * 0: it is a helper, built as a test program so the Makefile builds it.
 *
 *   t-tcp-peer --server HOST:PORT --node N [--secret S] [--expect-refused K]
 *       echo every message back to its sender (payload frames passed on as
 *       they came); exit 0 once the client has gone away in order
 *       (TPZ_DOWN_CLOSED) after at least one echo, and (with
 *       --expect-refused) after at least K connections were refused for a
 *       wrong secret.
 *   t-tcp-peer --client tcp://HOST:PORT --node N --peer P [--secret S]
 *              [--count C] [--expect-refused]
 *       send C messages with payloads up to the maximum, 8 in flight, and
 *       check every echo byte for byte; or, with --expect-refused, check
 *       that the connection is refused.
 */
#include "testlib.h"

#include <getopt.h>
#include <stdlib.h>
#include <unistd.h>

#define H      4
#define WINDOW 8

struct body { uint32_t seq, len; };

static uint32_t max_payload;

static uint32_t plen(uint32_t seq)
{
	static const uint32_t s[] = { 0, 1, 1400, 4096, 9000, 65536, 65537, 250000, 0, 0 };

	if (seq % 10 == 8)
		return max_payload;
	if (seq % 10 == 9)
		return 1 + (seq * 7919u) % max_payload;
	return s[seq % 10];
}

/* ---- server ------------------------------------------------------------- */

struct echo { struct tpz_send s; struct tpz_payload pl; uint8_t data[TPZ_INLINE_MAX]; };
static struct echo queue[64];
static unsigned q_head, q_tail;
static uint32_t n_echo;
static int down_reason;

static void srv_recv(struct tpz_endpoint *ep, struct tpz_rx *rx, void *arg)
{
	CHECK(q_head - q_tail < 64, "echo queue overflow");
	struct echo *e = &queue[q_head++ % 64];

	memcpy(e->data, rx->data, rx->data_len);
	e->pl = rx->payload;
	e->s = (struct tpz_send){ .dst = rx->src, .handler = H, .data = e->data,
				  .data_len = rx->data_len,
				  .payload = rx->payload_len ? &e->pl : NULL };
	n_echo++;
}

static void srv_down(struct tpz_endpoint *ep, uint32_t node, int reason, void *arg)
{
	fprintf(stderr, "server: node %u down, reason %d\n", node, reason);
	down_reason = reason;
}

static int server(const char *addr, uint32_t node, const char *secret, int expect_refused)
{
	struct tpz_config cfg;
	struct tpz_handler_ops ops = { .recv = srv_recv, .peer_down = srv_down };
	char url[160];

	tl_config(&cfg, node, TL_TCP);
	cfg.secret = secret;
	struct tpz_endpoint *ep = tl_endpoint(&cfg);
	CHECK_RC(tpz_handler_register(ep, H, &ops), 0);
	snprintf(url, sizeof(url), "tcp://%s", addr);
	int r = tpz_listen(ep, url);
	CHECK(r == 0, "tpz_listen(%s): %d %s", url, r, tpz_strerror(r));
	printf("listening on %s port %d\n", url, tpz_listen_port(ep));
	fflush(stdout);

	double end = tl_now_ms() + 40000;
	while (!(down_reason && n_echo > 0 && q_tail == q_head)) {
		CHECK(tl_now_ms() < end, "server: the client did not finish within 40 s "
		      "(%u echoes)", n_echo);
		CHECK(down_reason == 0 || n_echo > 0, "server: the client went away (reason %d) "
		      "before sending anything", down_reason);
		int n = tpz_poll(ep, 0);
		CHECK(n >= 0, "tpz_poll %d", n);
		while (q_tail != q_head) {
			r = tpz_send(ep, &queue[q_tail % 64].s);
			if (r == -EAGAIN)
				break;
			if (r == -ENOTCONN && down_reason) {   /* client left: drop the rest */
				tpz_payload_free(ep, &queue[q_tail % 64].pl);
				q_tail++;
				continue;
			}
			CHECK(r == 0, "echo send: %d %s", r, tpz_strerror(r));
			q_tail++;
		}
		if (n == 0)
			tl_idle(ep);
	}
	struct tpz_counters c = tl_counters(ep);
	tl_print_counters("server", &c);
	CHECK(down_reason == TPZ_DOWN_CLOSED, "server: the client's orderly exit was reported "
	      "with reason %d, want TPZ_DOWN_CLOSED", down_reason);
	CHECK(c.auth_refused >= (uint64_t)expect_refused, "server: auth_refused %llu, want >= %d",
	      (unsigned long long)c.auth_refused, expect_refused);
	tpz_endpoint_destroy(ep);
	printf("server: ok, %u echoes\n", n_echo);
	return 0;
}

/* ---- client ------------------------------------------------------------- */

static uint32_t echoed;

static void cli_recv(struct tpz_endpoint *ep, struct tpz_rx *rx, void *arg)
{
	struct body b;

	CHECK(rx->data_len == sizeof(b), "echo of %u bytes", rx->data_len);
	memcpy(&b, rx->data, sizeof(b));
	CHECK(b.seq == echoed, "echo %u arrived, expected %u", b.seq, echoed);
	CHECK(rx->payload_len == b.len && b.len == plen(b.seq), "echo %u: payload_len %u, want %u",
	      b.seq, rx->payload_len, plen(b.seq));
	long bad = tl_verify_payload(&rx->payload, b.len, 99 + b.seq);
	CHECK(bad < 0, "echo %u (%u bytes): payload byte %ld wrong", b.seq, b.len, bad);
	tpz_rx_release(ep, rx);
	echoed++;
}

static int client(const char *url, uint32_t node, uint32_t peer, const char *secret,
		  uint32_t count, bool expect_refused)
{
	struct tpz_config cfg;
	struct tpz_handler_ops ops = { .recv = cli_recv };
	int r;

	tl_config(&cfg, node, TL_TCP);
	cfg.secret = secret;
	struct tpz_endpoint *ep = tl_endpoint(&cfg);
	CHECK_RC(tpz_handler_register(ep, H, &ops), 0);
	max_payload = tpz_max_payload(ep);
	if (expect_refused) {
		double t0 = tl_now_ms();
		r = tpz_connect(ep, peer, url, 3000);
		fprintf(stderr, "client: wrong secret: tpz_connect %d (%s) after %.0f ms\n", r,
			tpz_strerror(r), tl_now_ms() - t0);
		CHECK(r < 0, "a client with a wrong secret connected");
		CHECK(!POLL_UNTIL(ep, tpz_peer_is_up(ep, peer), 300), "wrong secret: peer up");
		CHECK(tl_now_ms() - t0 < 5000, "refusal took more than 5 s");
		tpz_endpoint_destroy(ep);
		printf("client: refused as expected\n");
		return 0;
	}
	/* The server may still be starting: retry for a while. */
	double end = tl_now_ms() + 10000;
	while ((r = tpz_connect(ep, peer, url, 2000)) != 0) {
		CHECK(tl_now_ms() < end, "tpz_connect(%s): %d %s", url, r, tpz_strerror(r));
		usleep(100000);
	}
	tl_wait_up(ep, peer, 5000);

	uint32_t seq = 0;
	end = tl_now_ms() + 30000;
	while (echoed < count) {
		CHECK(tl_now_ms() < end, "%u of %u echoes after 30 s", echoed, count);
		if (seq < count && seq - echoed < WINDOW) {
			struct body b = { seq, plen(seq) };
			struct tpz_payload pl = { 0 };
			struct tpz_send s = { .dst = peer, .handler = H, .data = &b,
					      .data_len = sizeof(b) };
			if (b.len) {
				CHECK_RC(tpz_payload_alloc(ep, &pl, b.len), 0);
				size_t left = b.len;
				for (uint32_t i = 0; i < pl.nseg; i++) {
					if (pl.seg[i].len > left)
						pl.seg[i].len = (uint32_t)left;
					left -= pl.seg[i].len;
				}
				tl_fill_payload(&pl, b.len, 99 + seq);
				s.payload = &pl;
			}
			r = tpz_send(ep, &s);
			if (r == 0) {
				seq++;
				continue;
			}
			if (b.len)
				tpz_payload_free(ep, &pl);
			CHECK(r == -EAGAIN, "tpz_send: %d %s", r, tpz_strerror(r));
		}
		if (tpz_poll(ep, 0) == 0)
			tl_idle(ep);
	}
	struct tpz_counters c = tl_counters(ep);
	tl_print_counters("client", &c);
	tpz_endpoint_destroy(ep);
	printf("client: ok, %u echoes\n", echoed);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "server", required_argument, 0, 's' }, { "client", required_argument, 0, 'c' },
		{ "node", required_argument, 0, 'n' },   { "peer", required_argument, 0, 'p' },
		{ "secret", required_argument, 0, 'k' }, { "count", required_argument, 0, 'C' },
		{ "expect-refused", optional_argument, 0, 'r' }, { 0, 0, 0, 0 },
	};
	const char *srv = NULL, *cli = NULL, *secret = TL_SECRET;
	uint32_t node = 0, peer = 0, count = 100;
	int refused = 0, o;

	tl_init(argc, argv, 55);
	if (argc == 1) {
		printf("t-tcp-peer: helper for t-tcp-netns.sh; nothing to do without arguments\n");
		return 0;
	}
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 's': srv = optarg; break;
		case 'c': cli = optarg; break;
		case 'n': node = (uint32_t)atoi(optarg); break;
		case 'p': peer = (uint32_t)atoi(optarg); break;
		case 'k': secret = optarg; break;
		case 'C': count = (uint32_t)atoi(optarg); break;
		case 'r': refused = optarg ? atoi(optarg) : 1; break;
		default:
			fprintf(stderr, "usage: see the top of tests/t-tcp-peer.c\n");
			return 2;
		}
	}
	snprintf(tl_test_name, sizeof(tl_test_name), "t-tcp-peer %s", srv ? "server" : "client");
	if (srv)
		return server(srv, node, secret, refused);
	if (cli)
		return client(cli, node, peer, secret, count, refused > 0);
	fprintf(stderr, "t-tcp-peer: --server or --client\n");
	return 2;
}
