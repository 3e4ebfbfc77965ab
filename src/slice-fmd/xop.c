/*
 * xop.c - operations that span file managers, made all-or-nothing by a
 * two-phase commit with an intention log on both sides (presumed abort).
 *
 *   RENAME  of a non-directory whose new name lives on another manager
 *   LINK    to a file held by another manager
 *   REMOVE  of a name whose file is held by another manager
 *   RMDIR   of a directory whose names are spread over all managers
 *
 * The coordinator is the manager of the name the client's call was routed
 * to.  Its steps, each a committed transaction or a message:
 *
 *   1 begin    check what it can locally; write the intent (PREPARING)
 *              and lock the names involved                  [x-begin]
 *   2 prepare  each participant checks its part, writes a prepared
 *              record, locks its names, and votes         [p-prepared]
 *                                                           [x-prepared]
 *   3 decide   all voted yes: apply our part and mark the intent
 *              COMMITTED in one transaction; else ABORTED   [x-decided]
 *   4 tell     each participant applies (or drops) its part and deletes
 *              its record, in one transaction             [p-applied]
 *                                                           [x-told]
 *   5 end      forget the intent, unlock
 *
 * ([name]: the --crash-at hooks, after the step's commit.)  A crash of
 * anyone anywhere: at start, and every second after, the resolver looks at
 * what is left.  A coordinator's intent still PREPARING was never decided:
 * it is aborted (presumed abort: a participant asking about an intent the
 * coordinator does not know learns "abort").  A decided intent is told to
 * the participants until each has applied it, then forgotten.  A
 * participant's prepared record asks the coordinator (FMD_QUERY) until it
 * learns the decision.  Applying is idempotent (the prepared record goes
 * in the same transaction), so telling twice does no harm.  Names stay
 * locked (NFS3ERR_JUKEBOX to whoever touches them) until decided and
 * applied, so nobody sees half of an operation.
 *
 * Limits: a directory is not renamed to a name on another manager
 * (NFS3ERR_XDEV; mv copies instead), nor may a rename replace a name whose
 * file is held by a third manager.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "remote.h"
#include "slice_route.h"

enum { X_RENAME = 1, X_LINK = 2, X_UNLINK = 3, X_RMDIR = 4 };
enum { S_PREPARING = 1, S_COMMITTED = 2, S_ABORTED = 3 };

/* The coordinator's intent record. */
struct intent_rec {
	uint64_t id;
	uint64_t parts;                      /* participants (bit per manager) */
	uint64_t acked;                      /* participants that applied the decision */
	uint64_t dir;                        /* our name's directory */
	uint64_t victim;                     /* RMDIR: the directory; UNLINK: the file */
	uint32_t victim_gen;
	uint8_t  kind, state, dir_remote, rsv;
	char     name[ORPC_NFS3_NAME_MAX + 1];
	struct fmd_intent remote;            /* what the participants prepare */
	char     rname[ORPC_NFS3_NAME_MAX + 1];
};

/* A participant's prepared record. */
struct prep_rec {
	struct fmd_intent in;
	uint64_t replaced;                   /* RENAME_DST: the file the name named */
	uint32_t dir_remote, rsv;
	char     name[ORPC_NFS3_NAME_MAX + 1];
};

/* The state of one operation under way on this coordinator. */
struct xop {
	struct intent_rec rec;
	int               status;            /* the NFS answer */
	struct inode      dir;               /* our name's directory (local or fetched) */
	struct inode      victim;            /* fetched attributes (LINK: the file) */
	bool              same_file;         /* RENAME onto another name of the same file */
};

/* Intents this process is driving: the resolver keeps off them. */
static pthread_mutex_t active_mu = PTHREAD_MUTEX_INITIALIZER;
static uint64_t active[256];

static void set_active(uint64_t id, bool on)
{
	pthread_mutex_lock(&active_mu);
	for (int i = 0; i < 256; i++) {
		if (on && active[i] == 0) {
			active[i] = id;
			break;
		}
		if (!on && active[i] == id) {
			active[i] = 0;
			break;
		}
	}
	pthread_mutex_unlock(&active_mu);
}

static bool is_active(uint64_t id)
{
	pthread_mutex_lock(&active_mu);
	bool on = false;
	for (int i = 0; i < 256; i++)
		on |= active[i] == id;
	pthread_mutex_unlock(&active_mu);
	return on;
}

static void lock_intent(struct fmd *f, const struct intent_rec *r, bool on)
{
	if (on)
		name_lock(f, r->dir, r->name);
	else
		name_unlock(f, r->dir, r->name);
	if (r->kind == X_RMDIR)
		dir_dying(f, r->victim, on);
}

static void lock_prepared(struct fmd *f, const struct prep_rec *p, bool on)
{
	if (p->in.kind == FMD_I_RENAME_DST) {
		if (on)
			name_lock(f, p->in.dir, p->name);
		else
			name_unlock(f, p->in.dir, p->name);
	} else if (p->in.kind == FMD_I_RMDIR_CHECK) {
		dir_dying(f, p->in.dir, on);
	}
}

static struct inode dir_stub(uint64_t fileid, bool remote)
{
	struct inode d = { .fileid = fileid, .type = NF3DIR, .x_remote = remote };
	return d;
}

/* ---- the coordinator's transactions ---------------------------------------------- */

