/*
 * frame.c - the frame pool: page-aligned payload buffers that the upper
 * layers use as their own buffers (unified buffering).
 *
 * The pool may live in a shared segment used by several processes at once,
 * so its free list is a lock-free stack (a Treiber stack with a 32-bit ABA
 * tag next to the index in one 64-bit word): a process killed in the middle
 * of a push or pop leaves the stack consistent, which a lock would not.
 * Each frame records its owner node so the frames of a dead process can be
 * found and returned (tpz_pool_reclaim).
 */
#include <errno.h>
#include <string.h>

#include "tpz_internal.h"

#define POOL_MAGIC 0x6c6f6f705a5054ull   /* "TPZpool" */
#define NIL        UINT32_MAX

struct frame_meta {
	_Atomic uint32_t next;     /* free-list link */
	_Atomic uint32_t owner;    /* TPZ_OWNER(node), or TPZ_OWNER_NONE when free */
};

struct tpz_pool_shared {
	uint64_t magic;
	uint32_t frame_size, nframes;
	uint64_t data_off;
	/* head = tag << 32 | index; only ever changed by CAS. */
	_Alignas(TPZ_CACHELINE) _Atomic uint64_t head;
	_Alignas(TPZ_CACHELINE) _Atomic uint32_t nfree;
	_Alignas(TPZ_CACHELINE) struct frame_meta meta[];
};

static size_t data_offset(uint32_t frame_size, uint32_t nframes)
{
	size_t meta = sizeof(struct tpz_pool_shared) + (size_t)nframes * sizeof(struct frame_meta);
	size_t page = 4096;
	return (meta + page - 1) & ~(page - 1);
}

size_t tpz_pool_bytes(uint32_t frame_size, uint32_t nframes)
{
	return data_offset(frame_size, nframes) + (size_t)frame_size * nframes;
}

void tpz_pool_format(void *mem, uint32_t frame_size, uint32_t nframes)
{
	struct tpz_pool_shared *sh = mem;

	sh->frame_size = frame_size;
	sh->nframes = nframes;
	sh->data_off = data_offset(frame_size, nframes);
	for (uint32_t i = 0; i < nframes; i++) {
		atomic_init(&sh->meta[i].next, i + 1 < nframes ? i + 1 : NIL);
		atomic_init(&sh->meta[i].owner, TPZ_OWNER_NONE);
	}
	atomic_init(&sh->head, nframes ? 0 : NIL);
	atomic_init(&sh->nfree, nframes);
	sh->magic = POOL_MAGIC;
}

int tpz_pool_open(struct tpz_pool *p, void *mem)
{
	struct tpz_pool_shared *sh = mem;

	if (sh->magic != POOL_MAGIC || sh->frame_size < 4096 ||
	    (sh->frame_size & (sh->frame_size - 1)))
		return -EINVAL;
	p->sh = sh;
	p->data = (uint8_t *)mem + sh->data_off;
	p->frame_size = sh->frame_size;
	p->frame_shift = (uint32_t)__builtin_ctz(sh->frame_size);
	p->nframes = sh->nframes;
	return 0;
}

int tpz_pool_get(struct tpz_pool *p, uint32_t owner)
{
	struct tpz_pool_shared *sh = p->sh;
	/* acquire: pairs with the release CAS in tpz_pool_put, so the next
	 * link we read below is the one the pusher wrote. */
	uint64_t old = atomic_load_explicit(&sh->head, memory_order_acquire);

	for (;;) {
		uint32_t idx = (uint32_t)old;
		if (idx == NIL)
			return -ENOMEM;
		/* A stale read here is harmless: the tag makes the CAS fail. */
		uint32_t next = atomic_load_explicit(&sh->meta[idx].next, memory_order_relaxed);
		uint64_t new = ((old >> 32) + 1) << 32 | next;
		if (atomic_compare_exchange_weak_explicit(&sh->head, &old, new,
							  memory_order_acquire, memory_order_acquire)) {
			atomic_store_explicit(&sh->meta[idx].owner, owner, memory_order_relaxed);
			atomic_fetch_sub_explicit(&sh->nfree, 1, memory_order_relaxed);
			return (int)idx;
		}
	}
}

void tpz_pool_put(struct tpz_pool *p, uint32_t idx)
{
	struct tpz_pool_shared *sh = p->sh;
	uint64_t old = atomic_load_explicit(&sh->head, memory_order_relaxed);

	atomic_store_explicit(&sh->meta[idx].owner, TPZ_OWNER_NONE, memory_order_relaxed);
	for (;;) {
		atomic_store_explicit(&sh->meta[idx].next, (uint32_t)old, memory_order_relaxed);
		uint64_t new = ((old >> 32) + 1) << 32 | idx;
		/* release: pairs with the acquire load in tpz_pool_get. */
		if (atomic_compare_exchange_weak_explicit(&sh->head, &old, new,
							  memory_order_release, memory_order_relaxed))
			break;
	}
	atomic_fetch_add_explicit(&sh->nfree, 1, memory_order_relaxed);
}

void tpz_pool_set_owner(struct tpz_pool *p, uint32_t idx, uint32_t owner)
{
	atomic_store_explicit(&p->sh->meta[idx].owner, owner, memory_order_relaxed);
}

