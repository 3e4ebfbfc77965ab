/* tcp_rx.c - the tcp receive state machine; see tcp_rx.h. */
#include <errno.h>
#include <string.h>

#include "tcp_rx.h"

bool tpz_tcp_rx_pending(const struct tpz_tcp_rx *r)
{
	return r->len - r->off >= TPZ_MSG_SIZE;
}

/* Build the iovecs for payload bytes [got, len) of dst. */
static int dst_iov(struct tpz_tcp_rx *r, struct iovec *iov)
{
	uint32_t want = r->cur.hdr.payload_len - r->got;

	if (r->discard) {
		iov[0] = (struct iovec){ r->sink, want < TPZ_RX_SINK ? want : TPZ_RX_SINK };
		return 1;
	}
	int n = 0;
	uint32_t skip = r->got;
	for (uint32_t i = 0; i < r->dst.nseg && want; i++) {
		uint32_t l = r->dst.seg[i].len;
		if (skip >= l) {
			skip -= l;
			continue;
		}
		uint32_t k = l - skip < want ? l - skip : want;
		iov[n++] = (struct iovec){ (uint8_t *)r->dst.seg[i].base + skip, k };
		want -= k;
		skip = 0;
	}
	return n;
}

static void copy_in(struct tpz_tcp_rx *r, const uint8_t *src, uint32_t k)
{
	struct iovec iov[TPZ_SG_MAX];
	int n = dst_iov(r, iov);

	r->got += k;
	if (r->discard)
		return;
	for (int i = 0; i < n && k; i++) {
		uint32_t c = (uint32_t)iov[i].iov_len < k ? (uint32_t)iov[i].iov_len : k;
		memcpy(iov[i].iov_base, src, c);
		src += c;
		k -= c;
	}
}

static void begin_payload(struct tpz_endpoint *ep, struct tpz_peer *p, struct tpz_tcp_rx *r)
{
	uint32_t len = r->cur.hdr.payload_len;
	const char *why = NULL;

	r->in_payload = true;
	r->got = 0;
	r->discard = false;
	r->e = NULL;
	r->drop_why = NULL;
	r->exact = len >= 4096;
	if (r->cur.hdr.flags & TPZ_F_TOKEN) {
		pthread_mutex_lock(&ep->ipt.lock);
		r->e = tpz_ipt_match(ep, r->cur.hdr.token, p->node, len, &why);
		if (r->e) {
			r->e->state = IPT_FILLING;
			r->dst = r->e->buf;
		}
		pthread_mutex_unlock(&ep->ipt.lock);
	} else if (tpz_payload_alloc(ep, &r->dst, len) < 0) {
		why = "no free frames";
	}
	if (why) {
		r->discard = true;
		r->drop_why = why;
	} else if (!r->e) {
		RX_INC(ep, payload_zero_copy, 1);
	}
}

/* Deliver the message whose payload is complete (or has none). */
static void finish(struct tpz_endpoint *ep, struct tpz_peer *p, struct tpz_tcp_rx *r)
{
	struct tpz_rx rx = { .msg = &r->cur, .flags = r->cur.hdr.flags };

	if (r->in_payload) {
		if (r->e) {
			pthread_mutex_lock(&ep->ipt.lock);
			if (r->e->cancelled || r->discard) {
				r->discard = true;
				r->drop_why = "token cancelled while the payload arrived";
				RX_INC(ep, ipt_drops, 1);
			} else {
				rx.placed = true;
				rx.ipt_cookie = r->e->cookie;
				rx.payload = r->e->buf;
				RX_INC(ep, ipt_hits, 1);
			}
			tpz_ipt_retire(&ep->ipt, r->e);
			pthread_mutex_unlock(&ep->ipt.lock);
			r->e = NULL;
		} else if (!r->discard) {
			rx.payload = r->dst;
		}
		if (r->discard) {
			rx.flags |= TPZ_F_DROPPED;
			rx.placed = false;
			rx.payload.nseg = 0;
			tpz_log(ep, TPZ_LOG_DEBUG, "node %u: payload from %u dropped: %s", ep->cfg.node,
				p->node, r->drop_why);
		} else {
			rx.payload_len = r->cur.hdr.payload_len;
		}
		r->in_payload = false;
	}
	tpz_deliver(ep, p, &rx);
}

/* A payload into an IPT buffer is written only under the table lock, and
 * not at all once the entry is cancelled (see ipt.c). */
