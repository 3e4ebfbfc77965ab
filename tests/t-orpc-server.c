/*
 * t-orpc-server.c - liboncrpc against a raw client: every reply the library
 * owes bad input (RPC_MISMATCH, AUTH_ERROR for bad AUTH_SYS bodies,
 * PROG_UNAVAIL, PROG_MISMATCH, PROC_UNAVAIL, GARBAGE_ARGS for a cut
 * header), fragments reassembled, a record over the maximum closing the
 * connection, replies from another thread, calls answered with no reply,
 * and back-pressure: a client that sends many calls without reading its
 * replies stops being read (throttled), and gets every reply once it reads.
 */
#include <pthread.h>
#include <sys/socket.h>

#include "oncrpc.h"
#include "orpc_testlib.h"

#define PROG 0x20000077u

static struct orpc_server *srv;
static uint16_t port;

/* proc 1: echo the arguments; 2: no reply; 3: reply from another thread;
 * 4: GARBAGE_ARGS; 5: a 256 KiB reply (for back-pressure). */
static void *late_reply(void *arg)
{
	struct orpc_call *c = arg;
	usleep(2000);
	uint8_t *b = orpc_reply_buf(c, 4);
	memcpy(b, "\0\0\0\3", 4);
	orpc_reply_send(c, 4);
	return NULL;
}

static void dispatch(struct orpc_call *c, void *arg)
{
	pthread_t t;
	uint8_t *b;

	switch (c->proc) {
	case 0:
		b = orpc_reply_buf(c, 0);
		orpc_reply_send(c, 0);
		break;
	case 1:
		b = orpc_reply_buf(c, c->args_len + 8);
		memcpy(b, c->args, c->args_len);
		/* the credential comes back after the echo: uid, ngids */
		b[c->args_len] = (uint8_t)c->cred.uid;
		b[c->args_len + 4] = (uint8_t)c->cred.ngids;
		orpc_reply_send(c, c->args_len + 8);
		break;
	case 2:
		orpc_call_drop(c);
		break;
	case 3:
		CHECK(pthread_create(&t, NULL, late_reply, c) == 0, "pthread_create");
		pthread_detach(t);
		break;
	case 4:
		orpc_reply_error(c, ORPC_GARBAGE_ARGS);
		break;
	case 5:
		b = orpc_reply_buf(c, 256u << 10);
		memset(b, 0x5a, 256u << 10);
		orpc_reply_send(c, 256u << 10);
		break;
	default:
		orpc_reply_error(c, ORPC_SYSTEM_ERR);
	}
}

static long call_and_wait(int fd, struct rbuf *r, uint8_t *rep, size_t cap, struct rpc_reply *out)
{
	rpc_send(fd, r);
	long n = rpc_recv(fd, rep, cap, 3000);
	CHECK(n > 0, "no reply");
	CHECK(rpc_parse_reply(rep, n, out), "unparseable reply (%ld bytes)", n);
	return n;
}

