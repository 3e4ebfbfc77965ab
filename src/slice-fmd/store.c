/*
 * store.c - the file manager's state in LMDB.
 *
 * Tables (LMDB named databases), keys big-endian so that they sort:
 *   meta      "key" -> value        volume facts, counters
 *   inodes    fileid -> struct inode (minus the fileid)
 *   names     dir fileid | name -> fileid, cookie, type      (LOOKUP)
 *   listing   dir fileid | cookie -> fileid, type, name\0    (READDIR)
 *   symlinks  fileid -> target
 *   maps      fileid -> block map (map.c's format)
 *   removeq   seq -> object id | block map                   (removal queue)
 *
 * A name is in `names` and `listing` together, so a lookup is one get and
 * a listing is one cursor walk in cookie order; cookies come from one
 * counter and are never reused, so a listing resumes exactly where it
 * stopped whatever was created or removed in between.
 *
 * Only the commit thread writes (one write transaction at a time is LMDB's
 * rule anyway); every other thread reads through a read transaction of its
 * own, reset between uses (MDB_NOTLS lets us keep them per thread).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <stddef.h>
#include <unistd.h>

#include "fmd.h"

static const char *const table_names[T_COUNT] = {
	"meta", "inodes", "names", "listing", "symlinks", "maps", "removeq",
	"partials", "rpartials", "intents", "prepared", "dead",
};

struct store {
	MDB_env     *env;
	MDB_dbi      dbi[T_COUNT];
	pthread_key_t rd_key;          /* the thread's read transaction */
	/* counters: owned by the commit thread once running */
	uint64_t     next_fileid, next_cookie, next_rmq;
	uint64_t     id_base;          /* manager index in the top byte */
	uint32_t     managers;         /* of the volume (1: no partial counts) */
	bool         meta_sync;        /* --sync full: lazy commits turn it off for themselves */
};

#define FIRST_COOKIE 16u           /* 1 and 2 are "." and ".." */

static int mdb_err(int rc)
{
	switch (rc) {
	case 0:
		return 0;
	case MDB_NOTFOUND:
		return -ENOENT;
	case MDB_KEYEXIST:
		return -EEXIST;
	case MDB_MAP_FULL:
		return -ENOSPC;
	default:
		return rc > 0 ? -rc : -EIO;
	}
}

static void be64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

static uint64_t get_be64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

/*
 * Preallocation.  LMDB writes pages at their offsets in data.mdb; pages
 * beyond the end of the file extend it, and an fdatasync after extending a
 * file must also commit the file system's metadata (the new blocks),
 * which costs about twice what an overwrite costs.  So the file is kept
 * PREALLOC bytes ahead of what LMDB uses, with real zeros (not fallocate:
 * unwritten extents need the same metadata commit on first write).
 */
#define PREALLOC (64ull << 20)

int store_prealloc(struct store *st)
{
	MDB_envinfo ei;
	MDB_stat ms;
	int fd;
	struct stat sb;
	if (mdb_env_get_fd(st->env, &fd) || fstat(fd, &sb) || mdb_env_info(st->env, &ei) ||
	    mdb_env_stat(st->env, &ms))
		return -EIO;
	uint64_t used = (uint64_t)(ei.me_last_pgno + 1) * ms.ms_psize;
	if ((uint64_t)sb.st_size >= used + PREALLOC / 2)
		return 0;
	uint64_t target = used + PREALLOC;
	if (target > ei.me_mapsize)
		target = ei.me_mapsize;
	static const uint8_t zero[1 << 16];
	for (uint64_t off = (uint64_t)sb.st_size; off < target; off += sizeof(zero)) {
		if (pwrite(fd, zero, sizeof(zero), (off_t)off) != (ssize_t)sizeof(zero))
			return -errno;
	}
	return fdatasync(fd) ? -errno : 1;
}

static void rd_free(void *p)
{
	if (p)
		mdb_txn_abort(p);
}

