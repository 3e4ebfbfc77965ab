/*
 * fmd.h - what the pieces of slice-fmd share.
 *
 *   main.c       options, start-up, signals, shutdown
 *   export.c     the export: allowed client addresses, root squash
 *   fh.c         file handles: encode, check (MAC), decode
 *   store.c      the LMDB schema: inodes, names, listings, symlinks, maps,
 *                the removal queue; read transactions per thread
 *   commit.c     group commit: the one writer thread, batches of mutations
 *                in one transaction, replies after the commit
 *   drc.c        the duplicate request cache
 *   access.c     AUTH_SYS credentials against mode, owner, groups
 *   attr.c       inode <-> fattr3 / wcc_attr / sattr3, clocks
 *   nfs.c        the NFSv3 program: decode, route (inline, commit, data),
 *                encode, reply
 *   nfs_*.c      the procedures, one file per group
 *   mount.c      the MOUNTv3 program
 *   data.h/.c    file data (READ/WRITE/COMMIT, truncate, remove) through
 *                the Slice data path
 *   removeq.c    the thread that drains the durable removal queue
 */
#ifndef FMD_H
#define FMD_H

#include <lmdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "oncrpc.h"
#include "oncrpc_nfs3.h"

struct fmd;

/* ---- configuration ------------------------------------------------------- */

#define FMD_MAX_ALLOW    32
#define FMD_MAX_BLOCKD   64
#define FMD_MAX_MANAGERS 64

enum { FMD_SYNC_FULL, FMD_SYNC_DATA, FMD_SYNC_NONE };

struct fmd_config {
	const char *data_dir;
	const char *listen_addr;
	const char *export_path;      /* "/slice" */
	const char *volume;
	uint16_t    nfs_port, mount_port;
	uint32_t    managers, index;
	struct { uint32_t node; char url[128]; bool set; } peers[FMD_MAX_MANAGERS];   /* --peer-fmd */
	uint32_t    node;             /* Trapeze node id; UINT32_MAX: none */
	const char *fabric;
	const char *secret_file;
	const char *tpz_listen;       /* "tcp://ADDR:PORT": Trapeze over tcp */
	struct { uint32_t node; char url[128]; } blockd[FMD_MAX_BLOCKD];
	uint32_t    nblockd;
	uint32_t    stripe_unit;
	bool        root_squash;
	uint32_t    anon_uid, anon_gid;
	struct orpc_cidr allow[FMD_MAX_ALLOW];
	uint32_t    nallow;
	bool        rpcbind;
	uint64_t    db_size;          /* LMDB map size */
	uint32_t    batch_max;        /* mutations per commit */
	int         sync;             /* FMD_SYNC_* */
	uint32_t    spin_us;          /* RPC loop and commit thread spin before sleeping */
	int32_t     mkdir_switch;     /* --mkdir-switch: permille, -1 if not given */
	const char *crash_at;         /* test hook: "POINT[:N]" */
	bool        check;            /* --check: verify the store and exit */
};

/* ---- the store ----------------------------------------------------------- */

#define INO_EXCL_VERF 0x1u        /* verf holds an exclusive-create verifier */
#define INO_HAS_DATA  0x2u        /* data may have been written to its object */
#define INO_LOCAL_DIR 0x4u        /* a directory whose names all live on its manager */

/* One file, directory, symlink or special file.  Stored as these bytes
 * (the data directory is not portable across byte orders). */
struct inode {
	uint64_t fileid;              /* the key; not in the stored value */
	uint8_t  type;                /* ftype3 */
	uint8_t  flags;               /* INO_* */
	uint16_t rsv;
	uint32_t mode;                /* permission bits, 07777 */
	uint32_t nlink;
	uint32_t uid, gid;
	uint32_t gen;                 /* in the file handle: a handle of a
	                                 file that was removed is stale */
	uint32_t rdev1, rdev2;
	uint64_t size;
	uint64_t parent;              /* directories: for ".." */
	uint64_t entries;             /* directories: names in it */
	uint64_t atime, mtime, ctime; /* nanoseconds since the epoch */
	uint8_t  verf[8];
	/* Not stored: a directory's names on other managers, as they last
	 * told us (filled by ino_get on the directory's own manager). */
	uint64_t x_entries;
	uint32_t x_subdirs;
	uint32_t x_remote;            /* attributes from another manager, not the store */
	uint64_t x_mtime, x_ctime;
};

/* A name in a directory.  gen and flags make the file's handle without
 * asking the manager that holds it (after a rename across managers a
 * name may live on another manager than its file). */
