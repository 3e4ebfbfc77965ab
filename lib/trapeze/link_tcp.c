/*
 * link_tcp.c - the tcp link: one connection per pair of nodes.
 *
 * On the wire each message is its 128-byte control block followed by its
 * payload bytes.  The sender writes straight from the payload's memory
 * (one sendmsg with a gather list, many queued messages per call); what the
 * socket does not take at once waits in the connection's send queue, which
 * is bounded (ring_slots messages: the credits).  The receiver is
 * tcp_rx.c.  A connection starts with the authenticated handshake of
 * trapeze_wire.h; bytes that break the protocol close that connection only.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tcp_rx.h"
#include "tpz_internal.h"

#define HS_TIMEOUT_MS 3000
#define HS_MAX        64      /* connections still in their handshake */
#define TX_BATCH      64      /* messages per sendmsg when flushing */

struct txq_entry {
	struct tpz_msg     m;
	struct tpz_payload pl;
	uint32_t           off;       /* bytes of message + payload already written */
	uint32_t           total;
	tpz_done_fn        done;
	void              *arg;
	bool               lent;      /* frames stay the sender's (TPZ_SEND_LEND) */
	void              *heap;      /* the engine's copy of the payload, if any */
};

enum { HS_NONE = 0, HS_WAIT_PROVE = 1 };

struct tcp_conn {
	struct tpz_evsrc   ev;
	uint32_t           node;
	int                hs;               /* acceptor handshake state */
	uint64_t           hs_deadline;
	uint8_t            nonce_a[TPZ_NONCE_SIZE];
	uint8_t            hs_buf[TPZ_MSG_SIZE];
	uint32_t           hs_got;
	char               who[NI_MAXHOST + NI_MAXSERV + 2];   /* address, for log lines */
	/* send queue (under the peer's send_lock) */
	struct txq_entry  *q;
	uint32_t           q_head, q_n, q_cap;
	bool               want_out;         /* EPOLLOUT armed */
	_Atomic uint32_t   q_count;
	struct tpz_tcp_rx  rx;
};

struct tpz_tcp {
	struct tpz_evsrc  listen;
	int               port;
	uint8_t           key[32];
	struct tcp_conn  *hs[HS_MAX];        /* acceptor side, handshake pending */
};

static void conn_free(struct tpz_endpoint *ep, struct tcp_conn *c)
{
	tpz_ev_del(ep, &c->ev);
	close(c->ev.fd);
	free(c->q);
	free(c);
}

static int tcp_state(struct tpz_endpoint *ep)
{
	if (ep->tcp)
		return 0;
	if (!ep->cfg.secret) {
		tpz_log(ep, TPZ_LOG_ERR, "node %u: tcp needs a cluster secret", ep->cfg.node);
		return -EACCES;
	}
	ep->tcp = calloc(1, sizeof(*ep->tcp));
	if (!ep->tcp)
		return -ENOMEM;
	ep->tcp->listen.fd = -1;
	tpz_auth_key(ep->cfg.secret, ep->tcp->key);
	return 0;
}

static int parse_hostport(const char *hp, struct sockaddr_storage *ss, socklen_t *len)
{
	char host[128];
	const char *colon = strrchr(hp, ':');
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV }, *ai;

	if (!colon || (size_t)(colon - hp) >= sizeof(host))
		return -EINVAL;
	memcpy(host, hp, (size_t)(colon - hp));
	host[colon - hp] = '\0';
	if (host[0] == '[') {   /* [v6]:port */
		size_t l = strlen(host);
		if (l < 2 || host[l - 1] != ']')
			return -EINVAL;
		memmove(host, host + 1, l - 2);
		host[l - 2] = '\0';
	}
	char *end;
	long port = strtol(colon + 1, &end, 10);
	if (*end || port < 0 || port > 65535)
		return -EINVAL;
	if (getaddrinfo(host[0] ? host : NULL, colon + 1, &hints, &ai) != 0)
		return -EHOSTUNREACH;
	memcpy(ss, ai->ai_addr, ai->ai_addrlen);
	*len = ai->ai_addrlen;
	freeaddrinfo(ai);
	return 0;
}

