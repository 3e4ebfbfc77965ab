/*
 * attr.c - volume attributes in kernel terms, and who is asking.
 */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "slicefs.h"

void sfs_stat(const struct sfs *s, const struct slice_attr *a, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = sfs_ino_of(s, a->fileid);
	st->st_mode = (a->type & S_IFMT) | (a->mode & 07777);
	st->st_nlink = a->nlink;
	st->st_uid = a->uid;
	st->st_gid = a->gid;
	st->st_size = (off_t)a->size;
	st->st_blocks = (blkcnt_t)((a->used + 511) / 512);
	st->st_blksize = s->stripe_unit ? (blksize_t)s->stripe_unit : 4096;
	st->st_rdev = (dev_t)a->rdev;
	st->st_atim = a->atime;
	st->st_mtim = a->mtime;
	st->st_ctim = a->ctime;
}

/* The caller's uid, gid and groups, as AUTH_SYS carries them (16 groups
 * at most: NFS's limit, and the managers' check).  The groups come from
 * /proc, which costs a read per call: not needed for root, which the
 * managers let through (or squash, groups and all). */
void sfs_cred(fuse_req_t req, struct slice_cred *cr)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	gid_t g[64];

	memset(cr, 0, sizeof(*cr));
	cr->uid = ctx->uid;
	cr->gid = ctx->gid;
	if (ctx->uid == 0)
		return;
	int n = fuse_req_getgroups(req, 64, g);
	if (n < 0)
		return;              /* kernel too old, or the caller is gone */
	if (n > 64)
		n = 64;
	for (int i = 0; i < n && cr->ngids < 16; i++)
		cr->gids[cr->ngids++] = g[i];
}

/* A file this mount holds open may have writes behind the manager's size:
 * the kernel must not see the file shrink under them. */
static void fix_size(struct sfs *s, struct stat *st)
{
	uint64_t size;

	if (S_ISREG(st->st_mode) && sfs_open_size(s, st->st_ino, &size))
		st->st_size = (off_t)size;
}

/*
 * The size of a file this mount writes has three sources that race: the
 * manager's (reported at flush and close), the open vfile's (writes
 * behind included), and the kernel's own.  A GETATTR answered by the
 * manager before this mount's close reported the size, whose reply is
 * sent after that close freed the vfile, would carry the old size and
 * the kernel would take it (no write followed to make it stale): the
 * file would shrink under a reader.  So the size is settled while no
 * vfile closes - counted by s->closes - and asked again otherwise
 * (bounded: after 4 rounds of closes the last answer stands).
 */
static void settle_size(struct sfs *s, struct slice_attr *a)
{
	uint64_t size;

	if ((a->type & S_IFMT) == S_IFREG && sfs_open_size(s, sfs_ino_of(s, a->fileid), &size))
		a->size = size;
}

int sfs_getattr(struct sfs *s, const struct slice_cred *cr, const struct slice_vfh *fh, struct slice_attr *a)
{
	int rc = 0;

	for (int i = 0; i < 4; i++) {
		uint64_t g = __atomic_load_n(&s->closes, __ATOMIC_ACQUIRE);
		if ((rc = slice_vol_getattr(s->vol, cr, fh, a)) < 0)
			return rc;
		sfs_dbg(s, "getattr %llu: manager size %llu\n", (unsigned long long)a->fileid,
			(unsigned long long)a->size);
		settle_size(s, a);
		if (__atomic_load_n(&s->closes, __ATOMIC_ACQUIRE) == g)
			break;
	}
	return rc;
}

int sfs_lookup(struct sfs *s, const struct slice_cred *cr, const struct slice_vfh *dir, const char *name,
	       struct slice_vfh *fh, struct slice_attr *a)
{
	int rc = 0;

	for (int i = 0; i < 4; i++) {
		uint64_t g = __atomic_load_n(&s->closes, __ATOMIC_ACQUIRE);
		if ((rc = slice_vol_lookup(s->vol, cr, dir, name, fh, a)) < 0)
			return rc;
		settle_size(s, a);
		if (__atomic_load_n(&s->closes, __ATOMIC_ACQUIRE) == g)
			break;
	}
	return rc;
}

int sfs_entry(struct sfs *s, const struct slice_vfh *fh, const struct slice_attr *a,
	      struct fuse_entry_param *e)
{
	memset(e, 0, sizeof(*e));
	if (!sfs_remember(s, fh, a))
		return -ENOMEM;
	sfs_stat(s, a, &e->attr);
	fix_size(s, &e->attr);
	e->ino = e->attr.st_ino;
	e->attr_timeout = s->attr_timeout;
	e->entry_timeout = s->entry_timeout;
	return 0;
}

void sfs_reply_entry(fuse_req_t req, struct sfs *s, const struct slice_vfh *fh,
		     const struct slice_attr *a)
{
	struct fuse_entry_param e;
	int rc = sfs_entry(s, fh, a, &e);

	if (rc < 0) {
		fuse_reply_err(req, -rc);
		return;
	}
	/* An interrupted request's reply fails: the kernel will not count
	 * this lookup, so neither do we. */
	if (fuse_reply_entry(req, &e) != 0)
		sfs_forget(s, e.ino, 1);
}

void sfs_reply_attr(fuse_req_t req, struct sfs *s, const struct slice_attr *a)
{
	struct stat st;

	sfs_stat(s, a, &st);
	fix_size(s, &st);
	fuse_reply_attr(req, &st, s->attr_timeout);
}
