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
 * On a volume of several managers the directory's manager serves the
 * listing and gathers it: its own names and then, manager by manager, the
 * names the others hold (FMD_LIST), in order 0 .. N-1.  A cookie carries
 * the manager in its top byte (slice_route.h), so a listing resumes on the
 * right manager at the right place.  (A "local" directory - mkdir
 * switching - has all its names on its own manager.)
 *
 * Reply size: the encoded size of every entry is counted exactly against
 * the client's count (READDIR) or maxcount, and the directory part of each
 * entry (file id, name, cookie) against READDIRPLUS's dircount; an entry
 * that does not fit ends the reply (eof false), and if not even one fits
 * the answer is NFS3ERR_TOOSMALL.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "nfs_op.h"
#include "remote.h"
#include "slice_route.h"

#define COOKIE_DOT    1u
#define COOKIE_DOTDOT 2u
#define LIST_CHUNK    (64u << 10)

static uint32_t pad4(uint32_t n)
{
	return (n + 3) & ~3u;
}

/* The fixed part of a READDIR[PLUS] reply: status, post_op_attr,
 * cookieverf, the final "no more entries" and eof. */
#define DIR_REPLY_FIXED (4 + 4 + 84 + 8 + 4 + 4)

struct went {
	uint64_t     fileid, cookie;
	const char  *name;
	uint32_t     namelen, gen;
	uint8_t      type, flags;
	bool         has_attr;
	struct inode attr;
};

struct walk {
	struct fmd_op  *op;
	MDB_txn        *t;
	struct inode    dir;
	bool            plus;
	int             phase;       /* 0: ".", 1: "..", 2: names, 3: done */
	uint32_t        mgr, last;   /* manager being listed, the last one */
	uint64_t        after;       /* position on mgr */
	struct dent_iter it;         /* mgr is us */
	bool            it_open;
	uint8_t        *rbuf;        /* mgr is another: its names */
	size_t          rlen, roff;
	bool            reof, rvalid;
};

/* Keep a buffer until the op is encoded (names point into it). */
static int keep(struct fmd_op *op, void *p)
{
	for (int i = 0; i < (int)(sizeof(op->bufs) / sizeof(op->bufs[0])); i++) {
		if (!op->bufs[i]) {
			op->bufs[i] = p;
			return 0;
		}
	}
	return -ENOSPC;
}

static bool next_manager(struct walk *w)
{
	if (w->it_open) {
		dent_iter_close(&w->it);
		w->it_open = false;
	}
	w->rvalid = false;
	if (w->mgr >= w->last)
		return false;
	w->mgr++;
	w->after = 0;
	return true;
}

