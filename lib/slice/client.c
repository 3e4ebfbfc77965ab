/*
 * client.c - slice_client: the calls every part of the data path makes.
 *
 * Every block call is issued in NRPC_WAIT mode and collected with
 * nrpc_wait, which drives delivery itself (or sleeps while another thread
 * does), so the data path needs no thread of its own and works from any
 * thread of the front.
 */
#include <errno.h>
#include <sched.h>
#include <stdlib.h>

#include "slice_internal.h"

void slice_client_config_default(struct slice_client_config *cfg)
{
	*cfg = (struct slice_client_config){
		.readahead = 8, .dirty_max = 32u << 20, .timeout_ms = 3000, .retries = 1,
	};
}

int slice_client_create(struct nrpc *r, const struct slice_client_config *cfg, struct slice_client **out)
{
	if (!r || !out)
		return -EINVAL;
	struct slice_client *c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->r = r;
	c->ep = nrpc_endpoint(r);
	if (cfg)
		c->cfg = *cfg;
	else
		slice_client_config_default(&c->cfg);
	if (c->cfg.dirty_max < SLB_IO_MAX)
		c->cfg.dirty_max = SLB_IO_MAX;
	/* Reads and stats change nothing: NetRPC may resend them on timeout. */
	nrpc_set_idempotent(r, SLB_READ, true);
	nrpc_set_idempotent(r, SLB_STAT, true);
	nrpc_set_idempotent(r, SLB_STATFS, true);
	*out = c;
	return 0;
}

void slice_client_destroy(struct slice_client *c)
{
	free(c);
}

/* A server that is gone, unreachable or timed out: the caller sees EIO. */
int sl_lost(int rc)
{
	return rc == -ENOTCONN || rc == -ECONNRESET || rc == -ETIMEDOUT || rc == -ECANCELED ||
	       rc == -EPIPE || rc == -EHOSTUNREACH ? -EIO : rc;
}

int sl_issue(struct slice_client *c, const struct nrpc_call_desc *d, nrpc_call_t *call)
{
	return sl_issue_cont(c, d, NULL, NULL, call);
}

int sl_issue_cont(struct slice_client *c, const struct nrpc_call_desc *d, nrpc_cont_fn fn, void *arg,
		  nrpc_call_t *call)
{
	struct nrpc_call_desc dd = *d;
	uint32_t tries = 0;
	int rc;

	if (!dd.timeout_ms)
		dd.timeout_ms = c->cfg.timeout_ms;
	for (;;) {
		rc = nrpc_call_async(c->r, &dd, fn ? NRPC_CONT : NRPC_WAIT, fn, arg, call);
		if (rc == -EAGAIN) {   /* out of credit or ring space: let replies in */
			if (nrpc_progress(c->r, 1) == -EBUSY)
				sched_yield();
			continue;
		}
		if (rc == -ENOTCONN && c->cfg.connect && tries++ < c->cfg.retries &&
		    c->cfg.connect(c->cfg.connect_arg, d->dst) == 0)
			continue;
		break;
	}
	if (rc < 0)
		SCTR(c, errors, 1);
	return sl_lost(rc);
}

int sl_collect(struct slice_client *c, nrpc_call_t call, struct nrpc_result *res)
{
	int rc = nrpc_wait(c->r, call, res);
	if (rc == 0)
		rc = res->status;
	if (rc < 0 && rc != -ENOENT)   /* ENOENT: an object a server never held */
		SCTR(c, errors, 1);
	return sl_lost(rc);
}

#define L(f) atomic_load_explicit(&c->ctr.f, memory_order_relaxed)
void slice_client_counters(struct slice_client *c, struct slice_counters *o)
{
	if (!c || !o)
		return;
	*o = (struct slice_counters){
		.reads = L(reads), .read_bytes = L(read_bytes), .readahead_hits = L(readahead_hits),
		.readahead_issued = L(readahead_issued), .writes = L(writes), .write_bytes = L(write_bytes),
		.commits = L(commits), .rewrites_needed = L(rewrites_needed), .errors = L(errors),
	};
}
