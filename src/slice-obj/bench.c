/*
 * bench.c - slice-obj bench: the data path's bandwidth and latency, one
 * JSON line per phase on stdout (bench/slice-io.sh collects them).
 *
 *   seq/write/read  one client streams `total` bytes in `bs` calls
 *   rand            `bs` reads at random aligned offsets of the first
 *                   `total` bytes for `seconds`, qd threads each with one
 *                   read outstanding (queue depth qd), latency percentiles
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "obj.h"

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
		ssize_t n = slice_write(f, buf, bs, off);
		rc = n < 0 ? (int)n : 0;
	}
	int rc2 = slice_close(f);
	double dt = obj_now() - t0;
	if (rc == 0)
		rc = rc2;
	if (rc == 0)
		printf("{\"phase\":\"write\",\"servers\":%u,\"stripe_unit\":%u,\"bs\":%u,\"bytes\":%" PRIu64
		       ",\"seconds\":%.4f,\"GBps\":%.3f}\n", x->map.layout.width, x->map.layout.stripe_unit,
		       bs, total, dt, total / dt / 1e9);
out:
	free(buf);
	return rc;
}

static int seq_read(struct obj_ctx *x, uint64_t total, uint32_t bs)
{
	struct slice_file *f;
	uint8_t *buf = aligned_alloc(4096, bs);
	int rc;

	if (!buf)
		return -ENOMEM;
	if ((rc = slice_open(x->c, &x->map, &f)) < 0)
		goto out;
	double t0 = obj_now();
	for (uint64_t off = 0; off < total && rc == 0; off += bs) {
		ssize_t n = slice_read(f, buf, bs, off);
		rc = n < 0 ? (int)n : 0;
	}
	double dt = obj_now() - t0;
	slice_close(f);
	if (rc == 0)
		printf("{\"phase\":\"read\",\"servers\":%u,\"stripe_unit\":%u,\"bs\":%u,\"bytes\":%" PRIu64
		       ",\"seconds\":%.4f,\"GBps\":%.3f}\n", x->map.layout.width, x->map.layout.stripe_unit,
		       bs, total, dt, total / dt / 1e9);
out:
	free(buf);
	return rc;
}

struct rand_arg {
	struct obj_ctx *x;
	uint64_t        total;
	uint32_t        bs;
	double          until;
	uint64_t        n;
	double         *lat;      /* microseconds */
	uint64_t        cap;
	int             rc;
	unsigned        seed;
};

static void *rand_thread(void *p)
{
	struct rand_arg *a = p;
	struct slice_file *f;
	uint8_t *buf = aligned_alloc(4096, a->bs);
	uint64_t blocks = a->total / a->bs;

	if (!buf || (a->rc = slice_open(a->x->c, &a->x->map, &f)) < 0) {
		free(buf);
		return NULL;
	}
	while (obj_now() < a->until) {
		uint64_t off = (uint64_t)(rand_r(&a->seed) % (blocks ? blocks : 1)) * a->bs;
		double t0 = obj_now();
		ssize_t n = slice_read(f, buf, a->bs, off);
		double us = (obj_now() - t0) * 1e6;
		if (n < 0) {
			a->rc = (int)n;
			break;
		}
		if (a->n < a->cap)
			a->lat[a->n] = us;
		a->n++;
	}
	slice_close(f);
	free(buf);
	return NULL;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static int rand_read(struct obj_ctx *x, uint64_t total, uint32_t bs, uint32_t qd, double seconds)
{
	struct rand_arg *a = calloc(qd, sizeof(*a));
	pthread_t *t = calloc(qd, sizeof(*t));
	int rc = 0;

	if (!a || !t)
		return -ENOMEM;
	double t0 = obj_now();
	for (uint32_t i = 0; i < qd; i++) {
		a[i] = (struct rand_arg){ .x = x, .total = total, .bs = bs, .until = t0 + seconds,
					  .cap = 1u << 20, .seed = 12345 + i };
		a[i].lat = malloc(a[i].cap * sizeof(double));
		pthread_create(&t[i], NULL, rand_thread, &a[i]);
	}
	uint64_t n = 0, k = 0;
	for (uint32_t i = 0; i < qd; i++) {
		pthread_join(t[i], NULL);
		n += a[i].n;
		if (a[i].rc < 0 && rc == 0)
			rc = a[i].rc;
	}
	double dt = obj_now() - t0;
	double *all = malloc((n ? n : 1) * sizeof(double));
	for (uint32_t i = 0; i < qd; i++) {
		uint64_t m = a[i].n < a[i].cap ? a[i].n : a[i].cap;
		memcpy(all + k, a[i].lat, m * sizeof(double));
		k += m;
		free(a[i].lat);
	}
	qsort(all, k, sizeof(double), cmp_d);
	if (rc == 0 && k)
		printf("{\"phase\":\"randread\",\"servers\":%u,\"bs\":%u,\"qd\":%u,\"ops\":%" PRIu64
		       ",\"seconds\":%.3f,\"iops\":%.0f,\"lat_us_p50\":%.2f,\"lat_us_p99\":%.2f}\n",
		       x->map.layout.width, bs, qd, n, dt, n / dt, all[k / 2], all[k * 99 / 100]);
	free(all);
	free(a);
	free(t);
	return rc;
}

int obj_bench(struct obj_ctx *x, uint64_t obj, uint64_t total, uint32_t bs, const char *what,
	      uint32_t qd, double seconds)
{
	int rc = 0;

	x->map.obj = obj;
	if (!total || !bs || bs > (64u << 20)) {
		fprintf(stderr, "slice-obj: bench: bad --bench-total or --bench-bs\n");
		return 2;
	}
	if (!strcmp(what, "write") || !strcmp(what, "seq"))
		rc = seq_write(x, total, bs);
	if (rc == 0 && (!strcmp(what, "read") || !strcmp(what, "seq")))
		rc = seq_read(x, total, bs);
	if (rc == 0 && !strcmp(what, "rand"))
		rc = rand_read(x, total, bs, qd ? qd : 1, seconds);
	if (rc < 0) {
		fprintf(stderr, "slice-obj: bench: %s\n", strerror(-rc));
		return 1;
	}
	return 0;
}
