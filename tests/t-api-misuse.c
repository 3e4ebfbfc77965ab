/*
 * t-api-misuse: wrong arguments give the documented error, never a crash:
 * NULL pointers, bad configurations, handler ids, frames that are not
 * frames (or are freed twice), an exhausted pool, sends to nodes that are
 * not connected, bad URLs, tcp without a secret, a connect to a closed port
 * (fails within its timeout).  Also the documented defaults.
 */
#include "testlib.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

static void check_defaults(void)
{
	struct tpz_config c;

	memset(&c, 0x5a, sizeof(c));
	tpz_config_default(&c);
	CHECK_RC(c.max_payload, 1u << 20);
	CHECK_RC(c.frame_size, 64u << 10);
	CHECK_RC(c.pool_frames, 512);
	CHECK_RC(c.ring_slots, 256);
	CHECK_RC(c.spin_us, 50);
	CHECK_RC(c.fabric_nodes, 64);
	CHECK(c.fabric == NULL && c.secret == NULL && c.log == NULL && c.log_arg == NULL,
	      "default fabric/secret/log are not NULL");
}

static int create(struct tpz_config *c)
{
	struct tpz_endpoint *ep = NULL;
	int r = tpz_endpoint_create(c, &ep);

	if (r == 0) {
		CHECK(ep != NULL, "tpz_endpoint_create returned 0 and no endpoint");
		tpz_endpoint_destroy(ep);
	} else {
		CHECK(ep == NULL, "tpz_endpoint_create failed (%d) but set *out", r);
	}
	return r;
}

static void check_configs(void)
{
	struct tpz_config c;
	struct tpz_endpoint *ep = NULL;

	tl_config(&c, 1, TL_TCP);
	CHECK_RC(tpz_endpoint_create(NULL, &ep), -EINVAL);
	CHECK_RC(tpz_endpoint_create(&c, NULL), -EINVAL);

#define BAD(field, value) do {                                                  \
	tl_config(&c, 1, TL_TCP);                                               \
	c.field = (value);                                                      \
	int _r = create(&c);                                                    \
	CHECK(_r == -EINVAL, "config " #field " = " #value ": got %d (%s), want -EINVAL", \
	      _r, tpz_strerror(_r));                                            \
} while (0)
#define GOOD(field, value) do {                                                 \
	tl_config(&c, 1, TL_TCP);                                               \
	c.field = (value);                                                      \
	int _r = create(&c);                                                    \
	CHECK(_r == 0, "config " #field " = " #value ": got %d (%s), want 0", _r, \
	      tpz_strerror(_r));                                                \
} while (0)

	BAD(max_payload, (64u << 10) - 1);
	BAD(max_payload, 4096);
	BAD(max_payload, (1u << 20) + 1);
	BAD(max_payload, 2u << 20);
	BAD(max_payload, UINT32_MAX);
	GOOD(max_payload, 64u << 10);
	GOOD(max_payload, 300000);
	GOOD(max_payload, 1u << 20);
	BAD(ring_slots, 100);
	BAD(ring_slots, 255);
	BAD(ring_slots, 257);
	BAD(ring_slots, 0);
	BAD(ring_slots, 0x80000001u);
	GOOD(ring_slots, 8);
	GOOD(ring_slots, 1024);
	BAD(frame_size, 2048);
	BAD(frame_size, 12288);
	BAD(frame_size, 65535);
	/* 4 KiB frames carry a 64 KiB maximum in 16 segments. */
	tl_config(&c, 1, TL_TCP);
	c.frame_size = 4096;
	c.max_payload = 65536;
	CHECK_RC(create(&c), 0);
	BAD(node, TPZ_MAX_NODES);
	BAD(node, TPZ_NODE_ANY);

	/* A smaller maximum is honoured. */
	tl_config(&c, 1, TL_TCP);
	c.max_payload = 65536;
	ep = tl_endpoint(&c);
	CHECK_RC(tpz_max_payload(ep), 65536);
	CHECK_RC(tpz_node(ep), 1);
	struct tpz_payload pl;
	CHECK(tpz_payload_alloc(ep, &pl, 65537) < 0, "tpz_payload_alloc over the maximum");
	tpz_endpoint_destroy(ep);
}

