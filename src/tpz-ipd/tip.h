/*
 * tip.h - what the pieces of tpz-ipd (Trapeze/IP) share.
 *
 * Map of the daemon (one concern per file):
 *   main.c    startup order, signals, the link manager loop
 *   opts.c    the command line and its defaults
 *   netns.c   entering a network namespace for the TUN device, and back
 *   tun.c     the TUN device: IFF_VNET_HDR, offloads, MTU, up
 *   ifaddr.c  the interface's addresses and routes (rtnetlink)
 *   map.c     the cluster file: nodes, and IP address -> node (our "ARP")
 *   pkt.c     packet checks: where a packet from TUN goes, whether a
 *             message from the fabric is a packet we may write
 *   tx.c      TUN -> Trapeze (its own thread)
 *   rx.c      Trapeze -> TUN (the endpoint's delivery thread)
 *   stats.c   counters, the stats page, --stats
 *   log.c     log lines, rate-limited ones for per-packet trouble
 *
 * Threads: the tx thread reads the TUN device and sends; the rx thread
 * drives tpz_wait() (the endpoint's delivery thread) and writes packets to
 * the TUN device from its upcall; the main thread connects to peers,
 * publishes counters and waits for signals.  Each counter has one writer.
 */
#ifndef TIP_H
#define TIP_H

#include <net/if.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tip_wire.h"
#include "trapeze.h"

#define TIP_PROG "tpz-ipd"

/* ---- addresses and the map (map.c) ---------------------------------------- */

struct tip_addr {
	uint8_t family;      /* AF_INET or AF_INET6 */
	uint8_t plen;        /* prefix length for the interface's own addresses */
	uint8_t a[16];       /* IPv4 in a[0..3] */
};

struct tip_map_entry {
	struct tip_addr addr;
	uint32_t        node;
};

struct tip_map {
	struct tpz_cluster_node nodes[TPZ_MAX_NODES];
	int                     nnodes;
	uint32_t                max_node;
	bool                    known[TPZ_MAX_NODES];   /* has a 'node' line */
	struct tip_map_entry   *ent;
	uint32_t                n, cap;
	uint32_t               *slot;     /* open addressing: entry index + 1, 0 = empty */
	uint32_t                mask;
};

/* Parse a cluster file's text: "node ID URL" lines (given to
 * tpz_cluster_parse) and "ip NODE ADDR[/PREFIX]" lines.  0 or -errno;
 * err gets "NAME:LINE: what is wrong". */
int  tip_map_parse(struct tip_map *m, const char *text, const char *name, char *err, size_t errlen);
int  tip_map_load(struct tip_map *m, const char *path, char *err, size_t errlen);
void tip_map_free(struct tip_map *m);
/* The node that owns addr (family AF_INET: 4 bytes, AF_INET6: 16), or -1. */
int  tip_map_lookup(const struct tip_map *m, int family, const uint8_t *addr);
const char *tip_map_url(const struct tip_map *m, uint32_t node);   /* NULL: not in the cluster */
static inline bool tip_map_known(const struct tip_map *m, uint32_t node)
{
	return node < TPZ_MAX_NODES && m->known[node];
}
int  tip_addr_parse(const char *s, struct tip_addr *a);            /* "10.0.0.1/24", "fd00::1" */
const char *tip_addr_str(const struct tip_addr *a, bool with_plen, char *buf, size_t len);
/* Is a inside the prefix p/p->plen? */
bool tip_addr_in(const struct tip_addr *p, const struct tip_addr *a);

/* ---- packets (pkt.c) ------------------------------------------------------- */

enum tip_dst_kind { TIP_DST_UNICAST, TIP_DST_MULTICAST, TIP_DST_BAD };
/* Where a packet read from TUN goes: its IP version and destination. */
enum tip_dst_kind tip_pkt_dst(const uint8_t *pkt, uint32_t len, int *family, const uint8_t **dst,
			      const char **why);
/* A Trapeze/IP message from the fabric: NULL if we may write it to TUN,
 * else why not. */
const char *tip_msg_check(const struct tip_msg *m, uint32_t inline_len, uint32_t payload_len);

/* ---- counters (stats.c) ------------------------------------------------------ */

