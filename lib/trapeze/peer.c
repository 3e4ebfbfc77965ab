/*
 * peer.c - the peer table: one slot per node id, the link that reaches it,
 * and the up/down upcalls to every module.
 */
#include <errno.h>
#include <string.h>

#include "tpz_internal.h"

struct tpz_peer *tpz_peer_get(struct tpz_endpoint *ep, uint32_t node)
{
	return node < TPZ_MAX_NODES ? &ep->peers[node] : NULL;
}

bool tpz_peer_is_up(struct tpz_endpoint *ep, uint32_t node)
{
	struct tpz_peer *p = ep ? tpz_peer_get(ep, node) : NULL;
	return p && atomic_load_explicit(&p->state, memory_order_acquire) == PEER_UP;
}

void tpz_peer_up(struct tpz_endpoint *ep, struct tpz_peer *p, const struct tpz_link_ops *ops, void *link)
{
	tpz_lock(&p->send_lock);
	p->ops = ops;
	p->link = link;
	p->tx_seq = 0;
	p->rx_seq = 0;
	tpz_unlock(&p->send_lock);
	/* tpz_connect (any thread) and the delivery thread both edit up_list;
	 * the poller reads it without the lock: the entry is written before
	 * nup grows (release, paired with the acquire in tpz_poll). */
	pthread_mutex_lock(&ep->up_lock);
	ep->up_list[atomic_load(&ep->nup)] = p->node;
	atomic_fetch_add_explicit(&ep->nup, 1, memory_order_release);
	pthread_mutex_unlock(&ep->up_lock);
	/* release: a sender that sees PEER_UP also sees ops/link above. */
	atomic_store_explicit(&p->state, PEER_UP, memory_order_release);
	CTR_ADD(ep, peers_up, 1);
	for (uint32_t h = 1; h < TPZ_HANDLER_MAX; h++)
		if (ep->handlers[h].used && ep->handlers[h].ops.peer_up)
			ep->handlers[h].ops.peer_up(ep, p->node, ep->handlers[h].ops.arg);
}

void tpz_peer_down(struct tpz_endpoint *ep, struct tpz_peer *p, int reason, bool goodbye)
{
	void *link;

	if (atomic_exchange(&p->state, PEER_DOWN) != PEER_UP)
		return;
	/* Wait out any sender still inside the link; later ones see no link. */
	tpz_lock(&p->send_lock);
	link = p->link;
	p->link = NULL;
	tpz_unlock(&p->send_lock);
	p->ops->close(ep, p, link, goodbye);
	/* A poller racing with this swap may skip or revisit one peer for one
	 * round; it checks each peer's state, so that is harmless. */
	pthread_mutex_lock(&ep->up_lock);
	uint32_t n = atomic_load(&ep->nup);
	for (uint32_t i = 0; i < n; i++) {
		if (ep->up_list[i] == p->node) {
			ep->up_list[i] = ep->up_list[n - 1];
			atomic_fetch_sub(&ep->nup, 1);
			break;
		}
	}
	pthread_mutex_unlock(&ep->up_lock);
	CTR_ADD(ep, peers_down, 1);
	tpz_ipt_peer_down(ep, p->node);
	tpz_log(ep, reason == TPZ_DOWN_CLOSED ? TPZ_LOG_INFO : TPZ_LOG_WARN, "node %u: peer %u down (%s)",
		ep->cfg.node, p->node,
		reason == TPZ_DOWN_CLOSED ? "closed" : reason == TPZ_DOWN_DIED ? "died" : "protocol error");
	for (uint32_t h = 1; h < TPZ_HANDLER_MAX; h++)
		if (ep->handlers[h].used && ep->handlers[h].ops.peer_down)
			ep->handlers[h].ops.peer_down(ep, p->node, reason, ep->handlers[h].ops.arg);
}

int tpz_disconnect(struct tpz_endpoint *ep, uint32_t node)
{
	struct tpz_peer *p = ep ? tpz_peer_get(ep, node) : NULL;

	if (!p)
		return -EINVAL;
	if (atomic_load(&p->state) != PEER_UP)
		return -ENOTCONN;
	tpz_peer_down(ep, p, TPZ_DOWN_CLOSED, true);
	return 0;
}
