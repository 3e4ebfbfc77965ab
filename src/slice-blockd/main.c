/*
 * main.c - slice-blockd: start (store, cache, endpoint, NetRPC, I/O
 * threads), serve on the delivery loop, stop cleanly on SIGTERM/SIGINT.
 *
 * Startup order puts the data directory first (it may refuse: locked by
 * another daemon, not ours) and the network last, so a node never answers
 * before it can serve.  Shutdown: new requests are refused (-ESHUTDOWN),
 * those already on the I/O threads finish and are answered, replies still
 * reading cache blocks are given a moment, then everything written is
 * synced and the process exits 0.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "blockd.h"

static volatile sig_atomic_t stop_signal, dump_counters;

static void on_stop(int sig) { stop_signal = sig; }
static void on_usr1(int sig) { (void)sig; dump_counters = 1; }

/* Static: completions of lent cache blocks may run until the very end. */
static struct blockd bd;

pthread_rwlock_t *obj_lock(struct blockd *b, uint64_t obj)
{
	uint64_t h = obj * 0x9e3779b97f4a7c15ull;

	return &b->locks[h >> 56 & (BLOCKD_LOCKS - 1)];
}

static uint64_t random_verf(void)
{
	uint64_t v = 0;

	while (v == 0)
		if (getrandom(&v, sizeof(v), 0) != sizeof(v))
			v = (uint64_t)time(NULL) * 0x9e3779b97f4a7c15ull ^ (uint64_t)getpid();
	return v;
}

void blockd_new_verf(struct blockd *b, const char *why)
{
	uint64_t v = random_verf();

	atomic_store(&b->verf, v);
	blog(BLOG_WARN, "%s: new write verifier %016" PRIx64 ": clients must write their unstable "
	     "data again", why, v);
}

static void sync_failed(void *arg)
{
	blockd_new_verf(arg, "a sync failed");
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ---- startup ---------------------------------------------------------------- */

static int read_secret(const char *path, char *buf, size_t len)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		blog(BLOG_ERR, "cannot open secret file %s: %s", path, strerror(errno));
		return -errno;
	}
	if (fstat(fd, &st) == 0 && (st.st_mode & 077))
		blog(BLOG_WARN, "secret file %s is readable by others (mode %03o)", path,
		     (unsigned)(st.st_mode & 0777));
	ssize_t n = read(fd, buf, len);
	close(fd);
	if (n < 0)
		return -errno;
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' '))
		n--;
	if (n == 0 || (size_t)n >= len) {
		blog(BLOG_ERR, "secret file %s: want 1..%zu bytes of secret", path, len - 1);
		return -EINVAL;
	}
	buf[n] = '\0';
	return 0;
}

/* Two descriptors per open object, and some to spare. */
static void fit_open_files(struct blockd_opts *o)
{
	struct rlimit rl;
	rlim_t want = (rlim_t)o->max_open * 2 + 128;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur >= want)
		return;
	rl.rlim_cur = want < rl.rlim_max ? want : rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl);
	getrlimit(RLIMIT_NOFILE, &rl);
	if (rl.rlim_cur < want) {
		uint32_t fit = rl.rlim_cur > 256 ? (uint32_t)((rl.rlim_cur - 128) / 2) : 64;
		blog(BLOG_WARN, "open file limit %llu: keeping at most %u objects open, not %u",
		     (unsigned long long)rl.rlim_cur, fit, o->max_open);
		o->max_open = fit;
	}
}

static void *frame_get(void *ep) { return tpz_frame_alloc(ep); }
static void frame_put(void *ep, void *p) { tpz_frame_free(ep, p); }

/*
 * Over shm, cache blocks in the fabric's frame pool make a cache hit one
 * memcpy by the client, straight out of shared memory (the reply lends the
 * frames); in private memory the client's engine must use
 * process_vm_readv, which pins every 4 KiB page it reads.  The pool is
 * shared by every node of the host and sized by whoever created the
 * fabric, so the cache moves there only if all of it fits with a quarter
 * of the pool (at least FRAMES_KEPT) left free for messages - write-behind
 * and everyone else's payloads.  Over tcp it makes no difference.
 */
