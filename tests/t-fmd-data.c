/*
 * t-fmd-data.c - file data through slice-fmd to two slice-blockd block
 * servers: WRITE (unstable and stable), READ back, COMMIT and its verifier;
 * truncation to zero swaps in a new object and the old one disappears
 * from the block servers; REMOVE removes the object - also when the file
 * manager is killed right after the REMOVE's commit (the durable removal
 * queue finishes the job after the restart); a block server that is down
 * turns into NFS3ERR_IO, never a hang, and removals wait for it.
 * Skips (77) when slice-blockd is not built.
 */
#include "fmd_testlib.h"
#include "netrpc.h"
#include "slice.h"
#include "slice_map_wire.h"

#define FMD_NODE  1
#define TEST_NODE 9

static struct nrpc *r;
static struct slice_client *sc;
static pid_t blockd[2];
static char bdir[2][240];

static void start_blockd(int i)
{
	char node[8], logf[260];
	snprintf(node, sizeof(node), "%d", 2 + i);
	snprintf(logf, sizeof(logf), "%s.log", bdir[i]);
	int out[2];
	CHECK(pipe(out) == 0, "pipe");
	pid_t pid = fork();
	CHECK(pid >= 0, "fork");
	if (pid == 0) {
		dup2(out[1], 1);
		int fd = open(logf, O_WRONLY | O_CREAT | O_APPEND, 0644);
		if (fd >= 0)
			dup2(fd, 2);
		execl(ft_bin("slice-blockd"), "slice-blockd", "--node", node, "--data", bdir[i], "--cache-mb",
		      "16", "--fabric", tl_fabric, "--listen", "shm", (char *)NULL);
		_exit(127);
	}
	close(out[1]);
	char line[128] = { 0 };
	struct pollfd p = { .fd = out[0], .events = POLLIN };
	CHECK(poll(&p, 1, 10000) == 1 && read(out[0], line, sizeof(line) - 1) > 0 &&
	      strncmp(line, "ready", 5) == 0, "slice-blockd %d did not get ready: '%s'", 2 + i, line);
	close(out[0]);
	blockd[i] = pid;
}

static void kill_blockd(int i)
{
	if (blockd[i] > 0) {
		kill(blockd[i], SIGKILL);
		waitpid(blockd[i], NULL, 0);
		blockd[i] = 0;
	}
}

static void cleanup_blockd(void)
{
	if (!tl_is_child)
		for (int i = 0; i < 2; i++)
			kill_blockd(i);
}

static int connect_cb(void *arg, uint32_t node)
{
	return tpz_connect(nrpc_endpoint(r), node, "shm", 2000);
}

/* Does object obj exist on either block server?  (SLB_STAT to each:
 * -ENOENT means that server holds nothing of it.) */
static bool object_exists(uint64_t obj)
{
	struct slb_obj a = { .obj = obj };
	for (uint32_t node = 2; node <= 3; node++) {
		struct nrpc_call_desc d = { .dst = node, .op = SLB_STAT, .args = &a, .args_len = sizeof(a),
					    .timeout_ms = 3000 };
		struct nrpc_result out;
		if (!tpz_peer_is_up(nrpc_endpoint(r), node))
			tpz_connect(nrpc_endpoint(r), node, "shm", 2000);
		CHECK_RC(nrpc_call(r, &d, &out), 0);
		if (out.status == 0)
			return true;
		CHECK(out.status == -ENOENT, "SLB_STAT on node %u: %d", node, out.status);
	}
	return false;
}

static bool object_gone_within(uint64_t obj, int ms)
{
	double end = tl_now_ms() + ms;
	while (tl_now_ms() < end) {
		if (!object_exists(obj))
			return true;
		usleep(50000);
	}
	return false;
}

/* (Re)connect to the file manager after it (re)started: first let the
 * old connection be seen down. */
static void reconnect_fmd(struct tpz_endpoint *ep)
{
	double end = tl_now_ms() + 3000;
	while (tpz_peer_is_up(ep, FMD_NODE) && tl_now_ms() < end)
		nrpc_progress(r, 10);
	tl_connect(ep, FMD_NODE, TL_SHM, 0);
}

static uint64_t obj_of(uint64_t fileid)
{
	struct slm_file a = { .fileid = fileid };
	uint8_t map[512];
	struct tpz_payload buf = { .nseg = 1, .seg = { { map, sizeof(map) } } };
	struct nrpc_call_desc d = { .dst = FMD_NODE, .op = SLM_GETMAP, .args = &a, .args_len = sizeof(a),
				    .reply_buf = &buf, .timeout_ms = 5000 };
	struct nrpc_result out;
	CHECK_RC(nrpc_call(r, &d, &out), 0);
	CHECK_RC(out.status, 0);
	struct slm_map h;
	memcpy(&h, map, sizeof(h));
	return h.obj;
}

