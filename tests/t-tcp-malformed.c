/*
 * t-tcp-malformed: bad bytes on a tcp connection cost that connection and
 * nothing else.
 *
 * A listening endpoint (node 1, this process) serves a good peer (node 2, a
 * child that echoes).  Raw sockets then misbehave:
 *   before the handshake: garbage, an HTTP request, a PROVE with a bad MAC,
 *   a wrong version, a taken / impossible node id, an impossible payload
 *   limit, a connection that never says anything, one closed at once;
 *   after a correct handshake (done here by hand, with libsodium, exactly as
 *   trapeze_wire.h documents it): a truncated header, a truncated payload,
 *   bad magic, bad version, payload_len over the maximum, handler >= 64,
 *   inline_len > 96, a sequence gap, a spoofed source node.
 * Each bad connection is closed by the endpoint (peer_down with
 * TPZ_DOWN_PROTOCOL and protocol_errors + 1 after the handshake; REFUSE or
 * close and auth_refused / protocol_errors before it); nothing malformed is
 * delivered; and after each case the good peer still gets its echo.
 */
#include "testlib.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sodium.h>
#include <sys/socket.h>
#include <unistd.h>

#define H     5
#define LNODE 1
#define GNODE 2

/* ---- the good peer (node 2): echoes inline messages ---------------------- */

static uint8_t  g_buf[TPZ_INLINE_MAX];
static uint32_t g_len;
static bool     g_pending;

static void g_recv(struct tpz_endpoint *ep, struct tpz_rx *rx, void *arg)
{
	memcpy(g_buf, rx->data, rx->data_len);
	g_len = rx->data_len;
	g_pending = true;
}

static int good_peer(struct tl_proc *self, void *arg)
{
	struct tpz_config cfg;
	struct tpz_handler_ops ops = { .recv = g_recv };

	int port = (int)tl_get_u32(self->rd, 10000);
	tl_config(&cfg, GNODE, TL_TCP);
	struct tpz_endpoint *ep = tl_endpoint(&cfg);
	CHECK_RC(tpz_handler_register(ep, H, &ops), 0);
	tl_connect(ep, LNODE, TL_TCP, port);
	tl_put_u32(self->wr, 1);
	double end = tl_now_ms() + 40000;
	while (!tl_readable(self->rd)) {
		CHECK(tl_now_ms() < end, "good peer: 40 s");
		CHECK(tpz_peer_is_up(ep, LNODE), "good peer: the listener went down");
		int n = tpz_poll(ep, 0);
		if (g_pending && tpz_send_inline(ep, LNODE, H, g_buf, g_len) == 0)
			g_pending = false;
		if (n == 0)
			tl_idle(ep);
	}
	tpz_endpoint_destroy(ep);
	return 0;
}

/* ---- the listener (node 1) ----------------------------------------------- */

static struct tpz_endpoint *L;
static uint32_t echo_seq, echo_got;
static int ups[TPZ_MAX_NODES], downs[TPZ_MAX_NODES], down_reason[TPZ_MAX_NODES];
static uint32_t delivered_from_raw;     /* messages delivered from raw nodes */
static bool spoof_seen_as_good;

static void l_recv(struct tpz_endpoint *ep, struct tpz_rx *rx, void *arg)
{
	if (rx->data_len >= 5 && memcmp(rx->data, "spoof", 5) == 0 && rx->src == GNODE)
		spoof_seen_as_good = true;
	if (rx->src == GNODE && rx->data_len == 8 && memcmp(rx->data, "echo", 4) == 0) {
		uint32_t s;
		memcpy(&s, (const uint8_t *)rx->data + 4, 4);
		if (s == echo_seq)
			echo_got = s;
	} else if (rx->src != GNODE) {
		delivered_from_raw++;
	}
	tpz_rx_release(ep, rx);
}

static void l_up(struct tpz_endpoint *ep, uint32_t node, void *arg)
{
	if (node < TPZ_MAX_NODES)
		ups[node]++;
}

