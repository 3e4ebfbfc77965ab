/*
 * t-proxy-truncate.c - SETATTR of the size through slice-proxy, on a file
 * whose data the proxy just wrote (its volume client has it open, with
 * writes behind): 10000 bytes written UNSTABLE, cut to 5000, grown to
 * 1 MiB - the bytes after 5000 read as zeros (nothing written before the
 * cut comes back), the size is 1 MiB through the proxy and through both
 * managers directly; a guarded SETATTR of the size with a wrong ctime
 * gets NOT_SYNC and changes nothing, with the file's ctime it is done.
 */
#include "fmd_testlib.h"
#include "proxy_testlib.h"

static sattr3 size_to(uint64_t n)
{
	sattr3 s;
	memset(&s, 0, sizeof(s));
	s.size.set_it = 1;
	s.size.set_size3_u.size = n;
	return s;
}

int main(int argc, char **argv)
{
	tl_init(argc, argv, 60);
	struct ct_cluster *cl = ct_start(4, 2, NULL);
	struct px *p = px_start(cl, NULL);
	struct tfh root, f;
	struct nres r;
	struct nc c;
	static char data[10000], back[1 << 20];

	memset(data, 'a', sizeof(data));
	EXPECT_NFS(nc_mount(p->port, "/slice", &root), MNT3_OK);
	nc_open(&c, p->port, NFS_PROGRAM, 0, 0, 0, NULL);
	EXPECT_NFS(nc_create(&c, &root, "tr", UNCHECKED, 0644, NULL, &r), NFS3_OK);
	f = r.fh;
	EXPECT_NFS(nc_write(&c, &f, 0, data, sizeof(data), UNSTABLE, &r), NFS3_OK);
	EXPECT_NFS(nc_read(&c, &f, 0, sizeof(data), back, &r), NFS3_OK);   /* the proxy has it open */

	sattr3 s = size_to(5000);
	EXPECT_NFS(nc_setattr(&c, &f, &s, NULL, &r), NFS3_OK);
	CHECK(r.has_attr && r.attr.size == 5000, "SETATTR's post-op size %llu", (unsigned long long)r.attr.size);
	s = size_to(1 << 20);
	EXPECT_NFS(nc_setattr(&c, &f, &s, NULL, &r), NFS3_OK);

	uint32_t got = 0;
	for (int i = 0; i < 16 && got < (1u << 20); i++) {
		EXPECT_NFS(nc_read(&c, &f, got, (1u << 20) - got, back + got, &r), NFS3_OK);
		got += r.count;
		if (r.eof || r.count == 0)
			break;
	}
	CHECK(got == 1u << 20, "read %u bytes, want 1 MiB", got);
	CHECK(memcmp(back, data, 5000) == 0, "the first 5000 bytes changed");
	for (uint32_t i = 5000; i < got; i++)
		CHECK(back[i] == 0, "byte %u after the cut and growth is %d, not 0", i, back[i]);
	EXPECT_NFS(nc_getattr(&c, &f, &r), NFS3_OK);
	CHECK(r.attr.size == 1u << 20, "size %llu through the proxy", (unsigned long long)r.attr.size);

	/* a guarded SETATTR with a ctime that is not the file's */
	nfstime3 wrong = { .seconds = 12345, .nseconds = 6 };
	s = size_to(10);
	EXPECT_NFS(nc_setattr(&c, &f, &s, &wrong, &r), NFS3ERR_NOT_SYNC);
	nc_close(&c);

	for (uint32_t m = 0; m < 2; m++) {
		nc_open(&c, ct_fmd(cl, m)->port, NFS_PROGRAM, 0, 0, 0, NULL);
		EXPECT_NFS(nc_getattr(&c, &f, &r), NFS3_OK);
		CHECK(r.attr.size == 1u << 20, "manager %u: size %llu", m, (unsigned long long)r.attr.size);
		EXPECT_NFS(nc_read(&c, &f, 4096, 8192, back, &r), NFS3_OK);
		CHECK(r.count == 8192 && memcmp(back, data, 904) == 0, "manager %u: data before the cut", m);
		for (uint32_t i = 904; i < 8192; i++)
			CHECK(back[i] == 0, "manager %u: byte %u is %d, not 0", m, 4096 + i, back[i]);
		nc_close(&c);
	}
	/* guarded with the file's own ctime: done */
	nc_open(&c, p->port, NFS_PROGRAM, 0, 0, 0, NULL);
	EXPECT_NFS(nc_getattr(&c, &f, &r), NFS3_OK);
	nfstime3 right = r.attr.ctime;
	s = size_to(20000);
	EXPECT_NFS(nc_setattr(&c, &f, &s, &right, &r), NFS3_OK);
	EXPECT_NFS(nc_getattr(&c, &f, &r), NFS3_OK);
	CHECK(r.attr.size == 20000, "size %llu after the guarded cut", (unsigned long long)r.attr.size);
	nc_close(&c);
	CHECK_RC(px_stop(p), 0);
	ct_stop(cl);
	return tl_finish();
}
