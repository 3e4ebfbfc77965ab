/*
 * ops_name.c - the name space: lookup, attributes, create-like calls,
 * remove, rename, link, statfs, access.  One volume call each (a few for
 * the cases described where they happen); the managers check permissions
 * against the caller's credentials, after the kernel did with the
 * attributes it holds (default_permissions, see main.c).
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "slicefs.h"

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE (1 << 0)
#endif
#ifndef RENAME_EXCHANGE
#define RENAME_EXCHANGE (1 << 1)
#endif

/* Most handlers start the same way: the caller and the handle of ino. */
#define BEGIN(req, ino, fhv)                                   \
	struct sfs *s = sfs_of(req);                           \
	struct slice_cred cr;                                  \
	struct slice_vfh fhv;                                  \
	if (sfs_fh(s, ino, &fhv) < 0) {                        \
		fuse_reply_err(req, ESTALE);                   \
		return;                                        \
	}                                                      \
	sfs_cred(req, &cr)

static void op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	BEGIN(req, parent, dir);
	struct slice_vfh fh;
	struct slice_attr a;

	int rc = sfs_lookup(s, &cr, &dir, name, &fh, &a);
	if (rc < 0)
		fuse_reply_err(req, -rc);
	else
		sfs_reply_entry(req, s, &fh, &a);
}

static void op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t n)
{
	sfs_forget(sfs_of(req), ino, n);
	fuse_reply_none(req);
}

static void op_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *f)
{
	for (size_t i = 0; i < count; i++)
		sfs_forget(sfs_of(req), f[i].ino, f[i].nlookup);
	fuse_reply_none(req);
}

static void op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	BEGIN(req, ino, fh);
	struct slice_attr a;

	int rc = sfs_getattr(s, &cr, &fh, &a);
	if (rc < 0)
		fuse_reply_err(req, -rc);
	else
		sfs_reply_attr(req, s, &a);
}

/*
 * A size change goes to the manager with the caller's credentials, which
 * it checks; slice_vol_setattr first flushes this mount's vfile of the
 * file (its writes land before the cut, not after it) and then tells it
 * the new size.  Other changes go to the manager after the vfile was
 * flushed, so that a later report of the writes' mtime does not undo a
 * utimens (cp -p sets the times before it closes).
 */
static void flush_open(struct sfs_inode *in)
{
	pthread_mutex_lock(&in->olock);
	if (in->vf)
		(void)slice_vol_flush(in->vf);   /* an error comes back at close */
	pthread_mutex_unlock(&in->olock);
}

static void op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
		       struct fuse_file_info *fi)
{
	BEGIN(req, ino, fh);
	struct slice_sattr sa = { 0 };
	struct slice_attr a;
	struct sfs_inode *in = sfs_inode_get(s, ino);
	int rc;

	(void)fi;
	if (to_set & FUSE_SET_ATTR_MODE) {
		sa.valid |= SLICE_SET_MODE;
		sa.mode = attr->st_mode & 07777;
	}
	if (to_set & FUSE_SET_ATTR_UID) {
		sa.valid |= SLICE_SET_UID;
		sa.uid = attr->st_uid;
	}
	if (to_set & FUSE_SET_ATTR_GID) {
		sa.valid |= SLICE_SET_GID;
		sa.gid = attr->st_gid;
	}
	if (to_set & FUSE_SET_ATTR_ATIME_NOW) {
		sa.valid |= SLICE_SET_ATIME_NOW;
	} else if (to_set & FUSE_SET_ATTR_ATIME) {
		sa.valid |= SLICE_SET_ATIME;
		sa.atime = attr->st_atim;
	}
	if (to_set & FUSE_SET_ATTR_MTIME_NOW) {
		sa.valid |= SLICE_SET_MTIME_NOW;
	} else if (to_set & FUSE_SET_ATTR_MTIME) {
		sa.valid |= SLICE_SET_MTIME;
		sa.mtime = attr->st_mtim;
	}
	if (to_set & FUSE_SET_ATTR_SIZE) {
		if (attr->st_size < 0) {
			fuse_reply_err(req, EINVAL);
			return;
		}
		sa.valid |= SLICE_SET_SIZE;
		sa.size = (uint64_t)attr->st_size;
	}
	if ((sa.valid & ~SLICE_SET_SIZE) && in)
		flush_open(in);
	if ((sa.valid & SLICE_SET_SIZE) && in)
		__atomic_store_n(&in->written, true, __ATOMIC_RELAXED);
	if (sa.valid)
		rc = slice_vol_setattr(s->vol, &cr, &fh, &sa, &a);
	else
		rc = sfs_getattr(s, &cr, &fh, &a);
	if (rc < 0)
		fuse_reply_err(req, -rc);
	else
		sfs_reply_attr(req, s, &a);
}

