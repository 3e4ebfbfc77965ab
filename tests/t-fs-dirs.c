/*
 * t-fs-dirs.c - slicefs: directories.  mkdir/rmdir and their errors
 * (EEXIST, ENOTEMPTY, ENOTDIR, EISDIR), a directory renamed over an empty
 * one and not over a full one (ENOTEMPTY), a directory of 10 000 entries
 * listed exactly once each (readdir in pages, telldir/seekdir back into
 * the middle, stat of entries after the listing), and a listing that
 * goes on while entries are removed.
 */
#include "cluster_testlib.h"
#include "fs_testlib.h"

#define N 10000

static int count_and_mark(const char *dir, unsigned char *seen, int *dups)
{
	DIR *d = opendir(dir);
	CHECK(d, "opendir %s: %s", dir, strerror(errno));
	struct dirent *de;
	int n = 0;
	*dups = 0;
	memset(seen, 0, N);
	while ((de = readdir(d))) {
		n++;
		unsigned i;
		if (sscanf(de->d_name, "f%u", &i) == 1 && i < N) {
			if (seen[i])
				(*dups)++;
			seen[i] = 1;
			CHECK(de->d_type == DT_REG || de->d_type == DT_UNKNOWN, "d_type of %s: %d", de->d_name,
			      de->d_type);
		}
	}
	closedir(d);
	return n;
}

