/*
 * proxy_testlib.h - a slice-proxy in front of a cluster_testlib.h cluster,
 * for C tests: started on a port it picks, killed at exit and by the
 * watchdog whatever happened.  Include after cluster_testlib.h and
 * fmd_testlib.h.
 *
 *   struct ct_cluster *c = ct_start(4, 2, NULL);
 *   struct px *p = px_start(c, NULL);     p->port serves NFS and MOUNT
 *   ... nc_mount(p->port, "/slice", &root); nc_open(&nc, p->port, NFS_PROGRAM, ...)
 *   px_stop(p)                            SIGTERM: its exit status
 */
#ifndef PROXY_TESTLIB_H
#define PROXY_TESTLIB_H

#include "cluster_testlib.h"

struct px {
	pid_t    pid;
	uint16_t port;
	char     log[240];
	char     url[300];
};

static struct px *px_current;
static void (*px_prev_hook)(void);

static void px_alarm(void)
{
	if (px_current && px_current->pid > 0)
		kill(px_current->pid, SIGKILL);
	if (px_prev_hook)
		px_prev_hook();
}

static void px_cleanup(void)
{
	if (tl_is_child || !px_current || px_current->pid <= 0)
		return;
	kill(px_current->pid, SIGKILL);
	waitpid(px_current->pid, NULL, 0);
	px_current->pid = 0;
}

static inline bool px_alive(struct px *p)
{
	return p->pid > 0 && waitpid(p->pid, NULL, WNOHANG) == 0;
}

/* Start slice-proxy on the cluster's file; extra: more options (NULL). */
static inline struct px *px_start(struct ct_cluster *c, const char *extra)
{
	static struct px px;
	struct px *p = &px;
	CHECK(!px_current, "one proxy per test");
	memset(p, 0, sizeof(*p));
	snprintf(p->log, sizeof(p->log), "%s/proxy.log", c->base);
	int out[2];
	CHECK(pipe(out) == 0, "pipe");
	pid_t pid = fork();
	CHECK(pid >= 0, "fork");
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		char *argv[24], buf[400];
		int a = 0;
		argv[a++] = "slice-proxy";
		argv[a++] = "--cluster";
		argv[a++] = c->file;
		argv[a++] = "--listen";
		argv[a++] = "127.0.0.1:0";
		snprintf(buf, sizeof(buf), "%s", extra ? extra : "");
		for (char *tok = strtok(buf, " "); tok && a < 22; tok = strtok(NULL, " "))
			argv[a++] = tok;
		argv[a] = NULL;
		dup2(out[1], 1);
		close(out[0]);
		close(out[1]);
		int fd = open(p->log, O_WRONLY | O_CREAT | O_APPEND, 0644);
		if (fd >= 0)
			dup2(fd, 2);
		execv(ct_bin("slice-proxy"), argv);
		_exit(127);
	}
	close(out[1]);
	p->pid = pid;
	px_current = p;
	atexit(px_cleanup);
	px_prev_hook = tl_alarm_hook;
	tl_alarm_hook = px_alarm;
	char line[400] = { 0 };
	size_t got = 0;
	double end = tl_now_ms() + 15000;
	while (got < sizeof(line) - 1 && !strchr(line, '\n') && tl_now_ms() < end) {
		struct pollfd pf = { .fd = out[0], .events = POLLIN };
		if (poll(&pf, 1, 100) <= 0)
			continue;
		ssize_t k = read(out[0], line + got, sizeof(line) - 1 - got);
		if (k <= 0)
			break;
		got += (size_t)k;
	}
	close(out[0]);
	unsigned nfs = 0, mnt = 0;
	if (sscanf(line, "ready nfs=%u mount=%u url=%299s", &nfs, &mnt, p->url) != 3 || nfs == 0 || nfs != mnt) {
		char cmd[600];
		snprintf(cmd, sizeof(cmd), "tail -20 '%s' >&2", p->log);
		if (system(cmd)) { /* shown if possible */ }
		CHECK(false, "slice-proxy did not get ready (got '%s')", line);
	}
	p->port = (uint16_t)nfs;
	return p;
}

/* SIGTERM, wait (bounded; then SIGKILL): the exit status, -1 if killed. */
static inline int px_stop(struct px *p)
{
	int st = -1;
	if (p->pid <= 0)
		return -1;
	kill(p->pid, SIGTERM);
	for (int i = 0; i < 400; i++) {
		if (waitpid(p->pid, &st, WNOHANG) == p->pid) {
			p->pid = 0;
			return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
		}
		usleep(25000);
	}
	kill(p->pid, SIGKILL);
	waitpid(p->pid, NULL, 0);
	p->pid = 0;
	return -1;
}

#endif