static void l_down(struct tpz_endpoint *ep, uint32_t node, int reason, void *arg)
{
	if (node < TPZ_MAX_NODES) {
		downs[node]++;
		down_reason[node] = reason;
	}
}

/* The listener still serves the good peer. */
static void ping(const char *after)
{
	uint8_t m[8] = "echo";

	echo_seq++;
	memcpy(m + 4, &echo_seq, 4);
	int r = tl_send_inline(L, GNODE, H, m, 8, 3000);
	CHECK(r == 0, "after %s: tpz_send to the good peer: %d %s", after, r, tpz_strerror(r));
	CHECK(POLL_UNTIL(L, echo_got == echo_seq, 3000), "after %s: the good peer's echo did not "
	      "come back", after);
	CHECK(downs[GNODE] == 0 && tpz_peer_is_up(L, GNODE), "after %s: the good peer went down",
	      after);
}

/* ---- raw sockets ---------------------------------------------------------- */

static int port;
static uint8_t K[crypto_auth_KEYBYTES];

static int raw_connect(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;

	CHECK(fd >= 0, "socket: %s", strerror(errno));
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	CHECK(connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0, "connect: %s", strerror(errno));
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	return fd;
}

static void raw_write(int fd, const void *buf, size_t n)
{
	const uint8_t *b = buf;
	double end = tl_now_ms() + 3000;

	while (n > 0) {
		ssize_t w = send(fd, b, n, MSG_NOSIGNAL);
		if (w > 0) {
			b += w;
			n -= (size_t)w;
			continue;
		}
		CHECK(w < 0 && (errno == EAGAIN || errno == EINTR), "raw send: %s",
		      w < 0 ? strerror(errno) : "0");
		CHECK(tl_now_ms() < end, "raw send blocked for 3 s");
		tpz_poll(L, 0);
		tl_idle(L);
	}
}

/* Read exactly n bytes, driving the listener meanwhile.  1 = ok, 0 = the
 * endpoint closed the connection first, -1 = timeout. */
static int raw_read(int fd, void *buf, size_t n, int ms)
{
	uint8_t *b = buf;
	double end = tl_now_ms() + ms;

	while (n > 0) {
		ssize_t r = recv(fd, b, n, 0);
		if (r > 0) {
			b += r;
			n -= (size_t)r;
			continue;
		}
		if (r == 0 || (errno != EAGAIN && errno != EINTR))
			return 0;
		if (tl_now_ms() > end)
			return -1;
		if (tpz_poll(L, 0) == 0)
			tl_idle(L);
	}
	return 1;
}

/* Wait for the endpoint to close the connection (EOF or reset). */
static bool raw_closed(int fd, int ms)
{
	uint8_t sink[4096];
	double end = tl_now_ms() + ms;

	for (;;) {
		ssize_t r = recv(fd, sink, sizeof(sink), 0);
		if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR))
			return true;
		if (r > 0)
			continue;
		if (tl_now_ms() > end)
			return false;
		if (tpz_poll(L, 0) == 0)
			tl_idle(L);
	}
}

static void dump(const char *what, const void *buf, size_t n)
{
	const uint8_t *b = buf;

	fprintf(stderr, "%s (%zu bytes):", what, n);
	for (size_t i = 0; i < n; i++)
		fprintf(stderr, "%s%02x", i % 32 == 0 ? "\n  " : " ", b[i]);
	fprintf(stderr, "\n");
}

static void le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); p[2] = (uint8_t)(v >> 16); p[3] = (uint8_t)(v >> 24);
}

