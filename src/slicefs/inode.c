/*
 * inode.c - the inode table: FUSE inode numbers to volume handles.
 *
 * An inode lives while the kernel counts lookups of it (nlookup, given
 * back by FORGET), while it is open, or while a request pins it.  Lock
 * order: an inode's olock, then the table lock; the table lock is never
 * held across a call to the volume.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "slicefs.h"

static size_t bucket(const struct sfs *s, uint64_t ino)
{
	return (size_t)((ino * 0x9e3779b97f4a7c15ull) >> 20) & (s->nbuckets - 1);
}

uint64_t sfs_ino_of(const struct sfs *s, uint64_t fileid)
{
	if (fileid == s->root_fileid)
		return FUSE_ROOT_ID;
	if (fileid == FUSE_ROOT_ID)
		return s->root_fileid;
	return fileid;
}

static struct sfs_inode *find_locked(struct sfs *s, uint64_t ino)
{
	struct sfs_inode *in;

	for (in = s->buckets[bucket(s, ino)]; in; in = in->next)
		if (in->ino == ino)
			return in;
	return NULL;
}

/* Double the buckets when chains grow past 2 on average; a failed
 * allocation keeps the old table (longer chains, still correct). */
static void grow_locked(struct sfs *s)
{
	size_t n = s->nbuckets * 2, i;
	struct sfs_inode **nb = calloc(n, sizeof(*nb)), **old = s->buckets;
	size_t oldn = s->nbuckets;

	if (!nb)
		return;
	s->buckets = nb;
	s->nbuckets = n;
	for (i = 0; i < oldn; i++) {
		struct sfs_inode *in = old[i], *next;
		for (; in; in = next) {
			next = in->next;
			size_t b = bucket(s, in->ino);
			in->next = nb[b];
			nb[b] = in;
		}
	}
	free(old);
}

static struct sfs_inode *add_locked(struct sfs *s, uint64_t ino, const struct slice_vfh *fh)
{
	struct sfs_inode *in = calloc(1, sizeof(*in));

	if (!in)
		return NULL;
	in->ino = ino;
	in->fh = *fh;
	pthread_mutex_init(&in->olock, NULL);
	if (s->count + 1 > s->nbuckets * 2)
		grow_locked(s);
	size_t b = bucket(s, ino);
	in->next = s->buckets[b];
	s->buckets[b] = in;
	s->count++;
	return in;
}

/* Unlink in when nothing holds it any more; the caller frees it after
 * dropping the lock. */
static bool release_locked(struct sfs *s, struct sfs_inode *in)
{
	struct sfs_inode **pp;

	if (in->nlookup || in->opens || in->pins || in->ino == FUSE_ROOT_ID)
		return false;
	for (pp = &s->buckets[bucket(s, in->ino)]; *pp; pp = &(*pp)->next)
		if (*pp == in) {
			*pp = in->next;
			s->count--;
			return true;
		}
	return false;
}

static void inode_free(struct sfs_inode *in)
{
	pthread_mutex_destroy(&in->olock);
	free(in);
}

int sfs_table_init(struct sfs *s)
{
	pthread_mutex_init(&s->lock, NULL);
	s->nbuckets = 1024;
	s->buckets = calloc(s->nbuckets, sizeof(*s->buckets));
	if (!s->buckets)
		return -ENOMEM;
	struct sfs_inode *root = add_locked(s, FUSE_ROOT_ID, &s->root_fh);
	if (!root)
		return -ENOMEM;
	root->nlookup = 1;
	return 0;
}

void sfs_table_free(struct sfs *s)
{
	size_t i;

	for (i = 0; i < s->nbuckets; i++) {
		struct sfs_inode *in = s->buckets[i], *next;
		for (; in; in = next) {
			next = in->next;
			inode_free(in);
		}
	}
	free(s->buckets);
	s->buckets = NULL;
	pthread_mutex_destroy(&s->lock);
}

struct sfs_inode *sfs_inode_get(struct sfs *s, uint64_t ino)
{
	pthread_mutex_lock(&s->lock);
	struct sfs_inode *in = find_locked(s, ino);
	pthread_mutex_unlock(&s->lock);
	return in;
}

int sfs_fh(struct sfs *s, uint64_t ino, struct slice_vfh *fh)
{
	int rc = -ESTALE;

	pthread_mutex_lock(&s->lock);
	struct sfs_inode *in = find_locked(s, ino);
	if (in) {
		*fh = in->fh;
		rc = 0;
	}
	pthread_mutex_unlock(&s->lock);
	return rc;
}

struct sfs_inode *sfs_remember(struct sfs *s, const struct slice_vfh *fh, const struct slice_attr *attr)
{
	uint64_t ino = sfs_ino_of(s, attr->fileid);

	pthread_mutex_lock(&s->lock);
	struct sfs_inode *in = find_locked(s, ino);
	if (!in)
		in = add_locked(s, ino, fh);
	if (in)
		in->nlookup++;
	pthread_mutex_unlock(&s->lock);
	return in;
}

