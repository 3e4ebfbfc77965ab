/*
 * nfs_dir.c - READDIR and READDIRPLUS.
 *
 * A listing walks the `listing` table in cookie order from the cookie the
 * client gives.  Cookies are never reused and never move (store.c), so no
 * verifier is needed to detect a changed directory: the verifier we send is
 * zero and any verifier is accepted, and a listing resumed after creates
 * and removes returns every entry that stayed exactly once.  "." and ".."
 * come first with cookies 1 and 2.
 *
 * Reply size: the encoded size of every entry is counted exactly against
 * the client's count (READDIR) or maxcount, and the directory part of each
 * entry (file id, name, cookie) against READDIRPLUS's dircount; an entry
 * that does not fit ends the reply (eof false), and if not even one fits
 * the answer is NFS3ERR_TOOSMALL.
 */
#include <stdlib.h>
#include <string.h>

#include "nfs_op.h"

#define COOKIE_DOT    1u
#define COOKIE_DOTDOT 2u

static uint32_t pad4(uint32_t n)
{
	return (n + 3) & ~3u;
}

/* The fixed part of a READDIR[PLUS] reply: status, post_op_attr,
 * cookieverf, the final "no more entries" and eof. */
#define DIR_REPLY_FIXED (4 + 4 + 84 + 8 + 4 + 4)

struct walk {
	struct fmd_op  *op;
	MDB_txn        *t;
	struct inode    dir;
	uint64_t        cookie;      /* resume after this */
	struct dent_iter it;
	bool            it_open;
	int             phase;       /* 0: ".", 1: "..", 2: entries, 3: done */
};

/* The next entry of the listing: 1, 0 at the end, < 0 on error. */
static int walk_next(struct walk *w, uint64_t *fileid, uint64_t *cookie, const char **name,
		     uint32_t *namelen)
{
	uint8_t type;
	if (w->phase == 0) {
		w->phase = 1;
		if (w->cookie < COOKIE_DOT) {
			*fileid = w->dir.fileid;
			*cookie = COOKIE_DOT;
			*name = ".";
			*namelen = 1;
			return 1;
		}
	}
	if (w->phase == 1) {
		w->phase = 2;
		if (w->cookie < COOKIE_DOTDOT) {
			*fileid = w->dir.fileid == w->op->f->root ? w->dir.fileid : w->dir.parent;
			*cookie = COOKIE_DOTDOT;
			*name = "..";
			*namelen = 2;
			return 1;
		}
	}
	if (w->phase == 2) {
		if (!w->it_open) {
			uint64_t after = w->cookie < COOKIE_DOTDOT ? 0 : w->cookie;
			int rc = dent_iter_open(w->op->f->st, w->t, w->dir.fileid, after, &w->it);
			if (rc)
				return rc;
			w->it_open = true;
		}
		int rc = dent_iter_next(&w->it, fileid, cookie, &type, name, namelen);
		if (rc != 0)
			return rc;
		w->phase = 3;
	}
	return 0;
}

static void walk_close(struct walk *w)
{
	if (w->it_open)
		dent_iter_close(&w->it);
}

/* Open the directory for listing: NFS3_OK or the status. */
static int walk_open(struct fmd_op *op, MDB_txn *t, const nfs_fh3 *h, uint64_t cookie,
		     struct walk *w, post_op_attr *dir_attr)
{
	int st;
	memset(w, 0, sizeof(*w));
	w->op = op;
	w->t = t;
	w->cookie = cookie;
	if ((st = op_inode(op, t, h, &w->dir)) != NFS3_OK)
		return st;
	attr_post(&w->dir, op->f->fsid, dir_attr);
	if (w->dir.type != NF3DIR)
		return NFS3ERR_NOTDIR;
	return access_check(&w->dir, &op->cred, MAY_READ);
}

static uint32_t cap_count(uint32_t count)
{
	return count > FMD_RW_MAX ? FMD_RW_MAX : count;
}

