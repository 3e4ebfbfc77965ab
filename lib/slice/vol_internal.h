/*
 * vol_internal.h - what the files of slice_vol (slice_vol.h) share.
 *
 *   vol_open.c     open/close: the cluster file, our Trapeze node, NetRPC,
 *                  the data path's client, connecting nodes lazily, the root
 *   vol_nfs.c      NFSv3 calls: a small pool of libnfs raw connections per
 *                  manager, AUTH_SYS per call, deadlines, reconnects, JUKEBOX
 *   vol_conv.c     fattr3 / sattr3 / nfsstat3 to local terms and back
 *   vol_ns.c       the name-space calls, routed with slice_route.h
 *   vol_dir.c      READDIRPLUS
 *   vol_map.c      the map service (SLM_GETMAP, SLM_SETATTR) on the manager
 *   vol_file.c     open files: read, write-behind, size, truncate, flush
 *   vol_stateless.c  pread/pwrite/commit by handle (an LRU of open files)
 */
#ifndef VOL_INTERNAL_H
#define VOL_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include <nfsc/libnfs.h>
#include <nfsc/libnfs-raw.h>
#include <nfsc/libnfs-raw-mount.h>
#include <nfsc/libnfs-raw-nfs.h>

#include "netrpc.h"
#include "slice.h"
#include "slice_map_wire.h"
#include "slice_route.h"
#include "slice_vol.h"

#define VOL_LRU_MAX      64u     /* files the stateless side keeps open */
#define VOL_CONNS_MAX    32u
#define VOL_JUKEBOX_MS   10      /* first JUKEBOX backoff, doubling up to ... */
#define VOL_JUKEBOX_MAX  400

/* One TCP connection to a manager; used by one thread at a time. */
struct vol_conn {
	struct rpc_context *rpc;       /* NULL: not connected */
	bool                busy;
	bool                has_auth;
	struct slice_cred   auth;      /* the AUTH_SYS the context carries */
};

struct vol_mgr {
	uint32_t        index, node;
	char            host[64];
	int             port;
	pthread_mutex_t lock;
	pthread_cond_t  cv;
	uint32_t        nconns;
	struct vol_conn conns[VOL_CONNS_MAX];
};

struct slice_vol {
	struct slice_vol_config cfg;
	char                    cluster_path[SLICE_CLUSTER_STR];
	struct slice_cluster   *cl;
	char                    secret[256];
	struct tpz_endpoint    *ep;
	struct nrpc            *r;
	struct slice_client    *sc;
	pthread_t               thread;       /* drives delivery */
	atomic_bool             stop;
	pthread_mutex_t         connect_lock;
	uint32_t                nmgr;
	struct vol_mgr         *mgr;
	pthread_mutex_t         root_lock;
	bool                    have_root;
	struct slice_vfh        root;
	/* every open file (the caller's and the stateless side's), so that a
	 * truncation through this volume reaches them all */
	pthread_mutex_t         files_lock;
	struct slice_vfile     *files;
	uint32_t                nlru;         /* stateless files */
	_Atomic uint64_t        verifier;
};

struct slice_vfile {
	struct slice_vol   *v;
	pthread_mutex_t     lock;             /* serialises calls on the file */
	struct slice_vfh    fh;
	struct slice_fh_info info;
	struct slice_cred   cred;             /* the opener's: for SETATTR */
	struct slice_file  *sf;
	uint64_t            obj, map_version;
	uint64_t            size;             /* as this client knows it */
	uint64_t            mgr_size;         /* as last reported to / heard from the manager */
	bool                dirty;            /* writes not yet reported */
	bool                lazy;             /* reported lazily: maybe not durable yet */
	uint64_t            mtime_ns;         /* of the last write */
	struct slice_attr   attr;             /* from open, updated by reports */
	struct slice_vfile *prev, *next;      /* v->files */
	bool                stateless;
	uint32_t            users;            /* stateless: calls using it now */
	uint64_t            used;             /* stateless: LRU clock */
};

/* ---- vol_nfs.c ------------------------------------------------------------ */

/* One NFS call: args in, the result copied out by copy (run on the reply,
 * with the decoded result, which is freed afterwards). */
struct vol_call {
	uint32_t proc;                 /* NFS3_* (or MOUNT3_MNT with mount set) */
	bool     mount;                /* MOUNT program, not NFS */
	void    *args;
	void   (*copy)(struct vol_call *c, void *res);
	void    *out;
	/* filled in */
	int      rpc;                  /* RPC_STATUS_* */
	int      status;               /* nfsstat3 (mountstat3 for MOUNT) */
	bool     done;
};

/* Send c to manager m as cr (NULL: root) and wait: 0 with c->status set,
 * or -EIO (manager unreachable, connection lost), -ETIMEDOUT, -EAGAIN
 * (JUKEBOX for longer than the timeout).  Retries calls that are safe to
 * repeat after a lost connection. */
int  vol_nfs_call(struct slice_vol *v, uint32_t m, const struct slice_cred *cr, struct vol_call *c);
int  vol_nfs_init(struct slice_vol *v);
void vol_nfs_fini(struct slice_vol *v);

/* ---- vol_conv.c ----------------------------------------------------------- */

void     vol_attr_from(struct slice_attr *a, const fattr3 *f);
void     vol_sattr_to(sattr3 *s, const struct slice_sattr *in);
nfs_fh3  vol_fh_arg(const struct slice_vfh *fh);
void     vol_fh_copy(struct slice_vfh *dst, const nfs_fh3 *src);
/* Parse a handle for routing: 0, or -ESTALE for one that names nothing of
 * this volume (garbage, another volume's manager count). */
int      vol_fh_route(const struct slice_vol *v, const struct slice_vfh *fh, struct slice_fh_info *out);
int      vol_name_check(const char *name);
uint64_t vol_now_ns(void);

/* ---- vol_map.c ------------------------------------------------------------ */

int vol_connect_node(struct slice_vol *v, uint32_t node);
/* The file's map and its size as the manager knows it. */
int vol_getmap(struct slice_vol *v, uint32_t manager, uint64_t fileid, struct slice_block_map *map,
	       struct slm_getmap_res *res);
int vol_report(struct slice_vol *v, uint32_t manager, uint64_t fileid, uint64_t size, uint64_t mtime_ns,
	       uint32_t flags, struct slm_attr_res *res);

/* ---- vol_file.c ----------------------------------------------------------- */

int  vol_file_open(struct slice_vol *v, const struct slice_cred *cr, const struct slice_vfh *fh, bool stateless,
		   struct slice_vfile **out);
/* Under f->lock: report size/mtime if writes since the last report.
 * lazy: the manager may answer before the change is on its disk (a close,
 * an unstable write); otherwise durable, a lazy report before it included
 * (an fsync, a COMMIT). */
int  vol_file_report(struct slice_vfile *f, bool lazy);
/* fsync, unlink from v->files, free. */
int  vol_file_close(struct slice_vfile *f);
/* SETATTR with a size, for every open file of this handle alike. */
int  vol_truncate(struct slice_vol *v, const struct slice_cred *cr, const struct slice_vfh *fh,
		  const struct slice_sattr *s, struct slice_attr *attr);
/* NFS SETATTR alone (vol_ns.c). */
int  vol_setattr_nfs(struct slice_vol *v, const struct slice_cred *cr, const struct slice_vfh *fh,
		     const struct slice_sattr *s, struct slice_attr *attr);
void vol_files_close_all(struct slice_vol *v);

#endif
