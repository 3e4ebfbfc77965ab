/*
 * objops.c - operations on a whole object: every server of its map gets
 * the call, all in parallel.
 */
#include <errno.h>
#include <string.h>

#include "slice_internal.h"

/* Send one call to every server of the map; results[i] gets server i's
 * reply (res may be NULL).  Returns the first error, except that -ENOENT
 * from a server that never held a byte is left to the caller via errs. */
static int all_servers(struct slice_client *c, const struct slice_block_map *map, uint16_t op,
		       const void *args, uint32_t args_len, struct nrpc_result *res, int *errs,
		       uint32_t *nout)
{
	uint32_t nodes[SLICE_STRIPE_MAX * 2];
	nrpc_call_t calls[SLICE_STRIPE_MAX * 2];
	uint32_t n = sl_map_nodes(map, nodes, SLICE_STRIPE_MAX * 2);
	int rc = 0;

	for (uint32_t i = 0; i < n; i++) {
		struct nrpc_call_desc d = { .dst = nodes[i], .op = op, .args = args, .args_len = args_len };
		errs[i] = sl_issue(c, &d, &calls[i]);
	}
	for (uint32_t i = 0; i < n; i++) {
		struct nrpc_result r;
		if (errs[i] == 0)
			errs[i] = sl_collect(c, calls[i], &r);
		if (errs[i] == 0 && res)
			res[i] = r;
		if (errs[i] == 0 && r.payload.nseg && !r.placed)
			tpz_payload_free(c->ep, &r.payload);
		if (rc == 0 && errs[i] < 0 && errs[i] != -ENOENT)
			rc = errs[i];
	}
	*nout = n;
	return rc;
}

int slice_truncate(struct slice_client *c, const struct slice_block_map *map, uint64_t size)
{
	int errs[SLICE_STRIPE_MAX * 2];
	uint32_t n;

	if (!c || !map || slice_layout_check(&map->layout) < 0)
		return -EINVAL;
	struct slb_trunc a = { .obj = map->obj, .size = size };
	return all_servers(c, map, SLB_TRUNCATE, &a, sizeof(a), NULL, errs, &n);
}

int slice_remove(struct slice_client *c, const struct slice_block_map *map)
{
	int errs[SLICE_STRIPE_MAX * 2];
	uint32_t n;

	if (!c || !map || slice_layout_check(&map->layout) < 0)
		return -EINVAL;
	struct slb_obj a = { map->obj };
	return all_servers(c, map, SLB_REMOVE, &a, sizeof(a), NULL, errs, &n);
}

int slice_stat(struct slice_client *c, const struct slice_block_map *map, uint64_t *size,
	       uint64_t *allocated)
{
	struct nrpc_result res[SLICE_STRIPE_MAX * 2];
	int errs[SLICE_STRIPE_MAX * 2];
	uint32_t n;
	uint64_t sz = 0, al = 0;

	if (!c || !map || slice_layout_check(&map->layout) < 0)
		return -EINVAL;
	struct slb_obj a = { map->obj };
	int rc = all_servers(c, map, SLB_STAT, &a, sizeof(a), res, errs, &n);
	if (rc < 0)
		return rc;
	for (uint32_t i = 0; i < n; i++) {
		struct slb_stat_res st;
		if (errs[i] < 0 || res[i].res_len < sizeof(st))
			continue;   /* -ENOENT: that server holds nothing of it */
		memcpy(&st, res[i].res, sizeof(st));
		sz = st.size > sz ? st.size : sz;
		al += st.allocated;
	}
	if (size)
		*size = sz;
	if (allocated)
		*allocated = al;
	return 0;
}

int slice_statfs(struct slice_client *c, uint32_t node, struct slb_statfs_res *out)
{
	nrpc_call_t call;
	struct nrpc_result res;

	if (!c || !out || node >= TPZ_MAX_NODES)
		return -EINVAL;
	struct nrpc_call_desc d = { .dst = node, .op = SLB_STATFS };
	int rc = sl_issue(c, &d, &call);
	if (rc == 0)
		rc = sl_collect(c, call, &res);
	if (rc < 0)
		return rc;
	if (res.res_len < sizeof(*out))
		return -EIO;
	memcpy(out, res.res, sizeof(*out));
	return 0;
}
