/*
 * nfs.c - the NFSv3 program: a call is decoded (GARBAGE_ARGS if it does
 * not decode), checked against the export, looked up in the duplicate
 * request cache if it is not idempotent, and sent where its kind runs (see
 * nfs_op.h).  Whoever ran it calls nfs_finish, which encodes the result
 * with libnfs's encoder into the reply buffer, remembers the reply in the
 * DRC, and sends it.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "nfs_op.h"
#include "remote.h"
#include "slice_route.h"

#define DEFAULT_REPLY_MAX 8192u

#define ENC(fn, m) \
	static bool_t enc_##m(ZDR *z, union nfs_res *r) { return fn(z, &r->m); }
static bool_t enc_null(ZDR *z, union nfs_res *r) { return TRUE; }
ENC(zdr_GETATTR3res, getattr)
ENC(zdr_SETATTR3res, setattr)
ENC(zdr_LOOKUP3res, lookup)
ENC(zdr_ACCESS3res, access)
ENC(zdr_READLINK3res, readlink)
ENC(zdr_READ3res, read)
ENC(zdr_WRITE3res, write)
ENC(zdr_CREATE3res, create)
ENC(zdr_MKDIR3res, mkdir)
ENC(zdr_SYMLINK3res, symlink)
ENC(zdr_MKNOD3res, mknod)
ENC(zdr_REMOVE3res, remove)
ENC(zdr_RMDIR3res, rmdir)
ENC(zdr_RENAME3res, rename)
ENC(zdr_LINK3res, link)
ENC(zdr_READDIR3res, readdir)
ENC(zdr_READDIRPLUS3res, readdirplus)
ENC(zdr_FSSTAT3res, fsstat)
ENC(zdr_FSINFO3res, fsinfo)
ENC(zdr_PATHCONF3res, pathconf)
ENC(zdr_COMMIT3res, commit)

const struct nfs_proc nfs_procs[ORPC_NFS3_NPROCS] = {
	[NFS3_NULL]        = { "NULL",        K_INLINE, false, nfs_null,        enc_null },
	[NFS3_GETATTR]     = { "GETATTR",     K_INLINE, false, nfs_getattr,     enc_getattr },
	[NFS3_SETATTR]     = { "SETATTR",     K_COMMIT, true,  nfs_setattr,     enc_setattr },
	[NFS3_LOOKUP]      = { "LOOKUP",      K_INLINE, false, nfs_lookup,      enc_lookup },
	[NFS3_ACCESS]      = { "ACCESS",      K_INLINE, false, nfs_access,      enc_access },
	[NFS3_READLINK]    = { "READLINK",    K_INLINE, false, nfs_readlink,    enc_readlink },
	[NFS3_READ]        = { "READ",        K_DATA,   false, nfs_read,        enc_read },
	[NFS3_WRITE]       = { "WRITE",       K_DATA,   false, nfs_write,       enc_write },
	[NFS3_CREATE]      = { "CREATE",      K_COMMIT, true,  nfs_create,      enc_create },
	[NFS3_MKDIR]       = { "MKDIR",       K_COMMIT, true,  nfs_mkdir,       enc_mkdir },
	[NFS3_SYMLINK]     = { "SYMLINK",     K_COMMIT, true,  nfs_symlink,     enc_symlink },
	[NFS3_MKNOD]       = { "MKNOD",       K_COMMIT, true,  nfs_mknod,       enc_mknod },
	[NFS3_REMOVE]      = { "REMOVE",      K_COMMIT, true,  nfs_remove,      enc_remove },
	[NFS3_RMDIR]       = { "RMDIR",       K_COMMIT, true,  nfs_rmdir,       enc_rmdir },
	[NFS3_RENAME]      = { "RENAME",      K_COMMIT, true,  nfs_rename,      enc_rename },
	[NFS3_LINK]        = { "LINK",        K_COMMIT, true,  nfs_link,        enc_link },
	[NFS3_READDIR]     = { "READDIR",     K_INLINE, false, nfs_readdir,     enc_readdir },
	[NFS3_READDIRPLUS] = { "READDIRPLUS", K_INLINE, false, nfs_readdirplus, enc_readdirplus },
	[NFS3_FSSTAT]      = { "FSSTAT",      K_INLINE, false, nfs_fsstat,      enc_fsstat },
	[NFS3_FSINFO]      = { "FSINFO",      K_INLINE, false, nfs_fsinfo,      enc_fsinfo },
	[NFS3_PATHCONF]    = { "PATHCONF",    K_INLINE, false, nfs_pathconf,    enc_pathconf },
	[NFS3_COMMIT]      = { "COMMIT",      K_DATA,   false, nfs_commit,      enc_commit },
};

int nfs_null(struct fmd_op *op, MDB_txn *t)
{
	return 0;
}

/* ---- helpers for the procedures ---------------------------------------------- */

