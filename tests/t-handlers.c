/*
 * t-handlers: several modules share one endpoint.  Each registered handler
 * id gets exactly its own messages, in order, with its own arg; a message
 * for an id nobody registered is counted in unknown_handler and dropped
 * without harm; ids 0 and >= TPZ_HANDLER_MAX are refused at send (-EINVAL)
 * and at registration; registering an id twice fails; every module hears
 * peer_up once, and peer_down (TPZ_DOWN_CLOSED) when the peer leaves in
 * order.  Over shm and tcp.
 */
#include "testlib.h"

#include <unistd.h>

#define NMOD 3
static const uint8_t mod_id[NMOD] = { 1, 7, 63 };
#define UNREG 5
#define NMSG  300

struct module {
	uint8_t  id;
	uint32_t count;
	int32_t  last_tag;
	int      ups, downs, down_reason;
	uint32_t up_node, down_node;
};
static struct module mods[NMOD];

struct body { uint32_t tag; uint8_t handler; };

static void on_recv(struct tpz_endpoint *ep, struct tpz_rx *rx, void *arg)
{
	struct module *m = arg;
	struct body b;

	CHECK(m >= mods && m < mods + NMOD, "upcall arg %p is not one of ours", arg);
	CHECK(rx->msg->hdr.handler == m->id, "module %u got a message for handler %u",
	      m->id, rx->msg->hdr.handler);
	CHECK(rx->data_len == sizeof(b), "data_len %u", rx->data_len);
	memcpy(&b, rx->data, sizeof(b));
	CHECK(b.handler == m->id, "module %u got message %u meant for handler %u", m->id,
	      b.tag, b.handler);
	CHECK((int32_t)b.tag > m->last_tag, "module %u: message %u after %d (out of order)",
	      m->id, b.tag, m->last_tag);
	m->last_tag = (int32_t)b.tag;
	m->count++;
	tpz_rx_release(ep, rx);
}

static void on_up(struct tpz_endpoint *ep, uint32_t node, void *arg)
{
	struct module *m = arg;

	m->ups++;
	m->up_node = node;
}

static void on_down(struct tpz_endpoint *ep, uint32_t node, int reason, void *arg)
{
	struct module *m = arg;

	m->downs++;
	m->down_node = node;
	m->down_reason = reason;
}

static int receiver(struct tl_proc *self, void *arg)
{
	enum tl_link link = (enum tl_link)(intptr_t)arg;
	const char *ln = tl_link_name(link);
	struct tpz_config cfg;
	struct tpz_handler_ops ops[NMOD];

	tl_config(&cfg, 2, link);
	struct tpz_endpoint *ep = tl_endpoint(&cfg);
	for (int i = 0; i < NMOD; i++) {
		mods[i] = (struct module){ .id = mod_id[i], .last_tag = -1 };
		ops[i] = (struct tpz_handler_ops){ .recv = on_recv, .peer_up = on_up,
						   .peer_down = on_down, .arg = &mods[i] };
		CHECK_RC(tpz_handler_register(ep, mod_id[i], &ops[i]), 0);
	}
	/* Registration errors. */
	int r = tpz_handler_register(ep, 7, &ops[0]);
	CHECK(r == -EEXIST || r == -EBUSY, "registering id 7 twice: %d %s", r, tpz_strerror(r));
	CHECK(tpz_handler_register(ep, 0, &ops[0]) < 0, "registering the link's id 0 succeeded");
	CHECK_RC(tpz_handler_register(ep, TPZ_HANDLER_MAX, &ops[0]), -EINVAL);
	CHECK_RC(tpz_handler_register(ep, 200, &ops[0]), -EINVAL);
	CHECK_RC(tpz_handler_register(ep, 9, NULL), -EINVAL);
	CHECK(tpz_handler_unregister(ep, 9) < 0, "unregistering an unknown id succeeded");
	CHECK(tpz_handler_unregister(ep, TPZ_HANDLER_MAX) < 0, "unregistering id 64 succeeded");
	CHECK(tpz_handler_unregister(ep, 0) < 0, "unregistering the link's id 0 succeeded");

	tl_put_u32(self->wr, (uint32_t)tl_listen(ep, link));
	tl_wait_up(ep, 1, 5000);
	CHECK(POLL_UNTIL(ep, mods[0].ups && mods[1].ups && mods[2].ups, 2000),
	      "%s: peer_up reached modules %d/%d/%d times", ln, mods[0].ups, mods[1].ups,
	      mods[2].ups);
	struct tpz_counters c0 = tl_counters(ep);

	/* Phase 1: NMSG messages spread over the three modules, then 3 for id 5. */
	uint32_t want = tl_get_u32_poll(ep, self->rd, 5000);
	CHECK(POLL_UNTIL(ep, mods[0].count + mods[1].count + mods[2].count == want &&
			 tl_counters(ep).unknown_handler - c0.unknown_handler == 3, 5000),
	      "%s: modules got %u+%u+%u of %u messages; unknown_handler moved by %llu (want 3)",
	      ln, mods[0].count, mods[1].count, mods[2].count, want,
	      (unsigned long long)(tl_counters(ep).unknown_handler - c0.unknown_handler));
	uint32_t per[NMOD];
	tl_get(self->rd, per, sizeof(per), 5000);
	for (int i = 0; i < NMOD; i++)
		CHECK(mods[i].count == per[i], "%s: module %u got %u messages, %u were sent to it",
		      ln, mods[i].id, mods[i].count, per[i]);

	/* Phase 2: unregister 7; its messages become unknown; register it again. */
	CHECK_RC(tpz_handler_unregister(ep, 7), 0);
	tl_put_u32(self->wr, 1);
	uint32_t before7 = mods[1].count;
	tl_get_u32_poll(ep, self->rd, 5000);     /* two sent to 7, one to 1 */
	CHECK(POLL_UNTIL(ep, tl_counters(ep).unknown_handler - c0.unknown_handler == 5 &&
			 mods[0].count == per[0] + 1, 5000),
	      "%s: after unregistering 7: unknown_handler moved by %llu (want 5), module 1 "
	      "count %u (want %u)", ln,
	      (unsigned long long)(tl_counters(ep).unknown_handler - c0.unknown_handler),
	      mods[0].count, per[0] + 1);
	CHECK(mods[1].count == before7, "unregistered module 7 still got messages");
	CHECK_RC(tpz_handler_register(ep, 7, &ops[1]), 0);
	tl_put_u32(self->wr, 2);
	tl_get_u32_poll(ep, self->rd, 5000);     /* one more to 7 */
	CHECK(POLL_UNTIL(ep, mods[1].count == before7 + 1, 5000),
	      "%s: re-registered module 7 did not get its message", ln);

	/* Phase 3: the peer leaves in order: every module hears it once. */
	tl_put_u32(self->wr, 3);
	CHECK(POLL_UNTIL(ep, mods[0].downs && mods[1].downs && mods[2].downs, 5000),
	      "%s: peer_down reached modules %d/%d/%d times after the peer's "
	      "tpz_endpoint_destroy", ln, mods[0].downs, mods[1].downs, mods[2].downs);
	POLL_UNTIL(ep, false, 100);
	for (int i = 0; i < NMOD; i++) {
		CHECK(mods[i].ups == 1 && mods[i].up_node == 1, "%s: module %u: peer_up %d times, "
		      "node %u", ln, mods[i].id, mods[i].ups, mods[i].up_node);
		CHECK(mods[i].downs == 1 && mods[i].down_node == 1, "%s: module %u: peer_down %d "
		      "times, node %u", ln, mods[i].id, mods[i].downs, mods[i].down_node);
		CHECK(mods[i].down_reason == TPZ_DOWN_CLOSED, "%s: module %u: peer_down reason %d "
		      "after an orderly tpz_endpoint_destroy, want TPZ_DOWN_CLOSED (%d)", ln,
		      mods[i].id, mods[i].down_reason, TPZ_DOWN_CLOSED);
	}
	CHECK(!tpz_peer_is_up(ep, 1), "peer still up after peer_down");
	tpz_endpoint_destroy(ep);
	return 0;
}

