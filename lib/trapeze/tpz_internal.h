/*
 * tpz_internal.h - what the pieces of libtrapeze share.  Not installed.
 *
 * Map of the library (one concern per file):
 *   endpoint.c  create/destroy, handlers, counters, logging
 *   ring.c      SPSC rings of 128-byte slots (the shm link's rings)
 *   frame.c     the frame pool (private or in the shm fabric segment)
 *   ipt.c       the incoming payload table (tokens)
 *   deliver.c   the receive path shared by all links: checks, IPT, upcalls
 *   send.c      tpz_send: argument checks, then the peer's link
 *   poll.c      tpz_poll/tpz_wait: spin, then sleep; event sources
 *   peer.c      peer table, peer up/down
 *   fabric.c    the shm fabric segment: layout, node slots, doorbell fences
 *   link_shm.c  the shm link's control side: connect, accept, peer death
 *   shm_data.c  the shm link's data path: send, receive, one-copy reads
 *   link_tcp.c  the tcp link: handshake, send queue, socket I/O
 *   tcp_rx.c    the tcp receive state machine (fuzzed)
 *   connect.c   tpz_listen/tpz_connect: URL to link
 *   auth.c      the handshake MACs (libsodium)
 *   cluster.c   cluster file parsing
 *   stat.c      counters published for tpz-stat
 */
#ifndef TPZ_INTERNAL_H
#define TPZ_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <sys/epoll.h>
#include <sys/types.h>

#include "trapeze.h"

#define TPZ_CACHELINE 64
#if defined(__x86_64__) || defined(__i386__)
#define tpz_cpu_relax() __builtin_ia32_pause()
#else
#define tpz_cpu_relax() atomic_signal_fence(memory_order_seq_cst)
#endif
#define TPZ_IPT_SIZE  16384u           /* live tokens per endpoint */
#define TPZ_POLL_BATCH 32              /* messages per burst dequeue */

struct tpz_endpoint;
struct tpz_peer;

/* ---- frame pool --------------------------------------------------------- */
struct tpz_pool_shared;                /* lives in the pool memory itself */
struct tpz_pool {
	struct tpz_pool_shared *sh;
	uint8_t  *data;                /* frame 0 */
	uint32_t  frame_size;
	uint32_t  frame_shift;
	uint32_t  nframes;
};
size_t tpz_pool_bytes(uint32_t frame_size, uint32_t nframes);
void   tpz_pool_format(void *mem, uint32_t frame_size, uint32_t nframes);
int    tpz_pool_open(struct tpz_pool *p, void *mem);
int    tpz_pool_get(struct tpz_pool *p, uint32_t owner);         /* index or -ENOMEM */
void   tpz_pool_put(struct tpz_pool *p, uint32_t idx);
bool   tpz_pool_put_owned(struct tpz_pool *p, uint32_t idx, uint32_t owner);
void   tpz_pool_set_owner(struct tpz_pool *p, uint32_t idx, uint32_t owner);
bool   tpz_pool_claim(struct tpz_pool *p, uint32_t idx, uint32_t from, uint32_t to);
int    tpz_pool_index(const struct tpz_pool *p, const void *addr); /* -1 if outside */
/* Free, once each, the pool frames that hold pl's segments (a segment may
 * start anywhere inside its frame, and two may share one); memory outside
 * the pool is left alone. */
void   tpz_payload_put_frames(struct tpz_endpoint *ep, const struct tpz_payload *pl);
uint32_t tpz_pool_free_count(const struct tpz_pool *p);
uint32_t tpz_pool_reclaim(struct tpz_pool *p, uint32_t owner);   /* frees owner's frames */
static inline void *tpz_pool_addr(const struct tpz_pool *p, uint32_t idx)
{
	return p->data + ((size_t)idx << p->frame_shift);
}
#define TPZ_OWNER_NONE 0u
#define TPZ_OWNER(node) ((node) + 1u)
#define TPZ_OWNER_FREEING UINT32_MAX   /* transient, while a free is in progress */
/* A frame in a ring, sent by node but not yet claimed by its receiver: it
 * stays the sender's until then, so a sender killed anywhere in a send
 * leaves nothing that its death does not reclaim. */
