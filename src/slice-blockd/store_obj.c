/*
 * store_obj.c - the file backing's open objects: a hash table of them with
 * an LRU list of idle ones (past max_open the oldest idle object is closed,
 * synced first if it holds unsynced writes, so that a later sync failure
 * cannot go unnoticed), opening and creating an object's two files, and
 * making an object durable.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "blockd_log.h"
#include "store_file.h"

ssize_t pread_nowait(int fd, void *buf, size_t len, uint64_t off, bool nowait)
{
	size_t done = 0;

	while (done < len) {
		struct iovec v = { (uint8_t *)buf + done, len - done };
		ssize_t r = preadv2(fd, &v, 1, (off_t)(off + done), nowait ? RWF_NOWAIT : 0);
		if (r < 0 && errno == EINTR)
			continue;
		/* A file system without RWF_NOWAIT says EOPNOTSUPP: wait then. */
		if (r < 0 && nowait && (errno == EAGAIN || errno == EOPNOTSUPP))
			return -EAGAIN;
		if (r < 0)
			return -errno;
		if (r == 0)
			break;
		done += (size_t)r;
	}
	return (ssize_t)done;
}

ssize_t pread_full(int fd, void *buf, size_t len, uint64_t off)
{
	return pread_nowait(fd, buf, len, off, false);
}

/* ---- the table of open objects --------------------------------------------- */

static uint32_t hash_id(const struct fstore *fs, uint64_t id)
{
	id ^= id >> 33;
	id *= 0xff51afd7ed558ccdull;
	id ^= id >> 33;
	return (uint32_t)id & fs->tabmask;
}

static struct fobj *tab_find(struct fstore *fs, uint64_t id)
{
	for (struct fobj *o = fs->tab[hash_id(fs, id)]; o; o = o->hnext)
		if (o->id == id)
			return o;
	return NULL;
}

static void tab_unlink(struct fstore *fs, struct fobj *o)
{
	struct fobj **pp = &fs->tab[hash_id(fs, o->id)];

	while (*pp && *pp != o)
		pp = &(*pp)->hnext;
	if (*pp)
		*pp = o->hnext;
	o->indexed = false;
	fs->nopen--;
}

static void idle_remove(struct fstore *fs, struct fobj *o)
{
	if (o->lprev)
		o->lprev->lnext = o->lnext;
	else
		fs->idle_head = o->lnext;
	if (o->lnext)
		o->lnext->lprev = o->lprev;
	else
		fs->idle_tail = o->lprev;
	o->lprev = o->lnext = NULL;
}

static void idle_append(struct fstore *fs, struct fobj *o)
{
	o->lnext = NULL;
	o->lprev = fs->idle_tail;
	if (fs->idle_tail)
		fs->idle_tail->lnext = o;
	else
		fs->idle_head = o;
	fs->idle_tail = o;
}

void fobj_close(struct fstore *fs, struct fobj *o, bool sync)
{
	if (sync && atomic_load(&o->dirty))
		fobj_sync(fs, o);
	close(o->dat);
	close(o->crc);
	free(o);
}

