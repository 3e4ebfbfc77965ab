/*
 * nfs_create.c - CREATE (UNCHECKED, GUARDED, EXCLUSIVE), MKDIR, SYMLINK,
 * MKNOD: a new name in a directory and the inode it names, in one
 * transaction with the directory's new mtime, ctime, size and (MKDIR)
 * link count, so the wcc_data of the reply is exactly before and after.
 *
 * EXCLUSIVE keeps the client's verifier in the inode for good: a
 * retransmitted CREATE (same verifier) finds the file it made and succeeds
 * with it - also after a server restart, when the DRC has forgotten -
 * while another client's create of the same name (another verifier) gets
 * NFS3ERR_EXIST.
 */
#include <errno.h>
#include <sodium.h>
#include <string.h>

#include "data.h"
#include "nfs_op.h"

#define FMD_LINK_MAX 32000u

/* What the creating procedures have in common, in and out. */
struct mk {
	const diropargs3 *where;
	uint8_t           type;
	const sattr3     *sattr;          /* may be NULL (EXCLUSIVE) */
	uint32_t          def_mode;
	const char       *verf;           /* EXCLUSIVE: the client's verifier */
	post_op_fh3       obj;            /* the results, copied to resok */
	post_op_attr      obj_attr;
	wcc_data          dir_wcc;        /* ... or to resfail */
	struct inode      dir, dir_before, ino;
};

/* The parent: it must be a directory we may write and search, and the
 * name a valid new name.  NFS3_OK or the status (dir_wcc filled). */
static int check_parent(struct fmd_op *op, MDB_txn *t, struct mk *m)
{
	int st;
	if ((st = op_dir(op, t, &m->where->dir, &m->dir)) != NFS3_OK)
		return st;
	m->dir_before = m->dir;
	attr_wcc(&m->dir, &m->dir, op->f->fsid, &m->dir_wcc);
	if (m->dir.type != NF3DIR)
		return NFS3ERR_NOTDIR;
	if ((st = op_check_name(op, m->where->name, true)) != NFS3_OK)
		return st;
	if ((st = access_check(&m->dir, &op->cred, MAY_WRITE | MAY_EXEC)) != NFS3_OK)
		return st;
	/* partitioned volumes: not in a directory being removed, nor a name
	 * an operation across managers holds */
	if ((st = dir_alive(op, t, m->dir.fileid)) != NFS3_OK)
		return st;
	return name_locked(op->f, m->dir.fileid, m->where->name) ? NFS3ERR_JUKEBOX : NFS3_OK;
}

static void fill_ok(struct fmd_op *op, struct mk *m)
{
	m->obj.handle_follows = 1;
	op_fh(op, &m->ino, &m->obj.post_op_fh3_u.handle);
	attr_post(&m->ino, op->f->fsid, &m->obj_attr);
	attr_wcc(&m->dir_before, &m->dir, op->f->fsid, &m->dir_wcc);
}

/* Make the inode and its name.  Returns NFS3_OK / a status, or a negative
 * store error (which fails the batch). */
