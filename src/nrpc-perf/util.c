/*
 * util.c - nrpc-perf's helpers for both ends: endpoint and NetRPC setup,
 * payload byte access, delivery in the end's mode.
 */
#include <errno.h>
#include <stdio.h>

#include "nperf.h"

#define FRAME_SIZE (64u << 10)

/*
 * Frames the run needs, with room to spare: the server's cache, one reply
 * buffer per slot (read), and for writes the request frames in flight at
 * both ends (tcp: the sender's until written, the receiver's until freed).
 * Over shm both ends share one pool and must ask for the same size, which
 * they do: both derive it from the same options.  A --listen server does not
 * know its clients' options and takes a large pool (touched only as used).
 */
uint32_t np_pool_frames(const struct np_opts *o)
{
	uint64_t fpb, need;

	if (o->pk.listen_port >= 0)
		return 8192;
	fpb = o->size ? (o->size + FRAME_SIZE - 1) / FRAME_SIZE + 1 : 0;
	need = 2ull * o->inflight * fpb + (NP_CACHE_BLOCKS * (uint64_t)o->size) / FRAME_SIZE + 1 + 128;
	return need < 512 ? 512 : (uint32_t)need;
}

/* Rings as deep as the calls in flight (at least the default 256): a reply
 * then never waits for ring space.  Both ends derive the same value. */
uint32_t np_ring_slots(const struct np_opts *o)
{
	uint32_t s = 256;

	if (o->pk.listen_port >= 0)
		return 1024;
	while (s < 2 * o->inflight)
		s <<= 1;
	return s;
}

int endpoint_open(void *arg, uint32_t node, const char *fabric, const char *who,
		  struct tpz_endpoint **out)
{
	const struct np_opts *o = arg;
	struct tpz_config cfg;
	int rc;

	pk_endpoint_config(&cfg, &o->pk, node, fabric, who);
	cfg.fabric_nodes = o->pk.node + 1 > 2 ? o->pk.node + 1 : 2;
	cfg.frame_size = FRAME_SIZE;
	cfg.pool_frames = np_pool_frames(o);
	cfg.ring_slots = np_ring_slots(o);
	rc = tpz_endpoint_create(&cfg, out);
	if (rc < 0)
		fprintf(stderr, "nrpc-perf: %s: cannot create endpoint (node %u, %s%s%s, %u frames): %s\n",
			who, node, pk_link_name(o->pk.link), fabric && o->pk.link == PK_LINK_SHM ? " " : "",
			fabric && o->pk.link == PK_LINK_SHM ? fabric : "", cfg.pool_frames, tpz_strerror(rc));
	return rc;
}

int np_nrpc_open(const struct np_opts *o, struct tpz_endpoint *ep, const char *who,
		 struct nrpc **out)
{
	struct nrpc_config cfg;
	int rc;

	nrpc_config_default(&cfg);
	/* No blocking ops and no deferred continuations here: no workers.
	 * Everything else as shipped (max_calls 16384, credits 8192: enough
	 * for NP_MAX_INFLIGHT, as a continuation re-issues before its own
	 * record is freed, i.e. up to 2 records per slot). */
	cfg.workers = 0;
	if (o->max_calls)
		cfg.max_calls = o->max_calls;
	if (o->call_timeout_ms)
		cfg.timeout_ms = o->call_timeout_ms;
	rc = nrpc_create(ep, &cfg, out);
	if (rc < 0)
		fprintf(stderr, "nrpc-perf: %s: nrpc_create: %s\n", who, tpz_strerror(rc));
	return rc;
}

/* The byte at offset off of a payload (NULL past its end). */
uint8_t *np_byte_at(const struct tpz_payload *pl, uint32_t off)
{
	for (uint32_t i = 0; i < pl->nseg; i++) {
		if (off < pl->seg[i].len)
			return (uint8_t *)pl->seg[i].base + off;
		off -= pl->seg[i].len;
	}
	return NULL;
}

int np_drive(const struct np_opts *o, struct nrpc *r)
{
	int rc = o->pk.mode == PK_MODE_BLOCK ? nrpc_progress(r, 10) : nrpc_poll(r, 0);

	return rc == -EBUSY ? 0 : rc;
}
