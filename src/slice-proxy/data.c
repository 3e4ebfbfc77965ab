/*
 * data.c - READ, WRITE and COMMIT, served by the proxy itself through the
 * Slice data path (slice_vol's stateless side: straight to the block
 * servers, the block map from the file's manager).
 *
 * They may wait on block servers, so they run on the worker threads, never
 * on the RPC loop.  READ's data lands in the reply buffer itself: the
 * reply's fixed part (status, attributes, count, eof, length) has a known
 * size, so the data goes at its place first and the attributes - which
 * come with the data - are written in front afterwards.
 *
 * Attributes: the volume client's, with the fsid the managers use (their
 * volume id, from the handle), so that the client sees one file system.
 * The pre-operation attributes of WRITE and COMMIT are not known here
 * (the file manager keeps them): "no attributes", which the protocol
 * allows and which makes a client check its cache.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <nfsc/libnfs-raw-nfs.h>

#include "oncrpc_nfs3.h"
#include "proxy.h"
#include "slice_route.h"

#define RW_MAX       (1u << 20)
#define READ_HDR     (4 + 4 + 84 + 4 + 4 + 4)   /* status, attrs, count, eof, data length */

static uint32_t nfs_type(uint32_t type)
{
	switch (type & S_IFMT) {
	case S_IFDIR:  return NF3DIR;
	case S_IFBLK:  return NF3BLK;
	case S_IFCHR:  return NF3CHR;
	case S_IFLNK:  return NF3LNK;
	case S_IFSOCK: return NF3SOCK;
	case S_IFIFO:  return NF3FIFO;
	default:       return NF3REG;
	}
}

/* fattr3: 84 bytes. */
void xdr_fattr(struct orpc_xdrw *w, const struct slice_attr *a, uint64_t fsid)
{
	orpc_xdrw_u32(w, nfs_type(a->type));
	orpc_xdrw_u32(w, a->mode & 07777);
	orpc_xdrw_u32(w, a->nlink);
	orpc_xdrw_u32(w, a->uid);
	orpc_xdrw_u32(w, a->gid);
	orpc_xdrw_u64(w, a->size);
	orpc_xdrw_u64(w, a->used);
	orpc_xdrw_u32(w, major(a->rdev));
	orpc_xdrw_u32(w, minor(a->rdev));
	orpc_xdrw_u64(w, fsid);
	orpc_xdrw_u64(w, a->fileid);
	const struct timespec *t[3] = { &a->atime, &a->mtime, &a->ctime };
	for (int i = 0; i < 3; i++) {
		orpc_xdrw_u32(w, (uint32_t)t[i]->tv_sec);
		orpc_xdrw_u32(w, (uint32_t)t[i]->tv_nsec);
	}
}

static void xdr_post(struct orpc_xdrw *w, const struct slice_attr *a, uint64_t fsid)
{
	orpc_xdrw_u32(w, a ? 1 : 0);
	if (a)
		xdr_fattr(w, a, fsid);
}

/* The handle's structure, and the volume's fsid from it. */
static uint32_t check_fh(const nfs_fh3 *h, struct slice_vfh *vfh, uint64_t *fsid)
{
	struct slice_fh_info info;
	if (h->data.data_len > SLICE_VOL_FH_MAX ||
	    slice_fh_parse(h->data.data_val, h->data.data_len, &info) < 0)
		return NFS3ERR_BADHANDLE;
	vfh->len = h->data.data_len;
	memcpy(vfh->b, h->data.data_val, vfh->len);
	*fsid = (uint64_t)info.volid << 32;
	return NFS3_OK;
}

static uint32_t status_of(int rc)
{
	if (rc == -EFBIG)
		return NFS3ERR_FBIG;
	return slice_errno_nfs3(rc);
}

