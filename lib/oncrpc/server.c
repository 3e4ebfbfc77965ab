/*
 * server.c - listeners, the event loop, and the step from a record to a
 * program: the call header is checked (msg.c) and every call the library
 * can answer alone - a reply sent to a server, a wrong RPC version, a bad
 * credential, an unknown program, version or procedure - is answered here,
 * so a program only ever sees well-formed calls to procedures it has.
 *
 * One thread runs the loop (epoll, level-triggered).  That is enough on
 * the machines this is written for: dispatch functions are short (they
 * hand slow work to threads of their own), and the loop thread's time
 * goes to recv and parsing.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "orpc_internal.h"

void orpc_server_config_default(struct orpc_server_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->max_record = (1u << 20) + (64u << 10);
	cfg->max_conns = 256;
	cfg->max_queued = 8u << 20;
	cfg->max_inflight = 256;
}

void orpc_logf(struct orpc_server *s, int level, const char *fmt, ...)
{
	char msg[256];
	va_list ap;
	if (!s->cfg.log)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	s->cfg.log(s->cfg.log_arg, level, msg);
}

const char *orpc_addr_str(const struct sockaddr_storage *a, char *buf, size_t len)
{
	char host[INET6_ADDRSTRLEN] = "?";
	unsigned port = 0;
	if (a->ss_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)a;
		inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
		port = ntohs(in->sin_port);
	} else if (a->ss_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)a;
		inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
		port = ntohs(in6->sin6_port);
	}
	snprintf(buf, len, "%s:%u", host, port);
	return buf;
}

int orpc_server_create(const struct orpc_server_config *cfg, struct orpc_server **out)
{
	struct orpc_server *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	if (cfg)
		s->cfg = *cfg;
	else
		orpc_server_config_default(&s->cfg);
	if (s->cfg.max_record < 1024 || s->cfg.max_conns == 0 || s->cfg.max_inflight == 0 ||
	    s->cfg.max_queued < 4096) {
		free(s);
		return -EINVAL;
	}
	s->rxbuf = malloc(ORPC_RX_CHUNK);
	s->epfd = epoll_create1(EPOLL_CLOEXEC);
	s->wake.kind = EV_WAKE;
	s->wake.fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (!s->rxbuf || s->epfd < 0 || s->wake.fd < 0) {
		int err = errno ? -errno : -ENOMEM;
		if (s->epfd >= 0)
			close(s->epfd);
		if (s->wake.fd >= 0)
			close(s->wake.fd);
		free(s->rxbuf);
		free(s);
		return err;
	}
	struct epoll_event e = { .events = EPOLLIN, .data.ptr = &s->wake };
	epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->wake.fd, &e);
	pthread_mutex_init(&s->mu, NULL);
	s->refs = 1;
	s->next_id = 1;
	*out = s;
	return 0;
}

int orpc_server_add_program(struct orpc_server *s, uint32_t prog, uint32_t vlow, uint32_t vhigh,
			    uint32_t nprocs, orpc_dispatch_fn fn, void *arg)
{
	if (s->started || s->nprogs == ORPC_MAX_PROGS || !fn || vlow > vhigh || nprocs == 0)
		return -EINVAL;
	for (int i = 0; i < s->nprogs; i++)
		if (s->progs[i].prog == prog)
			return -EEXIST;
	s->progs[s->nprogs++] = (struct orpc_prog){ prog, vlow, vhigh, nprocs, fn, arg };
	return 0;
}

int orpc_server_listen(struct orpc_server *s, const char *addr, uint16_t port, uint16_t *bound)
{
	struct addrinfo hints = { .ai_flags = AI_NUMERICHOST | AI_PASSIVE, .ai_socktype = SOCK_STREAM };
	struct addrinfo *ai;
	char pstr[8];
	int one = 1, fd, rc;

	if (s->nlisten == ORPC_MAX_LISTEN)
		return -ENOSPC;
	snprintf(pstr, sizeof(pstr), "%u", port);
	if (getaddrinfo(addr, pstr, &hints, &ai) != 0)
		return -EINVAL;
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		rc = -errno;
		goto out;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 128) < 0) {
		rc = -errno;
		close(fd);
		goto out;
	}
	struct sockaddr_storage sa;
	socklen_t sl = sizeof(sa);
	getsockname(fd, (struct sockaddr *)&sa, &sl);
	if (bound)
		*bound = ntohs(sa.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&sa)->sin6_port
							: ((struct sockaddr_in *)&sa)->sin_port);
	struct ev *ev = &s->listen[s->nlisten++];
	ev->kind = EV_LISTEN;
	ev->fd = fd;
	struct epoll_event e = { .events = EPOLLIN, .data.ptr = ev };
	epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &e);
	rc = 0;
out:
	freeaddrinfo(ai);
	return rc;
}

void orpc_server_wake(struct orpc_server *s)
{
	uint64_t one = 1;
	ssize_t w = write(s->wake.fd, &one, sizeof(one));
	(void)w;   /* EAGAIN: the counter is already non-zero, the loop will look */
}

