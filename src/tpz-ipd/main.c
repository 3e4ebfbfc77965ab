/*
 * main.c - tpz-ipd: TCP/IP over Trapeze through a TUN interface.
 *
 * Startup order matters: the TUN device is created (in --netns if given)
 * before the endpoint, and the endpoint in the daemon's own namespace,
 * because the shm link meets its peers through abstract unix sockets that
 * belong to the namespace they are made in (netns.c).  Then two threads
 * move packets (tx.c, rx.c) and this one keeps the links up: a node
 * connects to every node of the cluster with a lower id (so each pair has
 * exactly one connector) and retries while it is down; a node with a higher
 * id connects to us.  Signals are taken here only (sigtimedwait).
 */
#include <errno.h>
#include <getopt.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tip.h"

/* Measured (bench/results/trapeze-ip.md, MTU sweep). */
#define TIP_MTU_DEFAULT  65535u
#define TICK_MS          100
#define RETRY_TICKS      5        /* connect attempts every 500 ms */
#define CONNECT_MS       1000

static void usage(FILE *f)
{
	fprintf(f,
"usage: tpz-ipd --node ID --cluster FILE [options]\n"
"       tpz-ipd --stats [--pid PID] [--json]\n"
"       tpz-ipd --check --node ID --cluster FILE\n"
"\n"
"TCP/IP over Trapeze: a TUN interface whose packets travel as Trapeze\n"
"messages (headers inline in the control message, data in payload frames),\n"
"with checksum and segmentation offloads and an MTU up to 65535.\n"
"\n"
"The cluster file lists the nodes ('node ID URL', as for every Trapeze\n"
"program) and their IP addresses ('ip NODE ADDRESS[/PREFIX]', IPv4 or IPv6).\n"
"This node's addresses go on its interface; packets to another node's\n"
"address go to that node; anything else is dropped and counted.\n"
"\n"
"  --node ID            this node's id (a 'node' line of the cluster file)\n"
"  --cluster FILE       the cluster file\n"
"  --netns NAME         create the interface in this network namespace ('ip netns'\n"
"                       name or a path such as /proc/PID/ns/net); the daemon and its\n"
"                       links stay where it runs (needed for shm between namespaces)\n"
"  --ifname NAME        interface name (default tip<ID>)\n"
"  --mtu N              MTU, %u..%u (default %u)\n"
"  --fabric NAME        shm fabric name, for 'shm' nodes (default tpz-ipd)\n"
"  --secret-file FILE   cluster secret for tcp links (first line of FILE)\n"
"  --no-offload         no checksum/segmentation offloads (for comparison)\n"
"  --no-addr            do not set addresses and routes (leave them to the operator)\n"
"  --spin-us N          receive side: poll N us (yielding the CPU) before sleeping (default 50)\n"
"  --tx-spin-us N       send side: poll the interface N us before sleeping (default 50)\n"
"  --pool-frames N      frames in the pool, if this daemon creates it (default 1024)\n"
"  --ring-slots N       slots per ring (default 256)\n"
"  --cpus LIST          run on these CPUs only (e.g. 1 or 0,2-3; default: any)\n"
"  --tun-dev PATH       the TUN clone device (default /dev/net/tun)\n"
"  -v, --verbose        more log lines (twice: Trapeze's debug lines too)\n"
"  --check              read the cluster file, print what would be done, exit\n"
"  --stats              show the counters of the running tpz-ipd daemons and exit\n"
"  --pid PID            with --stats: only that daemon\n"
"  --json               with --stats: one JSON object per line\n"
"  -h, --help           this text\n"
"\n"
"Signals: SIGINT/SIGTERM stop it (the interface goes away), SIGUSR1 logs the\n"
"counters.  Needs root or CAP_NET_ADMIN.  See docs/trapeze-ip.md.\n",
		TIP_MTU_MIN, TIP_MTU_MAX, TIP_MTU_DEFAULT);
}

enum { O_NETNS = 300, O_IFNAME, O_MTU, O_FABRIC, O_SECRET, O_NO_OFFLOAD, O_NO_ADDR, O_SPIN, O_TX_SPIN,
       O_POOL, O_RING, O_TUN_DEV, O_CHECK, O_STATS, O_PID, O_JSON, O_CPUS };

