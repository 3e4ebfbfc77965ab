/*
 * nfs_rename.c - RENAME and LINK, on one file manager (the cases that span
 * two are in the partitioning code).
 *
 * RENAME follows rename(2): renaming a file onto another name of the same
 * file does nothing; a directory may replace only an empty directory, a
 * non-directory only a non-directory; a directory cannot move into its own
 * subtree (walked up through the parents); a directory that changes parent
 * needs write permission on itself (its ".." changes) and moves a link
 * count from the old parent to the new.  Everything is checked before the
 * first write, so a refusal leaves the batch untouched.
 */
#include <errno.h>
#include <string.h>

#include "nfs_op.h"

#define FMD_LINK_MAX 32000u

static bool is_dot(const char *n)
{
	return strcmp(n, ".") == 0 || strcmp(n, "..") == 0;
}

/* Is `dir` (a directory) inside the tree of `top`?  Walks parents to the
 * root: O(depth). */
static int inside(struct fmd_op *op, MDB_txn *t, uint64_t dir, uint64_t top)
{
	struct inode ino;
	for (int depth = 0; depth < 4096; depth++) {
		if (dir == top)
			return 1;
		if (dir == op->f->root)
			return 0;
		int rc = ino_get(op->f->st, t, dir, &ino);
		if (rc)
			return rc;
		dir = ino.parent;
	}
	return -ELOOP;
}

struct ren {
	struct inode  from, to, src, tgt;
	struct inode *fd, *td;      /* td == fd when both names are in one directory */
	struct inode  from_before, to_before;
	bool          have_tgt;
	bool          src_remote;   /* the renamed file is held by another manager */
};

/* Everything RENAME must refuse, before any change. */
static int rename_check(struct fmd_op *op, MDB_txn *t, struct ren *x)
{
	const RENAME3args *a = &op->a.u.rename;
	const struct fmd_cred *c = &op->cred;
	struct dirent_val d;
	int st, rc;

	if (x->fd->type != NF3DIR || x->td->type != NF3DIR)
		return NFS3ERR_NOTDIR;
	if ((st = op_check_name(op, a->from.name, false)) != NFS3_OK ||
	    (st = op_check_name(op, a->to.name, false)) != NFS3_OK)
		return st;
	if (is_dot(a->from.name) || is_dot(a->to.name))
		return NFS3ERR_INVAL;
	if ((st = access_check(x->fd, c, MAY_WRITE | MAY_EXEC)) != NFS3_OK ||
	    (st = access_check(x->td, c, MAY_WRITE | MAY_EXEC)) != NFS3_OK)
		return st;
	if (name_locked(op->f, x->fd->fileid, a->from.name) || name_locked(op->f, x->td->fileid, a->to.name))
		return NFS3ERR_JUKEBOX;
	if ((st = dir_alive(op, t, x->td->fileid)) != NFS3_OK)
		return st;
	rc = dent_get(op->f->st, t, x->fd->fileid, a->from.name, &d);
	if (rc == -ENOENT)
		return NFS3ERR_NOENT;
	if (rc)
		return rc;
	if (op_is_ours(op->f, d.fileid)) {
		if ((rc = ino_get(op->f->st, t, d.fileid, &x->src)))
			return rc;
	} else {
		/* a file held elsewhere (renamed here from another manager):
		 * what the name says of it; the sticky check wants its owner,
		 * which we do not have: only the directory's owner passes */
		memset(&x->src, 0, sizeof(x->src));
		x->src.fileid = d.fileid;
		x->src.type = d.type;
		x->src.uid = UINT32_MAX;
		x->src_remote = true;
	}
	if (!access_sticky_ok(x->fd, &x->src, c))
		return NFS3ERR_ACCES;
	rc = dent_get(op->f->st, t, x->td->fileid, a->to.name, &d);
	if (rc && rc != -ENOENT)
		return rc;
	if (rc == 0) {
		if (d.fileid == x->src.fileid) {
			x->have_tgt = true;
			x->tgt = x->src;
			return NFS3_OK;   /* two names of one file: nothing to do */
		}
		/* replacing needs the replaced file here, and a directory
		 * replaced must be empty everywhere: one manager can tell only
		 * for a local directory */
		if (!op_is_ours(op->f, d.fileid) ||
		    (op->f->cfg.managers > 1 && d.type == NF3DIR && !(d.flags & 0x1)))
			return NFS3ERR_XDEV;
		if ((rc = ino_get(op->f->st, t, d.fileid, &x->tgt)))
			return rc;
		x->have_tgt = true;
		if (x->tgt.fileid == x->src.fileid)
			return NFS3_OK;   /* two names of one file: nothing to do */
		if (!access_sticky_ok(x->td, &x->tgt, c))
			return NFS3ERR_ACCES;
		if (x->src.type == NF3DIR && x->tgt.type != NF3DIR)
			return NFS3ERR_NOTDIR;
		if (x->src.type != NF3DIR && x->tgt.type == NF3DIR)
			return NFS3ERR_ISDIR;
		if (x->tgt.type == NF3DIR) {
			int empty = dent_empty(op->f->st, t, x->tgt.fileid);
			if (empty < 0)
				return empty;
			if (!empty)
				return NFS3ERR_NOTEMPTY;
		}
	}
	if (x->src.type == NF3DIR && x->fd != x->td) {
		/* several managers: the ancestors were walked before (xop.c) */
		int in = op->f->cfg.managers > 1 ? op->rename_loop : inside(op, t, x->td->fileid, x->src.fileid);
		if (in < 0)
			return in;
		if (in)
			return NFS3ERR_INVAL;
		if ((st = access_check(&x->src, c, MAY_WRITE)) != NFS3_OK)
			return st;
		if (x->td->nlink + x->td->x_subdirs >= FMD_LINK_MAX && !(x->have_tgt && x->tgt.type == NF3DIR))
			return NFS3ERR_MLINK;
	}
	return NFS3_OK;
}