static int x_begin(struct fmd_op *op, MDB_txn *t)
{
	struct xop *x = op->xctx;
	struct intent_rec *r = &x->rec;
	struct fmd *f = op->f;
	struct dirent_val d;
	int st, rc;

	x->status = NFS3_OK;
	if (name_locked(f, r->dir, r->name)) {
		x->status = NFS3ERR_JUKEBOX;
		return 0;
	}
	rc = dent_get(f->st, t, r->dir, r->name, &d);
	if (r->kind == X_LINK) {
		if (rc == 0) {
			x->status = NFS3ERR_EXIST;
			return 0;
		}
		if (rc != -ENOENT)
			return rc;
		if ((st = dir_alive(op, t, r->dir)) != NFS3_OK) {
			x->status = st;
			return 0;
		}
	} else {
		if (rc == -ENOENT) {
			x->status = NFS3ERR_NOENT;
			return 0;
		}
		if (rc)
			return rc;
		/* the name still names what the call was about */
		if ((r->kind == X_UNLINK && d.fileid != r->victim) ||
		    (r->kind == X_RENAME && d.fileid != r->remote.fileid) ||
		    (r->kind == X_RMDIR && d.fileid != r->victim)) {
			x->status = NFS3ERR_JUKEBOX;
			return 0;
		}
	}
	if (r->kind == X_RMDIR) {
		int empty = dent_empty(f->st, t, r->victim);
		if (empty < 0)
			return empty;
		if (!empty) {
			x->status = NFS3ERR_NOTEMPTY;
			return 0;
		}
	}
	uint64_t seq = store_new_seq(f->st, t, &rc);
	if (rc)
		return rc;
	r->id = (uint64_t)f->cfg.index << 56 | seq;
	r->remote.id = r->id;
	r->state = S_PREPARING;
	if ((rc = rec_put(f->st, t, T_INTENTS, r->id, r, sizeof(*r))))
		return rc;
	/* ours to drive from here: the resolver, which sees it only once it
	 * is committed, keeps off */
	set_active(r->id, true);
	lock_intent(f, r, true);
	return 0;
}

/* Step 3: our part, if it is a commit. */
static int x_apply_local(struct fmd_op *op, MDB_txn *t)
{
	struct xop *x = op->xctx;
	struct intent_rec *r = &x->rec;
	struct fmd *f = op->f;
	uint64_t now = fmd_now();
	struct inode dir, victim;
	int rc;

	if (r->dir_remote) {
		dir = dir_stub(r->dir, true);
	} else if ((rc = ino_get(f->st, t, r->dir, &dir))) {
		return rc;
	}
	switch (r->kind) {
	case X_RENAME: {
		struct inode src;
		if ((rc = dent_del(f->st, t, r->dir, r->name)) && rc != -ENOENT)
			return rc;
		if ((rc = dir_changed(op, t, &dir, -1, 0, now)))
			return rc;
		if (op_is_ours(f, r->remote.fileid) && ino_get(f->st, t, r->remote.fileid, &src) == 0) {
			src.ctime = now;
			if ((rc = ino_put(f->st, t, &src)))
				return rc;
		}
		/* the file the destination name named, if it is ours */
		if (r->victim && op_is_ours(f, r->victim) && ino_get(f->st, t, r->victim, &victim) == 0) {
			victim.nlink--;
			victim.ctime = now;
			rc = victim.nlink == 0 ? nfs_drop_inode(op, t, &victim) : ino_put(f->st, t, &victim);
			if (rc)
				return rc;
		}
		return 0;
	}
	case X_LINK: {
		struct dirent_val d = { .fileid = r->remote.fileid, .gen = r->remote.gen, .type = r->remote.type };
		if ((rc = dent_add(f->st, t, r->dir, r->name, &d)))
			return rc == -EEXIST ? 0 : rc;
		return dir_changed(op, t, &dir, 1, 0, now);
	}
	case X_UNLINK:
		if ((rc = dent_del(f->st, t, r->dir, r->name)) && rc != -ENOENT)
			return rc;
		return dir_changed(op, t, &dir, -1, 0, now);
	case X_RMDIR:
		if ((rc = dent_del(f->st, t, r->dir, r->name)) && rc != -ENOENT)
			return rc;
		if ((rc = dir_changed(op, t, &dir, -1, -1, now)))
			return rc;
		if (ino_get(f->st, t, r->victim, &victim) == 0 && (rc = nfs_drop_inode(op, t, &victim)))
			return rc;
		return rec_put(f->st, t, T_DEAD, r->victim, &now, sizeof(now));
	}
	return -EINVAL;
}

static int x_decide(struct fmd_op *op, MDB_txn *t)
{
	struct xop *x = op->xctx;
	int rc;
	if (x->rec.state == S_COMMITTED && (rc = x_apply_local(op, t)))
		return rc;
	return rec_put(op->f->st, t, T_INTENTS, x->rec.id, &x->rec, sizeof(x->rec));
}

static int x_end(struct fmd_op *op, MDB_txn *t)
{
	struct xop *x = op->xctx;
	return rec_del(op->f->st, t, T_INTENTS, x->rec.id);
}

static int x_save(struct fmd_op *op, MDB_txn *t)
{
	struct xop *x = op->xctx;
	return rec_put(op->f->st, t, T_INTENTS, x->rec.id, &x->rec, sizeof(x->rec));
}

/* ---- talking to the participants ------------------------------------------------- */

