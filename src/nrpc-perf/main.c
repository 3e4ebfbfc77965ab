/*
 * nrpc-perf - measure NetRPC: null-call round trip and rate, read and write
 * bandwidth with K calls in flight, over the shm and tcp links, spinning or
 * sleeping.
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

#include "nperf.h"

#define READY_TIMEOUT_MS 10000

volatile int np_stop;
static pid_t server_pid = -1;
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

const char *mode_name(enum np_mode m)
{
	return m == MODE_BLOCK ? "block" : "poll";
}

const char *link_name(enum np_link l)
{
	return l == LINK_TCP ? "tcp" : "shm";
}

static void on_stop(int sig)
{
	(void)sig;
	np_stop = 1;
}

/* The watchdog: a run that hangs ends with a clear message instead of
 * blocking a script. */
static void on_alarm(int sig)
{
	static const char msg[] = "nrpc-perf: watchdog: run took too long, giving up\n";

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
		fprintf(stderr, "nrpc-perf: bad %s '%s' (want %ld..%ld)\n", what, s, min, max);
		exit(2);
	}
	return v;
}

static int parse_enum(const char *s, const char *what, const char *const *names, int n)
{
	for (int i = 0; i < n; i++)
		if (!strcmp(s, names[i]))
			return i;
	fprintf(stderr, "nrpc-perf: bad %s '%s' (see --help)\n", what, s);
	exit(2);
}

enum { O_LINK = 256, O_TEST, O_SIZE, O_INFLIGHT, O_MODE, O_ITERS, O_REPS, O_PEER, O_LISTEN,
       O_NODE, O_CPUS, O_CPUC, O_SECRET, O_TIMEOUT, O_MAXCALLS, O_CALLTMO };

