/*
 * t-wire: the wire layout is what trapeze_wire.h says, byte for byte, and
 * tpz_strerror() gives a text for every error the API returns.
 */
#include "testlib.h"

#include <limits.h>
#include <stdlib.h>

static void check_layout(void)
{
	CHECK_RC(sizeof(struct tpz_hdr), 32);
	CHECK_RC(sizeof(struct tpz_msg), 128);
	CHECK_RC(TPZ_MSG_SIZE, 128);
	CHECK_RC(TPZ_HDR_SIZE, 32);
	CHECK_RC(TPZ_INLINE_MAX, 96);
	CHECK_RC(offsetof(struct tpz_hdr, magic), 0);
	CHECK_RC(offsetof(struct tpz_hdr, version), 2);
	CHECK_RC(offsetof(struct tpz_hdr, handler), 3);
	CHECK_RC(offsetof(struct tpz_hdr, flags), 4);
	CHECK_RC(offsetof(struct tpz_hdr, inline_len), 6);
	CHECK_RC(offsetof(struct tpz_hdr, src), 8);
	CHECK_RC(offsetof(struct tpz_hdr, dst), 12);
	CHECK_RC(offsetof(struct tpz_hdr, payload_len), 16);
	CHECK_RC(offsetof(struct tpz_hdr, seq), 20);
	CHECK_RC(offsetof(struct tpz_hdr, token), 24);
	CHECK_RC(offsetof(struct tpz_msg, data), 32);
	CHECK_RC(sizeof(((struct tpz_msg *)0)->data), 96);

	CHECK_RC(sizeof(struct tpz_link_ctl), 96);
	CHECK_RC(offsetof(struct tpz_link_ctl, op), 0);
	CHECK_RC(offsetof(struct tpz_link_ctl, reason), 1);
	CHECK_RC(offsetof(struct tpz_link_ctl, flags), 2);
	CHECK_RC(offsetof(struct tpz_link_ctl, node), 4);
	CHECK_RC(offsetof(struct tpz_link_ctl, max_payload), 8);
	CHECK_RC(offsetof(struct tpz_link_ctl, pid), 12);
	CHECK_RC(offsetof(struct tpz_link_ctl, nonce), 16);
	CHECK_RC(offsetof(struct tpz_link_ctl, mac), 40);
	CHECK_RC(offsetof(struct tpz_link_ctl, pad), 72);
	CHECK_RC(TPZ_NONCE_SIZE, 24);
	CHECK_RC(TPZ_MAC_SIZE, 32);

	CHECK_RC(TPZ_MAGIC, 0x5a54);
	CHECK_RC(TPZ_VERSION, 1);
	CHECK_RC(TPZ_HANDLER_LINK, 0);
	CHECK_RC(TPZ_HANDLER_MAX, 64);
	CHECK_RC(TPZ_PAYLOAD_MIN, 65536);
	CHECK_RC(TPZ_PAYLOAD_CEIL, 1048576);
	CHECK_RC(TPZ_F_WIRE_MASK, TPZ_F_PAYLOAD | TPZ_F_TOKEN);
	CHECK((TPZ_F_DROPPED & TPZ_F_WIRE_MASK) == 0, "DROPPED must not be a wire flag");
	CHECK_RC(TPZ_LINK_HELLO, 1);
	CHECK_RC(TPZ_LINK_PROVE, 2);
	CHECK_RC(TPZ_LINK_WELCOME, 3);
	CHECK_RC(TPZ_LINK_REFUSE, 4);
	CHECK_RC(TPZ_LINK_GOODBYE, 5);
	CHECK_RC(TPZ_REFUSE_VERSION, 1);
	CHECK_RC(TPZ_REFUSE_AUTH, 2);
	CHECK_RC(TPZ_REFUSE_NODE, 3);
	CHECK_RC(TPZ_REFUSE_CONFIG, 4);
	CHECK_RC(TPZ_SG_MAX, 16);
	CHECK_RC(TPZ_MAX_NODES, 256);
}

