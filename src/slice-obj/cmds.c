/*
 * cmds.c - slice-obj's commands other than bench.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "obj.h"

#define CHUNK (1u << 20)

/* The error, and for -EIO the servers of the stripe that are down: the
 * library says only that one was lost. */
static int fail(struct obj_ctx *x, const char *what, int rc)
{
	char down[512] = "";
	size_t n = 0;

	for (uint32_t i = 0; rc == -EIO && i < x->nservers && n < sizeof(down) - 1; i++) {
		uint32_t node = x->map.layout.servers[i];
		if (!tpz_peer_is_up(x->ep, node))
			n += (size_t)snprintf(down + n, sizeof(down) - n, "%sblock server %u at %s", n ? ", " : "",
					      node, x->urls[i]);
	}
	fprintf(stderr, "slice-obj: %s: %s%s%s%s\n", what, strerror(-rc), n ? " (" : "", down,
		n ? " down or unreachable)" : "");
	return 1;
}

int obj_put(struct obj_ctx *x, uint64_t obj, const char *path)
{
	struct slice_file *f;
	int fd = strcmp(path, "-") ? open(path, O_RDONLY) : 0, rc;
	uint64_t off = 0;

	if (fd < 0)
		return fail(x, path, -errno);
	char *buf = malloc(CHUNK);
	x->map.obj = obj;
	if (!buf || (rc = slice_open(x->c, &x->map, &f)) < 0)
		return fail(x, "open", buf ? rc : -ENOMEM);
	for (;;) {
		ssize_t n = read(fd, buf, CHUNK);
		if (n < 0) {
			rc = -errno;
			break;
		}
		if (n == 0) {
			rc = 0;
			break;
		}
		ssize_t w = slice_write(f, buf, (size_t)n, off);
		if (w < 0) {
			rc = (int)w;
			break;
		}
		off += (uint64_t)n;
	}
	int rc2 = slice_close(f);
	if (rc == 0)
		rc = rc2;
	/* The object's size is where the data ends: cut anything longer. */
	if (rc == 0)
		rc = slice_truncate(x->c, &x->map, off);
	free(buf);
	if (fd)
		close(fd);
	if (rc < 0)
		return fail(x, "put", rc);
	if (x->verbose)
		fprintf(stderr, "slice-obj: put %" PRIu64 " bytes as object %" PRIu64 "\n", off, obj);
	return 0;
}

int obj_get(struct obj_ctx *x, uint64_t obj, const char *path, int64_t size)
{
	struct slice_file *f;
	uint64_t total;
	int rc;

	x->map.obj = obj;
	if (size < 0) {
		if ((rc = slice_stat(x->c, &x->map, &total, NULL)) < 0)
			return fail(x, "stat", rc);
	} else {
		total = (uint64_t)size;
	}
	int fd = strcmp(path, "-") ? open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644) : 1;
	if (fd < 0)
		return fail(x, path, -errno);
	char *buf = aligned_alloc(4096, CHUNK);
	if (!buf || (rc = slice_open(x->c, &x->map, &f)) < 0)
		return fail(x, "open", buf ? rc : -ENOMEM);
	for (uint64_t off = 0; off < total && rc == 0;) {
		size_t k = total - off < CHUNK ? (size_t)(total - off) : CHUNK;
		ssize_t n = slice_read(f, buf, k, off);
		if (n < 0) {
			rc = (int)n;
			break;
		}
		for (size_t done = 0; done < k;) {
			ssize_t w = write(fd, buf + done, k - done);
			if (w < 0) {
				rc = -errno;
				break;
			}
			done += (size_t)w;
		}
		off += k;
	}
	slice_close(f);
	free(buf);
	if (fd != 1 && close(fd) < 0 && rc == 0)
		rc = -errno;
	return rc < 0 ? fail(x, "get", rc) : 0;
}

int obj_stat(struct obj_ctx *x, uint64_t obj)
{
	uint64_t size, alloc;
	x->map.obj = obj;
	int rc = slice_stat(x->c, &x->map, &size, &alloc);
	if (rc < 0)
		return fail(x, "stat", rc);
	printf("object %" PRIu64 ": size %" PRIu64 " allocated %" PRIu64 "\n", obj, size, alloc);
	return 0;
}

int obj_rm(struct obj_ctx *x, uint64_t obj)
{
	x->map.obj = obj;
	int rc = slice_remove(x->c, &x->map);
	return rc < 0 ? fail(x, "rm", rc) : 0;
}

int obj_truncate(struct obj_ctx *x, uint64_t obj, uint64_t size)
{
	x->map.obj = obj;
	int rc = slice_truncate(x->c, &x->map, size);
	return rc < 0 ? fail(x, "truncate", rc) : 0;
}

int obj_statfs(struct obj_ctx *x)
{
	int bad = 0;
	printf("%-6s %14s %14s %10s %12s %12s\n", "node", "total", "free", "objects", "cache", "cache_used");
	for (uint32_t i = 0; i < x->nservers; i++) {
		struct slb_statfs_res s;
		uint32_t node = x->map.layout.servers[i];
		int rc = slice_statfs(x->c, node, &s);
		if (rc < 0) {
			printf("%-6u %s\n", node, strerror(-rc));
			bad = 1;
			continue;
		}
		printf("%-6u %14" PRIu64 " %14" PRIu64 " %10" PRIu64 " %12" PRIu64 " %12" PRIu64 "\n", node,
		       s.total_bytes, s.free_bytes, s.objects, s.cache_bytes, s.cache_used);
	}
	return bad;
}