static int send_prepare(struct fmd *f, uint32_t p, const struct intent_rec *r, struct fmd_vote *v)
{
	struct nrpc_result res;
	struct tpz_payload pl = { 0 };
	int rc;
	/* a name longer than the inline 32 bytes travels as the payload */
	size_t nl = strlen(r->rname);
	if (r->remote.kind == FMD_I_RENAME_DST && nl > sizeof(r->remote.name)) {
		if ((rc = tpz_payload_alloc(f->fabric->ep, &pl, nl)) < 0)
			return rc;
		size_t off = 0;
		for (uint32_t i = 0; i < pl.nseg && off < nl; i++) {
			size_t k = pl.seg[i].len < nl - off ? pl.seg[i].len : nl - off;
			memcpy(pl.seg[i].base, r->rname + off, k);
			off += k;
		}
	}
	rc = peer_call(f, p, FMD_PREPARE, &r->remote, sizeof(r->remote), pl.nseg ? &pl : NULL, NULL, 5000, &res);
	if (rc)
		return rc;
	if (res.res_len != sizeof(*v))
		return -EBADMSG;
	memcpy(v, res.res, sizeof(*v));
	return 0;
}

static int send_decide(struct fmd *f, uint32_t p, uint64_t id, uint32_t decision)
{
	struct fmd_decide a = { .id = id, .decision = decision };
	struct nrpc_result res;
	return peer_call(f, p, FMD_DECIDE, &a, sizeof(a), NULL, NULL, 5000, &res);
}

/* Step 4 for every participant not acked yet; true when all have. */
static bool tell_all(struct fmd *f, struct intent_rec *r)
{
	uint32_t decision = r->state == S_COMMITTED ? FMD_DECIDE_COMMIT : FMD_DECIDE_ABORT;
	for (uint32_t p = 0; p < f->cfg.managers; p++) {
		uint64_t bit = 1ull << p;
		if (!(r->parts & bit) || (r->acked & bit))
			continue;
		if (send_decide(f, p, r->id, decision) == 0)
			r->acked |= bit;
	}
	return (r->acked & r->parts) == r->parts;
}

/* ---- the coordinator's run -------------------------------------------------------- */

static void result(struct fmd_op *op, int status)
{
	/* every result of these procedures starts with its status and then
	 * optional attributes: leave them out (the directories may be held
	 * elsewhere; clients ask again) */
	nfs_fail(op, status);
}

static void xop_run(struct fmd_op *op, struct xop *x)
{
	struct fmd *f = op->f;
	struct intent_rec *r = &x->rec;
	int rc;

	op->xctx = x;
	if ((rc = commit_run(f, op, x_begin)) < 0 || x->status != NFS3_OK) {
		if (rc < 0 && r->id) {   /* written but not committed */
			set_active(r->id, false);
			lock_intent(f, r, false);
		}
		result(op, rc < 0 ? op_store_status(rc) : x->status);
		goto out;
	}
	fmd_crash_point(f, "x-begin");

	/* 2: every participant votes */
	int status = NFS3_OK;
	for (uint32_t p = 0; p < f->cfg.managers && status == NFS3_OK; p++) {
		if (!(r->parts & (1ull << p)))
			continue;
		struct fmd_vote v;
		rc = send_prepare(f, p, r, &v);
		fmd_log(LOG_DEBUG, "intent %llx: manager %u votes %d (rc %d)", (unsigned long long)r->id, p,
			rc ? 0 : v.nfs_status, rc);
		if (rc)
			status = NFS3ERR_JUKEBOX;   /* unreachable or busy: the client tries again */
		else if (v.nfs_status)
			status = v.nfs_status;
		else if (r->kind == X_RENAME && v.replaced == UINT64_MAX)
			x->same_file = true;   /* onto another name of the same file: nothing to do */
		else if (r->kind == X_RENAME)
			r->victim = v.replaced;  /* unlinked here if it is ours */
	}
	fmd_crash_point(f, "x-prepared");

	/* 3: decide (our part goes with a commit) */
	r->state = status == NFS3_OK && !x->same_file ? S_COMMITTED : S_ABORTED;
	if ((rc = commit_run(f, op, x_decide)) < 0) {
		/* not decided: the resolver aborts it (presumed abort) */
		set_active(r->id, false);
		result(op, op_store_status(rc));
		goto out;
	}
	fmd_crash_point(f, "x-decided");

	/* 4: tell them (a few tries; the resolver goes on if need be) */
	for (int i = 0; i < 3 && !tell_all(f, r); i++)
		usleep(100000);
	fmd_crash_point(f, "x-told");

	/* 5: forget it, if everyone has applied */
	if ((r->acked & r->parts) == r->parts) {
		if (commit_run(f, op, x_end) == 0)
			lock_intent(f, r, false);
	} else {
		commit_run(f, op, x_save);   /* remember who acked; keep the locks */
	}
	set_active(r->id, false);
	result(op, r->state == S_COMMITTED || x->same_file ? NFS3_OK : status);
out:
	free(x);
	op->xctx = NULL;
	if (op->ntouch)
		remote_after_touch(op);
	else
		nfs_finish(op);
}

/* ---- deciding what an operation is (data thread, before any change) ---------------- */

static int fh_info(const nfs_fh3 *h, struct fh *out)
{
	return fh_decode(h, out);
}

/* Fetch the directories held elsewhere that op works in. */
static int prefetch(struct fmd_op *op, const nfs_fh3 *h)
{
	struct fh fh;
	if (fh_info(h, &fh) || fh.manager == op->f->cfg.index || op->nrdir >= 2)
		return 0;
	for (int i = 0; i < op->nrdir; i++)
		if (op->rdir[i].fileid == fh.fileid)
			return 0;
	struct inode d;
	int rc = remote_getattr(op->f, fh.fileid, fh.gen, &d);
	if (rc == 0)
		op->rdir[op->nrdir++] = d;
	return rc == -ENOENT ? 0 : rc;   /* gone: op_dir answers STALE */
}