int op_store_status(int err)
{
	switch (err) {
	case 0:
		return NFS3_OK;
	case -ENOSPC:
		return NFS3ERR_NOSPC;
	case -ENOENT:
		return NFS3ERR_STALE;
	default:
		return NFS3ERR_IO;
	}
}

int op_inode(struct fmd_op *op, MDB_txn *t, const nfs_fh3 *h, struct inode *ino)
{
	struct fh fh;
	int s = fh_decode(h, &fh);
	if (s)
		return s;
	if (fh.manager != op->f->cfg.index)
		return NFS3ERR_BADHANDLE;
	int rc = ino_get(op->f->st, t, fh.fileid, ino);
	if (rc == -ENOENT || (rc == 0 && ino->gen != fh.gen))
		return NFS3ERR_STALE;
	return rc ? NFS3ERR_SERVERFAULT : NFS3_OK;
}

void op_fh_into(struct fmd *f, const struct inode *ino, uint8_t *buf, nfs_fh3 *out)
{
	struct fh fh = {
		.manager = (uint32_t)(ino->fileid >> 56),   /* the manager that made it holds it */
		.volid = f->volid,
		.fileid = ino->fileid,
		.gen = ino->gen,
		.flags = (ino->flags & INO_LOCAL_DIR) ? 0x1 : 0,
	};
	fh_encode(&fh, buf);
	out->data.data_len = FH_SIZE;
	out->data.data_val = (char *)buf;
}

void op_fh(struct fmd_op *op, const struct inode *ino, nfs_fh3 *out)
{
	op_fh_into(op->f, ino, op->fh, out);
}

int op_check_name(struct fmd_op *op, const char *name, bool creating)
{
	if (op->a.flags & ORPC_NFS3_F_NAMETOOLONG)
		return NFS3ERR_NAMETOOLONG;
	if ((op->a.flags & ORPC_NFS3_F_BADNAME) || name[0] == 0 || strchr(name, '/'))
		return NFS3ERR_ACCES;
	if (creating && (strcmp(name, ".") == 0 || strcmp(name, "..") == 0))
		return NFS3ERR_EXIST;
	return NFS3_OK;
}

/* ---- answering ---------------------------------------------------------------- */

void nfs_op_free(struct fmd_op *op)
{
	if (op->rtxn)
		store_rd_done(op->rtxn);
	free(op->linkbuf);
	free(op->mem);
	for (int i = 0; i < (int)(sizeof(op->bufs) / sizeof(op->bufs[0])); i++)
		free(op->bufs[i]);
	free(op->fwd_rec);
	free(op);
}

void nfs_fail(struct fmd_op *op, int status)
{
	memset(&op->res, 0, sizeof(op->res));
	op->res.status = status;
}

/* An accept_stat other than SUCCESS (GARBAGE_ARGS, SYSTEM_ERR...). */
static void reply_error(struct fmd_op *op, enum orpc_accept_stat stat)
{
	if (op->call)
		orpc_reply_error(op->call, stat);
	else
		remote_forward_reply(op, (int)stat, NULL, 0);
	nfs_op_free(op);
}

