/*
 * export.c - who may use the proxy and as whom.
 *
 * Clients are allowed by address: the cluster's allow list (CIDRs; empty
 * means loopback only).  The managers cannot check this themselves for
 * calls that come through the proxy: they see the proxy's address.
 *
 * Credentials go to the managers as the client sent them (they squash);
 * for the data path (slice_vol calls) the cluster's root_squash is applied
 * here, as a manager would.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proxy.h"

#define ANON_ID 65534u

static int parse_cidr(const char *s, size_t n, struct proxy_cidr *out)
{
	char host[INET6_ADDRSTRLEN + 1];
	const char *slash = memchr(s, '/', n);
	size_t hn = slash ? (size_t)(slash - s) : n;
	if (hn == 0 || hn >= sizeof(host))
		return -EINVAL;
	memcpy(host, s, hn);
	host[hn] = 0;
	memset(out, 0, sizeof(*out));
	int max;
	if (inet_pton(AF_INET, host, out->addr) == 1) {
		out->family = AF_INET;
		max = 32;
	} else if (inet_pton(AF_INET6, host, out->addr) == 1) {
		out->family = AF_INET6;
		max = 128;
	} else {
		return -EINVAL;
	}
	out->bits = max;
	if (slash) {
		char num[8];
		size_t bn = n - hn - 1;
		if (bn == 0 || bn >= sizeof(num))
			return -EINVAL;
		memcpy(num, slash + 1, bn);
		num[bn] = 0;
		char *end;
		long b = strtol(num, &end, 10);
		if (*end || b < 0 || b > max)
			return -EINVAL;
		out->bits = (int)b;
	}
	return 0;
}

int proxy_parse_allow(struct proxy *p, const char *list)
{
	p->nallow = 0;
	const char *s = list;
	while (*s) {
		while (*s == ' ' || *s == ',' || *s == '\t')
			s++;
		if (!*s)
			break;
		size_t n = strcspn(s, ", \t");
		if (p->nallow == PROXY_MAX_ALLOW)
			return -E2BIG;
		if (parse_cidr(s, n, &p->allow[p->nallow]) < 0)
			return -EINVAL;
		p->nallow++;
		s += n;
	}
	return 0;
}

static bool prefix_match(const uint8_t *a, const uint8_t *b, int bits)
{
	int bytes = bits / 8, rest = bits % 8;
	if (memcmp(a, b, (size_t)bytes) != 0)
		return false;
	if (rest == 0)
		return true;
	uint8_t mask = (uint8_t)(0xff << (8 - rest));
	return (a[bytes] & mask) == (b[bytes] & mask);
}

bool proxy_allowed(const struct proxy *p, const struct sockaddr_storage *peer)
{
	uint8_t a[16];
	int family;

	if (peer->ss_family == AF_INET) {
		family = AF_INET;
		memcpy(a, &((const struct sockaddr_in *)peer)->sin_addr, 4);
	} else if (peer->ss_family == AF_INET6) {
		const struct in6_addr *a6 = &((const struct sockaddr_in6 *)peer)->sin6_addr;
		if (IN6_IS_ADDR_V4MAPPED(a6)) {
			family = AF_INET;
			memcpy(a, &a6->s6_addr[12], 4);
		} else {
			family = AF_INET6;
			memcpy(a, a6, 16);
		}
	} else {
		return false;
	}
	if (p->nallow == 0)
		return family == AF_INET ? a[0] == 127 : IN6_IS_ADDR_LOOPBACK((const struct in6_addr *)a);
	for (uint32_t i = 0; i < p->nallow; i++)
		if (p->allow[i].family == family && prefix_match(a, p->allow[i].addr, p->allow[i].bits))
			return true;
	return false;
}

/* The managers' rule (slice-fmd export.c): AUTH_NONE is the anonymous
 * user; with root squash uid and gid 0 - also among the groups - too. */
void proxy_cred(const struct orpc_call *c, struct slice_cred *out)
{
	const struct orpc_cred *in = &c->cred;
	const struct proxy *p = c->user;
	memset(out, 0, sizeof(*out));
	if (in->flavor != ORPC_AUTH_SYS) {
		out->uid = out->gid = ANON_ID;
		return;
	}
	out->uid = in->uid;
	out->gid = in->gid;
	out->ngids = in->ngids > 16 ? 16 : in->ngids;
	memcpy(out->gids, in->gids, sizeof(uint32_t) * out->ngids);
	if (!p || !p->cl->root_squash)
		return;
	if (out->uid == 0)
		out->uid = ANON_ID;
	if (out->gid == 0)
		out->gid = ANON_ID;
	for (uint32_t i = 0; i < out->ngids; i++)
		if (out->gids[i] == 0)
			out->gids[i] = ANON_ID;
}
