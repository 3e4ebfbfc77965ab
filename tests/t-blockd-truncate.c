/*
 * t-blockd-truncate: TRUNCATE and REMOVE (over tcp, with a cache).
 *
 * Shrinking inside a block zeroes the rest of it and everything after,
 * also in blocks the cache held (each step reads the range first so the
 * cache has it); growing adds zeros; the reply says size, verifier and
 * stable; truncating a missing object creates it; writes after a shrink
 * land in a clean tail.  REMOVE makes STAT -ENOENT and reads zeros (cache
 * included), removing a missing object is 0, and an object written again
 * after a remove has none of its old bytes.  TRUNCATE and REMOVE are
 * durable on reply: after kill -9 and a restart, sizes and bytes are as
 * they were answered.
 */
#include "blockd_testlib.h"

#define OBJ 0x7a11ull

static uint8_t buf[1u << 20], rbuf[1u << 20];

/* Bytes [0, len) of obj: the pattern (seed) below `data_end`, zeros after. */
static void expect(struct bt_client *c, uint64_t obj, uint32_t len, uint32_t seed, uint64_t data_end,
		   uint64_t size, const char *when)
{
	struct slb_read_res r;

	memset(rbuf, 0xaa, len);
	CHECK_RC(bt_read(c, obj, 0, rbuf, len, &r), 0);
	CHECK(r.size == size, "%s: size %llu, want %llu", when, (unsigned long long)r.size,
	      (unsigned long long)size);
	uint64_t n = data_end < len ? data_end : len;
	long bad = bt_verify(rbuf, n, seed, 0);
	CHECK(bad < 0, "%s: byte %ld is not the data", when, bad);
	for (uint64_t i = n; i < len; i++)
		CHECK(rbuf[i] == 0, "%s: byte %llu is %#x, want 0 (past the cut)", when,
		      (unsigned long long)i, rbuf[i]);
}

static void trunc_to(struct bt_client *c, uint64_t obj, uint64_t size)
{
	struct slb_write_res w;

	CHECK_RC(bt_truncate(c, obj, size, &w), 0);
	CHECK(w.size == size && w.stable == 1 && w.verf != 0, "TRUNCATE to %llu: size %llu stable %u",
	      (unsigned long long)size, (unsigned long long)w.size, w.stable);
}

int main(int argc, char **argv)
{
	struct bt_daemon *d;
	struct bt_client c;
	struct slb_write_res w;
	struct slb_stat_res s;

	tl_init(argc, argv, 40);
	d = bt_new(BT_SERVER, TL_TCP);
	d->extra[0] = "--cache-mb";
	d->extra[1] = "4";
	bt_start(d);
	bt_connect(&c, d, 1);

	bt_fill(buf, 300000, 1, 0);
	CHECK_RC(bt_write(&c, OBJ, 0, buf, 300000, 0, &w), 0);
	expect(&c, OBJ, 400000, 1, 300000, 300000, "written");            /* now cached */
	trunc_to(&c, OBJ, 100001);                                         /* inside a block */
	expect(&c, OBJ, 400000, 1, 100001, 100001, "shrunk to 100001");
	trunc_to(&c, OBJ, 250000);                                         /* grow: zeros */
	expect(&c, OBJ, 400000, 1, 100001, 250000, "grown to 250000");
	trunc_to(&c, OBJ, 65536);                                          /* on a cache block */
	expect(&c, OBJ, 400000, 1, 65536, 65536, "shrunk to 65536");
	trunc_to(&c, OBJ, 65536);                                          /* same size */
	expect(&c, OBJ, 100000, 1, 65536, 65536, "truncated to its size");
	/* A write past a shrink: the gap is zeros, not the old bytes. */
	bt_fill(buf, 1000, 1, 200000);
	CHECK_RC(bt_write(&c, OBJ, 200000, buf, 1000, 0, &w), 0);
	CHECK(w.size == 201000, "write after the shrink: size %llu", (unsigned long long)w.size);
	CHECK_RC(bt_read(&c, OBJ, 0, rbuf, 210000, NULL), 0);
	CHECK(bt_verify(rbuf, 65536, 1, 0) < 0 && tl_all_bytes(rbuf + 65536, 200000 - 65536, 0) &&
	      bt_verify(rbuf + 200000, 1000, 1, 200000) < 0 && tl_all_bytes(rbuf + 201000, 9000, 0),
	      "data / zeros / data / zeros after shrink and write");
	trunc_to(&c, OBJ, 0);
	expect(&c, OBJ, 300000, 1, 0, 0, "truncated to 0");
	CHECK_RC(bt_stat(&c, OBJ, &s), 0);
	CHECK(s.size == 0, "STAT after truncate to 0: size %llu", (unsigned long long)s.size);

	/* A missing object: truncate creates it. */
	trunc_to(&c, 0x999, 12345);
	CHECK_RC(bt_stat(&c, 0x999, &s), 0);
	CHECK(s.size == 12345, "STAT of an object made by TRUNCATE: size %llu", (unsigned long long)s.size);
	expect(&c, 0x999, 20000, 0, 0, 12345, "made by truncate");

	/* REMOVE. */
	bt_fill(buf, 200000, 2, 0);
	CHECK_RC(bt_write(&c, 0x5, 0, buf, 200000, SLB_STABLE, &w), 0);
	expect(&c, 0x5, 200000, 2, 200000, 200000, "before remove");        /* cached */
	CHECK_RC(bt_remove(&c, 0x5), 0);
	CHECK_RC(bt_stat(&c, 0x5, &s), -ENOENT);
	expect(&c, 0x5, 200000, 0, 0, 0, "removed");
	CHECK_RC(bt_remove(&c, 0x5), 0);
	CHECK_RC(bt_remove(&c, 0x123456789ull), 0);
	bt_fill(buf, 100, 3, 0);
	CHECK_RC(bt_write(&c, 0x5, 0, buf, 100, 0, &w), 0);
	CHECK(w.size == 100, "rewritten after remove: size %llu", (unsigned long long)w.size);
	expect(&c, 0x5, 200000, 3, 100, 100, "rewritten after remove");
	CHECK_RC(bt_remove(&c, 0x5), 0);

	/* Durable on reply. */
	bt_fill(buf, 500000, 4, 0);
	CHECK_RC(bt_write(&c, 0x6, 0, buf, 500000, SLB_STABLE, &w), 0);
	trunc_to(&c, 0x6, 123457);
	CHECK_RC(bt_write(&c, 0x7, 0, buf, 5000, SLB_STABLE, &w), 0);
	CHECK_RC(bt_remove(&c, 0x7), 0);
	struct slb_statfs_res f;
	CHECK_RC(bt_statfs(&c, &f), 0);
	CHECK(f.objects == 3, "STATFS objects %llu, want 3 (OBJ, 0x999, 0x6)", (unsigned long long)f.objects);
	bt_disconnect(&c);
	bt_kill9(d);
	bt_start(d);
	bt_connect(&c, d, 1);
	expect(&c, 0x6, 500000, 4, 123457, 123457, "truncated, then kill -9");
	CHECK_RC(bt_stat(&c, 0x7, &s), -ENOENT);
	expect(&c, 0x999, 20000, 0, 0, 12345, "made by truncate, then kill -9");
	CHECK_RC(bt_statfs(&c, &f), 0);
	CHECK(f.objects == 3, "STATFS objects after kill -9: %llu, want 3", (unsigned long long)f.objects);
	CHECK(bt_counters(&c).crc_errors == 0, "CRC errors after truncates");
	bt_disconnect(&c);
	bt_stop(d);
	return tl_finish();
}
