/*
 * t-fs-perms.c - slicefs: attributes and permissions.  As root: chmod,
 * chown, utimensat (given times, UTIME_NOW, UTIME_OMIT).  As uid 1000
 * (a child that setresuid's; the mount has allow_other): the managers'
 * checks reach the caller - EACCES on files and directories it may not
 * use, EPERM for chmod/chown/times of others' files, access(2), and what
 * it may do on its own files.
 */
#include "cluster_testlib.h"
#include "fs_testlib.h"

static struct fs_mount *M;

#define UCHECK(cond, code, ...) do { if (!(cond)) { NOTE(__VA_ARGS__); return code; } } while (0)

static int as_user(void *arg)
{
	struct stat st;
	int fd;

	UCHECK(open(fs_path(M, "secret"), O_RDONLY) < 0 && errno == EACCES, 2, "read 0600 root file: %s",
	       strerror(errno));
	UCHECK(open(fs_path(M, "pub"), O_WRONLY) < 0 && errno == EACCES, 3, "write 0644 root file: %s",
	       strerror(errno));
	fd = open(fs_path(M, "pub"), O_RDONLY);
	UCHECK(fd >= 0, 4, "read 0644 root file: %s", strerror(errno));
	close(fd);
	UCHECK(open(fs_path(M, "newfile"), O_WRONLY | O_CREAT, 0644) < 0 && errno == EACCES, 5,
	       "create in a 0755 root dir: %s", strerror(errno));
	UCHECK(stat(fs_path(M, "priv/inside"), &st) < 0 && errno == EACCES, 6, "search a 0700 root dir: %s",
	       strerror(errno));
	UCHECK(opendir(fs_path(M, "priv")) == NULL && errno == EACCES, 7, "list a 0700 root dir: %s",
	       strerror(errno));
	UCHECK(chmod(fs_path(M, "pub"), 0666) < 0 && errno == EPERM, 8, "chmod another's file: %s", strerror(errno));
	UCHECK(chown(fs_path(M, "pub"), 1000, 1000) < 0 && errno == EPERM, 9, "chown another's file: %s",
	       strerror(errno));
	struct timespec ts[2] = { { 1000, 0 }, { 1000, 0 } };
	UCHECK(utimensat(AT_FDCWD, fs_path(M, "pub"), ts, 0) < 0 && (errno == EPERM || errno == EACCES), 10,
	       "set times of another's file: %s", strerror(errno));
	UCHECK(access(fs_path(M, "pub"), R_OK) == 0, 11, "access R_OK: %s", strerror(errno));
	UCHECK(access(fs_path(M, "pub"), W_OK) < 0 && errno == EACCES, 12, "access W_OK: %s", strerror(errno));
	UCHECK(unlink(fs_path(M, "pub")) < 0 && errno == EACCES, 13, "unlink in a root dir: %s", strerror(errno));
	UCHECK(chdir(fs_path(M, "priv")) < 0 && errno == EACCES, 14, "chdir into 0700: %s", strerror(errno));

	/* its own things, in a 0777 directory */
	fd = open(fs_path(M, "open/mine"), O_WRONLY | O_CREAT | O_EXCL, 0600);
	UCHECK(fd >= 0, 20, "create in 0777: %s", strerror(errno));
	UCHECK(write(fd, "mine", 4) == 4 && close(fd) == 0, 21, "write own file");
	UCHECK(stat(fs_path(M, "open/mine"), &st) == 0 && st.st_uid == 1000 && st.st_gid == 1000, 22,
	       "owner 1000:1000 (%u:%u)", st.st_uid, st.st_gid);
	UCHECK(chmod(fs_path(M, "open/mine"), 0640) == 0, 23, "chmod own file: %s", strerror(errno));
	UCHECK(chown(fs_path(M, "open/mine"), 0, 1000) < 0 && errno == EPERM, 24, "give own file away: %s",
	       strerror(errno));
	UCHECK(utimensat(AT_FDCWD, fs_path(M, "open/mine"), ts, 0) == 0, 25, "set own times: %s", strerror(errno));
	UCHECK(stat(fs_path(M, "open/mine"), &st) == 0 && st.st_mtime == 1000, 26, "own mtime set");
	UCHECK(truncate(fs_path(M, "open/mine"), 2) == 0, 27, "truncate own: %s", strerror(errno));
	UCHECK(truncate(fs_path(M, "pub"), 0) < 0 && errno == EACCES, 28, "truncate another's: %s", strerror(errno));
	UCHECK(mkdir(fs_path(M, "open/mydir"), 0700) == 0, 29, "mkdir in 0777: %s", strerror(errno));
	/* the sticky bit: root's file in a sticky 0777 directory */
	UCHECK(unlink(fs_path(M, "sticky/roots")) < 0 && (errno == EPERM || errno == EACCES), 30,
	       "unlink another's file in a sticky dir: %s", strerror(errno));
	return 0;
}

