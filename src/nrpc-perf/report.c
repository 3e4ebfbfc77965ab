/*
 * report.c - the one JSON line a run prints on stdout.
 *
 * Each figure is summarised over the reps (median, min, max of the per-rep
 * values; the three figures are summarised separately, so rtt_us_min and
 * mcalls_per_s_max need not come from the same rep).  The client's counters
 * are deltas over the timed reps; the server's ("server") cover its whole
 * session, warm-up included.
 */
#include "nperf.h"

static void json_client(struct pk_json *j, const struct np_result *r)
{
	const struct np_cli_cnt *c = &r->client;

	pk_json_u64(j, "calls", r->calls);
	pk_json_u64(j, "calls_completed", c->calls_completed);
	pk_json_u64(j, "calls_failed", c->calls_failed);
	pk_json_u64(j, "calls_timed_out", c->calls_timed_out);
	pk_json_u64(j, "retries", c->retries);
	pk_json_u64(j, "late_replies", c->late_replies);
	pk_json_u64(j, "payload_copies", c->payload_copies);
	pk_json_u64(j, "payload_zero_copy", c->payload_zero_copy);
	pk_json_u64(j, "ipt_hits", c->ipt_hits);
	pk_json_u64(j, "ipt_misses", c->ipt_misses);
	pk_json_u64(j, "sleeps", c->sleeps);
	pk_json_u64(j, "wakeups_sent", c->wakeups_sent);
	pk_json_u64(j, "ring_full", c->ring_full);
}

static void json_server(struct pk_json *j, const struct np_srv_stats *s)
{
	pk_json_object(j, "server");
	pk_json_u64(j, "requests", s->requests);
	pk_json_u64(j, "lends", s->lends);
	pk_json_u64(j, "lends_failed", s->lends_failed);
	pk_json_u64(j, "payload_copies", s->payload_copies);
	pk_json_u64(j, "payload_zero_copy", s->payload_zero_copy);
	pk_json_u64(j, "sleeps", s->sleeps);
	pk_json_u64(j, "wakeups_sent", s->wakeups_sent);
	pk_json_u64(j, "errors", s->errors);
	pk_json_close(j);
}

void report_json(const struct np_opts *o, const struct np_result *r)
{
	struct pk_json j;

	pk_json_begin(&j);
	pk_json_str(&j, "test", test_name(o->test));
	pk_json_str(&j, "link", pk_link_name(o->pk.link));
	pk_json_str(&j, "mode", pk_mode_name(o->pk.mode));
	pk_json_u64(&j, "size", o->size);
	pk_json_u64(&j, "inflight", o->inflight);
	pk_json_u64(&j, "iters", o->pk.iters);
	pk_json_int(&j, "reps", r->n);
	pk_json_summary(&j, "rtt_us", r->rtt_us, r->n);
	pk_json_summary(&j, "gbytes_per_s", r->gbps, r->n);
	pk_json_summary(&j, "mcalls_per_s", r->mcps, r->n);
	json_client(&j, r);
	pk_json_u64(&j, "errors", r->errors);
	if (r->have_server)
		json_server(&j, &r->server);
	pk_json_u64(&j, "pool_frames", r->pool_frames);
	pk_json_u64(&j, "max_calls", r->max_calls);
	pk_json_end(&j);
}
