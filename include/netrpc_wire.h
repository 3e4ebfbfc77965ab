/*
 * netrpc_wire.h - the NetRPC protocol: a 32-byte header at the start of a
 * Trapeze message's inline data, then up to 64 bytes of inline arguments
 * (requests) or results (replies).  A request's payload (a write's data)
 * and a reply's payload (a read's data) travel as the Trapeze payload; a
 * reply payload goes to the IPT token the caller put in reply_token, so it
 * lands in the caller's buffer.
 */
#ifndef NETRPC_WIRE_H
#define NETRPC_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "trapeze_wire.h"

#define NRPC_HANDLER      8u          /* the Trapeze handler id NetRPC uses by default */
#define NRPC_HDR_SIZE     32u
#define NRPC_INLINE_MAX   (TPZ_INLINE_MAX - NRPC_HDR_SIZE)   /* 64 bytes */

enum nrpc_kind {
	NRPC_REQUEST = 1,
	NRPC_REPLY   = 2,
};

#define NRPC_F_DELEGATED  0x01u   /* forwarded by a server; reply to `caller` */
#define NRPC_F_RETRY      0x02u   /* a retransmission of an idempotent call */
#define NRPC_F_WIRE_MASK  0x03u

struct nrpc_hdr {
	uint16_t op;            /* operation code */
	uint8_t  kind;          /* enum nrpc_kind */
	uint8_t  flags;         /* NRPC_F_* */
	int32_t  status;        /* replies: 0 or a negative errno (NRPC statuses below) */
	uint32_t call_id;       /* call record at the caller: index */
	uint32_t call_gen;      /* ... and generation, so a late reply is recognised */
	uint32_t caller;        /* node that receives the reply */
	uint16_t arg_len;       /* inline argument/result bytes after this header */
	uint16_t reserved;      /* zero */
	uint64_t reply_token;   /* IPT token of the caller's reply buffer, 0 = none */
};

_Static_assert(sizeof(struct nrpc_hdr) == NRPC_HDR_SIZE, "NetRPC header is 32 bytes");
_Static_assert(offsetof(struct nrpc_hdr, op) == 0, "wire offset");
_Static_assert(offsetof(struct nrpc_hdr, kind) == 2, "wire offset");
_Static_assert(offsetof(struct nrpc_hdr, flags) == 3, "wire offset");
_Static_assert(offsetof(struct nrpc_hdr, status) == 4, "wire offset");
_Static_assert(offsetof(struct nrpc_hdr, call_id) == 8, "wire offset");
_Static_assert(offsetof(struct nrpc_hdr, call_gen) == 12, "wire offset");
_Static_assert(offsetof(struct nrpc_hdr, caller) == 16, "wire offset");
_Static_assert(offsetof(struct nrpc_hdr, arg_len) == 20, "wire offset");
_Static_assert(offsetof(struct nrpc_hdr, reply_token) == 24, "wire offset");

/* Reply statuses beyond plain -errno values a server may return. */
#define NRPC_EUNKNOWN_OP  (-95)    /* -EOPNOTSUPP: no such operation */
#define NRPC_EBADARGS     (-74)    /* -EBADMSG: malformed arguments */

#endif
