/*
 * t-proxy-fmd-kill.c - a file manager killed behind slice-proxy: calls for
 * what it holds get an error reply (NFS3ERR_JUKEBOX, "try again later")
 * within a bounded time, never a hang; what the other manager holds is
 * still served; once it is restarted (same data, same port) the proxy
 * reconnects by itself and the same handles work again, data included.
 */
#include "fmd_testlib.h"
#include "proxy_testlib.h"
#include "slice_route.h"

static struct tfh root;

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

int main(int argc, char **argv)
{
	tl_init(argc, argv, 60);
	struct ct_cluster *cl = ct_start(4, 2, NULL);
	struct px *p = px_start(cl, "--timeout-ms 3000");
	struct nres r;
	struct nc c;
	char n0[32], n1[32];
	struct tfh f0, f1;
	static char data[100000], back[100000];

	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (char)(i * 7 + 3);
	EXPECT_NFS(nc_mount(p->port, "/slice", &root), MNT3_OK);
	nc_open(&c, p->port, NFS_PROGRAM, 0, 0, 0, NULL);
	name_on(0, "f", n0, sizeof(n0));
	name_on(1, "f", n1, sizeof(n1));
	EXPECT_NFS(nc_create(&c, &root, n0, UNCHECKED, 0644, NULL, &r), NFS3_OK);
	f0 = r.fh;
	EXPECT_NFS(nc_create(&c, &root, n1, UNCHECKED, 0644, NULL, &r), NFS3_OK);
	f1 = r.fh;
	EXPECT_NFS(nc_write(&c, &f1, 0, data, sizeof(data), FILE_SYNC, &r), NFS3_OK);

	ct_kill(cl, ct_fmd(cl, 1));
	nc_soft = true;   /* a timeout is reported below, not a test failure */
	double t0 = tl_now_ms();
	int st = nc_getattr(&c, &f1, &r);
	CHECK(r.rpc == RPC_STATUS_SUCCESS, "GETATTR on the dead manager's file: no reply (rpc %d)", r.rpc);
	CHECK(st == NFS3ERR_JUKEBOX, "GETATTR on the dead manager's file: %d, want JUKEBOX", st);
	st = nc_lookup(&c, &root, n1, &r);
	CHECK(r.rpc == RPC_STATUS_SUCCESS && st == NFS3ERR_JUKEBOX, "LOOKUP of its name: rpc %d status %d", r.rpc,
	      st);
	NOTE("errors for the dead manager's calls after %.0f ms", tl_now_ms() - t0);
	EXPECT_NFS(nc_getattr(&c, &f0, &r), NFS3_OK);   /* the other manager still serves */
	EXPECT_NFS(nc_lookup(&c, &root, n0, &r), NFS3_OK);
	CHECK(px_alive(p), "slice-proxy died");

	ct_restart(cl, ct_fmd(cl, 1));
	st = -1;
	for (int i = 0; i < 100 && st != NFS3_OK; i++) {
		st = nc_getattr(&c, &f1, &r);
		if (st != NFS3_OK)
			usleep(100000);
	}
	CHECK(st == NFS3_OK, "GETATTR after the manager's restart: %d", st);
	EXPECT_NFS(nc_lookup(&c, &root, n1, &r), NFS3_OK);
	st = -1;
	for (int i = 0; i < 50 && st != NFS3_OK; i++) {
		st = nc_read(&c, &f1, 0, sizeof(back), back, &r);
		if (st != NFS3_OK)
			usleep(100000);
	}
	CHECK(st == NFS3_OK && r.count == sizeof(back) && memcmp(back, data, sizeof(data)) == 0,
	      "READ after the restart: status %d count %u", st, r.count);
	nc_close(&c);
	CHECK_RC(px_stop(p), 0);
	ct_stop(cl);
	return tl_finish();
}
