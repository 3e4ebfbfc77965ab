/*
 * slice_internal.h - what the files of libslice share.
 *
 *   layout.c     striping arithmetic, block maps
 *   map_cache.c  the block-map cache (LRU, invalidation)
 *   client.c     slice_client: configuration, issuing and collecting calls
 *   read.c       slice_read: parallel striped reads, read-ahead; reads in
 *                flight (slice_read_start / slice_read_end)
 *   write.c      slice_write: write-behind, flush, commit
 *   file.c       slice_open / slice_close / slice_set_map
 *   objops.c     object-wide operations: truncate, remove, stat, statfs
 */
#ifndef SLICE_INTERNAL_H
#define SLICE_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include "slice.h"

struct slice_client {
	struct nrpc               *r;
	struct tpz_endpoint       *ep;
	struct slice_client_config cfg;
	struct {
		_Atomic uint64_t reads, read_bytes, readahead_hits, readahead_issued;
		_Atomic uint64_t writes, write_bytes, commits, rewrites_needed, errors;
	} ctr;
};
#define SCTR(c, f, n) atomic_fetch_add_explicit(&(c)->ctr.f, (n), memory_order_relaxed)

/* Issue one call (NRPC_WAIT mode), making progress while out of credit.
 * A server we cannot reach is -EIO. */
int sl_issue(struct slice_client *c, const struct nrpc_call_desc *d, nrpc_call_t *call);
/* The same with a continuation (NRPC_CONT): fn runs on the delivery path
 * with the result and must not block. */
int sl_issue_cont(struct slice_client *c, const struct nrpc_call_desc *d, nrpc_cont_fn fn, void *arg,
		  nrpc_call_t *call);
/* A server gone, unreachable or timed out is -EIO to the caller. */
int sl_lost(int rc);
/* Collect it: 0 and *res, or -errno (a lost server is -EIO). */
int sl_collect(struct slice_client *c, nrpc_call_t call, struct nrpc_result *res);
/* The servers that may hold part of the object: layout, then exceptions,
 * each once.  Returns how many (at most max). */
uint32_t sl_map_nodes(const struct slice_block_map *m, uint32_t *nodes, uint32_t max);

/* ---- an open file -------------------------------------------------------- */

/* A write in flight (or the one being filled, for write-behind). */
struct sl_write {
	nrpc_call_t        call;
	uint32_t           node;
	uint64_t           off;
	uint32_t           len;
};

/* A read-ahead slot: one stripe unit being read into buf. */
struct sl_ra {
	nrpc_call_t call;
	uint64_t    block;
	uint32_t    len;          /* bytes asked for */
	uint8_t    *buf;
	bool        live;         /* a call is out for it */
};

/* Servers written to since the last commit and the verifier each gave. */
struct sl_dirty_node {
	uint32_t node;
	uint64_t verf;
	bool     verf_changed;    /* two writes saw different verifiers */
};

#define SL_MAX_INFLIGHT 512u   /* writes in flight per file (also bounded by bytes) */

struct slice_file {
	struct slice_client   *c;
	struct slice_block_map map;
	uint32_t               su_shift;        /* log2(stripe_unit) */
	int                    error;           /* sticky write-behind error */
	/* write-behind */
	struct sl_write        wq[SL_MAX_INFLIGHT];   /* ring of writes in flight */
	uint32_t               wq_head, wq_n;
	uint64_t               wq_bytes;
	struct tpz_payload     fill;            /* the piece being filled */
	uint64_t               fill_off;
	uint32_t               fill_len;
	struct sl_dirty_node  *dirty;
	uint32_t               ndirty, dirty_cap;
	/* read-ahead */
	struct sl_ra          *ra;
	uint32_t               nra;
	uint64_t               next_seq;        /* offset a sequential reader reads next */
	uint32_t               naio;            /* reads started, not yet ended */
};

int  sl_write_drain(struct slice_file *f, uint64_t keep_bytes);
int  sl_write_flush_fill(struct slice_file *f);
void sl_ra_drop(struct slice_file *f);
int  sl_note_verf(struct slice_file *f, uint32_t node, uint64_t verf);

static inline uint64_t sl_min(uint64_t a, uint64_t b) { return a < b ? a : b; }

#endif
