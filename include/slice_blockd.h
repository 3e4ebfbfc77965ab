/*
 * slice_blockd.h - what slice-blockd serves beyond the block protocol of
 * slice_wire.h: a management operation for tools and tests (the `slice`
 * status command, the test suite).  Same rules as slice_wire.h: NetRPC on
 * NRPC_HANDLER, inline results of at most NRPC_INLINE_MAX bytes,
 * little-endian, fixed layout.
 *
 * (Proposed for slice_wire.h as SLB_STATS; it lives here until then.)
 */
#ifndef SLICE_BLOCKD_H
#define SLICE_BLOCKD_H

#include <stdint.h>

#include "slice_wire.h"

/* Offsets and sizes slice-blockd accepts: off + len <= this (a READ,
 * WRITE or TRUNCATE past it is -EINVAL).  The file system below may stop
 * earlier (ext4: 16 TiB per file), which gives -EFBIG. */
#define SLB_BLOCKD_SIZE_MAX (1ull << 62)

enum slb_blockd_op {
	SLB_BLOCKD_COUNTERS = 0x01f0,   /* no args; res slb_blockd_counters */
};

/* Since the daemon started. */
struct slb_blockd_counters {
	uint64_t reads, writes;              /* READ / WRITE requests answered 0 */
	uint64_t bytes_read, bytes_written;  /* their payload bytes */
	uint64_t cache_hits;                 /* READs answered wholly from memory */
	uint64_t cache_misses;               /* READs that went to the disk */
	uint64_t crc_errors;                 /* blocks that failed their CRC32C on read */
	uint64_t errors;                     /* requests answered with an error */
};
_Static_assert(sizeof(struct slb_blockd_counters) <= NRPC_INLINE_MAX, "fits inline");

#endif
