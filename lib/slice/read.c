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
 * was asked until the second sequential read).  Those bytes are copied
 * twice (into the buffer, then to the reader): a reader that wants every
 * byte copied once keeps several reads in flight instead
 * (slice_read_start / slice_read_end, at the end of this file).
 */
#include <errno.h>
#include <sched.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "slice_internal.h"

#define MAX_OUT 256u   /* pieces of one read in flight at once */

struct piece {
	nrpc_call_t call;
	uint8_t    *dst;
	uint32_t    len;
};

/* A reply's bytes into dst[0..len): placed there already by the engine,
 * or copied out of the frames it came in (no IPT entry matched), which
 * are freed.  A server answers a READ with exactly len bytes (holes and
 * bytes past the end as zeros): fewer means the engine dropped the
 * payload (the server died while we read its memory, say), and that is
 * -EIO, never zeros. */
static int put_in_place(struct slice_client *c, struct nrpc_result *res, uint8_t *dst, uint32_t len)
{
	uint32_t got = 0;

	if (res->status == 0 && res->payload_len) {
		if (res->placed) {
			got = res->payload_len;
		} else {
			for (uint32_t i = 0; i < res->payload.nseg && got < len; i++) {
				uint32_t k = (uint32_t)sl_min(res->payload.seg[i].len, len - got);
				memcpy(dst + got, res->payload.seg[i].base, k);
				got += k;
			}
		}
	}
	if (!res->placed && res->payload.nseg)
		tpz_payload_free(c->ep, &res->payload);
	if (res->status == 0 && got < len) {
		SCTR(c, errors, 1);
		return -EIO;
	}
	return 0;
}

/* Put the reply of a piece in place: normally the engine already did. */
static int land(struct slice_client *c, struct piece *p)
{
	struct nrpc_result res;
	int rc = sl_collect(c, p->call, &res);

	if (rc == 0)
		rc = put_in_place(c, &res, p->dst, p->len);
	else if (!res.placed && res.payload.nseg)
		tpz_payload_free(c->ep, &res.payload);
	return rc;
}

