/*
 * obj.h - slice-obj: put, get, stat, remove objects through the Slice data
 * path (libslice), and measure it.  What its files share.
 */
#ifndef SLICE_OBJ_H
#define SLICE_OBJ_H

#include <stdint.h>

#include "slice.h"

struct obj_ctx {
	struct tpz_endpoint    *ep;
	struct nrpc            *r;
	struct slice_client    *c;
	struct slice_block_map  map;     /* obj set per command */
	uint32_t                nservers;
	char                    urls[SLICE_STRIPE_MAX][128];
	uint32_t                readahead;
	int                     verbose;
};

int obj_put(struct obj_ctx *x, uint64_t obj, const char *path);
int obj_get(struct obj_ctx *x, uint64_t obj, const char *path, int64_t size);
int obj_stat(struct obj_ctx *x, uint64_t obj);
int obj_rm(struct obj_ctx *x, uint64_t obj);
int obj_truncate(struct obj_ctx *x, uint64_t obj, uint64_t size);
int obj_statfs(struct obj_ctx *x);
/* bench: sequential write then read of `total` bytes in `bs` pieces, or
 * random `bs` reads at queue depth qd (read and rand reps times); prints
 * one JSON line per phase. */
int obj_bench(struct obj_ctx *x, uint64_t obj, uint64_t total, uint32_t bs, const char *what,
	      uint32_t qd, double seconds, uint32_t reps);

uint64_t obj_parse_size(const char *s);   /* 64K, 1M, 1G; 0 on error */
double   obj_now(void);

#endif
