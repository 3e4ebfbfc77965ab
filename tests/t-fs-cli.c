/*
 * t-fs-cli.c - slicefs: the command line and the life of the daemon.
 * --help exits 0; a bad option, a missing mount point or cluster file,
 * and a bad value exit 2 (a bad cluster file exits 1: t-fs-errors).  Without -f it daemonizes only after the mount succeeded (the
 * mount is there when the command returns 0), and SIGTERM unmounts it and
 * ends the daemon.  With -f: `fusermount3 -u` ends it with status 0, and
 * SIGTERM with a file open and written (not closed) still commits the
 * data (a new mount reads it).
 */
#include <sys/vfs.h>

#include "cluster_testlib.h"
#include "fs_testlib.h"

#define FUSE_MAGIC 0x65735546

static int run(const char *args)
{
	char cmd[1200];
	snprintf(cmd, sizeof(cmd), "%s %s >/dev/null 2>&1", ct_bin("slicefs"), args);
	int rc = system(cmd);
	return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

static bool is_fuse(const char *dir)
{
	struct statfs f;
	return statfs(dir, &f) == 0 && f.f_type == FUSE_MAGIC;
}

/* The daemon this test started: the slicefs whose arguments name our
 * (unique) mount point. */
static pid_t find_daemon(const char *dir)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	pid_t found = 0;
	CHECK(d, "/proc");
	while ((de = readdir(d)) && !found) {
		char path[300], args[2048];
		int pid = atoi(de->d_name);
		if (pid <= 0)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/cmdline", pid);
		int fd = open(path, O_RDONLY);
		if (fd < 0)
			continue;
		ssize_t n = read(fd, args, sizeof(args) - 1);
		close(fd);
		if (n <= 0)
			continue;
		args[n] = 0;
		if (strstr(args, "slicefs") && memmem(args, (size_t)n, dir, strlen(dir)))
			found = pid;
	}
	closedir(d);
	return found;
}

int main(int argc, char **argv)
{
	tl_init(argc, argv, 60);
	struct ct_cluster *c = ct_start(2, 1, NULL);
	char dir[300], args[900];

	CHECK(run("--help") == 0, "--help exits 0");
	CHECK(run("") == 2, "no arguments: 2");
	snprintf(dir, sizeof(dir), "%s-daemon", c->base);
	CHECK(mkdir(dir, 0755) == 0, "mkdir %s", dir);
	snprintf(args, sizeof(args), "%s", dir);
	CHECK(run(args) == 2, "no --cluster: 2");
	snprintf(args, sizeof(args), "%s --cluster %s --bogus", dir, c->file);
	CHECK(run(args) == 2, "unknown option: 2");
	snprintf(args, sizeof(args), "%s --cluster %s --attr-timeout -1", dir, c->file);
	CHECK(run(args) == 2, "a bad value: 2");
	snprintf(args, sizeof(args), "%s/nowhere --cluster %s", c->base, c->file);
	CHECK(run(args) == 2, "a missing mount point: 2");
	snprintf(args, sizeof(args), "%s --cluster %s/none.conf", dir, c->base);
	CHECK(run(args) == 2, "a missing cluster file: 2");

	/* the daemon */
	snprintf(args, sizeof(args), "%s --cluster %s", dir, c->file);
	CHECK(run(args) == 0, "daemon mode: 0 once mounted");
	CHECK(is_fuse(dir), "mounted when the command returned");
	pid_t pid = find_daemon(dir);
	CHECK(pid > 0, "the daemon runs");
	char p[400];
	snprintf(p, sizeof(p), "%s/by-daemon", dir);
	fs_write_file(p, "daemon", 6);
	kill(pid, SIGTERM);
	bool gone = false;
	for (int i = 0; i < 200 && !gone; i++) {
		gone = kill(pid, 0) < 0 && !is_fuse(dir);
		if (!gone)
			usleep(50000);
	}
	CHECK(gone, "SIGTERM: unmounted and exited");
	rmdir(dir);

	/* -f: fusermount3 -u; then SIGTERM with a written file open */
	struct fs_mount *m = fs_mount(c);
	char buf[64];
	CHECK(fs_read_file(fs_path(m, "by-daemon"), buf, sizeof(buf)) == 6, "the daemon's file");
	CHECK(fs_umount(m) == 0, "fusermount3 -u: exit 0");
	m = fs_mount(c);
	size_t len = 5u << 20;
	char *data = malloc(len), *rd = malloc(len);
	CHECK(data && rd, "memory");
	tl_fill(data, len, 41, 0);
	int fd = open(fs_path(m, "open-at-exit"), O_WRONLY | O_CREAT, 0644);
	CHECK(fd >= 0 && write(fd, data, len) == (ssize_t)len, "write, no close");
	CHECK(fs_term(m) == 0, "SIGTERM with a file open: exit 0");
	close(fd);   /* the connection is gone: whatever close says */
	m = fs_mount(c);
	CHECK(fs_read_file(fs_path(m, "open-at-exit"), rd, len) == len && tl_verify(rd, len, 41, 0) < 0,
	      "the open file's data was committed at unmount");
	CHECK(fs_umount(m) == 0, "exit 0");
	free(data);
	free(rd);
	ct_stop(c);
	return tl_finish();
}
