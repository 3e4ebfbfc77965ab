/*
 * t-blockd-sparse: objects are sparse byte arrays (over shm).  Holes and
 * bytes past the end read as zeros and never as corrupt; an object never
 * written reads as zeros with size 0 and STAT says -ENOENT; the size is
 * the highest byte written + 1; a far-out write costs little storage
 * (allocated stays small); a striped layout (every third 64 KiB unit on
 * this server, the rest holes) reads back; any 64-bit id works (0 and
 * 2^64-1); STATFS counts the objects and shows the cache and the same
 * verifier the writes carry.
 */
#include "blockd_testlib.h"

#define UNIT (64u << 10)

static uint8_t buf[1u << 20], rbuf[1u << 20];

static void expect_zeros(struct bt_client *c, uint64_t obj, uint64_t off, uint32_t len, uint64_t size)
{
	struct slb_read_res r;

	memset(rbuf, 0xaa, len);
	int st = bt_read(c, obj, off, rbuf, len, &r);
	CHECK(st == 0, "READ obj %#llx %u at %llu: %d (%s)", (unsigned long long)obj, len,
	      (unsigned long long)off, st, tpz_strerror(st));
	CHECK(tl_all_bytes(rbuf, len, 0), "READ obj %#llx %u at %llu: not all zeros",
	      (unsigned long long)obj, len, (unsigned long long)off);
	CHECK(r.size == size, "READ obj %#llx: size %llu, want %llu", (unsigned long long)obj,
	      (unsigned long long)r.size, (unsigned long long)size);
}

int main(int argc, char **argv)
{
	struct bt_daemon *d;
	struct bt_client c;
	struct slb_write_res w;
	struct slb_read_res r;
	struct slb_stat_res s;

	tl_init(argc, argv, 30);
	d = bt_new(BT_SERVER, TL_SHM);
	d->extra[0] = "--cache-mb";
	d->extra[1] = "4";
	bt_start(d);
	bt_connect(&c, d, 1);

	/* Never written. */
	expect_zeros(&c, 0x77, 0, 1u << 20, 0);
	expect_zeros(&c, 0x77, SLB_BLOCKD_SIZE_MAX - 4096, 4096, 0);
	CHECK_RC(bt_stat(&c, 0x77, &s), -ENOENT);

	/* 100 bytes 10 MiB out: a hole before them, nothing after. */
	const uint64_t far = 10u << 20;
	bt_fill(buf, 100, 1, far);
	CHECK_RC(bt_write(&c, 1, far, buf, 100, SLB_STABLE, &w), 0);
	CHECK(w.size == far + 100, "size after a far write: %llu", (unsigned long long)w.size);
	uint64_t verf = w.verf;
	expect_zeros(&c, 1, 0, 1u << 20, far + 100);
	expect_zeros(&c, 1, far - (1u << 20), 1u << 20, far + 100);
	memset(rbuf, 0xaa, 300);
	CHECK_RC(bt_read(&c, 1, far - 100, rbuf, 300, &r), 0);
	CHECK(tl_all_bytes(rbuf, 100, 0) && bt_verify(rbuf + 100, 100, 1, far) < 0 &&
	      tl_all_bytes(rbuf + 200, 100, 0), "hole / data / past the end around a far write");
	expect_zeros(&c, 1, far + 100, 5000, far + 100);
	expect_zeros(&c, 1, 1ull << 40, 4096, far + 100);
	CHECK_RC(bt_stat(&c, 1, &s), 0);
	CHECK(s.size == far + 100, "STAT size %llu", (unsigned long long)s.size);
	CHECK(s.allocated > 0 && s.allocated <= (256u << 10), "STAT allocated %llu for 100 bytes at 10 MiB: "
	      "the object is not sparse", (unsigned long long)s.allocated);

	/* A striped layout: units 0, 3, 6, ... on this server. */
	for (uint32_t u = 0; u < 48; u += 3) {
		bt_fill(buf, UNIT, 2, (uint64_t)u * UNIT);
		CHECK_RC(bt_write(&c, 2, (uint64_t)u * UNIT, buf, UNIT, 0, &w), 0);
	}
	for (uint32_t u = 0; u < 48; u += 16) {
		CHECK_RC(bt_read(&c, 2, (uint64_t)u * UNIT, rbuf, 16 * UNIT, &r), 0);
		CHECK(r.size == 46ull * UNIT, "striped object size %llu", (unsigned long long)r.size);
		for (uint32_t k = 0; k < 16; k++) {
			uint64_t unit = u + k;
			const uint8_t *p = rbuf + (size_t)k * UNIT;
			if (unit % 3 == 0)
				CHECK(bt_verify(p, UNIT, 2, unit * UNIT) < 0, "striped unit %llu wrong",
				      (unsigned long long)unit);
			else if (unit < 46)
				CHECK(tl_all_bytes(p, UNIT, 0), "hole unit %llu not zeros", (unsigned long long)unit);
			else
				CHECK(tl_all_bytes(p, UNIT, 0), "unit %llu past the end not zeros",
				      (unsigned long long)unit);
		}
	}

	/* Any id. */
	static const uint64_t ids[] = { 0, UINT64_MAX, 0x8000000000000000ull };
	for (size_t i = 0; i < 3; i++) {
		bt_fill(buf, 777, 3 + (uint32_t)i, 5);
		CHECK_RC(bt_write(&c, ids[i], 5, buf, 777, 0, &w), 0);
		memset(rbuf, 0, 800);
		CHECK_RC(bt_read(&c, ids[i], 0, rbuf, 800, &r), 0);
		CHECK(tl_all_bytes(rbuf, 5, 0) && bt_verify(rbuf + 5, 777, 3 + (uint32_t)i, 5) < 0 &&
		      tl_all_bytes(rbuf + 782, 18, 0) && r.size == 782, "object id %#llx",
		      (unsigned long long)ids[i]);
	}

	struct slb_statfs_res f;
	CHECK_RC(bt_statfs(&c, &f), 0);
	NOTE("statfs: total %llu free %llu objects %llu cache %llu used %llu", (unsigned long long)f.total_bytes,
	     (unsigned long long)f.free_bytes, (unsigned long long)f.objects,
	     (unsigned long long)f.cache_bytes, (unsigned long long)f.cache_used);
	CHECK(f.objects == 5, "STATFS objects %llu, want 5", (unsigned long long)f.objects);
	CHECK(f.total_bytes > 0 && f.free_bytes > 0 && f.free_bytes <= f.total_bytes, "STATFS space");
	CHECK(f.cache_bytes == (4u << 20) && f.cache_used > 0 && f.cache_used <= f.cache_bytes,
	      "STATFS cache %llu used %llu", (unsigned long long)f.cache_bytes,
	      (unsigned long long)f.cache_used);
	CHECK(f.verf == verf, "STATFS verifier %016llx, writes said %016llx", (unsigned long long)f.verf,
	      (unsigned long long)verf);
	CHECK(bt_counters(&c).crc_errors == 0, "holes counted as CRC errors");

	/* The count survives a restart (it is counted from the directory). */
	bt_disconnect(&c);
	bt_stop(d);
	bt_start(d);
	bt_connect(&c, d, 1);
	CHECK_RC(bt_statfs(&c, &f), 0);
	CHECK(f.objects == 5 && f.verf != verf, "after a restart: objects %llu verifier %s",
	      (unsigned long long)f.objects, f.verf == verf ? "unchanged" : "new");
	bt_disconnect(&c);
	bt_stop(d);
	return tl_finish();
}
