/*
 * nfs_rw.c - READ, WRITE, COMMIT, and the data threads they run on.
 *
 * The bytes go through the Slice data path (data.h) and may wait on block
 * servers, so these procedures run on a small pool of threads of their
 * own, never on the RPC loop or the commit thread.  WRITE then hands the
 * new size and mtime to the commit thread and is answered after that
 * commit, like every other change.
 *
 * Permissions as knfsd: the owner may read and write its file whatever
 * the mode (NFS has no open; the client checked at open time), and read
 * is allowed to whoever may execute (a binary is paged in with READ).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "data.h"
#include "nfs_op.h"

struct data_pool {
	struct fmd     *f;
	pthread_t      *threads;
	uint32_t        nthreads;
	pthread_mutex_t mu;
	pthread_cond_t  cv;
	struct fmd_op  *head, *tail;
	bool            stop;
};

static int may_read(const struct inode *ino, const struct fmd_cred *c)
{
	if (c->uid == ino->uid)
		return NFS3_OK;
	if (access_check(ino, c, MAY_READ) == NFS3_OK || access_check(ino, c, MAY_EXEC) == NFS3_OK)
		return NFS3_OK;
	return NFS3ERR_ACCES;
}

static int may_write(const struct inode *ino, const struct fmd_cred *c)
{
	return c->uid == ino->uid ? NFS3_OK : access_check(ino, c, MAY_WRITE);
}

static int regular(const struct inode *ino)
{
	if (ino->type == NF3DIR)
		return NFS3ERR_ISDIR;
	return ino->type == NF3REG ? NFS3_OK : NFS3ERR_INVAL;
}

/* The file a data procedure names, with its map: NFS3_OK or a status. */
static int load_file(struct fmd_op *op, const nfs_fh3 *h, struct inode *ino,
		     struct slice_block_map *map)
{
	MDB_txn *t;
	int st;
	if (store_rd(op->f->st, &t))
		return NFS3ERR_SERVERFAULT;
	st = op_inode(op, t, h, ino);
	if (st == NFS3_OK && map && (st = regular(ino)) == NFS3_OK && map_load(op->f, t, ino->fileid, map))
		st = NFS3ERR_IO;
	store_rd_done(t);
	return st;
}

static int data_status(struct fmd_op *op, long rc)
{
	static _Atomic uint64_t last_warned;
	if (rc == -EOPNOTSUPP || data_unavailable(op->f->data)) {
		uint64_t now = fmd_now() / 1000000000ull, prev = atomic_load(&last_warned);
		if (now >= prev + 60 && atomic_compare_exchange_strong(&last_warned, &prev, now))
			fmd_log(LOG_WARNING, "%s (and others for a minute): %s", nfs_procs[op->proc].name,
				data_unavailable(op->f->data));
		return NFS3ERR_SERVERFAULT;
	}
	return rc == -ENOSPC ? NFS3ERR_NOSPC : NFS3ERR_IO;
}

int nfs_read(struct fmd_op *op, MDB_txn *unused)
{
	const READ3args *a = &op->a.u.read;
	READ3res *r = &op->res.read;
	READ3resok *ok = &r->READ3res_u.resok;
	struct inode ino;
	struct slice_block_map map = { 0 };

	if ((r->status = load_file(op, &a->file, &ino, &map)) != NFS3_OK)
		goto out;
	attr_post(&ino, op->f->fsid, &ok->file_attributes);
	if ((r->status = may_read(&ino, &op->cred)) != NFS3_OK)
		goto out;
	uint32_t count = a->count > FMD_RW_MAX ? FMD_RW_MAX : a->count;
	if (a->offset >= ino.size)
		count = 0;
	else if (count > ino.size - a->offset)
		count = (uint32_t)(ino.size - a->offset);
	ok->eof = a->offset + count >= ino.size;
	if (count > 0) {
		char *buf = malloc(count);
		if (!buf) {
			r->status = NFS3ERR_SERVERFAULT;
			goto out;
		}
		op->mem = buf;
		ssize_t n = data_read(op->f->data, &map, buf, count, a->offset);
		if (n < 0) {
			r->status = data_status(op, n);
			goto out;
		}
		count = (uint32_t)n;
	}
	ok->count = count;
	ok->data.data_len = count;
	ok->data.data_val = op->mem;
	op->reply_max = 256 + count;
out:
	map_free(&map);
	return 0;
}

/* After the data went out: the new size and times, in the batch. */
static int write_meta(struct fmd_op *op, MDB_txn *t)
{
	WRITE3res *r = &op->res.write;
	struct inode ino;
	int rc = ino_get(op->f->st, t, op->w_before.fileid, &ino);
	if (rc == -ENOENT) {   /* removed meanwhile */
		r->status = NFS3ERR_STALE;
		return 0;
	}
	if (rc)
		return rc;
	uint64_t now = fmd_now();
	if (op->w_end > ino.size)
		ino.size = op->w_end;
	ino.mtime = ino.ctime = now;
	if ((rc = ino_put(op->f->st, t, &ino)))
		return rc;
	attr_wcc(&op->w_before, &ino, op->f->fsid, &r->WRITE3res_u.resok.file_wcc);
	return 0;
}

