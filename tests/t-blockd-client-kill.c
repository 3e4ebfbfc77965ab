/*
 * t-blockd-client-kill: a client killed in the middle of its traffic does
 * not hurt the server (over shm, then tcp; twice each).
 *
 * A forked client (node 3) keeps up to 32 calls in flight: 1 MiB READs of
 * an object the server holds in its cache (so replies lending cache blocks
 * are in flight) and 256 KiB WRITEs.  Once it has had 64 answers it tells
 * the parent, which kills it with SIGKILL.  Then the parent (node 1):
 * the server logged the peer going away, still serves reads and writes
 * (a 1 MiB write needs 16 free frames: over shm the dead client's frames
 * must have come back), its data is intact, and on SIGTERM it exits 0
 * with no reply left holding a cache block.
 */
#include "blockd_testlib.h"

#define OBJ   1ull
#define OLEN  (4u << 20)
#define NFLY  32

static uint8_t buf[1u << 20];

struct fly {
	struct slb_rw      a;
	struct tpz_payload pl;
	uint8_t           *mem;
	bool               busy;
};

static struct fly fl[NFLY];
static uint32_t answers, bad_answers;

static void on_end(struct nrpc *r, struct nrpc_result *res, void *arg)
{
	struct fly *f = arg;

	f->busy = false;
	answers++;
	if (res->status != 0)
		bad_answers++;
}

static int client(struct tl_proc *self, void *arg)
{
	struct bt_daemon *d = arg;
	struct bt_client c;
	uint32_t n = 0;
	bool told = false;

	bt_connect(&c, d, 3);
	for (int i = 0; i < NFLY; i++)
		CHECK((fl[i].mem = malloc(1u << 20)), "malloc");
	double end = tl_now_ms() + 10000;
	while (tl_now_ms() < end) {
		for (int i = 0; i < NFLY; i++) {
			struct fly *f = &fl[i];
			if (f->busy)
				continue;
			bool rd = n % 3 != 0;
			f->a = (struct slb_rw){ .obj = rd ? OBJ : 100 + n % 4, .off = rd ? (n % 4) << 20 : (n % 16) << 18,
						.len = rd ? 1u << 20 : 256u << 10 };
			f->pl = nt_buf_payload(f->mem, f->a.len);
			struct nrpc_call_desc dd = { .dst = c.server, .op = rd ? SLB_READ : SLB_WRITE, .args = &f->a,
						     .args_len = sizeof(f->a), .payload = rd ? NULL : &f->pl,
						     .reply_buf = rd ? &f->pl : NULL };
			nrpc_call_t call;
			if (nrpc_call_async(c.r, &dd, NRPC_CONT, on_end, f, &call) == 0) {
				f->busy = true;
				n++;
			}
		}
		nrpc_poll(c.r, 0);
		if (!told && answers >= 64) {
			CHECK(bad_answers == 0, "client: %u error replies", bad_answers);
			tl_put_u32(self->wr, answers);
			told = true;
		}
	}
	return 1;   /* should have been killed */
}

static void run(enum tl_link link, int round)
{
	const char *ln = tl_link_name(link);
	struct bt_daemon *d = bt_new(BT_SERVER, link);
	struct bt_client c;
	struct slb_write_res w;

	d->extra[0] = "--cache-mb";
	d->extra[1] = "16";
	bt_start(d);
	bt_connect(&c, d, 1);
	for (uint32_t off = 0; off < OLEN; off += 1u << 20) {
		bt_fill(buf, 1u << 20, 1, off);
		CHECK_RC(bt_write(&c, OBJ, off, buf, 1u << 20, 0, &w), 0);
		CHECK_RC(bt_read(&c, OBJ, off, buf, 1u << 20, NULL), 0);   /* into the cache */
	}

	for (int k = 0; k < round; k++) {
		struct tl_proc cl = { .index = k };
		tl_spawn(&cl, client, d);
		uint32_t got = nt_get_u32(c.r, cl.rd, 15000);
		tl_kill(&cl, SIGKILL);
		int st = tl_reap_status(&cl, 5000);
		CHECK(st != -1 && WIFSIGNALED(st), "%s: the client did not die of SIGKILL (status %#x)", ln, st);
		NOTE("%s: client killed after %u answers", ln, got);
		CHECK(NRPC_POLL_UNTIL(c.r, bt_log_count(d, "peer 3 down") > k, 5000),
		      "%s: the server did not notice client %d die", ln, k);
	}

	/* Still serving, data intact. */
	for (uint32_t off = 0; off < OLEN; off += 1u << 20) {
		CHECK_RC(bt_read(&c, OBJ, off, buf, 1u << 20, NULL), 0);
		CHECK(bt_verify(buf, 1u << 20, 1, off) < 0, "%s: object changed after the client died", ln);
	}
	bt_fill(buf, 1u << 20, 2, 0);
	CHECK_RC(bt_write(&c, 200, 0, buf, 1u << 20, SLB_STABLE, &w), 0);
	memset(buf, 0, 1u << 20);
	CHECK_RC(bt_read(&c, 200, 0, buf, 1u << 20, NULL), 0);
	CHECK(bt_verify(buf, 1u << 20, 2, 0) < 0, "%s: write after the kill did not read back", ln);
	bt_disconnect(&c);
	bt_stop(d);
	CHECK(bt_log_count(d, "still hold cache blocks") == 0, "%s: replies to the dead client kept cache "
	      "blocks pinned", ln);
}

int main(int argc, char **argv)
{
	tl_init(argc, argv, 60);
	run(TL_SHM, 2);
	run(TL_TCP, 2);
	return tl_finish();
}
