/*
 * cluster_testlib.h - a local Slice cluster for tests of the fronts: N
 * slice-blockd and M slice-fmd processes on the test's shm fabric, and
 * the cluster file (slice_cluster.h) that describes them, which the code
 * under test (slice_vol_open, slicefs, slice-proxy) loads.  Kill and
 * restart of one node.  Header-only: include after testlib.h.
 *
 *   struct ct_cluster *c = ct_start(4, 2, NULL);   4 block servers, 2 managers
 *   ... slice_vol_open with cfg.cluster_file = c->file ...
 *   ct_kill(c, ct_blockd(c, 1));  ct_restart(c, ct_blockd(c, 1));
 *   ct_stop(c);                   (also done at exit and by the watchdog)
 *
 * Layout: the test's own endpoint (node 1) makes the fabric with room for
 * every node id of the cluster (client ids 32-63 included) and stays on
 * it, so tests can talk to the daemons directly (c->ep).  Managers are nodes 2.., block
 * servers 10.., all on shm; each manager listens for NFS and MOUNT on one
 * loopback port, chosen at the first start and kept across restarts (the
 * cluster file names it).  Managers run --no-root-squash --root-mode 0777
 * --sync none (a kill -9 loses nothing; only a power cut would).
 * Everything lives under /tmp/<test>-<pid>/ and is removed at exit.
 */
#ifndef CLUSTER_TESTLIB_H
#define CLUSTER_TESTLIB_H

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "slice_cluster.h"
#include "testlib.h"

#define CT_MAX_BLOCKD   16
#define CT_MAX_FMD      8
#define CT_TEST_NODE    1u
#define CT_FMD_NODE0    2u
#define CT_BLOCKD_NODE0 10u
#define CT_CLIENT_LO    32u
#define CT_CLIENT_HI    63u

enum ct_role { CT_BLOCKD = 1, CT_FMD = 2 };

struct ct_node {
	enum ct_role role;
	uint32_t     index, node;
	pid_t        pid;            /* 0: not running */
	uint16_t     port;           /* fmd: NFS + MOUNT port */
	char         dir[240];
	char         log[250];
	char         args[1600];     /* fmd: its options (kept for restarts) */
};

struct ct_cluster {
	char     base[160];          /* /tmp/<test>-<pid> */
	char     file[200];          /* the cluster file */
	char     secret[200];
	uint32_t nblockd, nfmd, stripe_unit;
	struct ct_node blockd[CT_MAX_BLOCKD];
	struct ct_node fmd[CT_MAX_FMD];
	struct tpz_endpoint *ep;     /* the test's endpoint, node 1 */
};

static struct ct_cluster *ct_current;

/* Watchdog: kill(2) only (async-signal-safe). */
static void ct_alarm(void)
{
	struct ct_cluster *c = ct_current;
	if (!c)
		return;
	for (uint32_t i = 0; i < c->nblockd; i++)
		if (c->blockd[i].pid > 0)
			kill(c->blockd[i].pid, SIGKILL);
	for (uint32_t i = 0; i < c->nfmd; i++)
		if (c->fmd[i].pid > 0)
			kill(c->fmd[i].pid, SIGKILL);
}

static void ct_cleanup(void)
{
	struct ct_cluster *c = ct_current;
	if (!c || tl_is_child)
		return;
	ct_alarm();
	for (uint32_t i = 0; i < c->nblockd; i++)
		if (c->blockd[i].pid > 0) {
			waitpid(c->blockd[i].pid, NULL, 0);
			c->blockd[i].pid = 0;
		}
	for (uint32_t i = 0; i < c->nfmd; i++)
		if (c->fmd[i].pid > 0) {
			waitpid(c->fmd[i].pid, NULL, 0);
			c->fmd[i].pid = 0;
		}
	if (c->base[0] && !getenv("CT_KEEP")) {
		char cmd[200];
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", c->base);
		if (system(cmd)) { /* best effort */ }
	}
}

static inline const char *ct_bin(const char *name)
{
	static char path[512];
	const char *b = getenv("BUILD_DIR");
	snprintf(path, sizeof(path), "%s/bin/%s", b ? b : "build", name);
	return path;
}

