/*
 * util.c - tpz-perf's helpers for both ends: counter snapshots, sends that
 * ride out back-pressure, payload reads, and endpoint setup.
 */
#include <errno.h>
#include <stdio.h>

#include "perf.h"

void cnt_snapshot(struct tpz_endpoint *ep, struct perf_cnt *c)
{
	struct tpz_counters k;

	tpz_counters(ep, &k);
	c->wakeups_sent = k.wakeups_sent;
	c->wakeups_suppressed = k.wakeups_suppressed;
	c->sleeps = k.sleeps;
	c->payload_copies = k.payload_copies;
	c->payload_zero_copy = k.payload_zero_copy;
	c->ring_full = k.ring_full;
	c->msgs_recv = k.msgs_recv;
	c->bytes_recv = k.bytes_recv;
}

void cnt_delta(struct perf_cnt *d, const struct perf_cnt *now, const struct perf_cnt *then)
{
	d->wakeups_sent = now->wakeups_sent - then->wakeups_sent;
	d->wakeups_suppressed = now->wakeups_suppressed - then->wakeups_suppressed;
	d->sleeps = now->sleeps - then->sleeps;
	d->payload_copies = now->payload_copies - then->payload_copies;
	d->payload_zero_copy = now->payload_zero_copy - then->payload_zero_copy;
	d->ring_full = now->ring_full - then->ring_full;
	d->msgs_recv = now->msgs_recv - then->msgs_recv;
	d->bytes_recv = now->bytes_recv - then->bytes_recv;
}

/* Out of credit or frames is normal while streaming: deliver what has
 * arrived (that is what returns credit and frames) and try again. */
static bool transient(int rc)
{
	return rc == -EAGAIN || rc == -ENOBUFS || rc == -ENOMEM;
}

int send_retry(struct tpz_endpoint *ep, const struct tpz_send *s)
{
	int rc;

	while (transient(rc = tpz_send(ep, s))) {
		if (pk_stop)
			return -EINTR;
		int p = tpz_poll(ep, 0);
		if (p < 0)
			return p;
	}
	return rc;
}

int send_ctl(struct tpz_endpoint *ep, uint32_t dst, const struct perf_ctl *c)
{
	struct tpz_send s = {
		.dst = dst, .handler = PERF_H_CTL, .data = c, .data_len = sizeof *c,
	};

	return send_retry(ep, &s);
}

/* Read one word per cache line of a received payload, as a consumer of the
 * data would: zero-copy hands over memory, not the bytes in this core's
 * cache, and --touch puts that cost back in the figure. */
uint64_t payload_touch(const struct tpz_payload *pl, uint32_t len)
{
	uint64_t sum = 0;

	for (uint32_t i = 0; i < pl->nseg && len > 0; i++) {
		const volatile uint8_t *p = pl->seg[i].base;
		uint32_t n = pl->seg[i].len < len ? pl->seg[i].len : len;

		for (uint32_t off = 0; off < n; off += 64)
			sum += p[off];
		len -= n;
	}
	return sum;
}

int payload_alloc_retry(struct tpz_endpoint *ep, struct tpz_payload *pl, size_t len)
{
	int rc;

	while (transient(rc = tpz_payload_alloc(ep, pl, len))) {
		if (pk_stop)
			return -EINTR;
		int p = tpz_poll(ep, 0);
		if (p < 0)
			return p;
	}
	return rc;
}

int endpoint_open(void *arg, uint32_t node, const char *fabric, const char *who,
		  struct tpz_endpoint **out)
{
	const struct perf_opts *o = arg;
	struct tpz_config cfg;
	int rc;

	pk_endpoint_config(&cfg, &o->pk, node, fabric, who);
	rc = tpz_endpoint_create(&cfg, out);
	if (rc < 0)
		fprintf(stderr, "tpz-perf: %s: cannot create endpoint (node %u, %s%s): %s\n",
			who, node, pk_link_name(o->pk.link), fabric && o->pk.link == PK_LINK_SHM ? fabric : "",
			tpz_strerror(rc));
	return rc;
}
