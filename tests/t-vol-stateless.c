/*
 * t-vol-stateless.c - the proxy's side of slice_vol: pread / pwrite /
 * commit by handle without opens (2 managers, 3 block servers).  A pwrite
 * that grows a file is known to the manager when it returns (another
 * client's GETATTR sees the size at once); pread says eof; commit keeps
 * the write verifier; more files than the volume keeps open are closed
 * least recently used first with their data committed (another client
 * reads every byte); a forged handle is -ESTALE; data lost with a block
 * server that died before COMMIT changes the verifier.
 */
#include <sys/stat.h>

#include "cluster_testlib.h"
#include "vol_testlib.h"

#define NF 80   /* more than the volume keeps open */

static uint8_t buf[128 << 10], rbuf[128 << 10];

int main(int argc, char **argv)
{
	tl_init(argc, argv, 60);
	struct ct_cluster *c = ct_start(3, 2, NULL);
	struct slice_vol *v = vt_open(c, 2000), *w = vt_open(c, 2000);
	struct slice_cred me = vt_cred(1000, 1000);
	struct slice_vfh root, fh[NF];
	struct slice_attr a;
	bool eof;
	CHECK_ERR(slice_vol_root(v, &root, NULL), 0);
	uint64_t verf = slice_vol_write_verifier(v);

	/* growth is visible elsewhere at once; eof; commit */
	CHECK_ERR(slice_vol_create(v, &me, &root, "p", 0644, true, &fh[0], NULL), 0);
	tl_fill(buf, sizeof(buf), 1, 0);
	CHECK_ERR(slice_vol_pwrite(v, &me, &fh[0], buf, sizeof(buf), 0, false, &a), sizeof(buf));
	CHECK(a.size == sizeof(buf), "pwrite's attributes: size %llu", (unsigned long long)a.size);
	CHECK_ERR(slice_vol_getattr(w, &me, &fh[0], &a), 0);
	CHECK(a.size == sizeof(buf), "the other client's getattr right after: %llu", (unsigned long long)a.size);
	CHECK_ERR(slice_vol_pwrite(v, &me, &fh[0], buf, 1000, 500000, true, &a), 1000);
	CHECK_ERR(slice_vol_getattr(w, &me, &fh[0], &a), 0);
	CHECK(a.size == 501000, "after a stable pwrite past a hole: %llu", (unsigned long long)a.size);
	CHECK_ERR(slice_vol_pread(v, &me, &fh[0], rbuf, sizeof(rbuf), 0, &eof, &a), sizeof(rbuf));
	CHECK(!eof && tl_verify(rbuf, sizeof(rbuf), 1, 0) < 0, "pread: eof %d", eof);
	CHECK_ERR(slice_vol_pread(v, &me, &fh[0], rbuf, 4096, 499000, &eof, NULL), 2000);
	CHECK(eof && tl_all_bytes(rbuf, 1000, 0) && tl_verify(rbuf + 1000, 1000, 1, 0) < 0, "pread at the end");
	CHECK_ERR(slice_vol_pread(v, &me, &fh[0], rbuf, 4096, 600000, &eof, NULL), 0);
	CHECK(eof, "pread past the end: eof");
	CHECK_ERR(slice_vol_commit(v, &me, &fh[0], &a), 0);
	CHECK(slice_vol_write_verifier(v) == verf, "the verifier holds while nothing is lost");

	/* more files than stay open */
	for (int i = 1; i < NF; i++) {
		char n[16];
		snprintf(n, sizeof(n), "m%d", i);
		CHECK_ERR(slice_vol_create(v, &me, &root, n, 0644, true, &fh[i], NULL), 0);
		tl_fill(buf, 20000, (uint32_t)(100 + i), 0);
		CHECK_ERR(slice_vol_pwrite(v, &me, &fh[i], buf, 20000, 0, false, NULL), 20000);
	}
	/* the first ones were closed (committed) to make room; all are whole elsewhere */
	for (int i = 1; i < NF / 2; i++) {
		struct slice_vfile *f;
		CHECK_ERR(slice_vol_fopen(w, &me, &fh[i], &f), 0);
		CHECK_ERR(slice_vol_read(f, rbuf, sizeof(rbuf), 0), 20000);
		CHECK(tl_verify(rbuf, 20000, (uint32_t)(100 + i), 0) < 0, "file %d read by the other client", i);
		CHECK_ERR(slice_vol_fclose(f), 0);
	}
	for (int i = NF / 2; i < NF; i++)
		CHECK_ERR(slice_vol_commit(v, &me, &fh[i], NULL), 0);

	/* forged handles */
	struct slice_vfh bad = fh[1];
	bad.b[bad.len - 1] ^= 1;
	CHECK_ERR(slice_vol_pwrite(v, &me, &bad, buf, 10, 0, false, NULL), -ESTALE);
	CHECK_ERR(slice_vol_pread(v, &me, &bad, rbuf, 10, 0, &eof, NULL), -ESTALE);
	bad.len = 3;
	CHECK_ERR(slice_vol_commit(v, &me, &bad, NULL), -ESTALE);
	CHECK_ERR(slice_vol_pwrite(v, &me, &root, buf, 10, 0, false, NULL), -EISDIR);

	/* unstable data on a server that dies before COMMIT: the verifier changes */
	tl_fill(buf, sizeof(buf), 3, 0);
	CHECK_ERR(slice_vol_pwrite(v, &me, &fh[0], buf, sizeof(buf), 0, false, NULL), sizeof(buf));
	ct_kill(c, ct_blockd(c, 1));
	int rc = slice_vol_commit(v, &me, &fh[0], NULL);
	CHECK(rc == -EIO, "commit with a server down: %d", rc);
	CHECK(slice_vol_write_verifier(v) != verf, "the verifier changed");
	ct_restart(c, ct_blockd(c, 1));
	verf = slice_vol_write_verifier(v);
	rc = -EIO;
	for (int i = 0; i < 3 && rc < 0; i++) {
		ssize_t n = slice_vol_pwrite(v, &me, &fh[0], buf, sizeof(buf), 0, false, NULL);
		rc = n < 0 ? (int)n : slice_vol_commit(v, &me, &fh[0], NULL);
	}
	CHECK_ERR(rc, 0);
	CHECK_ERR(slice_vol_pread(w, &me, &fh[0], rbuf, sizeof(rbuf), 0, &eof, NULL), sizeof(rbuf));
	CHECK(tl_verify(rbuf, sizeof(rbuf), 3, 0) < 0, "rewritten after the restart, read elsewhere");

	slice_vol_close(w);
	slice_vol_close(v);
	ct_stop(c);
	return tl_finish();
}
