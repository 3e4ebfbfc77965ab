/*
 * trapeze.h - the Trapeze messaging library: the whole public API.
 *
 * An endpoint is one process's attachment to the fabric.  Modules register a
 * handler id and an upcall; a message is a 128-byte control message (up to
 * TPZ_INLINE_MAX bytes of inline data) with at most one payload, given as a
 * scatter/gather list.  Payload memory is best taken from the endpoint's
 * frame pool: frames move between processes on one host without copies.
 *
 * Threads: tpz_send(), the frame calls and the IPT calls may be used from any
 * thread.  tpz_poll()/tpz_wait() (delivery: upcalls, send completions, link
 * events) must be driven by one thread at a time.  Upcalls run on that thread
 * and must not block.
 *
 * Errors: every call returns 0 (or a count) on success and -errno on failure;
 * the library never prints, aborts or exits.  Reasons for refused
 * connections and dropped input go to the log callback in the config.
 */
#ifndef TRAPEZE_H
#define TRAPEZE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "trapeze_wire.h"

#ifdef __cplusplus
extern "C" {
#endif

struct tpz_endpoint;

#define TPZ_NODE_ANY   UINT32_MAX
#define TPZ_SG_MAX     16u      /* segments in one payload */

/* One segment of a payload: either (part of) a pool frame, or any memory. */
struct tpz_iov {
	void    *base;
	uint32_t len;
};

/* A payload: a scatter/gather list.  Total length <= the configured maximum. */
struct tpz_payload {
	uint32_t       nseg;
	struct tpz_iov seg[TPZ_SG_MAX];
};

typedef void (*tpz_log_fn)(void *arg, int level, const char *msg);
enum { TPZ_LOG_ERR = 3, TPZ_LOG_WARN = 4, TPZ_LOG_INFO = 6, TPZ_LOG_DEBUG = 7 };

struct tpz_config {
	uint32_t    node;          /* this endpoint's node id (< TPZ_MAX_NODES) */
	uint32_t    max_payload;   /* 64 KiB .. 1 MiB; default 1 MiB */
	uint32_t    frame_size;    /* pool frame size, power of two >= 4 KiB; default 64 KiB */
	uint32_t    pool_frames;   /* frames in the pool; default 512 */
	uint32_t    ring_slots;    /* slots per ring, power of two; default 256 */
	uint32_t    spin_us;       /* tpz_wait spins this long before sleeping; default 50 */
	const char *fabric;        /* shm fabric name (one host); NULL = no shm link */
	uint32_t    fabric_nodes;  /* node slots when creating the fabric (at least node + 1); default 64.
	                              * A node joining an existing fabric must fit its slots. */
	const char *secret;        /* cluster secret for tcp; NULL = refuse tcp */
	tpz_log_fn  log;           /* where reasons go; NULL = silent */
	void       *log_arg;
};

#define TPZ_MAX_NODES 256u

/* What a handler receives.  Valid only during the upcall, except the payload
 * frames, which the handler now owns (free them with tpz_rx_release() or
 * keep them and free each with tpz_frame_free()). */
struct tpz_rx {
	const struct tpz_msg *msg;      /* header + inline data, read-only */
	uint32_t              src;      /* sending node */
	uint16_t              flags;    /* TPZ_F_*, incl. TPZ_F_DROPPED */
	const void           *data;     /* inline data */
	uint32_t              data_len;
	uint32_t              payload_len;  /* 0 if none or dropped */
	struct tpz_payload    payload;  /* frames holding the payload, or the IPT buffer */
	bool                  placed;   /* payload was placed in the posted IPT buffer */
	void                 *ipt_cookie;   /* the cookie given to tpz_ipt_post() */
};

enum tpz_down_reason {
	TPZ_DOWN_CLOSED    = 1,   /* orderly close */
	TPZ_DOWN_DIED      = 2,   /* the process or connection went away */
	TPZ_DOWN_PROTOCOL  = 3,   /* it sent malformed bytes; we closed it */
};

struct tpz_handler_ops {
	void (*recv)(struct tpz_endpoint *ep, struct tpz_rx *rx, void *arg);
	void (*peer_up)(struct tpz_endpoint *ep, uint32_t node, void *arg);
	void (*peer_down)(struct tpz_endpoint *ep, uint32_t node, int reason, void *arg);
	void *arg;
};

/* Send completion: the engine no longer reads the payload's memory. */
typedef void (*tpz_done_fn)(void *arg, int status);

struct tpz_send {
	uint32_t                  dst;
	uint8_t                   handler;
	const void               *data;       /* inline data */
	uint32_t                  data_len;   /* <= TPZ_INLINE_MAX */
	const struct tpz_payload *payload;    /* NULL = none */
	uint64_t                  token;      /* receiver's IPT token, 0 = none */
	tpz_done_fn               done;       /* see tpz_send() */
	void                     *done_arg;
	uint32_t                  flags;      /* TPZ_SEND_* */
};

/* The payload's pool frames are lent, not given: they stay the sender's
 * (e.g. pages of a cache), the receiver copies them once, and done runs
 * when the engine no longer reads them.  Needs a done callback. */
#define TPZ_SEND_LEND 0x1u

/* Counters: monotonic, readable at any time. */
struct tpz_counters {
	uint64_t msgs_sent, msgs_recv;
	uint64_t bytes_sent, bytes_recv;          /* payload bytes */
	uint64_t ring_full;                       /* sends refused for lack of credit */
	uint64_t wakeups_sent, wakeups_suppressed;
	uint64_t sleeps;                          /* tpz_wait went to sleep */
	uint64_t ipt_hits, ipt_misses, ipt_drops; /* placed / no live entry (forged, stale,
	                                            other peer) / entry unusable (too big,
	                                            cancelled mid-payload) */
	uint64_t unknown_handler;                 /* dropped: no module registered */
	uint64_t peers_up, peers_down;
	uint64_t protocol_errors;                 /* connections closed for bad bytes */
	uint64_t auth_refused;
	uint64_t payload_copies;                  /* payloads the engine copied once */
	uint64_t payload_zero_copy;               /* payloads moved without a copy */
	uint64_t frames_free, frames_total;       /* pool state (snapshot) */
};

/* ---- endpoints ---------------------------------------------------------- */
void tpz_config_default(struct tpz_config *cfg);
int  tpz_endpoint_create(const struct tpz_config *cfg, struct tpz_endpoint **out);
void tpz_endpoint_destroy(struct tpz_endpoint *ep);   /* goodbye to peers, frees all */
uint32_t tpz_node(const struct tpz_endpoint *ep);
uint32_t tpz_max_payload(const struct tpz_endpoint *ep);
void tpz_counters(struct tpz_endpoint *ep, struct tpz_counters *out);
const char *tpz_strerror(int err);   /* -errno or positive errno -> text */

/* ---- modules ------------------------------------------------------------ */
int tpz_handler_register(struct tpz_endpoint *ep, uint8_t id, const struct tpz_handler_ops *ops);
int tpz_handler_unregister(struct tpz_endpoint *ep, uint8_t id);

/* ---- links and peers ---------------------------------------------------- */
/* url: "shm" (the fabric named in the config) or "tcp://HOST:PORT". */
int tpz_listen(struct tpz_endpoint *ep, const char *url);
int tpz_listen_port(struct tpz_endpoint *ep);          /* bound tcp port, after tpz_listen */
int tpz_connect(struct tpz_endpoint *ep, uint32_t node, const char *url, int timeout_ms);
int tpz_disconnect(struct tpz_endpoint *ep, uint32_t node);
bool tpz_peer_is_up(struct tpz_endpoint *ep, uint32_t node);

/* A cluster file: one line per node, "node ID URL", '#' comments. */
struct tpz_cluster_node { uint32_t node; char url[128]; };
int tpz_cluster_load(const char *path, struct tpz_cluster_node *nodes, int max);
int tpz_cluster_parse(const char *text, struct tpz_cluster_node *nodes, int max);

/* ---- frames (unified buffering) ----------------------------------------- */
void  *tpz_frame_alloc(struct tpz_endpoint *ep);       /* NULL when the pool is empty */
int    tpz_frame_free(struct tpz_endpoint *ep, void *frame);   /* -EINVAL if not a frame */
size_t tpz_frame_size(const struct tpz_endpoint *ep);
bool   tpz_is_frame(const struct tpz_endpoint *ep, const void *p);
/* Fill pl with frames for len bytes (the last may be partly used). */
int    tpz_payload_alloc(struct tpz_endpoint *ep, struct tpz_payload *pl, size_t len);
void   tpz_payload_free(struct tpz_endpoint *ep, struct tpz_payload *pl);
size_t tpz_payload_len(const struct tpz_payload *pl);
void   tpz_rx_release(struct tpz_endpoint *ep, struct tpz_rx *rx);   /* frees rx payload frames */

/* ---- sending ------------------------------------------------------------ */
/*
 * Queue one message.  Payload segments that are pool frames pass to the
 * engine with the message (and to the receiver): do not touch or free them
 * after a successful send.  Other memory is read in place by the engine when
 * a done callback is given (it runs, from tpz_poll(), once the engine no
 * longer needs the memory).  Without one, the memory is free again when
 * tpz_send returns: over shm the engine copies it into frames; over tcp it
 * is written to the socket straight away and only what the socket did not
 * take is copied.  Either way a payload is copied at most once end to end.
 * Returns 0, -EAGAIN (no credit: the receiver's ring is full; poll and retry),
 * -ENOBUFS (shm: no free pool frame for the one copy; receivers still hold
 * them; poll and retry), -EMSGSIZE (payload over the maximum, inline data
 * over 96 bytes), -ENOTCONN (peer not up), -EINVAL (bad handler id, bad
 * list, TPZ_SEND_LEND without done).
 */
int tpz_send(struct tpz_endpoint *ep, const struct tpz_send *s);
/*
 * Burst: queue up to n messages in order, taking each peer's lock once per
 * run of messages to it and waking/flushing once per run (one doorbell, one
 * sendmsg).  Returns how many were queued (stopping at the first that
 * fails; that one's error if none was).  Messages after a failed one are not
 * sent: their payloads stay the caller's.
 */
int tpz_send_burst(struct tpz_endpoint *ep, const struct tpz_send *s, int n);
/* Convenience: inline-only message. */
int tpz_send_inline(struct tpz_endpoint *ep, uint32_t dst, uint8_t handler,
		    const void *data, uint32_t len);

/* ---- incoming payload table --------------------------------------------- */
/*
 * Post a buffer for one expected payload from node `from` (or TPZ_NODE_ANY).
 * The token goes to the sender (e.g. in an RPC request); the payload of the
 * message carrying it is placed straight into buf.  The entry dies on first
 * match or on cancel; afterwards the token is refused.  A payload arriving
 * with a wrong or stale key, or larger than buf, is dropped and its control
 * message delivered with TPZ_F_DROPPED and payload_len 0.
 */
int tpz_ipt_post(struct tpz_endpoint *ep, uint32_t from, const struct tpz_payload *buf,
		 void *cookie, uint64_t *token);
int tpz_ipt_cancel(struct tpz_endpoint *ep, uint64_t token);   /* -ENOENT if already gone */

/* ---- delivery ----------------------------------------------------------- */
/* Deliver what has arrived, up to max messages (0 = no limit); returns how many. */
int tpz_poll(struct tpz_endpoint *ep, int max);
/*
 * Deliver at least one message, waiting up to timeout_ms (-1 = forever):
 * spin spin_us, then sleep until a sender or link wakes us.  Returns the
 * number delivered (0 on timeout).  Send completions that wait only for a
 * peer to finish reading (lent frames, one-copy reads of our memory) do
 * not keep it awake: it then sleeps at most 1 ms at a time, and they run
 * on the next poll.
 */
int tpz_wait(struct tpz_endpoint *ep, int timeout_ms);
/* A file descriptor that becomes readable when tpz_poll has work (for event loops). */
int tpz_event_fd(struct tpz_endpoint *ep);

#ifdef __cplusplus
}
#endif
#endif /* TRAPEZE_H */
