/*
 * shm_data.c - the shm link's data path.
 *
 * A frame already in the pool moves by index: zero copies.  Memory outside
 * the pool is read once, by the receiver, straight from the sender's address
 * space (process_vm_readv, the "DMA") into its final place, or copied once by
 * the sender into pool frames when no completion callback lets the engine
 * read it later.  A sender rings the receiver's doorbell only when the
 * receiver announced it sleeps.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "shm.h"

/* ---- data path -------------------------------------------------------------- */

static void ring_doorbell(struct tpz_peer *p, struct shm_chan *ch)
{
	/* Dekker with the sleeper in tpz_shm_sleep_prepare: our slot is
	 * published before we look at its announcement.  With membarrier the
	 * sleeper pays for the fence (a system call, on its way to sleep
	 * anyway) and this fast path needs only a compiler barrier. */
	if (tpz_shm_asym_fence)
		atomic_signal_fence(memory_order_seq_cst);
	else
		atomic_thread_fence(memory_order_seq_cst);
	if (atomic_load_explicit(&ch->peer_node->sleeping, memory_order_relaxed) &&
	    atomic_exchange(&ch->peer_node->sleeping, 0)) {
		uint64_t one = 1;
		if (write(ch->peer_evfd, &one, sizeof(one)) < 0) { /* full counter still wakes */ }
		TX_INC(p, wakeups_sent, 1);
	} else {
		TX_INC(p, wakeups_suppressed, 1);
	}
}

/* All segments are distinct, whole pool frames' worth at most: move by index. */
static bool frames_only(struct tpz_endpoint *ep, const struct tpz_payload *pl, struct tpz_desc *d)
{
	for (uint32_t i = 0; i < pl->nseg; i++) {
		int fi = tpz_pool_index(&ep->pool, pl->seg[i].base);
		if (fi < 0)
			return false;
		for (uint32_t j = 0; j < i; j++)
			if (d->idx[j] == (uint32_t)fi)
				return false;
		d->idx[i] = (uint32_t)fi;
		d->addr[i] = (uint64_t)((uint8_t *)pl->seg[i].base - (uint8_t *)tpz_pool_addr(&ep->pool, (uint32_t)fi));
		d->len[i] = pl->seg[i].len;
	}
	d->nseg = pl->nseg;
	return true;
}

static int copy_to_frames(struct tpz_endpoint *ep, const struct tpz_payload *pl, uint32_t len,
			  struct tpz_desc *d, uint32_t owner)
{
	uint32_t fs = ep->pool.frame_size, si = 0, so = 0;

	d->nseg = 0;
	while (len) {
		int fi = tpz_pool_get(&ep->pool, owner);
		if (fi < 0) {
			for (uint32_t i = 0; i < d->nseg; i++)
				tpz_pool_put(&ep->pool, d->idx[i]);
			return -ENOBUFS;
		}
		uint8_t *dst = tpz_pool_addr(&ep->pool, (uint32_t)fi);
		uint32_t n = len < fs ? len : fs, done = 0;
		while (done < n) {   /* gather from the source segments */
			uint32_t k = pl->seg[si].len - so;
			if (k > n - done)
				k = n - done;
			memcpy(dst + done, (uint8_t *)pl->seg[si].base + so, k);
			done += k;
			so += k;
			if (so == pl->seg[si].len) {
				si++;
				so = 0;
			}
		}
		d->idx[d->nseg] = (uint32_t)fi;
		d->addr[d->nseg] = 0;
		d->len[d->nseg++] = n;
		len -= n;
	}
	return 0;
}

