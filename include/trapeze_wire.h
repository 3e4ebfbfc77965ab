/*
 * trapeze_wire.h - the Trapeze wire protocol.
 *
 * This header *is* the protocol: every byte that crosses a link is described
 * here.  A message is one 128-byte control message (header + inline data),
 * optionally followed on the wire by one payload of payload_len bytes.  The
 * same 128-byte layout is used in the shared-memory rings, so a message is
 * never re-encoded between the host library and a link.
 *
 * All integers are little-endian (every host we run on is; the static
 * asserts below fail the build elsewhere rather than corrupt the wire).
 */
#ifndef TRAPEZE_WIRE_H
#define TRAPEZE_WIRE_H

#include <stddef.h>
#include <stdint.h>

#define TPZ_MSG_SIZE      128u          /* one ring slot, one control message */
#define TPZ_HDR_SIZE      32u
#define TPZ_INLINE_MAX    (TPZ_MSG_SIZE - TPZ_HDR_SIZE)   /* 96 bytes */
#define TPZ_MAGIC         0x5a54u       /* "TZ" */
#define TPZ_VERSION       1u

/* Handler ids: 0 is the link's own control traffic (handshake, goodbye);
 * 1..TPZ_HANDLER_MAX-1 belong to modules.  An id >= TPZ_HANDLER_MAX is a
 * protocol violation; an id in range that nobody registered is counted and
 * dropped by the receiver. */
#define TPZ_HANDLER_LINK  0u
#define TPZ_HANDLER_MAX   64u

/* Absolute ceiling of one payload; an endpoint's own limit is configured
 * between TPZ_PAYLOAD_MIN and this. */
#define TPZ_PAYLOAD_MIN   (64u << 10)
#define TPZ_PAYLOAD_CEIL  (1u << 20)

/* Header flags. */
#define TPZ_F_PAYLOAD     0x0001u   /* payload_len bytes follow / are attached */
#define TPZ_F_TOKEN       0x0002u   /* token names an IPT entry at the receiver */
#define TPZ_F_DROPPED     0x0004u   /* receiver-side only: payload was dropped */
#define TPZ_F_WIRE_MASK   0x0003u   /* flags a sender may set */

struct tpz_hdr {
	uint16_t magic;        /* TPZ_MAGIC */
	uint8_t  version;      /* TPZ_VERSION */
	uint8_t  handler;      /* destination module */
	uint16_t flags;        /* TPZ_F_* */
	uint16_t inline_len;   /* bytes of data[] in use, <= TPZ_INLINE_MAX */
	uint32_t src;          /* source node id */
	uint32_t dst;          /* destination node id */
	uint32_t payload_len;  /* bytes of payload, 0 if none */
	uint32_t seq;          /* per-link sequence number, checked in order */
	uint64_t token;        /* IPT token at the receiver: key << 32 | index */
};

struct tpz_msg {
	struct tpz_hdr hdr;
	uint8_t data[TPZ_INLINE_MAX];
};

_Static_assert(sizeof(struct tpz_hdr) == TPZ_HDR_SIZE, "header is 32 bytes");
_Static_assert(sizeof(struct tpz_msg) == TPZ_MSG_SIZE, "message is 128 bytes");
_Static_assert(offsetof(struct tpz_hdr, magic) == 0, "wire offset");
_Static_assert(offsetof(struct tpz_hdr, version) == 2, "wire offset");
_Static_assert(offsetof(struct tpz_hdr, handler) == 3, "wire offset");
_Static_assert(offsetof(struct tpz_hdr, flags) == 4, "wire offset");
_Static_assert(offsetof(struct tpz_hdr, inline_len) == 6, "wire offset");
_Static_assert(offsetof(struct tpz_hdr, src) == 8, "wire offset");
_Static_assert(offsetof(struct tpz_hdr, dst) == 12, "wire offset");
_Static_assert(offsetof(struct tpz_hdr, payload_len) == 16, "wire offset");
_Static_assert(offsetof(struct tpz_hdr, seq) == 20, "wire offset");
_Static_assert(offsetof(struct tpz_hdr, token) == 24, "wire offset");
_Static_assert(offsetof(struct tpz_msg, data) == 32, "wire offset");
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the Trapeze wire format is little-endian"
#endif

/*
 * Link control messages (handler 0).  On tcp the first three messages of a
 * connection are the handshake:
 *
 *   acceptor  -> connector  HELLO    (acceptor's node id, nonce_a)
 *   connector -> acceptor   PROVE    (connector's node id, nonce_c,
 *                                     mac = MAC(K, "C" nonce_a nonce_c ids))
 *   acceptor  -> connector  WELCOME  (mac = MAC(K, "A" nonce_c nonce_a ids))
 *
 * K is derived from the cluster secret; MAC is HMAC-SHA-512/256 (libsodium
 * crypto_auth).  A wrong version, node id or MAC gets a REFUSE (with a reason
 * code) and the connection is closed.  Handshake messages carry seq 0; the
 * data messages after it count from 0.  After the handshake, GOODBYE announces
 * an orderly close.  On shm the same HELLO/PROVE/WELCOME exchange runs over
 * the unix control socket (the segment itself is mode 0600).
 */
enum tpz_link_op {
	TPZ_LINK_HELLO   = 1,
	TPZ_LINK_PROVE   = 2,
	TPZ_LINK_WELCOME = 3,
	TPZ_LINK_REFUSE  = 4,
	TPZ_LINK_GOODBYE = 5,
};

enum tpz_refuse_reason {
	TPZ_REFUSE_VERSION = 1,
	TPZ_REFUSE_AUTH    = 2,
	TPZ_REFUSE_NODE    = 3,   /* node id unknown, taken, or already connected */
	TPZ_REFUSE_CONFIG  = 4,   /* incompatible payload limits */
};

#define TPZ_NONCE_SIZE 24u
#define TPZ_MAC_SIZE   32u

struct tpz_link_ctl {           /* lives in tpz_msg.data */
	uint8_t  op;            /* enum tpz_link_op */
	uint8_t  reason;        /* enum tpz_refuse_reason, REFUSE only */
	uint16_t flags;         /* TPZ_LINKF_* */
	uint32_t node;          /* sender's node id */
	uint32_t max_payload;   /* sender's configured maximum payload */
	uint32_t pid;           /* shm only: sender's pid (for one-copy reads) */
	uint8_t  nonce[TPZ_NONCE_SIZE];
	uint8_t  mac[TPZ_MAC_SIZE];
	uint8_t  pad[TPZ_INLINE_MAX - 16 - TPZ_NONCE_SIZE - TPZ_MAC_SIZE];
};
_Static_assert(sizeof(struct tpz_link_ctl) == TPZ_INLINE_MAX, "link ctl fills inline data");

#define TPZ_LINKF_CMA  0x0001u   /* shm: I can read your memory (process_vm_readv) */

#endif /* TRAPEZE_WIRE_H */
