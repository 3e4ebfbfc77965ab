/*
 * tpz-stat - show the counters of the Trapeze endpoints running on this host
 * (for this user), from the pages they publish in /dev/shm.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "trapeze_stat.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: tpz-stat [--json] [--watch SECONDS] [--count N] [--node ID]\n"
		   "Show the counters of every Trapeze endpoint of this user on this host.\n\n"
		   "  --json           one JSON object per endpoint\n"
		   "  --watch S        repeat every S seconds\n"
		   "  --count N        with --watch: stop after N rounds\n"
		   "  --node ID        only endpoints with this node id\n"
		   "  -h, --help       this text\n\n"
		   "Endpoints refresh their page about every 100 ms while they poll.\n"
		   "Pages of processes that died are removed.\n");
}

static bool read_page(const char *name, struct tpz_stat_page *out)
{
	char path[300];
	snprintf(path, sizeof(path), "/%s", name);
	int fd = shm_open(path, O_RDONLY | O_CLOEXEC, 0);
	if (fd < 0)
		return false;
	struct tpz_stat_page *p = mmap(NULL, sizeof(*p), PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	if (p == MAP_FAILED)
		return false;
	bool ok = false;
	for (int tries = 0; tries < 100 && !ok; tries++) {   /* seqlock read */
		uint64_t g = atomic_load_explicit(&p->gen, memory_order_acquire);
		if (g & 1)
			continue;
		memcpy(out, p, sizeof(*out));
		atomic_thread_fence(memory_order_acquire);
		ok = atomic_load_explicit(&p->gen, memory_order_relaxed) == g && out->magic == TPZ_STAT_MAGIC;
	}
	munmap(p, sizeof(*p));
	return ok;
}

#define C(f) (unsigned long long)s->ctr.f
static void print_json(const struct tpz_stat_page *s)
{
	printf("{\"node\":%u,\"pid\":%u,\"fabric\":\"%s\",\"msgs_sent\":%llu,\"msgs_recv\":%llu,"
	       "\"bytes_sent\":%llu,\"bytes_recv\":%llu,\"ring_full\":%llu,\"wakeups_sent\":%llu,"
	       "\"wakeups_suppressed\":%llu,\"sleeps\":%llu,\"ipt_hits\":%llu,\"ipt_misses\":%llu,"
	       "\"ipt_drops\":%llu,\"unknown_handler\":%llu,\"peers_up\":%llu,\"peers_down\":%llu,"
	       "\"protocol_errors\":%llu,\"auth_refused\":%llu,\"payload_copies\":%llu,"
	       "\"payload_zero_copy\":%llu,\"frames_free\":%llu,\"frames_total\":%llu}\n",
	       s->node, s->pid, s->fabric, C(msgs_sent), C(msgs_recv), C(bytes_sent), C(bytes_recv),
	       C(ring_full), C(wakeups_sent), C(wakeups_suppressed), C(sleeps), C(ipt_hits), C(ipt_misses),
	       C(ipt_drops), C(unknown_handler), C(peers_up), C(peers_down), C(protocol_errors),
	       C(auth_refused), C(payload_copies), C(payload_zero_copy), C(frames_free), C(frames_total));
}

static void print_text(const struct tpz_stat_page *s)
{
	printf("node %u (pid %u%s%s)\n", s->node, s->pid, s->fabric[0] ? ", fabric " : "", s->fabric);
	printf("  messages  sent %llu  received %llu   payload bytes  sent %llu  received %llu\n",
	       C(msgs_sent), C(msgs_recv), C(bytes_sent), C(bytes_recv));
	printf("  ring full %llu   wake-ups sent %llu  suppressed %llu   sleeps %llu\n", C(ring_full),
	       C(wakeups_sent), C(wakeups_suppressed), C(sleeps));
	printf("  IPT hits %llu  misses %llu  drops %llu   unknown handler %llu\n", C(ipt_hits),
	       C(ipt_misses), C(ipt_drops), C(unknown_handler));
	printf("  peers up %llu  down %llu   protocol errors %llu  auth refused %llu\n", C(peers_up),
	       C(peers_down), C(protocol_errors), C(auth_refused));
	printf("  payloads copied once %llu  zero-copy %llu   frames free %llu of %llu\n", C(payload_copies),
	       C(payload_zero_copy), C(frames_free), C(frames_total));
}

static int show(bool json, long node)
{
	char prefix[64];
	int n = 0;
	snprintf(prefix, sizeof(prefix), TPZ_STAT_PREFIX "%u.", (unsigned)geteuid());
	DIR *d = opendir("/dev/shm");
	if (!d) {
		fprintf(stderr, "tpz-stat: cannot read /dev/shm: %s\n", strerror(errno));
		return -1;
	}
	for (struct dirent *e; (e = readdir(d));) {
		struct tpz_stat_page s;
		if (strncmp(e->d_name, prefix, strlen(prefix)) != 0 || !read_page(e->d_name, &s))
			continue;
		if (kill((pid_t)s.pid, 0) < 0 && errno == ESRCH) {   /* left by a dead process */
			char path[300];
			snprintf(path, sizeof(path), "/%s", e->d_name);
			shm_unlink(path);
			continue;
		}
		if (node >= 0 && s.node != (uint32_t)node)
			continue;
		json ? print_json(&s) : print_text(&s);
		n++;
	}
	closedir(d);
	if (!n && !json)
		printf("no Trapeze endpoints of this user are running\n");
	return n;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, 0, 'j' }, { "watch", required_argument, 0, 'w' },
		{ "count", required_argument, 0, 'c' }, { "node", required_argument, 0, 'n' },
		{ "help", no_argument, 0, 'h' }, { 0, 0, 0, 0 } };
	bool json = false;
	double watch = 0;
	long count = -1, node = -1;
	int o;
	char *end;

	while ((o = getopt_long(argc, argv, "jw:c:n:h", opts, NULL)) != -1) {
		switch (o) {
		case 'j': json = true; break;
		case 'w': watch = strtod(optarg, &end); if (*end || watch <= 0) goto bad; break;
		case 'c': count = strtol(optarg, &end, 10); if (*end || count < 1) goto bad; break;
		case 'n': node = strtol(optarg, &end, 10); if (*end || node < 0) goto bad; break;
		case 'h': usage(stdout); return 0;
		default: goto bad;
		}
	}
	if (optind != argc)
		goto bad;
	for (long i = 0;; i++) {
		if (show(json, node) < 0)
			return 1;
		if (watch <= 0 || (count > 0 && i + 1 >= count))
			return 0;
		fflush(stdout);
		usleep((useconds_t)(watch * 1e6));
	}
bad:
	usage(stderr);
	return 2;
}
