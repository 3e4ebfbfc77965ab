/*
 * vol_stateless.c - READ, WRITE and COMMIT by handle for the NFS proxy,
 * which has no opens: the volume keeps up to VOL_LRU_MAX files open
 * itself, found by file id, the least recently used closed (fsync'd)
 * first when more are needed.  A file in use by a call is never closed.
 *
 * WRITE: the data is acknowledged by the block servers (or committed, for
 * a stable write) before it returns - a READ from anywhere right after
 * sees it - and a write that makes the file longer is reported to the
 * manager before it returns too, so a GETATTR anywhere sees the size.
 * The write verifier changes whenever data not yet committed may have
 * been lost: a write-behind or commit error, or a file whose data could
 * not be committed when it was closed to make room.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vol_internal.h"

static _Atomic uint64_t lru_clock;   /* LRU order (shared by volumes: only an order) */

static void bump_verifier(struct slice_vol *v)
{
	atomic_fetch_add(&v->verifier, 0x9e3779b97f4a7c15ull);
}

/* Close one unused stateless file if there are too many (files_lock held;
 * dropped and taken again around the close). */
static void evict(struct slice_vol *v)
{
	while (v->nlru > VOL_LRU_MAX) {
		struct slice_vfile *old = NULL;
		for (struct slice_vfile *f = v->files; f; f = f->next)
			if (f->stateless && !f->users && (!old || f->used < old->used))
				old = f;
		if (!old)
			return;
		old->users = 1;   /* ours now: nobody else picks it */
		v->nlru--;
		pthread_mutex_unlock(&v->files_lock);
		if (vol_file_close(old) < 0)
			bump_verifier(v);
		pthread_mutex_lock(&v->files_lock);
	}
}

static struct slice_vfile *find(struct slice_vol *v, uint64_t fileid)
{
	for (struct slice_vfile *f = v->files; f; f = f->next)
		if (f->stateless && f->info.fileid == fileid)
			return f;
	return NULL;
}

/* The open file for fh, in use by the caller until put(). */
static int get(struct slice_vol *v, const struct slice_cred *cr, const struct slice_vfh *fh,
	       struct slice_vfile **out)
{
	struct slice_fh_info fi;
	int rc = vol_fh_route(v, fh, &fi);
	if (rc < 0)
		return rc;
	pthread_mutex_lock(&v->files_lock);
	struct slice_vfile *f = find(v, fi.fileid);
	if (f && (f->fh.len != fh->len || memcmp(f->fh.b, fh->b, fh->len) != 0))
		f = NULL;   /* same id, other bytes: a forged or older handle - ask the manager */
	if (f) {
		f->users++;
		f->used = atomic_fetch_add(&lru_clock, 1) + 1;
		pthread_mutex_unlock(&v->files_lock);
		*out = f;
		return 0;
	}
	pthread_mutex_unlock(&v->files_lock);
	struct slice_vfile *nf;
	if ((rc = vol_file_open(v, cr, fh, true, &nf)) < 0)
		return rc;
	pthread_mutex_lock(&v->files_lock);
	nf->users = 1;
	nf->used = atomic_fetch_add(&lru_clock, 1) + 1;
	v->nlru++;
	evict(v);
	pthread_mutex_unlock(&v->files_lock);
	*out = nf;
	return 0;
}

static void put(struct slice_vol *v, struct slice_vfile *f)
{
	pthread_mutex_lock(&v->files_lock);
	f->users--;
	evict(v);
	pthread_mutex_unlock(&v->files_lock);
}

/* Under f->lock. */
static void attr_of(struct slice_vfile *f, struct slice_attr *attr)
{
	if (!attr)
		return;
	*attr = f->attr;
	attr->size = f->size;
	if (f->dirty)
		attr->mtime = attr->ctime = (struct timespec){ (time_t)(f->mtime_ns / 1000000000u),
							       (long)(f->mtime_ns % 1000000000u) };
}

ssize_t slice_vol_pread(struct slice_vol *v, const struct slice_cred *cr, const struct slice_vfh *fh, void *buf,
			size_t len, uint64_t off, bool *eof, struct slice_attr *attr)
{
	struct slice_vfile *f;
	int rc = get(v, cr, fh, &f);
	if (rc < 0)
		return rc;
	pthread_mutex_lock(&f->lock);
	ssize_t n = 0;
	if (off < f->size && len) {
		uint64_t want = f->size - off < len ? f->size - off : len;
		n = slice_read(f->sf, buf, (size_t)want, off);
	}
	if (eof)
		*eof = n >= 0 && off + (uint64_t)n >= f->size;
	attr_of(f, attr);
	pthread_mutex_unlock(&f->lock);
	put(v, f);
	return n;
}

