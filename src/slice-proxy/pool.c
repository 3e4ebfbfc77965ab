/*
 * pool.c - the worker threads: forwarded calls are sent from here (a send
 * or a connect may wait) and READ/WRITE/COMMIT run here (they wait on
 * block servers); the RPC loop never blocks.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

#include "proxy.h"

struct job {
	pool_fn     fn;
	void       *arg;
	struct job *next;
};

struct pool {
	pthread_mutex_t mu;
	pthread_cond_t  cv;
	struct job     *head, *tail;
	bool            stop;
	pthread_t      *threads;
	uint32_t        n;
};

static void *worker(void *arg)
{
	struct pool *p = arg;
	for (;;) {
		pthread_mutex_lock(&p->mu);
		while (!p->head && !p->stop)
			pthread_cond_wait(&p->cv, &p->mu);
		struct job *j = p->head;
		if (!j) {
			pthread_mutex_unlock(&p->mu);
			return NULL;
		}
		p->head = j->next;
		if (!p->head)
			p->tail = NULL;
		pthread_mutex_unlock(&p->mu);
		j->fn(j->arg);
		free(j);
	}
}

int pool_submit(struct pool *p, pool_fn fn, void *arg)
{
	struct job *j = malloc(sizeof(*j));
	if (!j)
		return -ENOMEM;
	j->fn = fn;
	j->arg = arg;
	j->next = NULL;
	pthread_mutex_lock(&p->mu);
	if (p->stop) {
		pthread_mutex_unlock(&p->mu);
		free(j);
		return -ESHUTDOWN;
	}
	if (p->tail)
		p->tail->next = j;
	else
		p->head = j;
	p->tail = j;
	pthread_cond_signal(&p->cv);
	pthread_mutex_unlock(&p->mu);
	return 0;
}

int pool_start(uint32_t n, struct pool **out)
{
	struct pool *p = calloc(1, sizeof(*p));
	if (!p || !(p->threads = calloc(n, sizeof(pthread_t)))) {
		free(p);
		return -ENOMEM;
	}
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv, NULL);
	for (uint32_t i = 0; i < n; i++) {
		if (pthread_create(&p->threads[i], NULL, worker, p))
			break;
		p->n++;
	}
	if (p->n == 0) {
		free(p->threads);
		free(p);
		return -EAGAIN;
	}
	*out = p;
	return 0;
}

void pool_stop(struct pool *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->mu);
	p->stop = true;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
	for (uint32_t i = 0; i < p->n; i++)
		pthread_join(p->threads[i], NULL);
	free(p->threads);
	free(p);
}
