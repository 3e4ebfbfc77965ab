/*
 * ops_file.c - open files: open, create, read, write, flush, fsync,
 * release.  Data goes between the kernel and the block servers through the
 * inode's slice_vfile (shared by the inode's opens, see slicefs.h).
 *
 * Close-to-open: open asks the manager for the attributes; the kernel
 * keeps the page cache only if mtime and size are what this mount saw at
 * its last open or close, and otherwise drops it and the attributes it
 * holds (so a read after the open sees another client's closed writes).
 * flush (every close) reports size and mtime to the manager.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "slicefs.h"

static struct sfs_inode *open_inode(struct fuse_file_info *fi)
{
	return (struct sfs_inode *)(uintptr_t)fi->fh;
}

static uint32_t want_of(int flags)
{
	switch (flags & O_ACCMODE) {
	case O_WRONLY:
		return W_OK;
	case O_RDWR:
		return R_OK | W_OK;
	default:
		return R_OK;
	}
}

/* Decide keep_cache from the manager's attributes, remember them. */
static bool revalidate(struct sfs *s, struct sfs_inode *in, const struct slice_attr *a)
{
	bool keep;

	pthread_mutex_lock(&in->olock);
	/* A file open here already: its vfile's writes are in this page
	 * cache too, and the manager may not have the size yet. */
	keep = in->vf != NULL ||
	       (in->seen && in->seen_size == a->size && in->seen_mtime.tv_sec == a->mtime.tv_sec &&
		in->seen_mtime.tv_nsec == a->mtime.tv_nsec);
	if (!in->vf) {
		in->seen = true;
		in->seen_size = a->size;
		in->seen_mtime = a->mtime;
	}
	sfs_dbg(s, "open %llu: manager size %llu, seen %d size %llu, open %d: keep %d\n",
		(unsigned long long)in->ino, (unsigned long long)a->size, in->seen,
		(unsigned long long)in->seen_size, in->vf != NULL, keep);
	pthread_mutex_unlock(&in->olock);
	return keep;
}

static int truncate_zero(struct sfs *s, const struct slice_cred *cr, struct sfs_inode *in)
{
	struct slice_sattr sa = { .valid = SLICE_SET_SIZE, .size = 0 };

	__atomic_store_n(&in->written, true, __ATOMIC_RELAXED);
	return slice_vol_setattr(s->vol, cr, &in->fh, &sa, NULL);
}

static void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct sfs *s = sfs_of(req);
	struct sfs_inode *in = sfs_inode_get(s, ino);
	struct slice_cred cr;
	struct slice_attr a;
	uint32_t want = want_of(fi->flags) | (fi->flags & O_TRUNC ? W_OK : 0), granted = 0;
	int rc;

	if (!in) {
		fuse_reply_err(req, ESTALE);
		return;
	}
	sfs_cred(req, &cr);
	/* NFS has no OPEN: the client checks at open time, the data path
	 * trusts the mount from then on. */
	rc = slice_vol_access(s->vol, &cr, &in->fh, want, &granted);
	if (rc == 0 && (granted & want) != want)
		rc = -EACCES;
	if (rc == 0)
		rc = slice_vol_getattr(s->vol, &cr, &in->fh, &a);
	if (rc == 0 && (a.type & S_IFMT) != S_IFREG)
		rc = (a.type & S_IFMT) == S_IFDIR ? -EISDIR : -EINVAL;
	if (rc < 0) {
		fuse_reply_err(req, -rc);
		return;
	}
	fi->keep_cache = revalidate(s, in, &a) && !(fi->flags & O_TRUNC);
	if (!fi->keep_cache)
		/* The attributes the kernel holds may predate the other
		 * client's close: forget them (offset -1: not the pages, the
		 * open drops those itself without keep_cache). */
		(void)fuse_lowlevel_notify_inval_inode(s->se, ino, -1, 0);
	rc = sfs_open_ref(s, in, &cr, &a);
	if (rc < 0) {
		fuse_reply_err(req, -rc);
		return;
	}
	/* libfuse asks for atomic O_TRUNC: the kernel leaves it to us.  By
	 * the manager, with the caller's credentials (the vfile may be
	 * another user's open). */
	if ((fi->flags & O_TRUNC) && (rc = truncate_zero(s, &cr, in)) < 0) {
		(void)sfs_open_unref(s, in);
		fuse_reply_err(req, -rc);
		return;
	}
	fi->fh = (uintptr_t)in;
	if (fuse_reply_open(req, fi) != 0)
		(void)sfs_open_unref(s, in);
}

