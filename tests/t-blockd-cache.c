/*
 * t-blockd-cache: the server's memory serves hot blocks without copying
 * them (the "network memory"), over shm and over tcp.
 *
 *   - The first READ of a range goes to the disk (a miss), the second is
 *     answered from memory (a hit), with the same bytes.
 *   - A hit costs the server no copy: its Trapeze counters (read from its
 *     stat page, as tpz-stat does) show no payload copied, and over tcp
 *     each reply counted as sent zero-copy; the client gets each payload
 *     placed in its buffer with at most the engine's one copy.
 *   - A WRITE to a cached range updates the cached bytes: the next READ is
 *     still a hit and returns the new bytes.
 *   - The cache holds what --cache-mb says: reading more evicts the
 *     oldest blocks (re-reading them is a miss again), STATFS shows
 *     cache_used <= cache_bytes, and the bytes are right throughout.
 *   - A miss whose bytes are in the page cache is answered on the spot; one
 *     whose bytes are not (dropped with POSIX_FADV_DONTNEED) waits for the
 *     disk on an I/O thread (the daemon's exit line counts those) and
 *     reads right.
 */
#include "blockd_testlib.h"

#include <sys/mman.h>

#include "trapeze_stat.h"

static uint8_t buf[1u << 20];

/* The server's Trapeze counters, as published after after_ms (CLOCK_MONOTONIC). */
static struct tpz_counters server_tpz(const struct bt_daemon *d, double after_ms)
{
	char path[128];
	struct tpz_counters c;

	snprintf(path, sizeof(path), "/dev/shm/" TPZ_STAT_PREFIX "%u.%d.%u", (unsigned)geteuid(),
		 (int)d->pid, d->node);
	int fd = open(path, O_RDONLY);
	CHECK(fd >= 0, "open %s: %s", path, strerror(errno));
	struct tpz_stat_page *p = mmap(NULL, sizeof(*p), PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	CHECK(p != MAP_FAILED, "mmap %s", path);
	double end = tl_now_ms() + 3000;
	for (;;) {
		uint64_t g = atomic_load(&p->gen);
		memcpy(&c, &p->ctr, sizeof(c));
		uint64_t up = p->updated_ns;
		if (!(g & 1) && atomic_load(&p->gen) == g && up / 1e6 > after_ms)
			break;
		CHECK(tl_now_ms() < end, "the server's stat page was not refreshed within 3 s");
		usleep(10000);
	}
	munmap(p, sizeof(*p));
	return c;
}

/* Drop an object's pages from the page cache (they are clean: synced). */
static void drop_pages(const struct bt_daemon *d, uint64_t obj)
{
	static const char *const ext[] = { "dat", "crc" };
	char path[256];

	for (int i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "%s/objects/%02x/%016llx.%s", d->data, (unsigned)(obj & 0xff),
			 (unsigned long long)obj, ext[i]);
		int fd = open(path, O_RDONLY);
		CHECK(fd >= 0, "open %s: %s", path, strerror(errno));
		CHECK(posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED) == 0, "fadvise %s", path);
		close(fd);
	}
}

/* The daemon's "waited for the disk N" from its last counters line. */
static long waited(const struct bt_daemon *d)
{
	char line[2048];
	long n = -1;
	FILE *f = fopen(d->log, "r");

	CHECK(f, "open %s", d->log);
	while (fgets(line, sizeof(line), f)) {
		const char *p = strstr(line, "waited for the disk ");
		if (p)
			n = atol(p + strlen("waited for the disk "));
	}
	fclose(f);
	return n;
}

static void read_check(struct bt_client *c, uint64_t obj, uint64_t off, uint32_t len, uint32_t seed,
		       bool hit, const char *what)
{
	struct slb_blockd_counters k0 = bt_counters(c), k1;
	struct tpz_counters t0 = tl_counters(c->ep), t1;

	memset(buf, 0, len);
	CHECK_RC(bt_read(c, obj, off, buf, len, NULL), 0);
	long bad = bt_verify(buf, len, seed, off);
	CHECK(bad < 0, "%s: byte %ld wrong", what, bad);
	k1 = bt_counters(c);
	t1 = tl_counters(c->ep);
	CHECK(k1.cache_hits - k0.cache_hits == (hit ? 1u : 0u) && k1.cache_misses - k0.cache_misses ==
	      (hit ? 0u : 1u), "%s: hits +%llu misses +%llu, want a %s", what,
	      (unsigned long long)(k1.cache_hits - k0.cache_hits),
	      (unsigned long long)(k1.cache_misses - k0.cache_misses), hit ? "hit" : "miss");
	CHECK(t1.ipt_hits - t0.ipt_hits >= 1 && t1.payload_copies - t0.payload_copies <= 1,
	      "%s: client ipt_hits +%llu payload_copies +%llu: not placed with one copy", what,
	      (unsigned long long)(t1.ipt_hits - t0.ipt_hits),
	      (unsigned long long)(t1.payload_copies - t0.payload_copies));
}

