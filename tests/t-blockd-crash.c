/*
 * t-blockd-crash: what slice-blockd acknowledged survives kill -9 of the
 * server and a restart on the same data directory, and the boot verifier
 * tells a client what may not have.
 *
 *   1. A write acknowledged stable reads back intact after kill -9.
 *   2. An unstable write, kill -9, restart: COMMIT of that object answers
 *      with a verifier different from the write's (the client must write
 *      again), and stable = 1.
 *   3. Unstable writes then a COMMIT (same verifier as the writes): intact
 *      after kill -9.
 *   4. kill -9 while writes are in flight (three rounds, over shm and tcp;
 *      writes at odd offsets, so their first and last blocks are
 *      read-modify-written): every write acknowledged stable is there;
 *      for the others every 4 KiB block holds either its old bytes or the
 *      write's, and no read fails its CRC.  (Nothing is promised about
 *      blocks that were not acknowledged, except that they never read as
 *      wrong data: a torn block would be a CRC error.)
 */
#include "blockd_testlib.h"

#define CH     (64u << 10)
#define NCH    32u
#define SKEW   1000u          /* chunk k is written at k * CH + SKEW */

static uint8_t buf[3u << 20], rbuf[3u << 20];

static void restart(struct bt_daemon *d, struct bt_client *c)
{
	bt_disconnect(c);
	bt_kill9(d);
	bt_start(d);
	bt_connect(c, d, 1);
}

static void expect_data(struct bt_client *c, uint64_t obj, uint32_t len, uint32_t seed, const char *what)
{
	struct slb_read_res r;

	memset(rbuf, 0, len);
	bt_read_all(c, obj, 0, rbuf, len, &r);
	CHECK(r.size == len, "%s: size %llu, want %u", what, (unsigned long long)r.size, len);
	long bad = bt_verify(rbuf, len, seed, 0);
	CHECK(bad < 0, "%s: byte %ld lost", what, bad);
}

/* ---- 4: kill -9 with writes in flight ----------------------------------------- */

static int acked[NCH];   /* 0 in flight, 1 acknowledged, -1 failed */
static uint32_t nended;

static void on_write(struct nrpc *r, struct nrpc_result *res, void *arg)
{
	uint32_t k = (uint32_t)(uintptr_t)arg;

	acked[k] = res->status == 0 ? 1 : -1;
	nended++;
}

static void in_flight_round(struct bt_daemon *d, struct bt_client *c, uint64_t obj, uint32_t round)
{
	static struct slb_rw args[NCH];
	static struct tpz_payload pls[NCH];
	static uint8_t data[NCH][CH];
	uint32_t s0 = 100 + round, s1 = 200 + round;
	struct slb_write_res w;

	/* The old bytes, stable. */
	bt_fill(buf, NCH * CH + 2 * SKEW, s0, 0);
	bt_write_all(c, obj, 0, buf, NCH * CH + 2 * SKEW, SLB_STABLE, &w);
	memset(acked, 0, sizeof(acked));
	nended = 0;
	for (uint32_t k = 0; k < NCH; k++) {
		uint64_t off = (uint64_t)k * CH + SKEW;
		bt_fill(data[k], CH, s1, off);
		args[k] = (struct slb_rw){ .obj = obj, .off = off, .len = CH, .flags = SLB_STABLE };
		pls[k] = nt_buf_payload(data[k], CH);
		struct nrpc_call_desc dd = { .dst = c->server, .op = SLB_WRITE, .args = &args[k],
					     .args_len = sizeof(args[k]), .payload = &pls[k] };
		nrpc_call_t call;
		int rc;
		while ((rc = nrpc_call_async(c->r, &dd, NRPC_CONT, on_write, (void *)(uintptr_t)k, &call)) ==
		       -EAGAIN || rc == -ENOBUFS)
			nrpc_poll(c->r, 0);
		CHECK(rc == 0, "issue write %u: %d %s", k, rc, tpz_strerror(rc));
		if (k == NCH / 4)   /* some answered, most in flight */
			NRPC_POLL_UNTIL(c->r, nended >= 2, 5000);
	}
	bt_kill9(d);
	CHECK(NRPC_POLL_UNTIL(c->r, nended == NCH, 5000), "round %u: %u of %u writes ended after kill -9",
	      round, nended, NCH);
	uint32_t nack = 0;
	for (uint32_t k = 0; k < NCH; k++)
		nack += acked[k] == 1;
	bt_disconnect(c);
	bt_start(d);
	bt_connect(c, d, 1);

	uint32_t len = NCH * CH + 2 * SKEW;
	struct slb_read_res r;
	memset(rbuf, 0, len);
	bt_read_all(c, obj, 0, rbuf, len, &r);
	uint32_t nnew = 0;
	for (uint32_t k = 0; k < NCH; k++) {
		uint64_t off = (uint64_t)k * CH + SKEW;
		if (acked[k] == 1) {
			long bad = bt_verify(rbuf + off, CH, s1, off);
			CHECK(bad < 0, "round %u: write %u was acknowledged stable; byte %ld of it lost", round, k,
			      bad);
			nnew++;
			continue;
		}
		/* Each block: old bytes, or the write's bytes where it wrote. */
		for (uint64_t b = off / 4096; b <= (off + CH - 1) / 4096; b++) {
			uint64_t lo = b * 4096 > off ? b * 4096 : off;
			uint64_t hi = (b + 1) * 4096 < off + CH ? (b + 1) * 4096 : off + CH;
			bool old = bt_verify(rbuf + lo, hi - lo, s0, lo) < 0;
			bool new = bt_verify(rbuf + lo, hi - lo, s1, lo) < 0;
			CHECK(old || new, "round %u: unacknowledged write %u: block %llu holds neither the old "
			      "bytes nor the new", round, k, (unsigned long long)b);
		}
	}
	NOTE("%s round %u: %u of %u writes acknowledged before kill -9", tl_link_name(d->link), round, nack,
	     NCH);
	CHECK(bt_counters(c).crc_errors == 0, "round %u: CRC errors after kill -9", round);
}

