/*
 * tpz-perf - measure Trapeze: round-trip latency, bandwidth, message rate,
 * over the shm and tcp links, spinning or sleeping.
 *
 * By default one command runs both ends: it forks a server (node 0, CPU 0)
 * and runs the client (node 1, CPU 1) itself, over a private shm fabric or
 * tcp on 127.0.0.1.  --listen / --peer split the two ends across hosts.
 * Results: one JSON line on stdout; progress and errors on stderr.
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "perf.h"

#define READY_TIMEOUT_MS 10000

volatile int perf_stop;
static pid_t server_pid = -1;
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

const char *mode_name(enum perf_mode m)
{
	return m == MODE_BLOCK ? "block" : "poll";
}

const char *path_name(enum perf_path p)
{
	return p == PATH_INLINE ? "inline" : p == PATH_COPY ? "copy" : "zero-copy";
}

const char *link_name(enum perf_link l)
{
	return l == LINK_TCP ? "tcp" : "shm";
}

static void on_stop(int sig)
{
	(void)sig;
	perf_stop = 1;
}

/* The watchdog: a run that hangs (a lost message, a dead peer nobody
 * noticed) ends with a clear message instead of blocking a script. */
static void on_alarm(int sig)
{
	static const char msg[] = "tpz-perf: watchdog: run took too long, giving up\n";

	(void)sig;
	if (write(2, msg, sizeof msg - 1) < 0) {
		/* nothing more to do */
	}
	if (server_pid > 0)
		kill(server_pid, SIGKILL);
	_exit(3);
}

static void signals_setup(void)
{
	struct sigaction sa = { .sa_handler = on_stop };

	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sa.sa_handler = on_alarm;
	sigaction(SIGALRM, &sa, NULL);
}

static long parse_num(const char *s, const char *what, long min, long max)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 0);
	if (errno || end == s || *end || v < min || v > max) {
		fprintf(stderr, "tpz-perf: bad %s '%s' (want %ld..%ld)\n", what, s, min, max);
		exit(2);
	}
	return v;
}

static void parse_enum(const char *s, const char *what, const char *a, const char *b,
		       const char *c, int *out, int va, int vb, int vc)
{
	if (!strcmp(s, a))
		*out = va;
	else if (!strcmp(s, b))
		*out = vb;
	else if (c && !strcmp(s, c))
		*out = vc;
	else {
		fprintf(stderr, "tpz-perf: bad %s '%s' (see --help)\n", what, s);
		exit(2);
	}
}

enum { O_LINK = 256, O_TEST, O_SIZE, O_MODE, O_ITERS, O_REPS, O_PEER, O_LISTEN, O_NODE,
       O_CPUS, O_CPUC, O_SECRET, O_INLINE, O_ZC, O_COPY, O_TIMEOUT, O_TOUCH };

