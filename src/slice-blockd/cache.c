/*
 * cache.c - the block cache (see cache.h): a chained hash index, an LRU
 * list of unpinned indexed blocks, a free list, all under one mutex.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "cache.h"

struct cache {
	pthread_mutex_t lock;
	uint8_t        *arena;
	size_t          arena_len;
	struct cblk    *blk;           /* nblocks descriptors */
	uint32_t        nblocks, nindexed;
	struct cblk   **tab;
	uint32_t        tabmask;
	struct cblk    *lru_head, *lru_tail;   /* head: least recently used */
	struct cblk    *free_list;
	uint64_t        spares;
	bool            used;          /* a block was handed out */
	bool            own_memory;    /* blocks in buffers from cache_use_memory */
};

static uint32_t slot(const struct cache *c, uint64_t obj, uint64_t idx)
{
	uint64_t h = obj * 0x9e3779b97f4a7c15ull ^ (idx + 0x632be59bd9b4e019ull) * 0xff51afd7ed558ccdull;

	return (uint32_t)(h ^ h >> 29) & c->tabmask;
}

/* ---- lists (under the lock) ------------------------------------------------- */

static void lru_remove(struct cache *c, struct cblk *b)
{
	if (b->lprev)
		b->lprev->lnext = b->lnext;
	else
		c->lru_head = b->lnext;
	if (b->lnext)
		b->lnext->lprev = b->lprev;
	else
		c->lru_tail = b->lprev;
	b->lprev = b->lnext = NULL;
}

static void lru_append(struct cache *c, struct cblk *b)
{
	b->lnext = NULL;
	b->lprev = c->lru_tail;
	if (c->lru_tail)
		c->lru_tail->lnext = b;
	else
		c->lru_head = b;
	c->lru_tail = b;
}

static struct cblk *find(struct cache *c, uint64_t obj, uint64_t idx)
{
	if (!c->tab)
		return NULL;
	for (struct cblk *b = c->tab[slot(c, obj, idx)]; b; b = b->hnext)
		if (b->obj == obj && b->idx == idx)
			return b;
	return NULL;
}

static void unindex(struct cache *c, struct cblk *b)
{
	struct cblk **pp = &c->tab[slot(c, b->obj, b->idx)];

	while (*pp && *pp != b)
		pp = &(*pp)->hnext;
	if (*pp)
		*pp = b->hnext;
	b->indexed = false;
	c->nindexed--;
}

static void pin(struct cache *c, struct cblk *b)
{
	if (b->pins++ == 0)
		lru_remove(c, b);
}

/* An unpinned, unindexed block goes back where it came from. */
static void release(struct cache *c, struct cblk *b)
{
	if (b->spare) {
		free(b->data);
		free(b);
		return;
	}
	b->lnext = c->free_list;
	c->free_list = b;
}

/* ---- calls ------------------------------------------------------------------ */

