/*
 * t-fmd-garbage.c - malformed XDR and garbage on slice-fmd's sockets.
 * Every bad call gets GARBAGE_ARGS (or PROC_UNAVAIL, PROG_MISMATCH,
 * PROG_UNAVAIL, a denial) or its connection closed; the server stays up
 * and keeps serving: handles longer than 64 bytes, lengths pointing past
 * the record, a WRITE whose count is not its data, enum and bool values
 * out of range, a 2 GiB record mark, random bytes, and a few thousand
 * mutations of valid calls.
 */
#include "fmd_testlib.h"
#include "oncrpc.h"
#include "orpc_testlib.h"

static struct ft_daemon *d;
static struct tfh root;

/* Send b on a fresh connection: the accept_stat (or -2 denied, -1 closed). */
static int one_call(const struct rbuf *b)
{
	int fd = rpc_connect(d->nfs_port);
	uint8_t rep[8192];
	struct rpc_reply rr;
	rpc_send(fd, b);
	long n = rpc_recv(fd, rep, sizeof(rep), 3000);
	close(fd);
	if (n < 0)
		return -1;
	CHECK(rpc_parse_reply(rep, n, &rr), "an unparseable reply");
	return rr.accepted ? (int)rr.stat : -2;
}

static void expect_garbage(const struct rbuf *b, const char *what)
{
	int st = one_call(b);
	CHECK(st == ORPC_GARBAGE_ARGS || st == -1, "%s: got %d, want GARBAGE_ARGS or a close", what, st);
}

static void alive(void)
{
	struct nc c;
	struct nres r;
	CHECK(ft_alive(d), "slice-fmd died");
	nc_open(&c, d->nfs_port, NFS_PROGRAM, 0, 0, 0, NULL);
	EXPECT_NFS(nc_getattr(&c, &root, &r), NFS3_OK);
	nc_close(&c);
}

static void test_bad_args(void)
{
	struct rbuf b;
	uint8_t big[80] = { 0 };

	rb_call(&b, 1, NFS_PROGRAM, 3, NFS3_GETATTR);
	rb_opaque(&b, big, 65);                          /* handle over 64 bytes */
	expect_garbage(&b, "65-byte handle");

	rb_call(&b, 2, NFS_PROGRAM, 3, NFS3_GETATTR);
	rb_u32(&b, 64);                                  /* handle cut short */
	rb_bytes(&b, big, 20);
	expect_garbage(&b, "truncated handle");

	rb_call(&b, 3, NFS_PROGRAM, 3, NFS3_LOOKUP);
	rb_opaque(&b, root.b, root.len);
	rb_u32(&b, 0xfffffffcu);                         /* name length wraps */
	expect_garbage(&b, "name length 0xfffffffc");

	rb_call(&b, 4, NFS_PROGRAM, 3, NFS3_WRITE);
	rb_opaque(&b, root.b, root.len);
	rb_u64(&b, 0);
	rb_u32(&b, 100);                                 /* count 100 ... */
	rb_u32(&b, FILE_SYNC);
	rb_opaque(&b, big, 10);                          /* ... 10 bytes of data */
	expect_garbage(&b, "WRITE count != data");

	rb_call(&b, 5, NFS_PROGRAM, 3, NFS3_CREATE);
	rb_opaque(&b, root.b, root.len);
	rb_opaque(&b, "x", 1);
	rb_u32(&b, 7);                                   /* createmode 7 */
	expect_garbage(&b, "createmode 7");

	rb_call(&b, 6, NFS_PROGRAM, 3, NFS3_SETATTR);
	rb_opaque(&b, root.b, root.len);
	rb_u32(&b, 2);                                   /* a bool of 2 */
	expect_garbage(&b, "bool 2");

	rb_call(&b, 7, NFS_PROGRAM, 3, NFS3_READDIR);
	rb_opaque(&b, root.b, root.len);
	rb_u64(&b, 0);
	rb_bytes(&b, big, 4);                            /* cookie verifier cut */
	expect_garbage(&b, "short cookie verifier");

	rb_call(&b, 8, NFS_PROGRAM, 3, NFS3_MKNOD);
	rb_opaque(&b, root.b, root.len);
	rb_opaque(&b, "n", 1);
	rb_u32(&b, 99);                                  /* ftype 99 */
	expect_garbage(&b, "ftype 99");

	rb_call(&b, 9, MOUNT_PROGRAM, 3, MOUNT3_MNT);
	rb_u32(&b, 5000);                                /* path over MNTPATHLEN, not there */
	expect_garbage(&b, "MNT path 5000");

	rb_call(&b, 10, NFS_PROGRAM, 3, 22);
	CHECK(one_call(&b) == ORPC_PROC_UNAVAIL, "proc 22");
	rb_call(&b, 11, NFS_PROGRAM, 2, 1);
	CHECK(one_call(&b) == ORPC_PROG_MISMATCH, "NFS version 2");
	rb_call(&b, 12, 100227, 3, 0);
	CHECK(one_call(&b) == ORPC_PROG_UNAVAIL, "NFS_ACL");
	alive();
}