int store_open(const char *dir, uint64_t mapsize, int sync, struct store **out)
{
	struct store *st = calloc(1, sizeof(*st));
	MDB_txn *t = NULL;
	int rc, dead;

	if (!st)
		return -ENOMEM;
	mkdir(dir, 0700);
	if ((rc = mdb_env_create(&st->env)))
		goto fail;
	mdb_env_set_maxdbs(st->env, T_COUNT + 2);
	mdb_env_set_mapsize(st->env, mapsize);
	mdb_env_set_maxreaders(st->env, 256);
	/* NOTLS: read transactions belong to our threads' keys, not to LMDB's
	 * thread-local slots.  A commit flushes its pages, then writes and
	 * flushes the meta page that makes them current (FULL); NOMETASYNC
	 * leaves the second flush to the next commit (DATA: the last commit
	 * may be lost to a power cut, never half of one); NOSYNC flushes
	 * nothing (NONE: a power cut may corrupt; a killed process loses
	 * nothing, its writes are in the page cache). */
	unsigned flags = MDB_NOTLS | MDB_NORDAHEAD;
	if (sync == FMD_SYNC_DATA)
		flags |= MDB_NOMETASYNC;
	else if (sync == FMD_SYNC_NONE)
		flags |= MDB_NOSYNC;
	st->meta_sync = sync != FMD_SYNC_DATA && sync != FMD_SYNC_NONE;
	if ((rc = mdb_env_open(st->env, dir, flags, 0600)))
		goto fail;
	/* readers of a process killed with -9 hold slots: free them */
	mdb_reader_check(st->env, &dead);
	if ((rc = mdb_txn_begin(st->env, NULL, 0, &t)))
		goto fail;
	for (int i = 0; i < T_COUNT; i++)
		if ((rc = mdb_dbi_open(t, table_names[i], MDB_CREATE, &st->dbi[i])))
			goto fail;
	if ((rc = mdb_txn_commit(t))) {
		t = NULL;
		goto fail;
	}
	pthread_key_create(&st->rd_key, rd_free);
	*out = st;
	return 0;
fail:
	if (t)
		mdb_txn_abort(t);
	if (st->env)
		mdb_env_close(st->env);
	free(st);
	return mdb_err(rc);
}

void store_close(struct store *st)
{
	if (!st)
		return;
	MDB_txn *t = pthread_getspecific(st->rd_key);
	if (t)
		mdb_txn_abort(t);
	pthread_setspecific(st->rd_key, NULL);
	mdb_env_close(st->env);
	free(st);
}

MDB_env *store_env(struct store *st)
{
	return st->env;
}

int store_rd(struct store *st, MDB_txn **txn)
{
	MDB_txn *t = pthread_getspecific(st->rd_key);
	int rc;
	if (t) {
		if ((rc = mdb_txn_renew(t)) == 0) {
			*txn = t;
			return 0;
		}
		mdb_txn_abort(t);
		pthread_setspecific(st->rd_key, NULL);
	}
	if ((rc = mdb_txn_begin(st->env, NULL, MDB_RDONLY, &t)))
		return mdb_err(rc);
	pthread_setspecific(st->rd_key, t);
	*txn = t;
	return 0;
}

void store_rd_done(MDB_txn *txn)
{
	mdb_txn_reset(txn);
}

int store_wr(struct store *st, MDB_txn **txn)
{
	return mdb_err(mdb_txn_begin(st->env, NULL, 0, txn));
}

/* LMDB 0.9 takes no sync flags per transaction: the environment's
 * NOMETASYNC is set for this one, by the only thread that writes now (the
 * holder of the write transaction; no other reads the flag), and cleared
 * by store_lazy_done after its commit or abort. */
int store_wr_lazy(struct store *st, MDB_txn **txn)
{
	int rc = mdb_txn_begin(st->env, NULL, 0, txn);
	if (rc == 0 && st->meta_sync && (rc = mdb_env_set_flags(st->env, MDB_NOMETASYNC, 1)))
		mdb_txn_abort(*txn);
	return mdb_err(rc);
}

void store_lazy_done(struct store *st)
{
	if (st->meta_sync)
		(void)mdb_env_set_flags(st->env, MDB_NOMETASYNC, 0);
}

int store_sync(struct store *st)
{
	return mdb_err(mdb_env_sync(st->env, 0));   /* none with --sync none */
}

