/*
 * reply.c - how a program answers a call: once, from any thread.  The
 * reply goes into one buffer with room for the record mark and the reply
 * header in front of the body, so a body is written once, in place, and
 * the whole message leaves with one send.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "orpc_internal.h"

static struct orpc_call_priv *priv(struct orpc_call *c)
{
	return (struct orpc_call_priv *)c;
}

/* The call is answered: give back its record and its references. */
static void finish(struct orpc_call_priv *cp, struct txbuf *tb)
{
	struct orpc_conn *conn = cp->conn;
	free(cp->rec);
	free(cp->reply);
	free(cp);
	orpc_conn_send(conn, tb, true);   /* tb NULL: no reply, just bookkeeping */
	orpc_conn_unref(conn);
}

static void set_mark(struct txbuf *tb, size_t msg_len)
{
	uint32_t mark = htonl(ORPC_RM_LAST | (uint32_t)msg_len);
	memcpy(tb->data, &mark, 4);
	tb->len = 4 + msg_len;
}

uint8_t *orpc_reply_buf(struct orpc_call *c, size_t body_max)
{
	struct orpc_call_priv *cp = priv(c);
	if (body_max > 0x7fffffffu - ORPC_ACCEPTED_HDR - 4)
		return NULL;
	if (cp->reply && cp->reply->cap >= 4 + ORPC_ACCEPTED_HDR + body_max)
		return cp->reply->data + 4 + ORPC_ACCEPTED_HDR;
	free(cp->reply);
	cp->reply = orpc_txbuf_new(ORPC_ACCEPTED_HDR + body_max);
	if (!cp->reply)
		return NULL;
	return cp->reply->data + 4 + ORPC_ACCEPTED_HDR;
}

const uint8_t *orpc_reply_msg(struct orpc_call *c, size_t body_len, size_t *msg_len)
{
	struct orpc_call_priv *cp = priv(c);
	struct txbuf *tb = cp->reply;
	if (!tb || 4 + ORPC_ACCEPTED_HDR + body_len > tb->cap)
		return NULL;
	orpc_encode_accepted(tb->data + 4, c->xid, ORPC_SUCCESS, 0, 0);
	*msg_len = ORPC_ACCEPTED_HDR + body_len;
	return tb->data + 4;
}

int orpc_reply_send(struct orpc_call *c, size_t body_len)
{
	struct orpc_call_priv *cp = priv(c);
	struct txbuf *tb = cp->reply;
	if (!tb || 4 + ORPC_ACCEPTED_HDR + body_len > tb->cap)
		return -EINVAL;
	orpc_encode_accepted(tb->data + 4, c->xid, ORPC_SUCCESS, 0, 0);
	set_mark(tb, ORPC_ACCEPTED_HDR + body_len);
	cp->reply = NULL;
	finish(cp, tb);
	return 0;
}

int orpc_reply_raw(struct orpc_call *c, const void *msg, size_t len)
{
	struct txbuf *tb = orpc_txbuf_new(len);
	if (!tb)
		return -ENOMEM;
	memcpy(tb->data + 4, msg, len);
	set_mark(tb, len);
	finish(priv(c), tb);
	return 0;
}

int orpc_reply_error(struct orpc_call *c, enum orpc_accept_stat stat)
{
	struct txbuf *tb = orpc_txbuf_new(ORPC_REPLY_HDR_MAX);
	if (!tb)
		return -ENOMEM;
	if (stat == ORPC_GARBAGE_ARGS)
		OCTR(priv(c)->conn->s, garbage, 1);
	/* PROG_MISMATCH is the library's to send; a program has no range */
	if (stat == ORPC_PROG_MISMATCH || stat == ORPC_SUCCESS)
		stat = ORPC_SYSTEM_ERR;
	set_mark(tb, orpc_encode_accepted(tb->data + 4, c->xid, stat, 0, 0));
	finish(priv(c), tb);
	return 0;
}

int orpc_reply_auth_error(struct orpc_call *c, enum orpc_auth_stat why)
{
	struct txbuf *tb = orpc_txbuf_new(ORPC_REPLY_HDR_MAX);
	if (!tb)
		return -ENOMEM;
	OCTR(priv(c)->conn->s, denied, 1);
	set_mark(tb, orpc_encode_auth_error(tb->data + 4, c->xid, why));
	finish(priv(c), tb);
	return 0;
}

void orpc_call_drop(struct orpc_call *c)
{
	OCTR(priv(c)->conn->s, dropped, 1);
	finish(priv(c), NULL);
}
