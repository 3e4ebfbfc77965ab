/*
 * nrpc-perf - measure NetRPC: null-call round trip and rate, read and write
 * bandwidth with K calls in flight, over the shm and tcp links, spinning or
 * sleeping.
 *
 * By default one command runs both ends: it forks a server (node 0, CPU 0)
 * and runs the client (node 1, CPU 1) itself, over a private shm fabric or
 * tcp on 127.0.0.1.  --listen / --peer split the two ends across hosts.
 * Results: one JSON line on stdout; progress and errors on stderr.  The
 * options, ends and report plumbing it shares with tpz-perf are perfkit's.
 */
#include <stdio.h>
#include <stdlib.h>

#include "nperf.h"

static struct np_result result;

static const char usage[] =
"usage: nrpc-perf [options]\n"
"Measure NetRPC calls between two processes and print one JSON line.\n"
"\n"
"  --link shm|tcp        link to measure (default shm)\n"
"  --test null|read|write\n"
"                        null: no arguments, no payload, status 0 back;\n"
"                        read: the server replies with --size bytes of its cache\n"
"                        (lent pool frames), placed in the caller's reply buffer;\n"
"                        write: the request carries --size bytes (pool frames)\n"
"                        that the server frees (default null)\n"
"  --size N              read/write payload bytes (default 4096; null: 0)\n"
"  --inflight K          calls kept in flight (default 1: one at a time)\n"
"  --mode poll|block     poll: both ends spin on nrpc_poll; block: they sleep in\n"
"                        nrpc_progress with Trapeze spin_us = 0 (default poll)\n"
"  --iters N             calls per rep\n"
"  --reps N              timed reps (after an untimed warm-up)\n"
"  --peer URL            run only the client end against tcp://HOST:PORT\n"
"  --listen PORT         run only the server end (node 0) on tcp port PORT,\n"
"                        serving clients one after another until interrupted;\n"
"                        give it the same --mode as the clients\n"
"  --node ID             the client's node id (default 1; the server is node 0)\n"
"  --cpu-server C        server CPU (default 0)\n"
"  --cpu-client C        client CPU (default 1)\n"
"  --secret S            cluster secret (default nrpc-perf-secret)\n"
"  --max-calls N         NetRPC call records (default NetRPC's, 16384)\n"
"  --call-timeout MS     NetRPC per-call timeout (default NetRPC's, 5000); idempotent\n"
"                        calls (null, read) are retransmitted up to twice first.\n"
"                        A call that times out ends the run with an error\n"
"  --timeout S           watchdog: give up after S seconds (default 120)\n"
"  -v, --verbose         more progress on stderr\n"
"  -h, --help            this text\n"
"\n"
"Output fields: rtt_us_* (round trip of one call: with --inflight 1 the mean\n"
"over a rep of back-to-back calls; with K in flight K x rep time / calls, the\n"
"mean time a call is in flight), gbytes_per_s_* (read/write payload bytes,\n"
"1e9 B/s), mcalls_per_s_* (million calls/s), each median/min/max over the\n"
"reps; the client's NetRPC and Trapeze counters over the timed reps\n"
"(calls_completed, calls_failed, retries, payload_copies, payload_zero_copy,\n"
"...), the server's since its session started (\"server\"), and errors (wrong\n"
"status, size or data, over the whole run; must be 0).\n"
"\n"
"examples:\n"
"  nrpc-perf --link shm --test null\n"
"  nrpc-perf --link shm --test read --size 8192 --inflight 8\n"
"  nrpc-perf --link tcp --test write --size 65536 --inflight 64 --mode block\n"
"  hostA$ nrpc-perf --listen 7710      hostB$ nrpc-perf --peer tcp://hostA:7710 --test read\n";

const char *test_name(enum np_test t)
{
	return t == TEST_READ ? "read" : t == TEST_WRITE ? "write" : "null";
}

