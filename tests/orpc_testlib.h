/*
 * orpc_testlib.h - a raw ONC RPC client for tests: it writes exactly the
 * bytes a test wants (well-formed calls, or anything else) and reads
 * replies record by record.  Static helpers, included by the tests that
 * talk to an RPC server below the level of libnfs.
 */
#ifndef ORPC_TESTLIB_H
#define ORPC_TESTLIB_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "testlib.h"

struct rbuf {
	uint8_t b[8192];
	size_t  n;
};

static inline void rb_u32(struct rbuf *r, uint32_t v)
{
	CHECK(r->n + 4 <= sizeof(r->b), "rbuf overflow");
	uint32_t be = htonl(v);
	memcpy(r->b + r->n, &be, 4);
	r->n += 4;
}

static inline void rb_u64(struct rbuf *r, uint64_t v)
{
	rb_u32(r, (uint32_t)(v >> 32));
	rb_u32(r, (uint32_t)v);
}

static inline void rb_bytes(struct rbuf *r, const void *p, size_t n)
{
	CHECK(r->n + n + 3 <= sizeof(r->b), "rbuf overflow");
	memcpy(r->b + r->n, p, n);
	r->n += n;
	while (r->n % 4)
		r->b[r->n++] = 0;
}

static inline void rb_opaque(struct rbuf *r, const void *p, size_t n)
{
	rb_u32(r, (uint32_t)n);
	rb_bytes(r, p, n);
}

/* AUTH_SYS credential with uid, gid and ngids groups. */
static inline void rb_auth_sys(struct rbuf *r, uint32_t uid, uint32_t gid, uint32_t ngids,
			       const uint32_t *gids)
{
	rb_u32(r, 1);
	rb_u32(r, 4 + 8 + 12 + 4 * ngids);
	rb_u32(r, 0);
	rb_opaque(r, "test", 4);
	rb_u32(r, uid);
	rb_u32(r, gid);
	rb_u32(r, ngids);
	for (uint32_t i = 0; i < ngids; i++)
		rb_u32(r, gids[i]);
}

/* The call header up to the arguments, with an AUTH_SYS root credential. */
static inline void rb_call(struct rbuf *r, uint32_t xid, uint32_t prog, uint32_t vers, uint32_t proc)
{
	r->n = 0;
	rb_u32(r, xid);
	rb_u32(r, 0);
	rb_u32(r, 2);
	rb_u32(r, prog);
	rb_u32(r, vers);
	rb_u32(r, proc);
	rb_auth_sys(r, 0, 0, 0, NULL);
	rb_u32(r, 0);
	rb_u32(r, 0);
}

static inline int rpc_connect(uint16_t port)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
	CHECK(fd >= 0, "socket: %s", strerror(errno));
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	CHECK(connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0, "connect %u: %s", port,
	      strerror(errno));
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

static inline void rpc_write(int fd, const void *p, size_t n)
{
	const uint8_t *b = p;
	while (n > 0) {
		ssize_t w = send(fd, b, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		CHECK(w > 0, "send: %s", strerror(errno));
		b += w;
		n -= (size_t)w;
	}
}

/* Send r as one record (one fragment). */
static inline void rpc_send(int fd, const struct rbuf *r)
{
	uint32_t mark = htonl(0x80000000u | (uint32_t)r->n);
	rpc_write(fd, &mark, 4);
	rpc_write(fd, r->b, r->n);
}

/* Read exactly n bytes within ms: 0, or -1 on EOF / error / timeout. */
static inline int rpc_read_full(int fd, void *p, size_t n, int ms)
{
	uint8_t *b = p;
	double end = tl_now_ms() + ms;
	while (n > 0) {
		int left = (int)(end - tl_now_ms());
		if (left <= 0)
			return -1;
		struct pollfd pf = { .fd = fd, .events = POLLIN };
		if (poll(&pf, 1, left) <= 0)
			continue;
		ssize_t got = recv(fd, b, n, 0);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			return -1;
		b += got;
		n -= (size_t)got;
	}
	return 0;
}

/* One reply record into buf (cap bytes): its length, or -1 (EOF, timeout,
 * too big). */
static inline long rpc_recv(int fd, uint8_t *buf, size_t cap, int ms)
{
	size_t len = 0;
	for (;;) {
		uint32_t mark;
		if (rpc_read_full(fd, &mark, 4, ms) < 0)
			return -1;
		mark = ntohl(mark);
		size_t flen = mark & 0x7fffffffu;
		if (len + flen > cap)
			return -1;
		if (rpc_read_full(fd, buf + len, flen, ms) < 0)
			return -1;
		len += flen;
		if (mark & 0x80000000u)
			return (long)len;
	}
}

static inline uint32_t be32_at(const uint8_t *b, size_t off)
{
	uint32_t v;
	memcpy(&v, b + off, 4);
	return ntohl(v);
}

/* The reply's shape: accepted (stat) or denied (-1 - reject_stat). */
struct rpc_reply {
	uint32_t xid;
	int      accepted;     /* 1 accepted, 0 denied */
	uint32_t stat;         /* accept_stat, or reject_stat when denied */
	uint32_t detail;       /* denied AUTH_ERROR: auth_stat; PROG_MISMATCH: low */
	size_t   body_off;     /* accepted SUCCESS: where the results start */
};

static inline bool rpc_parse_reply(const uint8_t *b, long len, struct rpc_reply *r)
{
	if (len < 12 || be32_at(b, 4) != 1)
		return false;
	r->xid = be32_at(b, 0);
	if (be32_at(b, 8) == 1) {
		if (len < 20)
			return false;
		r->accepted = 0;
		r->stat = be32_at(b, 12);
		r->detail = be32_at(b, 16);
		return true;
	}
	if (len < 24)
		return false;
	r->accepted = 1;
	uint32_t vlen = be32_at(b, 16);
	size_t off = 20 + ((vlen + 3) & ~3u);
	if ((size_t)len < off + 4)
		return false;
	r->stat = be32_at(b, off);
	r->body_off = off + 4;
	r->detail = (size_t)len >= off + 8 ? be32_at(b, off + 4) : 0;
	return true;
}

/* True if the peer closed the connection (EOF within ms). */
static inline bool rpc_closed(int fd, int ms)
{
	uint8_t tmp[4096];
	double end = tl_now_ms() + ms;
	while (tl_now_ms() < end) {
		struct pollfd pf = { .fd = fd, .events = POLLIN };
		if (poll(&pf, 1, 50) <= 0)
			continue;
		ssize_t got = recv(fd, tmp, sizeof(tmp), 0);
		if (got == 0 || (got < 0 && errno != EINTR && errno != EAGAIN))
			return true;
	}
	return false;
}

#endif
