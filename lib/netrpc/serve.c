/*
 * serve.c - the server side: dispatch by operation code, replies (with a
 * payload placed in the caller's buffer), delegation, and replies that must
 * wait for ring space.
 */
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "nrpc_internal.h"

/* Send a reply or forwarded request.  On the delivery path a full ring
 * cannot be waited out (we are the one who would drain it), so the message
 * waits in the pending list; a worker thread simply retries. */
static int send_or_queue(struct nrpc *r, struct tpz_send *s, bool on_worker)
{
	int rc;

	for (;;) {
		rc = tpz_send(r->ep, s);
		if (rc != -EAGAIN && rc != -ENOBUFS)
			return rc;
		if (on_worker) {
			sched_yield();
			continue;
		}
		struct nrpc_pending *p = malloc(sizeof(*p));
		if (!p)
			return -ENOMEM;
		p->next = NULL;
		memcpy(p->data, s->data, s->data_len);
		p->s = *s;
		p->s.data = p->data;
		if (s->payload) {
			p->pl = *s->payload;
			p->s.payload = &p->pl;
		}
		pthread_mutex_lock(&r->pend_lock);
		*r->pend_tail = p;
		r->pend_tail = &p->next;
		atomic_fetch_add(&r->npending, 1);
		pthread_mutex_unlock(&r->pend_lock);
		return 0;
	}
}

void nrpc_flush_pending(struct nrpc *r)
{
	pthread_mutex_lock(&r->pend_lock);
	while (r->pend_head) {
		struct nrpc_pending *p = r->pend_head;
		int rc = tpz_send(r->ep, &p->s);
		if (rc == -EAGAIN || rc == -ENOBUFS)
			break;   /* still no room: keep the order, try next poll */
		if (rc < 0) {   /* the caller went away: nothing to deliver to */
			if (p->s.payload && !(p->s.flags & TPZ_SEND_LEND))
				tpz_payload_free(r->ep, &p->pl);
			if (p->s.done)
				p->s.done(p->s.done_arg, rc);
		}
		r->pend_head = p->next;
		if (!r->pend_head)
			r->pend_tail = &r->pend_head;
		atomic_fetch_sub(&r->npending, 1);
		free(p);
	}
	pthread_mutex_unlock(&r->pend_lock);
}

void nrpc_pending_fini(struct nrpc *r)
{
	while (r->pend_head) {
		struct nrpc_pending *p = r->pend_head;
		r->pend_head = p->next;
		if (p->s.payload && !(p->s.flags & TPZ_SEND_LEND))
			tpz_payload_free(r->ep, &p->pl);
		if (p->s.done)
			p->s.done(p->s.done_arg, -ECANCELED);
		free(p);
	}
}

static int reply_msg(struct nrpc *r, uint32_t to, const struct nrpc_hdr *req_h, int status, const void *res,
		     uint32_t res_len, const struct tpz_payload *pl, uint32_t flags, tpz_done_fn done,
		     void *done_arg, bool on_worker)
{
	uint8_t data[TPZ_INLINE_MAX];
	struct nrpc_hdr h = {
		.op = req_h->op, .kind = NRPC_REPLY, .status = status, .call_id = req_h->call_id,
		.call_gen = req_h->call_gen, .caller = to, .arg_len = (uint16_t)res_len,
	};

	memcpy(data, &h, sizeof(h));
	if (res_len)
		memcpy(data + sizeof(h), res, res_len);
	bool has_pl = pl && tpz_payload_len(pl) > 0;
	struct tpz_send s = {
		.dst = to, .handler = r->cfg.handler, .data = data, .data_len = NRPC_HDR_SIZE + res_len,
		.payload = has_pl ? pl : NULL, .token = has_pl ? req_h->reply_token : 0,
		.done = done, .done_arg = done_arg, .flags = flags,
	};
	return send_or_queue(r, &s, on_worker);
}

void nrpc_reply_error(struct nrpc *r, uint32_t to, const struct nrpc_hdr *h, int status)
{
	reply_msg(r, to, h, status, NULL, 0, NULL, 0, NULL, NULL, false);
}

static bool on_worker_thread(struct nrpc *r);

int nrpc_reply(struct nrpc_req *req, int status, const void *res, uint32_t res_len,
	       const struct tpz_payload *payload, uint32_t flags, tpz_done_fn done, void *done_arg)
{
	if (!req || res_len > NRPC_INLINE_MAX || (res_len && !res) || status > 0)
		return -EINVAL;
	if (req->answered)
		return -EALREADY;
	struct nrpc_hdr h = { .op = req->op, .call_id = req->call_id, .call_gen = req->call_gen,
			      .reply_token = req->reply_token };
	int rc = reply_msg(req->r, req->caller, &h, status, res, res_len, payload, flags, done, done_arg,
			   on_worker_thread(req->r));
	if (rc == 0) {
		req->answered = true;
		NCTR(req->r, bytes_sent, tpz_payload_len(payload));
	}
	return rc;
}

