/*
 * vol_conv.c - NFSv3 terms to local ones and back: attributes, the
 * attributes to set, status codes, handles.
 */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>

#include "vol_internal.h"

static uint32_t type_of(ftype3 t)
{
	switch (t) {
	case NF3REG:  return S_IFREG;
	case NF3DIR:  return S_IFDIR;
	case NF3BLK:  return S_IFBLK;
	case NF3CHR:  return S_IFCHR;
	case NF3LNK:  return S_IFLNK;
	case NF3SOCK: return S_IFSOCK;
	case NF3FIFO: return S_IFIFO;
	default:      return 0;
	}
}

void vol_attr_from(struct slice_attr *a, const fattr3 *f)
{
	memset(a, 0, sizeof(*a));
	a->type = type_of(f->type);
	a->mode = f->mode & 07777;
	a->nlink = f->nlink;
	a->uid = f->uid;
	a->gid = f->gid;
	a->size = f->size;
	a->used = f->used;
	a->rdev = makedev(f->rdev.specdata1, f->rdev.specdata2);
	a->fileid = f->fileid;
	a->atime = (struct timespec){ f->atime.seconds, f->atime.nseconds };
	a->mtime = (struct timespec){ f->mtime.seconds, f->mtime.nseconds };
	a->ctime = (struct timespec){ f->ctime.seconds, f->ctime.nseconds };
}

void vol_sattr_to(sattr3 *s, const struct slice_sattr *in)
{
	memset(s, 0, sizeof(*s));
	if (!in)
		return;
	if (in->valid & SLICE_SET_MODE) {
		s->mode.set_it = 1;
		s->mode.set_mode3_u.mode = in->mode & 07777;
	}
	if (in->valid & SLICE_SET_UID) {
		s->uid.set_it = 1;
		s->uid.set_uid3_u.uid = in->uid;
	}
	if (in->valid & SLICE_SET_GID) {
		s->gid.set_it = 1;
		s->gid.set_gid3_u.gid = in->gid;
	}
	if (in->valid & SLICE_SET_SIZE) {
		s->size.set_it = 1;
		s->size.set_size3_u.size = in->size;
	}
	if (in->valid & SLICE_SET_ATIME_NOW) {
		s->atime.set_it = SET_TO_SERVER_TIME;
	} else if (in->valid & SLICE_SET_ATIME) {
		s->atime.set_it = SET_TO_CLIENT_TIME;
		s->atime.set_atime_u.atime = (nfstime3){ (uint32_t)in->atime.tv_sec, (uint32_t)in->atime.tv_nsec };
	}
	if (in->valid & SLICE_SET_MTIME_NOW) {
		s->mtime.set_it = SET_TO_SERVER_TIME;
	} else if (in->valid & SLICE_SET_MTIME) {
		s->mtime.set_it = SET_TO_CLIENT_TIME;
		s->mtime.set_mtime_u.mtime = (nfstime3){ (uint32_t)in->mtime.tv_sec, (uint32_t)in->mtime.tv_nsec };
	}
}

nfs_fh3 vol_fh_arg(const struct slice_vfh *fh)
{
	nfs_fh3 h;
	h.data.data_len = fh->len > SLICE_VOL_FH_MAX ? SLICE_VOL_FH_MAX : fh->len;
	h.data.data_val = (char *)fh->b;
	return h;
}

void vol_fh_copy(struct slice_vfh *dst, const nfs_fh3 *src)
{
	dst->len = src->data.data_len > SLICE_VOL_FH_MAX ? SLICE_VOL_FH_MAX : src->data.data_len;
	memcpy(dst->b, src->data.data_val, dst->len);
}

int vol_fh_route(const struct slice_vol *v, const struct slice_vfh *fh, struct slice_fh_info *out)
{
	if (!fh || fh->len == 0 || fh->len > SLICE_VOL_FH_MAX)
		return -ESTALE;
	if (slice_fh_parse(fh->b, fh->len, out) < 0 || out->manager >= v->nmgr)
		return -ESTALE;
	return 0;
}