/* fn NULL: collected with land(); else fn runs when the reply is in. */
static int issue_read(struct slice_client *c, uint64_t obj, uint32_t node, uint64_t off, uint8_t *dst,
		      uint32_t len, nrpc_cont_fn fn, void *arg, nrpc_call_t *call)
{
	struct slb_rw a = { .obj = obj, .off = off, .len = len };
	struct tpz_payload buf = { .nseg = 1, .seg = { { dst, len } } };
	struct nrpc_call_desc d = { .dst = node, .op = SLB_READ, .args = &a, .args_len = sizeof(a),
				    .reply_buf = &buf };
	return sl_issue_cont(c, &d, fn, arg, call);
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
			       NULL, NULL, &s->call) < 0) {
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

/* The piece of a read that starts at off (left bytes to go): to the end of
 * its stripe unit, plus the whole units after it that live on the same
 * server - one call, up to the maximum payload - stopping before a unit
 * that read-ahead holds (with_ra).  Its server goes to *node. */
static uint32_t piece_len(struct slice_file *f, uint64_t off, uint64_t left, bool with_ra, uint32_t *node)
{
	uint32_t su = f->map.layout.stripe_unit, max = tpz_max_payload(f->c->ep);
	uint64_t b = off >> f->su_shift;
	uint32_t k = (uint32_t)sl_min(su - (off & (su - 1)), left);

	*node = slice_block_server(&f->map, b);
	while (k < left && k + su <= max && !(with_ra && ra_find(f, b + 1)) &&
	       slice_block_server(&f->map, b + 1) == *node) {
		k += (uint32_t)sl_min(su, left - k);
		b++;
	}
	return k;
}

/* Reads see the file's own writes: those in flight are waited for. */
static int read_prepare(struct slice_file *f, const void *buf, size_t len, uint64_t off)
{
	if (!f || (!buf && len) || off + len < off)
		return -EINVAL;
	if (f->wq_n || f->fill_len)
		return slice_flush(f);
	return 0;
}

ssize_t slice_read(struct slice_file *f, void *buf, size_t len, uint64_t off)
{
	struct piece out[MAX_OUT];
	uint32_t head = 0, n = 0;
	uint8_t *dst = buf;
	int rc;

	if ((rc = read_prepare(f, buf, len, off)) < 0)
		return rc;
	if (len == 0)
		return 0;
	uint32_t su = f->map.layout.stripe_unit;
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
		uint32_t node;
		k = piece_len(f, o, len - pos, true, &node);
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
		if ((rc = issue_read(f->c, f->map.obj, node, o, p->dst, k, NULL, NULL, &p->call)) < 0)
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

/* ---- asynchronous reads ---------------------------------------------------
 *
 * The pieces go out as NRPC_CONT calls: the continuation (on whichever
 * thread drives delivery) puts the bytes in place and counts the piece
 * down, and NetRPC frees the call record at once, so reads in flight hold
 * no records or credits while nobody waits for them.
 */

struct aio_piece {
	struct slice_aio *io;
	uint8_t          *dst;
	uint32_t          len;
};

struct slice_aio {
	struct slice_file *f;
	size_t             len;
	_Atomic uint32_t   left;      /* pieces not answered yet (+1 while issuing) */
	_Atomic int        rc;        /* the first error */
	uint32_t           npieces;
	struct aio_piece   p[];
};

static void aio_keep_error(struct slice_aio *io, int rc)
{
	int none = 0;

	if (rc < 0)
		atomic_compare_exchange_strong(&io->rc, &none, rc);
}

/* The continuation of a piece (delivery path). */
static void aio_landed(struct nrpc *r, struct nrpc_result *res, void *arg)
{
	struct aio_piece *p = arg;
	struct slice_aio *io = p->io;
	struct slice_client *c = io->f->c;

	(void)r;
	if (res->status < 0 && res->status != -ENOENT)
		SCTR(c, errors, 1);
	int rc = put_in_place(c, res, p->dst, p->len);
	aio_keep_error(io, rc < 0 ? rc : sl_lost(res->status));
	/* release: the bytes and the error before the count the ender reads
	 * (acquire in aio_wait); io may be gone right after this. */
	atomic_fetch_sub_explicit(&io->left, 1, memory_order_release);
}

static void aio_wait(struct slice_aio *io)
{
	struct nrpc *r = io->f->c->r;

	while (atomic_load_explicit(&io->left, memory_order_acquire))
		if (nrpc_progress(r, 1) == -EBUSY)   /* another thread delivers: let it */
			sched_yield();
}

int slice_read_start(struct slice_file *f, void *buf, size_t len, uint64_t off, struct slice_aio **out)
{
	int rc;

	if (!out)
		return -EINVAL;
	if ((rc = read_prepare(f, buf, len, off)) < 0)
		return rc;
	/* Pieces: one per stripe unit touched at most. */
	uint64_t maxp = len ? ((off + len - 1) >> f->su_shift) - (off >> f->su_shift) + 1 : 0;
	if (maxp > (SIZE_MAX - sizeof(struct slice_aio)) / sizeof(struct aio_piece))
		return -EINVAL;
	struct slice_aio *io = malloc(sizeof(*io) + (size_t)maxp * sizeof(io->p[0]));
	if (!io)
		return -ENOMEM;
	io->f = f;
	io->len = len;
	io->npieces = 0;
	atomic_init(&io->rc, 0);
	atomic_init(&io->left, 1);   /* held until every piece is out */
	for (size_t pos = 0; pos < len;) {
		struct aio_piece *p = &io->p[io->npieces];
		uint32_t node;
		p->io = io;
		p->dst = (uint8_t *)buf + pos;
		p->len = piece_len(f, off + pos, len - pos, false, &node);
		nrpc_call_t call;
		atomic_fetch_add_explicit(&io->left, 1, memory_order_relaxed);
		if ((rc = issue_read(f->c, f->map.obj, node, off + pos, p->dst, p->len, aio_landed, p,
				     &call)) < 0) {
			atomic_fetch_sub_explicit(&io->left, 1, memory_order_relaxed);
			aio_keep_error(io, rc);
			break;
		}
		io->npieces++;
		pos += p->len;
	}
	atomic_fetch_sub_explicit(&io->left, 1, memory_order_release);
	if ((rc = atomic_load(&io->rc)) < 0) {   /* not all sent: wait for those that were */
		aio_wait(io);
		free(io);
		return rc;
	}
	f->naio++;
	*out = io;
	return 0;
}

bool slice_read_done(struct slice_aio *io)
{
	if (!io)
		return true;
	if (atomic_load_explicit(&io->left, memory_order_acquire) == 0)
		return true;
	nrpc_poll(io->f->c->r, 0);
	return atomic_load_explicit(&io->left, memory_order_acquire) == 0;
}

ssize_t slice_read_end(struct slice_aio *io)
{
	if (!io)
		return -EINVAL;
	struct slice_file *f = io->f;
	aio_wait(io);
	int rc = atomic_load(&io->rc);
	ssize_t ret = rc < 0 ? rc : (ssize_t)io->len;
	f->naio--;
	if (rc == 0) {
		SCTR(f->c, reads, 1);
		SCTR(f->c, read_bytes, io->len);
	}
	free(io);
	return ret;
}
