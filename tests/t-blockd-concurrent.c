/*
 * t-blockd-concurrent: many calls in flight at once, reads racing writes
 * on the same blocks (over shm, then tcp).
 *
 * Three objects are cut into regions of 20000 bytes (so neighbouring
 * regions share a 4 KiB block, and writes to them read-modify-write the
 * same block at the same time).  Up to 48 calls are in flight: writes of
 * whole regions (each region has at most one write in flight; every write
 * carries a new version of the region's bytes) and reads of random
 * ranges.  Checked: every call succeeds (a read racing a write must never
 * see a checksum mismatch); every piece of a read (one region within one
 * 4 KiB block) holds one version of that region, no older than the one
 * acknowledged when the read was issued and no newer than the last one
 * issued before it returned; at the end every region holds its last
 * version, and the daemon counted no CRC errors.
 */
#include "blockd_testlib.h"

#define NOBJ   3u
#define REG    20000u
#define NREG   40u
#define SPAN   (NREG * REG)
#define NFLY   48
#define NOPS   2500u
#define RMAX   (256u << 10)

struct region {
	uint32_t acked, issued;   /* versions; 0: never written (zeros) */
	bool     busy;
};
static struct region reg[NOBJ][NREG];

struct call {
	bool               busy, write;
	uint32_t           obj, r, v;
	struct slb_rw      a;
	struct tpz_payload pl;
	uint8_t           *mem;
	uint32_t           lo[NREG];   /* reads: acked version of each region at issue */
};
static struct call calls[NFLY];
static uint32_t ndone, nreads, nwrites;
static const char *LN;

static uint32_t seed_of(uint32_t obj, uint32_t r, uint32_t v)
{
	return obj * 1000000u + r * 1000u + v;
}

static bool piece_is(const uint8_t *p, uint32_t len, uint32_t obj, uint32_t r, uint32_t v, uint64_t off)
{
	return v == 0 ? tl_all_bytes(p, len, 0) : bt_verify(p, len, seed_of(obj, r, v), off) < 0;
}

static void check_read(struct call *k)
{
	uint64_t end = k->a.off + k->a.len;

	for (uint64_t lo = k->a.off; lo < end;) {
		uint32_t r = (uint32_t)(lo / REG);
		uint64_t hi = (r + 1) * (uint64_t)REG;
		uint64_t blk_end = (lo / 4096 + 1) * 4096;
		if (hi > blk_end)
			hi = blk_end;
		if (hi > end)
			hi = end;
		const uint8_t *p = k->mem + (lo - k->a.off);
		bool ok = false;
		for (uint32_t v = reg[k->obj][r].issued + 1; v-- > k->lo[r] && !ok;)
			ok = piece_is(p, (uint32_t)(hi - lo), k->obj, r, v, lo);
		CHECK(ok, "%s: READ obj %u [%llu, %llu): bytes [%llu, %llu) of region %u are no version in "
		      "%u..%u", LN, k->obj, (unsigned long long)k->a.off, (unsigned long long)end,
		      (unsigned long long)lo, (unsigned long long)hi, r, k->lo[r], reg[k->obj][r].issued);
		lo = hi;
	}
}

static void on_end(struct nrpc *rp, struct nrpc_result *res, void *arg)
{
	struct call *k = arg;

	CHECK(res->status == 0, "%s: %s obj %u [%llu, +%u): status %d (%s)", LN, k->write ? "WRITE" : "READ",
	      k->obj, (unsigned long long)k->a.off, k->a.len, res->status, tpz_strerror(res->status));
	if (k->write) {
		struct region *g = &reg[k->obj][k->r];
		g->acked = k->v;
		g->busy = false;
		nwrites++;
	} else {
		CHECK(res->placed && res->payload_len == k->a.len, "%s: READ not placed", LN);
		check_read(k);
		nreads++;
	}
	k->busy = false;
	ndone++;
}

