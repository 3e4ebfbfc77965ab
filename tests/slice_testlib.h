/*
 * slice_testlib.h - helpers for tests that run real slice-blockd daemons
 * and drive them through libslice.  Header-only (static functions): include
 * it after testlib.h in a test program.
 *
 * The test's client endpoint is node 1 and creates the shm fabric first
 * (so it sizes the frame pool); block servers are nodes 2.. started from
 * $BUILD_DIR/bin/slice-blockd with a data directory under /tmp, and are
 * killed and their directories removed at exit, whatever happened.
 */
#ifndef SLICE_TESTLIB_H
#define SLICE_TESTLIB_H

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "slice.h"
#include "testlib.h"

#define ST_MAX_SRV     16
#define ST_CLIENT_NODE 1u

struct st_srv {
	pid_t    pid;
	uint32_t node;
	int      port;             /* tcp port, 0 on shm */
	char     dir[160];
	enum tl_link link;
};

struct st_env {
	enum tl_link         link;
	struct tpz_endpoint *ep;
	struct nrpc         *r;
	struct slice_client *c;
	struct st_srv        srv[ST_MAX_SRV];
	uint32_t             nsrv;
	char                 secret_file[160];
	char                 base[128];
};

static struct st_env *st_env_for_exit;

/* From the watchdog: only kill(2), which is async-signal-safe. */
static void st_alarm(void)
{
	struct st_env *e = st_env_for_exit;
	for (uint32_t i = 0; e && i < e->nsrv; i++)
		if (e->srv[i].pid > 0)
			kill(e->srv[i].pid, SIGKILL);
}

static void st_cleanup(void)
{
	struct st_env *e = st_env_for_exit;
	if (!e || tl_is_child)
		return;
	for (uint32_t i = 0; i < e->nsrv; i++)
		if (e->srv[i].pid > 0) {
			kill(e->srv[i].pid, SIGKILL);
			waitpid(e->srv[i].pid, NULL, 0);
			e->srv[i].pid = 0;
		}
	if (e->base[0]) {
		char cmd[300];
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", e->base);
		if (system(cmd)) { /* best effort */ }
	}
	if (e->secret_file[0])
		unlink(e->secret_file);
}

static const char *st_bin(const char *name)
{
	static char path[512];
	const char *b = getenv("BUILD_DIR");
	snprintf(path, sizeof(path), "%s/bin/%s", b ? b : "build", name);
	return path;
}

/* Start (or restart, same node and data directory) block server i. */
static void st_start(struct st_env *e, uint32_t i, const char *extra)
{
	struct st_srv *s = &e->srv[i];
	char node[16], cache[16];
	int out[2];

	CHECK(pipe(out) == 0, "pipe");
	snprintf(node, sizeof(node), "%u", s->node);
	snprintf(cache, sizeof(cache), "%s", extra && *extra ? extra : "64");
	pid_t pid = fork();
	CHECK(pid >= 0, "fork");
	if (pid == 0) {
		dup2(out[1], 1);
		close(out[0]);
		close(out[1]);
		const char *argv[24];
		int a = 0;
		argv[a++] = "slice-blockd";
		argv[a++] = "--node"; argv[a++] = node;
		argv[a++] = "--data"; argv[a++] = s->dir;
		argv[a++] = "--cache-mb"; argv[a++] = cache;
		if (e->link == TL_SHM) {
			argv[a++] = "--fabric"; argv[a++] = tl_fabric;
			argv[a++] = "--listen"; argv[a++] = "shm";
		} else {
			argv[a++] = "--listen"; argv[a++] = "tcp://127.0.0.1:0";
			argv[a++] = "--secret-file"; argv[a++] = e->secret_file;
		}
		argv[a] = NULL;
		execv(st_bin("slice-blockd"), (char **)argv);
		_exit(127);
	}
	close(out[1]);
	s->pid = pid;
	/* Wait (bounded) for "ready node=N tcp=PORT". */
	char line[256];
	size_t n = 0;
	double end = tl_now_ms() + 10000;
	fcntl(out[0], F_SETFL, O_NONBLOCK);
	while (tl_now_ms() < end) {
		ssize_t k = read(out[0], line + n, sizeof(line) - 1 - n);
		if (k > 0) {
			n += (size_t)k;
			line[n] = 0;
			if (strchr(line, '\n'))
				break;
		} else if (k == 0) {
			break;
		}
		int st;
		CHECK(waitpid(pid, &st, WNOHANG) == 0, "slice-blockd node %u exited before ready (status 0x%x)",
		      s->node, st);
		usleep(2000);
	}
	close(out[0]);
	unsigned rn = 0, port = 0;
	CHECK(sscanf(line, "ready node=%u tcp=%u", &rn, &port) == 2 && rn == s->node,
	      "slice-blockd node %u: no ready line (got '%s')", s->node, line);
	s->port = (int)port;
	char url[64];
	if (e->link == TL_SHM)
		snprintf(url, sizeof(url), "shm");
	else
		snprintf(url, sizeof(url), "tcp://127.0.0.1:%d", s->port);
	int rc = tpz_connect(e->ep, s->node, url, 5000);
	CHECK(rc == 0, "connect to block server %u (%s): %s", s->node, url, tpz_strerror(rc));
}

