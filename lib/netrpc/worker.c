/*
 * worker.c - the worker pool: blocking server operations and deferred
 * continuations run here, off the delivery path.
 */
#include <errno.h>
#include <stdlib.h>

#include "nrpc_internal.h"

static void run_job(struct nrpc *r, struct nrpc_job *job)
{
	if (job->req) {
		/* A detached request is a copy: this one is always ours. */
		nrpc_run_op(r, job->req);
		free(job->req);
	} else {
		nrpc_run_conts(r, &job->rec);
	}
	free(job);
}

static void *worker_main(void *arg)
{
	struct nrpc *r = arg;

	nrpc_worker_mark(r);
	pthread_mutex_lock(&r->wlock);
	for (;;) {
		while (!r->jobs && !r->stopping)
			pthread_cond_wait(&r->wcond, &r->wlock);
		struct nrpc_job *job = r->jobs;
		if (!job)
			break;   /* stopping, and the queue is drained */
		r->jobs = job->next;
		if (!r->jobs)
			r->jobs_tail = &r->jobs;
		pthread_mutex_unlock(&r->wlock);
		run_job(r, job);
		pthread_mutex_lock(&r->wlock);
	}
	pthread_mutex_unlock(&r->wlock);
	return NULL;
}

int nrpc_workers_start(struct nrpc *r)
{
	pthread_mutex_init(&r->wlock, NULL);
	pthread_cond_init(&r->wcond, NULL);
	r->jobs_tail = &r->jobs;
	r->threads = calloc(r->cfg.workers ? r->cfg.workers : 1, sizeof(*r->threads));
	if (!r->threads)
		return -ENOMEM;
	for (uint32_t i = 0; i < r->cfg.workers; i++) {
		int rc = pthread_create(&r->threads[i], NULL, worker_main, r);
		if (rc) {
			nrpc_workers_stop(r);
			return -rc;
		}
		r->nthreads++;
	}
	return 0;
}

void nrpc_workers_stop(struct nrpc *r)
{
	pthread_mutex_lock(&r->wlock);
	r->stopping = true;
	pthread_cond_broadcast(&r->wcond);
	pthread_mutex_unlock(&r->wlock);
	for (uint32_t i = 0; i < r->nthreads; i++)
		pthread_join(r->threads[i], NULL);
	r->nthreads = 0;
	free(r->threads);
	r->threads = NULL;
	/* With no workers (workers = 0) jobs could still be queued: run them. */
	while (r->jobs) {
		struct nrpc_job *job = r->jobs;
		r->jobs = job->next;
		run_job(r, job);
	}
	pthread_mutex_destroy(&r->wlock);
	pthread_cond_destroy(&r->wcond);
}

int nrpc_job_push(struct nrpc *r, struct nrpc_job *job)
{
	job->next = NULL;
	pthread_mutex_lock(&r->wlock);
	*r->jobs_tail = job;
	r->jobs_tail = &job->next;
	pthread_cond_signal(&r->wcond);
	pthread_mutex_unlock(&r->wlock);
	return 0;
}
