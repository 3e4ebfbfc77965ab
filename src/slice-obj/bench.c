/*
 * bench.c - slice-obj bench: the data path's bandwidth and latency, one
 * JSON line per phase on stdout (bench/slice-io.sh collects them).
 *
 *   write   one client streams `total` bytes in `bs` calls (write-behind),
 *           then closes (commit)
 *   read    the same bytes read back in `bs` reads: qd 1 is slice_read
 *           one after the other (read-ahead as configured); qd N keeps N
 *           reads in flight (slice_read_start/_end) into N buffers
 *   seq     write, then read
 *   rand    `bs` reads at random bs-aligned offsets of the first `total`
 *           bytes for `seconds`, qd in flight from one thread, latency
 *           percentiles (each read from its start to the moment its end
 *           is collected)
 *
 * --bench-reps N runs the read or rand phase N times in this process (a
 * line each, "rep"): the first read of a new process also pays for
 * mapping the shared pool's pages into it, the later ones do not.
 *
 * Every 4 KiB of what write writes starts with its own file offset (8
 * bytes); reads check it in every 4 KiB they get, so a misplaced or
 * missing block is counted ("errors") at the cost of one load per 4 KiB.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "obj.h"

#define STAMP 4096u

static uint32_t bench_rep = 1;   /* which repetition of the read phase */

static void stamp(uint8_t *buf, uint32_t len, uint64_t off)
{
	for (uint32_t i = 0; i + 8 <= len; i += STAMP) {
		uint64_t v = off + i;
		memcpy(buf + i, &v, 8);
	}
}

/* Stamps that are wrong (only where a stamp starts: off + i on 4 KiB). */
static uint64_t check(const uint8_t *buf, uint32_t len, uint64_t off)
{
	uint64_t bad = 0;

	for (uint32_t i = (uint32_t)((STAMP - off % STAMP) % STAMP); i + 8 <= len; i += STAMP) {
		uint64_t v;
		memcpy(&v, buf + i, 8);
		bad += v != off + i;
	}
	return bad;
}

static void print_rw(struct obj_ctx *x, const char *phase, uint32_t bs, uint32_t qd, uint64_t total,
		     double dt, uint64_t errors)
{
	printf("{\"phase\":\"%s\",\"rep\":%u,\"servers\":%u,\"stripe_unit\":%u,\"bs\":%u,\"qd\":%u,"
	       "\"bytes\":%" PRIu64 ",\"seconds\":%.4f,\"GBps\":%.3f,\"errors\":%" PRIu64 "}\n", phase,
	       bench_rep, x->map.layout.width, x->map.layout.stripe_unit, bs, qd, total, dt, total / dt / 1e9,
	       errors);
	fflush(stdout);
}

static int seq_write(struct obj_ctx *x, uint64_t total, uint32_t bs)
{
	struct slice_file *f;
	uint8_t *buf = aligned_alloc(4096, bs);
	int rc;

	if (!buf)
		return -ENOMEM;
	for (uint32_t i = 0; i < bs; i++)
		buf[i] = (uint8_t)(i * 7 + 1);
	if ((rc = slice_open(x->c, &x->map, &f)) < 0)
		goto out;
	double t0 = obj_now();
	for (uint64_t off = 0; off < total && rc == 0; off += bs) {
		stamp(buf, bs, off);
		ssize_t n = slice_write(f, buf, bs, off);
		rc = n < 0 ? (int)n : 0;
	}
	int rc2 = slice_close(f);
	double dt = obj_now() - t0;
	if (rc == 0)
		rc = rc2;
	if (rc == 0)
		print_rw(x, "write", bs, 1, total, dt, 0);
out:
	free(buf);
	return rc;
}

