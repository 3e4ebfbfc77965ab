/*
 * read.c - READ.  The reply's payload is a scatter list over cache blocks:
 * one segment per CACHE_BLOCK the range touches, a shared block of zeros
 * for blocks wholly past the end.  The blocks stay pinned until the engine
 * says it no longer reads them (the done callback), and are never copied
 * by this process: over shm the client copies them once, straight into its
 * buffer - with a memcpy out of the fabric's pool when the cache is in
 * frames (they are lent: TPZ_SEND_LEND), else out of our private memory
 * with process_vm_readv (private memory plus a done callback selects that
 * path) - and over tcp they are written to the socket from where they are.
 *
 * A read of SLB_IO_MAX bytes that does not start on a cache block touches
 * TPZ_SG_MAX + 1 blocks, one more than a payload can list: that one reply
 * is copied into a bounce buffer (counted as `bounced`).
 *
 * Hits are answered on the delivery path (read_fast), and so are misses
 * whose bytes are all in the page cache; the rest goes to an I/O thread
 * (read_io).  A miss reads the missing blocks from the store (which checks
 * their CRCs), indexes them and answers the same way.  A block with a bad
 * CRC is never indexed; the read fails with EIO only if a bad 4 KiB block
 * lies inside the requested range.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "blockd.h"

#define RD_MAX (TPZ_SG_MAX + 1)   /* cache blocks one read can touch */
_Static_assert((SLB_IO_MAX + CACHE_BLOCK - 1) / CACHE_BLOCK + 1 <= RD_MAX, "a read fits RD_MAX blocks");
_Static_assert(CACHE_BLOCK % STORE_BLOCK == 0 && CACHE_BLOCK / STORE_BLOCK <= STORE_READ_BLOCKS,
	       "a cache block is whole store blocks, read in one call");

/* Past the end: the engine reads these zeros in place, like a cache block
 * (bd->zero: this, or a frame of zeros when the cache is in frames). */
const uint8_t zero_block[CACHE_BLOCK] __attribute__((aligned(4096)));

/* The cache blocks a reply lends; freed when the engine is done. */
struct lend {
	struct blockd *bd;
	uint32_t       n;
	struct cblk   *b[RD_MAX];
	void          *bounce;
};

static void lend_done(void *arg, int status)
{
	struct lend *l = arg;

	(void)status;   /* sent or not, the engine no longer reads them */
	for (uint32_t i = 0; i < l->n; i++)
		cache_unpin(l->bd->cache, l->b[i]);
	free(l->bounce);
	atomic_fetch_sub(&l->bd->pinned, 1);
	free(l);
}

static void unpin_all(struct blockd *bd, struct cblk **blk, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		if (blk[i])
			cache_unpin(bd->cache, blk[i]);
}

/* The requested bytes of blocks blk[0..n-1] (NULL: zeros) as a payload. */
static void make_segments(struct blockd *bd, const struct slb_rw *a, struct cblk **blk, uint32_t n,
			  struct tpz_iov *seg)
{
	uint32_t bo = (uint32_t)(a->off % CACHE_BLOCK), left = a->len;

	for (uint32_t i = 0; i < n && left; i++) {
		uint32_t k = CACHE_BLOCK - bo < left ? CACHE_BLOCK - bo : left;
		uint8_t *base = blk[i] ? blk[i]->data : (uint8_t *)bd->zero;
		seg[i] = (struct tpz_iov){ base + bo, k };
		left -= k;
		bo = 0;
	}
}

