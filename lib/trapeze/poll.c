/*
 * poll.c - delivery: tpz_poll runs the links' receive paths and the send
 * completions; tpz_wait spins, then announces that it sleeps and sleeps in
 * epoll until a link or a sender's doorbell wakes it.
 *
 * Interrupt suppression: a sender rings our doorbell only if it sees our
 * "sleeping" announcement (shm), and it clears the announcement as it rings,
 * so one wake-up covers every message sent while we slept.  Under load we
 * never sleep and nobody rings.
 */
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include "tpz_internal.h"

/* Link events (new connections, dead peers, handshakes) are looked at
 * every EV_NS: an epoll_wait costs more than a whole shm round trip, so it
 * must be rare on a spinning path, yet a slow poller must not wait long.
 * The clock is read every 32nd idle poll (and every EV_BUSY-th busy one). */
#define EV_NS   500000ull
#define EV_BUSY 1024
/* Longest sleep while only completions of sends are awaited. */
#define DONE_NAP_MS 1
/* A spinning waiter gives the CPU away this often (sched_yield). */
#define SPIN_YIELD_NS 2000ull

int tpz_ev_add(struct tpz_endpoint *ep, struct tpz_evsrc *src, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = src };
	return epoll_ctl(ep->epfd, EPOLL_CTL_ADD, src->fd, &ev) < 0 ? -errno : 0;
}

void tpz_ev_del(struct tpz_endpoint *ep, struct tpz_evsrc *src)
{
	epoll_ctl(ep->epfd, EPOLL_CTL_DEL, src->fd, NULL);
	/* The source may be freed now: forget it in the batch being dispatched. */
	for (int i = 0; i < ep->ev_n; i++)
		if (ep->ev_batch[i].data.ptr == src)
			ep->ev_batch[i].data.ptr = NULL;
}

int tpz_ev_dispatch(struct tpz_endpoint *ep, int timeout_ms)
{
	int n = epoll_wait(ep->epfd, ep->ev_batch, 16, timeout_ms);

	if (n <= 0)
		return n < 0 && errno != EINTR ? -errno : 0;
	ep->ev_n = n;
	for (int i = 0; i < n; i++) {
		struct tpz_evsrc *src = ep->ev_batch[i].data.ptr;
		if (src)
			src->fn(ep, src, ep->ev_batch[i].events);
	}
	ep->ev_n = 0;
	return n;
}

void tpz_complete_later(struct tpz_endpoint *ep, tpz_done_fn fn, void *arg, int status)
{
	if (!fn)
		return;
	pthread_mutex_lock(&ep->done_lock);
	if (ep->done_n == ep->done_cap) {
		uint32_t cap = ep->done_cap ? ep->done_cap * 2 : 64;
		struct tpz_done *q = realloc(ep->done_q, cap * sizeof(*q));
		if (!q) {   /* cannot queue: run it here rather than lose it */
			pthread_mutex_unlock(&ep->done_lock);
			fn(arg, status);
			return;
		}
		ep->done_q = q;
		ep->done_cap = cap;
	}
	ep->done_q[ep->done_n++] = (struct tpz_done){ fn, arg, status };
	atomic_store_explicit(&ep->done_pending, 1, memory_order_release);
	pthread_mutex_unlock(&ep->done_lock);
}

static void run_completions(struct tpz_endpoint *ep)
{
	struct tpz_done local[64];
	uint32_t n;

	/* acquire: pairs with the release in tpz_complete_later. */
	while (atomic_load_explicit(&ep->done_pending, memory_order_acquire)) {
		pthread_mutex_lock(&ep->done_lock);
		n = ep->done_n < 64 ? ep->done_n : 64;
		memcpy(local, ep->done_q + ep->done_n - n, n * sizeof(*local));
		ep->done_n -= n;
		if (!ep->done_n)
			atomic_store_explicit(&ep->done_pending, 0, memory_order_relaxed);
		pthread_mutex_unlock(&ep->done_lock);
		/* Run outside the lock: a completion may send again. */
		for (uint32_t i = n; i-- > 0;)
			local[i].fn(local[i].arg, local[i].status);
	}
}

