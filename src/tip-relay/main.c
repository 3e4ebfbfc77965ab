/*
 * tip-relay - a plain TUN-to-TUN relay, without Trapeze: the floor that
 * tpz-ipd is measured against (bench/trapeze-ip.sh).
 *
 * Two TUN interfaces (one in each of two network namespaces), each with
 * the same virtio-net header and offloads tpz-ipd uses; one thread per
 * direction reads a packet from one and writes it, header and all, to the
 * other.  That is the least any user-space forwarder does: one read and
 * one write per packet, no copy in between, no messaging system.  With
 * --spin-us it polls like tpz-ipd does (yielding the CPU) before sleeping,
 * so the two can be compared with the same policy.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "tip_wire.h"

#ifndef TUN_F_USO4
#define TUN_F_USO4 0x20
#endif
#ifndef TUN_F_USO6
#define TUN_F_USO6 0x40
#endif

struct dir {
	int       from, to;
	unsigned  spin_us;
	uint64_t  packets, bytes, errors;   /* one writer; read at the end */
};
#define INC(f, n) __atomic_store_n(&(f), __atomic_load_n(&(f), __ATOMIC_RELAXED) + (n), __ATOMIC_RELAXED)
#define GET(f) (unsigned long long)__atomic_load_n(&(f), __ATOMIC_RELAXED)

static void usage(FILE *f)
{
	fprintf(f,
"usage: tip-relay --netns-a NS --netns-b NS [--ifname-a NAME] [--ifname-b NAME]\n"
"                 [--no-offload] [--spin-us N]\n"
"\n"
"A plain TUN-to-TUN relay (no Trapeze), the baseline of bench/trapeze-ip.sh:\n"
"creates interface A (default tra0) in namespace NS A and B (trb0) in NS B,\n"
"with tpz-ipd's virtio-net header and offloads, and copies every packet from\n"
"one to the other (one read, one write, a thread per direction).  Addresses,\n"
"MTU and 'up' are left to the caller (ip -n NS ...).  Prints 'ready' when the\n"
"interfaces exist; stops on SIGINT/SIGTERM and prints its counters.\n"
"\n"
"  --no-offload   no checksum/segmentation offloads\n"
"  --spin-us N    poll N us (yielding the CPU) before sleeping in poll()\n"
"  -h, --help     this text\n");
}

static int tun_in(const char *ns, const char *name, bool offload)
{
	static const unsigned tries[] = {
		TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN | TUN_F_USO4 | TUN_F_USO6,
		TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN,
		TUN_F_CSUM,
	};
	char path[256];
	int back = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC), nsfd, fd = -1, hdr = TIP_VNET_SIZE;
	struct ifreq ifr = { .ifr_flags = IFF_TUN | IFF_NO_PI | IFF_VNET_HDR | IFF_TUN_EXCL };

	snprintf(path, sizeof(path), strchr(ns, '/') ? "%s" : "/run/netns/%s", ns);
	if (back < 0 || (nsfd = open(path, O_RDONLY | O_CLOEXEC)) < 0 || setns(nsfd, CLONE_NEWNET) < 0) {
		fprintf(stderr, "tip-relay: cannot enter network namespace %s: %s\n", ns, strerror(errno));
		exit(1);
	}
	close(nsfd);
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	if ((fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC)) < 0 || ioctl(fd, TUNSETIFF, &ifr) < 0 ||
	    ioctl(fd, TUNSETVNETHDRSZ, &hdr) < 0) {
		fprintf(stderr, "tip-relay: cannot create TUN interface %s in %s: %s\n", name, ns, strerror(errno));
		exit(1);
	}
	bool on = false;
	for (size_t i = 0; offload && i < sizeof(tries) / sizeof(tries[0]) && !on; i++)
		on = ioctl(fd, TUNSETOFFLOAD, tries[i]) == 0;
	if (!on)
		ioctl(fd, TUNSETOFFLOAD, 0);
	if (setns(back, CLONE_NEWNET) < 0) {
		fprintf(stderr, "tip-relay: cannot return to our namespace: %s\n", strerror(errno));
		exit(1);
	}
	close(back);
	return fd;
}

static void *relay(void *arg)
{
	struct dir *d = arg;
	uint8_t *buf = malloc(TIP_VNET_SIZE + TIP_PKT_MAX);
	uint64_t idle = 0, spin_ns = (uint64_t)d->spin_us * 1000;

	if (!buf)
		return NULL;
	for (;;) {
		ssize_t n = read(d->from, buf, TIP_VNET_SIZE + TIP_PKT_MAX);
		if (n > 0) {
			idle = 0;
			if (write(d->to, buf, (size_t)n) == n) {
				INC(d->packets, 1);
				INC(d->bytes, (uint64_t)n - TIP_VNET_SIZE);
			} else {
				INC(d->errors, 1);
			}
			continue;
		}
		if (n < 0 && errno != EAGAIN && errno != EINTR) {
			INC(d->errors, 1);
			usleep(1000);
			continue;
		}
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		uint64_t now = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
		if (!idle)
			idle = now;
		if (now - idle < spin_ns) {
			sched_yield();
			continue;
		}
		struct pollfd p = { .fd = d->from, .events = POLLIN };
		poll(&p, 1, -1);
		idle = 0;
	}
	return NULL;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "netns-a", required_argument, 0, 'a' }, { "netns-b", required_argument, 0, 'b' },
		{ "ifname-a", required_argument, 0, 'A' }, { "ifname-b", required_argument, 0, 'B' },
		{ "no-offload", no_argument, 0, 'o' },    { "spin-us", required_argument, 0, 's' },
		{ "help", no_argument, 0, 'h' },          { 0, 0, 0, 0 },
	};
	const char *nsa = NULL, *nsb = NULL, *ifa = "tra0", *ifb = "trb0";
	bool offload = true;
	unsigned spin = 0;
	int c;

	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (c) {
		case 'a': nsa = optarg; break;
		case 'b': nsb = optarg; break;
		case 'A': ifa = optarg; break;
		case 'B': ifb = optarg; break;
		case 'o': offload = false; break;
		case 's': spin = (unsigned)atoi(optarg); break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (!nsa || !nsb) {
		usage(stderr);
		return 2;
	}
	sigset_t sigs;
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	int fa = tun_in(nsa, ifa, offload), fb = tun_in(nsb, ifb, offload);
	fcntl(fa, F_SETFL, O_NONBLOCK);
	fcntl(fb, F_SETFL, O_NONBLOCK);
	static struct dir ab, ba;
	ab = (struct dir){ .from = fa, .to = fb, .spin_us = spin };
	ba = (struct dir){ .from = fb, .to = fa, .spin_us = spin };
	pthread_t t1, t2;
	if (pthread_create(&t1, NULL, relay, &ab) || pthread_create(&t2, NULL, relay, &ba)) {
		fprintf(stderr, "tip-relay: cannot start threads\n");
		return 1;
	}
	printf("ready: %s in %s <-> %s in %s, offloads %s, spin %u us\n", ifa, nsa, ifb, nsb, offload ? "on" : "off",
	       spin);
	fflush(stdout);
	int sig;
	sigwait(&sigs, &sig);
	printf("a->b %llu packets %llu bytes %llu errors; b->a %llu packets %llu bytes %llu errors\n",
	       GET(ab.packets), GET(ab.bytes), GET(ab.errors), GET(ba.packets), GET(ba.bytes), GET(ba.errors));
	return 0;   /* the interfaces go with our descriptors */
}
