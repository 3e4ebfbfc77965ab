/*
 * slice_vol.h - a Slice volume as a client sees it: the µproxy's routing
 * and the data path behind one synchronous, thread-safe API, for the fronts
 * (slicefs, slice-proxy, `slice`) and tests.
 *
 *   name space  NFSv3 calls (libnfs's codecs and raw RPC client, a small
 *               pool of TCP connections per file manager) sent to the file
 *               manager that serves them (slice_route.h); the managers do
 *               the rest (forwarding, two-phase commit across managers);
 *   data        straight to the block servers over NetRPC (slice.h): the
 *               block map comes from the file's manager (SLM_GETMAP, cached,
 *               dropped when its version changes), reads land in the
 *               caller's buffer, writes go behind; a file's new size and
 *               mtime are reported to its manager (SLM_SETATTR) at flush,
 *               fsync and close - so a second client that opens the file
 *               after this one closed it sees everything (close-to-open).
 *
 * The volume is found through a cluster file (slice_cluster.h).  Errors:
 * 0 or -errno; NFS errors map to the errno a local file system would give
 * (NFS3ERR_NOENT -ENOENT, ..._STALE -ESTALE, ..._JUKEBOX retried for a
 * bounded time, then -EAGAIN).  A manager or block server that is down
 * gives -EIO (or -ETIMEDOUT) within the configured timeout, never a hang.
 */
#ifndef SLICE_VOL_H
#define SLICE_VOL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "slice_cluster.h"

