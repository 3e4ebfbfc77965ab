/*
 * fs_testlib.h - slicefs mounts for the t-fs-* tests.  Header-only:
 * include after cluster_testlib.h.
 *
 *   struct ct_cluster *c = ct_start(3, 1, NULL);
 *   struct fs_mount *m = fs_mount(c, NULL);      slicefs -f on /tmp/<test>-<pid>-mntN
 *   ... fs_path(m, "a/b") ...
 *   fs_umount(m);                                 fusermount3 -u; slicefs must exit 0
 *
 * Mount points live outside the cluster's folder (ct_cleanup removes that
 * with rm -rf, which must never walk into a mount).  Each mount has a
 * guard process that waits on a pipe: if the test dies in any way (a
 * failed CHECK, the watchdog, a crash) the pipe closes and the guard kills
 * slicefs and unmounts (fusermount3 -uz, then umount -l), so no mount is
 * ever left behind.
 */
#ifndef FS_TESTLIB_H
#define FS_TESTLIB_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define FS_MAX_MOUNTS 4

struct fs_mount {
	char dir[200];
	char log[240];
	pid_t pid;                   /* slicefs */
	pid_t guard;
	int guard_fd;                /* write end: closing it (or dying) unmounts */
};

static struct fs_mount fs_mounts[FS_MAX_MOUNTS];
static int fs_nmounts;
static void (*fs_prev_hook)(void);

static const char *fs_sh_quote_ok(const char *s)
{
	for (const char *p = s; *p; p++)
		CHECK(*p != '\'', "quote in %s", s);
	return s;
}

/* Watchdog: kill(2) only; the guards unmount once the test is gone. */
static void fs_alarm(void)
{
	for (int i = 0; i < fs_nmounts; i++)
		if (fs_mounts[i].pid > 0)
			kill(fs_mounts[i].pid, SIGKILL);
	if (fs_prev_hook)
		fs_prev_hook();
}

static void fs_guard(struct fs_mount *m, int rd)
{
	char c;
	ssize_t n;

	/* Only the pipe and stderr: nothing else of the test's. */
	for (int fd = 3; fd < 1024; fd++)
		if (fd != rd)
			close(fd);
	signal(SIGINT, SIG_IGN);
	signal(SIGTERM, SIG_IGN);
	do
		n = read(rd, &c, 1);
	while (n < 0 && errno == EINTR);
	if (n == 1 && c == 'q')
		_exit(0);
	/* The test died with the mount up. */
	if (m->pid > 0)
		kill(m->pid, SIGKILL);
	char cmd[600];
	snprintf(cmd, sizeof(cmd),
		 "fusermount3 -uz '%s' 2>/dev/null || umount -l '%s' 2>/dev/null; rmdir '%s' 2>/dev/null",
		 m->dir, m->dir, m->dir);
	execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
	_exit(1);
}

/* Start slicefs -f on a new mount point with extra options (a string of
 * words, may be NULL); wait for its ready line. */
static inline struct fs_mount *fs_mount_opts(struct ct_cluster *c, const char *extra)
{
	CHECK(fs_nmounts < FS_MAX_MOUNTS, "too many mounts");
	struct fs_mount *m = &fs_mounts[fs_nmounts];
	int out[2], g[2];

	memset(m, 0, sizeof(*m));
	snprintf(m->dir, sizeof(m->dir), "%s-mnt%d", c->base, fs_nmounts);
	snprintf(m->log, sizeof(m->log), "%s/slicefs-%d.log", c->base, fs_nmounts);
	fs_sh_quote_ok(m->dir);
	CHECK(mkdir(m->dir, 0755) == 0, "mkdir %s: %s", m->dir, strerror(errno));
	CHECK(pipe2(out, O_CLOEXEC) == 0 && pipe2(g, O_CLOEXEC) == 0, "pipe");

	/* FS_SLICEFS_ARGS: more options for every mount (e.g. --debug). */
	char args[1200];
	const char *env = getenv("FS_SLICEFS_ARGS");
	snprintf(args, sizeof(args), "exec %s '%s' --cluster '%s' -f -o allow_other %s %s 2>'%s'",
		 ct_bin("slicefs"), m->dir, c->file, extra ? extra : "", env ? env : "", m->log);
	m->pid = fork();
	CHECK(m->pid >= 0, "fork");
	if (m->pid == 0) {
		dup2(out[1], 1);
		execl("/bin/sh", "sh", "-c", args, (char *)NULL);
		_exit(127);
	}
	close(out[1]);
	fs_nmounts++;
	if (fs_nmounts == 1) {
		fs_prev_hook = tl_alarm_hook;
		tl_alarm_hook = fs_alarm;
	}
	m->guard = fork();
	CHECK(m->guard >= 0, "fork");
	if (m->guard == 0)
		fs_guard(m, g[0]);
	close(g[0]);
	m->guard_fd = g[1];

	/* the ready line, 30 s at most */
	char line[512];
	size_t len = 0;
	struct pollfd p = { .fd = out[0], .events = POLLIN };
	double t0 = tl_now_ms();
	while (len < sizeof(line) - 1 && !memchr(line, '\n', len)) {
		int left = 30000 - (int)(tl_now_ms() - t0);
		ssize_t n = -1;
		if (left > 0 && poll(&p, 1, left) == 1)
			n = read(out[0], line + len, sizeof(line) - 1 - len);
		if (n <= 0) {
			char cmd[300];
			snprintf(cmd, sizeof(cmd), "tail -30 '%s' >&2", m->log);
			if (system(cmd)) { /* shown best effort */ }
		}
		CHECK(n > 0, "slicefs did not get ready (%s)", n == 0 ? "it exited" : "timeout");
		len += (size_t)n;
	}
	line[len] = 0;
	CHECK(strncmp(line, "ready mountpoint=", 17) == 0, "slicefs said '%s'", line);
	close(out[0]);
	return m;
}