static void op_readlink(fuse_req_t req, fuse_ino_t ino)
{
	BEGIN(req, ino, fh);
	char buf[PATH_MAX + 1];

	int rc = slice_vol_readlink(s->vol, &cr, &fh, buf, sizeof(buf));
	if (rc < 0)
		fuse_reply_err(req, -rc);
	else if ((size_t)rc >= sizeof(buf))
		fuse_reply_err(req, ENAMETOOLONG);
	else
		fuse_reply_readlink(req, buf);
}

static void op_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, dev_t rdev)
{
	BEGIN(req, parent, dir);
	struct slice_vfh fh;
	struct slice_attr a;
	int rc;

	switch (mode & S_IFMT) {
	case S_IFREG:
	case 0:
		rc = slice_vol_create(s->vol, &cr, &dir, name, mode & 07777, true, &fh, &a);
		break;
	case S_IFDIR:
		rc = slice_vol_mkdir(s->vol, &cr, &dir, name, mode & 07777, &fh, &a);
		break;
	case S_IFCHR:
	case S_IFBLK:
	case S_IFIFO:
	case S_IFSOCK:
		rc = slice_vol_mknod(s->vol, &cr, &dir, name, mode & S_IFMT, mode & 07777, rdev, &fh, &a);
		break;
	default:
		rc = -EINVAL;
	}
	if (rc < 0)
		fuse_reply_err(req, -rc);
	else
		sfs_reply_entry(req, s, &fh, &a);
}

static void op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	BEGIN(req, parent, dir);
	struct slice_vfh fh;
	struct slice_attr a;

	int rc = slice_vol_mkdir(s->vol, &cr, &dir, name, mode & 07777, &fh, &a);
	if (rc < 0)
		fuse_reply_err(req, -rc);
	else
		sfs_reply_entry(req, s, &fh, &a);
}

static void op_symlink(fuse_req_t req, const char *target, fuse_ino_t parent, const char *name)
{
	BEGIN(req, parent, dir);
	struct slice_vfh fh;
	struct slice_attr a;

	int rc = slice_vol_symlink(s->vol, &cr, &dir, name, target, &fh, &a);
	if (rc < 0)
		fuse_reply_err(req, -rc);
	else
		sfs_reply_entry(req, s, &fh, &a);
}

/*
 * A file unlinked while this mount holds it open stays readable and
 * writable through its descriptors, as POSIX wants: like an NFS client,
 * slicefs renames it to a hidden name and removes that at the last close.
 * The same for a file a rename replaces.  Only a file with one link:
 * another name keeps the data anyway.  Other clients' opens are not known
 * here (the limit NFS has too).  The kernel holds the inode of the name
 * during the unlink or rename, so the inode found here stays.
 *
 * Returns 1 when name was hidden, 0 when it is not a file open here.
 */
static int hide_if_open(struct sfs *s, const struct slice_cred *cr, const struct slice_vfh *dir,
			const char *name, struct sfs_inode **hidden)
{
	static unsigned long seq;
	struct slice_vfh fh;
	struct slice_attr a;
	int rc = 0;

	pthread_mutex_lock(&s->lock);
	bool any_open = s->nopen > 0;
	pthread_mutex_unlock(&s->lock);
	if (!any_open || slice_vol_lookup(s->vol, cr, dir, name, &fh, &a) < 0 ||
	    (a.type & S_IFMT) != S_IFREG || a.nlink != 1)
		return 0;
	struct sfs_inode *in = sfs_inode_get(s, sfs_ino_of(s, a.fileid));
	if (!in)
		return 0;
	pthread_mutex_lock(&in->olock);
	if (in->opens > 0 && !in->silly) {
		snprintf(in->silly_name, sizeof(in->silly_name), ".slicefs%llx.%lx", (unsigned long long)in->ino,
			 __atomic_add_fetch(&seq, 1, __ATOMIC_RELAXED));
		rc = slice_vol_rename(s->vol, cr, dir, name, dir, in->silly_name);
		if (rc == 0) {
			in->silly = true;
			in->silly_dir = *dir;
			in->silly_cred = *cr;
			if (hidden)
				*hidden = in;
			rc = 1;
		}
	}
	pthread_mutex_unlock(&in->olock);
	return rc;
}

int sfs_unlink(struct sfs *s, const struct slice_cred *cr, const struct slice_vfh *dir,
	       const char *name)
{
	int rc = hide_if_open(s, cr, dir, name, NULL);

	if (rc != 0)
		return rc < 0 ? rc : 0;
	return slice_vol_remove(s->vol, cr, dir, name);
}