/* ---- inodes ----------------------------------------------------------------- */

/* stored: from after the file id to before the x_ fields */
#define INO_VAL (offsetof(struct inode, x_entries) - sizeof(uint64_t))

int ino_get(struct store *st, MDB_txn *t, uint64_t fileid, struct inode *out)
{
	uint8_t k[8];
	be64(k, fileid);
	MDB_val key = { 8, k }, val;
	int rc = mdb_get(t, st->dbi[T_INODES], &key, &val);
	if (rc)
		return mdb_err(rc);
	if (val.mv_size != INO_VAL)
		return -EIO;
	memset(out, 0, sizeof(*out));
	out->fileid = fileid;
	memcpy((uint8_t *)out + sizeof(uint64_t), val.mv_data, INO_VAL);
	if (out->type == NF3DIR && st->managers > 1)
		return rpartial_merge(st, t, out);
	return 0;
}

int ino_put(struct store *st, MDB_txn *t, const struct inode *ino)
{
	uint8_t k[8];
	be64(k, ino->fileid);
	MDB_val key = { 8, k }, val = { INO_VAL, (uint8_t *)ino + sizeof(uint64_t) };
	return mdb_err(mdb_put(t, st->dbi[T_INODES], &key, &val, 0));
}

int ino_del(struct store *st, MDB_txn *t, uint64_t fileid)
{
	uint8_t k[8];
	be64(k, fileid);
	MDB_val key = { 8, k };
	return mdb_err(mdb_del(t, st->dbi[T_INODES], &key, NULL));
}

/* ---- names and listings ------------------------------------------------------ */

static size_t name_key(uint8_t *k, uint64_t dir, const char *name)
{
	size_t n = strlen(name);
	be64(k, dir);
	memcpy(k + 8, name, n);
	return 8 + n;
}

/* names value: fileid, cookie, gen, type, flags (22 bytes) */
#define NAME_VAL 22

int dent_get(struct store *st, MDB_txn *t, uint64_t dir, const char *name, struct dirent_val *out)
{
	uint8_t k[8 + ORPC_NFS3_NAME_MAX];
	MDB_val key = { name_key(k, dir, name), k }, val;
	int rc = mdb_get(t, st->dbi[T_NAMES], &key, &val);
	if (rc)
		return mdb_err(rc);
	if (val.mv_size != NAME_VAL)
		return -EIO;
	const uint8_t *v = val.mv_data;
	out->fileid = get_be64(v);
	out->cookie = get_be64(v + 8);
	memcpy(&out->gen, v + 16, 4);
	out->type = v[20];
	out->flags = v[21];
	return 0;
}

int dent_add(struct store *st, MDB_txn *t, uint64_t dir, const char *name, const struct dirent_val *d)
{
	uint8_t k[8 + ORPC_NFS3_NAME_MAX], nv[NAME_VAL], lk[16], lv[14 + ORPC_NFS3_NAME_MAX + 1];
	size_t nlen = strlen(name);
	uint64_t cookie = st->next_cookie++;
	int rc;

	uint8_t cv[8];
	be64(cv, st->next_cookie);
	MDB_val mk = { 6, "cookie" }, mv = { 8, cv };
	if ((rc = mdb_put(t, st->dbi[T_META], &mk, &mv, 0)))
		return mdb_err(rc);

	MDB_val key = { name_key(k, dir, name), k };
	be64(nv, d->fileid);
	be64(nv + 8, cookie);
	memcpy(nv + 16, &d->gen, 4);
	nv[20] = d->type;
	nv[21] = d->flags;
	MDB_val val = { sizeof(nv), nv };
	if ((rc = mdb_put(t, st->dbi[T_NAMES], &key, &val, MDB_NOOVERWRITE)))
		return mdb_err(rc);

	/* listing value: fileid, gen, type, flags, name with its NUL (the
	 * encoders take names straight from the map) */
	be64(lk, dir);
	be64(lk + 8, cookie);
	be64(lv, d->fileid);
	memcpy(lv + 8, &d->gen, 4);
	lv[12] = d->type;
	lv[13] = d->flags;
	memcpy(lv + 14, name, nlen + 1);
	MDB_val lkey = { 16, lk }, lval = { 14 + nlen + 1, lv };
	return mdb_err(mdb_put(t, st->dbi[T_LISTING], &lkey, &lval, 0));
}

