/*
 * access.c - AUTH_SYS credentials against an inode's mode, owner and group
 * (the credential's gid and its supplementary gids), POSIX style: the
 * owner class if the uid owns the file, else the group class if any of
 * the groups matches, else other.  Root (after squashing) passes every
 * check except executing a file with no execute bit at all.
 *
 * The server checks every operation itself (a client's own checks are
 * advice); the exceptions knfsd also makes are in nfs_rw.c: the owner of
 * a file may read and write it whatever its mode (the client checked at
 * open time, and NFS has no open), and read is allowed to who may execute.
 */
#include "fmd.h"

bool access_in_group(const struct fmd_cred *c, uint32_t gid)
{
	if (c->gid == gid)
		return true;
	for (uint32_t i = 0; i < c->ngids; i++)
		if (c->gids[i] == gid)
			return true;
	return false;
}

/* The rwx bits of ino's mode that apply to c. */
static unsigned class_bits(const struct inode *ino, const struct fmd_cred *c)
{
	if (c->uid == ino->uid)
		return (ino->mode >> 6) & 7;
	if (access_in_group(c, ino->gid))
		return (ino->mode >> 3) & 7;
	return ino->mode & 7;
}

int access_check(const struct inode *ino, const struct fmd_cred *c, unsigned want)
{
	if (c->uid == 0) {
		if ((want & MAY_EXEC) && ino->type != NF3DIR && (ino->mode & 0111) == 0)
			return NFS3ERR_ACCES;
		return NFS3_OK;
	}
	return (class_bits(ino, c) & want) == want ? NFS3_OK : NFS3ERR_ACCES;
}

uint32_t access_mask(const struct inode *ino, const struct fmd_cred *c, uint32_t asked)
{
	uint32_t ok = 0;
	bool dir = ino->type == NF3DIR;

	if (access_check(ino, c, MAY_READ) == NFS3_OK)
		ok |= ACCESS3_READ;
	if (access_check(ino, c, MAY_WRITE) == NFS3_OK) {
		ok |= ACCESS3_MODIFY | ACCESS3_EXTEND;
		if (dir)
			ok |= ACCESS3_DELETE;
	}
	if (access_check(ino, c, MAY_EXEC) == NFS3_OK)
		ok |= dir ? ACCESS3_LOOKUP : ACCESS3_EXECUTE;
	return ok & asked;
}

bool access_sticky_ok(const struct inode *dir, const struct inode *victim, const struct fmd_cred *c)
{
	if (!(dir->mode & 01000) || c->uid == 0)
		return true;
	return c->uid == dir->uid || c->uid == victim->uid;
}
