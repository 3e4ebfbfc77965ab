/*
 * upstream.c - a small ONC RPC client to one file manager: a few TCP
 * connections, each with many calls in flight.
 *
 * A call gets an xid made from the client's address and xid (the
 * caller's hint), so that a client's retransmission reaches the manager
 * with the xid of the first try and its duplicate request cache answers
 * it - unless that xid is in flight already (a repeat while the first
 * try runs, or two clients whose hints meet): then a fresh one of the
 * connection's.  The call is written whole with one writev (record
 * marking: one fragment) and waits in the connection's table until its
 * reply comes back - matched by xid - or its deadline passes.  One
 * reader thread per connection takes the replies and the deadlines; it
 * alone closes the socket, so a sender never writes to a descriptor
 * number reused by someone else.
 *
 * A manager that is down: connecting is tried twice (1 s each at most),
 * then the manager counts as down for half a second - all its
 * connections fail calls at once instead of making every caller wait for
 * a connect that will fail too; the first connect that works again ends
 * that for all.  A call takes the next connection that is up, if any.
 * A connection that breaks fails the calls it had in flight
 * (-ECONNRESET): they may or may not have run, and only the client can
 * decide to repeat them.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "proxy.h"

#define NBUCKETS      256u
#define REPLY_MAX     (4u << 20)   /* a manager's reply (READDIR is the largest) */
#define CONNECT_MS    1000
#define CONNECT_TRIES 2
#define DOWN_MS       500

struct pending {
	uint32_t        xid;
	int64_t         deadline;   /* ms, CLOCK_MONOTONIC */
	up_done_fn      done;
	void           *arg;
	struct pending *next;
	/* The caller's call (its arguments) must outlive our writev: an end
	 * that comes while the sender is still in it (the reply can beat the
	 * syscall's return) is kept here and delivered by the sender. */
	bool            sending;
	bool            ended;
	int             end_status;
	uint8_t        *end_rec;
	uint32_t        end_len;
};

struct upconn {
	struct upstream *u;
	uint32_t         id;
	pthread_mutex_t  send_mu;   /* writes; also held by the reader to close */
	pthread_mutex_t  mu;        /* fd, the table */
	pthread_cond_t   cv;        /* the reader waits for a connection */
	int              fd;
	uint32_t         next_xid;
	struct pending  *tab[NBUCKETS];
	uint32_t         npending;
	pthread_t        reader;
	bool             reader_started;
};

struct upstream {
	char           host[256];
	char           port[16];
	uint32_t       index;
	int            timeout_ms;
	uint32_t       nconns;
	_Atomic uint32_t rr;
	_Atomic bool   stop;
	_Atomic int64_t down_until;   /* a connect failed: fail calls at once until then */
	struct upconn *c;
};

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- the table (under mu) -------------------------------------------------------- */

static void tab_add(struct upconn *c, struct pending *pd)
{
	struct pending **b = &c->tab[pd->xid % NBUCKETS];
	pd->next = *b;
	*b = pd;
	c->npending++;
}

static bool tab_has(struct upconn *c, uint32_t xid)
{
	for (struct pending *pd = c->tab[xid % NBUCKETS]; pd; pd = pd->next)
		if (pd->xid == xid)
			return true;
	return false;
}

static struct pending *tab_take(struct upconn *c, uint32_t xid)
{
	for (struct pending **pp = &c->tab[xid % NBUCKETS]; *pp; pp = &(*pp)->next) {
		if ((*pp)->xid == xid) {
			struct pending *pd = *pp;
			*pp = pd->next;
			c->npending--;
			return pd;
		}
	}
	return NULL;
}

/* Unlink the calls past their deadline (all of them with all) into a list. */
static struct pending *tab_take_expired(struct upconn *c, int64_t now, bool all)
{
	struct pending *out = NULL;
	if (c->npending == 0)
		return NULL;
	for (uint32_t i = 0; i < NBUCKETS; i++) {
		for (struct pending **pp = &c->tab[i]; *pp;) {
			struct pending *pd = *pp;
			if (all || pd->deadline <= now) {
				*pp = pd->next;
				c->npending--;
				pd->next = out;
				out = pd;
			} else {
				pp = &pd->next;
			}
		}
	}
	return out;
}

/* The end of a call taken out of the table: now, or by its sender once
 * its send is over.  rec (may be NULL) becomes ours. */