int dent_del(struct store *st, MDB_txn *t, uint64_t dir, const char *name)
{
	struct dirent_val d;
	int rc = dent_get(st, t, dir, name, &d);
	if (rc)
		return rc;
	uint8_t k[8 + ORPC_NFS3_NAME_MAX], lk[16];
	MDB_val key = { name_key(k, dir, name), k };
	if ((rc = mdb_del(t, st->dbi[T_NAMES], &key, NULL)))
		return mdb_err(rc);
	be64(lk, dir);
	be64(lk + 8, d.cookie);
	MDB_val lkey = { 16, lk };
	return mdb_err(mdb_del(t, st->dbi[T_LISTING], &lkey, NULL));
}

int dent_iter_open(struct store *st, MDB_txn *t, uint64_t dir, uint64_t after, struct dent_iter *it)
{
	uint8_t lk[16];
	int rc = mdb_cursor_open(t, st->dbi[T_LISTING], &it->cur);
	if (rc)
		return mdb_err(rc);
	it->dir = dir;
	it->started = false;
	be64(lk, dir);
	be64(lk + 8, after == UINT64_MAX ? after : after + 1);
	MDB_val key = { 16, lk }, val;
	rc = mdb_cursor_get(it->cur, &key, &val, MDB_SET_RANGE);
	if (rc == MDB_NOTFOUND) {
		it->started = true;   /* nothing at or after: the walk is over */
		it->dir = UINT64_MAX;
		return 0;
	}
	return mdb_err(rc);
}

int dent_iter_next(struct dent_iter *it, struct dirent_val *d, const char **name, uint32_t *namelen)
{
	MDB_val key, val;
	if (it->dir == UINT64_MAX)
		return 0;
	int rc = mdb_cursor_get(it->cur, &key, &val, it->started ? MDB_NEXT : MDB_GET_CURRENT);
	it->started = true;
	if (rc == MDB_NOTFOUND)
		return 0;
	if (rc)
		return mdb_err(rc);
	if (key.mv_size != 16 || get_be64(key.mv_data) != it->dir)
		return 0;
	if (val.mv_size < 15 || ((const char *)val.mv_data)[val.mv_size - 1] != 0)
		return -EIO;
	const uint8_t *v = val.mv_data;
	d->fileid = get_be64(v);
	memcpy(&d->gen, v + 8, 4);
	d->type = v[12];
	d->flags = v[13];
	d->cookie = get_be64((const uint8_t *)key.mv_data + 8);
	*name = (const char *)v + 14;
	*namelen = (uint32_t)(val.mv_size - 15);
	return 1;
}

void dent_iter_close(struct dent_iter *it)
{
	if (it->cur)
		mdb_cursor_close(it->cur);
	it->cur = NULL;
}

int dent_empty(struct store *st, MDB_txn *t, uint64_t dir)
{
	struct dent_iter it;
	struct dirent_val d;
	const char *n;
	uint32_t nl;
	int rc = dent_iter_open(st, t, dir, 0, &it);
	if (rc)
		return rc;
	rc = dent_iter_next(&it, &d, &n, &nl);
	dent_iter_close(&it);
	if (rc < 0)
		return rc;
	return rc == 0;
}

/* ---- partial counts of directories held elsewhere ----------------------------- */

int partial_get(struct store *st, MDB_txn *t, uint64_t dir, struct partial *p)
{
	uint8_t k[8];
	be64(k, dir);
	MDB_val key = { 8, k }, val;
	int rc = mdb_get(t, st->dbi[T_PARTIALS], &key, &val);
	if (rc == MDB_NOTFOUND) {
		memset(p, 0, sizeof(*p));
		return 0;
	}
	if (rc)
		return mdb_err(rc);
	if (val.mv_size != sizeof(*p))
		return -EIO;
	memcpy(p, val.mv_data, sizeof(*p));
	return 0;
}