int nfs_write(struct fmd_op *op, MDB_txn *unused)
{
	const WRITE3args *a = &op->a.u.write;
	WRITE3res *r = &op->res.write;
	WRITE3resok *ok = &r->WRITE3res_u.resok;
	struct inode ino;
	struct slice_block_map map = { 0 };

	if ((r->status = load_file(op, &a->file, &ino, &map)) != NFS3_OK)
		goto fail;
	attr_wcc(&ino, &ino, op->f->fsid, &ok->file_wcc);
	if ((r->status = may_write(&ino, &op->cred)) != NFS3_OK)
		goto fail;
	if (a->count > FMD_RW_MAX || a->offset + a->count < a->offset) {
		r->status = a->count > FMD_RW_MAX ? NFS3ERR_INVAL : NFS3ERR_FBIG;
		goto fail;
	}
	if (a->count > 0) {
		ssize_t n = data_write(op->f->data, &map, a->data.data_val, a->count, a->offset,
				       a->stable != UNSTABLE);
		if (n < 0) {
			r->status = data_status(op, n);
			goto fail;
		}
	}
	map_free(&map);
	ok->count = a->count;
	ok->committed = a->stable == UNSTABLE ? UNSTABLE : FILE_SYNC;
	uint64_t verf = atomic_load(&op->f->writeverf);
	memcpy(ok->verf, &verf, sizeof(ok->verf));
	op->w_before = ino;
	op->w_end = a->offset + a->count;
	op->mutate = write_meta;
	if (commit_submit(op->f->cq, op) < 0) {
		r->status = NFS3ERR_JUKEBOX;
		return 0;
	}
	return 1;   /* answered by the commit thread */
fail:
	map_free(&map);
	return 0;
}

int nfs_commit(struct fmd_op *op, MDB_txn *unused)
{
	COMMIT3res *r = &op->res.commit;
	COMMIT3resok *ok = &r->COMMIT3res_u.resok;
	struct inode ino;
	struct slice_block_map map = { 0 };

	if ((r->status = load_file(op, &op->a.u.commit.file, &ino, &map)) != NFS3_OK)
		goto out;
	attr_wcc(&ino, &ino, op->f->fsid, &ok->file_wcc);
	/* a file that never had data (no block servers) has nothing to commit */
	if (ino.flags & INO_HAS_DATA) {
		int rc = data_commit(op->f->data, &map);
		if (rc < 0) {
			r->status = data_status(op, rc);
			goto out;
		}
	}
	uint64_t verf = atomic_load(&op->f->writeverf);
	memcpy(ok->verf, &verf, sizeof(ok->verf));
out:
	map_free(&map);
	return 0;
}

/* ---- the pool ---------------------------------------------------------------- */

static void *data_thread(void *arg)
{
	struct data_pool *p = arg;
	for (;;) {
		pthread_mutex_lock(&p->mu);
		while (!p->head && !p->stop)
			pthread_cond_wait(&p->cv, &p->mu);
		struct fmd_op *op = p->head;
		if (!op) {
			pthread_mutex_unlock(&p->mu);
			return NULL;
		}
		p->head = op->next;
		if (!p->head)
			p->tail = NULL;
		pthread_mutex_unlock(&p->mu);
		if (op->job) {
			void (*job)(struct fmd_op *) = op->job;
			op->job = NULL;
			job(op);
		} else if (nfs_procs[op->proc].run(op, NULL) == 0) {
			nfs_finish(op);
		}
	}
}

void data_pool_submit(struct data_pool *p, struct fmd_op *op)
{
	op->next = NULL;
	pthread_mutex_lock(&p->mu);
	if (p->tail)
		p->tail->next = op;
	else
		p->head = op;
	p->tail = op;
	pthread_cond_signal(&p->cv);
	pthread_mutex_unlock(&p->mu);
}

void data_pool_job(struct data_pool *p, struct fmd_op *op, void (*job)(struct fmd_op *op))
{
	op->job = job;
	data_pool_submit(p, op);
}

int data_pool_start(struct fmd *f, uint32_t n, struct data_pool **out)
{
	struct data_pool *p = calloc(1, sizeof(*p));
	if (!p || !(p->threads = calloc(n, sizeof(pthread_t)))) {
		free(p);
		return -ENOMEM;
	}
	p->f = f;
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv, NULL);
	for (uint32_t i = 0; i < n; i++) {
		if (pthread_create(&p->threads[i], NULL, data_thread, p))
			break;
		p->nthreads++;
	}
	if (p->nthreads == 0) {
		free(p->threads);
		free(p);
		return -EAGAIN;
	}
	*out = p;
	return 0;
}

void data_pool_stop(struct data_pool *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->mu);
	p->stop = true;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
	for (uint32_t i = 0; i < p->nthreads; i++)
		pthread_join(p->threads[i], NULL);
	free(p->threads);
	free(p);
}