static const struct option longopts[] = {
	{ "link", 1, NULL, O_LINK },         { "test", 1, NULL, O_TEST },
	{ "size", 1, NULL, O_SIZE },         { "inflight", 1, NULL, O_INFLIGHT },
	{ "mode", 1, NULL, O_MODE },         { "iters", 1, NULL, O_ITERS },
	{ "reps", 1, NULL, O_REPS },         { "peer", 1, NULL, O_PEER },
	{ "listen", 1, NULL, O_LISTEN },     { "node", 1, NULL, O_NODE },
	{ "cpu-server", 1, NULL, O_CPUS },   { "cpu-client", 1, NULL, O_CPUC },
	{ "secret", 1, NULL, O_SECRET },     { "timeout", 1, NULL, O_TIMEOUT },
	{ "max-calls", 1, NULL, O_MAXCALLS }, { "call-timeout", 1, NULL, O_CALLTMO },
	{ "verbose", 0, NULL, 'v' },         { "help", 0, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

static void parse_opt(struct np_opts *o, int opt, const char *arg, long *size)
{
	static const char *const links[] = { "shm", "tcp" };
	static const char *const tests[] = { "null", "read", "write" };
	static const char *const modes[] = { "poll", "block" };

	switch (opt) {
	case O_LINK:     o->link = parse_enum(arg, "link", links, 2) ? LINK_TCP : LINK_SHM; break;
	case O_TEST:     o->test = (enum np_test)(TEST_NULL + parse_enum(arg, "test", tests, 3)); break;
	case O_MODE:     o->mode = parse_enum(arg, "mode", modes, 2) ? MODE_BLOCK : MODE_POLL; break;
	case O_SIZE:     *size = parse_num(arg, "size", 0, TPZ_PAYLOAD_CEIL); break;
	case O_INFLIGHT: o->inflight = (uint32_t)parse_num(arg, "inflight", 1, NP_MAX_INFLIGHT); break;
	case O_ITERS:    o->iters = (uint64_t)parse_num(arg, "iters", 1, 1L << 40); break;
	case O_REPS:     o->reps = (int)parse_num(arg, "reps", 1, NP_MAX_REPS); break;
	case O_PEER:     o->peer = arg; break;
	case O_LISTEN:   o->listen_port = (int)parse_num(arg, "port", 0, 65535); break;
	case O_NODE:     o->node = (uint32_t)parse_num(arg, "node", 1, TPZ_MAX_NODES - 1); break;
	case O_CPUS:     o->cpu_server = (int)parse_num(arg, "cpu", 0, 4095); o->cpus_given = true; break;
	case O_CPUC:     o->cpu_client = (int)parse_num(arg, "cpu", 0, 4095); o->cpus_given = true; break;
	case O_SECRET:   o->secret = arg; break;
	case O_TIMEOUT:  o->timeout_s = (int)parse_num(arg, "timeout", 0, 86400); break;
	case O_MAXCALLS: o->max_calls = (uint32_t)parse_num(arg, "max-calls", 2, 1L << 24); break;
	case O_CALLTMO:  o->call_timeout_ms = (int)parse_num(arg, "call-timeout", 1, 3600000); break;
	case 'v':        o->verbose = true; np_verbose = 1; break;
	case 'h':        fputs(usage, stdout); exit(0);
	default:         fputs(usage, stderr); exit(2);
	}
}

static uint64_t clamp_u64(uint64_t v, uint64_t lo, uint64_t hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}

/* Sizes and counts that depend on the test when not given: a rep is a
 * batch of back-to-back calls (inflight 1, as tpz-perf lat) or a stream of
 * up to 256 MiB (inflight > 1, as tpz-perf bw). */
static void settle_defaults(struct np_opts *o, long size)
{
	bool block = o->mode == MODE_BLOCK, one = o->inflight == 1;

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
	if (!o->iters) {
		if (o->test == TEST_NULL)
			o->iters = one ? (block ? 200 : 1000) : (block ? 20000 : 200000);
		else if (one)
			o->iters = block ? clamp_u64((16u << 20) / o->size, 16, 200)
					 : clamp_u64((64u << 20) / o->size, 64, 1000);
		else
			o->iters = clamp_u64(((block ? 64u : 256u) << 20) / o->size, 64,
					     block ? 16384 : 65536);
	}
	if (!o->reps)
		o->reps = one ? (block ? 20 : 50) : 10;
}

static void parse_args(struct np_opts *o, int argc, char **argv)
{
	long size = -1;
	int opt;

	*o = (struct np_opts){
		.link = LINK_SHM, .test = TEST_NULL, .mode = MODE_POLL, .inflight = 1,
		.listen_port = -1, .node = 1, .cpu_server = 0, .cpu_client = 1,
		.secret = "nrpc-perf-secret", .timeout_s = 120,
	};
	while ((opt = getopt_long(argc, argv, "vh", longopts, NULL)) != -1)
		parse_opt(o, opt, optarg, &size);
	if (optind < argc) {
		fprintf(stderr, "nrpc-perf: unexpected argument '%s' (see --help)\n", argv[optind]);
		exit(2);
	}
	if (o->peer && o->listen_port >= 0) {
		fprintf(stderr, "nrpc-perf: --peer and --listen exclude each other\n");
		exit(2);
	}
	if (o->peer || o->listen_port >= 0) {
		if (o->peer && strncmp(o->peer, "tcp://", 6)) {
			fprintf(stderr, "nrpc-perf: --peer wants tcp://HOST:PORT\n");
			exit(2);
		}
		o->link = LINK_TCP;
	}
	settle_defaults(o, size);
}

/* ---- the two ends -------------------------------------------------------- */

static int run_server_end(const struct np_opts *o, const char *fabric, const char *url,
			  int ready_fd, bool forever)
{
	struct tpz_endpoint *ep;
	int rc = endpoint_open(o, NP_SERVER_NODE, fabric, "server", &ep);

	if (rc < 0)
		return rc;
	rc = server_run(o, ep, url, ready_fd, forever);
	tpz_endpoint_destroy(ep);
	return rc;
}

static int run_client_end(const struct np_opts *o, const char *fabric, const char *url)
{
	struct tpz_endpoint *ep;
	int rc = endpoint_open(o, o->node, fabric, "client", &ep);

	if (rc < 0)
		return rc;
	result.pool_frames = np_pool_frames(o);
	if (o->size > tpz_max_payload(ep)) {
		fprintf(stderr, "nrpc-perf: --size %u is over the maximum payload %u\n",
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
static void server_child(const struct np_opts *o, const char *fabric, int ready_fd, pid_t parent)
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
	fprintf(stderr, "nrpc-perf: server end %s %d\n",
		WIFEXITED(st) ? "exited with status" : "killed by signal",
		WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
	return -ECHILD;
}

/* The client failed: ask the server to end (it then cleans up its endpoint
 * and shm state), and kill it only if it does not within 2 s. */
static void stop_server(void)
{
	int st;

	if (server_pid <= 0)
		return;
	kill(server_pid, SIGTERM);
	for (int i = 0; i < 200; i++) {
		pid_t p = waitpid(server_pid, &st, WNOHANG);
		if (p == server_pid || (p < 0 && errno != EINTR)) {
			server_pid = -1;
			return;
		}
		usleep(10000);
	}
	kill(server_pid, SIGKILL);
	reap_server();
}

static int run_local(const struct np_opts *o)
{
	char fabric[64], url[64];
	int fds[2], port = 0, rc;
	pid_t me = getpid();

	snprintf(fabric, sizeof fabric, "nrpcperf-%d", (int)me);
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
		fprintf(stderr, "nrpc-perf: server end did not start: %s\n", tpz_strerror(rc));
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
		stop_server();
	int rs = reap_server();
	return rc < 0 ? rc : rs;
}

int main(int argc, char **argv)
{
	struct np_opts o;
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