static uint32_t rnd(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

static bool issue(struct bt_client *c, struct call *k, uint32_t *s)
{
	k->obj = rnd(s) % NOBJ;
	k->write = rnd(s) % 5 < 2;
	if (k->write) {
		k->r = rnd(s) % NREG;
		struct region *g = &reg[k->obj][k->r];
		if (g->busy)
			return false;
		k->v = g->issued + 1;
		uint64_t off = (uint64_t)k->r * REG;
		bt_fill(k->mem, REG, seed_of(k->obj, k->r, k->v), off);
		k->a = (struct slb_rw){ .obj = k->obj, .off = off, .len = REG,
					.flags = rnd(s) % 8 == 0 ? SLB_STABLE : 0 };
	} else {
		uint32_t len = rnd(s) % RMAX + 1;
		uint64_t off = rnd(s) % (SPAN - len);
		k->a = (struct slb_rw){ .obj = k->obj, .off = off, .len = len };
		for (uint32_t r = 0; r < NREG; r++)
			k->lo[r] = reg[k->obj][r].acked;
	}
	k->pl = nt_buf_payload(k->mem, k->a.len);
	struct nrpc_call_desc d = { .dst = c->server, .op = k->write ? SLB_WRITE : SLB_READ, .args = &k->a,
				    .args_len = sizeof(k->a), .payload = k->write ? &k->pl : NULL,
				    .reply_buf = k->write ? NULL : &k->pl };
	nrpc_call_t h;
	if (nrpc_call_async(c->r, &d, NRPC_CONT, on_end, k, &h) != 0)
		return false;
	if (k->write) {
		reg[k->obj][k->r].busy = true;
		reg[k->obj][k->r].issued = k->v;
	}
	k->busy = true;
	return true;
}

static void run(enum tl_link link)
{
	struct bt_daemon *d = bt_new(BT_SERVER, link);
	struct bt_client c;
	uint32_t s = 0xc0c0a;

	LN = tl_link_name(link);
	memset(reg, 0, sizeof(reg));
	ndone = nreads = nwrites = 0;
	d->extra[0] = "--cache-mb";
	d->extra[1] = "1";            /* small: hits, misses and evictions all happen */
	bt_start(d);
	bt_connect(&c, d, 1);
	uint32_t issued = 0;
	double end = tl_now_ms() + 30000;
	while (ndone < NOPS) {
		CHECK(tl_now_ms() < end, "%s: only %u of %u calls done in 30 s", LN, ndone, NOPS);
		for (int i = 0; i < NFLY && issued < NOPS; i++)
			if (!calls[i].busy && issue(&c, &calls[i], &s))
				issued++;
		int n = nrpc_poll(c.r, 0);
		if (n == 0)
			tl_idle(c.ep);
	}
	NOTE("%s: %u reads, %u writes", LN, nreads, nwrites);

	/* The end state. */
	static uint8_t all[SPAN];
	for (uint32_t obj = 0; obj < NOBJ; obj++) {
		bt_read_all(&c, obj, 0, all, SPAN, NULL);
		for (uint32_t r = 0; r < NREG; r++)
			CHECK(piece_is(all + (size_t)r * REG, REG, obj, r, reg[obj][r].acked, (uint64_t)r * REG),
			      "%s: obj %u region %u does not hold its last version %u", LN, obj, r, reg[obj][r].acked);
	}
	CHECK(bt_counters(&c).crc_errors == 0, "%s: CRC errors under concurrency", LN);
	bt_disconnect(&c);
	bt_stop(d);
}

int main(int argc, char **argv)
{
	tl_init(argc, argv, 60);
	for (int i = 0; i < NFLY; i++)
		CHECK((calls[i].mem = malloc(RMAX)), "malloc");
	run(TL_SHM);
	run(TL_TCP);
	for (int i = 0; i < NFLY; i++)
		free(calls[i].mem);
	return tl_finish();
}
