/*
 * link_shm.c - the shm link: processes on one host share a fabric segment.
 *
 * The segment (/dev/shm/tpz-<fabric>, mode 0600, owned by the user) holds a
 * header, one slot per node (its pid and its "sleeping" announcement), one
 * SPSC ring per ordered pair of nodes, and the frame pool.  A frame already
 * in the pool moves by index: zero copies.  Memory outside the pool is read
 * once, by the receiver, straight from the sender's address space
 * (process_vm_readv, the "DMA") into its final place, or copied once by the
 * sender into pool frames when the receiver cannot do that.
 *
 * Each node listens on an abstract unix socket (SOCK_SEQPACKET).  The
 * connection on it carries the hello/welcome exchange, the two doorbell
 * eventfds (SCM_RIGHTS) and is how a death is noticed: the kernel closes
 * it when the process dies, at once and for any cause.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/syscall.h>
#include <linux/membarrier.h>
#include <unistd.h>

#include "ring.h"
#include "tpz_internal.h"

#define FAB_MAGIC   0x626166205a5054ull   /* "TPZ fab" */
#define FAB_VERSION 1u
#define CMA_PROBE   0x65626f72702d616dull

static const volatile uint64_t cma_probe = CMA_PROBE;
static bool asym_fence;   /* senders skip the Dekker fence (membarrier) */
static void setup_fences(void);

struct fab_node {
	_Alignas(TPZ_CACHELINE) _Atomic int32_t pid;   /* 0: slot free */
	_Atomic uint32_t sleeping;                     /* announced by tpz_wait */
};

struct fab_hdr {
	uint64_t         magic;
	uint32_t         version;
	_Atomic uint32_t ready;
	uint32_t         nodes, ring_slots, frame_size, nframes;
	uint64_t         node_off, ring_off, ring_stride, pool_off, total;
};

struct tpz_shm {
	struct fab_hdr  *hdr;
	size_t           len;
	char             name[64];
	struct fab_node *nodes;
	struct tpz_evsrc listen;
};

struct pending_done { uint32_t seq; tpz_done_fn fn; void *arg; };

/* One per connected shm peer. */
struct shm_chan {
	struct tpz_ring *out, *in;
	struct fab_node *peer_node;
	struct tpz_evsrc ctl;            /* the unix control connection */
	int              peer_evfd;      /* the peer's doorbell */
	pid_t            peer_pid;
	bool             cma;            /* one-copy reads between us work */
	bool             goodbye_seen;
	uint32_t         head;           /* producer: next slot to fill */
	uint32_t         cached_tail;    /* producer: last seen consumer index */
	uint32_t         tail;           /* consumer: next slot to read */
	/* Sends whose memory the receiver still reads (under send_lock). */
	struct pending_done *pend;
	uint32_t         pend_head, pend_n, pend_cap;
	_Atomic uint32_t pend_count;
};

static struct tpz_ring *fab_ring(struct tpz_shm *s, uint32_t from, uint32_t to)
{
	return (struct tpz_ring *)((uint8_t *)s->hdr + s->hdr->ring_off +
				   ((uint64_t)from * s->hdr->nodes + to) * s->hdr->ring_stride);
}

/* ---- the segment ---------------------------------------------------------- */

static void fab_layout(struct fab_hdr *h, uint32_t nodes, uint32_t slots, uint32_t fsize, uint32_t nframes)
{
	h->nodes = nodes;
	h->ring_slots = slots;
	h->frame_size = fsize;
	h->nframes = nframes;
	h->node_off = 4096;
	h->ring_off = h->node_off + (((uint64_t)nodes * sizeof(struct fab_node) + 4095) & ~4095ull);
	h->ring_stride = (tpz_ring_bytes(slots) + 4095) & ~4095ull;
	h->pool_off = h->ring_off + (uint64_t)nodes * nodes * h->ring_stride;
	h->total = h->pool_off + tpz_pool_bytes(fsize, nframes);
}

