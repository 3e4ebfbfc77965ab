/*
 * t-fs-rename.c - slicefs: rename on a volume of 2 file managers (name
 * hashing puts directories on both, so renames between them cross
 * managers): a file through 8 directories and back with its data, over an
 * existing file (which goes), directories moved and over an empty one
 * (EXDEV on 2 managers, a documented limit of theirs; mv copies then),
 * and the errors: over a non-empty directory ENOTEMPTY (or EXDEV), file over
 * directory EISDIR, directory over file ENOTDIR, into its own subtree
 * EINVAL, RENAME_NOREPLACE over a name EEXIST, RENAME_EXCHANGE EINVAL.
 */
#include <linux/fs.h>
#include <sys/syscall.h>

#include "cluster_testlib.h"
#include "fs_testlib.h"

static int renameat2_(const char *a, const char *b, unsigned flags)
{
	return (int)syscall(SYS_renameat2, AT_FDCWD, a, AT_FDCWD, b, flags);
}

static void expect_content(const char *p, const char *want)
{
	char buf[256];
	size_t n = fs_read_file(p, buf, sizeof(buf));
	CHECK(n == strlen(want) && memcmp(buf, want, n) == 0, "%s: '%.*s', want '%s'", p, (int)n, buf, want);
}

static bool exists(const char *p)
{
	struct stat st;
	return lstat(p, &st) == 0;
}