static bool num(const char *s, unsigned long lo, unsigned long hi, uint32_t *out)
{
	char *end;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (errno || *s == '\0' || *end != '\0' || v < lo || v > hi)
		return false;
	*out = (uint32_t)v;
	return true;
}

/* "1", "0,2-3": a CPU list as taskset -c takes it. */
static int parse_cpus(const char *s, cpu_set_t *set)
{
	CPU_ZERO(set);
	while (*s) {
		char *end;
		unsigned long a = strtoul(s, &end, 10), b = a;
		if (end == s)
			return -EINVAL;
		if (*end == '-') {
			s = end + 1;
			b = strtoul(s, &end, 10);
			if (end == s || b < a)
				return -EINVAL;
		}
		if (b >= CPU_SETSIZE)
			return -EINVAL;
		for (unsigned long c = a; c <= b; c++)
			CPU_SET(c, set);
		s = end;
		if (*s == ',')
			s++;
		else if (*s)
			return -EINVAL;
	}
	return CPU_COUNT(set) ? 0 : -EINVAL;
}

static int bad_value(const char *opt, const char *v)
{
	fprintf(stderr, TIP_PROG ": bad value for %s: '%s' (see --help)\n", opt, v);
	return 2;
}

/* Parse argv into d->opt; returns -1 to go on, or an exit code. */
static int parse_args(int argc, char **argv, struct tip_options *o, bool *check)
{
	static const struct option lo[] = {
		{ "node", required_argument, 0, 'n' },        { "cluster", required_argument, 0, 'c' },
		{ "netns", required_argument, 0, O_NETNS },   { "ifname", required_argument, 0, O_IFNAME },
		{ "mtu", required_argument, 0, O_MTU },       { "fabric", required_argument, 0, O_FABRIC },
		{ "secret-file", required_argument, 0, O_SECRET },
		{ "no-offload", no_argument, 0, O_NO_OFFLOAD }, { "no-addr", no_argument, 0, O_NO_ADDR },
		{ "spin-us", required_argument, 0, O_SPIN },  { "tx-spin-us", required_argument, 0, O_TX_SPIN },
		{ "pool-frames", required_argument, 0, O_POOL }, { "ring-slots", required_argument, 0, O_RING },
		{ "tun-dev", required_argument, 0, O_TUN_DEV }, { "verbose", no_argument, 0, 'v' },
		{ "cpus", required_argument, 0, O_CPUS },
		{ "check", no_argument, 0, O_CHECK },         { "stats", no_argument, 0, O_STATS },
		{ "pid", required_argument, 0, O_PID },       { "json", no_argument, 0, O_JSON },
		{ "help", no_argument, 0, 'h' },              { 0, 0, 0, 0 },
	};
	bool stats = false, json = false;
	uint32_t pid = 0;
	int c;

	while ((c = getopt_long(argc, argv, "n:c:vh", lo, NULL)) != -1) {
		switch (c) {
		case 'n':
			if (!num(optarg, 0, TPZ_MAX_NODES - 1, &o->node))
				return bad_value("--node", optarg);
			o->node_given = true;
			break;
		case 'c': o->cluster = optarg; break;
		case O_NETNS: o->netns = optarg; break;
		case O_IFNAME:
			if (strlen(optarg) == 0 || strlen(optarg) >= IFNAMSIZ || strchr(optarg, '/'))
				return bad_value("--ifname", optarg);
			o->ifname = optarg;
			break;
		case O_MTU:
			if (!num(optarg, TIP_MTU_MIN, TIP_MTU_MAX, &o->mtu))
				return bad_value("--mtu", optarg);
			break;
		case O_FABRIC: o->fabric = optarg; break;
		case O_SECRET: o->secret_file = optarg; break;
		case O_NO_OFFLOAD: o->offload = false; break;
		case O_NO_ADDR: o->addr = false; break;
		case O_SPIN:
			if (!num(optarg, 0, 1000000, &o->spin_us))
				return bad_value("--spin-us", optarg);
			break;
		case O_TX_SPIN:
			if (!num(optarg, 0, 1000000, &o->tx_spin_us))
				return bad_value("--tx-spin-us", optarg);
			break;
		case O_POOL:
			if (!num(optarg, 64, 1u << 20, &o->pool_frames))
				return bad_value("--pool-frames", optarg);
			break;
		case O_RING:
			if (!num(optarg, 2, 65536, &o->ring_slots) || (o->ring_slots & (o->ring_slots - 1)))
				return bad_value("--ring-slots (a power of two)", optarg);
			break;
		case O_TUN_DEV: o->tun_dev = optarg; break;
		case O_CPUS: {
			cpu_set_t set;
			if (parse_cpus(optarg, &set) < 0)
				return bad_value("--cpus", optarg);
			o->cpus = optarg;
			break;
		}
		case 'v': o->verbose++; break;
		case O_CHECK: *check = true; break;
		case O_STATS: stats = true; break;
		case O_PID:
			if (!num(optarg, 1, 1u << 30, &pid))
				return bad_value("--pid", optarg);
			break;
		case O_JSON: json = true; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, TIP_PROG ": unexpected argument '%s' (see --help)\n", argv[optind]);
		return 2;
	}
	if (stats)
		return tip_stats_show((int)pid, json);
	if (!o->node_given || !o->cluster) {
		fprintf(stderr, TIP_PROG ": --node and --cluster are required (see --help)\n");
		return 2;
	}
	return -1;
}

