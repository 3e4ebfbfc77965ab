/*
 * core.c - a NetRPC instance on one Trapeze handler: creation, the upcalls
 * that route requests to the server side and replies to the client side,
 * delivery, counters.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "nrpc_internal.h"

void nrpc_config_default(struct nrpc_config *cfg)
{
	*cfg = (struct nrpc_config){
		.handler = NRPC_HANDLER, .max_calls = 16384, .credits = 8192,
		.workers = 2, .timeout_ms = 5000, .retries = 2,
	};
}

static void on_recv(struct tpz_endpoint *ep, struct tpz_rx *rx, void *arg)
{
	struct nrpc *r = arg;
	struct nrpc_hdr h;
	const char *why = nrpc_decode(rx, r->cfg.max_calls, &h);

	if (why) {
		NCTR(r, bad_requests, 1);
		/* A request we can still answer gets a clear error; anything
		 * else is dropped (and its payload freed). */
		if (rx->data_len >= NRPC_HDR_SIZE && h.kind == NRPC_REQUEST && h.caller == rx->src)
			nrpc_reply_error(r, rx->src, &h, NRPC_EBADARGS);
		tpz_rx_release(ep, rx);
		return;
	}
	if (h.kind == NRPC_REQUEST)
		nrpc_on_request(r, rx, &h);
	else
		nrpc_on_reply(r, rx, &h);
}

static void on_peer_down(struct tpz_endpoint *ep, uint32_t node, int reason, void *arg)
{
	nrpc_peer_down_calls(arg, node);
}

int nrpc_create(struct tpz_endpoint *ep, const struct nrpc_config *cfg, struct nrpc **out)
{
	struct nrpc_config def;
	struct nrpc *r;
	int rc;

	if (!ep || !out)
		return -EINVAL;
	if (!cfg) {
		nrpc_config_default(&def);
		cfg = &def;
	}
	if (cfg->max_calls == 0 || cfg->max_calls > (1u << 24) || cfg->credits == 0 || cfg->workers > 256 ||
	    cfg->handler == 0 || cfg->handler >= TPZ_HANDLER_MAX)
		return -EINVAL;
	if (!(r = calloc(1, sizeof(*r))))
		return -ENOMEM;
	r->ep = ep;
	r->cfg = *cfg;
	r->ops = calloc(65536, sizeof(*r->ops));
	r->idempotent = calloc(65536 / 8, 1);
	r->inflight = calloc(TPZ_MAX_NODES, sizeof(*r->inflight));
	if (!r->ops || !r->idempotent || !r->inflight) {
		rc = -ENOMEM;
		goto err;
	}
	pthread_mutex_init(&r->lock, NULL);
	pthread_cond_init(&r->done_cond, NULL);
	pthread_mutex_init(&r->pend_lock, NULL);
	r->pend_tail = &r->pend_head;
	if ((rc = nrpc_calls_init(r)) < 0)
		goto err;
	if ((rc = nrpc_workers_start(r)) < 0)
		goto err_calls;
	struct tpz_handler_ops ops = { .recv = on_recv, .peer_down = on_peer_down, .arg = r };
	if ((rc = tpz_handler_register(ep, cfg->handler, &ops)) < 0)
		goto err_workers;
	*out = r;
	return 0;

err_workers:
	nrpc_workers_stop(r);
err_calls:
	nrpc_calls_fini(r);
err:
	free(r->ops);
	free(r->idempotent);
	free(r->inflight);
	free(r);
	return rc;
}

void nrpc_destroy(struct nrpc *r)
{
	if (!r)
		return;
	tpz_handler_unregister(r->ep, r->cfg.handler);
	nrpc_workers_stop(r);
	nrpc_calls_fini(r);
	nrpc_pending_fini(r);
	pthread_mutex_destroy(&r->lock);
	pthread_cond_destroy(&r->done_cond);
	pthread_mutex_destroy(&r->pend_lock);
	free(r->ops);
	free(r->idempotent);
	free(r->inflight);
	free(r);
}

struct tpz_endpoint *nrpc_endpoint(struct nrpc *r)
{
	return r ? r->ep : NULL;
}

int nrpc_register(struct nrpc *r, uint16_t op, nrpc_op_fn fn, void *arg, unsigned flags)
{
	if (!r || !fn || (flags & ~NRPC_OP_BLOCKING))
		return -EINVAL;
	if (r->ops[op].used)
		return -EEXIST;
	r->ops[op] = (struct nrpc_opent){ .fn = fn, .arg = arg, .flags = flags, .used = true };
	return 0;
}

int nrpc_set_idempotent(struct nrpc *r, uint16_t op, bool on)
{
	if (!r)
		return -EINVAL;
	if (on)
		r->idempotent[op / 8] |= (uint8_t)(1u << (op % 8));
	else
		r->idempotent[op / 8] &= (uint8_t)~(1u << (op % 8));
	return 0;
}

static void tick(struct nrpc *r, bool now_please)
{
	if (atomic_load_explicit(&r->npending, memory_order_relaxed))
		nrpc_flush_pending(r);
	/* Reading even the coarse clock on every spin of a busy poll loop adds
	 * up; every 64th poll is often enough for a 1 ms tick. */
	if (!now_please && (++r->polls & 63))
		return;
	uint64_t now = nrpc_coarse_ns();
	if (now >= r->next_tick) {
		r->next_tick = now + NRPC_TICK_NS;
		nrpc_timers(r, now);
	}
}

int nrpc_poll(struct nrpc *r, int max)
{
	if (!r)
		return -EINVAL;
	int n = tpz_poll(r->ep, max);
	if (n >= 0)
		tick(r, false);
	return n;
}

int nrpc_progress(struct nrpc *r, int timeout_ms)
{
	if (!r)
		return -EINVAL;
	/* Wake for the timer scan even when nothing arrives. */
	int ms = timeout_ms < 0 || timeout_ms > 10 ? 10 : timeout_ms;
	int n = tpz_wait(r->ep, ms);
	if (n >= 0)
		tick(r, true);
	return n;
}

#define L(f) atomic_load_explicit(&r->ctr.f, memory_order_relaxed)
void nrpc_counters(struct nrpc *r, struct nrpc_counters *o)
{
	if (!r || !o)
		return;
	*o = (struct nrpc_counters){
		.calls_issued = L(calls_issued), .calls_completed = L(calls_completed),
		.calls_failed = L(calls_failed), .calls_timed_out = L(calls_timed_out), .retries = L(retries),
		.replies_wait = L(replies_wait), .replies_cont = L(replies_cont),
		.replies_deferred = L(replies_deferred), .bytes_sent = L(bytes_sent),
		.bytes_received = L(bytes_received), .late_replies = L(late_replies),
		.requests_served = L(requests_served), .requests_forwarded = L(requests_forwarded),
		.bad_requests = L(bad_requests),
	};
}

int nrpc_latency_hist(struct nrpc *r, uint16_t op, uint64_t hist[NRPC_HIST_BUCKETS])
{
	if (!r || !hist)
		return -EINVAL;
	if (op >= NRPC_HIST_OPS)
		return -ERANGE;
	for (int i = 0; i < NRPC_HIST_BUCKETS; i++)
		hist[i] = atomic_load_explicit(&r->hist[op][i], memory_order_relaxed);
	return 0;
}
