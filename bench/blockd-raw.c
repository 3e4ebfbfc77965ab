/*
 * blockd-raw - one slice-blockd alone, driven by raw NetRPC calls: what the
 * server costs per request before any striping client is involved.
 *
 * Starts build/bin/slice-blockd (the one beside this program's build
 * directory; --bin elsewhere) on a fresh data directory under /tmp, fills
 * one object, and runs timed phases, each printing one JSON line:
 *
 *   write_seq     sequential WRITEs of --size bytes, unstable
 *   write_stable  the same, each acknowledged stable (fdatasync)
 *   read_hit      random READs answered from the server's cache
 *   read_miss     random READs with --cache-mb 0 (the disk path: pread
 *                 through the page cache, CRC32C of every 4 KiB, no cache)
 *
 * {"test":"blockd_raw","phase":..,"link":..,"size":..,"qd":..,"ops":..,
 *  "secs":..,"iops":..,"mib_s":..,"lat_us_mean":..}
 *
 * usage: blockd-raw [--link shm|tcp] [--size BYTES] [--qd N] [--secs S]
 *                   [--obj-mb M] [--bin PATH] [--cpu-server N --cpu-client N]
 *                   [--phase write_seq|write_stable|read_hit|read_miss]
 *                   [--spin-us U (both ends': Trapeze's poll-before-sleep)]
 * The server and client are not pinned unless asked: say so next to the
 * figures (a cross-vCPU wake-up costs ~25 us on the reference VM).
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "netrpc.h"
#include "slice_wire.h"

#define SERVER 2u
#define CLIENT 1u
#define QD_MAX 64

static struct {
	const char *link, *bin;
	uint32_t    size, qd;
	double      secs;
	uint64_t    obj_mb;
	int         cpu_server, cpu_client;
	const char *only;          /* --phase: run just this one */
	const char *spin;          /* --spin-us: both ends' */
} o = { .link = "shm", .size = 65536, .qd = 8, .secs = 2.0, .obj_mb = 256,
	.cpu_server = -1, .cpu_client = -1 };

static char dir[64], secret[96], fabric[48];
static pid_t server_pid;

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void die(const char *what, int rc)
{
	fprintf(stderr, "blockd-raw: %s: %s\n", what, rc ? tpz_strerror(rc) : "failed");
	if (server_pid > 0)
		kill(server_pid, SIGKILL);
	exit(1);
}

static void pin(int cpu)
{
	cpu_set_t set;

	if (cpu < 0)
		return;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	sched_setaffinity(0, sizeof(set), &set);
}

/* ---- the server ------------------------------------------------------------- */

static int rm_one(const char *p, const struct stat *s, int f, struct FTW *w)
{
	(void)s; (void)f; (void)w;
	return remove(p);
}

static int start_server(const char *cache_mb)
{
	const char *tcp = strcmp(o.link, "tcp") == 0 ? "tcp://127.0.0.1:0" : "shm";
	const char *argv[] = { o.bin, "--node", "2", "--data", dir, "--listen", tcp, "--cache-mb", cache_mb,
			       strcmp(tcp, "shm") ? "--secret-file" : "--fabric",
			       strcmp(tcp, "shm") ? secret : fabric, "--log-level", "warn",
			       o.spin ? "--spin-us" : NULL, o.spin, NULL };
	char line[128] = "";
	int out[2], port = -1;

	if (pipe(out) < 0)
		die("pipe", -errno);
	if ((server_pid = fork()) == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		pin(o.cpu_server);
		dup2(out[1], 1);
		close(out[0]);
		execv(o.bin, (char **)argv);
		_exit(127);
	}
	close(out[1]);
	struct pollfd p = { .fd = out[0], .events = POLLIN };
	if (poll(&p, 1, 10000) > 0) {
		ssize_t n = read(out[0], line, sizeof(line) - 1);
		line[n > 0 ? n : 0] = '\0';
	}
	close(out[0]);
	if (sscanf(line, "ready node=2 tcp=%d", &port) != 1)
		die("slice-blockd did not get ready", 0);
	return port;
}

static void stop_server(void)
{
	kill(server_pid, SIGTERM);
	waitpid(server_pid, NULL, 0);
	server_pid = 0;
}

static struct nrpc *connect_client(int port, struct tpz_endpoint **epp)
{
	struct tpz_config cfg;
	struct tpz_endpoint *ep;
	struct nrpc *r;
	char url[64];
	int rc;

