/*
 * stat.c - publish an endpoint's counters where tpz-stat can read them.
 *
 * Each endpoint keeps a one-page segment /dev/shm/tpz-stat.<uid>.<pid>.<node>
 * (mode 0600) with a snapshot of its counters, refreshed at most every
 * 100 ms from the poll loop's slow path, never on the per-message path.
 * The segment goes away with the endpoint; tpz-stat removes ones whose
 * process died.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "tpz_internal.h"
#include "trapeze_stat.h"

#define PUBLISH_NS 100000000ull

void tpz_stat_open(struct tpz_endpoint *ep)
{
	snprintf(ep->stat_name, sizeof(ep->stat_name), "/" TPZ_STAT_PREFIX "%u.%d.%u", (unsigned)geteuid(),
		 (int)getpid(), ep->cfg.node);
	int fd = shm_open(ep->stat_name, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		goto fail;
	if (ftruncate(fd, sizeof(struct tpz_stat_page)) < 0) {
		close(fd);
		shm_unlink(ep->stat_name);
		goto fail;
	}
	void *m = mmap(NULL, sizeof(struct tpz_stat_page), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (m == MAP_FAILED) {
		shm_unlink(ep->stat_name);
		goto fail;
	}
	ep->stat = m;
	ep->stat->magic = TPZ_STAT_MAGIC;
	ep->stat->pid = (uint32_t)getpid();
	ep->stat->node = ep->cfg.node;
	snprintf(ep->stat->fabric, sizeof(ep->stat->fabric), "%s", ep->cfg.fabric ? ep->cfg.fabric : "");
	tpz_stat_publish(ep, true);
	return;
fail:   /* counters stay readable through the API; only the tool is blind */
	ep->stat_name[0] = '\0';
	tpz_log(ep, TPZ_LOG_WARN, "node %u: cannot publish counters for tpz-stat: %s", ep->cfg.node,
		strerror(errno));
}

void tpz_stat_publish(struct tpz_endpoint *ep, bool now)
{
	uint64_t t = tpz_now_ns();

	if (!ep->stat || (!now && t - ep->stat_last < PUBLISH_NS))
		return;
	ep->stat_last = t;
	/* Seqlock: odd while writing, so a reader never takes a torn copy. */
	atomic_fetch_add_explicit(&ep->stat->gen, 1, memory_order_acq_rel);
	tpz_counters(ep, &ep->stat->ctr);
	ep->stat->updated_ns = t;
	atomic_fetch_add_explicit(&ep->stat->gen, 1, memory_order_release);
}

void tpz_stat_close(struct tpz_endpoint *ep)
{
	if (!ep->stat)
		return;
	munmap(ep->stat, sizeof(struct tpz_stat_page));
	shm_unlink(ep->stat_name);
	ep->stat = NULL;
}