static int fab_create(struct tpz_endpoint *ep, struct tpz_shm *s, int fd)
{
	struct fab_hdr h = { 0 };

	fab_layout(&h, ep->cfg.fabric_nodes, ep->cfg.ring_slots, ep->cfg.frame_size, ep->cfg.pool_frames);
	if (ftruncate(fd, (off_t)h.total) < 0)
		return -errno;
	void *mem = mmap(NULL, h.total, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (mem == MAP_FAILED)
		return -errno;
	s->hdr = mem;
	s->len = h.total;
	*s->hdr = h;
	s->hdr->magic = FAB_MAGIC;
	s->hdr->version = FAB_VERSION;
	for (uint32_t i = 0; i < h.nodes; i++)
		for (uint32_t j = 0; j < h.nodes; j++)
			tpz_ring_init(fab_ring(s, i, j), h.ring_slots);
	tpz_pool_format((uint8_t *)mem + h.pool_off, h.frame_size, h.nframes);
	/* release: joiners that see ready see the formatted segment. */
	atomic_store_explicit(&s->hdr->ready, 1, memory_order_release);
	tpz_log(ep, TPZ_LOG_INFO, "fabric %s created: %u nodes, %u-slot rings, %u frames of %u KiB",
		ep->cfg.fabric, h.nodes, h.ring_slots, h.nframes, h.frame_size >> 10);
	return 0;
}

static int fab_join(struct tpz_endpoint *ep, struct tpz_shm *s, int fd)
{
	struct stat st;

	/* The creator may still be formatting it: wait up to 2 s. */
	for (int i = 0; i < 2000; i++) {
		if (fstat(fd, &st) < 0)
			return -errno;
		if (st.st_uid != geteuid()) {
			tpz_log(ep, TPZ_LOG_ERR, "fabric %s belongs to uid %u, not us", ep->cfg.fabric, st.st_uid);
			return -EACCES;
		}
		if ((size_t)st.st_size >= sizeof(struct fab_hdr)) {
			void *mem = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
			if (mem == MAP_FAILED)
				return -errno;
			struct fab_hdr *h = mem;
			if (atomic_load_explicit(&h->ready, memory_order_acquire)) {
				if (h->magic != FAB_MAGIC || h->version != FAB_VERSION || h->total != (uint64_t)st.st_size) {
					munmap(mem, (size_t)st.st_size);
					tpz_log(ep, TPZ_LOG_ERR, "fabric %s: not a compatible segment", ep->cfg.fabric);
					return -EPROTO;
				}
				s->hdr = h;
				s->len = (size_t)st.st_size;
				return 0;
			}
			munmap(mem, (size_t)st.st_size);
		}
		usleep(1000);
	}
	return -ETIMEDOUT;
}

static bool pid_alive(pid_t pid)
{
	return pid > 0 && (kill(pid, 0) == 0 || errno == EPERM);
}

/* Take our node slot; a slot left by a dead process is taken over and the
 * frames it held go back to the pool. */
static int claim_slot(struct tpz_endpoint *ep, struct tpz_shm *s)
{
	struct fab_node *me = &s->nodes[ep->cfg.node];
	int32_t old = 0, pid = (int32_t)getpid();

	if (atomic_compare_exchange_strong(&me->pid, &old, pid))
		return 0;
	if (pid_alive(old)) {
		tpz_log(ep, TPZ_LOG_ERR, "fabric %s: node %u is already taken by pid %d",
			ep->cfg.fabric, ep->cfg.node, old);
		return -EADDRINUSE;
	}
	if (!atomic_compare_exchange_strong(&me->pid, &old, pid))
		return -EADDRINUSE;
	uint32_t n = tpz_pool_reclaim(&ep->pool, TPZ_OWNER(ep->cfg.node));
	tpz_log(ep, TPZ_LOG_INFO, "fabric %s: node %u taken over from dead pid %d (%u frames reclaimed)",
		ep->cfg.fabric, ep->cfg.node, old, n);
	return 0;
}

static void ctl_addr(struct sockaddr_un *a, socklen_t *len, const char *fabric, uint32_t node)
{
	memset(a, 0, sizeof(*a));
	a->sun_family = AF_UNIX;
	/* Abstract namespace: nothing to clean up in the file system. */
	int n = snprintf(a->sun_path + 1, sizeof(a->sun_path) - 1, "tpz-%s-%u", fabric, node);
	*len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)n);
}

static void accept_event(struct tpz_endpoint *ep, struct tpz_evsrc *src, uint32_t events);

