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
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tip.h"

#define TICK_MS          100
#define RETRY_TICKS      5        /* connect attempts every 500 ms */
#define CONNECT_MS       1000

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

int main(int argc, char **argv)
{
	static struct tip_daemon dd;
	struct tip_daemon *d = &dd;
	char err[320], secret[128];
	bool check = false;
	pthread_t tx, rx;
	sigset_t sigs;
	int rc, code = 1;

	tip_opts_default(&d->opt);
	d->tun_fd = -1;
	d->stop_fd = -1;
	if ((rc = tip_opts_parse(argc, argv, &d->opt, &check)) >= 0)
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
		tip_parse_cpus(d->opt.cpus, &set);
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
