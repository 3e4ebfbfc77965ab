/*
 * t-ipd-inject - helper of t-ipd-malformed.sh: joins a tpz-ipd cluster as
 * an extra node and sends Trapeze/IP messages that a daemon must refuse,
 * then one good packet (an ICMP echo request) whose reply must come back.
 *
 *   t-ipd-inject --fabric NAME --node ME --peer N --src A.B.C.D --dst A.B.C.D
 *                [--good-only] [--no-reply]
 *   t-ipd-inject --garbage tcp://HOST:PORT
 *
 * The first form connects to node N over shm, sends every malformed case
 * (prints "malformed K" with K their number) unless --good-only, then the
 * echo request from --src to --dst, and waits up to 5 s for the echo reply
 * (exit 0 if it came; with --no-reply exit 0 if none came: a daemon that
 * must drop us).  The second writes 4 KiB of random bytes to a tcp
 * listener and closes: garbage on the link itself.
 * Without arguments it says what it is and exits 0.
 */
#include <arpa/inet.h>
#include <getopt.h>
#include <netdb.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "testlib.h"
#include "tip_wire.h"

static struct tpz_endpoint *ep;
static uint32_t peer;
static bool got_reply;
static uint16_t echo_id;

static void recv_fn(struct tpz_endpoint *e, struct tpz_rx *rx, void *arg)
{
	const struct tip_msg *m = rx->data;

	/* An IPv4 ICMP echo reply (type 0) with our id: 20-byte header + 8. */
	if (rx->data_len >= TIP_HDR_SIZE + 28 && m->hdr.head_len >= 28 && (m->head[0] >> 4) == 4 &&
	    m->head[9] == 1 && m->head[20] == 0 && memcmp(m->head + 24, &echo_id, 2) == 0)
		got_reply = true;
	tpz_rx_release(e, rx);
}

static uint16_t csum(const uint8_t *p, size_t n)
{
	uint32_t s = 0;
	for (size_t i = 0; i + 1 < n; i += 2)
		s += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (n & 1)
		s += (uint32_t)p[n - 1] << 8;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

/* An IPv4 ICMP echo request of len bytes (>= 28). */
static void echo_packet(uint8_t *p, size_t len, const char *src, const char *dst)
{
	memset(p, 0, len);
	p[0] = 0x45;
	p[2] = (uint8_t)(len >> 8);
	p[3] = (uint8_t)len;
	p[8] = 64;   /* ttl */
	p[9] = 1;    /* ICMP */
	CHECK(inet_pton(AF_INET, src, p + 12) == 1 && inet_pton(AF_INET, dst, p + 16) == 1, "bad --src/--dst");
	uint16_t c = csum(p, 20);
	p[10] = (uint8_t)(c >> 8);
	p[11] = (uint8_t)c;
	p[20] = 8;   /* echo request */
	memcpy(p + 24, &echo_id, 2);
	for (size_t i = 28; i < len; i++)
		p[i] = (uint8_t)i;
	c = csum(p + 20, len - 20);
	p[22] = (uint8_t)(c >> 8);
	p[23] = (uint8_t)c;
}

/* Send msg (inline bytes as given) with `extra` payload bytes of pkt tail. */
static void send_raw(const void *inl, uint32_t inl_len, const uint8_t *tail, uint32_t extra)
{
	struct tpz_payload pl = { 0 };
	struct tpz_send s = { .dst = peer, .handler = TIP_HANDLER, .data = inl, .data_len = inl_len };

	if (extra) {
		CHECK_RC(tpz_payload_alloc(ep, &pl, extra), 0);
		uint32_t off = 0;
		for (uint32_t i = 0; i < pl.nseg; i++) {
			if (tail)
				memcpy(pl.seg[i].base, tail + off, pl.seg[i].len);
			else
				memset(pl.seg[i].base, 0x45, pl.seg[i].len);
			off += pl.seg[i].len;
		}
		s.payload = &pl;
	}
	CHECK_RC(tl_send(ep, &s, 2000), 0);
}

/* A message for packet pkt[0..len) with the standard split. */
static void send_packet(struct tip_msg *m, const uint8_t *pkt, uint32_t len)
{
	uint32_t head = len < TIP_HEAD_MAX ? len : TIP_HEAD_MAX;
	m->hdr.version = TIP_VERSION;
	m->hdr.head_len = (uint16_t)head;
	memcpy(m->head, pkt, head);
	send_raw(m, TIP_HDR_SIZE + head, pkt + head, len - head);
}

static int malformed(const char *src, const char *dst)
{
	uint8_t pkt[200];
	struct tip_msg m;
	int k = 0;

	echo_packet(pkt, sizeof(pkt), src, dst);
#define CASE(what, ...) do { memset(&m, 0, sizeof(m)); __VA_ARGS__; k++; \
	printf("case %d: %s\n", k, what); } while (0)
	CASE("inline data shorter than the header", send_raw(&m, 5, NULL, 0));
	CASE("version 7", m.hdr.version = 7; m.hdr.head_len = 28; memcpy(m.head, pkt, 28);
	     send_raw(&m, TIP_HDR_SIZE + 28, NULL, 0));
	CASE("unknown flags", m.hdr.version = TIP_VERSION; m.hdr.flags = 0x80; m.hdr.head_len = 28;
	     memcpy(m.head, pkt, 28); send_raw(&m, TIP_HDR_SIZE + 28, NULL, 0));
	CASE("head length over the inline length", m.hdr.version = TIP_VERSION; m.hdr.head_len = 82;
	     memcpy(m.head, pkt, 40); send_raw(&m, TIP_HDR_SIZE + 40, NULL, 0));
	CASE("packet of 10 bytes", send_packet(&m, pkt, 10));
	CASE("IP version 5", { uint8_t p[60]; memcpy(p, pkt, 60); p[0] = 0x55; send_packet(&m, p, 60); });
	CASE("IPv4 header length 12", { uint8_t p[60]; memcpy(p, pkt, 60); p[0] = 0x43; send_packet(&m, p, 60); });
	CASE("unknown GSO type", m.hdr.vnet.gso_type = 9; m.hdr.vnet.gso_size = 100; send_packet(&m, pkt, 100));
	CASE("TCPv6 GSO on IPv4", m.hdr.vnet.gso_type = TIP_GSO_TCPV6; m.hdr.vnet.gso_size = 100;
	     m.hdr.vnet.flags = TIP_VNET_F_NEEDS_CSUM; send_packet(&m, pkt, 100));
	CASE("checksum offset past the end", m.hdr.vnet.flags = TIP_VNET_F_NEEDS_CSUM; m.hdr.vnet.csum_start = 90;
	     m.hdr.vnet.csum_offset = 16; send_packet(&m, pkt, 100));
	CASE("GSO with segment size 0", m.hdr.vnet.gso_type = TIP_GSO_TCPV4; m.hdr.vnet.flags = TIP_VNET_F_NEEDS_CSUM;
	     send_packet(&m, pkt, 100));
	CASE("unknown virtio-net flags", m.hdr.vnet.flags = 0x40; send_packet(&m, pkt, 100));
	CASE("UFO (legacy UDP GSO)", m.hdr.vnet.gso_type = TIP_GSO_UDP; m.hdr.vnet.gso_size = 100;
	     m.hdr.vnet.flags = TIP_VNET_F_NEEDS_CSUM; send_packet(&m, pkt, 100));
	CASE("IP header not inline", m.hdr.version = TIP_VERSION; m.hdr.head_len = 10; memcpy(m.head, pkt, 10);
	     send_raw(&m, TIP_HDR_SIZE + 10, pkt + 10, 90));
	CASE("packet longer than any IP packet", m.hdr.version = TIP_VERSION; m.hdr.head_len = 82;
	     memcpy(m.head, pkt, 82); send_raw(&m, TIP_HDR_SIZE + 82, NULL, TIP_PKT_MAX));
#undef CASE
	printf("malformed %d\n", k);
	return k;
}

