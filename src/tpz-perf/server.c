/*
 * server.c - the responding end (node 0).  It does what the client's START
 * asks: echo each latency ping with the same inline bytes and payload size,
 * or count streamed messages and acknowledge each rep's END.
 *
 * Replies are not sent from inside the upcalls but right after tpz_poll()
 * returns: an upcall must not block, and a reply that meets a full ring has
 * to wait for credit, which only a later poll can bring.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "perf.h"

struct server {
	struct tpz_endpoint *ep;
	const struct perf_opts *o;
	bool     done, peer_up;
	bool     forever;             /* --listen: serve client after client */
	uint32_t client;              /* node of the current session */
	struct perf_ctl params;       /* from START */
	void    *copy_buf;            /* echo source on the copy path */
	/* the echo owed for the last ping */
	bool     echo_due;
	uint8_t  echo_data[TPZ_INLINE_MAX];
	uint32_t echo_len;
	struct tpz_payload echo_pl;
	bool     echo_has_pl;
	/* control replies owed (at most a few are ever outstanding) */
	struct perf_ctl ctl_q[4];
	int      ctl_n;
	/* streaming tallies for the current rep */
	uint64_t bytes, msgs, errors;
	uint64_t touched;             /* keeps --touch reads from being optimised out */
	struct perf_cnt mark;
};

static void queue_ctl(struct server *s, const struct perf_ctl *c)
{
	if (s->ctl_n == (int)(sizeof s->ctl_q / sizeof s->ctl_q[0])) {
		fprintf(stderr, "tpz-perf: server: control queue full, reply lost\n");
		return;
	}
	s->ctl_q[s->ctl_n++] = *c;
}

static void session_reset(struct server *s)
{
	if (s->echo_due && s->echo_has_pl && s->params.path == PATH_ZERO_COPY)
		tpz_payload_free(s->ep, &s->echo_pl);
	s->echo_due = false;
	s->ctl_n = 0;
	s->bytes = s->msgs = s->errors = 0;
	free(s->copy_buf);
	s->copy_buf = NULL;
}

static void on_start(struct server *s, const struct perf_ctl *c, uint32_t src)
{
	struct perf_ctl r = { .op = OP_READY };

	session_reset(s);
	s->params = *c;
	s->client = src;
	if (c->mode != s->o->pk.mode)
		fprintf(stderr, "tpz-perf: server: client asks for %s mode, this end runs %s\n",
			pk_mode_name(c->mode), pk_mode_name(s->o->pk.mode));
	if (c->path == PATH_COPY) {
		s->copy_buf = malloc(c->size ? c->size : 1);
		if (!s->copy_buf)
			r.v[0] = ENOMEM;
		else
			memset(s->copy_buf, 0x5a, c->size);
	}
	if (s->o->pk.verbose)
		fprintf(stderr, "tpz-perf: server: node %u starts %s size %u path %s\n", src,
			test_name(c->test), c->size, path_name(c->path));
	queue_ctl(s, &r);
}

static void ctl_recv(struct tpz_endpoint *ep, struct tpz_rx *rx, void *arg)
{
	struct server *s = arg;
	struct perf_ctl c, r = { 0 };
	struct perf_cnt now;

	if (rx->data_len < sizeof c) {
		s->errors++;
		return;
	}
	memcpy(&c, rx->data, sizeof c);
	switch (c.op) {
	case OP_START:
		on_start(s, &c, rx->src);
		break;
	case OP_MARK:
		cnt_snapshot(ep, &s->mark);
		break;
	case OP_END:
		r.op = OP_ACK;
		r.v[0] = s->bytes;
		r.v[1] = s->msgs;
		r.v[2] = s->errors;
		s->bytes = s->msgs = 0;
		queue_ctl(s, &r);
		break;
	case OP_REPORT:
		r.op = OP_STATS;
		cnt_snapshot(ep, &now);
		cnt_delta((struct perf_cnt *)(void *)r.v, &now, &s->mark);
		queue_ctl(s, &r);
		break;
	case OP_STOP:
		if (s->o->pk.verbose)
			fprintf(stderr, "tpz-perf: server: node %u done\n", rx->src);
		session_reset(s);
		s->done = true;
		break;
	default:
		s->errors++;
	}
}

/* A ping: keep what must be echoed.  On the zero-copy path the received
 * frames go straight back (ownership passes with the send); on the copy
 * path they are freed and the echo comes from ordinary memory. */
