/*
 * store_crc.c - the checksum sidecar of the file backing: one 8-byte entry
 * per block, CRC32C computed with ISA-L.
 *
 * ISA-L's crc32_iscsi() neither inverts its input nor its result: with an
 * initial value of ~0 and the result inverted it gives the standard
 * CRC32C ("123456789" -> 0xe3069283), and the raw register can be fed back
 * in to continue over the next piece of a block.
 */
#include <endian.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include <isa-l/crc.h>

#include "store_file.h"

static const uint8_t zeros[STORE_BLOCK];

static uint32_t crc_raw(uint32_t raw, const void *buf, size_t len)
{
	return crc32_iscsi((unsigned char *)buf, (int)len, raw);
}

uint32_t crc_block(const void *buf, uint32_t len)
{
	uint32_t raw = crc_raw(~0u, buf, len);

	if (len < STORE_BLOCK)
		raw = crc_raw(raw, zeros, STORE_BLOCK - len);
	return ~raw;
}

uint32_t crc_zero(void)
{
	static _Atomic uint32_t z;
	uint32_t v = atomic_load_explicit(&z, memory_order_relaxed);

	if (!v) {   /* never 0: CRC32C of 4 KiB of zeros is 0x98f94189 */
		v = crc_block(zeros, STORE_BLOCK);
		atomic_store_explicit(&z, v, memory_order_relaxed);
	}
	return v;
}

static bool unwritten(const struct crc_ent *e)
{
	return e->crc == 0 && e->alt == 0;
}

bool crc_match(const struct crc_ent *e, uint32_t c)
{
	if (unwritten(e))
		return c == crc_zero();
	return c == e->crc || c == e->alt;
}

uint32_t crc_current(const struct crc_ent *e)
{
	return unwritten(e) ? crc_zero() : e->crc;
}

int crc_load(int fd, uint64_t first, uint32_t n, struct crc_ent *e, bool nowait)
{
	ssize_t got = pread_nowait(fd, e, (size_t)n * sizeof(*e), first * sizeof(*e), nowait);

	if (got < 0)
		return (int)got;
	memset((uint8_t *)e + got, 0, (size_t)n * sizeof(*e) - (size_t)got);
	for (uint32_t i = 0; i < n; i++) {
		e[i].crc = le32toh(e[i].crc);
		e[i].alt = le32toh(e[i].alt);
	}
	return 0;
}

int crc_save(int fd, uint64_t first, uint32_t n, const struct crc_ent *e)
{
	struct crc_ent le[64];
	uint64_t off = first * sizeof(*e);

	/* In pieces of 64 entries, converted to little-endian on the way. */
	while (n) {
		uint32_t k = n < 64 ? n : 64;
		for (uint32_t i = 0; i < k; i++)
			le[i] = (struct crc_ent){ htole32(e[i].crc), htole32(e[i].alt) };
		size_t len = k * sizeof(*e), done = 0;
		while (done < len) {
			ssize_t w = pwrite(fd, (uint8_t *)le + done, len - done, (off_t)(off + done));
			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0)
				return -errno;
			done += (size_t)w;
		}
		off += len;
		e += k;
		n -= k;
	}
	return 0;
}

int crc_trim(int fd, uint64_t size)
{
	return ftruncate(fd, (off_t)(fstore_nblocks(size) * sizeof(struct crc_ent))) < 0 ? -errno : 0;
}

/* ---- scatter/gather cursor ------------------------------------------------ */

uint32_t crc_iov(struct iov_cursor *c, size_t len)
{
	uint32_t raw = ~0u;

	while (len && c->i < c->n) {
		size_t k = c->iov[c->i].iov_len - c->off;
		if (k > len)
			k = len;
		raw = crc_raw(raw, (uint8_t *)c->iov[c->i].iov_base + c->off, k);
		len -= k;
		c->off += k;
		if (c->off == c->iov[c->i].iov_len) {
			c->i++;
			c->off = 0;
		}
	}
	return ~raw;
}

void iov_copy(struct iov_cursor *c, void *dst, size_t len)
{
	uint8_t *d = dst;

	while (len && c->i < c->n) {
		size_t k = c->iov[c->i].iov_len - c->off;
		if (k > len)
			k = len;
		memcpy(d, (uint8_t *)c->iov[c->i].iov_base + c->off, k);
		d += k;
		len -= k;
		c->off += k;
		if (c->off == c->iov[c->i].iov_len) {
			c->i++;
			c->off = 0;
		}
	}
}
