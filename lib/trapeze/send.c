/*
 * send.c - tpz_send: check the arguments once, build the control message,
 * and hand it to the link that reaches the peer.
 */
#include <errno.h>
#include <string.h>

#include "tpz_internal.h"

static int check_payload(struct tpz_endpoint *ep, const struct tpz_payload *pl, uint32_t *len)
{
	size_t total = 0;

	if (pl->nseg > TPZ_SG_MAX)
		return -EINVAL;
	for (uint32_t i = 0; i < pl->nseg; i++) {
		const struct tpz_iov *s = &pl->seg[i];
		if (!s->base && s->len)
			return -EINVAL;
		int fi = tpz_pool_index(&ep->pool, s->base);
		/* A frame segment must stay inside its frame. */
		if (fi >= 0 && (size_t)((uint8_t *)s->base - (uint8_t *)tpz_pool_addr(&ep->pool, (uint32_t)fi)) + s->len >
			ep->pool.frame_size)
			return -EINVAL;
		total += s->len;
	}
	if (total > ep->max_payload)
		return -EMSGSIZE;
	*len = (uint32_t)total;
	return 0;
}

/* Check one message and build its control block; the peer or -errno. */
static int prepare(struct tpz_endpoint *ep, const struct tpz_send *s, struct tpz_msg *m, uint32_t *pl_len,
		   struct tpz_peer **peer)
{
	int rc;

	*pl_len = 0;
	if (!s || s->handler == TPZ_HANDLER_LINK || s->handler >= TPZ_HANDLER_MAX)
		return -EINVAL;
	if (s->data_len > TPZ_INLINE_MAX)
		return -EMSGSIZE;
	if (s->data_len && !s->data)
		return -EINVAL;
	if (s->payload && (rc = check_payload(ep, s->payload, pl_len)) < 0)
		return rc;
	if (s->token && !*pl_len)
		return -EINVAL;   /* a token names where a payload goes */
	if ((s->flags & ~TPZ_SEND_LEND) || ((s->flags & TPZ_SEND_LEND) && !s->done))
		return -EINVAL;
	struct tpz_peer *p = tpz_peer_get(ep, s->dst);
	if (!p)
		return -EINVAL;
	/* acquire: pairs with the release in tpz_peer_up (ops/link valid). */
	if (atomic_load_explicit(&p->state, memory_order_acquire) != PEER_UP)
		return -ENOTCONN;

	tpz_msg_init(m, s->handler, ep->cfg.node, s->dst);
	m->hdr.inline_len = (uint16_t)s->data_len;
	m->hdr.payload_len = *pl_len;
	if (*pl_len)
		m->hdr.flags |= TPZ_F_PAYLOAD;
	if (s->token) {
		m->hdr.flags |= TPZ_F_TOKEN;
		m->hdr.token = s->token;
	}
	if (s->data_len)
		memcpy(m->data, s->data, s->data_len);
	*peer = p;
	return 0;
}

/* Hand one prepared message to the peer's link (caller holds send_lock). */
static int submit(struct tpz_endpoint *ep, struct tpz_peer *p, const struct tpz_send *s, struct tpz_msg *m,
		  uint32_t pl_len, uint32_t extra)
{
	m->hdr.seq = p->tx_seq;
	int rc = p->ops->send(ep, p, m, pl_len ? s->payload : NULL, pl_len, s->done, s->done_arg,
			      s->flags | extra);
	if (rc == 0) {
		p->tx_seq++;
		TX_INC(p, msgs, 1);
		TX_INC(p, bytes, pl_len);
	} else if (rc == -EAGAIN) {
		TX_INC(p, ring_full, 1);
	}
	return rc;
}

int tpz_send(struct tpz_endpoint *ep, const struct tpz_send *s)
{
	struct tpz_peer *p;
	struct tpz_msg m;
	uint32_t pl_len;
	int rc;

	if (!ep)
		return -EINVAL;
	if ((rc = prepare(ep, s, &m, &pl_len, &p)) < 0)
		return rc;
	tpz_lock(&p->send_lock);
	rc = p->link ? submit(ep, p, s, &m, pl_len, 0) : -ENOTCONN;   /* it may have gone down */
	tpz_unlock(&p->send_lock);
	return rc;
}

int tpz_send_burst(struct tpz_endpoint *ep, const struct tpz_send *s, int n)
{
	int done = 0, rc = 0;

	if (!ep || !s || n < 0)
		return -EINVAL;
	while (done < n && rc == 0) {
		struct tpz_peer *p;
		struct tpz_msg m;
		uint32_t pl_len;
		if ((rc = prepare(ep, &s[done], &m, &pl_len, &p)) < 0)
			break;
		tpz_lock(&p->send_lock);
		if (!p->link) {
			tpz_unlock(&p->send_lock);
			rc = -ENOTCONN;
			break;
		}
		/* The run of messages to this peer goes under one lock. */
		while ((rc = submit(ep, p, &s[done], &m, pl_len, TPZ_SEND_DEFER)) == 0 && ++done < n &&
		       s[done].dst == p->node && (rc = prepare(ep, &s[done], &m, &pl_len, &p)) == 0)
			;
		p->ops->kick(ep, p);
		tpz_unlock(&p->send_lock);
	}
	return done ? done : rc;
}

int tpz_send_inline(struct tpz_endpoint *ep, uint32_t dst, uint8_t handler, const void *data, uint32_t len)
{
	struct tpz_send s = { .dst = dst, .handler = handler, .data = data, .data_len = len };
	return tpz_send(ep, &s);
}
