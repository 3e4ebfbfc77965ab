/*
 * t-slice-aio: reads in flight (slice_read_start / slice_read_done /
 * slice_read_end) on an object striped over 4 block servers, over shm and
 * tcp.
 *
 *   - 64 reads of random offsets and sizes (unaligned, up to 3 MiB, some
 *     past the end of the object) in flight at once, ended in random
 *     order: every byte is the model's, bytes past the end are zeros.
 *   - A streaming reader keeps 8 reads in flight over the whole object.
 *   - slice_read_start sees the file's own write-behind; slice_close
 *     refuses (-EBUSY) while a read is out and works once it is ended.
 *   - A block server killed while reads are in flight: they end with
 *     -EIO, none hangs; after the server restarts they work again.
 */
#include <stdlib.h>

#include "slice_testlib.h"

#define SZ   (24u << 20)
#define SU   (64u * 1024)
#define NOUT 64

static uint64_t rs = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(void)
{
	rs ^= rs << 13;
	rs ^= rs >> 7;
	rs ^= rs << 17;
	return rs;
}

struct out {
	struct slice_aio *io;
	uint8_t          *buf;
	uint64_t          off;
	size_t            len;
};

/* buf must hold model[off..off+len) where inside the object, zeros past it. */
static void verify(const uint8_t *model, uint64_t size, const struct out *o, const char *what)
{
	for (size_t i = 0; i < o->len; i++) {
		uint8_t want = o->off + i < size ? model[o->off + i] : 0;
		CHECK(o->buf[i] == want, "%s: read of %zu at %llu: byte %llu is 0x%02x, want 0x%02x", what,
		      o->len, (unsigned long long)o->off, (unsigned long long)(o->off + i), o->buf[i], want);
	}
}

static void random_reads(struct slice_file *f, const uint8_t *model, const char *ln)
{
	struct out o[NOUT];
	char what[64];

	snprintf(what, sizeof(what), "%s random", ln);
	for (int i = 0; i < NOUT; i++) {
		o[i].len = 1 + rnd() % (3u << 20);
		o[i].off = rnd() % (SZ + (1u << 20));   /* some end past the object */
		CHECK((o[i].buf = malloc(o[i].len)) != NULL, "malloc");
		memset(o[i].buf, 0xa5, o[i].len);
		CHECK_RC(slice_read_start(f, o[i].buf, o[i].len, o[i].off, &o[i].io), 0);
	}
	/* End them in random order; poll the others meanwhile. */
	for (int left = NOUT; left > 0; left--) {
		int k = (int)(rnd() % NOUT);
		while (!o[k].io)
			k = (k + 1) % NOUT;
		for (int j = 0; j < NOUT; j++)
			if (o[j].io)
				slice_read_done(o[j].io);
		ssize_t n = slice_read_end(o[k].io);
		o[k].io = NULL;
		CHECK(n == (ssize_t)o[k].len, "%s: slice_read_end: %zd (%s), want %zu", what, n,
		      tpz_strerror((int)n), o[k].len);
		verify(model, SZ, &o[k], what);
		free(o[k].buf);
	}
}

static void stream(struct slice_file *f, const uint8_t *model, uint32_t bs, uint32_t qd, const char *ln)
{
	struct out o[16];
	char what[64];
	uint64_t next = 0;

	snprintf(what, sizeof(what), "%s stream %u x %u", ln, qd, bs);
	for (uint32_t s = 0; s < qd; s++) {
		CHECK((o[s].buf = malloc(bs)) != NULL, "malloc");
		o[s].io = NULL;
	}
	for (uint32_t i = 0;; i++) {
		struct out *x = &o[i % qd];
		if (x->io) {
			ssize_t n = slice_read_end(x->io);
			x->io = NULL;
			CHECK(n == (ssize_t)x->len, "%s: %zd (%s)", what, n, tpz_strerror((int)n));
			verify(model, SZ, x, what);
		}
		if (next < SZ) {
			x->off = next;
			x->len = bs;
			CHECK_RC(slice_read_start(f, x->buf, bs, next, &x->io), 0);
			next += bs;
		} else if (i >= SZ / bs + qd) {
			break;
		}
	}
	for (uint32_t s = 0; s < qd; s++)
		free(o[s].buf);
}

