/*
 * decode.c - the checks every NetRPC message passes before anything acts on
 * it.  A message that fails them is answered with -EBADMSG when it is a
 * request (so the caller learns at once) and dropped when it is a reply.
 */
#include <string.h>

#include "nrpc_internal.h"

const char *nrpc_decode(const struct tpz_rx *rx, uint32_t max_calls, struct nrpc_hdr *h)
{
	if (rx->data_len < NRPC_HDR_SIZE)
		return "shorter than the NetRPC header";
	memcpy(h, rx->data, sizeof(*h));   /* inline data may be unaligned for us */
	if (h->kind != NRPC_REQUEST && h->kind != NRPC_REPLY)
		return "neither request nor reply";
	if (h->flags & ~NRPC_F_WIRE_MASK)
		return "unknown flags";
	if (h->reserved != 0)
		return "reserved field not zero";
	if (h->arg_len > NRPC_INLINE_MAX || h->arg_len != rx->data_len - NRPC_HDR_SIZE)
		return "argument length does not match the message";
	if (h->caller >= TPZ_MAX_NODES)
		return "caller node out of range";
	if (h->kind == NRPC_REQUEST && h->status != 0)
		return "request with a status";
	if (h->kind == NRPC_REQUEST && (h->flags & NRPC_F_DELEGATED) == 0 && h->caller != rx->src)
		return "caller differs from sender on a direct request";
	if (h->kind == NRPC_REPLY && h->call_id >= max_calls)
		return "call id out of range";
	if (h->kind == NRPC_REPLY && h->status > 0)
		return "positive status";
	return NULL;
}