int vol_name_check(const char *name)
{
	if (!name || !*name)
		return -EINVAL;
	size_t n = strnlen(name, 256);
	if (n > 255)
		return -ENAMETOOLONG;
	return 0;
}

uint64_t vol_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* The errno a local file system would give. */
int slice_nfs3_errno(uint32_t st)
{
	switch (st) {
	case NFS3_OK:             return 0;
	case NFS3ERR_PERM:        return -EPERM;
	case NFS3ERR_NOENT:       return -ENOENT;
	case NFS3ERR_IO:          return -EIO;
	case NFS3ERR_NXIO:        return -ENXIO;
	case NFS3ERR_ACCES:       return -EACCES;
	case NFS3ERR_EXIST:       return -EEXIST;
	case NFS3ERR_XDEV:        return -EXDEV;
	case NFS3ERR_NODEV:       return -ENODEV;
	case NFS3ERR_NOTDIR:      return -ENOTDIR;
	case NFS3ERR_ISDIR:       return -EISDIR;
	case NFS3ERR_INVAL:       return -EINVAL;
	case NFS3ERR_FBIG:        return -EFBIG;
	case NFS3ERR_NOSPC:       return -ENOSPC;
	case NFS3ERR_ROFS:        return -EROFS;
	case NFS3ERR_MLINK:       return -EMLINK;
	case NFS3ERR_NAMETOOLONG: return -ENAMETOOLONG;
	case NFS3ERR_NOTEMPTY:    return -ENOTEMPTY;
	case NFS3ERR_DQUOT:       return -EDQUOT;
	case NFS3ERR_STALE:       return -ESTALE;
	case NFS3ERR_REMOTE:      return -EREMOTE;
	case NFS3ERR_BADHANDLE:   return -ESTALE;   /* no local errno: a handle that names nothing */
	case NFS3ERR_NOT_SYNC:    return -EIO;
	case NFS3ERR_BAD_COOKIE:  return -EINVAL;
	case NFS3ERR_NOTSUPP:     return -EOPNOTSUPP;
	case NFS3ERR_TOOSMALL:    return -EINVAL;
	case NFS3ERR_SERVERFAULT: return -EIO;
	case NFS3ERR_BADTYPE:     return -EINVAL;
	case NFS3ERR_JUKEBOX:     return -EAGAIN;
	default:                  return -EIO;
	}
}

uint32_t slice_errno_nfs3(int e)
{
	switch (e < 0 ? -e : e) {
	case 0:            return NFS3_OK;
	case EPERM:        return NFS3ERR_PERM;
	case ENOENT:       return NFS3ERR_NOENT;
	case ENXIO:        return NFS3ERR_NXIO;
	case EACCES:       return NFS3ERR_ACCES;
	case EEXIST:       return NFS3ERR_EXIST;
	case EXDEV:        return NFS3ERR_XDEV;
	case ENODEV:       return NFS3ERR_NODEV;
	case ENOTDIR:      return NFS3ERR_NOTDIR;
	case EISDIR:       return NFS3ERR_ISDIR;
	case EINVAL:       return NFS3ERR_INVAL;
	case EFBIG:        return NFS3ERR_FBIG;
	case ENOSPC:       return NFS3ERR_NOSPC;
	case EROFS:        return NFS3ERR_ROFS;
	case EMLINK:       return NFS3ERR_MLINK;
	case ENAMETOOLONG: return NFS3ERR_NAMETOOLONG;
	case ENOTEMPTY:    return NFS3ERR_NOTEMPTY;
	case EDQUOT:       return NFS3ERR_DQUOT;
	case ESTALE:       return NFS3ERR_STALE;
	case EREMOTE:      return NFS3ERR_REMOTE;
	case EBADF:        return NFS3ERR_BADHANDLE;
	case EOPNOTSUPP:   return NFS3ERR_NOTSUPP;
	case EAGAIN:       return NFS3ERR_JUKEBOX;
	case ETIMEDOUT:    return NFS3ERR_JUKEBOX;   /* a manager slow or restarting: try again */
	default:           return NFS3ERR_IO;
	}
}
