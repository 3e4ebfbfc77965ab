/*
 * t-tcp-loopback: two processes over tcp on 127.0.0.1 with the cluster
 * secret exchange messages with payloads both ways (an echo server that
 * sends the received frames straight back); a third process with a wrong
 * secret is refused (tpz_connect < 0 within its timeout, auth_refused on the
 * listener), a fourth that claims the node id already connected is refused
 * too, and neither disturbs the good connection, which keeps working.
 */
#include "testlib.h"

#include <unistd.h>

#define H        4
#define NECHO    200
#define WINDOW   8

struct body { uint32_t seq, len; };

static uint32_t plen(uint32_t seq)
{
	static const uint32_t s[] = { 0, 1, 100, 4096, 65535, 65536, 65537, 200000, 0, 777 };

	return s[seq % 10] + (seq % 10 == 9 ? seq : 0);
}

/* ---- echo server (node 2) ----------------------------------------------- */

struct echo {
	struct tpz_send    s;
	struct tpz_payload pl;
	uint8_t            data[TPZ_INLINE_MAX];
};
static struct echo queue[64];
static unsigned q_head, q_tail;     /* tail: next to send */
static int ups, downs;

static void echo_recv(struct tpz_endpoint *ep, struct tpz_rx *rx, void *arg)
{
	CHECK(q_head - q_tail < 64, "echo queue overflow");
	struct echo *e = &queue[q_head++ % 64];

	memcpy(e->data, rx->data, rx->data_len);
	e->pl = rx->payload;                /* the frames are ours now: pass them on */
	e->s = (struct tpz_send){ .dst = rx->src, .handler = H, .data = e->data,
				  .data_len = rx->data_len,
				  .payload = rx->payload_len ? &e->pl : NULL };
}

static void echo_up(struct tpz_endpoint *ep, uint32_t node, void *arg) { ups++; }
static void echo_down(struct tpz_endpoint *ep, uint32_t node, int reason, void *arg) { downs++; }

static int echo_server(struct tl_proc *self, void *arg)
{
	struct tpz_config cfg;
	struct tpz_handler_ops ops = { .recv = echo_recv, .peer_up = echo_up,
				       .peer_down = echo_down };

	tl_config(&cfg, 2, TL_TCP);
	struct tpz_endpoint *ep = tl_endpoint(&cfg);
	CHECK_RC(tpz_handler_register(ep, H, &ops), 0);
	tl_put_u32(self->wr, (uint32_t)tl_listen(ep, TL_TCP));
	double end = tl_now_ms() + 30000;
	for (;;) {
		CHECK(tl_now_ms() < end, "echo server ran for 30 s");
		int n = tpz_poll(ep, 0);
		CHECK(n >= 0, "tpz_poll %d", n);
		while (q_tail != q_head) {
			int r = tpz_send(ep, &queue[q_tail % 64].s);
			if (r == -EAGAIN)
				break;
			CHECK(r == 0, "echo send: %d %s", r, tpz_strerror(r));
			q_tail++;
		}
		if (tl_readable(self->rd)) {
			uint32_t cmd = tl_get_u32(self->rd, 1000);
			if (cmd == 0)
				break;
			struct tpz_counters c = tl_counters(ep);
			tl_put(self->wr, &c, sizeof(c));
			tl_put_u32(self->wr, (uint32_t)(ups << 16 | downs));
		}
		if (n == 0)
			tl_idle(ep);
	}
	tpz_endpoint_destroy(ep);
	return 0;
}

/* ---- an intruder: wrong secret, or a node id already taken --------------- */

struct intruder { const char *secret; uint32_t node; };

static int intruder(struct tl_proc *self, void *arg)
{
	const struct intruder *in = arg;
	struct tpz_config cfg;
	char url[64];

	uint32_t port = tl_get_u32(self->rd, 20000);
	tl_config(&cfg, in->node, TL_TCP);
	cfg.secret = in->secret;
	struct tpz_endpoint *ep = tl_endpoint(&cfg);
	snprintf(url, sizeof(url), "tcp://127.0.0.1:%u", port);
	double t0 = tl_now_ms();
	int r = tpz_connect(ep, 2, url, 3000);
	double el = tl_now_ms() - t0;
	/* Even if connect claimed success, the peer must not come up. */
	bool up = POLL_UNTIL(ep, tpz_peer_is_up(ep, 2), r == 0 ? 1000 : 0);
	tl_put_u32(self->wr, (uint32_t)r);
	tl_put_u32(self->wr, (uint32_t)el);
	tl_put_u32(self->wr, up);
	tpz_endpoint_destroy(ep);
	return 0;
}

/* ---- the good client (node 1) ------------------------------------------- */

static uint32_t echoed;
static int client_downs;

static void client_recv(struct tpz_endpoint *ep, struct tpz_rx *rx, void *arg)
{
	struct body b;

	CHECK(rx->src == 2 && rx->data_len == sizeof(b), "echo from %u, %u bytes", rx->src,
	      rx->data_len);
	memcpy(&b, rx->data, sizeof(b));
	CHECK(b.seq == echoed, "echo %u arrived, expected %u", b.seq, echoed);
	CHECK(rx->payload_len == b.len && b.len == plen(b.seq), "echo %u: payload_len %u, want %u",
	      b.seq, rx->payload_len, plen(b.seq));
	long bad = tl_verify_payload(&rx->payload, b.len, 4242 + b.seq);
	CHECK(bad < 0, "echo %u: payload byte %ld wrong", b.seq, bad);
	tpz_rx_release(ep, rx);
	echoed++;
}

