/*
 * pmap.c - registration with the portmapper (rpcbind's version 2 protocol,
 * RFC 1833 section 3) at 127.0.0.1:111 over UDP.  Clients that do not
 * name ports find ours there; when no rpcbind runs the calls fail quickly
 * and the server goes on without it.
 *
 * rpcbind accepts SET/UNSET only from the local host, and from a reserved
 * source port when the caller claims uid 0; a root daemon therefore binds
 * one.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "oncrpc.h"

#define PMAP_PROG     100000u
#define PMAP_VERS     2u
#define PMAPPROC_SET   1u
#define PMAPPROC_UNSET 2u
#define IPPROTO_TCP_PMAP 6u

static int bind_reserved(int fd)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	if (geteuid() != 0)
		return 0;
	for (int port = 1023; port >= 600; port--) {
		sa.sin_port = htons((uint16_t)port);
		if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
			return 0;
	}
	return 0;   /* an unreserved port; rpcbind may refuse, which we report */
}

static int pmap_call(uint32_t proc, uint32_t prog, uint32_t vers, uint16_t port)
{
	uint8_t msg[128], rep[128];
	struct orpc_xdrw w;
	uint32_t xid = (uint32_t)getpid() ^ (uint32_t)prog ^ (proc << 24) ^ vers;
	int fd, rc;

	orpc_xdrw_init(&w, msg, sizeof(msg));
	orpc_xdrw_u32(&w, xid);
	orpc_xdrw_u32(&w, 0);            /* CALL */
	orpc_xdrw_u32(&w, ORPC_VERSION);
	orpc_xdrw_u32(&w, PMAP_PROG);
	orpc_xdrw_u32(&w, PMAP_VERS);
	orpc_xdrw_u32(&w, proc);
	orpc_xdrw_u32(&w, ORPC_AUTH_SYS);   /* credential: uid/gid of this process */
	orpc_xdrw_u32(&w, 24);
	orpc_xdrw_u32(&w, 0);            /* stamp */
	orpc_xdrw_u32(&w, 4);            /* machinename "orpc" */
	memcpy(w.p + w.pos, "orpc", 4);
	w.pos += 4;
	orpc_xdrw_u32(&w, (uint32_t)geteuid());
	orpc_xdrw_u32(&w, (uint32_t)getegid());
	orpc_xdrw_u32(&w, 0);            /* no gids */
	orpc_xdrw_u32(&w, ORPC_AUTH_NONE);
	orpc_xdrw_u32(&w, 0);
	orpc_xdrw_u32(&w, prog);
	orpc_xdrw_u32(&w, vers);
	orpc_xdrw_u32(&w, IPPROTO_TCP_PMAP);
	orpc_xdrw_u32(&w, port);

	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	bind_reserved(fd);
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(111),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	if (connect(fd, (struct sockaddr *)&to, sizeof(to)) < 0) {
		rc = -errno;
		goto out;
	}
	rc = -ETIMEDOUT;
	for (int attempt = 0; attempt < 3; attempt++) {
		if (send(fd, msg, w.pos, 0) < 0) {
			rc = -errno;
			break;
		}
		struct pollfd p = { .fd = fd, .events = POLLIN };
		if (poll(&p, 1, 300) <= 0)
			continue;
		ssize_t n = recv(fd, rep, sizeof(rep), 0);
		if (n < 0) {
			rc = -errno;   /* ECONNREFUSED: nobody on port 111 */
			break;
		}
		struct orpc_xdr x;
		orpc_xdr_init(&x, rep, (size_t)n);
		if (orpc_xdr_u32(&x) != xid)
			continue;
		uint32_t mtype = orpc_xdr_u32(&x), rstat = orpc_xdr_u32(&x);
		(void)orpc_xdr_u32(&x);
		uint32_t vlen;
		(void)orpc_xdr_opaque(&x, &vlen, ORPC_AUTH_BODY_MAX);
		uint32_t astat = orpc_xdr_u32(&x), ok = orpc_xdr_u32(&x);
		if (x.bad || mtype != 1 || rstat != 0 || astat != 0)
			rc = -EPROTO;
		else
			rc = ok ? 0 : -EPERM;
		break;
	}
out:
	close(fd);
	return rc;
}

int orpc_pmap_set(uint32_t prog, uint32_t vers, uint16_t port)
{
	return pmap_call(PMAPPROC_SET, prog, vers, port);
}

int orpc_pmap_unset(uint32_t prog, uint32_t vers)
{
	return pmap_call(PMAPPROC_UNSET, prog, vers, 0);
}
