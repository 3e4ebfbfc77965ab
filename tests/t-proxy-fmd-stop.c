/*
 * t-proxy-fmd-stop.c - a file manager that hangs (SIGSTOP: its connections
 * stay open, nothing answers) behind slice-proxy: calls for what it holds
 * get NFS3ERR_JUKEBOX once --timeout-ms has passed, never a hang; the
 * other manager serves meanwhile; after SIGCONT the same connections serve
 * again (a late reply to a call already failed is dropped).
 */
#include "fmd_testlib.h"
#include "proxy_testlib.h"
#include "slice_route.h"

static struct tfh root;

static void name_on(uint32_t m, char *out, size_t cap)
{
	struct slice_fh_info info;
	CHECK_RC(slice_fh_parse(root.b, root.len, &info), 0);
	for (int i = 0; i < 1000; i++) {
		snprintf(out, cap, "s-%d", i);
		if (slice_route_entry(&info, out, strlen(out), 2) == m)
			return;
	}
	CHECK(false, "no name on manager %u", m);
}

int main(int argc, char **argv)
{
	tl_init(argc, argv, 60);
	struct ct_cluster *cl = ct_start(4, 2, NULL);
	struct px *p = px_start(cl, "--timeout-ms 1500");
	struct nres r;
	struct nc c;
	char n0[32], n1[32];
	struct tfh f0, f1;

	EXPECT_NFS(nc_mount(p->port, "/slice", &root), MNT3_OK);
	nc_open(&c, p->port, NFS_PROGRAM, 0, 0, 0, NULL);
	name_on(0, n0, sizeof(n0));
	name_on(1, n1, sizeof(n1));
	EXPECT_NFS(nc_create(&c, &root, n0, UNCHECKED, 0644, NULL, &r), NFS3_OK);
	f0 = r.fh;
	EXPECT_NFS(nc_create(&c, &root, n1, UNCHECKED, 0644, NULL, &r), NFS3_OK);
	f1 = r.fh;

	pid_t m1 = ct_fmd(cl, 1)->pid;
	CHECK(kill(m1, SIGSTOP) == 0, "SIGSTOP");
	nc_soft = true;
	double t0 = tl_now_ms();
	int st = nc_getattr(&c, &f1, &r);
	CHECK(r.rpc == RPC_STATUS_SUCCESS, "GETATTR on the stopped manager's file: no reply (rpc %d)", r.rpc);
	CHECK(st == NFS3ERR_JUKEBOX, "GETATTR on the stopped manager's file: %d, want JUKEBOX", st);
	NOTE("JUKEBOX after %.0f ms", tl_now_ms() - t0);
	EXPECT_NFS(nc_getattr(&c, &f0, &r), NFS3_OK);
	CHECK(kill(m1, SIGCONT) == 0, "SIGCONT");
	st = -1;
	for (int i = 0; i < 50 && st != NFS3_OK; i++) {
		st = nc_getattr(&c, &f1, &r);
		if (st != NFS3_OK)
			usleep(100000);
	}
	CHECK(st == NFS3_OK, "GETATTR after SIGCONT: %d", st);
	EXPECT_NFS(nc_lookup(&c, &root, n1, &r), NFS3_OK);
	CHECK(px_alive(p), "slice-proxy died");
	nc_close(&c);
	CHECK_RC(px_stop(p), 0);
	ct_stop(cl);
	return tl_finish();
}
