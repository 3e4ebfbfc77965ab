/*
 * access.c - may this caller read or write this file?  The data path
 * (slice_vol's stateless side) opens a file once for every caller - it
 * checks the handle, not the caller - so the proxy asks the file's
 * manager, as slice-fmd's own READ and WRITE decide (nfs_rw.c, knfsd's
 * rule): the owner may read and write its file whatever the mode (NFS has
 * no open; the client checked at open time); others need READ (or
 * EXECUTE: a binary is paged in with READ) to read and MODIFY to write.
 *
 * Asking costs a GETATTR and an ACCESS, so verdicts are kept for
 * ACCESS_TTL_MS per (file, uid, gid, groups): a chmod takes at most that
 * long to reach the data path - the attribute cache of an NFS client
 * already works with such delays.
 */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "proxy.h"

#define ACCESS_SLOTS  4096u
#define ACCESS_TTL_MS 2000

struct verdict {
	uint64_t key;        /* hash of the handle and the credential; 0: empty */
	int64_t  expires;
	bool     may_read, may_write;
};

static struct verdict slots[ACCESS_SLOTS];
static pthread_mutex_t slots_mu = PTHREAD_MUTEX_INITIALIZER;

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
	const uint8_t *b = p;
	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 0x100000001b3ull;
	return h;
}

static uint64_t key_of(const struct slice_vfh *fh, const struct slice_cred *cr)
{
	uint64_t h = fnv(0xcbf29ce484222325ull, fh->b, fh->len);
	h = fnv(h, &cr->uid, sizeof(cr->uid));
	h = fnv(h, &cr->gid, sizeof(cr->gid));
	h = fnv(h, cr->gids, sizeof(cr->gids[0]) * cr->ngids);
	return h ? h : 1;
}

int proxy_may(struct proxy *p, const struct slice_cred *cr, const struct slice_vfh *fh, bool write)
{
	uint64_t key = key_of(fh, cr);
	struct verdict *s = &slots[key % ACCESS_SLOTS];
	int64_t now = now_ms();

	pthread_mutex_lock(&slots_mu);
	if (s->key == key && s->expires > now) {
		bool ok = write ? s->may_write : s->may_read;
		pthread_mutex_unlock(&slots_mu);
		return ok ? 0 : -EACCES;
	}
	pthread_mutex_unlock(&slots_mu);

	struct slice_attr attr;
	uint32_t granted = 0;
	int rc = slice_vol_getattr(p->vol, cr, fh, &attr);
	if (rc == 0 && attr.uid != cr->uid)
		rc = slice_vol_access(p->vol, cr, fh, R_OK | W_OK | X_OK, &granted);
	if (rc < 0)
		return rc;
	if ((attr.type & S_IFMT) == S_IFDIR)
		return -EISDIR;
	struct verdict v = {
		.key = key,
		.expires = now + ACCESS_TTL_MS,
		.may_read = attr.uid == cr->uid || (granted & (R_OK | X_OK)),
		.may_write = attr.uid == cr->uid || (granted & W_OK),
	};
	pthread_mutex_lock(&slots_mu);
	*s = v;
	pthread_mutex_unlock(&slots_mu);
	return (write ? v.may_write : v.may_read) ? 0 : -EACCES;
}