static int rename_apply(struct fmd_op *op, MDB_txn *t, struct ren *x)
{
	const RENAME3args *a = &op->a.u.rename;
	struct store *st = op->f->st;
	uint64_t now = fmd_now();
	int rc, td_entries = 1, td_subdirs = 0, fd_subdirs = 0;

	if (x->have_tgt) {
		if ((rc = dent_del(st, t, x->td->fileid, a->to.name)))
			return rc;
		td_entries--;
		if (x->tgt.type == NF3DIR) {
			x->tgt.nlink = 0;
			td_subdirs--;
		} else {
			x->tgt.nlink--;
		}
		x->tgt.ctime = now;
		rc = x->tgt.nlink == 0 ? nfs_drop_inode(op, t, &x->tgt) : ino_put(st, t, &x->tgt);
		if (rc)
			return rc;
	}
	struct dirent_val dv;
	/* the name record moves as it was (its file may live elsewhere) */
	if ((rc = dent_get(st, t, x->fd->fileid, a->from.name, &dv)) ||
	    (rc = dent_del(st, t, x->fd->fileid, a->from.name)) ||
	    (rc = dent_add(st, t, x->td->fileid, a->to.name, &dv)))
		return rc;
	if (x->src.type == NF3DIR && x->fd != x->td) {
		x->src.parent = x->td->fileid;
		fd_subdirs = -1;
		td_subdirs++;
	}
	if (!x->src_remote) {
		x->src.ctime = now;
		if ((rc = ino_put(st, t, &x->src)))
			return rc;
	}
	if (x->td == x->fd)
		return dir_changed(op, t, x->fd, td_entries - 1, td_subdirs, now);
	if ((rc = dir_changed(op, t, x->fd, -1, fd_subdirs, now)))
		return rc;
	return dir_changed(op, t, x->td, td_entries, td_subdirs, now);
}

