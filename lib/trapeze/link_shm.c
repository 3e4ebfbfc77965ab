/*
 * link_shm.c - the shm link's control side: connecting two nodes of one
 * fabric, noticing when one goes away, and cleaning up after it.
 *
 * Each node listens on an abstract unix socket (SOCK_SEQPACKET).  The
 * connection on it carries the hello/welcome exchange and the two doorbell
 * eventfds (SCM_RIGHTS), and it is how a death is noticed: the kernel
 * closes it when the process dies, at once and for any cause.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "shm.h"

/* ---- control messages on the unix socket -------------------------------- */

static int ctl_send(int fd, const struct tpz_link_ctl *c, int pass_fd)
{
	struct tpz_msg m;
	union { char buf[CMSG_SPACE(sizeof(int))]; struct cmsghdr align; } u;
	struct iovec iov = { &m, sizeof(m) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };

	tpz_msg_init(&m, TPZ_HANDLER_LINK, c->node, 0);
	m.hdr.inline_len = sizeof(*c);
	memcpy(m.data, c, sizeof(*c));
	if (pass_fd >= 0) {
		mh.msg_control = u.buf;
		mh.msg_controllen = sizeof(u.buf);
		struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &pass_fd, sizeof(int));
	}
	return sendmsg(fd, &mh, MSG_NOSIGNAL) == (ssize_t)sizeof(m) ? 0 : -EPIPE;
}

/* Receive one control message (waiting up to timeout_ms); *got_fd gets a
 * passed descriptor or -1.  Returns 0, -ETIMEDOUT, -EPIPE or -EPROTO. */
static int ctl_recv(int fd, struct tpz_link_ctl *c, int *got_fd, int timeout_ms)
{
	struct tpz_msg m;
	union { char buf[CMSG_SPACE(sizeof(int))]; struct cmsghdr align; } u;
	struct iovec iov = { &m, sizeof(m) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf,
			     .msg_controllen = sizeof(u.buf) };
	struct pollfd pfd = { .fd = fd, .events = POLLIN };

	*got_fd = -1;
	if (timeout_ms >= 0 && poll(&pfd, 1, timeout_ms) <= 0)
		return -ETIMEDOUT;
	ssize_t n = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
	if (n == 0)
		return -EPIPE;
	if (n < 0)
		return errno == EAGAIN ? -ETIMEDOUT : -EPIPE;
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm))
		if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS &&
		    cm->cmsg_len == CMSG_LEN(sizeof(int)))
			memcpy(got_fd, CMSG_DATA(cm), sizeof(int));
	if (n != (ssize_t)sizeof(m) || (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) ||
	    m.hdr.magic != TPZ_MAGIC || m.hdr.version != TPZ_VERSION ||
	    m.hdr.handler != TPZ_HANDLER_LINK || m.hdr.inline_len != sizeof(*c)) {
		if (*got_fd >= 0)
			close(*got_fd);
		*got_fd = -1;
		return -EPROTO;
	}
	memcpy(c, m.data, sizeof(*c));
	return 0;
}

/* Can we read the peer's memory?  It told us where its probe word is. */
static bool cma_works(pid_t pid, const struct tpz_link_ctl *c)
{
	uint64_t addr, v = 0;

	memcpy(&addr, c->nonce, sizeof(addr));
	struct iovec l = { &v, sizeof(v) }, r = { (void *)(uintptr_t)addr, sizeof(v) };
	return process_vm_readv(pid, &l, 1, &r, 1, 0) == (ssize_t)sizeof(v) && v == CMA_PROBE;
}

static void ctl_fill(struct tpz_endpoint *ep, struct tpz_link_ctl *c, uint8_t op)
{
	uint64_t addr = (uintptr_t)&tpz_cma_probe;

	memset(c, 0, sizeof(*c));
	c->op = op;
	c->node = ep->cfg.node;
	c->max_payload = ep->max_payload;
	c->pid = (uint32_t)getpid();
	memcpy(c->nonce, &addr, sizeof(addr));
}

/* ---- channels ------------------------------------------------------------ */