int main(int argc, char **argv)
{
	tl_init(argc, argv, 58);
	struct ct_cluster *c = ct_start(2, 1, NULL);
	struct fs_mount *m = fs_mount(c);
	struct stat st;

	CHECK(mkdir(fs_path(m, "a"), 0755) == 0, "mkdir a: %s", strerror(errno));
	CHECK(mkdir(fs_path(m, "a/b"), 0750) == 0, "mkdir a/b: %s", strerror(errno));
	CHECK(stat(fs_path(m, "a/b"), &st) == 0 && S_ISDIR(st.st_mode) && (st.st_mode & 07777) == 0750,
	      "a/b is a directory with mode 0750 (%o)", st.st_mode);
	CHECK(stat(fs_path(m, "a"), &st) == 0 && st.st_nlink == 3, "a has 3 links (%lu)", (unsigned long)st.st_nlink);
	CHECK(mkdir(fs_path(m, "a"), 0755) < 0 && errno == EEXIST, "mkdir existing: EEXIST (%s)", strerror(errno));
	CHECK(rmdir(fs_path(m, "a")) < 0 && errno == ENOTEMPTY, "rmdir non-empty: ENOTEMPTY (%s)", strerror(errno));
	fs_write_file(fs_path(m, "a/file"), "x", 1);
	CHECK(rmdir(fs_path(m, "a/file")) < 0 && errno == ENOTDIR, "rmdir of a file: ENOTDIR (%s)", strerror(errno));
	CHECK(unlink(fs_path(m, "a/b")) < 0 && (errno == EISDIR || errno == EPERM), "unlink of a dir: EISDIR (%s)",
	      strerror(errno));
	CHECK(mkdir(fs_path(m, "a/file/x"), 0755) < 0 && errno == ENOTDIR, "mkdir under a file: ENOTDIR (%s)",
	      strerror(errno));
	CHECK(mkdir(fs_path(m, "a/c"), 0755) == 0 && mkdir(fs_path(m, "a/c/d"), 0755) == 0, "mkdir a/c/d");
	fs_write_file(fs_path(m, "a/b/x"), "x", 1);
	CHECK(rename(fs_path(m, "a/c"), fs_path(m, "a/b")) < 0 && (errno == ENOTEMPTY || errno == EEXIST),
	      "dir over a non-empty dir: ENOTEMPTY (%s)", strerror(errno));
	CHECK(unlink(fs_path(m, "a/b/x")) == 0, "unlink a/b/x");
	CHECK(rename(fs_path(m, "a/c"), fs_path(m, "a/b")) == 0, "dir over an empty dir: %s", strerror(errno));
	CHECK(stat(fs_path(m, "a/b/d"), &st) == 0 && S_ISDIR(st.st_mode), "the moved tree");
	CHECK(rename(fs_path(m, "a/b/d"), fs_path(m, "d")) == 0 && rename(fs_path(m, "d"), fs_path(m, "a/b/d")) == 0,
	      "a directory out and back");
	CHECK(rmdir(fs_path(m, "a/b/d")) == 0, "rmdir a/b/d: %s", strerror(errno));
	CHECK(rmdir(fs_path(m, "a/b")) == 0, "rmdir a/b: %s", strerror(errno));
	CHECK(unlink(fs_path(m, "a/file")) == 0, "unlink a/file");
	CHECK(rmdir(fs_path(m, "a")) == 0, "rmdir a (now empty): %s", strerror(errno));
	CHECK(stat(fs_path(m, "a"), &st) < 0 && errno == ENOENT, "a is gone");

	/* a large directory: mknod makes a regular file in one call */
	CHECK(mkdir(fs_path(m, "big"), 0755) == 0, "mkdir big");
	char name[64];
	double t0 = tl_now_ms();
	for (unsigned i = 0; i < N; i++) {
		snprintf(name, sizeof(name), "big/f%u", i);
		CHECK(mknod(fs_path(m, name), S_IFREG | 0644, 0) == 0, "mknod %s: %s", name, strerror(errno));
	}
	NOTE("%u files made in %.1f s", N, (tl_now_ms() - t0) / 1000);
	unsigned char *seen = malloc(N);
	int dups;
	int n = count_and_mark(fs_path(m, "big"), seen, &dups);
	CHECK(n == N + 2 && dups == 0, "listing: %d entries (want %d), %d twice", n, N + 2, dups);
	for (unsigned i = 0; i < N; i++)
		CHECK(seen[i], "f%u missing from the listing", i);
	CHECK(stat(fs_path(m, "big"), &st) == 0 && S_ISDIR(st.st_mode), "stat big");

	/* telldir / seekdir: back into the middle gives the same entries */
	DIR *d = opendir(fs_path(m, "big"));
	CHECK(d, "opendir big");
	struct dirent *de;
	for (int i = 0; i < 5000; i++)
		CHECK((de = readdir(d)), "entry %d", i);
	long pos = telldir(d);
	char next[10][256];
	for (int i = 0; i < 10; i++) {
		CHECK((de = readdir(d)), "entry after telldir");
		snprintf(next[i], sizeof(next[i]), "%s", de->d_name);
	}
	seekdir(d, pos);
	for (int i = 0; i < 10; i++) {
		CHECK((de = readdir(d)) && strcmp(de->d_name, next[i]) == 0, "after seekdir: %s, want %s",
		      de ? de->d_name : "(end)", next[i]);
	}
	rewinddir(d);
	int again = 0;
	while (readdir(d))
		again++;
	CHECK(again == N + 2, "after rewinddir: %d entries", again);

	/* remove every other file while a listing runs: no entry is
	 * listed twice and every survivor is listed */
	rewinddir(d);
	int listed = 0;
	dups = 0;
	memset(seen, 0, N);
	for (unsigned i = 0; i < N; i++) {
		if (i % 2 == 1) {
			snprintf(name, sizeof(name), "big/f%u", i);
			CHECK(unlink(fs_path(m, name)) == 0, "unlink %s: %s", name, strerror(errno));
		}
		if (i % 4 == 0 && (de = readdir(d))) {
			unsigned k;
			if (sscanf(de->d_name, "f%u", &k) == 1) {
				dups += seen[k];
				seen[k] = 1;
			}
			listed++;
		}
	}
	while ((de = readdir(d))) {
		unsigned k;
		if (sscanf(de->d_name, "f%u", &k) == 1) {
			dups += seen[k];
			seen[k] = 1;
		}
		listed++;
	}
	closedir(d);
	CHECK(dups == 0, "%d entries listed twice during removals", dups);
	for (unsigned i = 0; i < N; i += 2)
		CHECK(seen[i], "survivor f%u not listed", i);
	n = count_and_mark(fs_path(m, "big"), seen, &dups);
	CHECK(n == N / 2 + 2, "after removals: %d entries", n);
	for (unsigned i = 0; i < N; i++)
		CHECK(seen[i] == (i % 2 == 0), "f%u listed: %d", i, seen[i]);
	free(seen);

	CHECK(fs_umount(m) == 0, "slicefs exits 0");
	ct_stop(c);
	return tl_finish();
}
