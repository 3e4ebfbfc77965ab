/*
 * t-peer-kill: a peer process is SIGKILLed in the middle of a two-way stream
 * (over shm, then over tcp).  The survivor: gets peer_down (TPZ_DOWN_DIED)
 * once on every registered handler within a bounded time; never hangs;
 * tpz_send to the dead node returns -ENOTCONN (and the frames of a refused
 * send stay the caller's); every pending done callback fires; the IPT entry
 * posted for the dead node is reclaimed; every frame is back in the pool
 * (over shm that includes the frames the victim held: frames it had
 * allocated, payloads it had received and not freed, payloads in flight).
 * Then a new process with the same node id connects and works.
 */
#include "testlib.h"

#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#define NH 3
static const uint8_t hids[NH] = { 1, 2, 3 };
#define HS 3          /* the stream's handler */

/* ---- the victim (node 2) and its replacement ---------------------------- */

static uint32_t v_recv;

static void victim_recv(struct tpz_endpoint *ep, struct tpz_rx *rx, void *arg)
{
	v_recv++;       /* keeps the payload frames: never released */
}

static int victim(struct tl_proc *self, void *arg)
{
	enum tl_link link = (enum tl_link)(intptr_t)arg;
	struct tpz_config cfg;
	struct tpz_handler_ops ops = { .recv = victim_recv };

	if (self->index == 1)
		tl_get_u32(self->rd, 30000);          /* the replacement waits its turn */
	tl_config(&cfg, 2, link);
	struct tpz_endpoint *ep = tl_endpoint(&cfg);
	CHECK_RC(tpz_handler_register(ep, HS, &ops), 0);
	tl_put_u32(self->wr, (uint32_t)tl_listen(ep, link));
	tl_wait_up(ep, 1, 8000);
	if (self->index == 1) {
		/* The replacement: answer one message, then leave in order. */
		CHECK(POLL_UNTIL(ep, v_recv > 0, 5000), "replacement got nothing");
		CHECK_RC(tl_send_inline(ep, 1, HS, "back", 4, 5000), 0);
		tl_get_u32_poll(ep, self->rd, 10000);
		tpz_endpoint_destroy(ep);
		return 0;
	}
	/* Hold some frames of our own. */
	for (int i = 0; i < 5; i++)
		CHECK(tpz_frame_alloc(ep) != NULL, "frame_alloc");
	/* Stream until killed. */
	for (uint32_t seq = 0;; seq++) {
		struct tpz_payload pl;
		struct tpz_send s = { .dst = 1, .handler = HS, .data = &seq, .data_len = 4 };
		if (seq % 4 == 3 && tpz_payload_alloc(ep, &pl, 20000 + seq % 50000) == 0)
			s.payload = &pl;
		int r = tpz_send(ep, &s);
		if (r != 0 && s.payload)
			tpz_payload_free(ep, &pl);
		CHECK(r == 0 || r == -EAGAIN, "victim send: %d %s", r, tpz_strerror(r));
		tpz_poll(ep, 0);
		if (r == -EAGAIN)
			tl_idle(ep);
		if (seq == 100)
			tl_put_u32(self->wr, 1);      /* streaming */
	}
}

/* ---- the survivor (node 1) ---------------------------------------------- */

struct mod { int downs, reason; uint32_t node; };
static struct mod mods[NH];
static uint32_t s_recv;
static bool back;
static int dones;

static void s_recv_fn(struct tpz_endpoint *ep, struct tpz_rx *rx, void *arg)
{
	if (rx->data_len == 4 && memcmp(rx->data, "back", 4) == 0)
		back = true;
	s_recv++;
	tpz_rx_release(ep, rx);
}

static void s_down(struct tpz_endpoint *ep, uint32_t node, int reason, void *arg)
{
	struct mod *m = arg;

	m->downs++;
	m->reason = reason;
	m->node = node;
}

static void on_done(void *arg, int status)
{
	dones++;
	(void)status;    /* 0 or an error: both fine once the peer is dead */
}