int tpz_pool_index(const struct tpz_pool *p, const void *addr)
{
	const uint8_t *a = addr;

	if (!p->sh || a < p->data || a >= p->data + ((size_t)p->nframes << p->frame_shift))
		return -1;
	return (int)((size_t)(a - p->data) >> p->frame_shift);
}

uint32_t tpz_pool_free_count(const struct tpz_pool *p)
{
	return p->sh ? atomic_load_explicit(&p->sh->nfree, memory_order_relaxed) : 0;
}

bool tpz_pool_put_owned(struct tpz_pool *p, uint32_t idx, uint32_t owner)
{
	uint32_t o = owner;

	/* CAS, not a plain check: a frame in a dead peer's ring may be freed
	 * by its consumer, its producer and a reclaiming survivor at once. */
	if (idx >= p->nframes || !atomic_compare_exchange_strong(&p->sh->meta[idx].owner, &o, TPZ_OWNER_FREEING))
		return false;
	tpz_pool_put(p, idx);
	return true;
}

/* The receiver of a frame takes it over from its sender; false if the
 * sender's death reclaimed it first (one CAS decides between the two). */
bool tpz_pool_claim(struct tpz_pool *p, uint32_t idx, uint32_t from, uint32_t to)
{
	return idx < p->nframes &&
	       atomic_compare_exchange_strong(&p->sh->meta[idx].owner, &from, to);
}

/* O(frames): run once per dead peer, never on a fast path.  Takes the
 * frames it held and those it had sent that nobody claimed yet. */
uint32_t tpz_pool_reclaim(struct tpz_pool *p, uint32_t owner)
{
	uint32_t n = 0, sent = owner | TPZ_OWNER_SENT_BIT;

	for (uint32_t i = 0; i < p->nframes; i++)
		n += tpz_pool_put_owned(p, i, owner) || tpz_pool_put_owned(p, i, sent);
	return n;
}

/* ---- public frame API ---------------------------------------------------- */

void *tpz_frame_alloc(struct tpz_endpoint *ep)
{
	if (!ep)
		return NULL;
	int i = tpz_pool_get(&ep->pool, TPZ_OWNER(ep->cfg.node));
	return i < 0 ? NULL : tpz_pool_addr(&ep->pool, (uint32_t)i);
}

int tpz_frame_free(struct tpz_endpoint *ep, void *frame)
{
	if (!ep || !frame)
		return -EINVAL;
	int i = tpz_pool_index(&ep->pool, frame);
	if (i < 0 || tpz_pool_addr(&ep->pool, (uint32_t)i) != frame)
		return -EINVAL;
	/* Only the owner frees: catches double frees and frees of frames
	 * still in flight to someone else. */
	return tpz_pool_put_owned(&ep->pool, (uint32_t)i, TPZ_OWNER(ep->cfg.node)) ? 0 : -EINVAL;
}

size_t tpz_frame_size(const struct tpz_endpoint *ep)
{
	return ep ? ep->pool.frame_size : 0;
}

bool tpz_is_frame(const struct tpz_endpoint *ep, const void *p)
{
	return ep && tpz_pool_index(&ep->pool, p) >= 0;
}

size_t tpz_payload_len(const struct tpz_payload *pl)
{
	size_t n = 0;

	if (!pl)
		return 0;
	for (uint32_t i = 0; i < pl->nseg && i < TPZ_SG_MAX; i++)
		n += pl->seg[i].len;
	return n;
}

int tpz_payload_alloc(struct tpz_endpoint *ep, struct tpz_payload *pl, size_t len)
{
	if (!ep || !pl || len > ep->max_payload)
		return pl && ep ? -EMSGSIZE : -EINVAL;
	size_t fs = ep->pool.frame_size;
	size_t need = (len + fs - 1) / fs;
	if (need > TPZ_SG_MAX)
		return -EMSGSIZE;
	pl->nseg = 0;
	while (len > 0 || pl->nseg < need) {
		void *f = tpz_frame_alloc(ep);
		if (!f) {
			tpz_payload_free(ep, pl);
			return -ENOMEM;
		}
		uint32_t n = (uint32_t)(len < fs ? len : fs);
		pl->seg[pl->nseg++] = (struct tpz_iov){ f, n };
		len -= n;
	}
	return 0;
}

void tpz_payload_put_frames(struct tpz_endpoint *ep, const struct tpz_payload *pl)
{
	int idx[TPZ_SG_MAX];
	uint32_t n = pl->nseg < TPZ_SG_MAX ? pl->nseg : TPZ_SG_MAX;

	for (uint32_t i = 0; i < n; i++) {
		idx[i] = tpz_pool_index(&ep->pool, pl->seg[i].base);
		bool seen = false;
		for (uint32_t j = 0; j < i && !seen; j++)
			seen = idx[j] == idx[i];
		/* Only the owner frees (as in tpz_frame_free). */
		if (idx[i] >= 0 && !seen)
			tpz_pool_put_owned(&ep->pool, (uint32_t)idx[i], TPZ_OWNER(ep->cfg.node));
	}
}

void tpz_payload_free(struct tpz_endpoint *ep, struct tpz_payload *pl)
{
	if (!ep || !pl)
		return;
	tpz_payload_put_frames(ep, pl);
	pl->nseg = 0;
}

void tpz_rx_release(struct tpz_endpoint *ep, struct tpz_rx *rx)
{
	if (!ep || !rx || rx->placed)
		return;
	tpz_payload_free(ep, &rx->payload);
	rx->payload_len = 0;
}