	tpz_config_default(&cfg);
	cfg.node = CLIENT;
	cfg.fabric = strcmp(o.link, "shm") == 0 ? fabric : NULL;
	cfg.secret = "blockd-raw-secret";
	if (o.spin)
		cfg.spin_us = (uint32_t)atoi(o.spin);   /* both ends alike */
	if ((rc = tpz_endpoint_create(&cfg, &ep)) < 0)
		die("endpoint", rc);
	snprintf(url, sizeof(url), cfg.fabric ? "shm" : "tcp://127.0.0.1:%d", port);
	if ((rc = tpz_connect(ep, SERVER, url, 5000)) < 0)
		die("connect", rc);
	for (int i = 0; i < 5000 && !tpz_peer_is_up(ep, SERVER); i++)
		tpz_wait(ep, 1);
	if ((rc = nrpc_create(ep, NULL, &r)) < 0)
		die("nrpc_create", rc);
	*epp = ep;
	return r;
}

/* ---- phases ------------------------------------------------------------------- */

struct slot {
	struct slb_rw      a;
	struct tpz_payload pl;
	uint8_t           *mem;
	double             t0;
	bool               busy;
};

static struct slot slots[QD_MAX];
static uint64_t done_ops, failed;
static double lat_sum;

static void on_end(struct nrpc *r, struct nrpc_result *res, void *arg)
{
	struct slot *s = arg;

	if (res->status != 0)
		failed++;
	lat_sum += now_s() - s->t0;
	done_ops++;
	s->busy = false;
}

static uint64_t rnd(void)
{
	static uint64_t x = 88172645463325252ull;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return x;
}

static void phase(struct nrpc *r, const char *name, bool write, bool stable, bool random)
{
	if (o.only && strcmp(o.only, name))
		return;
	uint64_t span = o.obj_mb << 20, next = 0, units = span / o.size;
	double t_start = now_s(), t_end = t_start + o.secs;

	done_ops = failed = 0;
	lat_sum = 0;
	for (;;) {
		double t = now_s();
		for (uint32_t i = 0; i < o.qd && t < t_end; i++) {
			struct slot *s = &slots[i];
			if (s->busy)
				continue;
			uint64_t off = (random ? rnd() % units : next++ % units) * o.size;
			s->a = (struct slb_rw){ .obj = 1, .off = off, .len = o.size, .flags = stable ? SLB_STABLE : 0 };
			s->pl = (struct tpz_payload){ .nseg = 1, .seg = { { s->mem, o.size } } };
			struct nrpc_call_desc d = { .dst = SERVER, .op = write ? SLB_WRITE : SLB_READ, .args = &s->a,
						    .args_len = sizeof(s->a), .payload = write ? &s->pl : NULL,
						    .reply_buf = write ? NULL : &s->pl, .timeout_ms = 30000 };
			nrpc_call_t h;
			s->t0 = t;
			if (nrpc_call_async(r, &d, NRPC_CONT, on_end, s, &h) == 0)
				s->busy = true;
		}
		bool any = false;
		for (uint32_t i = 0; i < o.qd; i++)
			any |= slots[i].busy;
		if (t >= t_end && !any)
			break;
		/* Nothing arrived: wait the way a client thread would (Trapeze
		 * spins spin_us, then sleeps), so a server on the same CPU runs. */
		if (nrpc_poll(r, 0) == 0)
			nrpc_progress(r, 1);
	}
	double secs = now_s() - t_start;
	if (failed)
		fprintf(stderr, "blockd-raw: %s: %llu calls failed\n", name, (unsigned long long)failed);
	printf("{\"test\":\"blockd_raw\",\"phase\":\"%s\",\"link\":\"%s\",\"size\":%u,\"qd\":%u,\"ops\":%llu,"
	       "\"secs\":%.3f,\"iops\":%.0f,\"mib_s\":%.1f,\"lat_us_mean\":%.1f,\"failed\":%llu}\n", name,
	       o.link, o.size, o.qd, (unsigned long long)done_ops, secs, done_ops / secs,
	       done_ops * (double)o.size / secs / 1048576.0, done_ops ? lat_sum / done_ops * 1e6 : 0.0,
	       (unsigned long long)failed);
	fflush(stdout);
}

/* One call of op over the whole object in SLB_IO_MAX pieces (a fill, a
 * cache warm-up), then a COMMIT. */
static void sweep(struct nrpc *r, uint16_t op)
{
	uint64_t span = o.obj_mb << 20;

	for (uint64_t off = 0; off < span; off += SLB_IO_MAX) {
		uint32_t len = span - off < SLB_IO_MAX ? (uint32_t)(span - off) : SLB_IO_MAX;
		struct slb_rw a = { .obj = 1, .off = off, .len = len };
		struct tpz_payload pl = { .nseg = 1, .seg = { { slots[0].mem, len } } };
		struct nrpc_call_desc d = { .dst = SERVER, .op = op, .args = &a, .args_len = sizeof(a),
					    .payload = op == SLB_WRITE ? &pl : NULL,
					    .reply_buf = op == SLB_READ ? &pl : NULL, .timeout_ms = 30000 };
		struct nrpc_result res;
		int rc = nrpc_call(r, &d, &res);
		if (rc < 0 || res.status < 0)
			die(op == SLB_WRITE ? "fill" : "warm-up", rc < 0 ? rc : res.status);
	}
	struct slb_obj ob = { 1 };
	struct nrpc_call_desc d = { .dst = SERVER, .op = SLB_COMMIT, .args = &ob, .args_len = sizeof(ob),
				    .timeout_ms = 60000 };
	struct nrpc_result res;
	int rc = nrpc_call(r, &d, &res);
	if (rc < 0 || res.status < 0)
		die("commit", rc < 0 ? rc : res.status);
}