/* Set up x for a cross-manager op (true), or leave it to the local path. */
static bool classify(struct fmd_op *op, struct xop *x)
{
	struct fmd *f = op->f;
	struct intent_rec *r = &x->rec;
	union orpc_nfs3_argu *u = &op->a.u;
	MDB_txn *t;
	struct dirent_val d;
	struct fh fh;
	uint32_t me = f->cfg.index, n = f->cfg.managers;

	memset(x, 0, sizeof(*x));
	switch (op->proc) {
	case NFS3_RENAME: {
		struct slice_fh_info to;
		if (slice_fh_parse(u->rename.to.dir.data.data_val, u->rename.to.dir.data.data_len, &to))
			return false;
		uint32_t dst = slice_route_entry(&to, u->rename.to.name, strlen(u->rename.to.name), n);
		if (dst == me)
			return false;
		if (fh_info(&u->rename.from.dir, &fh))
			return false;
		r->kind = X_RENAME;
		r->dir = fh.fileid;
		r->dir_remote = fh.manager != me;
		snprintf(r->name, sizeof(r->name), "%s", u->rename.from.name);
		r->parts = 1ull << dst;
		r->remote.kind = FMD_I_RENAME_DST;
		r->remote.dir = to.fileid;
		snprintf(r->rname, sizeof(r->rname), "%s", u->rename.to.name);
		r->remote.namelen = (uint8_t)strlen(r->rname);
		memcpy(r->remote.name, r->rname, r->remote.namelen < 32 ? r->remote.namelen : 32);
		return true;
	}
	case NFS3_LINK: {
		struct fh file;
		if (fh_info(&u->link.file, &file) || file.manager == me || fh_info(&u->link.link.dir, &fh))
			return false;
		r->kind = X_LINK;
		r->dir = fh.fileid;
		r->dir_remote = fh.manager != me;
		snprintf(r->name, sizeof(r->name), "%s", u->link.link.name);
		r->parts = 1ull << file.manager;
		r->remote.kind = FMD_I_LINK_INODE;
		r->remote.fileid = file.fileid;
		r->remote.gen = file.gen;
		return true;
	}
	case NFS3_REMOVE:
	case NFS3_RMDIR: {
		const diropargs3 *w = op->proc == NFS3_REMOVE ? &u->remove.object : &u->rmdir.object;
		if (fh_info(&w->dir, &fh) || store_rd(f->st, &t))
			return false;
		int rc = dent_get(f->st, t, fh.fileid, w->name, &d);
		store_rd_done(t);
		if (rc)
			return false;
		bool remote_file = slice_fileid_manager(d.fileid) != me;
		if (op->proc == NFS3_REMOVE && (!remote_file || d.type == NF3DIR))
			return false;
		if (op->proc == NFS3_RMDIR && (d.type != NF3DIR || (d.flags & SLICE_FH_F_LOCAL) || remote_file))
			return false;
		r->kind = op->proc == NFS3_REMOVE ? X_UNLINK : X_RMDIR;
		r->dir = fh.fileid;
		r->dir_remote = fh.manager != me;
		snprintf(r->name, sizeof(r->name), "%s", w->name);
		r->victim = d.fileid;
		r->victim_gen = d.gen;
		if (r->kind == X_UNLINK) {
			r->parts = 1ull << slice_fileid_manager(d.fileid);
			r->remote.kind = FMD_I_UNLINK_INODE;
			r->remote.fileid = d.fileid;
			r->remote.gen = d.gen;
		} else {
			r->parts = ((n >= 64 ? ~0ull : (1ull << n) - 1)) & ~(1ull << me);
			r->remote.kind = FMD_I_RMDIR_CHECK;
			r->remote.dir = d.fileid;
		}
		return true;
	}
	default:
		return false;
	}
}

/* The local checks of a cross-manager op that need the directory's (and
 * the file's) attributes: permission, types, sticky bit. */