int nrpc_forward(struct nrpc_req *req, uint32_t node)
{
	uint8_t data[TPZ_INLINE_MAX];

	if (!req || node >= TPZ_MAX_NODES || node == tpz_node(req->r->ep))
		return -EINVAL;
	if (req->answered)
		return -EALREADY;
	struct nrpc_hdr h = {
		.op = req->op, .kind = NRPC_REQUEST, .flags = NRPC_F_DELEGATED | (req->flags & NRPC_F_RETRY),
		.call_id = req->call_id, .call_gen = req->call_gen, .caller = req->caller,
		.arg_len = (uint16_t)req->args_len, .reply_token = req->reply_token,
	};
	memcpy(data, &h, sizeof(h));
	memcpy(data + sizeof(h), req->args, req->args_len);
	struct tpz_send s = { .dst = node, .handler = req->r->cfg.handler, .data = data,
			      .data_len = NRPC_HDR_SIZE + req->args_len,
			      .payload = req->payload.nseg ? &req->payload : NULL };
	/* Counted before it goes: the delegate's reply may reach the caller,
	 * and the caller ask for our counters, before this thread runs on. */
	NCTR(req->r, requests_forwarded, 1);
	int rc = send_or_queue(req->r, &s, on_worker_thread(req->r));
	if (rc == 0) {
		req->answered = true;
		req->payload.nseg = 0;   /* the frames went on with it */
	} else {
		atomic_fetch_sub_explicit(&req->r->ctr.requests_forwarded, 1, memory_order_relaxed);
	}
	return rc;
}

struct nrpc_req *nrpc_req_detach(struct nrpc_req *req)
{
	if (!req || req->answered)
		return NULL;
	struct nrpc_req *copy = malloc(sizeof(*copy));
	if (!copy)
		return NULL;
	*copy = *req;
	copy->args = copy->args_buf;
	copy->detached = true;
	req->detached = true;
	req->payload.nseg = 0;   /* the copy owns the frames */
	return copy;
}

void nrpc_req_free(struct nrpc_req *req)
{
	if (!req || !req->detached)
		return;
	tpz_payload_free(req->r->ep, &req->payload);
	free(req);
}

/* Run an op and make sure the caller hears back. */
void nrpc_run_op(struct nrpc *r, struct nrpc_req *req)
{
	struct nrpc_opent *o = &r->ops[req->op];

	o->fn(req, o->arg);
	NCTR(r, requests_served, 1);
	if (req->detached)
		return;
	if (!req->answered) {
		struct nrpc_hdr h = { .op = req->op, .call_id = req->call_id, .call_gen = req->call_gen };
		reply_msg(r, req->caller, &h, -EIO, NULL, 0, NULL, 0, NULL, NULL, on_worker_thread(r));
		req->answered = true;
	}
	tpz_payload_free(r->ep, &req->payload);
}

void nrpc_on_request(struct nrpc *r, struct tpz_rx *rx, const struct nrpc_hdr *h)
{
	struct nrpc_opent *o = &r->ops[h->op];

	if (!o->used) {
		NCTR(r, bad_requests, 1);
		nrpc_reply_error(r, h->caller, h, NRPC_EUNKNOWN_OP);
		tpz_rx_release(r->ep, rx);
		return;
	}
	struct nrpc_req local, *req = &local;
	if (o->flags & NRPC_OP_BLOCKING) {
		if (!(req = malloc(sizeof(*req)))) {
			nrpc_reply_error(r, h->caller, h, -ENOMEM);
			tpz_rx_release(r->ep, rx);
			return;
		}
	}
	*req = (struct nrpc_req){
		.r = r, .op = h->op, .src = rx->src, .caller = h->caller, .args_len = h->arg_len,
		.payload = rx->payload, .payload_len = rx->payload_len, .call_id = h->call_id,
		.call_gen = h->call_gen, .reply_token = h->reply_token, .flags = h->flags,
	};
	memcpy(req->args_buf, (const uint8_t *)rx->data + NRPC_HDR_SIZE, h->arg_len);
	req->args = req->args_buf;
	if (rx->flags & TPZ_F_DROPPED)
		req->payload_len = 0;
	NCTR(r, bytes_received, rx->payload_len);
	if (!(o->flags & NRPC_OP_BLOCKING)) {
		nrpc_run_op(r, req);
		return;
	}
	struct nrpc_job *job = malloc(sizeof(*job));
	if (!job) {
		nrpc_reply_error(r, h->caller, h, -ENOMEM);
		tpz_payload_free(r->ep, &req->payload);
		free(req);
		return;
	}
	job->req = req;
	nrpc_job_push(r, job);
}

static _Thread_local struct nrpc *worker_of;

void nrpc_worker_mark(struct nrpc *r)
{
	worker_of = r;
}

static bool on_worker_thread(struct nrpc *r)
{
	return worker_of == r;
}
