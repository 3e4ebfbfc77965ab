/*
 * dirs.c - directories on this manager or on another.
 *
 * With several managers a name (D, n) lives on the manager its hash
 * chooses, while D's attributes live on D's own manager.  A mutation in a
 * directory held elsewhere therefore works from D's attributes fetched
 * before it started (op->rdir, checked for permission and type), and
 * counts its effect on D in a partial record here (entries, subdirectories,
 * last change), which is told to D's manager after the commit (remote.c).
 * D's manager adds every manager's partial into D's size, link count and
 * times, so a client sees a directory that changes with each create and
 * remove wherever the name went.
 *
 * Locks: a name that an operation across managers is changing (xop.c) is
 * locked until the operation is decided and applied; others touching it
 * get NFS3ERR_JUKEBOX (try again).  A directory whose removal is being
 * decided is "dying": no names are made in it meanwhile.  The locks live
 * in memory and are rebuilt from the intention tables at start.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "nfs_op.h"
#include "slice_route.h"

bool op_is_ours(struct fmd *f, uint64_t fileid)
{
	return slice_fileid_manager(fileid) == f->cfg.index;
}

int op_dir(struct fmd_op *op, MDB_txn *t, const nfs_fh3 *h, struct inode *dir)
{
	struct fh fh;
	int st = fh_decode(h, &fh);
	if (st)
		return st;
	if (fh.manager == op->f->cfg.index)
		return op_inode(op, t, h, dir);
	if (fh.manager >= op->f->cfg.managers)
		return NFS3ERR_BADHANDLE;
	for (int i = 0; i < op->nrdir; i++) {
		if (op->rdir[i].fileid == fh.fileid) {
			if (op->rdir[i].gen != fh.gen)
				return NFS3ERR_STALE;
			*dir = op->rdir[i];
			return NFS3_OK;
		}
	}
	/* not fetched: the directory was gone when we asked */
	return NFS3ERR_STALE;
}

int dir_changed(struct fmd_op *op, MDB_txn *t, struct inode *dir, int entries, int subdirs, uint64_t now)
{
	struct fmd *f = op->f;
	if (!dir->x_remote) {
		dir->entries += (uint64_t)(int64_t)entries;
		dir->nlink += (uint32_t)subdirs;
		dir->mtime = dir->ctime = now;
		return ino_put(f->st, t, dir);
	}
	struct partial p;
	int rc = partial_get(f->st, t, dir->fileid, &p);
	if (rc)
		return rc;
	p.entries += (uint64_t)(int64_t)entries;
	p.subdirs += (uint32_t)subdirs;
	p.mtime = p.ctime = now;
	p.version = now;   /* strictly increasing in this process, and across restarts */
	if ((rc = partial_put(f->st, t, dir->fileid, &p)))
		return rc;
	/* the copy the reply shows is ours only in part: no attributes */
	bool listed = false;
	for (int i = 0; i < op->ntouch; i++)
		listed |= op->touch[i] == dir->fileid;
	if (!listed && op->ntouch < 2)
		op->touch[op->ntouch++] = dir->fileid;
	return 0;
}

/* ---- locks ----------------------------------------------------------------- */

#define LOCKS 256

struct lockent {
	uint64_t dir;
	char     name[ORPC_NFS3_NAME_MAX + 1];
	bool     dying;     /* a directory being removed (name empty) */
	struct lockent *next;
};

static pthread_mutex_t locks_mu = PTHREAD_MUTEX_INITIALIZER;
static struct lockent *locks[LOCKS];

static unsigned slot(uint64_t dir, const char *name)
{
	uint64_t h = dir * 0x9e3779b97f4a7c15ull;
	for (const char *p = name; *p; p++)
		h = (h ^ (uint8_t)*p) * 0x100000001b3ull;
	return (unsigned)(h % LOCKS);
}

static struct lockent **find(uint64_t dir, const char *name, bool dying)
{
	struct lockent **pp = &locks[slot(dir, name)];
	while (*pp && !((*pp)->dir == dir && (*pp)->dying == dying && !strcmp((*pp)->name, name)))
		pp = &(*pp)->next;
	return pp;
}

static void set(uint64_t dir, const char *name, bool dying, bool on)
{
	pthread_mutex_lock(&locks_mu);
	struct lockent **pp = find(dir, name, dying);
	if (on && !*pp) {
		struct lockent *e = calloc(1, sizeof(*e));
		if (e) {
			e->dir = dir;
			e->dying = dying;
			snprintf(e->name, sizeof(e->name), "%s", name);
			*pp = e;
		}
	} else if (!on && *pp) {
		struct lockent *e = *pp;
		*pp = e->next;
		free(e);
	}
	pthread_mutex_unlock(&locks_mu);
}

static bool is_set(uint64_t dir, const char *name, bool dying)
{
	pthread_mutex_lock(&locks_mu);
	bool on = *find(dir, name, dying) != NULL;
	pthread_mutex_unlock(&locks_mu);
	return on;
}

bool name_locked(struct fmd *f, uint64_t dir, const char *name) { return is_set(dir, name, false); }
void name_lock(struct fmd *f, uint64_t dir, const char *name) { set(dir, name, false, true); }
void name_unlock(struct fmd *f, uint64_t dir, const char *name) { set(dir, name, false, false); }
void dir_dying(struct fmd *f, uint64_t dir, bool on) { set(dir, "", true, on); }
bool is_dir_dying(struct fmd *f, uint64_t dir) { return is_set(dir, "", true); }

int dir_alive(struct fmd_op *op, MDB_txn *t, uint64_t dir)
{
	if (op->f->cfg.managers <= 1)
		return NFS3_OK;
	if (is_dir_dying(op->f, dir))
		return NFS3ERR_JUKEBOX;
	uint64_t when;
	int rc = rec_get(op->f->st, t, T_DEAD, dir, &when, sizeof(when));
	if (rc == 0)
		return NFS3ERR_STALE;   /* removed since its attributes were fetched */
	return rc == -ENOENT ? NFS3_OK : NFS3ERR_IO;
}