/* Open an object's files; -ENOENT if it does not exist and !create. */
static int fobj_open(struct fstore *fs, uint64_t id, bool create, struct fobj **out)
{
	char path[64];
	struct stat st;
	bool created = false;
	int dat, crc, rc;

	fstore_path(path, sizeof(path), id, "dat");
	dat = openat(fs->objdir, path, O_RDWR | O_CLOEXEC);
	if (dat < 0 && errno == ENOENT && create) {
		dat = openat(fs->objdir, path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		created = dat >= 0;
		if (dat < 0 && errno == EEXIST)   /* not possible under the caller's lock, but cheap */
			dat = openat(fs->objdir, path, O_RDWR | O_CLOEXEC);
	}
	if (dat < 0)
		return -errno;
	/* The sidecar may be missing (a crash between the two creations):
	 * a missing sidecar says "nothing written", which is what it is. */
	fstore_path(path, sizeof(path), id, "crc");
	crc = openat(fs->objdir, path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (crc < 0) {
		rc = -errno;
		goto err;
	}
	if (fstat(dat, &st) < 0) {
		rc = -errno;
		goto err_crc;
	}
	struct stat cst;
	if (fstat(crc, &cst) == 0 &&
	    (uint64_t)cst.st_size > fstore_nblocks((uint64_t)st.st_size) * sizeof(struct crc_ent)) {
		FLOG(fs, BLOG_INFO, "object %016" PRIx64 ": dropping checksum entries past its end "
		     "(left by an interrupted write or truncate)", id);
		if ((rc = crc_trim(crc, (uint64_t)st.st_size)) < 0)
			goto err_crc;
	}
	struct fobj *o = calloc(1, sizeof(*o));
	if (!o) {
		rc = -ENOMEM;
		goto err_crc;
	}
	o->id = id;
	o->dat = dat;
	o->crc = crc;
	atomic_init(&o->size, (uint64_t)st.st_size);
	if (created) {
		atomic_fetch_add(&fs->objects, 1);
		pthread_mutex_lock(&fs->dir_lock);
		fs->dir_dirty[fstore_subdir(id)] = true;
		pthread_mutex_unlock(&fs->dir_lock);
		atomic_store(&o->dirty, true);
	}
	*out = o;
	return 0;

err_crc:
	close(crc);
err:
	close(dat);
	if (created) {   /* do not leave a half-made object behind */
		fstore_path(path, sizeof(path), id, "dat");
		unlinkat(fs->objdir, path, 0);
	}
	return rc;
}

int fobj_get(struct fstore *fs, uint64_t id, bool create, struct fobj **out)
{
	struct fobj *o, *mine = NULL;
	int rc;

	pthread_mutex_lock(&fs->lock);
	o = tab_find(fs, id);
	if (o) {
		if (o->refs++ == 0)
			idle_remove(fs, o);
		pthread_mutex_unlock(&fs->lock);
		*out = o;
		return 0;
	}
	pthread_mutex_unlock(&fs->lock);

	/* Open outside the lock: it may wait for the disk. */
	if ((rc = fobj_open(fs, id, create, &mine)) < 0)
		return rc;
	pthread_mutex_lock(&fs->lock);
	o = tab_find(fs, id);
	if (o) {   /* someone else opened it meanwhile (a reader beside us) */
		if (o->refs++ == 0)
			idle_remove(fs, o);
		pthread_mutex_unlock(&fs->lock);
		fobj_close(fs, mine, false);
		*out = o;
		return 0;
	}
	uint32_t h = hash_id(fs, id);
	mine->hnext = fs->tab[h];
	fs->tab[h] = mine;
	mine->indexed = true;
	mine->refs = 1;
	fs->nopen++;
	pthread_mutex_unlock(&fs->lock);
	*out = mine;
	return 0;
}

int fobj_get_open(struct fstore *fs, uint64_t id, struct fobj **out)
{
	pthread_mutex_lock(&fs->lock);
	struct fobj *o = tab_find(fs, id);
	if (o && o->refs++ == 0)
		idle_remove(fs, o);
	pthread_mutex_unlock(&fs->lock);
	*out = o;
	return o ? 0 : -EAGAIN;
}

void fobj_put_nowait(struct fstore *fs, struct fobj *o)
{
	bool gone = false;

	pthread_mutex_lock(&fs->lock);
	if (--o->refs == 0) {
		if (o->indexed)
			idle_append(fs, o);
		else
			gone = true;   /* removed meanwhile: not under a caller's lock */
	}
	pthread_mutex_unlock(&fs->lock);
	if (gone)
		fobj_close(fs, o, false);   /* two close(2)s, no sync */
}

struct fobj *fobj_forget(struct fstore *fs, uint64_t id)
{
	pthread_mutex_lock(&fs->lock);
	struct fobj *o = tab_find(fs, id);
	if (o) {
		if (o->refs == 0)
			idle_remove(fs, o);
		tab_unlink(fs, o);
		if (o->refs)
			o = NULL;   /* its last user closes it (fobj_put) */
	}
	pthread_mutex_unlock(&fs->lock);
	return o;
}

int fobj_peek_size(struct fstore *fs, uint64_t id, uint64_t *size)
{
	int rc = -EAGAIN;

	pthread_mutex_lock(&fs->lock);
	struct fobj *o = tab_find(fs, id);
	if (o) {
		*size = atomic_load(&o->size);
		rc = 0;
	}
	pthread_mutex_unlock(&fs->lock);
	return rc;
}

void fobj_put(struct fstore *fs, struct fobj *o)
{
	struct fobj *victims = NULL;

	pthread_mutex_lock(&fs->lock);
	if (--o->refs > 0) {
		pthread_mutex_unlock(&fs->lock);
		return;
	}
	if (!o->indexed) {   /* removed while we used it */
		pthread_mutex_unlock(&fs->lock);
		fobj_close(fs, o, false);
		return;
	}
	idle_append(fs, o);
	/* Over the limit: close the oldest idle objects (after the lock). */
	while (fs->nopen > fs->p.max_open && fs->idle_head) {
		struct fobj *v = fs->idle_head;
		idle_remove(fs, v);
		tab_unlink(fs, v);
		v->hnext = victims;
		victims = v;
	}
	pthread_mutex_unlock(&fs->lock);
	while (victims) {
		struct fobj *v = victims;
		victims = v->hnext;
		fobj_close(fs, v, true);
	}
}

/* ---- durability ---------------------------------------------------------- */

int fstore_sync_dir(struct fstore *fs, unsigned sub)
{
	char name[8];
	int rc = 0;

	/* Under dir_lock: whoever finds the flag clear knows the fsync that
	 * cleared it has finished. */
	pthread_mutex_lock(&fs->dir_lock);
	if (fs->dir_dirty[sub]) {
		snprintf(name, sizeof(name), "%02x", sub);
		int fd = openat(fs->objdir, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0 || fsync(fd) < 0)
			rc = -errno;
		else
			fs->dir_dirty[sub] = false;
		if (fd >= 0)
			close(fd);
	}
	pthread_mutex_unlock(&fs->dir_lock);
	return rc;
}

int fobj_sync(struct fstore *fs, struct fobj *o)
{
	int rc = 0;

	atomic_store(&o->dirty, false);
	if (fdatasync(o->dat) < 0 || fdatasync(o->crc) < 0)
		rc = -errno;
	if (rc == 0)
		rc = fstore_sync_dir(fs, fstore_subdir(o->id));
	if (rc < 0) {
		atomic_store(&o->dirty, true);
		atomic_fetch_add(&fs->sync_errors, 1);
		FLOG(fs, BLOG_ERR, "object %016" PRIx64 ": sync failed: %s", o->id, strerror(-rc));
		if (fs->p.sync_failed)
			fs->p.sync_failed(fs->p.arg);
	}
	return rc;
}

