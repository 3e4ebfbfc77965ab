/*
 * call.c - the client side: call records, issuing calls, matching replies,
 * continuations, timeouts and retransmission, waiting.
 *
 * A call record is named on the wire by (index, generation): a reply to a
 * record that has since been reused is recognised as late and dropped.  The
 * reply buffer is posted in the IPT under a token the server echoes; on a
 * timeout or cancel the token is cancelled before the call ends, so a late
 * reply can never write into a buffer the caller has taken back.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <time.h>

#include "nrpc_internal.h"

#define NIL UINT32_MAX

int nrpc_calls_init(struct nrpc *r)
{
	r->recs = calloc(r->cfg.max_calls, sizeof(*r->recs));
	if (!r->recs)
		return -ENOMEM;
	for (uint32_t i = 0; i < r->cfg.max_calls; i++)
		r->recs[i].next_free = i + 1 < r->cfg.max_calls ? i + 1 : NIL;
	r->free_head = 0;
	r->active_head = NIL;
	return 0;
}

static void rec_free(struct nrpc *r, struct nrpc_rec *rec)   /* under lock */
{
	r->inflight[rec->dst]--;
	r->nactive--;
	rec->state = REC_FREE;
	rec->gen++;
	rec->next_free = r->free_head;
	r->free_head = (uint32_t)(rec - r->recs);
}

/* The active list: the calls in flight, so timers and peer-down look at
 * those only, not at every record.  All under r->lock. */
static void activate(struct nrpc *r, struct nrpc_rec *rec)
{
	uint32_t idx = (uint32_t)(rec - r->recs);

	rec->state = REC_ACTIVE;
	rec->aprev = NIL;
	rec->anext = r->active_head;
	if (r->active_head != NIL)
		r->recs[r->active_head].aprev = idx;
	r->active_head = idx;
}

/* Take an ACTIVE call out of flight so that exactly one of reply, timer,
 * cancel or peer-down finishes it.  False if someone else got there first. */
static bool claim(struct nrpc *r, struct nrpc_rec *rec)
{
	if (rec->state != REC_ACTIVE)
		return false;
	rec->state = REC_CLOSING;
	if (rec->aprev != NIL)
		r->recs[rec->aprev].anext = rec->anext;
	else
		r->active_head = rec->anext;
	if (rec->anext != NIL)
		r->recs[rec->anext].aprev = rec->aprev;
	return true;
}

static uint32_t bucket(uint64_t ns)
{
	uint64_t u = ns / 125;   /* units of 125 ns */
	uint32_t b = u ? 63 - (uint32_t)__builtin_clzll(u) : 0;
	return b < NRPC_HIST_BUCKETS ? b : NRPC_HIST_BUCKETS - 1;
}

/* ---- issuing ----------------------------------------------------------------- */

static int transmit(struct nrpc *r, struct nrpc_rec *rec, uint32_t idx, const struct tpz_payload *pl,
		    uint8_t flags)
{
	uint8_t data[TPZ_INLINE_MAX];
	struct nrpc_hdr h = {
		.op = rec->op, .kind = NRPC_REQUEST, .flags = flags, .call_id = idx, .call_gen = rec->gen,
		.caller = tpz_node(r->ep), .arg_len = rec->args_len, .reply_token = rec->token,
	};

	memcpy(data, &h, sizeof(h));
	memcpy(data + sizeof(h), rec->args, rec->args_len);
	struct tpz_send s = { .dst = rec->dst, .handler = r->cfg.handler, .data = data,
			      .data_len = NRPC_HDR_SIZE + rec->args_len, .payload = pl };
	return tpz_send(r->ep, &s);
}