static int precheck(struct fmd_op *op, struct xop *x)
{
	struct fmd *f = op->f;
	struct intent_rec *r = &x->rec;
	union orpc_nfs3_argu *u = &op->a.u;
	MDB_txn *t;
	int st;

	if (store_rd(f->st, &t))
		return NFS3ERR_SERVERFAULT;
	const nfs_fh3 *dirfh = op->proc == NFS3_RENAME ? &u->rename.from.dir :
			       op->proc == NFS3_LINK ? &u->link.link.dir :
			       op->proc == NFS3_REMOVE ? &u->remove.object.dir : &u->rmdir.object.dir;
	st = op_dir(op, t, dirfh, &x->dir);
	if (st == NFS3_OK && x->dir.type != NF3DIR)
		st = NFS3ERR_NOTDIR;
	const char *name = r->name;
	if (st == NFS3_OK)
		st = op_check_name(op, name, r->kind == X_LINK);
	if (st == NFS3_OK && r->kind != X_LINK && (!strcmp(name, ".") || !strcmp(name, "..")))
		st = NFS3ERR_INVAL;
	if (st == NFS3_OK)
		st = access_check(&x->dir, &op->cred, MAY_WRITE | MAY_EXEC);
	if (st == NFS3_OK && r->kind == X_RENAME) {
		struct inode td;
		st = op_dir(op, t, &u->rename.to.dir, &td);
		if (st == NFS3_OK && td.type != NF3DIR)
			st = NFS3ERR_NOTDIR;
		if (st == NFS3_OK && (op->a.flags & ORPC_NFS3_F_NAMETOOLONG))
			st = NFS3ERR_NAMETOOLONG;
		if (st == NFS3_OK && (!strcmp(r->rname, ".") || !strcmp(r->rname, "..") || strchr(r->rname, '/') ||
				      !r->rname[0]))
			st = NFS3ERR_INVAL;
		if (st == NFS3_OK)
			st = access_check(&td, &op->cred, MAY_WRITE | MAY_EXEC);
		struct dirent_val d;
		if (st == NFS3_OK) {
			int rc = dent_get(f->st, t, r->dir, name, &d);
			if (rc)
				st = rc == -ENOENT ? NFS3ERR_NOENT : NFS3ERR_IO;
		}
		if (st == NFS3_OK && d.type == NF3DIR)
			st = NFS3ERR_XDEV;   /* directories move only within a manager */
		if (st == NFS3_OK) {
			r->remote.fileid = d.fileid;
			r->remote.gen = d.gen;
			r->remote.type = d.type;
			r->remote.rsv = d.flags;
			struct inode src;
			if (x->dir.mode & 01000) {   /* sticky: the file's owner matters */
				if (op_is_ours(f, d.fileid) ? ino_get(f->st, t, d.fileid, &src) :
							      remote_getattr(f, d.fileid, d.gen, &src))
					st = NFS3ERR_STALE;
				else if (!access_sticky_ok(&x->dir, &src, &op->cred))
					st = NFS3ERR_ACCES;
			}
		}
	}
	if (st == NFS3_OK && (r->kind == X_UNLINK || r->kind == X_RMDIR) && (x->dir.mode & 01000)) {
		struct inode v;
		int rc = op_is_ours(f, r->victim) ? ino_get(f->st, t, r->victim, &v)
						   : remote_getattr(f, r->victim, r->victim_gen, &v);
		if (rc == 0 && !access_sticky_ok(&x->dir, &v, &op->cred))
			st = NFS3ERR_ACCES;
	}
	if (st == NFS3_OK && r->kind == X_LINK) {
		struct inode file;
		int rc = remote_getattr(f, r->remote.fileid, r->remote.gen, &file);
		if (rc)
			st = rc == -ENOENT ? NFS3ERR_STALE : NFS3ERR_JUKEBOX;
		else if (file.type == NF3DIR)
			st = NFS3ERR_PERM;
		else
			r->remote.type = file.type;
	}
	store_rd_done(t);
	return st;
}

bool xop_try(struct fmd_op *op)
{
	struct xop *x = calloc(1, sizeof(*x));
	if (!x)
		return false;
	if (!classify(op, x)) {
		free(x);
		return false;
	}
	int st = precheck(op, x);
	fmd_log(LOG_DEBUG, "%s across managers (kind %d): checks say %d", nfs_procs[op->proc].name, x->rec.kind, st);
	if (st != NFS3_OK) {
		free(x);
		result(op, st);
		nfs_finish(op);
		return true;
	}
	xop_run(op, x);
	return true;
}

/* A directory renamed within this manager into another directory: is the
 * destination inside it?  The ancestors may be held anywhere, so they are
 * walked here, where waiting is allowed (1 yes, 0 no, < 0 unknown). */
static int rename_into_itself(struct fmd_op *op)
{
	struct fmd *f = op->f;
	const RENAME3args *a = &op->a.u.rename;
	struct fh from, to;
	struct dirent_val d;
	MDB_txn *t;
	if (fh_decode(&a->from.dir, &from) || fh_decode(&a->to.dir, &to) || from.fileid == to.fileid ||
	    store_rd(f->st, &t))
		return 0;
	int rc = dent_get(f->st, t, from.fileid, a->from.name, &d);
	store_rd_done(t);
	if (rc || d.type != NF3DIR)
		return 0;
	uint64_t cur = to.fileid;
	for (int depth = 0; depth < 4096; depth++) {
		struct inode ino;
		if (cur == d.fileid)
			return 1;
		if (cur == f->root)
			return 0;
		if (op_is_ours(f, cur)) {
			if (store_rd(f->st, &t))
				return -EIO;
			rc = ino_get(f->st, t, cur, &ino);
			store_rd_done(t);
		} else {
			rc = remote_getattr(f, cur, 0, &ino);
		}
		if (rc)
			return rc;
		cur = ino.parent;
	}
	return -ELOOP;
}

/* Data thread, before a mutation on a volume of several managers. */
void remote_pre_job(struct fmd_op *op)
{
	union orpc_nfs3_argu *u = &op->a.u;
	int rc = 0;
	switch (op->proc) {
	case NFS3_CREATE: rc = prefetch(op, &u->create.where.dir); break;
	case NFS3_MKDIR: rc = prefetch(op, &u->mkdir.where.dir); break;
	case NFS3_SYMLINK: rc = prefetch(op, &u->symlink.where.dir); break;
	case NFS3_MKNOD: rc = prefetch(op, &u->mknod.where.dir); break;
	case NFS3_REMOVE: rc = prefetch(op, &u->remove.object.dir); break;
	case NFS3_RMDIR: rc = prefetch(op, &u->rmdir.object.dir); break;
	case NFS3_LINK: rc = prefetch(op, &u->link.link.dir); break;
	case NFS3_RENAME:
		rc = prefetch(op, &u->rename.from.dir);
		if (rc == 0)
			rc = prefetch(op, &u->rename.to.dir);
		break;
	default:
		break;
	}
	if (rc) {   /* the directory's manager is unreachable: later */
		nfs_fail(op, NFS3ERR_JUKEBOX);
		nfs_finish(op);
		return;
	}
	if (xop_try(op))
		return;
	if (op->proc == NFS3_RENAME)
		op->rename_loop = rename_into_itself(op);
	op->after = op->f->cfg.managers > 1 ? remote_after_touch : NULL;
	if (commit_submit(op->f->cq, op) < 0) {
		nfs_fail(op, NFS3ERR_JUKEBOX);
		nfs_finish(op);
	}
}