/* Latency first (no Nagle); and a peer that vanished without a FIN (power
 * off, cable) is declared dead after about 10 s of silence. */
static void tune(int fd)
{
	int one = 1, idle = 5, intvl = 2, cnt = 3;
	unsigned int user_timeout = 10000;

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
	setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &user_timeout, sizeof(user_timeout));
}

/* ---- send side ---------------------------------------------------------- */

static uint32_t entry_iov(struct txq_entry *t, struct iovec *iov)
{
	uint32_t n = 0, skip = t->off;

	if (skip < TPZ_MSG_SIZE)
		iov[n++] = (struct iovec){ (uint8_t *)&t->m + skip, TPZ_MSG_SIZE - skip };
	skip = skip > TPZ_MSG_SIZE ? skip - TPZ_MSG_SIZE : 0;
	for (uint32_t i = 0; i < t->pl.nseg; i++) {
		uint32_t l = t->pl.seg[i].len;
		if (skip >= l) {
			skip -= l;
			continue;
		}
		iov[n++] = (struct iovec){ (uint8_t *)t->pl.seg[i].base + skip, l - skip };
		skip = 0;
	}
	return n;
}

/* The engine is done with a message: give its frames back, tell the sender. */
static void entry_done(struct tpz_endpoint *ep, struct txq_entry *t, int status)
{
	if (!t->lent)
		tpz_payload_put_frames(ep, &t->pl);
	free(t->heap);
	tpz_complete_later(ep, t->done, t->arg, status);
}

static void set_out(struct tpz_endpoint *ep, struct tcp_conn *c, bool on)
{
	if (c->want_out == on)
		return;
	struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP | (on ? EPOLLOUT : 0), .data.ptr = &c->ev };
	epoll_ctl(ep->epfd, EPOLL_CTL_MOD, c->ev.fd, &ev);
	c->want_out = on;
}

/* Write queued messages (caller holds send_lock).  0, or -errno if dead. */
static int flush(struct tpz_endpoint *ep, struct tcp_conn *c)
{
	struct iovec iov[TX_BATCH * (TPZ_SG_MAX + 1)];

	while (c->q_n) {
		uint32_t niov = 0, k = 0;
		/* Whole messages only, and never more than IOV_MAX pieces. */
		for (; k < c->q_n && k < TX_BATCH && niov + TPZ_SG_MAX + 1 <= IOV_MAX; k++)
			niov += entry_iov(&c->q[(c->q_head + k) % c->q_cap], iov + niov);
		struct msghdr mh = { .msg_iov = iov, .msg_iovlen = niov };
		ssize_t n = sendmsg(c->ev.fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n < 0)
			return errno == EAGAIN || errno == EINTR ? 0 : -errno;
		while (n > 0) {   /* retire what was fully written */
			struct txq_entry *t = &c->q[c->q_head];
			uint32_t left = t->total - t->off;
			if ((size_t)n < left) {
				t->off += (uint32_t)n;
				break;
			}
			n -= left;
			entry_done(ep, t, 0);
			c->q_head = (c->q_head + 1) % c->q_cap;
			c->q_n--;
		}
	}
	return 0;
}

static int q_push(struct tcp_conn *c, const struct txq_entry *t)
{
	if (c->q_n == c->q_cap) {
		uint32_t cap = c->q_cap ? c->q_cap * 2 : 16;
		struct txq_entry *q = malloc(cap * sizeof(*q));
		if (!q)
			return -ENOMEM;
		for (uint32_t i = 0; i < c->q_n; i++)
			q[i] = c->q[(c->q_head + i) % c->q_cap];
		free(c->q);
		c->q = q;
		c->q_head = 0;
		c->q_cap = cap;
	}
	c->q[(c->q_head + c->q_n) % c->q_cap] = *t;
	c->q_n++;
	return 0;
}

