/*
 * t-fmd-mapsvc.c - the map service over NetRPC on a shm fabric: a file
 * created over NFS has a block map with the configured layout (the
 * --blockd servers in order, the stripe unit) and its file id as object;
 * SLM_SETATTR changes the size and mtime NFS then reports; truncating
 * a written file to zero gives it a new object and a new map version;
 * directories, unknown files and malformed arguments get errors.
 * (The block servers named in the layout are not started: nothing here
 * touches data.)
 */
#include "fmd_testlib.h"
#include "netrpc.h"
#include "slice_map_wire.h"

#define FMD_NODE 3

static struct nrpc *r;

static int getmap(uint64_t fileid, struct slm_getmap_res *res, uint8_t *map, uint32_t cap)
{
	struct slm_file a = { .fileid = fileid };
	struct tpz_payload buf = { .nseg = 1, .seg = { { map, cap } } };
	struct nrpc_call_desc d = { .dst = FMD_NODE, .op = SLM_GETMAP, .args = &a, .args_len = sizeof(a),
				    .reply_buf = &buf, .timeout_ms = 5000 };
	struct nrpc_result out;
	CHECK_RC(nrpc_call(r, &d, &out), 0);
	if (out.status == 0) {
		CHECK(out.res_len == sizeof(*res), "GETMAP result length %u", out.res_len);
		memcpy(res, out.res, sizeof(*res));
		CHECK(out.placed && out.payload_len == res->map_len, "the map in the reply buffer");
	}
	return out.status;
}

static int setattr(uint64_t fileid, uint64_t size, uint64_t mtime, uint32_t flags, struct slm_attr_res *res)
{
	struct slm_setattr a = { .fileid = fileid, .size = size, .mtime_ns = mtime, .flags = flags };
	struct nrpc_call_desc d = { .dst = FMD_NODE, .op = SLM_SETATTR, .args = &a, .args_len = sizeof(a),
				    .timeout_ms = 5000 };
	struct nrpc_result out;
	CHECK_RC(nrpc_call(r, &d, &out), 0);
	if (out.status == 0 && res)
		memcpy(res, out.res, sizeof(*res));
	return out.status;
}

