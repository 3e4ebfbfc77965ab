/*
 * tpz-perf - measure Trapeze: round-trip latency, bandwidth, message rate,
 * over the shm and tcp links, spinning or sleeping.
 *
 * By default one command runs both ends: it forks a server (node 0, CPU 0)
 * and runs the client (node 1, CPU 1) itself, over a private shm fabric or
 * tcp on 127.0.0.1.  --listen / --peer split the two ends across hosts.
 * Results: one JSON line on stdout; progress and errors on stderr.  The
 * options, ends and report plumbing it shares with nrpc-perf are perfkit's.
 */
#include <stdio.h>
#include <stdlib.h>

#include "perf.h"

static struct perf_result result;

static const char usage[] =
"usage: tpz-perf [options]\n"
"Measure Trapeze messaging between two processes and print one JSON line.\n"
"\n"
"  --link shm|tcp      link to measure (default shm)\n"
"  --test lat|bw|rate  lat: ping-pong round trip; bw: one-way payload stream;\n"
"                      rate: one-way stream of inline control messages (default lat)\n"
"  --size N            bytes per message.  lat/rate: up to 96 travel inline in the\n"
"                      128-byte control message, more go as a payload; bw: payload\n"
"                      bytes (default lat 128, bw 65536, rate 96)\n"
"  --mode poll|block   poll: both ends spin on tpz_poll; block: they sleep in\n"
"                      tpz_wait with spin_us = 0, so every message needs a wake-up\n"
"                      (default poll)\n"
"  --iters N           round trips per batch (lat) or messages per rep (bw, rate)\n"
"  --reps N            timed batches/reps (after one untimed warm-up)\n"
"  --zero-copy         payloads are pool frames handed over whole (default)\n"
"  --copy              payloads are ordinary memory: the engine copies them once\n"
"  --inline            force inline data (size <= 96)\n"
"  --touch             receivers read every payload (one word per cache line),\n"
"                      as a consumer would; default: handed over, not read\n"
"  --peer URL          run only the client end against tcp://HOST:PORT\n"
"  --listen PORT       run only the server end (node 0) on tcp port PORT, serving\n"
"                      clients one after another until interrupted; give it the\n"
"                      same --mode as the clients\n"
"  --node ID           the client's node id (default 1; the server is node 0)\n"
"  --cpu-server C      server CPU (default 0)\n"
"  --cpu-client C      client CPU (default 1)\n"
"  --secret S          cluster secret (default tpz-perf-secret)\n"
"  --timeout S         watchdog: give up after S seconds (default 120)\n"
"  -v, --verbose       more progress on stderr\n"
"  -h, --help          this text\n"
"\n"
"Output fields: rtt_us_* (lat), gbytes_per_s_* (bw, 1e9 B/s), mmsgs_per_s_*\n"
"(rate), each median/min/max over the reps, plus both ends' counters over the\n"
"timed part (wakeups_sent, wakeups_suppressed, sleeps, payload_copies,\n"
"payload_zero_copy, ring_full; totals, then per end).\n"
"\n"
"examples:\n"
"  tpz-perf --link shm --test lat --size 64\n"
"  tpz-perf --link shm --test bw --size 65536 --copy\n"
"  tpz-perf --link tcp --test lat --mode block\n"
"  hostA$ tpz-perf --listen 7700      hostB$ tpz-perf --peer tcp://hostA:7700 --test bw\n";

const char *test_name(enum perf_test t)
{
	return t == TEST_LAT ? "lat" : t == TEST_BW ? "bw" : "rate";
}

const char *path_name(enum perf_path p)
{
	return p == PATH_INLINE ? "inline" : p == PATH_COPY ? "copy" : "zero-copy";
}

enum { O_TEST = PK_O_TOOL, O_INLINE, O_ZC, O_COPY, O_TOUCH };

