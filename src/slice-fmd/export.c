/*
 * export.c - who may use the export and as whom.
 *
 * Clients are allowed by address (--allow CIDR, repeatable; none given
 * means loopback only, so that a daemon started without thought does not
 * serve the network).  Credentials: with root squash (the default) uid 0
 * becomes the anonymous uid and gid 0 - also among the supplementary
 * groups - the anonymous gid, as knfsd does.  AUTH_NONE is the anonymous
 * user.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fmd.h"

int export_parse_cidr(const char *s, struct fmd_cidr *out)
{
	char host[INET6_ADDRSTRLEN + 1];
	const char *slash = strchr(s, '/');
	size_t n = slash ? (size_t)(slash - s) : strlen(s);
	if (n == 0 || n >= sizeof(host))
		return -1;
	memcpy(host, s, n);
	host[n] = 0;
	memset(out, 0, sizeof(*out));
	int max;
	if (inet_pton(AF_INET, host, out->addr) == 1) {
		out->family = AF_INET;
		max = 32;
	} else if (inet_pton(AF_INET6, host, out->addr) == 1) {
		out->family = AF_INET6;
		max = 128;
	} else {
		return -1;
	}
	out->bits = max;
	if (slash) {
		char *end;
		long b = strtol(slash + 1, &end, 10);
		if (*end || end == slash + 1 || b < 0 || b > max)
			return -1;
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

bool export_allowed(const struct fmd_config *cfg, const struct sockaddr_storage *peer)
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
	if (cfg->nallow == 0)   /* loopback only */
		return family == AF_INET ? a[0] == 127
					 : IN6_IS_ADDR_LOOPBACK((const struct in6_addr *)a);
	for (uint32_t i = 0; i < cfg->nallow; i++)
		if (cfg->allow[i].family == family && prefix_match(a, cfg->allow[i].addr, cfg->allow[i].bits))
			return true;
	return false;
}

void export_cred(const struct fmd_config *cfg, const struct orpc_cred *in, struct fmd_cred *out)
{
	if (in->flavor != ORPC_AUTH_SYS) {
		out->uid = cfg->anon_uid;
		out->gid = cfg->anon_gid;
		out->ngids = 0;
		return;
	}
	out->uid = in->uid;
	out->gid = in->gid;
	out->ngids = in->ngids;
	memcpy(out->gids, in->gids, sizeof(uint32_t) * in->ngids);
	if (!cfg->root_squash)
		return;
	if (out->uid == 0)
		out->uid = cfg->anon_uid;
	if (out->gid == 0)
		out->gid = cfg->anon_gid;
	for (uint32_t i = 0; i < out->ngids; i++)
		if (out->gids[i] == 0)
			out->gids[i] = cfg->anon_gid;
}
