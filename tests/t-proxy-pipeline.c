/*
 * t-proxy-pipeline.c - many calls in flight on one client connection
 * through slice-proxy: 300 LOOKUPs (names that exist on either manager and
 * names that do not) written back to back before any reply is read, each
 * answered once with its own xid and its own answer (OK with the right
 * handle, or NOENT), whatever order the managers' replies come back in;
 * READs of two files interleaved with them; a call repeated with the same
 * xid while the first is in flight is answered too, and nothing hangs.
 */
#include "fmd_testlib.h"
#include "orpc_testlib.h"
#include "proxy_testlib.h"
#include "slice_route.h"

#define NAMES 20
#define CALLS 300

static struct tfh root;

int main(int argc, char **argv)
{
	tl_init(argc, argv, 60);
	struct ct_cluster *cl = ct_start(4, 2, NULL);
	struct px *p = px_start(cl, NULL);
	struct nres r;
	struct nc c;
	struct tfh fh[NAMES];
	struct slice_fh_info info;
	uint32_t on[2] = { 0, 0 };

	EXPECT_NFS(nc_mount(p->port, "/slice", &root), MNT3_OK);
	CHECK_RC(slice_fh_parse(root.b, root.len, &info), 0);
	nc_open(&c, p->port, NFS_PROGRAM, 0, 0, 0, NULL);
	for (int i = 0; i < NAMES; i++) {
		char name[32];
		snprintf(name, sizeof(name), "p%d", i);
		on[slice_route_entry(&info, name, strlen(name), 2)]++;
		EXPECT_NFS(nc_create(&c, &root, name, UNCHECKED, 0644, NULL, &r), NFS3_OK);
		fh[i] = r.fh;
		char data[64];
		snprintf(data, sizeof(data), "contents of p%d", i);
		EXPECT_NFS(nc_write(&c, &fh[i], 0, data, (uint32_t)strlen(data), FILE_SYNC, &r), NFS3_OK);
	}
	nc_close(&c);
	CHECK(on[0] > 0 && on[1] > 0, "names on both managers (%u, %u)", on[0], on[1]);

	/* call k: LOOKUP of p(k % 2*NAMES) - the upper half do not exist - or,
	 * every 7th, a READ of file k % NAMES */
	int fd = rpc_connect(p->port);
	static struct rbuf b;
	for (uint32_t k = 0; k < CALLS; k++) {
		uint32_t xid = 90000 + k;
		if (k % 7 == 3) {
			rb_call(&b, xid, NFS_PROGRAM, 3, NFS3_READ);
			rb_opaque(&b, fh[k % NAMES].b, fh[k % NAMES].len);
			rb_u64(&b, 0);
			rb_u32(&b, 4096);
		} else {
			char name[32];
			snprintf(name, sizeof(name), "p%u", k % (2 * NAMES));
			rb_call(&b, xid, NFS_PROGRAM, 3, NFS3_LOOKUP);
			rb_opaque(&b, root.b, root.len);
			rb_opaque(&b, name, strlen(name));
		}
		rpc_send(fd, &b);
	}
	/* and one repeated at once with the same xid */
	rpc_send(fd, &b);

	static bool seen[CALLS];
	uint32_t replies = 0, extra = 0;
	static uint8_t rep[8192];
	while (replies + extra < CALLS + 1) {
		long n = rpc_recv(fd, rep, sizeof(rep), 15000);
		CHECK(n > 0, "reply %u of %u did not come", replies + extra + 1, CALLS + 1);
		struct rpc_reply rr;
		CHECK(rpc_parse_reply(rep, n, &rr) && rr.accepted && rr.stat == 0, "a bad reply");
		CHECK(rr.xid >= 90000 && rr.xid < 90000 + CALLS, "reply with a foreign xid %u", rr.xid);
		uint32_t k = rr.xid - 90000;
		if (seen[k]) {
			CHECK(k == CALLS - 1 && extra == 0, "call %u answered twice", k);
			extra++;
			continue;
		}
		seen[k] = true;
		replies++;
		uint32_t st = be32_at(rep, rr.body_off);
		if (k % 7 == 3) {
			CHECK(st == NFS3_OK, "READ %u: status %u", k, st);
			/* status, post_op_attr (1 + 21 words), count, eof, length, data */
			size_t off = rr.body_off + 4 + 4 + 84;
			uint32_t count = be32_at(rep, off);
			char want[64];
			snprintf(want, sizeof(want), "contents of p%u", k % NAMES);
			CHECK(count == strlen(want) && memcmp(rep + off + 12, want, count) == 0, "READ %u: wrong data",
			      k);
		} else if (k % (2 * NAMES) < NAMES) {
			CHECK(st == NFS3_OK, "LOOKUP %u: status %u", k, st);
			uint32_t flen = be32_at(rep, rr.body_off + 4);
			const struct tfh *want = &fh[k % (2 * NAMES)];
			CHECK(flen == want->len && memcmp(rep + rr.body_off + 8, want->b, flen) == 0,
			      "LOOKUP %u: another file's handle", k);
		} else {
			CHECK(st == NFS3ERR_NOENT, "LOOKUP %u of a missing name: status %u", k, st);
		}
	}
	CHECK(replies == CALLS, "%u distinct replies", replies);
	close(fd);
	CHECK_RC(px_stop(p), 0);
	ct_stop(cl);
	return tl_finish();
}