static void ctl_event(struct tpz_endpoint *ep, struct tpz_evsrc *src, uint32_t events);

static struct shm_chan *chan_new(struct tpz_endpoint *ep, uint32_t peer, int ctl_fd, int peer_evfd,
				 pid_t pid, bool cma)
{
	struct tpz_shm *s = ep->shm;
	struct shm_chan *ch = calloc(1, sizeof(*ch));

	if (!ch)
		return NULL;
	ch->out = fab_ring(s, ep->cfg.node, peer);
	ch->in = fab_ring(s, peer, ep->cfg.node);
	ch->peer_node = &s->nodes[peer];
	ch->ctl = (struct tpz_evsrc){ .fn = ctl_event, .fd = ctl_fd };
	ch->peer_evfd = peer_evfd;
	ch->peer_pid = pid;
	ch->cma = cma;
	if (tpz_ev_add(ep, &ch->ctl, EPOLLIN | EPOLLRDHUP) < 0) {
		free(ch);
		return NULL;
	}
	return ch;
}


void tpz_shm_free_desc_frames(struct tpz_endpoint *ep, struct tpz_desc *d, uint32_t owner)
{
	if (d->kind != DESC_FRAMES)
		return;
	for (uint32_t i = 0; i < d->nseg && i < TPZ_SG_MAX; i++)
		tpz_pool_put_owned(&ep->pool, d->idx[i], owner);
}

/* Run the completions of sends the peer has consumed (tail passed them). */
/* Send completions for what the peer has consumed (its tail passed it).
 * From shm_poll (status 0) we are the delivery thread inside tpz_poll, so
 * the callbacks run right here, outside the lock; a closing link (status
 * < 0) queues them for the next poll instead. */
void tpz_shm_run_pending(struct tpz_endpoint *ep, struct tpz_peer *p, struct shm_chan *ch, int status)
{
	struct pending_done now[64];
	uint32_t n = 0;

	if (!atomic_load_explicit(&ch->pend_count, memory_order_relaxed))
		return;
	uint32_t tail = tpz_ring_tail(ch->out);
	tpz_lock(&p->send_lock);
	while (ch->pend_n && n < 64) {
		struct pending_done *d = &ch->pend[ch->pend_head];
		if (!status && (int32_t)(tail - d->seq) <= 0)
			break;
		if (status)
			tpz_complete_later(ep, d->fn, d->arg, status);
		else
			now[n++] = *d;
		ch->pend_head = (ch->pend_head + 1) % ch->pend_cap;
		ch->pend_n--;
	}
	atomic_store_explicit(&ch->pend_count, ch->pend_n, memory_order_relaxed);
	tpz_unlock(&p->send_lock);
	for (uint32_t i = 0; i < n; i++)
		now[i].fn(now[i].arg, 0);
}

void tpz_shm_close(struct tpz_endpoint *ep, struct tpz_peer *p, void *link, bool goodbye)
{
	struct shm_chan *ch = link;
	uint32_t it = TPZ_OWNER(p->node);

	if (goodbye && !ch->goodbye_seen) {
		struct tpz_link_ctl c;
		ctl_fill(ep, &c, TPZ_LINK_GOODBYE);
		ctl_send(ch->ctl.fd, &c, -1);
	}
	tpz_ev_del(ep, &ch->ctl);
	close(ch->ctl.fd);
	close(ch->peer_evfd);
	/* Frames in messages nobody will read belong to their sender until
	 * claimed, so each side frees only what it sent: a living peer frees
	 * its unread sends in its own close, a dead one's go with the
	 * reclaim below.  Freeing from both sides could free a frame its
	 * sender had meanwhile reused.  What the peer claimed is its own. */
	for (uint32_t t = tpz_ring_tail(ch->out); t != ch->head; t++)
		tpz_shm_free_desc_frames(ep, tpz_ring_desc(ch->out, t), TPZ_OWNER_SENT(ep->cfg.node));
	tpz_shm_run_pending(ep, p, ch, -ECONNRESET);
	/* A dead peer's frames (held by its application) return to the pool;
	 * the pid CAS makes exactly one survivor do it and frees the slot. */
	int32_t pid = ch->peer_pid;
	if (!ch->goodbye_seen && !goodbye) {
		/* Its control socket closes during exit, a moment before the
		 * process is dead for kill(): give it up to 200 ms. */
		for (int i = 0; i < 400 && tpz_pid_alive(pid); i++)
			usleep(500);
	}
	if (!tpz_pid_alive(pid) && atomic_compare_exchange_strong(&ch->peer_node->pid, &pid, 0)) {
		uint32_t n = tpz_pool_reclaim(&ep->pool, it);
		tpz_log(ep, TPZ_LOG_INFO, "node %u: reclaimed %u frames of dead node %u", ep->cfg.node, n, p->node);
	}
	free(ch->pend);
	free(ch);
}

