/*
 * vol_file.c - open regular files: data straight to the block servers
 * (slice.h), the map and size from the file's manager.
 *
 * Open: GETATTR with the caller's credential (it checks the handle's MAC
 * and that the file exists; GETMAP names the file by id only), then
 * SLM_GETMAP for the map and the size as the manager knows it now - so a
 * file another client closed is seen whole (close-to-open).  Maps are not
 * cached across opens: the GETMAP that close-to-open needs for the size
 * brings the map with it.
 *
 * Size: max(the manager's, the end of our writes, our truncates).  Writes
 * go behind; the new size and mtime go to the manager (SLM_SETATTR with
 * SLM_SET_EXTEND, so racing writers only ever grow a file) at flush,
 * fsync and close; flush's report is lazy (SLM_SET_LAZY: the manager may
 * answer before it is on disk), fsync's durable, a lazy one before it
 * included.  Truncation is the manager's SETATTR, which cuts the
 * objects on the block servers itself (or swaps in a new object for size
 * 0): every open file of that handle in this volume is flushed first and
 * takes the new size and map after.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "vol_internal.h"

static void link_file(struct slice_vol *v, struct slice_vfile *f)
{
	pthread_mutex_lock(&v->files_lock);
	f->next = v->files;
	f->prev = NULL;
	if (v->files)
		v->files->prev = f;
	v->files = f;
	pthread_mutex_unlock(&v->files_lock);
}

/* Under files_lock. */
static void unlink_file(struct slice_vol *v, struct slice_vfile *f)
{
	if (f->prev)
		f->prev->next = f->next;
	else
		v->files = f->next;
	if (f->next)
		f->next->prev = f->prev;
	f->prev = f->next = NULL;
}

/* attr: the file's attributes, just fetched by the caller (CREATE's or
 * GETATTR's answer), or NULL to ask the manager. */
static int file_open(struct slice_vol *v, const struct slice_cred *cr, const struct slice_vfh *fh,
		     const struct slice_attr *attr, bool stateless, struct slice_vfile **out)
{
	struct slice_vfile *f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	int rc = vol_fh_route(v, fh, &f->info);
	struct slice_block_map map = { 0 };
	struct slm_getmap_res gm;
	if (rc == 0 && attr)
		/* the handle must be the attributes' file (GETMAP goes by id) */
		rc = attr->fileid == f->info.fileid ? (f->attr = *attr, 0) : -ESTALE;
	else if (rc == 0)
		rc = slice_vol_getattr(v, cr, fh, &f->attr);
	if (rc == 0 && f->attr.type != S_IFREG)
		rc = f->attr.type == S_IFDIR ? -EISDIR : -EINVAL;
	if (rc == 0)
		rc = vol_getmap(v, f->info.manager, f->attr.fileid, &map, &gm);
	if (rc == 0)
		rc = slice_open(v->sc, &map, &f->sf);
	f->obj = map.obj;
	slice_map_clear(&map);
	if (rc < 0) {
		free(f);
		return rc;
	}
	f->v = v;
	f->fh = *fh;
	if (cr)
		f->cred = *cr;
	f->map_version = gm.version;
	f->size = f->mgr_size = gm.size;
	f->attr.size = gm.size;
	f->mtime_ns = gm.mtime_ns;
	f->stateless = stateless;
	pthread_mutex_init(&f->lock, NULL);
	link_file(v, f);
	*out = f;
	return 0;
}

int vol_file_open(struct slice_vol *v, const struct slice_cred *cr, const struct slice_vfh *fh, bool stateless,
		  struct slice_vfile **out)
{
	return file_open(v, cr, fh, NULL, stateless, out);
}

int slice_vol_fopen(struct slice_vol *v, const struct slice_cred *cr, const struct slice_vfh *fh,
		    struct slice_vfile **out)
{
	if (!v || !fh || !out)
		return -EINVAL;
	return file_open(v, cr, fh, NULL, false, out);
}

