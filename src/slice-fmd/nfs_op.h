/*
 * nfs_op.h - one NFSv3 request on its way through slice-fmd, and what the
 * procedure files share.
 *
 * Each procedure is one of three kinds:
 *   INLINE  reads only; runs on the RPC loop thread in a read transaction
 *           (GETATTR, LOOKUP, ACCESS, READLINK, READDIR[PLUS], FS*, NULL);
 *   COMMIT  changes the name space; runs on the commit thread inside the
 *           batch's write transaction, replied to after the commit
 *           (SETATTR, CREATE, MKDIR, SYMLINK, MKNOD, REMOVE, RMDIR,
 *           RENAME, LINK);
 *   DATA    file data through the Slice data path; runs on a data thread
 *           (READ, WRITE, COMMIT), and WRITE then commits the new size.
 */
#ifndef NFS_OP_H
#define NFS_OP_H

#include "fmd.h"

union nfs_res {
	nfsstat3         status;      /* first in every result */
	GETATTR3res      getattr;
	SETATTR3res      setattr;
	LOOKUP3res       lookup;
	ACCESS3res       access;
	READLINK3res     readlink;
	READ3res         read;
	WRITE3res        write;
	CREATE3res       create;
	MKDIR3res        mkdir;
	SYMLINK3res      symlink;
	MKNOD3res        mknod;
	REMOVE3res       remove;
	RMDIR3res        rmdir;
	RENAME3res       rename;
	LINK3res         link;
	READDIR3res      readdir;
	READDIRPLUS3res  readdirplus;
	FSSTAT3res       fsstat;
	FSINFO3res       fsinfo;
	PATHCONF3res     pathconf;
	COMMIT3res       commit;
};

enum nfs_kind { K_INLINE, K_COMMIT, K_DATA };

struct fmd_op {
	struct fmd            *f;
	struct orpc_call      *call;          /* NULL when forwarded by another manager */
	/* The call as it arrived, directly or forwarded (remote.c): */
	struct nrpc_req       *fwd;           /* the FMD_FORWARD request (detached) */
	uint8_t               *fwd_rec;       /* our copy of its arguments */
	const uint8_t         *args;
	uint32_t               args_len;
	uint32_t               xid;
	struct orpc_cred       ocred;
	struct sockaddr_storage peer;
	int                    fwd_target;    /* the manager a misrouted call goes to */
	uint32_t               proc;
	struct fmd_cred        cred;
	struct orpc_nfs3_args  a;
	union nfs_res          res;
	size_t                 reply_max;     /* bytes the encoded result may need */
	bool                   in_drc;
	struct drc_key         drc_key;
	uint8_t                fh[FH_SIZE];   /* the handle a result names */
	char                  *linkbuf;       /* READLINK's target */
	void                  *mem;           /* other result storage; freed with the op */
	void                  *bufs[8];       /* more of it (names of other managers' listings) */
	MDB_txn               *rtxn;          /* read txn the result points into */
	struct fmd_op         *next;          /* commit queue */
	fmd_mutate_fn          mutate;
	bool                   lazy;          /* may be answered before it is durable */
	/* after the commit: NULL means nfs_finish (encode, reply); the map
	 * service answers its NetRPC request instead (mapsvc.c) */
	void                 (*finish)(struct fmd_op *op);
	void                  *ctx;
	/* Partitioning: remote directories' attributes fetched before the
	 * mutation (x_remote set), remote directories whose names changed
	 * here (told after the commit), and a job for a data thread: run
	 * instead of the procedure (job), or after the commit (after). */
	struct inode           rdir[2];
	int                    nrdir;
	uint64_t               touch[2];
	uint64_t               touch_ver[2];   /* the partial's version our change made */
	int                    ntouch;
	int                    touch_wait;     /* touches still to be acknowledged */
	struct fmd_op         *touch_next;     /* waiting for a touch (remote.c) */
	void                 (*job)(struct fmd_op *op);
	void                 (*after)(struct fmd_op *op);
	void                  *xctx;          /* a cross-manager operation (xop.c) */
	void                  *wctx;          /* commit_run's waiter */
	int                    rename_loop;   /* RENAME of a directory: 1 if into its own subtree */
	int                    commit_err;    /* the commit of its batch failed: -errno */
	/* WRITE: the size and time to commit after the data went out */
	uint64_t               w_end;
	struct inode           w_before;
};

struct nfs_proc {
	const char   *name;
	enum nfs_kind kind;
	bool          drc;                         /* non-idempotent: use the DRC */
	int         (*run)(struct fmd_op *op, MDB_txn *t);
	bool_t      (*enc)(ZDR *z, union nfs_res *r);
};
extern const struct nfs_proc nfs_procs[ORPC_NFS3_NPROCS];

/* Serve op (decoded from op->args): the path common to calls that came
 * directly and calls forwarded by another manager. */
void nfs_start(struct fmd_op *op);
void nfs_op_free(struct fmd_op *op);

