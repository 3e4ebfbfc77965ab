/*
 * store_dir.c - the file backing's data directory: one daemon per
 * directory (LOCK), what it holds (FORMAT), its layout (objects/XX/), and
 * the object count taken at startup.  The layout is described in
 * store_file.h.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "blockd_log.h"
#include "store_file.h"

static const char format_text[] = "slice-blockd data directory\nformat 1\ncrc-block 4096\n";

/* One daemon per directory: an flock that dies with the process. */
static int take_lock(struct fstore *fs)
{
	char buf[32];
	int fd = openat(fs->dirfd, "LOCK", O_RDWR | O_CREAT | O_CLOEXEC, 0600);

	if (fd < 0)
		return -errno;
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		int err = errno;
		ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
		buf[n > 0 ? n : 0] = '\0';
		buf[strcspn(buf, "\n")] = '\0';
		FLOG(fs, BLOG_ERR, "data directory %s is in use by another slice-blockd (pid %s)",
		     fs->dir, buf[0] ? buf : "unknown");
		close(fd);
		return err == EWOULDBLOCK ? -EBUSY : -err;
	}
	int n = snprintf(buf, sizeof(buf), "%d\n", (int)getpid());
	if (ftruncate(fd, 0) < 0 || pwrite(fd, buf, (size_t)n, 0) != n)
		FLOG(fs, BLOG_WARN, "cannot write the pid to %s/LOCK: %s", fs->dir, strerror(errno));
	fs->lockfd = fd;
	return 0;
}

/* A directory without FORMAT is taken only if it holds nothing else of
 * ours or anyone's: `--data` pointed at the wrong place must not fill it. */
static int check_empty(struct fstore *fs)
{
	static const char *const ours[] = { ".", "..", "LOCK", "objects", "FORMAT.tmp" };
	int fd = openat(fs->dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *e;
	int rc = 0;

	if (!d) {
		rc = -errno;
		if (fd >= 0)
			close(fd);
		return rc;
	}
	while (rc == 0 && (e = readdir(d))) {
		bool known = false;
		for (size_t i = 0; i < sizeof(ours) / sizeof(ours[0]); i++)
			known |= strcmp(e->d_name, ours[i]) == 0;
		if (!known) {
			FLOG(fs, BLOG_ERR, "%s is not a slice-blockd data directory (no FORMAT file) and "
			     "is not empty (it holds \"%s\"): refusing to use it", fs->dir, e->d_name);
			rc = -ENOTEMPTY;
		}
	}
	closedir(d);
	return rc;
}

/* FORMAT says what this directory holds.  *fresh: there is none yet. */
static int check_format(struct fstore *fs, bool *fresh)
{
	char buf[256];
	int fd = openat(fs->dirfd, "FORMAT", O_RDONLY | O_CLOEXEC);

	*fresh = false;
	if (fd < 0) {
		if (errno != ENOENT)
			return -errno;
		*fresh = true;
		return check_empty(fs);
	}
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	if (strcmp(buf, format_text) != 0) {
		FLOG(fs, BLOG_ERR, "%s/FORMAT does not describe a format this slice-blockd reads "
		     "(want format %d, crc-block %u)", fs->dir, FSTORE_FORMAT, STORE_BLOCK);
		return -EPROTO;
	}
	return 0;
}

/* Written last, through a rename: a directory whose making was interrupted
 * has no FORMAT and is made again. */
static int write_format(struct fstore *fs)
{
	int fd = openat(fs->dirfd, "FORMAT.tmp", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	size_t len = strlen(format_text);
	int rc = 0;

	if (fd < 0)
		return -errno;
	ssize_t w = write(fd, format_text, len);
	if (w != (ssize_t)len)
		rc = w < 0 ? -errno : -EIO;
	else if (fsync(fd) < 0)
		rc = -errno;
	close(fd);
	if (rc == 0 && renameat(fs->dirfd, "FORMAT.tmp", fs->dirfd, "FORMAT") < 0)
		rc = -errno;
	if (rc == 0 && fsync(fs->dirfd) < 0)
		rc = -errno;
	if (rc == 0)
		FLOG(fs, BLOG_INFO, "new data directory %s (format %d, %u-byte checksum blocks)", fs->dir,
		     FSTORE_FORMAT, STORE_BLOCK);
	return rc;
}

static int make_layout(struct fstore *fs)
{
	char name[8];

	if (mkdirat(fs->dirfd, "objects", 0700) < 0 && errno != EEXIST)
		return -errno;
	fs->objdir = openat(fs->dirfd, "objects", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fs->objdir < 0)
		return -errno;
	for (unsigned i = 0; i < FSTORE_SUBDIRS; i++) {
		snprintf(name, sizeof(name), "%02x", i);
		if (mkdirat(fs->objdir, name, 0700) < 0 && errno != EEXIST)
			return -errno;
	}
	if (fsync(fs->objdir) < 0 || fsync(fs->dirfd) < 0)
		return -errno;
	return 0;
}

/* Count the objects (the .dat files): O(objects), once at startup. */
static void count_objects(struct fstore *fs)
{
	char name[8];
	uint64_t n = 0;

	for (unsigned i = 0; i < FSTORE_SUBDIRS; i++) {
		snprintf(name, sizeof(name), "%02x", i);
		int fd = openat(fs->objdir, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
		if (!d) {
			if (fd >= 0)
				close(fd);
			continue;
		}
		struct dirent *e;
		while ((e = readdir(d))) {
			size_t l = strlen(e->d_name);
			n += l == 20 && strcmp(e->d_name + 16, ".dat") == 0;
		}
		closedir(d);
	}
	atomic_init(&fs->objects, n);
}

int fstore_dir_open(struct fstore *fs, const char *dir)
{
	bool fresh;
	int rc;

	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		rc = -errno;
		FLOG(fs, BLOG_ERR, "cannot create data directory %s: %s", dir, strerror(errno));
		return rc;
	}
	fs->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fs->dirfd < 0) {
		rc = -errno;
		FLOG(fs, BLOG_ERR, "cannot open data directory %s: %s", dir, strerror(errno));
		return rc;
	}
	if ((rc = check_format(fs, &fresh)) < 0 || (rc = take_lock(fs)) < 0)
		return rc;
	if ((rc = make_layout(fs)) < 0) {
		FLOG(fs, BLOG_ERR, "cannot lay out %s/objects: %s", dir, strerror(-rc));
		return rc;
	}
	if (fresh && (rc = write_format(fs)) < 0) {
		FLOG(fs, BLOG_ERR, "cannot write %s/FORMAT: %s", dir, strerror(-rc));
		return rc;
	}
	count_objects(fs);
	return 0;
}

void fstore_dir_close(struct fstore *fs)
{
	if (fs->objdir >= 0)
		close(fs->objdir);
	if (fs->lockfd >= 0)
		close(fs->lockfd);   /* releases the flock */
	if (fs->dirfd >= 0)
		close(fs->dirfd);
	fs->objdir = fs->lockfd = fs->dirfd = -1;
}
