/*
 * vol_ns.c - the name-space calls: one NFSv3 call each, to the manager
 * slice_route.h names (the handle's manager for calls on an object, the
 * name's manager for calls on a name); the managers forward and run
 * two-phase commits among themselves for the rest.  A handle that does
 * not parse, or names a manager this volume does not have, is -ESTALE
 * without a call.
 */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "vol_internal.h"

/* What a reply may carry, for the copy functions. */
struct ns_out {
	struct slice_vfh  *fh;
	bool               has_fh;
	struct slice_attr *attr;
	bool               has_attr;
	uint32_t           access;
	char              *buf;
	size_t             cap;
	size_t             len;
	struct slice_statfs *sfs;
};

static void post(struct ns_out *o, const post_op_attr *p)
{
	if (p->attributes_follow && o->attr) {
		vol_attr_from(o->attr, &p->post_op_attr_u.attributes);
		o->has_attr = true;
	}
}

static void post_fh(struct ns_out *o, const post_op_fh3 *h)
{
	if (h->handle_follows && o->fh) {
		vol_fh_copy(o->fh, &h->post_op_fh3_u.handle);
		o->has_fh = true;
	}
}

static int done(struct vol_call *c, int rc)
{
	return rc < 0 ? rc : slice_nfs3_errno((uint32_t)c->status);
}

/* ---- on an object --------------------------------------------------------- */

static void cp_getattr(struct vol_call *c, void *r)
{
	GETATTR3res *x = r;
	struct ns_out *o = c->out;
	if (x->status == NFS3_OK && o->attr) {
		vol_attr_from(o->attr, &x->GETATTR3res_u.resok.obj_attributes);
		o->has_attr = true;
	}
}

int slice_vol_getattr(struct slice_vol *v, const struct slice_cred *cr, const struct slice_vfh *fh,
		      struct slice_attr *attr)
{
	struct slice_fh_info fi;
	int rc = vol_fh_route(v, fh, &fi);
	if (rc < 0)
		return rc;
	struct slice_attr tmp;
	struct ns_out o = { .attr = attr ? attr : &tmp };
	GETATTR3args a = { .object = vol_fh_arg(fh) };
	struct vol_call c = { .proc = NFS3_GETATTR, .args = &a, .copy = cp_getattr, .out = &o };
	rc = done(&c, vol_nfs_call(v, fi.manager, cr, &c));
	return rc == 0 && !o.has_attr ? -EIO : rc;
}

static void cp_setattr(struct vol_call *c, void *r)
{
	SETATTR3res *x = r;
	if (x->status == NFS3_OK)
		post(c->out, &x->SETATTR3res_u.resok.obj_wcc.after);
}

int vol_setattr_nfs(struct slice_vol *v, const struct slice_cred *cr, const struct slice_vfh *fh,
		    const struct slice_sattr *s, struct slice_attr *attr)
{
	struct slice_fh_info fi;
	int rc = vol_fh_route(v, fh, &fi);
	if (rc < 0)
		return rc;
	struct ns_out o = { .attr = attr };
	SETATTR3args a;
	memset(&a, 0, sizeof(a));
	a.object = vol_fh_arg(fh);
	vol_sattr_to(&a.new_attributes, s);
	struct vol_call c = { .proc = NFS3_SETATTR, .args = &a, .copy = cp_setattr, .out = &o };
	rc = done(&c, vol_nfs_call(v, fi.manager, cr, &c));
	if (rc == 0 && attr && !o.has_attr)
		rc = slice_vol_getattr(v, cr, fh, attr);
	return rc;
}

int slice_vol_setattr(struct slice_vol *v, const struct slice_cred *cr, const struct slice_vfh *fh,
		      const struct slice_sattr *s, struct slice_attr *attr)
{
	if (!s)
		return -EINVAL;
	if (s->valid & SLICE_SET_SIZE)
		return vol_truncate(v, cr, fh, s, attr);
	return vol_setattr_nfs(v, cr, fh, s, attr);
}