static int make_node(struct fmd_op *op, MDB_txn *t, struct mk *m)
{
	struct fmd *f = op->f;
	uint64_t now = fmd_now();
	int rc, st;

	if (m->type == NF3DIR && m->dir.nlink + m->dir.x_subdirs >= FMD_LINK_MAX)
		return NFS3ERR_MLINK;
	struct inode *ino = &m->ino;
	memset(ino, 0, sizeof(*ino));
	ino->fileid = store_new_fileid(f->st, t, &rc);
	if (rc)
		return rc;
	ino->type = m->type;
	ino->mode = m->def_mode;
	ino->nlink = m->type == NF3DIR ? 2 : 1;
	ino->uid = op->cred.uid;
	ino->gid = (m->dir.mode & 02000) ? m->dir.gid : op->cred.gid;
	ino->gen = randombytes_random();
	ino->parent = m->type == NF3DIR ? m->dir.fileid : 0;
	ino->atime = ino->mtime = ino->ctime = now;
	/* with block servers, a regular file's object may hold data from its
	 * first write on: its removal must reach them (see nfs_remove.c) */
	if (m->type == NF3REG && f->cfg.nblockd > 0)
		ino->flags |= INO_HAS_DATA;
	if (m->sattr) {
		if (m->sattr->mode.set_it)
			ino->mode = m->sattr->mode.set_mode3_u.mode & 07777;
		sattr3 rest = *m->sattr;   /* the mode is applied; the rest may be refused */
		rest.mode.set_it = 0;
		if ((st = nfs_apply_sattr(op, t, ino, &rest, true)) != NFS3_OK)
			return st;
		ino->ctime = now;
	}
	if (m->type == NF3DIR && (m->dir.mode & 02000))
		ino->mode |= 02000;   /* setgid directories pass it on */
	if (m->verf) {
		ino->flags |= INO_EXCL_VERF;
		memcpy(ino->verf, m->verf, 8);
	}

	struct dirent_val dv = dent_of(ino);
	if ((rc = dent_add(f->st, t, m->dir.fileid, m->where->name, &dv)) ||
	    (rc = ino_put(f->st, t, ino)))
		return rc;
	if (ino->type == NF3REG && (rc = map_create(f, t, ino)))
		return rc;
	if ((rc = dir_changed(op, t, &m->dir, 1, ino->type == NF3DIR ? 1 : 0, now)))
		return rc;
	fill_ok(op, m);
	return NFS3_OK;
}

/* The name exists: what CREATE makes of it. */
static int create_existing(struct fmd_op *op, MDB_txn *t, struct mk *m, const struct dirent_val *d)
{
	const CREATE3args *a = &op->a.u.create;
	int rc, st;

	if (a->how.mode == GUARDED)
		return NFS3ERR_EXIST;
	if ((rc = ino_get(op->f->st, t, d->fileid, &m->ino)))
		return rc;
	if (a->how.mode == EXCLUSIVE) {
		if (!(m->ino.flags & INO_EXCL_VERF) || memcmp(m->ino.verf, a->how.createhow3_u.verf, 8))
			return NFS3ERR_EXIST;
		fill_ok(op, m);   /* a retransmission: the file it made */
		return NFS3_OK;
	}
	/* UNCHECKED: an existing regular file gets the attributes (a size of
	 * 0 is how O_TRUNC travels) */
	if (m->ino.type != NF3REG)
		return NFS3ERR_EXIST;
	struct inode before = m->ino;
	if ((st = nfs_apply_sattr(op, t, &m->ino, &a->how.createhow3_u.obj_attributes, false)) != NFS3_OK)
		return st;
	if (memcmp(&before, &m->ino, sizeof(before)) && (rc = ino_put(op->f->st, t, &m->ino)))
		return rc;
	fill_ok(op, m);
	return NFS3_OK;
}

/* Copy m's results into a procedure's result (R: CREATE3res, MKDIR3res...) */
#define PUT_RESULT(R, U, st, m) do {                                   \
	(R)->status = (st);                                            \
	if ((st) == NFS3_OK) {                                         \
		(R)->U.resok.obj = (m).obj;                            \
		(R)->U.resok.obj_attributes = (m).obj_attr;            \
		(R)->U.resok.dir_wcc = (m).dir_wcc;                    \
	} else {                                                       \
		(R)->U.resfail.dir_wcc = (m).dir_wcc;                  \
	}                                                              \
} while (0)

int nfs_create(struct fmd_op *op, MDB_txn *t)
{
	const CREATE3args *a = &op->a.u.create;
	CREATE3res *r = &op->res.create;
	struct dirent_val d;
	int st, rc;

	struct mk m = {
		.where = &a->where, .type = NF3REG, .def_mode = 0644,
		.sattr = a->how.mode == EXCLUSIVE ? NULL : &a->how.createhow3_u.obj_attributes,
	};
	if (a->how.mode == EXCLUSIVE) {
		m.def_mode = 0600;   /* the client sets the mode next (SETATTR) */
		m.verf = a->how.createhow3_u.verf;
	}
	if ((st = check_parent(op, t, &m)) == NFS3_OK) {
		rc = dent_get(op->f->st, t, m.dir.fileid, a->where.name, &d);
		if (rc == 0)
			st = create_existing(op, t, &m, &d);
		else if (rc == -ENOENT)
			st = make_node(op, t, &m);
		else
			return rc;
		if (st < 0)
			return st;
	}
	PUT_RESULT(r, CREATE3res_u, st, m);
	return 0;
}

