/*
 * mount.c - `slice mount` and `slice umount`: slicefs mounts of a cluster,
 * recorded in the run directory so `slice down` unmounts them first.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sc.h"

#define MOUNT_TIMEOUT_S 30

static const char usage[] =
"usage: slice mount MOUNTPOINT --dir DIR [-o OPTS]\n"
"       slice mount MOUNTPOINT --cluster FILE [--dir STATEDIR] [-o OPTS]\n"
"       slice umount MOUNTPOINT [--dir DIR]\n"
"Mount the cluster's volume with slicefs (FUSE) at MOUNTPOINT (made if\n"
"missing), recorded so that `slice down` unmounts it; -o passes slicefs\n"
"options.  umount: fusermount3 -u.\n";

/* One mount point a line in DIR/run/mounts. */
int sc_mounts_read(const struct sc_state *st, char mp[][PATH_MAX], int max)
{
	char path[PATH_MAX], line[PATH_MAX];
	int n = 0;
	sc_path(path, sizeof(path), st, "run", "mounts", "");
	FILE *f = fopen(path, "r");
	if (!f)
		return 0;
	while (n < max && fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = 0;
		if (line[0] == '/')
			snprintf(mp[n++], PATH_MAX, "%s", line);
	}
	fclose(f);
	return n;
}

static void mounts_write(const struct sc_state *st, char mp[][PATH_MAX], int n)
{
	char path[PATH_MAX], tmp[PATH_MAX + 8];
	sc_path(path, sizeof(path), st, "run", "mounts", "");
	if (n == 0) {
		unlink(path);
		return;
	}
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	FILE *f = fopen(tmp, "w");
	if (!f)
		return;
	for (int i = 0; i < n; i++)
		fprintf(f, "%s\n", mp[i]);
	if (fclose(f) == 0)
		rename(tmp, path);
}

void sc_mounts_forget(const struct sc_state *st, const char *mp)
{
	static char list[64][PATH_MAX];
	int n = sc_mounts_read(st, list, 64), k = 0;
	for (int i = 0; i < n; i++)
		if (strcmp(list[i], mp) != 0)
			memmove(list[k++], list[i], PATH_MAX);
	mounts_write(st, list, k);
}

static void mounts_add(const struct sc_state *st, const char *mp)
{
	static char list[64][PATH_MAX];
	int n = sc_mounts_read(st, list, 63);
	for (int i = 0; i < n; i++)
		if (!strcmp(list[i], mp))
			return;
	snprintf(list[n++], PATH_MAX, "%s", mp);
	mounts_write(st, list, n);
}

/* Field 5 of /proc/self/mountinfo, with its octal escapes (\040 ...). */
bool sc_is_mounted(const char *mp)
{
	FILE *f = fopen("/proc/self/mountinfo", "r");
	char line[4096];
	bool found = false;
	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f)) {
		char *fld = line;
		for (int i = 0; i < 4 && fld; i++)
			fld = strchr(fld, ' ') ? strchr(fld, ' ') + 1 : NULL;
		if (!fld)
			continue;
		char dec[PATH_MAX];
		size_t k = 0;
		for (char *p = fld; *p && *p != ' ' && k + 1 < sizeof(dec); p++) {
			if (p[0] == '\\' && p[1] >= '0' && p[1] <= '3' && p[2] && p[3]) {
				dec[k++] = (char)((p[1] - '0') * 64 + (p[2] - '0') * 8 + (p[3] - '0'));
				p += 3;
			} else {
				dec[k++] = *p;
			}
		}
		dec[k] = 0;
		found = strcmp(dec, mp) == 0;
	}
	fclose(f);
	return found;
}

/* Run argv, wait at most timeout_s; its output goes to log_fd (or stays
 * ours when -1).  Returns its exit status, or -1. */