static void cp_access(struct vol_call *c, void *r)
{
	ACCESS3res *x = r;
	struct ns_out *o = c->out;
	if (x->status == NFS3_OK)
		o->access = x->ACCESS3res_u.resok.access;
}

int slice_vol_access(struct slice_vol *v, const struct slice_cred *cr, const struct slice_vfh *fh,
		     uint32_t want, uint32_t *granted)
{
	struct slice_fh_info fi;
	int rc = vol_fh_route(v, fh, &fi);
	if (rc < 0)
		return rc;
	uint32_t ask = 0;
	if (want & R_OK)
		ask |= ACCESS3_READ;
	if (want & W_OK)
		ask |= ACCESS3_MODIFY | ACCESS3_EXTEND | ACCESS3_DELETE;
	if (want & X_OK)
		ask |= ACCESS3_LOOKUP | ACCESS3_EXECUTE;
	struct ns_out o = { 0 };
	ACCESS3args a = { .object = vol_fh_arg(fh), .access = ask };
	struct vol_call c = { .proc = NFS3_ACCESS, .args = &a, .copy = cp_access, .out = &o };
	if ((rc = done(&c, vol_nfs_call(v, fi.manager, cr, &c))) < 0)
		return rc;
	uint32_t g = 0;
	if (o.access & ACCESS3_READ)
		g |= R_OK;
	/* writing a directory needs all of it; a file: MODIFY (EXTEND for appends) */
	if (o.access & ACCESS3_MODIFY)
		g |= W_OK;
	if (o.access & (ACCESS3_LOOKUP | ACCESS3_EXECUTE))
		g |= X_OK;
	if (granted)
		*granted = g & want;
	return 0;
}

static void cp_readlink(struct vol_call *c, void *r)
{
	READLINK3res *x = r;
	struct ns_out *o = c->out;
	if (x->status != NFS3_OK)
		return;
	const char *t = x->READLINK3res_u.resok.data;
	o->len = t ? strlen(t) : 0;
	if (o->cap) {
		size_t n = o->len < o->cap - 1 ? o->len : o->cap - 1;
		memcpy(o->buf, t, n);
		o->buf[n] = 0;
	}
}

int slice_vol_readlink(struct slice_vol *v, const struct slice_cred *cr, const struct slice_vfh *fh, char *buf,
		       size_t cap)
{
	struct slice_fh_info fi;
	int rc = vol_fh_route(v, fh, &fi);
	if (rc < 0)
		return rc;
	struct ns_out o = { .buf = buf, .cap = buf ? cap : 0 };
	READLINK3args a = { .symlink = vol_fh_arg(fh) };
	struct vol_call c = { .proc = NFS3_READLINK, .args = &a, .copy = cp_readlink, .out = &o };
	if ((rc = done(&c, vol_nfs_call(v, fi.manager, cr, &c))) < 0)
		return rc;
	return (int)o.len;
}

static void cp_fsstat(struct vol_call *c, void *r)
{
	FSSTAT3res *x = r;
	struct ns_out *o = c->out;
	if (x->status != NFS3_OK)
		return;
	FSSTAT3resok *k = &x->FSSTAT3res_u.resok;
	*o->sfs = (struct slice_statfs){ .tbytes = k->tbytes, .fbytes = k->fbytes, .abytes = k->abytes,
					 .tfiles = k->tfiles, .ffiles = k->ffiles, .afiles = k->afiles };
}