/* ---- the participant ----------------------------------------------------------------- */

struct part_ctx {
	struct prep_rec   p;
	struct fmd_vote   vote;
	uint32_t          decision;
};

static int p_prepare(struct fmd_op *op, MDB_txn *t)
{
	struct part_ctx *c = op->ctx;
	struct prep_rec *p = &c->p;
	struct fmd *f = op->f;
	struct prep_rec old;
	struct dirent_val d;
	struct inode ino;
	int rc;

	memset(&c->vote, 0, sizeof(c->vote));
	if (rec_get(f->st, t, T_PREPARED, p->in.id, &old, sizeof(old)) == 0) {
		c->vote.replaced = old.replaced;   /* asked again: the same answer */
		return 0;
	}
	switch (p->in.kind) {
	case FMD_I_RENAME_DST:
		if (name_locked(f, p->in.dir, p->name)) {
			c->vote.nfs_status = NFS3ERR_JUKEBOX;
			return 0;
		}
		if ((rc = dir_alive(op, t, p->in.dir)) != NFS3_OK) {
			c->vote.nfs_status = rc;
			return 0;
		}
		rc = dent_get(f->st, t, p->in.dir, p->name, &d);
		if (rc && rc != -ENOENT)
			return rc;
		if (rc == 0) {
			if (d.fileid == p->in.fileid) {
				c->vote.replaced = UINT64_MAX;   /* the same file: nothing to do */
				return 0;
			}
			if (d.type == NF3DIR) {
				c->vote.nfs_status = NFS3ERR_ISDIR;
				return 0;
			}
			/* the replaced file is ours to unlink, or the
			 * coordinator's (it unlinks it with its part); a third
			 * manager's is beyond this protocol */
			if (!op_is_ours(f, d.fileid) && slice_fileid_manager(d.fileid) != slice_fileid_manager(p->in.id)) {
				c->vote.nfs_status = NFS3ERR_XDEV;
				return 0;
			}
			p->replaced = d.fileid;
		}
		break;
	case FMD_I_LINK_INODE:
	case FMD_I_UNLINK_INODE:
		rc = ino_get(f->st, t, p->in.fileid, &ino);
		if (rc == -ENOENT || (rc == 0 && ino.gen != p->in.gen)) {
			c->vote.nfs_status = p->in.kind == FMD_I_LINK_INODE ? NFS3ERR_STALE : 0;
			if (c->vote.nfs_status)
				return 0;
			break;   /* unlinking what is gone: just the name goes */
		}
		if (rc)
			return rc;
		if (p->in.kind == FMD_I_LINK_INODE && (ino.type == NF3DIR || ino.nlink >= 32000)) {
			c->vote.nfs_status = ino.type == NF3DIR ? NFS3ERR_PERM : NFS3ERR_MLINK;
			return 0;
		}
		break;
	case FMD_I_RMDIR_CHECK: {
		int empty = dent_empty(f->st, t, p->in.dir);
		if (empty < 0)
			return empty;
		if (!empty) {
			c->vote.nfs_status = NFS3ERR_NOTEMPTY;
			return 0;
		}
		break;
	}
	default:
		c->vote.nfs_status = NFS3ERR_SERVERFAULT;
		return 0;
	}
	c->vote.replaced = p->replaced;
	if ((rc = rec_put(f->st, t, T_PREPARED, p->in.id, p, sizeof(*p))))
		return rc;
	lock_prepared(f, p, true);
	return 0;
}

static int p_apply(struct fmd_op *op, MDB_txn *t)
{
	struct part_ctx *c = op->ctx;
	struct fmd *f = op->f;
	struct prep_rec p;
	struct inode ino, dir;
	uint64_t now = fmd_now();
	int rc = rec_get(f->st, t, T_PREPARED, c->p.in.id, &p, sizeof(p));
	if (rc == -ENOENT)
		return 0;   /* applied (or dropped) already */
	if (rc)
		return rc;
	c->p = p;
	if (c->decision == FMD_DECIDE_COMMIT) {
		switch (p.in.kind) {
		case FMD_I_RENAME_DST: {
			bool ours = op_is_ours(f, p.in.dir);
			if (ours) {
				if ((rc = ino_get(f->st, t, p.in.dir, &dir)))
					return rc;
			} else {
				dir = dir_stub(p.in.dir, true);
			}
			int delta = 1;
			if (p.replaced) {
				if ((rc = dent_del(f->st, t, p.in.dir, p.name)) && rc != -ENOENT)
					return rc;
				delta = 0;
				/* ours: one link less (the coordinator's: it did that) */
				if (op_is_ours(f, p.replaced) && ino_get(f->st, t, p.replaced, &ino) == 0) {
					ino.nlink--;
					ino.ctime = now;
					rc = ino.nlink == 0 ? nfs_drop_inode(op, t, &ino) : ino_put(f->st, t, &ino);
					if (rc)
						return rc;
				}
			}
			struct dirent_val d = { .fileid = p.in.fileid, .gen = p.in.gen, .type = p.in.type,
						.flags = p.in.rsv };
			if ((rc = dent_add(f->st, t, p.in.dir, p.name, &d)))
				return rc;
			if ((rc = dir_changed(op, t, &dir, delta, 0, now)))
				return rc;
			break;
		}
		case FMD_I_LINK_INODE:
			if (ino_get(f->st, t, p.in.fileid, &ino) == 0) {
				ino.nlink++;
				ino.ctime = now;
				if ((rc = ino_put(f->st, t, &ino)))
					return rc;
			}
			break;
		case FMD_I_UNLINK_INODE:
			if (ino_get(f->st, t, p.in.fileid, &ino) == 0 && ino.gen == p.in.gen) {
				ino.nlink--;
				ino.ctime = now;
				rc = ino.nlink == 0 ? nfs_drop_inode(op, t, &ino) : ino_put(f->st, t, &ino);
				if (rc)
					return rc;
			}
			break;
		case FMD_I_RMDIR_CHECK:
			if ((rc = rec_put(f->st, t, T_DEAD, p.in.dir, &now, sizeof(now))))
				return rc;
			break;
		}
	}
	if ((rc = rec_del(f->st, t, T_PREPARED, p.in.id)))
		return rc;
	lock_prepared(f, &p, false);
	return 0;
}