int nrpc_call_async(struct nrpc *r, const struct nrpc_call_desc *d, enum nrpc_mode mode,
		    nrpc_cont_fn fn, void *arg, nrpc_call_t *call)
{
	int rc;

	if (!r || !d || !call || d->args_len > NRPC_INLINE_MAX || (d->args_len && !d->args) ||
	    mode > NRPC_DEFERRED || d->dst >= TPZ_MAX_NODES || (mode != NRPC_WAIT && !fn))
		return -EINVAL;
	pthread_mutex_lock(&r->lock);
	if (r->free_head == NIL || r->inflight[d->dst] >= r->cfg.credits) {
		pthread_mutex_unlock(&r->lock);
		return -EAGAIN;
	}
	uint32_t idx = r->free_head;
	struct nrpc_rec *rec = &r->recs[idx];
	r->free_head = rec->next_free;
	r->inflight[d->dst]++;
	r->nactive++;
	/* Not ACTIVE yet: the timer scan must not see last use's deadline. */
	rec->state = REC_CLOSING;
	pthread_mutex_unlock(&r->lock);

	int tmo = d->timeout_ms ? d->timeout_ms : r->cfg.timeout_ms;
	rec->mode = (uint8_t)mode;
	rec->op = d->op;
	rec->dst = d->dst;
	rec->args_len = (uint16_t)d->args_len;
	if (d->args_len)
		memcpy(rec->args, d->args, d->args_len);
	rec->ncont = 0;
	if (fn)
		rec->cont[rec->ncont++] = (struct nrpc_cont){ fn, arg };
	memset(&rec->res, 0, sizeof(rec->res));
	/* Retransmit only what can be sent again: no request payload (its
	 * frames are gone with the first transmission). */
	bool idem = r->idempotent[d->op / 8] & (1u << (d->op % 8));
	rec->retries_left = idem && !d->payload ? r->cfg.retries : 0;
	bool timed = atomic_fetch_add_explicit(&r->sample, 1, memory_order_relaxed) % NRPC_SAMPLE == 0;
	rec->t_start = timed ? nrpc_now_ns() : 0;
	rec->tmo_ns = tmo < 0 ? UINT64_MAX : (uint64_t)tmo * 1000000ull;
	rec->deadline = tmo < 0 ? UINT64_MAX : nrpc_coarse_ns() + rec->tmo_ns;
	rec->token = 0;
	rec->has_buf = d->reply_buf != NULL;
	if (rec->has_buf) {
		rec->reply_buf = *d->reply_buf;
		/* Any sender may use it: a delegated call is answered by a third node. */
		if ((rc = tpz_ipt_post(r->ep, TPZ_NODE_ANY, d->reply_buf, rec, &rec->token)) < 0)
			goto fail;
	}
	*call = (uint64_t)rec->gen << 32 | idx;
	pthread_mutex_lock(&r->lock);
	activate(r, rec);   /* complete now: replies and timers may take it */
	pthread_mutex_unlock(&r->lock);
	if ((rc = transmit(r, rec, idx, d->payload, 0)) < 0) {
		pthread_mutex_lock(&r->lock);
		bool ours = claim(r, rec);
		pthread_mutex_unlock(&r->lock);
		if (!ours)   /* a peer-down took it already and reported it */
			return 0;
		goto fail_token;
	}
	NCTR(r, calls_issued, 1);
	NCTR(r, bytes_sent, tpz_payload_len(d->payload));
	return 0;

fail_token:
	if (rec->token)
		tpz_ipt_cancel(r->ep, rec->token);
fail:
	pthread_mutex_lock(&r->lock);
	rec_free(r, rec);
	pthread_mutex_unlock(&r->lock);
	return rc;
}

int nrpc_push_cont(struct nrpc *r, nrpc_call_t call, nrpc_cont_fn fn, void *arg)
{
	uint32_t idx = (uint32_t)call;
	int rc = 0;

	if (!r || !fn || idx >= r->cfg.max_calls)
		return -EINVAL;
	pthread_mutex_lock(&r->lock);
	struct nrpc_rec *rec = &r->recs[idx];
	if (rec->gen != (uint32_t)(call >> 32) || rec->state != REC_ACTIVE)
		rc = -ENOENT;
	else if (rec->mode == NRPC_WAIT)
		rc = -EINVAL;
	else if (rec->ncont == NRPC_CONT_MAX)
		rc = -ENOSPC;
	else
		rec->cont[rec->ncont++] = (struct nrpc_cont){ fn, arg };
	pthread_mutex_unlock(&r->lock);
	return rc;
}

/* ---- completing ---------------------------------------------------------------- */

void nrpc_run_conts(struct nrpc *r, struct nrpc_rec *rec)
{
	for (int i = rec->ncont; i-- > 0;)
		rec->cont[i].fn(r, &rec->res, rec->cont[i].arg);
}

/* The call has its result in rec->res: hand it over per its mode.  Takes
 * and releases the lock. */
