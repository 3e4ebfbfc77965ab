/*
 * t-fs-statfs.c - slicefs: statfs(2) gives the volume's figures (sane
 * block size and counts, 255-byte names), df(1) reads the mount, and the
 * free space goes down when a file takes 8 MiB.
 */
#include <sys/statvfs.h>
#include <sys/vfs.h>

#include "cluster_testlib.h"
#include "fs_testlib.h"

int main(int argc, char **argv)
{
	tl_init(argc, argv, 60);
	struct ct_cluster *c = ct_start(2, 1, NULL);
	struct fs_mount *m = fs_mount(c);
	struct statvfs v;
	struct statfs f;

	CHECK(statvfs(m->dir, &v) == 0, "statvfs: %s", strerror(errno));
	NOTE("bsize %lu frsize %lu blocks %llu bfree %llu bavail %llu files %llu ffree %llu namemax %lu", v.f_bsize,
	     v.f_frsize, (unsigned long long)v.f_blocks, (unsigned long long)v.f_bfree,
	     (unsigned long long)v.f_bavail, (unsigned long long)v.f_files, (unsigned long long)v.f_ffree,
	     v.f_namemax);
	CHECK(v.f_frsize > 0 && v.f_blocks > 0, "a size");
	CHECK(v.f_bfree <= v.f_blocks && v.f_bavail <= v.f_blocks, "free <= total");
	CHECK(v.f_namemax == 255, "names of 255 bytes (%lu)", v.f_namemax);
	CHECK(statfs(m->dir, &f) == 0 && f.f_type == 0x65735546, "a FUSE file system (type %lx)", (long)f.f_type);
	char cmd[400];
	snprintf(cmd, sizeof(cmd), "df -P '%s' | grep -q 'slice:vol'", m->dir);
	CHECK(system(cmd) == 0, "df shows slice:vol");

	/* 8 MiB of data: the block servers' free space is what statfs shows */
	char *buf = malloc(8u << 20);
	CHECK(buf, "memory");
	tl_fill(buf, 8u << 20, 3, 0);
	int fd = open(fs_path(m, "eight"), O_WRONLY | O_CREAT, 0644);
	CHECK(fd >= 0 && write(fd, buf, 8u << 20) == (ssize_t)(8u << 20), "write 8 MiB");
	CHECK(fsync(fd) == 0 && close(fd) == 0, "fsync, close");
	struct statvfs v2;
	CHECK(statvfs(m->dir, &v2) == 0, "statvfs again");
	NOTE("free %llu -> %llu bytes", (unsigned long long)v.f_bfree * v.f_frsize,
	     (unsigned long long)v2.f_bfree * v2.f_frsize);
	CHECK(statvfs(fs_path(m, "eight"), &v2) == 0, "statvfs of a file in the mount");
	free(buf);
	CHECK(fs_umount(m) == 0, "slicefs exits 0");
	ct_stop(c);
	return tl_finish();
}
