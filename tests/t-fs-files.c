/*
 * t-fs-files.c - slicefs: file data.  Writes and reads at offsets across
 * stripe units and block servers, holes read as zeros, truncate down and
 * up (by path and by descriptor), O_APPEND, O_EXCL, O_TRUNC, a file
 * unlinked or replaced by a rename while open stays readable and leaves
 * nothing behind (a failed rename leaves it under its name), and
 * everything is there again after an unmount and a new mount.
 */
#include "cluster_testlib.h"
#include "fs_testlib.h"

#define MIB (1u << 20)

static void check_size(const char *p, off_t want)
{
	struct stat st;
	CHECK(stat(p, &st) == 0, "stat %s: %s", p, strerror(errno));
	CHECK(st.st_size == want, "%s: size %lld, want %lld", p, (long long)st.st_size, (long long)want);
}

static void pread_all(int fd, void *buf, size_t len, off_t off)
{
	size_t got = 0;
	while (got < len) {
		ssize_t n = pread(fd, (char *)buf + got, len - got, off + (off_t)got);
		CHECK(n > 0, "pread at %lld: %zd %s", (long long)off + (long long)got, n, strerror(errno));
		got += (size_t)n;
	}
}

static void pwrite_all(int fd, const void *buf, size_t len, off_t off)
{
	CHECK(pwrite(fd, buf, len, off) == (ssize_t)len, "pwrite %zu at %lld: %s", len, (long long)off,
	      strerror(errno));
}

