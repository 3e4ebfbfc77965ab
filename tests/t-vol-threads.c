/*
 * t-vol-threads.c - one slice_vol shared by threads (2 managers, 3 block
 * servers, 2 NFS connections per manager so that threads wait for them):
 * each thread creates, looks up, writes and reads its own files under its
 * own credential while the others do the same; then threads write
 * disjoint parts of one shared open file, and every byte is there.
 */
#include <pthread.h>
#include <sys/stat.h>

#include "cluster_testlib.h"
#include "vol_testlib.h"

#define NT 4
#define PART (256u << 10)

static struct slice_vol *v;
static struct slice_vfh root;
static struct slice_vfile *shared;
static int result[NT];

static void *worker(void *arg)
{
	int t = (int)(intptr_t)arg;
	struct slice_cred cr = vt_cred(1000 + (uint32_t)t, 1000);
	static uint8_t bufs[NT][64 << 10], rbufs[NT][64 << 10];
	uint8_t *buf = bufs[t], *rbuf = rbufs[t];
	for (int i = 0; i < 20; i++) {
		char n[32];
		struct slice_vfh fh;
		struct slice_attr a;
		snprintf(n, sizeof(n), "t%d-%d", t, i);
		int rc = slice_vol_create(v, &cr, &root, n, 0644, true, &fh, &a);
		if (rc < 0 || a.uid != cr.uid)
			return result[t] = 1, NULL;
		tl_fill(buf, sizeof(bufs[0]), (uint32_t)(t * 100 + i), 0);
		if (slice_vol_pwrite(v, &cr, &fh, buf, sizeof(bufs[0]), 0, false, NULL) != (ssize_t)sizeof(bufs[0]))
			return result[t] = 2, NULL;
		if (slice_vol_lookup(v, &cr, &root, n, NULL, &a) < 0 || a.size != sizeof(bufs[0]))
			return result[t] = 3, NULL;
		bool eof;
		if (slice_vol_pread(v, &cr, &fh, rbuf, sizeof(rbufs[0]), 0, &eof, NULL) != (ssize_t)sizeof(rbufs[0]) ||
		    tl_verify(rbuf, sizeof(rbufs[0]), (uint32_t)(t * 100 + i), 0) >= 0)
			return result[t] = 4, NULL;
		if (i % 2 && slice_vol_remove(v, &cr, &root, n) < 0)
			return result[t] = 5, NULL;
	}
	/* a part of the shared file */
	for (uint32_t off = 0; off < PART; off += sizeof(bufs[0])) {
		tl_fill(buf, sizeof(bufs[0]), 7, (size_t)t * PART + off);
		if (slice_vol_write(shared, buf, sizeof(bufs[0]), (uint64_t)t * PART + off) != (ssize_t)sizeof(bufs[0]))
			return result[t] = 6, NULL;
	}
	if (slice_vol_flush(shared) < 0)
		return result[t] = 7, NULL;
	return NULL;
}

int main(int argc, char **argv)
{
	tl_init(argc, argv, 60);
	struct ct_cluster *c = ct_start(3, 2, NULL);
	struct slice_vol_config cfg;
	slice_vol_config_default(&cfg);
	cfg.cluster_file = c->file;
	cfg.conns = 2;
	CHECK_ERR(slice_vol_open(&cfg, &v), 0);
	struct slice_cred me = vt_cred(1000, 1000);
	struct slice_vfh fh;
	CHECK_ERR(slice_vol_root(v, &root, NULL), 0);
	CHECK_ERR(slice_vol_create(v, &me, &root, "shared", 0666, true, &fh, NULL), 0);
	CHECK_ERR(slice_vol_fopen(v, &me, &fh, &shared), 0);
	pthread_t th[NT];
	for (int t = 0; t < NT; t++)
		CHECK(pthread_create(&th[t], NULL, worker, (void *)(intptr_t)t) == 0, "thread");
	for (int t = 0; t < NT; t++)
		pthread_join(th[t], NULL);
	for (int t = 0; t < NT; t++)
		CHECK(result[t] == 0, "thread %d failed at step %d", t, result[t]);
	CHECK_ERR(slice_vol_fclose(shared), 0);
	struct slice_vfile *f;
	CHECK_ERR(slice_vol_fopen(v, &me, &fh, &f), 0);
	CHECK(slice_vol_fsize(f) == NT * PART, "shared size %llu", (unsigned long long)slice_vol_fsize(f));
	static uint8_t all[NT * PART];
	CHECK_ERR(slice_vol_read(f, all, sizeof(all), 0), sizeof(all));
	CHECK(tl_verify(all, sizeof(all), 7, 0) < 0, "shared file differs at %ld", tl_verify(all, sizeof(all), 7, 0));
	CHECK_ERR(slice_vol_fclose(f), 0);
	slice_vol_close(v);
	ct_stop(c);
	return tl_finish();
}