static void do_read(struct proxy *p, struct orpc_call *c, const READ3args *a,
		    const struct slice_cred *cr)
{
	struct slice_vfh vfh;
	struct slice_attr attr;
	uint64_t fsid = 0;
	uint32_t st = check_fh(&a->file, &vfh, &fsid);
	if (st != NFS3_OK) {
		nfs_reply_status(c, st);
		return;
	}
	int rc = proxy_may(p, cr, &vfh, false);
	if (rc < 0) {
		nfs_reply_status(c, status_of(rc));
		return;
	}
	uint32_t count = a->count > RW_MAX ? RW_MAX : a->count;
	uint8_t *body = orpc_reply_buf(c, READ_HDR + count + 4);
	if (!body) {
		nfs_reply_status(c, NFS3ERR_SERVERFAULT);
		return;
	}
	bool eof = false;
	ssize_t n = slice_vol_pread(p->vol, cr, &vfh, body + READ_HDR, count, a->offset, &eof, &attr);
	struct orpc_xdrw w;
	orpc_xdrw_init(&w, body, READ_HDR + count + 4);
	if (n < 0) {
		atomic_fetch_add(&p->data_fail, 1);
		orpc_xdrw_u32(&w, status_of((int)n));
		orpc_xdrw_u32(&w, 0);
		orpc_reply_send(c, w.pos);
		return;
	}
	orpc_xdrw_u32(&w, NFS3_OK);
	xdr_post(&w, &attr, fsid);
	orpc_xdrw_u32(&w, (uint32_t)n);
	orpc_xdrw_u32(&w, eof);
	orpc_xdrw_u32(&w, (uint32_t)n);
	size_t len = READ_HDR + (size_t)n;
	while (len % 4)   /* XDR padding */
		body[len++] = 0;
	orpc_reply_send(c, len);
}

static void do_write(struct proxy *p, struct orpc_call *c, const WRITE3args *a,
		     const struct slice_cred *cr)
{
	struct slice_vfh vfh;
	struct slice_attr attr;
	uint64_t fsid = 0;
	uint32_t st = check_fh(&a->file, &vfh, &fsid);
	ssize_t n = 0;
	if (st == NFS3_OK && a->count > RW_MAX)
		st = NFS3ERR_INVAL;
	if (st == NFS3_OK && a->offset + a->count < a->offset)
		st = NFS3ERR_FBIG;
	if (st == NFS3_OK) {
		int rc = proxy_may(p, cr, &vfh, true);
		if (rc < 0)
			st = status_of(rc);
	}
	if (st == NFS3_OK) {
		n = slice_vol_pwrite(p->vol, cr, &vfh, a->data.data_val, a->count, a->offset,
				     a->stable != UNSTABLE, &attr);
		if (n < 0) {
			atomic_fetch_add(&p->data_fail, 1);
			st = status_of((int)n);
		}
	}
	uint8_t *body = orpc_reply_buf(c, 4 + 8 + 84 + 16);
	if (!body) {
		orpc_reply_error(c, ORPC_SYSTEM_ERR);
		return;
	}
	struct orpc_xdrw w;
	orpc_xdrw_init(&w, body, 4 + 8 + 84 + 16);
	orpc_xdrw_u32(&w, st);
	orpc_xdrw_u32(&w, 0);   /* pre-op attributes: not known here */
	xdr_post(&w, st == NFS3_OK ? &attr : NULL, fsid);
	if (st == NFS3_OK) {
		orpc_xdrw_u32(&w, (uint32_t)n);
		orpc_xdrw_u32(&w, a->stable == UNSTABLE ? UNSTABLE : FILE_SYNC);
		orpc_xdrw_u64(&w, slice_vol_write_verifier(p->vol));
	}
	orpc_reply_send(c, w.pos);
}

static void do_commit(struct proxy *p, struct orpc_call *c, const COMMIT3args *a,
		      const struct slice_cred *cr)
{
	struct slice_vfh vfh;
	struct slice_attr attr;
	uint64_t fsid = 0;
	uint32_t st = check_fh(&a->file, &vfh, &fsid);
	if (st == NFS3_OK) {
		int rc = slice_vol_commit(p->vol, cr, &vfh, &attr);
		if (rc < 0) {
			atomic_fetch_add(&p->data_fail, 1);
			st = status_of(rc);
		}
	}
	uint8_t *body = orpc_reply_buf(c, 4 + 8 + 84 + 8);
	if (!body) {
		orpc_reply_error(c, ORPC_SYSTEM_ERR);
		return;
	}
	struct orpc_xdrw w;
	orpc_xdrw_init(&w, body, 4 + 8 + 84 + 8);
	orpc_xdrw_u32(&w, st);
	orpc_xdrw_u32(&w, 0);
	xdr_post(&w, st == NFS3_OK ? &attr : NULL, fsid);
	if (st == NFS3_OK)
		orpc_xdrw_u64(&w, slice_vol_write_verifier(p->vol));
	orpc_reply_send(c, w.pos);
}

/*
 * SETATTR that changes the size goes through the volume client: its open
 * file of that handle (the stateless side's) must have its write-behind
 * land before the cut and learn the new size and map after it - else
 * data written before a truncation could reappear, and reads would stop
 * at the old size.  Other SETATTRs are forwarded.
 */
