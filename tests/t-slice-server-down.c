/*
 * t-slice-server-down: a block server killed while a client streams reads
 * from the stripe.  The reader gets -EIO within the call timeout (plus
 * the link's own notice), not a hang and not wrong data; reads of blocks
 * on the living servers still work; after the server restarts, everything
 * reads again.
 */
#include <stdlib.h>

#include "slice_testlib.h"

#define SZ (16u << 20)
#define SU (64u * 1024)

int main(int argc, char **argv)
{
	struct st_env e;
	struct slice_file *f;
	struct slice_client_config cc;

	tl_init(argc, argv, 90);
	slice_client_config_default(&cc);
	cc.timeout_ms = 1000;
	uint8_t *a = malloc(SZ), *b = malloc(SZ);
	st_setup(&e, TL_TCP, 4, &cc);
	tl_fill(a, SZ, 3, 0);
	struct slice_block_map m = st_map(&e, 4242, SU);
	CHECK_RC(slice_open(e.c, &m, &f), 0);
	CHECK(slice_write(f, a, SZ, 0) == SZ, "write");
	CHECK_RC(slice_fsync(f), 0);

	int err = 0, rounds = 0;
	double t_kill = 0;
	while (!err && rounds < 1000) {
		if (rounds == 3) {
			st_kill(&e, 2, SIGKILL);
			t_kill = tl_now_ms();
		}
		ssize_t n = slice_read(f, b, SZ, 0);
		if (n < 0)
			err = (int)n;
		else
			CHECK(tl_verify(b, SZ, 3, 0) < 0, "wrong data in round %d", rounds);
		rounds++;
	}
	CHECK(err == -EIO, "reads after the kill ended with %d (%s), want -EIO", err, tpz_strerror(err));
	printf("t-slice-server-down: -EIO %.0f ms after the kill\n", tl_now_ms() - t_kill);

	/* A block of a living server still reads. */
	uint32_t dead = e.srv[2].node;
	uint64_t blk = 0;
	while (slice_block_server(&m, blk) == dead)
		blk++;
	CHECK(slice_read(f, b, SU, blk * SU) == SU, "a living server's block");
	CHECK(tl_verify(b, SU, 3, blk * SU) < 0, "a living server's block is wrong");

	/* After a restart the whole object reads again (it was committed). */
	st_start(&e, 2, NULL);
	CHECK(slice_read(f, b, SZ, 0) == SZ, "read after restart");
	CHECK(tl_verify(b, SZ, 3, 0) < 0, "wrong data after restart");
	CHECK_RC(slice_close(f), 0);
	st_teardown(&e);
	free(a);
	free(b);
	return 0;
}
