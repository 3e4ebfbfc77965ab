/*
 * proc.c - the daemons `slice` starts and stops: finding their binaries,
 * starting one detached from us, its ready line, pid files, stopping.
 *
 * A daemon is recognised by its pid file AND /proc/PID/comm: a pid file
 * left by a daemon that died may name a pid the kernel gave to something
 * else since, and that must never be signalled.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sc.h"

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int sc_find_bin(const char *name, char *out, size_t len)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n > 0) {
		self[n] = 0;
		char *slash = strrchr(self, '/');
		if (slash) {
			*slash = 0;
			snprintf(out, len, "%s/%s", self, name);
			if (access(out, X_OK) == 0)
				return 0;
		}
	}
	const char *path = getenv("PATH");
	if (!path)
		path = "/usr/local/bin:/usr/bin:/bin";
	for (const char *p = path; *p;) {
		const char *end = strchrnul(p, ':');
		snprintf(out, len, "%.*s/%s", (int)(end - p), p, name);
		if (end > p && access(out, X_OK) == 0)
			return 0;
		p = *end ? end + 1 : end;
	}
	return -ENOENT;
}

pid_t sc_spawn(char *const argv[], const char *out_path, const char *log_path)
{
	int out = open(out_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (out < 0)
		return -errno;
	int log = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (log < 0) {
		int e = errno;
		close(out);
		return -e;
	}
	int nul = open("/dev/null", O_RDONLY | O_CLOEXEC);
	pid_t pid = fork();
	if (pid == 0) {
		/* A session of its own: no terminal, and no signal sent to the
		 * shell's process group (Ctrl-C, a test runner's kill) reaches it. */
		setsid();
		if (nul >= 0)
			dup2(nul, 0);
		dup2(out, 1);
		dup2(log, 2);
		execv(argv[0], argv);
		fprintf(stderr, "%s: exec %s: %s\n", SC_PROG, argv[0], strerror(errno));
		_exit(127);
	}
	int e = errno;
	close(out);
	close(log);
	if (nul >= 0)
		close(nul);
	return pid < 0 ? -e : pid;
}

int sc_wait_ready(pid_t pid, const char *out_path, int timeout_ms, char *line, size_t len)
{
	int64_t end = now_ms() + timeout_ms;
	for (;;) {
		FILE *f = fopen(out_path, "r");
		if (f) {
			char buf[512];
			while (fgets(buf, sizeof(buf), f)) {
				if (strncmp(buf, "ready", 5) == 0 && strchr(buf, '\n')) {
					buf[strcspn(buf, "\n")] = 0;
					snprintf(line, len, "%s", buf);
					fclose(f);
					return 0;
				}
			}
			fclose(f);
		}
		int st;
		if (waitpid(pid, &st, WNOHANG) == pid)
			return -ECHILD;
		if (now_ms() > end)
			return -ETIMEDOUT;
		usleep(20000);
	}
}

bool sc_proc_is(pid_t pid, const char *prog)
{
	char path[64], comm[64] = "";
	snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return false;
	if (!fgets(comm, sizeof(comm), f))
		comm[0] = 0;
	fclose(f);
	comm[strcspn(comm, "\n")] = 0;
	/* comm holds at most 15 characters of the name. */
	return comm[0] && strncmp(comm, prog, 15) == 0 && !sc_gone(pid);
}

pid_t sc_pid_alive(const char *pid_path, const char *prog)
{
	char buf[32];
	if (!sc_read_line(pid_path, buf, sizeof(buf)))
		return 0;
	char *end;
	long pid = strtol(buf, &end, 10);
	if (*end || pid <= 1)
		return 0;
	return sc_proc_is((pid_t)pid, prog) ? (pid_t)pid : 0;
}

int sc_write_pid(const char *path, pid_t pid)
{
	char tmp[PATH_MAX + 8];
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	FILE *f = fopen(tmp, "w");
	if (!f)
		return -errno;
	fprintf(f, "%d\n", (int)pid);
	if (fclose(f) != 0 || rename(tmp, path) != 0) {
		int e = errno;
		unlink(tmp);
		return -e;
	}
	return 0;
}

/* Gone: no such process, or a zombie nobody reaped yet (its parent may be
 * a shell that started `slice up` and has not waited; it serves nothing). */
bool sc_gone(pid_t pid)
{
	int st;
	if (waitpid(pid, &st, WNOHANG) == pid)
		return true;
	if (kill(pid, 0) < 0 && errno == ESRCH)
		return true;
	char path[64], buf[512];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return true;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	char *rp = strrchr(buf, ')');   /* comm may hold spaces and parens */
	return rp && rp[1] == ' ' && (rp[2] == 'Z' || rp[2] == 'X');
}

int sc_stop(const pid_t *pids, int n, int timeout_ms)
{
	int killed = 0;
	for (int i = 0; i < n; i++)
		if (pids[i] > 0)
			kill(pids[i], SIGTERM);
	int64_t end = now_ms() + timeout_ms;
	for (;;) {
		bool all = true;
		for (int i = 0; i < n; i++)
			if (pids[i] > 0 && !sc_gone(pids[i]))
				all = false;
		if (all)
			return killed;
		if (now_ms() > end)
			break;
		usleep(20000);
	}
	for (int i = 0; i < n; i++) {
		if (pids[i] > 0 && !sc_gone(pids[i])) {
			kill(pids[i], SIGKILL);
			killed++;
		}
	}
	/* SIGKILL takes effect at once, but the exit may take a moment. */
	for (int tries = 0; tries < 250; tries++) {
		bool all = true;
		for (int i = 0; i < n; i++)
			if (pids[i] > 0 && !sc_gone(pids[i]))
				all = false;
		if (all)
			break;
		usleep(20000);
	}
	return killed;
}