void orpc_server_unref(struct orpc_server *s)
{
	pthread_mutex_lock(&s->mu);
	int left = --s->refs;
	pthread_mutex_unlock(&s->mu);
	if (left > 0)
		return;
	close(s->wake.fd);
	close(s->epfd);
	pthread_mutex_destroy(&s->mu);
	free(s->rxbuf);
	free(s);
}

static void accept_one(struct orpc_server *s, int lfd)
{
	struct sockaddr_storage peer;
	socklen_t sl = sizeof(peer);
	char a[64];
	int one = 1;

	int fd = accept4(lfd, (struct sockaddr *)&peer, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0)
		return;
	pthread_mutex_lock(&s->mu);
	bool full = s->nconns >= s->cfg.max_conns;
	pthread_mutex_unlock(&s->mu);
	struct orpc_conn *c = full ? NULL : orpc_conn_new(s, fd, &peer);
	if (!c) {
		OCTR(s, conns_refused, 1);
		orpc_logf(s, LOG_WARNING, "refusing connection from %s: %s",
			  orpc_addr_str(&peer, a, sizeof(a)), full ? "too many connections" : "no memory");
		close(fd);
		return;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	pthread_mutex_lock(&s->mu);
	c->id = s->next_id++;
	c->next = s->conns;
	if (s->conns)
		s->conns->prev = c;
	s->conns = c;
	s->nconns++;
	s->refs++;
	pthread_mutex_unlock(&s->mu);
	struct epoll_event e = { .events = EPOLLIN | EPOLLRDHUP, .data.ptr = &c->ev };
	epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &e);
	OCTR(s, conns_accepted, 1);
}

static void drain_wake(struct orpc_server *s)
{
	uint64_t v;
	ssize_t r = read(s->wake.fd, &v, sizeof(v));
	(void)r;
	pthread_mutex_lock(&s->mu);
	struct orpc_conn *list = s->resume;
	s->resume = NULL;
	pthread_mutex_unlock(&s->mu);
	while (list) {
		struct orpc_conn *c = list;
		list = c->resume_next;
		/* Off the list now, so a new request may queue it again.  Only
		 * here: orpc_conn_resume also runs from orpc_conn_writable while
		 * c may still be on a list, and clearing the flag there let c be
		 * pushed twice (a loop in the list, a use after free). */
		pthread_mutex_lock(&c->mu);
		c->resume_queued = false;
		pthread_mutex_unlock(&c->mu);
		orpc_conn_resume(c);
		orpc_conn_unref(c);   /* queue_resume's reference */
	}
}

