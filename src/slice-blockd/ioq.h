/*
 * ioq.h - slice-blockd's I/O threads: jobs that may wait for the disk run
 * here, never on the delivery path (the thread that polls the endpoint).
 * First in, first out; any number of threads.
 */
#ifndef BLOCKD_IOQ_H
#define BLOCKD_IOQ_H

#include <pthread.h>
#include <stdbool.h>

struct ioq_job {
	struct ioq_job *next;
	void          (*run)(struct ioq_job *job);   /* owns (frees) the job */
};

struct ioq {
	pthread_mutex_t lock;
	pthread_cond_t  work;
	struct ioq_job *head, **tail;
	unsigned        queued, running;
	bool            stopping;
	pthread_t      *threads;
	unsigned        nthreads;
};

int  ioq_start(struct ioq *q, unsigned nthreads);
void ioq_push(struct ioq *q, struct ioq_job *job);
/* Jobs queued or running. */
unsigned ioq_busy(struct ioq *q);
/* Run what is queued, then end the threads. */
void ioq_stop(struct ioq *q);

#endif