static void st_kill(struct st_env *e, uint32_t i, int sig)
{
	struct st_srv *s = &e->srv[i];
	if (s->pid <= 0)
		return;
	kill(s->pid, sig);
	int st;
	waitpid(s->pid, &st, 0);
	s->pid = 0;
	/* Let the client's endpoint notice, so a restart can connect anew. */
	CHECK(POLL_UNTIL(e->ep, !tpz_peer_is_up(e->ep, s->node), 5000),
	      "block server %u still up for the client 5 s after it died", s->node);
}

static int st_connect_cb(void *arg, uint32_t node)
{
	struct st_env *e = arg;
	for (uint32_t i = 0; i < e->nsrv; i++)
		if (e->srv[i].node == node && e->srv[i].pid > 0) {
			char url[64];
			if (e->link == TL_SHM)
				snprintf(url, sizeof(url), "shm");
			else
				snprintf(url, sizeof(url), "tcp://127.0.0.1:%d", e->srv[i].port);
			return tpz_connect(e->ep, node, url, 2000);
		}
	return -ENOTCONN;
}

/* The client endpoint, NetRPC, the slice client and n block servers. */
static void st_setup(struct st_env *e, enum tl_link link, uint32_t n, const struct slice_client_config *ccfg)
{
	struct tpz_config cfg;
	struct nrpc_config ncfg;

	memset(e, 0, sizeof(*e));
	e->link = link;
	st_env_for_exit = e;
	atexit(st_cleanup);
	tl_alarm_hook = st_alarm;
	snprintf(e->base, sizeof(e->base), "/tmp/%s-%d", tl_test_name, (int)getpid());
	CHECK(mkdir(e->base, 0700) == 0, "mkdir %s", e->base);
	snprintf(e->secret_file, sizeof(e->secret_file), "%s.secret", e->base);
	FILE *f = fopen(e->secret_file, "w");
	CHECK(f && fputs(TL_SECRET, f) >= 0 && fclose(f) == 0, "secret file");
	tl_config(&cfg, ST_CLIENT_NODE, link);
	cfg.pool_frames = 4096;   /* 256 MiB of 64 KiB frames, touched only when used */
	e->ep = tl_endpoint(&cfg);
	nrpc_config_default(&ncfg);
	ncfg.workers = 1;
	CHECK_RC(nrpc_create(e->ep, &ncfg, &e->r), 0);
	struct slice_client_config cc;
	if (ccfg)
		cc = *ccfg;
	else
		slice_client_config_default(&cc);
	cc.connect = st_connect_cb;
	cc.connect_arg = e;
	CHECK_RC(slice_client_create(e->r, &cc, &e->c), 0);
	e->nsrv = n;
	for (uint32_t i = 0; i < n; i++) {
		e->srv[i].node = 2 + i;
		e->srv[i].link = link;
		snprintf(e->srv[i].dir, sizeof(e->srv[i].dir), "%s/b%u", e->base, 2 + i);
		st_start(e, i, NULL);
	}
}

static void st_teardown(struct st_env *e)
{
	for (uint32_t i = 0; i < e->nsrv; i++)
		st_kill(e, i, SIGTERM);
	slice_client_destroy(e->c);
	nrpc_destroy(e->r);
	tpz_endpoint_destroy(e->ep);
	st_cleanup();
	st_env_for_exit = NULL;
}

/* A map over all servers of the env. */
static struct slice_block_map st_map(struct st_env *e, uint64_t obj, uint32_t su)
{
	struct slice_block_map m = { .obj = obj };
	m.layout.stripe_unit = su;
	m.layout.width = e->nsrv;
	for (uint32_t i = 0; i < e->nsrv; i++)
		m.layout.servers[i] = e->srv[i].node;
	return m;
}

#endif
