/*
 * forward.c - the NFSv3 and MOUNTv3 programs: what is served here (NULL,
 * READ, WRITE, COMMIT) and what goes to a file manager as it came.
 *
 * A forwarded call keeps its arguments and its credential byte for byte:
 * the managers check access, squash root and gather listings; the proxy
 * only picks the manager (slice_route_nfs3).  The reply body comes back
 * unchanged with the client's xid.  When the manager cannot be reached or
 * does not answer in time the client gets NFS3ERR_JUKEBOX ("try again
 * later": the kernel client waits and repeats, libnfs reports it) - a
 * manager restarting is a temporary condition.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include <nfsc/libnfs-raw-mount.h>
#include <nfsc/libnfs-raw-nfs.h>

#include "oncrpc_nfs3.h"
#include "proxy.h"
#include "slice_route.h"

#define NFS_PROG   100003u
#define MOUNT_PROG 100005u

struct fwd {
	struct proxy     *p;
	struct orpc_call *c;
	uint32_t          manager;
};

/* How many "attributes follow: no" words follow the status of a failed
 * result of each procedure (post_op_attr: 1, wcc_data: 2). */
static const uint8_t fail_words[ORPC_NFS3_NPROCS] = {
	[NFS3_GETATTR] = 0, [NFS3_SETATTR] = 2, [NFS3_LOOKUP] = 1, [NFS3_ACCESS] = 1,
	[NFS3_READLINK] = 1, [NFS3_READ] = 1, [NFS3_WRITE] = 2, [NFS3_CREATE] = 2,
	[NFS3_MKDIR] = 2, [NFS3_SYMLINK] = 2, [NFS3_MKNOD] = 2, [NFS3_REMOVE] = 2,
	[NFS3_RMDIR] = 2, [NFS3_RENAME] = 4, [NFS3_LINK] = 3, [NFS3_READDIR] = 1,
	[NFS3_READDIRPLUS] = 1, [NFS3_FSSTAT] = 1, [NFS3_FSINFO] = 1, [NFS3_PATHCONF] = 1,
	[NFS3_COMMIT] = 2,
};

void nfs_reply_status(struct orpc_call *c, uint32_t status)
{
	uint32_t n = c->proc < ORPC_NFS3_NPROCS ? fail_words[c->proc] : 0;
	uint8_t *body = orpc_reply_buf(c, 4 + 4 * n);
	if (!body) {
		orpc_reply_error(c, ORPC_SYSTEM_ERR);
		return;
	}
	struct orpc_xdrw w;
	orpc_xdrw_init(&w, body, 4 + 4 * n);
	orpc_xdrw_u32(&w, status);
	for (uint32_t i = 0; i < n; i++)
		orpc_xdrw_u32(&w, 0);
	orpc_reply_send(c, w.pos);
}

static void reply_unreachable(struct fwd *f, int err)
{
	struct orpc_call *c = f->c;
	atomic_fetch_add(&f->p->fwd_fail, 1);
	proxy_log(LOG_DEBUG, "manager %u: call %u/%u: %s", f->manager, c->prog, c->proc, strerror(-err));
	if (c->prog == NFS_PROG) {
		nfs_reply_status(c, NFS3ERR_JUKEBOX);
	} else if (c->prog == MOUNT_PROG && c->proc == MOUNT3_MNT) {
		uint8_t *body = orpc_reply_buf(c, 4);
		if (!body) {
			orpc_reply_error(c, ORPC_SYSTEM_ERR);
			return;
		}
		struct orpc_xdrw w;
		orpc_xdrw_init(&w, body, 4);
		orpc_xdrw_u32(&w, MNT3ERR_SERVERFAULT);
		orpc_reply_send(c, 4);
	} else {
		orpc_reply_error(c, ORPC_SYSTEM_ERR);
	}
}

/* fattr3's size and mtime (what close-to-open compares). */
static void read_fattr(struct orpc_xdr *x, struct slice_attr *a)
{
	memset(a, 0, sizeof(*a));
	(void)orpc_xdr_fixed(x, 5 * 4);           /* type, mode, nlink, uid, gid */
	a->size = orpc_xdr_u64(x);
	(void)orpc_xdr_fixed(x, 8 + 8 + 8 + 8 + 8); /* used, rdev, fsid, fileid, atime */
	a->mtime.tv_sec = orpc_xdr_u32(x);
	a->mtime.tv_nsec = orpc_xdr_u32(x);
}

