/*
 * t-fs-errors.c - slicefs: error cases give the errno a local file
 * system gives, and never a hang: ENOENT, ENOTDIR through a file,
 * ENAMETOOLONG, EISDIR (write-open of a directory), EEXIST (create,
 * mkdir, symlink, mknod over a name), EINVAL (readlink of a file),
 * ENOTEMPTY, a special file (FIFO, character device) made and stat'ed,
 * operations on a file removed by another mount (ESTALE or ENOENT, and
 * the mount goes on), and a mount on a bad cluster file fails cleanly.
 */
#include <sys/sysmacros.h>

#include "cluster_testlib.h"
#include "fs_testlib.h"

#define ERR(call, want) do {                                                          \
	errno = 0;                                                                    \
	long r_ = (long)(call);                                                       \
	CHECK(r_ < 0 && errno == (want), "%s: %ld %s, want %s", #call, r_, strerror(errno), \
	      strerror(want));                                                        \
} while (0)

int main(int argc, char **argv)
{
	tl_init(argc, argv, 60);
	struct ct_cluster *c = ct_start(2, 1, NULL);
	struct fs_mount *m = fs_mount(c), *m2 = fs_mount(c);
	struct stat st;
	char buf[300];

	ERR(stat(fs_path(m, "nothing"), &st), ENOENT);
	ERR(open(fs_path(m, "nothing/x"), O_RDONLY), ENOENT);
	fs_write_file(fs_path(m, "file"), "f", 1);
	ERR(stat(fs_path(m, "file/x"), &st), ENOTDIR);
	ERR(open(fs_path(m, "file/x"), O_CREAT | O_WRONLY, 0644), ENOTDIR);
	memset(buf, 'n', 256);
	buf[256] = 0;
	char longp[600];
	snprintf(longp, sizeof(longp), "%s/%s", m->dir, buf);
	ERR(open(longp, O_CREAT | O_WRONLY, 0644), ENAMETOOLONG);
	buf[255] = 0;
	snprintf(longp, sizeof(longp), "%s/%s", m->dir, buf);
	int fd = open(longp, O_CREAT | O_WRONLY, 0644);
	CHECK(fd >= 0 && close(fd) == 0, "a name of 255 bytes: %s", strerror(errno));
	CHECK(mkdir(fs_path(m, "dir"), 0755) == 0, "mkdir");
	ERR(open(fs_path(m, "dir"), O_WRONLY), EISDIR);
	ERR(open(fs_path(m, "file"), O_WRONLY | O_CREAT | O_EXCL, 0644), EEXIST);
	ERR(mkdir(fs_path(m, "file"), 0755), EEXIST);
	ERR(symlink("x", fs_path(m, "dir")), EEXIST);
	ERR(mknod(fs_path(m, "file"), S_IFIFO | 0644, 0), EEXIST);
	ERR(readlink(fs_path(m, "file"), buf, sizeof(buf)), EINVAL);
	fs_write_file(fs_path(m, "dir/in"), "i", 1);
	ERR(rmdir(fs_path(m, "dir")), ENOTEMPTY);
	ERR(unlink(fs_path(m, "nothing")), ENOENT);
	ERR(rmdir(fs_path(m, "nothing")), ENOENT);
	ERR(truncate(fs_path(m, "dir"), 0), EISDIR);

	/* special files */
	CHECK(mknod(fs_path(m, "fifo"), S_IFIFO | 0640, 0) == 0, "mkfifo: %s", strerror(errno));
	CHECK(lstat(fs_path(m, "fifo"), &st) == 0 && S_ISFIFO(st.st_mode) && (st.st_mode & 0777) == 0640, "a FIFO");
	CHECK(mknod(fs_path(m, "chr"), S_IFCHR | 0600, makedev(1, 3)) == 0, "mknod chr: %s", strerror(errno));
	CHECK(lstat(fs_path(m, "chr"), &st) == 0 && S_ISCHR(st.st_mode) && major(st.st_rdev) == 1 &&
	      minor(st.st_rdev) == 3, "a character device 1:3 (%u:%u)", major(st.st_rdev), minor(st.st_rdev));

	/* removed by another mount under an open descriptor and a cached name */
	fs_write_file(fs_path(m, "gone"), "gone soon", 9);
	CHECK(stat(fs_path(m, "gone"), &st) == 0, "stat gone");
	fd = open(fs_path(m, "gone"), O_RDONLY);
	CHECK(fd >= 0, "open gone");
	CHECK(unlink(fs_path(m2, "gone")) == 0, "unlink through the other mount");
	CHECK(rmdir(fs_path(m2, "dir")) < 0 && errno == ENOTEMPTY, "the other mount: ENOTEMPTY too");
	/* the name was cached: within the entry timeout stat may still find
	 * it; afterwards it must be ENOENT or ESTALE, never a hang */
	bool gone = false;
	for (int i = 0; i < 60 && !gone; i++) {
		errno = 0;
		gone = stat(fs_path(m, "gone"), &st) < 0 && (errno == ENOENT || errno == ESTALE);
		if (!gone)
			usleep(100000);
	}
	CHECK(gone, "the removed file still stats");
	ssize_t n = read(fd, buf, sizeof(buf));
	NOTE("read of a file another mount removed: %zd (%s)", n, n < 0 ? strerror(errno) : "data");
	close(fd);
	CHECK(stat(fs_path(m, "file"), &st) == 0, "the mount goes on");

	CHECK(fs_umount(m2) == 0 && fs_umount(m) == 0, "both unmount");

	/* a cluster file that names nothing reachable: an error, exit 1 */
	char bad[300], cmd[900];
	snprintf(bad, sizeof(bad), "%s/bad.conf", c->base);
	FILE *f = fopen(bad, "w");
	CHECK(f && fputs("[cluster]\nname = x\nbogus = 1\n", f) >= 0 && fclose(f) == 0, "bad file");
	snprintf(cmd, sizeof(cmd), "%s %s --cluster %s -f >/dev/null 2>&1", ct_bin("slicefs"), c->base, bad);
	int rc = system(cmd);
	CHECK(WIFEXITED(rc) && WEXITSTATUS(rc) == 1, "a bad cluster file: exit 1 (%d)", rc);
	ct_stop(c);
	return tl_finish();
}
