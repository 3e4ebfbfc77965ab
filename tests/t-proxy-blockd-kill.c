/*
 * t-proxy-blockd-kill.c - a block server killed while a client writes
 * through slice-proxy: the writes that need it get an error reply within
 * a bounded time (never a hang), the proxy survives and serves the name
 * space and the other files meanwhile, and once the block server is back
 * writes and reads work again.
 */
#include "fmd_testlib.h"
#include "proxy_testlib.h"

int main(int argc, char **argv)
{
	tl_init(argc, argv, 60);
	struct ct_cluster *cl = ct_start(4, 2, NULL);
	struct px *p = px_start(cl, "--timeout-ms 2000");
	struct tfh root, f;
	struct nres r;
	struct nc c;
	enum { CH = 256 * 1024 };   /* 4 stripe units: every block server */
	static char data[CH], back[CH];

	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (char)(i * 13 + 1);
	EXPECT_NFS(nc_mount(p->port, "/slice", &root), MNT3_OK);
	nc_open(&c, p->port, NFS_PROGRAM, 0, 0, 0, NULL);
	EXPECT_NFS(nc_create(&c, &root, "victim", UNCHECKED, 0644, NULL, &r), NFS3_OK);
	f = r.fh;
	EXPECT_NFS(nc_write(&c, &f, 0, data, CH, FILE_SYNC, &r), NFS3_OK);

	ct_kill(cl, ct_blockd(cl, 2));
	nc_soft = true;
	int st = NFS3_OK;
	double t0 = tl_now_ms();
	for (int i = 1; i <= 20 && st == NFS3_OK; i++) {
		st = nc_write(&c, &f, (uint64_t)i * CH, data, CH, FILE_SYNC, &r);
		CHECK(r.rpc == RPC_STATUS_SUCCESS, "WRITE %d with a block server down: no reply (rpc %d)", i, r.rpc);
		if (st == NFS3_OK) {
			st = nc_commit(&c, &f, &r);
			CHECK(r.rpc == RPC_STATUS_SUCCESS, "COMMIT with a block server down: no reply");
		}
	}
	CHECK(st != NFS3_OK, "every write succeeded with a block server down");
	NOTE("error status %d after %.0f ms", st, tl_now_ms() - t0);
	CHECK(px_alive(p), "slice-proxy died");
	EXPECT_NFS(nc_getattr(&c, &root, &r), NFS3_OK);
	EXPECT_NFS(nc_create(&c, &root, "meanwhile", UNCHECKED, 0644, NULL, &r), NFS3_OK);

	ct_restart(cl, ct_blockd(cl, 2));
	st = -1;
	for (int i = 0; i < 50 && st != NFS3_OK; i++) {
		st = nc_write(&c, &f, 0, data, CH, FILE_SYNC, &r);
		if (st != NFS3_OK)
			usleep(200000);
	}
	CHECK(st == NFS3_OK, "WRITE after the block server came back: %d", st);
	EXPECT_NFS(nc_read(&c, &f, 0, CH, back, &r), NFS3_OK);
	CHECK(r.count == CH && memcmp(back, data, CH) == 0, "data read back after the restart (count %u)", r.count);
	nc_close(&c);
	CHECK_RC(px_stop(p), 0);
	ct_stop(cl);
	return tl_finish();
}