/* MKDIR, SYMLINK and MKNOD: the parent, then the name must be new. */
static int make_new(struct fmd_op *op, MDB_txn *t, struct mk *m)
{
	struct dirent_val d;
	int st = check_parent(op, t, m);
	if (st != NFS3_OK)
		return st;
	int rc = dent_get(op->f->st, t, m->dir.fileid, m->where->name, &d);
	if (rc == 0)
		return NFS3ERR_EXIST;
	if (rc != -ENOENT)
		return rc;
	return make_node(op, t, m);
}

int nfs_mkdir(struct fmd_op *op, MDB_txn *t)
{
	const MKDIR3args *a = &op->a.u.mkdir;
	struct mk m = { .where = &a->where, .type = NF3DIR, .def_mode = 0755, .sattr = &a->attributes };
	int st = make_new(op, t, &m);
	if (st < 0)
		return st;
	PUT_RESULT(&op->res.mkdir, MKDIR3res_u, st, m);
	return 0;
}

int nfs_symlink(struct fmd_op *op, MDB_txn *t)
{
	const SYMLINK3args *a = &op->a.u.symlink;
	sattr3 s = a->symlink.symlink_attributes;
	int st, rc;

	s.size.set_it = 0;   /* a symlink's size is its target's length */
	struct mk m = { .where = &a->where, .type = NF3LNK, .def_mode = 0777, .sattr = &s };
	if (a->symlink.symlink_data[0] == 0) {
		/* flagged too long (then not copied), or empty: nothing to point at */
		st = check_parent(op, t, &m);
		if (st == NFS3_OK)
			st = (op->a.flags & ORPC_NFS3_F_NAMETOOLONG) ? NFS3ERR_NAMETOOLONG : NFS3ERR_INVAL;
	} else if ((st = make_new(op, t, &m)) == NFS3_OK) {
		m.ino.size = strlen(a->symlink.symlink_data);
		if ((rc = link_put(op->f->st, t, m.ino.fileid, a->symlink.symlink_data)) ||
		    (rc = ino_put(op->f->st, t, &m.ino)))
			return rc;
		attr_post(&m.ino, op->f->fsid, &m.obj_attr);
	}
	if (st < 0)
		return st;
	PUT_RESULT(&op->res.symlink, SYMLINK3res_u, st, m);
	return 0;
}

int nfs_mknod(struct fmd_op *op, MDB_txn *t)
{
	const MKNOD3args *a = &op->a.u.mknod;
	struct mk m = { .where = &a->where, .type = (uint8_t)a->what.type, .def_mode = 0644 };
	int st = NFS3_OK, rc;
	bool dev = false;

	switch (a->what.type) {
	case NF3CHR:
	case NF3BLK:
		dev = true;
		m.sattr = &a->what.mknoddata3_u.chr_device.dev_attributes;
		break;
	case NF3SOCK:
	case NF3FIFO:
		m.sattr = &a->what.mknoddata3_u.sock_attributes;
		break;
	default:
		st = NFS3ERR_BADTYPE;
		break;
	}
	if (st == NFS3_OK && dev && op->cred.uid != 0)
		st = NFS3ERR_PERM;   /* device nodes are root's to make */
	if (st != NFS3_OK) {
		int pst = check_parent(op, t, &m);   /* for the wcc data */
		if (pst < 0)
			return pst;
	} else if ((st = make_new(op, t, &m)) == NFS3_OK && dev) {
		m.ino.rdev1 = a->what.mknoddata3_u.chr_device.spec.specdata1;
		m.ino.rdev2 = a->what.mknoddata3_u.chr_device.spec.specdata2;
		if ((rc = ino_put(op->f->st, t, &m.ino)))
			return rc;
		attr_post(&m.ino, op->f->fsid, &m.obj_attr);
	}
	if (st < 0)
		return st;
	PUT_RESULT(&op->res.mknod, MKNOD3res_u, st, m);
	return 0;
}