static void complete(struct upconn *c, struct pending *pd, int status, uint8_t *rec, uint32_t len)
{
	pthread_mutex_lock(&c->mu);
	if (pd->sending) {
		pd->ended = true;
		pd->end_status = status;
		pd->end_rec = rec;
		pd->end_len = len;
		pthread_mutex_unlock(&c->mu);
		return;
	}
	pthread_mutex_unlock(&c->mu);
	pd->done(pd->arg, status, rec, len);
	free(rec);
	free(pd);
}

static void fail_list(struct upconn *c, struct pending *pd, int err)
{
	while (pd) {
		struct pending *next = pd->next;
		complete(c, pd, err, NULL, 0);
		pd = next;
	}
}

/* ---- connecting ------------------------------------------------------------------- */

static int connect_once(struct upstream *u)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM }, *ai;
	int rc = getaddrinfo(u->host, u->port, &hints, &ai);
	if (rc)
		return -EHOSTUNREACH;
	int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		freeaddrinfo(ai);
		return -errno;
	}
	rc = connect(fd, ai->ai_addr, ai->ai_addrlen);
	freeaddrinfo(ai);
	if (rc < 0 && errno != EINPROGRESS) {
		rc = -errno;
		close(fd);
		return rc;
	}
	if (rc < 0) {
		struct pollfd pfd = { .fd = fd, .events = POLLOUT };
		int err = 0;
		socklen_t el = sizeof(err);
		rc = poll(&pfd, 1, CONNECT_MS);
		if (rc <= 0) {
			close(fd);
			return rc == 0 ? -ETIMEDOUT : -errno;
		}
		getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el);
		if (err) {
			close(fd);
			return -err;
		}
	}
	/* back to blocking, with a bound on how long a send may wait */
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	struct timeval tv = { .tv_sec = u->timeout_ms / 1000, .tv_usec = (u->timeout_ms % 1000) * 1000 };
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	return fd;
}

/* Under send_mu: a connected socket, or -errno. */
static int ensure_connected(struct upconn *c)
{
	struct upstream *u = c->u;
	pthread_mutex_lock(&c->mu);
	int fd = c->fd;
	pthread_mutex_unlock(&c->mu);
	if (fd >= 0)
		return fd;
	if (now_ms() < atomic_load(&u->down_until))
		return -ECONNREFUSED;
	int rc = -ECONNREFUSED;
	for (int i = 0; i < CONNECT_TRIES && !atomic_load(&u->stop); i++) {
		if (i)
			usleep(100 * 1000);
		if ((rc = connect_once(u)) >= 0)
			break;
	}
	pthread_mutex_lock(&c->mu);
	if (rc >= 0) {
		c->fd = rc;
		pthread_cond_signal(&c->cv);
		proxy_log(LOG_DEBUG, "manager %u: connection %u up", u->index, c->id);
	}
	pthread_mutex_unlock(&c->mu);
	/* the manager is down or back: for all its connections */
	atomic_store(&u->down_until, rc >= 0 ? 0 : now_ms() + DOWN_MS);
	if (rc < 0)
		proxy_log(LOG_DEBUG, "manager %u (%s:%s): cannot connect: %s", u->index, u->host, u->port,
			  strerror(-rc));
	return rc;
}

/* The reader's: close the socket, fail what was in flight on it. */
static void drop_conn(struct upconn *c, struct orpc_rm *rm)
{
	pthread_mutex_lock(&c->mu);
	int fd = c->fd;
	pthread_mutex_unlock(&c->mu);
	if (fd >= 0)
		shutdown(fd, SHUT_RDWR);   /* a sender blocked on it returns now */
	pthread_mutex_lock(&c->send_mu);
	pthread_mutex_lock(&c->mu);
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	struct pending *lost = tab_take_expired(c, 0, true);
	pthread_mutex_unlock(&c->mu);
	pthread_mutex_unlock(&c->send_mu);
	orpc_rm_reset(rm);
	if (lost)
		proxy_log(LOG_INFO, "manager %u: connection %u lost with calls in flight", c->u->index, c->id);
	fail_list(c, lost, -ECONNRESET);
}

/* ---- the reader ------------------------------------------------------------------- */

static void deliver(struct upconn *c, uint8_t *rec, uint32_t len)
{
	if (len < 8) {
		free(rec);
		return;
	}
	uint32_t xid = (uint32_t)rec[0] << 24 | (uint32_t)rec[1] << 16 | (uint32_t)rec[2] << 8 | rec[3];
	pthread_mutex_lock(&c->mu);
	struct pending *pd = tab_take(c, xid);
	pthread_mutex_unlock(&c->mu);
	if (pd)
		complete(c, pd, 0, rec, len);
	else
		free(rec);   /* answered after its deadline: dropped */
}