#define TPZ_OWNER_SENT_BIT 0x40000000u
#define TPZ_OWNER_SENT(node) (TPZ_OWNER(node) | TPZ_OWNER_SENT_BIT)

/* ---- incoming payload table --------------------------------------------- */
enum { IPT_FREE = 0, IPT_ARMED = 1, IPT_FILLING = 2 };
struct tpz_ipt_entry {
	uint32_t           key;
	uint32_t           state;
	uint32_t           from;
	uint32_t           cap;        /* bytes the buffer holds */
	uint32_t           next_free;
	bool               cancelled;  /* cancelled while FILLING: discard the rest */
	void              *cookie;
	struct tpz_payload buf;
};
struct tpz_ipt {
	pthread_mutex_t       lock;    /* held while the engine writes into a buffer */
	struct tpz_ipt_entry *e;
	uint32_t              free_head;
	uint64_t              rng;
};
int  tpz_ipt_init(struct tpz_ipt *t);
void tpz_ipt_fini(struct tpz_ipt *t);
/* Under t->lock: find an ARMED entry for token from src; NULL and a reason if none. */
struct tpz_ipt_entry *tpz_ipt_match(struct tpz_endpoint *ep, uint64_t token, uint32_t src,
				    uint32_t len, const char **why);
void tpz_ipt_retire(struct tpz_ipt *t, struct tpz_ipt_entry *e);  /* under lock */
void tpz_ipt_peer_down(struct tpz_endpoint *ep, uint32_t node);

/* ---- links ---------------------------------------------------------------- */
struct tpz_link_ops {
	const char *name;
	/* Queue msg (header filled in) with payload pl; done as in tpz_send. */
	int  (*send)(struct tpz_endpoint *ep, struct tpz_peer *p, struct tpz_msg *m,
		     const struct tpz_payload *pl, uint32_t pl_len, tpz_done_fn done, void *arg,
		     uint32_t flags);
	/* After a burst queued with TPZ_SEND_DEFER: wake the peer / write it out
	 * (caller holds send_lock). */
	void (*kick)(struct tpz_endpoint *ep, struct tpz_peer *p);
	/* Deliver up to budget arrived messages; run completions.  Returns count. */
	int  (*poll)(struct tpz_endpoint *ep, struct tpz_peer *p, int budget);
	/* What could poll do now (checked before sleeping): TPZ_PEND_INPUT,
	 * deliver messages; TPZ_PEND_DONE, run completions of sends the peer
	 * is still reading (it rings no doorbell when it is done). */
	unsigned (*pending)(struct tpz_endpoint *ep, struct tpz_peer *p);
	/* Tear the link state down (no sender can be inside any more);
	 * goodbye: tell the other side first.  Frees link. */
	void (*close)(struct tpz_endpoint *ep, struct tpz_peer *p, void *link, bool goodbye);
};
extern const struct tpz_link_ops tpz_shm_ops, tpz_tcp_ops;
#define TPZ_PEND_INPUT 0x1u
#define TPZ_PEND_DONE  0x2u

/* Internal send flag: part of a burst; ops->kick follows. */
#define TPZ_SEND_DEFER 0x80000000u

/* ---- event sources (epoll) ------------------------------------------------ */
struct tpz_evsrc {
	void (*fn)(struct tpz_endpoint *ep, struct tpz_evsrc *src, uint32_t events);
	int   fd;
};
int  tpz_ev_add(struct tpz_endpoint *ep, struct tpz_evsrc *src, uint32_t events);
void tpz_ev_del(struct tpz_endpoint *ep, struct tpz_evsrc *src);
int  tpz_ev_dispatch(struct tpz_endpoint *ep, int timeout_ms);