static int closed_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t al = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	CHECK(fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
	      getsockname(fd, (struct sockaddr *)&a, &al) == 0, "bind: %s", strerror(errno));
	close(fd);       /* nobody listens there now */
	return ntohs(a.sin_port);
}

static volatile bool stop;

/* Drives a listener from its own thread (one thread per endpoint). */
static void *drive(void *arg)
{
	struct tpz_endpoint *ep = arg;

	while (!stop)
		if (tpz_poll(ep, 0) == 0)
			tl_idle(ep);
	return NULL;
}

static void noop_recv(struct tpz_endpoint *ep, struct tpz_rx *rx, void *arg) { }

int main(int argc, char **argv)
{
	struct tpz_config cfg;
	int r;

	tl_init(argc, argv, 30);
	check_defaults();
	check_configs();

	/* ---- an endpoint with a small pool, no fabric ---- */
	tl_config(&cfg, 4, TL_TCP);
	cfg.pool_frames = 8;
	struct tpz_endpoint *ep = tl_endpoint(&cfg);
	CHECK_RC(tpz_node(ep), 4);
	CHECK_RC(tpz_frame_size(ep), 65536);
	CHECK_RC(tpz_max_payload(ep), 1u << 20);
	struct tpz_counters c = tl_counters(ep);
	CHECK(c.frames_total == 8 && c.frames_free == 8, "frames %llu/%llu, want 8/8",
	      (unsigned long long)c.frames_free, (unsigned long long)c.frames_total);
	CHECK(tpz_event_fd(ep) >= 0, "tpz_event_fd %d", tpz_event_fd(ep));
	CHECK_RC(tpz_poll(ep, 0), 0);
	CHECK_RC(tpz_wait(ep, 0), 0);

	/* Frames: page-aligned, distinct, writable; the pool runs dry cleanly. */
	void *f[9];
	for (int i = 0; i < 8; i++) {
		f[i] = tpz_frame_alloc(ep);
		CHECK(f[i] != NULL, "frame %d of 8: NULL", i);
		CHECK((uintptr_t)f[i] % 4096 == 0, "frame %p not page aligned", f[i]);
		CHECK(tpz_is_frame(ep, f[i]), "tpz_is_frame(frame) false");
		memset(f[i], i, 65536);
		for (int j = 0; j < i; j++)
			CHECK(f[i] != f[j], "frame handed out twice");
	}
	CHECK(tpz_frame_alloc(ep) == NULL, "a 9th frame from a pool of 8");
	c = tl_counters(ep);
	CHECK_RC(c.frames_free, 0);
	struct tpz_payload pl;
	r = tpz_payload_alloc(ep, &pl, 4096);
	CHECK(r < 0, "tpz_payload_alloc on an empty pool: %d", r);
	for (int i = 0; i < 8; i++)
		CHECK(tl_all_bytes(f[i], 65536, (uint8_t)i), "frame %d overwritten", i);
	for (int i = 0; i < 8; i++)
		CHECK_RC(tpz_frame_free(ep, f[i]), 0);
	c = tl_counters(ep);
	CHECK_RC(c.frames_free, 8);
	/* A payload that needs more frames than the pool has fails and leaks nothing. */
	r = tpz_payload_alloc(ep, &pl, 9 * 65536);
	CHECK(r < 0, "tpz_payload_alloc(9 frames) from a pool of 8: %d", r);
	CHECK_RC(tl_counters(ep).frames_free, 8);

	/* Not frames. */
	uint8_t *heap = malloc(65536);
	CHECK(heap, "malloc");
	CHECK(!tpz_is_frame(ep, heap), "tpz_is_frame(malloc memory) true");
	CHECK(!tpz_is_frame(ep, NULL), "tpz_is_frame(NULL) true");
	CHECK_RC(tpz_frame_free(ep, heap), -EINVAL);
	CHECK_RC(tpz_frame_free(ep, NULL), -EINVAL);
	void *fr = tpz_frame_alloc(ep);
	CHECK(fr, "frame_alloc");
	CHECK_RC(tpz_frame_free(ep, (uint8_t *)fr + 1), -EINVAL);
	CHECK_RC(tpz_frame_free(ep, (uint8_t *)fr + 4096), -EINVAL);
	CHECK_RC(tpz_frame_free(ep, fr), 0);
	r = tpz_frame_free(ep, fr);                   /* twice */
	CHECK(r < 0, "freeing a frame twice returned %d", r);
	c = tl_counters(ep);
	CHECK(c.frames_free == 8, "after a double free frames_free is %llu of 8",
	      (unsigned long long)c.frames_free);
	void *a1 = tpz_frame_alloc(ep), *a2 = tpz_frame_alloc(ep);
	CHECK(a1 && a2 && a1 != a2, "after a double free the pool hands out one frame twice");
	tpz_frame_free(ep, a1);
	tpz_frame_free(ep, a2);
	free(heap);

	/* Handlers. */
	struct tpz_handler_ops ops = { .recv = noop_recv };
	CHECK_RC(tpz_handler_register(ep, 1, NULL), -EINVAL);
	CHECK_RC(tpz_handler_register(ep, TPZ_HANDLER_MAX, &ops), -EINVAL);
	CHECK(tpz_handler_register(ep, 0, &ops) < 0, "registered handler 0");
	CHECK_RC(tpz_handler_register(ep, 1, &ops), 0);
	CHECK(tpz_handler_register(ep, 1, &ops) < 0, "registered handler 1 twice");

	/* Sends. */
	uint8_t data[8] = "abc";
	struct tpz_send s = { .dst = 5, .handler = 1, .data = data, .data_len = 3 };
	CHECK_RC(tpz_send(ep, NULL), -EINVAL);
	CHECK_RC(tpz_send(ep, &s), -ENOTCONN);
	CHECK_RC(tpz_send_inline(ep, 5, 1, data, 3), -ENOTCONN);
	s.dst = 4;     /* ourselves: not a connected peer */
	r = tpz_send(ep, &s);
	CHECK(r == -ENOTCONN || r == -EINVAL, "send to our own node: %d", r);
	s.dst = TPZ_MAX_NODES;
	r = tpz_send(ep, &s);
	CHECK(r == -EINVAL || r == -ENOTCONN, "send to node 256: %d", r);
	s.dst = TPZ_NODE_ANY;
	r = tpz_send(ep, &s);
	CHECK(r == -EINVAL || r == -ENOTCONN, "send to TPZ_NODE_ANY: %d", r);
	s.dst = 5;
	s.data = NULL;
	r = tpz_send(ep, &s);
	CHECK(r == -EINVAL, "send with data NULL and data_len 3: %d", r);
	s.data = data;
	struct tpz_payload bad = { .nseg = TPZ_SG_MAX + 1 };
	for (uint32_t i = 0; i < TPZ_SG_MAX; i++)
		bad.seg[i] = (struct tpz_iov){ data, 1 };
	s.payload = &bad;
	r = tpz_send(ep, &s);
	CHECK(r == -EINVAL || r == -ENOTCONN, "send with nseg 17: %d", r);
	bad.nseg = 1;
	bad.seg[0] = (struct tpz_iov){ NULL, 100 };
	r = tpz_send(ep, &s);
	CHECK(r == -EINVAL || r == -ENOTCONN, "send with a NULL segment: %d", r);

	/* IPT. */
	uint64_t tok = 0;
	uint8_t buf[4096];
	struct tpz_payload ib = { .nseg = 1, .seg = { { buf, sizeof(buf) } } };
	CHECK_RC(tpz_ipt_post(ep, 1, NULL, NULL, &tok), -EINVAL);
	CHECK_RC(tpz_ipt_post(ep, 1, &ib, NULL, NULL), -EINVAL);
	CHECK_RC(tpz_ipt_cancel(ep, 0x0000123400005678ull), -ENOENT);
	CHECK_RC(tpz_ipt_post(ep, TPZ_NODE_ANY, &ib, NULL, &tok), 0);
	CHECK_RC(tpz_ipt_cancel(ep, tok), 0);

	/* Links. */
	CHECK(tpz_listen(ep, "shm") < 0, "listen on shm with no fabric configured");
	CHECK_RC(tpz_listen(ep, NULL), -EINVAL);
	CHECK(tpz_listen(ep, "bogus://x") < 0, "listen on bogus://x");
	CHECK(tpz_listen(ep, "tcp://127.0.0.1") < 0, "listen on a tcp url without a port");
	CHECK(tpz_listen(ep, "tcp://127.0.0.1:99999") < 0, "listen on port 99999");
	CHECK(tpz_connect(ep, 5, NULL, 100) < 0, "connect to a NULL url");
	CHECK(tpz_connect(ep, 5, "bogus://x", 100) < 0, "connect to bogus://x");
	CHECK(tpz_connect(ep, TPZ_MAX_NODES, "tcp://127.0.0.1:1", 100) < 0, "connect node 256");
	CHECK(tpz_disconnect(ep, 5) < 0, "disconnect of a node that is not connected");
	CHECK(!tpz_peer_is_up(ep, 5) && !tpz_peer_is_up(ep, TPZ_MAX_NODES) &&
	      !tpz_peer_is_up(ep, TPZ_NODE_ANY), "tpz_peer_is_up on nothing");

	int cp = closed_port();
	char url[64];
	snprintf(url, sizeof(url), "tcp://127.0.0.1:%d", cp);
	double t0 = tl_now_ms();
	r = tpz_connect(ep, 5, url, 1500);
	double el = tl_now_ms() - t0;
	CHECK(r < 0, "tpz_connect to a closed port returned %d", r);
	CHECK(el < 2500, "tpz_connect(timeout 1500) to a closed port took %.0f ms", el);
	CHECK(!tpz_peer_is_up(ep, 5), "node 5 up");
	/* An unroutable address: the timeout is honoured. */
	t0 = tl_now_ms();
	r = tpz_connect(ep, 6, "tcp://10.255.255.1:7000", 700);
	el = tl_now_ms() - t0;
	CHECK(r < 0, "tpz_connect to 10.255.255.1 returned %d", r);
	CHECK(el < 2000, "tpz_connect(timeout 700) to an unroutable address took %.0f ms", el);
	CHECK_RC(tpz_send_inline(ep, 5, 1, data, 3), -ENOTCONN);
	tpz_endpoint_destroy(ep);

	/* No secret: tcp refused both ways, even towards a live listener. */
	tl_config(&cfg, 8, TL_TCP);
	struct tpz_endpoint *lis = tl_endpoint(&cfg);
	int lport = tl_listen(lis, TL_TCP);
	pthread_t th;
	CHECK(pthread_create(&th, NULL, drive, lis) == 0, "pthread_create");
	tl_config(&cfg, 7, TL_TCP);
	cfg.secret = NULL;
	ep = tl_endpoint(&cfg);
	CHECK(tpz_listen(ep, "tcp://127.0.0.1:0") < 0, "tcp listen without a secret");
	snprintf(url, sizeof(url), "tcp://127.0.0.1:%d", lport);
	r = tpz_connect(ep, 8, url, 1000);
	CHECK(r < 0, "tcp connect without a secret returned %d", r);
	CHECK(!tpz_peer_is_up(ep, 8), "peer up without a secret");
	tpz_endpoint_destroy(ep);
	stop = true;
	pthread_join(th, NULL);
	CHECK(!tpz_peer_is_up(lis, 7), "the listener accepted a node without the secret");
	tpz_endpoint_destroy(lis);

	struct tpz_cluster_node nodes[2];
	r = tpz_cluster_load("/nonexistent/trapeze-cluster", nodes, 2);
	CHECK(r == -ENOENT, "tpz_cluster_load of a missing file: %d", r);
	printf("t-api-misuse: ok\n");
	return 0;
}