/* The first line of the file, without trailing white space. */
static int read_secret(const char *path, char *buf, size_t len)
{
	struct stat st;
	FILE *f = fopen(path, "r");

	if (!f) {
		tip_log(TIP_ERR, "cannot read the secret file %s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fileno(f), &st) == 0 && (st.st_mode & 0077))
		tip_log(TIP_WARN, "the secret file %s is readable by others (chmod 600 it)", path);
	if (!fgets(buf, (int)len, f))
		buf[0] = '\0';
	fclose(f);
	size_t n = strlen(buf);
	while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' ' || buf[n - 1] == '\t'))
		buf[--n] = '\0';
	if (n == 0 || n >= len - 1) {
		tip_log(TIP_ERR, "the secret file %s must hold the secret (1 to %zu characters) on its first line",
			path, len - 2);
		return -1;
	}
	return 0;
}

static bool uses(const struct tip_map *m, const char *prefix)
{
	for (int i = 0; i < m->nnodes; i++)
		if (strncmp(m->nodes[i].url, prefix, strlen(prefix)) == 0)
			return true;
	return false;
}

static void print_plan(struct tip_daemon *d)
{
	char a[64];
	printf("node %u (%s): interface %s%s%s, mtu %u\n", d->opt.node, tip_map_url(&d->map, d->opt.node),
	       d->ifname, d->opt.netns ? " in netns " : "", d->opt.netns ? d->opt.netns : "", d->opt.mtu);
	for (uint32_t k = 0; k < d->map.n; k++)
		printf("  %-40s -> node %u%s\n", tip_addr_str(&d->map.ent[k].addr, true, a, sizeof(a)),
		       d->map.ent[k].node, d->map.ent[k].node == d->opt.node ? " (this node: on the interface)" : "");
	for (int i = 0; i < d->map.nnodes; i++)
		if (d->map.nodes[i].node != d->opt.node)
			printf("  link to node %u: %s (%s)\n", d->map.nodes[i].node, d->map.nodes[i].url,
			       d->map.nodes[i].node < d->opt.node ? "we connect" : "it connects");
}

/* Keep a link to every node with a lower id; log only changes. */
static void keep_links(struct tip_daemon *d, int *last_err)
{
	for (int i = 0; i < d->map.nnodes; i++) {
		uint32_t n = d->map.nodes[i].node;
		if (n >= d->opt.node || tpz_peer_is_up(d->ep, n))
			continue;
		int rc = tpz_connect(d->ep, n, d->map.nodes[i].url, CONNECT_MS);
		if (rc == 0 || rc == -EISCONN) {
			TIP_INC(&d->ctr, connects, rc == 0);
			last_err[n] = 0;
			continue;
		}
		TIP_INC(&d->ctr, connect_failures, 1);
		if (last_err[n] != rc)
			tip_log(TIP_INFO, "waiting for node %u (%s): %s; retrying every %d ms", n, d->map.nodes[i].url,
				tpz_strerror(rc), RETRY_TICKS * TICK_MS);
		last_err[n] = rc;
	}
}

