/*
 * cache.h - the block server's memory: verified object bytes in blocks of
 * CACHE_BLOCK, keyed by (object, block index), least recently used first
 * out.  This is the "network memory" of the Slice seeds: a read that hits
 * is answered straight from these blocks (the engine reads them in place:
 * the client copies them once over shm, writev sends them over tcp), so a
 * block is *pinned* while a reply still reads it, and a write that lands on
 * a pinned block takes it out of the index instead of changing it under
 * the reader's feet.
 *
 * Blocks live in one private mapping, or - after cache_use_memory, before
 * the first block is used - each in a buffer of its own from the caller
 * (slice-blockd gives the fabric's pool frames when the pool has room for
 * the whole cache: a reply that lends frames is one memcpy by the client,
 * straight out of shared memory, where private memory costs a
 * process_vm_readv).  All blocks or none: a reply mixing the two kinds
 * would take the slow path.  When every block is pinned, or the cache has
 * size 0, cache_alloc hands out a spare block from malloc that is freed
 * when its last pin goes.
 *
 * Threads: every call takes the cache's mutex; a pinned block's bytes may
 * be read without it.  Bytes of an indexed block change only under the
 * mutex and only while unpinned.
 */
#ifndef BLOCKD_CACHE_H
#define BLOCKD_CACHE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#define CACHE_BLOCK (64u << 10)

struct cache;

struct cblk {
	uint64_t      obj, idx;     /* key, valid while indexed */
	uint8_t      *data;         /* CACHE_BLOCK bytes */
	/* private */
	uint32_t      pins;
	bool          indexed, spare;
	struct cblk  *hnext;
	struct cblk  *lprev, *lnext;   /* LRU (indexed, unpinned) or free list */
};

struct cache_stats {
	uint64_t bytes, used;       /* capacity; bytes in indexed blocks */
	uint64_t spares;            /* spare blocks handed out (all time) */
	bool     own_memory;        /* blocks in the caller's buffers (cache_use_memory) */
};

/* bytes is rounded down to whole blocks; 0: no cache (spares only). */
int  cache_create(uint64_t bytes, struct cache **out);
/* Blocks still pinned are forgotten; memory from cache_use_memory is not
 * given back here (its owner takes it back: the endpoint's frames go with
 * the endpoint). */
void cache_destroy(struct cache *c);
/* Put every block of an unused cache in a CACHE_BLOCK-sized, page-aligned
 * buffer from get(arg), and drop the private mapping.  All or none: if get
 * runs dry, what it gave goes back through put and the cache stays as it
 * was (-ENOMEM).  -EBUSY once a block was used. */
int  cache_use_memory(struct cache *c, void *(*get)(void *arg), void (*put)(void *arg, void *p),
		      void *arg);

/* Pin blocks first..first+n-1 of obj if every one is cached: true, and
 * out[] holds them; false, nothing pinned and out[] all NULL otherwise. */
bool cache_pin_run(struct cache *c, uint64_t obj, uint64_t first, uint32_t n, struct cblk **out);
/* One block, pinned, or NULL. */
struct cblk *cache_pin(struct cache *c, uint64_t obj, uint64_t idx);
/* A block to fill: pinned, not indexed (evicts the least recently used). */
struct cblk *cache_alloc(struct cache *c);
/* Index a filled block under (obj, idx).  If that key is cached already,
 * b is released and the cached block returned instead (pinned). */
struct cblk *cache_insert(struct cache *c, struct cblk *b, uint64_t obj, uint64_t idx);
void cache_unpin(struct cache *c, struct cblk *b);
/* Bytes [off, off + len of iov) of obj were written: cached blocks take
 * them (pinned ones leave the index). */
void cache_write(struct cache *c, uint64_t obj, uint64_t off, const struct iovec *iov, int iovcnt);
/* Forget obj's blocks from index from_idx on (truncate, remove).  O(cache
 * blocks): fine for operations that rare. */
void cache_drop(struct cache *c, uint64_t obj, uint64_t from_idx);
void cache_stats(struct cache *c, struct cache_stats *st);

#endif