/* ---- peers ---------------------------------------------------------------- */
enum { PEER_DOWN = 0, PEER_UP = 1 };
/* A tiny spinlock: held for a ring write or one sendmsg, never longer;
 * one locked instruction per send instead of a mutex's two. */
typedef struct { _Atomic int v; } tpz_lock_t;
static inline void tpz_lock(tpz_lock_t *l)
{
	/* acquire: pairs with the release in tpz_unlock. */
	while (atomic_exchange_explicit(&l->v, 1, memory_order_acquire))
		while (atomic_load_explicit(&l->v, memory_order_relaxed))
			tpz_cpu_relax();
}
static inline void tpz_unlock(tpz_lock_t *l)
{
	atomic_store_explicit(&l->v, 0, memory_order_release);
}

/* Counters with one writer at a time (the delivery thread, or a sender
 * under the peer's send_lock): a plain add, no locked instruction. */
#define CTR_INC(var, n) atomic_store_explicit(&(var), \
	atomic_load_explicit(&(var), memory_order_relaxed) + (n), memory_order_relaxed)

struct tpz_txctr {     /* written under send_lock */
	_Atomic uint64_t msgs, bytes, ring_full, wakeups_sent, wakeups_suppressed, copies, zero_copy;
};

struct tpz_peer {
	uint32_t                   node;
	_Atomic int                state;
	const struct tpz_link_ops *ops;
	void                      *link;        /* the link's per-peer state */
	tpz_lock_t                 send_lock;   /* senders on several threads */
	struct tpz_txctr           tx;
	uint32_t                   tx_seq;      /* under send_lock */
	uint32_t                   rx_seq;      /* delivery thread only */
};
struct tpz_peer *tpz_peer_get(struct tpz_endpoint *ep, uint32_t node);   /* NULL if out of range */
void tpz_peer_up(struct tpz_endpoint *ep, struct tpz_peer *p, const struct tpz_link_ops *ops, void *link);
/* Take the peer down: stop senders, close its link, reclaim, tell modules. */
void tpz_peer_down(struct tpz_endpoint *ep, struct tpz_peer *p, int reason, bool goodbye);

/* ---- the endpoint --------------------------------------------------------- */
struct tpz_handler_slot {
	bool                   used;
	struct tpz_handler_ops ops;
};

struct tpz_ctr {   /* receive side and rare events; send side: tpz_txctr */
	_Atomic uint64_t msgs_recv, bytes_recv, sleeps;
	_Atomic uint64_t ipt_hits, ipt_misses, ipt_drops, unknown_handler;
	_Atomic uint64_t peers_up, peers_down, protocol_errors, auth_refused;
	_Atomic uint64_t payload_copies, payload_zero_copy;
};
/* CTR_ADD: rare events, any thread.  RX_INC: the delivery thread only.
 * TX_INC: under the peer's send_lock. */
#define CTR_ADD(ep, f, n) atomic_fetch_add_explicit(&(ep)->ctr.f, (n), memory_order_relaxed)
#define RX_INC(ep, f, n) CTR_INC((ep)->ctr.f, n)
#define TX_INC(p, f, n) CTR_INC((p)->tx.f, n)

struct tpz_done { tpz_done_fn fn; void *arg; int status; };
/* Queue a send completion; it runs from the next tpz_poll (any thread may call). */
void tpz_complete_later(struct tpz_endpoint *ep, tpz_done_fn fn, void *arg, int status);

struct tpz_shm;     /* link_shm.c */
struct tpz_stat_page;
struct tpz_tcp;     /* link_tcp.c */