static void *reader_main(void *arg)
{
	struct upconn *c = arg;
	struct upstream *u = c->u;
	struct orpc_rm rm;
	uint8_t *buf = malloc(64 * 1024);
	orpc_rm_init(&rm, REPLY_MAX);

	while (buf) {
		pthread_mutex_lock(&c->mu);
		struct pending *late = tab_take_expired(c, now_ms(), atomic_load(&u->stop));
		int fd = c->fd;
		if (fd < 0 && !atomic_load(&u->stop)) {
			struct timespec ts;
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_nsec += 200 * 1000000L;
			if (ts.tv_nsec >= 1000000000L) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000L;
			}
			pthread_cond_timedwait(&c->cv, &c->mu, &ts);
		}
		pthread_mutex_unlock(&c->mu);
		fail_list(c, late, atomic_load(&u->stop) ? -ESHUTDOWN : -ETIMEDOUT);
		if (atomic_load(&u->stop))
			break;
		if (fd < 0)
			continue;

		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		int rc = poll(&pfd, 1, 200);
		if (rc <= 0)
			continue;
		ssize_t n = recv(fd, buf, 64 * 1024, MSG_DONTWAIT);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (n <= 0) {
			drop_conn(c, &rm);
			continue;
		}
		size_t off = 0;
		while (off < (size_t)n) {
			size_t used = 0;
			rc = orpc_rm_feed(&rm, buf + off, (size_t)n - off, &used);
			off += used;
			if (rc < 0) {
				proxy_log(LOG_WARNING, "manager %u: bad reply stream (%s)", u->index, strerror(-rc));
				drop_conn(c, &rm);
				break;
			}
			if (rc == 1) {
				uint32_t len;
				uint8_t *rec = orpc_rm_take(&rm, &len);
				deliver(c, rec, len);
			}
		}
	}
	orpc_rm_reset(&rm);
	free(buf);
	return NULL;
}

