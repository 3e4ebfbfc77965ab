/*
 * nfs_fs.c - FSSTAT, FSINFO, PATHCONF.
 *
 * FSSTAT's byte counts are the data directory's file system's until the
 * block servers report their own (they hold the data); file counts come
 * from the store: the inodes in use, and how many more the map size could
 * hold at about 512 bytes each.
 */
#include <sys/statvfs.h>

#include "nfs_op.h"

int nfs_fsstat(struct fmd_op *op, MDB_txn *t)
{
	FSSTAT3res *r = &op->res.fsstat;
	FSSTAT3resok *ok = &r->FSSTAT3res_u.resok;
	struct inode ino;
	struct statvfs sv;
	uint64_t inodes = 0, used = 0, max = 0;

	if ((r->status = op_inode(op, t, &op->a.u.fsstat.fsroot, &ino)) != NFS3_OK)
		return 0;
	attr_post(&ino, op->f->fsid, &ok->obj_attributes);
	if (statvfs(op->f->cfg.data_dir, &sv) == 0) {
		ok->tbytes = (uint64_t)sv.f_blocks * sv.f_frsize;
		ok->fbytes = (uint64_t)sv.f_bfree * sv.f_frsize;
		ok->abytes = (uint64_t)sv.f_bavail * sv.f_frsize;
	}
	store_stats(op->f->st, &inodes, &used, &max);
	uint64_t room = max > used ? (max - used) / 512 : 0;
	ok->tfiles = inodes + room;
	ok->ffiles = ok->afiles = room;
	ok->invarsec = 0;
	return 0;
}

int nfs_fsinfo(struct fmd_op *op, MDB_txn *t)
{
	FSINFO3res *r = &op->res.fsinfo;
	FSINFO3resok *ok = &r->FSINFO3res_u.resok;
	struct inode ino;

	if ((r->status = op_inode(op, t, &op->a.u.fsinfo.fsroot, &ino)) != NFS3_OK)
		return 0;
	attr_post(&ino, op->f->fsid, &ok->obj_attributes);
	ok->rtmax = ok->wtmax = FMD_RW_MAX;
	ok->rtpref = ok->wtpref = FMD_RW_MAX;
	ok->rtmult = ok->wtmult = 4096;
	ok->dtpref = FMD_DIR_PREF;
	ok->maxfilesize = INT64_MAX;
	ok->time_delta.seconds = 0;
	ok->time_delta.nseconds = 1;
	ok->properties = FSF3_LINK | FSF3_SYMLINK | FSF3_HOMOGENEOUS | FSF3_CANSETTIME;
	return 0;
}

int nfs_pathconf(struct fmd_op *op, MDB_txn *t)
{
	PATHCONF3res *r = &op->res.pathconf;
	PATHCONF3resok *ok = &r->PATHCONF3res_u.resok;
	struct inode ino;

	if ((r->status = op_inode(op, t, &op->a.u.pathconf.object, &ino)) != NFS3_OK)
		return 0;
	attr_post(&ino, op->f->fsid, &ok->obj_attributes);
	ok->linkmax = 32000;
	ok->name_max = ORPC_NFS3_NAME_MAX;
	ok->no_trunc = 1;
	ok->chown_restricted = 1;
	ok->case_insensitive = 0;
	ok->case_preserving = 1;
	return 0;
}