int slice_vol_fopen_attr(struct slice_vol *v, const struct slice_cred *cr, const struct slice_vfh *fh,
			 const struct slice_attr *attr, struct slice_vfile **out)
{
	if (!v || !fh || !out)
		return -EINVAL;
	return file_open(v, cr, fh, attr, false, out);
}

ssize_t slice_vol_read(struct slice_vfile *f, void *buf, size_t len, uint64_t off)
{
	pthread_mutex_lock(&f->lock);
	ssize_t rc = 0;
	if (off < f->size && len) {
		uint64_t n = f->size - off < len ? f->size - off : len;
		rc = slice_read(f->sf, buf, (size_t)n, off);
	}
	pthread_mutex_unlock(&f->lock);
	return rc;
}

ssize_t slice_vol_write(struct slice_vfile *f, const void *buf, size_t len, uint64_t off)
{
	if (len > (size_t)INT64_MAX || off > (uint64_t)INT64_MAX - len)
		return -EFBIG;
	pthread_mutex_lock(&f->lock);
	ssize_t rc = len ? slice_write(f->sf, buf, len, off) : 0;
	if (rc > 0) {
		if (off + len > f->size)
			f->size = off + len;
		f->dirty = true;
		f->mtime_ns = vol_now_ns();
	}
	pthread_mutex_unlock(&f->lock);
	return rc;
}

uint64_t slice_vol_fsize(struct slice_vfile *f)
{
	pthread_mutex_lock(&f->lock);
	uint64_t s = f->size;
	pthread_mutex_unlock(&f->lock);
	return s;
}

static int after_truncate(struct slice_vfile *f, uint64_t size);

/* Under f->lock. */
int vol_file_report(struct slice_vfile *f, bool lazy)
{
	if (!f->dirty && (lazy || !f->lazy))
		return 0;
	struct slm_attr_res res;
	int rc = vol_report(f->v, f->info.manager, f->attr.fileid, f->size, f->mtime_ns,
			    SLM_SET_EXTEND | SLM_SET_MTIME | (lazy ? SLM_SET_LAZY : 0), &res);
	if (rc < 0)
		return rc;
	f->dirty = false;
	/* a durable commit at the manager makes its earlier lazy ones durable */
	f->lazy = lazy;
	f->mgr_size = res.size;
	/* another client may have made it longer meanwhile */
	if (res.size > f->size)
		f->size = res.size;
	f->attr.size = f->size;
	f->attr.mtime = (struct timespec){ (time_t)(res.mtime_ns / 1000000000u), (long)(res.mtime_ns % 1000000000u) };
	f->attr.ctime = (struct timespec){ (time_t)(res.ctime_ns / 1000000000u), (long)(res.ctime_ns % 1000000000u) };
	/* a manager that says which map version it holds (0: it does not):
	 * another one means someone truncated to zero and our object is being
	 * removed - take the new map; the bytes we wrote to the old object
	 * after that truncation are lost, as with NFS */
	if (res.version && res.version != f->map_version)
		return after_truncate(f, f->size);
	return 0;
}

int slice_vol_flush(struct slice_vfile *f)
{
	pthread_mutex_lock(&f->lock);
	int rc = slice_flush(f->sf);
	int r2 = vol_file_report(f, true);
	pthread_mutex_unlock(&f->lock);
	return rc < 0 ? rc : r2;
}

int slice_vol_fsync(struct slice_vfile *f)
{
	pthread_mutex_lock(&f->lock);
	/* the data stable first, then the size that makes it visible */
	int rc = slice_fsync(f->sf);
	int r2 = vol_file_report(f, false);
	pthread_mutex_unlock(&f->lock);
	return rc < 0 ? rc : r2;
}

/* commit: fsync (data stable) before freeing; else flush (acknowledged,
 * size reported).  attr: the attributes as the last report left them. */
