/*
 * store_rw.c - the file backing's data path: verified reads, writes with
 * their checksums, truncate.
 *
 * Crash safety (a process killed at any instruction; the page cache
 * survives): a write saves its blocks' entries {new CRC, CRC of the bytes
 * on disk now} before the data, so every block passes its check whatever
 * point the write reached.  A truncate that cuts a block saves that
 * block's entry {cut CRC, old CRC} before cutting, and the sidecar is cut
 * after the data, so leftover entries lie past the end (trimmed at open).
 * Against power loss only what sync() made durable is promised: a block
 * being written when the machine died may fail its check (reads of it
 * return EIO, never other bytes).
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "blockd_log.h"
#include "store_file.h"

static void crc_error(struct fstore *fs, uint64_t obj, uint64_t block, const struct crc_ent *e,
		      uint32_t got, const char *what)
{
	atomic_fetch_add(&fs->crc_errors, 1);
	FLOG(fs, BLOG_ERR, "object %016" PRIx64 " block %" PRIu64 " (bytes %" PRIu64 "..%" PRIu64
	     "): CRC32C mismatch (stored %08x/%08x, computed %08x): %s", obj, block,
	     block * STORE_BLOCK, block * STORE_BLOCK + STORE_BLOCK - 1, e->crc, e->alt, got, what);
}

/* ---- read ------------------------------------------------------------------- */

int fs_read(struct store *s, uint64_t obj, uint64_t off, uint32_t len, void *buf, unsigned flags,
	    uint64_t *size, uint64_t *bad)
{
	struct fstore *fs = FSTORE(s);
	struct crc_ent e[STORE_READ_BLOCKS];
	bool nowait = flags & STORE_NOWAIT;
	struct fobj *o;
	int rc;

	*size = 0;
	*bad = 0;
	if (off % STORE_BLOCK || len % STORE_BLOCK || len / STORE_BLOCK > STORE_READ_BLOCKS)
		return -EINVAL;
	rc = nowait ? fobj_get_open(fs, obj, &o) : fobj_get(fs, obj, false, &o);
	if (rc == -ENOENT) {
		memset(buf, 0, len);   /* never written: all hole */
		return 0;
	}
	if (rc < 0)
		return rc;
	uint64_t sz = atomic_load(&o->size);
	*size = sz;
	uint32_t avail = off >= sz ? 0 : sz - off < len ? (uint32_t)(sz - off) : len;
	ssize_t got = avail ? pread_nowait(o->dat, buf, avail, off, nowait) : 0;
	if (got < 0) {
		rc = (int)got;
		goto out;
	}
	/* Past the end, and the tail of the last block: zeros, as the
	 * checksum of a partial last block counts them. */
	memset((uint8_t *)buf + got, 0, len - (size_t)got);
	uint32_t nb = (uint32_t)fstore_nblocks(avail);
	if (nb && (rc = crc_load(o->crc, off / STORE_BLOCK, nb, e, nowait)) < 0)
		goto out;
	for (uint32_t i = 0; i < nb; i++) {
		uint32_t c = crc_block((uint8_t *)buf + (size_t)i * STORE_BLOCK, STORE_BLOCK);
		if (!crc_match(&e[i], c)) {
			*bad |= 1ull << i;
			crc_error(fs, obj, off / STORE_BLOCK + i, &e[i], c, "not served: reads of it get EIO");
		}
	}
	rc = *bad ? -EIO : 0;
out:
	if (nowait)
		fobj_put_nowait(fs, o);
	else
		fobj_put(fs, o);
	return rc;
}

/* ---- write ------------------------------------------------------------------ */

/* One block's bytes as they are on disk (zeros past the end), checked:
 * *cur gets their CRC.  -EIO if they fail their entry. */
static int read_block(struct fstore *fs, struct fobj *o, uint64_t b, uint64_t size,
		      const struct crc_ent *e, uint8_t *blk, uint32_t *cur, const char *what)
{
	uint64_t bs = b * STORE_BLOCK;
	ssize_t got = 0;

	if (bs < size) {
		uint64_t n = size - bs < STORE_BLOCK ? size - bs : STORE_BLOCK;
		if ((got = pread_full(o->dat, blk, (size_t)n, bs)) < 0)
			return (int)got;
	}
	memset(blk + got, 0, STORE_BLOCK - (size_t)got);
	*cur = crc_block(blk, STORE_BLOCK);
	if (bs < size && !crc_match(e, *cur)) {
		crc_error(fs, o->id, b, e, *cur, what);
		return -EIO;
	}
	return 0;
}