/*
 * A GETATTR or LOOKUP answer names a file with the manager's attributes:
 * if the volume client has that file open and it changed elsewhere, the
 * stale open file must go before this client - which revalidated to open
 * the file - reads through us.  fh gets the file's handle.
 */
static bool stale_file(struct proxy *p, const struct orpc_call *c, const uint8_t *body, size_t len,
		       struct slice_vfh *fh)
{
	struct orpc_xdr x;
	struct slice_attr a;
	uint32_t n;
	const uint8_t *h;

	if (c->proc == NFS3_GETATTR) {
		orpc_xdr_init(&x, c->args, c->args_len);
		h = orpc_xdr_opaque(&x, &n, SLICE_VOL_FH_MAX);
		if (x.bad || !h)
			return false;
		orpc_xdr_init(&x, body, len);
		if (orpc_xdr_u32(&x) != NFS3_OK)
			return false;
	} else {   /* LOOKUP: status, handle, post_op_attr */
		orpc_xdr_init(&x, body, len);
		if (orpc_xdr_u32(&x) != NFS3_OK)
			return false;
		h = orpc_xdr_opaque(&x, &n, SLICE_VOL_FH_MAX);
		if (x.bad || !h || orpc_xdr_u32(&x) != 1)
			return false;
	}
	read_fattr(&x, &a);
	if (x.bad)
		return false;
	fh->len = n;
	memcpy(fh->b, h, n);
	return slice_vol_stale(p->vol, fh, &a);
}

struct drop_then_reply {
	struct proxy     *p;
	struct orpc_call *c;
	struct slice_vfh  fh;
	size_t            len;
};

static void drop_job(void *arg)
{
	struct drop_then_reply *d = arg;
	slice_vol_drop(d->p->vol, &d->fh);
	orpc_reply_send(d->c, d->len);
	free(d);
}

/* The manager's reply message (from its xid on) back to our client. */
static void fwd_done(void *arg, int status, const uint8_t *msg, size_t len)
{
	struct fwd *f = arg;
	struct orpc_call *c = f->c;
	struct orpc_xdr x;

	if (status < 0) {
		reply_unreachable(f, status);
		free(f);
		return;
	}
	orpc_xdr_init(&x, msg, len);
	(void)orpc_xdr_u32(&x);                  /* xid (ours) */
	uint32_t mtype = orpc_xdr_u32(&x);
	uint32_t rstat = orpc_xdr_u32(&x);
	if (x.bad || mtype != 1) {
		orpc_reply_error(c, ORPC_SYSTEM_ERR);
	} else if (rstat == 0) {                 /* MSG_ACCEPTED */
		uint32_t vlen;
		(void)orpc_xdr_u32(&x);          /* verifier flavour */
		(void)orpc_xdr_opaque(&x, &vlen, ORPC_AUTH_BODY_MAX);
		uint32_t astat = orpc_xdr_u32(&x);
		if (x.bad) {
			orpc_reply_error(c, ORPC_SYSTEM_ERR);
		} else if (astat == ORPC_SUCCESS) {
			size_t blen = orpc_xdr_left(&x);
			uint8_t *body = orpc_reply_buf(c, blen);
			struct drop_then_reply *d = NULL;
			if (!body) {
				orpc_reply_error(c, ORPC_SYSTEM_ERR);
				free(f);
				return;
			}
			memcpy(body, x.p + x.pos, blen);
			/* closing a stale file waits (commits): not on this thread,
			 * and before the reply (the client reads next) */
			if (c->prog == NFS_PROG && (c->proc == NFS3_GETATTR || c->proc == NFS3_LOOKUP) &&
			    (d = malloc(sizeof(*d))) && stale_file(f->p, c, body, blen, &d->fh)) {
				d->p = f->p;
				d->c = c;
				d->len = blen;
				if (pool_submit(f->p->pool, drop_job, d) == 0) {
					free(f);
					return;
				}
			}
			free(d);
			orpc_reply_send(c, blen);
		} else {
			orpc_reply_error(c, astat <= ORPC_SYSTEM_ERR ? (enum orpc_accept_stat)astat
								     : ORPC_SYSTEM_ERR);
		}
	} else {                                 /* MSG_DENIED */
		uint32_t rej = orpc_xdr_u32(&x);
		uint32_t why = orpc_xdr_u32(&x);
		if (!x.bad && rej == 1 && why >= ORPC_AUTH_BADCRED && why <= ORPC_AUTH_TOOWEAK)
			orpc_reply_auth_error(c, (enum orpc_auth_stat)why);
		else
			orpc_reply_error(c, ORPC_SYSTEM_ERR);
	}
	free(f);
}

