/*
 * ring.h - a single-producer single-consumer ring of 128-byte slots, each
 * with a payload descriptor beside it (the "related state" of the seeds'
 * message rings).  It lives in the shm fabric segment: one ring per ordered
 * pair of nodes, so no cross-process lock is ever needed (a process killed
 * while holding one would wedge the fabric).
 *
 * Indices are free-running 32-bit counters masked by size-1.  A slot is
 * published by storing its index into the slot's own seq field last
 * (release), so the consumer polls the slot itself: one cache-line transfer
 * per message instead of a head index and then the slot.  The consumer's
 * tail sits on its own cache line; the producer reads it only when its
 * cached view runs out of credit.  The producer's head stays in the
 * producer's private memory.
 */
#ifndef TPZ_RING_H
#define TPZ_RING_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "trapeze_wire.h"
#include "trapeze.h"

/* FRAMES: pool frames, now the receiver's.  LENT: pool frames the sender
 * keeps; the receiver copies them.  REMOTE: the sender's private memory,
 * read by the receiver with process_vm_readv. */
enum { DESC_NONE = 0, DESC_FRAMES = 1, DESC_REMOTE = 2, DESC_LENT = 3 };

/* Where a message's payload is, for the consumer. */
struct tpz_desc {
	uint32_t kind;             /* DESC_* */
	uint32_t nseg;
	uint32_t idx[TPZ_SG_MAX];  /* DESC_FRAMES: pool frame indices */
	uint32_t len[TPZ_SG_MAX];  /* bytes used in each segment */
	uint64_t addr[TPZ_SG_MAX]; /* DESC_REMOTE: addresses in the producer */
};

struct tpz_ring {
	uint32_t size, mask;
	/* Written by the consumer only; read by the producer (credits and
	 * send completion: a slot behind tail has been fully consumed). */
	_Alignas(64) _Atomic uint32_t tail;
	_Alignas(64) uint8_t body[];   /* size slots, then size descriptors */
};

static inline size_t tpz_ring_bytes(uint32_t size)
{
	return sizeof(struct tpz_ring) + (size_t)size * (TPZ_MSG_SIZE + sizeof(struct tpz_desc));
}
static inline struct tpz_msg *tpz_ring_slot(struct tpz_ring *r, uint32_t i)
{
	return (struct tpz_msg *)(r->body + (size_t)(i & r->mask) * TPZ_MSG_SIZE);
}
static inline struct tpz_desc *tpz_ring_desc(struct tpz_ring *r, uint32_t i)
{
	return (struct tpz_desc *)(r->body + (size_t)r->size * TPZ_MSG_SIZE) + (i & r->mask);
}

void tpz_ring_init(struct tpz_ring *r, uint32_t size);

/* Producer: how many slots are free (refreshes *cached_tail when short). */
uint32_t tpz_ring_space(struct tpz_ring *r, uint32_t head, uint32_t *cached_tail, uint32_t want);
static inline _Atomic uint32_t *slot_seq(struct tpz_ring *r, uint32_t i)
{
	return (_Atomic uint32_t *)&tpz_ring_slot(r, i)->hdr.seq;
}
/* Producer: fill slot i (its descriptor is already written) and publish it. */
static inline void tpz_ring_put(struct tpz_ring *r, uint32_t i, const struct tpz_msg *m)
{
	struct tpz_msg *s = tpz_ring_slot(r, i);

	memcpy(s, m, offsetof(struct tpz_hdr, seq));
	memcpy((uint8_t *)s + offsetof(struct tpz_hdr, token), (const uint8_t *)m + offsetof(struct tpz_hdr, token),
	       TPZ_MSG_SIZE - offsetof(struct tpz_hdr, token));
	/* release: the slot and descriptor writes above are visible to the
	 * consumer before it sees the index (acquire in tpz_ring_ready). */
	atomic_store_explicit(slot_seq(r, i), i, memory_order_release);
}
/* Consumer: has slot i been published? */
static inline bool tpz_ring_ready(struct tpz_ring *r, uint32_t i)
{
	/* acquire: pairs with the release store in tpz_ring_put. */
	return atomic_load_explicit(slot_seq(r, i), memory_order_acquire) == i;
}
/* Consumer: hand slots before new_tail back to the producer. */
static inline void tpz_ring_release(struct tpz_ring *r, uint32_t new_tail)
{
	/* release: our reads of the slots (and of remote payload memory)
	 * happen before the producer's acquire load of tail in
	 * tpz_ring_space reuses the slot or completes the send. */
	atomic_store_explicit(&r->tail, new_tail, memory_order_release);
}
static inline uint32_t tpz_ring_tail(struct tpz_ring *r)
{
	/* acquire: pairs with tpz_ring_release (send completion). */
	return atomic_load_explicit(&r->tail, memory_order_acquire);
}

#endif
