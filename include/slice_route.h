/*
 * slice_route.h - which file manager serves which NFS request: the
 * name-space half of the µproxy's routing, in libslice, so that the NFS
 * proxy, the FUSE client, tests and the file managers themselves all
 * decide alike.
 *
 * A volume's name space is partitioned over N file managers (N fixed when
 * the volume is made, 1..SLICE_MANAGERS_MAX):
 *   - a name (directory D, name) lives on the manager chosen by a hash of
 *     D's file id and the name - unless D is a "local" directory (mkdir
 *     switching), whose names all live with D itself;
 *   - a file's attributes live with the name that made it, and its file
 *     handle names that manager (and its file id carries it too);
 *   - a directory listing is served by the directory's manager, which
 *     gathers the names from every manager; its cookies say which manager
 *     to resume on.
 *
 * File handles (28 bytes, made and checked by slice-fmd) have a public
 * layout so that routing needs no key: see SLICE_FH_*.  Their MAC is the
 * file manager's to check.
 */
#ifndef SLICE_ROUTE_H
#define SLICE_ROUTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SLICE_MANAGERS_MAX 64u

/* ---- file handles ----------------------------------------------------------- */

#define SLICE_FH_SIZE     28u
#define SLICE_FH_MAGIC    0x53u    /* 'S' */
#define SLICE_FH_VERSION  1u
#define SLICE_FH_F_LOCAL  0x1u     /* a directory whose names all live on its manager */

struct slice_fh_info {
	uint32_t manager;    /* the manager that holds the file's attributes */
	uint32_t volid;
	uint64_t fileid;     /* its top byte is the manager too */
	uint32_t gen;
	uint8_t  flags;      /* SLICE_FH_F_* */
};

/* The fields of a handle (its structure only: 0 or -EINVAL). */
int slice_fh_parse(const void *fh, size_t len, struct slice_fh_info *out);

/* The manager a file id was made on. */
static inline uint32_t slice_fileid_manager(uint64_t fileid)
{
	return (uint32_t)(fileid >> 56);
}

/* ---- names ------------------------------------------------------------------ */

/* The manager that holds name in directory dir_fileid, for a spread
 * directory on a volume of n managers. */
uint32_t slice_route_name(uint64_t dir_fileid, const char *name, size_t len, uint32_t n);
/* The same for a directory given by its handle (a local directory's names
 * are on its own manager). */
uint32_t slice_route_entry(const struct slice_fh_info *dir, const char *name, size_t len, uint32_t n);

/*
 * mkdir switching: where MKDIR (dir, name) puts the new directory.  With
 * probability permille/1000 (decided by a hash, so every router decides
 * alike) it goes to another manager than the one the name is on; else it
 * stays with its name.  Returns the manager.
 */
uint32_t slice_route_mkdir(uint64_t dir_fileid, const char *name, size_t len, uint32_t entry_manager,
			   uint32_t permille, uint32_t n);

/* ---- listing cookies ------------------------------------------------------------ */

/* A cookie: the manager in the top byte, that manager's position below.
 * 0 starts a listing; 1 and 2 are "." and "..". */
#define SLICE_COOKIE_SHIFT 56
static inline uint64_t slice_cookie(uint32_t manager, uint64_t pos)
{
	return (uint64_t)manager << SLICE_COOKIE_SHIFT | (pos & ((1ull << SLICE_COOKIE_SHIFT) - 1));
}
static inline uint32_t slice_cookie_manager(uint64_t cookie)
{
	return (uint32_t)(cookie >> SLICE_COOKIE_SHIFT);
}
static inline uint64_t slice_cookie_pos(uint64_t cookie)
{
	return cookie & ((1ull << SLICE_COOKIE_SHIFT) - 1);
}

/* ---- NFS requests ----------------------------------------------------------------- */

/*
 * The manager that should serve NFSv3 procedure proc with these XDR
 * arguments, on a volume of n managers: the handle's manager for GETATTR,
 * SETATTR, ACCESS, READLINK, READ, WRITE, COMMIT, FS*, READDIR[PLUS]; the
 * name's manager for LOOKUP, CREATE, MKDIR, SYMLINK, MKNOD, REMOVE, RMDIR,
 * RENAME (the source name: it coordinates) and LINK (the new name).
 * Returns the manager, or -EINVAL when the arguments do not decode or name
 * no manager of ours (any manager may then answer the error).
 */
int slice_route_nfs3(uint32_t proc, const void *args, size_t len, uint32_t n);

#ifdef __cplusplus
}
#endif
#endif