void nfs_finish(struct fmd_op *op)
{
	struct fmd *f = op->f;
	const struct nfs_proc *p = &nfs_procs[op->proc];
	uint8_t *mine = NULL;
	ZDR z;

	/* the result goes into the reply buffer (a direct call) or a buffer
	 * of ours with room for the reply header in front (a forwarded one:
	 * the DRC keeps whole messages) */
	uint8_t *body;
	if (op->call) {
		body = orpc_reply_buf(op->call, op->reply_max);
	} else {
		mine = malloc(ORPC_REPLY_HDR_MAX + op->reply_max);
		body = mine ? mine + 24 : NULL;
	}
	if (!body)
		goto fail;
	zdrmem_create(&z, (char *)body, (uint32_t)op->reply_max, ZDR_ENCODE);
	if (!p->enc(&z, &op->res)) {
		fmd_log(LOG_ERR, "%s: reply did not fit in %zu bytes", p->name, op->reply_max);
		goto fail;
	}
	size_t len = zdr_getpos(&z);
	zdr_destroy(&z);
	if (op->call) {
		if (op->in_drc) {
			size_t mlen;
			const uint8_t *msg = orpc_reply_msg(op->call, len, &mlen);
			if (msg)
				drc_done(f->drc, &op->drc_key, msg, mlen);
		}
		orpc_reply_send(op->call, len);
	} else {
		if (op->in_drc) {
			orpc_encode_accepted(mine, op->xid, ORPC_SUCCESS, 0, 0);
			drc_done(f->drc, &op->drc_key, mine, 24 + len);
		}
		remote_forward_reply(op, 0, body, len);
	}
	free(mine);
	nfs_op_free(op);
	return;
fail:
	free(mine);
	if (op->in_drc)
		drc_forget(f->drc, &op->drc_key);
	reply_error(op, ORPC_SYSTEM_ERR);
}

/* ---- dispatch ----------------------------------------------------------------- */

static void run_inline(struct fmd_op *op)
{
	const struct nfs_proc *p = &nfs_procs[op->proc];
	MDB_txn *t = NULL;
	if (op->proc != NFS3_NULL) {
		int rc = store_rd(op->f->st, &t);
		if (rc) {
			fmd_log(LOG_ERR, "read transaction: %s", strerror(-rc));
			nfs_fail(op, NFS3ERR_SERVERFAULT);
			nfs_finish(op);
			return;
		}
	}
	op->rtxn = t;   /* the result may point into it until encoded */
	p->run(op, t);
	nfs_finish(op);
}

static _Atomic uint64_t proc_calls[ORPC_NFS3_NPROCS];

void nfs_counters_log(void)
{
	char buf[600];
	size_t n = 0;
	for (int i = 0; i < ORPC_NFS3_NPROCS; i++) {
		uint64_t v = atomic_load(&proc_calls[i]);
		if (v && n < sizeof(buf) - 40)
			n += (size_t)snprintf(buf + n, sizeof(buf) - n, " %s=%llu", nfs_procs[i].name,
					      (unsigned long long)v);
	}
	fmd_log(LOG_INFO, "NFS calls:%s", n ? buf : " none");
}

static void drc_key_make(const struct fmd_op *op, struct drc_key *k)
{
	uint64_t h = 0xcbf29ce484222325ull;
	memset(k, 0, sizeof(*k));
	if (op->peer.ss_family == AF_INET)
		memcpy(k->addr, &((const struct sockaddr_in *)&op->peer)->sin_addr, 4);
	else if (op->peer.ss_family == AF_INET6)
		memcpy(k->addr, &((const struct sockaddr_in6 *)&op->peer)->sin6_addr, 16);
	k->xid = op->xid;
	k->proc = op->proc;
	for (uint32_t i = 0; i < op->args_len; i++)
		h = (h ^ op->args[i]) * 0x100000001b3ull;
	k->args_hash = h;
}

