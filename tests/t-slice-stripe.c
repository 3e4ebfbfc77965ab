/*
 * t-slice-stripe: striping arithmetic at its boundaries.  Every block goes
 * to exactly the server the rule names; consecutive blocks rotate over the
 * stripe; objects start at different servers; exceptions win over the
 * layout; bad layouts and maps are refused.
 */
#include <stdlib.h>

#include "slice.h"
#include "testlib.h"

static struct slice_block_map mk(uint64_t obj, uint32_t width, uint32_t su)
{
	struct slice_block_map m = { .obj = obj };
	m.layout.stripe_unit = su;
	m.layout.width = width;
	for (uint32_t i = 0; i < width; i++)
		m.layout.servers[i] = 10 + i;
	return m;
}

int main(int argc, char **argv)
{
	tl_init(argc, argv, 30);

	/* The rule, for several widths and objects. */
	for (uint32_t w = 1; w <= SLICE_STRIPE_MAX; w += 7) {
		for (uint64_t obj = 0; obj < 50; obj++) {
			struct slice_block_map m = mk(obj * 0x9e37ull, w, 65536);
			CHECK_RC(slice_layout_check(&m.layout), 0);
			uint32_t first = slice_block_server(&m, 0);
			uint32_t count[SLICE_STRIPE_MAX] = { 0 };
			for (uint64_t b = 0; b < 4ull * w; b++) {
				uint32_t s = slice_block_server(&m, b);
				CHECK(s >= 10 && s < 10 + w, "block %llu on server %u outside the stripe",
				      (unsigned long long)b, s);
				uint32_t want = m.layout.servers[(b + slice_obj_hash(m.obj) % w) % w];
				CHECK(s == want, "width %u obj %llu block %llu: server %u, want %u", w,
				      (unsigned long long)m.obj, (unsigned long long)b, s, want);
				/* Consecutive blocks rotate: block b+1 is the next server. */
				if (b)
					CHECK((s - 10) == (slice_block_server(&m, b - 1) - 10 + 1) % w,
					      "width %u: blocks %llu and %llu not consecutive servers", w,
					      (unsigned long long)b - 1, (unsigned long long)b);
				count[s - 10]++;
			}
			for (uint32_t i = 0; i < w; i++)
				CHECK(count[i] == 4, "width %u: server %u holds %u of 4 rounds", w, i, count[i]);
			(void)first;
		}
	}
	/* Huge block numbers (offsets near 2^64) do not overflow the rule. */
	struct slice_block_map m = mk(7, 5, 4096);
	uint64_t big = UINT64_MAX >> 12;
	CHECK(slice_block_server(&m, big) == m.layout.servers[(big % 5 + slice_obj_hash(7) % 5) % 5],
	      "block 2^52-1 routed wrong");

	/* Objects spread their first block over the servers. */
	uint32_t starts[8] = { 0 };
	for (uint64_t obj = 1; obj <= 8000; obj++) {
		struct slice_block_map mm = mk(obj, 8, 65536);
		starts[slice_block_server(&mm, 0) - 10]++;
	}
	for (int i = 0; i < 8; i++)
		CHECK(starts[i] > 800 && starts[i] < 1200, "server %d is the first of %u of 8000 objects", i,
		      starts[i]);

	/* Exceptions win, and only for their block. */
	struct slice_block_exc exc[3] = { { 0, 99 }, { 5, 98 }, { 1000000, 97 } };
	struct slice_block_map e = mk(42, 4, 65536), copy;
	e.nexc = 3;
	e.exc = exc;
	CHECK_RC(slice_map_copy(&copy, &e), 0);
	CHECK(slice_block_server(&copy, 0) == 99 && slice_block_server(&copy, 5) == 98 &&
	      slice_block_server(&copy, 1000000) == 97, "exceptions not applied");
	struct slice_block_map plain = mk(42, 4, 65536);
	for (uint64_t b = 1; b < 20; b++)
		if (b != 5)
			CHECK(slice_block_server(&copy, b) == slice_block_server(&plain, b),
			      "block %llu moved by an exception for another block", (unsigned long long)b);
	slice_map_clear(&copy);

	/* Refused: unsorted exceptions, bad layouts. */
	struct slice_block_exc bad[2] = { { 5, 1 }, { 3, 2 } };
	e.exc = bad;
	e.nexc = 2;
	CHECK_RC(slice_map_copy(&copy, &e), -EINVAL);
	struct slice_layout l = mk(1, 4, 65536).layout;
	l.stripe_unit = 3000;
	CHECK_RC(slice_layout_check(&l), -EINVAL);
	l.stripe_unit = 2048;
	CHECK_RC(slice_layout_check(&l), -EINVAL);
	l.stripe_unit = 2u << 20;
	CHECK_RC(slice_layout_check(&l), -EINVAL);
	l.stripe_unit = 65536;
	l.width = 0;
	CHECK_RC(slice_layout_check(&l), -EINVAL);
	l.width = SLICE_STRIPE_MAX + 1;
	CHECK_RC(slice_layout_check(&l), -EINVAL);
	l.width = 2;
	l.servers[1] = TPZ_MAX_NODES;
	CHECK_RC(slice_layout_check(&l), -EINVAL);
	printf("t-slice-stripe: ok\n");
	return 0;
}
