/*
 * store_file.h - the file backing's private parts, shared by its files:
 *
 *   store_file.c  the store_ops that move no data (sync, remove, stat,
 *                 statfs), opening and closing the store
 *   store_dir.c   the data directory: lock, format, layout, object count
 *   store_obj.c   the table of open objects, their files, durability
 *   store_crc.c   the checksum sidecar: entries, CRC32C, verification
 *   store_rw.c    read, write and truncate
 *
 * Layout of a data directory (see docs/blockd.md):
 *
 *   DIR/FORMAT                 "slice-blockd data directory", format, block size
 *   DIR/LOCK                   flock()ed by the running daemon; holds its pid
 *   DIR/objects/XX/ID.dat      the object's bytes, a sparse file (XX = the id's
 *                              low byte in hex, ID = the id in 16 hex digits)
 *   DIR/objects/XX/ID.crc      one 8-byte entry per STORE_BLOCK of ID.dat
 *
 * The .dat file's length is the object's size.  An entry is two CRC32C
 * values, little-endian: `crc` of the block's current bytes and `alt`, the
 * CRC of the bytes it replaced.  A block reads as good if its bytes match
 * either: entries are written before the data, so a process killed between
 * the two leaves a block that still reads as good (old bytes or new), never
 * one that reads as corrupt.  An all-zero entry means "never written": the
 * block must read as zeros (a hole).  Entries past the last block of the
 * .dat file are meaningless (a crash can leave them) and are cut off when
 * the object is opened.
 */
#ifndef BLOCKD_STORE_FILE_H
#define BLOCKD_STORE_FILE_H

#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "store.h"

#define FSTORE_FORMAT   1
#define FSTORE_SUBDIRS  256u

/* One open object.  refs, indexed and the list links are under the table
 * lock; the descriptors are fixed while the object is open. */
struct fobj {
	uint64_t          id;
	int               dat, crc;      /* file descriptors */
	_Atomic uint64_t  size;
	_Atomic bool      dirty;         /* written since its last sync */
	uint32_t          refs;
	bool              indexed;       /* in the table (else: removed or evicted) */
	struct fobj      *hnext;
	struct fobj      *lprev, *lnext; /* idle list (refs == 0), oldest first */
};

struct fstore {
	struct store        base;
	struct store_params p;
	char               *dir;
	int                 dirfd, objdir, lockfd;
	pthread_mutex_t     lock;            /* the table and the idle list */
	struct fobj       **tab;
	uint32_t            tabmask;
	struct fobj        *idle_head, *idle_tail;
	uint32_t            nopen;
	pthread_mutex_t     dir_lock;        /* directory fsyncs */
	bool                dir_dirty[FSTORE_SUBDIRS];   /* under dir_lock */
	_Atomic uint64_t    objects, crc_errors, sync_errors;
};

#define FSTORE(s) ((struct fstore *)(s))

/* Objects live in 256 subdirectories, by the id's low byte. */
static inline unsigned fstore_subdir(uint64_t id)
{
	return (unsigned)(id & 0xff);
}

/* "XX/ID.ext", relative to objects/. */
static inline void fstore_path(char *buf, size_t len, uint64_t id, const char *ext)
{
	snprintf(buf, len, "%02x/%016" PRIx64 ".%s", fstore_subdir(id), id, ext);
}

/* store_dir.c */
int  fstore_dir_open(struct fstore *fs, const char *dir);
void fstore_dir_close(struct fstore *fs);

/* store_obj.c */
/* A referenced open object.  -ENOENT if it does not exist and !create. */
int  fobj_get(struct fstore *fs, uint64_t id, bool create, struct fobj **out);
/* Only if it is open already (-EAGAIN otherwise): never touches the disk. */
int  fobj_get_open(struct fstore *fs, uint64_t id, struct fobj **out);
void fobj_put(struct fstore *fs, struct fobj *o);
/* Without closing anything over the limit (that may sync): for the
 * delivery path. */
void fobj_put_nowait(struct fstore *fs, struct fobj *o);
/* fdatasync the data and the checksums, and the directory if the object
 * is new.  A failure is logged, counted and reported to sync_failed. */
int  fobj_sync(struct fstore *fs, struct fobj *o);
/* Take an object out of the table (it is being removed).  Returned if it
 * was idle (the caller closes it), else NULL (its last user will). */
struct fobj *fobj_forget(struct fstore *fs, uint64_t id);
/* The size of an object in the table; -EAGAIN if it is not open. */
int  fobj_peek_size(struct fstore *fs, uint64_t id, uint64_t *size);
/* Close an object out of the table (sync: if it holds unsynced writes). */
void fobj_close(struct fstore *fs, struct fobj *o, bool sync);
/* fsync objects/XX if an object was created or removed in it since. */
int  fstore_sync_dir(struct fstore *fs, unsigned sub);
/* The store's log, with the object named the same way everywhere. */
#define FLOG(fs, lvl, ...) ((fs)->p.log ? (fs)->p.log((lvl), __VA_ARGS__) : (void)0)

/* store_crc.c */
struct crc_ent {
	uint32_t crc, alt;
};
_Static_assert(sizeof(struct crc_ent) == 8, "a checksum entry is 8 bytes on disk");

/* CRC32C (Castagnoli, as iSCSI) of one block: len bytes, zero-padded to
 * STORE_BLOCK. */
uint32_t crc_block(const void *buf, uint32_t len);
/* The CRC of a block of zeros: what a never-written entry stands for. */
uint32_t crc_zero(void);
/* Does a block whose bytes have CRC c pass entry e? */
bool crc_match(const struct crc_ent *e, uint32_t c);
/* The CRC a block with entry e has on disk now, assuming it passes. */
uint32_t crc_current(const struct crc_ent *e);
/* Entries of blocks first..first+n-1 (past the sidecar's end: zeros). */
int  crc_load(int fd, uint64_t first, uint32_t n, struct crc_ent *e, bool nowait);
int  crc_save(int fd, uint64_t first, uint32_t n, const struct crc_ent *e);
/* Keep only the entries of blocks below the one holding byte `size`. */
int  crc_trim(int fd, uint64_t size);

/* A read position in a scatter/gather list. */
struct iov_cursor {
	const struct iovec *iov;
	int                 n, i;
	size_t              off;
};
/* CRC32C of the next len bytes (a whole block), consumed. */
uint32_t crc_iov(struct iov_cursor *c, size_t len);
/* Copy the next len bytes to dst, consumed. */
void     iov_copy(struct iov_cursor *c, void *dst, size_t len);

/* store_rw.c */
int fs_read(struct store *s, uint64_t obj, uint64_t off, uint32_t len, void *buf, unsigned flags,
	    uint64_t *size, uint64_t *bad);
int fs_write(struct store *s, uint64_t obj, uint64_t off, const struct iovec *iov, int iovcnt,
	     uint64_t *size);
int fs_truncate(struct store *s, uint64_t obj, uint64_t size);

/* Full-length pread (short only at end of file): bytes read or -errno.
 * nowait: -EAGAIN rather than wait for the disk (RWF_NOWAIT). */
ssize_t pread_full(int fd, void *buf, size_t len, uint64_t off);
ssize_t pread_nowait(int fd, void *buf, size_t len, uint64_t off, bool nowait);

static inline uint64_t fstore_nblocks(uint64_t size)
{
	return (size + STORE_BLOCK - 1) / STORE_BLOCK;
}

#endif