static inline struct ct_node *ct_blockd(struct ct_cluster *c, uint32_t i)
{
	CHECK(i < c->nblockd, "no block server %u", i);
	return &c->blockd[i];
}

static inline struct ct_node *ct_fmd(struct ct_cluster *c, uint32_t i)
{
	CHECK(i < c->nfmd, "no manager %u", i);
	return &c->fmd[i];
}

/* A loopback TCP port that is free now (the manager binds it with
 * SO_REUSEADDR, so a restart gets it back). */
static inline uint16_t ct_free_port(void)
{
	int s = socket(AF_INET, SOCK_STREAM, 0);
	CHECK(s >= 0, "socket");
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	CHECK(bind(s, (struct sockaddr *)&a, sizeof(a)) == 0 && getsockname(s, (struct sockaddr *)&a, &len) == 0,
	      "bind a free port");
	close(s);
	return ntohs(a.sin_port);
}

/* Start n (again, if it ran before: same data, node and port); waits for
 * its ready line (bounded) and fails the test without one. */
static inline void ct_restart(struct ct_cluster *c, struct ct_node *n)
{
	CHECK(n->pid <= 0, "node %u is running", n->node);
	int out[2];
	CHECK(pipe(out) == 0, "pipe");
	pid_t pid = fork();
	CHECK(pid >= 0, "fork");
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);   /* never outlive the test */
		if (getppid() == 1)
			_exit(127);
		char *argv[72], node[16], buf[1700];
		int a = 0;
		snprintf(node, sizeof(node), "%u", n->node);
		if (n->role == CT_BLOCKD) {
			argv[a++] = "slice-blockd";
			argv[a++] = "--node"; argv[a++] = node;
			argv[a++] = "--data"; argv[a++] = n->dir;
			argv[a++] = "--cache-mb"; argv[a++] = "16";
			argv[a++] = "--fabric"; argv[a++] = tl_fabric;
			argv[a++] = "--listen"; argv[a++] = "shm";
		} else {
			argv[a++] = "slice-fmd";
			snprintf(buf, sizeof(buf), "%s", n->args);
			for (char *tok = strtok(buf, " "); tok && a < 70; tok = strtok(NULL, " "))
				argv[a++] = tok;
		}
		argv[a] = NULL;
		dup2(out[1], 1);
		close(out[0]);
		close(out[1]);
		int fd = open(n->log, O_WRONLY | O_CREAT | O_APPEND, 0644);
		if (fd >= 0)
			dup2(fd, 2);
		execv(ct_bin(argv[0]), argv);
		_exit(127);
	}
	close(out[1]);
	char line[160] = { 0 };
	size_t got = 0;
	double end = tl_now_ms() + 15000;
	while (got < sizeof(line) - 1 && !strchr(line, '\n') && tl_now_ms() < end) {
		struct pollfd p = { .fd = out[0], .events = POLLIN };
		if (poll(&p, 1, 100) <= 0)
			continue;
		ssize_t k = read(out[0], line + got, sizeof(line) - 1 - got);
		if (k <= 0)
			break;
		got += (size_t)k;
	}
	close(out[0]);
	if (strncmp(line, "ready", 5) != 0) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		char cmd[300];
		snprintf(cmd, sizeof(cmd), "tail -20 '%s' >&2", n->log);
		if (system(cmd)) { /* shown if possible */ }
		CHECK(false, "%s node %u did not get ready (got '%s')",
		      n->role == CT_BLOCKD ? "slice-blockd" : "slice-fmd", n->node, line);
	}
	n->pid = pid;
}

/* SIGKILL n and reap it; the test's endpoint waits (bounded) until it sees
 * it down, so that a restart is connected anew. */
static inline void ct_kill(struct ct_cluster *c, struct ct_node *n)
{
	if (n->pid <= 0)
		return;
	kill(n->pid, SIGKILL);
	waitpid(n->pid, NULL, 0);
	n->pid = 0;
	double end = tl_now_ms() + 3000;
	while (tpz_peer_is_up(c->ep, n->node) && tl_now_ms() < end) {
		tpz_poll(c->ep, 0);
		usleep(1000);
	}
}