static void finish(struct nrpc *r, struct nrpc_rec *rec)
{
	if (rec->t_start && rec->op < NRPC_HIST_OPS) {
		uint64_t ns = nrpc_now_ns() - rec->t_start;
		atomic_fetch_add_explicit(&r->hist[rec->op][bucket(ns)], 1, memory_order_relaxed);
	}
	NCTR(r, calls_completed, 1);
	if (rec->res.status < 0)
		NCTR(r, calls_failed, 1);
	if (rec->mode == NRPC_WAIT) {
		NCTR(r, replies_wait, 1);
		pthread_mutex_lock(&r->lock);
		rec->state = REC_DONE;
		pthread_cond_broadcast(&r->done_cond);
		pthread_mutex_unlock(&r->lock);
		return;
	}
	if (rec->mode == NRPC_CONT) {
		NCTR(r, replies_cont, 1);
		nrpc_run_conts(r, rec);
	} else {
		NCTR(r, replies_deferred, 1);
		struct nrpc_job *job = malloc(sizeof(*job));
		if (job) {
			job->req = NULL;
			job->rec = *rec;
			nrpc_job_push(r, job);
		} else {   /* no memory for the job: run them here rather than lose them */
			nrpc_run_conts(r, rec);
		}
	}
	pthread_mutex_lock(&r->lock);
	rec_free(r, rec);
	pthread_mutex_unlock(&r->lock);
}

/* End an active call with a status (timeout, peer down, cancel). */
static void fail_call(struct nrpc *r, struct nrpc_rec *rec, int status)
{
	if (rec->token)   /* from here on no late payload can touch the buffer */
		tpz_ipt_cancel(r->ep, rec->token);
	memset(&rec->res, 0, sizeof(rec->res));
	rec->res.status = status;
	rec->res.replier = rec->dst;
	finish(r, rec);
}

void nrpc_on_reply(struct nrpc *r, struct tpz_rx *rx, const struct nrpc_hdr *h)
{
	struct nrpc_rec *rec = &r->recs[h->call_id];

	pthread_mutex_lock(&r->lock);
	bool ok = rec->state == REC_ACTIVE && rec->gen == h->call_gen && rec->op == h->op &&
		  claim(r, rec);   /* ours now: timers and cancel keep off */
	pthread_mutex_unlock(&r->lock);
	if (!ok) {
		NCTR(r, late_replies, 1);
		tpz_rx_release(r->ep, rx);
		return;
	}
	struct nrpc_result *res = &rec->res;
	res->status = h->status;
	res->res_len = h->arg_len;
	memcpy(res->res, (const uint8_t *)rx->data + NRPC_HDR_SIZE, h->arg_len);
	res->replier = rx->src;
	res->payload_len = rx->payload_len;
	res->placed = rx->placed;
	if (rx->placed) {
		res->payload = rec->reply_buf;
	} else {
		if (rec->token)   /* no payload came for it: the entry is still live */
			tpz_ipt_cancel(r->ep, rec->token);
		/* Frames (no buffer named, or none echoed): the caller's now. */
		res->payload = rx->payload_len ? rx->payload : (struct tpz_payload){ 0 };
	}
	NCTR(r, bytes_received, rx->payload_len);
	finish(r, rec);
}

/* Collect (and claim) the calls in flight that match; at most max. */
static uint32_t collect(struct nrpc *r, uint32_t node, uint64_t now, uint32_t *out, uint32_t max)
{
	uint32_t n = 0;

	pthread_mutex_lock(&r->lock);
	for (uint32_t i = r->active_head; i != NIL && n < max;) {
		struct nrpc_rec *rec = &r->recs[i];
		uint32_t next = rec->anext;
		if (node != NIL ? rec->dst == node : rec->deadline <= now) {
			if (node == NIL && rec->retries_left > 0) {
				rec->retries_left--;
				rec->deadline = now + rec->tmo_ns;   /* the call's own timeout again */
				out[n++] = i | 0x80000000u;          /* retransmit, still in flight */
			} else if (claim(r, rec)) {
				out[n++] = i;
			}
		}
		i = next;
	}
	pthread_mutex_unlock(&r->lock);
	return n;
}

