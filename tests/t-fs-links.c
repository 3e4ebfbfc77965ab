/*
 * t-fs-links.c - slicefs: hard links (nlink counts, data shared, the last
 * unlink removes, a link to a directory EPERM, across directories) and
 * symbolic links (readlink, lstat, following, dangling ENOENT, a long
 * target, a link in the middle of a path, readlink of a non-link EINVAL).
 */
#include "cluster_testlib.h"
#include "fs_testlib.h"

static nlink_t links(const char *p)
{
	struct stat st;
	CHECK(stat(p, &st) == 0, "stat %s: %s", p, strerror(errno));
	return st.st_nlink;
}

int main(int argc, char **argv)
{
	tl_init(argc, argv, 60);
	struct ct_cluster *c = ct_start(2, 1, NULL);
	struct fs_mount *m = fs_mount(c);
	char buf[8192];
	struct stat st, st2;

	/* hard links */
	CHECK(mkdir(fs_path(m, "dir"), 0755) == 0, "mkdir");
	fs_write_file(fs_path(m, "orig"), "shared", 6);
	CHECK(link(fs_path(m, "orig"), fs_path(m, "dir/second")) == 0, "link: %s", strerror(errno));
	CHECK(link(fs_path(m, "orig"), fs_path(m, "third")) == 0, "link: %s", strerror(errno));
	CHECK(links(fs_path(m, "orig")) == 3 && links(fs_path(m, "dir/second")) == 3, "nlink 3 (%lu)",
	      (unsigned long)links(fs_path(m, "orig")));
	CHECK(stat(fs_path(m, "orig"), &st) == 0 && stat(fs_path(m, "dir/second"), &st2) == 0 &&
	      st.st_ino == st2.st_ino, "one inode");
	int fd = open(fs_path(m, "dir/second"), O_WRONLY | O_APPEND);
	CHECK(fd >= 0 && write(fd, " data", 5) == 5 && close(fd) == 0, "append through a link");
	CHECK(fs_read_file(fs_path(m, "third"), buf, sizeof(buf)) == 11 && memcmp(buf, "shared data", 11) == 0,
	      "the data through another link");
	CHECK(link(fs_path(m, "orig"), fs_path(m, "third")) < 0 && errno == EEXIST, "link over a name: EEXIST (%s)",
	      strerror(errno));
	CHECK(link(fs_path(m, "dir"), fs_path(m, "dirlink")) < 0 && errno == EPERM, "link to a dir: EPERM (%s)",
	      strerror(errno));
	CHECK(link(fs_path(m, "none"), fs_path(m, "x")) < 0 && errno == ENOENT, "link of nothing: ENOENT (%s)",
	      strerror(errno));
	CHECK(unlink(fs_path(m, "orig")) == 0, "unlink orig");
	CHECK(links(fs_path(m, "third")) == 2, "nlink 2 after an unlink");
	CHECK(unlink(fs_path(m, "third")) == 0, "unlink third");
	CHECK(links(fs_path(m, "dir/second")) == 1, "nlink 1");
	CHECK(fs_read_file(fs_path(m, "dir/second"), buf, sizeof(buf)) == 11, "the last link keeps the data");
	CHECK(unlink(fs_path(m, "dir/second")) == 0, "unlink the last");
	CHECK(stat(fs_path(m, "dir/second"), &st) < 0 && errno == ENOENT, "gone");

	/* symbolic links */
	fs_write_file(fs_path(m, "dir/target"), "pointed at", 10);
	CHECK(symlink("dir/target", fs_path(m, "sym")) == 0, "symlink: %s", strerror(errno));
	CHECK(lstat(fs_path(m, "sym"), &st) == 0 && S_ISLNK(st.st_mode) && st.st_size == 10, "lstat: a link of 10");
	ssize_t n = readlink(fs_path(m, "sym"), buf, sizeof(buf));
	CHECK(n == 10 && memcmp(buf, "dir/target", 10) == 0, "readlink: %zd '%.*s'", n, (int)(n > 0 ? n : 0), buf);
	CHECK(fs_read_file(fs_path(m, "sym"), buf, sizeof(buf)) == 10 && memcmp(buf, "pointed at", 10) == 0,
	      "open follows the link");
	CHECK(symlink("dir", fs_path(m, "dsym")) == 0, "symlink to a dir");
	CHECK(fs_read_file(fs_path(m, "dsym/target"), buf, sizeof(buf)) == 10, "a link in the middle of a path");
	CHECK(symlink("/nowhere/at/all", fs_path(m, "dangling")) == 0, "dangling symlink");
	CHECK(open(fs_path(m, "dangling"), O_RDONLY) < 0 && errno == ENOENT, "dangling: ENOENT (%s)", strerror(errno));
	CHECK(symlink("x", fs_path(m, "sym")) < 0 && errno == EEXIST, "symlink over a name: EEXIST");
	char longt[1001];
	memset(longt, 'a', 1000);
	longt[1000] = 0;
	for (int i = 50; i < 1000; i += 50)
		longt[i] = '/';
	CHECK(symlink(longt, fs_path(m, "long")) == 0, "symlink of 1000 bytes: %s", strerror(errno));
	n = readlink(fs_path(m, "long"), buf, sizeof(buf));
	CHECK(n == 1000 && memcmp(buf, longt, 1000) == 0, "readlink of 1000 bytes: %zd", n);
	CHECK(readlink(fs_path(m, "dir/target"), buf, sizeof(buf)) < 0 && errno == EINVAL,
	      "readlink of a file: EINVAL (%s)", strerror(errno));
	CHECK(unlink(fs_path(m, "sym")) == 0, "unlink the link");
	CHECK(stat(fs_path(m, "dir/target"), &st) == 0, "the target stays");

	CHECK(fs_umount(m) == 0, "slicefs exits 0");
	ct_stop(c);
	return tl_finish();
}