static int run(char *const argv[], int log_fd, int timeout_s)
{
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		if (log_fd >= 0) {
			dup2(log_fd, 1);
			dup2(log_fd, 2);
		}
		execvp(argv[0], argv);
		fprintf(stderr, "%s: exec %s: %s\n", SC_PROG, argv[0], strerror(errno));
		_exit(127);
	}
	for (int i = 0; i < timeout_s * 50; i++) {
		int st;
		if (waitpid(pid, &st, WNOHANG) == pid)
			return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
		usleep(20000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	fprintf(stderr, "%s: %s did not finish within %d s\n", SC_PROG, argv[0], timeout_s);
	return -1;
}

int sc_unmount(const char *mp)
{
	char *argv[] = { "fusermount3", "-u", (char *)mp, NULL };
	int fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	run(argv, fd, 15);
	if (fd >= 0)
		close(fd);
	/* A mount whose daemon died: fusermount may fail; detach it then. */
	if (sc_is_mounted(mp) && umount2(mp, MNT_DETACH) < 0 && sc_is_mounted(mp))
		return -errno;
	return 0;
}

/* A slicefs that does not get ready: kill it and detach its mount (a FUSE
 * mount whose daemon is gone fails its callers instead of hanging them). */
static void abandon(pid_t pid, const char *mp)
{
	kill(pid, SIGKILL);
	for (int i = 0; i < 100 && !sc_gone(pid); i++)
		usleep(20000);
	if (sc_is_mounted(mp))
		umount2(mp, MNT_DETACH);
}

int sc_cmd_mount(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "dir", 1, 0, 'd' }, { "cluster", 1, 0, 'C' }, { "help", 0, 0, 'h' }, { 0 } };
	const char *dir = NULL, *cluster = NULL, *opts = NULL;
	int o;

	while ((o = getopt_long(argc, argv, "ho:", lo, NULL)) != -1) {
		switch (o) {
		case 'd': dir = optarg; break;
		case 'C': cluster = optarg; break;
		case 'o': opts = optarg; break;
		case 'h': fputs(usage, stdout); return 0;
		default: fputs(usage, stderr); return 2;
		}
	}
	if (optind + 1 != argc || (!dir && !cluster)) {
		fputs(usage, stderr);
		return 2;
	}
	struct sc_state st;
	int rc = sc_state_open(&st, dir, cluster, NULL);
	if (rc)
		return rc;
	char bin[PATH_MAX], mp[PATH_MAX], name[32], pidf[PATH_MAX], outf[PATH_MAX], logf[PATH_MAX], line[512];
	rc = 1;
	if (sc_find_bin("slicefs", bin, sizeof(bin)) < 0) {
		fprintf(stderr, "%s: cannot find slicefs (neither beside %s nor in PATH)\n", SC_PROG, SC_PROG);
		goto out;
	}
	mkdir(argv[optind], 0755);
	if (!realpath(argv[optind], mp)) {
		fprintf(stderr, "%s: %s: %s\n", SC_PROG, argv[optind], strerror(errno));
		goto out;
	}
	if (sc_is_mounted(mp)) {
		fprintf(stderr, "%s: %s is already a mount point\n", SC_PROG, mp);
		goto out;
	}
	/* slicefs in the foreground (-f) as one of our daemons: its ready
	 * line says it serves, its pid is recorded, and a slicefs that hangs
	 * is killed after a bounded wait instead of leaving a dead mount. */
	for (int i = 0; i < 64; i++) {
		snprintf(name, sizeof(name), "slicefs-%d", i);
		sc_path(pidf, sizeof(pidf), &st, "run", name, ".pid");
		if (!sc_pid_alive(pidf, "slicefs"))
			break;
	}
	sc_path(outf, sizeof(outf), &st, "run", "", "");
	mkdir(outf, 0755);
	sc_path(outf, sizeof(outf), &st, "logs", "", "");
	mkdir(outf, 0755);
	sc_path(outf, sizeof(outf), &st, "run", name, ".out");
	sc_path(logf, sizeof(logf), &st, "logs", name, ".log");
	char *av[8] = { bin, mp, "--cluster", st.file, "-f", NULL, NULL, NULL };
	if (opts) {
		av[5] = "-o";
		av[6] = (char *)opts;
	}
	pid_t pid = sc_spawn(av, outf, logf);
	if (pid < 0) {
		fprintf(stderr, "%s: cannot start slicefs: %s\n", SC_PROG, strerror(-pid));
		goto out;
	}
	sc_write_pid(pidf, pid);
	int r = sc_wait_ready(pid, outf, MOUNT_TIMEOUT_S * 1000, line, sizeof(line));
	if (r < 0 || !sc_is_mounted(mp)) {
		fprintf(stderr, "%s: slicefs %s; its log, %s:\n", SC_PROG,
			r == -ECHILD ? "exited without mounting" :
			r == -ETIMEDOUT ? "did not get ready within 30 s (killed)" : "says ready, but nothing is mounted",
			logf);
		abandon(pid, mp);
		FILE *f = fopen(logf, "r");
		while (f && fgets(line, sizeof(line), f))
			fprintf(stderr, "    %s", line);
		if (f)
			fclose(f);
		unlink(pidf);
		unlink(outf);
		goto out;
	}
	mounts_add(&st, mp);
	printf("mounted volume %s at %s (slicefs pid %d)\n", st.c->volume, mp, (int)pid);
	rc = 0;
out:
	sc_state_close(&st);
	return rc;
}

int sc_cmd_umount(int argc, char **argv)
{
	static const struct option lo[] = { { "dir", 1, 0, 'd' }, { "help", 0, 0, 'h' }, { 0 } };
	const char *dir = NULL;
	int o;

	while ((o = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (o) {
		case 'd': dir = optarg; break;
		case 'h': fputs(usage, stdout); return 0;
		default: fputs(usage, stderr); return 2;
		}
	}
	if (optind + 1 != argc) {
		fputs(usage, stderr);
		return 2;
	}
	char mp[PATH_MAX];
	if (!realpath(argv[optind], mp)) {
		fprintf(stderr, "%s: %s: %s\n", SC_PROG, argv[optind], strerror(errno));
		return 1;
	}
	if (!sc_is_mounted(mp)) {
		fprintf(stderr, "%s: %s is not mounted\n", SC_PROG, mp);
		return 1;
	}
	int rc = sc_unmount(mp);
	if (rc < 0) {
		fprintf(stderr, "%s: cannot unmount %s: %s\n", SC_PROG, mp, strerror(-rc));
		return 1;
	}
	if (dir) {
		struct sc_state st;
		memset(&st, 0, sizeof(st));
		if (realpath(dir, st.dir))
			sc_mounts_forget(&st, mp);
	}
	return 0;
}