struct dirent_val {
	uint64_t fileid;
	uint64_t cookie;              /* where a listing resumes after it */
	uint32_t gen;
	uint8_t  type;
	uint8_t  flags;               /* handle flags (SLICE_FH_F_LOCAL) */
};

struct store;

/* The tables (see store.c). */
enum { T_META, T_INODES, T_NAMES, T_LISTING, T_SYMLINKS, T_MAPS, T_RMQ,
       T_PARTIALS, T_RPARTIALS, T_INTENTS, T_PREPARED, T_DEAD, T_COUNT };

int  store_open(const char *dir, uint64_t mapsize, int sync, struct store **out);
void store_close(struct store *st);
MDB_env *store_env(struct store *st);
/* Keep data.mdb ahead of LMDB's use (so commits overwrite, not extend):
 * 1 if it grew, 0 if it had room, -errno. */
int  store_prealloc(struct store *st);

/* The calling thread's read transaction (renewed; end it after use). */
int  store_rd(struct store *st, MDB_txn **txn);
void store_rd_done(MDB_txn *txn);
int  store_wr(struct store *st, MDB_txn **txn);
/* A write transaction whose commit does not flush the meta page (LMDB's
 * MDB_NOMETASYNC): a power cut may take back this commit, never part of
 * one nor an earlier one; the next store_wr commit or store_sync makes it
 * durable.  store_lazy_done after its commit or abort, before the next
 * store_wr. */
int  store_wr_lazy(struct store *st, MDB_txn **txn);
void store_lazy_done(struct store *st);
int  store_sync(struct store *st);

/* Records.  0, -ENOENT, -EEXIST or another -errno (MDB errors map to -EIO,
 * MDB_MAP_FULL to -ENOSPC). */
int  ino_get(struct store *st, MDB_txn *t, uint64_t fileid, struct inode *out);
int  ino_put(struct store *st, MDB_txn *t, const struct inode *ino);
int  ino_del(struct store *st, MDB_txn *t, uint64_t fileid);
int  dent_get(struct store *st, MDB_txn *t, uint64_t dir, const char *name, struct dirent_val *out);
/* Add a name (its cookie is allocated here; d->cookie is ignored). */
int  dent_add(struct store *st, MDB_txn *t, uint64_t dir, const char *name, const struct dirent_val *d);
int  dent_del(struct store *st, MDB_txn *t, uint64_t dir, const char *name);
/* Has the directory no names (on this manager)? */
int  dent_empty(struct store *st, MDB_txn *t, uint64_t dir);

/* A listing cursor: names of dir in cookie order, after `after`. */
struct dent_iter {
	MDB_cursor *cur;
	uint64_t    dir;
	bool        started;
};
int  dent_iter_open(struct store *st, MDB_txn *t, uint64_t dir, uint64_t after, struct dent_iter *it);
/* 1 and the entry (name points into the map, NUL-terminated), 0 at the end. */
int  dent_iter_next(struct dent_iter *it, struct dirent_val *d, const char **name, uint32_t *namelen);
void dent_iter_close(struct dent_iter *it);

/* A directory's names held on one manager that is not its own: kept by
 * that manager (partials) and told to the directory's manager
 * (rpartials, one per origin), which adds them into the directory's size,
 * link count and times. */
struct partial {
	uint64_t entries;
	uint32_t subdirs;
	uint32_t rsv;
	uint64_t mtime, ctime;
	uint64_t version;
};
int  partial_get(struct store *st, MDB_txn *t, uint64_t dir, struct partial *p);   /* zeros if none */
int  partial_put(struct store *st, MDB_txn *t, uint64_t dir, const struct partial *p);
/* 1 if stored, 0 if an equal or newer version is there already */
int  rpartial_put(struct store *st, MDB_txn *t, uint64_t dir, uint32_t origin, const struct partial *p);
int  rpartial_merge(struct store *st, MDB_txn *t, struct inode *ino);

/* Small records keyed by a 64-bit id: T_INTENTS, T_PREPARED, T_DEAD. */
int  rec_get(struct store *st, MDB_txn *t, int table, uint64_t id, void *v, size_t len);
int  rec_put(struct store *st, MDB_txn *t, int table, uint64_t id, const void *v, size_t len);
int  rec_del(struct store *st, MDB_txn *t, int table, uint64_t id);
uint64_t store_new_seq(struct store *st, MDB_txn *t, int *err);
void store_set_managers(struct store *st, uint32_t n);

