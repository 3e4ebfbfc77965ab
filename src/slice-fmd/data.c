/*
 * data.c - the data path: file bytes to and from the block servers,
 * through libslice over the file manager's NetRPC (fabric.c).
 *
 * Open files: NFS has no open, but libslice's write-behind and
 * read-ahead live in a slice_file, so the file manager keeps a small cache
 * of open slice_files, by object id, least recently used closed first
 * (slice_close commits).  A slice_file is used by one thread at a time
 * (its mutex); the table has a lock of its own, taken first and never
 * while waiting on a file.
 *
 * Stability, as NFSv3 wants it: an UNSTABLE WRITE is written behind and
 * answered with the file manager's write verifier; COMMIT (and a stable
 * WRITE) runs slice_fsync.  If a block server restarted and lost unstable
 * data, slice_fsync says so; the file manager then changes its verifier,
 * so the COMMIT reply tells every client to write again what it has not
 * seen committed.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "data.h"
#include "fabric.h"

#define OPEN_FILES 64

struct ofile {
	uint64_t           obj;        /* 0: free */
	uint64_t           version;    /* of the map it holds */
	uint64_t           last_use;
	int                refs;       /* threads using it (under the table lock) */
	pthread_mutex_t    mu;         /* the slice_file's one user at a time */
	struct slice_file *sf;
};

struct fmd_data {
	struct fmd          *f;
	const char          *why;      /* non-NULL: no data path, and why */
	struct slice_client *c;
	pthread_mutex_t      mu;       /* the table */
	struct ofile         files[OPEN_FILES];
	uint64_t             clock;
};

static int connect_cb(void *arg, uint32_t node)
{
	return fabric_connect(arg, node);
}

int data_open(struct fmd *f, struct fmd_data **out)
{
	struct fmd_data *d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->f = f;
	pthread_mutex_init(&d->mu, NULL);
	for (int i = 0; i < OPEN_FILES; i++)
		pthread_mutex_init(&d->files[i].mu, NULL);
	*out = d;
	if (f->cfg.nblockd == 0) {
		d->why = "no block servers configured (--blockd)";
		return 0;
	}
	if (!f->fabric) {
		d->why = "not on a Trapeze fabric (--node)";
		return 0;
	}
	struct slice_client_config cc;
	slice_client_config_default(&cc);
	cc.dirty_max = 8u << 20;   /* per open file: at most OPEN_FILES of them */
	cc.connect = connect_cb;
	cc.connect_arg = f;
	int rc = slice_client_create(f->fabric->r, &cc, &d->c);
	if (rc < 0) {
		d->why = "the Slice client did not start";
		fmd_log(LOG_ERR, "slice client: %s", tpz_strerror(rc));
		return 0;
	}
	/* connect now when we can, so that the first READ does not wait; a
	 * server that is down is connected when first needed */
	for (uint32_t i = 0; i < f->cfg.nblockd; i++)
		if ((rc = fabric_connect(f, f->cfg.blockd[i].node)) < 0)
			fmd_log(LOG_WARNING, "block server %u at %s: %s (will retry)", f->cfg.blockd[i].node,
				f->cfg.blockd[i].url, tpz_strerror(rc));
	return 0;
}

static void new_verifier(struct fmd_data *d, const char *why)
{
	uint64_t old = atomic_load(&d->f->writeverf);
	atomic_store(&d->f->writeverf, old + 0x9e3779b97f4a7c15ull);
	fmd_log(LOG_WARNING, "%s: new write verifier (clients write their uncommitted data again)", why);
}

/* Close a slice_file (commits); a lost write turns into a new verifier. */
static void close_file(struct fmd_data *d, struct slice_file *sf)
{
	struct slice_counters a, b;
	slice_client_counters(d->c, &a);
	int rc = slice_close(sf);
	slice_client_counters(d->c, &b);
	if (rc < 0 || b.rewrites_needed != a.rewrites_needed)
		new_verifier(d, "closing a file failed to commit");
}

void data_close(struct fmd_data *d)
{
	if (!d)
		return;
	for (int i = 0; i < OPEN_FILES; i++) {
		if (d->files[i].sf)
			close_file(d, d->files[i].sf);
		pthread_mutex_destroy(&d->files[i].mu);
	}
	if (d->c)
		slice_client_destroy(d->c);
	pthread_mutex_destroy(&d->mu);
	free(d);
}

const char *data_unavailable(struct fmd_data *d)
{
	return d ? d->why : "no data path";
}