static void do_setattr_size(struct proxy *p, struct orpc_call *c, const SETATTR3args *a,
			    const struct slice_cred *cr)
{
	const sattr3 *in = &a->new_attributes;
	struct slice_sattr s = { .valid = SLICE_SET_SIZE, .size = in->size.set_size3_u.size };
	struct slice_vfh vfh;
	struct slice_attr attr;
	uint64_t fsid = 0;

	if (in->mode.set_it) {
		s.valid |= SLICE_SET_MODE;
		s.mode = in->mode.set_mode3_u.mode;
	}
	if (in->uid.set_it) {
		s.valid |= SLICE_SET_UID;
		s.uid = in->uid.set_uid3_u.uid;
	}
	if (in->gid.set_it) {
		s.valid |= SLICE_SET_GID;
		s.gid = in->gid.set_gid3_u.gid;
	}
	if (in->atime.set_it == SET_TO_SERVER_TIME) {
		s.valid |= SLICE_SET_ATIME_NOW;
	} else if (in->atime.set_it == SET_TO_CLIENT_TIME) {
		s.valid |= SLICE_SET_ATIME;
		s.atime.tv_sec = in->atime.set_atime_u.atime.seconds;
		s.atime.tv_nsec = in->atime.set_atime_u.atime.nseconds;
	}
	if (in->mtime.set_it == SET_TO_SERVER_TIME) {
		s.valid |= SLICE_SET_MTIME_NOW;
	} else if (in->mtime.set_it == SET_TO_CLIENT_TIME) {
		s.valid |= SLICE_SET_MTIME;
		s.mtime.tv_sec = in->mtime.set_mtime_u.mtime.seconds;
		s.mtime.tv_nsec = in->mtime.set_mtime_u.mtime.nseconds;
	}
	uint32_t st = check_fh(&a->object, &vfh, &fsid);
	bool have_attr = false;
	if (st == NFS3_OK && a->guard.check) {
		/* the guard, checked here: not atomic with the change (another
		 * client's change in between is not seen), as close as the
		 * volume client's API allows */
		int rc = slice_vol_getattr(p->vol, cr, &vfh, &attr);
		if (rc < 0) {
			st = status_of(rc);
		} else if ((uint32_t)attr.ctime.tv_sec != a->guard.sattrguard3_u.obj_ctime.seconds ||
			   (uint32_t)attr.ctime.tv_nsec != a->guard.sattrguard3_u.obj_ctime.nseconds) {
			st = NFS3ERR_NOT_SYNC;
			have_attr = true;
		}
	}
	if (st == NFS3_OK) {
		int rc = slice_vol_setattr(p->vol, cr, &vfh, &s, &attr);
		if (rc < 0)
			st = status_of(rc);
		have_attr = rc == 0;
	}
	uint8_t *body = orpc_reply_buf(c, 4 + 8 + 84);
	if (!body) {
		orpc_reply_error(c, ORPC_SYSTEM_ERR);
		return;
	}
	struct orpc_xdrw w;
	orpc_xdrw_init(&w, body, 4 + 8 + 84);
	orpc_xdrw_u32(&w, st);
	orpc_xdrw_u32(&w, 0);   /* pre-op attributes: the manager's, not known here */
	xdr_post(&w, have_attr ? &attr : NULL, fsid);
	orpc_reply_send(c, w.pos);
}

static void data_job(void *arg)
{
	struct orpc_call *c = arg;
	struct proxy *p = c->user;
	struct orpc_nfs3_args *a = malloc(sizeof(*a));
	struct slice_cred cr;

	if (!a) {
		orpc_reply_error(c, ORPC_SYSTEM_ERR);
		return;
	}
	if (orpc_nfs3_decode(c->proc, c->args, c->args_len, a) != 0) {
		orpc_reply_error(c, ORPC_GARBAGE_ARGS);
		free(a);
		return;
	}
	atomic_fetch_add(&p->data_calls, 1);
	proxy_cred(c, &cr);
	switch (c->proc) {
	case NFS3_SETATTR:
		if (a->u.setattr.new_attributes.size.set_it) {
			do_setattr_size(p, c, &a->u.setattr, &cr);
		} else {
			atomic_fetch_sub(&p->data_calls, 1);
			proxy_forward(p, c);
		}
		break;
	case NFS3_READ:
		do_read(p, c, &a->u.read, &cr);
		break;
	case NFS3_WRITE:
		do_write(p, c, &a->u.write, &cr);
		break;
	default:
		do_commit(p, c, &a->u.commit, &cr);
	}
	free(a);
}

void data_serve(struct proxy *p, struct orpc_call *c)
{
	c->user = p;
	if (pool_submit(p->pool, data_job, c) < 0)
		nfs_reply_status(c, NFS3ERR_JUKEBOX);
}