static void op_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
		      struct fuse_file_info *fi)
{
	struct sfs *s = sfs_of(req);
	struct slice_cred cr;
	struct slice_vfh dir, fh;
	struct slice_attr a;
	struct fuse_entry_param e;
	int rc;

	if (sfs_fh(s, parent, &dir) < 0) {
		fuse_reply_err(req, ESTALE);
		return;
	}
	sfs_cred(req, &cr);
	rc = slice_vol_create(s->vol, &cr, &dir, name, mode & 07777, (fi->flags & O_EXCL) != 0, &fh, &a);
	if (rc < 0) {
		fuse_reply_err(req, -rc);
		return;
	}
	if ((rc = sfs_entry(s, &fh, &a, &e)) < 0) {
		fuse_reply_err(req, -rc);
		return;
	}
	struct sfs_inode *in = sfs_inode_get(s, e.ino);
	(void)revalidate(s, in, &a);
	rc = sfs_open_ref(s, in, &cr, &a);
	/* The name existed (another client made it meanwhile): the kernel
	 * believes it created the file and will not apply O_TRUNC itself. */
	if (rc == 0 && (fi->flags & O_TRUNC) && a.size > 0) {
		if ((rc = truncate_zero(s, &cr, in)) < 0)
			(void)sfs_open_unref(s, in);
		e.attr.st_size = 0;
	}
	if (rc < 0) {
		sfs_forget(s, e.ino, 1);
		fuse_reply_err(req, -rc);
		return;
	}
	fi->fh = (uintptr_t)in;
	if (fuse_reply_create(req, &e, fi) != 0) {
		(void)sfs_open_unref(s, in);
		sfs_forget(s, e.ino, 1);
	}
}

/* One buffer per FUSE thread for read replies: a read of up to max_read
 * bytes lands in it and is written to the kernel from there.  The loop
 * ends idle threads: the key's destructor frees their buffers. */
struct rbuf {
	size_t cap;
	char b[];
};
static pthread_key_t rbuf_key;
static pthread_once_t rbuf_once = PTHREAD_ONCE_INIT;

static void rbuf_key_make(void)
{
	(void)pthread_key_create(&rbuf_key, free);
}

static char *read_buffer(size_t size)
{
	pthread_once(&rbuf_once, rbuf_key_make);
	struct rbuf *rb = pthread_getspecific(rbuf_key);
	if (rb && rb->cap >= size)
		return rb->b;
	struct rbuf *nb = malloc(sizeof(*nb) + size);
	if (!nb)
		return NULL;
	nb->cap = size;
	free(rb);
	pthread_setspecific(rbuf_key, nb);
	return nb->b;
}

static void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
	struct sfs_inode *in = open_inode(fi);
	size_t got = 0;
	char *rbuf = read_buffer(size);

	if (!rbuf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	/* The kernel takes a short read for the end of the file: loop until
	 * the count or the end. */
	while (got < size) {
		ssize_t n = slice_vol_read(in->vf, rbuf + got, size - got, (uint64_t)off + got);
		if (n < 0) {
			if (got)
				break;
			fuse_reply_err(req, (int)-n);
			return;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	fuse_reply_buf(req, rbuf, got);
}

static void op_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
		     struct fuse_file_info *fi)
{
	struct sfs_inode *in = open_inode(fi);

	ssize_t n = slice_vol_write(in->vf, buf, size, (uint64_t)off);
	if (n < 0) {
		fuse_reply_err(req, (int)-n);
		return;
	}
	__atomic_store_n(&in->written, true, __ATOMIC_RELAXED);
	fuse_reply_write(req, (size_t)n);
}

static void op_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	fuse_reply_err(req, -slice_vol_flush(open_inode(fi)->vf));
}

static void op_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	fuse_reply_err(req, -slice_vol_fsync(open_inode(fi)->vf));
}

static void op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct sfs *s = sfs_of(req);
	int rc = sfs_open_unref(s, open_inode(fi));

	/* close(2) got flush's answer already: this flushes what the kernel
	 * wrote after it (mmap writeback), no commit (fsync commits). */
	if (rc < 0)
		sfs_log("closing inode %llu: %s", (unsigned long long)ino, strerror(-rc));
	fuse_reply_err(req, -rc);
}

void sfs_ops_file(struct fuse_lowlevel_ops *op)
{
	op->open = op_open;
	op->create = op_create;
	op->read = op_read;
	op->write = op_write;
	op->flush = op_flush;
	op->fsync = op_fsync;
	op->release = op_release;
}