/* The next name held by manager w->mgr: 1, 0 (no more there), < 0. */
static int next_here(struct walk *w, struct went *e)
{
	struct fmd *f = w->op->f;
	if (w->mgr == f->cfg.index) {
		if (!w->it_open) {
			int rc = dent_iter_open(f->st, w->t, w->dir.fileid, w->after, &w->it);
			if (rc)
				return rc;
			w->it_open = true;
		}
		struct dirent_val d;
		int rc = dent_iter_next(&w->it, &d, &e->name, &e->namelen);
		if (rc <= 0)
			return rc;
		e->fileid = d.fileid;
		e->cookie = slice_cookie(w->mgr, d.cookie);
		e->gen = d.gen;
		e->type = d.type;
		e->flags = d.flags;
		e->has_attr = false;
		if (w->plus && op_is_ours(f, d.fileid) && ino_get(f->st, w->t, d.fileid, &e->attr) == 0)
			e->has_attr = true;
		w->after = d.cookie;
		return 1;
	}
	for (;;) {
		if (w->rvalid && w->roff + sizeof(struct fmd_lent) <= w->rlen) {
			struct fmd_lent l;
			memcpy(&l, w->rbuf + w->roff, sizeof(l));
			size_t sz = sizeof(l) + ((l.namelen + 8u) & ~7u);
			if (w->roff + sz > w->rlen)
				return -EBADMSG;
			e->name = (const char *)w->rbuf + w->roff + sizeof(l);
			e->namelen = l.namelen;
			e->fileid = l.fileid;
			e->cookie = slice_cookie(w->mgr, l.pos);
			e->gen = l.gen;
			e->type = l.type;
			e->flags = l.rsv;
			e->has_attr = l.has_attr != 0;
			if (e->has_attr) {
				attr_from_wire(l.fileid, &l.attr, &e->attr);
				e->attr.x_remote = 0;   /* fresh from its manager */
			}
			w->roff += sz;
			w->after = l.pos;
			return 1;
		}
		if (w->rvalid && w->reof)
			return 0;
		/* fetch the next chunk of that manager's names */
		if (!w->rbuf) {
			w->rbuf = malloc(LIST_CHUNK);
			if (!w->rbuf || keep(w->op, w->rbuf)) {
				free(w->rbuf);
				w->rbuf = NULL;
				return -ENOMEM;
			}
		} else {
			/* names of the entries already given point into it: a
			 * new buffer, kept with the op as well */
			uint8_t *b = malloc(LIST_CHUNK);
			if (!b || keep(w->op, b)) {
				free(b);
				return -ENOMEM;
			}
			w->rbuf = b;
		}
		uint32_t count;
		bool eof;
		int rc = remote_list(f, w->mgr, w->dir.fileid, w->after, w->plus, w->rbuf, LIST_CHUNK, &count,
				     &eof, &w->rlen);
		if (rc)
			return rc;
		w->roff = 0;
		w->reof = eof;
		w->rvalid = true;
		if (count == 0 && !eof)
			return -EBADMSG;
	}
}

/* The next entry of the listing: 1, 0 at the end, < 0 on error. */
static int walk_step(struct walk *w, struct went *e)
{
	struct fmd *f = w->op->f;
	memset(e, 0, sizeof(*e));
	if (w->phase == 0) {
		w->phase = 1;
		e->fileid = w->dir.fileid;
		e->gen = w->dir.gen;
		e->type = NF3DIR;
		e->cookie = COOKIE_DOT;
		e->name = ".";
		e->namelen = 1;
		if (w->plus) {
			e->attr = w->dir;
			e->has_attr = true;
		}
		return 1;
	}
	if (w->phase == 1) {
		w->phase = 2;
		uint64_t up = w->dir.fileid == f->root ? w->dir.fileid : w->dir.parent;
		e->fileid = up;
		e->type = NF3DIR;
		e->cookie = COOKIE_DOTDOT;
		e->name = "..";
		e->namelen = 2;
		/* its generation (for the handle) from wherever it lives */
		struct inode p;
		int rc = op_is_ours(f, up) ? ino_get(f->st, w->t, up, &p) : remote_getattr(f, up, 0, &p);
		if (rc)
			return rc == -ENOENT ? 1 : rc;
		e->gen = p.gen;
		e->flags = (p.flags & INO_LOCAL_DIR) ? 0x1 : 0;
		if (w->plus) {
			e->attr = p;
			e->attr.x_remote = 0;
			e->has_attr = true;
		}
		return 1;
	}
	while (w->phase == 2) {
		int rc = next_here(w, e);
		if (rc != 0)
			return rc;
		if (!next_manager(w))
			w->phase = 3;
	}
	return 0;
}

static void walk_close(struct walk *w)
{
	if (w->it_open)
		dent_iter_close(&w->it);
	w->it_open = false;
}

