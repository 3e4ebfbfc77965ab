/*
 * vol_dir.c - listing a directory: READDIRPLUS to the directory's manager,
 * which gathers the names from every manager; its cookies (manager in the
 * top byte, slice_route.h) are passed through as they are, so a listing
 * resumes wherever the caller stopped.
 *
 * The entries of a reply are copied out in libnfs's callback and handed
 * to the caller's function afterwards, with no connection held: the
 * function may call the volume itself.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vol_internal.h"

struct dent {
	char             *name;
	uint64_t          fileid, cookie;
	bool              has_fh, has_attr;
	struct slice_vfh  fh;
	struct slice_attr attr;
};

struct dir_out {
	struct dent *e;
	uint32_t     n, cap;
	bool         eof;
	int          err;
};

static void cp_readdirplus(struct vol_call *c, void *r)
{
	READDIRPLUS3res *x = r;
	struct dir_out *o = c->out;
	if (x->status != NFS3_OK)
		return;
	o->eof = x->READDIRPLUS3res_u.resok.reply.eof;
	/* libnfs 4.0 lays decoded entries out unaligned: copy each one out */
	entryplus3 ebuf, *e;
	for (entryplus3 *p = x->READDIRPLUS3res_u.resok.reply.entries; p; p = e->nextentry) {
		memcpy(&ebuf, p, sizeof(ebuf));
		e = &ebuf;
		if (o->n == o->cap) {
			uint32_t cap = o->cap ? o->cap * 2 : 64;
			struct dent *ne = realloc(o->e, cap * sizeof(*ne));
			if (!ne) {
				o->err = -ENOMEM;
				return;
			}
			o->e = ne;
			o->cap = cap;
		}
		struct dent *d = &o->e[o->n];
		memset(d, 0, sizeof(*d));
		if (!(d->name = strdup(e->name ? e->name : ""))) {
			o->err = -ENOMEM;
			return;
		}
		d->fileid = e->fileid;
		d->cookie = e->cookie;
		if ((d->has_attr = e->name_attributes.attributes_follow))
			vol_attr_from(&d->attr, &e->name_attributes.post_op_attr_u.attributes);
		if ((d->has_fh = e->name_handle.handle_follows))
			vol_fh_copy(&d->fh, &e->name_handle.post_op_fh3_u.handle);
		o->n++;
	}
}

static void clear(struct dir_out *o)
{
	for (uint32_t i = 0; i < o->n; i++)
		free(o->e[i].name);
	o->n = 0;
	o->eof = false;
	o->err = 0;
}

int slice_vol_readdir(struct slice_vol *v, const struct slice_cred *cr, const struct slice_vfh *dir,
		      uint64_t cookie, slice_dirent_fn fn, void *arg, bool *eof)
{
	struct slice_fh_info fi;
	int rc = vol_fh_route(v, dir, &fi);
	if (rc < 0)
		return rc;
	if (!fn)
		return -EINVAL;
	if (eof)
		*eof = false;
	struct dir_out o = { 0 };
	/* every round trip moves on (a reply with no entry and no eof would
	 * be a manager bug: stop rather than loop) */
	for (int round = 0; round < 1000000; round++) {
		READDIRPLUS3args a;
		memset(&a, 0, sizeof(a));
		a.dir = vol_fh_arg(dir);
		a.cookie = cookie;
		a.dircount = 16384;
		a.maxcount = 65536;
		struct vol_call c = { .proc = NFS3_READDIRPLUS, .args = &a, .copy = cp_readdirplus, .out = &o };
		clear(&o);
		rc = vol_nfs_call(v, fi.manager, cr, &c);
		if (rc == 0)
			rc = o.err ? o.err : slice_nfs3_errno((uint32_t)c.status);
		if (rc < 0)
			break;
		bool stop = false;
		for (uint32_t i = 0; i < o.n && !stop; i++) {
			struct dent *d = &o.e[i];
			cookie = d->cookie;
			stop = fn(arg, d->name, d->fileid, d->cookie, d->has_fh ? &d->fh : NULL,
				  d->has_attr ? &d->attr : NULL) != 0;
			if (stop && i + 1 == o.n && o.eof && eof)
				*eof = true;
		}
		if (stop)
			break;
		if (o.eof) {
			if (eof)
				*eof = true;
			break;
		}
		if (o.n == 0) {
			rc = -EIO;
			break;
		}
	}
	clear(&o);
	free(o.e);
	return rc;
}
