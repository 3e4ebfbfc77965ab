/*
 * attr.c - an inode as NFSv3 sees it (fattr3, wcc_attr), and the clock.
 *
 * The clock never gives the same nanosecond twice: NFS clients detect
 * change by ctime (and mtime, size), so two changes to a directory within
 * one tick of the system clock must still leave different ctimes.
 */
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include "fmd.h"

static _Atomic uint64_t last_ns;

uint64_t fmd_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	uint64_t now = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
	uint64_t prev = atomic_load_explicit(&last_ns, memory_order_relaxed);
	for (;;) {
		uint64_t next = now > prev ? now : prev + 1;
		if (atomic_compare_exchange_weak_explicit(&last_ns, &prev, next, memory_order_relaxed,
							  memory_order_relaxed))
			return next;
	}
}

static void nfstime(uint64_t ns, nfstime3 *t)
{
	t->seconds = (uint32_t)(ns / 1000000000ull);
	t->nseconds = (uint32_t)(ns % 1000000000ull);
}

/* Directories report a size that grows with their entries (clients take a
 * size change as a change, like mtime); the unit is about what an entry
 * costs in a listing. */
uint64_t attr_dir_size(const struct inode *dir)
{
	return 4096 + 32 * (dir->entries + dir->x_entries);
}

uint32_t attr_mode_type_bits(uint8_t type)
{
	switch (type) {
	case NF3DIR: return 0040000;
	case NF3LNK: return 0120000;
	case NF3BLK: return 0060000;
	case NF3CHR: return 0020000;
	case NF3SOCK: return 0140000;
	case NF3FIFO: return 0010000;
	default: return 0100000;
	}
}

static uint64_t size_of(const struct inode *ino)
{
	return ino->type == NF3DIR ? attr_dir_size(ino) : ino->size;
}

void attr_fattr(const struct inode *ino, uint64_t fsid, fattr3 *a)
{
	memset(a, 0, sizeof(*a));
	a->type = ino->type;
	a->mode = ino->mode & 07777;
	a->nlink = ino->nlink + ino->x_subdirs;   /* subdirectories on other managers */
	a->uid = ino->uid;
	a->gid = ino->gid;
	a->size = size_of(ino);
	a->used = (a->size + 4095) & ~4095ull;
	a->rdev.specdata1 = ino->rdev1;
	a->rdev.specdata2 = ino->rdev2;
	a->fsid = fsid;
	a->fileid = ino->fileid;
	nfstime(ino->atime, &a->atime);
	nfstime(ino->mtime > ino->x_mtime ? ino->mtime : ino->x_mtime, &a->mtime);
	nfstime(ino->ctime > ino->x_ctime ? ino->ctime : ino->x_ctime, &a->ctime);
}

void attr_post(const struct inode *ino, uint64_t fsid, post_op_attr *out)
{
	/* attributes fetched from another manager before a change here are
	 * not what they are after it: none (the client asks again) */
	if (!ino || ino->x_remote) {
		out->attributes_follow = 0;
		return;
	}
	out->attributes_follow = 1;
	attr_fattr(ino, fsid, &out->post_op_attr_u.attributes);
}

void attr_pre(const struct inode *ino, pre_op_attr *out)
{
	if (!ino || ino->x_remote) {
		out->attributes_follow = 0;
		return;
	}
	out->attributes_follow = 1;
	out->pre_op_attr_u.attributes.size = size_of(ino);
	nfstime(ino->mtime > ino->x_mtime ? ino->mtime : ino->x_mtime, &out->pre_op_attr_u.attributes.mtime);
	nfstime(ino->ctime > ino->x_ctime ? ino->ctime : ino->x_ctime, &out->pre_op_attr_u.attributes.ctime);
}

void attr_wcc(const struct inode *before, const struct inode *after, uint64_t fsid, wcc_data *out)
{
	attr_pre(before, &out->before);
	attr_post(after, fsid, &out->after);
}