static void client_down(struct tpz_endpoint *ep, uint32_t node, int reason, void *arg)
{
	client_downs++;
}

static void exchange(struct tpz_endpoint *ep, uint32_t from, uint32_t to)
{
	uint32_t seq = from;
	double end = tl_now_ms() + 15000;

	while (echoed < to) {
		CHECK(tl_now_ms() < end, "echoes: %u of %u after 15 s", echoed - from, to - from);
		if (seq < to && seq - echoed < WINDOW) {
			struct body b = { seq, plen(seq) };
			struct tpz_payload pl = { 0 };
			struct tpz_send s = { .dst = 2, .handler = H, .data = &b,
					      .data_len = sizeof(b) };
			if (b.len) {
				CHECK_RC(tpz_payload_alloc(ep, &pl, b.len), 0);
				size_t left = b.len;
				for (uint32_t i = 0; i < pl.nseg; i++) {
					if (pl.seg[i].len > left)
						pl.seg[i].len = (uint32_t)left;
					left -= pl.seg[i].len;
				}
				tl_fill_payload(&pl, b.len, 4242 + seq);
				s.payload = &pl;
			}
			int r = tpz_send(ep, &s);
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
}

static void server_state(struct tl_proc *srv, struct tpz_endpoint *ep,
			 struct tpz_counters *c, int *up, int *down)
{
	tl_put_u32(srv->wr, 1);
	tl_get_poll(ep, srv->rd, c, sizeof(*c), 5000);
	uint32_t v = tl_get_u32_poll(ep, srv->rd, 5000);
	*up = (int)(v >> 16);
	*down = (int)(v & 0xffff);
}

int main(int argc, char **argv)
{
	struct tl_proc srv = { 0 }, bad = { 0 }, dup = { 0 };
	struct intruder bad_in = { "not-the-cluster-secret", 3 };
	struct intruder dup_in = { TL_SECRET, 1 };
	struct tpz_config cfg;
	struct tpz_handler_ops ops = { .recv = client_recv, .peer_down = client_down };

	tl_init(argc, argv, 45);
	tl_spawn(&srv, echo_server, NULL);
	tl_spawn(&bad, intruder, &bad_in);
	tl_spawn(&dup, intruder, &dup_in);
	uint32_t port = tl_get_u32(srv.rd, 5000);

	tl_config(&cfg, 1, TL_TCP);
	struct tpz_endpoint *ep = tl_endpoint(&cfg);
	CHECK_RC(tpz_handler_register(ep, H, &ops), 0);
	tl_connect(ep, 2, TL_TCP, (int)port);
	exchange(ep, 0, NECHO);

	struct tpz_counters c0, c1;
	int up, down;
	server_state(&srv, ep, &c0, &up, &down);
	CHECK(up == 1 && down == 0, "server saw peer_up %d, peer_down %d", up, down);

	/* Wrong secret. */
	tl_put_u32(bad.wr, port);
	uint32_t r = tl_get_u32_poll(ep, bad.rd, 10000);
	uint32_t el = tl_get_u32_poll(ep, bad.rd, 5000);
	uint32_t bad_up = tl_get_u32_poll(ep, bad.rd, 5000);
	fprintf(stderr, "wrong secret: tpz_connect %d (%s) after %u ms\n", (int)r,
		tpz_strerror((int)r), el);
	CHECK((int)r < 0, "tpz_connect with a wrong secret returned %d", (int)r);
	CHECK(!bad_up, "a node with the wrong secret came up");
	CHECK(el < 4500, "tpz_connect(timeout 3000 ms) took %u ms", el);
	server_state(&srv, ep, &c1, &up, &down);
	CHECK(c1.auth_refused > c0.auth_refused, "listener auth_refused %llu -> %llu after a "
	      "wrong secret", (unsigned long long)c0.auth_refused,
	      (unsigned long long)c1.auth_refused);
	CHECK(up == 1 && down == 0, "after the wrong secret the server saw peer_up %d, peer_down "
	      "%d", up, down);
	CHECK(tpz_peer_is_up(ep, 2) && client_downs == 0, "good connection disturbed");
	exchange(ep, NECHO, NECHO + 50);

	/* Right secret, but node 1 is already connected. */
	tl_put_u32(dup.wr, port);
	r = tl_get_u32_poll(ep, dup.rd, 10000);
	el = tl_get_u32_poll(ep, dup.rd, 5000);
	bad_up = tl_get_u32_poll(ep, dup.rd, 5000);
	fprintf(stderr, "duplicate node id: tpz_connect %d (%s) after %u ms\n", (int)r,
		tpz_strerror((int)r), el);
	CHECK((int)r < 0, "a second node 1 was accepted while node 1 is connected (%d)", (int)r);
	CHECK(!bad_up, "a second node 1 came up");
	CHECK(tpz_peer_is_up(ep, 2) && client_downs == 0, "good connection disturbed by a "
	      "duplicate node id");
	exchange(ep, NECHO + 50, NECHO + 100);
	server_state(&srv, ep, &c1, &up, &down);
	CHECK(up == 1 && down == 0, "after the intruders the server saw peer_up %d, peer_down %d",
	      up, down);
	CHECK(c1.peers_up - c0.peers_up == 0, "refused connections counted in peers_up");

	tl_reap(&bad, 5000);
	tl_reap(&dup, 5000);
	tl_put_u32(srv.wr, 0);
	tl_reap(&srv, 5000);
	tpz_endpoint_destroy(ep);
	printf("t-tcp-loopback: ok\n");
	return 0;
}