/* Open the directory for listing: NFS3_OK or the status. */
static int walk_open(struct fmd_op *op, MDB_txn *t, const nfs_fh3 *h, uint64_t cookie, bool plus,
		     struct walk *w, post_op_attr *dir_attr)
{
	struct fmd *f = op->f;
	int st;
	memset(w, 0, sizeof(*w));
	w->op = op;
	w->t = t;
	w->plus = plus;
	if ((st = op_inode(op, t, h, &w->dir)) != NFS3_OK)
		return st;
	attr_post(&w->dir, f->fsid, dir_attr);
	if (w->dir.type != NF3DIR)
		return NFS3ERR_NOTDIR;
	if ((st = access_check(&w->dir, &op->cred, MAY_READ)) != NFS3_OK)
		return st;
	/* which managers hold its names, and where to start */
	bool local = f->cfg.managers <= 1 || (w->dir.flags & INO_LOCAL_DIR);
	uint32_t first = local ? f->cfg.index : 0;
	w->last = local ? f->cfg.index : f->cfg.managers - 1;
	if (cookie <= COOKIE_DOTDOT) {   /* 0: from the start; 1, 2: after "." / ".." */
		w->phase = (int)cookie;
		w->mgr = first;
	} else {
		w->phase = 2;
		w->mgr = slice_cookie_manager(cookie);
		w->after = slice_cookie_pos(cookie);
		if (w->mgr < first || w->mgr > w->last)
			return NFS3ERR_BAD_COOKIE;
	}
	return NFS3_OK;
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
	struct went e;
	uint32_t count = cap_count(a->count);
	int rc;

	if ((r->status = walk_open(op, t, &a->dir, a->cookie, false, &w, &ok->dir_attributes)) != NFS3_OK)
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
	bool eof = false;
	for (;;) {
		if (n == max)
			break;
		rc = walk_step(&w, &e);
		if (rc < 0) {
			walk_close(&w);
			r->status = rc == -ENOMEM ? NFS3ERR_SERVERFAULT : NFS3ERR_JUKEBOX;
			return 0;
		}
		if (rc == 0) {
			eof = true;
			break;
		}
		uint32_t sz = 4 + 8 + 4 + pad4(e.namelen) + 8;
		if (used + sz > count)
			break;
		used += sz;
		ents[n].fileid = e.fileid;
		ents[n].name = (char *)e.name;   /* NUL-terminated in the map, a list buffer, or static */
		ents[n].cookie = e.cookie;
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
	struct went e;
	uint32_t maxcount = cap_count(a->maxcount), dircount = a->dircount;
	int rc;

	if ((r->status = walk_open(op, t, &a->dir, a->cookie, true, &w, &ok->dir_attributes)) != NFS3_OK)
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
	bool eof = false;
	for (;;) {
		if (n == max)
			break;
		rc = walk_step(&w, &e);
		if (rc < 0) {
			walk_close(&w);
			r->status = rc == -ENOMEM ? NFS3ERR_SERVERFAULT : NFS3ERR_JUKEBOX;
			return 0;
		}
		if (rc == 0) {
			eof = true;
			break;
		}
		uint32_t dsz = 8 + 4 + pad4(e.namelen) + 8;
		uint32_t sz = 4 + dsz + (4 + 84) + (4 + 4 + FH_SIZE);
		if (used + sz > maxcount || (n > 0 && dused + dsz > dircount))
			break;
		used += sz;
		dused += dsz;
		entryplus3 *x = &ents[n];
		x->fileid = e.fileid;
		x->name = (char *)e.name;
		x->cookie = e.cookie;
		if (e.has_attr)
			attr_post(&e.attr, op->f->fsid, &x->name_attributes);
		if (e.gen) {
			struct inode h = { .fileid = e.fileid, .gen = e.gen,
					   .flags = (e.flags & 0x1) ? INO_LOCAL_DIR : 0 };
			x->name_handle.handle_follows = 1;
			op_fh_into(op->f, &h, fhs + (size_t)n * FH_SIZE, &x->name_handle.post_op_fh3_u.handle);
		}
		if (n > 0)
			ents[n - 1].nextentry = x;
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
