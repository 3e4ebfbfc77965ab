/*
 * nfs_attr.c - GETATTR, SETATTR, ACCESS, and applying a sattr3 (SETATTR
 * and the creating procedures share it).
 *
 * Who may change what (as knfsd and POSIX): the mode, by the owner or
 * root; the owner, by root; the group, by root or by the owner to a group
 * it is in; the size, by whoever may write (the owner always may: NFS has
 * no open, the client checked at open time); times set to the server's
 * clock, by the owner or whoever may write; times set to a given value, by
 * the owner or root.
 */
#include <string.h>

#include "data.h"
#include "nfs_op.h"

int nfs_getattr(struct fmd_op *op, MDB_txn *t)
{
	GETATTR3res *r = &op->res.getattr;
	struct inode ino;
	if ((r->status = op_inode(op, t, &op->a.u.getattr.object, &ino)) == NFS3_OK)
		attr_fattr(&ino, op->f->fsid, &r->GETATTR3res_u.resok.obj_attributes);
	return 0;
}

int nfs_access(struct fmd_op *op, MDB_txn *t)
{
	ACCESS3res *r = &op->res.access;
	struct inode ino;
	if ((r->status = op_inode(op, t, &op->a.u.access.object, &ino)) != NFS3_OK)
		return 0;
	attr_post(&ino, op->f->fsid, &r->ACCESS3res_u.resok.obj_attributes);
	r->ACCESS3res_u.resok.access = access_mask(&ino, &op->cred, op->a.u.access.access);
	return 0;
}

static bool is_owner_or_root(const struct inode *ino, const struct fmd_cred *c)
{
	return c->uid == 0 || c->uid == ino->uid;
}

static uint64_t ns_of(const nfstime3 *t)
{
	return (uint64_t)t->seconds * 1000000000ull + t->nseconds;
}

/* Make the file's data `size` bytes long.  Truncating to nothing swaps in
 * a fresh object and queues the old one for removal, in this transaction:
 * no block server is asked now, and a crash cannot leave half of it.  A
 * shorter, non-zero size must cut the data on the block servers first. */
static int set_size(struct fmd_op *op, MDB_txn *t, struct inode *ino, uint64_t size)
{
	if (size < ino->size && (ino->flags & INO_HAS_DATA)) {
		int rc = size == 0 ? map_renew(op->f, t, ino) : data_truncate_file(op->f, t, ino, size);
		if (rc)
			return rc < 0 ? op_store_status(rc) : rc;
		/* INO_HAS_DATA stays: the new object will get data too */
	}
	ino->size = size;
	return NFS3_OK;
}

int nfs_apply_sattr(struct fmd_op *op, MDB_txn *t, struct inode *ino, const sattr3 *s, bool creating)
{
	const struct fmd_cred *c = &op->cred;
	uint64_t now = fmd_now();
	bool changed = false;
	int st;

	/* check everything first: nothing is changed if anything is refused */
	if (s->mode.set_it && !creating && !is_owner_or_root(ino, c))
		return NFS3ERR_PERM;
	if (s->uid.set_it && s->uid.set_uid3_u.uid != ino->uid && c->uid != 0)
		return NFS3ERR_PERM;
	if (s->gid.set_it && s->gid.set_gid3_u.gid != ino->gid && c->uid != 0 &&
	    !(c->uid == ino->uid && access_in_group(c, s->gid.set_gid3_u.gid)))
		return NFS3ERR_PERM;
	if (s->size.set_it) {
		if (ino->type == NF3DIR)
			return NFS3ERR_ISDIR;
		if (ino->type != NF3REG)
			return NFS3ERR_INVAL;
		if (!creating && c->uid != ino->uid && access_check(ino, c, MAY_WRITE))
			return NFS3ERR_ACCES;
	}
	if (!creating && (s->atime.set_it == SET_TO_SERVER_TIME || s->mtime.set_it == SET_TO_SERVER_TIME) &&
	    c->uid != ino->uid && access_check(ino, c, MAY_WRITE))
		return NFS3ERR_ACCES;
	if (!creating && (s->atime.set_it == SET_TO_CLIENT_TIME || s->mtime.set_it == SET_TO_CLIENT_TIME) &&
	    !is_owner_or_root(ino, c))
		return NFS3ERR_PERM;

	if (s->size.set_it) {
		uint64_t size = s->size.set_size3_u.size;
		if ((st = set_size(op, t, ino, size)) != NFS3_OK)
			return st;
		ino->mtime = now;
		changed = true;
	}
	if (s->mode.set_it) {
		uint32_t mode = s->mode.set_mode3_u.mode & 07777;
		/* a non-root caller outside the file's group cannot set setgid */
		if (c->uid != 0 && !access_in_group(c, ino->gid) && ino->type != NF3DIR)
			mode &= ~02000u;
		ino->mode = mode;
		changed = true;
	}
	if (s->uid.set_it && s->uid.set_uid3_u.uid != ino->uid) {
		ino->uid = s->uid.set_uid3_u.uid;
		ino->mode &= ~06000u;   /* chown clears setuid and setgid */
		changed = true;
	}
	if (s->gid.set_it && s->gid.set_gid3_u.gid != ino->gid) {
		ino->gid = s->gid.set_gid3_u.gid;
		changed = true;
	}
	if (s->atime.set_it) {
		ino->atime = s->atime.set_it == SET_TO_CLIENT_TIME ? ns_of(&s->atime.set_atime_u.atime) : now;
		changed = true;
	}
	if (s->mtime.set_it) {
		ino->mtime = s->mtime.set_it == SET_TO_CLIENT_TIME ? ns_of(&s->mtime.set_mtime_u.mtime) : now;
		changed = true;
	}
	if (changed)
		ino->ctime = now;
	return NFS3_OK;
}

int nfs_setattr(struct fmd_op *op, MDB_txn *t)
{
	SETATTR3args *a = &op->a.u.setattr;
	SETATTR3res *r = &op->res.setattr;
	wcc_data *wcc = &r->SETATTR3res_u.resok.obj_wcc;   /* same place in resfail */
	struct inode ino, before;
	int rc;

	memset(r, 0, sizeof(*r));
	if ((r->status = op_inode(op, t, &a->object, &ino)) != NFS3_OK)
		return 0;
	before = ino;
	if (a->guard.check) {
		uint64_t want = ns_of(&a->guard.sattrguard3_u.obj_ctime);
		/* nfstime3 carries whole nanoseconds, as we store them */
		if (want != ino.ctime) {
			r->status = NFS3ERR_NOT_SYNC;
			attr_wcc(&before, &ino, op->f->fsid, wcc);
			return 0;
		}
	}
	if ((r->status = nfs_apply_sattr(op, t, &ino, &a->new_attributes, false)) != NFS3_OK) {
		attr_wcc(&before, &before, op->f->fsid, wcc);
		return 0;
	}
	if ((rc = ino_put(op->f->st, t, &ino)) < 0)
		return rc;
	attr_wcc(&before, &ino, op->f->fsid, wcc);
	return 0;
}
