/*
 * write.c - write-behind.  slice_write copies the caller's bytes once, into
 * pool frames (the caller may reuse its buffer at once); the frames then
 * travel to the block server without another copy (over shm they move by
 * index).  Contiguous writes inside one stripe unit gather in one "fill"
 * piece that is sent when it is full or the next write is elsewhere, so a
 * stream of small writes becomes stripe-unit-sized calls.
 *
 * At most dirty_max bytes (and SL_MAX_INFLIGHT calls) are in flight; the
 * oldest is collected to make room.  Writes are unstable; slice_fsync
 * commits on every server written to and compares verifiers, so data a
 * restarted server lost is reported (-EIO), never silently acknowledged.
 * Two writes to overlapping bytes are never in flight together: the server
 * runs writes on several threads and could apply them out of order.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "slice_internal.h"

static void keep_error(struct slice_file *f, int rc)
{
	if (rc < 0 && f->error == 0)
		f->error = rc;
}

int sl_note_verf(struct slice_file *f, uint32_t node, uint64_t verf)
{
	for (uint32_t i = 0; i < f->ndirty; i++)
		if (f->dirty[i].node == node) {
			if (f->dirty[i].verf != verf)
				f->dirty[i].verf_changed = true;
			return 0;
		}
	if (f->ndirty == f->dirty_cap) {
		uint32_t cap = f->dirty_cap ? f->dirty_cap * 2 : 8;
		struct sl_dirty_node *d = realloc(f->dirty, cap * sizeof(*d));
		if (!d)
			return -ENOMEM;
		f->dirty = d;
		f->dirty_cap = cap;
	}
	f->dirty[f->ndirty++] = (struct sl_dirty_node){ .node = node, .verf = verf };
	return 0;
}

/* Collect the oldest write in flight. */
static void reap_one(struct slice_file *f)
{
	struct sl_write *w = &f->wq[f->wq_head];
	struct nrpc_result res;
	int rc = sl_collect(f->c, w->call, &res);

	if (rc == 0 && res.res_len >= sizeof(struct slb_write_res)) {
		struct slb_write_res wr;
		memcpy(&wr, res.res, sizeof(wr));
		rc = sl_note_verf(f, w->node, wr.verf);
	} else if (rc == 0) {
		rc = -EIO;   /* a reply without results is not an acknowledgement */
	}
	if (res.payload.nseg && !res.placed)
		tpz_payload_free(f->c->ep, &res.payload);
	keep_error(f, rc);
	f->wq_bytes -= w->len;
	f->wq_head = (f->wq_head + 1) % SL_MAX_INFLIGHT;
	f->wq_n--;
}

int sl_write_drain(struct slice_file *f, uint64_t keep_bytes)
{
	while (f->wq_n && f->wq_bytes > keep_bytes)
		reap_one(f);
	return f->error;
}

static bool overlaps_inflight(struct slice_file *f, uint32_t node, uint64_t off, uint32_t len, uint32_t *upto)
{
	for (uint32_t i = f->wq_n; i-- > 0;) {   /* newest first */
		struct sl_write *w = &f->wq[(f->wq_head + i) % SL_MAX_INFLIGHT];
		if (w->node == node && w->off < off + len && off < w->off + w->len) {
			*upto = i + 1;
			return true;
		}
	}
	return false;
}

/* Give back frames past `len` (the fill was sized for a whole stripe unit). */
static void trim(struct tpz_endpoint *ep, struct tpz_payload *pl, uint32_t len)
{
	uint32_t keep = 0, left = len;

	for (uint32_t i = 0; i < pl->nseg; i++) {
		if (left == 0) {
			tpz_frame_free(ep, pl->seg[i].base);
			continue;
		}
		if (pl->seg[i].len > left)
			pl->seg[i].len = left;
		left -= pl->seg[i].len;
		keep++;
	}
	pl->nseg = keep;
}

int sl_write_flush_fill(struct slice_file *f)
{
	struct slice_client *c = f->c;
	uint32_t upto, len = f->fill_len;
	int rc;

	if (!len)
		return 0;
	uint32_t node = slice_block_server(&f->map, f->fill_off >> f->su_shift);
	trim(c->ep, &f->fill, len);
	if (overlaps_inflight(f, node, f->fill_off, len, &upto))
		while (upto--)
			reap_one(f);
	while (f->wq_n == SL_MAX_INFLIGHT || (f->wq_n && f->wq_bytes + len > c->cfg.dirty_max))
		reap_one(f);
	struct slb_rw a = { .obj = f->map.obj, .off = f->fill_off, .len = len };
	struct nrpc_call_desc d = { .dst = node, .op = SLB_WRITE, .args = &a, .args_len = sizeof(a),
				    .payload = &f->fill };
	struct sl_write *w = &f->wq[(f->wq_head + f->wq_n) % SL_MAX_INFLIGHT];
	if ((rc = sl_issue(c, &d, &w->call)) < 0) {
		tpz_payload_free(c->ep, &f->fill);   /* not sent: the frames are still ours */
	} else {
		/* The frames went with the call. */
		w->node = node;
		w->off = f->fill_off;
		w->len = len;
		f->wq_n++;
		f->wq_bytes += len;
		SCTR(c, writes, 1);
		SCTR(c, write_bytes, len);
	}
	f->fill.nseg = 0;
	f->fill_len = 0;
	keep_error(f, rc);
	return rc;
}