static int pend_push(struct shm_chan *ch, uint32_t seq, tpz_done_fn fn, void *arg)
{
	if (ch->pend_n == ch->pend_cap) {
		uint32_t cap = ch->pend_cap ? ch->pend_cap * 2 : 64;
		struct pending_done *q = malloc(cap * sizeof(*q));
		if (!q)
			return -ENOMEM;
		for (uint32_t i = 0; i < ch->pend_n; i++)
			q[i] = ch->pend[(ch->pend_head + i) % ch->pend_cap];
		free(ch->pend);
		ch->pend = q;
		ch->pend_head = 0;
		ch->pend_cap = cap;
	}
	ch->pend[(ch->pend_head + ch->pend_n) % ch->pend_cap] = (struct pending_done){ seq, fn, arg };
	ch->pend_n++;
	atomic_store_explicit(&ch->pend_count, ch->pend_n, memory_order_relaxed);
	return 0;
}

static int shm_send(struct tpz_endpoint *ep, struct tpz_peer *p, struct tpz_msg *m,
		    const struct tpz_payload *pl, uint32_t pl_len, tpz_done_fn done, void *arg, uint32_t flags)
{
	struct shm_chan *ch = p->link;
	/* Frames stay ours, marked sent, until the receiver claims them. */
	uint32_t owner = TPZ_OWNER_SENT(ep->cfg.node);
	int rc;

	if (tpz_ring_space(ch->out, ch->head, &ch->cached_tail, 1) == 0)
		return -EAGAIN;
	/* The descriptor is only read for messages with a payload: an inline
	 * message leaves its cache line alone. */
	struct tpz_desc *d = tpz_ring_desc(ch->out, ch->head);
	if (pl) {
		if ((flags & TPZ_SEND_LEND) && frames_only(ep, pl, d)) {
			/* The receiver copies straight out of our frames. */
			if ((rc = pend_push(ch, ch->head, done, arg)) < 0)
				return rc;
			d->kind = DESC_LENT;
		} else if (!(flags & TPZ_SEND_LEND) && frames_only(ep, pl, d)) {
			/* Zero copy: the frames travel by index; the receiver
			 * claims them (take_payload). */
			for (uint32_t i = 0; i < d->nseg; i++)
				tpz_pool_set_owner(&ep->pool, d->idx[i], owner);
			d->kind = DESC_FRAMES;
			TX_INC(p, zero_copy, 1);
			tpz_complete_later(ep, done, arg, 0);
		} else if (done && ch->cma) {
			bool any_frame = false;
			for (uint32_t i = 0; i < pl->nseg; i++)
				any_frame |= tpz_is_frame(ep, pl->seg[i].base);
			if (any_frame)
				goto copy;
			/* One copy, by the receiver, from our memory to its place. */
			if ((rc = pend_push(ch, ch->head, done, arg)) < 0)
				return rc;
			d->kind = DESC_REMOTE;
			d->nseg = pl->nseg;
			for (uint32_t i = 0; i < pl->nseg; i++) {
				d->addr[i] = (uintptr_t)pl->seg[i].base;
				d->len[i] = pl->seg[i].len;
			}
		} else {
copy:
			if ((rc = copy_to_frames(ep, pl, pl_len, d, owner)) < 0)
				return rc;
			d->kind = DESC_FRAMES;
			TX_INC(p, copies, 1);
			/* Frames among the sources were given to us: done with them. */
			if (!(flags & TPZ_SEND_LEND))
				tpz_payload_put_frames(ep, pl);
			tpz_complete_later(ep, done, arg, 0);
		}
	}
	m->hdr.seq = ch->head;   /* the ring index is the link's sequence */
	tpz_ring_put(ch->out, ch->head++, m);
	if (!(flags & TPZ_SEND_DEFER))
		ring_doorbell(p, ch);
	return 0;
}

/* One doorbell for a whole burst. */
static void shm_kick(struct tpz_endpoint *ep, struct tpz_peer *p)
{
	ring_doorbell(p, p->link);
}

