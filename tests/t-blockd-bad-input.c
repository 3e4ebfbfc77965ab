/*
 * t-blockd-bad-input: malformed requests get an error reply, write
 * nothing, and leave the daemon serving (over shm, then tcp).
 *
 * Arguments of the wrong size (short, long, none) -> -EBADMSG; a READ or
 * WRITE over SLB_IO_MAX, a WRITE whose length is not its payload's (more,
 * less, none at all), a range that wraps around 2^64 or ends past
 * SLB_BLOCKD_SIZE_MAX, unknown flag bits, a payload on an op that takes
 * none, a TRUNCATE past the limit -> -EINVAL; an op the server does not
 * have -> -EOPNOTSUPP.  Afterwards: none of the objects those requests
 * named exists (STAT -ENOENT, STATFS counts 0 objects), an existing
 * object is unchanged, every bad request was counted as an error, and
 * well-formed requests are still served.
 */
#include "blockd_testlib.h"

#define GOOD 0x600dull

static uint8_t buf[1u << 20];

struct raw_case {
	const char *name;
	uint16_t    op;
	uint8_t     args[64];
	uint32_t    args_len;
	uint32_t    payload_len;    /* bytes of payload sent */
	int         want;
};

static int nb;
static struct raw_case cases[40];

static void add(const char *name, uint16_t op, const void *args, uint32_t args_len, uint32_t payload_len,
		int want)
{
	struct raw_case *k = &cases[nb++];

	k->name = name;
	k->op = op;
	memcpy(k->args, args, args_len);
	k->args_len = args_len;
	k->payload_len = payload_len;
	k->want = want;
}

static void rw(const char *name, uint16_t op, uint64_t obj, uint64_t off, uint32_t len, uint32_t flags,
	       uint32_t payload_len, int want)
{
	struct slb_rw a = { .obj = obj, .off = off, .len = len, .flags = flags };

	add(name, op, &a, sizeof(a), payload_len, want);
}

static void build_cases(void)
{
	uint8_t z[64] = { 0 };
	struct slb_trunc t = { .obj = 20, .size = SLB_BLOCKD_SIZE_MAX + 1 };
	struct slb_obj o = { .obj = 21 };

	nb = 0;
	add("READ, 16 bytes of arguments", SLB_READ, z, 16, 0, -EBADMSG);
	add("READ, 32 bytes of arguments", SLB_READ, z, 32, 0, -EBADMSG);
	add("WRITE, no arguments", SLB_WRITE, z, 0, 100, -EBADMSG);
	add("WRITE, 23 bytes of arguments", SLB_WRITE, z, 23, 100, -EBADMSG);
	add("COMMIT, 16 bytes of arguments", SLB_COMMIT, z, 16, 0, -EBADMSG);
	add("STAT, 4 bytes of arguments", SLB_STAT, z, 4, 0, -EBADMSG);
	add("REMOVE, no arguments", SLB_REMOVE, z, 0, 0, -EBADMSG);
	add("TRUNCATE, 8 bytes of arguments", SLB_TRUNCATE, &o, 8, 0, -EBADMSG);
	add("STATFS with arguments", SLB_STATFS, z, 8, 0, -EBADMSG);
	add("COUNTERS with arguments", SLB_BLOCKD_COUNTERS, z, 8, 0, -EBADMSG);
	rw("READ over SLB_IO_MAX", SLB_READ, 10, 0, SLB_IO_MAX + 1, 0, 0, -EINVAL);
	rw("WRITE over SLB_IO_MAX", SLB_WRITE, 11, 0, SLB_IO_MAX + 4096, 0, 4096, -EINVAL);
	rw("WRITE, len 100 with 50 bytes", SLB_WRITE, 12, 0, 100, 0, 50, -EINVAL);
	rw("WRITE, len 50 with 100 bytes", SLB_WRITE, 13, 0, 50, 0, 100, -EINVAL);
	rw("WRITE, len 10 with no payload", SLB_WRITE, 14, 0, 10, 0, 0, -EINVAL);
	rw("WRITE wrapping around 2^64", SLB_WRITE, 15, UINT64_MAX - 10, 100, 0, 100, -EINVAL);
	rw("WRITE past SLB_BLOCKD_SIZE_MAX", SLB_WRITE, 16, SLB_BLOCKD_SIZE_MAX - 50, 100, 0, 100, -EINVAL);
	rw("READ wrapping around 2^64", SLB_READ, 17, UINT64_MAX - 10, 100, 0, 0, -EINVAL);
	rw("WRITE, unknown flag 0x80", SLB_WRITE, 18, 0, 100, 0x80, 100, -EINVAL);
	rw("READ, unknown flag 0x2", SLB_READ, 19, 0, 100, 0x2, 0, -EINVAL);
	rw("READ with a payload", SLB_READ, 22, 0, 100, 0, 100, -EINVAL);
	add("TRUNCATE past SLB_BLOCKD_SIZE_MAX", SLB_TRUNCATE, &t, sizeof(t), 0, -EINVAL);
	add("COMMIT with a payload", SLB_COMMIT, &o, sizeof(o), 4096, -EINVAL);
	add("op 0x0108 (none)", 0x0108, &o, sizeof(o), 0, -EOPNOTSUPP);
	add("op 0xffff (none)", 0xffff, z, 0, 0, -EOPNOTSUPP);
}

