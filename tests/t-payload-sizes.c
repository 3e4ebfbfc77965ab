/*
 * t-payload-sizes: payloads of 0, 1, 4 KiB, 64 KiB, 64 KiB + 1 and the
 * configured maximum arrive byte for byte over shm and over tcp, whether they
 * come from pool frames, from ordinary memory copied at send time (no done
 * callback), or from ordinary memory read in place (done callback, one or
 * several segments).  The done callback fires once per send with status 0;
 * payload_copies / payload_zero_copy (summed over both ends) move as
 * trapeze.h documents: pool frames are never copied; ordinary memory costs
 * exactly one copy over shm, one copy over tcp without a done callback and
 * none with one.  max + 1 is refused with -EMSGSIZE on every path and the
 * sender keeps its frames.
 */
#include "testlib.h"

#include <stdlib.h>
#include <unistd.h>

#define H 5

enum mode { M_ZERO, M_FRAMES, M_COPY, M_DONE, M_SG, M_BURST, M_NMODES };
static const char *mode_name[] = { "zero-length", "pool frames", "ordinary memory (copied)",
				   "ordinary memory + done", "ordinary memory s/g + done",
				   "burst of max-size copies" };
#define NBURST 12      /* 12 x 1 MiB: more than the 8 MiB pool holds at once */
#define PAUSE  (UINT32_MAX - 1)

struct info {          /* the inline data of every test message */
	uint32_t index, len, seed, mode;
};

/* ---- receiver ----------------------------------------------------------- */

static uint32_t rx_count;
static uint64_t rx_bytes;
static bool     rx_end;

static void on_recv(struct tpz_endpoint *ep, struct tpz_rx *rx, void *arg)
{
	struct info in;

	if (rx->data_len == 3 && memcmp(rx->data, "END", 3) == 0) {
		CHECK(rx->payload_len == 0, "END marker has a payload");
		rx_end = true;
		return;
	}
	CHECK(rx->data_len == sizeof(in), "data_len %u", rx->data_len);
	memcpy(&in, rx->data, sizeof(in));
	CHECK(in.index == rx_count, "message %u arrived when %u was expected", in.index, rx_count);
	CHECK(!(rx->flags & TPZ_F_DROPPED), "message %u (%s, %u bytes) marked DROPPED",
	      in.index, mode_name[in.mode], in.len);
	CHECK(!rx->placed, "message %u placed without an IPT token", in.index);
	CHECK(rx->payload_len == in.len, "message %u (%s): payload_len %u, want %u", in.index,
	      mode_name[in.mode], rx->payload_len, in.len);
	if (in.len > 0) {
		size_t sum = 0;
		CHECK(rx->payload.nseg >= 1 && rx->payload.nseg <= TPZ_SG_MAX,
		      "message %u: payload nseg %u", in.index, rx->payload.nseg);
		for (uint32_t i = 0; i < rx->payload.nseg; i++)
			sum += rx->payload.seg[i].len;
		CHECK(sum == in.len, "message %u: segments hold %zu bytes, payload_len %u",
		      in.index, sum, in.len);
		CHECK(tpz_payload_len(&rx->payload) == in.len, "tpz_payload_len %zu",
		      tpz_payload_len(&rx->payload));
		long bad = tl_verify_payload(&rx->payload, in.len, in.seed);
		CHECK(bad < 0, "message %u (%s, %u bytes): payload byte %ld is wrong%s", in.index,
		      mode_name[in.mode], in.len, bad,
		      in.mode == M_COPY || in.mode == M_BURST ? " (the sender overwrote its buffer right after "
		      "tpz_send returned: without a done callback the engine must copy first)" : "");
		for (uint32_t i = 0; i < rx->payload.nseg; i++)
			CHECK(tpz_is_frame(ep, rx->payload.seg[i].base),
			      "message %u: received segment %u is not a pool frame", in.index, i);
	}
	rx_bytes += in.len;
	rx_count++;
	tpz_rx_release(ep, rx);
}