static void run(enum tl_link link)
{
	const char *ln = tl_link_name(link);
	struct st_env e;
	struct slice_file *f;
	struct slice_client_config cc;
	uint8_t *model = malloc(SZ);
	char what[64];

	CHECK(model, "malloc");
	for (size_t i = 0; i < SZ; i += 8) {
		uint64_t v = rnd();
		memcpy(model + i, &v, 8);
	}
	slice_client_config_default(&cc);
	cc.timeout_ms = 1000;
	st_setup(&e, link, 4, &cc);
	struct slice_block_map m = st_map(&e, 0xa10 + (uint64_t)link, SU);
	CHECK_RC(slice_open(e.c, &m, &f), 0);

	/* Write-behind, not flushed: a started read must see it. */
	CHECK(slice_write(f, model, SZ, 0) == SZ, "%s: write", ln);
	struct out first = { .buf = malloc(1u << 20), .off = SZ - 700000, .len = 1u << 20 };
	CHECK(first.buf, "malloc");
	CHECK_RC(slice_read_start(f, first.buf, first.len, first.off, &first.io), 0);
	CHECK(slice_close(f) == -EBUSY, "%s: slice_close with a read out did not say EBUSY", ln);
	CHECK(slice_read_end(first.io) == (ssize_t)first.len, "%s: read after write-behind", ln);
	snprintf(what, sizeof(what), "%s read of write-behind", ln);
	verify(model, SZ, &first, what);
	free(first.buf);
	CHECK_RC(slice_fsync(f), 0);

	random_reads(f, model, ln);
	stream(f, model, 1u << 20, 8, ln);
	stream(f, model, 64u << 10, 16, ln);

	/* A server dies with reads in flight: each ends, with -EIO or (if its
	 * pieces were in before the kill) its bytes; none hangs. */
	struct out o[NOUT];
	int eio = 0;
	for (int i = 0; i < NOUT; i++) {
		o[i] = (struct out){ .buf = malloc(2u << 20), .off = (uint64_t)(i % 8) * (2u << 20),
				     .len = 2u << 20 };
		CHECK(o[i].buf, "malloc");
		int rc = slice_read_start(f, o[i].buf, o[i].len, o[i].off, &o[i].io);
		CHECK(rc == 0 || (rc == -EIO && i > NOUT / 4), "%s: start %d: %s", ln, i, tpz_strerror(rc));
		if (rc < 0) {   /* it saw the dead server at once */
			o[i].io = NULL;
			eio++;
		}
		if (i == NOUT / 4)
			kill(e.srv[1].pid, SIGKILL);
	}
	double t0 = tl_now_ms();
	for (int i = 0; i < NOUT; i++) {
		if (!o[i].io) {
			free(o[i].buf);
			continue;
		}
		ssize_t n = slice_read_end(o[i].io);
		CHECK(n == (ssize_t)o[i].len || n == -EIO, "%s: read %d after the kill: %zd (%s)", ln, i, n,
		      tpz_strerror((int)n));
		if (n == -EIO)
			eio++;
		else
			verify(model, SZ, &o[i], "read that ended before the kill");
		free(o[i].buf);
	}
	NOTE("%s: %d of %d reads in flight ended -EIO, all within %.0f ms of the kill", ln, eio, NOUT,
	     tl_now_ms() - t0);
	CHECK(eio > 0, "%s: no read in flight saw the killed server", ln);
	waitpid(e.srv[1].pid, NULL, 0);
	e.srv[1].pid = 0;
	CHECK(POLL_UNTIL(e.ep, !tpz_peer_is_up(e.ep, e.srv[1].node), 5000), "%s: server still up", ln);
	struct slice_aio *io;
	uint8_t *b = malloc(SZ);
	CHECK(b, "malloc");
	CHECK(slice_read_start(f, b, SZ, 0, &io) < 0 || slice_read_end(io) == -EIO,
	      "%s: a whole-object read with a server down did not fail", ln);

	st_start(&e, 1, NULL);
	struct out all = { .buf = b, .off = 0, .len = SZ };
	CHECK_RC(slice_read_start(f, b, SZ, 0, &all.io), 0);
	CHECK(slice_read_end(all.io) == SZ, "%s: whole-object read after the restart", ln);
	snprintf(what, sizeof(what), "%s after the restart", ln);
	verify(model, SZ, &all, what);
	free(b);
	CHECK_RC(slice_close(f), 0);
	st_teardown(&e);
	free(model);
}

int main(int argc, char **argv)
{
	tl_init(argc, argv, 60);
	run(TL_SHM);
	run(TL_TCP);
	return tl_finish();
}
