/*
 * slice_map_wire.h - the map service: NetRPC operations a Slice file
 * manager (slice-fmd) serves to Slice clients, with their inline arguments
 * and results (each at most NRPC_INLINE_MAX = 64 bytes, little-endian,
 * fixed layout).
 *
 * The file manager owns every file's block map (slice.h): which object
 * holds the file's data and how it is striped over the block servers,
 * plus exceptions for blocks placed elsewhere.  A client fetches a map once
 * (SLM_GETMAP) and caches it; the map's version changes whenever the file
 * manager changes the map (for example, truncation to zero swaps in a new
 * object), and a client that sees a new version in any reply drops its
 * copy.  After writing directly to the block servers a client reports the
 * file's new size and modification time (SLM_SETATTR); the reply comes
 * after the file manager has committed them.
 *
 * Files are named by their NFS file id (fattr3.fileid), which the client
 * has from the name space side.
 */
#ifndef SLICE_MAP_WIRE_H
#define SLICE_MAP_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "netrpc_wire.h"

enum slm_op {
	SLM_GETMAP  = 0x0201,   /* args slm_file; res slm_getmap_res; reply payload: the map */
	SLM_SETATTR = 0x0202,   /* args slm_setattr; res slm_attr_res */
};

/* Errors (NetRPC status): -ENOENT no such file (removed: the client's
 * handle is stale), -EISDIR / -EINVAL not a regular file, -EBADMSG
 * malformed arguments, -EIO store failure. */

struct slm_file {
	uint64_t fileid;
};

struct slm_getmap_res {
	uint64_t size;          /* the file's size as the file manager knows it */
	uint64_t mtime_ns;
	uint64_t version;       /* of the map */
	uint32_t map_len;       /* bytes of the map in the reply payload */
	uint32_t rsv;
};
_Static_assert(sizeof(struct slm_getmap_res) == 32, "slm_getmap_res is 32 bytes");

#define SLM_SET_SIZE   0x1u     /* size: the file's new size */
#define SLM_SET_EXTEND 0x2u     /* size: grow to at least this (writes racing) */
#define SLM_SET_MTIME  0x4u     /* mtime_ns: the time of the last write */
/* The change need not be on disk before the reply (a close's report, not an
 * fsync's): the manager commits it without waiting for the flush of its
 * meta page, and makes it durable with its next ordinary commit or within
 * a second.  A crash of the manager process loses nothing; a power cut may
 * take back the latest lazy changes (docs/file-manager.md, Durability). */
#define SLM_SET_LAZY   0x8u

struct slm_setattr {
	uint64_t fileid;
	uint64_t size;
	uint64_t mtime_ns;
	uint32_t flags;         /* SLM_SET_* */
	uint32_t rsv;
};
_Static_assert(sizeof(struct slm_setattr) == 32, "slm_setattr is 32 bytes");

struct slm_attr_res {
	uint64_t size;
	uint64_t mtime_ns;
	uint64_t ctime_ns;
	uint64_t version;       /* of the map */
};
_Static_assert(sizeof(struct slm_attr_res) <= NRPC_INLINE_MAX, "fits inline");

/*
 * The map, as the reply payload of SLM_GETMAP (and as slice-fmd stores
 * it): this header, then width uint32_t server node ids in stripe order,
 * then nexc exceptions.  Every field little-endian.
 */
struct slm_map {
	uint64_t obj;           /* the object holding the file's data */
	uint64_t version;
	uint32_t stripe_unit;   /* bytes */
	uint32_t width;         /* servers in the stripe (0: no data servers) */
	uint32_t nexc;
	uint32_t rsv;
};
_Static_assert(sizeof(struct slm_map) == 32, "slm_map is 32 bytes");

struct slm_exc {
	uint64_t block;
	uint32_t node;
	uint32_t rsv;
};
_Static_assert(sizeof(struct slm_exc) == 16, "slm_exc is 16 bytes");

#define SLM_MAP_MAX_SERVERS 64u
#define SLM_MAP_MAX_EXC     65536u

static inline size_t slm_map_len(uint32_t width, uint32_t nexc)
{
	return sizeof(struct slm_map) + 4 * (size_t)width + sizeof(struct slm_exc) * (size_t)nexc;
}

#endif
