/*
 * nrpc_testlib.h - small helpers for the NetRPC test programs (static
 * inline, on top of testlib.h).
 *
 * The usual shape of a NetRPC test: the server is a forked process (node 2
 * unless said otherwise) that creates its endpoint and NetRPC instance,
 * registers its ops, listens, tells the parent its port (0 for shm) through
 * the test pipe and serves until the parent writes a stop word; the client
 * is the parent (node 1).  The pipes only coordinate the test: every byte
 * under test goes through NetRPC.
 */
#ifndef NRPC_TESTLIB_H
#define NRPC_TESTLIB_H

#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <unistd.h>

#include "netrpc.h"
#include "testlib.h"

/* Drive nrpc_poll until cond holds (true) or ms pass (false).  -EBUSY
 * (another thread is driving delivery) is fine: it yields. */
#define NRPC_POLL_UNTIL(r, cond, ms) ({                                     \
	bool _ok = false;                                                   \
	double _end = tl_now_ms() + (ms);                                   \
	for (;;) {                                                          \
		if (cond) { _ok = true; break; }                            \
		if (tl_now_ms() > _end) break;                              \
		int _pr = nrpc_poll((r), 0);                                \
		CHECK(_pr >= 0 || _pr == -EBUSY, "nrpc_poll: %d %s", _pr,   \
		      tpz_strerror(_pr));                                   \
		if (_pr == 0) tl_idle(nrpc_endpoint(r));                    \
		else if (_pr < 0) sched_yield();                            \
	}                                                                   \
	_ok;                                                                \
})

static inline struct nrpc_counters nt_counters(struct nrpc *r)
{
	struct nrpc_counters c;

	memset(&c, 0, sizeof(c));
	nrpc_counters(r, &c);
	return c;
}

static inline void nt_print_counters(const char *who, const struct nrpc_counters *c)
{
	fprintf(stderr, "%s nrpc: issued %llu completed %llu failed %llu timed_out %llu retries %llu "
		"wait/cont/deferred %llu/%llu/%llu bytes %llu/%llu late %llu served %llu "
		"forwarded %llu bad %llu\n", who,
		(unsigned long long)c->calls_issued, (unsigned long long)c->calls_completed,
		(unsigned long long)c->calls_failed, (unsigned long long)c->calls_timed_out,
		(unsigned long long)c->retries, (unsigned long long)c->replies_wait,
		(unsigned long long)c->replies_cont, (unsigned long long)c->replies_deferred,
		(unsigned long long)c->bytes_sent, (unsigned long long)c->bytes_received,
		(unsigned long long)c->late_replies, (unsigned long long)c->requests_served,
		(unsigned long long)c->requests_forwarded, (unsigned long long)c->bad_requests);
}

/* A NetRPC instance on ep; cfg NULL = defaults. */
static inline struct nrpc *nt_nrpc(struct tpz_endpoint *ep, const struct nrpc_config *cfg)
{
	struct nrpc *r = NULL;
	int rc = nrpc_create(ep, cfg, &r);

	CHECK(rc == 0 && r != NULL, "nrpc_create: %d %s", rc, tpz_strerror(rc));
	CHECK(nrpc_endpoint(r) == ep, "nrpc_endpoint does not give back the endpoint");
	return r;
}

static inline void nt_register(struct nrpc *r, uint16_t op, nrpc_op_fn fn, void *arg, unsigned fl)
{
	int rc = nrpc_register(r, op, fn, arg, fl);

	CHECK(rc == 0, "nrpc_register(op %u): %d %s", op, rc, tpz_strerror(rc));
}

/* Client side: endpoint `node`, connected to `peer` (tcp: 127.0.0.1:port). */
static inline struct tpz_endpoint *nt_client_ep(uint32_t node, enum tl_link link,
						uint32_t peer, int port)
{
	struct tpz_config cfg;

	tl_config(&cfg, node, link);
	struct tpz_endpoint *ep = tl_endpoint(&cfg);
	if (link == TL_SHM)
		tl_listen(ep, link);
	tl_connect(ep, peer, link, port);
	return ep;
}

/*
 * Server side: serve (nrpc_poll) until the parent writes a u32 on the pipe,
 * and return it.  each(arg), when given, runs on every turn of the loop
 * (outside any upcall): late replies, held requests.
 */
static inline uint32_t nt_serve(struct nrpc *r, struct tl_proc *self, int ms,
				void (*each)(struct nrpc *r, void *arg), void *arg)
{
	double end = tl_now_ms() + ms;

	for (;;) {
		if (tl_readable(self->rd))
			return tl_get_u32(self->rd, 1000);
		CHECK(tl_now_ms() < end, "server: no stop word from the parent within %d ms", ms);
		int n = nrpc_poll(r, 0);
		CHECK(n >= 0 || n == -EBUSY, "server nrpc_poll: %d %s", n, tpz_strerror(n));
		if (each)
			each(r, arg);
		if (n == 0)
			tl_idle(nrpc_endpoint(r));
	}
}

/* Like tl_get_u32_poll, but drives NetRPC (timers included) meanwhile. */
static inline uint32_t nt_get_u32(struct nrpc *r, int fd, int ms)
{
	uint32_t v;
	bool ok = NRPC_POLL_UNTIL(r, tl_readable(fd), ms);

	CHECK(ok, "the %s process did not answer within %d ms", tl_is_child ? "parent" : "peer", ms);
	tl_get(fd, &v, sizeof(v), 1000);
	return v;
}

/* A reply payload list over one malloc'ed buffer. */
static inline struct tpz_payload nt_buf_payload(void *buf, uint32_t len)
{
	struct tpz_payload pl = { .nseg = 1 };

	pl.seg[0] = (struct tpz_iov){ buf, len };
	return pl;
}

/* Reader of a u32 / pair of u32 from inline arguments or results. */
static inline uint32_t nt_u32(const void *p, uint32_t off)
{
	uint32_t v;

	memcpy(&v, (const uint8_t *)p + off, 4);
	return v;
}

#endif /* NRPC_TESTLIB_H */
