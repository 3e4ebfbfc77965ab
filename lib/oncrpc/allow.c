/*
 * allow.c - export rules by client address, shared by the NFS servers
 * (slice-fmd, slice-proxy): "ADDR[/BITS]" prefixes; no rule at all means
 * loopback only, so that a daemon started without thought does not serve
 * the network.  IPv4-mapped IPv6 peers are judged as IPv4.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "oncrpc.h"

int orpc_cidr_parse(const char *s, size_t n, struct orpc_cidr *out)
{
	char host[INET6_ADDRSTRLEN + 1], num[8];
	const char *slash = memchr(s, '/', n);
	size_t hn = slash ? (size_t)(slash - s) : n;
	int max;

	if (hn == 0 || hn >= sizeof(host))
		return -EINVAL;
	memcpy(host, s, hn);
	host[hn] = 0;
	memset(out, 0, sizeof(*out));
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
		size_t bn = n - hn - 1;
		char *end;
		if (bn == 0 || bn >= sizeof(num))
			return -EINVAL;
		memcpy(num, slash + 1, bn);
		num[bn] = 0;
		long b = strtol(num, &end, 10);
		if (*end || b < 0 || b > max)
			return -EINVAL;
		out->bits = (int)b;
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

bool orpc_peer_allowed(const struct orpc_cidr *allow, uint32_t n, const struct sockaddr_storage *peer)
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
	if (n == 0)
		return family == AF_INET ? a[0] == 127 : IN6_IS_ADDR_LOOPBACK((const struct in6_addr *)a);
	for (uint32_t i = 0; i < n; i++)
		if (allow[i].family == family && prefix_match(a, allow[i].addr, allow[i].bits))
			return true;
	return false;
}