int partial_put(struct store *st, MDB_txn *t, uint64_t dir, const struct partial *p)
{
	uint8_t k[8];
	be64(k, dir);
	MDB_val key = { 8, k }, val = { sizeof(*p), (void *)p };
	if (p->entries == 0 && p->subdirs == 0) {
		/* nothing of it here any more: keep the version, so that an
		 * older touch cannot undo the last one (a small record) */
	}
	return mdb_err(mdb_put(t, st->dbi[T_PARTIALS], &key, &val, 0));
}

int rpartial_put(struct store *st, MDB_txn *t, uint64_t dir, uint32_t origin, const struct partial *p)
{
	uint8_t k[12];
	be64(k, dir);
	k[8] = (uint8_t)(origin >> 24);
	k[9] = (uint8_t)(origin >> 16);
	k[10] = (uint8_t)(origin >> 8);
	k[11] = (uint8_t)origin;
	MDB_val key = { 12, k }, val;
	int rc = mdb_get(t, st->dbi[T_RPARTIALS], &key, &val);
	if (rc == 0 && val.mv_size == sizeof(*p)) {
		struct partial old;
		memcpy(&old, val.mv_data, sizeof(old));
		if (old.version >= p->version)
			return 0;   /* older news */
	} else if (rc && rc != MDB_NOTFOUND) {
		return mdb_err(rc);
	}
	val.mv_size = sizeof(*p);
	val.mv_data = (void *)p;
	rc = mdb_put(t, st->dbi[T_RPARTIALS], &key, &val, 0);
	return rc ? mdb_err(rc) : 1;
}

int rpartial_merge(struct store *st, MDB_txn *t, struct inode *ino)
{
	MDB_cursor *c;
	uint8_t k[12];
	int rc = mdb_cursor_open(t, st->dbi[T_RPARTIALS], &c);
	if (rc)
		return mdb_err(rc);
	be64(k, ino->fileid);
	memset(k + 8, 0, 4);
	MDB_val key = { 12, k }, val;
	for (rc = mdb_cursor_get(c, &key, &val, MDB_SET_RANGE); rc == 0;
	     rc = mdb_cursor_get(c, &key, &val, MDB_NEXT)) {
		if (key.mv_size != 12 || get_be64(key.mv_data) != ino->fileid)
			break;
		struct partial p;
		if (val.mv_size != sizeof(p))
			continue;
		memcpy(&p, val.mv_data, sizeof(p));
		ino->x_entries += p.entries;
		ino->x_subdirs += p.subdirs;
		if (p.mtime > ino->x_mtime)
			ino->x_mtime = p.mtime;
		if (p.ctime > ino->x_ctime)
			ino->x_ctime = p.ctime;
	}
	mdb_cursor_close(c);
	return rc == 0 || rc == MDB_NOTFOUND ? 0 : mdb_err(rc);
}

/* ---- small keyed records: intents, prepared intents, dead directories ----------- */

int rec_get(struct store *st, MDB_txn *t, int table, uint64_t id, void *v, size_t len)
{
	uint8_t k[8];
	be64(k, id);
	MDB_val key = { 8, k }, val;
	int rc = mdb_get(t, st->dbi[table], &key, &val);
	if (rc)
		return mdb_err(rc);
	if (val.mv_size != len)
		return -EIO;
	memcpy(v, val.mv_data, len);
	return 0;
}

int rec_put(struct store *st, MDB_txn *t, int table, uint64_t id, const void *v, size_t len)
{
	uint8_t k[8];
	be64(k, id);
	MDB_val key = { 8, k }, val = { len, (void *)v };
	return mdb_err(mdb_put(t, st->dbi[table], &key, &val, 0));
}

int rec_del(struct store *st, MDB_txn *t, int table, uint64_t id)
{
	uint8_t k[8];
	be64(k, id);
	MDB_val key = { 8, k };
	int rc = mdb_err(mdb_del(t, st->dbi[table], &key, NULL));
	return rc == -ENOENT ? 0 : rc;
}