static void test_streams(void)
{
	/* a record mark announcing 2 GiB */
	int fd = rpc_connect(d->nfs_port);
	uint32_t mark = htonl(0xffffffffu);
	rpc_write(fd, &mark, 4);
	CHECK(rpc_closed(fd, 3000), "a 2 GiB record must close the connection");
	close(fd);

	/* random bytes, and half-sent records left hanging */
	srand(42);
	for (int i = 0; i < 50; i++) {
		fd = rpc_connect(d->nfs_port);
		uint8_t junk[3000];
		for (size_t k = 0; k < sizeof(junk); k++)
			junk[k] = (uint8_t)(rand() >> 5);
		if (i % 3 == 0)
			junk[0] = 0x80, junk[1] = 0, junk[2] = 0x0b, junk[3] = 0xb8;   /* a mark that fits */
		send(fd, junk, (size_t)(rand() % (int)sizeof(junk)) + 1, MSG_NOSIGNAL);
		close(fd);
	}
	alive();
}

/* Valid calls of six procedures, with a byte or four changed at random
 * (past the xid and message type, so that each still is a call):
 * whatever the server answers, it answers on, and stays up. */
static void test_mutations(void)
{
	struct rbuf base[6], b;
	uint8_t rep[16384];
	rb_call(&base[0], 1, NFS_PROGRAM, 3, NFS3_LOOKUP);
	rb_opaque(&base[0], root.b, root.len);
	rb_opaque(&base[0], "name", 4);
	rb_call(&base[1], 1, NFS_PROGRAM, 3, NFS3_CREATE);
	rb_opaque(&base[1], root.b, root.len);
	rb_opaque(&base[1], "mut", 3);
	rb_u32(&base[1], UNCHECKED);
	rb_u32(&base[1], 1); rb_u32(&base[1], 0644);
	for (int i = 0; i < 5; i++)
		rb_u32(&base[1], 0);
	rb_call(&base[2], 1, NFS_PROGRAM, 3, NFS3_READDIRPLUS);
	rb_opaque(&base[2], root.b, root.len);
	rb_u64(&base[2], 0);
	rb_u64(&base[2], 0);
	rb_u32(&base[2], 1024);
	rb_u32(&base[2], 8192);
	rb_call(&base[3], 1, NFS_PROGRAM, 3, NFS3_SETATTR);
	rb_opaque(&base[3], root.b, root.len);
	rb_u32(&base[3], 1); rb_u32(&base[3], 0755);
	for (int i = 0; i < 5; i++)
		rb_u32(&base[3], 0);
	rb_u32(&base[3], 0);
	rb_call(&base[4], 1, NFS_PROGRAM, 3, NFS3_RENAME);
	rb_opaque(&base[4], root.b, root.len);
	rb_opaque(&base[4], "mut", 3);
	rb_opaque(&base[4], root.b, root.len);
	rb_opaque(&base[4], "mut2", 4);
	rb_call(&base[5], 1, NFS_PROGRAM, 3, NFS3_SYMLINK);
	rb_opaque(&base[5], root.b, root.len);
	rb_opaque(&base[5], "sl", 2);
	for (int i = 0; i < 6; i++)
		rb_u32(&base[5], 0);
	rb_opaque(&base[5], "target", 6);

	int fd = rpc_connect(d->nfs_port);
	int answered = 0, closed = 0;
	for (int i = 0; i < 3000; i++) {
		b = base[i % 6];
		for (int k = 0; k < 1 + i % 4; k++)
			b.b[8 + (size_t)rand() % (b.n - 8)] = (uint8_t)rand();   /* not xid, type */
		if (i % 7 == 0)
			b.n = 8 + (size_t)rand() % (b.n - 8);                  /* and cut short */
		rpc_send(fd, &b);
		long n = rpc_recv(fd, rep, sizeof(rep), 2000);
		struct rpc_reply rr;
		if (n > 0 && rpc_parse_reply(rep, n, &rr)) {
			answered++;
		} else {
			/* closed (a mark over the maximum): a new connection */
			closed++;
			close(fd);
			fd = rpc_connect(d->nfs_port);
		}
	}
	close(fd);
	NOTE("mutated calls: %d answered, %d dropped or closed", answered, closed);
	CHECK(answered > 1000, "most mutated calls deserve an answer");
	alive();
}

int main(int argc, char **argv)
{
	tl_init(argc, argv, 120);
	d = ft_new("fmd", "--no-root-squash --no-sync");
	EXPECT_NFS(nc_mount(d->mount_port, "/slice", &root), MNT3_OK);
	test_bad_args();
	test_streams();
	test_mutations();
	CHECK(ft_stop(d) == 0, "clean shutdown after all that");
	return 0;
}
