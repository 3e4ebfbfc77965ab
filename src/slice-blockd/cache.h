/*
 * cache.h - the block server's memory: verified object bytes in blocks of
 * CACHE_BLOCK, keyed by (object, block index), least recently used first
 * out.  This is the "network memory" of the Slice seeds: a read that hits
 * is answered straight from these blocks (the engine reads them in place:
 * process_vm_readv by the client over shm, writev over tcp), so a block
 * is *pinned* while a reply still reads it, and a write that lands on a
 * pinned block takes it out of the index instead of changing it under the
 * reader's feet.
 *
 * Blocks live in one private mapping (not the fabric's frame pool: that is
 * shared by every node on the host and sized for messages in flight, not
 * for a cache of hundreds of MiB).  When every block is pinned, or the
 * cache has size 0, cache_alloc hands out a spare block from malloc that is
 * freed when its last pin goes.
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
};

/* bytes is rounded down to whole blocks; 0: no cache (spares only). */
int  cache_create(uint64_t bytes, struct cache **out);
void cache_destroy(struct cache *c);

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
