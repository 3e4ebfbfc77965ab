/*
 * t-proxy-drc.c - a client's retransmission through slice-proxy meets the
 * file manager's duplicate request cache: a REMOVE sent again with the
 * same xid - on the same connection and after reconnecting - gets NFS3_OK
 * again (the first reply), not NOENT, on names held by either manager; a
 * new xid is served afresh (NOENT).
 */
#include "fmd_testlib.h"
#include "orpc_testlib.h"
#include "proxy_testlib.h"
#include "slice_route.h"

static struct tfh root;

static void call_name(struct rbuf *b, uint32_t xid, uint32_t proc, const char *name)
{
	rb_call(b, xid, NFS_PROGRAM, 3, proc);
	rb_opaque(b, root.b, root.len);
	rb_opaque(b, name, strlen(name));
	if (proc == NFS3_CREATE) {
		rb_u32(b, UNCHECKED);
		for (int i = 0; i < 6; i++)
			rb_u32(b, 0);
	}
}

static uint32_t roundtrip(int fd, struct rbuf *b)
{
	uint8_t rep[4096];
	struct rpc_reply rr;
	rpc_send(fd, b);
	long len = rpc_recv(fd, rep, sizeof(rep), 10000);
	CHECK(len > 0 && rpc_parse_reply(rep, len, &rr) && rr.accepted && rr.stat == 0, "reply");
	CHECK(rr.xid == be32_at(b->b, 0), "reply xid %u, want the call's", rr.xid);
	return be32_at(rep, rr.body_off);
}

int main(int argc, char **argv)
{
	tl_init(argc, argv, 60);
	struct ct_cluster *cl = ct_start(4, 2, NULL);
	struct px *p = px_start(cl, NULL);
	struct rbuf b;
	struct slice_fh_info info;

	EXPECT_NFS(nc_mount(p->port, "/slice", &root), MNT3_OK);
	CHECK_RC(slice_fh_parse(root.b, root.len, &info), 0);
	bool seen[2] = { false, false };
	for (uint32_t k = 0; k < 40 && !(seen[0] && seen[1]); k++) {
		char name[32];
		snprintf(name, sizeof(name), "victim-%u", k);
		uint32_t m = slice_route_entry(&info, name, strlen(name), 2);
		if (seen[m])
			continue;
		seen[m] = true;
		int fd = rpc_connect(p->port);
		call_name(&b, 5000 + k, NFS3_CREATE, name);
		CHECK(roundtrip(fd, &b) == NFS3_OK, "create %s", name);
		call_name(&b, 6000 + k, NFS3_REMOVE, name);
		CHECK(roundtrip(fd, &b) == NFS3_OK, "remove %s (manager %u)", name, m);
		CHECK(roundtrip(fd, &b) == NFS3_OK, "retransmitted remove of %s (manager %u): not from the DRC", name,
		      m);
		close(fd);
		fd = rpc_connect(p->port);
		CHECK(roundtrip(fd, &b) == NFS3_OK, "retransmission of %s's remove on a new connection", name);
		call_name(&b, 7000 + k, NFS3_REMOVE, name);
		CHECK(roundtrip(fd, &b) == NFS3ERR_NOENT, "a new REMOVE of %s finds nothing", name);
		close(fd);
	}
	CHECK(seen[0] && seen[1], "names on both managers");
	CHECK_RC(px_stop(p), 0);
	ct_stop(cl);
	return tl_finish();
}