/* Answer READ a from the pinned blocks (the pins pass to the reply). */
static void reply_blocks(struct blockd *bd, struct nrpc_req *req, const struct slb_rw *a, uint64_t size,
			 uint64_t verf, struct cblk **blk, uint32_t n)
{
	struct slb_read_res res = { .size = size, .verf = verf };
	struct tpz_iov seg[RD_MAX];
	struct tpz_payload pl = { 0 };
	struct lend *l;
	int rc;

	if (a->len == 0) {
		unpin_all(bd, blk, n);
		rc = nrpc_reply(req, 0, &res, sizeof(res), NULL, 0, NULL, NULL);
		goto out;
	}
	if (!(l = calloc(1, sizeof(*l)))) {
		unpin_all(bd, blk, n);
		blockd_fail(bd, req, -ENOMEM);
		return;
	}
	l->bd = bd;
	make_segments(bd, a, blk, n, seg);
	if (n <= TPZ_SG_MAX) {
		pl.nseg = n;
		memcpy(pl.seg, seg, n * sizeof(seg[0]));
		for (uint32_t i = 0; i < n; i++)
			if (blk[i])
				l->b[l->n++] = blk[i];
	} else {
		/* One segment too many: copy this reply once. */
		if (!(l->bounce = malloc(a->len))) {
			free(l);
			unpin_all(bd, blk, n);
			blockd_fail(bd, req, -ENOMEM);
			return;
		}
		for (uint32_t i = 0, o = 0; i < n; o += seg[i].len, i++)
			memcpy((uint8_t *)l->bounce + o, seg[i].base, seg[i].len);
		unpin_all(bd, blk, n);
		pl.nseg = 1;
		pl.seg[0] = (struct tpz_iov){ l->bounce, a->len };
		BCTR(bd, bounced, 1);
	}
	/* Frames (the cache is in the pool) are lent, never given: over shm
	 * the client copies them out of the pool and they stay ours; over
	 * tcp they are written from where they are.  Without the flag the
	 * engine would pass them on or free them. */
	uint32_t flags = 0;
	for (uint32_t i = 0; i < pl.nseg && !flags; i++)
		if (tpz_is_frame(bd->ep, pl.seg[i].base))
			flags = TPZ_SEND_LEND;
	if (flags)
		BCTR(bd, lent, 1);
	atomic_fetch_add(&bd->pinned, 1);
	rc = nrpc_reply(req, 0, &res, sizeof(res), &pl, flags, lend_done, l);
	if (rc < 0)   /* not sent: no done will come */
		lend_done(l, rc);
out:
	if (rc < 0) {
		blockd_fail(bd, req, -EIO);
		return;
	}
	BCTR(bd, reads, 1);
	BCTR(bd, bytes_read, a->len);
}

/* Blocks first.. of the range: how many, and how many hold bytes before
 * the end (the others are zeros). */
static void block_span(const struct slb_rw *a, uint64_t size, uint64_t *first, uint32_t *n, uint32_t *live)
{
	uint64_t last = a->len ? (a->off + a->len - 1) / CACHE_BLOCK : a->off / CACHE_BLOCK;
	uint64_t eof = (size + CACHE_BLOCK - 1) / CACHE_BLOCK;   /* first block wholly past the end */

	*first = a->off / CACHE_BLOCK;
	*n = a->len ? (uint32_t)(last - *first + 1) : 0;
	*live = *first >= eof ? 0 : (uint32_t)((last + 1 < eof ? last + 1 : eof) - *first);
	if (*live > *n)
		*live = *n;
}

/* Bit mask of the store blocks of cache block idx that [off, off+len)
 * touches. */
static uint64_t wanted_mask(const struct slb_rw *a, uint64_t idx)
{
	uint64_t bs = idx * CACHE_BLOCK, be = bs + CACHE_BLOCK;
	uint64_t lo = a->off > bs ? a->off : bs, hi = a->off + a->len < be ? a->off + a->len : be;
	uint64_t fb = (lo - bs) / STORE_BLOCK, lb = (hi - bs - 1) / STORE_BLOCK;

	return (lb - fb + 1 >= 64 ? ~0ull : ((1ull << (lb - fb + 1)) - 1)) << fb;
}

/* Read cache block idx of obj from the store into a block of our own.
 * Without a cache (--cache-mb 0) only the 4 KiB blocks the request needs
 * are read: a whole 64 KiB block is worth reading only to keep it. */
static int fill_block(struct blockd *bd, const struct slb_rw *a, uint64_t idx, unsigned flags,
		      struct cblk **out)
{
	struct cblk *b = cache_alloc(bd->cache);
	uint64_t size, bad, want = wanted_mask(a, idx);
	uint32_t lo = 0, hi = CACHE_BLOCK;
	int rc;