static int garbage(const char *url)
{
	char host[128];
	const char *hp = url + 6, *colon = strrchr(hp, ':');
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai;
	uint8_t junk[4096];

	CHECK(strncmp(url, "tcp://", 6) == 0 && colon && (size_t)(colon - hp) < sizeof(host), "bad url %s", url);
	memcpy(host, hp, (size_t)(colon - hp));
	host[colon - hp] = '\0';
	CHECK(getaddrinfo(host, colon + 1, &hints, &ai) == 0, "cannot resolve %s", url);
	int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	CHECK(fd >= 0 && connect(fd, ai->ai_addr, ai->ai_addrlen) == 0, "connect %s: %s", url, strerror(errno));
	freeaddrinfo(ai);
	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = (uint8_t)(i * 131 + 7);
	ssize_t n = send(fd, junk, sizeof(junk), MSG_NOSIGNAL);
	printf("garbage: %zd bytes sent to %s\n", n, url);
	close(fd);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "fabric", required_argument, 0, 'f' }, { "node", required_argument, 0, 'n' },
		{ "peer", required_argument, 0, 'p' },   { "src", required_argument, 0, 's' },
		{ "dst", required_argument, 0, 'd' },    { "good-only", no_argument, 0, 'g' },
		{ "no-reply", no_argument, 0, 'r' },     { "garbage", required_argument, 0, 'G' },
		{ 0, 0, 0, 0 },
	};
	const char *fabric = NULL, *src = NULL, *dst = NULL;
	bool good_only = false, no_reply = false;
	uint32_t node = 0;
	int o;

	tl_init(argc, argv, 30);
	if (argc == 1) {
		printf("t-ipd-inject: helper for t-ipd-malformed.sh; nothing to do without arguments\n");
		return 0;
	}
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'f': fabric = optarg; break;
		case 'n': node = (uint32_t)atoi(optarg); break;
		case 'p': peer = (uint32_t)atoi(optarg); break;
		case 's': src = optarg; break;
		case 'd': dst = optarg; break;
		case 'g': good_only = true; break;
		case 'r': no_reply = true; break;
		case 'G': return garbage(optarg);
		default:
			fprintf(stderr, "usage: see the top of tests/t-ipd-inject.c\n");
			return 2;
		}
	}
	CHECK(fabric && src && dst, "--fabric, --src and --dst are required");
	struct tpz_config cfg;
	tpz_config_default(&cfg);
	cfg.node = node;
	cfg.fabric = fabric;
	cfg.log = tl_log;
	ep = tl_endpoint(&cfg);
	struct tpz_handler_ops ops = { .recv = recv_fn };
	CHECK_RC(tpz_handler_register(ep, TIP_HANDLER, &ops), 0);
	CHECK_RC(tpz_connect(ep, peer, "shm", 2000), 0);
	echo_id = (uint16_t)getpid();
	if (!good_only)
		malformed(src, dst);
	uint8_t pkt[84];
	struct tip_msg m;
	memset(&m, 0, sizeof(m));
	echo_packet(pkt, sizeof(pkt), src, dst);
	send_packet(&m, pkt, sizeof(pkt));
	printf("echo request sent from %s to %s\n", src, dst);
	bool ok = POLL_UNTIL(ep, got_reply, no_reply ? 1500 : 5000);
	printf("echo reply %s\n", ok ? "received" : "not received");
	tpz_endpoint_destroy(ep);
	return ok != no_reply ? 0 : 1;
}
