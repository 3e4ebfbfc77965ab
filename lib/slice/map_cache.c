/*
 * map_cache.c - the block-map cache: a client asks the file manager for a
 * file's map once and keeps it until the owner says it changed.
 *
 * A hash table of entries on one LRU list, under one mutex (lookups are
 * per open and per invalidation, not per block, so the lock is cold).
 * fetch runs without the lock: two threads missing on the same object may
 * both fetch; the second put just replaces the first's copy.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "slice_internal.h"

struct centry {
	struct slice_block_map map;
	struct centry *hnext;               /* hash chain */
	struct centry *prev, *next;         /* LRU: head is the most recent */
};

struct slice_map_cache {
	pthread_mutex_t     lock;
	uint32_t            cap, n, nbuckets;
	struct centry     **bucket;
	struct centry      *head, *tail;
	slice_map_fetch_fn  fetch;
	void               *arg;
};

static struct centry **slot(struct slice_map_cache *c, uint64_t obj)
{
	struct centry **p = &c->bucket[slice_obj_hash(obj) & (c->nbuckets - 1)];
	while (*p && (*p)->map.obj != obj)
		p = &(*p)->hnext;
	return p;
}

static void lru_unlink(struct slice_map_cache *c, struct centry *e)
{
	if (e->prev) e->prev->next = e->next; else c->head = e->next;
	if (e->next) e->next->prev = e->prev; else c->tail = e->prev;
	e->prev = e->next = NULL;
}

static void lru_push(struct slice_map_cache *c, struct centry *e)
{
	e->next = c->head;
	e->prev = NULL;
	if (c->head) c->head->prev = e; else c->tail = e;
	c->head = e;
}

static void drop(struct slice_map_cache *c, uint64_t obj)
{
	struct centry **p = slot(c, obj), *e = *p;
	if (!e)
		return;
	*p = e->hnext;
	lru_unlink(c, e);
	slice_map_clear(&e->map);
	free(e);
	c->n--;
}

int slice_map_cache_create(uint32_t capacity, slice_map_fetch_fn fetch, void *arg,
			   struct slice_map_cache **out)
{
	if (!out || capacity == 0)
		return -EINVAL;
	struct slice_map_cache *c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->cap = capacity;
	c->nbuckets = 16;
	while (c->nbuckets < capacity)
		c->nbuckets <<= 1;
	if (!(c->bucket = calloc(c->nbuckets, sizeof(*c->bucket)))) {
		free(c);
		return -ENOMEM;
	}
	pthread_mutex_init(&c->lock, NULL);
	c->fetch = fetch;
	c->arg = arg;
	*out = c;
	return 0;
}

void slice_map_cache_destroy(struct slice_map_cache *c)
{
	if (!c)
		return;
	while (c->head)
		drop(c, c->head->map.obj);
	pthread_mutex_destroy(&c->lock);
	free(c->bucket);
	free(c);
}

int slice_map_cache_put(struct slice_map_cache *c, const struct slice_block_map *m)
{
	if (!c || !m)
		return -EINVAL;
	struct centry *e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	int rc = slice_map_copy(&e->map, m);
	if (rc < 0) {
		free(e);
		return rc;
	}
	pthread_mutex_lock(&c->lock);
	drop(c, m->obj);
	if (c->n == c->cap)
		drop(c, c->tail->map.obj);
	struct centry **p = slot(c, m->obj);
	*p = e;
	lru_push(c, e);
	c->n++;
	pthread_mutex_unlock(&c->lock);
	return 0;
}

int slice_map_cache_get(struct slice_map_cache *c, uint64_t obj, struct slice_block_map *out)
{
	if (!c || !out)
		return -EINVAL;
	pthread_mutex_lock(&c->lock);
	struct centry *e = *slot(c, obj);
	if (e) {
		lru_unlink(c, e);
		lru_push(c, e);
		int rc = slice_map_copy(out, &e->map);
		pthread_mutex_unlock(&c->lock);
		return rc;
	}
	pthread_mutex_unlock(&c->lock);
	if (!c->fetch)
		return -ENOENT;
	struct slice_block_map m = { 0 };
	int rc = c->fetch(c->arg, obj, &m);
	if (rc < 0)
		return rc;
	m.obj = obj;
	if ((rc = slice_map_cache_put(c, &m)) == 0)
		rc = slice_map_copy(out, &m);
	slice_map_clear(&m);
	return rc;
}

void slice_map_cache_invalidate(struct slice_map_cache *c, uint64_t obj)
{
	if (!c)
		return;
	pthread_mutex_lock(&c->lock);
	drop(c, obj);
	pthread_mutex_unlock(&c->lock);
}