#define FRAMES_KEPT 64u
static void cache_to_frames(struct blockd *b, const struct blockd_opts *o)
{
	struct tpz_counters t;
	uint64_t want = (o->cache_mb << 20) / CACHE_BLOCK + 1;   /* + the block of zeros */

	b->zero = zero_block;
	if (!o->fabric || !o->cache_mb)
		return;
	tpz_counters(b->ep, &t);
	uint64_t keep = t.frames_total / 4 > FRAMES_KEPT ? t.frames_total / 4 : FRAMES_KEPT;
	if (tpz_frame_size(b->ep) != CACHE_BLOCK || t.frames_free < want + keep) {
		blog(BLOG_INFO, "cache in private memory: the fabric's pool has %llu of %llu frames free, "
		     "the cache needs %llu and %llu stay free for messages (a fabric created with more "
		     "--pool-frames makes cache hits one copy from shared memory)",
		     (unsigned long long)t.frames_free, (unsigned long long)t.frames_total,
		     (unsigned long long)want, (unsigned long long)keep);
		return;
	}
	uint8_t *zero = tpz_frame_alloc(b->ep);
	if (!zero || cache_use_memory(b->cache, frame_get, frame_put, b->ep) < 0) {
		if (zero)
			tpz_frame_free(b->ep, zero);
		blog(BLOG_INFO, "cache in private memory: other nodes took the fabric's frames first");
		return;
	}
	memset(zero, 0, CACHE_BLOCK);
	b->zero = zero;
	blog(BLOG_INFO, "cache in %llu frames of the fabric's pool (%llu were free): hits are lent "
	     "to shm replies", (unsigned long long)want, (unsigned long long)t.frames_free);
}

static int start_net(struct blockd *b, const struct blockd_opts *o, char *secret, int *port)
{
	struct tpz_config cfg;
	int rc;

	tpz_config_default(&cfg);
	cfg.node = o->node;
	cfg.max_payload = SLB_IO_MAX;
	cfg.pool_frames = o->pool_frames;
	cfg.fabric = o->fabric;
	cfg.log = blog_tpz;
	cfg.spin_us = 0;   /* the delivery loop spins itself (serve) */
	cfg.secret = secret[0] ? secret : NULL;
	rc = tpz_endpoint_create(&cfg, &b->ep);   /* it keeps its own copy */
	if (rc < 0) {
		blog(BLOG_ERR, "cannot create the endpoint (node %u%s%s): %s", o->node,
		     o->fabric ? ", fabric " : "", o->fabric ? o->fabric : "", tpz_strerror(rc));
		return rc;
	}
	cache_to_frames(b, o);
	struct nrpc_config nc;
	nrpc_config_default(&nc);
	nc.max_calls = 64;    /* we serve; we make no calls */
	nc.workers = 1;       /* our disk work runs on the I/O threads, not NetRPC's */
	if ((rc = nrpc_create(b->ep, &nc, &b->r)) < 0 || (rc = blockd_register(b)) < 0) {
		blog(BLOG_ERR, "cannot set up NetRPC: %s", tpz_strerror(rc));
		return rc;
	}
	*port = 0;
	for (int i = 0; i < o->nlisten; i++) {
		if ((rc = tpz_listen(b->ep, o->listen[i])) < 0) {
			blog(BLOG_ERR, "cannot listen on %s: %s", o->listen[i], tpz_strerror(rc));
			return rc;
		}
		if (strcmp(o->listen[i], "shm") == 0) {
			blog(BLOG_INFO, "listening on shm fabric %s", o->fabric);
		} else {
			*port = tpz_listen_port(b->ep);
			blog(BLOG_INFO, "listening on %s (port %d)", o->listen[i], *port);
		}
	}
	return 0;
}