/* ---- calls -------------------------------------------------------------------------- */

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static int send_all(int fd, struct iovec *iov, int n)
{
	while (n > 0) {
		ssize_t w = writev(fd, iov, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		while (n > 0 && (size_t)w >= iov->iov_len) {
			w -= (ssize_t)iov->iov_len;
			iov++;
			n--;
		}
		if (n > 0) {
			iov->iov_base = (uint8_t *)iov->iov_base + w;
			iov->iov_len -= (size_t)w;
		}
	}
	return 0;
}

void upstream_call(struct upstream *u, uint32_t xid_hint, uint32_t prog, uint32_t vers, uint32_t proc,
		   const uint8_t *cred_raw, uint32_t cred_len, const uint8_t *args, uint32_t args_len,
		   up_done_fn done, void *arg)
{
	static const uint8_t none_auth[8] = { 0 };
	/* the next connection, or rather one that is up: a connection of a
	 * restarted manager that has not reconnected yet need not wait */
	uint32_t i = atomic_fetch_add(&u->rr, 1) % u->nconns;
	for (uint32_t k = 0; k < u->nconns; k++) {
		struct upconn *t = &u->c[(i + k) % u->nconns];
		pthread_mutex_lock(&t->mu);
		bool up = t->fd >= 0;
		pthread_mutex_unlock(&t->mu);
		if (up) {
			i = (i + k) % u->nconns;
			break;
		}
	}
	struct upconn *c = &u->c[i];
	struct pending *pd = calloc(1, sizeof(*pd));
	if (!pd || atomic_load(&u->stop)) {
		free(pd);
		done(arg, pd ? -ESHUTDOWN : -ENOMEM, NULL, 0);
		return;
	}
	if (!cred_raw || cred_len < 8) {   /* AUTH_NONE */
		cred_raw = none_auth;
		cred_len = 8;
	}
	pd->done = done;
	pd->arg = arg;
	pd->deadline = now_ms() + u->timeout_ms;

	pthread_mutex_lock(&c->send_mu);
	int fd = ensure_connected(c);
	if (fd < 0) {
		pthread_mutex_unlock(&c->send_mu);
		free(pd);
		done(arg, fd, NULL, 0);
		return;
	}
	pthread_mutex_lock(&c->mu);
	/* the hint if it is free (a repeat of a call still in flight is not:
	 * it gets an xid of its own), else the next one that is */
	uint32_t xid = xid_hint;
	for (int k = 0; k < 64 && (!xid || tab_has(c, xid)); k++)
		xid = c->next_xid++;
	pd->xid = xid;
	pd->sending = true;
	tab_add(c, pd);   /* before sending: the reply may beat us back */
	pthread_mutex_unlock(&c->mu);

	uint8_t hdr[28];
	put32(hdr, ORPC_RM_LAST | (uint32_t)(24 + cred_len + 8 + args_len));
	put32(hdr + 4, xid);
	put32(hdr + 8, 0);          /* CALL */
	put32(hdr + 12, ORPC_VERSION);
	put32(hdr + 16, prog);
	put32(hdr + 20, vers);
	put32(hdr + 24, proc);
	struct iovec iov[4] = {
		{ hdr, sizeof(hdr) },
		{ (void *)cred_raw, cred_len },
		{ (void *)none_auth, 8 },
		{ (void *)args, args_len },
	};
	int rc = send_all(fd, iov, args_len ? 4 : 3);
	if (rc < 0)
		shutdown(fd, SHUT_RDWR);   /* half a record went out: the stream is lost */
	pthread_mutex_unlock(&c->send_mu);

	pthread_mutex_lock(&c->mu);
	pd->sending = false;
	bool ended = pd->ended;
	struct pending *mine = NULL;
	if (!ended && rc < 0)
		mine = tab_take(c, xid);   /* NULL: the reader failed it already */
	pthread_mutex_unlock(&c->mu);
	/* pd is not ours to touch any more unless it ended or we took it */
	if (ended) {
		pd->done(pd->arg, pd->end_status, pd->end_rec, pd->end_len);
		free(pd->end_rec);
		free(pd);
	} else if (mine) {
		free(mine);
		done(arg, rc, NULL, 0);
	}
}

/* ---- life ---------------------------------------------------------------------------- */

int upstream_new(const char *hostport, uint32_t index, int timeout_ms, uint32_t conns,
		 struct upstream **out)
{
	const char *colon = strrchr(hostport, ':');
	if (!colon || colon == hostport || (size_t)(colon - hostport) >= 256 || strlen(colon + 1) >= 16)
		return -EINVAL;
	struct upstream *u = calloc(1, sizeof(*u));
	if (!u)
		return -ENOMEM;
	memcpy(u->host, hostport, (size_t)(colon - hostport));
	if (u->host[0] == '[') {   /* [v6]:port */
		size_t n = strlen(u->host);
		memmove(u->host, u->host + 1, n);
		if (n >= 2 && u->host[n - 2] == ']')
			u->host[n - 2] = 0;
	}
	snprintf(u->port, sizeof(u->port), "%s", colon + 1);
	u->index = index;
	u->timeout_ms = timeout_ms;
	u->nconns = conns ? conns : 1;
	u->c = calloc(u->nconns, sizeof(*u->c));
	if (!u->c) {
		free(u);
		return -ENOMEM;
	}
	for (uint32_t i = 0; i < u->nconns; i++) {
		struct upconn *c = &u->c[i];
		c->u = u;
		c->id = i;
		c->fd = -1;
		/* xids differ between connections and restarts (a manager's
		 * duplicate request cache keys on them) */
		c->next_xid = (uint32_t)time(NULL) * 2654435761u + i * 0x10000000u;
		pthread_mutex_init(&c->send_mu, NULL);
		pthread_mutex_init(&c->mu, NULL);
		pthread_cond_init(&c->cv, NULL);
		if (pthread_create(&c->reader, NULL, reader_main, c) == 0)
			c->reader_started = true;
	}
	for (uint32_t i = 0; i < u->nconns; i++) {
		if (!u->c[i].reader_started) {
			upstream_free(u);
			return -EAGAIN;
		}
	}
	*out = u;
	return 0;
}

void upstream_free(struct upstream *u)
{
	if (!u)
		return;
	atomic_store(&u->stop, true);
	for (uint32_t i = 0; i < u->nconns; i++) {
		struct upconn *c = &u->c[i];
		pthread_mutex_lock(&c->mu);
		if (c->fd >= 0)
			shutdown(c->fd, SHUT_RDWR);
		pthread_cond_signal(&c->cv);
		pthread_mutex_unlock(&c->mu);
		if (c->reader_started)
			pthread_join(c->reader, NULL);
		/* the reader failed what was left; nothing can be added now */
		pthread_mutex_lock(&c->mu);
		struct pending *rest = tab_take_expired(c, 0, true);
		if (c->fd >= 0)
			close(c->fd);
		c->fd = -1;
		pthread_mutex_unlock(&c->mu);
		fail_list(c, rest, -ESHUTDOWN);
	}
	free(u->c);
	free(u);
}
