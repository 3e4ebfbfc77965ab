/*
 * commit.c - group commit: the one thread that changes the store.
 *
 * Mutations queue here from the RPC loop (and the data threads).  The
 * thread takes everything queued - up to batch_max - runs each mutation in
 * turn inside one write transaction, commits it (one fsync for the whole
 * batch), and only then encodes and sends the replies: a client never
 * hears of a change that a crash could take back.  While a batch commits,
 * the next one gathers, so with many clients in flight the cost of a sync
 * is shared by all of them, and with one client nothing waits for a batch
 * to fill.
 *
 * A mutation checks everything before it writes anything, so one that
 * fails (EXIST, NOTEMPTY...) leaves no trace in the batch.  A store error
 * (out of space, I/O) spoils the whole transaction; then the batch is run
 * again one operation per transaction, so that only the ones that really
 * fail are answered with an error.
 *
 * Lazy changes (a Slice client's size report at close, SLM_SET_LAZY) need
 * not be on disk before their reply: a batch of nothing but lazy changes
 * commits without flushing its meta page (one disk flush instead of two).
 * LMDB then guarantees that a power cut takes back at most that commit,
 * whole, and nothing before it; the next ordinary commit flushes it with
 * its own pages, and an idle thread flushes it within LAZY_SYNC_S.  A
 * crash of the process loses nothing (the page cache has it).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include "data.h"
#include "nfs_op.h"

struct commit_q {
	struct fmd     *f;
	pthread_t       thread;
	pthread_mutex_t mu;
	pthread_cond_t  cv;
	struct fmd_op  *head, *tail;     /* head also read without the lock, as a hint */
	bool            stop;
	uint64_t        batches, ops, max_batch;
	uint64_t        commit_ns;       /* time in mdb_txn_commit (the syncs) */
	bool            unsynced;        /* the last commit was lazy: not yet durable */
};

#define LAZY_SYNC_S 1

int commit_submit(struct commit_q *q, struct fmd_op *op)
{
	op->next = NULL;
	pthread_mutex_lock(&q->mu);
	if (q->stop) {   /* shutting down: the caller answers */
		pthread_mutex_unlock(&q->mu);
		return -ESHUTDOWN;
	}
	if (q->tail)
		q->tail->next = op;
	else
		q->head = op;
	q->tail = op;
	pthread_cond_signal(&q->cv);
	pthread_mutex_unlock(&q->mu);
	return 0;
}

/* Run ops [head, n of them) in one transaction: 0 if committed. */
static int run_batch1(struct commit_q *q, struct fmd_op *head, uint32_t n, bool lazy)
{
	struct fmd *f = q->f;
	MDB_txn *t;
	uint32_t i;
	int rc = lazy ? store_wr_lazy(f->st, &t) : store_wr(f->st, &t);
	if (rc)
		return rc;
	struct fmd_op *op = head;
	for (i = 0; i < n; i++, op = op->next) {
		if ((rc = op->mutate(op, t)) < 0) {
			mdb_txn_abort(t);
			return rc;
		}
	}
	fmd_crash_point(f, "before-commit");
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	rc = mdb_txn_commit(t);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	q->commit_ns += (uint64_t)(t1.tv_sec - t0.tv_sec) * 1000000000ull + (uint64_t)(t1.tv_nsec - t0.tv_nsec);
	if (rc)
		return rc == MDB_MAP_FULL ? -ENOSPC : -EIO;
	/* an ordinary commit's flush made every earlier lazy one durable */
	q->unsynced = lazy;
	fmd_crash_point(f, "after-commit");
	if (atomic_exchange(&f->rmq_dirty, false))
		removeq_kick(f->rmq);
	return 0;
}

static int run_batch(struct commit_q *q, struct fmd_op *head, uint32_t n)
{
	bool lazy = true;
	uint32_t i = 0;
	for (struct fmd_op *op = head; i < n; i++, op = op->next)
		lazy = lazy && op->lazy;
	int rc = run_batch1(q, head, n, lazy);
	if (lazy)
		store_lazy_done(q->f->st);
	return rc;
}

static void finish(struct fmd_op *op)
{
	if (op->finish) {
		op->finish(op);
	} else if (op->after && !op->commit_err) {
		/* more to do off this thread (tell other managers): then reply */
		void (*after)(struct fmd_op *) = op->after;
		op->after = NULL;
		data_pool_job(op->f->io, op, after);
	} else {
		nfs_finish(op);
	}
}

static void reply_all(struct fmd_op *head, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++) {
		struct fmd_op *next = head->next;
		finish(head);
		head = next;
	}
}

static void serve(struct commit_q *q, struct fmd_op *head, uint32_t n)
{
	int rc = run_batch(q, head, n);
	if (rc == 0) {
		reply_all(head, n);
		return;
	}
	fmd_log(LOG_WARNING, "batch of %u failed (%s); running them one by one", n, strerror(-rc));
	struct fmd_op *op = head;
	for (uint32_t i = 0; i < n; i++) {
		struct fmd_op *next = op->next;
		op->next = NULL;
		if ((rc = run_batch(q, op, 1)) < 0) {
			op->commit_err = rc;
			nfs_fail(op, op_store_status(rc));
		}
		finish(op);
		op = next;
	}
}

