/*
 * proxy.h - slice-proxy, the µproxy as an NFSv3 server: one address for
 * the whole Slice volume.
 *
 *   name space   NFSv3 calls other than READ/WRITE/COMMIT, and MOUNT, go
 *                to the file manager that serves them (slice_route.h) as
 *                they came - arguments and credential unchanged, a new xid
 *                - over a pool of TCP connections per manager (upstream.c);
 *                the manager's reply body goes back with the client's xid
 *                (forward.c);
 *   data         READ, WRITE and COMMIT run here, on worker threads,
 *                through the volume client's stateless side (slice_vol.h)
 *                straight to the block servers (data.c).
 */
#ifndef SLICE_PROXY_H
#define SLICE_PROXY_H

#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "oncrpc.h"
#include "slice_cluster.h"
#include "slice_vol.h"

#define PROXY_MAX_ALLOW 32u

struct upstream;     /* the connections to one file manager */
struct pool;         /* worker threads */

struct proxy {
	struct slice_cluster *cl;
	struct slice_vol     *vol;
	struct orpc_server   *srv;
	struct pool          *pool;       /* READ, WRITE, COMMIT, SETATTR (wait on block servers) */
	struct pool          *fwd_pool;   /* forwarding sends (a connect at most): never behind
					   * data calls stuck on a block server that is down */
	struct upstream     **up;         /* one per manager */
	uint32_t              managers;
	uint32_t              conns;      /* connections per manager */
	int                   timeout_ms; /* a forwarded call unanswered this long fails */
	uint64_t              fsid;       /* the volume's, as the managers report it */
	struct orpc_cidr      allow[PROXY_MAX_ALLOW];
	uint32_t              nallow;     /* 0: loopback only */
	_Atomic bool          stopping;
	_Atomic uint64_t      fwd_calls, fwd_fail, data_calls, data_fail;
};

void proxy_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
extern int proxy_verbose;

/* ---- export rules (export.c) ---- */
int  proxy_parse_allow(struct proxy *p, const char *list);
bool proxy_allowed(const struct proxy *p, const struct sockaddr_storage *peer);
void proxy_cred(const struct orpc_call *c, struct slice_cred *out);

/* May cr read (write) the file fh?  0, -EACCES, or the error of asking
 * (-ESTALE...); verdicts kept a moment (access.c). */
int  proxy_may(struct proxy *p, const struct slice_cred *cr, const struct slice_vfh *fh, bool write);

/* ---- worker threads (pool.c) ---- */
typedef void (*pool_fn)(void *arg);
int  pool_start(uint32_t n, struct pool **out);
/* Queue fn(arg); -ESHUTDOWN once stopping. */
int  pool_submit(struct pool *p, pool_fn fn, void *arg);
void pool_stop(struct pool *p);   /* runs what is queued, joins */

/* ---- upstream connections (upstream.c) ---- */
/*
 * A forwarded call's end: status 0 and the reply message (from the xid on,
 * the xid already ours again), or -errno when the manager could not be
 * reached or did not answer in time.  Called once, from any thread.
 */
typedef void (*up_done_fn)(void *arg, int status, const uint8_t *msg, size_t len);
int  upstream_new(const char *hostport, uint32_t index, int timeout_ms, uint32_t conns,
		  struct upstream **out);
/* Send a call (prog, vers, proc, the raw credential, the args) and call
 * done when it ends; may block briefly (connect, send): worker threads
 * only.  xid_hint: the xid to use if free (0: any). */
void upstream_call(struct upstream *u, uint32_t xid_hint, uint32_t prog, uint32_t vers, uint32_t proc,
		   const uint8_t *cred_raw, uint32_t cred_len, const uint8_t *args, uint32_t args_len,
		   up_done_fn done, void *arg);
/* Fail every call in flight with -ESHUTDOWN, close, free. */
void upstream_free(struct upstream *u);

/* ---- the programs ---- */
void nfs_dispatch(struct orpc_call *c, void *arg);     /* forward.c */
void mount_dispatch(struct orpc_call *c, void *arg);   /* forward.c */
/* READ, WRITE, COMMIT, and SETATTR of the size, on a worker (data.c). */
void data_serve(struct proxy *p, struct orpc_call *c);
/* Forward c to the manager that serves it (forward.c). */
void proxy_forward(struct proxy *p, struct orpc_call *c);
/* An NFS error reply for proc (status and no attributes). */
void nfs_reply_status(struct orpc_call *c, uint32_t status);

/* XDR of attributes (data.c). */
void xdr_fattr(struct orpc_xdrw *w, const struct slice_attr *a, uint64_t fsid);

#endif
