/*
 * store.h - the block server's backing: objects named by 64-bit ids, each a
 * sparse byte array with a CRC32C per STORE_BLOCK bytes that is checked on
 * every read.  One small interface, one implementation today (files in a
 * data directory, store_file.c); another backing (a raw device, an object
 * log) would sit behind the same calls.
 *
 * Semantics every backing keeps:
 *   - holes and bytes past the end read as zeros and are never "corrupt";
 *   - a read never returns bytes that fail their checksum: such a block
 *     makes the read return -EIO (and is logged and counted);
 *   - write() puts bytes in the backing's volatile state (the page cache);
 *     sync() makes every earlier write of the object durable; truncate()
 *     and remove() are durable when they return;
 *   - the object's size is the highest byte written + 1, or the size set by
 *     truncate.
 *
 * Threads: calls may come from any thread, but the caller serialises the
 * calls on one object: write, truncate and remove exclude every other call
 * on that object; read, sync and stat may run side by side.  (slice-blockd
 * holds a striped reader/writer lock around each call.)  peek_size and
 * a STORE_NOWAIT read never block.
 *
 * Errors: 0 or -errno.
 */
#ifndef BLOCKD_STORE_H
#define BLOCKD_STORE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#define STORE_BLOCK       4096u          /* checksum granule, bytes */
#define STORE_READ_BLOCKS 64u            /* blocks in one read() with a bad-block mask */
#define STORE_MAX_SIZE    (1ull << 62)   /* object sizes and offsets stay below this */

#define STORE_NOWAIT      0x1u           /* read(): never wait (see below) */

struct store;

struct store_stat {
	uint64_t size;        /* bytes */
	uint64_t allocated;   /* bytes of storage held (data and checksums) */
	uint64_t mtime_ns;
};

struct store_fs {
	uint64_t total_bytes, free_bytes;   /* of the file system under the store */
	uint64_t objects;
};

struct store_counters {
	uint64_t crc_errors;       /* blocks that failed their checksum on read */
	uint64_t sync_errors;      /* fdatasync / fsync failures */
	uint64_t objects_open;     /* objects with open files (snapshot) */
};

/* What a backing needs from its user. */
struct store_params {
	uint32_t max_open;                        /* objects kept open at once */
	void   (*log)(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
	/* A sync failed: data acknowledged as unstable may be lost. */
	void   (*sync_failed)(void *arg);
	void    *arg;
};

struct store_ops {
	const char *name;
	/* off and len multiples of STORE_BLOCK, len <= STORE_READ_BLOCKS
	 * blocks.  Fills buf (holes, past the end: zeros); *size is the
	 * object's size (0 if it does not exist).  -EIO if some block failed
	 * its checksum: *bad has bit i set for block off/STORE_BLOCK + i, and
	 * buf holds the good blocks.  With STORE_NOWAIT it never waits for
	 * the disk (nor opens, nor closes a file): -EAGAIN if the object is
	 * not open or a byte is not in memory (the page cache) - for the
	 * delivery path, which then hands the read to a thread that may wait. */
	int  (*read)(struct store *s, uint64_t obj, uint64_t off, uint32_t len, void *buf,
		     unsigned flags, uint64_t *size, uint64_t *bad);
	/* The object's size (0 if it does not exist). */
	int  (*size)(struct store *s, uint64_t obj, uint64_t *size);
	/* Any offset and length (the sum of iov).  Creates the object.  -EIO
	 * when a block only partly overwritten fails its checksum (the write
	 * would mix new bytes with corrupt ones): nothing is written then. */
	int  (*write)(struct store *s, uint64_t obj, uint64_t off, const struct iovec *iov, int iovcnt,
		      uint64_t *size);
	/* Earlier writes of obj durable; *size its size (0 if it does not exist). */
	int  (*sync)(struct store *s, uint64_t obj, uint64_t *size);
	/* Set the size (creates the object); durable on return. */
	int  (*truncate)(struct store *s, uint64_t obj, uint64_t size);
	/* Durable on return; a missing object is 0. */
	int  (*remove)(struct store *s, uint64_t obj);
	/* -ENOENT if the object does not exist. */
	int  (*stat)(struct store *s, uint64_t obj, struct store_stat *st);
	/* The size of an object that is open right now; -EAGAIN otherwise.
	 * No I/O, no waiting: for the delivery path. */
	int  (*peek_size)(struct store *s, uint64_t obj, uint64_t *size);
	int  (*statfs)(struct store *s, struct store_fs *fs);
	void (*counters)(struct store *s, struct store_counters *c);
	/* Make everything durable and free the store. */
	int  (*close)(struct store *s);
};

struct store {
	const struct store_ops *ops;
};

/* The file backing (store_file.c): dir is the data directory. */
int store_file_open(const char *dir, const struct store_params *p, struct store **out);

static inline int store_read(struct store *s, uint64_t obj, uint64_t off, uint32_t len, void *buf,
			     unsigned flags, uint64_t *size, uint64_t *bad)
{
	return s->ops->read(s, obj, off, len, buf, flags, size, bad);
}
static inline int store_size(struct store *s, uint64_t obj, uint64_t *size)
{
	return s->ops->size(s, obj, size);
}
static inline int store_write(struct store *s, uint64_t obj, uint64_t off, const struct iovec *iov,
			      int iovcnt, uint64_t *size)
{
	return s->ops->write(s, obj, off, iov, iovcnt, size);
}
static inline int store_sync(struct store *s, uint64_t obj, uint64_t *size)
{
	return s->ops->sync(s, obj, size);
}
static inline int store_truncate(struct store *s, uint64_t obj, uint64_t size)
{
	return s->ops->truncate(s, obj, size);
}
static inline int store_remove(struct store *s, uint64_t obj)
{
	return s->ops->remove(s, obj);
}
static inline int store_stat(struct store *s, uint64_t obj, struct store_stat *st)
{
	return s->ops->stat(s, obj, st);
}
static inline int store_peek_size(struct store *s, uint64_t obj, uint64_t *size)
{
	return s->ops->peek_size(s, obj, size);
}
static inline int store_statfs(struct store *s, struct store_fs *fs)
{
	return s->ops->statfs(s, fs);
}
static inline void store_counters(struct store *s, struct store_counters *c)
{
	s->ops->counters(s, c);
}
static inline int store_close(struct store *s)
{
	return s->ops->close(s);
}

#endif
