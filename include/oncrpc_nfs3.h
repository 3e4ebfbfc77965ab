/*
 * oncrpc_nfs3.h - decoders for the arguments of NFSv3 (RFC 1813) and
 * MOUNTv3 calls, into libnfs's generated structures (nfsc/libnfs-raw-*.h).
 *
 * Why not libnfs's own zdr_*args decoders: in Debian's libnfs 4.0 they
 * trust the lengths they read (a 0xfffffffc-byte opaque wraps the bounds
 * check, fixed-size opaques such as verifiers are read with no check at
 * all, declared maximums are ignored).  These decoders check every length
 * against the buffer and the protocol's maximum, copy nothing large, and
 * return -EBADMSG for what the server must answer with GARBAGE_ARGS.
 * Replies are encoded with libnfs's zdr_*res encoders, on data we built.
 *
 * Decoded file handles and WRITE data point into the buffer given (they
 * live as long as it does); names and symlink targets are copied,
 * NUL-terminated, into the args structure.  A name longer than
 * ORPC_NFS3_NAME_MAX is not garbage - the server owes NFS3ERR_NAMETOOLONG -
 * so it is flagged, as is a name with a NUL byte in it (it cannot name
 * anything).
 */
#ifndef ONCRPC_NFS3_H
#define ONCRPC_NFS3_H

#include <stddef.h>
#include <stdint.h>

#include <nfsc/libnfs-zdr.h>
#include <nfsc/libnfs-raw-nfs.h>
#include <nfsc/libnfs-raw-mount.h>

#ifdef __cplusplus
extern "C" {
#endif

#define ORPC_NFS3_NPROCS     22      /* NULL .. COMMIT */
#define ORPC_MNT3_NPROCS     6       /* NULL .. EXPORT */
#define ORPC_NFS3_NAME_MAX   255     /* bytes in one name */
#define ORPC_NFS3_PATH_MAX   4096    /* bytes in a symlink target */

#define ORPC_NFS3_F_NAMETOOLONG 0x1u /* a name or path over its maximum */
#define ORPC_NFS3_F_BADNAME     0x2u /* a name or path with a NUL byte */

union orpc_nfs3_argu {
	GETATTR3args     getattr;
	SETATTR3args     setattr;
	LOOKUP3args      lookup;
	ACCESS3args      access;
	READLINK3args    readlink;
	READ3args        read;
	WRITE3args       write;
	CREATE3args      create;
	MKDIR3args       mkdir;
	SYMLINK3args     symlink;
	MKNOD3args       mknod;
	REMOVE3args      remove;
	RMDIR3args       rmdir;
	RENAME3args      rename;
	LINK3args        link;
	READDIR3args     readdir;
	READDIRPLUS3args readdirplus;
	FSSTAT3args      fsstat;
	FSINFO3args      fsinfo;
	PATHCONF3args    pathconf;
	COMMIT3args      commit;
};

struct orpc_nfs3_args {
	union orpc_nfs3_argu u;
	uint32_t flags;                                  /* ORPC_NFS3_F_* */
	char     name[2][ORPC_NFS3_NAME_MAX + 1];        /* the names the args point at */
	char     path[ORPC_NFS3_PATH_MAX + 1];           /* SYMLINK's target */
};

/* Decode the arguments of NFSv3 procedure proc.  0, -EBADMSG (garbage),
 * -EINVAL (no such procedure).  NULL has no arguments. */
int orpc_nfs3_decode(uint32_t proc, const uint8_t *buf, size_t len, struct orpc_nfs3_args *a);

struct orpc_mnt3_args {
	uint32_t flags;                                  /* ORPC_NFS3_F_* */
	char     path[MNTPATHLEN + 1];                   /* MNT and UMNT */
};
int orpc_mnt3_decode(uint32_t proc, const uint8_t *buf, size_t len, struct orpc_mnt3_args *a);

#ifdef __cplusplus
}
#endif
#endif