static int setup_interface(struct tip_daemon *d)
{
	char err[256];
	int back = -1, rc;

	if (d->opt.netns && (rc = tip_netns_enter(d->opt.netns, &back)) < 0) {
		tip_log(TIP_ERR, "cannot enter network namespace %s: %s%s", d->opt.netns, strerror(-rc),
			rc == -EPERM ? " (needs root or CAP_SYS_ADMIN)" : "");
		return rc;
	}
	rc = tip_tun_open(d, err, sizeof(err));
	if (rc == 0 && (rc = tip_if_configure(d, err, sizeof(err))) < 0) {
		close(d->tun_fd);
		d->tun_fd = -1;
	}
	if (rc < 0)
		tip_log(TIP_ERR, "%s", err);
	if (back >= 0 && tip_netns_leave(back) < 0) {
		tip_log(TIP_ERR, "cannot return to our network namespace: %s", strerror(errno));
		return -EIO;
	}
	return rc;
}

static int setup_endpoint(struct tip_daemon *d, const char *secret)
{
	struct tpz_config cfg;
	const char *me = tip_map_url(&d->map, d->opt.node);
	int rc;

	tpz_config_default(&cfg);
	cfg.node = d->opt.node;
	cfg.fabric = uses(&d->map, "shm") ? d->opt.fabric : NULL;
	cfg.fabric_nodes = d->map.max_node + 1 > 16 ? d->map.max_node + 1 : 16;
	cfg.secret = secret;
	cfg.spin_us = 0;   /* rx.c spins itself, yielding the CPU */
	cfg.pool_frames = d->opt.pool_frames;
	cfg.ring_slots = d->opt.ring_slots;
	cfg.log = tip_tpz_log;
	if ((rc = tpz_endpoint_create(&cfg, &d->ep)) < 0) {
		tip_log(TIP_ERR, "cannot create the Trapeze endpoint (node %u%s%s): %s", d->opt.node,
			cfg.fabric ? ", fabric " : "", cfg.fabric ? cfg.fabric : "", tpz_strerror(rc));
		return rc;
	}
	d->frame_size = tpz_frame_size(d->ep);
	if ((rc = tip_rx_register(d)) < 0) {
		tip_log(TIP_ERR, "cannot register handler %u: %s", TIP_HANDLER, tpz_strerror(rc));
		return rc;
	}
	if (strcmp(me, "shm") != 0 && (rc = tpz_listen(d->ep, me)) < 0) {
		tip_log(TIP_ERR, "cannot listen on %s: %s", me, tpz_strerror(rc));
		return rc;
	}
	return 0;
}

static void log_start(struct tip_daemon *d)
{
	char off[96], a[64], addrs[512] = "";
	size_t n = 0;

	for (uint32_t k = 0; k < d->map.n && n < sizeof(addrs) - 70; k++)
		if (d->map.ent[k].node == d->opt.node && d->opt.addr)
			n += (size_t)snprintf(addrs + n, sizeof(addrs) - n, " %s",
					      tip_addr_str(&d->map.ent[k].addr, true, a, sizeof(a)));
	tip_log(TIP_INFO, "interface %s%s%s up: mtu %u, offloads %s,%s%s; node %u (%s), handler %u, %zu KiB frames",
		d->ifname, d->opt.netns ? " in netns " : "", d->opt.netns ? d->opt.netns : "", d->opt.mtu,
		tip_offload_str(d->offloads, off, sizeof(off)), addrs[0] ? " addresses" : " no addresses", addrs,
		d->opt.node, tip_map_url(&d->map, d->opt.node), TIP_HANDLER, d->frame_size >> 10);
}

/* Until SIGINT/SIGTERM: links, counters, SIGUSR1. */
static void main_loop(struct tip_daemon *d, const sigset_t *sigs)
{
	static int last_err[TPZ_MAX_NODES];
	struct timespec tick = { 0, TICK_MS * 1000000L };

	for (unsigned t = 0;; t++) {
		if (t % RETRY_TICKS == 0)
			keep_links(d, last_err);
		tip_stats_publish(d);
		int sig = sigtimedwait(sigs, NULL, &tick);
		if (sig == SIGUSR1)
			tip_stats_log(d);
		else if (sig > 0) {
			tip_log(TIP_INFO, "%s: stopping", strsignal(sig));
			return;
		}
		if (atomic_load(&d->stop))   /* a thread gave up, and said why */
			return;
	}
}