static void *commit_thread(void *arg)
{
	struct commit_q *q = arg;
	uint32_t max = q->f->cfg.batch_max ? q->f->cfg.batch_max : 256;

	for (;;) {
		/* spin a little before sleeping: a client's next change often
		 * comes within one round trip of our reply */
		struct timespec t0, t;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		for (;;) {
			if (atomic_load_explicit((_Atomic(struct fmd_op *) *)&q->head, memory_order_relaxed))
				break;
			clock_gettime(CLOCK_MONOTONIC, &t);
			if ((t.tv_sec - t0.tv_sec) * 1000000 + (t.tv_nsec - t0.tv_nsec) / 1000 >=
			    (long)q->f->cfg.spin_us)
				break;
			__builtin_ia32_pause();
		}
		pthread_mutex_lock(&q->mu);
		if (q->unsynced && !q->head && !q->stop) {
			/* idle for a second after a lazy commit: flush it */
			struct timespec ts;
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_sec += LAZY_SYNC_S;
			while (!q->head && !q->stop)
				if (pthread_cond_timedwait(&q->cv, &q->mu, &ts) == ETIMEDOUT)
					break;
		}
		if (q->unsynced && (!q->head || q->stop)) {
			/* idle (or stopping): make the lazy commits durable */
			pthread_mutex_unlock(&q->mu);
			if (store_sync(q->f->st) < 0)
				fmd_log(LOG_WARNING, "flushing lazy commits failed");
			q->unsynced = false;
			continue;
		}
		while (!q->head && !q->stop)
			pthread_cond_wait(&q->cv, &q->mu);
		if (!q->head && q->stop) {
			pthread_mutex_unlock(&q->mu);
			return NULL;
		}
		/* take up to max ops off the queue */
		struct fmd_op *head = q->head, *last = head;
		uint32_t n = 1;
		while (n < max && last->next) {
			last = last->next;
			n++;
		}
		q->head = last->next;
		if (!q->head)
			q->tail = NULL;
		last->next = NULL;
		pthread_mutex_unlock(&q->mu);

		serve(q, head, n);
		/* room ahead in the file, between batches (rarely: 64 MiB at a time) */
		if (q->batches % 256 == 0)
			store_prealloc(q->f->st);
		q->batches++;
		q->ops += n;
		if (n > q->max_batch)
			q->max_batch = n;
	}
}

int commit_start(struct fmd *f, struct commit_q **out)
{
	struct commit_q *q = calloc(1, sizeof(*q));
	if (!q)
		return -ENOMEM;
	q->f = f;
	pthread_mutex_init(&q->mu, NULL);
	pthread_cond_init(&q->cv, NULL);
	int rc = pthread_create(&q->thread, NULL, commit_thread, q);
	if (rc) {
		free(q);
		return -rc;
	}
	*out = q;
	return 0;
}

/* Serves what is queued, then stops; later submissions are refused. */
void commit_stop(struct commit_q *q)
{
	if (!q)
		return;
	pthread_mutex_lock(&q->mu);
	bool was = q->stop;
	q->stop = true;
	pthread_cond_signal(&q->cv);
	pthread_mutex_unlock(&q->mu);
	if (!was)
		pthread_join(q->thread, NULL);
}

void commit_free(struct commit_q *q)
{
	if (!q)
		return;
	commit_stop(q);
	pthread_mutex_destroy(&q->mu);
	pthread_cond_destroy(&q->cv);
	free(q);
}

/* ---- a synchronous commit, for threads that may wait -------------------------- */

struct waiter {
	pthread_mutex_t mu;
	pthread_cond_t  cv;
	bool            done;
};

static void wake(struct fmd_op *op)
{
	struct waiter *w = op->wctx;
	pthread_mutex_lock(&w->mu);
	w->done = true;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
}

int commit_run(struct fmd *f, struct fmd_op *op, fmd_mutate_fn mutate)
{
	struct waiter w = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false };
	void (*saved_finish)(struct fmd_op *) = op->finish;
	void (*saved_after)(struct fmd_op *) = op->after;
	void *saved_w = op->wctx;
	op->mutate = mutate;
	op->finish = wake;
	op->after = NULL;
	op->wctx = &w;
	op->commit_err = 0;
	int rc = commit_submit(f->cq, op);
	if (rc == 0) {
		pthread_mutex_lock(&w.mu);
		while (!w.done)
			pthread_cond_wait(&w.cv, &w.mu);
		pthread_mutex_unlock(&w.mu);
		rc = op->commit_err;
	}
	op->finish = saved_finish;
	op->after = saved_after;
	op->wctx = saved_w;
	return rc;
}

void commit_counters(struct commit_q *q, uint64_t *batches, uint64_t *ops, uint64_t *max_batch,
		     uint64_t *commit_ns)
{
	*commit_ns = q->commit_ns;
	*batches = q->batches;
	*ops = q->ops;
	*max_batch = q->max_batch;
}
