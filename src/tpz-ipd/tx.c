/*
 * tx.c - TUN -> Trapeze: the tx thread reads packets and sends each as one
 * Trapeze message.
 *
 * Each read lands where the message needs it, so nothing is copied in user
 * space: readv() puts the virtio-net header and the first TIP_HEAD_MAX
 * bytes of the packet straight into the message's inline data, and the rest
 * into pool frames that become the payload (over shm they then move to the
 * receiver by index).  Reads are batched: the thread reads until the device
 * is empty or TX_BATCH packets are waiting, then sends them with one
 * tpz_send_burst (one doorbell per peer).  It sleeps in poll() only when
 * the device stays empty for tx_spin_us, so under load there is no wake-up
 * per packet.
 *
 * A packet that cannot go is dropped and counted, never waited on forever:
 * unknown destination or multicast at once, a peer that is down at once,
 * a receiver that gives no credit (ring full) or a pool without frames
 * after TX_STALL_NS.  A peer that made us wait that long is "stuck" for
 * TX_STUCK_NS: packets to it that find no credit are dropped at once, so a
 * stuck peer costs the others one stall, not one per packet.  TCP above
 * recovers from drops.
 */
#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>

#include "tip.h"

#define TX_BATCH     32
#define TX_STALL_NS  (200ull * 1000 * 1000)
#define TX_STUCK_NS  (1000ull * 1000 * 1000)

struct tx_slot {
	struct tip_msg     msg;                  /* read in place: vnet header + head */
	uint32_t           len;                  /* packet bytes */
	uint32_t           node;
	void              *frame[TPZ_SG_MAX];    /* frames this slot reads into */
	uint32_t           nframe;
	struct tpz_payload pl;
};

struct tx {
	struct tip_daemon   *d;
	struct tpz_endpoint *ep;
	int                  fd;
	uint32_t             fs;       /* frame size */
	uint32_t             want;     /* frames that hold the largest packet's tail */
	uint8_t             *sink;     /* read target when the pool has no frames */
	struct tx_slot       slot[TX_BATCH];
	struct tpz_send      snd[TX_BATCH];
	uint64_t             stuck_until[TPZ_MAX_NODES];
	struct tip_ratelimit rl_dst, rl_bad, rl_err, rl_stuck;
};

/* Give the slot its frames; false if the pool is empty (frames it already
 * holds stay with it). */
static bool fill_frames(struct tx *t, struct tx_slot *s)
{
	while (s->nframe < t->want) {
		void *f = tpz_frame_alloc(t->ep);
		if (!f)
			return false;
		s->frame[s->nframe++] = f;
	}
	return true;
}

/* Read one packet into the slot: 0, or -errno (-EAGAIN: the device is empty). */
static int read_one(struct tx *t, struct tx_slot *s)
{
	struct iovec iov[2 + TPZ_SG_MAX];
	int n = 0;
	bool frames = fill_frames(t, s);

	iov[n++] = (struct iovec){ &s->msg.hdr.vnet, TIP_VNET_SIZE };
	iov[n++] = (struct iovec){ s->msg.head, TIP_HEAD_MAX };
	if (frames) {
		for (uint32_t i = 0; i < s->nframe; i++)
			iov[n++] = (struct iovec){ s->frame[i], t->fs };
	} else {
		iov[n++] = (struct iovec){ t->sink, TIP_PKT_MAX };
	}
	ssize_t r = readv(t->fd, iov, n);
	if (r < 0)
		return -errno;
	if (r < (ssize_t)TIP_VNET_SIZE)
		return -EPROTO;
	s->len = (uint32_t)r - TIP_VNET_SIZE;
	if (!frames && s->len > TIP_HEAD_MAX)
		return -ENOBUFS;   /* fits only inline: small packets still go */
	return 0;
}

