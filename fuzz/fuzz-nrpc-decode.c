/*
 * fuzz-nrpc-decode.c - libFuzzer target for the NetRPC header and argument
 * decoder and the dispatch behind it.
 *
 * Input: byte 0 = Trapeze source node, bytes 1.. = the message's inline data
 * (at most 96 bytes).  A message that passes nrpc_decode goes on to the real
 * request or reply path (replies to nowhere fail with -ENOTCONN, which is
 * fine); ops 1 and 2 are registered, op 2 as blocking (a worker thread).
 */
#include <stdlib.h>
#include <string.h>

#include "netrpc.h"
#include "netrpc/nrpc_internal.h"

static struct tpz_endpoint *ep;
static struct nrpc *r;

static void op_echo(struct nrpc_req *req, void *arg)
{
	nrpc_reply(req, 0, req->args, req->args_len, NULL, 0, NULL, NULL);
}

static void op_silent(struct nrpc_req *req, void *arg)
{
	/* returns without answering: the library must answer -EIO for it */
}

/* The endpoint's counter page in /dev/shm goes away with it. */
static void cleanup(void)
{
	nrpc_destroy(r);
	tpz_endpoint_destroy(ep);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	if (!ep) {
		struct tpz_config cfg;
		struct nrpc_config nc;
		tpz_config_default(&cfg);
		cfg.pool_frames = 16;
		if (tpz_endpoint_create(&cfg, &ep) < 0)
			abort();
		atexit(cleanup);
		nrpc_config_default(&nc);
		nc.max_calls = 64;
		nc.workers = 1;
		if (nrpc_create(ep, &nc, &r) < 0)
			abort();
		nrpc_register(r, 1, op_echo, NULL, NRPC_OP_FAST);
		nrpc_register(r, 2, op_silent, NULL, NRPC_OP_BLOCKING);
	}
	if (len < 1 || len > 1 + TPZ_INLINE_MAX)
		return 0;
	struct tpz_msg m = { 0 };
	struct tpz_rx rx = { .msg = &m, .src = data[0], .data = m.data, .data_len = (uint32_t)(len - 1) };
	memcpy(m.data, data + 1, len - 1);
	struct nrpc_hdr h;
	if (nrpc_decode(&rx, r->cfg.max_calls, &h))
		return 0;
	if (h.kind == NRPC_REQUEST)
		nrpc_on_request(r, &rx, &h);
	else
		nrpc_on_reply(r, &rx, &h);
	return 0;
}