int slice_vol_statfs(struct slice_vol *v, const struct slice_cred *cr, const struct slice_vfh *fh,
		     struct slice_statfs *out)
{
	struct slice_fh_info fi;
	int rc = vol_fh_route(v, fh, &fi);
	if (rc < 0)
		return rc;
	struct ns_out o = { .sfs = out };
	FSSTAT3args a = { .fsroot = vol_fh_arg(fh) };
	struct vol_call c = { .proc = NFS3_FSSTAT, .args = &a, .copy = cp_fsstat, .out = &o };
	if ((rc = done(&c, vol_nfs_call(v, fi.manager, cr, &c))) < 0)
		return rc;
	out->namemax = 255;
	out->bsize = v->cl->stripe_unit ? v->cl->stripe_unit : 4096;
	return 0;
}

/* ---- on a name ---------------------------------------------------------------- */

/* The manager that holds name in dir. */
static int route_name(struct slice_vol *v, const struct slice_vfh *dir, const char *name, uint32_t *m)
{
	struct slice_fh_info fi;
	int rc = vol_fh_route(v, dir, &fi);
	if (rc < 0)
		return rc;
	if ((rc = vol_name_check(name)) < 0)
		return rc;
	*m = slice_route_entry(&fi, name, strlen(name), v->nmgr);
	return *m < v->nmgr ? 0 : -ESTALE;
}

/* A made object's handle and attributes, asked for when the reply had
 * none (the protocol allows that). */
static int fill_made(struct slice_vol *v, const struct slice_cred *cr, const struct slice_vfh *dir,
		     const char *name, struct ns_out *o)
{
	if (o->fh && !o->has_fh)
		return slice_vol_lookup(v, cr, dir, name, o->fh, o->attr);
	if (o->attr && !o->has_attr)
		return slice_vol_getattr(v, cr, o->fh, o->attr);
	return 0;
}

static void cp_lookup(struct vol_call *c, void *r)
{
	LOOKUP3res *x = r;
	struct ns_out *o = c->out;
	if (x->status != NFS3_OK)
		return;
	vol_fh_copy(o->fh, &x->LOOKUP3res_u.resok.object);
	o->has_fh = true;
	post(o, &x->LOOKUP3res_u.resok.obj_attributes);
}

int slice_vol_lookup(struct slice_vol *v, const struct slice_cred *cr, const struct slice_vfh *dir,
		     const char *name, struct slice_vfh *fh, struct slice_attr *attr)
{
	uint32_t m;
	int rc = route_name(v, dir, name, &m);
	if (rc < 0)
		return rc;
	struct slice_vfh tmp;
	struct ns_out o = { .fh = fh ? fh : &tmp, .attr = attr };
	LOOKUP3args a = { .what = { .dir = vol_fh_arg(dir), .name = (char *)name } };
	struct vol_call c = { .proc = NFS3_LOOKUP, .args = &a, .copy = cp_lookup, .out = &o };
	if ((rc = done(&c, vol_nfs_call(v, m, cr, &c))) < 0)
		return rc;
	if (attr && !o.has_attr)
		rc = slice_vol_getattr(v, cr, o.fh, attr);
	return rc;
}

/* CREATE, MKDIR, SYMLINK and MKNOD results have the same shape. */
#define CP_MADE(fn, T, U)                                              \
static void fn(struct vol_call *c, void *r)                            \
{                                                                      \
	T *x = r;                                                      \
	struct ns_out *o = c->out;                                     \
	if (x->status != NFS3_OK)                                      \
		return;                                                \
	post_fh(o, &x->U.resok.obj);                                   \
	post(o, &x->U.resok.obj_attributes);                           \
}
CP_MADE(cp_create, CREATE3res, CREATE3res_u)
CP_MADE(cp_mkdir, MKDIR3res, MKDIR3res_u)
CP_MADE(cp_symlink, SYMLINK3res, SYMLINK3res_u)
CP_MADE(cp_mknod, MKNOD3res, MKNOD3res_u)

static int made(struct slice_vol *v, const struct slice_cred *cr, const struct slice_vfh *dir, const char *name,
		uint32_t m, struct vol_call *c)
{
	int rc = done(c, vol_nfs_call(v, m, cr, c));
	return rc < 0 ? rc : fill_made(v, cr, dir, name, c->out);
}

