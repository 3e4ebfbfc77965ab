/*
 * conn.c - one client connection.
 *
 * Reading happens on the loop thread only: bytes go through the record
 * parser, each complete record is served, and after each one the
 * connection checks its bounds.  When a client has too many calls
 * unanswered or too many reply bytes unsent (it does not read its
 * replies), the connection stops reading: the bytes already received wait
 * in `held`, EPOLLIN is disarmed, and TCP flow control pushes back on the
 * client.  Replies (from any thread) resume it once it has drained to half
 * the bound.
 *
 * Lifetime: the loop holds one reference while the socket is open, each
 * call in a program's hands holds one.  Closing marks the connection dead
 * and closes the socket at once; replies owed by calls still out are then
 * dropped, and the memory goes with the last reference.  The socket is
 * only touched (send, epoll_ctl, close) under `mu` with `dead` checked, so
 * a reply thread can never act on a descriptor number reused by a later
 * accept.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "orpc_internal.h"

struct txbuf *orpc_txbuf_new(size_t msg_cap)
{
	struct txbuf *tb = malloc(sizeof(*tb) + 4 + msg_cap);
	if (!tb)
		return NULL;
	tb->next = NULL;
	tb->len = tb->off = 0;
	tb->cap = 4 + msg_cap;
	return tb;
}

struct orpc_conn *orpc_conn_new(struct orpc_server *s, int fd, const struct sockaddr_storage *peer)
{
	struct orpc_conn *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->ev.kind = EV_CONN;
	c->ev.fd = fd;
	c->s = s;
	c->peer = *peer;
	c->refs = 1;
	c->reading = true;
	pthread_mutex_init(&c->mu, NULL);
	orpc_rm_init(&c->rm, s->cfg.max_record);
	return c;
}

/* Epoll interest from the flags; under c->mu, connection alive. */
static void rearm(struct orpc_conn *c)
{
	struct epoll_event e = { .data.ptr = &c->ev };
	e.events = (c->reading ? EPOLLIN | EPOLLRDHUP : 0) | (c->want_out ? EPOLLOUT : 0);
	epoll_ctl(c->s->epfd, EPOLL_CTL_MOD, c->ev.fd, &e);
}

static bool over_bounds(const struct orpc_conn *c)
{
	return c->inflight >= c->s->cfg.max_inflight || c->queued > c->s->cfg.max_queued;
}

static bool under_half(const struct orpc_conn *c)
{
	return c->inflight < c->s->cfg.max_inflight / 2 + 1 && c->queued <= c->s->cfg.max_queued / 2;
}

void orpc_conn_unref(struct orpc_conn *c)
{
	pthread_mutex_lock(&c->mu);
	int left = --c->refs;
	pthread_mutex_unlock(&c->mu);
	if (left > 0)
		return;
	for (struct txbuf *t = c->txq, *n; t; t = n) {
		n = t->next;
		free(t);
	}
	orpc_rm_reset(&c->rm);
	free(c->held);
	pthread_mutex_destroy(&c->mu);
	struct orpc_server *s = c->s;
	free(c);
	orpc_server_unref(s);
}

void orpc_conn_close(struct orpc_conn *c, const char *why)
{
	struct orpc_server *s = c->s;
	char a[64];

	pthread_mutex_lock(&c->mu);
	if (c->dead) {
		pthread_mutex_unlock(&c->mu);
		return;
	}
	c->dead = true;
	epoll_ctl(s->epfd, EPOLL_CTL_DEL, c->ev.fd, NULL);
	close(c->ev.fd);
	c->ev.fd = -1;
	for (struct txbuf *t = c->txq, *n; t; t = n) {
		n = t->next;
		free(t);
	}
	c->txq = c->txq_tail = NULL;
	c->queued = 0;
	pthread_mutex_unlock(&c->mu);

	if (why)
		orpc_logf(s, LOG_INFO, "connection %llu from %s closed: %s", (unsigned long long)c->id,
			  orpc_addr_str(&c->peer, a, sizeof(a)), why);
	OCTR(s, conns_closed, 1);
	pthread_mutex_lock(&s->mu);
	if (c->prev)
		c->prev->next = c->next;
	else
		s->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	s->nconns--;
	pthread_mutex_unlock(&s->mu);
	orpc_conn_unref(c);   /* the loop's reference */
}

/* Send what the queue holds; under c->mu. False if the socket broke. */
static bool flush_locked(struct orpc_conn *c)
{
	while (c->txq) {
		struct iovec iov[64];
		int n = 0;
		for (struct txbuf *t = c->txq; t && n < 64; t = t->next, n++) {
			iov[n].iov_base = t->data + t->off;
			iov[n].iov_len = t->len - t->off;
		}
		struct msghdr mh = { .msg_iov = iov, .msg_iovlen = (size_t)n };
		ssize_t w = sendmsg(c->ev.fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return errno == EAGAIN || errno == EWOULDBLOCK;
		}
		OCTR(c->s, bytes_out, (uint64_t)w);
		c->queued -= (size_t)w;
		while (w > 0) {
			struct txbuf *t = c->txq;
			size_t left = t->len - t->off;
			if ((size_t)w < left) {
				t->off += (size_t)w;
				break;
			}
			w -= (ssize_t)left;
			c->txq = t->next;
			free(t);
		}
		if (!c->txq)
			c->txq_tail = NULL;
	}
	return true;
}

/* Ask the loop to resume reading c; under c->mu. */
static void queue_resume(struct orpc_conn *c)
{
	if (c->resume_queued)
		return;
	c->resume_queued = true;
	c->refs++;
	struct orpc_server *s = c->s;
	pthread_mutex_lock(&s->mu);
	c->resume_next = s->resume;
	s->resume = c;
	pthread_mutex_unlock(&s->mu);
	orpc_server_wake(s);
}