/* MAC(K, tag nonce1 nonce2 connector-id acceptor-id) */
static void mac(uint8_t out[TPZ_MAC_SIZE], char tag, const uint8_t *n1, const uint8_t *n2,
		uint32_t id1, uint32_t id2)
{
	uint8_t m[1 + 2 * TPZ_NONCE_SIZE + 8];

	m[0] = (uint8_t)tag;
	memcpy(m + 1, n1, TPZ_NONCE_SIZE);
	memcpy(m + 1 + TPZ_NONCE_SIZE, n2, TPZ_NONCE_SIZE);
	le32(m + 1 + 2 * TPZ_NONCE_SIZE, id1);
	le32(m + 5 + 2 * TPZ_NONCE_SIZE, id2);
	crypto_auth(out, m, sizeof(m), K);
}

struct raw {
	int      fd;
	uint32_t node;
	uint32_t seq;          /* next sequence number we send */
	struct tpz_msg hello;
};

static void hdr_init(struct tpz_msg *m, const struct raw *c, uint8_t handler, uint16_t ilen)
{
	memset(m, 0, sizeof(*m));
	m->hdr.magic = TPZ_MAGIC;
	m->hdr.version = TPZ_VERSION;
	m->hdr.handler = handler;
	m->hdr.inline_len = ilen;
	m->hdr.src = c->node;
	m->hdr.dst = LNODE;
	m->hdr.seq = c->seq;
}

/* Connect and read HELLO. */
static void raw_hello(struct raw *c, uint32_t node)
{
	c->fd = raw_connect();
	c->node = node;
	int r = raw_read(c->fd, &c->hello, sizeof(c->hello), 3000);
	CHECK(r == 1, "no HELLO from the listener (%s)", r == 0 ? "closed" : "timeout");
	const struct tpz_link_ctl *h = (const void *)c->hello.data;
	if (!(c->hello.hdr.magic == TPZ_MAGIC && c->hello.hdr.version == TPZ_VERSION &&
	      c->hello.hdr.handler == TPZ_HANDLER_LINK && h->op == TPZ_LINK_HELLO &&
	      h->node == LNODE)) {
		dump("HELLO received", &c->hello, sizeof(c->hello));
		CHECK(0, "the listener's first message is not a HELLO from node %u as "
		      "trapeze_wire.h describes", LNODE);
	}
	/* Our direction counts from where the listener's started. */
	c->seq = c->hello.hdr.seq;
}

/* Build our PROVE; `tweak` lets a case spoil it. */
static void make_prove(struct raw *c, struct tpz_msg *m, uint32_t claim_node, bool bad_mac,
		       uint8_t version, uint32_t max_payload)
{
	const struct tpz_link_ctl *h = (const void *)c->hello.data;
	struct tpz_link_ctl *p = (void *)m->data;

	hdr_init(m, c, TPZ_HANDLER_LINK, sizeof(*p));
	m->hdr.src = claim_node;
	m->hdr.version = version;
	p->op = TPZ_LINK_PROVE;
	p->node = claim_node;
	p->max_payload = max_payload;
	randombytes_buf(p->nonce, sizeof(p->nonce));
	mac(p->mac, 'C', h->nonce, p->nonce, claim_node, LNODE);
	if (bad_mac)
		p->mac[5] ^= 0x40;
}

/* A full, correct handshake as node `node`.  Fails with what was sent if the
 * listener does not accept it. */
