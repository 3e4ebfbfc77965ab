/*
 * client.c - the measuring end (node 1 by default): connects to the server,
 * tells it what to run, drives the test and collects both ends' counters.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "perf.h"

#define CONNECT_TIMEOUT_MS 10000

static void ctl_recv(struct tpz_endpoint *ep, struct tpz_rx *rx, void *arg)
{
	struct client *c = arg;
	struct perf_ctl m;

	(void)ep;
	if (rx->data_len < sizeof m) {
		c->errors++;
		return;
	}
	memcpy(&m, rx->data, sizeof m);
	switch (m.op) {
	case OP_READY:
		if (m.v[0])
			fprintf(stderr, "tpz-perf: server cannot run this test: %s\n",
				strerror((int)m.v[0]));
		c->ready = true;
		c->ack = m;
		break;
	case OP_ACK:
		c->acked = true;
		c->ack = m;
		break;
	case OP_STATS:
		c->stats = true;
		c->stat = m;
		break;
	default:
		c->errors++;
	}
}

/* A pong.  Its frames (zero-copy path) are kept for the next ping: the same
 * frames shuttle back and forth, as a block would between cache and wire. */
static void data_recv(struct tpz_endpoint *ep, struct tpz_rx *rx, void *arg)
{
	struct client *c = arg;
	uint64_t seq = 0;

	if (rx->flags & TPZ_F_DROPPED)
		c->errors++;
	if (rx->data_len >= sizeof seq)
		memcpy(&seq, rx->data, sizeof seq);
	c->pong_seq = seq;
	if (c->o->touch && rx->payload_len)
		c->touched += payload_touch(&rx->payload, rx->payload_len);
	if (c->got_pong || rx->payload_len != (c->o->path == PATH_INLINE ? 0 : c->o->size))
		c->errors++;
	if (rx->payload_len && c->o->path == PATH_ZERO_COPY && !c->pong_frames) {
		c->pong_pl = rx->payload;
		c->pong_frames = true;
	} else {
		tpz_rx_release(ep, rx);
	}
	c->got_pong = true;
}

static void on_peer_down(struct tpz_endpoint *ep, uint32_t node, int reason, void *arg)
{
	struct client *c = arg;

	(void)ep;
	if (node != PK_SERVER_NODE)
		return;
	c->peer_down = true;
	fprintf(stderr, "tpz-perf: client: server node %u went down (reason %d)\n", node, reason);
}

/* Deliver until *flag is set: spinning in poll mode, sleeping in block mode. */
int client_wait(struct client *c, bool *flag)
{
	int rc;

	while (!*flag) {
		if (c->peer_down)
			return -EPIPE;
		if (pk_stop)
			return -EINTR;
		rc = c->o->pk.mode == PK_MODE_BLOCK ? tpz_wait(c->ep, 1000) : tpz_poll(c->ep, 0);
		if (rc < 0)
			return rc;
	}
	return 0;
}

int client_send_ctl(struct client *c, uint8_t op)
{
	struct perf_ctl m = {
		.op = op, .test = (uint8_t)c->o->test, .path = (uint8_t)c->o->path,
		.mode = (uint8_t)c->o->pk.mode, .size = c->o->size,
	};

	if (op == OP_START && c->o->touch)
		m.v[0] = PERF_F_TOUCH;

	return send_ctl(c->ep, PK_SERVER_NODE, &m);
}

/* The measured part starts: both ends remember their counters. */
int client_mark(struct client *c)
{
	cnt_snapshot(c->ep, &c->mark);
	return client_send_ctl(c, OP_MARK);
}

void client_unmark(struct client *c, struct perf_result *r)
{
	struct perf_cnt now;

	cnt_snapshot(c->ep, &now);
	cnt_delta(&r->client, &now, &c->mark);
}

static int await_peer(struct client *c)
{
	uint64_t deadline = pk_now_ns() + CONNECT_TIMEOUT_MS * 1000000ull;

	while (!tpz_peer_is_up(c->ep, PK_SERVER_NODE)) {
		int rc = tpz_poll(c->ep, 0);
		if (rc < 0)
			return rc;
		if (pk_now_ns() > deadline || pk_stop)
			return -ETIMEDOUT;
	}
	return 0;
}

static int connect_server(struct client *c, const char *url)
{
	int rc = tpz_connect(c->ep, PK_SERVER_NODE, url, CONNECT_TIMEOUT_MS);

	if (rc < 0) {
		fprintf(stderr, "tpz-perf: client: connect to %s: %s\n", url, tpz_strerror(rc));
		return rc;
	}
	rc = await_peer(c);
	if (rc < 0)
		fprintf(stderr, "tpz-perf: client: server at %s never came up: %s\n", url,
			tpz_strerror(rc));
	return rc;
}

static int start_session(struct client *c)
{
	int rc = client_send_ctl(c, OP_START);

	if (rc == 0)
		rc = client_wait(c, &c->ready);
	if (rc == 0 && c->ack.v[0])
		rc = -(int)c->ack.v[0];
	return rc;
}

/* The server's counter deltas since MARK (its half of the story: on a
 * one-way stream the receiver is the side that sleeps and gets woken). */
static int fetch_server_counters(struct client *c, struct perf_result *r)
{
	int rc = client_send_ctl(c, OP_REPORT);

	if (rc == 0)
		rc = client_wait(c, &c->stats);
	if (rc == 0)
		memcpy(&r->server, c->stat.v, sizeof r->server);
	return rc;
}

int client_run(const struct perf_opts *o, struct tpz_endpoint *ep, const char *url,
	       struct perf_result *r)
{
	struct client c = { .ep = ep, .o = o };
	struct tpz_handler_ops ctl = { .recv = ctl_recv, .peer_down = on_peer_down, .arg = &c };
	struct tpz_handler_ops data = { .recv = data_recv, .arg = &c };
	int rc;

	rc = tpz_handler_register(ep, PERF_H_CTL, &ctl);
	if (rc == 0)
		rc = tpz_handler_register(ep, PERF_H_DATA, &data);
	if (rc < 0) {
		fprintf(stderr, "tpz-perf: client: register handlers: %s\n", tpz_strerror(rc));
		tpz_handler_unregister(ep, PERF_H_CTL);
		return rc;
	}
	rc = connect_server(&c, url);
	if (rc == 0)
		rc = start_session(&c);
	if (rc == 0)
		rc = o->test == TEST_LAT ? lat_run(&c, o, r) : stream_run(&c, o, r);
	if (rc == 0)
		rc = fetch_server_counters(&c, r);
	if (rc < 0 && rc != -EINTR)
		fprintf(stderr, "tpz-perf: client: %s test failed: %s\n", test_name(o->test),
			tpz_strerror(rc));
	if (!c.peer_down && tpz_peer_is_up(ep, PK_SERVER_NODE))
		client_send_ctl(&c, OP_STOP);
	if (c.pong_frames)
		tpz_payload_free(ep, &c.pong_pl);
	r->errors += c.errors;
	/* c lives on this stack: no upcall may reach it once we return (the
	 * endpoint's destruction still reports the server going away). */
	tpz_handler_unregister(ep, PERF_H_CTL);
	tpz_handler_unregister(ep, PERF_H_DATA);
	return rc;
}