static void defaults(struct tip_options *o)
{
	memset(o, 0, sizeof(*o));
	o->tun_dev = "/dev/net/tun";
	o->fabric = "tpz-ipd";
	o->mtu = TIP_MTU_DEFAULT;
	o->offload = true;
	o->addr = true;
	o->spin_us = 50;
	o->tx_spin_us = 50;
	o->pool_frames = 1024;
	o->ring_slots = 256;
}

int main(int argc, char **argv)
{
	static struct tip_daemon dd;
	struct tip_daemon *d = &dd;
	char err[320], secret[128];
	bool check = false;
	pthread_t tx, rx;
	sigset_t sigs;
	int rc, code = 1;

	defaults(&d->opt);
	d->tun_fd = -1;
	d->stop_fd = -1;
	if ((rc = parse_args(argc, argv, &d->opt, &check)) >= 0)
		return rc;
	tip_log_level = d->opt.verbose >= 2 ? TIP_DEBUG + 1 : d->opt.verbose ? TIP_DEBUG : TIP_INFO;
	tip_log_node = d->opt.node;
	if (tip_map_load(&d->map, d->opt.cluster, err, sizeof(err)) < 0) {
		tip_log(TIP_ERR, "%s", err);
		return 2;
	}
	if (!tip_map_url(&d->map, d->opt.node)) {
		tip_log(TIP_ERR, "node %u has no 'node' line in %s", d->opt.node, d->opt.cluster);
		return 2;
	}
	snprintf(d->ifname, sizeof(d->ifname), "%s", d->opt.ifname ? d->opt.ifname : "");
	if (!d->opt.ifname)
		snprintf(d->ifname, sizeof(d->ifname), "tip%u", d->opt.node);
	bool tcp = uses(&d->map, "tcp://");
	if (tcp && !d->opt.secret_file) {
		tip_log(TIP_ERR, "%s has tcp nodes: give the cluster secret with --secret-file", d->opt.cluster);
		return 2;
	}
	if (check) {
		print_plan(d);
		return 0;
	}
	if (tcp && read_secret(d->opt.secret_file, secret, sizeof(secret)) < 0)
		return 2;

	/* Signals are taken by the main thread only; the others inherit the mask. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGHUP);
	sigaddset(&sigs, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);
	d->start_ns = tip_now_ns();
	if (d->opt.cpus) {   /* before any thread: they inherit it */
		cpu_set_t set;
		parse_cpus(d->opt.cpus, &set);
		if (sched_setaffinity(0, sizeof(set), &set) < 0) {
			tip_log(TIP_ERR, "cannot run on CPUs %s: %s", d->opt.cpus, strerror(errno));
			return 1;
		}
	}

	if (setup_interface(d) < 0)
		goto out;
	if (setup_endpoint(d, tcp ? secret : NULL) < 0)
		goto out;
	if ((d->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0) {
		tip_log(TIP_ERR, "eventfd: %s", strerror(errno));
		goto out;
	}
	if (tip_stats_open(d) < 0)
		tip_log(TIP_WARN, "cannot publish counters in /dev/shm (--stats will not see us): %s", strerror(errno));
	if (pthread_create(&rx, NULL, tip_rx_main, d) != 0) {
		tip_log(TIP_ERR, "cannot start the rx thread");
		goto out;
	}
	if (pthread_create(&tx, NULL, tip_tx_main, d) != 0) {
		tip_log(TIP_ERR, "cannot start the tx thread");
		atomic_store(&d->stop, 1);
		pthread_join(rx, NULL);
		goto out;
	}
	log_start(d);
	main_loop(d, &sigs);
	code = atomic_load(&d->stop) ? 1 : 0;
	atomic_store(&d->stop, 1);
	uint64_t one = 1;
	if (write(d->stop_fd, &one, sizeof(one)) < 0) { /* the tx thread also wakes once a second */ }
	pthread_join(tx, NULL);
	pthread_join(rx, NULL);
	tip_stats_log(d);
out:
	/* Goodbyes to the peers first, then the interface goes with its fd. */
	tpz_endpoint_destroy(d->ep);
	if (d->tun_fd >= 0)
		close(d->tun_fd);
	if (d->stop_fd >= 0)
		close(d->stop_fd);
	tip_stats_close(d);
	tip_map_free(&d->map);
	if (code == 0)
		tip_log(TIP_INFO, "stopped; interface %s removed", d->ifname);
	return code;
}