/* The data directory, the cache, the I/O threads. */
static int start_local(struct blockd *b, struct blockd_opts *o)
{
	struct store_params sp = { .log = blog, .sync_failed = sync_failed, .arg = b };
	struct store_fs fs = { 0 };
	int rc;

	fit_open_files(o);   /* may lower max_open */
	sp.max_open = o->max_open;
	if ((rc = store_file_open(o->data, &sp, &b->st)) < 0) {
		blog(BLOG_ERR, "cannot use data directory %s: %s", o->data, strerror(-rc));
		return rc;
	}
	store_statfs(b->st, &fs);
	if ((rc = cache_create(o->cache_mb << 20, &b->cache)) < 0) {
		blog(BLOG_ERR, "cannot map a %" PRIu64 " MiB cache: %s", o->cache_mb, strerror(-rc));
		return rc;
	}
	if ((rc = ioq_start(&b->ioq, o->workers)) < 0) {
		blog(BLOG_ERR, "cannot start %u I/O threads: %s", o->workers, strerror(-rc));
		return rc;
	}
	blog(BLOG_INFO, "data %s: %" PRIu64 " objects, %" PRIu64 " of %" PRIu64 " MiB free; cache %" PRIu64
	     " MiB in %u KiB blocks; %u I/O threads; verifier %016" PRIx64, o->data, fs.objects,
	     fs.free_bytes >> 20, fs.total_bytes >> 20, o->cache_mb, CACHE_BLOCK >> 10, o->workers,
	     atomic_load(&b->verf));
	return 0;
}

static int start(struct blockd *b, struct blockd_opts *o, int *port)
{
	char secret[128] = "";
	int rc;

	b->o = o;
	atomic_init(&b->verf, random_verf());
	pthread_rwlockattr_t la;
	pthread_rwlockattr_init(&la);
	/* Writers first: a stream of reads must not starve a write. */
	pthread_rwlockattr_setkind_np(&la, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	for (unsigned i = 0; i < BLOCKD_LOCKS; i++)
		pthread_rwlock_init(&b->locks[i], &la);
	pthread_rwlockattr_destroy(&la);

	/* What can be refused without touching anything comes first. */
	if (o->secret_file && (rc = read_secret(o->secret_file, secret, sizeof(secret))) < 0)
		return rc;
	/* The network last: a node answers only once it can serve. */
	if ((rc = start_local(b, o)) == 0)
		rc = start_net(b, o, secret, port);
	explicit_bzero(secret, sizeof(secret));
	return rc;
}

/* ---- counters and shutdown ---------------------------------------------------- */

static void log_counters(struct blockd *b, const char *when)
{
	struct slb_blockd_counters c;
	struct store_counters sc;
	struct tpz_counters t;

	blockd_counters(b, &c);
	store_counters(b->st, &sc);
	tpz_counters(b->ep, &t);
#define L(f) (unsigned long long)atomic_load(&b->ctr.f)
	blog(BLOG_INFO, "%scounters: reads %llu (cache hits %llu, misses %llu, waited for the disk %llu, "
	     "bounced %llu, lent from frames %llu), writes %llu, "
	     "bytes read %llu written %llu, commits %llu, truncates %llu, removes %llu, stats %llu, "
	     "crc errors %llu, sync errors %llu, errors %llu; trapeze: payloads zero-copy %llu copied %llu",
	     when, (unsigned long long)c.reads, (unsigned long long)c.cache_hits,
	     (unsigned long long)c.cache_misses, L(deferred), L(bounced), L(lent),
	     (unsigned long long)c.writes,
	     (unsigned long long)c.bytes_read, (unsigned long long)c.bytes_written, L(commits),
	     L(truncates), L(removes), L(stats), (unsigned long long)c.crc_errors,
	     (unsigned long long)sc.sync_errors, (unsigned long long)c.errors,
	     (unsigned long long)t.payload_zero_copy, (unsigned long long)t.payload_copies);
#undef L
}

/* Drive delivery until cond or the deadline. */
#define SERVE_WHILE(b, cond, secs) do {                                      \
	double _end = now_s() + (secs);                                      \
	while ((cond) && now_s() < _end)                                     \
		nrpc_progress((b)->r, 10);                                   \
} while (0)