int tpz_shm_attach(struct tpz_endpoint *ep)
{
	struct tpz_shm *s = calloc(1, sizeof(*s));
	int fd, rc;

	if (!s)
		return -ENOMEM;
	snprintf(s->name, sizeof(s->name), "/tpz-%s", ep->cfg.fabric);
	s->listen.fd = -1;
	fd = shm_open(s->name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd >= 0) {
		rc = fab_create(ep, s, fd);
		if (rc < 0)
			shm_unlink(s->name);
	} else if (errno == EEXIST && (fd = shm_open(s->name, O_RDWR | O_CLOEXEC, 0)) >= 0) {
		rc = fab_join(ep, s, fd);
	} else {
		rc = -errno;
	}
	if (fd >= 0)
		close(fd);
	if (rc < 0)
		goto err;
	if (ep->cfg.node >= s->hdr->nodes) {
		rc = -EINVAL;
		tpz_log(ep, TPZ_LOG_ERR, "fabric %s has %u node slots; node %u does not fit",
			ep->cfg.fabric, s->hdr->nodes, ep->cfg.node);
		goto err_unmap;
	}
	if ((uint64_t)s->hdr->frame_size * TPZ_SG_MAX < ep->max_payload) {
		rc = -EINVAL;
		goto err_unmap;
	}
	s->nodes = (struct fab_node *)((uint8_t *)s->hdr + s->hdr->node_off);
	if ((rc = tpz_pool_open(&ep->pool, (uint8_t *)s->hdr + s->hdr->pool_off)) < 0)
		goto err_unmap;
	if ((rc = claim_slot(ep, s)) < 0)
		goto err_unmap;
	/* Let peers read our memory for one-copy payloads even under Yama. */
	prctl(PR_SET_PTRACER, PR_SET_PTRACER_ANY, 0, 0, 0);
	setup_fences();

	struct sockaddr_un a;
	socklen_t alen;
	ctl_addr(&a, &alen, ep->cfg.fabric, ep->cfg.node);
	s->listen.fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	s->listen.fn = accept_event;
	if (s->listen.fd < 0 || bind(s->listen.fd, (struct sockaddr *)&a, alen) < 0 ||
	    listen(s->listen.fd, 64) < 0) {
		rc = -errno;
		tpz_log(ep, TPZ_LOG_ERR, "fabric %s: cannot listen for node %u: %s", ep->cfg.fabric,
			ep->cfg.node, strerror(errno));
		goto err_slot;
	}
	if ((rc = tpz_ev_add(ep, &s->listen, EPOLLIN)) < 0)
		goto err_slot;
	ep->shm = s;
	return 0;

err_slot:
	if (s->listen.fd >= 0)
		close(s->listen.fd);
	atomic_store(&s->nodes[ep->cfg.node].pid, 0);
err_unmap:
	munmap(s->hdr, s->len);
	memset(&ep->pool, 0, sizeof(ep->pool));
err:
	free(s);
	return rc;
}

void tpz_shm_detach(struct tpz_endpoint *ep)
{
	struct tpz_shm *s = ep->shm;
	bool others = false;

	tpz_ev_del(ep, &s->listen);
	close(s->listen.fd);
	/* Frames the application still holds go back with us. */
	tpz_pool_reclaim(&ep->pool, TPZ_OWNER(ep->cfg.node));
	atomic_store(&s->nodes[ep->cfg.node].pid, 0);
	for (uint32_t i = 0; i < s->hdr->nodes; i++)
		if (pid_alive(atomic_load(&s->nodes[i].pid)))
			others = true;
	/* Last one out removes the name (a racing joiner keeps its mapping). */
	if (!others)
		shm_unlink(s->name);
	munmap(s->hdr, s->len);
	memset(&ep->pool, 0, sizeof(ep->pool));
	free(s);
	ep->shm = NULL;
}

void tpz_shm_sleep_prepare(struct tpz_endpoint *ep, bool sleeping)
{
	if (!ep->shm)
		return;
	atomic_store(&ep->shm->nodes[ep->cfg.node].sleeping, sleeping);
	/* Pairs with the barrier in ring_doorbell: either the sender sees our
	 * announcement, or we see its message in anything_pending().  The
	 * membarrier makes every CPU running a registered process execute a
	 * full fence, which is what lets the senders skip theirs. */
	if (!sleeping)
		return;
	if (asym_fence)
		syscall(__NR_membarrier, MEMBARRIER_CMD_GLOBAL_EXPEDITED, 0, 0);
	else
		atomic_thread_fence(memory_order_seq_cst);
}