/* The open file for map's object, locked for the caller.  NULL: *err. */
static struct ofile *of_get(struct fmd_data *d, const struct slice_block_map *m, int *err)
{
	struct ofile *e = NULL, *victim = NULL;
	pthread_mutex_lock(&d->mu);
	for (int i = 0; i < OPEN_FILES; i++) {
		struct ofile *x = &d->files[i];
		if (x->obj == m->obj) {
			e = x;
			break;
		}
		if (x->refs == 0 && (!victim || x->last_use < victim->last_use))
			victim = x;
	}
	if (e) {
		e->refs++;
		pthread_mutex_unlock(&d->mu);
		pthread_mutex_lock(&e->mu);
		if (!e->sf) {   /* its opener failed */
			pthread_mutex_unlock(&e->mu);
			*err = -EIO;
			goto unref;
		}
		if (e->version != m->version) {
			if ((*err = slice_set_map(e->sf, m)) < 0) {
				pthread_mutex_unlock(&e->mu);
				goto unref;
			}
			e->version = m->version;
		}
		return e;
	}
	if (!victim) {   /* more threads than open files: cannot happen */
		pthread_mutex_unlock(&d->mu);
		*err = -EBUSY;
		return NULL;
	}
	/* take the victim over; whoever looks for the new object now waits on
	 * its mutex until it is open */
	e = victim;
	pthread_mutex_lock(&e->mu);
	struct slice_file *old = e->sf;
	e->sf = NULL;
	e->obj = m->obj;
	e->version = m->version;
	e->refs = 1;
	pthread_mutex_unlock(&d->mu);
	if (old)
		close_file(d, old);
	if ((*err = slice_open(d->c, m, &e->sf)) < 0) {
		e->sf = NULL;
		pthread_mutex_unlock(&e->mu);
		pthread_mutex_lock(&d->mu);
		e->obj = 0;
		pthread_mutex_unlock(&d->mu);
		goto unref;
	}
	return e;
unref:
	pthread_mutex_lock(&d->mu);
	e->refs--;
	pthread_mutex_unlock(&d->mu);
	return NULL;
}

static void of_put(struct fmd_data *d, struct ofile *e)
{
	pthread_mutex_unlock(&e->mu);
	pthread_mutex_lock(&d->mu);
	e->refs--;
	e->last_use = ++d->clock;
	pthread_mutex_unlock(&d->mu);
}

/* Close obj's open file, if there is one (before an object-wide
 * operation: its write-behind goes first, its read-ahead is dropped). */
static void of_drop(struct fmd_data *d, uint64_t obj)
{
	struct ofile *e = NULL;
	pthread_mutex_lock(&d->mu);
	for (int i = 0; i < OPEN_FILES && !e; i++)
		if (d->files[i].obj == obj)
			e = &d->files[i];
	if (!e) {
		pthread_mutex_unlock(&d->mu);
		return;
	}
	e->refs++;
	pthread_mutex_unlock(&d->mu);
	pthread_mutex_lock(&e->mu);
	struct slice_file *sf = e->sf;
	e->sf = NULL;
	pthread_mutex_lock(&d->mu);
	if (e->obj == obj)
		e->obj = 0;
	pthread_mutex_unlock(&d->mu);
	if (sf)
		close_file(d, sf);
	of_put(d, e);
}

ssize_t data_read(struct fmd_data *d, const struct slice_block_map *m, void *buf, size_t len,
		  uint64_t off)
{
	int err;
	if (d->why)
		return -EOPNOTSUPP;
	struct ofile *e = of_get(d, m, &err);
	if (!e)
		return err;
	ssize_t n = slice_read(e->sf, buf, len, off);
	of_put(d, e);
	return n;
}

ssize_t data_write(struct fmd_data *d, const struct slice_block_map *m, const void *buf, size_t len,
		   uint64_t off, bool stable)
{
	int err;
	if (d->why)
		return -EOPNOTSUPP;
	struct ofile *e = of_get(d, m, &err);
	if (!e)
		return err;
	ssize_t n = slice_write(e->sf, buf, len, off);
	if (n >= 0 && stable) {
		int rc = slice_fsync(e->sf);
		if (rc < 0)
			n = rc;
	}
	of_put(d, e);
	return n;
}

int data_commit(struct fmd_data *d, const struct slice_block_map *m)
{
	struct slice_counters a, b;
	int err;
	if (d->why)
		return -EOPNOTSUPP;
	struct ofile *e = of_get(d, m, &err);
	if (!e)
		return err;
	slice_client_counters(d->c, &a);
	int rc = slice_fsync(e->sf);
	slice_client_counters(d->c, &b);
	of_put(d, e);
	if (rc == -EIO && b.rewrites_needed != a.rewrites_needed) {
		new_verifier(d, "a block server lost unstable writes");
		return 0;   /* the new verifier in the reply asks for them again */
	}
	return rc;
}

int data_truncate(struct fmd_data *d, const struct slice_block_map *m, uint64_t size)
{
	if (d->why)
		return -EOPNOTSUPP;
	of_drop(d, m->obj);
	return slice_truncate(d->c, m, size);
}

int data_remove(struct fmd_data *d, const struct slice_block_map *m)
{
	if (d->why)
		return -EOPNOTSUPP;
	of_drop(d, m->obj);
	return m->layout.width ? slice_remove(d->c, m) : 0;
}
