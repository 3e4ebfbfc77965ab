/*
 * io.c - the operations that always touch the store, run on the I/O
 * threads: WRITE, COMMIT, TRUNCATE, REMOVE, STAT, STATFS.  Their arguments
 * were checked on the delivery path (ops.c).
 *
 * The boot verifier a reply carries is read *before* the operation: if a
 * sync fails while the operation runs (and may have lost its bytes), the
 * verifier changes after we read it, and the client's COMMIT sees a
 * different one and writes again.
 */
#include <errno.h>
#include <string.h>

#include "blockd.h"

static void reply_write_res(struct blockd *bd, struct nrpc_req *req, uint64_t size, uint64_t verf,
			    bool stable)
{
	struct slb_write_res res = { .size = size, .verf = verf, .stable = stable };

	if (nrpc_reply(req, 0, &res, sizeof(res), NULL, 0, NULL, NULL) < 0)
		BCTR(bd, errors, 1);
}

/* The request's frames as an iovec, bounded by its length. */
static int payload_iov(const struct nrpc_req *req, uint32_t len, struct iovec *iov)
{
	int n = 0;

	for (uint32_t i = 0; i < req->payload.nseg && len; i++) {
		uint32_t k = req->payload.seg[i].len < len ? req->payload.seg[i].len : len;
		iov[n++] = (struct iovec){ req->payload.seg[i].base, k };
		len -= k;
	}
	return n;
}

void write_io(struct blockd *bd, struct nrpc_req *req)
{
	struct iovec iov[TPZ_SG_MAX];
	struct slb_rw a;
	uint64_t size = 0;
	int rc;

	memcpy(&a, req->args, sizeof(a));
	uint64_t verf = atomic_load(&bd->verf);
	int n = payload_iov(req, a.len, iov);
	pthread_rwlock_t *lk = obj_lock(bd, a.obj);
	pthread_rwlock_wrlock(lk);
	if (a.len) {
		/* Straight from the request's frames to the file. */
		rc = store_write(bd->st, a.obj, a.off, iov, n, &size);
		if (rc == 0)
			cache_write(bd->cache, a.obj, a.off, iov, n);
		else   /* the disk may hold part of it now: forget, do not guess */
			cache_drop(bd->cache, a.obj, a.off / CACHE_BLOCK);
	} else {
		rc = store_size(bd->st, a.obj, &size);
	}
	pthread_rwlock_unlock(lk);
	/* The frames go back to the pool before we wait for the disk. */
	tpz_payload_free(bd->ep, &req->payload);
	if (rc == 0 && (a.flags & SLB_STABLE)) {
		pthread_rwlock_rdlock(lk);
		rc = store_sync(bd->st, a.obj, &size);
		pthread_rwlock_unlock(lk);
	}
	if (rc < 0) {
		blockd_fail(bd, req, rc);
		return;
	}
	BCTR(bd, writes, 1);
	BCTR(bd, bytes_written, a.len);
	reply_write_res(bd, req, size, verf, a.flags & SLB_STABLE);
}

void commit_io(struct blockd *bd, struct nrpc_req *req)
{
	struct slb_obj a;
	uint64_t size;

	memcpy(&a, req->args, sizeof(a));
	pthread_rwlock_t *lk = obj_lock(bd, a.obj);
	pthread_rwlock_rdlock(lk);
	int rc = store_sync(bd->st, a.obj, &size);
	pthread_rwlock_unlock(lk);
	if (rc < 0) {
		blockd_fail(bd, req, rc);
		return;
	}
	BCTR(bd, commits, 1);
	/* After the sync: a failure before it has changed the verifier. */
	reply_write_res(bd, req, size, atomic_load(&bd->verf), true);
}

void truncate_io(struct blockd *bd, struct nrpc_req *req)
{
	struct slb_trunc a;

	memcpy(&a, req->args, sizeof(a));
	uint64_t verf = atomic_load(&bd->verf);
	pthread_rwlock_t *lk = obj_lock(bd, a.obj);
	pthread_rwlock_wrlock(lk);
	/* The block holding the new end changes (zeros after it) and later
	 * ones go.  Forgotten first: a hit racing us finds nothing and waits
	 * for the lock, rather than pairing the new size with old bytes
	 * (nobody can fill the cache for obj while we hold its lock). */
	cache_drop(bd->cache, a.obj, a.size / CACHE_BLOCK);
	int rc = store_truncate(bd->st, a.obj, a.size);
	pthread_rwlock_unlock(lk);
	if (rc < 0) {
		blockd_fail(bd, req, rc);
		return;
	}
	BCTR(bd, truncates, 1);
	reply_write_res(bd, req, a.size, verf, true);
}

void remove_io(struct blockd *bd, struct nrpc_req *req)
{
	struct slb_obj a;

	memcpy(&a, req->args, sizeof(a));
	pthread_rwlock_t *lk = obj_lock(bd, a.obj);
	pthread_rwlock_wrlock(lk);
	cache_drop(bd->cache, a.obj, 0);   /* first: see truncate_io */
	int rc = store_remove(bd->st, a.obj);
	pthread_rwlock_unlock(lk);
	if (rc < 0) {
		blockd_fail(bd, req, rc);
		return;
	}
	BCTR(bd, removes, 1);
	if (nrpc_reply(req, 0, NULL, 0, NULL, 0, NULL, NULL) < 0)
		BCTR(bd, errors, 1);
}

void stat_io(struct blockd *bd, struct nrpc_req *req)
{
	struct store_stat st;
	struct slb_obj a;

	memcpy(&a, req->args, sizeof(a));
	pthread_rwlock_t *lk = obj_lock(bd, a.obj);
	pthread_rwlock_rdlock(lk);
	int rc = store_stat(bd->st, a.obj, &st);
	pthread_rwlock_unlock(lk);
	if (rc < 0) {
		blockd_fail(bd, req, rc);
		return;
	}
	BCTR(bd, stats, 1);
	struct slb_stat_res res = { .size = st.size, .allocated = st.allocated, .mtime_ns = st.mtime_ns };
	nrpc_reply(req, 0, &res, sizeof(res), NULL, 0, NULL, NULL);
}

void statfs_io(struct blockd *bd, struct nrpc_req *req)
{
	struct store_fs fs;
	struct cache_stats cs;
	int rc = store_statfs(bd->st, &fs);

	if (rc < 0) {
		blockd_fail(bd, req, rc);
		return;
	}
	cache_stats(bd->cache, &cs);
	struct slb_statfs_res res = {
		.total_bytes = fs.total_bytes, .free_bytes = fs.free_bytes, .objects = fs.objects,
		.cache_bytes = cs.bytes, .cache_used = cs.used, .verf = atomic_load(&bd->verf),
	};
	nrpc_reply(req, 0, &res, sizeof(res), NULL, 0, NULL, NULL);
}
