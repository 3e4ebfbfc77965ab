/*
 * pkt.c - what tpz-ipd looks at in a packet, and no more: the destination
 * of a packet from TUN (to pick the node), and the sanity of a message from
 * the fabric before it reaches the kernel.
 *
 * The kernel checks a packet again when we write it (IP header, lengths,
 * virtio-net header); these checks exist so that a bad peer is named and
 * counted here, and so that nothing inconsistent (a checksum offset past
 * the end, a GSO type that does not match the IP version) is ever handed
 * to the kernel's offload paths.
 */
#include <sys/socket.h>

#include "tip.h"

enum tip_dst_kind tip_pkt_dst(const uint8_t *pkt, uint32_t len, int *family, const uint8_t **dst,
			      const char **why)
{
	if (len < TIP_PKT_MIN) {
		*why = "shorter than an IP header";
		return TIP_DST_BAD;
	}
	switch (pkt[0] >> 4) {
	case 4:
		*family = AF_INET;
		*dst = pkt + 16;
		/* 224.0.0.0/4 multicast, 255.255.255.255 broadcast */
		if ((pkt[16] & 0xf0) == 0xe0 || (pkt[16] == 255 && pkt[17] == 255 && pkt[18] == 255 && pkt[19] == 255))
			return TIP_DST_MULTICAST;
		return TIP_DST_UNICAST;
	case 6:
		if (len < 40) {
			*why = "shorter than an IPv6 header";
			return TIP_DST_BAD;
		}
		*family = AF_INET6;
		*dst = pkt + 24;
		return pkt[24] == 0xff ? TIP_DST_MULTICAST : TIP_DST_UNICAST;   /* ff00::/8 */
	default:
		*why = "neither IPv4 nor IPv6";
		return TIP_DST_BAD;
	}
}

static const char *vnet_check(const struct tip_vnet *v, int ipver, uint32_t len)
{
	uint8_t gso = v->gso_type & (uint8_t)~TIP_GSO_ECN;

	if (v->flags & ~(TIP_VNET_F_NEEDS_CSUM | TIP_VNET_F_DATA_VALID))
		return "unknown virtio-net flags";
	if ((v->flags & TIP_VNET_F_NEEDS_CSUM) &&
	    (uint32_t)v->csum_start + v->csum_offset + 2u > len)
		return "checksum offset past the end of the packet";
	switch (gso) {
	case TIP_GSO_NONE:
		if (v->gso_type & TIP_GSO_ECN)
			return "ECN flag without segmentation";
		return NULL;
	case TIP_GSO_TCPV4:
		if (ipver != 4)
			return "TCPv4 segmentation of a packet that is not IPv4";
		break;
	case TIP_GSO_TCPV6:
		if (ipver != 6)
			return "TCPv6 segmentation of a packet that is not IPv6";
		break;
	case TIP_GSO_UDP_L4:
		if (v->gso_type & TIP_GSO_ECN)
			return "ECN flag on UDP segmentation";
		break;
	default:
		return "unknown segmentation (GSO) type";
	}
	if (v->gso_size == 0)
		return "segmentation with a segment size of 0";
	if (v->hdr_len > len)
		return "segmentation header length past the end of the packet";
	return NULL;
}

const char *tip_msg_check(const struct tip_msg *m, uint32_t inline_len, uint32_t payload_len)
{
	if (inline_len < TIP_HDR_SIZE)
		return "inline data shorter than the Trapeze/IP header";
	if (m->hdr.version != TIP_VERSION)
		return "unsupported Trapeze/IP version";
	if (m->hdr.flags)
		return "unknown Trapeze/IP flags";
	if (m->hdr.head_len > TIP_HEAD_MAX || TIP_HDR_SIZE + m->hdr.head_len != inline_len)
		return "head length disagrees with the inline length";
	uint32_t len = m->hdr.head_len + payload_len;
	if (len < TIP_PKT_MIN)
		return "packet shorter than an IP header";
	if (len > TIP_PKT_MAX)
		return "packet longer than the largest IP packet";
	/* The IP header must be inline: it is what the sender split after. */
	if (m->hdr.head_len < TIP_PKT_MIN)
		return "IP header not inline";
	const uint8_t *ip = m->head;
	int ver = ip[0] >> 4;
	if (ver == 4) {
		if ((ip[0] & 0x0f) < 5)
			return "IPv4 header length under 20 bytes";
	} else if (ver == 6) {
		if (len < 40)
			return "packet shorter than an IPv6 header";
	} else {
		return "neither IPv4 nor IPv6";
	}
	return vnet_check(&m->hdr.vnet, ver, len);
}
