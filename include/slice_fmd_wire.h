/*
 * slice_fmd_wire.h - what the file managers of one volume say to each
 * other: NetRPC operations (inline arguments and results at most
 * NRPC_INLINE_MAX = 64 bytes, little-endian, fixed layout; bigger things
 * as payloads).  See docs/file-manager.md, "Partitioning".
 *
 *   FMD_FORWARD  an NFS call that reached the wrong manager, passed to the
 *                right one, which answers with the encoded result
 *   FMD_GETATTR  a file's attributes from the manager that holds them
 *   FMD_TOUCH    "I hold this many names of your directory now": keeps a
 *                directory's size, link count and times right when its names
 *                change on other managers
 *   FMD_LIST     the names of a directory that one manager holds (READDIR)
 *   FMD_PREPARE  / FMD_DECIDE / FMD_QUERY: the two-phase commit of an
 *                operation that spans managers (rename, link, remove of a
 *                file held elsewhere, rmdir of a spread directory), with an
 *                intention log on both sides
 */
#ifndef SLICE_FMD_WIRE_H
#define SLICE_FMD_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "netrpc_wire.h"

enum fmd_peer_op {
	FMD_FORWARD = 0x0301,   /* req payload: fmd_fwd + NFS args; reply payload: NFS result body */
	FMD_GETATTR = 0x0302,   /* args fmd_file; res fmd_attr */
	FMD_TOUCH   = 0x0303,   /* args fmd_touch; res fmd_attr (the directory, all managers counted) */
	FMD_LIST    = 0x0304,   /* args fmd_list; res fmd_list_res; reply payload: fmd_lent records */
	FMD_PREPARE = 0x0305,   /* args fmd_intent; res fmd_vote */
	FMD_DECIDE  = 0x0306,   /* args fmd_decide; no results */
	FMD_QUERY   = 0x0307,   /* args fmd_decide (decision ignored); res fmd_decide: the decision */
};

/* Errors (NetRPC status): -ENOENT the file is gone (stale), -EBADMSG
 * malformed, -EAGAIN busy (a name locked by an operation under way: try
 * again), -ESHUTDOWN stopping, -EIO store error. */

#define FMD_FWD_MAX_GIDS 16

/* The head of an FMD_FORWARD payload; the procedure's XDR arguments
 * follow.  The credential travels as the client sent it (the target
 * squashes by its own export rules, which are the same), the address for
 * the export check and the duplicate request cache. */
struct fmd_fwd {
	uint32_t proc;
	uint32_t xid;
	uint32_t flavor, uid, gid, ngids;
	uint32_t gids[FMD_FWD_MAX_GIDS];
	uint8_t  addr[16];       /* IPv4 in the first 4 bytes, or IPv6 */
	uint32_t family;         /* AF_INET / AF_INET6 */
	uint32_t args_len;
};

struct fmd_fwd_res {
	int32_t  accept;         /* 0: the body is an NFS result; else an ONC RPC accept_stat */
	uint32_t body_len;
};

struct fmd_file {
	uint64_t fileid;
	uint32_t gen;            /* 0: any */
	uint32_t rsv;
};

/* A file's attributes.  For a directory, size is its number of names on
 * all managers and nlink counts its subdirectories on all managers. */
struct fmd_attr {
	uint64_t size;
	uint64_t mtime, ctime, atime;   /* ns */
	uint64_t parent;                /* directories */
	uint32_t mode, nlink, uid, gid;
	uint32_t gen;
	uint8_t  type, flags;
	uint16_t rsv;
};
_Static_assert(sizeof(struct fmd_attr) == 64, "fmd_attr is 64 bytes");

struct fmd_touch {
	uint64_t dir;
	uint64_t entries;        /* names of dir the sender holds */
	uint64_t mtime, ctime;   /* of its last change there */
	uint64_t version;        /* newer replaces older; older is ignored */
	uint32_t origin;         /* the sender's index */
	uint32_t subdirs;        /* directories among those names */
};
_Static_assert(sizeof(struct fmd_touch) <= NRPC_INLINE_MAX, "fits inline");

#define FMD_LIST_PLUS 0x1u       /* with the attributes of files held here */

struct fmd_list {
	uint64_t dir;
	uint64_t after;          /* position (cookie without the manager) */
	uint32_t max_bytes;      /* of the payload */
	uint32_t flags;
};

struct fmd_list_res {
	uint32_t count;
	uint32_t eof;            /* 1: nothing after the last one on this manager */
};

/* One name in an FMD_LIST payload: this, then namelen bytes of name,
 * padded to 8.  has_attr: attr is the file's (held on the listing
 * manager); else zero. */
struct fmd_lent {
	uint64_t fileid;
	uint64_t pos;
	uint32_t gen;
	uint8_t  type, namelen, has_attr, rsv;
	struct fmd_attr attr;
};

/* ---- two-phase commit ---------------------------------------------------- */

enum fmd_intent_kind {
	FMD_I_RENAME_DST = 1,    /* put a name at the destination (the source is the coordinator's) */
	FMD_I_LINK_INODE = 2,    /* one more link to a file held here */
	FMD_I_UNLINK_INODE = 3,  /* one link less to a file held here */
	FMD_I_RMDIR_CHECK = 4,   /* no names of this directory here; none until decided */
};

/* What a participant is asked to prepare.  name: the destination name of
 * a rename (NUL-padded). */
struct fmd_intent {
	uint64_t id;             /* coordinator's index << 56 | its sequence */
	uint64_t dir;            /* RENAME_DST: destination directory; RMDIR_CHECK: the directory */
	uint64_t fileid;         /* RENAME_DST: what the name will name; LINK/UNLINK: the file */
	uint32_t gen;
	uint8_t  kind, type, namelen, rsv;
	uint8_t  name[32];       /* RENAME_DST: short names inline ... */
};
_Static_assert(sizeof(struct fmd_intent) == NRPC_INLINE_MAX, "fmd_intent is 64 bytes");
/* ... a longer destination name comes as the request payload. */

struct fmd_vote {
	int32_t  nfs_status;     /* 0 yes; else the NFS status that refuses (EXIST, NOTEMPTY...) */
	uint32_t rsv;
	uint64_t replaced;       /* RENAME_DST: the file id the name named before, or 0 */
};

#define FMD_DECIDE_COMMIT 1u
#define FMD_DECIDE_ABORT  2u
#define FMD_DECIDE_UNKNOWN 3u    /* QUERY: the coordinator knows no such intent (it aborted) */

struct fmd_decide {
	uint64_t id;
	uint32_t decision;
	uint32_t rsv;
};

#endif
