/*
 * vol_nfs.c - NFSv3 calls to the file managers over libnfs's raw RPC
 * client: each manager has a small pool of TCP connections, each used by
 * one thread at a time, so a call is "issue, then drive that connection
 * until its reply comes" with no thread of its own.
 *
 * AUTH_SYS: libnfs encodes the context's credential into a call when the
 * call is issued, so a connection changes its credential (rpc_set_auth)
 * only when the next call's differs from the last.
 *
 * Failures: a manager that refuses the connection or drops it is -EIO at
 * once; one that does not answer is -ETIMEDOUT after the timeout.  A call
 * that is safe to repeat (reads of the name space, SETATTR) is sent again
 * on a new connection within its deadline; one that is not (CREATE,
 * REMOVE ...) is sent again only when the connection was found dead before
 * it was sent.  NFS3ERR_JUKEBOX is retried with a doubling backoff until
 * the deadline, then -EAGAIN.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "vol_internal.h"

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

int vol_nfs_init(struct slice_vol *v)
{
	uint32_t n = v->cfg.conns ? v->cfg.conns : 4;
	if (n > VOL_CONNS_MAX)
		n = VOL_CONNS_MAX;
	v->nmgr = v->cl->managers;
	if (!(v->mgr = calloc(v->nmgr, sizeof(*v->mgr))))
		return -ENOMEM;
	for (uint32_t i = 0; i < v->nmgr; i++) {
		struct vol_mgr *m = &v->mgr[i];
		const struct slice_cluster_node *cn = slice_cluster_fmd(v->cl, i);
		pthread_mutex_init(&m->lock, NULL);
		pthread_cond_init(&m->cv, NULL);
		m->index = i;
		m->nconns = n;
		if (!cn)
			return -EINVAL;
		m->node = cn->node;
		/* "ADDR:PORT" (an IPv6 address in brackets) */
		const char *colon = strrchr(cn->nfs, ':');
		if (!colon || colon == cn->nfs || (size_t)(colon - cn->nfs) >= sizeof(m->host))
			return -EINVAL;
		const char *h = cn->nfs;
		size_t hl = (size_t)(colon - cn->nfs);
		if (h[0] == '[' && hl >= 2 && h[hl - 1] == ']') {
			h++;
			hl -= 2;
		}
		memcpy(m->host, h, hl);
		m->host[hl] = 0;
		m->port = atoi(colon + 1);
		if (m->port <= 0 || m->port > 65535)
			return -EINVAL;
	}
	return 0;
}

void vol_nfs_fini(struct slice_vol *v)
{
	for (uint32_t i = 0; v->mgr && i < v->nmgr; i++) {
		struct vol_mgr *m = &v->mgr[i];
		for (uint32_t j = 0; j < m->nconns; j++)
			if (m->conns[j].rpc)
				rpc_destroy_context(m->conns[j].rpc);
		pthread_mutex_destroy(&m->lock);
		pthread_cond_destroy(&m->cv);
	}
	free(v->mgr);
	v->mgr = NULL;
}

static void drop(struct vol_conn *c)
{
	if (c->rpc)
		rpc_destroy_context(c->rpc);
	c->rpc = NULL;
	c->has_auth = false;
}

static struct vol_conn *take(struct vol_mgr *m, double deadline)
{
	pthread_mutex_lock(&m->lock);
	for (;;) {
		/* a connected one first: connecting costs a round trip */
		struct vol_conn *idle = NULL;
		for (uint32_t i = 0; i < m->nconns; i++) {
			struct vol_conn *c = &m->conns[i];
			if (c->busy)
				continue;
			if (c->rpc) {
				idle = c;
				break;
			}
			if (!idle)
				idle = c;
		}
		if (idle) {
			idle->busy = true;
			pthread_mutex_unlock(&m->lock);
			return idle;
		}
		double left = deadline - now_ms();
		if (left <= 0)
			break;
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		long ms = left > 100 ? 100 : (long)left + 1;
		ts.tv_nsec += ms * 1000000L;
		ts.tv_sec += ts.tv_nsec / 1000000000L;
		ts.tv_nsec %= 1000000000L;
		pthread_cond_timedwait(&m->cv, &m->lock, &ts);
	}
	pthread_mutex_unlock(&m->lock);
	return NULL;
}

static void give(struct vol_mgr *m, struct vol_conn *c)
{
	pthread_mutex_lock(&m->lock);
	c->busy = false;
	pthread_cond_signal(&m->cv);
	pthread_mutex_unlock(&m->lock);
}

