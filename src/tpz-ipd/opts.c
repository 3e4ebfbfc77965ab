/*
 * opts.c - tpz-ipd's command line: --help, the defaults, the options.
 */
#include <errno.h>
#include <getopt.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tip.h"

/* Measured: the fastest MTU of the sweep in bench/results/trapeze-ip.md. */
#define TIP_MTU_DEFAULT  65535u

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
int tip_parse_cpus(const char *s, cpu_set_t *set)
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

int tip_opts_parse(int argc, char **argv, struct tip_options *o, bool *check)
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
			if (tip_parse_cpus(optarg, &set) < 0)
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

void tip_opts_default(struct tip_options *o)
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
