/*
 * ends.c - running the two ends.  By default one command runs both: it forks
 * the server end (node 0, pinned to --cpu-server) and runs the client end
 * itself (pinned to --cpu-client), over a private shm fabric or tcp on
 * 127.0.0.1; the server reports on a pipe once it listens.  --listen and
 * --peer run one end each, across hosts.  A watchdog ends any run that hangs.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "perfkit.h"

#define READY_TIMEOUT_MS 10000

static pid_t server_pid = -1;
static char alarm_msg[128];     /* written before the alarm can go off */
static size_t alarm_len;

static void on_stop(int sig)
{
	(void)sig;
	pk_stop = 1;
}

/* The watchdog: a run that hangs (a lost message, a dead peer nobody
 * noticed) ends with a clear message instead of blocking a script. */
static void on_alarm(int sig)
{
	(void)sig;
	if (write(2, alarm_msg, alarm_len) < 0) {
		/* nothing more to do */
	}
	if (server_pid > 0)
		kill(server_pid, SIGKILL);
	_exit(3);
}

static void signals_setup(void)
{
	struct sigaction sa = { .sa_handler = on_stop };
	int n = snprintf(alarm_msg, sizeof alarm_msg, "%s: watchdog: run took too long, giving up\n",
			 pk_prog);

	alarm_len = n < 0 ? 0 : (size_t)n < sizeof alarm_msg ? (size_t)n : sizeof alarm_msg - 1;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sa.sa_handler = on_alarm;
	sigaction(SIGALRM, &sa, NULL);
}

/* Each end on an endpoint of its own, destroyed before the end returns. */
static int server_end(const struct pk_ends *e, const char *fabric, const char *url,
		      int ready_fd, bool forever)
{
	struct tpz_endpoint *ep;
	int rc = e->open(e->arg, PK_SERVER_NODE, fabric, "server", &ep);

	if (rc < 0)
		return rc;
	rc = e->serve(e->arg, ep, url, ready_fd, forever);
	tpz_endpoint_destroy(ep);
	return rc;
}

/* The client end: the JSON line only once its endpoint is gone. */
static int client_end(const struct pk_opts *o, const struct pk_ends *e, const char *fabric,
		      const char *url)
{
	struct tpz_endpoint *ep;
	int rc = e->open(e->arg, o->node, fabric, "client", &ep);

	if (rc < 0)
		return rc;
	if (e->payload > tpz_max_payload(ep)) {
		fprintf(stderr, "%s: --size %u is over the maximum payload %u\n", pk_prog,
			e->payload, tpz_max_payload(ep));
		rc = -EMSGSIZE;
	} else {
		rc = e->measure(e->arg, ep, url);
	}
	tpz_endpoint_destroy(ep);
	if (rc == 0)
		e->report(e->arg);
	return rc;
}

/* The forked server: dies with its parent, pinned, under its own watchdog. */
static void server_child(const struct pk_opts *o, const struct pk_ends *e, const char *fabric,
			 int ready_fd, pid_t parent)
{
	const char *url = o->link == PK_LINK_SHM ? "shm" : "tcp://127.0.0.1:0";
	int rc;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(1);
	signal(SIGALRM, SIG_DFL);
	alarm((unsigned)o->timeout_s);
	pk_pin_cpu(o->cpu_server, "server");
	rc = server_end(e, fabric, url, ready_fd, false);
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
	fprintf(stderr, "%s: server end %s %d\n", pk_prog,
		WIFEXITED(st) ? "exited with status" : "killed by signal",
		WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
	return -ECHILD;
}

/* Ask the server to end (it then cleans up its endpoint and shm state), and
 * kill it only if it does not within 2 s. */
static void stop_server_gently(void)
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

static int run_local(const struct pk_opts *o, const struct pk_ends *e)
{
	char fabric[64], url[64];
	int fds[2], port = 0, rc;
	pid_t me = getpid();

	snprintf(fabric, sizeof fabric, "%s-%d", e->fabric_prefix, (int)me);
	if (pipe(fds) < 0)
		return -errno;
	fflush(NULL);
	server_pid = fork();
	if (server_pid < 0)
		return -errno;
	if (server_pid == 0) {
		close(fds[0]);
		server_child(o, e, fabric, fds[1], me);
	}
	close(fds[1]);
	pk_pin_cpu(o->cpu_client, "client");
	rc = read_ready(fds[0], &port);
	close(fds[0]);
	if (rc < 0) {
		fprintf(stderr, "%s: server end did not start: %s\n", pk_prog, tpz_strerror(rc));
		kill(server_pid, SIGKILL);
		reap_server();
		return rc;
	}
	if (o->link == PK_LINK_SHM)
		snprintf(url, sizeof url, "shm");
	else
		snprintf(url, sizeof url, "tcp://127.0.0.1:%d", port);
	rc = client_end(o, e, fabric, url);
	if (rc < 0 && e->stop_gently)
		stop_server_gently();
	else if (rc < 0)
		kill(server_pid, SIGKILL);
	int rs = reap_server();
	return rc < 0 ? rc : rs;
}

int pk_run(const struct pk_opts *o, const struct pk_ends *e)
{
	char url[64];
	int rc;

	signals_setup();
	if (o->listen_port >= 0) {
		if (o->cpus_given)
			pk_pin_cpu(o->cpu_server, "server");
		snprintf(url, sizeof url, "tcp://0.0.0.0:%d", o->listen_port);
		rc = server_end(e, NULL, url, -1, true);
		return rc < 0 ? 1 : 0;
	}
	alarm((unsigned)o->timeout_s);
	if (o->peer) {
		if (o->cpus_given)
			pk_pin_cpu(o->cpu_client, "client");
		rc = client_end(o, e, NULL, o->peer);
	} else {
		rc = run_local(o, e);
	}
	return rc < 0 ? 1 : 0;
}
