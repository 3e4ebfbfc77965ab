/*
 * fs-meta - POSIX metadata rate of a mounted file system (the fronts
 * benchmark's metadata test for FUSE mounts; the NFS side is fmd-meta, the
 * same phases over libnfs).  One thread, one new directory DIR/fsm.<pid>:
 *
 *   create  N files: open(O_CREAT|O_EXCL|O_WRONLY) + write SIZE bytes + close
 *   stat    stat() of each (the size is checked)
 *   remove  unlink() of each, then rmdir
 *
 * Each phase is timed on its own.  The same syscall sequence as the peers'
 * metabench.c, so its figures compare with peers/storage-results.md.
 *
 *   fs-meta DIR [--files N] [--size B]      (defaults 10000, 4096)
 *
 * Output: one JSON line {"files":N,"size":B,"create_ops":..,"stat_ops":..,
 * "remove_ops":..,"ok":true}; on a failed call a line with "ok":false and
 * the error, exit 1 (the directory is left for inspection).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static long files = 10000, size = 4096;

static int fail(const char *what, const char *path, int err)
{
	printf("{\"files\":%ld,\"size\":%ld,\"ok\":false,\"error\":\"%s %s: %s\"}\n", files, size,
	       what, path, strerror(err));
	return 1;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = { { "files", 1, 0, 'n' }, { "size", 1, 0, 's' },
					    { "help", 0, 0, 'h' }, { 0, 0, 0, 0 } };
	int c;
	while ((c = getopt_long(argc, argv, "n:s:h", lo, NULL)) != -1) {
		switch (c) {
		case 'n': files = atol(optarg); break;
		case 's': size = atol(optarg); break;
		case 'h':
			printf("usage: fs-meta DIR [--files N] [--size B]\n"
			       "create (+write B bytes) / stat / unlink of N files in DIR/fsm.<pid>;"
			       " one JSON line\n");
			return 0;
		default: return 2;
		}
	}
	if (optind != argc - 1 || files < 1 || files > 10000000 || size < 0 || size > (1 << 24)) {
		fprintf(stderr, "fs-meta: usage: fs-meta DIR [--files N (1..1e7)] [--size B (0..16M)]\n");
		return 2;
	}
	char *buf = malloc((size_t)size + 1);
	if (!buf)
		return 2;
	memset(buf, 'x', (size_t)size + 1);
	char dir[4096], path[4200];
	snprintf(dir, sizeof dir, "%s/fsm.%d", argv[optind], (int)getpid());
	if (mkdir(dir, 0755) != 0)
		return fail("mkdir", dir, errno);

	double t0 = now();
	for (long i = 0; i < files; i++) {
		snprintf(path, sizeof path, "%s/f%07ld", dir, i);
		int fd = open(path, O_CREAT | O_EXCL | O_WRONLY, 0644);
		if (fd < 0)
			return fail("open", path, errno);
		if (size > 0 && write(fd, buf, (size_t)size) != size)
			return fail("write", path, errno ? errno : EIO);
		if (close(fd) != 0)
			return fail("close", path, errno);
	}
	double t1 = now();
	struct stat st;
	for (long i = 0; i < files; i++) {
		snprintf(path, sizeof path, "%s/f%07ld", dir, i);
		if (stat(path, &st) != 0)
			return fail("stat", path, errno);
		if (st.st_size != size)
			return fail("stat (wrong size)", path, EIO);
	}
	double t2 = now();
	for (long i = 0; i < files; i++) {
		snprintf(path, sizeof path, "%s/f%07ld", dir, i);
		if (unlink(path) != 0)
			return fail("unlink", path, errno);
	}
	double t3 = now();
	if (rmdir(dir) != 0)
		return fail("rmdir", dir, errno);
	printf("{\"files\":%ld,\"size\":%ld,\"create_ops\":%.0f,\"stat_ops\":%.0f,\"remove_ops\":%.0f,"
	       "\"ok\":true}\n",
	       files, size, files / (t1 - t0), files / (t2 - t1), files / (t3 - t2));
	free(buf);
	return 0;
}