/* Where the slot's packet goes; false if it is dropped (and counted). */
static bool route(struct tx *t, struct tx_slot *s)
{
	struct tip_daemon *d = t->d;
	const uint8_t *dst = NULL, *pkt = s->msg.head;
	const char *why = "";
	int family = 0;
	char a[64];

	switch (tip_pkt_dst(pkt, s->len, &family, &dst, &why)) {
	case TIP_DST_BAD:
		TIP_INC(&d->ctr, drop_bad_tun, 1);
		tip_log_rl(&t->rl_bad, TIP_WARN, "dropped a %u-byte packet from %s: %s", s->len, d->ifname, why);
		return false;
	case TIP_DST_MULTICAST:
		/* No multicast over the fabric (yet): IPv6 router and
		 * listener chatter ends here, counted apart from real misses. */
		TIP_INC(&d->ctr, drop_multicast, 1);
		return false;
	case TIP_DST_UNICAST:
		break;
	}
	int node = tip_map_lookup(&d->map, family, dst);
	if (node < 0 || (uint32_t)node == d->opt.node) {
		TIP_INC(&d->ctr, drop_unknown_dst, 1);
		struct tip_addr x = { .family = (uint8_t)family };
		memcpy(x.a, dst, family == AF_INET ? 4 : 16);
		tip_log_rl(&t->rl_dst, TIP_INFO, "dropped a packet to %s: %s", tip_addr_str(&x, false, a, sizeof(a)),
			   node < 0 ? "no node has this address" : "the address is our own");
		return false;
	}
	if (!atomic_load_explicit(&d->peer_up[node], memory_order_relaxed)) {
		TIP_INC(&d->ctr, drop_peer_down, 1);
		return false;
	}
	s->node = (uint32_t)node;
	return true;
}

/* Build the message: the inline part is already in place. */
static void prepare(struct tx *t, struct tx_slot *s, struct tpz_send *m)
{
	uint32_t head = s->len < TIP_HEAD_MAX ? s->len : TIP_HEAD_MAX, rest = s->len - head;

	s->msg.hdr.version = TIP_VERSION;
	s->msg.hdr.flags = 0;
	s->msg.hdr.head_len = (uint16_t)head;
	s->pl.nseg = 0;
	for (uint32_t i = 0; rest; i++) {
		uint32_t k = rest < t->fs ? rest : t->fs;
		s->pl.seg[s->pl.nseg++] = (struct tpz_iov){ s->frame[i], k };
		rest -= k;
	}
	*m = (struct tpz_send){ .dst = s->node, .handler = TIP_HANDLER, .data = &s->msg,
				.data_len = TIP_HDR_SIZE + head, .payload = s->pl.nseg ? &s->pl : NULL };
}

/* The message went: its frames are the engine's now. */
static void sent(struct tx *t, struct tx_slot *s)
{
	struct tip_counters *c = &t->d->ctr;
	uint32_t used = s->pl.nseg;

	memmove(s->frame, s->frame + used, (s->nframe - used) * sizeof(s->frame[0]));
	s->nframe -= used;
	TIP_INC(c, tx_packets, 1);
	TIP_INC(c, tx_bytes, s->len);
	if (s->msg.hdr.vnet.gso_type != TIP_GSO_NONE)
		TIP_INC(c, tx_gso, 1);
	if (!used)
		TIP_INC(c, tx_inline, 1);
}

/* Send snd[0..n): a burst, then whatever is left after a refusal. */
static void send_all(struct tx *t, int n)
{
	struct tip_counters *c = &t->d->ctr;
	uint64_t stall = 0;
	int i = 0;

	while (i < n) {
		int k = tpz_send_burst(t->ep, &t->snd[i], n - i);
		if (k > 0) {
			for (int j = i; j < i + k; j++)
				sent(t, &t->slot[j]);
			i += k;
			stall = 0;
			continue;
		}
		if (k == -EAGAIN || k == -ENOBUFS || k == -ENOMEM) {
			/* No credit: the receiver is behind.  Give it the CPU
			 * (on two cores it may be waiting for this one), and
			 * give up on this packet after TX_STALL_NS. */
			uint32_t node = t->slot[i].node;
			uint64_t now = tip_now_ns();
			if (!stall)
				stall = now;
			if (now < t->stuck_until[node] || now - stall > TX_STALL_NS || atomic_load(&t->d->stop)) {
				if (now >= t->stuck_until[node]) {
					t->stuck_until[node] = now + TX_STUCK_NS;
					tip_log_rl(&t->rl_stuck, TIP_WARN, "node %u gives no credit for %llu ms: "
						   "dropping what finds its ring full for %llu ms", node,
						   (unsigned long long)(TX_STALL_NS / 1000000),
						   (unsigned long long)(TX_STUCK_NS / 1000000));
				}
				TIP_INC(c, drop_ring_full, 1);
				i++;
				stall = 0;
				continue;
			}
			sched_yield();
			continue;
		}
		if (k == -ENOTCONN) {
			TIP_INC(c, drop_peer_down, 1);
		} else {
			TIP_INC(c, drop_send_errors, 1);
			tip_log_rl(&t->rl_err, TIP_WARN, "cannot send a %u-byte packet to node %u: %s",
				   t->slot[i].len, t->slot[i].node, tpz_strerror(k));
		}
		i++;
	}
}