static void data_recv(struct tpz_endpoint *ep, struct tpz_rx *rx, void *arg)
{
	struct server *s = arg;

	if (rx->flags & TPZ_F_DROPPED)
		s->errors++;
	if ((s->params.v[0] & PERF_F_TOUCH) && rx->payload_len)
		s->touched += payload_touch(&rx->payload, rx->payload_len);
	if (s->params.test != TEST_LAT) {
		s->msgs++;
		s->bytes += rx->payload_len;
		tpz_rx_release(ep, rx);
		return;
	}
	if (s->echo_due) {      /* the client never has two pings in flight */
		s->errors++;
		tpz_rx_release(ep, rx);
		return;
	}
	s->echo_len = rx->data_len <= TPZ_INLINE_MAX ? rx->data_len : TPZ_INLINE_MAX;
	memcpy(s->echo_data, rx->data, s->echo_len);
	s->echo_has_pl = rx->payload_len > 0;
	if (s->echo_has_pl && s->params.path == PATH_ZERO_COPY) {
		s->echo_pl = rx->payload;
	} else {
		/* Read the length before the release, which empties rx. */
		s->echo_pl.nseg = 1;
		s->echo_pl.seg[0].base = s->copy_buf;
		s->echo_pl.seg[0].len = rx->payload_len;
		tpz_rx_release(ep, rx);
	}
	s->echo_due = true;
}

static void on_peer_up(struct tpz_endpoint *ep, uint32_t node, void *arg)
{
	struct server *s = arg;

	(void)ep;
	s->peer_up = true;
	if (s->o->pk.verbose)
		fprintf(stderr, "tpz-perf: server: node %u is up\n", node);
}

static void on_peer_down(struct tpz_endpoint *ep, uint32_t node, int reason, void *arg)
{
	struct server *s = arg;

	(void)ep;
	if (node != s->client)   /* an old session's goodbye, or a stranger */
		return;
	/* The end of a forked run looks the same, so say it only when asked,
	 * or when serving clients one after another. */
	if (s->o->pk.verbose || s->forever)
		fprintf(stderr, "tpz-perf: server: node %u went down (reason %d)\n", node, reason);
	session_reset(s);
	s->done = true;
}

/* Send what is owed; anything refused for lack of credit stays owed. */
static int flush_replies(struct server *s)
{
	int rc;

	if (s->echo_due) {
		struct tpz_send m = {
			.dst = s->client, .handler = PERF_H_DATA,
			.data = s->echo_data, .data_len = s->echo_len,
			.payload = s->echo_has_pl ? &s->echo_pl : NULL,
		};
		rc = tpz_send(s->ep, &m);
		if (rc == -EAGAIN || rc == -ENOBUFS || rc == -ENOMEM)
			return 0;
		if (rc < 0)
			return rc;
		s->echo_due = false;
	}
	while (s->ctl_n > 0) {
		struct tpz_send m = {
			.dst = s->client, .handler = PERF_H_CTL,
			.data = &s->ctl_q[0], .data_len = sizeof s->ctl_q[0],
		};
		rc = tpz_send(s->ep, &m);
		if (rc == -EAGAIN)
			return 0;
		if (rc < 0)
			return rc;
		memmove(&s->ctl_q[0], &s->ctl_q[1], --s->ctl_n * sizeof s->ctl_q[0]);
	}
	return 0;
}

static int serve_session(struct server *s)
{
	int rc = 0;

	s->done = false;
	while (!s->done && !pk_stop) {
		/* Sleep only when nothing is owed: a pending reply needs the
		 * credit a poll brings, not a wake-up that may never come. */
		if (s->o->pk.mode == PK_MODE_BLOCK && !s->echo_due && s->ctl_n == 0)
			rc = tpz_wait(s->ep, 1000);
		else
			rc = tpz_poll(s->ep, 0);
		if (rc < 0)
			break;
		rc = flush_replies(s);
		if (rc < 0) {
			fprintf(stderr, "tpz-perf: server: reply to node %u: %s\n", s->client,
				tpz_strerror(rc));
			if (!s->done)
				break;
			rc = 0;
		}
	}
	if (rc < 0)
		fprintf(stderr, "tpz-perf: server: %s\n", tpz_strerror(rc));
	return rc < 0 ? rc : 0;
}

int server_run(void *arg, struct tpz_endpoint *ep, const char *url, int ready_fd, bool forever)
{
	const struct perf_opts *o = arg;
	struct server s = { .ep = ep, .o = o, .client = TPZ_NODE_ANY, .forever = forever };
	struct tpz_handler_ops ctl = { .recv = ctl_recv, .peer_up = on_peer_up,
				       .peer_down = on_peer_down, .arg = &s };
	struct tpz_handler_ops data = { .recv = data_recv, .arg = &s };
	int rc;

	rc = tpz_handler_register(ep, PERF_H_CTL, &ctl);
	if (rc == 0)
		rc = tpz_handler_register(ep, PERF_H_DATA, &data);
	if (rc < 0) {
		fprintf(stderr, "tpz-perf: server: register handlers: %s\n", tpz_strerror(rc));
		goto out;
	}
	rc = pk_listen(ep, url, ready_fd, forever);
	if (rc < 0)
		goto out;
	do {
		rc = serve_session(&s);
	} while (forever && rc == 0 && !pk_stop);
	session_reset(&s);
out:
	/* s lives on this stack: no upcall may reach it once we return. */
	tpz_handler_unregister(ep, PERF_H_CTL);
	tpz_handler_unregister(ep, PERF_H_DATA);
	return rc;
}