static void send_to(struct tpz_endpoint *ep, uint8_t h, uint32_t tag)
{
	struct body b = { .tag = tag, .handler = h };

	CHECK_RC(tl_send_inline(ep, 2, h, &b, sizeof(b), 5000), 0);
}

static void run(enum tl_link link)
{
	struct tl_proc rx = { 0 };
	struct tpz_config cfg;
	uint32_t per[NMOD] = { 0 }, tag = 0, x = 12345;

	tl_spawn(&rx, receiver, (void *)(intptr_t)link);
	int port = (int)tl_get_u32(rx.rd, 5000);
	tl_config(&cfg, 1, link);
	struct tpz_endpoint *ep = tl_endpoint(&cfg);
	if (link == TL_SHM)
		tl_listen(ep, link);
	tl_connect(ep, 2, link, port);

	/* Refused at send: ids that are not a module's. */
	static const int bad[] = { 0, TPZ_HANDLER_MAX, TPZ_HANDLER_MAX + 1, 128, 255 };
	struct body b = { 0, 0 };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK_RC(tpz_send_inline(ep, 2, (uint8_t)bad[i], &b, sizeof(b)), -EINVAL);
		struct tpz_send s = { .dst = 2, .handler = (uint8_t)bad[i], .data = &b,
				      .data_len = sizeof(b) };
		CHECK_RC(tpz_send(ep, &s), -EINVAL);
	}

	for (int i = 0; i < NMSG; i++) {
		x = x * 1103515245 + 12345;
		int k = (int)((x >> 16) % NMOD);
		send_to(ep, mod_id[k], tag++);
		per[k]++;
		if (i == NMSG / 2)
			for (int j = 0; j < 3; j++)
				send_to(ep, UNREG, tag++);
	}
	tl_put_u32(rx.wr, NMSG);
	tl_put(rx.wr, per, sizeof(per));

	CHECK_RC(tl_get_u32_poll(ep, rx.rd, 8000), 1);
	send_to(ep, 7, tag++);
	send_to(ep, 1, tag++);
	send_to(ep, 7, tag++);
	tl_put_u32(rx.wr, 0);
	CHECK_RC(tl_get_u32_poll(ep, rx.rd, 8000), 2);
	send_to(ep, 7, tag++);
	tl_put_u32(rx.wr, 0);
	CHECK_RC(tl_get_u32_poll(ep, rx.rd, 8000), 3);
	tpz_endpoint_destroy(ep);
	tl_reap(&rx, 8000);
	printf("t-handlers: %s ok\n", tl_link_name(link));
}

int main(int argc, char **argv)
{
	tl_init(argc, argv, 40);
	run(TL_SHM);
	run(TL_TCP);
	return 0;
}