struct tip_counters {
	/* TUN -> fabric (tx thread) */
	uint64_t tx_packets, tx_bytes, tx_gso, tx_inline, tx_bursts, tx_sleeps;
	uint64_t drop_unknown_dst, drop_multicast, drop_peer_down, drop_ring_full;
	uint64_t drop_no_frames, drop_bad_tun, drop_send_errors, tx_read_errors;
	/* fabric -> TUN (rx thread) */
	uint64_t rx_packets, rx_bytes, rx_gso, rx_inline;
	uint64_t rx_malformed, rx_unknown_src, rx_payload_lost, rx_write_errors;
	/* links (main thread) */
	uint64_t connects, connect_failures;
};
/* One writer per field: a relaxed load and store, no locked instruction. */
#define TIP_INC(c, f, n) __atomic_store_n(&(c)->f, __atomic_load_n(&(c)->f, __ATOMIC_RELAXED) + (n), \
					  __ATOMIC_RELAXED)

/* ---- the daemon ---------------------------------------------------------------- */

struct tip_options {
	uint32_t    node;
	bool        node_given;
	const char *cluster;        /* cluster file */
	const char *netns;          /* create the TUN device there (name or path) */
	const char *ifname;         /* NULL: "tip<node>" */
	const char *tun_dev;        /* /dev/net/tun */
	const char *fabric;         /* shm fabric name */
	const char *secret_file;
	uint32_t    mtu;
	bool        offload;        /* checksum/TSO/USO offloads (default on) */
	bool        addr;           /* configure addresses and routes (default on) */
	uint32_t    spin_us;        /* rx: tpz_wait spin before sleeping */
	uint32_t    tx_spin_us;     /* tx: spin on the TUN device before sleeping */
	uint32_t    pool_frames;
	uint32_t    ring_slots;
	const char *cpus;           /* pin every thread to these CPUs ("0", "0,2-3") */
	int         verbose;
};

struct tip_daemon {
	struct tip_options   opt;
	struct tip_map       map;
	char                 ifname[IFNAMSIZ];
	int                  ifindex;
	int                  tun_fd;
	unsigned             offloads;      /* TUN_F_* granted */
	struct tpz_endpoint *ep;
	size_t               frame_size;
	_Atomic int          stop;
	int                  stop_fd;       /* eventfd: wakes the tx thread */
	_Atomic uint8_t      peer_up[TPZ_MAX_NODES];
	struct tip_counters  ctr;
	uint64_t             start_ns;
};

/* opts.c: tip_opts_parse returns -1 to go on, or an exit code (after
 * --help, --stats or a bad option). */
void tip_opts_default(struct tip_options *o);
int  tip_opts_parse(int argc, char **argv, struct tip_options *o, bool *check);
int  tip_parse_cpus(const char *s, cpu_set_t *set);

/* tun.c */
int  tip_tun_open(struct tip_daemon *d, char *err, size_t errlen);
int  tip_tun_set_mtu(const char *ifname, uint32_t mtu);
int  tip_tun_set_up(const char *ifname);
const char *tip_offload_str(unsigned offloads, char *buf, size_t len);
/* netns.c: enter the namespace (name in /run/netns, or a path); *back gets
 * a descriptor of the current one for tip_netns_leave. */
int  tip_netns_enter(const char *ns, int *back);
int  tip_netns_leave(int back);
/* ifaddr.c */
int  tip_if_addr_add(int ifindex, const struct tip_addr *a);
int  tip_if_route_add(int ifindex, const struct tip_addr *dst);
int  tip_if_configure(struct tip_daemon *d, char *err, size_t errlen);

/* tx.c / rx.c */
void *tip_tx_main(void *arg);
void *tip_rx_main(void *arg);
int   tip_rx_register(struct tip_daemon *d);

/* stats.c */
int  tip_stats_open(struct tip_daemon *d);
void tip_stats_publish(struct tip_daemon *d);
void tip_stats_close(struct tip_daemon *d);
void tip_stats_log(struct tip_daemon *d);
int  tip_stats_show(int pid, bool json);   /* --stats; exit code */

/* log.c */
enum { TIP_ERR = 3, TIP_WARN = 4, TIP_INFO = 6, TIP_DEBUG = 7 };
extern int tip_log_level;
extern uint32_t tip_log_node;
void tip_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Per-packet trouble: at most a few lines a second per kind; the rest are
 * counted and summed up in the next line that gets through. */
struct tip_ratelimit { uint64_t window_ns; uint32_t in_window, suppressed; };
void tip_log_rl(struct tip_ratelimit *rl, int level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void tip_tpz_log(void *arg, int level, const char *msg);   /* tpz_config.log */
uint64_t tip_now_ns(void);

#endif /* TIP_H */