int tpz_poll(struct tpz_endpoint *ep, int max)
{
	int n = 0, budget = max > 0 ? max : 1 << 30;

	if (!ep)
		return -EINVAL;
	/* One delivery thread at a time, and not re-entrant: an upcall that
	 * polls would deliver out of order.  Threads that lose get -EBUSY. */
	if (atomic_exchange_explicit(&ep->polling, 1, memory_order_acquire))
		return -EBUSY;
	/* acquire: pairs with the release in tpz_peer_up (entry before count). */
	for (uint32_t i = 0; i < atomic_load_explicit(&ep->nup, memory_order_acquire) && n < budget; i++) {
		struct tpz_peer *p = &ep->peers[ep->up_list[i]];
		if (atomic_load_explicit(&p->state, memory_order_relaxed) == PEER_UP)
			n += p->ops->poll(ep, p, budget - n);
	}
	run_completions(ep);
	/* Link events (new connections, dead peers) are rare: look now and
	 * then, not on every spin of a busy loop. */
	if (++ep->poll_ticks % (n ? EV_BUSY : 32) == 0) {
		uint64_t now = tpz_now_ns();
		if (now - ep->ev_last >= EV_NS) {
			ep->ev_last = now;
			tpz_ev_dispatch(ep, 0);
			tpz_tcp_tick(ep);
			tpz_stat_publish(ep, false);
		}
	}
	atomic_store_explicit(&ep->polling, 0, memory_order_release);
	return n;
}

static unsigned anything_pending(struct tpz_endpoint *ep)
{
	unsigned pend = atomic_load(&ep->done_pending) ? TPZ_PEND_INPUT : 0;

	for (uint32_t i = 0; i < atomic_load(&ep->nup) && !(pend & TPZ_PEND_INPUT); i++) {
		struct tpz_peer *p = &ep->peers[ep->up_list[i]];
		if (atomic_load(&p->state) == PEER_UP)
			pend |= p->ops->pending(ep, p);
	}
	return pend;
}

int tpz_wait(struct tpz_endpoint *ep, int timeout_ms)
{
	if (!ep)
		return -EINVAL;
	uint64_t start = tpz_now_ns(), yielded = start;
	uint64_t spin_end = start + (uint64_t)ep->cfg.spin_us * 1000;
	uint64_t end = timeout_ms < 0 ? UINT64_MAX : start + (uint64_t)timeout_ms * 1000000;
	int n;

	for (;;) {
		if ((n = tpz_poll(ep, 0)) != 0)
			return n;   /* messages, or -EBUSY */
		uint64_t now = tpz_now_ns();
		if (now >= end)
			return 0;
		if (now < spin_end) {
			/* Every few microseconds, let a process that shares this
			 * CPU run - quite possibly the very peer we wait for: a
			 * spinner that never yields holds the CPU for its whole
			 * slice while the answer waits behind it. */
			if (now - yielded >= SPIN_YIELD_NS) {
				sched_yield();
				yielded = now;
			} else {
				tpz_cpu_relax();
			}
			continue;
		}
		/* Announce the sleep, then look once more: a sender that
		 * published before seeing the announcement is caught here
		 * (the barrier pairs with ring_doorbell in shm_data.c). */
		tpz_shm_sleep_prepare(ep, true);
		unsigned pend = anything_pending(ep);
		if (pend & TPZ_PEND_INPUT) {
			tpz_shm_sleep_prepare(ep, false);
			continue;
		}
		RX_INC(ep, sleeps, 1);
		int ms = end == UINT64_MAX ? -1 : (int)((end - now + 999999) / 1000000);
		/* Sends a peer is still reading complete without a wake-up: nap
		 * (spinning here would take the CPU from that very reader, and
		 * a block server may have hundreds of replies out). */
		if ((pend & TPZ_PEND_DONE) && (ms < 0 || ms > DONE_NAP_MS))
			ms = DONE_NAP_MS;
		if (atomic_exchange_explicit(&ep->polling, 1, memory_order_acquire))
			return -EBUSY;
		/* Wake at least once a second for handshake deadlines. */
		tpz_ev_dispatch(ep, ms < 0 || ms > 1000 ? 1000 : ms);
		tpz_tcp_tick(ep);
		tpz_stat_publish(ep, false);
		atomic_store_explicit(&ep->polling, 0, memory_order_release);
		tpz_shm_sleep_prepare(ep, false);
		spin_end = 0;   /* woken: poll, and sleep again at once if it was spurious */
	}
}