static void raw_handshake(struct raw *c, uint32_t node)
{
	const struct tpz_link_ctl *h;
	struct tpz_msg prove, welcome;

	raw_hello(c, node);
	h = (const void *)c->hello.data;
	make_prove(c, &prove, node, false, TPZ_VERSION, h->max_payload);
	raw_write(c->fd, &prove, sizeof(prove));
	c->seq++;
	int r = raw_read(c->fd, &welcome, sizeof(welcome), 3000);
	const struct tpz_link_ctl *w = (const void *)welcome.data;
	if (r != 1 || w->op != TPZ_LINK_WELCOME) {
		dump("HELLO received", &c->hello, sizeof(c->hello));
		dump("PROVE sent", &prove, sizeof(prove));
		if (r == 1)
			dump("answer received", &welcome, sizeof(welcome));
		CHECK(0, "hand-made handshake as node %u not accepted: %s (op %u reason %u); K = "
		      "crypto_generichash(32, \"%s\"), mac = crypto_auth(K, 'C' nonce_a nonce_c "
		      "le32(connector %u) le32(acceptor %u)), PROVE seq = HELLO seq %u", node,
		      r == 0 ? "closed" : r < 0 ? "no answer" : "answer is not WELCOME",
		      r == 1 ? w->op : 0, r == 1 ? w->reason : 0, TL_SECRET, node, LNODE,
		      c->hello.hdr.seq);
	}
	/* trapeze_wire.h does not say how the handshake messages count in the
	 * per-link sequence.  If the listener's HELLO and WELCOME carry the same
	 * seq, handshake messages are unnumbered and data starts at 0;
	 * otherwise they count and our data goes on after our PROVE. */
	if (welcome.hdr.seq == c->hello.hdr.seq)
		c->seq = 0;
	/* The listener proves itself: MAC(K, "A" nonce_c nonce_a ids). */
	uint8_t want[TPZ_MAC_SIZE], alt[TPZ_MAC_SIZE];
	const struct tpz_link_ctl *p = (const void *)prove.data;
	mac(want, 'A', p->nonce, h->nonce, node, LNODE);
	mac(alt, 'A', p->nonce, h->nonce, LNODE, node);
	if (memcmp(want, w->mac, sizeof(want)) != 0) {
		dump("WELCOME received", &welcome, sizeof(welcome));
		CHECK(memcmp(alt, w->mac, sizeof(alt)) == 0, "WELCOME's MAC is neither "
		      "MAC(K, 'A' nonce_c nonce_a le32(connector) le32(acceptor)) nor with the "
		      "ids swapped");
		NOTE("note: WELCOME's MAC puts the acceptor's id first");
	}
	CHECK(POLL_UNTIL(L, tpz_peer_is_up(L, node) && ups[node] == 1, 3000),
	      "node %u: handshake done but the listener did not report it up", node);
}

/* After the handshake: one good message, which must be delivered. */
static void raw_good_message(struct raw *c)
{
	struct tpz_msg m;
	uint32_t before = delivered_from_raw;

	hdr_init(&m, c, H, 5);
	memcpy(m.data, "valid", 5);
	raw_write(c->fd, &m, sizeof(m));
	c->seq++;
	if (!POLL_UNTIL(L, delivered_from_raw == before + 1, 3000)) {
		dump("message sent", &m, sizeof(m));
		CHECK(0, "node %u: a well-formed message after the handshake was not delivered "
		      "(seq %u; HELLO had seq %u)", c->node, m.hdr.seq, c->hello.hdr.seq);
	}
	if (c->node == 13) {
		fprintf(stderr, "hand-made handshake and first message accepted (seq %u)\n",
			m.hdr.seq);
	}
}

/* ---- the cases ------------------------------------------------------------ */

static uint64_t errs(void)
{
	struct tpz_counters c = tl_counters(L);
	return c.protocol_errors + c.auth_refused;
}

/* Pre-handshake: the endpoint must close the connection and count it. */
static void pre_garbage(const char *what, const void *bytes, size_t n, bool read_hello)
{
	uint64_t e0 = errs();
	struct raw c = { 0 };

	if (read_hello)
		raw_hello(&c, 0);
	else
		c.fd = raw_connect();
	raw_write(c.fd, bytes, n);
	CHECK(raw_closed(c.fd, 3000), "%s: the listener did not close the connection", what);
	CHECK(POLL_UNTIL(L, errs() > e0, 2000), "%s: neither protocol_errors nor auth_refused "
	      "moved", what);
	close(c.fd);
	ping(what);
}