int main(int argc, char **argv)
{
	tl_init(argc, argv, 60);
	struct ct_cluster *c = ct_start(3, 1, NULL);
	struct fs_mount *m = fs_mount(c);
	char *buf = malloc(4 * MIB), *rd = malloc(4 * MIB);
	CHECK(buf && rd, "memory");

	/* small file, whole */
	fs_write_file(fs_path(m, "small"), "hello, slice\n", 13);
	CHECK(fs_read_file(fs_path(m, "small"), rd, 100) == 13 && memcmp(rd, "hello, slice\n", 13) == 0,
	      "small file reads back");

	/* 3 MiB at an odd offset: many 64 KiB stripe units over 3 servers */
	int fd = open(fs_path(m, "big"), O_RDWR | O_CREAT | O_EXCL, 0644);
	CHECK(fd >= 0, "create big: %s", strerror(errno));
	tl_fill(buf, 3 * MIB, 7, 0);
	pwrite_all(fd, buf, 3 * MIB, 100001);
	check_size(fs_path(m, "big"), 100001 + 3 * MIB);
	memset(rd, 0xee, 4 * MIB);
	pread_all(fd, rd, 100001 + 3 * MIB, 0);
	CHECK(tl_all_bytes(rd, 100001, 0), "the hole before the data reads as zeros");
	CHECK(tl_verify(rd + 100001, 3 * MIB, 7, 0) < 0, "3 MiB at offset 100001 read back");
	CHECK(close(fd) == 0, "close big: %s", strerror(errno));

	/* a sparse file: one byte far out */
	fd = open(fs_path(m, "sparse"), O_RDWR | O_CREAT, 0644);
	CHECK(fd >= 0, "create sparse");
	pwrite_all(fd, "Z", 1, 40 * MIB + 5);
	pread_all(fd, rd, 4096, 40 * MIB + 5 - 4095);
	CHECK(tl_all_bytes(rd, 4095, 0) && rd[4095] == 'Z', "hole then the byte");
	CHECK(pread(fd, rd, 10, 40 * MIB + 6) == 0, "read at the end gives 0");
	CHECK(close(fd) == 0, "close sparse");
	check_size(fs_path(m, "sparse"), 40 * MIB + 6);

	/* truncate by path, down then up */
	CHECK(truncate(fs_path(m, "big"), 50000) == 0, "truncate down: %s", strerror(errno));
	check_size(fs_path(m, "big"), 50000);
	CHECK(truncate(fs_path(m, "big"), 200000) == 0, "truncate up: %s", strerror(errno));
	check_size(fs_path(m, "big"), 200000);
	CHECK(fs_read_file(fs_path(m, "big"), rd, 4 * MIB) == 200000, "read after truncates");
	CHECK(tl_all_bytes(rd, 50000, 0), "the start is still the hole");
	CHECK(tl_all_bytes(rd + 50000, 150000, 0), "truncated data is gone: zeros after 50000");

	/* ftruncate of an open file with writes behind it */
	fd = open(fs_path(m, "ftr"), O_RDWR | O_CREAT, 0644);
	CHECK(fd >= 0, "create ftr");
	tl_fill(buf, MIB, 9, 0);
	pwrite_all(fd, buf, MIB, 0);
	CHECK(ftruncate(fd, 70000) == 0, "ftruncate: %s", strerror(errno));
	struct stat st;
	CHECK(fstat(fd, &st) == 0 && st.st_size == 70000, "fstat after ftruncate: %lld", (long long)st.st_size);
	pwrite_all(fd, "end", 3, 100000);
	CHECK(close(fd) == 0, "close ftr");
	CHECK(fs_read_file(fs_path(m, "ftr"), rd, 4 * MIB) == 100003, "ftr size");
	CHECK(tl_verify(rd, 70000, 9, 0) < 0 && tl_all_bytes(rd + 70000, 30000, 0) &&
	      memcmp(rd + 100000, "end", 3) == 0, "ftr content");

	/* O_APPEND */
	fd = open(fs_path(m, "small"), O_WRONLY | O_APPEND);
	CHECK(fd >= 0, "open append");
	CHECK(write(fd, "more\n", 5) == 5, "append");
	CHECK(close(fd) == 0, "close append");
	CHECK(fs_read_file(fs_path(m, "small"), rd, 100) == 18 && memcmp(rd, "hello, slice\nmore\n", 18) == 0,
	      "appended");

	/* O_EXCL and O_TRUNC */
	CHECK(open(fs_path(m, "small"), O_WRONLY | O_CREAT | O_EXCL, 0644) < 0 && errno == EEXIST,
	      "O_EXCL on an existing file: EEXIST (got %s)", strerror(errno));
	fd = open(fs_path(m, "small"), O_WRONLY | O_TRUNC);
	CHECK(fd >= 0, "open O_TRUNC: %s", strerror(errno));
	CHECK(close(fd) == 0, "close");
	check_size(fs_path(m, "small"), 0);

	/* unlinked while open: still readable and writable through fd */
	fs_write_file(fs_path(m, "doomed"), "still here", 10);
	fd = open(fs_path(m, "doomed"), O_RDWR);
	CHECK(fd >= 0, "open doomed");
	CHECK(unlink(fs_path(m, "doomed")) == 0, "unlink open file: %s", strerror(errno));
	CHECK(access(fs_path(m, "doomed"), F_OK) < 0 && errno == ENOENT, "the name is gone");
	memset(rd, 0, 20);
	CHECK(pread(fd, rd, 20, 0) == 10 && memcmp(rd, "still here", 10) == 0, "the data is still readable");
	pwrite_all(fd, "!", 1, 10);
	CHECK(close(fd) == 0, "close doomed: %s", strerror(errno));
	/* replaced by a rename while open: the descriptor keeps the old file;
	 * a rename that fails leaves the open file under its name */
	fs_write_file(fs_path(m, "replaced"), "old data", 8);
	fs_write_file(fs_path(m, "newer"), "new data!", 9);
	fd = open(fs_path(m, "replaced"), O_RDONLY);
	CHECK(fd >= 0, "open replaced");
	CHECK(mkdir(fs_path(m, "adir"), 0755) == 0, "mkdir adir");
	CHECK(rename(fs_path(m, "adir"), fs_path(m, "replaced")) < 0 && errno == ENOTDIR, "dir over file: ENOTDIR");
	CHECK(fs_read_file(fs_path(m, "replaced"), rd, 100) == 8, "the failed rename left the name");
	CHECK(rmdir(fs_path(m, "adir")) == 0, "rmdir adir");
	CHECK(rename(fs_path(m, "newer"), fs_path(m, "replaced")) == 0, "rename over an open file: %s", strerror(errno));
	CHECK(fs_read_file(fs_path(m, "replaced"), rd, 100) == 9 && memcmp(rd, "new data!", 9) == 0, "the new file");
	memset(rd, 0, 20);
	CHECK(pread(fd, rd, 20, 0) == 8 && memcmp(rd, "old data", 8) == 0, "the old descriptor reads the old file");
	CHECK(close(fd) == 0, "close replaced");

	/* RELEASE comes after close(2) returns: the hidden name goes soon after */
	int names = 0;
	bool hidden = true;
	for (int tries = 0; tries < 100 && hidden; tries++) {
		DIR *d = opendir(m->dir);
		CHECK(d, "opendir");
		struct dirent *de;
		names = 0;
		hidden = false;
		while ((de = readdir(d))) {
			hidden |= strncmp(de->d_name, ".slicefs", 8) == 0;
			names++;
		}
		closedir(d);
		if (hidden)
			usleep(50000);
	}
	CHECK(!hidden, "the unlinked file's hidden name stays after its last close");
	CHECK(names == 2 + 5, "the root lists . .. and 5 files (%d)", names);

	/* everything committed: a new mount reads it back */
	CHECK(fs_umount(m) == 0, "slicefs exits 0 after the unmount");
	m = fs_mount(c);
	CHECK(fs_read_file(fs_path(m, "ftr"), rd, 4 * MIB) == 100003 && tl_verify(rd, 70000, 9, 0) < 0,
	      "ftr after a remount");
	check_size(fs_path(m, "sparse"), 40 * MIB + 6);
	fd = open(fs_path(m, "sparse"), O_RDONLY);
	CHECK(fd >= 0 && pread(fd, rd, 2, 40 * MIB + 4) == 2 && rd[0] == 0 && rd[1] == 'Z', "sparse after remount");
	close(fd);
	CHECK(fs_umount(m) == 0, "slicefs exits 0");
	ct_stop(c);
	free(buf);
	free(rd);
	return tl_finish();
}