int main(int argc, char **argv)
{
	tl_init(argc, argv, 90);
	if (access(ft_bin("slice-blockd"), X_OK) != 0)
		tl_skip("no slice-blockd in this build");
	ft_init_base();
	atexit(cleanup_blockd);
	struct tpz_config cfg;
	tl_config(&cfg, TEST_NODE, TL_SHM);
	cfg.pool_frames = 256;
	struct tpz_endpoint *ep = tl_endpoint(&cfg);   /* makes the fabric */
	struct nrpc_config nc;
	nrpc_config_default(&nc);
	CHECK_RC(nrpc_create(ep, &nc, &r), 0);
	for (int i = 0; i < 2; i++) {
		snprintf(bdir[i], sizeof(bdir[i]), "%s/blockd%d", ft_base, 2 + i);
		start_blockd(i);
	}
	struct slice_client_config ccfg;
	slice_client_config_default(&ccfg);
	ccfg.connect = connect_cb;
	ccfg.timeout_ms = 1000;
	CHECK_RC(slice_client_create(r, &ccfg, &sc), 0);

	char args[300];
	snprintf(args, sizeof(args), "--no-root-squash --node %d --fabric %s --blockd 2=shm --blockd 3=shm "
		 "--stripe-unit 65536", FMD_NODE, tl_fabric);
	struct ft_daemon *d = ft_new("fmd", args);
	tl_connect(ep, FMD_NODE, TL_SHM, 0);

	struct tfh root;
	struct nc c;
	struct nres nr;
	EXPECT_NFS(nc_mount(d->mount_port, "/slice", &root), MNT3_OK);
	nc_open(&c, d->nfs_port, NFS_PROGRAM, 0, 0, 0, NULL);

	/* write 300 KiB across stripe units (unstable), read it back */
	EXPECT_NFS(nc_create(&c, &root, "f", GUARDED, 0644, NULL, &nr), NFS3_OK);
	struct tfh f = nr.fh;
	uint64_t fid = nr.attr.fileid;
	static char wbuf[300 << 10], rbuf[300 << 10];
	tl_fill(wbuf, sizeof(wbuf), 7, 0);
	EXPECT_NFS(nc_write(&c, &f, 0, wbuf, 200 << 10, UNSTABLE, &nr), NFS3_OK);
	char verf[8];
	memcpy(verf, nr.verf, 8);
	CHECK(nr.count == 200 << 10 && nr.attr.size == 200 << 10, "unstable write: count %u size %llu", nr.count,
	      (unsigned long long)nr.attr.size);
	EXPECT_NFS(nc_write(&c, &f, 200 << 10, wbuf + (200 << 10), 100 << 10, FILE_SYNC, &nr), NFS3_OK);
	EXPECT_NFS(nc_commit(&c, &f, &nr), NFS3_OK);
	CHECK(memcmp(nr.verf, verf, 8) == 0, "the verifier held across COMMIT");
	EXPECT_NFS(nc_read(&c, &f, 0, sizeof(rbuf), rbuf, &nr), NFS3_OK);
	CHECK(nr.count == sizeof(rbuf) && nr.eof, "read %u eof %d", nr.count, nr.eof);
	CHECK(tl_verify(rbuf, sizeof(rbuf), 7, 0) < 0, "read back differs at %ld", tl_verify(rbuf, sizeof(rbuf), 7, 0));
	EXPECT_NFS(nc_read(&c, &f, 100000, 1000, rbuf, &nr), NFS3_OK);
	CHECK(nr.count == 1000 && tl_verify(rbuf, 1000, 7, 100000) < 0, "partial read");
	uint64_t obj1 = obj_of(fid);
	CHECK(object_exists(obj1), "the file's object is on the block servers");

	/* truncation to zero: a new object; the old one goes */
	sattr3 s;
	memset(&s, 0, sizeof(s));
	s.size.set_it = 1;
	EXPECT_NFS(nc_setattr(&c, &f, &s, NULL, &nr), NFS3_OK);
	CHECK(nr.attr.size == 0, "size after truncation");
	uint64_t obj2 = obj_of(fid);
	CHECK(obj2 != obj1, "a new object after truncation to zero");
	CHECK(object_gone_within(obj1, 10000), "the old object is removed");
	EXPECT_NFS(nc_read(&c, &f, 0, 4096, rbuf, &nr), NFS3_OK);
	CHECK(nr.count == 0 && nr.eof, "empty after truncation");
	EXPECT_NFS(nc_write(&c, &f, 5000, wbuf, 4096, FILE_SYNC, &nr), NFS3_OK);
	EXPECT_NFS(nc_read(&c, &f, 0, 9096, rbuf, &nr), NFS3_OK);
	CHECK(nr.count == 9096 && tl_all_bytes(rbuf, 5000, 0) && tl_verify(rbuf + 5000, 4096, 7, 0) < 0,
	      "a hole, then data");
	/* shrink to a non-zero size: cut on the block servers */
	s.size.set_size3_u.size = 6000;
	EXPECT_NFS(nc_setattr(&c, &f, &s, NULL, &nr), NFS3_OK);
	s.size.set_size3_u.size = 12000;
	EXPECT_NFS(nc_setattr(&c, &f, &s, NULL, &nr), NFS3_OK);
	EXPECT_NFS(nc_read(&c, &f, 0, 12000, rbuf, &nr), NFS3_OK);
	CHECK(nr.count == 12000, "shrink then grow: read %u", nr.count);
	CHECK(tl_verify(rbuf + 5000, 1000, 7, 0) < 0, "shrink then grow: data before 6000");
	for (int i = 6000; i < 12000; i++)
		CHECK(rbuf[i] == 0, "shrink then grow: byte %d is %d, not 0", i, rbuf[i]);

	/* REMOVE: the object goes */
	EXPECT_NFS(nc_remove(&c, &root, "f", &nr), NFS3_OK);
	CHECK(object_gone_within(obj2, 10000), "the removed file's object is removed");

	/* killed right after a REMOVE's commit: the queue still removes it */
	EXPECT_NFS(nc_create(&c, &root, "g", GUARDED, 0644, NULL, &nr), NFS3_OK);
	struct tfh g = nr.fh;
	uint64_t gobj = obj_of(nr.attr.fileid);
	EXPECT_NFS(nc_write(&c, &g, 0, wbuf, 8192, FILE_SYNC, &nr), NFS3_OK);
	nc_close(&c);
	ft_stop(d);
	snprintf(d->args, sizeof(d->args), "%s --crash-at after-commit:1", args);
	ft_start(d);
	reconnect_fmd(ep);
	nc_soft = true;
	nc_open(&c, d->nfs_port, NFS_PROGRAM, 0, 0, 0, NULL);
	struct nres rr;
	nc_remove(&c, &root, "g", &rr);   /* the daemon dies after the commit */
	CHECK(ft_dead(d, 5000), "the crash hook fired");
	nc_close(&c);
	nc_soft = false;
	CHECK(object_exists(gobj), "the object outlived the killed file manager");
	snprintf(d->args, sizeof(d->args), "%s", args);
	ft_start(d);
	CHECK(object_gone_within(gobj, 10000), "after the restart, the queue removed the object");
	nc_open(&c, d->nfs_port, NFS_PROGRAM, 0, 0, 0, NULL);
	EXPECT_NFS(nc_lookup(&c, &root, "g", &nr), NFS3ERR_NOENT);

	/* a block server down: NFS3ERR_IO in bounded time, and it comes back */
	EXPECT_NFS(nc_create(&c, &root, "h", GUARDED, 0644, NULL, &nr), NFS3_OK);
	struct tfh h = nr.fh;
	kill_blockd(1);
	double t0 = tl_now_ms();
	int st = nc_write(&c, &h, 0, wbuf, 256 << 10, FILE_SYNC, &nr);
	CHECK(st == NFS3ERR_IO, "WRITE with a block server down: %d", st);
	NOTE("WRITE with a block server down: NFS3ERR_IO after %.0f ms", tl_now_ms() - t0);
	start_blockd(1);
	EXPECT_NFS(nc_write(&c, &h, 0, wbuf, 256 << 10, FILE_SYNC, &nr), NFS3_OK);
	EXPECT_NFS(nc_read(&c, &h, 0, 256 << 10, rbuf, &nr), NFS3_OK);
	CHECK(tl_verify(rbuf, 256 << 10, 7, 0) < 0, "data after the server came back");
	nc_close(&c);
	CHECK(ft_stop(d) == 0, "clean shutdown");
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "'%s' --data '%s' --export /slice --volume vol --check >>'%s' 2>&1",
		 ft_bin("slice-fmd"), d->dir, d->log);
	CHECK(system(cmd) == 0, "--check");
	slice_client_destroy(sc);
	nrpc_destroy(r);
	tpz_endpoint_destroy(ep);
	return 0;
}
