/*
 * lat.c - round-trip latency: one message in flight, echoed by the server.
 *
 * Up to TPZ_INLINE_MAX bytes travel inline in the control message; larger
 * messages carry their bytes as a payload, either pool frames that shuttle
 * back and forth (zero-copy) or ordinary memory that the engine copies once
 * per direction (--copy).  Timing is per batch of --iters round trips; the
 * result is the median/min/max of the batch means over --reps batches.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "perf.h"

struct ping {
	uint8_t  data[TPZ_INLINE_MAX];
	uint32_t data_len;
	struct tpz_payload pl;
	void    *buf;           /* copy path source */
};

static int ping_prepare(struct client *c, struct ping *p)
{
	const struct perf_opts *o = c->o;

	memset(p, 0, sizeof *p);
	if (o->path == PATH_INLINE) {
		p->data_len = o->size;
		memset(p->data, 0xa5, p->data_len);
		return 0;
	}
	if (o->path == PATH_COPY) {
		p->buf = malloc(o->size);
		if (!p->buf)
			return -ENOMEM;
		memset(p->buf, 0xa5, o->size);
		p->pl.nseg = 1;
		p->pl.seg[0].base = p->buf;
		p->pl.seg[0].len = o->size;
	}
	return 0;
}

/* The frames of the zero-copy path: the last pong's, or fresh ones. */
static int ping_frames(struct client *c, struct ping *p)
{
	if (c->pong_frames) {
		p->pl = c->pong_pl;
		c->pong_frames = false;
		return 0;
	}
	return payload_alloc_retry(c->ep, &p->pl, c->o->size);
}

static int round_trip(struct client *c, struct ping *p, uint64_t seq)
{
	struct tpz_send s = {
		.dst = PK_SERVER_NODE, .handler = PERF_H_DATA,
		.data = p->data, .data_len = p->data_len,
		.payload = c->o->path == PATH_INLINE ? NULL : &p->pl,
	};
	int rc;

	if (p->data_len >= sizeof seq)
		memcpy(p->data, &seq, sizeof seq);
	if (c->o->path == PATH_ZERO_COPY && (rc = ping_frames(c, p)) < 0)
		return rc;
	c->got_pong = false;
	rc = send_retry(c->ep, &s);
	if (rc < 0) {
		if (c->o->path == PATH_ZERO_COPY)   /* refused: the frames are still ours */
			tpz_payload_free(c->ep, &p->pl);
		return rc;
	}
	rc = client_wait(c, &c->got_pong);
	if (rc == 0 && p->data_len >= sizeof seq && c->pong_seq != seq)
		c->errors++;
	return rc;
}

static int batch(struct client *c, struct ping *p, uint64_t *seq, double *us)
{
	uint64_t t0 = pk_now_ns();
	int rc = 0;

	for (uint64_t i = 0; i < c->o->pk.iters && rc == 0; i++)
		rc = round_trip(c, p, ++*seq);
	*us = (double)(pk_now_ns() - t0) / 1e3 / (double)c->o->pk.iters;
	return rc;
}

int lat_run(struct client *c, const struct perf_opts *o, struct perf_result *r)
{
	struct ping p;
	uint64_t seq = 0;
	double warm;
	int rc;

	rc = ping_prepare(c, &p);
	if (rc < 0)
		return rc;
	/* One untimed batch: faults in the frames, caches and both ends' code. */
	rc = batch(c, &p, &seq, &warm);
	if (rc == 0)
		rc = client_mark(c);
	for (r->n = 0; rc == 0 && r->n < o->pk.reps; ) {
		rc = batch(c, &p, &seq, &r->val[r->n]);
		if (rc == 0)
			r->n++;
	}
	client_unmark(c, r);
	free(p.buf);
	return rc;
}