/* Start a fill at `off`, room for the rest of its stripe unit. */
static int fill_start(struct slice_file *f, uint64_t off)
{
	uint32_t su = f->map.layout.stripe_unit;
	uint32_t room = su - (uint32_t)(off & (su - 1));
	int rc;

	/* Out of frames: they come back as writes in flight complete. */
	while ((rc = tpz_payload_alloc(f->c->ep, &f->fill, room)) == -ENOMEM && f->wq_n)
		reap_one(f);
	if (rc < 0)
		return rc == -ENOMEM ? -ENOBUFS : rc;
	f->fill_off = off;
	f->fill_len = 0;
	return 0;
}

static void fill_copy(struct slice_file *f, const uint8_t *src, uint32_t k)
{
	uint32_t at = f->fill_len;

	for (uint32_t i = 0; i < f->fill.nseg && k; i++) {
		uint32_t sl = f->fill.seg[i].len;
		if (at >= sl) {
			at -= sl;
			continue;
		}
		uint32_t n = sl - at < k ? sl - at : k;
		memcpy((uint8_t *)f->fill.seg[i].base + at, src, n);
		src += n;
		k -= n;
		f->fill_len += n;
		at = 0;
	}
}

ssize_t slice_write(struct slice_file *f, const void *buf, size_t len, uint64_t off)
{
	const uint8_t *src = buf;
	int rc;

	if (!f || (!buf && len) || off + len < off)
		return -EINVAL;
	if (f->error) {
		rc = f->error;
		f->error = 0;
		return rc;
	}
	if (f->nra)
		sl_ra_drop(f);   /* what was read ahead may be older than this write */
	uint32_t su = f->map.layout.stripe_unit;
	for (size_t pos = 0; pos < len;) {
		uint64_t o = off + pos;
		uint32_t k = (uint32_t)sl_min(su - (o & (su - 1)), len - pos);
		if (f->fill_len && o != f->fill_off + f->fill_len)
			sl_write_flush_fill(f);
		if (!f->fill_len && f->fill.nseg == 0 && (rc = fill_start(f, o)) < 0)
			return rc;
		fill_copy(f, src + pos, k);
		pos += k;
		if (((f->fill_off + f->fill_len) & (su - 1)) == 0)   /* the stripe unit is full */
			sl_write_flush_fill(f);
	}
	return (ssize_t)len;
}

int slice_flush(struct slice_file *f)
{
	if (!f)
		return -EINVAL;
	sl_write_flush_fill(f);
	sl_write_drain(f, 0);
	int rc = f->error;
	f->error = 0;
	return rc;
}

int slice_fsync(struct slice_file *f)
{
	nrpc_call_t calls[64];
	int rc;

	if (!f)
		return -EINVAL;
	rc = slice_flush(f);
	/* Commit on every server written to, in parallel (64 at a time). */
	for (uint32_t base = 0; base < f->ndirty; base += 64) {
		uint32_t n = f->ndirty - base < 64 ? f->ndirty - base : 64;
		int irc[64];
		for (uint32_t i = 0; i < n; i++) {
			struct slb_obj a = { f->map.obj };
			struct nrpc_call_desc d = { .dst = f->dirty[base + i].node, .op = SLB_COMMIT,
						    .args = &a, .args_len = sizeof(a) };
			irc[i] = sl_issue(f->c, &d, &calls[i]);
		}
		for (uint32_t i = 0; i < n; i++) {
			struct sl_dirty_node *dn = &f->dirty[base + i];
			struct nrpc_result res;
			int r2 = irc[i];
			if (r2 == 0)
				r2 = sl_collect(f->c, calls[i], &res);
			if (r2 == 0) {
				struct slb_write_res wr = { 0 };
				memcpy(&wr, res.res, sl_min(res.res_len, sizeof(wr)));
				if (res.res_len < sizeof(wr) || wr.verf != dn->verf || dn->verf_changed) {
					/* The server restarted since it acknowledged unstable
					 * writes: they may be lost. */
					SCTR(f->c, rewrites_needed, 1);
					r2 = -EIO;
				}
			}
			if (rc == 0)
				rc = r2;
		}
	}
	f->ndirty = 0;
	SCTR(f->c, commits, 1);
	return rc;
}
