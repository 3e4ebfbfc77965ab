/*
 * nfs3_args.c - NFSv3 and MOUNTv3 argument decoders (see oncrpc_nfs3.h for
 * why these are not libnfs's).  Each one reads every field through the
 * bounds-checked cursor and checks `bad` once; enums and booleans outside
 * their range are garbage, as XDR says.
 */
#include <errno.h>
#include <string.h>

#include "oncrpc.h"
#include "oncrpc_nfs3.h"

struct dec {
	struct orpc_xdr        x;
	struct orpc_nfs3_args *a;         /* NULL for MOUNT */
	uint32_t              *flags;
	int                    nnames;
};

static uint32_t u32(struct dec *d) { return orpc_xdr_u32(&d->x); }
static uint64_t u64(struct dec *d) { return orpc_xdr_u64(&d->x); }

static uint32_t boolean(struct dec *d)
{
	uint32_t v = u32(d);
	if (v > 1)
		d->x.bad = true;
	return v;
}

static uint32_t enum_max(struct dec *d, uint32_t lo, uint32_t hi)
{
	uint32_t v = u32(d);
	if (v < lo || v > hi)
		d->x.bad = true;
	return v;
}

static void fh(struct dec *d, nfs_fh3 *f)
{
	uint32_t n;
	const uint8_t *p = orpc_xdr_opaque(&d->x, &n, NFS3_FHSIZE);
	f->data.data_len = n;
	f->data.data_val = (char *)p;
}

/* Copy a string of at most max bytes into dst (max + 1 bytes), flagging
 * what the server must refuse rather than treat as garbage. */
static void string_into(struct dec *d, char *dst, uint32_t max)
{
	uint32_t n = u32(d);
	const uint8_t *p = orpc_xdr_fixed(&d->x, n);
	dst[0] = 0;
	if (!p)
		return;
	if (n > max) {
		*d->flags |= ORPC_NFS3_F_NAMETOOLONG;
		return;
	}
	if (memchr(p, 0, n))
		*d->flags |= ORPC_NFS3_F_BADNAME;
	memcpy(dst, p, n);
	dst[n] = 0;
}

static char *dname(struct dec *d)
{
	char *dst = d->a->name[d->nnames++];
	string_into(d, dst, ORPC_NFS3_NAME_MAX);
	return dst;
}

static void diropargs(struct dec *d, diropargs3 *o)
{
	fh(d, &o->dir);
	o->name = dname(d);
}

static void nfstime(struct dec *d, nfstime3 *t)
{
	t->seconds = u32(d);
	t->nseconds = u32(d);
}

static void sattr(struct dec *d, sattr3 *s)
{
	if ((s->mode.set_it = boolean(d)))
		s->mode.set_mode3_u.mode = u32(d);
	if ((s->uid.set_it = boolean(d)))
		s->uid.set_uid3_u.uid = u32(d);
	if ((s->gid.set_it = boolean(d)))
		s->gid.set_gid3_u.gid = u32(d);
	if ((s->size.set_it = boolean(d)))
		s->size.set_size3_u.size = u64(d);
	s->atime.set_it = enum_max(d, DONT_CHANGE, SET_TO_CLIENT_TIME);
	if (s->atime.set_it == SET_TO_CLIENT_TIME)
		nfstime(d, &s->atime.set_atime_u.atime);
	s->mtime.set_it = enum_max(d, DONT_CHANGE, SET_TO_CLIENT_TIME);
	if (s->mtime.set_it == SET_TO_CLIENT_TIME)
		nfstime(d, &s->mtime.set_mtime_u.mtime);
}

static void verf8(struct dec *d, char *dst)
{
	const uint8_t *p = orpc_xdr_fixed(&d->x, 8);
	if (p)
		memcpy(dst, p, 8);
}

static void create_args(struct dec *d, CREATE3args *c)
{
	diropargs(d, &c->where);
	c->how.mode = enum_max(d, UNCHECKED, EXCLUSIVE);
	if (c->how.mode == EXCLUSIVE)
		verf8(d, c->how.createhow3_u.verf);
	else
		sattr(d, &c->how.createhow3_u.obj_attributes);
}

static void mknod_args(struct dec *d, MKNOD3args *m)
{
	diropargs(d, &m->where);
	m->what.type = enum_max(d, NF3REG, NF3FIFO);
	switch (m->what.type) {
	case NF3CHR:
	case NF3BLK:
		sattr(d, &m->what.mknoddata3_u.chr_device.dev_attributes);
		m->what.mknoddata3_u.chr_device.spec.specdata1 = u32(d);
		m->what.mknoddata3_u.chr_device.spec.specdata2 = u32(d);
		break;
	case NF3SOCK:
	case NF3FIFO:
		sattr(d, &m->what.mknoddata3_u.sock_attributes);
		break;
	default:   /* REG, DIR, LNK: no arguments; the server says BADTYPE */
		break;
	}
}

