/*
 * slicefs.h - what the files of slicefs share.  slicefs mounts a Slice
 * volume with the FUSE low-level API: every kernel request becomes one or
 * a few slice_vol calls (include/slice_vol.h), name space to the file
 * managers, data straight to the block servers.
 *
 *   main.c      command line, daemon, session and signals
 *   inode.c     the inode table: FUSE inode -> volume handle, lookup counts,
 *               the shared open file of an inode
 *   attr.c      slice_attr -> struct stat, credentials, entry replies
 *   ops_name.c  lookup, getattr, setattr, the name-space operations, statfs
 *   ops_file.c  open, create, read, write, flush, fsync, release
 *   ops_dir.c   opendir, readdir, readdirplus, releasedir
 *   log.c       messages: stderr, or syslog once the daemon runs
 *
 * Inode numbers are the volume's file ids (unique in a volume), except
 * that the root is FUSE_ROOT_ID: the root's file id and 1 trade places.
 */
#ifndef SLICEFS_H
#define SLICEFS_H

#define FUSE_USE_VERSION 35
#include <fuse_lowlevel.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "slice_vol.h"

/* One inode the kernel knows (nlookup > 0) or that is open (opens > 0). */
struct sfs_inode {
	uint64_t ino;                  /* FUSE inode number (mapped file id) */
	struct slice_vfh fh;
	uint64_t nlookup;              /* under the table lock */
	unsigned pins;                 /* short holds (sfs_open_size), under the table lock */
	struct sfs_inode *next;        /* hash chain, under the table lock */

	/* Open state, under olock.  All opens of an inode share one
	 * slice_vfile: reads through one descriptor see writes made
	 * through another, and a truncate by path reaches the data this
	 * mount still holds behind. */
	pthread_mutex_t olock;
	struct slice_vfile *vf;
	unsigned opens;                /* changed under olock and the table lock */
	bool written;                  /* since the vfile was opened */
	bool seen;                     /* mtime/size of the last open are known */
	struct timespec seen_mtime;
	uint64_t seen_size;
	/* Unlinked while open here (as NFS clients do): renamed to this
	 * name in dir, removed at the last release. */
	bool silly;
	struct slice_vfh silly_dir;
	char silly_name[40];
	struct slice_cred silly_cred;
};

struct sfs {
	struct slice_vol *vol;
	struct fuse_session *se;
	double attr_timeout, entry_timeout;
	uint64_t root_fileid;
	struct slice_vfh root_fh;
	uint32_t stripe_unit;
	bool debug;

	pthread_mutex_t lock;          /* the table */
	struct sfs_inode **buckets;
	size_t nbuckets, count;
	unsigned nopen;                /* inodes with opens > 0 (a hint, under lock) */
	uint64_t closes;               /* vfiles closed so far (atomic): see attr.c */
};

/* inode.c */
int  sfs_table_init(struct sfs *s);
void sfs_table_free(struct sfs *s);
uint64_t sfs_ino_of(const struct sfs *s, uint64_t fileid);
/* The inode of ino (NULL: unknown, a forged or forgotten number).  The
 * kernel holds a reference while a request on it runs, so the pointer
 * stays valid for the request. */
struct sfs_inode *sfs_inode_get(struct sfs *s, uint64_t ino);
int  sfs_fh(struct sfs *s, uint64_t ino, struct slice_vfh *fh);
/* A lookup reply: find or add the inode of attr->fileid, count one lookup. */
struct sfs_inode *sfs_remember(struct sfs *s, const struct slice_vfh *fh, const struct slice_attr *attr);
void sfs_forget(struct sfs *s, uint64_t ino, uint64_t n);
/* Open state: the first open takes an inode reference (it is not freed
 * while open) and opens the vfile, with the attributes a the caller just
 * had from the manager (no GETATTR of its own). */
int  sfs_open_ref(struct sfs *s, struct sfs_inode *in, const struct slice_cred *cr,
		  const struct slice_attr *a);
int  sfs_open_unref(struct sfs *s, struct sfs_inode *in);
/* Close every open vfile (unmount). */
void sfs_close_all(struct sfs *s);
/* The size this mount knows for ino when it holds the file open. */
bool sfs_open_size(struct sfs *s, uint64_t ino, uint64_t *size);

/* attr.c */
void sfs_stat(const struct sfs *s, const struct slice_attr *a, struct stat *st);
void sfs_cred(fuse_req_t req, struct slice_cred *cr);
/* Fill e for a reply_entry after a lookup-like call and count the lookup. */
int  sfs_entry(struct sfs *s, const struct slice_vfh *fh, const struct slice_attr *a,
	       struct fuse_entry_param *e);
void sfs_reply_entry(fuse_req_t req, struct sfs *s, const struct slice_vfh *fh,
		     const struct slice_attr *a);
void sfs_reply_attr(fuse_req_t req, struct sfs *s, const struct slice_attr *a);
/* GETATTR and LOOKUP whose size is right for a file this mount writes. */
int  sfs_getattr(struct sfs *s, const struct slice_cred *cr, const struct slice_vfh *fh, struct slice_attr *a);
int  sfs_lookup(struct sfs *s, const struct slice_cred *cr, const struct slice_vfh *dir, const char *name,
		struct slice_vfh *fh, struct slice_attr *a);
static inline struct sfs *sfs_of(fuse_req_t req) { return fuse_req_userdata(req); }

/* ops_*.c: fill their part of the operations table. */
void sfs_ops_name(struct fuse_lowlevel_ops *op);
void sfs_ops_file(struct fuse_lowlevel_ops *op);
void sfs_ops_dir(struct fuse_lowlevel_ops *op);
/* ops_name.c: unlink that keeps a file open here alive (silly rename). */
int  sfs_unlink(struct sfs *s, const struct slice_cred *cr, const struct slice_vfh *dir,
		const char *name);

/* log.c: one line, no newline in fmt. */
void sfs_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void sfs_log_to_syslog(void);

#define sfs_dbg(s, ...) do { if ((s)->debug) fprintf(stderr, "slicefs: " __VA_ARGS__); } while (0)

#endif
