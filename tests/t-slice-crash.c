/*
 * t-slice-crash: what a block server's kill -9 may and may not lose.
 *  - committed data (slice_fsync returned 0) survives kill -9 + restart;
 *  - acknowledged but uncommitted (unstable) data may be lost, but then
 *    the client is told: slice_fsync after the restart fails with -EIO
 *    (the server's verifier changed), it never reports success;
 *  - writes in flight when the server dies fail with an error.
 * Over shm and tcp.
 */
#include <stdlib.h>

#include "slice_testlib.h"

#define SZ (24u << 20)

static void run(enum tl_link link)
{
	struct st_env e;
	struct slice_file *f;
	uint8_t *a = malloc(SZ), *b = malloc(SZ);

	st_setup(&e, link, 3, NULL);
	tl_fill(a, SZ, 1, 0);
	struct slice_block_map m = st_map(&e, 77, 256 * 1024);

	/* Committed, then every server killed and restarted: intact. */
	CHECK_RC(slice_open(e.c, &m, &f), 0);
	CHECK(slice_write(f, a, SZ, 0) == SZ, "write");
	CHECK_RC(slice_close(f), 0);
	for (uint32_t i = 0; i < e.nsrv; i++) {
		st_kill(&e, i, SIGKILL);
		st_start(&e, i, NULL);
	}
	CHECK_RC(slice_open(e.c, &m, &f), 0);
	CHECK(slice_read(f, b, SZ, 0) == SZ, "read after restart");
	long bad = tl_verify(b, SZ, 1, 0);
	CHECK(bad < 0, "%s: committed byte %ld lost across kill -9", tl_link_name(link), bad);
	CHECK_RC(slice_close(f), 0);

	/* Acknowledged (unstable), not committed; server 0 restarts: the
	 * commit must not claim success. */
	tl_fill(a, SZ, 2, 0);
	CHECK_RC(slice_open(e.c, &m, &f), 0);
	CHECK(slice_write(f, a, SZ, 0) == SZ, "write 2");
	CHECK_RC(slice_flush(f), 0);   /* every write acknowledged */
	st_kill(&e, 0, SIGKILL);
	st_start(&e, 0, NULL);
	int rc = slice_fsync(f);
	CHECK(rc == -EIO, "%s: fsync after a server lost unstable writes: %d (%s), want -EIO",
	      tl_link_name(link), rc, tpz_strerror(rc));
	slice_close(f);

	/* Writes in flight to a server that dies: an error, not success. */
	CHECK_RC(slice_open(e.c, &m, &f), 0);
	int err = 0;
	for (uint64_t off = 0; off < 64ull * SZ && !err; off += SZ) {
		if (off == 2ull * SZ)
			st_kill(&e, 1, SIGKILL);
		ssize_t n = slice_write(f, a, SZ, off);
		if (n < 0)
			err = (int)n;
	}
	if (!err)
		err = slice_fsync(f);
	CHECK(err == -EIO, "%s: writes to a dead server ended with %d (%s), want -EIO", tl_link_name(link),
	      err, tpz_strerror(err));
	slice_close(f);
	st_teardown(&e);
	free(a);
	free(b);
	printf("t-slice-crash: %s ok\n", tl_link_name(link));
}

int main(int argc, char **argv)
{
	tl_init(argc, argv, 120);
	run(TL_SHM);
	run(TL_TCP);
	return 0;
}