ssize_t slice_vol_pwrite(struct slice_vol *v, const struct slice_cred *cr, const struct slice_vfh *fh,
			 const void *buf, size_t len, uint64_t off, bool stable, struct slice_attr *attr)
{
	if (len > (size_t)INT64_MAX || off > (uint64_t)INT64_MAX - len)
		return -EFBIG;
	struct slice_vfile *f;
	int rc = get(v, cr, fh, &f);
	if (rc < 0)
		return rc;
	pthread_mutex_lock(&f->lock);
	ssize_t n = len ? slice_write(f->sf, buf, len, off) : 0;
	if (n > 0) {
		if (off + len > f->size)
			f->size = off + len;
		f->dirty = true;
		f->mtime_ns = vol_now_ns();
	}
	/* acknowledged by the block servers (in their caches) before we
	 * answer, as an NFS server has a WRITE in its page cache: a READ from
	 * anywhere after the reply sees it; stable: committed too */
	if (n >= 0 && (rc = stable ? slice_fsync(f->sf) : slice_flush(f->sf)) < 0)
		n = rc;
	/* a growth is the manager's to know before we answer */
	if (n >= 0 && (f->size > f->mgr_size || stable) && (rc = vol_file_report(f, !stable)) < 0)
		n = rc;
	if (n < 0)
		bump_verifier(v);
	attr_of(f, attr);
	pthread_mutex_unlock(&f->lock);
	put(v, f);
	return n;
}

int slice_vol_commit(struct slice_vol *v, const struct slice_cred *cr, const struct slice_vfh *fh,
		     struct slice_attr *attr)
{
	struct slice_vfile *f;
	int rc = get(v, cr, fh, &f);
	if (rc < 0)
		return rc;
	pthread_mutex_lock(&f->lock);
	rc = slice_fsync(f->sf);
	int r2 = vol_file_report(f, false);
	if (rc == 0)
		rc = r2;
	if (rc < 0)
		bump_verifier(v);
	attr_of(f, attr);
	pthread_mutex_unlock(&f->lock);
	put(v, f);
	return rc;
}

/*
 * Close-to-open for the proxy's clients: a client revalidates a file at
 * open with GETATTR (which the proxy forwards to the manager); when the
 * manager's attributes show a change this volume did not make - another
 * size, another mtime than its own writes left - the open file (its size,
 * map and read-ahead buffers) is stale and must go before that client
 * reads.  slice_vol_stale only looks (no waiting: callable from a reply
 * thread); slice_vol_drop closes (commits, reports) the file if no call is
 * using it, so that the next READ or WRITE opens it anew.
 */
bool slice_vol_stale(struct slice_vol *v, const struct slice_vfh *fh, const struct slice_attr *mgr)
{
	struct slice_fh_info fi;
	if (vol_fh_route(v, fh, &fi) < 0)
		return false;
	bool stale = false;
	pthread_mutex_lock(&v->files_lock);
	struct slice_vfile *f = find(v, fi.fileid);
	if (f && !f->users && f->fh.len == fh->len && memcmp(f->fh.b, fh->b, fh->len) == 0) {
		pthread_mutex_lock(&f->lock);
		/* with writes not yet reported the manager is behind us, not ahead */
		stale = !f->dirty && (mgr->size != f->size || mgr->mtime.tv_sec != f->attr.mtime.tv_sec ||
				      mgr->mtime.tv_nsec != f->attr.mtime.tv_nsec);
		pthread_mutex_unlock(&f->lock);
	}
	pthread_mutex_unlock(&v->files_lock);
	return stale;
}

int slice_vol_drop(struct slice_vol *v, const struct slice_vfh *fh)
{
	struct slice_fh_info fi;
	int rc = vol_fh_route(v, fh, &fi);
	if (rc < 0)
		return rc;
	pthread_mutex_lock(&v->files_lock);
	struct slice_vfile *f = find(v, fi.fileid);
	if (!f || f->users) {   /* in use: it stays (the caller's READ comes after) */
		pthread_mutex_unlock(&v->files_lock);
		return 0;
	}
	f->users = 1;   /* ours now, as evict() takes one */
	v->nlru--;
	pthread_mutex_unlock(&v->files_lock);
	rc = vol_file_close(f);
	if (rc < 0)
		bump_verifier(v);
	return rc;
}
