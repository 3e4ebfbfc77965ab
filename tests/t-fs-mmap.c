/*
 * t-fs-mmap.c - slicefs: mmap through the page cache.  A shared writable
 * mapping's stores reach the file (read(2) sees them, msync and munmap
 * write them back, a new mount reads them), a mapping reads what write(2)
 * wrote, and a private mapping's stores do not reach the file.
 */
#include <sys/mman.h>

#include "cluster_testlib.h"
#include "fs_testlib.h"

int main(int argc, char **argv)
{
	tl_init(argc, argv, 60);
	struct ct_cluster *c = ct_start(2, 1, NULL);
	struct fs_mount *m = fs_mount(c);
	size_t len = 1u << 20;
	char *rd = malloc(len), *buf = malloc(len);
	CHECK(rd && buf, "memory");

	/* write through a shared mapping */
	int fd = open(fs_path(m, "mapped"), O_RDWR | O_CREAT, 0644);
	CHECK(fd >= 0 && ftruncate(fd, (off_t)len) == 0, "create 1 MiB: %s", strerror(errno));
	char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	CHECK(p != MAP_FAILED, "mmap shared rw: %s", strerror(errno));
	tl_fill(p, len, 21, 0);
	CHECK(msync(p, len, MS_SYNC) == 0, "msync: %s", strerror(errno));
	CHECK(pread(fd, rd, len, 0) == (ssize_t)len && tl_verify(rd, len, 21, 0) < 0, "read(2) sees the stores");
	memcpy(p + 4096 * 10, "changed after msync", 19);
	CHECK(munmap(p, len) == 0, "munmap");
	CHECK(close(fd) == 0, "close: %s", strerror(errno));

	/* a mapping of what write(2) wrote */
	tl_fill(buf, len, 22, 0);
	fs_write_file(fs_path(m, "written"), buf, len);
	fd = open(fs_path(m, "written"), O_RDONLY);
	CHECK(fd >= 0, "open written");
	p = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);
	CHECK(p != MAP_FAILED, "mmap ro: %s", strerror(errno));
	CHECK(tl_verify(p, len, 22, 0) < 0, "the mapping reads the data");
	munmap(p, len);
	close(fd);

	/* a private mapping: stores stay private */
	fd = open(fs_path(m, "written"), O_RDWR);
	CHECK(fd >= 0, "open rw");
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	CHECK(p != MAP_FAILED, "mmap private");
	memset(p, 0x5a, 8192);
	munmap(p, len);
	close(fd);
	CHECK(fs_read_file(fs_path(m, "written"), rd, len) == len && tl_verify(rd, len, 22, 0) < 0,
	      "private stores did not reach the file");

	/* a new mount: the shared mapping's stores, the late one included */
	CHECK(fs_umount(m) == 0, "slicefs exits 0");
	m = fs_mount(c);
	CHECK(fs_read_file(fs_path(m, "mapped"), rd, len) == len, "mapped size");
	CHECK(memcmp(rd + 4096 * 10, "changed after msync", 19) == 0, "the store after msync reached the file");
	CHECK(tl_verify(rd, 4096 * 10, 21, 0) < 0 && tl_verify(rd + 4096 * 11, len - 4096 * 11, 21, 4096 * 11) < 0,
	      "the mapped data after a remount");
	CHECK(fs_umount(m) == 0, "slicefs exits 0");
	ct_stop(c);
	free(rd);
	free(buf);
	return tl_finish();
}
