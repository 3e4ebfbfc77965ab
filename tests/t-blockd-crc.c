/*
 * t-blockd-crc: a block corrupted on disk is never served.  Its READ
 * returns -EIO, the daemon logs it (object, block, CRCs) and counts it,
 * and the blocks around it still read, even the other 4 KiB blocks of the
 * same 64 KiB cache block.
 *
 * Corruptions, made while the daemon is stopped (so no cache holds the
 * block): a flipped byte in an object's data; a damaged checksum entry;
 * bytes in a hole (a hole must read as zeros).  Then, on a running daemon
 * without a cache (--cache-mb 0), over tcp: a byte flipped under it.
 * Also: a write that covers part of a corrupt block is refused with -EIO
 * and writes nothing (it would bless the bad bytes with a new CRC); a
 * write of the whole block replaces it and it reads again.
 */
#include "blockd_testlib.h"

#define OBJ  0xc0ffeeull
#define HOLE 0xd00dull
#define LEN  (256u << 10)

static uint8_t buf[1u << 20], rbuf[1u << 20];

static void obj_file(const struct bt_daemon *d, uint64_t obj, const char *ext, char *path, size_t len)
{
	snprintf(path, len, "%s/objects/%02x/%016llx.%s", d->data, (unsigned)(obj & 0xff),
		 (unsigned long long)obj, ext);
}

static void flip(const struct bt_daemon *d, uint64_t obj, const char *ext, uint64_t off, uint8_t x)
{
	char path[256];
	uint8_t b = 0;

	obj_file(d, obj, ext, path, sizeof(path));
	int fd = open(path, O_RDWR);
	CHECK(fd >= 0, "open %s: %s", path, strerror(errno));
	CHECK(pread(fd, &b, 1, (off_t)off) >= 0, "pread %s", path);
	b ^= x;
	CHECK(pwrite(fd, &b, 1, (off_t)off) == 1, "pwrite %s: %s", path, strerror(errno));
	close(fd);
}

static void expect_eio(struct bt_client *c, uint64_t obj, uint64_t off, uint32_t len, const char *what)
{
	memset(rbuf, 0x5a, len);
	int st = bt_read(c, obj, off, rbuf, len, NULL);
	CHECK(st == -EIO, "%s: READ %u at %llu: %d (%s), want -EIO", what, len, (unsigned long long)off, st,
	      tpz_strerror(st));
	CHECK(tl_all_bytes(rbuf, len, 0x5a), "%s: a failed READ wrote into the buffer", what);
}

static void expect_ok(struct bt_client *c, uint64_t obj, uint64_t off, uint32_t len, uint32_t seed,
		      const char *what)
{
	int st = bt_read(c, obj, off, rbuf, len, NULL);
	CHECK(st == 0, "%s: READ %u at %llu: %d (%s)", what, len, (unsigned long long)off, st, tpz_strerror(st));
	long bad = seed ? bt_verify(rbuf, len, seed, off) : (tl_all_bytes(rbuf, len, 0) ? -1 : 0);
	CHECK(bad < 0, "%s: READ %u at %llu: byte %ld wrong", what, len, (unsigned long long)off, bad);
}

