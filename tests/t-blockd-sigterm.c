/*
 * t-blockd-sigterm: SIGTERM with calls in flight (over shm, then tcp).
 *
 * The client keeps 32 unstable WRITEs of 64 KiB in flight to distinct
 * places and sends SIGTERM once some have been answered.  The daemon exits
 * 0; every call ends (answered 0, refused with -ESHUTDOWN, or reset by the
 * daemon's exit: never a hang or a timeout); and after a restart every
 * write answered 0 is there, unstable or not (a clean stop syncs
 * everything), and nothing reads as corrupt.
 */
#include "blockd_testlib.h"

#define CH   (64u << 10)
#define NCH  96u

static int result[NCH];      /* 1: answered 0; <0: the status; 0: not ended */
static uint32_t nended;
static uint8_t rbuf[CH];

static void on_end(struct nrpc *r, struct nrpc_result *res, void *arg)
{
	uint32_t k = (uint32_t)(uintptr_t)arg;

	result[k] = res->status == 0 ? 1 : res->status;
	nended++;
}

static void run(enum tl_link link)
{
	const char *ln = tl_link_name(link);
	struct bt_daemon *d = bt_new(BT_SERVER, link);
	struct bt_client c;
	static struct slb_rw args[NCH];
	static struct tpz_payload pls[NCH];
	static uint8_t data[NCH][CH];
	bool termed = false;

	memset(result, 0, sizeof(result));
	nended = 0;
	bt_start(d);
	bt_connect(&c, d, 1);
	double end = tl_now_ms() + 15000;
	for (uint32_t k = 0; k < NCH; k++) {
		bt_fill(data[k], CH, 7, (uint64_t)k * CH);
		args[k] = (struct slb_rw){ .obj = 1, .off = (uint64_t)k * CH, .len = CH };
		pls[k] = nt_buf_payload(data[k], CH);
		struct nrpc_call_desc dd = { .dst = c.server, .op = SLB_WRITE, .args = &args[k],
					     .args_len = sizeof(args[k]), .payload = &pls[k] };
		nrpc_call_t call;
		int rc;
		/* At most 32 in flight. */
		while (k - nended >= 32 || (rc = nrpc_call_async(c.r, &dd, NRPC_CONT, on_end, (void *)(uintptr_t)k,
								 &call)) == -EAGAIN || rc == -ENOBUFS) {
			CHECK(tl_now_ms() < end, "%s: stuck issuing write %u", ln, k);
			nrpc_poll(c.r, 0);
		}
		if (rc == -ENOTCONN)   /* the daemon is gone: the rest were never sent */
			break;
		CHECK(rc == 0, "%s: issue write %u: %d %s", ln, k, rc, tpz_strerror(rc));
		if (!termed && nended >= 8) {
			CHECK(kill(d->pid, SIGTERM) == 0, "kill -TERM");
			termed = true;
		}
	}
	CHECK(termed, "%s: never sent SIGTERM", ln);
	CHECK(NRPC_POLL_UNTIL(c.r, nended >= NCH || !tpz_peer_is_up(c.ep, c.server), 10000),
	      "%s: calls still open 10 s after SIGTERM", ln);
	int st = bt_wait(d, 10000);
	CHECK(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s: exit status %#x after SIGTERM, want 0",
	      ln, st);
	NRPC_POLL_UNTIL(c.r, false, 200);   /* let the resets arrive */
	uint32_t ok = 0, refused = 0, reset = 0, unsent = 0;
	for (uint32_t k = 0; k < NCH; k++) {
		if (result[k] == 1)
			ok++;
		else if (result[k] == -ESHUTDOWN)
			refused++;
		else if (result[k] == -ECONNRESET)
			reset++;
		else if (result[k] == 0)
			unsent++;
		else
			CHECK(0, "%s: write %u ended with %d (%s)", ln, k, result[k], tpz_strerror(result[k]));
	}
	NOTE("%s: %u written, %u refused (-ESHUTDOWN), %u reset, %u never sent", ln, ok, refused, reset,
	     unsent);
	CHECK(ok >= 8, "%s: only %u writes answered", ln, ok);
	bt_disconnect(&c);

	bt_start(d);
	bt_connect(&c, d, 1);
	for (uint32_t k = 0; k < NCH; k++) {
		if (result[k] != 1)
			continue;
		int s = bt_read(&c, 1, (uint64_t)k * CH, rbuf, CH, NULL);
		CHECK(s == 0, "%s: read back write %u: %d (%s)", ln, k, s, tpz_strerror(s));
		CHECK(bt_verify(rbuf, CH, 7, (uint64_t)k * CH) < 0, "%s: write %u was answered but is not there "
		      "after a clean stop", ln, k);
	}
	CHECK(bt_log_count(d, "stopped") == 1, "%s: the first run did not log \"stopped\"", ln);
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
