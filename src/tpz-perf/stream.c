/*
 * stream.c - one-way streaming: bandwidth (bw) and message rate (rate).
 *
 * The client sends --iters messages back to back, riding out back-pressure
 * by polling (that is how credit and frames come back), then an END on the
 * control handler.  Delivery is in order, so the server's ACK to END means
 * every data message has been delivered to its handler; the clock stops
 * there.  bw sends --size-byte payloads; rate sends inline-only messages
 * (--size bytes of inline data, at most TPZ_INLINE_MAX: 96 bytes make one
 * full 128-byte control message).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "perf.h"

struct stream {
	uint8_t  data[TPZ_INLINE_MAX];
	uint32_t data_len;
	struct tpz_payload pl;
	void    *buf;            /* copy path source, reused for every message */
};

static int send_one(struct client *c, struct stream *st)
{
	struct tpz_send s = {
		.dst = PK_SERVER_NODE, .handler = PERF_H_DATA,
		.data = st->data, .data_len = st->data_len,
		.payload = c->o->path == PATH_INLINE ? NULL : &st->pl,
	};
	int rc;

	/* Zero-copy: fresh frames each time, as a producer filling blocks
	 * would; the receiver frees them into the pool. */
	if (c->o->path == PATH_ZERO_COPY) {
		rc = payload_alloc_retry(c->ep, &st->pl, c->o->size);
		if (rc < 0)
			return rc;
	}
	rc = send_retry(c->ep, &s);
	if (rc < 0 && c->o->path == PATH_ZERO_COPY)
		tpz_payload_free(c->ep, &st->pl);
	return rc;
}

/* Stop the clock when the server has everything, and check it does. */
static int end_rep(struct client *c, uint64_t n)
{
	uint64_t want_bytes = c->o->path == PATH_INLINE ? 0 : n * c->o->size;
	int rc;

	c->acked = false;
	rc = client_send_ctl(c, OP_END);
	if (rc == 0)
		rc = client_wait(c, &c->acked);
	if (rc < 0)
		return rc;
	if (c->ack.v[1] != n || c->ack.v[0] != want_bytes || c->ack.v[2]) {
		fprintf(stderr, "tpz-perf: server saw %llu messages / %llu bytes (%llu errors), "
			"sent %llu / %llu\n", (unsigned long long)c->ack.v[1],
			(unsigned long long)c->ack.v[0], (unsigned long long)c->ack.v[2],
			(unsigned long long)n, (unsigned long long)want_bytes);
		c->errors++;
	}
	return 0;
}

static int rep(struct client *c, struct stream *st, uint64_t n, double *val)
{
	uint64_t t0 = pk_now_ns(), dt;
	int rc = 0;

	for (uint64_t i = 0; i < n && rc == 0; i++)
		rc = send_one(c, st);
	if (rc == 0)
		rc = end_rep(c, n);
	dt = pk_now_ns() - t0;
	if (c->o->test == TEST_BW)
		*val = (double)n * c->o->size / (double)dt;          /* bytes/ns = GB/s */
	else
		*val = (double)n / (double)dt * 1e3;                 /* Mmsg/s */
	return rc;
}

static int stream_prepare(struct client *c, struct stream *st)
{
	memset(st, 0, sizeof *st);
	if (c->o->path == PATH_INLINE) {
		st->data_len = c->o->size;
		memset(st->data, 0xa5, st->data_len);
	} else if (c->o->path == PATH_COPY) {
		st->buf = malloc(c->o->size);
		if (!st->buf)
			return -ENOMEM;
		memset(st->buf, 0xa5, c->o->size);
		st->pl.nseg = 1;
		st->pl.seg[0].base = st->buf;
		st->pl.seg[0].len = c->o->size;
	}
	return 0;
}

int stream_run(struct client *c, const struct perf_opts *o, struct perf_result *r)
{
	struct stream st;
	uint64_t warm_n = o->pk.iters / 4 ? o->pk.iters / 4 : 1;
	double warm;
	int rc;

	rc = stream_prepare(c, &st);
	if (rc < 0)
		return rc;
	rc = rep(c, &st, warm_n, &warm);
	if (rc == 0)
		rc = client_mark(c);
	for (r->n = 0; rc == 0 && r->n < o->pk.reps; ) {
		rc = rep(c, &st, o->pk.iters, &r->val[r->n]);
		if (rc == 0 && o->pk.verbose)
			fprintf(stderr, "tpz-perf: rep %d: %.4g\n", r->n + 1, r->val[r->n]);
		if (rc == 0)
			r->n++;
	}
	client_unmark(c, r);
	free(st.buf);
	return rc;
}
