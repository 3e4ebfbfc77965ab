/*
 * blockd.h - slice-blockd, the Slice block I/O server: what its files
 * share.
 *
 *   main.c      startup, the delivery loop, signals, shutdown
 *   opts.c      command line
 *   log.c       log lines (blockd_log.h)
 *   ops.c       the NetRPC operations: checks on the delivery path, then
 *               memory (reads that need no disk) or the I/O threads
 *   read.c      READ: cache hits, misses filled from the store, replies
 *               that lend cache blocks
 *   io.c        WRITE, COMMIT, TRUNCATE, REMOVE, STAT, STATFS on the I/O
 *               threads
 *   ioq.c       the I/O threads
 *   cache.c     the block cache ("network memory")
 *   store*.c    the backing store (store.h), on files
 *
 * Concurrency: one thread drives delivery (main.c); it runs every NetRPC
 * handler, answers cache hits itself and detaches the rest to the I/O
 * threads.  Calls on one object are ordered by a striped reader/writer
 * lock (obj_lock): writes, truncates and removes exclusive, the rest
 * shared, as store.h asks; cache updates happen under the same lock.
 */
#ifndef BLOCKD_H
#define BLOCKD_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "blockd_log.h"
#include "cache.h"
#include "ioq.h"
#include "netrpc.h"
#include "slice_blockd.h"
#include "slice_wire.h"
#include "store.h"

#define BLOCKD_LISTEN_MAX 8
#define BLOCKD_LOCKS      256u    /* object lock stripes */
#define BLOCKD_SPIN_US    50      /* --spin-us default */

struct blockd_opts {
	uint32_t    node;
	const char *fabric;
	const char *listen[BLOCKD_LISTEN_MAX];
	int         nlisten;
	const char *secret_file;
	const char *data;
	uint64_t    cache_mb;
	uint32_t    workers;
	uint32_t    pool_frames;
	uint32_t    max_open;
	int         spin_us;        /* poll (yielding) this long before sleeping */
	int         log_level;
};

/* Exit codes: 0 done, 1 failed at runtime, 2 bad command line. */
int blockd_parse_opts(int argc, char **argv, struct blockd_opts *o);

struct blockd_ctr {
	_Atomic uint64_t reads, writes, commits, truncates, removes, stats;
	_Atomic uint64_t bytes_read, bytes_written;
	_Atomic uint64_t cache_hits, cache_misses, deferred, bounced, lent;
	_Atomic uint64_t errors, refused;
};

struct blockd {
	const struct blockd_opts *o;
	struct tpz_endpoint *ep;
	struct nrpc         *r;
	struct store        *st;
	struct cache        *cache;
	struct ioq           ioq;
	pthread_rwlock_t     locks[BLOCKD_LOCKS];
	_Atomic uint64_t     verf;       /* boot verifier */
	_Atomic bool         stopping;   /* new requests are refused */
	_Atomic uint32_t     pinned;     /* replies still reading cache blocks */
	const uint8_t       *zero;       /* CACHE_BLOCK zeros: a frame if the cache is in frames */
	struct blockd_ctr    ctr;
};

#define BCTR(bd, f, n) atomic_fetch_add_explicit(&(bd)->ctr.f, (n), memory_order_relaxed)

/* The stripe of obj's lock. */
pthread_rwlock_t *obj_lock(struct blockd *bd, uint64_t obj);
/* A new boot verifier: unstable data may be lost (a sync failed). */
void blockd_new_verf(struct blockd *bd, const char *why);

/* ops.c */
int  blockd_register(struct blockd *bd);
/* Answer req with an error (counted, logged). */
void blockd_fail(struct blockd *bd, struct nrpc_req *req, int status);
const char *blockd_op_name(uint16_t op);
/* Hand a request to the I/O threads: run(bd, req) answers it there (req
 * is the detached copy; it is freed after run returns). */
typedef void (*blockd_io_fn)(struct blockd *bd, struct nrpc_req *req);
void blockd_defer(struct blockd *bd, struct nrpc_req *req, blockd_io_fn run);
void blockd_counters(struct blockd *bd, struct slb_blockd_counters *out);

/* read.c */
extern const uint8_t zero_block[CACHE_BLOCK];   /* in private memory */
/* On the delivery path: answer from memory (the cache, the page cache)
 * if everything is there; false: hand the request to read_io. */
bool read_fast(struct blockd *bd, struct nrpc_req *req, const struct slb_rw *a);
/* On an I/O thread: fill what is missing, then answer. */
void read_io(struct blockd *bd, struct nrpc_req *req);

/* io.c */
void write_io(struct blockd *bd, struct nrpc_req *req);
void commit_io(struct blockd *bd, struct nrpc_req *req);
void truncate_io(struct blockd *bd, struct nrpc_req *req);
void remove_io(struct blockd *bd, struct nrpc_req *req);
void stat_io(struct blockd *bd, struct nrpc_req *req);
void statfs_io(struct blockd *bd, struct nrpc_req *req);

#endif
