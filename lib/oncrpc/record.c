/*
 * record.c - record marking (RFC 5531 section 11): a 4-byte header per
 * fragment (top bit: last fragment; 31 bits: length), fragments
 * concatenated into a record.  The limits are the whole defence against a
 * client that announces a 2 GiB record: the buffer only ever grows to what
 * has really arrived, and never past max_record.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "oncrpc.h"

void orpc_rm_init(struct orpc_rm *rm, uint32_t max_record)
{
	memset(rm, 0, sizeof(*rm));
	rm->max_record = max_record;
}

void orpc_rm_reset(struct orpc_rm *rm)
{
	free(rm->rec);
	uint32_t max = rm->max_record;
	orpc_rm_init(rm, max);
}

/* Make room for n more bytes: grow geometrically, but only to what the
 * current fragment still needs, so memory follows the bytes received. */
static int reserve(struct orpc_rm *rm, uint32_t n)
{
	uint32_t need = rm->rec_len + n;
	if (need <= rm->rec_cap)
		return 0;
	uint64_t cap = rm->rec_cap ? (uint64_t)rm->rec_cap * 2 : 512;
	uint64_t want = (uint64_t)rm->rec_len + rm->frag_left;
	if (cap > want)
		cap = want;
	if (cap < need)
		cap = need;
	uint8_t *p = realloc(rm->rec, cap);
	if (!p)
		return -ENOMEM;
	rm->rec = p;
	rm->rec_cap = (uint32_t)cap;
	return 0;
}

static int start_fragment(struct orpc_rm *rm)
{
	uint32_t h = (uint32_t)rm->hdr[0] << 24 | (uint32_t)rm->hdr[1] << 16 |
		     (uint32_t)rm->hdr[2] << 8 | rm->hdr[3];
	uint32_t flen = h & ~ORPC_RM_LAST;
	rm->hdr_have = 0;
	if (++rm->nfrags > ORPC_RM_MAX_FRAGS)
		return -EMSGSIZE;
	if ((uint64_t)rm->rec_len + flen > rm->max_record)
		return -EMSGSIZE;
	rm->last = (h & ORPC_RM_LAST) != 0;
	rm->frag_left = flen;
	rm->in_frag = true;
	return 0;
}

int orpc_rm_feed(struct orpc_rm *rm, const uint8_t *data, size_t len, size_t *used)
{
	size_t i = 0;
	int rc = 0;

	while (i < len || (rm->in_frag && rm->frag_left == 0)) {
		if (!rm->in_frag) {
			rm->hdr[rm->hdr_have++] = data[i++];
			if (rm->hdr_have == 4 && (rc = start_fragment(rm)) < 0)
				break;
			continue;
		}
		if (rm->frag_left > 0) {
			uint32_t n = rm->frag_left;
			if (n > len - i)
				n = (uint32_t)(len - i);
			if ((rc = reserve(rm, n)) < 0)
				break;
			memcpy(rm->rec + rm->rec_len, data + i, n);
			rm->rec_len += n;
			rm->frag_left -= n;
			i += n;
		}
		if (rm->frag_left == 0) {
			rm->in_frag = false;
			if (rm->last) {
				rc = 1;
				break;
			}
		}
	}
	*used = i;
	return rc;
}

uint8_t *orpc_rm_take(struct orpc_rm *rm, uint32_t *len)
{
	uint8_t *rec = rm->rec;
	*len = rm->rec_len;
	if (!rec)   /* an empty record: give the caller something to free */
		rec = malloc(1);
	rm->rec = NULL;
	rm->rec_len = rm->rec_cap = 0;
	rm->nfrags = 0;
	rm->last = false;
	return rec;
}
