/*
 * removeq.c - draining the durable removal queue.
 *
 * When a file's last name goes (or its data is truncated to nothing), its
 * object is queued in the store in the same transaction (map.c), so no
 * object is forgotten whatever is killed when.  This thread takes the
 * queue in order, asks the block servers to remove each object
 * (slice_remove, through data.c), and deletes the entries that are done,
 * a batch per transaction.  When the servers are down - or the data path
 * is not there - it stops and tries again later, waiting longer each time
 * (up to a minute); a kick after each commit that queued something wakes
 * it sooner.  Removing is idempotent on the block servers, so an entry
 * removed twice (killed between the remove and the delete) does no harm.
 *
 * A kick is followed by GATHER_MS of waiting, so that a burst of unlinks
 * is drained in batches (one commit per BATCH) rather than one commit per
 * unlink competing with the unlinks themselves for the store's writer
 * and the disk.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include "data.h"

#define BATCH 64
#define GATHER_MS 50

struct removeq {
	struct fmd     *f;
	pthread_t       thread;
	pthread_mutex_t mu;
	pthread_cond_t  cv;
	bool            stop, kicked;
	uint64_t        removed;
};

/* One pass over the queue: 0 if it emptied, -errno when a removal failed. */
static int drain(struct removeq *q)
{
	struct fmd *f = q->f;
	uint64_t seq = 0, done[BATCH];
	int ndone = 0, rc = 0;

	for (;;) {
		MDB_txn *t;
		uint64_t obj;
		const void *mv;
		size_t len;
		struct slice_block_map m;

		if ((rc = store_rd(f->st, &t)))
			break;
		rc = rmq_first(f->st, t, &seq, &obj, &mv, &len);
		if (rc == 1)
			rc = map_decode(mv, len, &m) ? 2 : 1;
		store_rd_done(t);
		if (rc <= 0)
			break;
		if (rc == 1) {
			rc = data_remove(f->data, &m);
			map_free(&m);
			if (rc < 0)
				break;
		} else {
			fmd_log(LOG_ERR, "removal queue entry %llu has a bad map: dropped",
				(unsigned long long)seq);
		}
		rc = 0;
		done[ndone++] = seq++;
		if (ndone == BATCH || atomic_load(&f->stopping))
			break;
	}
	if (ndone > 0) {
		MDB_txn *t;
		int wrc = store_wr(f->st, &t);
		for (int i = 0; wrc == 0 && i < ndone; i++)
			wrc = rmq_del(f->st, t, done[i]);
		if (wrc == 0)
			wrc = mdb_txn_commit(t) ? -EIO : 0;
		else
			mdb_txn_abort(t);
		if (wrc == 0)
			q->removed += (uint64_t)ndone;
		else
			rc = wrc;
	}
	if (rc == 0 && ndone == BATCH)
		return 1;   /* more to do */
	return rc;
}

static void *removeq_thread(void *arg)
{
	struct removeq *q = arg;
	int wait_s = 0;
	bool warned = false, failing = false;

	for (;;) {
		pthread_mutex_lock(&q->mu);
		if (wait_s > 0 && !q->stop) {
			/* idle: until kicked; failing: until the backoff is over,
			 * since more files to remove do not bring servers back */
			struct timespec ts;
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_sec += wait_s;
			while (!q->stop && (failing || !q->kicked))
				if (pthread_cond_timedwait(&q->cv, &q->mu, &ts) == ETIMEDOUT)
					break;
			if (q->kicked && !failing) {
				/* let more of a burst queue up */
				clock_gettime(CLOCK_REALTIME, &ts);
				ts.tv_nsec += GATHER_MS * 1000000L;
				if (ts.tv_nsec >= 1000000000L) {
					ts.tv_sec++;
					ts.tv_nsec -= 1000000000L;
				}
				while (!q->stop)
					if (pthread_cond_timedwait(&q->cv, &q->mu, &ts) == ETIMEDOUT)
						break;
			}
		}
		bool stop = q->stop;
		q->kicked = false;
		pthread_mutex_unlock(&q->mu);
		if (stop)
			return NULL;
		int rc = drain(q);
		if (rc == 1) {
			wait_s = 0;
			continue;
		}
		if (rc < 0) {
			if (!warned)
				fmd_log(LOG_WARNING, "removal queue: objects wait (%s); retrying later",
					data_unavailable(q->f->data) ? data_unavailable(q->f->data)
								     : strerror(-rc));
			warned = true;
			wait_s = failing ? (wait_s * 2 > 60 ? 60 : wait_s * 2) : 1;
			failing = true;
		} else {
			warned = false;
			failing = false;
			wait_s = 3600;   /* idle: until kicked */
		}
	}
}

int removeq_start(struct fmd *f, struct removeq **out)
{
	struct removeq *q = calloc(1, sizeof(*q));
	if (!q)
		return -ENOMEM;
	q->f = f;
	pthread_mutex_init(&q->mu, NULL);
	pthread_cond_init(&q->cv, NULL);
	if (pthread_create(&q->thread, NULL, removeq_thread, q)) {
		free(q);
		return -EAGAIN;
	}
	*out = q;
	return 0;
}

void removeq_kick(struct removeq *q)
{
	if (!q)
		return;
	pthread_mutex_lock(&q->mu);
	q->kicked = true;
	pthread_cond_signal(&q->cv);
	pthread_mutex_unlock(&q->mu);
}

void removeq_stop(struct removeq *q)
{
	if (!q)
		return;
	pthread_mutex_lock(&q->mu);
	q->stop = true;
	pthread_cond_signal(&q->cv);
	pthread_mutex_unlock(&q->mu);
	pthread_join(q->thread, NULL);
	pthread_mutex_destroy(&q->mu);
	pthread_cond_destroy(&q->cv);
	free(q);
}
