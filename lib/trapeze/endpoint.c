/*
 * endpoint.c - creating and destroying an endpoint, handler registration,
 * counters and the log hook.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#include <sodium.h>

#include "tpz_internal.h"

uint64_t tpz_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void tpz_log(struct tpz_endpoint *ep, int level, const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	if (!ep->cfg.log)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	ep->cfg.log(ep->cfg.log_arg, level, buf);
}

void tpz_config_default(struct tpz_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->max_payload = TPZ_PAYLOAD_CEIL;
	cfg->frame_size = 64u << 10;
	cfg->pool_frames = 512;
	cfg->ring_slots = 256;
	cfg->spin_us = 50;
	cfg->fabric_nodes = 64;
}

static bool pow2(uint32_t v) { return v && !(v & (v - 1)); }

static int check_config(const struct tpz_config *c)
{
	if (c->node >= TPZ_MAX_NODES)
		return -EINVAL;
	if (c->max_payload < TPZ_PAYLOAD_MIN || c->max_payload > TPZ_PAYLOAD_CEIL)
		return -EINVAL;
	if (!pow2(c->frame_size) || c->frame_size < 4096 || c->frame_size > TPZ_PAYLOAD_CEIL)
		return -EINVAL;
	if ((uint64_t)c->frame_size * TPZ_SG_MAX < c->max_payload)
		return -EINVAL;   /* a maximal payload must fit in one S/G list */
	if (!pow2(c->ring_slots) || c->ring_slots < 2 || c->ring_slots > 65536)
		return -EINVAL;
	if (c->pool_frames < 1 || c->pool_frames > (1u << 22))
		return -EINVAL;
	if (c->fabric && (strlen(c->fabric) == 0 || strlen(c->fabric) > 40 || strchr(c->fabric, '/')))
		return -EINVAL;
	if (c->fabric && (c->fabric_nodes < 2 || c->fabric_nodes > TPZ_MAX_NODES || c->node >= TPZ_MAX_NODES))
		return -EINVAL;
	if (c->secret && strlen(c->secret) >= 128)
		return -EINVAL;
	return 0;
}