static void test_denials(void)
{
	int fd = rpc_connect(port);
	struct rbuf r;
	uint8_t rep[1024];
	struct rpc_reply rr;

	/* a good echo with a 3-group AUTH_SYS credential */
	uint32_t gids[3] = { 10, 20, 30 };
	r.n = 0;
	rb_u32(&r, 100); rb_u32(&r, 0); rb_u32(&r, 2);
	rb_u32(&r, PROG); rb_u32(&r, 1); rb_u32(&r, 1);
	rb_auth_sys(&r, 1234, 5, 3, gids);
	rb_u32(&r, 0); rb_u32(&r, 0);
	rb_u32(&r, 0xdeadbeef);
	long n = call_and_wait(fd, &r, rep, sizeof(rep), &rr);
	CHECK(rr.xid == 100 && rr.accepted && rr.stat == ORPC_SUCCESS, "echo: stat %u", rr.stat);
	CHECK(n == (long)rr.body_off + 12 && be32_at(rep, rr.body_off) == 0xdeadbeef, "echo body");
	CHECK(rep[rr.body_off + 4] == (1234 & 0xff) && rep[rr.body_off + 8] == 3, "credential seen");

	/* RPC version 3: MSG_DENIED RPC_MISMATCH */
	rb_call(&r, 101, PROG, 1, 0);
	r.b[11] = 3;
	call_and_wait(fd, &r, rep, sizeof(rep), &rr);
	CHECK(!rr.accepted && rr.stat == 0 && rr.detail == 2, "rpc mismatch: %d %u", rr.accepted, rr.stat);

	/* unknown program, version, procedure */
	rb_call(&r, 102, PROG + 1, 1, 0);
	call_and_wait(fd, &r, rep, sizeof(rep), &rr);
	CHECK(rr.accepted && rr.stat == ORPC_PROG_UNAVAIL, "prog unavail: %u", rr.stat);
	rb_call(&r, 103, PROG, 7, 0);
	call_and_wait(fd, &r, rep, sizeof(rep), &rr);
	CHECK(rr.accepted && rr.stat == ORPC_PROG_MISMATCH && rr.detail == 1, "prog mismatch: %u", rr.stat);
	rb_call(&r, 104, PROG, 1, 99);
	call_and_wait(fd, &r, rep, sizeof(rep), &rr);
	CHECK(rr.accepted && rr.stat == ORPC_PROC_UNAVAIL, "proc unavail: %u", rr.stat);

	/* AUTH_SYS with 17 groups: AUTH_ERROR BADCRED */
	uint32_t many[17] = { 0 };
	r.n = 0;
	rb_u32(&r, 105); rb_u32(&r, 0); rb_u32(&r, 2);
	rb_u32(&r, PROG); rb_u32(&r, 1); rb_u32(&r, 0);
	rb_auth_sys(&r, 1, 1, 17, many);
	rb_u32(&r, 0); rb_u32(&r, 0);
	call_and_wait(fd, &r, rep, sizeof(rep), &rr);
	CHECK(!rr.accepted && rr.stat == 1 && rr.detail == ORPC_AUTH_BADCRED, "17 gids: %u/%u", rr.stat, rr.detail);

	/* AUTH_SYS body shorter than its contents claim */
	rb_call(&r, 106, PROG, 1, 0);
	r.b[31] = 12;     /* cred length 12, but the body says machinename etc. */
	call_and_wait(fd, &r, rep, sizeof(rep), &rr);
	CHECK(!rr.accepted && rr.detail == ORPC_AUTH_BADCRED, "short AUTH_SYS body: %u", rr.detail);

	/* credential length 0x80000000 */
	rb_call(&r, 107, PROG, 1, 0);
	r.b[28] = 0x80; r.b[29] = r.b[30] = r.b[31] = 0;
	call_and_wait(fd, &r, rep, sizeof(rep), &rr);
	CHECK(!rr.accepted && rr.detail == ORPC_AUTH_BADCRED, "huge cred length: %u", rr.detail);

	/* RPCSEC_GSS (flavor 6): not offered */
	rb_call(&r, 108, PROG, 1, 0);
	r.b[27] = 6;
	call_and_wait(fd, &r, rep, sizeof(rep), &rr);
	CHECK(!rr.accepted && rr.detail == ORPC_AUTH_BADCRED, "gss: %u", rr.detail);

	/* header cut short after the program number: GARBAGE_ARGS */
	rb_call(&r, 109, PROG, 1, 0);
	r.n = 16;
	call_and_wait(fd, &r, rep, sizeof(rep), &rr);
	CHECK(rr.accepted && rr.stat == ORPC_GARBAGE_ARGS, "cut header: %u", rr.stat);

	/* a reply sent to the server is ignored; the next call still works */
	r.n = 0;
	rb_u32(&r, 110); rb_u32(&r, 1); rb_u32(&r, 0);
	rpc_send(fd, &r);
	rb_call(&r, 111, PROG, 1, 0);
	call_and_wait(fd, &r, rep, sizeof(rep), &rr);
	CHECK(rr.xid == 111 && rr.stat == ORPC_SUCCESS, "after a stray reply: xid %u", rr.xid);

	/* a call in three fragments */
	rb_call(&r, 112, PROG, 1, 1);
	rb_u32(&r, 0x01020304);
	uint32_t m1 = htonl(10), m2 = htonl(8), m3 = htonl(0x80000000u | (uint32_t)(r.n - 18));
	rpc_write(fd, &m1, 4);
	rpc_write(fd, r.b, 10);
	rpc_write(fd, &m2, 4);
	rpc_write(fd, r.b + 10, 8);
	rpc_write(fd, &m3, 4);
	rpc_write(fd, r.b + 18, r.n - 18);
	n = rpc_recv(fd, rep, sizeof(rep), 3000);
	CHECK(n > 0 && rpc_parse_reply(rep, n, &rr) && rr.xid == 112 && rr.stat == ORPC_SUCCESS &&
	      be32_at(rep, rr.body_off) == 0x01020304, "fragmented call");

	/* no reply (2), a late reply from another thread (3), GARBAGE_ARGS (4),
	 * pipelined: only 113's and 114's replies come, in either order */
	rb_call(&r, 120, PROG, 1, 2);
	rpc_send(fd, &r);
	rb_call(&r, 113, PROG, 1, 3);
	rpc_send(fd, &r);
	rb_call(&r, 114, PROG, 1, 4);
	rpc_send(fd, &r);
	bool got113 = false, got114 = false;
	for (int i = 0; i < 2; i++) {
		n = rpc_recv(fd, rep, sizeof(rep), 3000);
		CHECK(n > 0 && rpc_parse_reply(rep, n, &rr), "pipelined reply %d", i);
		if (rr.xid == 113)
			got113 = rr.stat == ORPC_SUCCESS && be32_at(rep, rr.body_off) == 3;
		if (rr.xid == 114)
			got114 = rr.stat == ORPC_GARBAGE_ARGS;
	}
	CHECK(got113 && got114, "late reply %d, garbage %d", got113, got114);
	close(fd);
}

