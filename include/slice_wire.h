/*
 * slice_wire.h - the Slice block I/O protocol: NetRPC operations served by
 * slice-blockd, with their inline arguments and results (each at most
 * NRPC_INLINE_MAX = 64 bytes, little-endian, fixed layout).
 *
 * An object is a sparse byte array named by a 64-bit id (one per file).
 * Holes and bytes past the end read as zeros.  Data moves as NetRPC
 * payloads: a write's bytes travel with the request, a read's bytes come
 * back as the reply payload and land in the caller's buffer (IPT).
 *
 * Durability follows NFSv3: a write is acknowledged either stable (on disk
 * before the reply) or unstable (in the server's memory); a commit makes
 * every earlier write of the object stable.  Each reply carries the
 * server's boot verifier: if the verifier a commit returns differs from the
 * one an unstable write returned, the server restarted in between and the
 * client must write that data again.
 */
#ifndef SLICE_WIRE_H
#define SLICE_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "netrpc_wire.h"

/* Block servers use the endpoint's NetRPC handler (NRPC_HANDLER). */

enum slb_op {
	SLB_READ     = 0x0101,   /* args slb_rw;    payload in reply; res slb_read_res */
	SLB_WRITE    = 0x0102,   /* args slb_rw;    payload in request; res slb_write_res */
	SLB_COMMIT   = 0x0103,   /* args slb_obj;   res slb_write_res (verf, size) */
	SLB_TRUNCATE = 0x0104,   /* args slb_trunc; res slb_write_res; stable on reply */
	SLB_REMOVE   = 0x0105,   /* args slb_obj;   no results; removing a missing object is 0 */
	SLB_STAT     = 0x0106,   /* args slb_obj;   res slb_stat_res; -ENOENT if never written */
	SLB_STATFS   = 0x0107,   /* no args;        res slb_statfs_res */
};

/* Largest read or write in one call: NetRPC payloads are at most the
 * endpoint's max_payload, and never more than this. */
#define SLB_IO_MAX   (1u << 20)

#define SLB_STABLE   0x1u        /* slb_rw.flags: on disk before the reply */

struct slb_rw {
	uint64_t obj;
	uint64_t off;
	uint32_t len;      /* bytes; READ: reply payload length; WRITE: = payload length */
	uint32_t flags;    /* SLB_STABLE */
};
_Static_assert(sizeof(struct slb_rw) == 24, "slb_rw is 24 bytes");
_Static_assert(offsetof(struct slb_rw, len) == 16, "wire offset");

struct slb_obj {
	uint64_t obj;
};

struct slb_trunc {
	uint64_t obj;
	uint64_t size;     /* new size; bytes past it are gone (read as zeros) */
};
_Static_assert(sizeof(struct slb_trunc) == 16, "slb_trunc is 16 bytes");

struct slb_read_res {
	uint64_t size;     /* the object's size as this server knows it */
	uint64_t verf;     /* boot verifier */
};

struct slb_write_res {
	uint64_t size;     /* the object's size after the operation, on this server */
	uint64_t verf;     /* boot verifier: compare an unstable write's with the commit's */
	uint32_t stable;   /* 1 if this write (or every write, for COMMIT) is stable */
	uint32_t pad;
};
_Static_assert(sizeof(struct slb_write_res) == 24, "slb_write_res is 24 bytes");

struct slb_stat_res {
	uint64_t size;          /* highest byte written + 1, or the truncated size */
	uint64_t allocated;     /* bytes of storage held (sparse files hold less) */
	uint64_t mtime_ns;
};

struct slb_statfs_res {
	uint64_t total_bytes, free_bytes;   /* of the data directory's file system */
	uint64_t objects;                   /* objects stored */
	uint64_t cache_bytes, cache_used;   /* the block cache */
	uint64_t verf;
};
_Static_assert(sizeof(struct slb_statfs_res) <= NRPC_INLINE_MAX, "fits inline");

#endif