int  link_get(struct store *st, MDB_txn *t, uint64_t fileid, char *buf, size_t cap, uint32_t *len);
int  link_put(struct store *st, MDB_txn *t, uint64_t fileid, const char *target);
int  link_del(struct store *st, MDB_txn *t, uint64_t fileid);

/* Block maps, stored as struct slice_block_map's fields (map.c packs). */
int  map_get_raw(struct store *st, MDB_txn *t, uint64_t fileid, const void **val, size_t *len);
int  map_put_raw(struct store *st, MDB_txn *t, uint64_t fileid, const void *val, size_t len);
int  map_del(struct store *st, MDB_txn *t, uint64_t fileid);

/* The durable removal queue: objects (with their maps) to remove from the
 * block servers. */
int  rmq_add(struct store *st, MDB_txn *t, uint64_t obj, const void *map, size_t len);
/* The first entry at or after *seq: 1 and its fields, 0 when none. */
int  rmq_first(struct store *st, MDB_txn *t, uint64_t *seq, uint64_t *obj, const void **map,
	       size_t *len);
int  rmq_del(struct store *st, MDB_txn *t, uint64_t seq);

/* Counters and volume facts in the meta table. */
int  meta_get(struct store *st, MDB_txn *t, const char *key, void *val, size_t len);
int  meta_put(struct store *st, MDB_txn *t, const char *key, const void *val, size_t len);
/* New file ids and cookies, never reused (the counters are written in the
 * transaction that uses them). */
uint64_t store_new_fileid(struct store *st, MDB_txn *t, int *err);
void store_set_id_base(struct store *st, uint64_t base);
int  store_load_counters(struct store *st, MDB_txn *t);
int  store_stats(struct store *st, uint64_t *inodes, uint64_t *bytes_used, uint64_t *bytes_max);
/* Every record of a table in key order (raw bytes; check.c). A non-zero
 * return of fn stops the walk and is returned. */
typedef int (*store_scan_fn)(void *arg, const uint8_t *k, size_t klen, const uint8_t *v, size_t vlen);
int  store_scan(struct store *st, MDB_txn *t, int table, store_scan_fn fn, void *arg);
int  store_get_raw(struct store *st, MDB_txn *t, int table, MDB_val *k, MDB_val *v);
/* The consistency check (check.c): 0 if the name space holds together;
 * the problems found are logged. */
int  fmd_check(struct fmd *f, uint64_t *inodes, uint64_t *names, uint64_t *problems);

/* The name record of an inode (for dent_add). */
static inline struct dirent_val dent_of(const struct inode *ino)
{
	struct dirent_val d = { .fileid = ino->fileid, .gen = ino->gen, .type = ino->type,
				.flags = (ino->flags & INO_LOCAL_DIR) ? 0x1 : 0 };
	return d;
}

/* ---- handles ------------------------------------------------------------- */

#define FH_SIZE 28
struct fh {
	uint32_t manager;
	uint32_t volid;
	uint64_t fileid;
	uint32_t gen;
	uint8_t  flags;
};
void fh_init(const uint8_t key[16], uint32_t volid);
void fh_encode(const struct fh *h, uint8_t out[FH_SIZE]);
/* 0, or NFS3ERR_BADHANDLE (not one of ours: length, format, MAC, volume). */
int  fh_decode(const nfs_fh3 *in, struct fh *out);

/* ---- credentials and access ----------------------------------------------- */

struct fmd_cred {
	uint32_t uid, gid, ngids;
	uint32_t gids[ORPC_AUTH_GIDS_MAX];
};

#define MAY_READ  4u
#define MAY_WRITE 2u
#define MAY_EXEC  1u
bool access_in_group(const struct fmd_cred *c, uint32_t gid);
/* 0 or NFS3ERR_ACCES: may c do `want` (MAY_* bits) to ino? */
int  access_check(const struct inode *ino, const struct fmd_cred *c, unsigned want);
/* ACCESS3 bits of `asked` that c is allowed on ino. */
uint32_t access_mask(const struct inode *ino, const struct fmd_cred *c, uint32_t asked);
/* May c remove/rename `victim` out of the sticky directory `dir`? */
bool access_sticky_ok(const struct inode *dir, const struct inode *victim, const struct fmd_cred *c);

/* ---- export ------------------------------------------------------------- */

bool export_allowed(const struct fmd_config *cfg, const struct sockaddr_storage *peer);
/* The call's credential after squashing. */
void export_cred(const struct fmd_config *cfg, const struct orpc_cred *in, struct fmd_cred *out);