int main(int argc, char **argv)
{
	struct bt_daemon *d, *d0;
	struct bt_client c;
	struct slb_write_res w;
	struct slb_read_res r;

	tl_init(argc, argv, 40);
	d = bt_new(BT_SERVER, TL_SHM);
	d->extra[0] = "--cache-mb";
	d->extra[1] = "4";
	bt_start(d);
	bt_connect(&c, d, 1);
	bt_fill(buf, LEN, 1, 0);
	CHECK_RC(bt_write(&c, OBJ, 0, buf, LEN, SLB_STABLE, &w), 0);
	bt_fill(buf, 100, 9, 1u << 20);
	CHECK_RC(bt_write(&c, HOLE, 1u << 20, buf, 100, SLB_STABLE, &w), 0);
	bt_disconnect(&c);
	bt_stop(d);

	flip(d, OBJ, "dat", 70000, 0x01);          /* block 17: data */
	flip(d, OBJ, "crc", 40 * 8 + 2, 0x80);     /* block 40: its CRC entry */
	flip(d, HOLE, "dat", 8192 + 5, 0x33);      /* block 2 of a hole: not zeros */
	bt_start(d);
	bt_connect(&c, d, 1);

	expect_eio(&c, OBJ, 65536, 65536, "cache block holding bad block 17");
	expect_eio(&c, OBJ, 69632 + 100, 10, "inside bad block 17");
	expect_eio(&c, OBJ, 0, LEN, "whole object");
	expect_ok(&c, OBJ, 0, 65536, 1, "cache block 0");
	expect_ok(&c, OBJ, 65536, 4096, 1, "block 16, beside bad block 17");
	expect_ok(&c, OBJ, 73728, 57344, 1, "blocks 18..31, after bad block 17");
	expect_eio(&c, OBJ, 65536, 65536, "bad block 17 again (never cached)");
	expect_eio(&c, OBJ, 40 * 4096, 4096, "block 40, whose CRC entry is damaged");
	expect_ok(&c, OBJ, 41 * 4096, 4096, 1, "block 41");
	expect_ok(&c, HOLE, 0, 8192, 0, "hole blocks 0 and 1");
	expect_eio(&c, HOLE, 8192, 4096, "hole block 2 with bytes in it");
	CHECK_RC(bt_read(&c, HOLE, 1u << 20, rbuf, 100, &r), 0);
	CHECK(bt_verify(rbuf, 100, 9, 1u << 20) < 0, "data after the damaged hole");

	struct slb_blockd_counters k = bt_counters(&c);
	CHECK(k.crc_errors >= 6, "crc_errors %llu, want at least 6", (unsigned long long)k.crc_errors);
	CHECK(bt_log_count(d, "CRC32C mismatch") >= 6 && bt_log_count(d, "0000000000c0ffee block 17") >= 1 &&
	      bt_log_count(d, "0000000000c0ffee block 40") >= 1 &&
	      bt_log_count(d, "000000000000d00d block 2") >= 1, "the log does not name the bad blocks");

	/* Part of the bad block: refused, nothing written. */
	bt_fill(buf, 10, 2, 70000);
	CHECK_RC(bt_write(&c, OBJ, 70000, buf, 10, 0, &w), -EIO);
	expect_eio(&c, OBJ, 69632, 4096, "bad block 17 after a refused partial write");
	expect_ok(&c, OBJ, 65536, 4096, 1, "block 16 after a refused partial write");
	bt_fill(buf, 4000, 2, 260000);                 /* past the end, and partial: fine */
	CHECK_RC(bt_write(&c, OBJ, 260000, buf, 4000, 0, &w), 0);
	/* The whole block: replaced. */
	bt_fill(buf, 4096, 3, 69632);
	CHECK_RC(bt_write(&c, OBJ, 69632, buf, 4096, SLB_STABLE, &w), 0);
	expect_ok(&c, OBJ, 69632, 4096, 3, "block 17 rewritten");
	expect_ok(&c, OBJ, 65536, 4096, 1, "block 16 after block 17 was rewritten");
	bt_disconnect(&c);
	bt_stop(d);

	/* Under a running daemon that keeps nothing in memory. */
	d0 = bt_new(BT_SERVER, TL_TCP);
	d0->extra[0] = "--cache-mb";
	d0->extra[1] = "0";
	bt_start(d0);
	bt_connect(&c, d0, 1);
	bt_fill(buf, LEN, 4, 0);
	CHECK_RC(bt_write(&c, OBJ, 0, buf, LEN, 0, &w), 0);
	expect_ok(&c, OBJ, 0, LEN, 4, "tcp, no cache, before");
	flip(d0, OBJ, "dat", 200000, 0x10);       /* block 48 */
	expect_eio(&c, OBJ, 196608, 4096, "tcp, no cache: block flipped under the daemon");
	expect_ok(&c, OBJ, 0, 196608, 4, "tcp, no cache: blocks before it");
	CHECK(bt_log_count(d0, "0000000000c0ffee block 48") >= 1, "no log line for block 48");
	bt_disconnect(&c);
	bt_stop(d0);
	return tl_finish();
}