static void run(enum tl_link link)
{
	const char *ln = tl_link_name(link);
	struct bt_daemon *d = bt_new(BT_SERVER, link);
	struct bt_client c;
	struct slb_write_res w;
	struct slb_stat_res s;

	bt_start(d);
	bt_connect(&c, d, 1);
	bt_fill(buf, 10000, 1, 0);
	CHECK_RC(bt_write(&c, GOOD, 0, buf, 10000, SLB_STABLE, &w), 0);
	struct slb_blockd_counters k0 = bt_counters(&c);

	build_cases();
	for (int i = 0; i < nb; i++) {
		struct raw_case *k = &cases[i];
		struct tpz_payload pl = nt_buf_payload(buf, k->payload_len);
		struct nrpc_result res;
		int st = bt_call(&c, k->op, k->args, k->args_len, k->payload_len ? &pl : NULL, NULL, &res);
		CHECK(st == k->want, "%s: %s: status %d (%s), want %d (%s)", ln, k->name, st, tpz_strerror(st),
		      k->want, tpz_strerror(k->want));
		CHECK(res.payload_len == 0, "%s: %s: the error reply carries %u bytes of payload", ln, k->name,
		      res.payload_len);
	}

	/* Nothing written, nothing made. */
	for (uint64_t obj = 10; obj <= 22; obj++)
		CHECK_RC(bt_stat(&c, obj, &s), -ENOENT);
	struct slb_statfs_res f;
	CHECK_RC(bt_statfs(&c, &f), 0);
	CHECK(f.objects == 1, "%s: STATFS objects %llu after bad requests, want 1", ln,
	      (unsigned long long)f.objects);
	CHECK_RC(bt_read(&c, GOOD, 0, buf, 20000, NULL), 0);
	CHECK(bt_verify(buf, 10000, 1, 0) < 0 && tl_all_bytes(buf + 10000, 10000, 0), "%s: the good object "
	      "changed", ln);
	CHECK_RC(bt_stat(&c, GOOD, &s), 0);
	CHECK(s.size == 10000, "%s: good object size %llu", ln, (unsigned long long)s.size);
	struct slb_blockd_counters k1 = bt_counters(&c);
	/* The unknown ops are answered by NetRPC, not counted by the daemon. */
	uint64_t want_errors = (uint64_t)nb - 2 + 13;    /* + the 13 STATs of missing objects */
	CHECK(k1.errors - k0.errors == want_errors, "%s: the daemon counted %llu errors, want %llu", ln,
	      (unsigned long long)(k1.errors - k0.errors), (unsigned long long)want_errors);
	CHECK(k1.writes == k0.writes, "%s: a bad WRITE was counted as written", ln);

	/* Still serving. */
	bt_fill(buf, 5000, 2, 3);
	CHECK_RC(bt_write(&c, GOOD, 3, buf, 5000, 0, &w), 0);
	CHECK_RC(bt_read(&c, GOOD, 3, buf, 5000, NULL), 0);
	CHECK(bt_verify(buf, 5000, 2, 3) < 0, "%s: a write after the bad requests did not read back", ln);
	bt_disconnect(&c);
	bt_stop(d);
	printf("t-blockd-bad-input: %s: %d bad requests refused\n", ln, nb);
}

int main(int argc, char **argv)
{
	tl_init(argc, argv, 40);
	run(TL_SHM);
	run(TL_TCP);
	return tl_finish();
}