int nfs_rename(struct fmd_op *op, MDB_txn *t)
{
	const RENAME3args *a = &op->a.u.rename;
	RENAME3res *r = &op->res.rename;
	/* resok and resfail have the same layout: fromdir_wcc, todir_wcc */
	wcc_data *fw = &r->RENAME3res_u.resok.fromdir_wcc, *tw = &r->RENAME3res_u.resok.todir_wcc;
	struct ren x = { 0 };
	int st;

	memset(r, 0, sizeof(*r));
	if ((st = op_dir(op, t, &a->from.dir, &x.from)) != NFS3_OK)
		goto out;
	attr_wcc(&x.from, &x.from, op->f->fsid, fw);
	if ((st = op_dir(op, t, &a->to.dir, &x.to)) != NFS3_OK)
		goto out;
	x.fd = &x.from;
	x.td = x.to.fileid == x.from.fileid ? &x.from : &x.to;
	attr_wcc(x.td, x.td, op->f->fsid, tw);
	x.from_before = *x.fd;
	x.to_before = *x.td;
	if ((st = rename_check(op, t, &x)) != NFS3_OK)
		goto out;
	bool noop = x.have_tgt && x.tgt.fileid == x.src.fileid;   /* the same file */
	if (!noop && (st = rename_apply(op, t, &x)) < 0)
		return st;
	attr_wcc(&x.from_before, x.fd, op->f->fsid, fw);
	attr_wcc(&x.to_before, x.td, op->f->fsid, tw);
out:
	if (st < 0)
		return st;
	r->status = st;
	return 0;
}

int nfs_link(struct fmd_op *op, MDB_txn *t)
{
	const LINK3args *a = &op->a.u.link;
	LINK3res *r = &op->res.link;
	/* resok and resfail: file_attributes, linkdir_wcc */
	post_op_attr *fa = &r->LINK3res_u.resok.file_attributes;
	wcc_data *wcc = &r->LINK3res_u.resok.linkdir_wcc;
	struct inode file, dir;
	struct dirent_val d;
	int st, rc;

	memset(r, 0, sizeof(*r));
	if ((st = op_inode(op, t, &a->file, &file)) != NFS3_OK)
		goto out;
	attr_post(&file, op->f->fsid, fa);
	if ((st = op_dir(op, t, &a->link.dir, &dir)) != NFS3_OK)
		goto out;
	attr_wcc(&dir, &dir, op->f->fsid, wcc);
	if (name_locked(op->f, dir.fileid, a->link.name)) {
		st = NFS3ERR_JUKEBOX;
		goto out;
	}
	if ((st = dir_alive(op, t, dir.fileid)) != NFS3_OK)
		goto out;
	if (dir.type != NF3DIR) {
		st = NFS3ERR_NOTDIR;
		goto out;
	}
	if (file.type == NF3DIR) {
		st = NFS3ERR_PERM;   /* as link(2): no hard links to directories */
		goto out;
	}
	if ((st = op_check_name(op, a->link.name, true)) != NFS3_OK ||
	    (st = access_check(&dir, &op->cred, MAY_WRITE | MAY_EXEC)) != NFS3_OK)
		goto out;
	rc = dent_get(op->f->st, t, dir.fileid, a->link.name, &d);
	if (rc == 0) {
		st = NFS3ERR_EXIST;
		goto out;
	}
	if (rc != -ENOENT)
		return rc;
	if (file.nlink >= FMD_LINK_MAX) {
		st = NFS3ERR_MLINK;
		goto out;
	}
	struct inode before = dir;
	uint64_t now = fmd_now();
	struct dirent_val dv = dent_of(&file);
	if ((rc = dent_add(op->f->st, t, dir.fileid, a->link.name, &dv)))
		return rc;
	file.nlink++;
	file.ctime = now;
	if ((rc = ino_put(op->f->st, t, &file)) || (rc = dir_changed(op, t, &dir, 1, 0, now)))
		return rc;
	attr_post(&file, op->f->fsid, fa);
	attr_wcc(&before, &dir, op->f->fsid, wcc);
out:
	r->status = st;
	return 0;
}
