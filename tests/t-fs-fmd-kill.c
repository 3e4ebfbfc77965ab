/*
 * t-fs-fmd-kill.c - slicefs: the file manager killed under a mount.  With
 * the manager down, name-space calls fail with an error (EIO, ETIMEDOUT
 * or EHOSTDOWN, within the volume's timeout: never a hang); a read of a
 * file opened before gives its data or such an error (with --attr-timeout
 * 0 the kernel asks for attributes first).  Once the manager is restarted
 * (same data, same port) the mount works again without a remount: names,
 * new files, the data written before.
 */
#include "cluster_testlib.h"
#include "fs_testlib.h"

static bool down_errno(int e)
{
	return e == EIO || e == ETIMEDOUT || e == EHOSTDOWN || e == ECONNREFUSED || e == ENOTCONN ||
	       e == ECONNRESET || e == EAGAIN;
}

int main(int argc, char **argv)
{
	tl_init(argc, argv, 58);
	struct ct_cluster *c = ct_start(2, 1, NULL);
	struct fs_mount *m = fs_mount_opts(c, "--attr-timeout 0 --entry-timeout 0");
	char buf[64];
	struct stat st;

	fs_write_file(fs_path(m, "before"), "written before", 14);
	int fd = open(fs_path(m, "before"), O_RDONLY);
	CHECK(fd >= 0, "open before");

	ct_kill(c, ct_fmd(c, 0));
	double t0 = tl_now_ms();
	errno = 0;
	int rc = stat(fs_path(m, "before"), &st);
	NOTE("stat with the manager down: %d %s after %.1f s", rc, strerror(errno), (tl_now_ms() - t0) / 1000);
	CHECK(rc < 0 && down_errno(errno), "stat with the manager down: %s", strerror(errno));
	errno = 0;
	CHECK(mkdir(fs_path(m, "newdir"), 0755) < 0 && down_errno(errno), "mkdir with the manager down: %s",
	      strerror(errno));
	/* The data path does not need the manager, but with attr-timeout 0
	 * the kernel asks for the attributes before it reads: an error or
	 * the data, never a hang. */
	ssize_t n = pread(fd, buf, sizeof(buf), 0);
	NOTE("read of an open file with the manager down: %zd %s", n, n < 0 ? strerror(errno) : "");
	CHECK((n == 14 && memcmp(buf, "written before", 14) == 0) || (n < 0 && down_errno(errno)),
	      "read of an open file with the manager down: %zd", n);
	close(fd);

	ct_restart(c, ct_fmd(c, 0));
	bool back = false;
	for (int i = 0; i < 100 && !back; i++) {
		back = stat(fs_path(m, "before"), &st) == 0;
		if (!back)
			usleep(100000);
	}
	CHECK(back, "stat after the manager's restart: %s", strerror(errno));
	CHECK(fs_read_file(fs_path(m, "before"), buf, sizeof(buf)) == 14 && memcmp(buf, "written before", 14) == 0,
	      "the data written before");
	CHECK(mkdir(fs_path(m, "newdir"), 0755) == 0, "mkdir after the restart: %s", strerror(errno));
	fs_write_file(fs_path(m, "newdir/after"), "after", 5);
	CHECK(fs_read_file(fs_path(m, "newdir/after"), buf, sizeof(buf)) == 5, "a new file after the restart");
	CHECK(fs_umount(m) == 0, "slicefs exits 0");
	ct_stop(c);
	return tl_finish();
}