/* Read up to TX_BATCH packets; returns how many are ready to send, or -1
 * if the device is empty and nothing was read at all. */
static int read_batch(struct tx *t)
{
	struct tip_daemon *d = t->d;
	int n = 0, got = 0;

	while (n < TX_BATCH) {
		struct tx_slot *s = &t->slot[n];
		int rc = read_one(t, s);
		if (rc == -EAGAIN)
			break;
		if (rc == -EINTR)
			continue;
		got++;
		if (rc == -ENOBUFS) {
			TIP_INC(&d->ctr, drop_no_frames, 1);
			continue;
		}
		if (rc == -EBADFD) {   /* someone deleted the interface under us */
			tip_log(TIP_ERR, "interface %s is gone (deleted?); stopping", d->ifname);
			atomic_store(&d->stop, 1);
			break;
		}
		if (rc < 0) {
			TIP_INC(&d->ctr, tx_read_errors, 1);
			tip_log_rl(&t->rl_err, TIP_WARN, "reading %s: %s", d->ifname, strerror(-rc));
			if (rc == -EPROTO)
				continue;
			/* Not a bad packet but a bad device: do not spin on it. */
			nanosleep(&(struct timespec){ 0, 1000000 }, NULL);
			break;
		}
		if (!route(t, s))
			continue;   /* the slot is read into again */
		prepare(t, s, &t->snd[n]);
		n++;
	}
	return got ? n : -1;
}

/* Sleep until the device has a packet or we are told to stop. */
static void sleep_on_tun(struct tx *t)
{
	struct pollfd p[2] = { { .fd = t->fd, .events = POLLIN }, { .fd = t->d->stop_fd, .events = POLLIN } };

	TIP_INC(&t->d->ctr, tx_sleeps, 1);
	if (poll(p, 2, 1000) < 0 && errno != EINTR)
		tip_log(TIP_WARN, "poll on %s: %s", t->d->ifname, strerror(errno));
}

static void run(struct tx *t)
{
	struct tip_daemon *d = t->d;
	uint64_t idle_since = 0, spin_ns = (uint64_t)d->opt.tx_spin_us * 1000;

	while (!atomic_load_explicit(&d->stop, memory_order_relaxed)) {
		int n = read_batch(t);
		if (n > 0) {
			TIP_INC(&d->ctr, tx_bursts, 1);
			send_all(t, n);
		}
		if (n >= 0) {
			idle_since = 0;
			continue;
		}
		/* Empty: spin a little (a packet often follows at once), then sleep. */
		uint64_t now = spin_ns ? tip_now_ns() : 0;
		if (!idle_since)
			idle_since = now;
		if (spin_ns && now - idle_since < spin_ns) {
			sched_yield();
			continue;
		}
		sleep_on_tun(t);
		idle_since = 0;
	}
}

void *tip_tx_main(void *arg)
{
	struct tip_daemon *d = arg;
	struct tx *t = calloc(1, sizeof(*t));

	if (!t || !(t->sink = malloc(TIP_PKT_MAX))) {
		tip_log(TIP_ERR, "tx thread: out of memory");
		free(t);
		atomic_store(&d->stop, 1);
		return NULL;
	}
	t->d = d;
	t->ep = d->ep;
	t->fd = d->tun_fd;
	t->fs = (uint32_t)tpz_frame_size(d->ep);
	t->want = (TIP_PKT_MAX - TIP_HEAD_MAX + t->fs - 1) / t->fs;
	run(t);
	for (int i = 0; i < TX_BATCH; i++)
		for (uint32_t j = 0; j < t->slot[i].nframe; j++)
			tpz_frame_free(d->ep, t->slot[i].frame[j]);
	free(t->sink);
	free(t);
	return NULL;
}