static void on_reply(struct rpc_context *rpc, int status, void *data, void *priv)
{
	struct vol_call *c = priv;
	(void)rpc;
	c->done = true;
	c->rpc = status;
	if (status == RPC_STATUS_SUCCESS && data) {
		c->status = *(int *)data;   /* every result starts with its status */
		if (c->copy)
			c->copy(c, data);
	}
}

static void on_connect(struct rpc_context *rpc, int status, void *data, void *priv)
{
	struct vol_call *c = priv;
	(void)rpc;
	(void)data;
	c->done = true;
	c->rpc = status;
}

/* Drive conn until c is done: 0, -EIO (connection lost: dropped) or
 * -ETIMEDOUT (dropped too: a late reply must not meet a reused c). */
static int drive(struct vol_conn *conn, struct vol_call *c, double deadline)
{
	while (!c->done) {
		double left = deadline - now_ms();
		if (left <= 0) {
			drop(conn);   /* runs the callback with RPC_STATUS_CANCEL */
			c->done = true;
			return -ETIMEDOUT;
		}
		struct pollfd p = { .fd = rpc_get_fd(conn->rpc), .events = (short)rpc_which_events(conn->rpc) };
		int n = poll(&p, 1, left > 100 ? 100 : (int)left + 1);
		if (n < 0 && errno != EINTR) {
			drop(conn);
			c->done = true;
			return -EIO;
		}
		if (rpc_service(conn->rpc, n > 0 ? p.revents : 0) < 0) {
			drop(conn);
			c->done = true;
			return -EIO;
		}
	}
	return 0;
}

static struct AUTH *auth_of(const struct slice_cred *cr)
{
	uint32_t gids[16];
	uint32_t n = cr->ngids > 16 ? 16 : cr->ngids;
	memcpy(gids, cr->gids, n * sizeof(uint32_t));
	return libnfs_authunix_create("slice", cr->uid, cr->gid, n, gids);
}

static int connect_conn(struct vol_mgr *m, struct vol_conn *conn, bool mount, const struct slice_cred *cr,
			double deadline)
{
	conn->rpc = rpc_init_context();
	if (!conn->rpc)
		return -ENOMEM;
	struct AUTH *a = auth_of(cr);
	if (!a) {
		drop(conn);
		return -ENOMEM;
	}
	rpc_set_auth(conn->rpc, a);
	conn->auth = *cr;
	conn->has_auth = true;
	struct vol_call c = { 0 };
	if (rpc_connect_port_async(conn->rpc, m->host, m->port, mount ? MOUNT_PROGRAM : NFS_PROGRAM, 3, on_connect,
				   &c) != 0) {
		drop(conn);
		return -EIO;
	}
	int rc = drive(conn, &c, deadline);
	if (rc == 0 && c.rpc != RPC_STATUS_SUCCESS) {
		drop(conn);
		rc = -EIO;
	}
	return rc;
}

/* A cached connection the manager closed (it restarted, or timed us out)
 * shows as readable or hung up while no call is out: drop it before use. */
static void check_idle(struct vol_conn *conn)
{
	if (!conn->rpc)
		return;
	struct pollfd p = { .fd = rpc_get_fd(conn->rpc), .events = POLLIN };
	if (poll(&p, 1, 0) > 0)
		drop(conn);
}

static int issue(struct rpc_context *rpc, struct vol_call *c)
{
	void *a = c->args;
	if (c->mount)
		return rpc_mount3_mnt_async(rpc, on_reply, a, c);
	switch (c->proc) {
	case NFS3_GETATTR:     return rpc_nfs3_getattr_async(rpc, on_reply, a, c);
	case NFS3_SETATTR:     return rpc_nfs3_setattr_async(rpc, on_reply, a, c);
	case NFS3_LOOKUP:      return rpc_nfs3_lookup_async(rpc, on_reply, a, c);
	case NFS3_ACCESS:      return rpc_nfs3_access_async(rpc, on_reply, a, c);
	case NFS3_READLINK:    return rpc_nfs3_readlink_async(rpc, on_reply, a, c);
	case NFS3_CREATE:      return rpc_nfs3_create_async(rpc, on_reply, a, c);
	case NFS3_MKDIR:       return rpc_nfs3_mkdir_async(rpc, on_reply, a, c);
	case NFS3_SYMLINK:     return rpc_nfs3_symlink_async(rpc, on_reply, a, c);
	case NFS3_MKNOD:       return rpc_nfs3_mknod_async(rpc, on_reply, a, c);
	case NFS3_REMOVE:      return rpc_nfs3_remove_async(rpc, on_reply, a, c);
	case NFS3_RMDIR:       return rpc_nfs3_rmdir_async(rpc, on_reply, a, c);
	case NFS3_RENAME:      return rpc_nfs3_rename_async(rpc, on_reply, a, c);
	case NFS3_LINK:        return rpc_nfs3_link_async(rpc, on_reply, a, c);
	case NFS3_READDIRPLUS: return rpc_nfs3_readdirplus_async(rpc, on_reply, a, c);
	case NFS3_FSSTAT:      return rpc_nfs3_fsstat_async(rpc, on_reply, a, c);
	default:               return -1;
	}
}

