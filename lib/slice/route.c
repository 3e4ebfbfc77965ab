/*
 * route.c - name-space routing (slice_route.h): which file manager holds
 * what.  Pure functions of their arguments: a router needs no state but the
 * volume's manager count.
 *
 * The name hash is FNV-1a over the directory's file id and the name, then
 * a 64-bit finaliser (splitmix64's) so that the low bits used by the modulo
 * are well mixed; the same function everywhere, forever: changing it would
 * move every name of every volume.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "oncrpc_nfs3.h"
#include "slice_route.h"

static uint64_t mix(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint64_t name_hash(uint64_t dir, const char *name, size_t len, uint64_t salt)
{
	uint64_t h = 0xcbf29ce484222325ull ^ salt;
	for (int i = 0; i < 8; i++, dir >>= 8)
		h = (h ^ (uint8_t)dir) * 0x100000001b3ull;
	for (size_t i = 0; i < len; i++)
		h = (h ^ (uint8_t)name[i]) * 0x100000001b3ull;
	return mix(h);
}

int slice_fh_parse(const void *fh, size_t len, struct slice_fh_info *out)
{
	const uint8_t *p = fh;
	if (len != SLICE_FH_SIZE || !p || p[0] != SLICE_FH_MAGIC || p[1] >> 4 != SLICE_FH_VERSION)
		return -EINVAL;
	out->flags = p[1] & 0xf;
	out->manager = (uint32_t)p[2] << 8 | p[3];
	out->volid = (uint32_t)p[4] << 24 | (uint32_t)p[5] << 16 | (uint32_t)p[6] << 8 | p[7];
	out->fileid = 0;
	for (int i = 8; i < 16; i++)
		out->fileid = out->fileid << 8 | p[i];
	out->gen = (uint32_t)p[16] << 24 | (uint32_t)p[17] << 16 | (uint32_t)p[18] << 8 | p[19];
	return 0;
}

uint32_t slice_route_name(uint64_t dir_fileid, const char *name, size_t len, uint32_t n)
{
	if (n <= 1)
		return 0;
	return (uint32_t)(name_hash(dir_fileid, name, len, 0) % n);
}

uint32_t slice_route_entry(const struct slice_fh_info *dir, const char *name, size_t len, uint32_t n)
{
	/* "." and ".." are the directory and its parent: the directory's
	 * manager knows both */
	bool dot = (len == 1 && name[0] == '.') || (len == 2 && name[0] == '.' && name[1] == '.');
	if ((dir->flags & SLICE_FH_F_LOCAL) || dot)
		return dir->manager;
	return slice_route_name(dir->fileid, name, len, n);
}

uint32_t slice_route_mkdir(uint64_t dir_fileid, const char *name, size_t len, uint32_t entry_manager,
			   uint32_t permille, uint32_t n)
{
	if (n <= 1 || permille == 0)
		return entry_manager;
	uint64_t h = name_hash(dir_fileid, name, len, 0x5a17c4ull);
	if (h % 1000 >= permille)
		return entry_manager;
	/* one of the other n - 1 managers, evenly */
	uint32_t k = (uint32_t)((h / 1000) % (n - 1));
	return k >= entry_manager ? k + 1 : k;
}

static int by_fh(const nfs_fh3 *fh, uint32_t n)
{
	struct slice_fh_info i;
	if (slice_fh_parse(fh->data.data_val, fh->data.data_len, &i) || i.manager >= n)
		return -EINVAL;
	return (int)i.manager;
}

static int by_name(const diropargs3 *d, uint32_t n)
{
	struct slice_fh_info i;
	if (slice_fh_parse(d->dir.data.data_val, d->dir.data.data_len, &i) || i.manager >= n)
		return -EINVAL;
	return (int)slice_route_entry(&i, d->name, strlen(d->name), n);
}

int slice_route_nfs3(uint32_t proc, const void *args, size_t len, uint32_t n)
{
	struct orpc_nfs3_args *a;
	int m;

	if (n <= 1)
		return 0;
	if (proc == NFS3_NULL)
		return 0;
	a = malloc(sizeof(*a));
	if (!a)
		return -ENOMEM;
	if (orpc_nfs3_decode(proc, args, len, a) != 0) {
		free(a);
		return -EINVAL;
	}
	union orpc_nfs3_argu *u = &a->u;
	switch (proc) {
	case NFS3_GETATTR: m = by_fh(&u->getattr.object, n); break;
	case NFS3_SETATTR: m = by_fh(&u->setattr.object, n); break;
	case NFS3_ACCESS: m = by_fh(&u->access.object, n); break;
	case NFS3_READLINK: m = by_fh(&u->readlink.symlink, n); break;
	case NFS3_READ: m = by_fh(&u->read.file, n); break;
	case NFS3_WRITE: m = by_fh(&u->write.file, n); break;
	case NFS3_COMMIT: m = by_fh(&u->commit.file, n); break;
	case NFS3_READDIR: m = by_fh(&u->readdir.dir, n); break;
	case NFS3_READDIRPLUS: m = by_fh(&u->readdirplus.dir, n); break;
	case NFS3_FSSTAT: m = by_fh(&u->fsstat.fsroot, n); break;
	case NFS3_FSINFO: m = by_fh(&u->fsinfo.fsroot, n); break;
	case NFS3_PATHCONF: m = by_fh(&u->pathconf.object, n); break;
	case NFS3_LOOKUP: m = by_name(&u->lookup.what, n); break;
	case NFS3_CREATE: m = by_name(&u->create.where, n); break;
	case NFS3_MKDIR: m = by_name(&u->mkdir.where, n); break;
	case NFS3_SYMLINK: m = by_name(&u->symlink.where, n); break;
	case NFS3_MKNOD: m = by_name(&u->mknod.where, n); break;
	case NFS3_REMOVE: m = by_name(&u->remove.object, n); break;
	case NFS3_RMDIR: m = by_name(&u->rmdir.object, n); break;
	case NFS3_RENAME: m = by_name(&u->rename.from, n); break;
	case NFS3_LINK: m = by_name(&u->link.link, n); break;
	default: m = -EINVAL; break;
	}
	free(a);
	return m;
}
