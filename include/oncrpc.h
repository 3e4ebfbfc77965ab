/*
 * oncrpc.h - liboncrpc: an ONC RPC (RFC 5531) server over TCP, written to
 * face untrusted clients.  slice-fmd serves NFSv3 and MOUNTv3 on it and
 * slice-proxy will too.
 *
 * What it does for a program: accepts connections, splits the byte stream
 * into records (record marking, with a maximum record size), checks every
 * call header (RPC version, program, version, procedure, credential and
 * verifier lengths, AUTH_SYS contents) and answers the bad ones itself
 * (MSG_DENIED RPC_MISMATCH or AUTH_ERROR, PROG_UNAVAIL, PROG_MISMATCH,
 * PROC_UNAVAIL).  A good call reaches the program's dispatch function with
 * its credentials, its peer address and its argument bytes; the program
 * answers it once - at once or later, from any thread - with a result body,
 * GARBAGE_ARGS, SYSTEM_ERR, or no reply at all.
 *
 * Bounds: records above max_record close the connection; a connection
 * whose unsent replies exceed max_queued bytes, or with max_inflight calls
 * unanswered, is not read until it drains (back-pressure per connection,
 * never unbounded memory); connections beyond max_conns are closed on
 * accept.
 *
 * Threads: one event-loop thread reads, parses and dispatches; dispatch
 * functions run on it and must not block (hand blocking work to threads of
 * your own and reply from there).  orpc_reply_* may be called from any
 * thread.  Errors: 0 or -errno; the library never prints (it logs through
 * the config's log function) and never exits.
 */
#ifndef ONCRPC_H
#define ONCRPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- protocol constants (RFC 5531) ---------------------------------------- */

#define ORPC_VERSION        2u
#define ORPC_AUTH_NONE      0u
#define ORPC_AUTH_SYS       1u
#define ORPC_AUTH_BODY_MAX  400u    /* opaque_auth body, RFC 5531 */
#define ORPC_AUTH_MACHINE_MAX 255u  /* AUTH_SYS machinename */
#define ORPC_AUTH_GIDS_MAX  16u     /* AUTH_SYS gids */

enum orpc_accept_stat {
	ORPC_SUCCESS       = 0,
	ORPC_PROG_UNAVAIL  = 1,
	ORPC_PROG_MISMATCH = 2,
	ORPC_PROC_UNAVAIL  = 3,
	ORPC_GARBAGE_ARGS  = 4,
	ORPC_SYSTEM_ERR    = 5,
};

enum orpc_auth_stat {
	ORPC_AUTH_OK           = 0,
	ORPC_AUTH_BADCRED      = 1,
	ORPC_AUTH_REJECTEDCRED = 2,
	ORPC_AUTH_BADVERF      = 3,
	ORPC_AUTH_REJECTEDVERF = 4,
	ORPC_AUTH_TOOWEAK      = 5,
};

/* ---- XDR reading with bounds checks -------------------------------------- */

/*
 * A cursor over received bytes.  Every read checks the bounds; a read past
 * the end (or an opaque longer than its maximum) sets `bad` and returns
 * zeros / NULL, so a decoder reads every field and checks `bad` once at
 * the end.  Nothing is copied: opaques point into the buffer.
 */
struct orpc_xdr {
	const uint8_t *p;
	size_t         len;
	size_t         pos;
	bool           bad;
};

static inline void orpc_xdr_init(struct orpc_xdr *x, const void *p, size_t len)
{
	x->p = (const uint8_t *)p;
	x->len = len;
	x->pos = 0;
	x->bad = false;
}

