/*
 * t-fmd-readdir.c - READDIR and READDIRPLUS over a directory of 10 000
 * entries with small replies (1 KiB / 2 KiB), resuming from cookies: every
 * entry comes exactly once.  Then a listing that runs while names are
 * removed and created: no name twice, and every name that existed
 * throughout exactly once.
 */
#include "fmd_testlib.h"

#define NFILES 10000

static uint8_t seen[NFILES + 200];

static int index_of(const char *name)
{
	unsigned i;
	char tail;
	if (sscanf(name, "f%05u%c", &i, &tail) != 1 || i >= NFILES + 200)
		return -1;
	return (int)i;
}

/* List dir page by page; count names into seen[] and the dots. */
static void list_all(struct nc *c, const struct tfh *dir, bool plus, int *dots, void (*midway)(void))
{
	static struct tdirent ents[512];
	struct nres r;
	uint64_t cookie = 0;
	int pages = 0;
	memset(seen, 0, sizeof(seen));
	*dots = 0;
	for (;;) {
		int st = plus ? nc_readdirplus(c, dir, cookie, 512, 2048, ents, 512, &r)
			      : nc_readdir(c, dir, cookie, 1024, ents, 512, &r);
		CHECK(st == NFS3_OK, "page %d: status %d", pages, st);
		CHECK(r.nents > 0 || r.eof, "an empty page before the end");
		for (uint32_t i = 0; i < r.nents; i++) {
			if (!strcmp(ents[i].name, ".") || !strcmp(ents[i].name, "..")) {
				(*dots)++;
				continue;
			}
			int k = index_of(ents[i].name);
			CHECK(k >= 0, "unexpected name %s", ents[i].name);
			CHECK(seen[k] < 255, "overflow");
			seen[k]++;
			if (plus)
				CHECK(ents[i].has_attr && ents[i].has_fh && ents[i].attr.fileid == ents[i].fileid,
				      "%s: attributes and handle", ents[i].name);
		}
		if (r.nents)
			cookie = ents[r.nents - 1].cookie;
		pages++;
		if (pages == 3 && midway)
			midway();
		if (r.eof)
			break;
		CHECK(pages < 100000, "listing does not end");
	}
	NOTE("%s: %d pages", plus ? "READDIRPLUS" : "READDIR", pages);
}

static struct nc c2;
static struct tfh dir;

/* While a listing is under way: remove f00000..f00099 and f09900..f09999,
 * add f10000..f10099. */
static void churn(void)
{
	struct nres r;
	char name[16];
	for (int i = 0; i < 100; i++) {
		snprintf(name, sizeof(name), "f%05d", i);
		EXPECT_NFS(nc_remove(&c2, &dir, name, &r), NFS3_OK);
		snprintf(name, sizeof(name), "f%05d", NFILES - 100 + i);
		EXPECT_NFS(nc_remove(&c2, &dir, name, &r), NFS3_OK);
	}
	CHECK(nc_create_many(&c2, &dir, "f%05u", NFILES, 100, 32) == 100, "churn creates");
}

int main(int argc, char **argv)
{
	tl_init(argc, argv, 120);
	struct ft_daemon *d = ft_new("fmd", "--no-root-squash");
	struct tfh root;
	struct nc c;
	struct nres r;
	int dots;

	EXPECT_NFS(nc_mount(d->mount_port, "/slice", &root), MNT3_OK);
	nc_open(&c, d->nfs_port, NFS_PROGRAM, 0, 0, 0, NULL);
	nc_open(&c2, d->nfs_port, NFS_PROGRAM, 0, 0, 0, NULL);
	EXPECT_NFS(nc_mkdir(&c, &root, "big", 0755, &r), NFS3_OK);
	dir = r.fh;
	CHECK(nc_create_many(&c, &dir, "f%05u", 0, NFILES, 64) == NFILES, "create %d files", NFILES);

	list_all(&c, &dir, false, &dots, NULL);
	CHECK(dots == 2, "dots: %d", dots);
	for (int i = 0; i < NFILES; i++)
		CHECK(seen[i] == 1, "READDIR: f%05d seen %d times", i, seen[i]);

	list_all(&c, &dir, true, &dots, NULL);
	CHECK(dots == 2, "dots: %d", dots);
	for (int i = 0; i < NFILES; i++)
		CHECK(seen[i] == 1, "READDIRPLUS: f%05d seen %d times", i, seen[i]);

	/* a listing across changes */
	list_all(&c, &dir, false, &dots, churn);
	for (int i = 0; i < NFILES + 100; i++) {
		CHECK(seen[i] <= 1, "f%05d seen %d times", i, seen[i]);
		if (i >= 100 && i < NFILES - 100)
			CHECK(seen[i] == 1, "f%05d (there all along) seen %d times", i, seen[i]);
	}
	EXPECT_NFS(nc_getattr(&c, &dir, &r), NFS3_OK);
	CHECK(r.attr.nlink == 2 && r.attr.size > 4096, "big directory: nlink %u size %llu", r.attr.nlink,
	      (unsigned long long)r.attr.size);
	nc_close(&c);
	nc_close(&c2);
	return 0;
}