/* pwritev all of iov at off, through short writes. */
static int pwritev_full(int fd, const struct iovec *iov, int iovcnt, uint64_t off)
{
	struct iovec v[IOV_MAX];
	int n = iovcnt < IOV_MAX ? iovcnt : IOV_MAX, i = 0;

	memcpy(v, iov, (size_t)n * sizeof(*v));
	while (i < n) {
		ssize_t w = pwritev(fd, v + i, n - i, (off_t)off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		if (w == 0)
			return -EIO;
		off += (uint64_t)w;
		while (i < n && (size_t)w >= v[i].iov_len) {
			w -= (ssize_t)v[i].iov_len;
			i++;
		}
		if (i < n) {
			v[i].iov_base = (uint8_t *)v[i].iov_base + w;
			v[i].iov_len -= (size_t)w;
		}
	}
	return 0;
}

/* New entries for blocks fb..fb+nb-1 covered by [off, off + len); checks
 * the one or two blocks only partly overwritten first. */
static int new_entries(struct fstore *fs, struct fobj *o, uint64_t off, uint64_t len,
		       const struct iovec *iov, int iovcnt, uint64_t size, struct crc_ent *e, uint32_t nb)
{
	struct iov_cursor cur = { .iov = iov, .n = iovcnt };
	uint64_t fb = off / STORE_BLOCK, end = off + len;
	uint8_t *blk = NULL;
	int rc = 0;

	for (uint32_t i = 0; i < nb; i++) {
		uint64_t bs = (fb + i) * STORE_BLOCK;
		uint64_t lo = off > bs ? off : bs, hi = end < bs + STORE_BLOCK ? end : bs + STORE_BLOCK;
		uint32_t now;   /* CRC of the block's bytes on disk now */
		if (lo == bs && hi == bs + STORE_BLOCK) {
			now = bs < size ? crc_current(&e[i]) : crc_zero();
			e[i].crc = crc_iov(&cur, STORE_BLOCK);
		} else {
			if (!blk && !(blk = malloc(STORE_BLOCK)))
				return -ENOMEM;
			rc = read_block(fs, o, fb + i, size, &e[i], blk, &now,
					"write refused (EIO): it would mix new bytes with corrupt ones");
			if (rc < 0)
				break;
			iov_copy(&cur, blk + (lo - bs), hi - lo);
			e[i].crc = crc_block(blk, STORE_BLOCK);
		}
		e[i].alt = now;
	}
	free(blk);
	return rc;
}

int fs_write(struct store *s, uint64_t obj, uint64_t off, const struct iovec *iov, int iovcnt,
	     uint64_t *size)
{
	struct fstore *fs = FSTORE(s);
	struct crc_ent *e = NULL;
	struct fobj *o;
	uint64_t len = 0;
	int rc;

	*size = 0;
	for (int i = 0; i < iovcnt; i++)
		len += iov[i].iov_len;
	if (iovcnt > IOV_MAX || off > STORE_MAX_SIZE || len > STORE_MAX_SIZE - off)
		return iovcnt > IOV_MAX ? -EINVAL : -EFBIG;
	if ((rc = fobj_get(fs, obj, true, &o)) < 0)
		return rc;
	uint64_t old = atomic_load(&o->size);
	if (len == 0)
		goto out;
	uint64_t fb = off / STORE_BLOCK;
	uint32_t nb = (uint32_t)((off + len - 1) / STORE_BLOCK - fb + 1);
	if (!(e = malloc((size_t)nb * sizeof(*e)))) {
		rc = -ENOMEM;
		goto out;
	}
	if ((rc = crc_load(o->crc, fb, nb, e, false)) < 0 ||
	    (rc = new_entries(fs, o, off, len, iov, iovcnt, old, e, nb)) < 0)
		goto out;
	/* Entries first, then the data (see the top of this file). */
	atomic_store(&o->dirty, true);
	if ((rc = crc_save(o->crc, fb, nb, e)) < 0)
		goto out;
	if ((rc = pwritev_full(o->dat, iov, iovcnt, off)) < 0) {
		/* Entries past the end would outlive a failed extension (they
		 * would still pass zeros: their alt is the CRC of a hole). */
		if (off + len > old)
			crc_trim(o->crc, old);
		goto out;
	}
	if (off + len > old)
		atomic_store(&o->size, off + len);
out:
	*size = atomic_load(&o->size);
	free(e);
	fobj_put(fs, o);
	return rc;
}

/* ---- truncate --------------------------------------------------------------- */

/* Cutting inside a block changes its bytes: give it an entry for the cut
 * bytes (a corrupt block stays marked bad: its entry matches nothing). */
static int cut_block(struct fstore *fs, struct fobj *o, uint64_t size, uint64_t old)
{
	uint64_t b = size / STORE_BLOCK;
	struct crc_ent e;
	uint32_t now;
	uint8_t *blk = malloc(STORE_BLOCK);
	int rc;

	if (!blk)
		return -ENOMEM;
	if ((rc = crc_load(o->crc, b, 1, &e, false)) < 0)
		goto out;
	rc = read_block(fs, o, b, old, &e, blk, &now, "truncate keeps it marked bad");
	if (rc < 0 && rc != -EIO)
		goto out;
	memset(blk + size % STORE_BLOCK, 0, STORE_BLOCK - size % STORE_BLOCK);
	uint32_t cut = crc_block(blk, STORE_BLOCK);
	e = rc == 0 ? (struct crc_ent){ cut, now } : (struct crc_ent){ ~cut, ~cut };
	rc = crc_save(o->crc, b, 1, &e);
out:
	free(blk);
	return rc;
}

int fs_truncate(struct store *s, uint64_t obj, uint64_t size)
{
	struct fstore *fs = FSTORE(s);
	struct fobj *o;
	int rc;

	if (size > STORE_MAX_SIZE)
		return -EFBIG;
	if ((rc = fobj_get(fs, obj, true, &o)) < 0)
		return rc;
	uint64_t old = atomic_load(&o->size);
	if (size < old && size % STORE_BLOCK && (rc = cut_block(fs, o, size, old)) < 0)
		goto out;
	if (size != old) {
		if (ftruncate(o->dat, (off_t)size) < 0) {
			rc = -errno;
			goto out;
		}
		atomic_store(&o->size, size);
		if (size < old && (rc = crc_trim(o->crc, size)) < 0)
			goto out;
	}
	rc = fobj_sync(fs, o);
out:
	fobj_put(fs, o);
	return rc;
}
