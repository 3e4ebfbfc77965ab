/*
 * t-fs-blockd-kill.c - slicefs: a block server killed during a copy.
 * cp(1) of 96 MiB into the mount; once part of it is there, one of the 3
 * block servers is SIGKILLed: cp fails with an error (a write or its
 * close reports it, within the volume's timeout, no hang); the mount stays
 * usable - the name space answers, small files on the live servers read
 * back, those on the dead one fail with an error; after the server is
 * restarted the volume works: every small file reads back and a new copy
 * succeeds and compares equal.
 */
#include "cluster_testlib.h"
#include "fs_testlib.h"

#define SRC_MB 96
#define NSMALL 6

static pid_t start_cp(const char *src, const char *dst, const char *log)
{
	pid_t p = fork();
	CHECK(p >= 0, "fork");
	if (p == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execlp("cp", "cp", src, dst, (char *)NULL);
		_exit(127);
	}
	return p;
}

/* Exit status of p, waiting at most ms; -1 if it is still running. */
static int wait_for(pid_t p, int ms)
{
	int ws;
	for (int i = 0; i < ms / 20; i++) {
		pid_t r = waitpid(p, &ws, WNOHANG);
		if (r == p)
			return WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
		usleep(20000);
	}
	return -1;
}

int main(int argc, char **argv)
{
	tl_init(argc, argv, 58);
	struct ct_cluster *c = ct_start(3, 1, NULL);
	struct fs_mount *m = fs_mount(c);
	char src[300], log[300], name[32], buf[1000];
	struct stat st;

	snprintf(src, sizeof(src), "%s/source", c->base);
	snprintf(log, sizeof(log), "%s/cp.log", c->base);
	size_t len = (size_t)SRC_MB << 20;
	char *data = malloc(len);
	CHECK(data, "memory");
	tl_fill(data, len, 31, 0);
	int fd = open(src, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	CHECK(fd >= 0 && write(fd, data, len) == (ssize_t)len && close(fd) == 0, "the source file");

	/* small files (one stripe unit or less): one server each */
	for (int i = 0; i < NSMALL; i++) {
		snprintf(name, sizeof(name), "small%d", i);
		snprintf(buf, sizeof(buf), "small file %d", i);
		fs_write_file(fs_path(m, name), buf, strlen(buf));
	}

	pid_t cp = start_cp(src, fs_path(m, "copy"), log);
	/* wait for 8 MiB of the copy (bounded), then kill block server 1 */
	bool started = false;
	for (int i = 0; i < 1000 && !started; i++) {
		started = stat(fs_path(m, "copy"), &st) == 0 && st.st_size >= (8 << 20);
		if (!started)
			usleep(5000);
	}
	CHECK(started, "the copy did not start");
	ct_kill(c, ct_blockd(c, 1));
	int rc = wait_for(cp, 40000);
	CHECK(rc >= 0, "cp hangs after the block server died");
	char cpmsg[300] = "";
	FILE *f = fopen(log, "r");
	if (f) {
		if (!fgets(cpmsg, sizeof(cpmsg), f))
			cpmsg[0] = 0;
		fclose(f);
	}
	NOTE("cp exit %d: %s", rc, cpmsg);
	CHECK(rc != 0, "cp succeeded although a block server died under it");

	/* the mount is still usable */
	CHECK(mkdir(fs_path(m, "after"), 0755) == 0, "mkdir after the kill: %s", strerror(errno));
	CHECK(stat(fs_path(m, "copy"), &st) == 0, "stat the broken copy");
	int ok = 0, failed = 0;
	for (int i = 0; i < NSMALL; i++) {
		snprintf(name, sizeof(name), "small%d", i);
		fd = open(fs_path(m, name), O_RDONLY);
		CHECK(fd >= 0, "open %s: %s", name, strerror(errno));
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n > 0)
			ok++;
		else
			CHECK(n < 0 && (errno == EIO || errno == ETIMEDOUT || errno == EHOSTDOWN ||
					errno == ECONNRESET || errno == ENOTCONN),
			      "%s: read %zd %s", name, n, strerror(errno));
		failed += n < 0;
		close(fd);
	}
	NOTE("with a block server down: %d small files read, %d failed", ok, failed);
	CHECK(ok > 0, "no small file read with 2 of 3 servers up");

	/* restart: everything works again */
	ct_restart(c, ct_blockd(c, 1));
	for (int i = 0; i < NSMALL; i++) {
		snprintf(name, sizeof(name), "small%d", i);
		char want[64];
		snprintf(want, sizeof(want), "small file %d", i);
		bool read_ok = false;
		/* the client may need a moment to see the server back */
		for (int t = 0; t < 50 && !read_ok; t++) {
			fd = open(fs_path(m, name), O_RDONLY);
			ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf)) : -1;
			read_ok = n == (ssize_t)strlen(want) && memcmp(buf, want, (size_t)n) == 0;
			if (fd >= 0)
				close(fd);
			if (!read_ok)
				usleep(100000);
		}
		CHECK(read_ok, "%s after the restart", name);
	}
	cp = start_cp(src, fs_path(m, "after/copy"), log);
	rc = wait_for(cp, 40000);
	CHECK(rc == 0, "cp after the restart: exit %d", rc);
	char *rd = malloc(len + 1);
	CHECK(rd && fs_read_file(fs_path(m, "after/copy"), rd, len + 1) == len && memcmp(rd, data, len) == 0,
	      "the new copy compares equal");
	free(rd);
	free(data);
	CHECK(unlink(fs_path(m, "copy")) == 0, "remove the broken copy");
	CHECK(fs_umount(m) == 0, "slicefs exits 0");
	ct_stop(c);
	return tl_finish();
}