/* Every process of the fabric runs this library on one kernel, so all of
 * them agree on which fence protocol is in use. */
static void setup_fences(void)
{
	long q = syscall(__NR_membarrier, MEMBARRIER_CMD_QUERY, 0, 0);

	if (q > 0 && (q & MEMBARRIER_CMD_GLOBAL_EXPEDITED) &&
	    syscall(__NR_membarrier, MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED, 0, 0) == 0)
		asym_fence = true;
}

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
	uint64_t addr = (uintptr_t)&cma_probe;

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


static void free_desc_frames(struct tpz_endpoint *ep, struct tpz_desc *d, uint32_t owner)
{
	if (d->kind != DESC_FRAMES)
		return;
	for (uint32_t i = 0; i < d->nseg && i < TPZ_SG_MAX; i++)
		tpz_pool_put_owned(&ep->pool, d->idx[i], owner);
}

/* Run the completions of sends the peer has consumed (tail passed them). */
static void run_pending(struct tpz_endpoint *ep, struct tpz_peer *p, struct shm_chan *ch, int status)
{
	if (!atomic_load_explicit(&ch->pend_count, memory_order_relaxed))
		return;
	uint32_t tail = tpz_ring_tail(ch->out);
	tpz_lock(&p->send_lock);
	while (ch->pend_n) {
		struct pending_done *d = &ch->pend[ch->pend_head];
		if (!status && (int32_t)(tail - d->seq) <= 0)
			break;
		tpz_complete_later(ep, d->fn, d->arg, status);
		ch->pend_head = (ch->pend_head + 1) % ch->pend_cap;
		ch->pend_n--;
	}
	atomic_store_explicit(&ch->pend_count, ch->pend_n, memory_order_relaxed);
	tpz_unlock(&p->send_lock);
}

