/*
 * store_file.c - the file backing: the data directory, the table of open
 * objects, and the calls that do not move data (sync, remove, stat,
 * statfs).  The layout is described in store_file.h.
 *
 * Why two files per object and not one: the object's bytes stay a plain
 * sparse file at their own offsets (holes cost nothing, reads and writes
 * go straight to and from the payload frames with preadv/pwritev, the
 * file's length is the object's size), and the checksums (0.2 % of the
 * data) live beside it where a partial block can be rewritten without
 * touching the data layout.  Objects are spread over 256 subdirectories so
 * no directory grows past a few thousand entries per million objects.
 *
 * Open objects are kept in a hash table with an LRU list of idle ones;
 * past max_open the oldest idle object is closed (synced first if it holds
 * unsynced writes, so that a later sync failure cannot go unnoticed).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "blockd_log.h"
#include "store_file.h"

static const char format_text[] = "slice-blockd data directory\nformat 1\ncrc-block 4096\n";

static unsigned subdir_of(uint64_t id)
{
	return (unsigned)(id & 0xff);
}

static void obj_path(char *buf, size_t len, uint64_t id, const char *ext)
{
	snprintf(buf, len, "%02x/%016" PRIx64 ".%s", subdir_of(id), id, ext);
}

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

static void fobj_close(struct fstore *fs, struct fobj *o, bool sync)
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

	obj_path(path, sizeof(path), id, "dat");
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
	obj_path(path, sizeof(path), id, "crc");
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
		fs->dir_dirty[subdir_of(id)] = true;
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
		obj_path(path, sizeof(path), id, "dat");
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

static int sync_dir(struct fstore *fs, unsigned sub)
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
		rc = sync_dir(fs, subdir_of(o->id));
	if (rc < 0) {
		atomic_store(&o->dirty, true);
		atomic_fetch_add(&fs->sync_errors, 1);
		FLOG(fs, BLOG_ERR, "object %016" PRIx64 ": sync failed: %s", o->id, strerror(-rc));
		if (fs->p.sync_failed)
			fs->p.sync_failed(fs->p.arg);
	}
	return rc;
}

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
	struct fobj *o;
	int rc = 0;

	/* The caller excludes every other call on obj: if it is open, it is
	 * idle.  Take it out of the table first so nobody finds it again. */
	pthread_mutex_lock(&fs->lock);
	o = tab_find(fs, obj);
	if (o) {
		if (o->refs == 0)
			idle_remove(fs, o);
		tab_unlink(fs, o);
		if (o->refs)
			o = NULL;   /* its last user closes it */
	}
	pthread_mutex_unlock(&fs->lock);
	if (o)
		fobj_close(fs, o, false);

	/* Data first: an object is its .dat file, and a crash between the two
	 * unlinks leaves an orphan sidecar that the next open trims. */
	obj_path(path, sizeof(path), obj, "dat");
	if (unlinkat(fs->objdir, path, 0) == 0)
		atomic_fetch_sub(&fs->objects, 1);
	else if (errno != ENOENT)
		return -errno;
	obj_path(path, sizeof(path), obj, "crc");
	if (unlinkat(fs->objdir, path, 0) < 0 && errno != ENOENT)
		rc = -errno;
	pthread_mutex_lock(&fs->dir_lock);
	fs->dir_dirty[subdir_of(obj)] = true;
	pthread_mutex_unlock(&fs->dir_lock);
	int src = sync_dir(fs, subdir_of(obj));
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
	struct fstore *fs = FSTORE(s);
	int rc = -EAGAIN;

	pthread_mutex_lock(&fs->lock);
	struct fobj *o = tab_find(fs, obj);
	if (o) {
		*size = atomic_load(&o->size);
		rc = 0;
	}
	pthread_mutex_unlock(&fs->lock);
	return rc;
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
		if (sync_dir(fs, i) < 0)
			rc = -EIO;
	free(fs->tab);
	close(fs->objdir);
	close(fs->lockfd);   /* releases the flock */
	close(fs->dirfd);
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

/* ---- the data directory ---------------------------------------------------- */

/* One daemon per directory: an flock that dies with the process. */
static int take_lock(struct fstore *fs)
{
	char buf[32];
	int fd = openat(fs->dirfd, "LOCK", O_RDWR | O_CREAT | O_CLOEXEC, 0600);

	if (fd < 0)
		return -errno;
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		int err = errno;
		ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
		buf[n > 0 ? n : 0] = '\0';
		buf[strcspn(buf, "\n")] = '\0';
		FLOG(fs, BLOG_ERR, "data directory %s is in use by another slice-blockd (pid %s)",
		     fs->dir, buf[0] ? buf : "unknown");
		close(fd);
		return err == EWOULDBLOCK ? -EBUSY : -err;
	}
	int n = snprintf(buf, sizeof(buf), "%d\n", (int)getpid());
	if (ftruncate(fd, 0) < 0 || pwrite(fd, buf, (size_t)n, 0) != n)
		FLOG(fs, BLOG_WARN, "cannot write the pid to %s/LOCK: %s", fs->dir, strerror(errno));
	fs->lockfd = fd;
	return 0;
}

/* A directory without FORMAT is taken only if it holds nothing else of
 * ours or anyone's: `--data` pointed at the wrong place must not fill it. */
