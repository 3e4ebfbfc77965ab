/*
 * t-fmd-drc.c - the duplicate request cache.  A REMOVE sent twice with
 * the same xid (as a client retransmits) gets the original reply - NFS3_OK
 * both times, byte for byte - although the second time the name is gone;
 * so does a retransmission on a new connection (a client that
 * reconnected).  A new xid is served afresh (NOENT), and the same xid with
 * other arguments is not taken for a duplicate.
 */
#include "fmd_testlib.h"
#include "orpc_testlib.h"

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

/* Send b, return the NFS status of the reply; the reply in rep/len. */
static uint32_t roundtrip(int fd, struct rbuf *b, uint8_t *rep, long *len)
{
	struct rpc_reply rr;
	rpc_send(fd, b);
	*len = rpc_recv(fd, rep, 4096, 5000);
	CHECK(*len > 0 && rpc_parse_reply(rep, *len, &rr) && rr.accepted && rr.stat == 0, "reply");
	return be32_at(rep, rr.body_off);
}

int main(int argc, char **argv)
{
	tl_init(argc, argv, 60);
	struct ft_daemon *d = ft_new("fmd", "--no-root-squash");
	struct rbuf b;
	uint8_t rep1[4096], rep2[4096];
	long n1, n2;

	EXPECT_NFS(nc_mount(d->mount_port, "/slice", &root), MNT3_OK);
	int fd = rpc_connect(d->nfs_port);

	call_name(&b, 1001, NFS3_CREATE, "victim");
	CHECK(roundtrip(fd, &b, rep1, &n1) == NFS3_OK, "create");

	call_name(&b, 1002, NFS3_REMOVE, "victim");
	CHECK(roundtrip(fd, &b, rep1, &n1) == NFS3_OK, "remove");
	CHECK(roundtrip(fd, &b, rep2, &n2) == NFS3_OK, "retransmitted remove: from the DRC");
	CHECK(n1 == n2 && memcmp(rep1, rep2, (size_t)n1) == 0, "the same reply, byte for byte");

	/* a client that reconnected retransmits */
	close(fd);
	fd = rpc_connect(d->nfs_port);
	CHECK(roundtrip(fd, &b, rep2, &n2) == NFS3_OK, "retransmission on a new connection");
	CHECK(n1 == n2 && memcmp(rep1, rep2, (size_t)n1) == 0, "same reply after reconnecting");

	/* a new xid: served afresh */
	call_name(&b, 1003, NFS3_REMOVE, "victim");
	CHECK(roundtrip(fd, &b, rep2, &n2) == NFS3ERR_NOENT, "a new REMOVE finds nothing");
	/* the old xid with other arguments: not a duplicate */
	call_name(&b, 1002, NFS3_REMOVE, "other");
	CHECK(roundtrip(fd, &b, rep2, &n2) == NFS3ERR_NOENT, "same xid, other name");

	/* a retransmitted CREATE after the name was removed by someone else
	 * still gets its original answer, and does not create again */
	call_name(&b, 1004, NFS3_CREATE, "again");
	CHECK(roundtrip(fd, &b, rep1, &n1) == NFS3_OK, "create again");
	call_name(&b, 1005, NFS3_REMOVE, "again");
	CHECK(roundtrip(fd, &b, rep2, &n2) == NFS3_OK, "remove again");
	call_name(&b, 1004, NFS3_CREATE, "again");
	CHECK(roundtrip(fd, &b, rep2, &n2) == NFS3_OK, "create replayed");
	struct nc c;
	struct nres r;
	nc_open(&c, d->nfs_port, NFS_PROGRAM, 0, 0, 0, NULL);
	EXPECT_NFS(nc_lookup(&c, &root, "again", &r), NFS3ERR_NOENT);
	nc_close(&c);

	/* pipelined duplicates: both in flight before the first is answered;
	 * one is dropped (the first's reply is on its way) or answered from
	 * the cache, never run twice */
	call_name(&b, 2001, NFS3_CREATE, "twice");
	rpc_send(fd, &b);
	rpc_send(fd, &b);
	n1 = rpc_recv(fd, rep1, sizeof(rep1), 5000);
	CHECK(n1 > 0, "a reply to the pipelined create");
	struct rpc_reply rr;
	CHECK(rpc_parse_reply(rep1, n1, &rr) && be32_at(rep1, rr.body_off) == NFS3_OK, "pipelined create");
	close(fd);
	return 0;
}
