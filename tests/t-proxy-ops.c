/*
 * t-proxy-ops.c - slice-proxy through libnfs's raw client, in front of 2
 * file managers and 4 block servers: MOUNT on the proxy's one port gives
 * the volume's root; files made by name on each manager are written
 * (unstable + COMMIT, and FILE_SYNC) and read back through the proxy's data
 * path; a listing in small pages shows the names held by both managers;
 * a rename from one manager's name to the other's moves the file; the
 * caller's credential reaches the managers as it was sent (a file made as
 * uid 1234 is owned by 1234); a forged handle gets BADHANDLE or STALE, on
 * the forwarded and the data path; garbage bytes and a 2 GiB record mark
 * close only their own connection and the proxy answers others; SIGTERM
 * ends it with status 0.
 */
#include "fmd_testlib.h"
#include "oncrpc.h"
#include "orpc_testlib.h"
#include "proxy_testlib.h"
#include "slice_route.h"

static struct tfh root;

/* A name in the root that lives on manager m. */
static void name_on(uint32_t m, const char *prefix, char *out, size_t cap)
{
	struct slice_fh_info info;
	CHECK_RC(slice_fh_parse(root.b, root.len, &info), 0);
	for (int i = 0; i < 1000; i++) {
		snprintf(out, cap, "%s-%d", prefix, i);
		if (slice_route_entry(&info, out, strlen(out), 2) == m)
			return;
	}
	CHECK(false, "no name on manager %u", m);
}

static void fill(uint8_t *b, size_t n, uint32_t seed)
{
	for (size_t i = 0; i < n; i++) {
		seed = seed * 1103515245u + 12345u;
		b[i] = (uint8_t)(seed >> 16);
	}
}

static void write_read(struct nc *c, const struct tfh *f, uint32_t seed)
{
	enum { N = 300 * 1024, CH = 64 * 1024 };
	static uint8_t in[N], back[N];
	struct nres r;
	fill(in, N, seed);
	for (uint32_t off = 0; off < N; off += CH) {
		uint32_t n = N - off < CH ? N - off : CH;
		EXPECT_NFS(nc_write(c, f, off, in + off, n, off ? UNSTABLE : FILE_SYNC, &r), NFS3_OK);
		CHECK(r.count == n, "WRITE count %u, want %u", r.count, n);
		CHECK(r.has_attr && r.attr.size >= off + n, "WRITE's post-op size");
	}
	char verf[8];
	memcpy(verf, r.verf, 8);
	EXPECT_NFS(nc_commit(c, f, &r), NFS3_OK);
	CHECK(memcmp(verf, r.verf, 8) == 0, "the write verifier changed between WRITE and COMMIT");
	EXPECT_NFS(nc_getattr(c, f, &r), NFS3_OK);
	CHECK(r.attr.size == N, "size %llu after the writes, want %u", (unsigned long long)r.attr.size, N);
	uint32_t got = 0;
	for (int i = 0; i < 100 && got < N; i++) {
		EXPECT_NFS(nc_read(c, f, got, 100000, (char *)back + got, &r), NFS3_OK);
		CHECK(r.count > 0 || r.eof, "READ returned nothing before the end");
		got += r.count;
		if (r.eof)
			break;
	}
	CHECK(got == N && r.eof, "read %u bytes back (eof %d), want %u", got, r.eof, N);
	CHECK(memcmp(in, back, N) == 0, "the data read back differs");
	EXPECT_NFS(nc_read(c, f, N, 4096, (char *)back, &r), NFS3_OK);
	CHECK(r.count == 0 && r.eof, "READ at the end: count %u eof %d", r.count, r.eof);
}

static bool listed(const struct tdirent *e, uint32_t n, const char *name)
{
	for (uint32_t i = 0; i < n; i++)
		if (!strcmp(e[i].name, name))
			return true;
	return false;
}

/* The whole root listing, in pages of about 600 bytes. */
static uint32_t list_root(struct nc *c, struct tdirent *all, uint32_t cap)
{
	static struct tdirent page[64];
	uint32_t n = 0;
	uint64_t cookie = 0;
	struct nres r;
	for (int i = 0; i < 200; i++) {
		EXPECT_NFS(nc_readdirplus(c, &root, cookie, 600, 4096, page, 64, &r), NFS3_OK);
		for (uint32_t k = 0; k < r.nents && k < 64 && n < cap; k++)
			all[n++] = page[k];
		if (r.eof)
			return n;
		CHECK(r.nents > 0, "an empty page before the end");
		cookie = page[(r.nents < 64 ? r.nents : 64) - 1].cookie;
	}
	CHECK(false, "listing did not end in 200 pages");
	return n;
}

static void alive(struct px *p, struct nc *c)
{
	struct nres r;
	CHECK(px_alive(p), "slice-proxy died");
	EXPECT_NFS(nc_getattr(c, &root, &r), NFS3_OK);
}

static void garbage(struct px *p, struct nc *c)
{
	uint8_t junk[4096];
	fill(junk, sizeof(junk), 7);
	int fd = rpc_connect(p->port);
	rpc_write(fd, junk, sizeof(junk));
	CHECK(rpc_closed(fd, 5000) || px_alive(p), "proxy gone after random bytes");
	close(fd);
	alive(p, c);

	fd = rpc_connect(p->port);
	uint8_t mark[8] = { 0xff, 0xff, 0xff, 0xf0, 1, 2, 3, 4 };   /* a 2 GiB record */
	rpc_write(fd, mark, sizeof(mark));
	CHECK(rpc_closed(fd, 5000), "a 2 GiB record mark did not close its connection");
	close(fd);
	alive(p, c);

	/* a GETATTR whose handle length points past the record */
	struct rbuf b;
	rb_call(&b, 77, NFS_PROGRAM, 3, NFS3_GETATTR);
	rb_u32(&b, 0x7ffffff0);
	fd = rpc_connect(p->port);
	rpc_send(fd, &b);
	uint8_t rep[512];
	long n = rpc_recv(fd, rep, sizeof(rep), 5000);
	struct rpc_reply rr;
	CHECK(n < 0 || (rpc_parse_reply(rep, n, &rr) && rr.xid == 77 && rr.accepted &&
			rr.stat == ORPC_GARBAGE_ARGS),
	      "GETATTR with a bad handle length: not GARBAGE_ARGS");
	close(fd);
	alive(p, c);
}

