/*
 * tip_wire.h - the Trapeze/IP wire format: one IP packet per Trapeze message.
 *
 * This header *is* the protocol of handler TIP_HANDLER.  A packet read from
 * a TUN device (with IFF_VNET_HDR) is its virtio-net header followed by the
 * IP packet.  It crosses the fabric as one Trapeze message:
 *
 *   inline data (<= 96 bytes, in the 128-byte control message):
 *     struct tip_hdr  version, flags, head_len, and the virtio-net header
 *                     (offload state: checksum still to do, GSO type/size)
 *     head[head_len]  the first bytes of the IP packet: all of the IP and
 *                     TCP/UDP headers in the common case (up to 82 bytes)
 *   payload (pool frames, page-aligned, none if the packet fits inline):
 *     the rest of the packet, payload_len bytes
 *
 * The packet is head ++ payload; its length is head_len + payload_len.  The
 * receiver writes virtio-net header, head and payload frames back to its TUN
 * device with one writev: no byte of the packet is copied in user space on
 * either side (the sender reads the packet straight into this layout).
 *
 * head_len is TIP_HEAD_MAX for every packet longer than that (the sender
 * splits at a fixed point, because it must name its buffers before it knows
 * the header length); a shorter packet travels entirely inline.  Receivers
 * accept any split with head_len <= TIP_HEAD_MAX.
 *
 * All integers are little-endian, like the Trapeze header (and like the
 * virtio-net header of a little-endian host, which is what the kernel uses).
 */
#ifndef TIP_WIRE_H
#define TIP_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "trapeze_wire.h"

/* Trapeze handler id of Trapeze/IP (NetRPC uses 8). */
#define TIP_HANDLER     9u
#define TIP_VERSION     1u

/* struct virtio_net_hdr (linux/virtio_net.h), as TUN reads and writes it
 * with IFF_VNET_HDR and the default header size of 10 bytes. */
struct tip_vnet {
	uint8_t  flags;        /* TIP_VNET_F_* */
	uint8_t  gso_type;     /* TIP_GSO_*, optionally | TIP_GSO_ECN */
	uint16_t hdr_len;      /* GSO: bytes of headers before the segmented data */
	uint16_t gso_size;     /* GSO: bytes of data per segment (the MSS) */
	uint16_t csum_start;   /* NEEDS_CSUM: where checksumming starts */
	uint16_t csum_offset;  /* NEEDS_CSUM: where the checksum goes, from csum_start */
};
#define TIP_VNET_SIZE          10u
#define TIP_VNET_F_NEEDS_CSUM  0x01u   /* checksum not computed: the receiver's stack trusts it */
#define TIP_VNET_F_DATA_VALID  0x02u   /* checksum already verified */
#define TIP_GSO_NONE           0u
#define TIP_GSO_TCPV4          1u
#define TIP_GSO_UDP            3u      /* UFO (legacy), refused */
#define TIP_GSO_TCPV6          4u
#define TIP_GSO_UDP_L4         5u      /* USO: UDP segmentation offload */
#define TIP_GSO_ECN            0x80u

struct tip_hdr {
	uint8_t         version;   /* TIP_VERSION */
	uint8_t         flags;     /* none defined yet: must be 0 */
	uint16_t        head_len;  /* packet bytes inline after this header */
	struct tip_vnet vnet;
};
#define TIP_HDR_SIZE    14u
#define TIP_HEAD_MAX    (TPZ_INLINE_MAX - TIP_HDR_SIZE)   /* 82 bytes */

/* The inline data of a Trapeze/IP message. */
struct tip_msg {
	struct tip_hdr hdr;
	uint8_t        head[TIP_HEAD_MAX];
};

/* Largest IP packet: an IPv4 packet or GSO super-packet is at most 65535
 * bytes; an IPv6 one at most 40 + 65535 (no jumbograms). */
#define TIP_PKT_MAX     (40u + 65535u)
#define TIP_PKT_MIN     20u                  /* an IPv4 header */
#define TIP_MTU_MAX     65535u
#define TIP_MTU_MIN     1280u                /* IPv6 needs it */

_Static_assert(sizeof(struct tip_vnet) == TIP_VNET_SIZE, "virtio-net header is 10 bytes");
_Static_assert(offsetof(struct tip_vnet, flags) == 0, "wire offset");
_Static_assert(offsetof(struct tip_vnet, gso_type) == 1, "wire offset");
_Static_assert(offsetof(struct tip_vnet, hdr_len) == 2, "wire offset");
_Static_assert(offsetof(struct tip_vnet, gso_size) == 4, "wire offset");
_Static_assert(offsetof(struct tip_vnet, csum_start) == 6, "wire offset");
_Static_assert(offsetof(struct tip_vnet, csum_offset) == 8, "wire offset");
_Static_assert(sizeof(struct tip_hdr) == TIP_HDR_SIZE, "Trapeze/IP header is 14 bytes");
_Static_assert(offsetof(struct tip_hdr, version) == 0, "wire offset");
_Static_assert(offsetof(struct tip_hdr, flags) == 1, "wire offset");
_Static_assert(offsetof(struct tip_hdr, head_len) == 2, "wire offset");
_Static_assert(offsetof(struct tip_hdr, vnet) == 4, "wire offset");
_Static_assert(offsetof(struct tip_msg, head) == TIP_HDR_SIZE, "wire offset");
_Static_assert(sizeof(struct tip_msg) == TPZ_INLINE_MAX, "a Trapeze/IP message fills the inline data");
_Static_assert(TIP_HANDLER > TPZ_HANDLER_LINK && TIP_HANDLER < TPZ_HANDLER_MAX, "a module handler id");
_Static_assert(TIP_PKT_MAX - TIP_HEAD_MAX <= TPZ_PAYLOAD_MIN, "every packet fits any endpoint's payload");

#endif /* TIP_WIRE_H */