static void write_args(struct dec *d, WRITE3args *w)
{
	fh(d, &w->file);
	w->offset = u64(d);
	w->count = u32(d);
	w->stable = enum_max(d, UNSTABLE, FILE_SYNC);
	uint32_t n = u32(d);
	const uint8_t *p = orpc_xdr_fixed(&d->x, n);
	w->data.data_len = n;
	w->data.data_val = (char *)p;
	/* the count must describe the data that came (as knfsd insists) */
	if (!p || n != w->count)
		d->x.bad = true;
}

int orpc_nfs3_decode(uint32_t proc, const uint8_t *buf, size_t len, struct orpc_nfs3_args *a)
{
	struct dec d = { .a = a, .flags = &a->flags };
	union orpc_nfs3_argu *u = &a->u;

	memset(&a->u, 0, sizeof(a->u));
	a->flags = 0;
	a->name[0][0] = a->name[1][0] = a->path[0] = 0;
	orpc_xdr_init(&d.x, buf, len);

	switch (proc) {
	case NFS3_NULL:
		break;
	case NFS3_GETATTR:
		fh(&d, &u->getattr.object);
		break;
	case NFS3_SETATTR:
		fh(&d, &u->setattr.object);
		sattr(&d, &u->setattr.new_attributes);
		if ((u->setattr.guard.check = boolean(&d)))
			nfstime(&d, &u->setattr.guard.sattrguard3_u.obj_ctime);
		break;
	case NFS3_LOOKUP:
		diropargs(&d, &u->lookup.what);
		break;
	case NFS3_ACCESS:
		fh(&d, &u->access.object);
		u->access.access = u32(&d);
		break;
	case NFS3_READLINK:
		fh(&d, &u->readlink.symlink);
		break;
	case NFS3_READ:
		fh(&d, &u->read.file);
		u->read.offset = u64(&d);
		u->read.count = u32(&d);
		break;
	case NFS3_WRITE:
		write_args(&d, &u->write);
		break;
	case NFS3_CREATE:
		create_args(&d, &u->create);
		break;
	case NFS3_MKDIR:
		diropargs(&d, &u->mkdir.where);
		sattr(&d, &u->mkdir.attributes);
		break;
	case NFS3_SYMLINK:
		diropargs(&d, &u->symlink.where);
		sattr(&d, &u->symlink.symlink.symlink_attributes);
		string_into(&d, a->path, ORPC_NFS3_PATH_MAX);
		u->symlink.symlink.symlink_data = a->path;
		break;
	case NFS3_MKNOD:
		mknod_args(&d, &u->mknod);
		break;
	case NFS3_REMOVE:
		diropargs(&d, &u->remove.object);
		break;
	case NFS3_RMDIR:
		diropargs(&d, &u->rmdir.object);
		break;
	case NFS3_RENAME:
		diropargs(&d, &u->rename.from);
		diropargs(&d, &u->rename.to);
		break;
	case NFS3_LINK:
		fh(&d, &u->link.file);
		diropargs(&d, &u->link.link);
		break;
	case NFS3_READDIR:
		fh(&d, &u->readdir.dir);
		u->readdir.cookie = u64(&d);
		verf8(&d, u->readdir.cookieverf);
		u->readdir.count = u32(&d);
		break;
	case NFS3_READDIRPLUS:
		fh(&d, &u->readdirplus.dir);
		u->readdirplus.cookie = u64(&d);
		verf8(&d, u->readdirplus.cookieverf);
		u->readdirplus.dircount = u32(&d);
		u->readdirplus.maxcount = u32(&d);
		break;
	case NFS3_FSSTAT:
		fh(&d, &u->fsstat.fsroot);
		break;
	case NFS3_FSINFO:
		fh(&d, &u->fsinfo.fsroot);
		break;
	case NFS3_PATHCONF:
		fh(&d, &u->pathconf.object);
		break;
	case NFS3_COMMIT:
		fh(&d, &u->commit.file);
		u->commit.offset = u64(&d);
		u->commit.count = u32(&d);
		break;
	default:
		return -EINVAL;
	}
	return d.x.bad ? -EBADMSG : 0;
}

int orpc_mnt3_decode(uint32_t proc, const uint8_t *buf, size_t len, struct orpc_mnt3_args *a)
{
	struct dec d = { .flags = &a->flags };

	a->flags = 0;
	a->path[0] = 0;
	orpc_xdr_init(&d.x, buf, len);
	switch (proc) {
	case MOUNT3_NULL:
	case MOUNT3_DUMP:
	case MOUNT3_UMNTALL:
	case MOUNT3_EXPORT:
		break;
	case MOUNT3_MNT:
	case MOUNT3_UMNT:
		string_into(&d, a->path, MNTPATHLEN);
		break;
	default:
		return -EINVAL;
	}
	return d.x.bad ? -EBADMSG : 0;
}