static int file_close(struct slice_vfile *f, bool commit, struct slice_attr *attr)
{
	struct slice_vol *v = f->v;
	int rc = commit ? slice_vol_fsync(f) : slice_vol_flush(f);
	pthread_mutex_lock(&v->files_lock);
	unlink_file(v, f);
	pthread_mutex_unlock(&v->files_lock);
	if (attr)
		*attr = f->attr;
	int r2 = commit ? slice_close(f->sf) : slice_release(f->sf);
	pthread_mutex_destroy(&f->lock);
	free(f);
	return rc < 0 ? rc : r2;
}

int vol_file_close(struct slice_vfile *f)
{
	return file_close(f, true, NULL);
}

int slice_vol_fclose(struct slice_vfile *f)
{
	if (!f)
		return -EINVAL;
	return vol_file_close(f);
}

int slice_vol_frelease(struct slice_vfile *f, struct slice_attr *attr)
{
	if (!f)
		return -EINVAL;
	return file_close(f, false, attr);
}

int slice_vol_ftruncate(struct slice_vfile *f, uint64_t size)
{
	struct slice_sattr s = { .valid = SLICE_SET_SIZE, .size = size };
	return vol_truncate(f->v, &f->cred, &f->fh, &s, NULL);
}

/* After a truncation: the new size, and the new map if it changed. */
static int after_truncate(struct slice_vfile *f, uint64_t size)
{
	struct slice_block_map map = { 0 };
	struct slm_getmap_res gm;
	int rc = vol_getmap(f->v, f->info.manager, f->attr.fileid, &map, &gm);
	if (rc == 0 && gm.version != f->map_version) {
		struct slice_file *nf;
		if (map.obj == f->obj) {
			rc = slice_set_map(f->sf, &map);
		} else if ((rc = slice_open(f->v->sc, &map, &nf)) == 0) {
			/* a new object (truncation to zero): the old one is the
			 * manager's to remove; nothing of ours is left to commit
			 * there (vol_truncate synced before the cut) */
			slice_close(f->sf);
			f->sf = nf;
			f->obj = map.obj;
		}
		if (rc == 0)
			f->map_version = gm.version;
	}
	slice_map_clear(&map);
	f->size = f->mgr_size = f->attr.size = size;
	f->dirty = false;
	return rc;
}

int vol_truncate(struct slice_vol *v, const struct slice_cred *cr, const struct slice_vfh *fh,
		 const struct slice_sattr *s, struct slice_attr *attr)
{
	struct slice_fh_info fi;
	int rc = vol_fh_route(v, fh, &fi);
	if (rc < 0)
		return rc;
	/* our writes land (committed and reported) before the cut, not after
	 * it, and none is left for an object the cut may replace */
	pthread_mutex_lock(&v->files_lock);
	for (struct slice_vfile *f = v->files; f; f = f->next) {
		if (f->info.fileid != fi.fileid)
			continue;
		pthread_mutex_lock(&f->lock);
		int r = slice_fsync(f->sf);
		if (r == 0)
			r = vol_file_report(f, false);
		pthread_mutex_unlock(&f->lock);
		if (r < 0 && rc == 0)
			rc = r;
	}
	if (rc == 0)
		rc = vol_setattr_nfs(v, cr, fh, s, attr);
	if (rc == 0) {
		for (struct slice_vfile *f = v->files; f; f = f->next) {
			if (f->info.fileid != fi.fileid)
				continue;
			pthread_mutex_lock(&f->lock);
			int r = after_truncate(f, s->size);
			pthread_mutex_unlock(&f->lock);
			if (r < 0 && rc == 0)
				rc = r;
		}
	}
	pthread_mutex_unlock(&v->files_lock);
	return rc;
}

void vol_files_close_all(struct slice_vol *v)
{
	for (;;) {
		pthread_mutex_lock(&v->files_lock);
		struct slice_vfile *f = v->files;
		pthread_mutex_unlock(&v->files_lock);
		if (!f)
			break;
		vol_file_close(f);
	}
}