/* Put a payload the sender left in frames or in its memory where it goes. */
static void take_payload(struct tpz_endpoint *ep, struct tpz_peer *p, struct shm_chan *ch,
			 const struct tpz_msg *m, struct tpz_desc *d, struct tpz_rx *rx)
{
	uint32_t me = TPZ_OWNER(ep->cfg.node), len = m->hdr.payload_len;
	uint32_t from = TPZ_OWNER_SENT(p->node), free_as = from;
	struct iovec rv[TPZ_SG_MAX], lv[TPZ_SG_MAX];
	struct tpz_payload dst;
	struct tpz_ipt_entry *e = NULL;
	const char *why = NULL;
	bool ok = true;

	if (d->kind == DESC_NONE || d->nseg == 0 || d->nseg > TPZ_SG_MAX) {
		why = "payload descriptor missing";
		goto drop;
	}
	uint32_t sum = 0;
	for (uint32_t i = 0; i < d->nseg; i++) {
		if ((d->kind == DESC_FRAMES || d->kind == DESC_LENT) && (d->idx[i] >= ep->pool.nframes ||
					      d->addr[i] + d->len[i] > ep->pool.frame_size)) {
			why = "payload descriptor out of the pool";
			goto drop;
		}
		sum += d->len[i];
	}
	if (sum != len) {
		why = "payload descriptor length mismatch";
		goto drop;
	}
	if (d->kind == DESC_FRAMES) {
		/* Take the frames over from the sender.  A claim fails only if
		 * the sender died and a survivor reclaimed the frame first, or
		 * the descriptor names frames it never sent: give back what we
		 * claimed and drop. */
		uint32_t got = 0;
		while (got < d->nseg && tpz_pool_claim(&ep->pool, d->idx[got], from, me))
			got++;
		if (got < d->nseg) {
			for (uint32_t i = 0; i < got; i++)
				tpz_pool_put_owned(&ep->pool, d->idx[i], me);
			why = "the sender's frames were reclaimed or not its own";
			goto drop;
		}
		free_as = me;
	}
	if (m->hdr.flags & TPZ_F_TOKEN) {
		pthread_mutex_lock(&ep->ipt.lock);
		e = tpz_ipt_match(ep, m->hdr.token, p->node, len, &why);
		if (!e) {   /* counted as a miss or a drop by tpz_ipt_match */
			pthread_mutex_unlock(&ep->ipt.lock);
			goto drop;
		}
		dst = e->buf;
	} else if (d->kind == DESC_FRAMES) {
		/* Zero copy: the frames are ours already. */
		rx->payload.nseg = d->nseg;
		for (uint32_t i = 0; i < d->nseg; i++)
			rx->payload.seg[i] = (struct tpz_iov){
				(uint8_t *)tpz_pool_addr(&ep->pool, d->idx[i]) + d->addr[i], d->len[i] };
		rx->payload_len = len;
		return;
	} else if (tpz_payload_alloc(ep, &dst, len) < 0) {
		why = "no free frames";
		goto drop;
	}

	/* One copy into dst: from frames (memcpy) or the sender (CMA). */
	uint32_t nd = 0;
	for (uint32_t i = 0; i < dst.nseg; i++)
		lv[nd++] = (struct iovec){ dst.seg[i].base, dst.seg[i].len };
	if (d->kind == DESC_FRAMES || d->kind == DESC_LENT) {
		uint32_t si = 0, so = 0;
		for (uint32_t i = 0, left = len; i < nd && left; i++) {
			uint32_t done = 0, want = (uint32_t)lv[i].iov_len < left ? (uint32_t)lv[i].iov_len : left;
			while (done < want) {
				uint32_t k = d->len[si] - so;
				if (k > want - done)
					k = want - done;
				memcpy((uint8_t *)lv[i].iov_base + done,
				       (uint8_t *)tpz_pool_addr(&ep->pool, d->idx[si]) + d->addr[si] + so, k);
				done += k;
				so += k;
				if (so == d->len[si]) {
					si++;
					so = 0;
				}
			}
			left -= want;
		}
		tpz_shm_free_desc_frames(ep, d, me);
	} else {
		for (uint32_t i = 0; i < d->nseg; i++)
			rv[i] = (struct iovec){ (void *)(uintptr_t)d->addr[i], d->len[i] };
		ok = process_vm_readv(ch->peer_pid, lv, nd, rv, d->nseg, 0) == (ssize_t)len;
	}
	RX_INC(ep, payload_copies, 1);
	if (e) {
		if (ok) {
			rx->placed = true;
			rx->ipt_cookie = e->cookie;
			rx->payload = e->buf;
			rx->payload_len = len;
			RX_INC(ep, ipt_hits, 1);
			tpz_ipt_retire(&ep->ipt, e);
		}
		pthread_mutex_unlock(&ep->ipt.lock);
	} else if (ok) {
		rx->payload = dst;
		rx->payload_len = len;
	} else {
		tpz_payload_free(ep, &dst);
	}
	if (ok)
		return;
	why = "cannot read the sender's memory";
	RX_INC(ep, ipt_drops, e ? 1 : 0);
drop:
	tpz_shm_free_desc_frames(ep, d, free_as);
	rx->flags |= TPZ_F_DROPPED;
	rx->payload_len = 0;
	rx->payload.nseg = 0;
	tpz_log(ep, TPZ_LOG_DEBUG, "node %u: payload from %u dropped: %s", ep->cfg.node, p->node, why);
}