void nrpc_peer_down_calls(struct nrpc *r, uint32_t node)
{
	uint32_t batch[256], n;

	while ((n = collect(r, node, 0, batch, 256)) > 0)
		for (uint32_t i = 0; i < n; i++)
			fail_call(r, &r->recs[batch[i]], -ECONNRESET);
}

/* O(calls in flight) once a millisecond. */
void nrpc_timers(struct nrpc *r, uint64_t now)
{
	uint32_t batch[256], n;

	if (!r->nactive)
		return;
	do {
		n = collect(r, NIL, now, batch, 256);
		for (uint32_t i = 0; i < n; i++) {
			struct nrpc_rec *rec = &r->recs[batch[i] & 0x7fffffffu];
			if (batch[i] & 0x80000000u) {
				NCTR(r, retries, 1);
				if (transmit(r, rec, batch[i] & 0x7fffffffu, NULL, NRPC_F_RETRY) == 0)
					continue;
				pthread_mutex_lock(&r->lock);   /* could not even resend: give up */
				bool ours = claim(r, rec);
				pthread_mutex_unlock(&r->lock);
				if (!ours)
					continue;
			}
			NCTR(r, calls_timed_out, 1);
			fail_call(r, rec, -ETIMEDOUT);
		}
	} while (n == 256);
}

int nrpc_cancel(struct nrpc *r, nrpc_call_t call)
{
	uint32_t idx = (uint32_t)call;

	if (!r || idx >= r->cfg.max_calls)
		return -EINVAL;
	struct nrpc_rec *rec = &r->recs[idx];
	pthread_mutex_lock(&r->lock);
	bool hit = rec->gen == (uint32_t)(call >> 32) && claim(r, rec);
	pthread_mutex_unlock(&r->lock);
	if (!hit)
		return -ENOENT;
	fail_call(r, rec, -ECANCELED);
	return 0;
}

/* ---- waiting ------------------------------------------------------------------ */

int nrpc_wait(struct nrpc *r, nrpc_call_t call, struct nrpc_result *res)
{
	uint32_t idx = (uint32_t)call;

	if (!r || !res || idx >= r->cfg.max_calls)
		return -EINVAL;
	struct nrpc_rec *rec = &r->recs[idx];
	pthread_mutex_lock(&r->lock);
	if (rec->gen != (uint32_t)(call >> 32) || rec->state == REC_FREE || rec->mode != NRPC_WAIT) {
		pthread_mutex_unlock(&r->lock);
		return -ENOENT;
	}
	while (rec->state != REC_DONE) {
		pthread_mutex_unlock(&r->lock);
		/* Drive delivery ourselves; if another thread already does, sleep
		 * until it finishes our call (or a little while, to take over). */
		int n = nrpc_progress(r, 1);
		pthread_mutex_lock(&r->lock);
		if (n == -EBUSY && rec->state != REC_DONE) {
			struct timespec ts;
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_nsec += 1000000;
			if (ts.tv_nsec >= 1000000000) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000;
			}
			pthread_cond_timedwait(&r->done_cond, &r->lock, &ts);
		}
	}
	*res = rec->res;
	rec_free(r, rec);
	pthread_mutex_unlock(&r->lock);
	return 0;
}

int nrpc_call(struct nrpc *r, const struct nrpc_call_desc *d, struct nrpc_result *res)
{
	nrpc_call_t call;
	int rc;

	if (!res)
		return -EINVAL;
	/* Out of ring space or credit: make progress, then try again. */
	while ((rc = nrpc_call_async(r, d, NRPC_WAIT, NULL, NULL, &call)) == -EAGAIN)
		if (nrpc_poll(r, 0) == -EBUSY)
			sched_yield();
	if (rc < 0)
		return rc;
	return nrpc_wait(r, call, res);
}

void nrpc_calls_fini(struct nrpc *r)
{
	if (!r->recs)
		return;
	for (uint32_t i = 0; i < r->cfg.max_calls; i++) {
		struct nrpc_rec *rec = &r->recs[i];
		pthread_mutex_lock(&r->lock);
		bool hit = claim(r, rec);
		pthread_mutex_unlock(&r->lock);
		if (hit) {
			if (rec->mode == NRPC_DEFERRED)   /* the workers are gone: run here */
				rec->mode = NRPC_CONT;
			fail_call(r, rec, -ECANCELED);
		}
	}
	free(r->recs);
	r->recs = NULL;
}