static int receiver(struct tl_proc *self, void *arg)
{
	enum tl_link link = (enum tl_link)(intptr_t)arg;
	struct tpz_config cfg;
	struct tpz_handler_ops ops = { .recv = on_recv };

	tl_config(&cfg, 2, link);
	struct tpz_endpoint *ep = tl_endpoint(&cfg);
	CHECK_RC(tpz_handler_register(ep, H, &ops), 0);
	tl_put_u32(self->wr, (uint32_t)tl_listen(ep, link));
	tl_wait_up(ep, 1, 5000);
	for (;;) {
		uint32_t want = tl_get_u32_poll(ep, self->rd, 10000);
		if (want == UINT32_MAX)
			break;
		if (want == PAUSE) {          /* stop reading for a while */
			usleep(500 * 1000);
			continue;
		}
		CHECK(POLL_UNTIL(ep, rx_count >= want, 8000), "%s: received %u of %u messages",
		      tl_link_name(link), rx_count, want);
		struct tpz_counters c = tl_counters(ep);
		tl_put(self->wr, &c, sizeof(c));
	}
	CHECK(POLL_UNTIL(ep, rx_end, 5000), "END marker not received");
	struct tpz_counters c = tl_counters(ep);
	CHECK(c.frames_free == c.frames_total, "receiver: %llu of %llu frames free after "
	      "releasing every payload", (unsigned long long)c.frames_free,
	      (unsigned long long)c.frames_total);
	tl_put_u32(self->wr, rx_count);
	tl_get_u32_poll(ep, self->rd, 5000);
	tpz_endpoint_destroy(ep);
	return 0;
}

/* ---- sender ------------------------------------------------------------- */

struct done_rec { int calls; int status; };

static void on_done(void *arg, int status)
{
	struct done_rec *d = arg;

	d->calls++;
	d->status = status;
}

static uint32_t next_index;
static bool nobufs_seen;       /* reported once per link */
static enum tl_link cur_link;

static void send_one(struct tpz_endpoint *ep, enum mode m, uint32_t len, void **keep,
		     struct done_rec *d)
{
	struct info in = { .index = next_index, .len = len, .seed = 77 + next_index * 13,
			   .mode = m };
	struct tpz_payload pl;
	struct tpz_send s = { .dst = 2, .handler = H, .data = &in, .data_len = sizeof(in),
			      .payload = &pl };
	uint8_t *buf = NULL;