static const struct option tool_opts[] = {
	{ "test", 1, NULL, O_TEST },       { "inline", 0, NULL, O_INLINE },
	{ "zero-copy", 0, NULL, O_ZC },    { "copy", 0, NULL, O_COPY },
	{ "touch", 0, NULL, O_TOUCH },
	{ NULL, 0, NULL, 0 },
};

static bool tool_opt(void *arg, int opt, const char *val)
{
	static const char *const tests[] = { "lat", "bw", "rate" };
	struct perf_opts *o = arg;

	switch (opt) {
	case O_TEST:   o->test = (enum perf_test)(TEST_LAT + pk_parse_enum(val, "test", tests, 3)); break;
	case O_INLINE: o->force_inline = true; break;
	case O_ZC:     o->force_zero_copy = true; break;
	case O_COPY:   o->force_copy = true; break;
	case O_TOUCH:  o->touch = true; break;
	default:       return false;
	}
	return true;
}

/* Sizes, paths and counts that depend on the test when not given. */
static void settle_defaults(struct perf_opts *o)
{
	static const uint32_t def_size[] = { [TEST_LAT] = 128, [TEST_BW] = 65536, [TEST_RATE] = 96 };
	long size = o->pk.size_arg;

	o->size = size >= 0 ? (uint32_t)size : def_size[o->test];
	if (o->force_copy + o->force_zero_copy + o->force_inline > 1) {
		fprintf(stderr, "tpz-perf: --inline, --copy and --zero-copy exclude each other\n");
		exit(2);
	}
	if (o->force_copy)
		o->path = PATH_COPY;
	else if (o->force_zero_copy)
		o->path = PATH_ZERO_COPY;
	else if (o->force_inline || (o->test != TEST_BW && o->size <= TPZ_INLINE_MAX))
		o->path = PATH_INLINE;
	else
		o->path = PATH_ZERO_COPY;
	if (o->path == PATH_INLINE && o->size > TPZ_INLINE_MAX) {
		fprintf(stderr, "tpz-perf: inline data is at most %u bytes\n", TPZ_INLINE_MAX);
		exit(2);
	}
	if (o->path != PATH_INLINE && o->size == 0) {
		fprintf(stderr, "tpz-perf: a payload needs --size >= 1\n");
		exit(2);
	}
	if (!o->pk.iters)
		o->pk.iters = o->test == TEST_LAT ? (o->pk.mode == PK_MODE_BLOCK ? 200 : 1000)
			    : o->test == TEST_RATE ? 200000
			    : o->path == PATH_INLINE ? 200000
			    : (256u << 20) / o->size > 64 ? (256u << 20) / o->size : 64;
	if (!o->pk.reps)
		o->pk.reps = o->test == TEST_LAT ? (o->pk.mode == PK_MODE_BLOCK ? 20 : 50) : 10;
}

static void parse_args(struct perf_opts *o, int argc, char **argv)
{
	const struct pk_cli cli = {
		.usage = usage, .secret = "tpz-perf-secret", .opts = tool_opts,
		.opt = tool_opt, .arg = o,
	};

	*o = (struct perf_opts){ .test = TEST_LAT };
	pk_parse_args(&o->pk, argc, argv, &cli);
	settle_defaults(o);
}

/* ---- the client end's part, as perfkit runs the two ends ------------------ */

static int measure(void *arg, struct tpz_endpoint *ep, const char *url)
{
	return client_run(arg, ep, url, &result);
}

static void report(void *arg)
{
	report_json(arg, &result);
}

int main(int argc, char **argv)
{
	struct perf_opts o;

	pk_prog = "tpz-perf";
	parse_args(&o, argc, argv);
	return pk_run(&o.pk, &(const struct pk_ends){
		.fabric_prefix = "tpzperf", .stop_gently = false,
		.payload = o.path == PATH_INLINE ? 0 : o.size,
		.open = endpoint_open, .serve = server_run, .measure = measure, .report = report,
		.arg = &o,
	});
}
