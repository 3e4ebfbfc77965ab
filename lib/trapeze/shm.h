/*
 * shm.h - what the three files of the shm link share: the fabric segment's
 * layout (fabric.c), the control connections (link_shm.c) and the data
 * path (shm_data.c).
 */
#ifndef TPZ_SHM_H
#define TPZ_SHM_H

#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>

#include "ring.h"
#include "tpz_internal.h"

#define CMA_PROBE   0x65626f72702d616dull

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

static inline struct tpz_ring *fab_ring(struct tpz_shm *s, uint32_t from, uint32_t to)
{
	return (struct tpz_ring *)((uint8_t *)s->hdr + s->hdr->ring_off +
				   ((uint64_t)from * s->hdr->nodes + to) * s->hdr->ring_stride);
}

extern bool tpz_shm_asym_fence;   /* senders skip the Dekker fence (membarrier) */
extern const volatile uint64_t tpz_cma_probe;

bool tpz_pid_alive(pid_t pid);
void tpz_shm_ctl_addr(struct sockaddr_un *a, socklen_t *len, const char *fabric, uint32_t node);
void tpz_shm_accept_event(struct tpz_endpoint *ep, struct tpz_evsrc *src, uint32_t events);
void tpz_shm_free_desc_frames(struct tpz_endpoint *ep, struct tpz_desc *d, uint32_t owner);
void tpz_shm_run_pending(struct tpz_endpoint *ep, struct tpz_peer *p, struct shm_chan *ch, int status);
void tpz_shm_close(struct tpz_endpoint *ep, struct tpz_peer *p, void *link, bool goodbye);

#endif
