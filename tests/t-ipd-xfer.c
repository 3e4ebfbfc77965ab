/*
 * t-ipd-xfer - helper of the t-ipd-*.sh tests: one TCP transfer with a
 * checksum computed at each end, so a script can compare them.
 *
 *   t-ipd-xfer --listen ADDR --port P [--timeout S]
 *       accept one connection, read to EOF;
 *   t-ipd-xfer --send ADDR --port P --bytes N [--seed S] [--pace-ms M] [--timeout S]
 *       connect (retrying while refused or unreachable), send N bytes of a
 *       pseudo-random stream (with --pace-ms, M ms of sleep after each MiB:
 *       a transfer that lasts, to break something under it), close.
 *
 * Both print one line "bytes N blake2b HEX MB/s R" (R for information
 * only) and exit 0, or say why and exit 1.  Every socket call is bounded
 * (SO_RCVTIMEO/SO_SNDTIMEO = the timeout) and a watchdog ends a hung run.
 * Without arguments it says what it is and exits 0.
 */
#include <arpa/inet.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sodium.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "testlib.h"

#define CHUNK (1u << 20)

static int timeout_s = 20;
static int pace_ms;

static socklen_t sockaddr_of(const char *addr, int port, struct sockaddr_storage *ss)
{
	struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, addr, &a4->sin_addr) == 1) {
		a4->sin_family = AF_INET;
		a4->sin_port = htons((uint16_t)port);
		return sizeof(*a4);
	}
	CHECK(inet_pton(AF_INET6, addr, &a6->sin6_addr) == 1, "'%s' is not an IP address", addr);
	a6->sin6_family = AF_INET6;
	a6->sin6_port = htons((uint16_t)port);
	return sizeof(*a6);
}

