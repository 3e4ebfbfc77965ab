/*
 * t-blockd-many-objects: more objects than the daemon keeps open
 * (--max-open 4, 40 objects, over shm).
 *
 * Unstable writes go round the objects three times, so objects holding
 * unsynced writes are closed to make room (the daemon syncs them as it
 * closes them) and opened again; reads interleave.  Checked: every read
 * returns the last bytes written, every COMMIT answers with the writes'
 * verifier (nothing was lost on the way), STATFS counts 40 objects, a
 * restart finds all of them intact, and removing half of them leaves 20.
 */
#include "blockd_testlib.h"

#define NOBJ 40u
#define LEN  20000u

static uint8_t buf[LEN], rbuf[LEN];

static uint32_t seed(uint32_t obj, uint32_t round)
{
	return 1000u * round + obj;
}

static void check(struct bt_client *c, uint32_t obj, uint32_t round, const char *when)
{
	memset(rbuf, 0, LEN);
	CHECK_RC(bt_read(c, obj, 0, rbuf, LEN, NULL), 0);
	CHECK(bt_verify(rbuf, LEN, seed(obj, round), 0) < 0, "%s: object %u does not hold round %u", when,
	      obj, round);
}

int main(int argc, char **argv)
{
	struct bt_daemon *d;
	struct bt_client c;
	struct slb_write_res w, cm;
	struct slb_statfs_res f;
	uint64_t verf = 0;

	tl_init(argc, argv, 40);
	d = bt_new(BT_SERVER, TL_SHM);
	d->extra[0] = "--max-open";
	d->extra[1] = "4";
	d->extra[2] = "--cache-mb";
	d->extra[3] = "1";
	bt_start(d);
	bt_connect(&c, d, 1);
	for (uint32_t round = 0; round < 3; round++) {
		for (uint32_t obj = 0; obj < NOBJ; obj++) {
			bt_fill(buf, LEN, seed(obj, round), 0);
			CHECK_RC(bt_write(&c, obj, 0, buf, LEN, 0, &w), 0);
			if (!verf)
				verf = w.verf;
			CHECK(w.verf == verf, "verifier changed during round %u", round);
			if (obj >= 7)
				check(&c, obj - 7, round, "interleaved");
		}
	}
	for (uint32_t obj = 0; obj < NOBJ; obj++) {
		check(&c, obj, 2, "after the writes");
		CHECK_RC(bt_commit(&c, obj, &cm), 0);
		CHECK(cm.verf == verf && cm.size == LEN, "COMMIT of object %u: verifier %s, size %llu", obj,
		      cm.verf == verf ? "same" : "changed", (unsigned long long)cm.size);
	}
	CHECK_RC(bt_statfs(&c, &f), 0);
	CHECK(f.objects == NOBJ, "STATFS objects %llu, want %u", (unsigned long long)f.objects, NOBJ);
	bt_disconnect(&c);
	bt_stop(d);
	CHECK(bt_log_count(d, "sync failed") == 0, "a sync failed");

	bt_start(d);
	bt_connect(&c, d, 1);
	for (uint32_t obj = 0; obj < NOBJ; obj++)
		check(&c, obj, 2, "after a restart");
	for (uint32_t obj = 0; obj < NOBJ; obj += 2)
		CHECK_RC(bt_remove(&c, obj), 0);
	CHECK_RC(bt_statfs(&c, &f), 0);
	CHECK(f.objects == NOBJ / 2, "STATFS objects %llu after removing half, want %u",
	      (unsigned long long)f.objects, NOBJ / 2);
	for (uint32_t obj = 1; obj < NOBJ; obj += 2)
		check(&c, obj, 2, "beside removed objects");
	CHECK(bt_counters(&c).crc_errors == 0, "CRC errors");
	bt_disconnect(&c);
	bt_stop(d);
	return tl_finish();
}