#ifdef __cplusplus
extern "C" {
#endif

struct slice_vol_config {
	const char *cluster_file;   /* required */
	uint32_t    node;           /* this client's Trapeze node id; 0: the first free one of
				     * the cluster's client range */
	int         timeout_ms;     /* per call; default 5000 */
	uint32_t    readahead;      /* stripe units; 0: libslice's default */
	uint64_t    dirty_max;      /* write-behind bytes per open file; 0: libslice's default */
	uint32_t    conns;          /* NFS connections per manager; default 4 */
};
void slice_vol_config_default(struct slice_vol_config *cfg);

/* The caller's identity, sent as AUTH_SYS with every name-space call. */
struct slice_cred {
	uint32_t uid, gid, ngids;
	uint32_t gids[16];
};

#define SLICE_VOL_FH_MAX 64u
struct slice_vfh {
	uint32_t len;
	uint8_t  b[SLICE_VOL_FH_MAX];
};

/* fattr3, in local terms. */
struct slice_attr {
	uint32_t type;              /* S_IFREG, S_IFDIR, S_IFLNK, S_IFCHR ... (the S_IFMT bits) */
	uint32_t mode;              /* permission bits (07777) */
	uint32_t nlink, uid, gid;
	uint64_t size, used;
	uint64_t rdev;              /* makedev(major, minor) */
	uint64_t fileid;            /* unique in the volume: a good inode number */
	struct timespec atime, mtime, ctime;
};

/* SETATTR: what to change (SLICE_SET_*) and to what. */
#define SLICE_SET_MODE      0x01u
#define SLICE_SET_UID       0x02u
#define SLICE_SET_GID       0x04u
#define SLICE_SET_SIZE      0x08u
#define SLICE_SET_ATIME     0x10u
#define SLICE_SET_MTIME     0x20u
#define SLICE_SET_ATIME_NOW 0x40u
#define SLICE_SET_MTIME_NOW 0x80u
struct slice_sattr {
	uint32_t valid;
	uint32_t mode, uid, gid;
	uint64_t size;
	struct timespec atime, mtime;
};

struct slice_statfs {
	uint64_t tbytes, fbytes, abytes;   /* total, free, available to the caller */
	uint64_t tfiles, ffiles, afiles;
	uint32_t namemax, bsize;
};

struct slice_vol;
int  slice_vol_open(const struct slice_vol_config *cfg, struct slice_vol **out);
void slice_vol_close(struct slice_vol *v);
const struct slice_cluster *slice_vol_cluster(const struct slice_vol *v);
uint32_t slice_vol_node(const struct slice_vol *v);   /* the Trapeze node id it took */

/* The volume's root (MOUNT on manager 0), with its attributes. */
int slice_vol_root(struct slice_vol *v, struct slice_vfh *fh, struct slice_attr *attr);

/* ---- name space (one NFSv3 call each, to the manager that serves it) ------- */

int slice_vol_getattr(struct slice_vol *v, const struct slice_cred *cr, const struct slice_vfh *fh,
		      struct slice_attr *attr);
/* attr (may be NULL) gets the attributes after the change. */
int slice_vol_setattr(struct slice_vol *v, const struct slice_cred *cr, const struct slice_vfh *fh,
		      const struct slice_sattr *s, struct slice_attr *attr);
int slice_vol_lookup(struct slice_vol *v, const struct slice_cred *cr, const struct slice_vfh *dir,
		     const char *name, struct slice_vfh *fh, struct slice_attr *attr);
/* ACCESS: *granted gets the subset of want (R_OK | W_OK | X_OK) allowed. */
int slice_vol_access(struct slice_vol *v, const struct slice_cred *cr, const struct slice_vfh *fh,
		     uint32_t want, uint32_t *granted);
/* excl: fail with -EEXIST if the name exists (GUARDED). */
int slice_vol_create(struct slice_vol *v, const struct slice_cred *cr, const struct slice_vfh *dir,
		     const char *name, uint32_t mode, bool excl, struct slice_vfh *fh, struct slice_attr *attr);
int slice_vol_mkdir(struct slice_vol *v, const struct slice_cred *cr, const struct slice_vfh *dir,
		    const char *name, uint32_t mode, struct slice_vfh *fh, struct slice_attr *attr);
int slice_vol_symlink(struct slice_vol *v, const struct slice_cred *cr, const struct slice_vfh *dir,
		      const char *name, const char *target, struct slice_vfh *fh, struct slice_attr *attr);
/* type: S_IFCHR, S_IFBLK, S_IFIFO or S_IFSOCK. */
int slice_vol_mknod(struct slice_vol *v, const struct slice_cred *cr, const struct slice_vfh *dir,
		    const char *name, uint32_t type, uint32_t mode, uint64_t rdev, struct slice_vfh *fh,
		    struct slice_attr *attr);
/* Returns the target's length (NUL-terminated in buf, truncated to cap). */
int slice_vol_readlink(struct slice_vol *v, const struct slice_cred *cr, const struct slice_vfh *fh,
		       char *buf, size_t cap);
int slice_vol_remove(struct slice_vol *v, const struct slice_cred *cr, const struct slice_vfh *dir,
		     const char *name);
int slice_vol_rmdir(struct slice_vol *v, const struct slice_cred *cr, const struct slice_vfh *dir,
		    const char *name);
int slice_vol_rename(struct slice_vol *v, const struct slice_cred *cr, const struct slice_vfh *from,
		     const char *fname, const struct slice_vfh *to, const char *tname);
int slice_vol_link(struct slice_vol *v, const struct slice_cred *cr, const struct slice_vfh *fh,
		   const struct slice_vfh *dir, const char *name, struct slice_attr *attr);

/* READDIRPLUS from cookie (0: the start; "." and ".." included).  fn is
 * called per entry (fh and attr NULL when the manager sent none) and stops
 * the listing by returning non-zero; *eof says whether the end was reached.
 * The cookie passed to fn resumes after that entry. */
typedef int (*slice_dirent_fn)(void *arg, const char *name, uint64_t fileid, uint64_t cookie,
			       const struct slice_vfh *fh, const struct slice_attr *attr);
int slice_vol_readdir(struct slice_vol *v, const struct slice_cred *cr, const struct slice_vfh *dir,
		      uint64_t cookie, slice_dirent_fn fn, void *arg, bool *eof);

int slice_vol_statfs(struct slice_vol *v, const struct slice_cred *cr, const struct slice_vfh *fh,
		     struct slice_statfs *out);

/* ---- data (to the block servers directly) --------------------------------- */

/*
 * An open regular file.  Open fetches the file's attributes and block map
 * (close-to-open: what other clients closed is visible).  A slice_vfile
 * may be used by several threads (calls on one file are serialised
 * inside); reads see this client's writes.  The size this client knows is
 * max(the manager's, the end of its own writes, its own truncates).
 */
struct slice_vfile;
int     slice_vol_fopen(struct slice_vol *v, const struct slice_cred *cr, const struct slice_vfh *fh,
			struct slice_vfile **out);
/* The same, with the attributes the caller has just had from the manager
 * for fh (CREATE's or GETATTR's answer): one GETATTR fewer.  -ESTALE if
 * they are not fh's file's. */
int     slice_vol_fopen_attr(struct slice_vol *v, const struct slice_cred *cr, const struct slice_vfh *fh,
			     const struct slice_attr *attr, struct slice_vfile **out);
/* Up to len bytes at off, bounded by the size: returns the count (0 at
 * and past the end) or -errno.  Holes read as zeros. */
ssize_t slice_vol_read(struct slice_vfile *f, void *buf, size_t len, uint64_t off);
/* Write-behind; returns len or -errno (an earlier write-behind error
 * comes back here, or at flush/fsync/close, once). */
ssize_t slice_vol_write(struct slice_vfile *f, const void *buf, size_t len, uint64_t off);
/* The size as this client knows it (see above). */
uint64_t slice_vol_fsize(struct slice_vfile *f);
/* Truncate (or extend with a hole): block servers and manager both. */
int     slice_vol_ftruncate(struct slice_vfile *f, uint64_t size);
/* Writes acknowledged by the block servers, size and mtime reported. */
int     slice_vol_flush(struct slice_vfile *f);
/* flush, then commit on the block servers (stable storage). */
int     slice_vol_fsync(struct slice_vfile *f);
/* fsync, then free; returns fsync's result. */
int     slice_vol_fclose(struct slice_vfile *f);
/* flush, then free, without a commit (close(2) without fsync(2)): the
 * data is acknowledged by the block servers - in their page cache, which
 * a crash of the server process does not lose, a power cut may - and the
 * size reported.  attr (may be NULL): the attributes as this client last
 * had them from the manager (size and mtime of the report).  Returns
 * flush's result. */
int     slice_vol_frelease(struct slice_vfile *f, struct slice_attr *attr);

/* ---- the stateless side, for the NFS proxy ------------------------------- */

/*
 * READ, WRITE and COMMIT by file handle, without an open: the volume keeps
 * a bounded cache of open files (least recently used closed first, after
 * their data is committed).  write returns how many bytes and whether they
 * are already stable; commit makes a file's earlier writes stable.  The
 * verifier changes when data that was not yet committed may have been lost
 * (NFSv3's write verifier).
 */
ssize_t slice_vol_pread(struct slice_vol *v, const struct slice_cred *cr, const struct slice_vfh *fh,
			void *buf, size_t len, uint64_t off, bool *eof, struct slice_attr *attr);
ssize_t slice_vol_pwrite(struct slice_vol *v, const struct slice_cred *cr, const struct slice_vfh *fh,
			 const void *buf, size_t len, uint64_t off, bool stable, struct slice_attr *attr);
int     slice_vol_commit(struct slice_vol *v, const struct slice_cred *cr, const struct slice_vfh *fh,
			 struct slice_attr *attr);
uint64_t slice_vol_write_verifier(const struct slice_vol *v);
/* Close-to-open for the proxy's clients, whose GETATTR at open reaches the
 * manager through the proxy: slice_vol_stale says (without waiting)
 * whether the manager's attributes mgr show a change this volume did not
 * make to a file its stateless side has open (size, mtime); slice_vol_drop
 * then closes that file (committing, reporting) unless a call is using it,
 * so that the next READ or WRITE opens it anew. */
bool     slice_vol_stale(struct slice_vol *v, const struct slice_vfh *fh, const struct slice_attr *mgr);
int      slice_vol_drop(struct slice_vol *v, const struct slice_vfh *fh);

/* NFSv3 status (nfsstat3) to -errno, and back. */
int      slice_nfs3_errno(uint32_t nfsstat3);
uint32_t slice_errno_nfs3(int neg_errno);

#ifdef __cplusplus
}
#endif
#endif