	memset(&pl, 0, sizeof(pl));
	*keep = NULL;
	switch (m) {
	case M_ZERO:
		if (next_index % 2)
			s.payload = NULL;
		break;
	case M_FRAMES:
		CHECK_RC(tpz_payload_alloc(ep, &pl, len), 0);
		CHECK(tpz_payload_len(&pl) >= len, "tpz_payload_alloc gave %zu bytes for %u",
		      tpz_payload_len(&pl), len);
		for (uint32_t i = 0; i < pl.nseg; i++)
			CHECK(tpz_is_frame(ep, pl.seg[i].base) &&
			      (uintptr_t)pl.seg[i].base % 4096 == 0,
			      "tpz_payload_alloc segment %u is not a page-aligned frame", i);
		/* The list may be longer than len (last frame partly used): trim it. */
		{
			size_t left = len;
			for (uint32_t i = 0; i < pl.nseg; i++) {
				if (pl.seg[i].len > left)
					pl.seg[i].len = (uint32_t)left;
				left -= pl.seg[i].len;
			}
		}
		tl_fill_payload(&pl, len, in.seed);
		break;
	case M_COPY:
	case M_BURST:
	case M_DONE:
		buf = malloc(len + 1);
		CHECK(buf, "malloc");
		/* Deliberately not page aligned. */
		pl.nseg = 1;
		pl.seg[0].base = buf + 1;
		pl.seg[0].len = len;
		tl_fill(buf + 1, len, in.seed, 0);
		break;
	case M_SG: {
		uint32_t a = len / 3, b = len > 1 ? 1 : 0, c = len - a - b;
		buf = malloc(len + 64);
		CHECK(buf, "malloc");
		/* Three segments, not contiguous, in this order: buf+32.., buf, tail. */
		pl.nseg = 0;
		if (a) pl.seg[pl.nseg++] = (struct tpz_iov){ buf + 40 + b + c, a };
		if (b) pl.seg[pl.nseg++] = (struct tpz_iov){ buf + 3, b };
		if (c) pl.seg[pl.nseg++] = (struct tpz_iov){ buf + 20 + b, c };
		tl_fill_payload(&pl, len, in.seed);
		break;
	}
	default:
		break;
	}
	if (m == M_DONE || m == M_SG) {
		s.done = on_done;
		s.done_arg = d;
	}
	/* Documented results: 0, -EAGAIN (poll and retry, which tl_send does)
	 * and, over shm, -ENOBUFS while receivers hold every frame: retry too. */
	double end = tl_now_ms() + 10000;
	int r;
	while ((r = tl_send(ep, &s, 10000)) == -ENOBUFS) {
		CHECK(cur_link == TL_SHM, "%s over %s: -ENOBUFS is documented for shm only",
		      mode_name[m], tl_link_name(cur_link));
		nobufs_seen = true;
		CHECK(tl_now_ms() < end, "%s: out of frames for 10 s", mode_name[m]);
		POLL_UNTIL(ep, false, 1);
	}
	CHECK(r == 0, "%s, %u bytes: tpz_send %d %s", mode_name[m], len, r, tpz_strerror(r));
	if (m == M_COPY || m == M_BURST) {
		/* No done callback: the memory is ours again right now. */
		memset(buf, 0xdb, len + 1);
		free(buf);
	} else {
		*keep = buf;
	}
	next_index++;
}

