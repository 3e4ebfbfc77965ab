/*
 * slice.h - libslice: the client side of Slice (the µproxy's logic as a
 * library).  This part is the data path: striping, block maps and their
 * cache, parallel reads with read-ahead, write-behind with commit, over
 * NetRPC calls to the block servers (slice_wire.h).
 *
 * A file's data is one object (64-bit id) spread over block servers: block
 * b (of stripe_unit bytes) of object o lives on
 *     servers[(b + slice_obj_hash(o)) % width]
 * unless the file's block map names another server for that block.  Each
 * server stores its blocks at their file offsets (a sparse object), so a
 * server's copy of an object is the file with the other servers' blocks as
 * holes.
 *
 * Threads: a slice_client may be shared by threads; a slice_file is used by
 * one thread at a time (the caller serialises calls on one file).
 * Errors: 0 or -errno.  A block server that does not answer within the
 * client's timeout and retries turns into -EIO, never a hang.
 */
#ifndef SLICE_H
#define SLICE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "netrpc.h"
#include "slice_wire.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- layouts and block maps ------------------------------------------------ */

#define SLICE_STRIPE_MAX        64          /* servers in one stripe */
#define SLICE_STRIPE_UNIT_MIN   4096u
#define SLICE_STRIPE_UNIT_MAX   SLB_IO_MAX
#define SLICE_STRIPE_UNIT_DEF   (256u << 10)

struct slice_layout {
	uint32_t stripe_unit;                 /* bytes; power of two, MIN..MAX */
	uint32_t width;                       /* servers in the stripe, 1..SLICE_STRIPE_MAX */
	uint32_t servers[SLICE_STRIPE_MAX];   /* Trapeze node ids, in stripe order */
};

/* A block placed somewhere other than where the layout puts it. */
struct slice_block_exc {
	uint64_t block;
	uint32_t node;
};

struct slice_block_map {
	uint64_t                obj;
	struct slice_layout     layout;
	uint32_t                nexc;          /* exceptions, sorted by block */
	struct slice_block_exc *exc;           /* owned by the map */
	uint64_t                version;       /* bumped by the map's owner on change */
};

int      slice_layout_check(const struct slice_layout *l);   /* 0 or -EINVAL */
uint64_t slice_obj_hash(uint64_t obj);
/* The server that holds block `block` (exceptions first, then the layout). */
uint32_t slice_block_server(const struct slice_block_map *m, uint64_t block);
/* Copy `src` into `dst` (deep: its own exception array). */
int      slice_map_copy(struct slice_block_map *dst, const struct slice_block_map *src);
void     slice_map_clear(struct slice_block_map *m);

/*
 * The block-map cache: maps by object id, fetched through `fetch` on a
 * miss (from the file manager's map service, or any source the front
 * gives), dropped by slice_map_invalidate when the owner says a map
 * changed.  Bounded: the least recently used map goes when it is full.
 */
typedef int (*slice_map_fetch_fn)(void *arg, uint64_t obj, struct slice_block_map *out);
struct slice_map_cache;
int  slice_map_cache_create(uint32_t capacity, slice_map_fetch_fn fetch, void *arg,
			    struct slice_map_cache **out);
void slice_map_cache_destroy(struct slice_map_cache *c);
/* A copy of the map (the caller clears it with slice_map_clear). */
int  slice_map_cache_get(struct slice_map_cache *c, uint64_t obj, struct slice_block_map *out);
int  slice_map_cache_put(struct slice_map_cache *c, const struct slice_block_map *m);
void slice_map_cache_invalidate(struct slice_map_cache *c, uint64_t obj);

/* ---- the data path ------------------------------------------------------- */

struct slice_client_config {
	uint32_t readahead;       /* stripe units read ahead of a sequential reader; default 8 */
	uint64_t dirty_max;       /* write-behind bytes in flight per file; default 32 MiB */
	int      timeout_ms;      /* per block call; default 3000 */
	uint32_t retries;         /* tries of a call to a server that is not connected; default 1 */
	/* Called when a server is not connected (first use, or it restarted):
	 * connect the endpoint to it and return 0, or -errno.  NULL: the
	 * front connected every server beforehand. */
	int    (*connect)(void *arg, uint32_t node);
	void    *connect_arg;
};
void slice_client_config_default(struct slice_client_config *cfg);

