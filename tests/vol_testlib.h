/*
 * vol_testlib.h - small helpers for the slice_vol tests (t-vol-*.c):
 * open a volume on a cluster_testlib.h cluster, credentials, CHECK_ERR.
 * Include after cluster_testlib.h.
 */
#ifndef VOL_TESTLIB_H
#define VOL_TESTLIB_H

#include "slice_vol.h"

static inline struct slice_vol *vt_open(struct ct_cluster *c, int timeout_ms)
{
	struct slice_vol_config cfg;
	slice_vol_config_default(&cfg);
	cfg.cluster_file = c->file;
	if (timeout_ms)
		cfg.timeout_ms = timeout_ms;
	struct slice_vol *v = NULL;
	int rc = slice_vol_open(&cfg, &v);
	CHECK(rc == 0 && v, "slice_vol_open: %s", strerror(-rc));
	return v;
}

static inline struct slice_cred vt_cred(uint32_t uid, uint32_t gid)
{
	struct slice_cred cr = { .uid = uid, .gid = gid };
	return cr;
}

/* An int result that must be -want (0 for success); names the errno. */
#define CHECK_ERR(expr, want) do {                                            \
	long _g = (long)(expr), _w = (long)(want);                            \
	CHECK(_g == _w, "%s: got %ld (%s), want %ld (%s)", #expr, _g,          \
	      _g < 0 ? strerror((int)-_g) : "ok", _w, _w < 0 ? strerror((int)-_w) : "ok"); \
} while (0)

#endif
