/*
 * data.c - the data path: file bytes to and from the block servers.
 *
 * TODO(libslice): libslice (lib/slice, the lead's data path) is not in
 * this tree yet.  Until it is, every operation here fails with
 * -EOPNOTSUPP, which READ/WRITE/COMMIT answer as NFS3ERR_SERVERFAULT, and
 * the removal queue keeps its entries (durably) until a later start can
 * remove them.  Wiring it up is: a slice_client over the fmd's NetRPC
 * instance (fabric.c) in data_open, then slice_open/slice_read/
 * slice_write/slice_fsync/slice_close per call, slice_truncate and
 * slice_remove for the object-wide operations.
 */
#include <errno.h>
#include <stdlib.h>

#include "data.h"

struct fmd_data {
	struct fmd *f;
	const char *why;
};

int data_open(struct fmd *f, struct fmd_data **out)
{
	struct fmd_data *d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->f = f;
	if (f->cfg.nblockd == 0)
		d->why = "no block servers configured (--blockd)";
	else
		d->why = "this build has no Slice data path (libslice) yet";
	*out = d;
	return 0;
}

void data_close(struct fmd_data *d)
{
	free(d);
}

const char *data_unavailable(struct fmd_data *d)
{
	return d ? d->why : "no data path";
}

ssize_t data_read(struct fmd_data *d, const struct slice_block_map *m, void *buf, size_t len,
		  uint64_t off)
{
	return -EOPNOTSUPP;
}

ssize_t data_write(struct fmd_data *d, const struct slice_block_map *m, const void *buf, size_t len,
		   uint64_t off, bool stable)
{
	return -EOPNOTSUPP;
}

int data_commit(struct fmd_data *d, const struct slice_block_map *m)
{
	return -EOPNOTSUPP;
}

int data_truncate(struct fmd_data *d, const struct slice_block_map *m, uint64_t size)
{
	return -EOPNOTSUPP;
}

int data_remove(struct fmd_data *d, const struct slice_block_map *m)
{
	return -EOPNOTSUPP;
}
