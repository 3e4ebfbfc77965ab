/* ring.c - SPSC ring of 128-byte slots; see ring.h for the layout. */
#include <string.h>

#include "ring.h"

void tpz_ring_init(struct tpz_ring *r, uint32_t size)
{
	r->size = size;
	r->mask = size - 1;
	atomic_store_explicit(&r->tail, 0, memory_order_relaxed);
	/* Slot i holds index i - size: "published one lap ago", not ready. */
	for (uint32_t i = 0; i < size; i++)
		atomic_store_explicit(slot_seq(r, i), i - size, memory_order_relaxed);
}

uint32_t tpz_ring_space(struct tpz_ring *r, uint32_t head, uint32_t *cached_tail, uint32_t want)
{
	uint32_t space = r->size - (head - *cached_tail);

	/* Only touch the consumer's cache line when the cached view is short:
	 * under streaming load this keeps the producer off the tail line. */
	if (space < want) {
		*cached_tail = tpz_ring_tail(r);
		space = r->size - (head - *cached_tail);
	}
	return space;
}
