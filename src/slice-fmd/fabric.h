/*
 * fabric.h - the file manager on the Trapeze fabric (fabric.c) and the
 * map service it serves there (mapsvc.c).
 */
#ifndef FMD_FABRIC_H
#define FMD_FABRIC_H

#include "fmd.h"
#include "netrpc.h"
#include "trapeze.h"

struct fmd_fabric {
	struct tpz_endpoint *ep;
	struct nrpc         *r;
	char                 secret[256];
	pthread_t            thread;     /* drives delivery */
	atomic_bool          stop;
};

/* Join the fabric as --node (NULL fabric when no --node was given). */
int  fabric_open(struct fmd *f, struct fmd_fabric **out);
void fabric_close(struct fmd_fabric *fb);
/* Connect to block server `node` (its --blockd URL): libslice's callback. */
int  fabric_connect(struct fmd *f, uint32_t node);

/* The map service: SLM_GETMAP and SLM_SETATTR on the fabric's NetRPC. */
int  mapsvc_start(struct fmd *f);

#endif