/* The caller's memory must outlive the queue only if it gave a done
 * callback; otherwise what is not yet written is copied, once, into a
 * buffer of the engine's own (not pool frames: the pool may be empty and
 * part of the message may already be on the wire). */
static int keep_payload(struct tpz_endpoint *ep, struct tpz_peer *p, struct txq_entry *t)
{
	bool outside = false;

	for (uint32_t i = 0; i < t->pl.nseg; i++)
		outside |= !tpz_is_frame(ep, t->pl.seg[i].base);
	if (!outside || t->done || t->heap)
		return 0;
	uint32_t len = (uint32_t)tpz_payload_len(&t->pl);
	uint8_t *copy = malloc(len ? len : 1);
	if (!copy)
		return -ENOMEM;
	uint32_t off = 0;
	for (uint32_t i = 0; i < t->pl.nseg; i++) {
		memcpy(copy + off, t->pl.seg[i].base, t->pl.seg[i].len);
		off += t->pl.seg[i].len;
	}
	if (!t->lent)
		tpz_payload_put_frames(ep, &t->pl);
	t->pl.nseg = 1;
	t->pl.seg[0] = (struct tpz_iov){ copy, len };
	t->heap = copy;
	TX_INC(p, copies, 1);
	return 0;
}

static int tcp_send(struct tpz_endpoint *ep, struct tpz_peer *p, struct tpz_msg *m,
		    const struct tpz_payload *pl, uint32_t pl_len, tpz_done_fn done, void *arg, uint32_t flags)
{
	struct tcp_conn *c = p->link;
	struct txq_entry t = { .m = *m, .total = TPZ_MSG_SIZE + pl_len, .done = done, .arg = arg,
			       .lent = (flags & TPZ_SEND_LEND) != 0 };
	int rc;

	if (c->q_n >= ep->cfg.ring_slots)
		return -EAGAIN;   /* out of credit: the peer is not reading */
	if (pl)
		t.pl = *pl;
	if (c->q_n == 0 && !(flags & TPZ_SEND_DEFER)) {   /* fast path: straight from the caller's memory */
		struct iovec iov[TPZ_SG_MAX + 1];
		struct msghdr mh = { .msg_iov = iov, .msg_iovlen = entry_iov(&t, iov) };
		ssize_t n = sendmsg(c->ev.fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			return -ENOTCONN;   /* the poll loop will notice and take it down */
		if (n == (ssize_t)t.total) {
			if (pl_len)
				TX_INC(p, zero_copy, 1);
			entry_done(ep, &t, 0);
			return 0;
		}
		t.off = n > 0 ? (uint32_t)n : 0;
	}
	/* In a burst the copy waits for the kick: most of it is written by then. */
	if (!(flags & TPZ_SEND_DEFER) && (rc = keep_payload(ep, p, &t)) < 0) {
		if (t.off)   /* part is on the wire: the stream is broken now */
			shutdown(c->ev.fd, SHUT_RDWR);
		return rc;
	}
	if ((rc = q_push(c, &t)) < 0)
		return rc;
	atomic_store_explicit(&c->q_count, c->q_n, memory_order_relaxed);
	set_out(ep, c, true);
	return 0;
}

/* ---- receive side --------------------------------------------------------- */

static ssize_t sock_readv(void *ctx, const struct iovec *iov, int n)
{
	struct msghdr mh = { .msg_iov = (struct iovec *)iov, .msg_iovlen = (size_t)n };
	return recvmsg(*(int *)ctx, &mh, MSG_DONTWAIT);
}

static int tcp_poll(struct tpz_endpoint *ep, struct tpz_peer *p, int budget)
{
	struct tcp_conn *c = p->link;
	const char *why;

	if (atomic_load_explicit(&c->q_count, memory_order_relaxed)) {
		tpz_lock(&p->send_lock);
		int rc = flush(ep, c);
		if (rc == 0 && c->q_n == 0)
			set_out(ep, c, false);
		atomic_store_explicit(&c->q_count, c->q_n, memory_order_relaxed);
		tpz_unlock(&p->send_lock);
		if (rc < 0) {   /* the socket is broken: nothing queued can go out */
			tpz_log(ep, TPZ_LOG_WARN, "node %u: tcp peer %u (%s): send failed: %s", ep->cfg.node,
				p->node, c->who, strerror(-rc));
			tpz_peer_down(ep, p, TPZ_DOWN_DIED, false);
			return 0;
		}
	}
	int fd = c->ev.fd;
	int n = tpz_tcp_rx_run(ep, p, &c->rx, sock_readv, &fd, budget, &why);
	if (n >= 0)
		return n;
	if (n == -EPROTO) {
		CTR_ADD(ep, protocol_errors, 1);
		tpz_log(ep, TPZ_LOG_WARN, "node %u: tcp peer %u (%s) sent malformed bytes (%s); closing",
			ep->cfg.node, p->node, c->who, why);
		tpz_peer_down(ep, p, TPZ_DOWN_PROTOCOL, false);
	} else {
		tpz_peer_down(ep, p, n == -ESHUTDOWN ? TPZ_DOWN_CLOSED : TPZ_DOWN_DIED, false);
	}
	return 0;
}

static unsigned tcp_pending(struct tpz_endpoint *ep, struct tpz_peer *p)
{
	struct tcp_conn *c = p->link;
	/* Queued sends need no watching: epoll wakes us when they can go. */
	return tpz_tcp_rx_pending(&c->rx) ? TPZ_PEND_INPUT : 0;
}

static void tcp_close(struct tpz_endpoint *ep, struct tpz_peer *p, void *link, bool goodbye)
{
	struct tcp_conn *c = link;

	if (goodbye) {   /* best effort, after what is queued */
		struct tpz_msg m;
		struct tpz_link_ctl *lc = (void *)m.data;
		tpz_msg_init(&m, TPZ_HANDLER_LINK, ep->cfg.node, p->node);
		m.hdr.inline_len = sizeof(*lc);
		memset(lc, 0, sizeof(*lc));
		lc->op = TPZ_LINK_GOODBYE;
		lc->node = ep->cfg.node;
		struct txq_entry t = { .m = m, .total = TPZ_MSG_SIZE };
		if (q_push(c, &t) == 0) {
			int fl = fcntl(c->ev.fd, F_GETFL);
			fcntl(c->ev.fd, F_SETFL, fl & ~O_NONBLOCK);
			struct timeval tv = { 1, 0 };   /* bounded: never hang a close */
			setsockopt(c->ev.fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
			flush(ep, c);
		}
	}
	while (c->q_n) {
		entry_done(ep, &c->q[c->q_head], -ECONNRESET);
		c->q_head = (c->q_head + 1) % c->q_cap;
		c->q_n--;
	}
	tpz_tcp_rx_abort(ep, &c->rx);
	conn_free(ep, c);
}

/* A burst is queued whole (TPZ_SEND_DEFER): write it with one sendmsg. */
static void tcp_kick(struct tpz_endpoint *ep, struct tpz_peer *p)
{
	struct tcp_conn *c = p->link;

	if (flush(ep, c) == 0 && c->q_n == 0)
		set_out(ep, c, false);
	/* What the socket did not take may not keep pointing at the caller's
	 * memory once tpz_send_burst returns. */
	for (uint32_t i = 0; i < c->q_n; i++) {
		if (keep_payload(ep, p, &c->q[(c->q_head + i) % c->q_cap]) < 0) {
			shutdown(c->ev.fd, SHUT_RDWR);   /* cannot keep it: fail loudly */
			break;
		}
	}
	atomic_store_explicit(&c->q_count, c->q_n, memory_order_relaxed);
}

static void conn_event(struct tpz_endpoint *ep, struct tpz_evsrc *src, uint32_t events);

const struct tpz_link_ops tpz_tcp_ops = {
	.name = "tcp",
	.send = tcp_send,
	.kick = tcp_kick,
	.poll = tcp_poll,
	.pending = tcp_pending,
	.close = tcp_close,
};

/* ---- handshake ------------------------------------------------------------ */

static void ctl_msg(struct tpz_endpoint *ep, struct tpz_msg *m, struct tpz_link_ctl **lc, uint8_t op, uint32_t dst)
{
	tpz_msg_init(m, TPZ_HANDLER_LINK, ep->cfg.node, dst);
	m->hdr.inline_len = sizeof(**lc);
	*lc = (struct tpz_link_ctl *)m->data;
	memset(*lc, 0, sizeof(**lc));
	(*lc)->op = op;
	(*lc)->node = ep->cfg.node;
	(*lc)->max_payload = ep->max_payload;
}

/* A link control message, checked field by field. */
static const char *ctl_check(const struct tpz_msg *m, uint8_t op)
{
	const struct tpz_link_ctl *c = (const void *)m->data;

	if (m->hdr.magic != TPZ_MAGIC)
		return "bad magic (not a Trapeze peer)";
	if (m->hdr.version != TPZ_VERSION)
		return "protocol version mismatch";
	if (m->hdr.handler != TPZ_HANDLER_LINK || m->hdr.inline_len != sizeof(*c) || m->hdr.payload_len)
		return "malformed handshake message";
	if (c->op == TPZ_LINK_REFUSE)
		return c->reason == TPZ_REFUSE_AUTH ? "refused: wrong cluster secret" : "refused by peer";
	if (c->op != op)
		return "unexpected handshake message";
	if (c->node >= TPZ_MAX_NODES)
		return "node id out of range";
	return NULL;
}

static void send_refuse(struct tpz_endpoint *ep, int fd, uint8_t reason)
{
	struct tpz_msg m;
	struct tpz_link_ctl *lc;

	ctl_msg(ep, &m, &lc, TPZ_LINK_REFUSE, 0);
	lc->reason = reason;
	if (send(fd, &m, sizeof(m), MSG_DONTWAIT | MSG_NOSIGNAL) < 0) { /* closing anyway */ }
}

static void hs_forget(struct tpz_endpoint *ep, struct tcp_conn *c)
{
	for (int i = 0; i < HS_MAX; i++)
		if (ep->tcp->hs[i] == c)
			ep->tcp->hs[i] = NULL;
}

static void hs_fail(struct tpz_endpoint *ep, struct tcp_conn *c, const char *why, int refuse)
{
	if (refuse)
		send_refuse(ep, c->ev.fd, (uint8_t)refuse);
	tpz_log(ep, TPZ_LOG_WARN, "node %u: tcp connection from %s refused: %s", ep->cfg.node, c->who, why);
	hs_forget(ep, c);
	conn_free(ep, c);
}

/* Acceptor: the connector's proof has arrived in full. */
static void hs_prove(struct tpz_endpoint *ep, struct tcp_conn *c)
{
	struct tpz_msg m, w;
	struct tpz_link_ctl *lc, *wc;
	const char *why;

	memcpy(&m, c->hs_buf, sizeof(m));
	lc = (struct tpz_link_ctl *)m.data;
	if ((why = ctl_check(&m, TPZ_LINK_PROVE))) {
		CTR_ADD(ep, protocol_errors, 1);
		int reason = m.hdr.magic != TPZ_MAGIC ? 0 : m.hdr.version != TPZ_VERSION ? TPZ_REFUSE_VERSION
			   : lc->node >= TPZ_MAX_NODES ? TPZ_REFUSE_NODE : 0;
		hs_fail(ep, c, why, reason);
		return;
	}
	if (!tpz_auth_verify(ep->tcp->key, 'C', c->nonce_a, lc->nonce, lc->node, ep->cfg.node, lc->mac)) {
		CTR_ADD(ep, auth_refused, 1);
		hs_fail(ep, c, "wrong cluster secret (bad MAC)", TPZ_REFUSE_AUTH);
		return;
	}
	if (lc->node == ep->cfg.node) {
		hs_fail(ep, c, "peer claims our own node id", TPZ_REFUSE_NODE);
		return;
	}
	if (lc->max_payload < TPZ_PAYLOAD_MIN || lc->max_payload > TPZ_PAYLOAD_CEIL) {
		hs_fail(ep, c, "bad payload limit", TPZ_REFUSE_CONFIG);
		return;
	}
	struct tpz_peer *p = &ep->peers[lc->node];
	/* Two live processes with one node id would knock each other out in
	 * a loop: the first one keeps it.  A dead peer's connection is noticed
	 * within the keepalive bound (tune()), then it may come back. */
	if (atomic_load(&p->state) == PEER_UP) {
		hs_fail(ep, c, "that node id is already connected", TPZ_REFUSE_NODE);
		return;
	}
	ctl_msg(ep, &w, &wc, TPZ_LINK_WELCOME, lc->node);
	tpz_auth_mac(ep->tcp->key, 'A', lc->nonce, c->nonce_a, lc->node, ep->cfg.node, wc->mac);
	if (send(c->ev.fd, &w, sizeof(w), MSG_DONTWAIT | MSG_NOSIGNAL) != (ssize_t)sizeof(w)) {
		hs_fail(ep, c, "could not send welcome", 0);
		return;
	}
	hs_forget(ep, c);
	c->hs = HS_NONE;
	c->node = lc->node;
	tpz_log(ep, TPZ_LOG_INFO, "node %u: tcp peer %u (%s) up", ep->cfg.node, lc->node, c->who);
	tpz_peer_up(ep, p, &tpz_tcp_ops, c);
}

static void conn_event(struct tpz_endpoint *ep, struct tpz_evsrc *src, uint32_t events)
{
	struct tcp_conn *c = (struct tcp_conn *)src;

	if (c->hs != HS_WAIT_PROVE)
		return;   /* data and hang-ups are handled by tcp_poll */
	ssize_t n = recv(c->ev.fd, c->hs_buf + c->hs_got, sizeof(c->hs_buf) - c->hs_got, MSG_DONTWAIT);
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
		hs_fail(ep, c, "closed during the handshake", 0);
		return;
	}
	if (n > 0 && (c->hs_got += (uint32_t)n) == sizeof(c->hs_buf))
		hs_prove(ep, c);
}

static void accept_event(struct tpz_endpoint *ep, struct tpz_evsrc *src, uint32_t events)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	int fd;

	while ((fd = accept4(src->fd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
		struct tcp_conn *c = calloc(1, sizeof(*c));
		int slot = -1;
		char host[NI_MAXHOST] = "?", serv[NI_MAXSERV] = "?";

		getnameinfo((struct sockaddr *)&ss, sl, host, sizeof(host), serv, sizeof(serv),
			    NI_NUMERICHOST | NI_NUMERICSERV);
		sl = sizeof(ss);
		for (int i = 0; i < HS_MAX && slot < 0; i++)
			if (!ep->tcp->hs[i])
				slot = i;
		if (!c || slot < 0) {   /* too many strangers at once: drop this one */
			free(c);
			close(fd);
			continue;
		}
		tune(fd);
		c->ev = (struct tpz_evsrc){ .fn = conn_event, .fd = fd };
		c->hs = HS_WAIT_PROVE;
		c->hs_deadline = tpz_now_ns() + HS_TIMEOUT_MS * 1000000ull;
		snprintf(c->who, sizeof(c->who), "%s:%s", host, serv);
		if (tpz_ev_add(ep, &c->ev, EPOLLIN | EPOLLRDHUP) < 0) {
			close(fd);
			free(c);
			continue;
		}
		ep->tcp->hs[slot] = c;
		struct tpz_msg m;
		struct tpz_link_ctl *lc;
		ctl_msg(ep, &m, &lc, TPZ_LINK_HELLO, TPZ_NODE_ANY);
		tpz_auth_nonce(c->nonce_a);
		memcpy(lc->nonce, c->nonce_a, TPZ_NONCE_SIZE);
		if (send(fd, &m, sizeof(m), MSG_DONTWAIT | MSG_NOSIGNAL) != (ssize_t)sizeof(m))
			hs_fail(ep, c, "could not send hello", 0);
	}
	tpz_tcp_tick(ep);
}

/* Strangers that never finish their handshake are dropped here. */
void tpz_tcp_tick(struct tpz_endpoint *ep)
{
	uint64_t now = tpz_now_ns();

	if (!ep->tcp)
		return;
	for (int i = 0; i < HS_MAX; i++)
		if (ep->tcp->hs[i] && now > ep->tcp->hs[i]->hs_deadline)
			hs_fail(ep, ep->tcp->hs[i], "handshake timed out", 0);
}

int tpz_tcp_listen(struct tpz_endpoint *ep, const char *hostport)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	int rc, one = 1;

	if ((rc = tcp_state(ep)) < 0)
		return rc;
	if (ep->tcp->listen.fd >= 0)
		return -EALREADY;
	if ((rc = parse_hostport(hostport, &ss, &sl)) < 0)
		return rc;
	int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, sl) < 0 || listen(fd, 128) < 0) {
		rc = -errno;
		close(fd);
		tpz_log(ep, TPZ_LOG_ERR, "node %u: cannot listen on %s: %s", ep->cfg.node, hostport, strerror(-rc));
		return rc;
	}
	sl = sizeof(ss);
	getsockname(fd, (struct sockaddr *)&ss, &sl);
	ep->tcp->port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
						       : ((struct sockaddr_in *)&ss)->sin_port);
	ep->tcp->listen = (struct tpz_evsrc){ .fn = accept_event, .fd = fd };
	if ((rc = tpz_ev_add(ep, &ep->tcp->listen, EPOLLIN)) < 0) {
		close(fd);
		ep->tcp->listen.fd = -1;
		return rc;
	}
	return 0;
}

