/*
 * t-fs-fsync.c - slicefs: fsync and fdatasync succeed and make the data
 * durable for the volume: after SIGKILL of the mount (nothing flushed or
 * closed after the fsync), a new mount reads the data and the size.
 * Writes that were only closed (flush) are there too; the data of a
 * file written after its last fsync and never closed may be lost (not
 * checked: whatever happens to it is allowed).
 */
#include "cluster_testlib.h"
#include "fs_testlib.h"

int main(int argc, char **argv)
{
	tl_init(argc, argv, 60);
	struct ct_cluster *c = ct_start(3, 1, NULL);
	struct fs_mount *m = fs_mount(c);
	size_t len = 3u << 20;
	char *buf = malloc(len), *rd = malloc(len);
	CHECK(buf && rd, "memory");

	tl_fill(buf, len, 11, 0);
	int fd = open(fs_path(m, "synced"), O_WRONLY | O_CREAT, 0644);
	CHECK(fd >= 0, "create");
	CHECK(write(fd, buf, len) == (ssize_t)len, "write: %s", strerror(errno));
	CHECK(fsync(fd) == 0, "fsync: %s", strerror(errno));
	int fd2 = open(fs_path(m, "dsynced"), O_WRONLY | O_CREAT, 0644);
	CHECK(fd2 >= 0 && pwrite(fd2, buf, 100000, 5000) == 100000, "write 2");
	CHECK(fdatasync(fd2) == 0, "fdatasync: %s", strerror(errno));
	fs_write_file(fs_path(m, "closed"), buf, 70000);
	int dfd = open(m->dir, O_RDONLY | O_DIRECTORY);
	CHECK(dfd >= 0, "open the root");
	CHECK(fsync(dfd) == 0 || errno == EINVAL || errno == ENOSYS, "fsync of a directory: %s", strerror(errno));
	close(dfd);

	/* the mount dies with both files open */
	fs_kill(m);
	m = fs_mount(c);
	struct stat st;
	CHECK(stat(fs_path(m, "synced"), &st) == 0 && st.st_size == (off_t)len, "synced size %lld",
	      (long long)st.st_size);
	CHECK(fs_read_file(fs_path(m, "synced"), rd, len) == len && tl_verify(rd, len, 11, 0) < 0,
	      "fsync'd data after the mount was killed");
	CHECK(fs_read_file(fs_path(m, "dsynced"), rd, len) == 105000 && tl_all_bytes(rd, 5000, 0) &&
	      tl_verify(rd + 5000, 100000, 11, 0) < 0, "fdatasync'd data after the mount was killed");
	CHECK(fs_read_file(fs_path(m, "closed"), rd, len) == 70000 && tl_verify(rd, 70000, 11, 0) < 0,
	      "closed data after the mount was killed");
	CHECK(fs_umount(m) == 0, "slicefs exits 0");
	ct_stop(c);
	free(buf);
	free(rd);
	return tl_finish();
}