static inline struct fs_mount *fs_mount(struct ct_cluster *c)
{
	return fs_mount_opts(c, NULL);
}

static inline const char *fs_path(const struct fs_mount *m, const char *rel)
{
	static char buf[4][512];
	static int k;
	char *b = buf[k++ & 3];
	snprintf(b, 512, "%s/%s", m->dir, rel);
	return b;
}

/* Unmount with fusermount3 -u (retried while busy, bounded); slicefs must
 * exit 0.  Returns its exit status. */
/* Wait (bounded) for a slicefs that is on its way out, release its guard
 * and mount point; its exit status, with its log's tail when not 0. */
static inline int fs_reap(struct fs_mount *m, const char *when)
{
	char cmd[600];
	int ws = 0;
	pid_t got = 0;

	for (int i = 0; i < 300 && got == 0; i++) {
		got = waitpid(m->pid, &ws, WNOHANG);
		if (got == 0)
			usleep(50000);
	}
	CHECK(got == m->pid, "slicefs did not exit %s", when);
	m->pid = 0;
	CHECK(write(m->guard_fd, "q", 1) == 1, "guard");
	close(m->guard_fd);
	waitpid(m->guard, NULL, 0);
	m->guard = 0;
	rmdir(m->dir);
	int st = WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
	if (st != 0) {   /* say why: the CI log is all there is of a rare failure */
		snprintf(cmd, sizeof(cmd), "echo '--- %s (slicefs exited %d), last lines:'; tail -40 '%s'",
			 fs_sh_quote_ok(m->log), st, m->log);
		if (system(cmd) != 0)
			NOTE("no slicefs log at %s", m->log);
	}
	return st;
}

static inline int fs_umount(struct fs_mount *m)
{
	char cmd[600];
	int rc = -1;

	snprintf(cmd, sizeof(cmd), "fusermount3 -u '%s'", m->dir);
	for (int i = 0; i < 100 && rc != 0; i++) {
		rc = system(cmd);
		if (rc != 0)
			usleep(100000);
	}
	CHECK(rc == 0, "fusermount3 -u %s failed", m->dir);
	return fs_reap(m, "after the unmount");
}

/* SIGKILL slicefs (nothing flushed, nothing committed) and take the dead
 * mount away. */
static inline void fs_kill(struct fs_mount *m)
{
	char cmd[600];

	kill(m->pid, SIGKILL);
	waitpid(m->pid, NULL, 0);
	m->pid = 0;
	snprintf(cmd, sizeof(cmd), "fusermount3 -uz '%s' 2>/dev/null || umount -l '%s'", m->dir, m->dir);
	CHECK(system(cmd) == 0, "%s", cmd);
	CHECK(write(m->guard_fd, "q", 1) == 1, "guard");
	close(m->guard_fd);
	waitpid(m->guard, NULL, 0);
	m->guard = 0;
	rmdir(m->dir);
}

/* SIGTERM slicefs: it must unmount and exit by itself.  Returns its exit
 * status. */
static inline int fs_term(struct fs_mount *m)
{

	kill(m->pid, SIGTERM);
	return fs_reap(m, "on SIGTERM");
}

/* ---- small file helpers ------------------------------------------------- */

static inline void fs_write_file(const char *path, const void *buf, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	CHECK(fd >= 0, "open %s: %s", path, strerror(errno));
	const char *p = buf;
	while (len) {
		ssize_t n = write(fd, p, len);
		CHECK(n > 0, "write %s: %s", path, strerror(errno));
		p += n;
		len -= (size_t)n;
	}
	CHECK(close(fd) == 0, "close %s: %s", path, strerror(errno));
}

/* Reads up to cap bytes; returns the count. */
static inline size_t fs_read_file(const char *path, void *buf, size_t cap)
{
	int fd = open(path, O_RDONLY);
	CHECK(fd >= 0, "open %s: %s", path, strerror(errno));
	size_t got = 0;
	for (;;) {
		ssize_t n = read(fd, (char *)buf + got, cap - got);
		CHECK(n >= 0, "read %s: %s", path, strerror(errno));
		if (n == 0 || got + (size_t)n == cap) {
			got += (size_t)n;
			break;
		}
		got += (size_t)n;
	}
	close(fd);
	return got;
}

/* Run fn as uid/gid 1000 (no groups) in a child; returns its exit code. */
static inline int fs_as_user(int (*fn)(void *), void *arg)
{
	pid_t p = fork();
	CHECK(p >= 0, "fork");
	if (p == 0) {
		tl_is_child = true;
		alarm(30);
		if (setgroups(0, NULL) != 0 || setresgid(1000, 1000, 1000) != 0 ||
		    setresuid(1000, 1000, 1000) != 0)
			_exit(99);
		_exit(fn(arg));
	}
	int ws = 0;
	CHECK(waitpid(p, &ws, 0) == p, "waitpid");
	CHECK(WIFEXITED(ws), "the user child died (signal %d)", WIFSIGNALED(ws) ? WTERMSIG(ws) : 0);
	return WEXITSTATUS(ws);
}

#endif