/* SIGTERM n and wait (bounded; then SIGKILL): its exit status, -1 if it
 * had to be killed. */
static inline int ct_term(struct ct_node *n)
{
	int st = -1;
	if (n->pid <= 0)
		return -1;
	kill(n->pid, SIGTERM);
	for (int i = 0; i < 400; i++) {
		if (waitpid(n->pid, &st, WNOHANG) == n->pid) {
			n->pid = 0;
			return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
		}
		usleep(25000);
	}
	kill(n->pid, SIGKILL);
	waitpid(n->pid, NULL, 0);
	n->pid = 0;
	return -1;
}

static inline bool ct_alive(struct ct_node *n)
{
	return n->pid > 0 && waitpid(n->pid, NULL, WNOHANG) == 0;
}

/* The cluster file (slice_cluster_save). */
static inline void ct_write_file(struct ct_cluster *c)
{
	struct slice_cluster *sc = calloc(1, sizeof(*sc));
	CHECK(sc, "memory");
	CHECK(strlen(tl_fabric) < sizeof(sc->name), "fabric name %s too long", tl_fabric);
	memcpy(sc->name, tl_fabric, strlen(tl_fabric) + 1);
	snprintf(sc->volume, sizeof(sc->volume), "vol");
	snprintf(sc->export_path, sizeof(sc->export_path), "/slice");
	snprintf(sc->secret_file, sizeof(sc->secret_file), "%s", c->secret);
	snprintf(sc->allow, sizeof(sc->allow), "127.0.0.0/8");
	sc->stripe_unit = c->stripe_unit;
	sc->client_lo = CT_CLIENT_LO;
	sc->client_hi = CT_CLIENT_HI;
	sc->managers = c->nfmd;
	for (uint32_t i = 0; i < c->nblockd; i++) {
		struct slice_cluster_node *n = &sc->nodes[sc->nnodes++];
		*n = (struct slice_cluster_node){ .role = SLICE_ROLE_BLOCKD, .index = i, .node = c->blockd[i].node,
						  .cache_mb = 16 };
		snprintf(n->host, sizeof(n->host), "local");
		snprintf(n->tpz, sizeof(n->tpz), "shm");
		snprintf(n->data, sizeof(n->data), "%s", c->blockd[i].dir);
	}
	for (uint32_t i = 0; i < c->nfmd; i++) {
		struct slice_cluster_node *n = &sc->nodes[sc->nnodes++];
		*n = (struct slice_cluster_node){ .role = SLICE_ROLE_FMD, .index = i, .node = c->fmd[i].node };
		snprintf(n->host, sizeof(n->host), "local");
		snprintf(n->tpz, sizeof(n->tpz), "shm");
		snprintf(n->nfs, sizeof(n->nfs), "127.0.0.1:%u", c->fmd[i].port);
		snprintf(n->data, sizeof(n->data), "%s", c->fmd[i].dir);
	}
	CHECK_RC(slice_cluster_save(sc, c->file), 0);
	free(sc);
}

/*
 * Start a cluster of nblockd block servers and nfmd managers (stripe unit
 * 64 KiB); fmd_extra: more slice-fmd options for every manager (NULL:
 * none).  Fails the test if a daemon does not come up.
 */