static void shm_close(struct tpz_endpoint *ep, struct tpz_peer *p, void *link, bool goodbye)
{
	struct shm_chan *ch = link;
	uint32_t me = TPZ_OWNER(ep->cfg.node), it = TPZ_OWNER(p->node);

	if (goodbye && !ch->goodbye_seen) {
		struct tpz_link_ctl c;
		ctl_fill(ep, &c, TPZ_LINK_GOODBYE);
		ctl_send(ch->ctl.fd, &c, -1);
	}
	tpz_ev_del(ep, &ch->ctl);
	close(ch->ctl.fd);
	close(ch->peer_evfd);
	/* Messages sent to us that nobody will read: their frames are ours. */
	for (uint32_t t = ch->tail; tpz_ring_ready(ch->in, t); t++)
		free_desc_frames(ep, tpz_ring_desc(ch->in, t), me);
	/* Messages we sent that the peer did not read: frames are its now. */
	for (uint32_t t = tpz_ring_tail(ch->out); t != ch->head; t++)
		free_desc_frames(ep, tpz_ring_desc(ch->out, t), it);
	run_pending(ep, p, ch, -ECONNRESET);
	/* A dead peer's frames (held by its application) return to the pool;
	 * the pid CAS makes exactly one survivor do it and frees the slot. */
	int32_t pid = ch->peer_pid;
	if (!pid_alive(pid) && atomic_compare_exchange_strong(&ch->peer_node->pid, &pid, 0)) {
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

static void accept_event(struct tpz_endpoint *ep, struct tpz_evsrc *src, uint32_t events)
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
	ctl_addr(&a, &alen, ep->cfg.fabric, node);
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

/* ---- data path -------------------------------------------------------------- */

static void ring_doorbell(struct tpz_peer *p, struct shm_chan *ch)
{
	/* Dekker with the sleeper in tpz_shm_sleep_prepare: our slot is
	 * published before we look at its announcement.  With membarrier the
	 * sleeper pays for the fence (a system call, on its way to sleep
	 * anyway) and this fast path needs only a compiler barrier. */
	if (asym_fence)
		atomic_signal_fence(memory_order_seq_cst);
	else
		atomic_thread_fence(memory_order_seq_cst);
	if (atomic_load_explicit(&ch->peer_node->sleeping, memory_order_relaxed) &&
	    atomic_exchange(&ch->peer_node->sleeping, 0)) {
		uint64_t one = 1;
		if (write(ch->peer_evfd, &one, sizeof(one)) < 0) { /* full counter still wakes */ }
		TX_INC(p, wakeups_sent, 1);
	} else {
		TX_INC(p, wakeups_suppressed, 1);
	}
}

/* All segments are distinct, whole pool frames' worth at most: move by index. */
static bool frames_only(struct tpz_endpoint *ep, const struct tpz_payload *pl, struct tpz_desc *d)
{
	for (uint32_t i = 0; i < pl->nseg; i++) {
		int fi = tpz_pool_index(&ep->pool, pl->seg[i].base);
		if (fi < 0)
			return false;
		for (uint32_t j = 0; j < i; j++)
			if (d->idx[j] == (uint32_t)fi)
				return false;
		d->idx[i] = (uint32_t)fi;
		d->addr[i] = (uint64_t)((uint8_t *)pl->seg[i].base - (uint8_t *)tpz_pool_addr(&ep->pool, (uint32_t)fi));
		d->len[i] = pl->seg[i].len;
	}
	d->nseg = pl->nseg;
	return true;
}

static int copy_to_frames(struct tpz_endpoint *ep, const struct tpz_payload *pl, uint32_t len,
			  struct tpz_desc *d, uint32_t owner)
{
	uint32_t fs = ep->pool.frame_size, si = 0, so = 0;

	d->nseg = 0;
	while (len) {
		int fi = tpz_pool_get(&ep->pool, owner);
		if (fi < 0) {
			for (uint32_t i = 0; i < d->nseg; i++)
				tpz_pool_put(&ep->pool, d->idx[i]);
			return -ENOBUFS;
		}
		uint8_t *dst = tpz_pool_addr(&ep->pool, (uint32_t)fi);
		uint32_t n = len < fs ? len : fs, done = 0;
		while (done < n) {   /* gather from the source segments */
			uint32_t k = pl->seg[si].len - so;
			if (k > n - done)
				k = n - done;
			memcpy(dst + done, (uint8_t *)pl->seg[si].base + so, k);
			done += k;
			so += k;
			if (so == pl->seg[si].len) {
				si++;
				so = 0;
			}
		}
		d->idx[d->nseg] = (uint32_t)fi;
		d->addr[d->nseg] = 0;
		d->len[d->nseg++] = n;
		len -= n;
	}
	return 0;
}

static int pend_push(struct shm_chan *ch, uint32_t seq, tpz_done_fn fn, void *arg)
{
	if (ch->pend_n == ch->pend_cap) {
		uint32_t cap = ch->pend_cap ? ch->pend_cap * 2 : 64;
		struct pending_done *q = malloc(cap * sizeof(*q));
		if (!q)
			return -ENOMEM;
		for (uint32_t i = 0; i < ch->pend_n; i++)
			q[i] = ch->pend[(ch->pend_head + i) % ch->pend_cap];
		free(ch->pend);
		ch->pend = q;
		ch->pend_head = 0;
		ch->pend_cap = cap;
	}
	ch->pend[(ch->pend_head + ch->pend_n) % ch->pend_cap] = (struct pending_done){ seq, fn, arg };
	ch->pend_n++;
	atomic_store_explicit(&ch->pend_count, ch->pend_n, memory_order_relaxed);
	return 0;
}

static int shm_send(struct tpz_endpoint *ep, struct tpz_peer *p, struct tpz_msg *m,
		    const struct tpz_payload *pl, uint32_t pl_len, tpz_done_fn done, void *arg)
{
	struct shm_chan *ch = p->link;
	uint32_t owner = TPZ_OWNER(p->node);
	int rc;

	if (tpz_ring_space(ch->out, ch->head, &ch->cached_tail, 1) == 0)
		return -EAGAIN;
	/* The descriptor is only read for messages with a payload: an inline
	 * message leaves its cache line alone. */
	struct tpz_desc *d = tpz_ring_desc(ch->out, ch->head);
	if (pl) {
		if (frames_only(ep, pl, d)) {
			/* Zero copy: the frames change owner and travel by index. */
			for (uint32_t i = 0; i < d->nseg; i++)
				tpz_pool_set_owner(&ep->pool, d->idx[i], owner);
			d->kind = DESC_FRAMES;
			TX_INC(p, zero_copy, 1);
			tpz_complete_later(ep, done, arg, 0);
		} else if (done && ch->cma) {
			bool any_frame = false;
			for (uint32_t i = 0; i < pl->nseg; i++)
				any_frame |= tpz_is_frame(ep, pl->seg[i].base);
			if (any_frame)
				goto copy;
			/* One copy, by the receiver, from our memory to its place. */
			if ((rc = pend_push(ch, ch->head, done, arg)) < 0)
				return rc;
			d->kind = DESC_REMOTE;
			d->nseg = pl->nseg;
			for (uint32_t i = 0; i < pl->nseg; i++) {
				d->addr[i] = (uintptr_t)pl->seg[i].base;
				d->len[i] = pl->seg[i].len;
			}
		} else {
copy:
			if ((rc = copy_to_frames(ep, pl, pl_len, d, owner)) < 0)
				return rc;
			d->kind = DESC_FRAMES;
			TX_INC(p, copies, 1);
			/* Frames among the sources were given to us: done with them. */
			for (uint32_t i = 0; i < pl->nseg; i++)
				if (tpz_is_frame(ep, pl->seg[i].base))
					tpz_frame_free(ep, pl->seg[i].base);
			tpz_complete_later(ep, done, arg, 0);
		}
	}
	m->hdr.seq = ch->head;   /* the ring index is the link's sequence */
	tpz_ring_put(ch->out, ch->head++, m);
	ring_doorbell(p, ch);
	return 0;
}

/* Put a payload the sender left in frames or in its memory where it goes. */
static void take_payload(struct tpz_endpoint *ep, struct tpz_peer *p, struct shm_chan *ch,
			 const struct tpz_msg *m, struct tpz_desc *d, struct tpz_rx *rx)
{
	uint32_t me = TPZ_OWNER(ep->cfg.node), len = m->hdr.payload_len;
	struct iovec rv[TPZ_SG_MAX], lv[TPZ_SG_MAX];
	struct tpz_payload dst;
	struct tpz_ipt_entry *e = NULL;
	const char *why = NULL;
	bool ok = true;

	if (d->kind == DESC_NONE || d->nseg == 0 || d->nseg > TPZ_SG_MAX) {
		why = "payload descriptor missing";
		goto drop;
	}
	uint32_t sum = 0;
	for (uint32_t i = 0; i < d->nseg; i++) {
		if (d->kind == DESC_FRAMES && (d->idx[i] >= ep->pool.nframes ||
					      d->addr[i] + d->len[i] > ep->pool.frame_size)) {
			why = "payload descriptor out of the pool";
			goto drop;
		}
		sum += d->len[i];
	}
	if (sum != len) {
		why = "payload descriptor length mismatch";
		goto drop;
	}
	if (m->hdr.flags & TPZ_F_TOKEN) {
		pthread_mutex_lock(&ep->ipt.lock);
		e = tpz_ipt_match(ep, m->hdr.token, p->node, len, &why);
		if (!e) {   /* counted as a miss or a drop by tpz_ipt_match */
			pthread_mutex_unlock(&ep->ipt.lock);
			goto drop;
		}
		dst = e->buf;
	} else if (d->kind == DESC_FRAMES) {
		/* Zero copy: the frames are ours already. */
		rx->payload.nseg = d->nseg;
		for (uint32_t i = 0; i < d->nseg; i++)
			rx->payload.seg[i] = (struct tpz_iov){
				(uint8_t *)tpz_pool_addr(&ep->pool, d->idx[i]) + d->addr[i], d->len[i] };
		rx->payload_len = len;
		return;
	} else if (tpz_payload_alloc(ep, &dst, len) < 0) {
		why = "no free frames";
		goto drop;
	}

	/* One copy into dst: from frames (memcpy) or the sender (CMA). */
	uint32_t nd = 0;
	for (uint32_t i = 0; i < dst.nseg; i++)
		lv[nd++] = (struct iovec){ dst.seg[i].base, dst.seg[i].len };
	if (d->kind == DESC_FRAMES) {
		uint32_t si = 0, so = 0;
		for (uint32_t i = 0, left = len; i < nd && left; i++) {
			uint32_t done = 0, want = (uint32_t)lv[i].iov_len < left ? (uint32_t)lv[i].iov_len : left;
			while (done < want) {
				uint32_t k = d->len[si] - so;
				if (k > want - done)
					k = want - done;
				memcpy((uint8_t *)lv[i].iov_base + done,
				       (uint8_t *)tpz_pool_addr(&ep->pool, d->idx[si]) + d->addr[si] + so, k);
				done += k;
				so += k;
				if (so == d->len[si]) {
					si++;
					so = 0;
				}
			}
			left -= want;
		}
		free_desc_frames(ep, d, me);
	} else {
		for (uint32_t i = 0; i < d->nseg; i++)
			rv[i] = (struct iovec){ (void *)(uintptr_t)d->addr[i], d->len[i] };
		ok = process_vm_readv(ch->peer_pid, lv, nd, rv, d->nseg, 0) == (ssize_t)len;
	}
	RX_INC(ep, payload_copies, 1);
	if (e) {
		if (ok) {
			rx->placed = true;
			rx->ipt_cookie = e->cookie;
			rx->payload = e->buf;
			rx->payload_len = len;
			RX_INC(ep, ipt_hits, 1);
			tpz_ipt_retire(&ep->ipt, e);
		}
		pthread_mutex_unlock(&ep->ipt.lock);
	} else if (ok) {
		rx->payload = dst;
		rx->payload_len = len;
	} else {
		tpz_payload_free(ep, &dst);
	}
	if (ok)
		return;
	why = "cannot read the sender's memory";
	RX_INC(ep, ipt_drops, e ? 1 : 0);
drop:
	free_desc_frames(ep, d, me);
	rx->flags |= TPZ_F_DROPPED;
	rx->payload_len = 0;
	rx->payload.nseg = 0;
	tpz_log(ep, TPZ_LOG_DEBUG, "node %u: payload from %u dropped: %s", ep->cfg.node, p->node, why);
}

static int shm_poll(struct tpz_endpoint *ep, struct tpz_peer *p, int budget)
{
	struct shm_chan *ch = p->link;
	uint32_t n = (uint32_t)budget < TPZ_POLL_BATCH ? (uint32_t)budget : TPZ_POLL_BATCH, done = 0;

	run_pending(ep, p, ch, 0);
	for (; done < n && tpz_ring_ready(ch->in, ch->tail); done++) {
		uint32_t t = ch->tail;
		struct tpz_msg *m = tpz_ring_slot(ch->in, t);
		struct tpz_desc *d = tpz_ring_desc(ch->in, t);
		struct tpz_rx rx = { .msg = m, .flags = m->hdr.flags };
		const char *why = tpz_wire_check(m, ep->max_payload);
		if (!why && m->hdr.handler == TPZ_HANDLER_LINK)
			why = "link message in a data ring";
		if (why) {
			CTR_ADD(ep, protocol_errors, 1);
			tpz_log(ep, TPZ_LOG_WARN, "node %u: shm peer %u sent a malformed message (%s); closing",
				ep->cfg.node, p->node, why);
			tpz_peer_down(ep, p, TPZ_DOWN_PROTOCOL, true);
			return (int)done;
		}
		if (m->hdr.payload_len)
			take_payload(ep, p, ch, m, d, &rx);
		/* Consumed before the upcall, so a close from inside it does
		 * not free frames the handler now owns.  The slot itself is
		 * handed back only after the batch (release below). */
		ch->tail = t + 1;
		tpz_deliver(ep, p, &rx);
		if (atomic_load_explicit(&p->state, memory_order_relaxed) != PEER_UP)
			return (int)done + 1;
	}
	if (done)
		tpz_ring_release(ch->in, ch->tail);
	return (int)done;
}

static bool shm_pending(struct tpz_endpoint *ep, struct tpz_peer *p)
{
	struct shm_chan *ch = p->link;
	return tpz_ring_ready(ch->in, ch->tail) ||
	       (atomic_load(&ch->pend_count) && tpz_ring_tail(ch->out) != ch->head);
}

const struct tpz_link_ops tpz_shm_ops = {
	.name = "shm",
	.send = shm_send,
	.poll = shm_poll,
	.pending = shm_pending,
	.close = shm_close,
};
