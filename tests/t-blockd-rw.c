/*
 * t-blockd-rw: what is written to slice-blockd reads back, byte for byte,
 * over shm and over tcp, with a block cache and without one.
 *
 * The test keeps a model of one object (its bytes and size) and checks
 * every READ against it: fixed cases first (aligned 4 KiB, a few bytes
 * across a 4 KiB boundary, across a 64 KiB cache block boundary, writes
 * that overlap earlier ones, 1 MiB aligned and 1 MiB at an odd offset,
 * which touches 17 cache blocks, stable and unstable), then a bounded
 * stream of random writes and reads (fixed seed) over 3 MiB.  Every reply
 * carries the size the model says and the same boot verifier; every READ
 * payload lands in the caller's buffer in full (placed), and reads past
 * the end return zeros.  Finally STAT gives the model's size.
 */
#include "blockd_testlib.h"

#define SPAN  (3u << 20)
#define OBJ   0x5eed0001ull

static uint8_t model[8u << 20];   /* SPAN, and room for reads past it */
static uint64_t model_size;
static uint8_t *buf, *rbuf;
static uint64_t verf;
static const char *LN;

static uint32_t rnd(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

static void do_write(struct bt_client *c, uint64_t off, uint32_t len, uint32_t seed, bool stable)
{
	struct slb_write_res w;

	bt_fill(buf, len, seed, off);
	int st = bt_write(c, OBJ, off, buf, len, stable ? SLB_STABLE : 0, &w);
	CHECK(st == 0, "%s: WRITE %u bytes at %llu: %d (%s)", LN, len, (unsigned long long)off, st,
	      tpz_strerror(st));
	memcpy(model + off, buf, len);
	if (off + len > model_size)
		model_size = off + len;
	CHECK(w.size == model_size, "%s: WRITE at %llu+%u: size %llu, want %llu", LN,
	      (unsigned long long)off, len, (unsigned long long)w.size, (unsigned long long)model_size);
	CHECK(w.stable == (stable ? 1u : 0u), "%s: WRITE stable=%d acknowledged as %u", LN, stable, w.stable);
	if (!verf)
		verf = w.verf;
	CHECK(w.verf == verf, "%s: verifier changed from %016llx to %016llx without a restart", LN,
	      (unsigned long long)verf, (unsigned long long)w.verf);
}

static void do_read(struct bt_client *c, uint64_t off, uint32_t len)
{
	struct slb_read_res r;

	memset(rbuf, 0xee, len);
	int st = bt_read(c, OBJ, off, rbuf, len, &r);
	CHECK(st == 0, "%s: READ %u bytes at %llu: %d (%s)", LN, len, (unsigned long long)off, st,
	      tpz_strerror(st));
	CHECK(r.size == model_size, "%s: READ size %llu, want %llu", LN, (unsigned long long)r.size,
	      (unsigned long long)model_size);
	if (!verf)
		verf = r.verf;
	CHECK(r.verf == verf, "%s: READ verifier %016llx, want %016llx", LN, (unsigned long long)r.verf,
	      (unsigned long long)verf);
	for (uint32_t i = 0; i < len; i++)
		CHECK(rbuf[i] == model[off + i], "%s: READ %u bytes at %llu: byte %llu is %#x, want %#x", LN,
		      len, (unsigned long long)off, (unsigned long long)(off + i), rbuf[i], model[off + i]);
}

static void run(enum tl_link link, const char *cache_mb)
{
	struct bt_daemon *d;
	struct bt_client c;
	char ln[64];

	snprintf(ln, sizeof(ln), "%s, cache %s MiB", tl_link_name(link), cache_mb);
	LN = ln;
	memset(model, 0, sizeof(model));
	model_size = 0;
	verf = 0;
	d = bt_new(BT_SERVER, link);
	d->extra[0] = "--cache-mb";
	d->extra[1] = cache_mb;
	bt_start(d);
	bt_connect(&c, d, 1);

	do_read(&c, 0, 4096);                /* never written: zeros, size 0 */
	do_write(&c, 0, 4096, 1, false);                  /* aligned block */
	do_read(&c, 0, 4096);
	do_write(&c, 4090, 13, 2, false);                 /* across a 4 KiB boundary */
	do_read(&c, 0, 8192);
	do_write(&c, 65530, 20, 3, true);                 /* across a 64 KiB cache block */
	do_read(&c, 65536 - 100, 200);
	do_read(&c, 0, 70000);
	do_write(&c, 100, 5000, 4, false);                /* overlaps the first two */
	do_write(&c, 3000, 100, 5, false);                /* inside the last one */
	do_read(&c, 0, 8192);
	do_write(&c, 1u << 20, 1u << 20, 6, true);        /* 1 MiB, aligned, stable */
	do_read(&c, 1u << 20, 1u << 20);
	do_write(&c, 12345, 1u << 20, 7, false);          /* 1 MiB at an odd offset */
	do_read(&c, 12345, 1u << 20);                     /* 17 cache blocks: one bounce */
	do_read(&c, 0, 1u << 20);
	do_read(&c, (2u << 20) - 1000, 1u << 20);         /* runs past the end: zeros */
	do_read(&c, 5u << 20, 4096);                      /* wholly past the end */
	do_read(&c, 77, 0);                               /* nothing */

	uint32_t s = 0x1234567;
	for (int i = 0; i < 300; i++) {
		uint32_t len = rnd(&s) % (rnd(&s) % 4 == 0 ? 300000 : 9000) + 1;
		uint64_t off = rnd(&s) % (SPAN - len);
		if (rnd(&s) % 3 == 0)
			do_write(&c, off, len, 100 + (uint32_t)i, rnd(&s) % 8 == 0);
		else
			do_read(&c, off, len);
	}
	do_read(&c, 0, 1u << 20);
	do_read(&c, 1u << 20, 1u << 20);
	do_read(&c, 2u << 20, 1u << 20);

	struct slb_stat_res stt;
	CHECK_RC(bt_stat(&c, OBJ, &stt), 0);
	CHECK(stt.size == model_size, "%s: STAT size %llu, want %llu", LN, (unsigned long long)stt.size,
	      (unsigned long long)model_size);
	CHECK(stt.allocated > 0 && stt.mtime_ns > 0, "%s: STAT allocated %llu mtime %llu", LN,
	      (unsigned long long)stt.allocated, (unsigned long long)stt.mtime_ns);
	struct slb_blockd_counters k = bt_counters(&c);
	NOTE("%s: reads %llu (hits %llu, misses %llu), writes %llu, crc errors %llu, errors %llu", LN,
	     (unsigned long long)k.reads, (unsigned long long)k.cache_hits,
	     (unsigned long long)k.cache_misses, (unsigned long long)k.writes,
	     (unsigned long long)k.crc_errors, (unsigned long long)k.errors);
	CHECK(k.crc_errors == 0 && k.errors == 0, "%s: %llu CRC errors, %llu error replies", LN,
	      (unsigned long long)k.crc_errors, (unsigned long long)k.errors);
	bt_disconnect(&c);
	bt_stop(d);
	printf("t-blockd-rw: %s: done\n", LN);
}

int main(int argc, char **argv)
{
	tl_init(argc, argv, 60);
	buf = malloc(1u << 20);
	rbuf = malloc(1u << 20);
	CHECK(buf && rbuf, "malloc");
	run(TL_SHM, "8");
	run(TL_TCP, "8");
	run(TL_SHM, "0");
	free(buf);
	free(rbuf);
	return tl_finish();
}