static int check_empty(struct fstore *fs)
{
	static const char *const ours[] = { ".", "..", "LOCK", "objects", "FORMAT.tmp" };
	int fd = openat(fs->dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *e;
	int rc = 0;

	if (!d) {
		rc = -errno;
		if (fd >= 0)
			close(fd);
		return rc;
	}
	while (rc == 0 && (e = readdir(d))) {
		bool known = false;
		for (size_t i = 0; i < sizeof(ours) / sizeof(ours[0]); i++)
			known |= strcmp(e->d_name, ours[i]) == 0;
		if (!known) {
			FLOG(fs, BLOG_ERR, "%s is not a slice-blockd data directory (no FORMAT file) and "
			     "is not empty (it holds \"%s\"): refusing to use it", fs->dir, e->d_name);
			rc = -ENOTEMPTY;
		}
	}
	closedir(d);
	return rc;
}

/* FORMAT says what this directory holds.  *fresh: there is none yet. */
static int check_format(struct fstore *fs, bool *fresh)
{
	char buf[256];
	int fd = openat(fs->dirfd, "FORMAT", O_RDONLY | O_CLOEXEC);

	*fresh = false;
	if (fd < 0) {
		if (errno != ENOENT)
			return -errno;
		*fresh = true;
		return check_empty(fs);
	}
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	if (strcmp(buf, format_text) != 0) {
		FLOG(fs, BLOG_ERR, "%s/FORMAT does not describe a format this slice-blockd reads "
		     "(want format %d, crc-block %u)", fs->dir, FSTORE_FORMAT, STORE_BLOCK);
		return -EPROTO;
	}
	return 0;
}

/* Written last, through a rename: a directory whose making was interrupted
 * has no FORMAT and is made again. */
static int write_format(struct fstore *fs)
{
	int fd = openat(fs->dirfd, "FORMAT.tmp", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	size_t len = strlen(format_text);
	int rc = 0;

	if (fd < 0)
		return -errno;
	ssize_t w = write(fd, format_text, len);
	if (w != (ssize_t)len)
		rc = w < 0 ? -errno : -EIO;
	else if (fsync(fd) < 0)
		rc = -errno;
	close(fd);
	if (rc == 0 && renameat(fs->dirfd, "FORMAT.tmp", fs->dirfd, "FORMAT") < 0)
		rc = -errno;
	if (rc == 0 && fsync(fs->dirfd) < 0)
		rc = -errno;
	if (rc == 0)
		FLOG(fs, BLOG_INFO, "new data directory %s (format %d, %u-byte checksum blocks)", fs->dir,
		     FSTORE_FORMAT, STORE_BLOCK);
	return rc;
}

static int make_layout(struct fstore *fs)
{
	char name[8];

	if (mkdirat(fs->dirfd, "objects", 0700) < 0 && errno != EEXIST)
		return -errno;
	fs->objdir = openat(fs->dirfd, "objects", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fs->objdir < 0)
		return -errno;
	for (unsigned i = 0; i < FSTORE_SUBDIRS; i++) {
		snprintf(name, sizeof(name), "%02x", i);
		if (mkdirat(fs->objdir, name, 0700) < 0 && errno != EEXIST)
			return -errno;
	}
	if (fsync(fs->objdir) < 0 || fsync(fs->dirfd) < 0)
		return -errno;
	return 0;
}

/* Count the objects (the .dat files): O(objects), once at startup. */
static void count_objects(struct fstore *fs)
{
	char name[8];
	uint64_t n = 0;

	for (unsigned i = 0; i < FSTORE_SUBDIRS; i++) {
		snprintf(name, sizeof(name), "%02x", i);
		int fd = openat(fs->objdir, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
		if (!d) {
			if (fd >= 0)
				close(fd);
			continue;
		}
		struct dirent *e;
		while ((e = readdir(d))) {
			size_t l = strlen(e->d_name);
			n += l == 20 && strcmp(e->d_name + 16, ".dat") == 0;
		}
		closedir(d);
	}
	atomic_init(&fs->objects, n);
}

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
	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		rc = -errno;
		FLOG(fs, BLOG_ERR, "cannot create data directory %s: %s", dir, strerror(errno));
		goto err;
	}
	fs->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fs->dirfd < 0) {
		rc = -errno;
		FLOG(fs, BLOG_ERR, "cannot open data directory %s: %s", dir, strerror(errno));
		goto err;
	}
	bool fresh;
	if ((rc = check_format(fs, &fresh)) < 0)
		goto err;
	if ((rc = take_lock(fs)) < 0)
		goto err;
	if ((rc = make_layout(fs)) < 0) {
		FLOG(fs, BLOG_ERR, "cannot lay out %s/objects: %s", dir, strerror(-rc));
		goto err;
	}
	if (fresh && (rc = write_format(fs)) < 0) {
		FLOG(fs, BLOG_ERR, "cannot write %s/FORMAT: %s", dir, strerror(-rc));
		goto err;
	}
	count_objects(fs);
	*out = &fs->base;
	return 0;

err:
	if (fs->objdir >= 0)
		close(fs->objdir);
	if (fs->lockfd >= 0)
		close(fs->lockfd);
	if (fs->dirfd >= 0)
		close(fs->dirfd);
	free(fs->tab);
	free(fs->dir);
	pthread_mutex_destroy(&fs->lock);
	pthread_mutex_destroy(&fs->dir_lock);
	free(fs);
	return rc;
}
