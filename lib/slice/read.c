/*
 * read.c - slice_read: a read is cut at stripe-unit boundaries, each piece
 * goes to the server that holds it, all pieces are in flight at once, and
 * each reply lands straight in its part of the caller's buffer (the buffer
 * is posted in the IPT: the engine places the bytes, NetRPC copies none).
 *
 * Read-ahead: a reader that comes back for the bytes right after its last
 * read gets the next `readahead` stripe units requested ahead of it, into
 * buffers of the open file; its next reads are served from them.  A single
 * read of a whole small file never triggers it (nothing is read past what
 * was asked until the second sequential read).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "slice_internal.h"

#define MAX_OUT 256u   /* pieces of one read in flight at once */

struct piece {
	nrpc_call_t call;
	uint8_t    *dst;
	uint32_t    len;
};

/* Put the reply of a piece in place: normally the engine already did. */
static int land(struct slice_client *c, struct piece *p)
{
	struct nrpc_result res;
	int rc = sl_collect(c, p->call, &res);
	uint32_t got = 0;

	if (rc == 0 && res.payload_len) {
		if (res.placed) {
			got = res.payload_len;
		} else {   /* came in frames (no IPT entry matched): copy them */
			for (uint32_t i = 0; i < res.payload.nseg && got < p->len; i++) {
				uint32_t k = (uint32_t)sl_min(res.payload.seg[i].len, p->len - got);
				memcpy(p->dst + got, res.payload.seg[i].base, k);
				got += k;
			}
		}
	}
	if (!res.placed && res.payload.nseg)
		tpz_payload_free(c->ep, &res.payload);
	if (rc == 0 && got < p->len)   /* a short answer is a hole at the end */
		memset(p->dst + got, 0, p->len - got);
	return rc;
}

static int issue_read(struct slice_client *c, uint64_t obj, uint32_t node, uint64_t off, uint8_t *dst,
		      uint32_t len, nrpc_call_t *call)
{
	struct slb_rw a = { .obj = obj, .off = off, .len = len };
	struct tpz_payload buf = { .nseg = 1, .seg = { { dst, len } } };
	struct nrpc_call_desc d = { .dst = node, .op = SLB_READ, .args = &a, .args_len = sizeof(a),
				    .reply_buf = &buf };
	return sl_issue(c, &d, call);
}

/* ---- read-ahead ---------------------------------------------------------- */

static struct sl_ra *ra_find(struct slice_file *f, uint64_t block)
{
	for (uint32_t i = 0; i < f->nra; i++)
		if (f->ra[i].len && f->ra[i].block == block)
			return &f->ra[i];
	return NULL;
}

/* Wait for a slot's read; 0 if its bytes are good. */
static int ra_settle(struct slice_file *f, struct sl_ra *s)
{
	if (!s->live)
		return 0;
	struct piece p = { s->call, s->buf, s->len };
	s->live = false;
	int rc = land(f->c, &p);
	if (rc < 0)
		s->len = 0;   /* forget it; the reader asks again and sees the error */
	return rc;
}

void sl_ra_drop(struct slice_file *f)
{
	for (uint32_t i = 0; i < f->nra; i++) {
		struct sl_ra *s = &f->ra[i];
		if (s->live) {
			struct nrpc_result res;
			nrpc_cancel(f->c->r, s->call);
			if (nrpc_wait(f->c->r, s->call, &res) == 0 && !res.placed && res.payload.nseg)
				tpz_payload_free(f->c->ep, &res.payload);
			s->live = false;
		}
		s->len = 0;
	}
}

static void ra_issue(struct slice_file *f, uint64_t from_block)
{
	struct slice_client *c = f->c;
	uint32_t su = f->map.layout.stripe_unit;

	if (!f->ra) {
		if (!(f->ra = calloc(c->cfg.readahead, sizeof(*f->ra))))
			return;
		f->nra = c->cfg.readahead;
	}
	for (uint64_t b = from_block; b < from_block + f->nra; b++) {
		if (ra_find(f, b))
			continue;
		struct sl_ra *s = NULL;   /* a free slot, or one behind the reader */
		for (uint32_t i = 0; i < f->nra && !s; i++)
			if (!f->ra[i].live && (!f->ra[i].len || f->ra[i].block < from_block))
				s = &f->ra[i];
		if (!s)
			return;
		if (!s->buf && !(s->buf = aligned_alloc(4096, su)))
			return;
		if (issue_read(c, f->map.obj, slice_block_server(&f->map, b), b << f->su_shift, s->buf, su,
			       &s->call) < 0) {
			s->len = 0;
			return;
		}
		s->block = b;
		s->len = su;
		s->live = true;
		SCTR(c, readahead_issued, 1);
	}
}

/* ---- the read ----------------------------------------------------------- */

ssize_t slice_read(struct slice_file *f, void *buf, size_t len, uint64_t off)
{
	struct piece out[MAX_OUT];
	uint32_t head = 0, n = 0, su = f ? f->map.layout.stripe_unit : 0;
	uint8_t *dst = buf;
	int rc = 0;

	if (!f || (!buf && len) || off + len < off)
		return -EINVAL;
	if (len == 0)
		return 0;
	if (f->wq_n || f->fill_len) {   /* read your own writes */
		if ((rc = slice_flush(f)) < 0)
			return rc;
	}
	uint32_t max = tpz_max_payload(f->c->ep);
	for (size_t pos = 0; pos < len && rc == 0;) {
		uint64_t o = off + pos, b = o >> f->su_shift;
		uint32_t in = (uint32_t)(o & (su - 1));
		uint32_t k = (uint32_t)sl_min(su - in, len - pos);
		struct sl_ra *s = ra_find(f, b);
		if (s && (rc = ra_settle(f, s)) == 0 && s->len) {
			memcpy(dst + pos, s->buf + in, k);
			SCTR(f->c, readahead_hits, 1);
			pos += k;
			continue;
		}
		rc = 0;
		/* Whole blocks that follow on the same server go in the same call. */
		uint32_t node = slice_block_server(&f->map, b);
		while (pos + k < len && k + su <= max && !ra_find(f, b + 1) &&
		       slice_block_server(&f->map, b + 1) == node) {
			k += (uint32_t)sl_min(su, len - pos - k);
			b++;
		}
		if (n == MAX_OUT) {   /* the window is full: take the oldest in */
			rc = land(f->c, &out[head]);
			head = (head + 1) % MAX_OUT;
			n--;
			if (rc < 0)
				break;
		}
		struct piece *p = &out[(head + n) % MAX_OUT];
		p->dst = dst + pos;
		p->len = k;
		if ((rc = issue_read(f->c, f->map.obj, node, o, p->dst, k, &p->call)) < 0)
			break;
		n++;
		pos += k;
	}
	/* Collect everything issued, even after an error: each call's record
	 * and the caller's buffer must be free of it when we return. */
	for (; n; n--, head = (head + 1) % MAX_OUT) {
		int r2 = land(f->c, &out[head]);
		if (rc == 0)
			rc = r2;
	}
	if (rc < 0)
		return rc;
	SCTR(f->c, reads, 1);
	SCTR(f->c, read_bytes, len);
	bool sequential = off == f->next_seq && off != 0;
	f->next_seq = off + len;
	if (sequential && f->c->cfg.readahead)
		ra_issue(f, (off + len) >> f->su_shift);
	return (ssize_t)len;
}