/* Does this mutation need attributes of directories held elsewhere, or
 * is it one across managers?  Then it starts on a data thread. */
static bool needs_pre(struct fmd_op *op)
{
	if (op->f->cfg.managers <= 1)
		return false;
	switch (op->proc) {
	case NFS3_CREATE: case NFS3_MKDIR: case NFS3_SYMLINK: case NFS3_MKNOD:
	case NFS3_REMOVE: case NFS3_RMDIR: case NFS3_RENAME: case NFS3_LINK:
		return true;
	default:
		return false;
	}
}

void nfs_start(struct fmd_op *op)
{
	struct fmd *f = op->f;
	const struct nfs_proc *p = &nfs_procs[op->proc];

	op->reply_max = DEFAULT_REPLY_MAX;
	atomic_fetch_add_explicit(&proc_calls[op->proc], 1, memory_order_relaxed);
	if (orpc_nfs3_decode(op->proc, op->args, op->args_len, &op->a) != 0) {
		reply_error(op, ORPC_GARBAGE_ARGS);
		return;
	}
	if (op->proc != NFS3_NULL && !export_allowed(&f->cfg, &op->peer)) {
		nfs_fail(op, NFS3ERR_ACCES);
		nfs_finish(op);
		return;
	}
	export_cred(&f->cfg, &op->ocred, &op->cred);

	/* on a volume of several managers, the call may be another's */
	if (f->cfg.managers > 1 && !op->fwd) {
		int target = slice_route_nfs3(op->proc, op->args, op->args_len, f->cfg.managers);
		if (target >= 0 && (uint32_t)target != f->cfg.index) {
			op->fwd_target = target;
			data_pool_job(f->io, op, remote_forward_job);
			return;
		}
	}

	if (p->drc) {
		uint8_t *msg;
		size_t len;
		drc_key_make(op, &op->drc_key);
		switch (drc_begin(f->drc, &op->drc_key, &msg, &len)) {
		case DRC_IN_PROGRESS:
			if (op->call)
				orpc_call_drop(op->call);
			else
				remote_forward_reply(op, ORPC_SYSTEM_ERR, NULL, 0);
			nfs_op_free(op);
			return;
		case DRC_REPLAY:
			if (op->call) {
				if (orpc_reply_raw(op->call, msg, len) < 0)
					orpc_call_drop(op->call);
			} else {
				remote_forward_reply(op, 0, msg + 24, len - 24);
			}
			free(msg);
			nfs_op_free(op);
			return;
		case DRC_NEW:
			op->in_drc = true;
			break;
		}
	}

	enum nfs_kind kind = p->kind;
	/* listings and lookups may ask other managers: not on the loop */
	if (f->cfg.managers > 1 && (op->proc == NFS3_LOOKUP || op->proc == NFS3_READDIR ||
				    op->proc == NFS3_READDIRPLUS)) {
		data_pool_job(f->io, op, run_inline);
		return;
	}
	switch (kind) {
	case K_INLINE:
		run_inline(op);
		break;
	case K_COMMIT:
		op->mutate = p->run;
		if (needs_pre(op)) {
			data_pool_job(f->io, op, remote_pre_job);
			break;
		}
		if (commit_submit(f->cq, op) < 0) {
			nfs_fail(op, NFS3ERR_JUKEBOX);   /* shutting down: try again later */
			nfs_finish(op);
		}
		break;
	case K_DATA:
		data_pool_submit(f->io, op);
		break;
	}
}

void nfs_dispatch(struct orpc_call *c, void *arg)
{
	struct fmd_op *op = calloc(1, sizeof(*op));
	if (!op) {
		orpc_reply_error(c, ORPC_SYSTEM_ERR);
		return;
	}
	op->f = arg;
	op->call = c;
	op->proc = c->proc;
	op->args = c->args;
	op->args_len = c->args_len;
	op->xid = c->xid;
	op->ocred = c->cred;
	op->peer = *c->peer;
	nfs_start(op);
}
