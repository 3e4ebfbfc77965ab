/*
 * drc.c - the duplicate request cache.
 *
 * A client that loses a connection (or its patience) sends a request
 * again with the same xid.  For a non-idempotent procedure - CREATE,
 * REMOVE, RENAME... - doing it twice gives the wrong answer (the second
 * REMOVE finds nothing and says NOENT), so the server remembers each such
 * request by (client address without port, xid, procedure, hash of the
 * arguments) and:
 *   - while the first is still being served, drops the copy (the first's
 *     reply is on its way);
 *   - once answered, sends the same reply again, without doing the work.
 * The port is left out because a client that reconnects comes back from
 * another port; the argument hash keeps an xid reused for another request
 * from matching.
 *
 * Memory is bounded: a fixed number of entries, the least recently used
 * answered one goes first.  The cache lives in memory: after a restart a
 * retransmission is served afresh (exclusive CREATE still answers right,
 * through its verifier; see nfs_create.c).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fmd.h"

struct drc_ent {
	struct drc_key  k;
	bool            done;
	uint8_t        *msg;
	size_t          len;
	struct drc_ent *hnext;           /* hash chain */
	struct drc_ent *lprev, *lnext;   /* LRU list, most recent at head */
};

struct drc {
	pthread_mutex_t  mu;
	struct drc_ent **buckets;
	uint32_t         nbuckets;       /* power of two */
	uint32_t         cap, count;
	struct drc_ent  *head, *tail;
	uint64_t         hits, inprog;
};

static uint64_t fnv(const void *p, size_t n, uint64_t h)
{
	const uint8_t *b = p;
	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 0x100000001b3ull;
	return h;
}

static uint32_t bucket(const struct drc *d, const struct drc_key *k)
{
	return (uint32_t)fnv(k, sizeof(*k), 0xcbf29ce484222325ull) & (d->nbuckets - 1);
}

int drc_create(uint32_t capacity, struct drc **out)
{
	struct drc *d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->cap = capacity ? capacity : 1;
	d->nbuckets = 64;
	while (d->nbuckets < d->cap)
		d->nbuckets <<= 1;
	d->buckets = calloc(d->nbuckets, sizeof(*d->buckets));
	if (!d->buckets) {
		free(d);
		return -ENOMEM;
	}
	pthread_mutex_init(&d->mu, NULL);
	*out = d;
	return 0;
}

void drc_destroy(struct drc *d)
{
	if (!d)
		return;
	for (struct drc_ent *e = d->head, *n; e; e = n) {
		n = e->lnext;
		free(e->msg);
		free(e);
	}
	free(d->buckets);
	pthread_mutex_destroy(&d->mu);
	free(d);
}

static void lru_unlink(struct drc *d, struct drc_ent *e)
{
	if (e->lprev)
		e->lprev->lnext = e->lnext;
	else
		d->head = e->lnext;
	if (e->lnext)
		e->lnext->lprev = e->lprev;
	else
		d->tail = e->lprev;
	e->lprev = e->lnext = NULL;
}

static void lru_push(struct drc *d, struct drc_ent *e)
{
	e->lnext = d->head;
	e->lprev = NULL;
	if (d->head)
		d->head->lprev = e;
	d->head = e;
	if (!d->tail)
		d->tail = e;
}

static struct drc_ent **find(struct drc *d, const struct drc_key *k)
{
	struct drc_ent **pp = &d->buckets[bucket(d, k)];
	while (*pp && memcmp(&(*pp)->k, k, sizeof(*k)) != 0)
		pp = &(*pp)->hnext;
	return pp;
}

static void remove_ent(struct drc *d, struct drc_ent *e)
{
	struct drc_ent **pp = find(d, &e->k);
	if (*pp == e)
		*pp = e->hnext;
	lru_unlink(d, e);
	free(e->msg);
	free(e);
	d->count--;
}

/* Make room: drop the oldest answered entry (entries in progress stay: a
 * reply is owed for them). */
static void evict(struct drc *d)
{
	for (struct drc_ent *e = d->tail; e && d->count >= d->cap; e = e->lprev) {
		if (e->done) {
			remove_ent(d, e);
			return;
		}
	}
}

enum drc_verdict drc_begin(struct drc *d, const struct drc_key *k, uint8_t **msg, size_t *len)
{
	enum drc_verdict v = DRC_NEW;
	pthread_mutex_lock(&d->mu);
	struct drc_ent *e = *find(d, k);
	if (e) {
		if (!e->done) {
			d->inprog++;
			v = DRC_IN_PROGRESS;
		} else if ((*msg = malloc(e->len))) {
			memcpy(*msg, e->msg, e->len);
			*len = e->len;
			d->hits++;
			lru_unlink(d, e);
			lru_push(d, e);
			v = DRC_REPLAY;
		}
		pthread_mutex_unlock(&d->mu);
		return v;
	}
	if (d->count >= d->cap)
		evict(d);
	e = calloc(1, sizeof(*e));
	if (e) {
		e->k = *k;
		struct drc_ent **pp = &d->buckets[bucket(d, k)];
		e->hnext = *pp;
		*pp = e;
		lru_push(d, e);
		d->count++;
	}
	pthread_mutex_unlock(&d->mu);
	return DRC_NEW;
}

void drc_done(struct drc *d, const struct drc_key *k, const uint8_t *msg, size_t len)
{
	pthread_mutex_lock(&d->mu);
	struct drc_ent *e = *find(d, k);
	if (e && !e->done) {
		e->msg = malloc(len);
		if (e->msg) {
			memcpy(e->msg, msg, len);
			e->len = len;
			e->done = true;
		} else {
			remove_ent(d, e);
		}
	}
	pthread_mutex_unlock(&d->mu);
}

void drc_forget(struct drc *d, const struct drc_key *k)
{
	pthread_mutex_lock(&d->mu);
	struct drc_ent *e = *find(d, k);
	if (e)
		remove_ent(d, e);
	pthread_mutex_unlock(&d->mu);
}

void drc_counters(struct drc *d, uint64_t *hits, uint64_t *inprog, uint64_t *entries)
{
	pthread_mutex_lock(&d->mu);
	*hits = d->hits;
	*inprog = d->inprog;
	*entries = d->count;
	pthread_mutex_unlock(&d->mu);
}