void sfs_forget(struct sfs *s, uint64_t ino, uint64_t n)
{
	bool gone = false;

	pthread_mutex_lock(&s->lock);
	struct sfs_inode *in = find_locked(s, ino);
	if (in) {
		in->nlookup -= n < in->nlookup ? n : in->nlookup;
		gone = release_locked(s, in);
	}
	pthread_mutex_unlock(&s->lock);
	if (gone)
		inode_free(in);
}

int sfs_open_ref(struct sfs *s, struct sfs_inode *in, const struct slice_cred *cr, const struct slice_attr *a)
{
	int rc = 0;

	pthread_mutex_lock(&in->olock);
	if (!in->vf) {
		rc = slice_vol_fopen_attr(s->vol, cr, &in->fh, a, &in->vf);
		if (rc < 0) {
			in->vf = NULL;
			goto out;
		}
		in->written = false;
	}
	pthread_mutex_lock(&s->lock);
	if (in->opens++ == 0)
		s->nopen++;
	pthread_mutex_unlock(&s->lock);
out:
	pthread_mutex_unlock(&in->olock);
	return rc;
}

/* The last close of a file that was unlinked while open here removes it. */
static void remove_silly(struct sfs *s, struct sfs_inode *in)
{
	if (!in->silly)
		return;
	int rc = slice_vol_remove(s->vol, &in->silly_cred, &in->silly_dir, in->silly_name);
	if (rc < 0 && rc != -ENOENT)
		sfs_log("removing %s (unlinked while open): %s", in->silly_name, strerror(-rc));
	in->silly = false;
}

/*
 * commit: fclose (data committed on the block servers: unmount);
 * otherwise frelease (the last close: data acknowledged by the block
 * servers, size and mtime reported - close(2) promises no more; fsync
 * commits).  Either way the size and mtime the manager answered the report
 * with are what this mount will find at its next open.
 */
static int close_vf(struct sfs *s, struct sfs_inode *in, bool commit)
{
	int rc = 0;

	if (in->vf) {
		struct slice_attr a;
		if (commit) {
			rc = slice_vol_fclose(in->vf);
		} else {
			rc = slice_vol_frelease(in->vf, &a);
		}
		in->vf = NULL;
		/* release: pairs with the acquire loads in attr.c */
		__atomic_add_fetch(&s->closes, 1, __ATOMIC_RELEASE);
		if (in->written) {
			/* What this mount wrote is what it will find at the next
			 * open: its page cache stays valid then.  (At unmount
			 * nobody opens any more.) */
			in->seen = rc == 0 && !commit;
			if (in->seen) {
				in->seen_mtime = a.mtime;
				in->seen_size = a.size;
			}
		}
	}
	remove_silly(s, in);
	return rc;
}

int sfs_open_unref(struct sfs *s, struct sfs_inode *in)
{
	int rc = 0;
	bool gone = false;

	pthread_mutex_lock(&in->olock);
	if (in->opens == 1)
		rc = close_vf(s, in, false);
	pthread_mutex_lock(&s->lock);
	if (in->opens > 0 && --in->opens == 0) {
		s->nopen--;
		gone = release_locked(s, in);
	}
	pthread_mutex_unlock(&s->lock);
	pthread_mutex_unlock(&in->olock);
	if (gone)
		inode_free(in);
	return rc;
}

void sfs_close_all(struct sfs *s)
{
	size_t i;

	/* At unmount no request runs any more: walking the table without
	 * its lock held across the closes is safe. */
	for (i = 0; i < s->nbuckets; i++) {
		struct sfs_inode *in;
		for (in = s->buckets[i]; in; in = in->next) {
			pthread_mutex_lock(&in->olock);
			int rc = close_vf(s, in, true);
			if (rc < 0)
				sfs_log("closing inode %llu at unmount: %s", (unsigned long long)in->ino,
					strerror(-rc));
			pthread_mutex_unlock(&in->olock);
		}
	}
}

bool sfs_open_size(struct sfs *s, uint64_t ino, uint64_t *size)
{
	bool have = false, gone = false;

	pthread_mutex_lock(&s->lock);
	struct sfs_inode *in = s->nopen ? find_locked(s, ino) : NULL;
	if (in && in->opens)
		in->pins++;
	else
		in = NULL;
	pthread_mutex_unlock(&s->lock);
	if (!in)
		return false;
	pthread_mutex_lock(&in->olock);
	if (in->vf) {
		*size = slice_vol_fsize(in->vf);
		have = true;
	}
	pthread_mutex_unlock(&in->olock);
	pthread_mutex_lock(&s->lock);
	in->pins--;
	gone = release_locked(s, in);
	pthread_mutex_unlock(&s->lock);
	if (gone)
		inode_free(in);
	return have;
}
