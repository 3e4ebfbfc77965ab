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

bool export_allowed(const struct fmd_config *cfg, const struct sockaddr_storage *peer)
{
	return orpc_peer_allowed(cfg->allow, cfg->nallow, peer);
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