static void run(enum tl_link link)
{
	const char *ln = tl_link_name(link);
	struct bt_daemon *d = bt_new(BT_SERVER, link);
	struct bt_client c;
	struct slb_write_res w;
	char what[96];

	d->extra[0] = "--cache-mb";
	d->extra[1] = "2";
	bt_start(d);
	bt_connect(&c, d, 1);
	bt_fill(buf, 1u << 20, 1, 0);
	CHECK_RC(bt_write(&c, 1, 0, buf, 1u << 20, 0, &w), 0);

	snprintf(what, sizeof(what), "%s first read", ln);
	read_check(&c, 1, 0, 1u << 20, 1, false, what);
	struct tpz_counters s0 = server_tpz(d, tl_now_ms());
	for (int i = 0; i < 10; i++) {
		snprintf(what, sizeof(what), "%s hit %d", ln, i);
		read_check(&c, 1, (uint64_t)i * 1000, 200000, 1, true, what);
	}
	struct tpz_counters s1 = server_tpz(d, tl_now_ms());
	NOTE("%s: server over 10 hits: payload_copies +%llu zero_copy +%llu", ln,
	     (unsigned long long)(s1.payload_copies - s0.payload_copies),
	     (unsigned long long)(s1.payload_zero_copy - s0.payload_zero_copy));
	CHECK(s1.payload_copies == s0.payload_copies, "%s: the server copied %llu reply payloads served "
	      "from its cache", ln, (unsigned long long)(s1.payload_copies - s0.payload_copies));
	if (link == TL_TCP)
		CHECK(s1.payload_zero_copy - s0.payload_zero_copy >= 10, "%s: %llu of 10 replies written "
		      "straight from the cache", ln, (unsigned long long)(s1.payload_zero_copy - s0.payload_zero_copy));

	/* A write into cached blocks: they take the new bytes. */
	bt_fill(buf, 70000, 1, 500000);   /* the bytes there, inverted */
	for (uint32_t i = 0; i < 70000; i++)
		buf[i] ^= 0xff;
	CHECK_RC(bt_write(&c, 1, 500000, buf, 70000, 0, &w), 0);
	struct slb_blockd_counters k0 = bt_counters(&c);
	memset(buf, 0, 1u << 20);
	CHECK_RC(bt_read(&c, 1, 0, buf, 1u << 20, NULL), 0);
	CHECK(bt_counters(&c).cache_hits - k0.cache_hits == 1, "%s: a read after a write to cached blocks "
	      "was not a hit", ln);
	for (uint32_t i = 0; i < (1u << 20); i++) {
		uint8_t want = tl_pat(1, i) ^ (i >= 500000 && i < 570000 ? 0xff : 0);
		CHECK(buf[i] == want, "%s: byte %u after the write to cached blocks: %#x, want %#x", ln, i,
		      buf[i], want);
	}
	bt_fill(buf, 70000, 1, 500000);   /* back to the plain pattern */
	CHECK_RC(bt_write(&c, 1, 500000, buf, 70000, 0, &w), 0);

	/* Eviction: 4 MiB through a 2 MiB cache. */
	for (uint32_t off = 0; off < (4u << 20); off += 1u << 20) {
		bt_fill(buf, 1u << 20, 2, off);
		CHECK_RC(bt_write(&c, 2, off, buf, 1u << 20, 0, &w), 0);
		snprintf(what, sizeof(what), "%s object 2 at %u", ln, off);
		read_check(&c, 2, off, 1u << 20, 2, false, what);
	}
	snprintf(what, sizeof(what), "%s object 1 after eviction", ln);
	read_check(&c, 1, 0, 1u << 20, 1, false, what);
	snprintf(what, sizeof(what), "%s object 1 cached again", ln);
	read_check(&c, 1, 0, 1u << 20, 1, true, what);
	struct slb_statfs_res f;
	CHECK_RC(bt_statfs(&c, &f), 0);
	CHECK(f.cache_bytes == (2u << 20) && f.cache_used > 0 && f.cache_used <= f.cache_bytes,
	      "%s: STATFS cache %llu used %llu", ln, (unsigned long long)f.cache_bytes,
	      (unsigned long long)f.cache_used);

	/* Not in the page cache either: an I/O thread waits for the disk. */
	bt_fill(buf, 1u << 20, 3, 0);
	CHECK_RC(bt_write(&c, 3, 0, buf, 1u << 20, SLB_STABLE, &w), 0);
	drop_pages(d, 3);
	snprintf(what, sizeof(what), "%s object 3 from the disk", ln);
	read_check(&c, 3, 0, 1u << 20, 3, false, what);
	bt_disconnect(&c);
	bt_stop(d);
	NOTE("%s: reads that waited for the disk: %ld", ln, waited(d));
	CHECK(waited(d) >= 1, "%s: no read waited for the disk (%ld), though its pages were dropped", ln,
	      waited(d));
}

int main(int argc, char **argv)
{
	tl_init(argc, argv, 40);
	run(TL_SHM);
	run(TL_TCP);
	return tl_finish();
}
