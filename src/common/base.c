/*
 * base.c - the process basics both ends use: the program's name in every
 * message, the stop flag, the clock, CPU pinning and Trapeze's log callback.
 */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "perfkit.h"

const char *pk_prog = "perfkit";
volatile int pk_stop;
int pk_verbose;

uint64_t pk_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Both ends on their own core: the figures then include the cross-core cache
 * transfer a real deployment pays, and the tools compare with each other and
 * with the peers, which are pinned the same way. */
void pk_pin_cpu(int cpu, const char *who)
{
	cpu_set_t set;

	if (cpu < 0)
		return;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof set, &set) != 0)
		fprintf(stderr, "%s: %s: cannot pin to CPU %d: %s\n", pk_prog, who, cpu, strerror(errno));
}

void pk_log(void *arg, int level, const char *msg)
{
	if (level > TPZ_LOG_WARN && !pk_verbose)
		return;
	fprintf(stderr, "%s: %s: trapeze: %s\n", pk_prog, (const char *)arg, msg);
}

const char *pk_link_name(enum pk_link l)
{
	return l == PK_LINK_TCP ? "tcp" : "shm";
}

const char *pk_mode_name(enum pk_mode m)
{
	return m == PK_MODE_BLOCK ? "block" : "poll";
}