static int seq_read(struct obj_ctx *x, uint64_t total, uint32_t bs, uint32_t qd)
{
	struct slice_file *f;
	struct slice_aio **io = calloc(qd, sizeof(*io));
	uint8_t *buf = aligned_alloc(4096, (size_t)bs * qd);
	uint64_t bad = 0, started = 0;
	int rc;

	if (!buf || !io) {
		free(io);
		free(buf);
		return -ENOMEM;
	}
	if ((rc = slice_open(x->c, &x->map, &f)) < 0)
		goto out;
	double t0 = obj_now();
	if (qd == 1) {
		for (uint64_t off = 0; off < total && rc == 0; off += bs) {
			ssize_t n = slice_read(f, buf, bs, off);
			rc = n < 0 ? (int)n : 0;
			bad += rc == 0 ? check(buf, bs, off) : 0;
		}
	} else {
		/* A ring of qd reads: end the oldest, start the next in its buffer. */
		for (uint64_t i = 0; rc == 0; i++) {
			uint32_t s = (uint32_t)(i % qd);
			uint8_t *b = buf + (size_t)s * bs;
			if (io[s]) {
				ssize_t n = slice_read_end(io[s]);
				io[s] = NULL;
				if (n < 0) {
					rc = (int)n;
					break;
				}
				bad += check(b, bs, (i - qd) * bs);
			}
			if (started >= total) {
				if (i >= started / bs + qd)   /* every slot ended */
					break;
				continue;
			}
			rc = slice_read_start(f, b, bs, started, &io[s]);
			started += bs;
		}
		for (uint32_t s = 0; s < qd; s++)   /* after an error */
			if (io[s])
				slice_read_end(io[s]);
	}
	double dt = obj_now() - t0;
	slice_close(f);
	if (rc == 0)
		print_rw(x, "read", bs, qd, total, dt, bad);
out:
	free(io);
	free(buf);
	return rc;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

struct rslot {
	struct slice_aio *io;
	uint64_t          off;
	double            t0;
};

/* Random reads, qd in flight from this thread: collect every read that is
 * done; when none is, wait for the oldest (spinning, then sleeping, as
 * any waiting reader does). */
static int rand_read(struct obj_ctx *x, uint64_t total, uint32_t bs, uint32_t qd, double seconds)
{
	struct slice_file *f;
	struct rslot *sl = calloc(qd, sizeof(*sl));
	uint8_t *buf = aligned_alloc(4096, (size_t)bs * qd);
	uint64_t cap = 1u << 22, n = 0, bad = 0, blocks = total / bs ? total / bs : 1;
	double *lat = malloc(cap * sizeof(double));
	unsigned seed = 12345;
	int rc;

	if (!sl || !buf || !lat) {
		rc = -ENOMEM;
		goto out;
	}
	if ((rc = slice_open(x->c, &x->map, &f)) < 0)
		goto out;
	double t0 = obj_now(), until = t0 + seconds;
	for (;;) {
		bool any = false;
		for (uint32_t s = 0; s < qd && rc == 0; s++) {
			struct rslot *r = &sl[s];
			if (r->io && slice_read_done(r->io)) {
				ssize_t k = slice_read_end(r->io);
				double now = obj_now();
				r->io = NULL;
				if (k < 0) {
					rc = (int)k;
					break;
				}
				bad += check(buf + (size_t)s * bs, bs, r->off);
				if (n < cap)
					lat[n] = (now - r->t0) * 1e6;
				n++;
				any = true;
			}
			if (!r->io && obj_now() < until) {
				r->off = (uint64_t)((((uint64_t)rand_r(&seed) << 31) ^ (uint64_t)rand_r(&seed)) %
						    blocks) * bs;
				r->t0 = obj_now();
				rc = slice_read_start(f, buf + (size_t)s * bs, bs, r->off, &r->io);
				if (rc < 0)
					r->io = NULL;
			}
		}
		/* The oldest read still out: the one started first. */
		int32_t o = -1;
		for (uint32_t s = 0; s < qd; s++)
			if (sl[s].io && (o < 0 || sl[s].t0 < sl[o].t0))
				o = (int32_t)s;
		if (o < 0)
			break;   /* time is up and all are in (or an error) */
		if (!any && rc == 0) {   /* nothing came in: wait for the oldest */
			struct rslot *r = &sl[o];
			ssize_t k = slice_read_end(r->io);
			double now = obj_now();
			r->io = NULL;
			if (k < 0) {
				rc = (int)k;
			} else {
				bad += check(buf + (size_t)o * bs, bs, r->off);
				if (n < cap)
					lat[n] = (now - r->t0) * 1e6;
				n++;
			}
		}
		if (rc < 0) {
			for (uint32_t s = 0; s < qd; s++)
				if (sl[s].io)
					slice_read_end(sl[s].io);
			break;
		}
	}
	double dt = obj_now() - t0;
	slice_close(f);
	uint64_t k = n < cap ? n : cap;
	qsort(lat, k, sizeof(double), cmp_d);
	if (rc == 0 && k)
		printf("{\"phase\":\"randread\",\"rep\":%u,\"servers\":%u,\"bs\":%u,\"qd\":%u,\"ops\":%" PRIu64
		       ",\"seconds\":%.3f,\"iops\":%.0f,\"lat_us_p50\":%.2f,\"lat_us_p99\":%.2f,"
		       "\"lat_us_p999\":%.2f,\"errors\":%" PRIu64 "}\n",
		       bench_rep, x->map.layout.width, bs, qd, n, dt, n / dt, lat[k / 2], lat[k * 99 / 100],
		       lat[k * 999 / 1000], bad);
out:
	free(lat);
	free(buf);
	free(sl);
	return rc;
}

int obj_bench(struct obj_ctx *x, uint64_t obj, uint64_t total, uint32_t bs, const char *what,
	      uint32_t qd, double seconds, uint32_t reps)
{
	int rc = 0;

	x->map.obj = obj;
	if (!total || !bs || bs > (64u << 20) || total % bs || qd == 0 || qd > 1024 ||
	    (uint64_t)bs * qd > (1ull << 31) || reps == 0 || reps > 100) {
		fprintf(stderr, "slice-obj: bench: bad --bench-total, --bench-bs or --bench-qd "
			"(total a multiple of bs, qd 1..1024, reps 1..100)\n");
		return 2;
	}
	if (!strcmp(what, "write") || !strcmp(what, "seq"))
		rc = seq_write(x, total, bs);
	for (uint32_t r = 1; r <= reps && rc == 0; r++) {
		bench_rep = r;
		if (!strcmp(what, "read") || !strcmp(what, "seq"))
			rc = seq_read(x, total, bs, qd);
		if (rc == 0 && !strcmp(what, "rand"))
			rc = rand_read(x, total, bs, qd, seconds);
	}
	if (rc < 0) {
		fprintf(stderr, "slice-obj: bench: %s\n", strerror(-rc));
		return 1;
	}
	return 0;
}