static void test_oversize(void)
{
	int fd = rpc_connect(port);
	uint32_t mark = htonl(0x80000000u | (64u << 10));   /* above max_record (48 KiB) */
	rpc_write(fd, &mark, 4);
	CHECK(rpc_closed(fd, 3000), "a record over the maximum must close the connection");
	close(fd);

	/* many fragments, each small, adding up past the maximum */
	fd = rpc_connect(port);
	uint8_t zero[4096] = { 0 };
	bool closed = false;
	for (int i = 0; i < 20 && !closed; i++) {
		mark = htonl(4096);
		if (send(fd, &mark, 4, MSG_NOSIGNAL) < 0 || send(fd, zero, sizeof(zero), MSG_NOSIGNAL) < 0)
			closed = true;
	}
	CHECK(closed || rpc_closed(fd, 3000), "fragments past the maximum must close the connection");
	close(fd);
}

/* Send 64 calls for 256 KiB replies without reading: 16 MiB of replies,
 * over max_queued (1 MiB): the server must pause reading, and deliver all
 * 64 once we read. */
static void test_backpressure(void)
{
	int fd = rpc_connect(port);
	int rcv = 64 << 10;
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv));
	struct rbuf r;
	for (uint32_t i = 0; i < 64; i++) {
		rb_call(&r, 1000 + i, PROG, 1, 5);
		rpc_send(fd, &r);
	}
	struct orpc_counters ctr;
	bool paused = false;
	for (int i = 0; i < 200 && !paused; i++) {
		orpc_server_counters(srv, &ctr);
		paused = ctr.throttled > 0;
		usleep(10000);
	}
	CHECK(paused, "the server never paused a client that does not read");
	static uint8_t rep[(256u << 10) + 1024];
	struct rpc_reply rr;
	for (uint32_t i = 0; i < 64; i++) {
		long n = rpc_recv(fd, rep, sizeof(rep), 5000);
		CHECK(n > 0 && rpc_parse_reply(rep, n, &rr) && rr.stat == ORPC_SUCCESS, "reply %u", i);
		CHECK(rr.xid == 1000 + i, "reply order: %u for %u", rr.xid, 1000 + i);
	}
	close(fd);
}

static void test_garbage_stream(void)
{
	/* random bytes: the server may close, must not die */
	for (int round = 0; round < 20; round++) {
		int fd = rpc_connect(port);
		uint8_t junk[2048];
		for (size_t i = 0; i < sizeof(junk); i++)
			junk[i] = (uint8_t)(rand() >> 7);
		if (round % 2)
			junk[0] &= 0x7f, junk[1] = 0, junk[2] = 0x01;   /* a plausible mark */
		send(fd, junk, sizeof(junk), MSG_NOSIGNAL);
		close(fd);
	}
	int fd = rpc_connect(port);
	struct rbuf r;
	uint8_t rep[256];
	struct rpc_reply rr;
	rb_call(&r, 7, PROG, 1, 0);
	call_and_wait(fd, &r, rep, sizeof(rep), &rr);
	CHECK(rr.xid == 7 && rr.stat == ORPC_SUCCESS, "alive after garbage");
	close(fd);
}

int main(int argc, char **argv)
{
	tl_init(argc, argv, 60);
	struct orpc_server_config cfg;
	orpc_server_config_default(&cfg);
	cfg.max_record = 48u << 10;
	cfg.max_queued = 1u << 20;
	cfg.max_inflight = 32;
	CHECK_RC(orpc_server_create(&cfg, &srv), 0);
	CHECK_RC(orpc_server_add_program(srv, PROG, 1, 2, 6, dispatch, NULL), 0);
	CHECK_RC(orpc_server_listen(srv, "127.0.0.1", 0, &port), 0);
	CHECK_RC(orpc_server_start(srv), 0);

	test_denials();
	test_oversize();
	test_backpressure();
	test_garbage_stream();

	struct orpc_counters ctr;
	orpc_server_counters(srv, &ctr);
	NOTE("calls %llu replies %llu denied %llu garbage %llu oversize %llu throttled %llu",
	     (unsigned long long)ctr.calls, (unsigned long long)ctr.replies,
	     (unsigned long long)ctr.denied, (unsigned long long)ctr.garbage,
	     (unsigned long long)ctr.oversize, (unsigned long long)ctr.throttled);
	CHECK(ctr.oversize >= 2, "oversize counted: %llu", (unsigned long long)ctr.oversize);
	orpc_server_destroy(srv);
	return 0;
}