/* Send to node 2: inline, pool frames or ordinary memory + done (by k). */
static int s_send(struct tpz_endpoint *ep, uint32_t k, int *with_done)
{
	static uint8_t mem[8][16384];
	struct tpz_payload pl = { 0 };
	struct tpz_send s = { .dst = 2, .handler = HS, .data = &k, .data_len = 4 };
	int r;

	switch (k % 3) {
	case 1:
		/* The victim keeps what it gets: the pool may run dry. */
		r = tpz_payload_alloc(ep, &pl, 9000);
		CHECK(r == 0 || r == -ENOMEM, "tpz_payload_alloc: %d", r);
		if (r == 0)
			s.payload = &pl;
		break;
	case 2:
		pl.nseg = 1;
		pl.seg[0] = (struct tpz_iov){ mem[k % 8], sizeof(mem[0]) };
		s.payload = &pl;
		s.done = on_done;
		break;
	}
	r = tpz_send(ep, &s);
	if (r != 0 && s.payload && k % 3 == 1) {
		CHECK(tpz_is_frame(ep, pl.seg[0].base), "refused send took the frames");
		tpz_payload_free(ep, &pl);
	}
	if (r == 0 && s.done)
		(*with_done)++;
	return r;
}

static void run(enum tl_link link)
{
	const char *ln = tl_link_name(link);
	struct tl_proc v = { .index = 0 }, v2 = { .index = 1 };
	struct tpz_config cfg;
	struct tpz_handler_ops ops[NH];
	int with_done = 0;
	uint64_t token;
	uint8_t ipt_buf[4096];

	memset(mods, 0, sizeof(mods));
	s_recv = 0;
	back = false;
	dones = 0;
	tl_spawn(&v, victim, (void *)(intptr_t)link);
	tl_spawn(&v2, victim, (void *)(intptr_t)link);
	int port = (int)tl_get_u32(v.rd, 5000);

	tl_config(&cfg, 1, link);
	struct tpz_endpoint *ep = tl_endpoint(&cfg);
	for (int i = 0; i < NH; i++) {
		ops[i] = (struct tpz_handler_ops){ .recv = s_recv_fn, .peer_down = s_down,
						   .arg = &mods[i] };
		CHECK_RC(tpz_handler_register(ep, hids[i], &ops[i]), 0);
	}
	if (link == TL_SHM)
		tl_listen(ep, link);
	tl_connect(ep, 2, link, port);
	memset(ipt_buf, 0xee, sizeof(ipt_buf));
	struct tpz_payload ib = { .nseg = 1, .seg = { { ipt_buf, sizeof(ipt_buf) } } };
	CHECK_RC(tpz_ipt_post(ep, 2, &ib, NULL, &token), 0);

	/* Two-way traffic, then the kill in the middle of it. */
	tl_get_u32_poll(ep, v.rd, 8000);
	uint32_t k = 0;
	double end = tl_now_ms() + 8000;
	while (s_recv < 300 || k < 60) {
		CHECK(tl_now_ms() < end, "%s: before the kill: received %u, sent %u", ln, s_recv, k);
		if (k < 60) {
			int r = s_send(ep, k, &with_done);
			CHECK(r == 0 || r == -EAGAIN, "%s: send before the kill: %d %s", ln, r,
			      tpz_strerror(r));
			if (r == 0)
				k++;
		}
		if (tpz_poll(ep, 0) == 0)
			tl_idle(ep);
	}
	tl_kill(&v, SIGKILL);
	double t_kill = tl_now_ms();

	/* Keep sending and polling until every module has heard. */
	int notconn = 0;
	end = t_kill + 5000;
	for (;;) {
		bool all = true;
		for (int i = 0; i < NH; i++)
			all = all && mods[i].downs > 0;
		if (all)
			break;
		CHECK(tl_now_ms() < end, "%s: peer_down not delivered to every handler 5 s after "
		      "SIGKILL (downs %d/%d/%d)", ln, mods[0].downs, mods[1].downs, mods[2].downs);
		int r = s_send(ep, k++, &with_done);
		CHECK(r == 0 || r == -EAGAIN || r == -ENOTCONN, "%s: send to a dying peer: %d %s",
		      ln, r, tpz_strerror(r));
		if (r == -ENOTCONN)
			notconn++;
		int n = tpz_poll(ep, 0);
		CHECK(n >= 0, "tpz_poll after the kill: %d", n);
		if (n == 0)
			tl_idle(ep);
	}
	fprintf(stderr, "%s: peer_down %.1f ms after SIGKILL (%d sends refused before)\n", ln,
		tl_now_ms() - t_kill, notconn);
	POLL_UNTIL(ep, false, 200);
	for (int i = 0; i < NH; i++) {
		CHECK(mods[i].downs == 1, "%s: handler %u got peer_down %d times", ln, hids[i],
		      mods[i].downs);
		CHECK(mods[i].node == 2, "%s: peer_down for node %u", ln, mods[i].node);
		CHECK(mods[i].reason == TPZ_DOWN_DIED, "%s: handler %u: peer_down reason %d after "
		      "SIGKILL, want TPZ_DOWN_DIED (%d)", ln, hids[i], mods[i].reason,
		      TPZ_DOWN_DIED);
	}
	CHECK(!tpz_peer_is_up(ep, 2), "%s: peer 2 still up after peer_down", ln);
	for (int i = 0; i < 6; i++) {
		int r = s_send(ep, k++, &with_done);
		CHECK(r == -ENOTCONN, "%s: tpz_send to a dead peer (kind %u): %d %s, want -ENOTCONN",
		      ln, (k - 1) % 3, r, tpz_strerror(r));
	}
	CHECK_RC(tpz_send_inline(ep, 2, HS, "x", 1), -ENOTCONN);
	CHECK(POLL_UNTIL(ep, dones == with_done, 3000), "%s: %d of %d done callbacks fired after "
	      "the peer died", ln, dones, with_done);
	CHECK_RC(tpz_ipt_cancel(ep, token), -ENOENT);
	CHECK(tl_all_bytes(ipt_buf, sizeof(ipt_buf), 0xee), "%s: the IPT buffer was written", ln);
	/* The dead process's parent (us) reaps it, as any parent would, after
	 * the survivor noticed the death: its frames must come back anyway. */
	int st = tl_reap_status(&v, 5000);
	CHECK(st != -1 && WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL,
	      "%s: the victim did not die of SIGKILL (status 0x%x): it failed earlier", ln, st);
	EXPECT(POLL_UNTIL(ep, ({ struct tpz_counters _c = tl_counters(ep);
				 _c.frames_free == _c.frames_total; }), 3000),
	       "%s: %llu of %llu frames free 3 s after the peer died and was reaped: the frames "
	       "it held were not reclaimed", ln,
	       (unsigned long long)tl_counters(ep).frames_free,
	       (unsigned long long)tl_counters(ep).frames_total);
	struct tpz_counters c = tl_counters(ep);
	CHECK(c.peers_down >= 1, "%s: peers_down %llu", ln, (unsigned long long)c.peers_down);
	double t0 = tl_now_ms();
	int w = tpz_wait(ep, 100);
	CHECK(w == 0 && tl_now_ms() - t0 < 2000, "%s: tpz_wait(100) after the death: %d in %.0f ms",
	      ln, w, tl_now_ms() - t0);

	/* A new process takes node 2 and works. */
	tl_put_u32(v2.wr, 0);
	port = (int)tl_get_u32_poll(ep, v2.rd, 8000);
	tl_connect(ep, 2, link, port);
	CHECK_RC(tl_send_inline(ep, 2, HS, "hi", 2, 5000), 0);
	CHECK(POLL_UNTIL(ep, back, 5000), "%s: no answer from the restarted node 2", ln);
	tl_put_u32(v2.wr, 0);
	tl_reap(&v2, 8000);
	tpz_endpoint_destroy(ep);
	printf("t-peer-kill: %s done\n", ln);
}

int main(int argc, char **argv)
{
	tl_init(argc, argv, 50);
	run(TL_SHM);
	run(TL_TCP);
	return tl_finish();
}
