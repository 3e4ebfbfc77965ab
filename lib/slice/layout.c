/*
 * layout.c - striping arithmetic: which block server holds which block.
 *
 * Block b of object o is on servers[(b + hash(o)) % width]: consecutive
 * blocks go round the stripe so a sequential reader keeps every server
 * busy, and the hash starts each object at a different server so small
 * files spread over the array instead of all landing on servers[0].
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "slice_internal.h"

int slice_layout_check(const struct slice_layout *l)
{
	if (!l || l->stripe_unit < SLICE_STRIPE_UNIT_MIN || l->stripe_unit > SLICE_STRIPE_UNIT_MAX ||
	    (l->stripe_unit & (l->stripe_unit - 1)) || l->width == 0 || l->width > SLICE_STRIPE_MAX)
		return -EINVAL;
	for (uint32_t i = 0; i < l->width; i++)
		if (l->servers[i] >= TPZ_MAX_NODES)
			return -EINVAL;
	return 0;
}

/* splitmix64's finaliser: cheap, and every input bit moves every output bit. */
uint64_t slice_obj_hash(uint64_t obj)
{
	uint64_t z = obj + 0x9e3779b97f4a7c15ull;
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

uint32_t slice_block_server(const struct slice_block_map *m, uint64_t block)
{
	/* Exceptions are sorted by block: binary search. */
	uint32_t lo = 0, hi = m->nexc;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (m->exc[mid].block == block)
			return m->exc[mid].node;
		if (m->exc[mid].block < block)
			lo = mid + 1;
		else
			hi = mid;
	}
	const struct slice_layout *l = &m->layout;
	return l->servers[(block + slice_obj_hash(m->obj) % l->width) % l->width];
}

int slice_map_copy(struct slice_block_map *dst, const struct slice_block_map *src)
{
	struct slice_block_exc *exc = NULL;

	if (!dst || !src || slice_layout_check(&src->layout) < 0 || (src->nexc && !src->exc))
		return -EINVAL;
	for (uint32_t i = 0; i < src->nexc; i++)
		if (src->exc[i].node >= TPZ_MAX_NODES || (i && src->exc[i].block <= src->exc[i - 1].block))
			return -EINVAL;   /* unsorted or duplicate: the search needs order */
	if (src->nexc) {
		if (!(exc = malloc(src->nexc * sizeof(*exc))))
			return -ENOMEM;
		memcpy(exc, src->exc, src->nexc * sizeof(*exc));
	}
	*dst = *src;
	dst->exc = exc;
	return 0;
}

void slice_map_clear(struct slice_block_map *m)
{
	if (!m)
		return;
	free(m->exc);
	m->exc = NULL;
	m->nexc = 0;
}

uint32_t sl_map_nodes(const struct slice_block_map *m, uint32_t *nodes, uint32_t max)
{
	uint32_t n = 0;

	for (uint32_t i = 0; i < m->layout.width + m->nexc; i++) {
		uint32_t node = i < m->layout.width ? m->layout.servers[i] : m->exc[i - m->layout.width].node;
		bool seen = false;
		for (uint32_t j = 0; j < n && !seen; j++)
			seen = nodes[j] == node;
		if (!seen && n < max)
			nodes[n++] = node;
	}
	return n;
}