/* A PROVE the listener must answer with REFUSE(reason) and a close. */
static void pre_refuse(const char *what, uint32_t node, bool bad_mac, uint8_t version,
		       uint32_t maxp, int reason, bool auth)
{
	struct raw c = { 0 };
	struct tpz_msg m, ans;
	uint64_t a0 = tl_counters(L).auth_refused, e0 = errs();

	raw_hello(&c, node);
	const struct tpz_link_ctl *h = (const void *)c.hello.data;
	make_prove(&c, &m, node, bad_mac, version, maxp ? maxp : h->max_payload);
	raw_write(c.fd, &m, sizeof(m));
	int r = raw_read(c.fd, &ans, sizeof(ans), 3000);
	const struct tpz_link_ctl *a = (const void *)ans.data;
	CHECK(r >= 0, "%s: no answer and no close within 3 s", what);
	EXPECT(r == 1, "%s: the listener closed without a REFUSE (trapeze_wire.h: \"a wrong "
	       "version, node id or MAC gets a REFUSE (with a reason code)\")", what);
	if (r == 1 && (a->op != TPZ_LINK_REFUSE || a->reason != reason)) {
		dump("answer", &ans, sizeof(ans));
		EXPECT(0, "%s: answer op %u reason %u, want REFUSE (%u) reason %d", what, a->op,
		       a->reason, TPZ_LINK_REFUSE, reason);
	}
	CHECK(r == 0 || raw_closed(c.fd, 3000), "%s: connection not closed after REFUSE", what);
	close(c.fd);
	if (auth)
		CHECK(POLL_UNTIL(L, tl_counters(L).auth_refused > a0, 2000),
		      "%s: auth_refused did not move", what);
	else if (errs() == e0)   /* trapeze.h names a counter only for auth refusals */
		fprintf(stderr, "%s: refused (reason %d), no counter moved\n", what, reason);
	if (node < TPZ_MAX_NODES && node != GNODE)
		CHECK(ups[node] == 0, "%s: node %u was reported up", what, node);
	ping(what);
}

/* Post-handshake: bytes after a valid message; the endpoint must close with
 * TPZ_DOWN_PROTOCOL (or, when we closed first, at least report the node down). */
static void post_bad(const char *what, uint32_t node, const void *bytes, size_t n,
		     bool we_close)
{
	struct raw c = { 0 };
	uint64_t p0;
	uint32_t d0;

	raw_handshake(&c, node);
	raw_good_message(&c);
	p0 = tl_counters(L).protocol_errors;
	d0 = delivered_from_raw;
	/* The caller's bytes, with our current sequence number patched in. */
	uint8_t buf[1024];
	CHECK(n <= sizeof(buf), "case too big");
	memcpy(buf, bytes, n);
	if (n >= 12)                       /* our own node as the source */
		memcpy(buf + 8, &node, 4);
	if (n >= 24) {
		uint32_t s = c.seq;
		uint32_t cur;
		memcpy(&cur, buf + 20, 4);
		if (cur == 0xffffffffu)        /* marker: "use the right seq" */
			memcpy(buf + 20, &s, 4);
		else                           /* a gap from the right one */
			s += cur, memcpy(buf + 20, &s, 4);
	}
	raw_write(c.fd, buf, n);
	if (we_close) {
		close(c.fd);
		CHECK(POLL_UNTIL(L, downs[node] == 1, 3000), "%s: node %u not reported down", what,
		      node);
		CHECK(down_reason[node] == TPZ_DOWN_PROTOCOL || down_reason[node] == TPZ_DOWN_DIED,
		      "%s: peer_down reason %d", what, down_reason[node]);
		fprintf(stderr, "%s: peer_down reason %d\n", what, down_reason[node]);
	} else {
		bool closed = raw_closed(c.fd, 3000);
		if (!closed)
			dump("bytes sent", buf, n);
		CHECK(closed, "%s: the listener did not close the connection", what);
		close(c.fd);
		CHECK(POLL_UNTIL(L, downs[node] == 1, 3000), "%s: node %u not reported down", what,
		      node);
		CHECK(down_reason[node] == TPZ_DOWN_PROTOCOL, "%s: peer_down reason %d, want "
		      "TPZ_DOWN_PROTOCOL (%d)", what, down_reason[node], TPZ_DOWN_PROTOCOL);
		CHECK(tl_counters(L).protocol_errors == p0 + 1, "%s: protocol_errors %llu -> %llu",
		      what, (unsigned long long)p0,
		      (unsigned long long)tl_counters(L).protocol_errors);
	}
	CHECK(delivered_from_raw == d0, "%s: the malformed message was delivered", what);
	CHECK(!tpz_peer_is_up(L, node), "%s: node %u still up", what, node);
	ping(what);
}

