/*
 * store_file.c - the file backing's store_ops: the calls that do not move
 * data (sync, remove, stat, statfs, counters), opening and closing the
 * store.  The layout is described in store_file.h.
 *
 * Why two files per object and not one: the object's bytes stay a plain
 * sparse file at their own offsets (holes cost nothing, reads and writes
 * go straight to and from the payload frames with preadv/pwritev, the
 * file's length is the object's size), and the checksums (0.2 % of the
 * data) live beside it where a partial block can be rewritten without
 * touching the data layout.  Objects are spread over 256 subdirectories so
 * no directory grows past a few thousand entries per million objects.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "blockd_log.h"
#include "store_file.h"

static int fs_sync(struct store *s, uint64_t obj, uint64_t *size)
{
	struct fstore *fs = FSTORE(s);
	struct fobj *o;
	int rc = fobj_get(fs, obj, false, &o);

	*size = 0;
	if (rc == -ENOENT)
		return 0;   /* nothing was ever written: nothing to lose */
	if (rc < 0)
		return rc;
	rc = fobj_sync(fs, o);
	*size = atomic_load(&o->size);
	fobj_put(fs, o);
	return rc;
}

static int fs_remove(struct store *s, uint64_t obj)
{
	struct fstore *fs = FSTORE(s);
	char path[64];
	int rc = 0;

	/* Out of the table first so nobody finds it again. */
	struct fobj *o = fobj_forget(fs, obj);
	if (o)
		fobj_close(fs, o, false);

	/* Data first: an object is its .dat file, and a crash between the two
	 * unlinks leaves an orphan sidecar that the next open trims. */
	fstore_path(path, sizeof(path), obj, "dat");
	if (unlinkat(fs->objdir, path, 0) == 0)
		atomic_fetch_sub(&fs->objects, 1);
	else if (errno != ENOENT)
		return -errno;
	fstore_path(path, sizeof(path), obj, "crc");
	if (unlinkat(fs->objdir, path, 0) < 0 && errno != ENOENT)
		rc = -errno;
	pthread_mutex_lock(&fs->dir_lock);
	fs->dir_dirty[fstore_subdir(obj)] = true;
	pthread_mutex_unlock(&fs->dir_lock);
	int src = fstore_sync_dir(fs, fstore_subdir(obj));
	return rc ? rc : src;
}

static int fs_stat(struct store *s, uint64_t obj, struct store_stat *out)
{
	struct fstore *fs = FSTORE(s);
	struct stat d, c;
	struct fobj *o;
	int rc = fobj_get(fs, obj, false, &o);

	if (rc < 0)
		return rc;
	if (fstat(o->dat, &d) < 0 || fstat(o->crc, &c) < 0) {
		rc = -errno;
	} else {
		out->size = atomic_load(&o->size);
		out->allocated = ((uint64_t)d.st_blocks + (uint64_t)c.st_blocks) * 512;
		out->mtime_ns = (uint64_t)d.st_mtim.tv_sec * 1000000000ull + (uint64_t)d.st_mtim.tv_nsec;
	}
	fobj_put(fs, o);
	return rc;
}

static int fs_size(struct store *s, uint64_t obj, uint64_t *size)
{
	struct fstore *fs = FSTORE(s);
	struct fobj *o;
	int rc = fobj_get(fs, obj, false, &o);

	*size = 0;
	if (rc == -ENOENT)
		return 0;
	if (rc < 0)
		return rc;
	*size = atomic_load(&o->size);
	fobj_put(fs, o);
	return 0;
}

static int fs_peek_size(struct store *s, uint64_t obj, uint64_t *size)
{
	return fobj_peek_size(FSTORE(s), obj, size);
}

static int fs_statfs(struct store *s, struct store_fs *out)
{
	struct fstore *fs = FSTORE(s);
	struct statvfs v;

	if (fstatvfs(fs->objdir, &v) < 0)
		return -errno;
	out->total_bytes = (uint64_t)v.f_blocks * v.f_frsize;
	out->free_bytes = (uint64_t)v.f_bavail * v.f_frsize;
	out->objects = atomic_load(&fs->objects);
	return 0;
}

static void fs_counters(struct store *s, struct store_counters *c)
{
	struct fstore *fs = FSTORE(s);

	c->crc_errors = atomic_load(&fs->crc_errors);
	c->sync_errors = atomic_load(&fs->sync_errors);
	pthread_mutex_lock(&fs->lock);
	c->objects_open = fs->nopen;
	pthread_mutex_unlock(&fs->lock);
}

static int fs_close(struct store *s)
{
	struct fstore *fs = FSTORE(s);
	int rc = 0;

	for (uint32_t h = 0; h <= fs->tabmask; h++) {
		while (fs->tab[h]) {
			struct fobj *o = fs->tab[h];
			fs->tab[h] = o->hnext;
			if (atomic_load(&o->dirty) && fobj_sync(fs, o) < 0)
				rc = -EIO;
			fobj_close(fs, o, false);
		}
	}
	for (unsigned i = 0; i < FSTORE_SUBDIRS; i++)
		if (fstore_sync_dir(fs, i) < 0)
			rc = -EIO;
	free(fs->tab);
	fstore_dir_close(fs);
	pthread_mutex_destroy(&fs->lock);
	pthread_mutex_destroy(&fs->dir_lock);
	free(fs->dir);
	free(fs);
	return rc;
}

static const struct store_ops file_ops = {
	.name = "file",
	.read = fs_read,
	.size = fs_size,
	.write = fs_write,
	.sync = fs_sync,
	.truncate = fs_truncate,
	.remove = fs_remove,
	.stat = fs_stat,
	.peek_size = fs_peek_size,
	.statfs = fs_statfs,
	.counters = fs_counters,
	.close = fs_close,
};

int store_file_open(const char *dir, const struct store_params *p, struct store **out)
{
	struct fstore *fs = calloc(1, sizeof(*fs));
	int rc;

	if (!fs)
		return -ENOMEM;
	fs->base.ops = &file_ops;
	fs->p = *p;
	if (fs->p.max_open < 4)
		fs->p.max_open = 4;
	fs->dirfd = fs->objdir = fs->lockfd = -1;
	pthread_mutex_init(&fs->lock, NULL);
	pthread_mutex_init(&fs->dir_lock, NULL);
	fs->tabmask = 1;
	while (fs->tabmask + 1 < fs->p.max_open * 2)
		fs->tabmask = fs->tabmask * 2 + 1;
	fs->tab = calloc(fs->tabmask + 1, sizeof(*fs->tab));
	fs->dir = strdup(dir);
	if (!fs->tab || !fs->dir) {
		rc = -ENOMEM;
		goto err;
	}
	if ((rc = fstore_dir_open(fs, dir)) < 0)
		goto err;
	*out = &fs->base;
	return 0;

err:
	fstore_dir_close(fs);
	free(fs->tab);
	free(fs->dir);
	pthread_mutex_destroy(&fs->lock);
	pthread_mutex_destroy(&fs->dir_lock);
	free(fs);
	return rc;
}