int main(int argc, char **argv)
{
	tl_init(argc, argv, 60);
	struct ct_cluster *cl = ct_start(4, 2, NULL);
	struct px *p = px_start(cl, NULL);
	struct nres r;
	struct nc c;

	EXPECT_NFS(nc_mount(p->port, "/slice", &root), MNT3_OK);
	EXPECT_NFS(nc_mount(p->port, "/nowhere", NULL), MNT3ERR_NOENT);
	nc_open(&c, p->port, NFS_PROGRAM, 1234, 1234, 0, NULL);

	/* a file on each manager: made, written, read back */
	char name[2][32];
	struct tfh f[2];
	for (uint32_t m = 0; m < 2; m++) {
		name_on(m, "file", name[m], sizeof(name[m]));
		EXPECT_NFS(nc_create(&c, &root, name[m], UNCHECKED, 0644, NULL, &r), NFS3_OK);
		f[m] = r.fh;
		CHECK(r.has_attr && r.attr.uid == 1234 && r.attr.gid == 1234,
		      "the credential did not pass: owner %u:%u", r.attr.uid, r.attr.gid);
		write_read(&c, &f[m], 100 + m);
	}
	struct slice_fh_info i0, i1;
	CHECK_RC(slice_fh_parse(f[0].b, f[0].len, &i0), 0);
	CHECK_RC(slice_fh_parse(f[1].b, f[1].len, &i1), 0);
	CHECK(i0.manager == 0 && i1.manager == 1, "files on managers %u and %u", i0.manager, i1.manager);

	/* a directory's listing gathers names from both managers */
	char more[2][8][32];
	for (uint32_t m = 0; m < 2; m++)
		for (int k = 0; k < 8; k++) {
			char pre[16];
			snprintf(pre, sizeof(pre), "n%u%d", m, k);
			name_on(m, pre, more[m][k], sizeof(more[m][k]));
			EXPECT_NFS(nc_create(&c, &root, more[m][k], GUARDED, 0600, NULL, &r), NFS3_OK);
		}
	static struct tdirent all[256];
	uint32_t n = list_root(&c, all, 256);
	for (uint32_t m = 0; m < 2; m++) {
		CHECK(listed(all, n, name[m]), "%s (manager %u) not listed", name[m], m);
		for (int k = 0; k < 8; k++)
			CHECK(listed(all, n, more[m][k]), "%s (manager %u) not listed", more[m][k], m);
	}
	CHECK(n == 2 + 2 + 16, "listing has %u entries, want 20", n);

	/* rename across managers: the name on manager 0 to a name on 1 */
	char to[32];
	name_on(1, "moved", to, sizeof(to));
	EXPECT_NFS(nc_rename(&c, &root, name[0], &root, to, &r), NFS3_OK);
	EXPECT_NFS(nc_lookup(&c, &root, name[0], &r), NFS3ERR_NOENT);
	EXPECT_NFS(nc_lookup(&c, &root, to, &r), NFS3_OK);
	CHECK(r.fh.len == f[0].len && memcmp(r.fh.b, f[0].b, f[0].len) == 0, "the moved name has another handle");
	static uint8_t back[4096], want[4096];
	fill(want, sizeof(want), 100);
	struct tfh moved = r.fh;
	EXPECT_NFS(nc_read(&c, &moved, 0, sizeof(back), (char *)back, &r), NFS3_OK);
	CHECK(r.count == sizeof(back) && memcmp(back, want, sizeof(back)) == 0, "the moved file's data");

	/* forged handles: a changed MAC byte, a cut one, a foreign manager */
	struct tfh bad = f[1];
	bad.b[bad.len - 1] ^= 0x5a;
	int st = nc_getattr(&c, &bad, &r);
	CHECK(st == NFS3ERR_BADHANDLE || st == NFS3ERR_STALE, "GETATTR of a forged handle: %d", st);
	st = nc_read(&c, &bad, 0, 4096, (char *)back, &r);
	CHECK(st == NFS3ERR_BADHANDLE || st == NFS3ERR_STALE, "READ of a forged handle: %d", st);
	st = nc_write(&c, &bad, 0, want, 100, FILE_SYNC, &r);
	CHECK(st == NFS3ERR_BADHANDLE || st == NFS3ERR_STALE, "WRITE of a forged handle: %d", st);
	bad = f[1];
	bad.len = 5;
	st = nc_getattr(&c, &bad, &r);
	CHECK(st == NFS3ERR_BADHANDLE || st == NFS3ERR_STALE, "GETATTR of a 5-byte handle: %d", st);
	st = nc_commit(&c, &bad, &r);
	CHECK(st == NFS3ERR_BADHANDLE || st == NFS3ERR_STALE, "COMMIT of a 5-byte handle: %d", st);
	alive(p, &c);

	garbage(p, &c);
	nc_close(&c);
	CHECK_RC(px_stop(p), 0);
	ct_stop(cl);
	return tl_finish();
}