/* Apply (or drop) a prepared intent, then tell the directories' managers. */
static int participant_decide(struct fmd *f, uint64_t id, uint32_t decision)
{
	struct part_ctx c = { .decision = decision };
	c.p.in.id = id;
	struct fmd_op *op = calloc(1, sizeof(*op));
	if (!op)
		return -ENOMEM;
	op->f = f;
	op->ctx = &c;
	int rc = commit_run(f, op, p_apply);
	if (rc == 0) {
		fmd_crash_point(f, "p-applied");
		for (int i = 0; i < op->ntouch; i++)
			remote_touch(f, op->touch[i]);
	}
	free(op);
	return rc;
}

static void srv_prepare(struct nrpc_req *req, void *arg)
{
	struct fmd *f = arg;
	struct part_ctx c = { 0 };
	if (req->args_len != sizeof(c.p.in)) {
		nrpc_reply(req, -EBADMSG, NULL, 0, NULL, 0, NULL, NULL);
		return;
	}
	memcpy(&c.p.in, req->args, sizeof(c.p.in));
	size_t nl = c.p.in.namelen;
	if (nl > 32) {   /* the rest of the name came as payload */
		size_t off = 0;
		for (uint32_t i = 0; i < req->payload.nseg && off < nl; i++) {
			size_t k = req->payload.seg[i].len < nl - off ? req->payload.seg[i].len : nl - off;
			memcpy(c.p.name + off, req->payload.seg[i].base, k);
			off += k;
		}
		if (off != nl) {
			nrpc_reply(req, -EBADMSG, NULL, 0, NULL, 0, NULL, NULL);
			return;
		}
	} else {
		memcpy(c.p.name, c.p.in.name, nl);
	}
	c.p.name[nl] = 0;
	if (slice_fileid_manager(c.p.in.id) >= f->cfg.managers || memchr(c.p.name, '/', nl)) {
		nrpc_reply(req, -EBADMSG, NULL, 0, NULL, 0, NULL, NULL);
		return;
	}
	struct fmd_op *op = calloc(1, sizeof(*op));
	if (!op) {
		nrpc_reply(req, -ENOMEM, NULL, 0, NULL, 0, NULL, NULL);
		return;
	}
	op->f = f;
	op->ctx = &c;
	int rc = commit_run(f, op, p_prepare);
	free(op);
	if (rc == 0)
		fmd_crash_point(f, "p-prepared");
	nrpc_reply(req, rc ? -EIO : 0, rc ? NULL : &c.vote, rc ? 0 : sizeof(c.vote), NULL, 0, NULL, NULL);
}

static void srv_decide(struct nrpc_req *req, void *arg)
{
	struct fmd *f = arg;
	struct fmd_decide a;
	if (req->args_len != sizeof(a)) {
		nrpc_reply(req, -EBADMSG, NULL, 0, NULL, 0, NULL, NULL);
		return;
	}
	memcpy(&a, req->args, sizeof(a));
	int rc = participant_decide(f, a.id, a.decision);
	nrpc_reply(req, rc ? -EIO : 0, NULL, 0, NULL, 0, NULL, NULL);
}

static void srv_query(struct nrpc_req *req, void *arg)
{
	struct fmd *f = arg;
	struct fmd_decide a;
	struct intent_rec r;
	MDB_txn *t;
	if (req->args_len != sizeof(a)) {
		nrpc_reply(req, -EBADMSG, NULL, 0, NULL, 0, NULL, NULL);
		return;
	}
	memcpy(&a, req->args, sizeof(a));
	int rc = store_rd(f->st, &t);
	if (rc) {
		nrpc_reply(req, -EIO, NULL, 0, NULL, 0, NULL, NULL);
		return;
	}
	rc = rec_get(f->st, t, T_INTENTS, a.id, &r, sizeof(r));
	store_rd_done(t);
	if (rc == -ENOENT)
		a.decision = FMD_DECIDE_UNKNOWN;   /* never decided to commit: abort */
	else if (rc)
		a.decision = 0;
	else
		a.decision = r.state == S_COMMITTED ? FMD_DECIDE_COMMIT
			   : r.state == S_ABORTED ? FMD_DECIDE_ABORT : 0;   /* 0: not yet */
	nrpc_reply(req, 0, &a, sizeof(a), NULL, 0, NULL, NULL);
}

int xop_register(struct fmd *f)
{
	struct nrpc *r = f->fabric->r;
	int rc;
	if ((rc = nrpc_register(r, FMD_PREPARE, srv_prepare, f, NRPC_OP_BLOCKING)) ||
	    (rc = nrpc_register(r, FMD_DECIDE, srv_decide, f, NRPC_OP_BLOCKING)) ||
	    (rc = nrpc_register(r, FMD_QUERY, srv_query, f, NRPC_OP_BLOCKING)))
		return rc;
	return 0;
}