void orpc_conn_send(struct orpc_conn *c, struct txbuf *tb, bool call_done)
{
	pthread_mutex_lock(&c->mu);
	if (call_done)
		c->inflight--;
	if (c->dead || !tb) {
		if (tb)
			free(tb);
		else if (!c->dead && !c->reading && under_half(c))
			queue_resume(c);
		pthread_mutex_unlock(&c->mu);
		return;
	}
	OCTR(c->s, replies, 1);
	c->queued += tb->len - tb->off;
	if (c->txq_tail)
		c->txq_tail->next = tb;
	else
		c->txq = tb;
	c->txq_tail = tb;
	bool ok = c->want_out ? true : flush_locked(c);
	if (ok && c->txq && !c->want_out) {
		c->want_out = true;
		rearm(c);
	}
	/* A broken socket is the loop's to close: it sees the error (or
	 * EPOLLHUP) on its side; arming EPOLLOUT makes sure it looks. */
	if (!ok && !c->want_out) {
		c->want_out = true;
		rearm(c);
	}
	if (!c->reading && under_half(c))
		queue_resume(c);
	pthread_mutex_unlock(&c->mu);
}

void orpc_conn_writable(struct orpc_conn *c)
{
	pthread_mutex_lock(&c->mu);
	if (c->dead) {
		pthread_mutex_unlock(&c->mu);
		return;
	}
	bool ok = flush_locked(c);
	if (ok && !c->txq && c->want_out) {
		c->want_out = false;
		rearm(c);
	}
	bool resume = !c->reading && under_half(c);
	pthread_mutex_unlock(&c->mu);
	if (!ok)
		orpc_conn_close(c, "send failed");
	else if (resume)
		orpc_conn_resume(c);
}

/* Feed bytes to the record parser, serving each record, until they are
 * used up or the connection must pause (then the rest is held).  False if
 * the connection was closed. */
static bool consume(struct orpc_conn *c, const uint8_t *p, size_t len)
{
	while (len > 0) {
		size_t used;
		int rc = orpc_rm_feed(&c->rm, p, len, &used);
		p += used;
		len -= used;
		if (rc < 0) {
			if (rc == -EMSGSIZE)
				OCTR(c->s, oversize, 1);
			orpc_conn_close(c, rc == -EMSGSIZE ? "record over the maximum size"
							   : "out of memory");
			return false;
		}
		if (rc == 0)
			break;
		uint32_t rlen;
		uint8_t *rec = orpc_rm_take(&c->rm, &rlen);
		if (!rec) {
			orpc_conn_close(c, "out of memory");
			return false;
		}
		orpc_serve_record(c, rec, rlen);

		pthread_mutex_lock(&c->mu);
		bool dead = c->dead, pause = !dead && over_bounds(c);
		if (pause && c->reading) {
			c->reading = false;
			rearm(c);
			OCTR(c->s, throttled, 1);
		}
		pthread_mutex_unlock(&c->mu);
		if (dead)
			return false;
		if (pause) {
			if (len > 0) {
				/* keep what is left; held is empty or being consumed from */
				uint8_t *h = malloc(len);
				if (!h) {
					orpc_conn_close(c, "out of memory");
					return false;
				}
				memcpy(h, p, len);
				free(c->held);
				c->held = h;
				c->held_len = len;
			}
			return true;
		}
	}
	return true;
}

void orpc_conn_readable(struct orpc_conn *c, bool hangup)
{
	struct orpc_server *s = c->s;
	pthread_mutex_lock(&c->mu);
	bool dead = c->dead, paused = !c->reading;
	pthread_mutex_unlock(&c->mu);
	if (dead)
		return;
	if (paused) {
		/* EPOLLHUP/EPOLLERR come even without EPOLLIN: the client is
		 * gone, and nobody will read the replies it is owed */
		if (hangup)
			orpc_conn_close(c, "hang-up while paused");
		return;
	}
	for (int round = 0; round < 4; round++) {
		ssize_t n = recv(c->ev.fd, s->rxbuf, ORPC_RX_CHUNK, MSG_DONTWAIT);
		if (n == 0) {
			orpc_conn_close(c, NULL);
			return;
		}
		if (n < 0) {
			if (errno == EINTR)
				continue;
			/* a reset is how many clients say goodbye: no log line */
			if (errno == ECONNRESET)
				orpc_conn_close(c, NULL);
			else if (errno != EAGAIN && errno != EWOULDBLOCK)
				orpc_conn_close(c, strerror(errno));
			return;
		}
		OCTR(s, bytes_in, (uint64_t)n);
		if (!consume(c, s->rxbuf, (size_t)n))
			return;
		pthread_mutex_lock(&c->mu);
		bool reading = c->reading;
		pthread_mutex_unlock(&c->mu);
		if (!reading || (size_t)n < ORPC_RX_CHUNK)
			return;
	}
}

void orpc_conn_resume(struct orpc_conn *c)
{
	pthread_mutex_lock(&c->mu);
	bool go = !c->dead && !c->reading && under_half(c);
	pthread_mutex_unlock(&c->mu);
	if (!go)
		return;
	if (c->held) {
		/* serve what arrived while paused; it may pause us again and
		 * hold the rest anew */
		uint8_t *h = c->held;
		size_t len = c->held_len;
		c->held = NULL;
		c->held_len = 0;
		bool alive = consume(c, h, len);
		free(h);
		if (!alive)
			return;
	}
	pthread_mutex_lock(&c->mu);
	if (!c->dead && !c->reading && !over_bounds(c) && !c->held) {
		c->reading = true;
		rearm(c);
	}
	pthread_mutex_unlock(&c->mu);
}