int slice_vol_create(struct slice_vol *v, const struct slice_cred *cr, const struct slice_vfh *dir,
		     const char *name, uint32_t mode, bool excl, struct slice_vfh *fh, struct slice_attr *attr)
{
	uint32_t m;
	int rc = route_name(v, dir, name, &m);
	if (rc < 0)
		return rc;
	struct slice_vfh tmp;
	struct ns_out o = { .fh = fh ? fh : &tmp, .attr = attr };
	CREATE3args a;
	memset(&a, 0, sizeof(a));
	a.where.dir = vol_fh_arg(dir);
	a.where.name = (char *)name;
	a.how.mode = excl ? GUARDED : UNCHECKED;
	struct slice_sattr s = { .valid = SLICE_SET_MODE, .mode = mode };
	vol_sattr_to(&a.how.createhow3_u.obj_attributes, &s);
	struct vol_call c = { .proc = NFS3_CREATE, .args = &a, .copy = cp_create, .out = &o };
	return made(v, cr, dir, name, m, &c);
}

int slice_vol_mkdir(struct slice_vol *v, const struct slice_cred *cr, const struct slice_vfh *dir,
		    const char *name, uint32_t mode, struct slice_vfh *fh, struct slice_attr *attr)
{
	uint32_t m;
	int rc = route_name(v, dir, name, &m);
	if (rc < 0)
		return rc;
	struct slice_vfh tmp;
	struct ns_out o = { .fh = fh ? fh : &tmp, .attr = attr };
	MKDIR3args a;
	memset(&a, 0, sizeof(a));
	a.where.dir = vol_fh_arg(dir);
	a.where.name = (char *)name;
	struct slice_sattr s = { .valid = SLICE_SET_MODE, .mode = mode };
	vol_sattr_to(&a.attributes, &s);
	struct vol_call c = { .proc = NFS3_MKDIR, .args = &a, .copy = cp_mkdir, .out = &o };
	return made(v, cr, dir, name, m, &c);
}

int slice_vol_symlink(struct slice_vol *v, const struct slice_cred *cr, const struct slice_vfh *dir,
		      const char *name, const char *target, struct slice_vfh *fh, struct slice_attr *attr)
{
	uint32_t m;
	int rc = route_name(v, dir, name, &m);
	if (rc < 0)
		return rc;
	if (!target || strnlen(target, 4097) > 4096)
		return target ? -ENAMETOOLONG : -EINVAL;
	struct slice_vfh tmp;
	struct ns_out o = { .fh = fh ? fh : &tmp, .attr = attr };
	SYMLINK3args a;
	memset(&a, 0, sizeof(a));
	a.where.dir = vol_fh_arg(dir);
	a.where.name = (char *)name;
	a.symlink.symlink_data = (char *)target;
	struct vol_call c = { .proc = NFS3_SYMLINK, .args = &a, .copy = cp_symlink, .out = &o };
	return made(v, cr, dir, name, m, &c);
}

int slice_vol_mknod(struct slice_vol *v, const struct slice_cred *cr, const struct slice_vfh *dir,
		    const char *name, uint32_t type, uint32_t mode, uint64_t rdev, struct slice_vfh *fh,
		    struct slice_attr *attr)
{
	uint32_t m;
	int rc = route_name(v, dir, name, &m);
	if (rc < 0)
		return rc;
	struct slice_vfh tmp;
	struct ns_out o = { .fh = fh ? fh : &tmp, .attr = attr };
	MKNOD3args a;
	memset(&a, 0, sizeof(a));
	a.where.dir = vol_fh_arg(dir);
	a.where.name = (char *)name;
	struct slice_sattr s = { .valid = SLICE_SET_MODE, .mode = mode };
	switch (type & S_IFMT) {
	case S_IFCHR:
	case S_IFBLK:
		a.what.type = (type & S_IFMT) == S_IFCHR ? NF3CHR : NF3BLK;
		vol_sattr_to(&a.what.mknoddata3_u.chr_device.dev_attributes, &s);
		a.what.mknoddata3_u.chr_device.spec.specdata1 = major(rdev);
		a.what.mknoddata3_u.chr_device.spec.specdata2 = minor(rdev);
		break;
	case S_IFIFO:
	case S_IFSOCK:
		a.what.type = (type & S_IFMT) == S_IFIFO ? NF3FIFO : NF3SOCK;
		vol_sattr_to(&a.what.mknoddata3_u.sock_attributes, &s);
		break;
	default:
		return -EINVAL;
	}
	struct vol_call c = { .proc = NFS3_MKNOD, .args = &a, .copy = cp_mknod, .out = &o };
	return made(v, cr, dir, name, m, &c);
}