uint64_t store_new_seq(struct store *st, MDB_txn *t, int *err)
{
	/* intents share the removal queue's counter: unique per manager */
	uint8_t b[8];
	uint64_t v = st->next_rmq++;
	be64(b, st->next_rmq);
	*err = meta_put(st, t, "rmq", b, 8);
	return v;
}

/* ---- symlinks, maps ------------------------------------------------------------ */

int link_get(struct store *st, MDB_txn *t, uint64_t fileid, char *buf, size_t cap, uint32_t *len)
{
	uint8_t k[8];
	be64(k, fileid);
	MDB_val key = { 8, k }, val;
	int rc = mdb_get(t, st->dbi[T_SYMLINKS], &key, &val);
	if (rc)
		return mdb_err(rc);
	if (val.mv_size + 1 > cap)
		return -EIO;
	memcpy(buf, val.mv_data, val.mv_size);
	buf[val.mv_size] = 0;
	*len = (uint32_t)val.mv_size;
	return 0;
}

int link_put(struct store *st, MDB_txn *t, uint64_t fileid, const char *target)
{
	uint8_t k[8];
	be64(k, fileid);
	MDB_val key = { 8, k }, val = { strlen(target), (void *)target };
	return mdb_err(mdb_put(t, st->dbi[T_SYMLINKS], &key, &val, 0));
}

int link_del(struct store *st, MDB_txn *t, uint64_t fileid)
{
	uint8_t k[8];
	be64(k, fileid);
	MDB_val key = { 8, k };
	return mdb_err(mdb_del(t, st->dbi[T_SYMLINKS], &key, NULL));
}

int map_get_raw(struct store *st, MDB_txn *t, uint64_t fileid, const void **v, size_t *len)
{
	uint8_t k[8];
	be64(k, fileid);
	MDB_val key = { 8, k }, val;
	int rc = mdb_get(t, st->dbi[T_MAPS], &key, &val);
	if (rc)
		return mdb_err(rc);
	*v = val.mv_data;
	*len = val.mv_size;
	return 0;
}

int map_put_raw(struct store *st, MDB_txn *t, uint64_t fileid, const void *v, size_t len)
{
	uint8_t k[8];
	be64(k, fileid);
	MDB_val key = { 8, k }, val = { len, (void *)v };
	return mdb_err(mdb_put(t, st->dbi[T_MAPS], &key, &val, 0));
}

int map_del(struct store *st, MDB_txn *t, uint64_t fileid)
{
	uint8_t k[8];
	be64(k, fileid);
	MDB_val key = { 8, k };
	int rc = mdb_err(mdb_del(t, st->dbi[T_MAPS], &key, NULL));
	return rc == -ENOENT ? 0 : rc;
}

/* ---- the removal queue --------------------------------------------------------- */

int rmq_add(struct store *st, MDB_txn *t, uint64_t obj, const void *map, size_t len)
{
	uint8_t k[8], mk[8];
	uint8_t *v = malloc(8 + len);
	if (!v)
		return -ENOMEM;
	uint64_t seq = st->next_rmq++;
	be64(k, seq);
	be64(v, obj);
	memcpy(v + 8, map, len);
	MDB_val key = { 8, k }, val = { 8 + len, v };
	int rc = mdb_put(t, st->dbi[T_RMQ], &key, &val, MDB_APPEND);
	free(v);
	if (rc)
		return mdb_err(rc);
	be64(mk, st->next_rmq);
	MDB_val metak = { 3, "rmq" }, metav = { 8, mk };
	return mdb_err(mdb_put(t, st->dbi[T_META], &metak, &metav, 0));
}

int rmq_first(struct store *st, MDB_txn *t, uint64_t *seq, uint64_t *obj, const void **map,
	      size_t *len)
{
	MDB_cursor *c;
	uint8_t k[8];
	int rc = mdb_cursor_open(t, st->dbi[T_RMQ], &c);
	if (rc)
		return mdb_err(rc);
	be64(k, *seq);
	MDB_val key = { 8, k }, val;
	rc = mdb_cursor_get(c, &key, &val, MDB_SET_RANGE);
	mdb_cursor_close(c);
	if (rc == MDB_NOTFOUND)
		return 0;
	if (rc)
		return mdb_err(rc);
	if (key.mv_size != 8 || val.mv_size < 8)
		return -EIO;
	*seq = get_be64(key.mv_data);
	*obj = get_be64(val.mv_data);
	*map = (const uint8_t *)val.mv_data + 8;
	*len = val.mv_size - 8;
	return 1;
}