int cache_create(uint64_t bytes, struct cache **out)
{
	struct cache *c = calloc(1, sizeof(*c));

	if (!c)
		return -ENOMEM;
	pthread_mutex_init(&c->lock, NULL);
	c->nblocks = (uint32_t)(bytes / CACHE_BLOCK);
	if (c->nblocks) {
		c->arena_len = (size_t)c->nblocks * CACHE_BLOCK;
		/* Pages are touched (and so cost memory) only once used. */
		c->arena = mmap(NULL, c->arena_len, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (c->arena == MAP_FAILED) {
			free(c);
			return -ENOMEM;
		}
		c->blk = calloc(c->nblocks, sizeof(*c->blk));
		c->tabmask = 1;
		while (c->tabmask + 1 < c->nblocks * 2)
			c->tabmask = c->tabmask * 2 + 1;
		c->tab = calloc(c->tabmask + 1, sizeof(*c->tab));
		if (!c->blk || !c->tab) {
			munmap(c->arena, c->arena_len);
			free(c->blk);
			free(c->tab);
			free(c);
			return -ENOMEM;
		}
		for (uint32_t i = c->nblocks; i-- > 0;) {
			c->blk[i].data = c->arena + (size_t)i * CACHE_BLOCK;
			release(c, &c->blk[i]);
		}
	}
	*out = c;
	return 0;
}

/* Blocks still pinned by replies in flight are gone with the arena (or
 * their frames with the endpoint): the caller destroys the endpoint
 * (which drops those completions) first. */
void cache_destroy(struct cache *c)
{
	if (!c)
		return;
	if (c->arena)
		munmap(c->arena, c->arena_len);
	free(c->blk);
	free(c->tab);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

int cache_use_memory(struct cache *c, void *(*get)(void *arg), void (*put)(void *arg, void *p), void *arg)
{
	uint32_t i;

	pthread_mutex_lock(&c->lock);
	int rc = c->used ? -EBUSY : 0;
	pthread_mutex_unlock(&c->lock);
	if (rc || !c->nblocks)
		return rc;
	uint8_t **mem = calloc(c->nblocks, sizeof(*mem));
	if (!mem)
		return -ENOMEM;
	for (i = 0; i < c->nblocks; i++)
		if (!(mem[i] = get(arg)))
			break;
	if (i < c->nblocks) {   /* not enough for all: none */
		while (i-- > 0)
			put(arg, mem[i]);
		free(mem);
		return -ENOMEM;
	}
	/* Nothing was handed out (checked above), and the daemon has not
	 * started serving: the descriptors are ours alone. */
	for (i = 0; i < c->nblocks; i++)
		c->blk[i].data = mem[i];
	free(mem);
	munmap(c->arena, c->arena_len);
	c->arena = NULL;
	c->own_memory = true;
	return 0;
}

bool cache_pin_run(struct cache *c, uint64_t obj, uint64_t first, uint32_t n, struct cblk **out)
{
	bool all = true;

	pthread_mutex_lock(&c->lock);
	for (uint32_t i = 0; i < n && all; i++)
		all = (out[i] = find(c, obj, first + i)) != NULL;
	/* Pinned blocks leave the LRU; unpinned, they go to its back. */
	for (uint32_t i = 0; i < n; i++) {
		if (all)
			pin(c, out[i]);
		else
			out[i] = NULL;
	}
	pthread_mutex_unlock(&c->lock);
	return all;
}

struct cblk *cache_pin(struct cache *c, uint64_t obj, uint64_t idx)
{
	pthread_mutex_lock(&c->lock);
	struct cblk *b = find(c, obj, idx);
	if (b)
		pin(c, b);
	pthread_mutex_unlock(&c->lock);
	return b;
}

struct cblk *cache_alloc(struct cache *c)
{
	struct cblk *b;

	pthread_mutex_lock(&c->lock);
	c->used = true;
	if ((b = c->free_list)) {
		c->free_list = b->lnext;
		b->lnext = NULL;
	} else if ((b = c->lru_head)) {
		lru_remove(c, b);
		unindex(c, b);
	}
	if (b)
		b->pins = 1;
	else
		c->spares++;
	pthread_mutex_unlock(&c->lock);
	if (b)
		return b;
	/* Everything pinned (or no cache): a spare, freed with its last pin. */
	if (!(b = calloc(1, sizeof(*b))))
		return NULL;
	if (posix_memalign((void **)&b->data, 4096, CACHE_BLOCK) != 0) {
		free(b);
		return NULL;
	}
	b->spare = true;
	b->pins = 1;
	return b;
}

struct cblk *cache_insert(struct cache *c, struct cblk *b, uint64_t obj, uint64_t idx)
{
	pthread_mutex_lock(&c->lock);
	struct cblk *have = find(c, obj, idx);
	if (have) {   /* filled twice (two readers missed together): keep the first */
		pin(c, have);
		if (--b->pins == 0)
			release(c, b);
		pthread_mutex_unlock(&c->lock);
		return have;
	}
	if (!b->spare && c->tab) {
		uint32_t h = slot(c, obj, idx);
		b->obj = obj;
		b->idx = idx;
		b->hnext = c->tab[h];
		c->tab[h] = b;
		b->indexed = true;
		c->nindexed++;
	}
	pthread_mutex_unlock(&c->lock);
	return b;
}

void cache_unpin(struct cache *c, struct cblk *b)
{
	pthread_mutex_lock(&c->lock);
	if (--b->pins == 0) {
		if (b->indexed)
			lru_append(c, b);
		else
			release(c, b);
	}
	pthread_mutex_unlock(&c->lock);
}

void cache_write(struct cache *c, uint64_t obj, uint64_t off, const struct iovec *iov, int iovcnt)
{
	pthread_mutex_lock(&c->lock);
	for (int i = 0; i < iovcnt; i++) {
		const uint8_t *src = iov[i].iov_base;
		size_t left = iov[i].iov_len;
		while (left) {
			uint64_t idx = off / CACHE_BLOCK;
			uint32_t bo = (uint32_t)(off % CACHE_BLOCK);
			size_t n = CACHE_BLOCK - bo < left ? CACHE_BLOCK - bo : left;
			struct cblk *b = find(c, obj, idx);
			if (b && b->pins) {
				unindex(c, b);   /* a reply reads it: leave it be */
			} else if (b) {
				memcpy(b->data + bo, src, n);
			}
			src += n;
			off += n;
			left -= n;
		}
	}
	pthread_mutex_unlock(&c->lock);
}

void cache_drop(struct cache *c, uint64_t obj, uint64_t from_idx)
{
	pthread_mutex_lock(&c->lock);
	for (uint32_t i = 0; i < c->nblocks; i++) {
		struct cblk *b = &c->blk[i];
		if (!b->indexed || b->obj != obj || b->idx < from_idx)
			continue;
		unindex(c, b);
		if (b->pins == 0) {
			lru_remove(c, b);
			release(c, b);
		}
	}
	pthread_mutex_unlock(&c->lock);
}

void cache_stats(struct cache *c, struct cache_stats *st)
{
	pthread_mutex_lock(&c->lock);
	st->bytes = (uint64_t)c->nblocks * CACHE_BLOCK;
	st->used = (uint64_t)c->nindexed * CACHE_BLOCK;
	st->spares = c->spares;
	st->own_memory = c->own_memory;
	pthread_mutex_unlock(&c->lock);
}