static void usage(int rc)
{
	fprintf(rc ? stderr : stdout, "usage: blockd-raw [--link shm|tcp] [--size BYTES] [--qd N] [--secs S] "
		"[--obj-mb M] [--bin PATH] [--cpu-server N] [--cpu-client N] [--phase NAME] [--spin-us U]\n");
	exit(rc);
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "link", 1, NULL, 'l' }, { "size", 1, NULL, 's' }, { "qd", 1, NULL, 'q' },
		{ "secs", 1, NULL, 't' }, { "obj-mb", 1, NULL, 'm' }, { "bin", 1, NULL, 'b' },
		{ "cpu-server", 1, NULL, 'S' }, { "cpu-client", 1, NULL, 'C' }, { "phase", 1, NULL, 'p' },
		{ "spin-us", 1, NULL, 'u' },
		{ "help", 0, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static char bin[PATH_MAX];
	int c;

	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'l': o.link = optarg; break;
		case 's': o.size = (uint32_t)strtoul(optarg, NULL, 0); break;
		case 'q': o.qd = (uint32_t)strtoul(optarg, NULL, 0); break;
		case 't': o.secs = atof(optarg); break;
		case 'm': o.obj_mb = strtoull(optarg, NULL, 0); break;
		case 'b': o.bin = optarg; break;
		case 'S': o.cpu_server = atoi(optarg); break;
		case 'C': o.cpu_client = atoi(optarg); break;
		case 'p': o.only = optarg; break;
		case 'u': o.spin = optarg; break;
		case 'h': usage(0); break;
		default: usage(2);
		}
	}
	if ((strcmp(o.link, "shm") && strcmp(o.link, "tcp")) || !o.size || o.size > SLB_IO_MAX || !o.qd ||
	    o.qd > QD_MAX || o.secs <= 0 || o.obj_mb == 0 || (o.obj_mb << 20) < o.size)
		usage(2);
	if (!o.bin) {   /* build/bench/blockd-raw -> build/bin/slice-blockd */
		ssize_t n = readlink("/proc/self/exe", bin, sizeof(bin) - 32);
		bin[n > 0 ? n : 0] = '\0';
		char *s = strrchr(bin, '/');
		if (s)
			*s = '\0';
		s = strrchr(bin, '/');
		if (s)
			*s = '\0';
		strcat(bin, "/bin/slice-blockd");
		o.bin = bin;
	}
	snprintf(dir, sizeof(dir), "/tmp/blockd-raw-%d", (int)getpid());
	snprintf(secret, sizeof(secret), "/tmp/blockd-raw-%d.secret", (int)getpid());
	snprintf(fabric, sizeof(fabric), "blockd-raw-%d", (int)getpid());
	umask(077);
	FILE *f = fopen(secret, "w");
	if (!f || fputs("blockd-raw-secret\n", f) < 0 || fclose(f))
		die("secret file", -errno);
	signal(SIGPIPE, SIG_IGN);
	for (uint32_t i = 0; i < QD_MAX; i++)
		if (posix_memalign((void **)&slots[i].mem, 4096, SLB_IO_MAX) || !memset(slots[i].mem, 0x5a, SLB_IO_MAX))
			die("memory", -ENOMEM);

	char cache[32];
	struct tpz_endpoint *ep;
	snprintf(cache, sizeof(cache), "%llu", (unsigned long long)o.obj_mb + 64);
	int port = start_server(cache);
	pin(o.cpu_client);
	struct nrpc *r = connect_client(port, &ep);
	sweep(r, SLB_WRITE);
	phase(r, "write_seq", true, false, false);
	phase(r, "write_stable", true, true, false);
	sweep(r, SLB_READ);                          /* the whole object into the cache */
	uint32_t qd = o.qd;
	o.qd = 1;
	phase(r, "read_hit", false, false, true);
	o.qd = qd;
	phase(r, "read_hit", false, false, true);
	nrpc_destroy(r);
	tpz_endpoint_destroy(ep);
	stop_server();

	if (o.only && strcmp(o.only, "read_miss"))
		goto out;
	port = start_server("0");
	r = connect_client(port, &ep);
	o.qd = 1;
	phase(r, "read_miss", false, false, true);
	o.qd = qd;
	phase(r, "read_miss", false, false, true);
	nrpc_destroy(r);
	tpz_endpoint_destroy(ep);
	stop_server();
out:
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	unlink(secret);
	return 0;
}