struct tpz_endpoint {
	struct tpz_config       cfg;
	char                    fabric_name[64];
	char                    secret[128];
	struct tpz_pool         pool;
	void                   *pool_mem;       /* private pool mapping, if not in shm */
	size_t                  pool_mem_len;
	struct tpz_ipt          ipt;
	struct tpz_handler_slot handlers[TPZ_HANDLER_MAX];
	struct tpz_peer         peers[TPZ_MAX_NODES];
	uint32_t                up_list[TPZ_MAX_NODES];   /* node ids of up peers */
	_Atomic uint32_t        nup;
	pthread_mutex_t         up_lock;        /* edits of up_list */
	struct tpz_ctr          ctr;
	int                     epfd;
	int                     evfd;           /* our doorbell (eventfd) */
	struct tpz_evsrc        ev_doorbell;
	uint32_t                poll_ticks;
	uint64_t                ev_last;        /* last look at link events */
	_Atomic int             polling;        /* one delivery thread at a time */
	struct epoll_event      ev_batch[16];   /* being dispatched (see tpz_ev_del) */
	int                     ev_n;
	pthread_mutex_t         done_lock;      /* send completions to run in poll */
	struct tpz_done        *done_q;
	uint32_t                done_n, done_cap;
	_Atomic uint32_t        done_pending;
	struct tpz_stat_page   *stat;           /* counters for tpz-stat (stat.c) */
	char                    stat_name[96];
	uint64_t                stat_last;
	struct tpz_shm         *shm;            /* NULL without a fabric */
	struct tpz_tcp         *tcp;            /* NULL until listen/connect */
	uint32_t                max_payload;
};

void tpz_log(struct tpz_endpoint *ep, int level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* deliver.c: the one receive path.  The payload is already in memory:
 * either frames (rx->payload, owned by the handler after the call) or the
 * IPT buffer (rx->placed).  Frees frames itself when nobody takes them. */
void tpz_deliver(struct tpz_endpoint *ep, struct tpz_peer *p, struct tpz_rx *rx);
/* Validate a header from a link; NULL if fine, else the reason. */
const char *tpz_wire_check(const struct tpz_msg *m, uint32_t max_payload);

/* stat.c */
void tpz_stat_open(struct tpz_endpoint *ep);
void tpz_stat_publish(struct tpz_endpoint *ep, bool now);
void tpz_stat_close(struct tpz_endpoint *ep);

/* shm link entry points used by endpoint.c and poll.c */
int  tpz_shm_attach(struct tpz_endpoint *ep);
void tpz_shm_detach(struct tpz_endpoint *ep);
int  tpz_shm_connect(struct tpz_endpoint *ep, uint32_t node, int timeout_ms);
void tpz_shm_sleep_prepare(struct tpz_endpoint *ep, bool sleeping);
/* tcp link entry points */
int  tpz_tcp_listen(struct tpz_endpoint *ep, const char *hostport);
int  tpz_tcp_connect(struct tpz_endpoint *ep, uint32_t node, const char *hostport, int timeout_ms);
void tpz_tcp_fini(struct tpz_endpoint *ep);
void tpz_tcp_tick(struct tpz_endpoint *ep);   /* handshake deadlines */
int  tpz_tcp_port(struct tpz_endpoint *ep);
/* auth.c */
void tpz_auth_key(const char *secret, uint8_t key[32]);
void tpz_auth_mac(const uint8_t key[32], char role, const uint8_t *nonce1, const uint8_t *nonce2,
		  uint32_t connector, uint32_t acceptor, uint8_t mac[TPZ_MAC_SIZE]);
bool tpz_auth_verify(const uint8_t key[32], char role, const uint8_t *nonce1, const uint8_t *nonce2,
		     uint32_t connector, uint32_t acceptor, const uint8_t mac[TPZ_MAC_SIZE]);
void tpz_auth_nonce(uint8_t nonce[TPZ_NONCE_SIZE]);

uint64_t tpz_now_ns(void);
void tpz_msg_init(struct tpz_msg *m, uint8_t handler, uint32_t src, uint32_t dst);

#endif
