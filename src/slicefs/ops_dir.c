/*
 * ops_dir.c - directory listings.  FUSE offsets are the managers'
 * cookies: an entry's offset resumes the listing right after it, and
 * cookies never move (docs/file-manager.md), so a listing is exact across
 * calls whatever changes meanwhile.
 *
 * The kernel asks for a page of entries at a time; the manager answers
 * READDIRPLUS with up to 64 KiB.  An open directory keeps the last batch
 * it fetched and serves the next pages from it, so a directory of N
 * entries costs about N/BATCH volume calls, not one per page.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "slicefs.h"

#define BATCH 512u

struct dent {
	char *name;
	uint64_t fileid, cookie;
	bool has;                   /* fh and attr came with the entry */
	struct slice_vfh fh;
	struct slice_attr attr;
};

struct sfs_dir {
	pthread_mutex_t lock;
	struct slice_vfh fh;
	struct slice_cred cr;       /* the opener's: the listing is read with it */
	uint64_t start;             /* the cookie the batch was read from */
	uint64_t closes;            /* s->closes before the batch was read */
	bool loaded, eof;           /* eof: the batch reaches the end */
	size_t n;
	struct dent ents[BATCH];
};

static void clear(struct sfs_dir *d)
{
	for (size_t i = 0; i < d->n; i++)
		free(d->ents[i].name);
	d->n = 0;
	d->loaded = false;
}

static int collect(void *arg, const char *name, uint64_t fileid, uint64_t cookie,
		   const struct slice_vfh *fh, const struct slice_attr *attr)
{
	struct sfs_dir *d = arg;

	if (d->n == BATCH)
		return 1;
	struct dent *e = &d->ents[d->n];
	if (!(e->name = strdup(name)))
		return 1;            /* a shorter batch: the listing resumes after it */
	e->fileid = fileid;
	e->cookie = cookie;
	e->has = fh && attr;
	if (e->has) {
		e->fh = *fh;
		e->attr = *attr;
	}
	d->n++;
	return d->n == BATCH;
}

static int fill(struct sfs *s, struct sfs_dir *d, uint64_t cookie)
{
	bool eof = false;

	clear(d);
	d->closes = __atomic_load_n(&s->closes, __ATOMIC_ACQUIRE);
	int rc = slice_vol_readdir(s->vol, &d->cr, &d->fh, cookie, collect, d, &eof);
	if (rc < 0) {
		clear(d);
		return rc;
	}
	d->start = cookie;
	d->eof = eof;
	d->loaded = true;
	return 0;
}

/* Index of the entry after the one with cookie off; n if none. */
static size_t after(const struct sfs_dir *d, uint64_t off)
{
	if (!d->loaded)
		return d->n;
	if (off == d->start)
		return 0;
	for (size_t i = 0; i < d->n; i++)
		if (d->ents[i].cookie == off)
			return i + 1;
	return SIZE_MAX;
}

static bool dot(const char *n)
{
	return n[0] == '.' && (n[1] == 0 || (n[1] == '.' && n[2] == 0));
}

/* Add one entry; returns its size, or 0 when it does not fit. */
static size_t add(fuse_req_t req, struct sfs *s, struct sfs_dir *d, struct dent *de, char *p, size_t room,
		  bool plus)
{
	uint64_t ino = sfs_ino_of(s, de->fileid);
	size_t len;

	if (!plus) {
		struct stat st = { .st_ino = ino };
		if (de->has)
			st.st_mode = de->attr.type & S_IFMT;
		len = fuse_add_direntry(req, p, room, de->name, &st, (off_t)de->cookie);
		return len <= room ? len : 0;
	}
	struct fuse_entry_param e;
	memset(&e, 0, sizeof(e));
	e.attr.st_ino = ino;
	if (de->has && !dot(de->name)) {
		/* Counts a lookup, given back below if the entry is not sent. */
		if (sfs_entry(s, &de->fh, &de->attr, &e) < 0) {
			memset(&e, 0, sizeof(e));
			e.attr.st_ino = ino;
		}
		/* A file of this mount closed since the batch was read may
		 * have a size the batch does not know (attr.c), and the
		 * size fixed above was taken after that close: its
		 * attributes are not sent, the kernel asks when it needs
		 * them.  Checked after the fix, which waits for a close in
		 * progress. */
		if (e.ino && S_ISREG(e.attr.st_mode) &&
		    __atomic_load_n(&s->closes, __ATOMIC_ACQUIRE) != d->closes) {
			sfs_forget(s, e.ino, 1);
			mode_t mode = e.attr.st_mode & S_IFMT;
			memset(&e, 0, sizeof(e));
			e.attr.st_ino = ino;
			e.attr.st_mode = mode;
		}
	} else if (de->has) {
		e.attr.st_mode = de->attr.type & S_IFMT;   /* d_type only */
	}
	len = fuse_add_direntry_plus(req, p, room, de->name, &e, (off_t)de->cookie);
	if (len > room) {
		if (e.ino)
			sfs_forget(s, e.ino, 1);
		return 0;
	}
	return len;
}

static void list(fuse_req_t req, size_t size, off_t off, struct fuse_file_info *fi, bool plus)
{
	struct sfs *s = sfs_of(req);
	struct sfs_dir *d = (struct sfs_dir *)(uintptr_t)fi->fh;
	char *buf = malloc(size);
	size_t pos = 0;
	uint64_t cookie = (uint64_t)off;
	int rc = 0;

	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	pthread_mutex_lock(&d->lock);
	/* Bounded: each round either adds entries, or fetches a batch
	 * that starts after the last entry added, or ends. */
	for (unsigned round = 0; round < 64; round++) {
		size_t i = after(d, cookie);
		if (i == SIZE_MAX || (i == d->n && !(d->loaded && d->eof))) {
			if ((rc = fill(s, d, cookie)) < 0)
				break;
			i = 0;
		}
		if (i == d->n)
			break;           /* the end */
		for (; i < d->n; i++) {
			size_t len = add(req, s, d, &d->ents[i], buf + pos, size - pos, plus);
			if (!len)
				goto full;
			pos += len;
			cookie = d->ents[i].cookie;
		}
		if (d->eof)
			break;
	}
full:
	pthread_mutex_unlock(&d->lock);
	if (rc < 0 && pos == 0)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_buf(req, buf, pos);
	free(buf);
}

static void op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
	list(req, size, off, fi, false);
}

static void op_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
			   struct fuse_file_info *fi)
{
	list(req, size, off, fi, true);
}

static void op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct sfs *s = sfs_of(req);
	struct sfs_dir *d = calloc(1, sizeof(*d));

	if (!d) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	if (sfs_fh(s, ino, &d->fh) < 0) {
		free(d);
		fuse_reply_err(req, ESTALE);
		return;
	}
	sfs_cred(req, &d->cr);
	pthread_mutex_init(&d->lock, NULL);
	fi->fh = (uintptr_t)d;
	if (fuse_reply_open(req, fi) != 0) {
		pthread_mutex_destroy(&d->lock);
		free(d);
	}
}

static void op_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct sfs_dir *d = (struct sfs_dir *)(uintptr_t)fi->fh;

	clear(d);
	pthread_mutex_destroy(&d->lock);
	free(d);
	fuse_reply_err(req, 0);
}

void sfs_ops_dir(struct fuse_lowlevel_ops *op)
{
	op->opendir = op_opendir;
	op->readdir = op_readdir;
	op->readdirplus = op_readdirplus;
	op->releasedir = op_releasedir;
}