static void doorbell_event(struct tpz_endpoint *ep, struct tpz_evsrc *src, uint32_t events)
{
	uint64_t v;
	/* Just drain it: the wake-up's only job was to end epoll_wait. */
	if (read(ep->evfd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		tpz_log(ep, TPZ_LOG_WARN, "doorbell read: %s", strerror(errno));
}

static int private_pool(struct tpz_endpoint *ep)
{
	size_t len = tpz_pool_bytes(ep->cfg.frame_size, ep->cfg.pool_frames);
	void *mem = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (mem == MAP_FAILED)
		return -errno;
	tpz_pool_format(mem, ep->cfg.frame_size, ep->cfg.pool_frames);
	ep->pool_mem = mem;
	ep->pool_mem_len = len;
	return tpz_pool_open(&ep->pool, mem);
}

int tpz_endpoint_create(const struct tpz_config *cfg, struct tpz_endpoint **out)
{
	struct tpz_endpoint *ep;
	int rc;

	if (!cfg || !out)
		return -EINVAL;
	if ((rc = check_config(cfg)) < 0)
		return rc;
	if (sodium_init() < 0)
		return -EIO;
	ep = calloc(1, sizeof(*ep));
	if (!ep)
		return -ENOMEM;
	ep->cfg = *cfg;
	ep->max_payload = cfg->max_payload;
	if (cfg->secret) {
		snprintf(ep->secret, sizeof(ep->secret), "%s", cfg->secret);
		ep->cfg.secret = ep->secret;
	}
	if (cfg->fabric) {
		snprintf(ep->fabric_name, sizeof(ep->fabric_name), "%s", cfg->fabric);
		ep->cfg.fabric = ep->fabric_name;
	}
	for (uint32_t i = 0; i < TPZ_MAX_NODES; i++) {
		ep->peers[i].node = i;
	}
	ep->epfd = -1;
	ep->evfd = -1;
	pthread_mutex_init(&ep->done_lock, NULL);
	pthread_mutex_init(&ep->up_lock, NULL);
	if ((rc = tpz_ipt_init(&ep->ipt)) < 0)
		goto err_free;
	ep->epfd = epoll_create1(EPOLL_CLOEXEC);
	ep->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (ep->epfd < 0 || ep->evfd < 0) {
		rc = -errno;
		goto err_fds;
	}
	ep->ev_doorbell = (struct tpz_evsrc){ .fn = doorbell_event, .fd = ep->evfd };
	if ((rc = tpz_ev_add(ep, &ep->ev_doorbell, EPOLLIN)) < 0)
		goto err_fds;
	/* With a fabric the pool is the shared one (frames move by index);
	 * without, a private pool serves the tcp link the same way. */
	rc = cfg->fabric ? tpz_shm_attach(ep) : private_pool(ep);
	if (rc < 0)
		goto err_fds;
	tpz_stat_open(ep);
	*out = ep;
	return 0;

err_fds:
	if (ep->epfd >= 0)
		close(ep->epfd);
	if (ep->evfd >= 0)
		close(ep->evfd);
	tpz_ipt_fini(&ep->ipt);
err_free:
	free(ep);
	return rc;
}

void tpz_endpoint_destroy(struct tpz_endpoint *ep)
{
	if (!ep)
		return;
	for (uint32_t i = 0; i < TPZ_MAX_NODES; i++) {
		struct tpz_peer *p = &ep->peers[i];
		if (atomic_load(&p->state) == PEER_UP)
			tpz_peer_down(ep, p, TPZ_DOWN_CLOSED, true);
	}
	tpz_tcp_fini(ep);
	tpz_stat_close(ep);
	if (ep->shm)
		tpz_shm_detach(ep);
	if (ep->pool_mem)
		munmap(ep->pool_mem, ep->pool_mem_len);
	close(ep->epfd);
	close(ep->evfd);
	tpz_ipt_fini(&ep->ipt);
	free(ep->done_q);
	pthread_mutex_destroy(&ep->done_lock);
	pthread_mutex_destroy(&ep->up_lock);
	free(ep);
}

uint32_t tpz_node(const struct tpz_endpoint *ep) { return ep ? ep->cfg.node : TPZ_NODE_ANY; }
uint32_t tpz_max_payload(const struct tpz_endpoint *ep) { return ep ? ep->max_payload : 0; }
int tpz_event_fd(struct tpz_endpoint *ep) { return ep ? ep->epfd : -EINVAL; }

int tpz_handler_register(struct tpz_endpoint *ep, uint8_t id, const struct tpz_handler_ops *ops)
{
	if (!ep || !ops || !ops->recv || id == TPZ_HANDLER_LINK || id >= TPZ_HANDLER_MAX)
		return -EINVAL;
	if (ep->handlers[id].used)
		return -EEXIST;
	ep->handlers[id].ops = *ops;
	ep->handlers[id].used = true;
	return 0;
}

int tpz_handler_unregister(struct tpz_endpoint *ep, uint8_t id)
{
	if (!ep || id >= TPZ_HANDLER_MAX)
		return -EINVAL;
	if (!ep->handlers[id].used)
		return -ENOENT;
	ep->handlers[id].used = false;
	return 0;
}

#define LOAD(f) atomic_load_explicit(&ep->ctr.f, memory_order_relaxed)
#define TXSUM(f) tx_sum(ep, offsetof(struct tpz_txctr, f))
static uint64_t tx_sum(struct tpz_endpoint *ep, size_t off)
{
	uint64_t n = 0;
	for (uint32_t i = 0; i < TPZ_MAX_NODES; i++)
		n += atomic_load_explicit((_Atomic uint64_t *)((uint8_t *)&ep->peers[i].tx + off),
					  memory_order_relaxed);
	return n;
}

void tpz_counters(struct tpz_endpoint *ep, struct tpz_counters *o)
{
	if (!ep || !o)
		return;
	*o = (struct tpz_counters){
		.msgs_sent = TXSUM(msgs), .msgs_recv = LOAD(msgs_recv),
		.bytes_sent = TXSUM(bytes), .bytes_recv = LOAD(bytes_recv),
		.ring_full = TXSUM(ring_full),
		.wakeups_sent = TXSUM(wakeups_sent), .wakeups_suppressed = TXSUM(wakeups_suppressed),
		.sleeps = LOAD(sleeps),
		.ipt_hits = LOAD(ipt_hits), .ipt_misses = LOAD(ipt_misses), .ipt_drops = LOAD(ipt_drops),
		.unknown_handler = LOAD(unknown_handler),
		.peers_up = LOAD(peers_up), .peers_down = LOAD(peers_down),
		.protocol_errors = LOAD(protocol_errors), .auth_refused = LOAD(auth_refused),
		.payload_copies = LOAD(payload_copies) + TXSUM(copies),
		.payload_zero_copy = LOAD(payload_zero_copy) + TXSUM(zero_copy),
		.frames_free = tpz_pool_free_count(&ep->pool), .frames_total = ep->pool.nframes,
	};
}

const char *tpz_strerror(int err)
{
	if (err == INT_MIN)
		return "unknown error";
	if (err < 0)
		err = -err;
	switch (err) {
	case 0: return "success";
	case EAGAIN: return "no credit: the receiver's ring is full (poll and retry)";
	case EMSGSIZE: return "message too large (inline > 96 bytes or payload over the maximum)";
	case ENOTCONN: return "peer is not connected";
	case ECONNREFUSED: return "connection refused";
	case EACCES: return "refused: wrong cluster secret";
	case EPROTO: return "protocol error";
	default: return strerror(err);
	}
}