static int stop(struct blockd *b, bool started)
{
	int rc = 0;

	if (started) {
		atomic_store(&b->stopping, true);
		blog(BLOG_INFO, "stopping: new requests are refused; finishing %u in flight",
		     ioq_busy(&b->ioq));
		/* Until the I/O threads are done and 5 ms pass with nothing
		 * new: requests already in the rings get their -ESHUTDOWN
		 * rather than a reset. */
		double end = now_s() + 10.0;
		while (now_s() < end && (nrpc_progress(b->r, 5) > 0 || ioq_busy(&b->ioq) > 0))
			;
	}
	if (b->ioq.threads)
		ioq_stop(&b->ioq);
	if (b->r) {
		/* Replies still reading cache blocks: let the clients take them. */
		SERVE_WHILE(b, atomic_load(&b->pinned) > 0, 1.0);
		if (atomic_load(&b->pinned))
			blog(BLOG_WARN, "%u replies still hold cache blocks; dropping them",
			     atomic_load(&b->pinned));
		log_counters(b, "");
		nrpc_destroy(b->r);
	}
	if (b->st && (rc = store_close(b->st)) < 0)
		blog(BLOG_ERR, "syncing the data directory failed: unstable data may be lost");
	tpz_endpoint_destroy(b->ep);
	cache_destroy(b->cache);
	for (unsigned i = 0; i < BLOCKD_LOCKS; i++)
		pthread_rwlock_destroy(&b->locks[i]);
	return rc;
}

/*
 * The delivery loop.  After the last message it keeps polling for a while,
 * giving the CPU away between polls (sched_yield), then sleeps until a
 * client rings: a request that follows soon is taken without a wake-up
 * (tens of microseconds between two vCPUs).  Several servers often share
 * a CPU with each other and with their clients, so a server spinning in
 * place would hold the CPU for a whole time slice while the request waits
 * for another one; a yielding poller lets every runnable process in turn.
 *
 * How long to poll adapts, up to --spin-us: each idle gap (last message to
 * next) that a poll of at most spin_us would have covered sets the budget
 * to twice that gap; each longer one halves it.  A server whose requests
 * come more than spin_us apart (say 8 servers sharing one CPU, each asked
 * every 100 us or so) soon stops polling, so the servers that do have work
 * are not kept waiting for the CPU by idle pollers.
 */
struct spin {
	uint64_t max_ns, budget_ns;
};

static void spin_learn(struct spin *sp, uint64_t gap_ns)
{
	if (gap_ns <= sp->max_ns) {
		uint64_t want = gap_ns * 2 < sp->max_ns ? gap_ns * 2 : sp->max_ns;
		if (want > sp->budget_ns)
			sp->budget_ns = want;
	} else {
		sp->budget_ns /= 2;
	}
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void serve(struct blockd *b, const struct blockd_opts *o)
{
	struct spin sp = { .max_ns = (uint64_t)o->spin_us * 1000, .budget_ns = (uint64_t)o->spin_us * 1000 };
	uint64_t idle_since = 0;   /* 0: not idle */
	int n;

	while (!stop_signal) {
		if (dump_counters) {
			dump_counters = 0;
			log_counters(b, "SIGUSR1: ");
		}
		if ((n = nrpc_poll(b->r, 0)) > 0) {
			if (idle_since)
				spin_learn(&sp, mono_ns() - idle_since);
			idle_since = 0;
			continue;
		}
		uint64_t now = mono_ns();
		if (!idle_since)
			idle_since = now;
		if (n == 0 && now - idle_since < sp.budget_ns) {
			sched_yield();
			continue;
		}
		n = nrpc_progress(b->r, 100);   /* sleeps: the endpoint does not spin */
		if (n > 0) {
			spin_learn(&sp, mono_ns() - idle_since);
			idle_since = 0;
		} else if (n < 0 && n != -EINTR && n != -EBUSY) {
			blog(BLOG_ERR, "delivery failed: %s", tpz_strerror(n));
			return;
		}
	}
}

int main(int argc, char **argv)
{
	struct blockd_opts o;
	int port = 0, rc;

	rc = blockd_parse_opts(argc, argv, &o);
	if (rc)
		return rc == 1 ? 0 : 2;
	blog_init(o.node, o.log_level);

	struct sigaction sa = { .sa_handler = on_stop };
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = on_usr1;
	sigaction(SIGUSR1, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	if ((rc = start(&bd, &o, &port)) < 0) {
		stop(&bd, false);
		blog(BLOG_ERR, "not started");
		return 1;
	}
	printf("ready node=%u tcp=%d\n", o.node, port);
	fflush(stdout);
	blog(BLOG_INFO, "ready");

	serve(&bd, &o);
	if (stop_signal)
		blog(BLOG_INFO, "%s received", stop_signal == SIGINT ? "SIGINT" : "SIGTERM");
	rc = stop(&bd, true);
	blog(BLOG_INFO, "stopped");
	return rc < 0 ? 1 : 0;
}