static void *loop(void *arg)
{
	struct orpc_server *s = arg;
	struct epoll_event evs[64];

	struct timespec busy = { 0, 0 };
	while (!atomic_load(&s->stopping)) {
		/* Spin first, then sleep: right after work, more is likely (a
		 * client's next call comes one round trip after our reply), and
		 * finding it without a wake-up saves tens of microseconds. */
		int tmo = 1000;
		if (s->cfg.spin_us && busy.tv_sec) {
			struct timespec now;
			clock_gettime(CLOCK_MONOTONIC, &now);
			int64_t us = (now.tv_sec - busy.tv_sec) * 1000000 + (now.tv_nsec - busy.tv_nsec) / 1000;
			if (us < (int64_t)s->cfg.spin_us)
				tmo = 0;
			else
				busy.tv_sec = 0;
		}
		int n = epoll_wait(s->epfd, evs, 64, tmo);
		if (n > 0 && s->cfg.spin_us)
			clock_gettime(CLOCK_MONOTONIC, &busy);
		for (int i = 0; i < n; i++) {
			struct ev *ev = evs[i].data.ptr;
			uint32_t what = evs[i].events;
			if (ev->kind == EV_WAKE) {
				drain_wake(s);
			} else if (ev->kind == EV_LISTEN) {
				accept_one(s, ev->fd);
			} else {
				/* a reference across both steps: the first may close it */
				struct orpc_conn *c = (struct orpc_conn *)ev;
				pthread_mutex_lock(&c->mu);
				c->refs++;
				pthread_mutex_unlock(&c->mu);
				if (what & EPOLLOUT)
					orpc_conn_writable(c);
				if (what & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
					orpc_conn_readable(c, what & (EPOLLHUP | EPOLLERR));
				orpc_conn_unref(c);
			}
		}
	}
	return NULL;
}

int orpc_server_start(struct orpc_server *s)
{
	if (s->started)
		return -EALREADY;
	int rc = pthread_create(&s->thread, NULL, loop, s);
	if (rc)
		return -rc;
	s->started = true;
	return 0;
}

void orpc_server_destroy(struct orpc_server *s)
{
	if (!s)
		return;
	atomic_store(&s->stopping, true);
	orpc_server_wake(s);
	if (s->started)
		pthread_join(s->thread, NULL);
	for (int i = 0; i < s->nlisten; i++)
		close(s->listen[i].fd);
	for (;;) {
		pthread_mutex_lock(&s->mu);
		struct orpc_conn *c = s->conns;
		pthread_mutex_unlock(&s->mu);
		if (!c)
			break;
		orpc_conn_close(c, NULL);
	}
	pthread_mutex_lock(&s->mu);
	struct orpc_conn *list = s->resume;
	s->resume = NULL;
	pthread_mutex_unlock(&s->mu);
	while (list) {
		struct orpc_conn *c = list;
		list = c->resume_next;
		orpc_conn_unref(c);
	}
	orpc_server_unref(s);
}

void orpc_server_counters(struct orpc_server *s, struct orpc_counters *o)
{
#define C(f) o->f = atomic_load_explicit(&s->ctr.f, memory_order_relaxed)
	C(conns_accepted); C(conns_refused); C(conns_closed);
	C(calls); C(replies); C(bytes_in); C(bytes_out);
	C(dropped); C(garbage); C(denied); C(prog_unavail); C(proc_unavail); C(prog_mismatch);
	C(oversize); C(throttled);
#undef C
}

/* A reply the library makes on its own (no call handed out). */
static void send_hdr_only(struct orpc_conn *c, const uint8_t *msg, size_t len)
{
	struct txbuf *tb = orpc_txbuf_new(len);
	if (!tb)
		return;
	uint32_t mark = htonl(ORPC_RM_LAST | (uint32_t)len);
	memcpy(tb->data, &mark, 4);
	memcpy(tb->data + 4, msg, len);
	tb->len = 4 + len;
	orpc_conn_send(c, tb, false);
}

static const struct orpc_prog *find_prog(struct orpc_server *s, uint32_t prog)
{
	for (int i = 0; i < s->nprogs; i++)
		if (s->progs[i].prog == prog)
			return &s->progs[i];
	return NULL;
}

void orpc_serve_record(struct orpc_conn *c, uint8_t *rec, uint32_t len)
{
	struct orpc_server *s = c->s;
	struct orpc_call_hdr h;
	enum orpc_auth_stat why;
	uint8_t hdr[ORPC_REPLY_HDR_MAX];
	size_t n = 0;

	switch (orpc_parse_call(rec, len, &h, &why)) {
	case ORPC_CALL_DROP:
		OCTR(s, dropped, 1);
		free(rec);
		return;
	case ORPC_CALL_RPC_MISMATCH:
		OCTR(s, denied, 1);
		n = orpc_encode_rpc_mismatch(hdr, h.xid);
		break;
	case ORPC_CALL_AUTH_ERROR:
		OCTR(s, denied, 1);
		n = orpc_encode_auth_error(hdr, h.xid, why);
		break;
	case ORPC_CALL_GARBAGE:
		OCTR(s, garbage, 1);
		n = orpc_encode_accepted(hdr, h.xid, ORPC_GARBAGE_ARGS, 0, 0);
		break;
	case ORPC_CALL_OK: {
		const struct orpc_prog *p = find_prog(s, h.prog);
		if (!p) {
			OCTR(s, prog_unavail, 1);
			n = orpc_encode_accepted(hdr, h.xid, ORPC_PROG_UNAVAIL, 0, 0);
		} else if (h.vers < p->vlow || h.vers > p->vhigh) {
			OCTR(s, prog_mismatch, 1);
			n = orpc_encode_accepted(hdr, h.xid, ORPC_PROG_MISMATCH, p->vlow, p->vhigh);
		} else if (h.proc >= p->nprocs) {
			OCTR(s, proc_unavail, 1);
			n = orpc_encode_accepted(hdr, h.xid, ORPC_PROC_UNAVAIL, 0, 0);
		} else {
			struct orpc_call_priv *cp = calloc(1, sizeof(*cp));
			if (!cp) {
				n = orpc_encode_accepted(hdr, h.xid, ORPC_SYSTEM_ERR, 0, 0);
				break;
			}
			cp->pub.xid = h.xid;
			cp->pub.prog = h.prog;
			cp->pub.vers = h.vers;
			cp->pub.proc = h.proc;
			cp->pub.cred = h.cred;
			cp->pub.args = rec + h.args_off;
			cp->pub.args_len = len - h.args_off;
			/* the credential follows xid, type, rpcvers, prog, vers,
			 * proc; orpc_parse_call checked its length */
			uint32_t clen = (uint32_t)rec[28] << 24 | (uint32_t)rec[29] << 16 |
					(uint32_t)rec[30] << 8 | rec[31];
			cp->pub.cred_raw = rec + 24;
			cp->pub.cred_raw_len = 8 + ((clen + 3) & ~3u);
			cp->pub.peer = &c->peer;
			cp->pub.conn_id = c->id;
			cp->conn = c;
			cp->rec = rec;
			pthread_mutex_lock(&c->mu);
			c->refs++;
			c->inflight++;
			pthread_mutex_unlock(&c->mu);
			OCTR(s, calls, 1);
			p->fn(&cp->pub, p->arg);
			return;
		}
		break;
	}
	}
	free(rec);
	send_hdr_only(c, hdr, n);
}
