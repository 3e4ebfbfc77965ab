/*
 * t-slice-model: the striped data path against a model.  An object striped
 * over 4 block servers is filled in random-sized pieces, overwritten by
 * thousands of random writes (unaligned, overlapping, small and large),
 * read back at random and in full, then truncated; every byte read must be
 * the model's.  1 GiB over shm, 256 MiB over tcp (and under the
 * sanitizers, which are about 10x slower).
 */
#include <stdlib.h>

#include "slice_testlib.h"

#if defined(__SANITIZE_ADDRESS__)
#define SAN 1
#else
#define SAN 0
#endif

#define MIN_U64(a, b) ((uint64_t)(a) < (uint64_t)(b) ? (uint64_t)(a) : (uint64_t)(b))

static uint64_t rs = 88172645463325252ull;
static uint64_t rnd(void)
{
	rs ^= rs << 13;
	rs ^= rs >> 7;
	rs ^= rs << 17;
	return rs;
}

static void fill_rand(uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i += 8) {
		uint64_t v = rnd();
		memcpy(p + i, &v, n - i < 8 ? n - i : 8);
	}
}

static size_t rsize(size_t max_big)
{
	switch (rnd() % 4) {
	case 0: return 1 + rnd() % 512;                 /* tiny */
	case 1: return 1 + rnd() % 16384;               /* small, unaligned */
	case 2: return (1 + rnd() % 64) * 4096;         /* page multiples */
	default: return 1 + rnd() % max_big;            /* large */
	}
}

static void check_range(struct slice_file *f, const uint8_t *model, uint8_t *buf, uint64_t off, size_t n,
			const char *what)
{
	ssize_t got = slice_read(f, buf, n, off);
	CHECK(got == (ssize_t)n, "%s: slice_read(%zu at %llu): %zd (%s)", what, n, (unsigned long long)off,
	      got, tpz_strerror((int)got));
	if (memcmp(buf, model + off, n) != 0) {
		size_t i = 0;
		while (buf[i] == model[off + i])
			i++;
		CHECK(0, "%s: byte %llu differs: read 0x%02x, model 0x%02x (read of %zu at %llu)", what,
		      (unsigned long long)(off + i), buf[i], model[off + i], n, (unsigned long long)off);
	}
}

static void run(enum tl_link link, uint64_t size)
{
	struct st_env e;
	struct slice_file *f;
	uint8_t *model = calloc(1, size), *buf = malloc(8u << 20), *src = malloc(8u << 20);

	CHECK(model && buf && src, "out of memory");
	st_setup(&e, link, 4, NULL);
	struct slice_block_map m = st_map(&e, 0x5111ce, 64 * 1024);
	CHECK_RC(slice_open(e.c, &m, &f), 0);
	double t0 = tl_now_ms();

	/* 1: fill the whole object in random-sized pieces. */
	for (uint64_t off = 0; off < size;) {
		uint64_t want = 1 + rnd() % (3u << 20);
		size_t n = (size_t)MIN_U64(want, size - off);
		fill_rand(model + off, n);
		ssize_t w = slice_write(f, model + off, n, off);
		CHECK(w == (ssize_t)n, "fill write at %llu: %zd (%s)", (unsigned long long)off, w,
		      tpz_strerror((int)w));
		off += n;
	}
	/* 2: random overwrites; now and then a read of a written range (it
	 * must see the write at once: reads flush the write-behind). */
	int nw = SAN ? 600 : 2000;
	for (int i = 0; i < nw; i++) {
		size_t n = rsize(2u << 20);
		uint64_t off = rnd() % (size - n);
		fill_rand(src, n);
		memcpy(model + off, src, n);
		ssize_t w = slice_write(f, src, n, off);
		CHECK(w == (ssize_t)n, "overwrite %d: %zd (%s)", i, w, tpz_strerror((int)w));
		if (i % 97 == 0)
			check_range(f, model, buf, off > 100 ? off - 100 : 0, n + 100, "read-after-write");
	}
	CHECK_RC(slice_fsync(f), 0);
	/* 3: random reads, then everything in random-sized pieces. */
	for (int i = 0; i < (SAN ? 200 : 1000); i++) {
		size_t n = rsize(4u << 20);
		uint64_t off = rnd() % (size - n);
		check_range(f, model, buf, off, n, "random read");
	}
	for (uint64_t off = 0; off < size;) {
		uint64_t want = 1 + rnd() % (8u << 20);
		size_t n = (size_t)MIN_U64(want, size - off);
		check_range(f, model, buf, off, n, "full read");
		off += n;
	}
	CHECK_RC(slice_close(f), 0);

	/* 4: truncate inside a stripe unit: the object ends there, the bytes
	 * after read as zeros, the bytes before are intact. */
	uint64_t cut = size / 2 + 12345;
	CHECK_RC(slice_truncate(e.c, &m, cut), 0);
	memset(model + cut, 0, size - cut);
	uint64_t sz = 0, alloc = 0;
	CHECK_RC(slice_stat(e.c, &m, &sz, &alloc), 0);
	CHECK(sz == cut, "size after truncate: %llu, want %llu", (unsigned long long)sz,
	      (unsigned long long)cut);
	CHECK_RC(slice_open(e.c, &m, &f), 0);
	check_range(f, model, buf, cut - 70000, 300000, "around the cut");
	/* Growing again leaves a hole of zeros. */
	CHECK_RC(slice_truncate(e.c, &m, size), 0);
	check_range(f, model, buf, cut - 10, 1u << 20, "hole after regrow");
	CHECK_RC(slice_close(f), 0);
	CHECK_RC(slice_remove(e.c, &m), 0);
	CHECK_RC(slice_stat(e.c, &m, &sz, NULL), 0);
	CHECK(sz == 0, "size after remove: %llu", (unsigned long long)sz);

	struct slice_counters c;
	slice_client_counters(e.c, &c);
	printf("t-slice-model: %s: %llu MiB in %.1f s; %llu writes (%llu MiB), %llu reads, %llu errors\n",
	       tl_link_name(link), (unsigned long long)(size >> 20), (tl_now_ms() - t0) / 1000,
	       (unsigned long long)c.writes, (unsigned long long)(c.write_bytes >> 20),
	       (unsigned long long)c.reads, (unsigned long long)c.errors);
	CHECK(c.errors == 0, "%llu errors counted", (unsigned long long)c.errors);
	st_teardown(&e);
	free(model);
	free(buf);
	free(src);
}

int main(int argc, char **argv)
{
	tl_init(argc, argv, 240);
	run(TL_SHM, SAN ? 256u << 20 : 1u << 30);
	run(TL_TCP, 256u << 20);
	return 0;
}