/* ---- attributes and time -------------------------------------------------- */

uint64_t fmd_now(void);      /* ns, strictly increasing in this process */
void attr_fattr(const struct inode *ino, uint64_t fsid, fattr3 *out);
void attr_post(const struct inode *ino, uint64_t fsid, post_op_attr *out);
void attr_pre(const struct inode *ino, pre_op_attr *out);
void attr_wcc(const struct inode *before, const struct inode *after, uint64_t fsid, wcc_data *out);
uint64_t attr_dir_size(const struct inode *dir);
uint32_t attr_mode_type_bits(uint8_t type);

/* ---- the duplicate request cache ---------------------------------------- */

enum drc_verdict { DRC_NEW, DRC_IN_PROGRESS, DRC_REPLAY };
struct drc;
struct drc_key {
	uint8_t  addr[16];
	uint32_t xid, proc;
	uint64_t args_hash;
};
int  drc_create(uint32_t capacity, struct drc **out);
void drc_destroy(struct drc *d);
/* DRC_NEW: recorded as in progress; DRC_REPLAY: *msg (malloc'd) and *len
 * are the reply sent before; DRC_IN_PROGRESS: the first is still being
 * served (drop this one). */
enum drc_verdict drc_begin(struct drc *d, const struct drc_key *k, uint8_t **msg, size_t *len);
void drc_done(struct drc *d, const struct drc_key *k, const uint8_t *msg, size_t len);
void drc_forget(struct drc *d, const struct drc_key *k);
void drc_counters(struct drc *d, uint64_t *hits, uint64_t *inprog, uint64_t *entries);

/* ---- the daemon ---------------------------------------------------------- */

struct fmd;
struct fmd_op;

/* A mutation run by the commit thread inside the batch's transaction.
 * Returns 0 (the op's NFS status is in its result, possibly an error) or a
 * -errno from the store, which fails the whole batch. */
typedef int (*fmd_mutate_fn)(struct fmd_op *op, MDB_txn *t);

struct commit_q;
int  commit_start(struct fmd *f, struct commit_q **out);
void commit_stop(struct commit_q *q);
void commit_free(struct commit_q *q);
/* Queue op; the commit thread runs op's mutation, commits, then calls
 * nfs_finish (encode and reply).  -ESHUTDOWN once stopped. */
int  commit_submit(struct commit_q *q, struct fmd_op *op);
void commit_counters(struct commit_q *q, uint64_t *batches, uint64_t *ops, uint64_t *max_batch,
		     uint64_t *commit_ns);

struct data_pool;
struct removeq;
struct fmd_data;
struct fmd_fabric;

struct fmd {
	struct fmd_config  cfg;
	struct store      *st;
	struct orpc_server *rpc;
	struct commit_q   *cq;
	struct drc        *drc;
	struct data_pool  *io;
	struct fmd_data   *data;
	struct removeq    *rmq;
	struct fmd_fabric *fabric;        /* NULL: not on a Trapeze fabric */
	atomic_bool        rmq_dirty;     /* a commit queued objects for removal */
	uint32_t           volid;
	uint64_t           fsid;
	uint64_t           root;          /* root directory's file id */
	uint32_t           root_gen;
	/* the volume's placement of directories (fixed when it was made):
	 * name hashing (every directory's names spread over the managers),
	 * or mkdir switching (a directory's names live with it; a new
	 * directory goes to another manager with probability switch_pm/1000) */
	bool               switching;
	uint32_t           switch_pm;
	_Atomic uint64_t   writeverf;     /* new at every start, and when a block
	                                     server lost unstable writes */
	atomic_bool        stopping;
	/* crash hook (tests): the point's name and how many hits to allow */
	char               crash_point[48];
	atomic_int         crash_left;
};

void fmd_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void fmd_set_log_index(uint32_t index);
/* Test hook: die by SIGKILL when the configured point is reached. */
void fmd_crash_point(struct fmd *f, const char *point);

/* nfs.c / mount.c: the programs */
void nfs_dispatch(struct orpc_call *c, void *arg);
void mount_dispatch(struct orpc_call *c, void *arg);
void nfs_counters_log(void);
/* Encode op's result and reply (and fill the DRC); frees op. */
void nfs_finish(struct fmd_op *op);
/* Replace op's result by `status` with no attributes (a failed commit). */
void nfs_fail(struct fmd_op *op, int status);
/* The root handle (MOUNT). */
void fmd_root_fh(struct fmd *f, uint8_t out[FH_SIZE]);

#endif
