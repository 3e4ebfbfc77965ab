/*
 * remote.h - calling the volume's other file managers (remote.c) and the
 * operations that span managers (xop.c).
 */
#ifndef FMD_REMOTE_H
#define FMD_REMOTE_H

#include "fabric.h"
#include "nfs_op.h"
#include "slice_fmd_wire.h"

/* A NetRPC call to manager idx: the status (0 or -errno).  pl (pool
 * frames) goes with the call, or is freed if it cannot be sent. */
int  peer_call(struct fmd *f, uint32_t idx, uint16_t op, const void *args, uint32_t alen,
	       struct tpz_payload *pl, struct tpz_payload *reply_buf, int timeout_ms, struct nrpc_result *res);
int  remote_start(struct fmd *f);

void attr_to_wire(const struct inode *ino, struct fmd_attr *a);
void attr_from_wire(uint64_t fileid, const struct fmd_attr *a, struct inode *ino);
/* The attributes of a file held by another manager (x_remote set). */
int  remote_getattr(struct fmd *f, uint64_t fileid, uint32_t gen, struct inode *out);

/* Tell dir's manager our partial count of it (now); failures are retried. */
int  remote_touch(struct fmd *f, uint64_t dir);
void remote_after_touch(struct fmd_op *op);
void remote_retry_touches(struct fmd *f);
void remote_touch_all(struct fmd *f);

/* The names of dir held by manager idx after position `after`: fmd_lent
 * records into buf. */
int  remote_list(struct fmd *f, uint32_t idx, uint64_t dir, uint64_t after, bool plus, uint8_t *buf,
		 uint32_t cap, uint32_t *count, bool *eof, size_t *len);

/* Forwarding (data thread) and answering a forwarded call. */
void remote_forward_job(struct fmd_op *op);
void remote_forward_reply(struct fmd_op *op, int accept, const uint8_t *body, size_t len);

/* Before a mutation on a volume of several managers (data thread): fetch
 * the attributes of the directories held elsewhere, and start an
 * operation across managers instead when it is one. */
void remote_pre_job(struct fmd_op *op);

/* ---- operations across managers (xop.c) ------------------------------------ */

int  xop_register(struct fmd *f);
/* Start the resolver: finishes what a crash left (at start), retries
 * touches and decisions (every second). */
int  xop_start_resolver(struct fmd *f);
void xop_stop_resolver(struct fmd *f);
/* Is op one that spans managers?  Then run it (data thread; answers). */
bool xop_try(struct fmd_op *op);

#endif