int tpz_tcp_port(struct tpz_endpoint *ep)
{
	return ep->tcp && ep->tcp->listen.fd >= 0 ? ep->tcp->port : -ENOTCONN;
}

/* Blocking read of exactly one message, bounded by the deadline. */
static int read_msg(int fd, struct tpz_msg *m, uint64_t deadline)
{
	size_t got = 0;

	while (got < sizeof(*m)) {
		uint64_t now = tpz_now_ns();
		if (now >= deadline)
			return -ETIMEDOUT;
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		if (poll(&pfd, 1, (int)((deadline - now) / 1000000) + 1) <= 0)
			continue;
		ssize_t n = recv(fd, (uint8_t *)m + got, sizeof(*m) - got, MSG_DONTWAIT);
		if (n == 0)
			return -ECONNRESET;
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			return -errno;
		if (n > 0)
			got += (size_t)n;
	}
	return 0;
}

static int connect_timeout(int fd, const struct sockaddr_storage *ss, socklen_t sl, uint64_t deadline)
{
	if (connect(fd, (const struct sockaddr *)ss, sl) == 0)
		return 0;
	if (errno != EINPROGRESS)
		return -errno;
	struct pollfd pfd = { .fd = fd, .events = POLLOUT };
	uint64_t now = tpz_now_ns();
	if (now >= deadline || poll(&pfd, 1, (int)((deadline - now) / 1000000) + 1) <= 0)
		return -ETIMEDOUT;
	int err = 0;
	socklen_t el = sizeof(err);
	getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el);
	return -err;
}

