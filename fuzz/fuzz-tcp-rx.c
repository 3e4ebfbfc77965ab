/*
 * fuzz-tcp-rx.c - libFuzzer target for the tcp frame decoder (tcp_rx.c).
 *
 * The input is what a connected peer (node 1) sends after the handshake.
 * It is fed to the real receive state machine in chunks whose sizes come
 * from the input too, with IPT entries posted so tokens can hit.  After each
 * input every frame must be back in the pool: a leak is a finding.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "trapeze.h"
#include "trapeze/tcp_rx.h"
#include "trapeze/tpz_internal.h"

struct feed {
	const uint8_t *data;
	size_t         len, off;
	uint8_t        chunk;
};

static ssize_t feed_readv(void *ctx, const struct iovec *iov, int n)
{
	struct feed *f = ctx;
	size_t want = f->chunk ? f->chunk : 4096, got = 0;

	if (f->off == f->len)
		return 0;
	for (int i = 0; i < n && got < want && f->off < f->len; i++) {
		size_t k = iov[i].iov_len;
		if (k > want - got)
			k = want - got;
		if (k > f->len - f->off)
			k = f->len - f->off;
		memcpy(iov[i].iov_base, f->data + f->off, k);
		f->off += k;
		got += k;
	}
	return (ssize_t)got;
}

static void on_recv(struct tpz_endpoint *ep, struct tpz_rx *rx, void *arg)
{
	volatile uint8_t sum = 0;
	for (uint32_t i = 0; i < rx->payload.nseg; i++)   /* touch it: ASan checks bounds */
		for (uint32_t j = 0; j < rx->payload.seg[i].len; j += 509)
			sum += ((uint8_t *)rx->payload.seg[i].base)[j];
	tpz_rx_release(ep, rx);
}

static struct tpz_endpoint *ep;
static uint8_t ipt_buf[4][8192];

/* The endpoint's counter page in /dev/shm goes away with it. */
static void cleanup(void)
{
	/* Peer 1 was only ever faked up (no link): take that back first. */
	atomic_store(&ep->peers[1].state, PEER_DOWN);
	tpz_endpoint_destroy(ep);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	if (!ep) {
		struct tpz_config cfg;
		tpz_config_default(&cfg);
		cfg.node = 0;
		cfg.max_payload = 64 << 10;
		cfg.frame_size = 4096;
		cfg.pool_frames = 64;
		cfg.secret = "fuzz";
		if (tpz_endpoint_create(&cfg, &ep) < 0)
			abort();
		atexit(cleanup);
		struct tpz_handler_ops ops = { .recv = on_recv };
		for (uint8_t h = 1; h < 8; h++)
			tpz_handler_register(ep, h, &ops);
	}
	struct tpz_peer *p = &ep->peers[1];
	atomic_store(&p->state, PEER_UP);
	p->rx_seq = 0;
	ep->ipt.rng = 0x9e3779b97f4a7c15ull;   /* predictable keys, so tokens can hit */
	uint64_t tok[4];
	for (int i = 0; i < 4; i++) {
		struct tpz_payload b = { 1, { { ipt_buf[i], sizeof(ipt_buf[i]) } } };
		if (tpz_ipt_post(ep, i & 1 ? 1 : TPZ_NODE_ANY, &b, NULL, &tok[i]) < 0)
			abort();
	}
	struct tpz_tcp_rx *r = calloc(1, sizeof(*r));
	struct feed f = { data, len, 0, len ? data[0] : 0 };
	const char *why;
	int rc;
	do
		rc = tpz_tcp_rx_run(ep, p, r, feed_readv, &f, 64, &why);
	while (rc > 0);
	tpz_tcp_rx_abort(ep, r);
	free(r);
	for (int i = 0; i < 4; i++)
		tpz_ipt_cancel(ep, tok[i]);
	struct tpz_counters c;
	tpz_counters(ep, &c);
	if (c.frames_free != c.frames_total) {
		fprintf(stderr, "frame leak: %llu of %llu free\n", (unsigned long long)c.frames_free,
			(unsigned long long)c.frames_total);
		abort();
	}
	return 0;
}
