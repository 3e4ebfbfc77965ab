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
		if (orpc_cidr_parse(s, n, &p->allow[p->nallow]) < 0)
			return -EINVAL;
		p->nallow++;
		s += n;
	}
	return 0;
}

bool proxy_allowed(const struct proxy *p, const struct sockaddr_storage *peer)
{
	return orpc_peer_allowed(p->allow, p->nallow, peer);
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