static void run(enum tl_link link)
{
	static const uint32_t sizes[] = { 1, 4096, 65536, 65537, 300001, 0 /* = max */ };
	const int nsizes = (int)(sizeof(sizes) / sizeof(sizes[0]));
	struct tl_proc rx = { 0 };
	struct tpz_config cfg;

	next_index = 0;
	nobufs_seen = false;
	cur_link = link;
	tl_spawn(&rx, receiver, (void *)(intptr_t)link);
	int port = (int)tl_get_u32(rx.rd, 5000);
	tl_config(&cfg, 1, link);
	struct tpz_endpoint *ep = tl_endpoint(&cfg);
	if (link == TL_SHM)
		tl_listen(ep, link);
	tl_connect(ep, 2, link, port);
	const uint32_t max = tpz_max_payload(ep);
	CHECK_RC(max, TPZ_PAYLOAD_CEIL);     /* the default */

	struct tpz_counters rc_prev, pc_prev = tl_counters(ep);
	tl_put_u32(rx.wr, 0);
	tl_get_poll(ep, rx.rd, &rc_prev, sizeof(rc_prev), 5000);

	for (int m = M_ZERO; m < M_NMODES; m++) {
		void *keep[16];
		struct done_rec done[16];
		int n = m == M_ZERO ? 4 : m == M_BURST ? NBURST : nsizes;
		uint64_t bytes = 0;

		memset(done, 0, sizeof(done));
		/* The burst goes out while the receiver does not read for 0.5 s:
		 * links and pool fill up, the sender must be told to retry. */
		if (m == M_BURST)
			tl_put_u32(rx.wr, PAUSE);
		for (int i = 0; i < n; i++) {
			uint32_t len = m == M_ZERO ? 0 : m == M_BURST ? max : sizes[i] ? sizes[i] : max;
			send_one(ep, (enum mode)m, len, &keep[i], &done[i]);
			bytes += len;
		}
		if (m == M_DONE || m == M_SG) {
			CHECK(POLL_UNTIL(ep, ({ bool all = true;
				for (int i = 0; i < n; i++) all = all && done[i].calls > 0; all; }),
				5000), "%s over %s: a done callback did not fire within 5 s",
			      mode_name[m], tl_link_name(link));
		}
		struct tpz_counters pc, rc;
		tl_put_u32(rx.wr, next_index);
		tl_get_poll(ep, rx.rd, &rc, sizeof(rc), 12000);
		POLL_UNTIL(ep, false, 50);           /* let late done callbacks run */
		pc = tl_counters(ep);
		for (int i = 0; i < n; i++) {
			if (m == M_DONE || m == M_SG) {
				CHECK(done[i].calls == 1, "%s: done callback of message %d ran %d "
				      "times", mode_name[m], i, done[i].calls);
				CHECK(done[i].status == 0, "%s: done status %d (%s)", mode_name[m],
				      done[i].status, tpz_strerror(done[i].status));
			}
			free(keep[i]);
		}
		long copies = (long)(pc.payload_copies - pc_prev.payload_copies) +
			      (long)(rc.payload_copies - rc_prev.payload_copies);
		long zc = (long)(pc.payload_zero_copy - pc_prev.payload_zero_copy) +
			  (long)(rc.payload_zero_copy - rc_prev.payload_zero_copy);
		fprintf(stderr, "%s %-28s: %d msgs, copies %ld (sender %llu), zero-copy %ld\n",
			tl_link_name(link), mode_name[m], n, copies,
			(unsigned long long)(pc.payload_copies - pc_prev.payload_copies), zc);
		CHECK(pc.bytes_sent - pc_prev.bytes_sent == bytes,
		      "%s over %s: sender bytes_sent moved by %llu, payload bytes were %llu",
		      mode_name[m], tl_link_name(link),
		      (unsigned long long)(pc.bytes_sent - pc_prev.bytes_sent),
		      (unsigned long long)bytes);
		CHECK(rc.bytes_recv - rc_prev.bytes_recv == bytes,
		      "%s over %s: receiver bytes_recv moved by %llu, payload bytes were %llu",
		      mode_name[m], tl_link_name(link),
		      (unsigned long long)(rc.bytes_recv - rc_prev.bytes_recv),
		      (unsigned long long)bytes);
		CHECK(pc.msgs_sent - pc_prev.msgs_sent >= (uint64_t)n &&
		      rc.msgs_recv - rc_prev.msgs_recv >= (uint64_t)n, "msgs_sent/msgs_recv");
		if (m != M_ZERO) {
			long want_copies;
			if (m == M_FRAMES)
				want_copies = 0;            /* frames are never copied */
			else if (link == TL_SHM)
				want_copies = n;            /* outside the pool: exactly one copy */
			else if (m == M_COPY || m == M_BURST)
				want_copies = -1;           /* tcp, no done: see below */
			else
				want_copies = 0;            /* tcp + done: read in place */
			CHECK(copies <= n, "%s over %s: payload_copies (both ends) moved by %ld for "
			      "%d payloads: more than one copy each", mode_name[m],
			      tl_link_name(link), copies, n);
			if (want_copies >= 0)
				CHECK(copies == want_copies, "%s over %s: payload_copies (both ends) "
				      "moved by %ld for %d payloads, want %ld", mode_name[m],
				      tl_link_name(link), copies, n, want_copies);
			if (want_copies == 0)
				CHECK(zc >= n, "%s over %s: payload_zero_copy (both ends) moved by "
				      "%ld for %d payloads", mode_name[m], tl_link_name(link), zc, n);
			if (want_copies < 0) {
				/* Without a done callback the engine may either copy the
				 * payload, or (nothing queued) write it all to the socket
				 * before tpz_send returns; the sender counts each payload
				 * as exactly one of the two. */
				long sc = (long)(pc.payload_copies - pc_prev.payload_copies);
				long sz = (long)(pc.payload_zero_copy - pc_prev.payload_zero_copy);
				CHECK(sc + sz == n, "%s over tcp: the sender counted %ld copies and %ld "
				      "zero-copy sends for %d payloads", mode_name[m], sc, sz, n);
			}
		}
		pc_prev = pc;
		rc_prev = rc;
	}

	/* max + 1: refused on every path, nothing sent, nothing lost. */
	struct done_rec d = { 0 };
	uint8_t *big = malloc(max + 1);
	CHECK(big, "malloc");
	memset(big, 0x11, max + 1);
	struct tpz_payload pl = { .nseg = 1, .seg = { { big, max + 1 } } };
	struct tpz_send s = { .dst = 2, .handler = H, .data = "x", .data_len = 1, .payload = &pl };
	CHECK_RC(tpz_send(ep, &s), -EMSGSIZE);
	s.done = on_done;
	s.done_arg = &d;
	CHECK_RC(tpz_send(ep, &s), -EMSGSIZE);

	struct tpz_counters c0 = tl_counters(ep);
	size_t fs = tpz_frame_size(ep);
	CHECK(fs >= 4096 && (fs & (fs - 1)) == 0, "frame size %zu", fs);
	uint32_t nfr = (uint32_t)((max - 1) / fs);       /* frames, then one ordinary tail */
	CHECK(nfr + 1 <= TPZ_SG_MAX, "test setup: %u frames", nfr);
	CHECK_RC(tpz_payload_alloc(ep, &pl, nfr * fs), 0);
	CHECK(pl.nseg == nfr, "tpz_payload_alloc(%zu) gave %u segments", nfr * fs, pl.nseg);
	struct tpz_payload mixed = pl;
	mixed.seg[mixed.nseg++] = (struct tpz_iov){ big, (uint32_t)(max + 1 - nfr * fs) };
	CHECK(tpz_payload_len(&mixed) == (size_t)max + 1, "mixed list length");
	s.payload = &mixed;
	s.done = NULL;
	CHECK_RC(tpz_send(ep, &s), -EMSGSIZE);
	s.done = on_done;
	CHECK_RC(tpz_send(ep, &s), -EMSGSIZE);
	/* Refused: the frames are still ours, and all of them come back. */
	tpz_payload_free(ep, &pl);
	struct tpz_counters c1 = tl_counters(ep);
	CHECK(c1.frames_free == c0.frames_free, "frames_free %llu before, %llu after a refused "
	      "send and tpz_payload_free", (unsigned long long)c0.frames_free,
	      (unsigned long long)c1.frames_free);
	struct tpz_payload none;
	int r = tpz_payload_alloc(ep, &none, (size_t)max + 1);
	CHECK(r < 0, "tpz_payload_alloc(max + 1) succeeded");
	c1 = tl_counters(ep);
	CHECK(c1.frames_free == c0.frames_free, "a refused tpz_payload_alloc leaked frames");
	free(big);

	CHECK_RC(tl_send_inline(ep, 2, H, "END", 3, 5000), 0);
	POLL_UNTIL(ep, false, 100);
	CHECK(d.calls == 0, "done callback ran %d times for refused sends", d.calls);
	tl_put_u32(rx.wr, UINT32_MAX);
	uint32_t total = tl_get_u32_poll(ep, rx.rd, 8000);
	CHECK_RC(total, next_index);

	/* Every frame we sent came back to the pool (shm: the receiver freed it). */
	CHECK(POLL_UNTIL(ep, ({ struct tpz_counters _c = tl_counters(ep);
				_c.frames_free == _c.frames_total; }), 3000),
	      "%s: sender has %llu of %llu frames free at the end", tl_link_name(link),
	      (unsigned long long)tl_counters(ep).frames_free,
	      (unsigned long long)tl_counters(ep).frames_total);
	tl_put_u32(rx.wr, 0);
	tl_reap(&rx, 5000);
	tpz_endpoint_destroy(ep);
	printf("t-payload-sizes: %s done (%u messages)\n", tl_link_name(link), next_index);
}

int main(int argc, char **argv)
{
	tl_init(argc, argv, 50);
	run(TL_SHM);
	run(TL_TCP);
	return tl_finish();
}