enum { O_TEST = PK_O_TOOL, O_INFLIGHT, O_MAXCALLS, O_CALLTMO };

static const struct option tool_opts[] = {
	{ "test", 1, NULL, O_TEST },          { "inflight", 1, NULL, O_INFLIGHT },
	{ "max-calls", 1, NULL, O_MAXCALLS }, { "call-timeout", 1, NULL, O_CALLTMO },
	{ NULL, 0, NULL, 0 },
};

static bool tool_opt(void *arg, int opt, const char *val)
{
	static const char *const tests[] = { "null", "read", "write" };
	struct np_opts *o = arg;

	switch (opt) {
	case O_TEST:     o->test = (enum np_test)(TEST_NULL + pk_parse_enum(val, "test", tests, 3)); break;
	case O_INFLIGHT: o->inflight = (uint32_t)pk_parse_num(val, "inflight", 1, NP_MAX_INFLIGHT); break;
	case O_MAXCALLS: o->max_calls = (uint32_t)pk_parse_num(val, "max-calls", 2, 1L << 24); break;
	case O_CALLTMO:  o->call_timeout_ms = (int)pk_parse_num(val, "call-timeout", 1, 3600000); break;
	default:         return false;
	}
	return true;
}

static uint64_t clamp_u64(uint64_t v, uint64_t lo, uint64_t hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}

/* Sizes and counts that depend on the test when not given: a rep is a
 * batch of back-to-back calls (inflight 1, as tpz-perf lat) or a stream of
 * up to 256 MiB (inflight > 1, as tpz-perf bw). */
static void settle_defaults(struct np_opts *o)
{
	long size = o->pk.size_arg;
	bool block = o->pk.mode == PK_MODE_BLOCK, one = o->inflight == 1;

	if (o->test == TEST_NULL) {
		if (size > 0) {
			fprintf(stderr, "nrpc-perf: a null call carries no payload (--size 0)\n");
			exit(2);
		}
		o->size = 0;
	} else {
		o->size = size >= 0 ? (uint32_t)size : 4096;
		if (o->size == 0) {
			fprintf(stderr, "nrpc-perf: %s needs --size >= 1\n", test_name(o->test));
			exit(2);
		}
	}
	if (o->max_calls && o->max_calls < o->inflight + 2) {
		fprintf(stderr, "nrpc-perf: --max-calls must be at least --inflight + 2\n");
		exit(2);
	}
	if (!o->pk.iters) {
		if (o->test == TEST_NULL)
			o->pk.iters = one ? (block ? 200 : 1000) : (block ? 20000 : 200000);
		else if (one)
			o->pk.iters = block ? clamp_u64((16u << 20) / o->size, 16, 200)
					    : clamp_u64((64u << 20) / o->size, 64, 1000);
		else
			o->pk.iters = clamp_u64(((block ? 64u : 256u) << 20) / o->size, 64,
						block ? 16384 : 65536);
	}
	if (!o->pk.reps)
		o->pk.reps = one ? (block ? 20 : 50) : 10;
}

static void parse_args(struct np_opts *o, int argc, char **argv)
{
	const struct pk_cli cli = {
		.usage = usage, .secret = "nrpc-perf-secret", .opts = tool_opts,
		.opt = tool_opt, .arg = o,
	};

	*o = (struct np_opts){ .test = TEST_NULL, .inflight = 1 };
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
	result.pool_frames = np_pool_frames(arg);
	report_json(arg, &result);
}

int main(int argc, char **argv)
{
	struct np_opts o;

	pk_prog = "nrpc-perf";
	parse_args(&o, argc, argv);
	/* A failed client asks the server to end: it then cleans up its
	 * endpoint and shm state. */
	return pk_run(&o.pk, &(const struct pk_ends){
		.fabric_prefix = "nrpcperf", .stop_gently = true, .payload = o.size,
		.open = endpoint_open, .serve = server_run, .measure = measure, .report = report,
		.arg = &o,
	});
}
