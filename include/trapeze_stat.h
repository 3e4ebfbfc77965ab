/*
 * trapeze_stat.h - the page through which an endpoint shows its counters to
 * tpz-stat: /dev/shm/tpz-stat.<uid>.<pid>.<node>, mode 0600.
 */
#ifndef TRAPEZE_STAT_H
#define TRAPEZE_STAT_H

#include <stdatomic.h>
#include <stdint.h>

#include "trapeze.h"

#define TPZ_STAT_PREFIX "tpz-stat."
#define TPZ_STAT_MAGIC  0x74617473207a7074ull   /* "tpz stat" */

struct tpz_stat_page {
	uint64_t            magic;
	_Atomic uint64_t    gen;          /* even: stable; odd: being written */
	uint32_t            pid, node;
	char                fabric[48];
	uint64_t            updated_ns;   /* CLOCK_MONOTONIC */
	struct tpz_counters ctr;
};

#endif
