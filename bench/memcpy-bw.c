/*
 * memcpy-bw - the machine's memory-copy bandwidth, the ceiling the Slice
 * read path is measured against: one thread copies `total` bytes from a
 * DRAM-sized source (larger than any cache) in `bs` pieces, best of reps,
 * into one bs-sized buffer (stays in cache, as a reader reusing its
 * buffer) and into a DRAM-sized destination.  Prints one JSON line.
 *
 *   memcpy-bw [TOTAL_MIB [BS_KIB [REPS]]]     (defaults 1024 1024 3)
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	if (argc > 1 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
		printf("usage: memcpy-bw [TOTAL_MIB [BS_KIB [REPS]]]\n"
		       "One thread's memcpy bandwidth from DRAM, best of REPS; one JSON line.\n");
		return 0;
	}
	size_t total = (size_t)(argc > 1 ? atol(argv[1]) : 1024) << 20;
	size_t bs = (size_t)(argc > 2 ? atol(argv[2]) : 1024) << 10;
	int reps = argc > 3 ? atoi(argv[3]) : 3;
	if (!total || !bs || bs > total || reps < 1) {
		fprintf(stderr, "memcpy-bw: bad arguments\n");
		return 2;
	}
	char *src = aligned_alloc(4096, total), *dst = aligned_alloc(4096, bs);
	char *big = aligned_alloc(4096, total);
	if (!src || !dst || !big) {
		fprintf(stderr, "memcpy-bw: out of memory\n");
		return 1;
	}
	memset(src, 1, total);
	memset(dst, 0, bs);
	memset(big, 0, total);
	double best = 0, best_big = 0;
	for (int r = 0; r < reps; r++) {
		double t0 = now();
		for (size_t off = 0; off + bs <= total; off += bs)
			memcpy(dst, src + off, bs);
		double gbps = total / (now() - t0) / 1e9;
		best = gbps > best ? gbps : best;
		t0 = now();
		for (size_t off = 0; off + bs <= total; off += bs)
			memcpy(big + off, src + off, bs);
		gbps = total / (now() - t0) / 1e9;
		best_big = gbps > best_big ? gbps : best_big;
	}
	printf("{\"bench\":\"memcpy\",\"bytes\":%zu,\"bs\":%zu,\"GBps\":%.3f,\"GBps_dram\":%.3f,"
	       "\"check\":%d}\n", total, bs, best, best_big, dst[bs - 1] + big[total - 1]);
	return 0;
}
