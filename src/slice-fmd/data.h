/*
 * data.h - file data, behind one small interface.
 *
 * The file manager owns each regular file's block map (which object holds
 * the data, striped how over which block servers) and keeps it in the
 * store (map.c).  The bytes themselves live on the block servers and move
 * through the Slice data path (libslice, slice.h); data.c is the one place
 * that calls it, so the NFS procedures only ever see these functions.
 */
#ifndef FMD_DATA_H
#define FMD_DATA_H

#include <sys/types.h>

#include "fmd.h"
#include "slice.h"
#include "slice_map_wire.h"

/* ---- maps in the store (map.c) ------------------------------------------ */

/* The map of a new file: object obj, the configured layout. */
void map_default(const struct fmd *f, uint64_t obj, struct slice_block_map *m);
/* Wire/store form (slice_map_wire.h) <-> struct; map_decode allocates the
 * exceptions (free with map_free).  map_encode returns the length. */
size_t map_encode(const struct slice_block_map *m, uint8_t *buf, size_t cap);
int  map_decode(const void *buf, size_t len, struct slice_block_map *m);
void map_free(struct slice_block_map *m);

int  map_load(struct fmd *f, MDB_txn *t, uint64_t fileid, struct slice_block_map *m);
/* A new regular file's map (object id = file id). */
int  map_create(struct fmd *f, MDB_txn *t, const struct inode *ino);
/* Swap in a fresh object (truncation to zero); the old one is queued for
 * removal. */
int  map_renew(struct fmd *f, MDB_txn *t, struct inode *ino);
/* The file is gone: queue its object for removal (if it ever had data)
 * and drop the map. */
int  map_retire(struct fmd *f, MDB_txn *t, const struct inode *ino);

/* ---- the data path (data.c) ---------------------------------------------- */

struct fmd_data;
int  data_open(struct fmd *f, struct fmd_data **out);
void data_close(struct fmd_data *d);
/* Why data operations fail when they do ("no block servers configured"),
 * or NULL when the data path is up. */
const char *data_unavailable(struct fmd_data *d);

ssize_t data_read(struct fmd_data *d, const struct slice_block_map *m, void *buf, size_t len,
		  uint64_t off);
ssize_t data_write(struct fmd_data *d, const struct slice_block_map *m, const void *buf, size_t len,
		   uint64_t off, bool stable);
int  data_commit(struct fmd_data *d, const struct slice_block_map *m);
int  data_truncate(struct fmd_data *d, const struct slice_block_map *m, uint64_t size);
int  data_remove(struct fmd_data *d, const struct slice_block_map *m);

/* Truncate a file's object to size (its map from the store). */
int  data_truncate_file(struct fmd *f, MDB_txn *t, const struct inode *ino, uint64_t size);

/* ---- the durable removal queue's drain thread (removeq.c) ----------------- */

struct removeq;
int  removeq_start(struct fmd *f, struct removeq **out);
void removeq_stop(struct removeq *q);
/* Something was queued: look soon. */
void removeq_kick(struct removeq *q);

#endif
