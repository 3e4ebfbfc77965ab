/*
 * fh.c - file handles.  28 opaque bytes (NFSv3 allows 64):
 *
 *    0  'S'            magic
 *    1  version << 4 | flags
 *    2  manager        (16 bits) the file manager that holds the file
 *    4  volume id      (32 bits)
 *    8  file id        (64 bits) never reused in a volume
 *   16  generation     (32 bits) chosen when the file was made
 *   20  MAC            (64 bits) SipHash of bytes 0..19 under the volume's key
 *
 * The MAC makes a handle unforgeable by a client that does not know the
 * key: a guessed or altered handle fails it and gets NFS3ERR_BADHANDLE
 * before the store is ever asked.  A well-formed handle of a file that no
 * longer exists (or whose generation differs) is NFS3ERR_STALE, decided by
 * the caller after the lookup.
 */
#include <sodium.h>
#include <string.h>

#include "fmd.h"
#include "slice_route.h"

#define FH_MAGIC   SLICE_FH_MAGIC      /* the layout is public: slice_route.h */
#define FH_VERSION SLICE_FH_VERSION

static uint8_t fh_key[crypto_shorthash_KEYBYTES];
static uint32_t fh_volid;

void fh_init(const uint8_t key[16], uint32_t volid)
{
	_Static_assert(crypto_shorthash_KEYBYTES == 16, "SipHash key is 16 bytes");
	_Static_assert(crypto_shorthash_BYTES == 8, "SipHash output is 8 bytes");
	_Static_assert(FH_SIZE == SLICE_FH_SIZE, "handle size as routers know it");
	memcpy(fh_key, key, sizeof(fh_key));
	fh_volid = volid;
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

void fh_encode(const struct fh *h, uint8_t out[FH_SIZE])
{
	out[0] = FH_MAGIC;
	out[1] = (uint8_t)(FH_VERSION << 4 | (h->flags & 0xf));
	out[2] = (uint8_t)(h->manager >> 8);
	out[3] = (uint8_t)h->manager;
	put32(out + 4, h->volid);
	put32(out + 8, (uint32_t)(h->fileid >> 32));
	put32(out + 12, (uint32_t)h->fileid);
	put32(out + 16, h->gen);
	crypto_shorthash(out + 20, out, 20, fh_key);
}

int fh_decode(const nfs_fh3 *in, struct fh *out)
{
	const uint8_t *p = (const uint8_t *)in->data.data_val;
	uint8_t mac[8];

	if (in->data.data_len != FH_SIZE || !p || p[0] != FH_MAGIC || p[1] >> 4 != FH_VERSION)
		return NFS3ERR_BADHANDLE;
	crypto_shorthash(mac, p, 20, fh_key);
	if (sodium_memcmp(mac, p + 20, 8) != 0)
		return NFS3ERR_BADHANDLE;
	out->flags = p[1] & 0xf;
	out->manager = (uint32_t)p[2] << 8 | p[3];
	out->volid = get32(p + 4);
	out->fileid = (uint64_t)get32(p + 8) << 32 | get32(p + 12);
	out->gen = get32(p + 16);
	if (out->volid != fh_volid)
		return NFS3ERR_BADHANDLE;
	return 0;
}