static void run(enum tl_link link)
{
	struct bt_daemon *d;
	struct bt_client c;
	struct slb_write_res w, cm;

	d = bt_new(BT_SERVER, link);
	bt_start(d);
	bt_connect(&c, d, 1);

	if (link == TL_SHM) {
		/* 1. Stable. */
		bt_fill(buf, (1u << 20) + 777, 1, 0);
		bt_write_all(&c, 1, 0, buf, (1u << 20) + 777, SLB_STABLE, &w);
		CHECK(w.stable == 1, "stable write acknowledged as unstable");
		/* 2. Unstable, never committed. */
		bt_fill(buf, 300000, 2, 0);
		CHECK_RC(bt_write(&c, 2, 0, buf, 300000, 0, &w), 0);
		CHECK(w.stable == 0, "unstable write acknowledged as stable");
		uint64_t v_unstable = w.verf;
		/* 3. Unstable, then committed. */
		bt_fill(buf, 200000, 3, 0);
		CHECK_RC(bt_write(&c, 3, 0, buf, 100000, 0, &w), 0);
		CHECK_RC(bt_write(&c, 3, 100000, buf + 100000, 100000, 0, &w), 0);
		CHECK_RC(bt_commit(&c, 3, &cm), 0);
		CHECK(cm.verf == w.verf && cm.stable == 1 && cm.size == 200000, "COMMIT: verifier %s, stable %u, "
		      "size %llu", cm.verf == w.verf ? "same" : "changed", cm.stable, (unsigned long long)cm.size);

		restart(d, &c);
		expect_data(&c, 1, (1u << 20) + 777, 1, "stable write, kill -9");
		CHECK_RC(bt_commit(&c, 2, &cm), 0);
		CHECK(cm.verf != v_unstable && cm.stable == 1, "COMMIT after kill -9: verifier %016llx, the "
		      "unstable write's %016llx: the client cannot tell its data may be lost",
		      (unsigned long long)cm.verf, (unsigned long long)v_unstable);
		expect_data(&c, 3, 200000, 3, "committed writes, kill -9");
	}

	/* 4. In flight. */
	for (uint32_t round = 0; round < 3; round++)
		in_flight_round(d, &c, 10 + round, round);

	bt_disconnect(&c);
	bt_stop(d);
}

int main(int argc, char **argv)
{
	tl_init(argc, argv, 60);
	run(TL_SHM);
	run(TL_TCP);
	return tl_finish();
}