int main(int argc, char **argv)
{
	tl_init(argc, argv, 60);
	struct ct_cluster *c = ct_start(2, 1, NULL);
	struct fs_mount *m = M = fs_mount(c);
	struct stat st;

	/* the root of a test volume is 0777: make it root's 0755 */
	CHECK(chmod(m->dir, 0755) == 0, "chmod root: %s", strerror(errno));
	CHECK(stat(m->dir, &st) == 0 && (st.st_mode & 07777) == 0755, "root mode %o", st.st_mode & 07777);
	fs_write_file(fs_path(m, "secret"), "s", 1);
	CHECK(chmod(fs_path(m, "secret"), 0600) == 0, "chmod secret");
	fs_write_file(fs_path(m, "pub"), "p", 1);
	CHECK(chmod(fs_path(m, "pub"), 0644) == 0, "chmod pub");
	CHECK(stat(fs_path(m, "pub"), &st) == 0 && (st.st_mode & 07777) == 0644, "pub mode %o", st.st_mode);
	CHECK(mkdir(fs_path(m, "priv"), 0700) == 0 && mkdir(fs_path(m, "open"), 0777) == 0 &&
	      chmod(fs_path(m, "open"), 0777) == 0, "dirs");
	fs_write_file(fs_path(m, "priv/inside"), "i", 1);
	CHECK(mkdir(fs_path(m, "sticky"), 0777) == 0 && chmod(fs_path(m, "sticky"), 01777) == 0, "sticky dir");
	fs_write_file(fs_path(m, "sticky/roots"), "r", 1);
	CHECK(stat(fs_path(m, "sticky"), &st) == 0 && (st.st_mode & 07777) == 01777, "sticky mode %o",
	      st.st_mode & 07777);

	/* chown, times */
	fs_write_file(fs_path(m, "owned"), "o", 1);
	CHECK(chown(fs_path(m, "owned"), 1234, 5678) == 0, "chown: %s", strerror(errno));
	CHECK(stat(fs_path(m, "owned"), &st) == 0 && st.st_uid == 1234 && st.st_gid == 5678, "owner %u:%u",
	      st.st_uid, st.st_gid);
	struct timespec ts[2] = { { 1500000000, 123456789 }, { 1600000000, 987654321 } };
	CHECK(utimensat(AT_FDCWD, fs_path(m, "owned"), ts, 0) == 0, "utimensat: %s", strerror(errno));
	CHECK(stat(fs_path(m, "owned"), &st) == 0 && st.st_atim.tv_sec == 1500000000 &&
	      st.st_atim.tv_nsec == 123456789 && st.st_mtim.tv_sec == 1600000000 && st.st_mtim.tv_nsec == 987654321,
	      "times set: %ld.%09ld %ld.%09ld", (long)st.st_atim.tv_sec, st.st_atim.tv_nsec, (long)st.st_mtim.tv_sec,
	      st.st_mtim.tv_nsec);
	struct timespec omit_now[2] = { { 0, UTIME_OMIT }, { 0, UTIME_NOW } };
	CHECK(utimensat(AT_FDCWD, fs_path(m, "owned"), omit_now, 0) == 0, "UTIME_NOW: %s", strerror(errno));
	struct stat st2;
	CHECK(stat(fs_path(m, "owned"), &st2) == 0 && st2.st_atim.tv_sec == 1500000000 &&
	      st2.st_mtim.tv_sec > 1600000000, "atime kept (OMIT), mtime now: %ld %ld", (long)st2.st_atim.tv_sec,
	      (long)st2.st_mtim.tv_sec);
	/* cp -p: times set on an open file with writes behind stay set */
	int fd = open(fs_path(m, "cpp"), O_WRONLY | O_CREAT, 0644);
	CHECK(fd >= 0 && write(fd, "abc", 3) == 3, "write cpp");
	CHECK(futimens(fd, ts) == 0, "futimens: %s", strerror(errno));
	CHECK(close(fd) == 0, "close cpp");
	CHECK(stat(fs_path(m, "cpp"), &st) == 0 && st.st_mtim.tv_sec == 1600000000 && st.st_size == 3,
	      "futimens before close survives the close: mtime %ld size %lld", (long)st.st_mtim.tv_sec,
	      (long long)st.st_size);

	int rc = fs_as_user(as_user, NULL);
	CHECK(rc == 0, "as uid 1000: check %d failed", rc);

	CHECK(fs_umount(m) == 0, "slicefs exits 0");
	ct_stop(c);
	return tl_finish();
}