static const struct option longopts[] = {
	{ "link", 1, NULL, O_LINK },       { "test", 1, NULL, O_TEST },
	{ "size", 1, NULL, O_SIZE },       { "mode", 1, NULL, O_MODE },
	{ "iters", 1, NULL, O_ITERS },     { "reps", 1, NULL, O_REPS },
	{ "peer", 1, NULL, O_PEER },       { "listen", 1, NULL, O_LISTEN },
	{ "node", 1, NULL, O_NODE },       { "cpu-server", 1, NULL, O_CPUS },
	{ "cpu-client", 1, NULL, O_CPUC }, { "secret", 1, NULL, O_SECRET },
	{ "inline", 0, NULL, O_INLINE },   { "zero-copy", 0, NULL, O_ZC },
	{ "copy", 0, NULL, O_COPY },       { "timeout", 1, NULL, O_TIMEOUT },
	{ "touch", 0, NULL, O_TOUCH },
	{ "verbose", 0, NULL, 'v' },       { "help", 0, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

static void parse_opt(struct perf_opts *o, int opt, const char *arg, long *size)
{
	int v;

	switch (opt) {
	case O_LINK:   parse_enum(arg, "link", "shm", "tcp", NULL, &v, LINK_SHM, LINK_TCP, 0);
		       o->link = v; break;
	case O_TEST:   parse_enum(arg, "test", "lat", "bw", "rate", &v, TEST_LAT, TEST_BW, TEST_RATE);
		       o->test = v; break;
	case O_MODE:   parse_enum(arg, "mode", "poll", "block", NULL, &v, MODE_POLL, MODE_BLOCK, 0);
		       o->mode = v; break;
	case O_SIZE:   *size = parse_num(arg, "size", 0, TPZ_PAYLOAD_CEIL); break;
	case O_ITERS:  o->iters = (uint64_t)parse_num(arg, "iters", 1, 1L << 40); break;
	case O_REPS:   o->reps = (int)parse_num(arg, "reps", 1, PERF_MAX_REPS); break;
	case O_PEER:   o->peer = arg; break;
	case O_LISTEN: o->listen_port = (int)parse_num(arg, "port", 0, 65535); break;
	case O_NODE:   o->node = (uint32_t)parse_num(arg, "node", 1, TPZ_MAX_NODES - 1); break;
	case O_CPUS:   o->cpu_server = (int)parse_num(arg, "cpu", 0, 4095); o->cpus_given = true; break;
	case O_CPUC:   o->cpu_client = (int)parse_num(arg, "cpu", 0, 4095); o->cpus_given = true; break;
	case O_SECRET: o->secret = arg; break;
	case O_INLINE: o->force_inline = true; break;
	case O_ZC:     o->force_zero_copy = true; break;
	case O_COPY:   o->force_copy = true; break;
	case O_TOUCH:  o->touch = true; break;
	case O_TIMEOUT: o->timeout_s = (int)parse_num(arg, "timeout", 0, 86400); break;
	case 'v':      o->verbose = true; perf_verbose = 1; break;
	case 'h':      fputs(usage, stdout); exit(0);
	default:       fputs(usage, stderr); exit(2);
	}
}

/* Sizes, paths and counts that depend on the test when not given. */
static void settle_defaults(struct perf_opts *o, long size)
{
	static const uint32_t def_size[] = { [TEST_LAT] = 128, [TEST_BW] = 65536, [TEST_RATE] = 96 };

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
	if (!o->iters)
		o->iters = o->test == TEST_LAT ? (o->mode == MODE_BLOCK ? 200 : 1000)
			 : o->test == TEST_RATE ? 200000
			 : o->path == PATH_INLINE ? 200000
			 : (256u << 20) / o->size > 64 ? (256u << 20) / o->size : 64;
	if (!o->reps)
		o->reps = o->test == TEST_LAT ? (o->mode == MODE_BLOCK ? 20 : 50) : 10;
}

static void parse_args(struct perf_opts *o, int argc, char **argv)
{
	long size = -1;
	int opt;

	*o = (struct perf_opts){
		.link = LINK_SHM, .test = TEST_LAT, .mode = MODE_POLL, .listen_port = -1,
		.node = 1, .cpu_server = 0, .cpu_client = 1, .secret = "tpz-perf-secret",
		.timeout_s = 120,
	};
	while ((opt = getopt_long(argc, argv, "vh", longopts, NULL)) != -1)
		parse_opt(o, opt, optarg, &size);
	if (optind < argc) {
		fprintf(stderr, "tpz-perf: unexpected argument '%s' (see --help)\n", argv[optind]);
		exit(2);
	}
	if (o->peer && o->listen_port >= 0) {
		fprintf(stderr, "tpz-perf: --peer and --listen exclude each other\n");
		exit(2);
	}
	if (o->peer || o->listen_port >= 0) {
		if (o->peer && strncmp(o->peer, "tcp://", 6)) {
			fprintf(stderr, "tpz-perf: --peer wants tcp://HOST:PORT\n");
			exit(2);
		}
		o->link = LINK_TCP;
	}
	settle_defaults(o, size);
}

/* ---- the two ends -------------------------------------------------------- */

static int run_server_end(const struct perf_opts *o, const char *fabric, const char *url,
			  int ready_fd, bool forever)
{
	struct tpz_endpoint *ep;
	int rc = endpoint_open(o, PERF_SERVER_NODE, fabric, "server", &ep);

	if (rc < 0)
		return rc;
	rc = server_run(o, ep, url, ready_fd, forever);
	tpz_endpoint_destroy(ep);
	return rc;
}

static int run_client_end(const struct perf_opts *o, const char *fabric, const char *url)
{
	struct tpz_endpoint *ep;
	int rc = endpoint_open(o, o->node, fabric, "client", &ep);

	if (rc < 0)
		return rc;
	if (o->size > tpz_max_payload(ep) && o->path != PATH_INLINE) {
		fprintf(stderr, "tpz-perf: --size %u is over the maximum payload %u\n",
			o->size, tpz_max_payload(ep));
		rc = -EMSGSIZE;
	} else {
		rc = client_run(o, ep, url, &result);
	}
	tpz_endpoint_destroy(ep);
	if (rc == 0)
		report_json(o, &result);
	return rc;
}

/* The forked server: dies with its parent, pinned, under its own watchdog. */
static void server_child(const struct perf_opts *o, const char *fabric, int ready_fd,
			 pid_t parent)
{
	const char *url = o->link == LINK_SHM ? "shm" : "tcp://127.0.0.1:0";
	int rc;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(1);
	signal(SIGALRM, SIG_DFL);
	alarm((unsigned)o->timeout_s);
	pin_cpu(o->cpu_server, "server");
	rc = run_server_end(o, fabric, url, ready_fd, false);
	close(ready_fd);
	_exit(rc < 0 ? 1 : 0);
}

/* Wait for the server's "PORT\n" line (0 on shm); EOF means it failed. */
static int read_ready(int fd, int *port)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	char line[32];
	ssize_t n;

	if (poll(&p, 1, READY_TIMEOUT_MS) <= 0)
		return -ETIMEDOUT;
	n = read(fd, line, sizeof line - 1);
	if (n <= 0)
		return -EPIPE;
	line[n] = '\0';
	*port = atoi(line);
	return 0;
}

static int reap_server(void)
{
	int st;

	if (server_pid <= 0)
		return 0;
	while (waitpid(server_pid, &st, 0) < 0)
		if (errno != EINTR)
			return -errno;
	server_pid = -1;
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
		return 0;
	fprintf(stderr, "tpz-perf: server end %s %d\n",
		WIFEXITED(st) ? "exited with status" : "killed by signal",
		WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
	return -ECHILD;
}

static int run_local(const struct perf_opts *o)
{
	char fabric[64], url[64];
	int fds[2], port = 0, rc;
	pid_t me = getpid();

	snprintf(fabric, sizeof fabric, "tpzperf-%d", (int)me);
	if (pipe(fds) < 0)
		return -errno;
	fflush(NULL);
	server_pid = fork();
	if (server_pid < 0)
		return -errno;
	if (server_pid == 0) {
		close(fds[0]);
		server_child(o, fabric, fds[1], me);
	}
	close(fds[1]);
	pin_cpu(o->cpu_client, "client");
	rc = read_ready(fds[0], &port);
	close(fds[0]);
	if (rc < 0) {
		fprintf(stderr, "tpz-perf: server end did not start: %s\n", tpz_strerror(rc));
		kill(server_pid, SIGKILL);
		reap_server();
		return rc;
	}
	if (o->link == LINK_SHM)
		snprintf(url, sizeof url, "shm");
	else
		snprintf(url, sizeof url, "tcp://127.0.0.1:%d", port);
	rc = run_client_end(o, fabric, url);
	if (rc < 0)
		kill(server_pid, SIGKILL);
	int rs = reap_server();
	return rc < 0 ? rc : rs;
}

int main(int argc, char **argv)
{
	struct perf_opts o;
	char url[64];
	int rc;

	parse_args(&o, argc, argv);
	signals_setup();
	if (o.listen_port >= 0) {
		if (o.cpus_given)
			pin_cpu(o.cpu_server, "server");
		snprintf(url, sizeof url, "tcp://0.0.0.0:%d", o.listen_port);
		rc = run_server_end(&o, NULL, url, -1, true);
		return rc < 0 ? 1 : 0;
	}
	alarm((unsigned)o.timeout_s);
	if (o.peer) {
		if (o.cpus_given)
			pin_cpu(o.cpu_client, "client");
		rc = run_client_end(&o, NULL, o.peer);
	} else {
		rc = run_local(&o);
	}
	return rc < 0 ? 1 : 0;
}