static int remove_common(struct slice_vol *v, const struct slice_cred *cr, const struct slice_vfh *dir,
			 const char *name, uint32_t proc)
{
	uint32_t m;
	int rc = route_name(v, dir, name, &m);
	if (rc < 0)
		return rc;
	REMOVE3args a = { .object = { .dir = vol_fh_arg(dir), .name = (char *)name } };
	RMDIR3args b = { .object = { .dir = vol_fh_arg(dir), .name = (char *)name } };
	struct vol_call c = { .proc = proc, .args = proc == NFS3_REMOVE ? (void *)&a : (void *)&b };
	return done(&c, vol_nfs_call(v, m, cr, &c));
}

int slice_vol_remove(struct slice_vol *v, const struct slice_cred *cr, const struct slice_vfh *dir,
		     const char *name)
{
	return remove_common(v, cr, dir, name, NFS3_REMOVE);
}

int slice_vol_rmdir(struct slice_vol *v, const struct slice_cred *cr, const struct slice_vfh *dir,
		    const char *name)
{
	return remove_common(v, cr, dir, name, NFS3_RMDIR);
}

int slice_vol_rename(struct slice_vol *v, const struct slice_cred *cr, const struct slice_vfh *from,
		     const char *fname, const struct slice_vfh *to, const char *tname)
{
	uint32_t m, m2;
	int rc = route_name(v, from, fname, &m);
	if (rc < 0 || (rc = route_name(v, to, tname, &m2)) < 0)
		return rc;
	/* the source name's manager coordinates */
	RENAME3args a = { .from = { .dir = vol_fh_arg(from), .name = (char *)fname },
			  .to = { .dir = vol_fh_arg(to), .name = (char *)tname } };
	struct vol_call c = { .proc = NFS3_RENAME, .args = &a };
	return done(&c, vol_nfs_call(v, m, cr, &c));
}

static void cp_link(struct vol_call *c, void *r)
{
	LINK3res *x = r;
	if (x->status == NFS3_OK)
		post(c->out, &x->LINK3res_u.resok.file_attributes);
}

int slice_vol_link(struct slice_vol *v, const struct slice_cred *cr, const struct slice_vfh *fh,
		   const struct slice_vfh *dir, const char *name, struct slice_attr *attr)
{
	struct slice_fh_info fi;
	uint32_t m;
	int rc = vol_fh_route(v, fh, &fi);
	if (rc < 0 || (rc = route_name(v, dir, name, &m)) < 0)
		return rc;
	struct ns_out o = { .attr = attr };
	LINK3args a = { .file = vol_fh_arg(fh), .link = { .dir = vol_fh_arg(dir), .name = (char *)name } };
	struct vol_call c = { .proc = NFS3_LINK, .args = &a, .copy = cp_link, .out = &o };
	if ((rc = done(&c, vol_nfs_call(v, m, cr, &c))) < 0)
		return rc;
	if (attr && !o.has_attr)
		rc = slice_vol_getattr(v, cr, fh, attr);
	return rc;
}
