/*
 * report.c - the one JSON line a run prints on stdout.
 *
 * Values are summarised over the reps (median, min, max of the per-rep
 * figures).  Counter fields at the top level are the sum of both ends'
 * deltas over the measured reps: each event is counted by exactly one end
 * (a wake-up by the end that sends it, a sleep by the end that sleeps), so
 * the sum is the whole exchange; "server" and "client" say who did what.
 */
#include <stdio.h>
#include <stdlib.h>

#include "perf.h"

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

static void print_cnt(const char *name, const struct perf_cnt *c)
{
	printf(",\"%s\":{\"wakeups_sent\":%llu,\"wakeups_suppressed\":%llu,\"sleeps\":%llu,"
	       "\"payload_copies\":%llu,\"payload_zero_copy\":%llu,\"ring_full\":%llu,"
	       "\"msgs_recv\":%llu}", name,
	       (unsigned long long)c->wakeups_sent, (unsigned long long)c->wakeups_suppressed,
	       (unsigned long long)c->sleeps, (unsigned long long)c->payload_copies,
	       (unsigned long long)c->payload_zero_copy, (unsigned long long)c->ring_full,
	       (unsigned long long)c->msgs_recv);
}

static void print_totals(const struct perf_opts *o, const struct perf_result *r)
{
	const struct perf_cnt *a = &r->client, *b = &r->server;
	uint64_t wakeups = a->wakeups_sent + b->wakeups_sent;
	double batches = r->n ? r->n : 1;
	double msgs = (double)o->iters * batches * (o->test == TEST_LAT ? 2 : 1);

	printf(",\"wakeups_sent\":%llu,\"wakeups_suppressed\":%llu,\"sleeps\":%llu,"
	       "\"payload_copies\":%llu,\"payload_zero_copy\":%llu,\"ring_full\":%llu",
	       (unsigned long long)wakeups,
	       (unsigned long long)(a->wakeups_suppressed + b->wakeups_suppressed),
	       (unsigned long long)(a->sleeps + b->sleeps),
	       (unsigned long long)(a->payload_copies + b->payload_copies),
	       (unsigned long long)(a->payload_zero_copy + b->payload_zero_copy),
	       (unsigned long long)(a->ring_full + b->ring_full));
	printf(",\"wakeups_per_batch\":%.4g,\"wakeups_per_msg\":%.4g",
	       (double)wakeups / batches, (double)wakeups / msgs);
}

void report_json(const struct perf_opts *o, const struct perf_result *r)
{
	static const char *const key[] = {
		[TEST_LAT] = "rtt_us", [TEST_BW] = "gbytes_per_s", [TEST_RATE] = "mmsgs_per_s",
	};
	struct summary s = summarize(r->val, r->n);
	const char *k = key[o->test];

	printf("{\"test\":\"%s\",\"link\":\"%s\",\"mode\":\"%s\",\"path\":\"%s\","
	       "\"touch\":%s,\"size\":%u,\"iters\":%llu,\"reps\":%d",
	       test_name(o->test), link_name(o->link), mode_name(o->mode), path_name(o->path),
	       o->touch ? "true" : "false", o->size, (unsigned long long)o->iters, r->n);
	printf(",\"%s_median\":%.4g,\"%s_min\":%.4g,\"%s_max\":%.4g",
	       k, s.median, k, s.min, k, s.max);
	print_totals(o, r);
	printf(",\"errors\":%llu", (unsigned long long)r->errors);
	print_cnt("server", &r->server);
	print_cnt("client", &r->client);
	printf("}\n");
	fflush(stdout);
}
