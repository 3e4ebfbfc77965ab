/*
 * report.c - the one JSON line a run prints on stdout.
 *
 * Values are summarised over the reps (median, min, max of the per-rep
 * figures).  Counter fields at the top level are the sum of both ends'
 * deltas over the measured reps: each event is counted by exactly one end
 * (a wake-up by the end that sends it, a sleep by the end that sleeps), so
 * the sum is the whole exchange; "server" and "client" say who did what.
 */
#include "perf.h"

static void json_cnt(struct pk_json *j, const char *name, const struct perf_cnt *c)
{
	pk_json_object(j, name);
	pk_json_u64(j, "wakeups_sent", c->wakeups_sent);
	pk_json_u64(j, "wakeups_suppressed", c->wakeups_suppressed);
	pk_json_u64(j, "sleeps", c->sleeps);
	pk_json_u64(j, "payload_copies", c->payload_copies);
	pk_json_u64(j, "payload_zero_copy", c->payload_zero_copy);
	pk_json_u64(j, "ring_full", c->ring_full);
	pk_json_u64(j, "msgs_recv", c->msgs_recv);
	pk_json_close(j);
}

static void json_totals(struct pk_json *j, const struct perf_opts *o, const struct perf_result *r)
{
	const struct perf_cnt *a = &r->client, *b = &r->server;
	uint64_t wakeups = a->wakeups_sent + b->wakeups_sent;
	double batches = r->n ? r->n : 1;
	double msgs = (double)o->pk.iters * batches * (o->test == TEST_LAT ? 2 : 1);

	pk_json_u64(j, "wakeups_sent", wakeups);
	pk_json_u64(j, "wakeups_suppressed", a->wakeups_suppressed + b->wakeups_suppressed);
	pk_json_u64(j, "sleeps", a->sleeps + b->sleeps);
	pk_json_u64(j, "payload_copies", a->payload_copies + b->payload_copies);
	pk_json_u64(j, "payload_zero_copy", a->payload_zero_copy + b->payload_zero_copy);
	pk_json_u64(j, "ring_full", a->ring_full + b->ring_full);
	pk_json_num(j, "wakeups_per_batch", (double)wakeups / batches);
	pk_json_num(j, "wakeups_per_msg", (double)wakeups / msgs);
}

void report_json(const struct perf_opts *o, const struct perf_result *r)
{
	static const char *const key[] = {
		[TEST_LAT] = "rtt_us", [TEST_BW] = "gbytes_per_s", [TEST_RATE] = "mmsgs_per_s",
	};
	struct pk_json j;

	pk_json_begin(&j);
	pk_json_str(&j, "test", test_name(o->test));
	pk_json_str(&j, "link", pk_link_name(o->pk.link));
	pk_json_str(&j, "mode", pk_mode_name(o->pk.mode));
	pk_json_str(&j, "path", path_name(o->path));
	pk_json_bool(&j, "touch", o->touch);
	pk_json_u64(&j, "size", o->size);
	pk_json_u64(&j, "iters", o->pk.iters);
	pk_json_int(&j, "reps", r->n);
	pk_json_summary(&j, key[o->test], r->val, r->n);
	json_totals(&j, o, r);
	pk_json_u64(&j, "errors", r->errors);
	json_cnt(&j, "server", &r->server);
	json_cnt(&j, "client", &r->client);
	pk_json_end(&j);
}
