/*
 * ioq.c - the I/O threads (see ioq.h).
 */
#include <errno.h>
#include <stdlib.h>

#include "ioq.h"

static void *ioq_main(void *arg)
{
	struct ioq *q = arg;

	pthread_mutex_lock(&q->lock);
	for (;;) {
		while (!q->head && !q->stopping)
			pthread_cond_wait(&q->work, &q->lock);
		struct ioq_job *job = q->head;
		if (!job)
			break;   /* stopping and drained */
		q->head = job->next;
		if (!q->head)
			q->tail = &q->head;
		q->queued--;
		q->running++;
		pthread_mutex_unlock(&q->lock);
		job->run(job);
		pthread_mutex_lock(&q->lock);
		q->running--;
	}
	pthread_mutex_unlock(&q->lock);
	return NULL;
}

int ioq_start(struct ioq *q, unsigned nthreads)
{
	*q = (struct ioq){ .tail = &q->head };
	pthread_mutex_init(&q->lock, NULL);
	pthread_cond_init(&q->work, NULL);
	if (!(q->threads = calloc(nthreads ? nthreads : 1, sizeof(*q->threads))))
		return -ENOMEM;
	for (unsigned i = 0; i < nthreads; i++) {
		int rc = pthread_create(&q->threads[i], NULL, ioq_main, q);
		if (rc) {
			ioq_stop(q);
			return -rc;
		}
		q->nthreads++;
	}
	return 0;
}

void ioq_push(struct ioq *q, struct ioq_job *job)
{
	job->next = NULL;
	pthread_mutex_lock(&q->lock);
	*q->tail = job;
	q->tail = &job->next;
	q->queued++;
	pthread_cond_signal(&q->work);
	pthread_mutex_unlock(&q->lock);
}

unsigned ioq_busy(struct ioq *q)
{
	pthread_mutex_lock(&q->lock);
	unsigned n = q->queued + q->running;
	pthread_mutex_unlock(&q->lock);
	return n;
}

void ioq_stop(struct ioq *q)
{
	pthread_mutex_lock(&q->lock);
	q->stopping = true;
	pthread_cond_broadcast(&q->work);
	pthread_mutex_unlock(&q->lock);
	for (unsigned i = 0; i < q->nthreads; i++)
		pthread_join(q->threads[i], NULL);
	free(q->threads);
	q->threads = NULL;
	q->nthreads = 0;
	pthread_mutex_destroy(&q->lock);
	pthread_cond_destroy(&q->work);
}
