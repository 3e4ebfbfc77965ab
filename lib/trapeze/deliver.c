/*
 * deliver.c - the receive path every link ends in (the seeds' "common
 * interrupt handler"): sequence check, routing by handler id, upcall.
 */
#include <errno.h>

#include "tpz_internal.h"

const char *tpz_wire_check(const struct tpz_msg *m, uint32_t max_payload)
{
	const struct tpz_hdr *h = &m->hdr;

	if (h->magic != TPZ_MAGIC)
		return "bad magic";
	if (h->version != TPZ_VERSION)
		return "unsupported protocol version";
	if (h->handler >= TPZ_HANDLER_MAX)
		return "handler id out of range";
	if (h->inline_len > TPZ_INLINE_MAX)
		return "inline length over 96 bytes";
	if (h->flags & ~TPZ_F_WIRE_MASK)
		return "unknown flags";
	if (h->payload_len > max_payload)
		return "payload length over the maximum";
	if (!(h->flags & TPZ_F_PAYLOAD) != !h->payload_len)
		return "payload flag and length disagree";
	if ((h->flags & TPZ_F_TOKEN) && !(h->flags & TPZ_F_PAYLOAD))
		return "token without payload";
	return NULL;
}

void tpz_msg_init(struct tpz_msg *m, uint8_t handler, uint32_t src, uint32_t dst)
{
	m->hdr = (struct tpz_hdr){
		.magic = TPZ_MAGIC, .version = TPZ_VERSION, .handler = handler,
		.src = src, .dst = dst,
	};
}

void tpz_deliver(struct tpz_endpoint *ep, struct tpz_peer *p, struct tpz_rx *rx)
{
	const struct tpz_hdr *h = &rx->msg->hdr;
	struct tpz_handler_slot *hs = &ep->handlers[h->handler];

	rx->src = p->node;
	rx->data = rx->msg->data;
	rx->data_len = h->inline_len;
	p->rx_seq++;
	RX_INC(ep, msgs_recv, 1);
	RX_INC(ep, bytes_recv, rx->payload_len);
	if (!hs->used) {
		RX_INC(ep, unknown_handler, 1);
		tpz_rx_release(ep, rx);
		return;
	}
	hs->ops.recv(ep, rx, hs->ops.arg);
}
