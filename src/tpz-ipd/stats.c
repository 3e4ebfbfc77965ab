/*
 * stats.c - tpz-ipd's counters where an operator can see them.
 *
 * A running daemon keeps a page /dev/shm/tip-stat.<uid>.<pid> (mode 0600)
 * with its interface, peers and counters, rewritten by the main thread
 * every tick (a seqlock: gen is odd while it writes).  `tpz-ipd --stats`
 * reads every such page of this user; pages of dead processes are removed.
 * The Trapeze endpoint's own counters are in tpz-stat, as for any module.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "tip.h"

#define STAT_PREFIX "tip-stat."
#define STAT_MAGIC  0x7461747370697420ull   /* " pipstat" */

struct stat_page {
	uint64_t            magic;
	_Atomic uint64_t    gen;          /* even: stable; odd: being written */
	uint32_t            pid, node, mtu, offloads;
	char                ifname[IFNAMSIZ];
	char                netns[64];
	char                fabric[48];
	uint64_t            start_ns, updated_ns;   /* CLOCK_MONOTONIC */
	uint64_t            peers[TPZ_MAX_NODES / 64];   /* bitmap of peers up */
	struct tip_counters ctr;
};

static struct stat_page *page;
static char page_name[96];

int tip_stats_open(struct tip_daemon *d)
{
	snprintf(page_name, sizeof(page_name), "/" STAT_PREFIX "%u.%d", (unsigned)geteuid(), (int)getpid());
	int fd = shm_open(page_name, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	if (ftruncate(fd, sizeof(struct stat_page)) < 0) {
		int rc = -errno;
		close(fd);
		shm_unlink(page_name);
		return rc;
	}
	void *m = mmap(NULL, sizeof(struct stat_page), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (m == MAP_FAILED) {
		shm_unlink(page_name);
		return -errno;
	}
	page = m;
	page->magic = STAT_MAGIC;
	page->pid = (uint32_t)getpid();
	page->node = d->opt.node;
	page->mtu = d->opt.mtu;
	page->offloads = d->offloads;
	page->start_ns = d->start_ns;
	snprintf(page->ifname, sizeof(page->ifname), "%s", d->ifname);
	snprintf(page->netns, sizeof(page->netns), "%s", d->opt.netns ? d->opt.netns : "");
	snprintf(page->fabric, sizeof(page->fabric), "%s", d->opt.fabric ? d->opt.fabric : "");
	tip_stats_publish(d);
	return 0;
}

static void snapshot(struct tip_daemon *d, struct tip_counters *c)
{
	const uint64_t *src = (const uint64_t *)&d->ctr;
	uint64_t *dst = (uint64_t *)c;
	for (size_t i = 0; i < sizeof(*c) / sizeof(uint64_t); i++)
		dst[i] = __atomic_load_n(&src[i], __ATOMIC_RELAXED);
}

void tip_stats_publish(struct tip_daemon *d)
{
	if (!page)
		return;
	/* release on the odd value, then the data, then release on even:
	 * pairs with the acquire loads in read_page. */
	uint64_t g = atomic_load_explicit(&page->gen, memory_order_relaxed);
	atomic_store_explicit(&page->gen, g + 1, memory_order_relaxed);
	atomic_thread_fence(memory_order_release);
	memset(page->peers, 0, sizeof(page->peers));
	for (uint32_t i = 0; i < TPZ_MAX_NODES; i++)
		if (atomic_load_explicit(&d->peer_up[i], memory_order_relaxed))
			page->peers[i / 64] |= 1ull << (i % 64);
	snapshot(d, &page->ctr);
	page->updated_ns = tip_now_ns();
	atomic_store_explicit(&page->gen, g + 2, memory_order_release);
}

void tip_stats_close(struct tip_daemon *d)
{
	if (!page)
		return;
	munmap(page, sizeof(*page));
	shm_unlink(page_name);
	page = NULL;
}

/* ---- printing ------------------------------------------------------------ */

/* Every counter with its name, in the order of struct tip_counters. */
#define COUNTERS(X) \
	X(tx_packets) X(tx_bytes) X(tx_gso) X(tx_inline) X(tx_bursts) X(tx_sleeps) \
	X(drop_unknown_dst) X(drop_multicast) X(drop_peer_down) X(drop_ring_full) \
	X(drop_no_frames) X(drop_bad_tun) X(drop_send_errors) X(tx_read_errors) \
	X(rx_packets) X(rx_bytes) X(rx_gso) X(rx_inline) \
	X(rx_malformed) X(rx_unknown_src) X(rx_payload_lost) X(rx_write_errors) \
	X(connects) X(connect_failures)

#define ONE(f) + 1
_Static_assert(0 COUNTERS(ONE) == sizeof(struct tip_counters) / sizeof(uint64_t), "COUNTERS lists every counter");
#undef ONE

static double per(uint64_t a, uint64_t b) { return b ? (double)a / (double)b : 0.0; }

static void print_peers(const uint64_t *peers, const char *sep)
{
	bool any = false;
	for (uint32_t i = 0; i < TPZ_MAX_NODES; i++)
		if (peers[i / 64] & (1ull << (i % 64))) {
			printf("%s%u", any ? sep : "", i);
			any = true;
		}
	if (!any && sep[0] == ' ')
		printf("none");
}

static void print_text(const struct stat_page *s)
{
	const struct tip_counters *c = &s->ctr;
	char off[96];
	uint64_t up = (tip_now_ns() - s->start_ns) / 1000000000ull;

	printf("tpz-ipd pid %u, node %u: interface %s%s%s, mtu %u, offloads %s, up %llu s\n", s->pid, s->node,
	       s->ifname, s->netns[0] ? " in netns " : "", s->netns, s->mtu,
	       tip_offload_str(s->offloads, off, sizeof(off)), (unsigned long long)up);
	printf("  peers up: ");
	print_peers(s->peers, " ");
	printf("\n");
	printf("  to the fabric:   %llu packets (%llu segmentation-offloaded, %llu inline only), %llu bytes\n",
	       (unsigned long long)c->tx_packets, (unsigned long long)c->tx_gso, (unsigned long long)c->tx_inline,
	       (unsigned long long)c->tx_bytes);
	printf("                   %llu bursts (%.1f packets per burst), %llu sleeps\n",
	       (unsigned long long)c->tx_bursts, per(c->tx_packets, c->tx_bursts), (unsigned long long)c->tx_sleeps);
	printf("  from the fabric: %llu packets (%llu segmentation-offloaded, %llu inline only), %llu bytes\n",
	       (unsigned long long)c->rx_packets, (unsigned long long)c->rx_gso, (unsigned long long)c->rx_inline,
	       (unsigned long long)c->rx_bytes);
	printf("  dropped on the way out: unknown destination %llu, multicast %llu, peer down %llu, "
	       "no credit %llu, no frames %llu, bad packet %llu, send errors %llu, read errors %llu\n",
	       (unsigned long long)c->drop_unknown_dst, (unsigned long long)c->drop_multicast,
	       (unsigned long long)c->drop_peer_down, (unsigned long long)c->drop_ring_full,
	       (unsigned long long)c->drop_no_frames, (unsigned long long)c->drop_bad_tun,
	       (unsigned long long)c->drop_send_errors, (unsigned long long)c->tx_read_errors);
	printf("  dropped on the way in: malformed %llu, unknown source %llu, payload lost %llu, "
	       "refused by the kernel %llu\n",
	       (unsigned long long)c->rx_malformed, (unsigned long long)c->rx_unknown_src,
	       (unsigned long long)c->rx_payload_lost, (unsigned long long)c->rx_write_errors);
	printf("  links: %llu connects, %llu failed attempts\n", (unsigned long long)c->connects,
	       (unsigned long long)c->connect_failures);
}

static void print_json(const struct stat_page *s)
{
	const struct tip_counters *c = &s->ctr;
	printf("{\"pid\":%u,\"node\":%u,\"ifname\":\"%s\",\"netns\":\"%s\",\"fabric\":\"%s\",\"mtu\":%u,"
	       "\"offloads\":%u,\"peers_up\":[", s->pid, s->node, s->ifname, s->netns, s->fabric, s->mtu, s->offloads);
	print_peers(s->peers, ",");
	printf("]");
#define J(f) printf(",\"" #f "\":%llu", (unsigned long long)c->f);
	COUNTERS(J)
#undef J
	printf("}\n");
}

static bool read_page(const char *name, struct stat_page *out)
{
	char path[300];
	snprintf(path, sizeof(path), "/%s", name);
	int fd = shm_open(path, O_RDONLY | O_CLOEXEC, 0);
	if (fd < 0)
		return false;
	struct stat_page *p = mmap(NULL, sizeof(*p), PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	if (p == MAP_FAILED)
		return false;
	bool ok = false;
	for (int tries = 0; tries < 1000 && !ok; tries++) {   /* seqlock read */
		uint64_t g = atomic_load_explicit(&p->gen, memory_order_acquire);
		if (g & 1)
			continue;
		memcpy(out, p, sizeof(*out));
		atomic_thread_fence(memory_order_acquire);
		ok = atomic_load_explicit(&p->gen, memory_order_relaxed) == g && out->magic == STAT_MAGIC;
	}
	munmap(p, sizeof(*p));
	return ok;
}

int tip_stats_show(int pid, bool json)
{
	char prefix[64];
	int shown = 0;
	DIR *dir = opendir("/dev/shm");

	if (!dir) {
		fprintf(stderr, TIP_PROG ": cannot read /dev/shm: %s\n", strerror(errno));
		return 1;
	}
	snprintf(prefix, sizeof(prefix), STAT_PREFIX "%u.", (unsigned)geteuid());
	for (struct dirent *e; (e = readdir(dir));) {
		struct stat_page s;
		if (strncmp(e->d_name, prefix, strlen(prefix)) != 0)
			continue;
		int p = atoi(e->d_name + strlen(prefix));
		if (kill(p, 0) < 0 && errno == ESRCH) {   /* its daemon died: clean up */
			char path[300];
			snprintf(path, sizeof(path), "/%s", e->d_name);
			shm_unlink(path);
			continue;
		}
		if ((pid && p != pid) || !read_page(e->d_name, &s))
			continue;
		if (json)
			print_json(&s);
		else
			print_text(&s);
		shown++;
	}
	closedir(dir);
	if (!shown && !json)
		printf(pid ? "no tpz-ipd with pid %d is running\n" : "no tpz-ipd is running\n", pid);
	return shown || !pid ? 0 : 1;
}

/* SIGUSR1: the counters into the log. */
void tip_stats_log(struct tip_daemon *d)
{
	struct tip_counters c;
	snapshot(d, &c);
	tip_log(TIP_INFO, "counters: sent %llu packets (%llu bytes, %llu bursts, %llu sleeps), received %llu "
		"(%llu bytes); dropped: unknown destination %llu, multicast %llu, peer down %llu, no credit %llu, "
		"no frames %llu, bad %llu; refused: malformed %llu, unknown source %llu, kernel %llu",
		(unsigned long long)c.tx_packets, (unsigned long long)c.tx_bytes, (unsigned long long)c.tx_bursts,
		(unsigned long long)c.tx_sleeps, (unsigned long long)c.rx_packets, (unsigned long long)c.rx_bytes,
		(unsigned long long)c.drop_unknown_dst, (unsigned long long)c.drop_multicast,
		(unsigned long long)c.drop_peer_down, (unsigned long long)c.drop_ring_full,
		(unsigned long long)c.drop_no_frames, (unsigned long long)c.drop_bad_tun,
		(unsigned long long)c.rx_malformed, (unsigned long long)c.rx_unknown_src,
		(unsigned long long)c.rx_write_errors);
}
