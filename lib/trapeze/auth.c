/*
 * auth.c - who may join: the tcp handshake's challenge-response MACs.
 *
 * K = BLAKE2b-256(secret); MAC = HMAC-SHA-512/256(K, role || nonce1 ||
 * nonce2 || connector id || acceptor id).  The role byte ('C' for the
 * connector's proof, 'A' for the acceptor's) keeps one side's proof from
 * being replayed as the other's; the fresh nonces keep old proofs from
 * being replayed at all.
 */
#include <string.h>
#include <sodium.h>

#include "tpz_internal.h"

_Static_assert(crypto_auth_BYTES == TPZ_MAC_SIZE, "MAC size");
_Static_assert(crypto_auth_KEYBYTES == 32, "key size");

void tpz_auth_key(const char *secret, uint8_t key[32])
{
	crypto_generichash(key, 32, (const uint8_t *)secret, strlen(secret), NULL, 0);
}

static void message(uint8_t *buf, char role, const uint8_t *n1, const uint8_t *n2, uint32_t c, uint32_t a)
{
	buf[0] = (uint8_t)role;
	memcpy(buf + 1, n1, TPZ_NONCE_SIZE);
	memcpy(buf + 1 + TPZ_NONCE_SIZE, n2, TPZ_NONCE_SIZE);
	memcpy(buf + 1 + 2 * TPZ_NONCE_SIZE, &c, 4);
	memcpy(buf + 5 + 2 * TPZ_NONCE_SIZE, &a, 4);
}

#define MSG_LEN (9 + 2 * TPZ_NONCE_SIZE)

void tpz_auth_mac(const uint8_t key[32], char role, const uint8_t *nonce1, const uint8_t *nonce2,
		  uint32_t connector, uint32_t acceptor, uint8_t mac[TPZ_MAC_SIZE])
{
	uint8_t buf[MSG_LEN];
	message(buf, role, nonce1, nonce2, connector, acceptor);
	crypto_auth(mac, buf, sizeof(buf), key);
}

bool tpz_auth_verify(const uint8_t key[32], char role, const uint8_t *nonce1, const uint8_t *nonce2,
		     uint32_t connector, uint32_t acceptor, const uint8_t mac[TPZ_MAC_SIZE])
{
	uint8_t buf[MSG_LEN];
	message(buf, role, nonce1, nonce2, connector, acceptor);
	return crypto_auth_verify(mac, buf, sizeof(buf), key) == 0;   /* constant time */
}

void tpz_auth_nonce(uint8_t nonce[TPZ_NONCE_SIZE])
{
	randombytes_buf(nonce, TPZ_NONCE_SIZE);
}
