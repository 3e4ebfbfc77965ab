/*
 * rx.c - Trapeze -> TUN: the handler of TIP_HANDLER, run by the endpoint's
 * delivery thread (the rx thread, in tpz_wait).
 *
 * A message is checked (pkt.c), then written to the TUN device with one
 * writev straight from where it arrived: the virtio-net header and head
 * from the control message's inline data, the rest from the payload frames.
 * The frames go back to the pool right after.  tpz_wait delivers messages
 * in batches and sleeps only when nothing arrives for spin_us; a sender
 * rings our doorbell only when we said we sleep (interrupt suppression).
 * Each writev is one packet: a TUN device takes one packet per call.
 */
#include <errno.h>
#include <sched.h>
#include <string.h>
#include <sys/uio.h>

#include "tip.h"

struct rx_logs {
	struct tip_ratelimit bad, src, lost, write;
};
static struct rx_logs rl;   /* rx thread only */

static void recv_packet(struct tpz_endpoint *ep, struct tpz_rx *rx, void *arg)
{
	struct tip_daemon *d = arg;
	struct tip_counters *c = &d->ctr;
	const struct tip_msg *m = rx->data;
	struct iovec iov[2 + TPZ_SG_MAX];
	const char *why;
	int n = 0;

	if (!tip_map_known(&d->map, rx->src)) {
		TIP_INC(c, rx_unknown_src, 1);
		tip_log_rl(&rl.src, TIP_WARN, "dropped a packet from node %u: not in the cluster file", rx->src);
		goto out;
	}
	if (rx->flags & TPZ_F_DROPPED) {   /* the engine lost its payload (no frames) */
		TIP_INC(c, rx_payload_lost, 1);
		tip_log_rl(&rl.lost, TIP_WARN, "dropped a packet from node %u: its payload was lost on the way",
			   rx->src);
		goto out;
	}
	if ((why = tip_msg_check(m, rx->data_len, rx->payload_len))) {
		TIP_INC(c, rx_malformed, 1);
		tip_log_rl(&rl.bad, TIP_WARN, "dropped a malformed packet from node %u: %s", rx->src, why);
		goto out;
	}
	iov[n++] = (struct iovec){ (void *)&m->hdr.vnet, TIP_VNET_SIZE };
	iov[n++] = (struct iovec){ (void *)m->head, m->hdr.head_len };
	uint32_t left = rx->payload_len;
	for (uint32_t i = 0; i < rx->payload.nseg && left; i++) {
		uint32_t k = rx->payload.seg[i].len < left ? rx->payload.seg[i].len : left;
		iov[n++] = (struct iovec){ rx->payload.seg[i].base, k };
		left -= k;
	}
	uint32_t len = m->hdr.head_len + rx->payload_len;
	if (writev(d->tun_fd, iov, n) < 0) {
		/* The kernel refused it (its own checks, or the interface is
		 * down): the packet is lost, the daemon goes on. */
		TIP_INC(c, rx_write_errors, 1);
		tip_log_rl(&rl.write, TIP_WARN, "cannot write a %u-byte packet from node %u to %s: %s", len,
			   rx->src, d->ifname, strerror(errno));
		goto out;
	}
	TIP_INC(c, rx_packets, 1);
	TIP_INC(c, rx_bytes, len);
	if (m->hdr.vnet.gso_type != TIP_GSO_NONE)
		TIP_INC(c, rx_gso, 1);
	if (!rx->payload_len)
		TIP_INC(c, rx_inline, 1);
out:
	tpz_rx_release(ep, rx);
}

static void peer_up(struct tpz_endpoint *ep, uint32_t node, void *arg)
{
	struct tip_daemon *d = arg;

	atomic_store(&d->peer_up[node], 1);
	tip_log(TIP_INFO, "node %u (%s) is up", node, tip_map_url(&d->map, node) ?: "not in the cluster file");
}

static void peer_down(struct tpz_endpoint *ep, uint32_t node, int reason, void *arg)
{
	struct tip_daemon *d = arg;

	atomic_store(&d->peer_up[node], 0);
	tip_log(reason == TPZ_DOWN_CLOSED ? TIP_INFO : TIP_WARN, "node %u is down (%s); packets to it are dropped",
		node, reason == TPZ_DOWN_CLOSED ? "it said goodbye" :
		reason == TPZ_DOWN_DIED ? "it died or its link broke" : "it broke the protocol");
}

int tip_rx_register(struct tip_daemon *d)
{
	struct tpz_handler_ops ops = { .recv = recv_packet, .peer_up = peer_up, .peer_down = peer_down, .arg = d };
	return tpz_handler_register(d->ep, TIP_HANDLER, &ops);
}

void *tip_rx_main(void *arg)
{
	struct tip_daemon *d = arg;

	uint64_t spin_ns = (uint64_t)d->opt.spin_us * 1000, idle_since = 0;

	while (!atomic_load_explicit(&d->stop, memory_order_relaxed)) {
		int n = tpz_poll(d->ep, 0);
		if (n > 0) {
			idle_since = 0;
			continue;
		}
		uint64_t now = tip_now_ns();
		if (!idle_since)
			idle_since = now;
		if (now - idle_since < spin_ns) {
			sched_yield();
			continue;
		}
		/* Bounded, so that a stop is seen within 100 ms. */
		n = tpz_wait(d->ep, 100);
		if (n < 0 && n != -EBUSY && n != -EINTR)
			tip_log(TIP_WARN, "tpz_wait: %s", tpz_strerror(n));
		idle_since = 0;
	}
	return NULL;
}