int tpz_tcp_connect(struct tpz_endpoint *ep, uint32_t node, const char *hostport, int timeout_ms)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	struct tpz_msg m;
	struct tpz_link_ctl *lc, *hc;
	uint8_t nonce_a[TPZ_NONCE_SIZE];
	const char *why;
	int rc;

	if ((rc = tcp_state(ep)) < 0)
		return rc;
	if (node >= TPZ_MAX_NODES || node == ep->cfg.node)
		return -EINVAL;
	if (tpz_peer_is_up(ep, node))
		return -EISCONN;
	if ((rc = parse_hostport(hostport, &ss, &sl)) < 0)
		return rc;
	uint64_t deadline = tpz_now_ns() + (uint64_t)(timeout_ms < 0 ? 10000 : timeout_ms) * 1000000;
	int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	tune(fd);
	if ((rc = connect_timeout(fd, &ss, sl, deadline)) < 0)
		goto fail;
	if ((rc = read_msg(fd, &m, deadline)) < 0)
		goto fail;
	hc = (struct tpz_link_ctl *)m.data;
	if ((why = ctl_check(&m, TPZ_LINK_HELLO)) || hc->node != node) {
		tpz_log(ep, TPZ_LOG_WARN, "node %u: tcp %s: %s", ep->cfg.node, hostport,
			why ? why : "it is another node than the one asked for");
		rc = why && m.hdr.version != TPZ_VERSION ? -EPROTONOSUPPORT : -ECONNREFUSED;
		goto fail;
	}
	memcpy(nonce_a, hc->nonce, TPZ_NONCE_SIZE);
	ctl_msg(ep, &m, &lc, TPZ_LINK_PROVE, node);
	tpz_auth_nonce(lc->nonce);
	tpz_auth_mac(ep->tcp->key, 'C', nonce_a, lc->nonce, ep->cfg.node, node, lc->mac);
	uint8_t nonce_c[TPZ_NONCE_SIZE];
	memcpy(nonce_c, lc->nonce, sizeof(nonce_c));
	if (send(fd, &m, sizeof(m), MSG_NOSIGNAL) != (ssize_t)sizeof(m)) {
		rc = -ECONNRESET;
		goto fail;
	}
	if ((rc = read_msg(fd, &m, deadline)) < 0)
		goto fail;
	hc = (struct tpz_link_ctl *)m.data;
	if ((why = ctl_check(&m, TPZ_LINK_WELCOME))) {
		rc = hc->op == TPZ_LINK_REFUSE && hc->reason == TPZ_REFUSE_AUTH ? -EACCES : -ECONNREFUSED;
		if (rc == -EACCES)
			CTR_ADD(ep, auth_refused, 1);
		tpz_log(ep, TPZ_LOG_WARN, "node %u: tcp %s: %s", ep->cfg.node, hostport, why);
		goto fail;
	}
	/* Mutual: the acceptor proves it knows the secret too. */
	if (!tpz_auth_verify(ep->tcp->key, 'A', nonce_c, nonce_a, ep->cfg.node, node, hc->mac)) {
		CTR_ADD(ep, auth_refused, 1);
		tpz_log(ep, TPZ_LOG_WARN, "node %u: tcp %s: acceptor failed to prove the secret", ep->cfg.node, hostport);
		rc = -EACCES;
		goto fail;
	}
	struct tcp_conn *c = calloc(1, sizeof(*c));
	if (!c) {
		rc = -ENOMEM;
		goto fail;
	}
	c->ev = (struct tpz_evsrc){ .fn = conn_event, .fd = fd };
	c->node = node;
	snprintf(c->who, sizeof(c->who), "%s", hostport);
	if ((rc = tpz_ev_add(ep, &c->ev, EPOLLIN | EPOLLRDHUP)) < 0) {
		free(c);
		goto fail;
	}
	tpz_log(ep, TPZ_LOG_INFO, "node %u: tcp peer %u (%s) up", ep->cfg.node, node, hostport);
	tpz_peer_up(ep, &ep->peers[node], &tpz_tcp_ops, c);
	return 0;
fail:
	close(fd);
	return rc;
}

void tpz_tcp_fini(struct tpz_endpoint *ep)
{
	if (!ep->tcp)
		return;
	for (int i = 0; i < HS_MAX; i++)
		if (ep->tcp->hs[i])
			conn_free(ep, ep->tcp->hs[i]);
	if (ep->tcp->listen.fd >= 0) {
		tpz_ev_del(ep, &ep->tcp->listen);
		close(ep->tcp->listen.fd);
	}
	free(ep->tcp);
	ep->tcp = NULL;
}