static inline uint32_t orpc_xdr_u32(struct orpc_xdr *x)
{
	if (x->bad || x->len - x->pos < 4) {
		x->bad = true;
		return 0;
	}
	const uint8_t *b = x->p + x->pos;
	x->pos += 4;
	return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

static inline uint64_t orpc_xdr_u64(struct orpc_xdr *x)
{
	uint64_t hi = orpc_xdr_u32(x);
	return hi << 32 | orpc_xdr_u32(x);
}

/* Fixed-length opaque[n] (padded to 4). */
static inline const uint8_t *orpc_xdr_fixed(struct orpc_xdr *x, uint32_t n)
{
	size_t padded = ((size_t)n + 3) & ~(size_t)3;
	if (x->bad || x->len - x->pos < padded) {
		x->bad = true;
		return NULL;
	}
	const uint8_t *b = x->p + x->pos;
	x->pos += padded;
	return b;
}

/* Variable-length opaque<max>: the length, then the bytes. */
static inline const uint8_t *orpc_xdr_opaque(struct orpc_xdr *x, uint32_t *n, uint32_t max)
{
	*n = orpc_xdr_u32(x);
	if (*n > max) {
		x->bad = true;
		*n = 0;
		return NULL;
	}
	const uint8_t *b = orpc_xdr_fixed(x, *n);
	if (!b)
		*n = 0;
	return b;
}

static inline size_t orpc_xdr_left(const struct orpc_xdr *x)
{
	return x->bad ? 0 : x->len - x->pos;
}

/* XDR writing into a buffer the caller sized; `bad` on overflow. */
struct orpc_xdrw {
	uint8_t *p;
	size_t   cap;
	size_t   pos;
	bool     bad;
};

static inline void orpc_xdrw_init(struct orpc_xdrw *w, void *p, size_t cap)
{
	w->p = (uint8_t *)p;
	w->cap = cap;
	w->pos = 0;
	w->bad = false;
}

static inline void orpc_xdrw_u32(struct orpc_xdrw *w, uint32_t v)
{
	if (w->bad || w->cap - w->pos < 4) {
		w->bad = true;
		return;
	}
	uint8_t *b = w->p + w->pos;
	b[0] = (uint8_t)(v >> 24);
	b[1] = (uint8_t)(v >> 16);
	b[2] = (uint8_t)(v >> 8);
	b[3] = (uint8_t)v;
	w->pos += 4;
}

static inline void orpc_xdrw_u64(struct orpc_xdrw *w, uint64_t v)
{
	orpc_xdrw_u32(w, (uint32_t)(v >> 32));
	orpc_xdrw_u32(w, (uint32_t)v);
}

/* ---- record marking (RFC 5531 section 11), as a pure parser ---------------- */

/*
 * Feed it the bytes of a stream in any pieces; it assembles records of at
 * most max_record bytes (the sum of a record's fragments) and at most
 * ORPC_RM_MAX_FRAGS fragments.  Used by the server and by the fuzz target.
 */
#define ORPC_RM_MAX_FRAGS 1024u
#define ORPC_RM_LAST      0x80000000u

struct orpc_rm {
	uint32_t max_record;
	uint32_t frag_left;      /* bytes of the current fragment still to come */
	uint32_t nfrags;         /* fragments of the current record so far */
	bool     in_frag;        /* reading a fragment body (else a header) */
	bool     last;           /* the current fragment ends the record */
	uint8_t  hdr[4];
	uint8_t  hdr_have;
	uint8_t *rec;            /* the record being assembled (malloc) */
	uint32_t rec_len, rec_cap;
};

void orpc_rm_init(struct orpc_rm *rm, uint32_t max_record);
void orpc_rm_reset(struct orpc_rm *rm);   /* frees the partial record */
/*
 * Consume up to len bytes; *used says how many.  Returns 1 when a record is
 * complete (take it with orpc_rm_take before feeding more), 0 when every
 * byte was consumed without completing one, -EMSGSIZE for a record over
 * max_record or with too many fragments, -ENOMEM.  After an error the
 * stream is unusable (close it).
 */
int  orpc_rm_feed(struct orpc_rm *rm, const uint8_t *data, size_t len, size_t *used);
/* The complete record (malloc'd; now the caller's) and its length. */
uint8_t *orpc_rm_take(struct orpc_rm *rm, uint32_t *len);

/* ---- call headers ---------------------------------------------------------- */

struct orpc_cred {
	uint32_t flavor;                       /* ORPC_AUTH_NONE or ORPC_AUTH_SYS */
	uint32_t uid, gid;                     /* AUTH_SYS; 65534 for AUTH_NONE */
	uint32_t ngids;
	uint32_t gids[ORPC_AUTH_GIDS_MAX];
};

struct orpc_call_hdr {
	uint32_t xid, prog, vers, proc;
	struct orpc_cred cred;
	uint32_t args_off;                     /* where the procedure's arguments start */
};

/* What orpc_parse_call concluded about a record. */
enum orpc_verdict {
	ORPC_CALL_OK = 0,        /* a well-formed call: serve it */
	ORPC_CALL_DROP,          /* not a call (a reply, or too short for an xid): ignore it */
	ORPC_CALL_RPC_MISMATCH,  /* rpcvers != 2: MSG_DENIED RPC_MISMATCH */
	ORPC_CALL_AUTH_ERROR,    /* bad or unsupported credential: MSG_DENIED AUTH_ERROR */
	ORPC_CALL_GARBAGE,       /* header cut short: GARBAGE_ARGS */
};
/* Parse the call header of one record; *auth_why is set for AUTH_ERROR. */
enum orpc_verdict orpc_parse_call(const uint8_t *rec, size_t len, struct orpc_call_hdr *h,
				  enum orpc_auth_stat *auth_why);

/* Reply headers, written at buf (which must hold ORPC_REPLY_HDR_MAX bytes);
 * they return the length written.  No record-marking header. */
#define ORPC_REPLY_HDR_MAX 32u
size_t orpc_encode_accepted(uint8_t *buf, uint32_t xid, enum orpc_accept_stat stat,
			    uint32_t low, uint32_t high);   /* low/high: PROG_MISMATCH only */
size_t orpc_encode_rpc_mismatch(uint8_t *buf, uint32_t xid);
size_t orpc_encode_auth_error(uint8_t *buf, uint32_t xid, enum orpc_auth_stat why);

/* ---- the server ------------------------------------------------------------ */

typedef void (*orpc_log_fn)(void *arg, int level, const char *msg);   /* level: syslog's */

struct orpc_server_config {
	uint32_t    max_record;     /* bytes; default 1 MiB + 64 KiB */
	uint32_t    max_conns;      /* default 256 */
	size_t      max_queued;     /* unsent reply bytes per connection; default 8 MiB */
	uint32_t    max_inflight;   /* unanswered calls per connection; default 256 */
	uint32_t    spin_us;        /* after work, poll this long before sleeping; default 0 */
	orpc_log_fn log;
	void       *log_arg;
};
void orpc_server_config_default(struct orpc_server_config *cfg);

struct orpc_server;

/* One call, handed to a dispatch function.  Valid until it is answered. */
struct orpc_call {
	uint32_t                       xid, prog, vers, proc;
	struct orpc_cred               cred;
	const uint8_t                 *args;       /* the procedure's arguments (XDR) */
	uint32_t                       args_len;
	const struct sockaddr_storage *peer;       /* the client's address */
	uint64_t                       conn_id;    /* which connection (for logs) */
	void                          *user;       /* free for the program */
	/* The credential as the client encoded it (opaque_auth: flavor,
	 * length, body), for a proxy that passes it on unchanged. */
	const uint8_t                 *cred_raw;
	uint32_t                       cred_raw_len;
};

typedef void (*orpc_dispatch_fn)(struct orpc_call *call, void *arg);

int  orpc_server_create(const struct orpc_server_config *cfg, struct orpc_server **out);
/* Serve program prog, versions vlow..vhigh, on every listener. */
int  orpc_server_add_program(struct orpc_server *s, uint32_t prog, uint32_t vlow, uint32_t vhigh,
			     uint32_t nprocs, orpc_dispatch_fn fn, void *arg);
/* Listen on addr:port (port 0: pick one); *bound gets the port. */
int  orpc_server_listen(struct orpc_server *s, const char *addr, uint16_t port, uint16_t *bound);
/* Start the event-loop thread. */
int  orpc_server_start(struct orpc_server *s);
/* Stop accepting and reading, close every connection (replies still owed
 * are dropped when they come), join the thread, free everything.  Calls
 * still unanswered must be answered or dropped before or after; they keep
 * their connection's memory alive until then. */
void orpc_server_destroy(struct orpc_server *s);

/*
 * Answering.  Exactly one of these per call; afterwards the call is gone.
 *
 * orpc_reply_buf reserves room for a SUCCESS body of up to body_max bytes
 * and returns where to write it (NULL: -ENOMEM, the call is still yours);
 * orpc_reply_send then sends body_len bytes of it.
 */
uint8_t *orpc_reply_buf(struct orpc_call *c, size_t body_max);
int  orpc_reply_send(struct orpc_call *c, size_t body_len);
/* The whole reply message (header + body_len bytes of body) as it will be
 * sent, for a duplicate request cache; valid until orpc_reply_send. */
const uint8_t *orpc_reply_msg(struct orpc_call *c, size_t body_len, size_t *msg_len);
/* Send a reply message kept from before (same xid), e.g. from the DRC. */
int  orpc_reply_raw(struct orpc_call *c, const void *msg, size_t len);
/* An accepted reply without a body: GARBAGE_ARGS, SYSTEM_ERR, PROC_UNAVAIL... */
int  orpc_reply_error(struct orpc_call *c, enum orpc_accept_stat stat);
/* MSG_DENIED AUTH_ERROR. */
int  orpc_reply_auth_error(struct orpc_call *c, enum orpc_auth_stat why);
/* No reply at all (the client will retransmit, or it was a duplicate). */
void orpc_call_drop(struct orpc_call *c);

/* Text of an address ("127.0.0.1:812"), for logs. */
const char *orpc_addr_str(const struct sockaddr_storage *a, char *buf, size_t len);

struct orpc_counters {
	uint64_t conns_accepted, conns_refused, conns_closed;
	uint64_t calls, replies, bytes_in, bytes_out;
	uint64_t dropped, garbage, denied, prog_unavail, proc_unavail, prog_mismatch;
	uint64_t oversize, throttled;   /* records over max_record; reads paused */
};
void orpc_server_counters(struct orpc_server *s, struct orpc_counters *out);

/* ---- rpcbind (portmapper v2) registration ---------------------------------- */

/* ---- export rules by client address (allow.c) --------------------------- */

struct orpc_cidr {
	int     family;            /* AF_INET or AF_INET6 */
	uint8_t addr[16];
	int     bits;              /* prefix length */
};
/* "ADDR[/BITS]" in the n bytes at s: 0 or -EINVAL. */
int  orpc_cidr_parse(const char *s, size_t n, struct orpc_cidr *out);
/* Is peer inside one of the n prefixes?  n == 0: loopback only. */
bool orpc_peer_allowed(const struct orpc_cidr *allow, uint32_t n, const struct sockaddr_storage *peer);

/* Register/unregister prog/vers on TCP port with the portmapper at
 * 127.0.0.1:111 (UDP).  -ECONNREFUSED / -ETIMEDOUT when none runs. */
int orpc_pmap_set(uint32_t prog, uint32_t vers, uint16_t port);
int orpc_pmap_unset(uint32_t prog, uint32_t vers);

#ifdef __cplusplus
}
#endif
#endif
