/*
 * file.c - an open file of the data path: its block map, its writes in
 * flight and its read-ahead buffers.
 */
#include <errno.h>
#include <stdlib.h>

#include "slice_internal.h"

int slice_open(struct slice_client *c, const struct slice_block_map *map, struct slice_file **out)
{
	if (!c || !map || !out)
		return -EINVAL;
	if (map->layout.stripe_unit > tpz_max_payload(c->ep))
		return -EMSGSIZE;   /* one stripe unit must fit one call */
	struct slice_file *f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	int rc = slice_map_copy(&f->map, map);
	if (rc < 0) {
		free(f);
		return rc;
	}
	f->c = c;
	f->su_shift = (uint32_t)__builtin_ctz(map->layout.stripe_unit);
	*out = f;
	return 0;
}

int slice_set_map(struct slice_file *f, const struct slice_block_map *map)
{
	struct slice_block_map m;

	if (!f || !map || map->obj != f->map.obj)
		return -EINVAL;
	int rc = slice_flush(f);   /* writes in flight were routed by the old map */
	int r2 = slice_map_copy(&m, map);
	if (r2 < 0)
		return r2;
	sl_ra_drop(f);
	slice_map_clear(&f->map);
	f->map = m;
	f->su_shift = (uint32_t)__builtin_ctz(m.layout.stripe_unit);
	return rc;
}

static int file_free(struct slice_file *f, bool commit)
{
	if (!f)
		return -EINVAL;
	if (f->naio)
		return -EBUSY;   /* their replies would land in a freed file */
	int rc = commit ? slice_fsync(f) : slice_flush(f);
	sl_ra_drop(f);
	for (uint32_t i = 0; i < f->nra; i++)
		free(f->ra[i].buf);
	free(f->ra);
	free(f->dirty);
	slice_map_clear(&f->map);
	free(f);
	return rc;
}

int slice_close(struct slice_file *f)
{
	return file_free(f, true);
}

int slice_release(struct slice_file *f)
{
	return file_free(f, false);
}
