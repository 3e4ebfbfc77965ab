/*
 * map.c - block maps in the store, in the wire form of slice_map_wire.h
 * (so SLM_GETMAP sends the stored bytes as they are).
 *
 * A new regular file gets the configured layout (the --blockd servers in
 * order, the stripe unit) and its file id as object id.  Truncation to
 * zero does not touch the block servers: the file gets a fresh object id
 * (from the file id counter, so it never collides) and the old object
 * goes on the removal queue in the same transaction; the map's version
 * changes so that clients holding the old map notice.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "data.h"

void map_default(const struct fmd *f, uint64_t obj, struct slice_block_map *m)
{
	memset(m, 0, sizeof(*m));
	m->obj = obj;
	m->version = 1;
	m->layout.stripe_unit = f->cfg.stripe_unit;
	m->layout.width = f->cfg.nblockd;
	for (uint32_t i = 0; i < f->cfg.nblockd && i < SLICE_STRIPE_MAX; i++)
		m->layout.servers[i] = f->cfg.blockd[i].node;
}

size_t map_encode(const struct slice_block_map *m, uint8_t *buf, size_t cap)
{
	size_t len = slm_map_len(m->layout.width, m->nexc);
	if (len > cap)
		return 0;
	struct slm_map h = {
		.obj = m->obj,
		.version = m->version,
		.stripe_unit = m->layout.stripe_unit,
		.width = m->layout.width,
		.nexc = m->nexc,
	};
	memcpy(buf, &h, sizeof(h));
	size_t off = sizeof(h);
	memcpy(buf + off, m->layout.servers, 4 * (size_t)m->layout.width);
	off += 4 * (size_t)m->layout.width;
	for (uint32_t i = 0; i < m->nexc; i++) {
		struct slm_exc e = { .block = m->exc[i].block, .node = m->exc[i].node };
		memcpy(buf + off, &e, sizeof(e));
		off += sizeof(e);
	}
	return len;
}

int map_decode(const void *buf, size_t len, struct slice_block_map *m)
{
	struct slm_map h;
	memset(m, 0, sizeof(*m));
	if (len < sizeof(h))
		return -EBADMSG;
	memcpy(&h, buf, sizeof(h));
	if (h.width > SLICE_STRIPE_MAX || h.nexc > SLM_MAP_MAX_EXC || len != slm_map_len(h.width, h.nexc))
		return -EBADMSG;
	m->obj = h.obj;
	m->version = h.version;
	m->layout.stripe_unit = h.stripe_unit;
	m->layout.width = h.width;
	const uint8_t *p = (const uint8_t *)buf + sizeof(h);
	memcpy(m->layout.servers, p, 4 * (size_t)h.width);
	p += 4 * (size_t)h.width;
	if (h.nexc) {
		m->exc = calloc(h.nexc, sizeof(*m->exc));
		if (!m->exc)
			return -ENOMEM;
		for (uint32_t i = 0; i < h.nexc; i++, p += sizeof(struct slm_exc)) {
			struct slm_exc e;
			memcpy(&e, p, sizeof(e));
			m->exc[i].block = e.block;
			m->exc[i].node = e.node;
		}
		m->nexc = h.nexc;
	}
	return 0;
}

void map_free(struct slice_block_map *m)
{
	free(m->exc);
	m->exc = NULL;
	m->nexc = 0;
}

int map_load(struct fmd *f, MDB_txn *t, uint64_t fileid, struct slice_block_map *m)
{
	const void *v;
	size_t len;
	int rc = map_get_raw(f->st, t, fileid, &v, &len);
	if (rc)
		return rc;
	return map_decode(v, len, m);
}

static int map_store(struct fmd *f, MDB_txn *t, uint64_t fileid, const struct slice_block_map *m)
{
	size_t len = slm_map_len(m->layout.width, m->nexc);
	uint8_t small[512];
	uint8_t *buf = len <= sizeof(small) ? small : malloc(len);
	if (!buf)
		return -ENOMEM;
	map_encode(m, buf, len);
	int rc = map_put_raw(f->st, t, fileid, buf, len);
	if (buf != small)
		free(buf);
	return rc;
}

int map_create(struct fmd *f, MDB_txn *t, const struct inode *ino)
{
	struct slice_block_map m;
	map_default(f, ino->fileid, &m);
	return map_store(f, t, ino->fileid, &m);
}

/* Put the object of the stored map on the removal queue. */
static int queue_object(struct fmd *f, MDB_txn *t, uint64_t fileid)
{
	const void *v;
	size_t len;
	int rc = map_get_raw(f->st, t, fileid, &v, &len);
	if (rc == -ENOENT)
		return 0;
	if (rc)
		return rc;
	struct slm_map h;
	if (len < sizeof(h))
		return -EIO;
	memcpy(&h, v, sizeof(h));
	/* the value points into the map: copy before the next write */
	uint8_t *copy = malloc(len);
	if (!copy)
		return -ENOMEM;
	memcpy(copy, v, len);
	rc = rmq_add(f->st, t, h.obj, copy, len);
	free(copy);
	if (rc == 0)
		atomic_store(&f->rmq_dirty, true);
	return rc;
}

int map_renew(struct fmd *f, MDB_txn *t, struct inode *ino)
{
	struct slice_block_map m;
	int rc;
	if ((rc = queue_object(f, t, ino->fileid)))
		return rc;
	rc = map_load(f, t, ino->fileid, &m);
	if (rc == -ENOENT)
		map_default(f, ino->fileid, &m);
	else if (rc)
		return rc;
	uint64_t obj = store_new_fileid(f->st, t, &rc);
	if (rc) {
		map_free(&m);
		return rc;
	}
	m.obj = obj;
	m.version++;
	map_free(&m);   /* a fresh object has no exceptions */
	return map_store(f, t, ino->fileid, &m);
}

int map_retire(struct fmd *f, MDB_txn *t, const struct inode *ino)
{
	int rc;
	if ((ino->flags & INO_HAS_DATA) && (rc = queue_object(f, t, ino->fileid)))
		return rc;
	return map_del(f->st, t, ino->fileid);
}

int data_truncate_file(struct fmd *f, MDB_txn *t, const struct inode *ino, uint64_t size)
{
	struct slice_block_map m;
	int rc = map_load(f, t, ino->fileid, &m);
	if (rc)
		return rc;
	rc = data_truncate(f->data, &m, size);
	map_free(&m);
	if (rc)
		return data_unavailable(f->data) ? NFS3ERR_SERVERFAULT : NFS3ERR_IO;
	return 0;
}
