/*
 * t-fs-two-mounts.c - slicefs: two mounts of one volume, close-to-open.
 * A writes and closes, B opens and reads it; B had the file in its page
 * cache and A rewrites it with the same size (only mtime tells): B's next
 * open reads the new data; A appends, B sees the new size at its next
 * open; names made on B are found on A; a file B holds open while A
 * truncates it gets the new size at B's next open.
 */
#include "cluster_testlib.h"
#include "fs_testlib.h"

static void expect(struct fs_mount *m, const char *rel, const char *want, const char *what)
{
	char buf[256];
	size_t n = fs_read_file(fs_path(m, rel), buf, sizeof(buf));
	CHECK(n == strlen(want) && memcmp(buf, want, n) == 0, "%s: '%.*s', want '%s'", what, (int)n, buf, want);
}

int main(int argc, char **argv)
{
	tl_init(argc, argv, 60);
	struct ct_cluster *c = ct_start(2, 1, NULL);
	struct fs_mount *a = fs_mount(c), *b = fs_mount(c);

	fs_write_file(fs_path(a, "f"), "first version", 13);
	expect(b, "f", "first version", "B reads what A closed");
	/* B's page cache now holds "first version"; A rewrites in place */
	usleep(20000);
	int fd = open(fs_path(a, "f"), O_WRONLY);
	CHECK(fd >= 0 && pwrite(fd, "FIRST", 5, 0) == 5 && close(fd) == 0, "A rewrites");
	expect(b, "f", "FIRST version", "B's next open sees A's rewrite (same size)");
	fd = open(fs_path(a, "f"), O_WRONLY | O_APPEND);
	CHECK(fd >= 0 && write(fd, " and more", 9) == 9 && close(fd) == 0, "A appends");
	expect(b, "f", "FIRST version and more", "B sees the longer file");
	struct stat st;
	CHECK(stat(fs_path(b, "f"), &st) == 0, "stat on B");

	/* B makes names, A finds them */
	CHECK(mkdir(fs_path(b, "dir"), 0755) == 0, "mkdir on B");
	fs_write_file(fs_path(b, "dir/from-b"), "made on B", 9);
	expect(a, "dir/from-b", "made on B", "A reads B's file");

	/* B holds the file open; A truncates; B reopens */
	int bfd = open(fs_path(b, "f"), O_RDONLY);
	CHECK(bfd >= 0, "B opens");
	CHECK(truncate(fs_path(a, "f"), 5) == 0, "A truncates");
	close(bfd);
	expect(b, "f", "FIRST", "B after A's truncate");

	/* a large file: 2 MiB written on A, read on B */
	size_t len = 2u << 20;
	char *buf = malloc(len), *rd = malloc(len);
	CHECK(buf && rd, "memory");
	tl_fill(buf, len, 5, 0);
	fs_write_file(fs_path(a, "big"), buf, len);
	CHECK(fs_read_file(fs_path(b, "big"), rd, len) == len && tl_verify(rd, len, 5, 0) < 0, "2 MiB across");
	tl_fill(buf, len, 6, 0);
	fs_write_file(fs_path(a, "big"), buf, len);
	CHECK(fs_read_file(fs_path(b, "big"), rd, len) == len && tl_verify(rd, len, 6, 0) < 0,
	      "2 MiB rewritten on A, B's next open reads the new data");
	free(buf);
	free(rd);

	CHECK(fs_umount(b) == 0 && fs_umount(a) == 0, "both exit 0");
	ct_stop(c);
	return tl_finish();
}
