/*
 * nfs_remove.c - REMOVE and RMDIR, and what happens to an inode whose
 * last name goes: it is deleted in the same transaction, and its data
 * object (if any was ever written) is put on the durable removal queue,
 * so the block servers are cleaned up later - even if the file manager is
 * killed right after the commit.
 */
#include <errno.h>
#include <string.h>

#include "data.h"
#include "nfs_op.h"

int nfs_drop_inode(struct fmd_op *op, MDB_txn *t, struct inode *ino)
{
	struct fmd *f = op->f;
	int rc;
	if (ino->type == NF3LNK && (rc = link_del(f->st, t, ino->fileid)) && rc != -ENOENT)
		return rc;
	if (ino->type == NF3REG && (rc = map_retire(f, t, ino)))
		return rc;
	return ino_del(f->st, t, ino->fileid);
}

/* The parent and the victim, checked; NFS3_OK or a status, or < 0. */
static int find_victim(struct fmd_op *op, MDB_txn *t, const diropargs3 *where, struct inode *dir,
		       struct inode *victim, wcc_data *wcc)
{
	struct dirent_val d;
	int st, rc;

	if ((st = op_dir(op, t, &where->dir, dir)) != NFS3_OK)
		return st;
	attr_wcc(dir, dir, op->f->fsid, wcc);
	if (dir->type != NF3DIR)
		return NFS3ERR_NOTDIR;
	if ((st = op_check_name(op, where->name, false)) != NFS3_OK)
		return st;
	if (strcmp(where->name, ".") == 0 || strcmp(where->name, "..") == 0)
		return NFS3ERR_INVAL;
	if ((st = access_check(dir, &op->cred, MAY_WRITE | MAY_EXEC)) != NFS3_OK)
		return st;
	if (name_locked(op->f, dir->fileid, where->name))
		return NFS3ERR_JUKEBOX;
	rc = dent_get(op->f->st, t, dir->fileid, where->name, &d);
	if (rc == -ENOENT)
		return NFS3ERR_NOENT;
	if (rc)
		return rc;
	/* a file held by another manager goes through xop.c; if it came
	 * to be so since we looked, the client asks again */
	if (!op_is_ours(op->f, d.fileid))
		return NFS3ERR_JUKEBOX;
	if ((rc = ino_get(op->f->st, t, d.fileid, victim)))
		return rc;
	if (!access_sticky_ok(dir, victim, &op->cred))
		return NFS3ERR_ACCES;
	return NFS3_OK;
}

/* Take the name out of dir; the victim loses a link (and the inode goes
 * with its last one). */
static int unlink_name(struct fmd_op *op, MDB_txn *t, struct inode *dir, const char *name,
		       struct inode *victim)
{
	uint64_t now = fmd_now();
	int rc;
	bool isdir = victim->type == NF3DIR;
	if ((rc = dent_del(op->f->st, t, dir->fileid, name)))
		return rc;
	if (isdir)
		victim->nlink = 0;
	else
		victim->nlink--;
	victim->ctime = now;
	rc = victim->nlink == 0 ? nfs_drop_inode(op, t, victim) : ino_put(op->f->st, t, victim);
	if (rc)
		return rc;
	return dir_changed(op, t, dir, -1, isdir ? -1 : 0, now);
}

int nfs_remove(struct fmd_op *op, MDB_txn *t)
{
	REMOVE3res *r = &op->res.remove;
	wcc_data *wcc = &r->REMOVE3res_u.resok.dir_wcc;   /* resfail: the same spot */
	struct inode dir, victim;
	int st;

	memset(r, 0, sizeof(*r));
	st = find_victim(op, t, &op->a.u.remove.object, &dir, &victim, wcc);
	if (st == NFS3_OK && victim.type == NF3DIR)
		st = NFS3ERR_ISDIR;
	if (st == NFS3_OK) {
		struct inode before = dir;
		if ((st = unlink_name(op, t, &dir, op->a.u.remove.object.name, &victim)) < 0)
			return st;
		attr_wcc(&before, &dir, op->f->fsid, wcc);
	}
	if (st < 0)
		return st;
	r->status = st;
	return 0;
}

int nfs_rmdir(struct fmd_op *op, MDB_txn *t)
{
	RMDIR3res *r = &op->res.rmdir;
	wcc_data *wcc = &r->RMDIR3res_u.resok.dir_wcc;
	struct inode dir, victim;
	int st;

	memset(r, 0, sizeof(*r));
	st = find_victim(op, t, &op->a.u.rmdir.object, &dir, &victim, wcc);
	if (st == NFS3_OK && victim.type != NF3DIR)
		st = NFS3ERR_NOTDIR;
	if (st == NFS3_OK) {
		int empty = dent_empty(op->f->st, t, victim.fileid);
		if (empty < 0)
			return empty;
		if (!empty)
			st = NFS3ERR_NOTEMPTY;
	}
	if (st == NFS3_OK) {
		struct inode before = dir;
		if ((st = unlink_name(op, t, &dir, op->a.u.rmdir.object.name, &victim)) < 0)
			return st;
		attr_wcc(&before, &dir, op->f->fsid, wcc);
	}
	if (st < 0)
		return st;
	r->status = st;
	return 0;
}