/* Look up the inode a handle names: NFS3_OK, NFS3ERR_BADHANDLE (not ours),
 * NFS3ERR_STALE (gone), NFS3ERR_SERVERFAULT (store error). */
int op_inode(struct fmd_op *op, MDB_txn *t, const nfs_fh3 *h, struct inode *ino);
/* Handle of ino into op->fh (or buf), as an nfs_fh3. */
void op_fh(struct fmd_op *op, const struct inode *ino, nfs_fh3 *out);
void op_fh_into(struct fmd *f, const struct inode *ino, uint8_t *buf, nfs_fh3 *out);
/* A name given to LOOKUP, REMOVE, ... (creating: also "." and ".."):
 * NFS3_OK or the status to answer. */
int op_check_name(struct fmd_op *op, const char *name, bool creating);
/* A -errno from the store as an NFS status. */
int op_store_status(int err);

/* Directories on this manager or another (dirs.c). */
/* The directory a handle names: from the store when it is ours, else
 * from the attributes fetched before the mutation.  An NFS status. */
int op_dir(struct fmd_op *op, MDB_txn *t, const nfs_fh3 *h, struct inode *dir);
/* Names in dir changed by (entries, subdirs): its inode when ours, else
 * our partial count (told to its manager after the commit).  < 0: store. */
int dir_changed(struct fmd_op *op, MDB_txn *t, struct inode *dir, int entries, int subdirs, uint64_t now);
/* May names in dir be made (not removed, not being removed)?  An NFS status. */
int dir_alive(struct fmd_op *op, MDB_txn *t, uint64_t dir);
/* Is (dir, name) held by an operation across managers under way? */
bool name_locked(struct fmd *f, uint64_t dir, const char *name);
void name_lock(struct fmd *f, uint64_t dir, const char *name);
void name_unlock(struct fmd *f, uint64_t dir, const char *name);
void dir_dying(struct fmd *f, uint64_t dir, bool on);
bool is_dir_dying(struct fmd *f, uint64_t dir);
bool op_is_ours(struct fmd *f, uint64_t fileid);

/* Procedures (nfs_*.c). */
int nfs_null(struct fmd_op *op, MDB_txn *t);
int nfs_getattr(struct fmd_op *op, MDB_txn *t);
int nfs_setattr(struct fmd_op *op, MDB_txn *t);
int nfs_access(struct fmd_op *op, MDB_txn *t);
int nfs_lookup(struct fmd_op *op, MDB_txn *t);
int nfs_readlink(struct fmd_op *op, MDB_txn *t);
int nfs_read(struct fmd_op *op, MDB_txn *t);
int nfs_write(struct fmd_op *op, MDB_txn *t);
int nfs_commit(struct fmd_op *op, MDB_txn *t);
int nfs_create(struct fmd_op *op, MDB_txn *t);
int nfs_mkdir(struct fmd_op *op, MDB_txn *t);
int nfs_symlink(struct fmd_op *op, MDB_txn *t);
int nfs_mknod(struct fmd_op *op, MDB_txn *t);
int nfs_remove(struct fmd_op *op, MDB_txn *t);
int nfs_rmdir(struct fmd_op *op, MDB_txn *t);
int nfs_rename(struct fmd_op *op, MDB_txn *t);
int nfs_link(struct fmd_op *op, MDB_txn *t);
int nfs_readdir(struct fmd_op *op, MDB_txn *t);
int nfs_readdirplus(struct fmd_op *op, MDB_txn *t);
int nfs_fsstat(struct fmd_op *op, MDB_txn *t);
int nfs_fsinfo(struct fmd_op *op, MDB_txn *t);
int nfs_pathconf(struct fmd_op *op, MDB_txn *t);

/* Shared by the mutating procedures. */
/* The inode's last link is gone: delete it, and queue its data for removal. */
int nfs_drop_inode(struct fmd_op *op, MDB_txn *t, struct inode *ino);
/* Apply a sattr3 to ino (checks permissions): NFS3_OK or a status. */
int nfs_apply_sattr(struct fmd_op *op, MDB_txn *t, struct inode *ino, const sattr3 *s, bool creating);

/* The data thread pool (nfs_rw.c). */
int  data_pool_start(struct fmd *f, uint32_t threads, struct data_pool **out);
void data_pool_stop(struct data_pool *p);
void data_pool_submit(struct data_pool *p, struct fmd_op *op);
/* Run job(op) on a data thread. */
void data_pool_job(struct data_pool *p, struct fmd_op *op, void (*job)(struct fmd_op *op));
/* Run mutate(op) in the commit thread and wait for its commit (data
 * threads and NetRPC workers only).  0, or the store error. */
int  commit_run(struct fmd *f, struct fmd_op *op, fmd_mutate_fn mutate);

/* Largest READ / WRITE we take, and the preferred sizes we advertise. */
#define FMD_RW_MAX    (960u << 10)   /* with its reply, within one NetRPC payload (forwarding) */
#define FMD_DIR_PREF  (64u << 10)
#define FMD_READDIR_MAX_ENTRIES 2048   /* libnfs encodes the list recursively */

#endif
