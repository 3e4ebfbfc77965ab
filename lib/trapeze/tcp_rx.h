/*
 * tcp_rx.h - the tcp receive state machine, separate from the socket so the
 * fuzzer can drive it with arbitrary bytes.
 *
 * Headers are read in bulk into a small buffer (many 128-byte control
 * messages per system call).  A payload is read straight into its final
 * place, the posted IPT buffer or fresh pool frames; only the few bytes of
 * it that arrived in the same read as its header are moved out of the
 * header buffer.  After a large payload the next header is read exactly,
 * so a stream of large messages never passes through the header buffer.
 */
#ifndef TPZ_TCP_RX_H
#define TPZ_TCP_RX_H

#include <sys/types.h>
#include <sys/uio.h>

#include "tpz_internal.h"

#define TPZ_RX_BULK  4096u
#define TPZ_RX_SINK  16384u

struct tpz_tcp_rx {
	_Alignas(64) uint8_t  buf[TPZ_RX_BULK];
	uint32_t              len, off;        /* unparsed bytes are buf[off, len) */
	bool                  exact;           /* next header read: exactly 128 bytes */
	bool                  in_payload;
	bool                  discard;         /* payload goes to the sink */
	struct tpz_msg        cur;             /* header whose payload is arriving */
	struct tpz_payload    dst;
	uint32_t              got;
	struct tpz_ipt_entry *e;               /* FILLING entry, if placing */
	const char           *drop_why;
	uint8_t               sink[TPZ_RX_SINK];
};

/* Read into iov like readv(2): bytes, 0 at end of stream, -1/errno. */
typedef ssize_t (*tpz_readv_fn)(void *ctx, const struct iovec *iov, int n);

/*
 * Deliver up to budget messages.  Returns the number delivered, or
 *   -EPIPE       end of stream (with *why "closed by peer")
 *   -ESHUTDOWN   the peer said goodbye
 *   -EPROTO      malformed bytes (*why says what)
 *   -errno       a read error
 */
int tpz_tcp_rx_run(struct tpz_endpoint *ep, struct tpz_peer *p, struct tpz_tcp_rx *r,
		   tpz_readv_fn rd, void *ctx, int budget, const char **why);
/* Complete headers waiting in the buffer? */
bool tpz_tcp_rx_pending(const struct tpz_tcp_rx *r);
/* Forget a half-received payload (connection closing). */
void tpz_tcp_rx_abort(struct tpz_endpoint *ep, struct tpz_tcp_rx *r);

#endif