struct slice_client;
/* The client issues its calls on r (and drives its delivery when it waits). */
int  slice_client_create(struct nrpc *r, const struct slice_client_config *cfg,
			 struct slice_client **out);
void slice_client_destroy(struct slice_client *c);

struct slice_file;
/* Open object map->obj for I/O; the map is copied. */
int  slice_open(struct slice_client *c, const struct slice_block_map *map, struct slice_file **out);
/* Read len bytes at off into buf: every block server's part lands in buf
 * directly, all of them in parallel.  Holes read as zeros; the caller
 * bounds reads by the file size it knows.  Returns len or -errno. */
ssize_t slice_read(struct slice_file *f, void *buf, size_t len, uint64_t off);
/*
 * Reads in flight.  slice_read_start sends the calls of one read (as
 * slice_read does, all pieces at once) and returns without waiting; the
 * bytes land in buf while the caller goes on - typically to start more
 * reads: a streaming reader that keeps several in flight needs no
 * read-ahead, and every byte is copied once, from the server's memory
 * into buf.  slice_read_end waits for a read and returns len or -errno
 * (and frees the handle); slice_read_done says without blocking whether
 * it could (it drives delivery once).  Reads may end in any order.  Every
 * started read must be ended before slice_close (-EBUSY otherwise).
 * A started read sees the file's earlier writes; bytes written while it
 * is in flight may or may not show.  Read-ahead buffers are neither used
 * nor filled.  The calls hold no NetRPC call records while in flight
 * (they complete by continuation), so many may be outstanding.
 */
struct slice_aio;
int     slice_read_start(struct slice_file *f, void *buf, size_t len, uint64_t off,
			 struct slice_aio **out);
bool    slice_read_done(struct slice_aio *io);
ssize_t slice_read_end(struct slice_aio *io);
/* Write-behind: returns once the bytes are on their way (copied into
 * frames); at most dirty_max bytes are in flight.  Any offset and length.
 * An error of an earlier write-behind call is returned by the next write,
 * slice_flush or slice_fsync (then cleared), as close(2) would. */
ssize_t slice_write(struct slice_file *f, const void *buf, size_t len, uint64_t off);
/* Wait until every write has been acknowledged. */
int  slice_flush(struct slice_file *f);
/* Flush, then commit on every server written to since the last commit.
 * -EIO if a server restarted and lost unstable data (its verifier changed). */
int  slice_fsync(struct slice_file *f);
/* Replace the file's map (the owner changed it); waits for writes first. */
int  slice_set_map(struct slice_file *f, const struct slice_block_map *map);
/* slice_fsync, then free.  Returns slice_fsync's result (-EBUSY, and
 * nothing done, while reads started with slice_read_start are not ended). */
int  slice_close(struct slice_file *f);
/* slice_flush, then free, without a commit: the writes are acknowledged
 * (in the servers' page cache), not stable.  close(2) without fsync(2). */
int  slice_release(struct slice_file *f);

/* Object-wide operations, on every server of the map. */
int  slice_truncate(struct slice_client *c, const struct slice_block_map *map, uint64_t size);
int  slice_remove(struct slice_client *c, const struct slice_block_map *map);
/* The object's size as the block servers know it (largest of theirs) and the
 * bytes they hold. */
int  slice_stat(struct slice_client *c, const struct slice_block_map *map, uint64_t *size,
		uint64_t *allocated);
/* One block server's file system and cache. */
int  slice_statfs(struct slice_client *c, uint32_t node, struct slb_statfs_res *out);

struct slice_counters {
	uint64_t reads, read_bytes, readahead_hits, readahead_issued;
	uint64_t writes, write_bytes, commits, rewrites_needed;
	uint64_t errors;
};
void slice_client_counters(struct slice_client *c, struct slice_counters *out);

#ifdef __cplusplus
}
#endif
#endif
