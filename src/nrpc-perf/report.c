/*
 * report.c - the one JSON line a run prints on stdout.
 *
 * Each figure is summarised over the reps (median, min, max of the per-rep
 * values; the three figures are summarised separately, so rtt_us_min and
 * mcalls_per_s_max need not come from the same rep).  The client's counters
 * are deltas over the timed reps; the server's ("server") cover its whole
 * session, warm-up included.
 */
#include <stdio.h>
#include <stdlib.h>

#include "nperf.h"

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

struct summary { double median, min, max; };

static struct summary summarize(const double *v, int n)
{
	double *s = malloc(sizeof *s * (size_t)(n ? n : 1));
	struct summary r = { 0, 0, 0 };

	if (!s || n == 0) {
		free(s);
		return r;
	}
	for (int i = 0; i < n; i++)
		s[i] = v[i];
	qsort(s, (size_t)n, sizeof *s, cmp_double);
	r.median = (n & 1) ? s[n / 2] : 0.5 * (s[n / 2 - 1] + s[n / 2]);
	r.min = s[0];
	r.max = s[n - 1];
	free(s);
	return r;
}

static void print_summary(const char *k, const double *v, int n)
{
	struct summary s = summarize(v, n);

	printf(",\"%s_median\":%.4g,\"%s_min\":%.4g,\"%s_max\":%.4g", k, s.median, k, s.min, k, s.max);
}

#define U(x) ((unsigned long long)(x))

void report_json(const struct np_opts *o, const struct np_result *r)
{
	const struct np_cli_cnt *c = &r->client;
	const struct np_srv_stats *s = &r->server;

	printf("{\"test\":\"%s\",\"link\":\"%s\",\"mode\":\"%s\",\"size\":%u,\"inflight\":%u,"
	       "\"iters\":%llu,\"reps\":%d",
	       test_name(o->test), link_name(o->link), mode_name(o->mode), o->size, o->inflight,
	       U(o->iters), r->n);
	print_summary("rtt_us", r->rtt_us, r->n);
	print_summary("gbytes_per_s", r->gbps, r->n);
	print_summary("mcalls_per_s", r->mcps, r->n);
	printf(",\"calls\":%llu,\"calls_completed\":%llu,\"calls_failed\":%llu,"
	       "\"calls_timed_out\":%llu,\"retries\":%llu,\"late_replies\":%llu",
	       U(r->calls), U(c->calls_completed), U(c->calls_failed), U(c->calls_timed_out),
	       U(c->retries), U(c->late_replies));
	printf(",\"payload_copies\":%llu,\"payload_zero_copy\":%llu,\"ipt_hits\":%llu,"
	       "\"ipt_misses\":%llu,\"sleeps\":%llu,\"wakeups_sent\":%llu,\"ring_full\":%llu",
	       U(c->payload_copies), U(c->payload_zero_copy), U(c->ipt_hits), U(c->ipt_misses),
	       U(c->sleeps), U(c->wakeups_sent), U(c->ring_full));
	printf(",\"errors\":%llu", U(r->errors));
	if (r->have_server)
		printf(",\"server\":{\"requests\":%llu,\"lends\":%llu,\"lends_failed\":%llu,"
		       "\"payload_copies\":%llu,\"payload_zero_copy\":%llu,\"sleeps\":%llu,"
		       "\"wakeups_sent\":%llu,\"errors\":%llu}",
		       U(s->requests), U(s->lends), U(s->lends_failed), U(s->payload_copies),
		       U(s->payload_zero_copy), U(s->sleeps), U(s->wakeups_sent), U(s->errors));
	printf(",\"pool_frames\":%u,\"max_calls\":%u}\n", r->pool_frames, r->max_calls);
	fflush(stdout);
}