static ssize_t read_payload(struct tpz_endpoint *ep, struct tpz_tcp_rx *r, tpz_readv_fn rd, void *ctx)
{
	struct iovec iov[TPZ_SG_MAX];
	ssize_t n;

	if (r->e) {
		pthread_mutex_lock(&ep->ipt.lock);
		if (r->e->cancelled && !r->discard) {
			r->discard = true;
			r->drop_why = "token cancelled while the payload arrived";
		}
	}
	if (r->len > r->off) {   /* bytes that came with the header */
		uint32_t k = r->len - r->off, want = r->cur.hdr.payload_len - r->got;
		if (k > want)
			k = want;
		copy_in(r, r->buf + r->off, k);
		r->off += k;
		n = k;
	} else {
		n = rd(ctx, iov, dst_iov(r, iov));
		if (n > 0)
			r->got += (uint32_t)n;
	}
	if (r->e)
		pthread_mutex_unlock(&ep->ipt.lock);
	return n;
}

static int check_header(struct tpz_endpoint *ep, struct tpz_peer *p, struct tpz_tcp_rx *r, const char **why)
{
	const struct tpz_hdr *h = &r->cur.hdr;

	if ((*why = tpz_wire_check(&r->cur, ep->max_payload)))
		return -EPROTO;
	if (h->handler == TPZ_HANDLER_LINK) {
		const struct tpz_link_ctl *c = (const void *)r->cur.data;
		if (h->inline_len == sizeof(*c) && c->op == TPZ_LINK_GOODBYE) {
			*why = "goodbye";
			return -ESHUTDOWN;
		}
		*why = "unexpected link message";
		return -EPROTO;
	}
	if (h->src != p->node || h->dst != ep->cfg.node) {
		*why = "wrong source or destination node";
		return -EPROTO;
	}
	if (h->seq != p->rx_seq) {
		*why = "sequence gap";
		return -EPROTO;
	}
	return 0;
}

int tpz_tcp_rx_run(struct tpz_endpoint *ep, struct tpz_peer *p, struct tpz_tcp_rx *r,
		   tpz_readv_fn rd, void *ctx, int budget, const char **why)
{
	int delivered = 0, rc;
	bool drained = false;   /* a read came back short: the socket is empty */
	ssize_t n;

	*why = NULL;
	while (delivered < budget) {
		if (r->in_payload) {
			n = read_payload(ep, r, rd, ctx);
			if (n <= 0)
				goto eof_or_again;
			if (r->got == r->cur.hdr.payload_len) {
				finish(ep, p, r);
				/* The upcall may have closed the peer and freed r. */
				if (++delivered && atomic_load(&p->state) != PEER_UP)
					return delivered;
			}
			continue;
		}
		if (r->len - r->off < TPZ_MSG_SIZE) {
			/* Hand what we have to the caller (who may want to answer it)
			 * rather than spend a system call on an empty socket. */
			if (drained && delivered)
				return delivered;
			memmove(r->buf, r->buf + r->off, r->len - r->off);
			r->len -= r->off;
			r->off = 0;
			struct iovec iov = { r->buf + r->len,
					     r->exact ? TPZ_MSG_SIZE - r->len : TPZ_RX_BULK - r->len };
			n = rd(ctx, &iov, 1);
			if (n <= 0)
				goto eof_or_again;
			r->len += (uint32_t)n;
			drained = (size_t)n < iov.iov_len;
			continue;
		}
		memcpy(&r->cur, r->buf + r->off, TPZ_MSG_SIZE);   /* aligned copy */
		r->off += TPZ_MSG_SIZE;
		if ((rc = check_header(ep, p, r, why)) < 0)
			return rc;
		if (r->cur.hdr.payload_len) {
			begin_payload(ep, p, r);
		} else {
			r->exact = false;
			finish(ep, p, r);
			if (++delivered && atomic_load(&p->state) != PEER_UP)
				return delivered;
		}
	}
	return delivered;

eof_or_again:
	if (n == 0) {
		*why = "closed by peer";
		return -EPIPE;
	}
	if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
		return delivered;
	*why = "read error";
	return -errno;
}

void tpz_tcp_rx_abort(struct tpz_endpoint *ep, struct tpz_tcp_rx *r)
{
	if (!r->in_payload)
		return;
	if (r->e) {
		pthread_mutex_lock(&ep->ipt.lock);
		tpz_ipt_retire(&ep->ipt, r->e);
		pthread_mutex_unlock(&ep->ipt.lock);
		r->e = NULL;
	} else if (!r->discard) {
		tpz_payload_free(ep, &r->dst);
	}
	r->in_payload = false;
}