static void ctl_event(struct tpz_endpoint *ep, struct tpz_evsrc *src, uint32_t events)
{
	struct shm_chan *ch = (struct shm_chan *)((uint8_t *)src - offsetof(struct shm_chan, ctl));
	struct tpz_link_ctl c;
	int fd, rc, reason = TPZ_DOWN_DIED;
	uint32_t node = TPZ_MAX_NODES;

	for (uint32_t i = 0; i < TPZ_MAX_NODES; i++)
		if (ep->peers[i].link == ch)
			node = i;
	if (node == TPZ_MAX_NODES)
		return;
	rc = ctl_recv(src->fd, &c, &fd, -1);
	if (fd >= 0)
		close(fd);
	if (rc == -ETIMEDOUT)
		return;
	if (rc == 0 && c.op == TPZ_LINK_GOODBYE) {
		ch->goodbye_seen = true;
		reason = TPZ_DOWN_CLOSED;
		/* What it sent before saying goodbye is still in the ring: deliver
		 * it first, as tcp does (there the goodbye follows the data). */
		struct tpz_peer *p = &ep->peers[node];
		while (atomic_load(&p->state) == PEER_UP && tpz_shm_ops.poll(ep, p, TPZ_POLL_BATCH) > 0)
			;
		if (atomic_load(&p->state) != PEER_UP)
			return;
	} else if (rc == -EPROTO || (rc == 0 && c.op != TPZ_LINK_GOODBYE)) {
		CTR_ADD(ep, protocol_errors, 1);
		tpz_log(ep, TPZ_LOG_WARN, "node %u: bad control message from shm peer %u; closing",
			ep->cfg.node, node);
		reason = TPZ_DOWN_PROTOCOL;
	}
	tpz_peer_down(ep, &ep->peers[node], reason, false);
}

/* The acceptor resets both rings of the pair before its welcome: the
 * connector touches nothing until it has the welcome, and a previous
 * connection's leftovers were freed when it went down. */
static void reset_rings(struct tpz_endpoint *ep, uint32_t peer)
{
	tpz_ring_init(fab_ring(ep->shm, ep->cfg.node, peer), ep->shm->hdr->ring_slots);
	tpz_ring_init(fab_ring(ep->shm, peer, ep->cfg.node), ep->shm->hdr->ring_slots);
}

static void refuse(struct tpz_endpoint *ep, int fd, uint8_t reason, const char *why, uint32_t node)
{
	struct tpz_link_ctl c;

	ctl_fill(ep, &c, TPZ_LINK_REFUSE);
	c.reason = reason;
	ctl_send(fd, &c, -1);
	tpz_log(ep, TPZ_LOG_WARN, "node %u: refused shm peer %u: %s", ep->cfg.node, node, why);
}