	if (!b)
		return -ENOMEM;
	if (!bd->o->cache_mb) {
		lo = (uint32_t)__builtin_ctzll(want) * STORE_BLOCK;
		hi = (uint32_t)(64 - __builtin_clzll(want)) * STORE_BLOCK;
	}
	rc = store_read(bd->st, a->obj, idx * CACHE_BLOCK + lo, hi - lo, b->data + lo, flags, &size, &bad);
	bad <<= lo / STORE_BLOCK;
	if (rc == 0) {
		*out = b->spare ? b : cache_insert(bd->cache, b, a->obj, idx);
		return 0;
	}
	if (rc == -EIO && !(bad & want)) {
		*out = b;   /* good where asked: serve it, but never index it */
		return 0;
	}
	cache_unpin(bd->cache, b);
	return rc;
}

/* Pin blocks first..first+live-1 of the range, filling the missing ones
 * from the store (under the object's read lock).  On an error (-EAGAIN
 * with STORE_NOWAIT: not all in memory) nothing stays pinned. */
static int gather(struct blockd *bd, const struct slb_rw *a, uint64_t first, uint32_t live,
		  unsigned flags, struct cblk **blk)
{
	uint32_t i;
	int rc = 0;

	for (i = 0; i < live; i++)
		if (!(blk[i] = cache_pin(bd->cache, a->obj, first + i)) &&
		    (rc = fill_block(bd, a, first + i, flags, &blk[i])) < 0)
			break;
	if (rc < 0)
		unpin_all(bd, blk, i);   /* blk[i] itself is NULL */
	return rc;
}

/*
 * The delivery path: answer from the cache, or else from the page cache
 * if everything needed is there (the store reads with RWF_NOWAIT, and the
 * object's lock is only tried): a miss that need not wait for the disk is
 * served without a trip through the I/O threads.  False: hand it over.
 */
bool read_fast(struct blockd *bd, struct nrpc_req *req, const struct slb_rw *a)
{
	struct cblk *blk[RD_MAX] = { 0 };
	uint64_t size, now, first;
	uint32_t n, live;

	/* The size is known without I/O only while the object is open. */
	if (store_peek_size(bd->st, a->obj, &size) < 0)
		return false;
	block_span(a, size, &first, &n, &live);
	if (!live || cache_pin_run(bd->cache, a->obj, first, live, blk)) {
		BCTR(bd, cache_hits, 1);
		reply_blocks(bd, req, a, size, atomic_load(&bd->verf), blk, n);
		return true;
	}
	pthread_rwlock_t *lk = obj_lock(bd, a->obj);
	if (pthread_rwlock_tryrdlock(lk) != 0)
		return false;   /* a write holds it: do not wait here */
	uint64_t verf = atomic_load(&bd->verf);
	int rc = -EAGAIN;
	if (store_peek_size(bd->st, a->obj, &now) == 0 && now == size)
		rc = gather(bd, a, first, live, STORE_NOWAIT, blk);
	pthread_rwlock_unlock(lk);
	if (rc == -EAGAIN)
		return false;
	BCTR(bd, cache_misses, 1);
	if (rc < 0)
		blockd_fail(bd, req, rc);
	else
		reply_blocks(bd, req, a, size, verf, blk, n);
	return true;
}

void read_io(struct blockd *bd, struct nrpc_req *req)
{
	struct cblk *blk[RD_MAX] = { 0 };
	struct slb_rw a;
	uint64_t size, first;
	uint32_t n, live;
	int rc;

	memcpy(&a, req->args, sizeof(a));   /* checked on the delivery path */
	BCTR(bd, cache_misses, 1);
	BCTR(bd, deferred, 1);
	uint64_t verf = atomic_load(&bd->verf);
	pthread_rwlock_t *lk = obj_lock(bd, a.obj);
	pthread_rwlock_rdlock(lk);
	if ((rc = store_size(bd->st, a.obj, &size)) == 0) {
		block_span(&a, size, &first, &n, &live);
		rc = gather(bd, &a, first, live, 0, blk);
	}
	pthread_rwlock_unlock(lk);
	if (rc < 0) {
		blockd_fail(bd, req, rc);
		return;
	}
	reply_blocks(bd, req, &a, size, verf, blk, n);
}