/* ---- the resolver ------------------------------------------------------------------- */

struct scan_ids {
	uint64_t ids[256];
	int      n;
};

static int collect(void *arg, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl)
{
	struct scan_ids *s = arg;
	if (kl == 8 && s->n < 256) {
		uint64_t id = 0;
		for (int i = 0; i < 8; i++)
			id = id << 8 | k[i];
		s->ids[s->n++] = id;
	}
	return 0;
}

static int r_save(struct fmd_op *op, MDB_txn *t)
{
	struct intent_rec *r = op->ctx;
	return rec_put(op->f->st, t, T_INTENTS, r->id, r, sizeof(*r));
}

static int r_forget(struct fmd_op *op, MDB_txn *t)
{
	struct intent_rec *r = op->ctx;
	return rec_del(op->f->st, t, T_INTENTS, r->id);
}

/* One coordinator intent left by a crash (or a participant that was down). */
static void resolve_intent(struct fmd *f, uint64_t id)
{
	struct intent_rec r;
	MDB_txn *t;
	if (is_active(id) || store_rd(f->st, &t))
		return;
	int rc = rec_get(f->st, t, T_INTENTS, id, &r, sizeof(r));
	store_rd_done(t);
	if (rc)
		return;
	struct fmd_op *op = calloc(1, sizeof(*op));
	if (!op)
		return;
	op->f = f;
	op->ctx = &r;
	if (r.state == S_PREPARING) {
		/* never decided: abort (the participants learn it from us, or
		 * from our not knowing it any more) */
		r.state = S_ABORTED;
		if (commit_run(f, op, r_save)) {
			free(op);
			return;
		}
		fmd_log(LOG_INFO, "intent %llx: undecided at a crash, aborted", (unsigned long long)id);
	}
	if (tell_all(f, &r)) {
		if (commit_run(f, op, r_forget) == 0) {
			lock_intent(f, &r, false);
			fmd_log(LOG_INFO, "intent %llx: %s on every manager", (unsigned long long)id,
				r.state == S_COMMITTED ? "done" : "undone");
		}
	} else {
		commit_run(f, op, r_save);
	}
	free(op);
}

/* One prepared record: ask its coordinator what was decided. */
static void resolve_prepared(struct fmd *f, uint64_t id)
{
	struct fmd_decide a = { .id = id };
	struct nrpc_result res;
	uint32_t coord = slice_fileid_manager(id);
	if (coord == f->cfg.index || coord >= f->cfg.managers)
		return;
	if (peer_call(f, coord, FMD_QUERY, &a, sizeof(a), NULL, NULL, 3000, &res) || res.res_len != sizeof(a))
		return;   /* unreachable: later */
	memcpy(&a, res.res, sizeof(a));
	if (a.decision == 0)
		return;   /* not decided yet */
	participant_decide(f, id, a.decision == FMD_DECIDE_COMMIT ? FMD_DECIDE_COMMIT : FMD_DECIDE_ABORT);
}

static int lock_cb(void *arg, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl)
{
	struct fmd *f = arg;
	if (vl == sizeof(struct intent_rec)) {
		struct intent_rec r;
		memcpy(&r, v, sizeof(r));
		lock_intent(f, &r, true);
	}
	return 0;
}

static int lock_prep_cb(void *arg, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl)
{
	struct fmd *f = arg;
	if (vl == sizeof(struct prep_rec)) {
		struct prep_rec p;
		memcpy(&p, v, sizeof(p));
		lock_prepared(f, &p, true);
	}
	return 0;
}

static pthread_t resolver;
static atomic_bool resolver_stop;
static bool resolver_started;

static void *resolver_thread(void *arg)
{
	struct fmd *f = arg;
	MDB_txn *t;
	/* what a crash left: its locks first (before any request is served:
	 * see xop_start_resolver), then every partial count told again */
	remote_touch_all(f);
	while (!atomic_load(&resolver_stop)) {
		struct scan_ids in = { .n = 0 }, pr = { .n = 0 };
		if (store_rd(f->st, &t) == 0) {
			store_scan(f->st, t, T_INTENTS, collect, &in);
			store_scan(f->st, t, T_PREPARED, collect, &pr);
			store_rd_done(t);
		}
		for (int i = 0; i < in.n && !atomic_load(&resolver_stop); i++)
			resolve_intent(f, in.ids[i]);
		for (int i = 0; i < pr.n && !atomic_load(&resolver_stop); i++)
			resolve_prepared(f, pr.ids[i]);
		remote_retry_touches(f);
		for (int i = 0; i < 10 && !atomic_load(&resolver_stop); i++)
			usleep(100000);
	}
	return NULL;
}

int xop_start_resolver(struct fmd *f)
{
	MDB_txn *t;
	int rc = store_rd(f->st, &t);
	if (rc)
		return rc;
	store_scan(f->st, t, T_INTENTS, lock_cb, f);
	store_scan(f->st, t, T_PREPARED, lock_prep_cb, f);
	store_rd_done(t);
	atomic_store(&resolver_stop, false);
	rc = pthread_create(&resolver, NULL, resolver_thread, f);
	resolver_started = rc == 0;
	return rc ? -rc : 0;
}

void xop_stop_resolver(struct fmd *f)
{
	if (!resolver_started)
		return;
	atomic_store(&resolver_stop, true);
	pthread_join(resolver, NULL);
	resolver_started = false;
}