static void accept_one(struct tpz_endpoint *ep, int fd)
{
	struct tpz_link_ctl c, w;
	struct ucred cred;
	socklen_t clen = sizeof(cred);
	int peer_evfd = -1;

	/* The connector sends its hello right after connect(). */
	if (ctl_recv(fd, &c, &peer_evfd, 500) < 0 || c.op != TPZ_LINK_HELLO || peer_evfd < 0) {
		CTR_ADD(ep, protocol_errors, 1);
		tpz_log(ep, TPZ_LOG_WARN, "node %u: shm connection without a valid hello; closed", ep->cfg.node);
		goto fail;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) < 0 || cred.uid != geteuid()) {
		CTR_ADD(ep, auth_refused, 1);
		refuse(ep, fd, TPZ_REFUSE_AUTH, "another user", c.node);
		goto fail;
	}
	if (c.node >= ep->shm->hdr->nodes || c.node == ep->cfg.node ||
	    atomic_load(&ep->shm->nodes[c.node].pid) != cred.pid) {
		refuse(ep, fd, TPZ_REFUSE_NODE, "node id not held by the connecting process", c.node);
		goto fail;
	}
	struct tpz_peer *p = &ep->peers[c.node];
	if (atomic_load(&p->state) == PEER_UP)   /* it came back: the old one is gone */
		tpz_peer_down(ep, p, TPZ_DOWN_DIED, false);
	bool cma = cma_works(cred.pid, &c);
	reset_rings(ep, c.node);
	struct shm_chan *ch = chan_new(ep, c.node, fd, peer_evfd, cred.pid, cma);
	if (!ch)
		goto fail;
	ctl_fill(ep, &w, TPZ_LINK_WELCOME);
	w.flags = cma ? TPZ_LINKF_CMA : 0;
	if (ctl_send(fd, &w, ep->evfd) < 0) {
		tpz_ev_del(ep, &ch->ctl);
		free(ch);
		goto fail;
	}
	tpz_log(ep, TPZ_LOG_INFO, "node %u: shm peer %u (pid %d) up%s", ep->cfg.node, c.node, cred.pid,
		cma ? ", one-copy reads" : "");
	tpz_peer_up(ep, p, &tpz_shm_ops, ch);
	return;
fail:
	if (peer_evfd >= 0)
		close(peer_evfd);
	close(fd);
}

void tpz_shm_accept_event(struct tpz_endpoint *ep, struct tpz_evsrc *src, uint32_t events)
{
	for (;;) {
		int fd = accept4(src->fd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0)
			return;
		accept_one(ep, fd);
	}
}

int tpz_shm_connect(struct tpz_endpoint *ep, uint32_t node, int timeout_ms)
{
	struct sockaddr_un a;
	socklen_t alen;
	struct tpz_link_ctl c;
	int fd, peer_evfd = -1, rc;

	if (!ep->shm)
		return -EINVAL;
	if (node >= ep->shm->hdr->nodes || node == ep->cfg.node)
		return -EINVAL;
	if (tpz_peer_is_up(ep, node))
		return -EISCONN;
	tpz_shm_ctl_addr(&a, &alen, ep->cfg.fabric, node);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&a, alen) < 0) {
		rc = -errno;
		goto fail;
	}
	ctl_fill(ep, &c, TPZ_LINK_HELLO);
	if ((rc = ctl_send(fd, &c, ep->evfd)) < 0)
		goto fail;
	rc = ctl_recv(fd, &c, &peer_evfd, timeout_ms < 0 ? 5000 : timeout_ms);
	if (rc < 0)
		goto fail;
	if (c.op == TPZ_LINK_REFUSE || c.op != TPZ_LINK_WELCOME || peer_evfd < 0 || c.node != node) {
		rc = c.op == TPZ_LINK_REFUSE && c.reason == TPZ_REFUSE_AUTH ? -EACCES : -ECONNREFUSED;
		goto fail;
	}
	struct ucred cred;
	socklen_t clen = sizeof(cred);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) < 0) {
		rc = -errno;
		goto fail;
	}
	fcntl(fd, F_SETFL, O_NONBLOCK);
	struct shm_chan *ch = chan_new(ep, node, fd, peer_evfd, cred.pid, (c.flags & TPZ_LINKF_CMA) != 0);
	if (!ch) {
		rc = -ENOMEM;
		goto fail;
	}
	tpz_peer_up(ep, &ep->peers[node], &tpz_shm_ops, ch);
	return 0;
fail:
	if (peer_evfd >= 0)
		close(peer_evfd);
	close(fd);
	return rc;
}