int main(int argc, char **argv)
{
	tl_init(argc, argv, 60);
	struct ct_cluster *c = ct_start(2, 2, NULL);
	struct fs_mount *m = fs_mount(c);
	char a[64], b[64];

	for (int i = 0; i < 8; i++) {
		snprintf(a, sizeof(a), "d%d", i);
		CHECK(mkdir(fs_path(m, a), 0755) == 0, "mkdir %s: %s", a, strerror(errno));
	}
	fs_write_file(fs_path(m, "d0/f"), "the data", 8);
	struct stat st0, st;
	CHECK(stat(fs_path(m, "d0/f"), &st0) == 0, "stat");
	/* d0 -> d1 -> ... -> d7 -> d0, renamed on the way */
	for (int i = 0; i < 8; i++) {
		snprintf(a, sizeof(a), "d%d/%s", i, i ? "g" : "f");
		snprintf(b, sizeof(b), "d%d/%s", (i + 1) % 8, (i + 1) % 8 ? "g" : "f2");
		CHECK(rename(fs_path(m, a), fs_path(m, b)) == 0, "rename %s %s: %s", a, b, strerror(errno));
		CHECK(!exists(fs_path(m, a)), "%s still there", a);
		expect_content(fs_path(m, b), "the data");
	}
	CHECK(stat(fs_path(m, "d0/f2"), &st) == 0 && st.st_ino == st0.st_ino, "the same file (inode %llu, was %llu)",
	      (unsigned long long)st.st_ino, (unsigned long long)st0.st_ino);

	/* over an existing file */
	fs_write_file(fs_path(m, "d3/victim"), "old", 3);
	CHECK(rename(fs_path(m, "d0/f2"), fs_path(m, "d3/victim")) == 0, "rename over a file: %s", strerror(errno));
	expect_content(fs_path(m, "d3/victim"), "the data");
	CHECK(!exists(fs_path(m, "d0/f2")), "the source name is gone");
	fs_write_file(fs_path(m, "d5/same"), "same dir", 8);
	fs_write_file(fs_path(m, "d5/other"), "x", 1);
	CHECK(rename(fs_path(m, "d5/same"), fs_path(m, "d5/other")) == 0, "rename over a file in one dir");
	expect_content(fs_path(m, "d5/other"), "same dir");

	/* directories */
	CHECK(mkdir(fs_path(m, "d1/sub"), 0755) == 0 && mkdir(fs_path(m, "d1/sub/deeper"), 0755) == 0, "mkdir sub");
	fs_write_file(fs_path(m, "d1/sub/deeper/x"), "deep", 4);
	CHECK(rename(fs_path(m, "d1/sub"), fs_path(m, "d6/moved")) == 0, "move a tree: %s", strerror(errno));
	expect_content(fs_path(m, "d6/moved/deeper/x"), "deep");
	CHECK(stat(fs_path(m, "d1"), &st) == 0 && st.st_nlink == 2, "d1 lost its subdirectory link (%lu)",
	      (unsigned long)st.st_nlink);
	CHECK(stat(fs_path(m, "d6"), &st) == 0 && st.st_nlink == 3, "d6 got it (%lu)", (unsigned long)st.st_nlink);
	/* A directory over an empty one: on 2 managers the managers refuse
	 * (EXDEV, docs/file-manager.md: a directory replaces no spread
	 * directory; t-fs-dirs does it on one manager), and mv(1) copies. */
	CHECK(mkdir(fs_path(m, "d2/empty"), 0755) == 0, "mkdir empty");
	if (rename(fs_path(m, "d6/moved"), fs_path(m, "d2/empty")) == 0) {
		NOTE("directory over an empty directory: renamed");
	} else {
		CHECK(errno == EXDEV, "dir over an empty dir: %s", strerror(errno));
		char cmd[600];
		snprintf(cmd, sizeof(cmd), "rmdir '%s' && mv '%s' '%s'", fs_path(m, "d2/empty"),
			 fs_path(m, "d6/moved"), fs_path(m, "d2/empty"));
		CHECK(system(cmd) == 0, "mv of a directory (copied on EXDEV)");
	}
	expect_content(fs_path(m, "d2/empty/deeper/x"), "deep");

	/* errors */
	CHECK(mkdir(fs_path(m, "d4/full"), 0755) == 0, "mkdir full");
	fs_write_file(fs_path(m, "d4/full/x"), "x", 1);
	CHECK(rename(fs_path(m, "d2/empty"), fs_path(m, "d4/full")) < 0 &&
	      (errno == ENOTEMPTY || errno == EEXIST || errno == EXDEV), "over a non-empty dir: ENOTEMPTY (%s)",
	      strerror(errno));
	CHECK(rename(fs_path(m, "d3/victim"), fs_path(m, "d4/full")) < 0 && errno == EISDIR,
	      "file over dir: EISDIR (%s)", strerror(errno));
	CHECK(rename(fs_path(m, "d4/full"), fs_path(m, "d3/victim")) < 0 && errno == ENOTDIR,
	      "dir over file: ENOTDIR (%s)", strerror(errno));
	CHECK(rename(fs_path(m, "d2/empty"), fs_path(m, "d2/empty/deeper/inside")) < 0 && errno == EINVAL,
	      "into its own subtree: EINVAL (%s)", strerror(errno));
	CHECK(rename(fs_path(m, "d7/nothing"), fs_path(m, "d7/else")) < 0 && errno == ENOENT,
	      "missing source: ENOENT (%s)", strerror(errno));
	CHECK(renameat2_(fs_path(m, "d5/other"), fs_path(m, "d3/victim"), RENAME_NOREPLACE) < 0 && errno == EEXIST,
	      "RENAME_NOREPLACE over a name: EEXIST (%s)", strerror(errno));
	expect_content(fs_path(m, "d3/victim"), "the data");
	CHECK(renameat2_(fs_path(m, "d5/other"), fs_path(m, "d7/new"), RENAME_NOREPLACE) == 0,
	      "RENAME_NOREPLACE to a free name: %s", strerror(errno));
	expect_content(fs_path(m, "d7/new"), "same dir");
	CHECK(renameat2_(fs_path(m, "d7/new"), fs_path(m, "d3/victim"), RENAME_EXCHANGE) < 0 && errno == EINVAL,
	      "RENAME_EXCHANGE: EINVAL (%s)", strerror(errno));
	expect_content(fs_path(m, "d7/new"), "same dir");

	/* what the other mount sees: the same, from the managers */
	CHECK(fs_umount(m) == 0, "slicefs exits 0");
	m = fs_mount(c);
	expect_content(fs_path(m, "d3/victim"), "the data");
	expect_content(fs_path(m, "d2/empty/deeper/x"), "deep");
	CHECK(!exists(fs_path(m, "d6/moved")) && !exists(fs_path(m, "d1/sub")), "old names gone after a remount");
	CHECK(fs_umount(m) == 0, "slicefs exits 0");
	ct_stop(c);
	return tl_finish();
}