static void op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	BEGIN(req, parent, dir);
	fuse_reply_err(req, -sfs_unlink(s, &cr, &dir, name));
}

static void op_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	BEGIN(req, parent, dir);
	fuse_reply_err(req, -slice_vol_rmdir(s->vol, &cr, &dir, name));
}

/*
 * RENAME_NOREPLACE is a lookup before the rename: not atomic against
 * another client creating the name in between (NFSv3 has no such flag).
 * RENAME_EXCHANGE cannot be done: EINVAL, as file systems without it say.
 */
static void op_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
		      const char *newname, unsigned int flags)
{
	BEGIN(req, parent, from);
	struct slice_vfh to, fh;
	struct slice_attr a;
	struct sfs_inode *hidden = NULL;

	if (flags & ~(unsigned)RENAME_NOREPLACE) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	if (sfs_fh(s, newparent, &to) < 0) {
		fuse_reply_err(req, ESTALE);
		return;
	}
	if (flags & RENAME_NOREPLACE) {
		int rc = slice_vol_lookup(s->vol, &cr, &to, newname, &fh, &a);
		if (rc != -ENOENT) {
			fuse_reply_err(req, rc == 0 ? EEXIST : -rc);
			return;
		}
	} else if (parent != newparent || strcmp(name, newname) != 0) {
		/* a replaced file open here keeps its data (not atomic: the
		 * name is absent between the two renames, as on NFS) */
		int rc = hide_if_open(s, &cr, &to, newname, &hidden);
		if (rc < 0) {
			fuse_reply_err(req, -rc);
			return;
		}
	}
	int rc = slice_vol_rename(s->vol, &cr, &from, name, &to, newname);
	if (rc < 0 && hidden) {
		/* the rename failed: the replaced file gets its name back */
		pthread_mutex_lock(&hidden->olock);
		if (slice_vol_rename(s->vol, &cr, &to, hidden->silly_name, &to, newname) == 0)
			hidden->silly = false;
		pthread_mutex_unlock(&hidden->olock);
	}
	fuse_reply_err(req, -rc);
}

static void op_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char *newname)
{
	BEGIN(req, ino, fh);
	struct slice_vfh dir;
	struct slice_attr a;

	if (sfs_fh(s, newparent, &dir) < 0) {
		fuse_reply_err(req, ESTALE);
		return;
	}
	int rc = slice_vol_link(s->vol, &cr, &fh, &dir, newname, &a);
	if (rc < 0)
		fuse_reply_err(req, -rc);
	else
		sfs_reply_entry(req, s, &fh, &a);
}

static void op_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct sfs *s = sfs_of(req);
	struct slice_cred cr;
	struct slice_statfs f;
	struct statvfs st;

	sfs_cred(req, &cr);
	int rc = slice_vol_statfs(s->vol, &cr, &s->root_fh, &f);
	if (rc < 0) {
		fuse_reply_err(req, -rc);
		return;
	}
	uint32_t bs = f.bsize ? f.bsize : 4096;
	memset(&st, 0, sizeof(st));
	st.f_bsize = bs;
	st.f_frsize = bs;
	st.f_blocks = f.tbytes / bs;
	st.f_bfree = f.fbytes / bs;
	st.f_bavail = f.abytes / bs;
	st.f_files = f.tfiles;
	st.f_ffree = f.ffiles;
	st.f_favail = f.afiles;
	st.f_namemax = f.namemax ? f.namemax : 255;
	fuse_reply_statfs(req, &st);
}

/* access(2): with default_permissions the kernel answers it itself; kept
 * for a mount whose -o options turn that off. */
static void op_access(fuse_req_t req, fuse_ino_t ino, int mask)
{
	BEGIN(req, ino, fh);
	uint32_t want = (uint32_t)mask & (R_OK | W_OK | X_OK), granted = 0;
	struct slice_attr a;
	int rc;

	if (want == 0)
		rc = slice_vol_getattr(s->vol, &cr, &fh, &a);
	else
		rc = slice_vol_access(s->vol, &cr, &fh, want, &granted);
	if (rc == 0 && (granted & want) != want)
		rc = -EACCES;
	fuse_reply_err(req, -rc);
}

void sfs_ops_name(struct fuse_lowlevel_ops *op)
{
	op->lookup = op_lookup;
	op->forget = op_forget;
	op->forget_multi = op_forget_multi;
	op->getattr = op_getattr;
	op->setattr = op_setattr;
	op->readlink = op_readlink;
	op->mknod = op_mknod;
	op->mkdir = op_mkdir;
	op->symlink = op_symlink;
	op->unlink = op_unlink;
	op->rmdir = op_rmdir;
	op->rename = op_rename;
	op->link = op_link;
	op->statfs = op_statfs;
	op->access = op_access;
}