static void bound(int fd)
{
	struct timeval tv = { timeout_s, 0 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

static void report(uint64_t bytes, crypto_generichash_state *h, double ms)
{
	uint8_t sum[32];
	char hex[65];

	crypto_generichash_final(h, sum, sizeof(sum));
	sodium_bin2hex(hex, sizeof(hex), sum, sizeof(sum));
	printf("bytes %llu blake2b %s MB/s %.0f\n", (unsigned long long)bytes, hex,
	       ms > 0 ? (double)bytes / 1e3 / ms : 0.0);
}

static int do_listen(const char *addr, int port)
{
	struct sockaddr_storage ss;
	socklen_t sl = sockaddr_of(addr, port, &ss);
	int one = 1, ls = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	crypto_generichash_state h;
	uint64_t total = 0;

	CHECK(ls >= 0, "socket: %s", strerror(errno));
	setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	CHECK(bind(ls, (struct sockaddr *)&ss, sl) == 0, "bind %s port %d: %s", addr, port, strerror(errno));
	CHECK(listen(ls, 1) == 0, "listen: %s", strerror(errno));
	bound(ls);
	fprintf(stderr, "t-ipd-xfer: listening on %s port %d\n", addr, port);
	int fd = accept(ls, NULL, NULL);
	CHECK(fd >= 0, "no connection within %d s: %s", timeout_s, strerror(errno));
	close(ls);
	bound(fd);
	uint8_t *buf = malloc(CHUNK);
	CHECK(buf, "out of memory");
	crypto_generichash_init(&h, NULL, 0, 32);
	double t0 = tl_now_ms();
	for (;;) {
		ssize_t n = recv(fd, buf, CHUNK, 0);
		CHECK(n >= 0, "recv after %llu bytes: %s", (unsigned long long)total, strerror(errno));
		if (n == 0)
			break;
		crypto_generichash_update(&h, buf, (size_t)n);
		total += (uint64_t)n;
	}
	report(total, &h, tl_now_ms() - t0);
	free(buf);
	close(fd);
	return 0;
}

/* xorshift64*: fast enough that the network, not the generator, is measured. */
static void fill(uint64_t *w, size_t n, uint64_t *state)
{
	uint64_t x = *state;
	for (size_t i = 0; i < n; i++) {
		x ^= x >> 12;
		x ^= x << 25;
		x ^= x >> 27;
		w[i] = x * 0x2545F4914F6CDD1Dull;
	}
	*state = x;
}

static int do_send(const char *addr, int port, uint64_t bytes, uint64_t seed)
{
	struct sockaddr_storage ss;
	socklen_t sl = sockaddr_of(addr, port, &ss);
	crypto_generichash_state h;
	double end = tl_now_ms() + timeout_s * 1000.0;
	int fd;

	for (;;) {   /* the listener may not be there yet */
		fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
		CHECK(fd >= 0, "socket: %s", strerror(errno));
		bound(fd);
		if (connect(fd, (struct sockaddr *)&ss, sl) == 0)
			break;
		int e = errno;
		close(fd);
		CHECK(tl_now_ms() < end && (e == ECONNREFUSED || e == ENETUNREACH || e == EHOSTUNREACH || e == ETIMEDOUT ||
					    e == EINPROGRESS),
		      "connect %s port %d: %s", addr, port, strerror(e));
		usleep(50000);
	}
	uint64_t *buf = malloc(CHUNK), state = seed | 1, sent = 0;
	CHECK(buf, "out of memory");
	crypto_generichash_init(&h, NULL, 0, 32);
	double t0 = tl_now_ms();
	while (sent < bytes) {
		size_t k = bytes - sent < CHUNK ? (size_t)(bytes - sent) : CHUNK;
		fill(buf, (k + 7) / 8, &state);
		crypto_generichash_update(&h, (uint8_t *)buf, k);
		for (size_t off = 0; off < k;) {
			ssize_t n = send(fd, (uint8_t *)buf + off, k - off, MSG_NOSIGNAL);
			CHECK(n > 0, "send after %llu bytes: %s", (unsigned long long)(sent + off),
			      n < 0 ? strerror(errno) : "nothing sent");
			off += (size_t)n;
		}
		sent += k;
		if (pace_ms)
			usleep((useconds_t)pace_ms * 1000);
	}
	CHECK(shutdown(fd, SHUT_WR) == 0, "shutdown: %s", strerror(errno));
	/* Wait for the receiver's close, so our exit means it has everything. */
	char c;
	CHECK(recv(fd, &c, 1, 0) == 0, "the receiver did not close cleanly: %s", strerror(errno));
	report(sent, &h, tl_now_ms() - t0);
	free(buf);
	close(fd);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "listen", required_argument, 0, 'l' }, { "send", required_argument, 0, 's' },
		{ "port", required_argument, 0, 'p' },   { "bytes", required_argument, 0, 'b' },
		{ "seed", required_argument, 0, 'S' },   { "timeout", required_argument, 0, 't' },
		{ "pace-ms", required_argument, 0, 'P' },
		{ 0, 0, 0, 0 },
	};
	const char *listen_addr = NULL, *send_addr = NULL;
	uint64_t bytes = 1u << 20, seed = 1;
	int port = 0, o;

	tl_init(argc, argv, 120);
	if (argc == 1) {
		printf("t-ipd-xfer: helper for the t-ipd-*.sh tests; nothing to do without arguments\n");
		return 0;
	}
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'l': listen_addr = optarg; break;
		case 's': send_addr = optarg; break;
		case 'p': port = atoi(optarg); break;
		case 'b': bytes = strtoull(optarg, NULL, 0); break;
		case 'S': seed = strtoull(optarg, NULL, 0); break;
		case 't': timeout_s = atoi(optarg); break;
		case 'P': pace_ms = atoi(optarg); break;
		default:
			fprintf(stderr, "usage: see the top of tests/t-ipd-xfer.c\n");
			return 2;
		}
	}
	CHECK(sodium_init() >= 0, "sodium_init");
	CHECK(port > 0 && port < 65536 && timeout_s > 0, "--port and --timeout must be positive");
	tl_watchdog((unsigned)timeout_s * 4 + 10);
	if (listen_addr)
		return do_listen(listen_addr, port);
	if (send_addr)
		return do_send(send_addr, port, bytes, seed);
	fprintf(stderr, "t-ipd-xfer: --listen or --send\n");
	return 2;
}