/* The xid a client's call goes on with: from its address and its xid, so
 * that a retransmission (same client, same xid, maybe a new connection)
 * meets the manager's duplicate request cache as the first try did. */
static uint32_t xid_hint(const struct orpc_call *c)
{
	uint32_t h = 0x811c9dc5u;
	const uint8_t *a = NULL;
	size_t n = 0;
	if (c->peer->ss_family == AF_INET) {
		a = (const uint8_t *)&((const struct sockaddr_in *)c->peer)->sin_addr;
		n = 4;
	} else if (c->peer->ss_family == AF_INET6) {
		a = (const uint8_t *)&((const struct sockaddr_in6 *)c->peer)->sin6_addr;
		n = 16;
	}
	for (size_t i = 0; i < n; i++)
		h = (h ^ a[i]) * 0x01000193u;
	for (int i = 0; i < 4; i++)
		h = (h ^ (uint8_t)(c->xid >> (8 * i))) * 0x01000193u;
	return h ? h : 1;
}

static void fwd_job(void *arg)
{
	struct fwd *f = arg;
	struct orpc_call *c = f->c;
	atomic_fetch_add(&f->p->fwd_calls, 1);
	upstream_call(f->p->up[f->manager], xid_hint(c), c->prog, c->vers, c->proc, c->cred_raw,
		      c->cred_raw_len, c->args, c->args_len, fwd_done, f);
}

static void forward(struct proxy *p, struct orpc_call *c, uint32_t manager)
{
	struct fwd *f = malloc(sizeof(*f));
	if (!f) {
		orpc_reply_error(c, ORPC_SYSTEM_ERR);
		return;
	}
	f->p = p;
	f->c = c;
	f->manager = manager;
	if (pool_submit(p->fwd_pool, fwd_job, f) < 0) {
		free(f);
		if (c->prog == NFS_PROG)
			nfs_reply_status(c, NFS3ERR_JUKEBOX);   /* shutting down */
		else
			orpc_reply_error(c, ORPC_SYSTEM_ERR);
	}
}

void nfs_dispatch(struct orpc_call *c, void *arg)
{
	struct proxy *p = arg;

	if (c->proc == NFS3_NULL) {
		if (orpc_reply_buf(c, 0))
			orpc_reply_send(c, 0);
		else
			orpc_reply_error(c, ORPC_SYSTEM_ERR);
		return;
	}
	if (!proxy_allowed(p, c->peer)) {
		nfs_reply_status(c, NFS3ERR_ACCES);
		return;
	}
	switch (c->proc) {
	case NFS3_SETATTR:   /* with a new size: data.c; else forwarded from there */
	case NFS3_READ:
	case NFS3_WRITE:
	case NFS3_COMMIT:
		data_serve(p, c);
		return;
	}
	proxy_forward(p, c);
}

/* To the manager that serves it; arguments that name no manager of ours go
 * to manager 0, which owes the error (GARBAGE_ARGS, BADHANDLE...) as it
 * would to a direct client. */
void proxy_forward(struct proxy *p, struct orpc_call *c)
{
	int m = slice_route_nfs3(c->proc, c->args, c->args_len, p->managers);
	forward(p, c, m < 0 ? 0 : (uint32_t)m);
}

/* MOUNT: manager 0 hands out the root; we only check the client first
 * (the manager sees our address, not the client's). */
void mount_dispatch(struct orpc_call *c, void *arg)
{
	struct proxy *p = arg;

	if (c->proc == MOUNT3_NULL) {
		if (orpc_reply_buf(c, 0))
			orpc_reply_send(c, 0);
		else
			orpc_reply_error(c, ORPC_SYSTEM_ERR);
		return;
	}
	if (c->proc == MOUNT3_MNT && !proxy_allowed(p, c->peer)) {
		uint8_t *body = orpc_reply_buf(c, 4);
		if (!body) {
			orpc_reply_error(c, ORPC_SYSTEM_ERR);
			return;
		}
		struct orpc_xdrw w;
		orpc_xdrw_init(&w, body, 4);
		orpc_xdrw_u32(&w, MNT3ERR_ACCES);
		orpc_reply_send(c, 4);
		return;
	}
	forward(p, c, 0);
}