int rmq_del(struct store *st, MDB_txn *t, uint64_t seq)
{
	uint8_t k[8];
	be64(k, seq);
	MDB_val key = { 8, k };
	int rc = mdb_err(mdb_del(t, st->dbi[T_RMQ], &key, NULL));
	return rc == -ENOENT ? 0 : rc;
}

/* ---- meta and counters ------------------------------------------------------------ */

int meta_get(struct store *st, MDB_txn *t, const char *k, void *v, size_t len)
{
	MDB_val key = { strlen(k), (void *)k }, val;
	int rc = mdb_get(t, st->dbi[T_META], &key, &val);
	if (rc)
		return mdb_err(rc);
	if (val.mv_size != len)
		return -EIO;
	memcpy(v, val.mv_data, len);
	return 0;
}

int meta_put(struct store *st, MDB_txn *t, const char *k, const void *v, size_t len)
{
	MDB_val key = { strlen(k), (void *)k }, val = { len, (void *)v };
	return mdb_err(mdb_put(t, st->dbi[T_META], &key, &val, 0));
}

static int get_counter(struct store *st, MDB_txn *t, const char *k, uint64_t *v, uint64_t dflt)
{
	uint8_t b[8];
	int rc = meta_get(st, t, k, b, 8);
	if (rc == -ENOENT) {
		*v = dflt;
		return 0;
	}
	if (rc)
		return rc;
	*v = get_be64(b);
	return 0;
}

void store_set_id_base(struct store *st, uint64_t base)
{
	st->id_base = base;
}

void store_set_managers(struct store *st, uint32_t n)
{
	st->managers = n;
}

int store_load_counters(struct store *st, MDB_txn *t)
{
	int rc;
	if ((rc = get_counter(st, t, "fileid", &st->next_fileid, 1)) ||
	    (rc = get_counter(st, t, "cookie", &st->next_cookie, FIRST_COOKIE)) ||
	    (rc = get_counter(st, t, "rmq", &st->next_rmq, 1)))
		return rc;
	return 0;
}

uint64_t store_new_fileid(struct store *st, MDB_txn *t, int *err)
{
	uint8_t b[8];
	uint64_t id = st->id_base | st->next_fileid++;
	be64(b, st->next_fileid);
	*err = meta_put(st, t, "fileid", b, 8);
	return id;
}

int store_get_raw(struct store *st, MDB_txn *t, int table, MDB_val *k, MDB_val *v)
{
	return mdb_err(mdb_get(t, st->dbi[table], k, v));
}

int store_scan(struct store *st, MDB_txn *t, int table, store_scan_fn fn, void *arg)
{
	MDB_cursor *c;
	MDB_val k, v;
	int rc = mdb_cursor_open(t, st->dbi[table], &c);
	if (rc)
		return mdb_err(rc);
	for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0; rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		int r = fn(arg, k.mv_data, k.mv_size, v.mv_data, v.mv_size);
		if (r) {
			mdb_cursor_close(c);
			return r;
		}
	}
	mdb_cursor_close(c);
	return rc == MDB_NOTFOUND ? 0 : mdb_err(rc);
}

int store_stats(struct store *st, uint64_t *inodes, uint64_t *used, uint64_t *max)
{
	MDB_txn *t;
	MDB_stat s;
	MDB_envinfo ei;
	int rc = store_rd(st, &t);
	if (rc)
		return rc;
	rc = mdb_stat(t, st->dbi[T_INODES], &s);
	store_rd_done(t);
	if (rc)
		return mdb_err(rc);
	*inodes = s.ms_entries;
	mdb_env_info(st->env, &ei);
	mdb_env_stat(st->env, &s);
	*used = (uint64_t)(ei.me_last_pgno + 1) * s.ms_psize;
	*max = ei.me_mapsize;
	return 0;
}