int nfs_readdir(struct fmd_op *op, MDB_txn *t)
{
	const READDIR3args *a = &op->a.u.readdir;
	READDIR3res *r = &op->res.readdir;
	READDIR3resok *ok = &r->READDIR3res_u.resok;
	struct walk w;
	uint32_t count = cap_count(a->count);
	int rc;

	if ((r->status = walk_open(op, t, &a->dir, a->cookie, &w, &ok->dir_attributes)) != NFS3_OK)
		return 0;
	uint32_t max = count / 24 + 1;
	if (max > FMD_READDIR_MAX_ENTRIES)
		max = FMD_READDIR_MAX_ENTRIES;
	entry3 *ents = calloc(max, sizeof(*ents));
	if (!ents) {
		r->status = NFS3ERR_SERVERFAULT;
		return 0;
	}
	op->mem = ents;
	uint32_t used = DIR_REPLY_FIXED, n = 0;
	uint64_t fileid, cookie;
	const char *name;
	uint32_t nl;
	bool eof = false;
	for (;;) {
		if (n == max)
			break;
		rc = walk_next(&w, &fileid, &cookie, &name, &nl);
		if (rc < 0) {
			walk_close(&w);
			r->status = NFS3ERR_IO;
			return 0;
		}
		if (rc == 0) {
			eof = true;
			break;
		}
		uint32_t sz = 4 + 8 + 4 + pad4(nl) + 8;
		if (used + sz > count)
			break;
		used += sz;
		ents[n].fileid = fileid;
		ents[n].name = (char *)name;   /* NUL-terminated in the map or static */
		ents[n].cookie = cookie;
		if (n > 0)
			ents[n - 1].nextentry = &ents[n];
		n++;
	}
	walk_close(&w);
	if (n == 0 && !eof) {
		r->status = NFS3ERR_TOOSMALL;
		return 0;
	}
	ok->reply.entries = n ? ents : NULL;
	ok->reply.eof = eof;
	memset(ok->cookieverf, 0, sizeof(ok->cookieverf));
	op->reply_max = used + 256;
	return 0;
}

int nfs_readdirplus(struct fmd_op *op, MDB_txn *t)
{
	const READDIRPLUS3args *a = &op->a.u.readdirplus;
	READDIRPLUS3res *r = &op->res.readdirplus;
	READDIRPLUS3resok *ok = &r->READDIRPLUS3res_u.resok;
	struct walk w;
	uint32_t maxcount = cap_count(a->maxcount), dircount = a->dircount;
	int rc;

	if ((r->status = walk_open(op, t, &a->dir, a->cookie, &w, &ok->dir_attributes)) != NFS3_OK)
		return 0;
	uint32_t max = maxcount / 148 + 1;
	if (max > FMD_READDIR_MAX_ENTRIES)
		max = FMD_READDIR_MAX_ENTRIES;
	/* one allocation: the entries, then their handles */
	entryplus3 *ents = calloc(max, sizeof(*ents) + FH_SIZE);
	if (!ents) {
		r->status = NFS3ERR_SERVERFAULT;
		return 0;
	}
	uint8_t *fhs = (uint8_t *)(ents + max);
	op->mem = ents;
	uint32_t used = DIR_REPLY_FIXED, dused = 0, n = 0;
	uint64_t fileid, cookie;
	const char *name;
	uint32_t nl;
	bool eof = false;
	struct inode ino;
	for (;;) {
		if (n == max)
			break;
		rc = walk_next(&w, &fileid, &cookie, &name, &nl);
		if (rc < 0) {
			walk_close(&w);
			r->status = NFS3ERR_IO;
			return 0;
		}
		if (rc == 0) {
			eof = true;
			break;
		}
		uint32_t dsz = 8 + 4 + pad4(nl) + 8;
		uint32_t sz = 4 + dsz + (4 + 84) + (4 + 4 + FH_SIZE);
		if (used + sz > maxcount || (n > 0 && dused + dsz > dircount))
			break;
		used += sz;
		dused += dsz;
		entryplus3 *e = &ents[n];
		e->fileid = fileid;
		e->name = (char *)name;
		e->cookie = cookie;
		rc = ino_get(op->f->st, t, fileid, &ino);
		if (rc == 0) {
			attr_post(&ino, op->f->fsid, &e->name_attributes);
			e->name_handle.handle_follows = 1;
			op_fh_into(op->f, &ino, fhs + (size_t)n * FH_SIZE, &e->name_handle.post_op_fh3_u.handle);
		}
		if (n > 0)
			ents[n - 1].nextentry = e;
		n++;
	}
	walk_close(&w);
	if (n == 0 && !eof) {
		r->status = NFS3ERR_TOOSMALL;
		return 0;
	}
	ok->reply.entries = n ? ents : NULL;
	ok->reply.eof = eof;
	memset(ok->cookieverf, 0, sizeof(ok->cookieverf));
	op->reply_max = used + 256;
	return 0;
}