int main(int argc, char **argv)
{
	tl_init(argc, argv, 60);
	struct tpz_config cfg;
	tl_config(&cfg, 1, TL_SHM);
	struct tpz_endpoint *ep = tl_endpoint(&cfg);   /* makes the fabric */
	struct nrpc_config nc;
	nrpc_config_default(&nc);
	CHECK_RC(nrpc_create(ep, &nc, &r), 0);

	char args[300];
	snprintf(args, sizeof(args),
		 "--no-root-squash --node %d --fabric %s --blockd 5=shm --blockd 6=shm --stripe-unit 65536",
		 FMD_NODE, tl_fabric);
	struct ft_daemon *d = ft_new("fmd", args);
	tl_connect(ep, FMD_NODE, TL_SHM, 0);

	struct tfh root;
	struct nc c;
	struct nres nr;
	EXPECT_NFS(nc_mount(d->mount_port, "/slice", &root), MNT3_OK);
	nc_open(&c, d->nfs_port, NFS_PROGRAM, 0, 0, 0, NULL);
	EXPECT_NFS(nc_create(&c, &root, "f", GUARDED, 0644, NULL, &nr), NFS3_OK);
	struct tfh f = nr.fh;
	uint64_t fid = nr.attr.fileid;

	uint8_t map[4096];
	struct slm_getmap_res gm;
	CHECK_RC(getmap(fid, &gm, map, sizeof(map)), 0);
	struct slm_map h;
	memcpy(&h, map, sizeof(h));
	uint32_t servers[2];
	memcpy(servers, map + sizeof(h), sizeof(servers));
	CHECK(gm.map_len == slm_map_len(2, 0) && h.obj == fid && h.version == 1 && h.stripe_unit == 65536 &&
	      h.width == 2 && h.nexc == 0 && servers[0] == 5 && servers[1] == 6 && gm.size == 0,
	      "map: obj %llu version %llu su %u width %u servers %u,%u", (unsigned long long)h.obj,
	      (unsigned long long)h.version, h.stripe_unit, h.width, servers[0], servers[1]);

	/* a client wrote: it reports size and mtime */
	struct slm_attr_res ar;
	CHECK_RC(setattr(fid, 5000, 1234567890123456789ull, SLM_SET_EXTEND | SLM_SET_MTIME, &ar), 0);
	CHECK(ar.size == 5000 && ar.mtime_ns == 1234567890123456789ull, "setattr result");
	CHECK_RC(setattr(fid, 100, 0, SLM_SET_EXTEND, &ar), 0);
	CHECK(ar.size == 5000, "EXTEND never shrinks: %llu", (unsigned long long)ar.size);
	EXPECT_NFS(nc_getattr(&c, &f, &nr), NFS3_OK);
	CHECK(nr.attr.size == 5000, "NFS sees the size: %llu", (unsigned long long)nr.attr.size);

	/* a lazy report (a close's): answered, seen at once, and a kill -9
	 * of the manager right after it loses nothing (the page cache) */
	CHECK_RC(setattr(fid, 7000, 0, SLM_SET_EXTEND | SLM_SET_LAZY, &ar), 0);
	CHECK(ar.size == 7000, "lazy setattr result %llu", (unsigned long long)ar.size);
	EXPECT_NFS(nc_getattr(&c, &f, &nr), NFS3_OK);
	CHECK(nr.attr.size == 7000, "NFS sees the lazy size: %llu", (unsigned long long)nr.attr.size);
	nc_close(&c);
	ft_kill9(d);
	ft_start(d);
	(void)tpz_disconnect(ep, FMD_NODE);
	tl_connect(ep, FMD_NODE, TL_SHM, 0);
	EXPECT_NFS(nc_mount(d->mount_port, "/slice", &root), MNT3_OK);
	nc_open(&c, d->nfs_port, NFS_PROGRAM, 0, 0, 0, NULL);
	EXPECT_NFS(nc_getattr(&c, &f, &nr), NFS3_OK);
	CHECK(nr.attr.size == 7000, "lazy size after kill -9: %llu", (unsigned long long)nr.attr.size);
	/* and an ordinary one after it */
	CHECK_RC(setattr(fid, 7001, 0, SLM_SET_EXTEND, &ar), 0);
	CHECK(ar.size == 7001, "setattr after lazy %llu", (unsigned long long)ar.size);

	/* truncation to zero: a new object, a new map version */
	sattr3 s;
	memset(&s, 0, sizeof(s));
	s.size.set_it = 1;
	EXPECT_NFS(nc_setattr(&c, &f, &s, NULL, &nr), NFS3_OK);
	CHECK_RC(getmap(fid, &gm, map, sizeof(map)), 0);
	memcpy(&h, map, sizeof(h));
	CHECK(h.obj != fid && h.version == 2 && gm.size == 0, "after truncation: obj %llu version %llu",
	      (unsigned long long)h.obj, (unsigned long long)h.version);

	/* errors */
	struct nres dr;
	EXPECT_NFS(nc_mkdir(&c, &root, "dir", 0755, &dr), NFS3_OK);
	CHECK_RC(getmap(dr.attr.fileid, &gm, map, sizeof(map)), -EISDIR);
	CHECK_RC(getmap(987654321, &gm, map, sizeof(map)), -ENOENT);
	CHECK_RC(setattr(987654321, 1, 0, SLM_SET_SIZE, NULL), -ENOENT);
	uint8_t junk[3] = { 1, 2, 3 };
	struct nrpc_call_desc bad = { .dst = FMD_NODE, .op = SLM_GETMAP, .args = junk, .args_len = 3,
				      .timeout_ms = 5000 };
	struct nrpc_result out;
	CHECK_RC(nrpc_call(r, &bad, &out), 0);
	CHECK(out.status == -EBADMSG, "short arguments: %d", out.status);

	/* removing the file: the store stays consistent (the objects wait in
	 * the removal queue, their servers being down) */
	EXPECT_NFS(nc_remove(&c, &root, "f", &nr), NFS3_OK);
	CHECK_RC(getmap(fid, &gm, map, sizeof(map)), -ENOENT);
	nc_close(&c);
	CHECK(ft_stop(d) == 0, "clean shutdown");
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "'%s' --data '%s' --export /slice --volume vol --check >>'%s' 2>&1",
		 ft_bin("slice-fmd"), d->dir, d->log);
	CHECK(system(cmd) == 0, "--check after the map service");
	nrpc_destroy(r);
	tpz_endpoint_destroy(ep);
	return 0;
}
