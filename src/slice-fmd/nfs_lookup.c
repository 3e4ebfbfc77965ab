/*
 * nfs_lookup.c - LOOKUP and READLINK.
 *
 * "." is the directory itself and ".." its parent (the root's parent is
 * the root: a client cannot climb out of the export).  Looking up needs
 * search (execute) permission on the directory.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "nfs_op.h"
#include "remote.h"

/* The directory of a LOOKUP: ours, or (a partitioned volume, on a data
 * thread) fetched from its manager for the permission check. */
static int lookup_dir(struct fmd_op *op, MDB_txn *t, const nfs_fh3 *h, struct inode *dir)
{
	struct fh fh;
	int st = fh_decode(h, &fh);
	if (st)
		return st;
	if (fh.manager == op->f->cfg.index || op->f->cfg.managers <= 1)
		return op_inode(op, t, h, dir);
	if (fh.manager >= op->f->cfg.managers)
		return NFS3ERR_BADHANDLE;
	int rc = remote_getattr(op->f, fh.fileid, fh.gen, dir);
	if (rc == -ENOENT)
		return NFS3ERR_STALE;
	return rc ? NFS3ERR_JUKEBOX : NFS3_OK;
}

int nfs_lookup(struct fmd_op *op, MDB_txn *t)
{
	LOOKUP3args *a = &op->a.u.lookup;
	LOOKUP3res *r = &op->res.lookup;
	struct fmd *f = op->f;
	struct inode dir, ino;
	struct dirent_val d;
	const char *name = a->what.name;
	int rc;

	if ((r->status = lookup_dir(op, t, &a->what.dir, &dir)) != NFS3_OK)
		return 0;
	attr_post(&dir, f->fsid, &r->LOOKUP3res_u.resfail.dir_attributes);
	if (dir.type != NF3DIR) {
		r->status = NFS3ERR_NOTDIR;
		return 0;
	}
	if ((op->a.flags & ORPC_NFS3_F_NAMETOOLONG)) {
		r->status = NFS3ERR_NAMETOOLONG;
		return 0;
	}
	if ((r->status = access_check(&dir, &op->cred, MAY_EXEC)) != NFS3_OK)
		return 0;
	if (name[0] == 0 || (op->a.flags & ORPC_NFS3_F_BADNAME) || strchr(name, '/')) {
		r->status = NFS3ERR_NOENT;
		return 0;
	}
	if (strcmp(name, ".") == 0) {
		ino = dir;
	} else if (strcmp(name, "..") == 0) {
		uint64_t up = dir.fileid == f->root ? f->root : dir.parent;
		rc = op_is_ours(f, up) ? ino_get(f->st, t, up, &ino) : remote_getattr(f, up, 0, &ino);
		if (rc) {
			r->status = rc == -ENOENT ? NFS3ERR_STALE : NFS3ERR_IO;
			return 0;
		}
	} else {
		rc = dent_get(f->st, t, dir.fileid, name, &d);
		if (rc == 0 && !op_is_ours(f, d.fileid)) {
			/* the name is here, its file elsewhere (renamed across
			 * managers): the handle from the name, no attributes */
			memset(&ino, 0, sizeof(ino));
			ino.fileid = d.fileid;
			ino.gen = d.gen;
			ino.type = d.type;
			ino.flags = (d.flags & 0x1) ? INO_LOCAL_DIR : 0;
			ino.x_remote = 1;
		} else if (rc == 0) {
			rc = ino_get(f->st, t, d.fileid, &ino);
		}
		if (rc) {
			r->status = rc == -ENOENT ? NFS3ERR_NOENT : NFS3ERR_IO;
			return 0;
		}
	}
	LOOKUP3resok *ok = &r->LOOKUP3res_u.resok;
	op_fh(op, &ino, &ok->object);
	attr_post(&ino, f->fsid, &ok->obj_attributes);
	attr_post(&dir, f->fsid, &ok->dir_attributes);
	return 0;
}

int nfs_readlink(struct fmd_op *op, MDB_txn *t)
{
	READLINK3res *r = &op->res.readlink;
	struct inode ino;
	uint32_t len;

	if ((r->status = op_inode(op, t, &op->a.u.readlink.symlink, &ino)) != NFS3_OK)
		return 0;
	attr_post(&ino, op->f->fsid, &r->READLINK3res_u.resfail.symlink_attributes);
	if (ino.type != NF3LNK) {
		r->status = NFS3ERR_INVAL;
		return 0;
	}
	op->linkbuf = malloc(ORPC_NFS3_PATH_MAX + 1);
	if (!op->linkbuf || link_get(op->f->st, t, ino.fileid, op->linkbuf, ORPC_NFS3_PATH_MAX + 1, &len)) {
		r->status = NFS3ERR_IO;
		return 0;
	}
	attr_post(&ino, op->f->fsid, &r->READLINK3res_u.resok.symlink_attributes);
	r->READLINK3res_u.resok.data = op->linkbuf;
	op->reply_max = ORPC_NFS3_PATH_MAX + 512;
	return 0;
}
