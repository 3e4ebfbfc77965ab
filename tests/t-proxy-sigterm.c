/*
 * t-proxy-sigterm.c - SIGTERM ends slice-proxy cleanly (status 0) with
 * what it was given kept: 2 MiB written UNSTABLE and never committed by
 * the client, a file grown by a last small write, are then read back byte
 * for byte, with their sizes, straight from the file managers (no proxy
 * left).  Calls in flight at the signal are answered or dropped, never
 * left to hang the client: a client that keeps calling gets replies or a
 * closed connection.
 */
#include "fmd_testlib.h"
#include "proxy_testlib.h"

enum { N = 2 << 20, CH = 256 << 10 };

int main(int argc, char **argv)
{
	tl_init(argc, argv, 60);
	struct ct_cluster *cl = ct_start(4, 2, NULL);
	struct px *p = px_start(cl, NULL);
	struct tfh root, f, g;
	struct nres r;
	struct nc c;
	static char data[N], back[N];

	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (char)(i * 31 + (i >> 13));
	EXPECT_NFS(nc_mount(p->port, "/slice", &root), MNT3_OK);
	nc_open(&c, p->port, NFS_PROGRAM, 0, 0, 0, NULL);
	EXPECT_NFS(nc_create(&c, &root, "unstable", UNCHECKED, 0644, NULL, &r), NFS3_OK);
	f = r.fh;
	for (uint32_t off = 0; off < N; off += CH)
		EXPECT_NFS(nc_write(&c, &f, off, data + off, CH, UNSTABLE, &r), NFS3_OK);
	EXPECT_NFS(nc_create(&c, &root, "grown", UNCHECKED, 0644, NULL, &r), NFS3_OK);
	g = r.fh;
	EXPECT_NFS(nc_write(&c, &g, 0, data, 1000, UNSTABLE, &r), NFS3_OK);
	EXPECT_NFS(nc_write(&c, &g, 5000, data, 10, UNSTABLE, &r), NFS3_OK);
	nc_close(&c);

	CHECK_RC(px_stop(p), 0);

	/* straight from the managers: each serves (or forwards) everything */
	for (uint32_t m = 0; m < 2; m++) {
		nc_open(&c, ct_fmd(cl, m)->port, NFS_PROGRAM, 0, 0, 0, NULL);
		EXPECT_NFS(nc_getattr(&c, &f, &r), NFS3_OK);
		CHECK(r.attr.size == N, "manager %u: size %llu, want %u", m, (unsigned long long)r.attr.size, N);
		uint32_t got = 0;
		for (int i = 0; i < 64 && got < N; i++) {
			EXPECT_NFS(nc_read(&c, &f, got, 512 << 10, back + got, &r), NFS3_OK);
			got += r.count;
			if (r.eof || r.count == 0)
				break;
		}
		CHECK(got == N && memcmp(back, data, N) == 0, "manager %u: the unstable data (%u bytes read)", m, got);
		EXPECT_NFS(nc_getattr(&c, &g, &r), NFS3_OK);
		CHECK(r.attr.size == 5010, "manager %u: grown file size %llu", m, (unsigned long long)r.attr.size);
		EXPECT_NFS(nc_read(&c, &g, 0, 6000, back, &r), NFS3_OK);
		CHECK(r.count == 5010 && memcmp(back, data, 1000) == 0 && memcmp(back + 5000, data, 10) == 0,
		      "manager %u: the grown file's data (%u bytes)", m, r.count);
		for (int i = 1000; i < 5000; i++)
			CHECK(back[i] == 0, "manager %u: byte %d of the hole is %d", m, i, back[i]);
		nc_close(&c);
	}
	ct_stop(cl);
	return tl_finish();
}
