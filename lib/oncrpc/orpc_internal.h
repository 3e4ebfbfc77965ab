/*
 * orpc_internal.h - what the pieces of liboncrpc share.  Not installed.
 *
 *   xdr           (inline in oncrpc.h) bounds-checked XDR cursors
 *   record.c      record marking: the byte stream into records (fuzzed)
 *   msg.c         call header and AUTH_SYS parsing, reply headers (fuzzed)
 *   conn.c        one connection: reading records, the reply queue and its
 *                 byte bound, pausing and resuming, closing
 *   server.c      listeners, the event loop, dispatch to the programs
 *   reply.c       the orpc_reply_* calls a program answers with
 *   pmap.c        registration with rpcbind (portmapper v2 over UDP)
 *   nfs3_args.c   NFSv3 and MOUNTv3 argument decoders (oncrpc_nfs3.h)
 */
#ifndef ORPC_INTERNAL_H
#define ORPC_INTERNAL_H

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <syslog.h>

#include "oncrpc.h"

#define ORPC_MAX_PROGS     8
#define ORPC_MAX_LISTEN    4
#define ORPC_RX_CHUNK      (64u << 10)   /* one recv */
#define ORPC_ACCEPTED_HDR  24u           /* xid, REPLY, ACCEPTED, verf(2), stat */

/* What an epoll event points at: a listener, a connection, or the wake-up
 * eventfd. */
enum ev_kind { EV_LISTEN = 1, EV_CONN = 2, EV_WAKE = 3 };
struct ev {
	enum ev_kind kind;
	int          fd;
};

/* One reply message on its way: 4 bytes of record mark, then the message. */
struct txbuf {
	struct txbuf *next;
	size_t        len;     /* bytes in data[] to send (mark included) */
	size_t        off;     /* bytes already sent */
	size_t        cap;
	uint8_t       data[];
};

struct orpc_conn {
	struct ev           ev;
	struct orpc_server *s;
	uint64_t            id;
	struct sockaddr_storage peer;

	pthread_mutex_t     mu;          /* everything below up to `rm` */
	int                 refs;        /* the loop's (while open) + one per call */
	bool                dead;        /* closed: replies are dropped */
	bool                reading;     /* EPOLLIN armed */
	bool                want_out;    /* EPOLLOUT armed */
	bool                resume_queued;
	uint32_t            inflight;    /* calls dispatched, not answered */
	size_t              queued;      /* reply bytes not yet sent */
	struct txbuf       *txq, *txq_tail;

	/* The loop thread's alone: */
	struct orpc_rm      rm;
	uint8_t            *held;        /* bytes received while paused */
	size_t              held_len;
	struct orpc_conn   *next, *prev; /* the server's list (under s->mu) */
	struct orpc_conn   *resume_next; /* the resume list (under s->mu) */
};

struct orpc_prog {
	uint32_t         prog, vlow, vhigh, nprocs;
	orpc_dispatch_fn fn;
	void            *arg;
};

struct orpc_ctr {
	_Atomic uint64_t conns_accepted, conns_refused, conns_closed;
	_Atomic uint64_t calls, replies, bytes_in, bytes_out;
	_Atomic uint64_t dropped, garbage, denied, prog_unavail, proc_unavail, prog_mismatch;
	_Atomic uint64_t oversize, throttled;
};
#define OCTR(s, f, n) atomic_fetch_add_explicit(&(s)->ctr.f, (n), memory_order_relaxed)

struct orpc_server {
	struct orpc_server_config cfg;
	int               epfd;
	struct ev         wake;          /* eventfd: stop, resume */
	struct ev         listen[ORPC_MAX_LISTEN];
	int               nlisten;
	struct orpc_prog  progs[ORPC_MAX_PROGS];
	int               nprogs;
	pthread_t         thread;
	bool              started;
	atomic_bool       stopping;

	pthread_mutex_t   mu;            /* conns, nconns, resume, refs */
	struct orpc_conn *conns;
	uint32_t          nconns;
	struct orpc_conn *resume;
	int               refs;          /* 1 + live connections */
	uint64_t          next_id;

	uint8_t          *rxbuf;         /* the loop's recv buffer */
	struct orpc_ctr   ctr;
};

/* A call in the hands of a program: the public part, then ours. */
struct orpc_call_priv {
	struct orpc_call  pub;
	struct orpc_conn *conn;
	uint8_t          *rec;           /* the record the arguments live in */
	struct txbuf     *reply;         /* from orpc_reply_buf */
};

void orpc_logf(struct orpc_server *s, int level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* conn.c */
struct orpc_conn *orpc_conn_new(struct orpc_server *s, int fd, const struct sockaddr_storage *peer);
void orpc_conn_readable(struct orpc_conn *c, bool hangup);
void orpc_conn_writable(struct orpc_conn *c);
void orpc_conn_resume(struct orpc_conn *c);
void orpc_conn_close(struct orpc_conn *c, const char *why);
void orpc_conn_unref(struct orpc_conn *c);
/* Queue (or send at once) a reply; `call_done`: it answers a dispatched
 * call (one fewer in flight). Takes the txbuf; NULL: a call answered
 * with no reply. */
void orpc_conn_send(struct orpc_conn *c, struct txbuf *tb, bool call_done);
struct txbuf *orpc_txbuf_new(size_t msg_cap);

/* server.c */
void orpc_server_unref(struct orpc_server *s);
void orpc_server_wake(struct orpc_server *s);
/* Serve one complete record that arrived on c (takes rec). */
void orpc_serve_record(struct orpc_conn *c, uint8_t *rec, uint32_t len);

#endif