/* The in-memory struct is the wire: little-endian, no padding, "TZ" first. */
static void check_bytes(void)
{
	struct tpz_msg m;
	uint8_t b[sizeof(m)];

	memset(&m, 0, sizeof(m));
	m.hdr.magic = TPZ_MAGIC;
	m.hdr.version = TPZ_VERSION;
	m.hdr.handler = 0x2a;
	m.hdr.flags = TPZ_F_PAYLOAD | TPZ_F_TOKEN;
	m.hdr.inline_len = 0x0160;
	m.hdr.src = 0x04030201;
	m.hdr.dst = 0x08070605;
	m.hdr.payload_len = 0x0c0b0a09;
	m.hdr.seq = 0x100f0e0d;
	m.hdr.token = 0x1817161514131211ull;
	m.data[0] = 0xa5;
	m.data[95] = 0x5a;
	memcpy(b, &m, sizeof(b));

	static const uint8_t want[32] = {
		'T', 'Z', 1, 0x2a, 0x03, 0x00, 0x60, 0x01,
		0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,
		0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10,
		0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18,
	};
	for (int i = 0; i < 32; i++)
		CHECK(b[i] == want[i], "header byte %d is 0x%02x, want 0x%02x", i, b[i], want[i]);
	CHECK(b[32] == 0xa5 && b[127] == 0x5a, "inline data at bytes 32..127");

	struct tpz_link_ctl c;
	memset(&c, 0, sizeof(c));
	c.op = TPZ_LINK_PROVE;
	c.reason = 7;
	c.flags = TPZ_LINKF_CMA;
	c.node = 0x11223344;
	c.max_payload = TPZ_PAYLOAD_CEIL;
	memcpy(b, &c, sizeof(c));
	CHECK(b[0] == 2 && b[1] == 7 && b[2] == 1 && b[3] == 0, "link ctl op/reason/flags bytes");
	CHECK(b[4] == 0x44 && b[7] == 0x11, "link ctl node is little-endian at 4");
	CHECK(b[8] == 0 && b[9] == 0 && b[10] == 0x10 && b[11] == 0, "max_payload LE at 8");
}

static void check_strerror(void)
{
	static const int errs[] = { EINVAL, EAGAIN, EMSGSIZE, ENOTCONN, ENOENT, EEXIST,
				    ENOMEM, EPERM, EPROTO, ECONNREFUSED, ETIMEDOUT, EBUSY };
	const int n = (int)(sizeof(errs) / sizeof(errs[0]));

	for (int i = 0; i < n; i++) {
		const char *neg = tpz_strerror(-errs[i]);
		const char *pos = tpz_strerror(errs[i]);

		CHECK(neg != NULL && neg[0] != '\0', "tpz_strerror(-%d) is empty", errs[i]);
		CHECK(pos != NULL && strcmp(neg, pos) == 0,
		      "tpz_strerror(-%d) \"%s\" differs from tpz_strerror(%d) \"%s\"",
		      errs[i], neg, errs[i], pos ? pos : "(null)");
		for (int j = 0; j < i; j++)
			CHECK(strcmp(neg, tpz_strerror(-errs[j])) != 0,
			      "tpz_strerror gives the same text \"%s\" for errno %d and %d",
			      neg, errs[i], errs[j]);
	}
	/* The texts are the usual ones: a user greps for them. */
	CHECK(strcmp(tpz_strerror(-EMSGSIZE), strerror(EMSGSIZE)) == 0 ||
	      strstr(tpz_strerror(-EMSGSIZE), "long") || strstr(tpz_strerror(-EMSGSIZE), "size") ||
	      strstr(tpz_strerror(-EMSGSIZE), "large"),
	      "tpz_strerror(-EMSGSIZE) = \"%s\" does not say the message is too long",
	      tpz_strerror(-EMSGSIZE));

	/* Anything else still gives a usable string, never NULL or a crash. */
	static const int odd[] = { 0, 4095, -4095, 99999, -99999, INT_MAX, INT_MIN, INT_MIN + 1 };
	for (size_t i = 0; i < sizeof(odd) / sizeof(odd[0]); i++) {
		const char *s = tpz_strerror(odd[i]);
		CHECK(s != NULL && strlen(s) < 1000, "tpz_strerror(%d) unusable", odd[i]);
	}
}

int main(int argc, char **argv)
{
	tl_init(argc, argv, 10);
	check_layout();
	check_bytes();
	check_strerror();
	printf("t-wire: ok\n");
	return 0;
}