static int shm_poll(struct tpz_endpoint *ep, struct tpz_peer *p, int budget)
{
	struct shm_chan *ch = p->link;
	uint32_t n = (uint32_t)budget < TPZ_POLL_BATCH ? (uint32_t)budget : TPZ_POLL_BATCH, done = 0;

	tpz_shm_run_pending(ep, p, ch, 0);
	for (; done < n && tpz_ring_ready(ch->in, ch->tail); done++) {
		uint32_t t = ch->tail;
		struct tpz_msg *m = tpz_ring_slot(ch->in, t);
		struct tpz_desc *d = tpz_ring_desc(ch->in, t);
		struct tpz_rx rx = { .msg = m, .flags = m->hdr.flags };
		const char *why = tpz_wire_check(m, ep->max_payload);
		if (!why && m->hdr.handler == TPZ_HANDLER_LINK)
			why = "link message in a data ring";
		if (why) {
			CTR_ADD(ep, protocol_errors, 1);
			tpz_log(ep, TPZ_LOG_WARN, "node %u: shm peer %u sent a malformed message (%s); closing",
				ep->cfg.node, p->node, why);
			tpz_peer_down(ep, p, TPZ_DOWN_PROTOCOL, true);
			return (int)done;
		}
		if (m->hdr.payload_len)
			take_payload(ep, p, ch, m, d, &rx);
		/* Consumed before the upcall, so a close from inside it does
		 * not free frames the handler now owns.  The slot itself is
		 * handed back only after the batch (release below). */
		ch->tail = t + 1;
		tpz_deliver(ep, p, &rx);
		if (atomic_load_explicit(&p->state, memory_order_relaxed) != PEER_UP)
			return (int)done + 1;
	}
	if (done)
		tpz_ring_release(ch->in, ch->tail);
	return (int)done;
}

/* Sends the peer still reads (lent frames, our memory) complete once its
 * tail passes them; it rings no doorbell for that, so they are reported
 * apart: a waiter naps instead of spinning on them (poll.c). */
static unsigned shm_pending(struct tpz_endpoint *ep, struct tpz_peer *p)
{
	struct shm_chan *ch = p->link;
	return (tpz_ring_ready(ch->in, ch->tail) ? TPZ_PEND_INPUT : 0) |
	       (atomic_load(&ch->pend_count) ? TPZ_PEND_DONE : 0);
}

const struct tpz_link_ops tpz_shm_ops = {
	.name = "shm",
	.send = shm_send,
	.kick = shm_kick,
	.poll = shm_poll,
	.pending = shm_pending,
	.close = tpz_shm_close,
};