static bool repeatable(const struct vol_call *c)
{
	if (c->mount)
		return true;
	switch (c->proc) {
	case NFS3_GETATTR: case NFS3_SETATTR: case NFS3_LOOKUP: case NFS3_ACCESS: case NFS3_READLINK:
	case NFS3_READDIRPLUS: case NFS3_FSSTAT:
		return true;
	default:
		return false;
	}
}

static bool same_cred(const struct slice_cred *a, const struct slice_cred *b)
{
	return a->uid == b->uid && a->gid == b->gid && a->ngids == b->ngids &&
	       memcmp(a->gids, b->gids, (a->ngids > 16 ? 16 : a->ngids) * sizeof(uint32_t)) == 0;
}

/* One try on one connection: 0 (c->status set), or -errno; *sent says
 * whether the call may have reached the manager. */
static int try_once(struct vol_mgr *m, struct vol_conn *conn, const struct slice_cred *cr, struct vol_call *c,
		    double deadline, bool *sent)
{
	int rc;
	*sent = false;
	/* MOUNT goes on a connection of its own, closed after the call */
	if (c->mount) {
		struct vol_conn mc = { 0 };
		if ((rc = connect_conn(m, &mc, true, cr, deadline)) < 0)
			return rc;
		c->done = false;
		*sent = true;
		if (issue(mc.rpc, c) != 0)
			rc = -EIO;
		else
			rc = drive(&mc, c, deadline);
		drop(&mc);
		return rc;
	}
	check_idle(conn);
	if (!conn->rpc && (rc = connect_conn(m, conn, false, cr, deadline)) < 0)
		return rc;
	if (!conn->has_auth || !same_cred(&conn->auth, cr)) {
		struct AUTH *a = auth_of(cr);
		if (!a)
			return -ENOMEM;
		rpc_set_auth(conn->rpc, a);
		conn->auth = *cr;
		conn->has_auth = true;
	}
	c->done = false;
	c->rpc = RPC_STATUS_ERROR;
	if (issue(conn->rpc, c) != 0) {
		drop(conn);
		return -EIO;
	}
	*sent = true;
	if ((rc = drive(conn, c, deadline)) < 0)
		return rc;
	if (c->rpc != RPC_STATUS_SUCCESS) {
		drop(conn);
		return -EIO;
	}
	return 0;
}

int vol_nfs_call(struct slice_vol *v, uint32_t mi, const struct slice_cred *cr, struct vol_call *c)
{
	static const struct slice_cred root = { 0 };
	if (mi >= v->nmgr)
		return -ESTALE;
	struct vol_mgr *m = &v->mgr[mi];
	if (!cr)
		cr = &root;
	double start = now_ms(), deadline = start + v->cfg.timeout_ms;
	int backoff = VOL_JUKEBOX_MS, rc = -EIO;
	for (int attempt = 0; attempt < 1000; attempt++) {
		struct vol_conn *conn = take(m, deadline);
		if (!conn)
			return -ETIMEDOUT;
		bool sent;
		rc = try_once(m, conn, cr, c, deadline, &sent);
		give(m, conn);
		if (rc == 0 && c->status == NFS3ERR_JUKEBOX && !c->mount) {
			if (now_ms() + backoff >= deadline)
				return -EAGAIN;
			usleep((useconds_t)backoff * 1000);
			backoff = backoff * 2 > VOL_JUKEBOX_MAX ? VOL_JUKEBOX_MAX : backoff * 2;
			continue;
		}
		if (rc == 0 || rc == -ENOMEM || rc == -ETIMEDOUT)
			return rc;
		/* lost: once more if that cannot do a change twice */
		if (sent && !repeatable(c))
			return rc;
		if (now_ms() + 20 >= deadline)
			return rc;
		if (attempt > 0)
			usleep(20000);   /* not a hot loop against a manager that is down */
		if (attempt >= 2 && !repeatable(c))
			return rc;
		/* a manager refusing connections (down) fails fast: give up
		 * after a few tries rather than at the deadline */
		if (attempt >= 3)
			return rc;
	}
	return rc;
}
