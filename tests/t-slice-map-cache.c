/*
 * t-slice-map-cache: the block-map cache fetches on a miss only, returns
 * deep copies, forgets a map on invalidation, evicts the least recently
 * used map when full, and passes fetch errors through.
 */
#include <stdlib.h>

#include "slice.h"
#include "testlib.h"

static int fetches;

static int fetch(void *arg, uint64_t obj, struct slice_block_map *out)
{
	fetches++;
	if (obj == 666)
		return -ENOENT;
	out->layout.stripe_unit = 65536;
	out->layout.width = 2;
	out->layout.servers[0] = (uint32_t)(obj % 100);
	out->layout.servers[1] = 1;
	out->version = *(uint64_t *)arg;
	out->nexc = 1;
	out->exc = malloc(sizeof(*out->exc));
	out->exc[0] = (struct slice_block_exc){ 3, 7 };
	return 0;
}

int main(int argc, char **argv)
{
	struct slice_map_cache *c;
	struct slice_block_map m;
	uint64_t version = 1;

	tl_init(argc, argv, 30);
	CHECK_RC(slice_map_cache_create(0, fetch, &version, &c), -EINVAL);
	CHECK_RC(slice_map_cache_create(4, fetch, &version, &c), 0);

	CHECK_RC(slice_map_cache_get(c, 10, &m), 0);
	CHECK(m.obj == 10 && m.layout.servers[0] == 10 && m.nexc == 1 && m.exc[0].node == 7,
	      "fetched map wrong");
	m.exc[0].node = 55;   /* our copy: the cache's must not change */
	slice_map_clear(&m);
	CHECK_RC(slice_map_cache_get(c, 10, &m), 0);
	CHECK(fetches == 1 && m.exc[0].node == 7, "hit fetched again (%d) or shared memory", fetches);
	slice_map_clear(&m);

	/* Invalidation: the next get fetches the new version. */
	version = 2;
	slice_map_cache_invalidate(c, 10);
	CHECK_RC(slice_map_cache_get(c, 10, &m), 0);
	CHECK(fetches == 2 && m.version == 2, "invalidate did not refetch");
	slice_map_clear(&m);

	/* LRU: touch 10, fill with 11..14 -> 10 survives? no: 4 slots, 10 is
	 * touched after 11..13, so 11 is the one evicted by 14. */
	for (uint64_t o = 11; o <= 13; o++) {
		CHECK_RC(slice_map_cache_get(c, o, &m), 0);
		slice_map_clear(&m);
	}
	CHECK_RC(slice_map_cache_get(c, 10, &m), 0);
	slice_map_clear(&m);
	int before = fetches;
	CHECK_RC(slice_map_cache_get(c, 14, &m), 0);
	slice_map_clear(&m);
	CHECK_RC(slice_map_cache_get(c, 10, &m), 0);
	slice_map_clear(&m);
	CHECK(fetches == before + 1, "the recently used map was evicted");
	CHECK_RC(slice_map_cache_get(c, 11, &m), 0);
	slice_map_clear(&m);
	CHECK(fetches == before + 2, "the least recently used map was kept");

	/* Errors pass through and cache nothing. */
	CHECK_RC(slice_map_cache_get(c, 666, &m), -ENOENT);
	CHECK_RC(slice_map_cache_get(c, 666, &m), -ENOENT);

	/* put without fetch; a cache without fetch misses with -ENOENT. */
	struct slice_map_cache *c2;
	CHECK_RC(slice_map_cache_create(2, NULL, NULL, &c2), 0);
	CHECK_RC(slice_map_cache_get(c2, 5, &m), -ENOENT);
	struct slice_block_map p = { .obj = 5, .layout = { .stripe_unit = 4096, .width = 1 } };
	CHECK_RC(slice_map_cache_put(c2, &p), 0);
	CHECK_RC(slice_map_cache_get(c2, 5, &m), 0);
	slice_map_clear(&m);
	p.layout.width = 0;
	CHECK_RC(slice_map_cache_put(c2, &p), -EINVAL);
	slice_map_cache_destroy(c2);
	slice_map_cache_destroy(c);
	printf("t-slice-map-cache: ok\n");
	return 0;
}