static inline struct ct_cluster *ct_start_su(uint32_t nblockd, uint32_t nfmd, uint32_t stripe_unit,
					     const char *fmd_extra)
{
	CHECK(nblockd >= 1 && nblockd <= CT_MAX_BLOCKD && nfmd >= 1 && nfmd <= CT_MAX_FMD, "cluster size");
	CHECK(!ct_current, "one cluster per test");
	struct ct_cluster *c = calloc(1, sizeof(*c));
	CHECK(c, "memory");
	c->nblockd = nblockd;
	c->nfmd = nfmd;
	c->stripe_unit = stripe_unit;
	snprintf(c->base, sizeof(c->base), "/tmp/%s-%d", tl_test_name, (int)getpid());
	CHECK(mkdir(c->base, 0700) == 0, "mkdir %s: %s", c->base, strerror(errno));
	ct_current = c;
	atexit(ct_cleanup);
	tl_alarm_hook = ct_alarm;
	snprintf(c->file, sizeof(c->file), "%s/cluster.conf", c->base);
	snprintf(c->secret, sizeof(c->secret), "%s/secret", c->base);
	FILE *fp = fopen(c->secret, "w");
	CHECK(fp && fputs(TL_SECRET "\n", fp) >= 0 && fclose(fp) == 0, "secret file");

	/* the fabric, with a slot for every node id a client may take */
	struct tpz_config cfg;
	tl_config(&cfg, CT_TEST_NODE, TL_SHM);
	cfg.fabric_nodes = SLICE_CLUSTER_NODE_IDS;
	cfg.pool_frames = 4096;   /* 256 MiB of 64 KiB frames, touched only when used */
	c->ep = tl_endpoint(&cfg);
	CHECK_RC(tpz_listen(c->ep, "shm"), 0);

	for (uint32_t i = 0; i < nblockd; i++) {
		struct ct_node *n = &c->blockd[i];
		*n = (struct ct_node){ .role = CT_BLOCKD, .index = i, .node = CT_BLOCKD_NODE0 + i };
		snprintf(n->dir, sizeof(n->dir), "%s/blockd-%u", c->base, i);
		snprintf(n->log, sizeof(n->log), "%s/blockd-%u.log", c->base, i);
		ct_restart(c, n);
	}
	for (uint32_t i = 0; i < nfmd; i++) {
		struct ct_node *n = &c->fmd[i];
		*n = (struct ct_node){ .role = CT_FMD, .index = i, .node = CT_FMD_NODE0 + i, .port = ct_free_port() };
		snprintf(n->dir, sizeof(n->dir), "%s/fmd-%u", c->base, i);
		snprintf(n->log, sizeof(n->log), "%s/fmd-%u.log", c->base, i);
		int len = snprintf(n->args, sizeof(n->args),
				   "--data %s --export /slice --volume vol --no-rpcbind --nfs-port %u --mount-port %u "
				   "--managers %u --index %u --node %u --fabric %s --secret-file %s --stripe-unit %u "
				   "--no-root-squash --root-mode 0777 --sync none %s",
				   n->dir, n->port, n->port, nfmd, i, n->node, tl_fabric, c->secret, stripe_unit,
				   fmd_extra ? fmd_extra : "");
		for (uint32_t j = 0; j < nfmd; j++)
			if (j != i)
				len += snprintf(n->args + len, sizeof(n->args) - (size_t)len, " --peer-fmd %u=%u=shm", j,
						CT_FMD_NODE0 + j);
		for (uint32_t j = 0; j < nblockd; j++)
			len += snprintf(n->args + len, sizeof(n->args) - (size_t)len, " --blockd %u=shm",
					c->blockd[j].node);
		CHECK((size_t)len < sizeof(n->args), "manager options too long");
	}
	/* the managers reach each other lazily: one after the other is fine */
	for (uint32_t i = 0; i < nfmd; i++)
		ct_restart(c, &c->fmd[i]);
	ct_write_file(c);
	return c;
}

static inline struct ct_cluster *ct_start(uint32_t nblockd, uint32_t nfmd, const char *fmd_extra)
{
	return ct_start_su(nblockd, nfmd, 65536, fmd_extra);
}

/* Stop every daemon (SIGTERM, bounded), leave the fabric, remove the files. */
static inline void ct_stop(struct ct_cluster *c)
{
	for (uint32_t i = 0; i < c->nfmd; i++)
		ct_term(&c->fmd[i]);
	for (uint32_t i = 0; i < c->nblockd; i++)
		ct_term(&c->blockd[i]);
	tpz_endpoint_destroy(c->ep);
	c->ep = NULL;
	ct_cleanup();
	ct_current = NULL;
	free(c);
}

#endif