static struct tpz_msg base_msg(uint8_t handler, uint16_t ilen)
{
	struct tpz_msg m;

	memset(&m, 0, sizeof(m));
	m.hdr.magic = TPZ_MAGIC;
	m.hdr.version = TPZ_VERSION;
	m.hdr.handler = handler;
	m.hdr.inline_len = ilen;
	m.hdr.dst = LNODE;
	m.hdr.seq = 0xffffffffu;       /* patched by post_bad */
	memcpy(m.data, "bad", 3);
	return m;
}

int main(int argc, char **argv)
{
	struct tl_proc g = { 0 };
	struct tpz_config cfg;
	struct tpz_handler_ops ops = { .recv = l_recv, .peer_up = l_up, .peer_down = l_down };
	uint32_t node = 10;

	tl_init(argc, argv, 50);
	CHECK(sodium_init() >= 0, "sodium_init");
	crypto_generichash(K, sizeof(K), (const uint8_t *)TL_SECRET, strlen(TL_SECRET), NULL, 0);
	tl_spawn(&g, good_peer, NULL);

	tl_config(&cfg, LNODE, TL_TCP);
	L = tl_endpoint(&cfg);
	CHECK_RC(tpz_handler_register(L, H, &ops), 0);
	port = tl_listen(L, TL_TCP);
	/* A connection that never says a word, held open the whole time. */
	int silent = raw_connect();
	/* And one that sends a few bytes, less than a message, and stops: the
	 * listener may wait for the rest, but not forever (checked at the end). */
	uint64_t short_e0 = errs();
	int shortfd = raw_connect();
	double short_t0 = tl_now_ms();
	raw_write(shortfd, "HELO x\r\n", 8);
	tl_put_u32(g.wr, (uint32_t)port);
	tl_get_u32_poll(L, g.rd, 8000);
	tl_wait_up(L, GNODE, 3000);
	ping("start");

	/* ---- before the handshake ---- */
	uint8_t junk[128];
	memset(junk, 0xab, sizeof(junk));
	pre_garbage("128 bytes of garbage instead of PROVE", junk, sizeof(junk), false);
	pre_garbage("garbage after HELLO", junk, sizeof(junk), true);
	static const char http[] =
		"GET /index.html HTTP/1.1\r\nHost: node1.cluster.example:7000\r\n"
		"User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:109.0) Gecko/20100101\r\n"
		"Accept: text/html,application/xhtml+xml\r\nConnection: keep-alive\r\n\r\n";
	CHECK(sizeof(http) > TPZ_MSG_SIZE + 1, "test setup");
	pre_garbage("an HTTP request", http, sizeof(http) - 1, false);
	{
		int fd = raw_connect();
		close(fd);
		POLL_UNTIL(L, false, 100);
		ping("connect and close at once");
	}
	pre_refuse("PROVE with a bad MAC", node++, true, TPZ_VERSION, 0, TPZ_REFUSE_AUTH, true);
	pre_refuse("PROVE with version 9", node++, false, 9, 0, TPZ_REFUSE_VERSION, false);
	pre_refuse("PROVE claiming the connected node 2", GNODE, false, TPZ_VERSION, 0,
		   TPZ_REFUSE_NODE, false);
	pre_refuse("PROVE claiming node 300", 300, false, TPZ_VERSION, 0, TPZ_REFUSE_NODE, false);
	pre_refuse("PROVE claiming the listener's own node", LNODE, false, TPZ_VERSION, 0,
		   TPZ_REFUSE_NODE, false);
	pre_refuse("PROVE with max_payload 1234", node++, false, TPZ_VERSION, 1234,
		   TPZ_REFUSE_CONFIG, false);

	/* ---- after the handshake ---- */
	struct tpz_msg m = base_msg(H, 3);
	post_bad("a truncated header, then close", node++, &m, 24, true);

	m = base_msg(H, 3);
	m.hdr.flags = TPZ_F_PAYLOAD;
	m.hdr.payload_len = 1000;
	{
		uint8_t b[128 + 500];
		memcpy(b, &m, 128);
		memset(b + 128, 0x77, 500);
		post_bad("a truncated payload, then close", node++, b, sizeof(b), true);
	}
	m = base_msg(H, 3);
	m.hdr.magic = 0x1234;
	post_bad("bad magic", node++, &m, sizeof(m), false);
	m = base_msg(H, 3);
	m.hdr.version = 2;
	post_bad("bad version", node++, &m, sizeof(m), false);
	m = base_msg(H, 3);
	m.hdr.flags = TPZ_F_PAYLOAD;
	m.hdr.payload_len = TPZ_PAYLOAD_CEIL + 1;
	post_bad("payload_len = max + 1", node++, &m, sizeof(m), false);
	m.hdr.payload_len = UINT32_MAX;
	post_bad("payload_len = 0xffffffff", node++, &m, sizeof(m), false);
	m = base_msg(TPZ_HANDLER_MAX, 3);
	post_bad("handler 64", node++, &m, sizeof(m), false);
	m = base_msg(255, 3);
	post_bad("handler 255", node++, &m, sizeof(m), false);
	m = base_msg(H, TPZ_INLINE_MAX + 1);
	post_bad("inline_len 97", node++, &m, sizeof(m), false);
	m = base_msg(H, 0xffff);
	post_bad("inline_len 65535", node++, &m, sizeof(m), false);
	m = base_msg(H, 3);
	m.hdr.seq = 7;                      /* seq gap of 7 */
	post_bad("a sequence gap", node++, &m, sizeof(m), false);

	/* A spoofed source: never delivered as the good peer's. */
	{
		struct raw c = { 0 };
		uint32_t me = node++;
		raw_handshake(&c, me);
		raw_good_message(&c);
		hdr_init(&m, &c, H, 5);
		m.hdr.src = GNODE;
		memcpy(m.data, "spoof", 5);
		raw_write(c.fd, &m, sizeof(m));
		POLL_UNTIL(L, downs[me] > 0, 500);
		close(c.fd);
		POLL_UNTIL(L, downs[me] > 0, 2000);
		CHECK(!spoof_seen_as_good, "a message with hdr.src = 2 from node %u's connection "
		      "was delivered as coming from node 2", me);
		ping("a spoofed source node");
	}

	/* The short garbage is gone by now (or soon: a handshake timeout). */
	double left = 10000 - (tl_now_ms() - short_t0);
	CHECK(raw_closed(shortfd, left > 0 ? (int)left : 0), "8 bytes of garbage and silence: "
	      "the connection is still open after 10 s");
	fprintf(stderr, "short garbage: closed %.1f s after it was sent\n",
		(tl_now_ms() - short_t0) / 1000);
	close(shortfd);
	CHECK(errs() > short_e0, "counters");
	ping("short garbage");

	/* The silent connection never stopped anything; close it now. */
	close(silent);
	POLL_UNTIL(L, false, 100);
	ping("the silent connection closed");
	struct tpz_counters c = tl_counters(L);
	tl_print_counters("listener", &c);
	CHECK(downs[GNODE] == 0, "the good peer went down");

	tl_put_u32(g.wr, 0);
	tl_reap(&g, 5000);
	tpz_endpoint_destroy(L);
	printf("t-tcp-malformed: done\n");
	return tl_finish();
}
