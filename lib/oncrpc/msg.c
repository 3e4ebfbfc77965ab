/*
 * msg.c - the call header (RFC 5531 section 9) and the reply headers.
 *
 * orpc_parse_call reads a record as the enemy wrote it: every length is
 * checked against the record and against the protocol's maximum before it
 * is used, and the AUTH_SYS body must fill its declared length exactly.
 * The verdict says what the server owes the client: nothing (not a call),
 * a MSG_DENIED, GARBAGE_ARGS, or service.
 */
#include <string.h>

#include "oncrpc.h"

#define MSG_CALL      0u
#define MSG_REPLY     1u
#define MSG_ACCEPTED  0u
#define MSG_DENIED    1u
#define REJ_RPC_MISMATCH 0u
#define REJ_AUTH_ERROR   1u

#define NOBODY 65534u

/* The AUTH_SYS body (RFC 5531 appendix A): stamp, machinename<255>, uid,
 * gid, gids<16>, nothing after. */
static bool parse_auth_sys(const uint8_t *body, uint32_t len, struct orpc_cred *c)
{
	struct orpc_xdr x;
	uint32_t n;

	orpc_xdr_init(&x, body, len);
	(void)orpc_xdr_u32(&x);                                /* stamp */
	(void)orpc_xdr_opaque(&x, &n, ORPC_AUTH_MACHINE_MAX);  /* machinename */
	c->uid = orpc_xdr_u32(&x);
	c->gid = orpc_xdr_u32(&x);
	c->ngids = orpc_xdr_u32(&x);
	if (x.bad || c->ngids > ORPC_AUTH_GIDS_MAX)
		return false;
	for (uint32_t i = 0; i < c->ngids; i++)
		c->gids[i] = orpc_xdr_u32(&x);
	return !x.bad && orpc_xdr_left(&x) == 0;
}

enum orpc_verdict orpc_parse_call(const uint8_t *rec, size_t len, struct orpc_call_hdr *h,
				  enum orpc_auth_stat *auth_why)
{
	struct orpc_xdr x;
	uint32_t cred_flavor, cred_len, verf_len;
	const uint8_t *cred;

	memset(h, 0, sizeof(*h));
	*auth_why = ORPC_AUTH_OK;
	orpc_xdr_init(&x, rec, len);
	h->xid = orpc_xdr_u32(&x);
	uint32_t mtype = orpc_xdr_u32(&x);
	if (x.bad || mtype != MSG_CALL)
		return ORPC_CALL_DROP;
	uint32_t rpcvers = orpc_xdr_u32(&x);
	if (x.bad)
		return ORPC_CALL_GARBAGE;
	if (rpcvers != ORPC_VERSION)
		return ORPC_CALL_RPC_MISMATCH;
	h->prog = orpc_xdr_u32(&x);
	h->vers = orpc_xdr_u32(&x);
	h->proc = orpc_xdr_u32(&x);
	cred_flavor = orpc_xdr_u32(&x);
	cred_len = orpc_xdr_u32(&x);
	if (x.bad)
		return ORPC_CALL_GARBAGE;
	if (cred_len > ORPC_AUTH_BODY_MAX) {
		*auth_why = ORPC_AUTH_BADCRED;
		return ORPC_CALL_AUTH_ERROR;
	}
	cred = orpc_xdr_fixed(&x, cred_len);
	(void)orpc_xdr_u32(&x);            /* verifier flavor: AUTH_NONE or ignored */
	verf_len = orpc_xdr_u32(&x);
	if (x.bad)
		return ORPC_CALL_GARBAGE;
	if (verf_len > ORPC_AUTH_BODY_MAX) {
		*auth_why = ORPC_AUTH_BADVERF;
		return ORPC_CALL_AUTH_ERROR;
	}
	(void)orpc_xdr_fixed(&x, verf_len);
	if (x.bad)
		return ORPC_CALL_GARBAGE;
	h->args_off = (uint32_t)x.pos;

	h->cred.flavor = cred_flavor;
	switch (cred_flavor) {
	case ORPC_AUTH_NONE:
		h->cred.uid = h->cred.gid = NOBODY;
		break;
	case ORPC_AUTH_SYS:
		if (!parse_auth_sys(cred, cred_len, &h->cred)) {
			*auth_why = ORPC_AUTH_BADCRED;
			return ORPC_CALL_AUTH_ERROR;
		}
		break;
	default:   /* AUTH_DH, RPCSEC_GSS...: not offered */
		*auth_why = ORPC_AUTH_BADCRED;
		return ORPC_CALL_AUTH_ERROR;
	}
	return ORPC_CALL_OK;
}

static size_t put(uint8_t *buf, size_t pos, uint32_t v)
{
	buf[pos] = (uint8_t)(v >> 24);
	buf[pos + 1] = (uint8_t)(v >> 16);
	buf[pos + 2] = (uint8_t)(v >> 8);
	buf[pos + 3] = (uint8_t)v;
	return pos + 4;
}

size_t orpc_encode_accepted(uint8_t *buf, uint32_t xid, enum orpc_accept_stat stat,
			    uint32_t low, uint32_t high)
{
	size_t n = put(buf, 0, xid);
	n = put(buf, n, MSG_REPLY);
	n = put(buf, n, MSG_ACCEPTED);
	n = put(buf, n, ORPC_AUTH_NONE);   /* verifier: AUTH_NONE, empty */
	n = put(buf, n, 0);
	n = put(buf, n, stat);
	if (stat == ORPC_PROG_MISMATCH) {
		n = put(buf, n, low);
		n = put(buf, n, high);
	}
	return n;
}

size_t orpc_encode_rpc_mismatch(uint8_t *buf, uint32_t xid)
{
	size_t n = put(buf, 0, xid);
	n = put(buf, n, MSG_REPLY);
	n = put(buf, n, MSG_DENIED);
	n = put(buf, n, REJ_RPC_MISMATCH);
	n = put(buf, n, ORPC_VERSION);
	return put(buf, n, ORPC_VERSION);
}

size_t orpc_encode_auth_error(uint8_t *buf, uint32_t xid, enum orpc_auth_stat why)
{
	size_t n = put(buf, 0, xid);
	n = put(buf, n, MSG_REPLY);
	n = put(buf, n, MSG_DENIED);
	n = put(buf, n, REJ_AUTH_ERROR);
	return put(buf, n, why);
}
