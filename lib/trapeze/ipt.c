/*
 * ipt.c - the incoming payload table.
 *
 * A token is key << 32 | index.  Keys come from a per-endpoint PRNG seeded
 * from the kernel, so a token is a weak capability: it is valid on this
 * endpoint, for one payload, from the named peer, and a guessed or replayed
 * one is refused.  The engine writes into a posted buffer only while it holds
 * the table lock and the entry is live, so once tpz_ipt_cancel() returns no
 * late payload can touch the buffer.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>

#include "tpz_internal.h"

#define NIL UINT32_MAX

int tpz_ipt_init(struct tpz_ipt *t)
{
	t->e = calloc(TPZ_IPT_SIZE, sizeof(*t->e));
	if (!t->e)
		return -ENOMEM;
	for (uint32_t i = 0; i < TPZ_IPT_SIZE; i++)
		t->e[i].next_free = i + 1 < TPZ_IPT_SIZE ? i + 1 : NIL;
	t->free_head = 0;
	randombytes_buf(&t->rng, sizeof(t->rng));
	t->rng |= 1;
	pthread_mutex_init(&t->lock, NULL);
	return 0;
}

void tpz_ipt_fini(struct tpz_ipt *t)
{
	free(t->e);
	t->e = NULL;
	pthread_mutex_destroy(&t->lock);
}

static uint32_t next_key(struct tpz_ipt *t)
{
	uint32_t k;

	do {    /* xorshift64*: cheap, and unpredictable enough given a secret seed */
		t->rng ^= t->rng >> 12;
		t->rng ^= t->rng << 25;
		t->rng ^= t->rng >> 27;
		k = (uint32_t)((t->rng * 0x2545F4914F6CDD1Dull) >> 32);
	} while (k == 0);
	return k;
}

int tpz_ipt_post(struct tpz_endpoint *ep, uint32_t from, const struct tpz_payload *buf,
		 void *cookie, uint64_t *token)
{
	if (!ep || !buf || !token || buf->nseg == 0 || buf->nseg > TPZ_SG_MAX)
		return -EINVAL;
	if (from != TPZ_NODE_ANY && from >= TPZ_MAX_NODES)
		return -EINVAL;
	for (uint32_t i = 0; i < buf->nseg; i++)
		if (!buf->seg[i].base && buf->seg[i].len)
			return -EINVAL;
	size_t cap = tpz_payload_len(buf);
	if (cap > ep->max_payload)
		return -EMSGSIZE;

	struct tpz_ipt *t = &ep->ipt;
	pthread_mutex_lock(&t->lock);
	uint32_t i = t->free_head;
	if (i == NIL) {
		pthread_mutex_unlock(&t->lock);
		return -ENOSPC;
	}
	struct tpz_ipt_entry *e = &t->e[i];
	t->free_head = e->next_free;
	e->key = next_key(t);
	e->state = IPT_ARMED;
	e->from = from;
	e->cap = (uint32_t)cap;
	e->cancelled = false;
	e->cookie = cookie;
	e->buf = *buf;
	*token = (uint64_t)e->key << 32 | i;
	pthread_mutex_unlock(&t->lock);
	return 0;
}

void tpz_ipt_retire(struct tpz_ipt *t, struct tpz_ipt_entry *e)
{
	e->state = IPT_FREE;
	e->key = 0;
	e->next_free = t->free_head;
	t->free_head = (uint32_t)(e - t->e);
}

struct tpz_ipt_entry *tpz_ipt_match(struct tpz_endpoint *ep, uint64_t token, uint32_t src,
				    uint32_t len, const char **why)
{
	struct tpz_ipt *t = &ep->ipt;
	uint32_t i = (uint32_t)token, key = (uint32_t)(token >> 32);

	/* Counters partition: a miss found no live entry for the token, a
	 * drop had one but could not use it. */
	if (i >= TPZ_IPT_SIZE || key == 0) {
		*why = "token out of range";
		goto miss;
	}
	struct tpz_ipt_entry *e = &t->e[i];
	if (e->state != IPT_ARMED || e->key != key) {
		*why = "stale or forged token";
		goto miss;
	}
	if (e->from != TPZ_NODE_ANY && e->from != src) {
		*why = "token posted for another peer";
		goto miss;
	}
	if (len > e->cap) {
		*why = "payload larger than the posted buffer";
		RX_INC(ep, ipt_drops, 1);
		return NULL;
	}
	return e;
miss:
	RX_INC(ep, ipt_misses, 1);
	return NULL;
}

int tpz_ipt_cancel(struct tpz_endpoint *ep, uint64_t token)
{
	if (!ep)
		return -EINVAL;
	struct tpz_ipt *t = &ep->ipt;
	uint32_t i = (uint32_t)token, key = (uint32_t)(token >> 32);
	int rc = -ENOENT;

	if (i >= TPZ_IPT_SIZE || key == 0)
		return -ENOENT;
	pthread_mutex_lock(&t->lock);
	struct tpz_ipt_entry *e = &t->e[i];
	if (e->key == key && e->state == IPT_ARMED) {
		tpz_ipt_retire(t, e);
		rc = 0;
	} else if (e->key == key && e->state == IPT_FILLING) {
		/* A tcp payload is arriving into it across polls: the rest
		 * goes to a sink and the message is delivered as dropped. */
		e->cancelled = true;
		rc = 0;
	}
	pthread_mutex_unlock(&t->lock);
	return rc;
}

/* A dead peer's expected payloads will never come: free their entries.
 * The owning module hears of it through its peer_down upcall. */
void tpz_ipt_peer_down(struct tpz_endpoint *ep, uint32_t node)
{
	struct tpz_ipt *t = &ep->ipt;

	pthread_mutex_lock(&t->lock);
	for (uint32_t i = 0; i < TPZ_IPT_SIZE; i++) {
		struct tpz_ipt_entry *e = &t->e[i];
		if (e->state == IPT_ARMED && e->from == node)
			tpz_ipt_retire(t, e);
		else if (e->state == IPT_FILLING && e->from == node)
			e->cancelled = true;
	}
	pthread_mutex_unlock(&t->lock);
}
