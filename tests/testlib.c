/*
 * testlib.c - helpers shared by the Trapeze test programs (see testlib.h).
 */
#include <execinfo.h>
#include "testlib.h"

#include <glob.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

char tl_test_name[64] = "t-unknown";
char tl_fabric[96]    = "t-unknown-0";
bool tl_is_child;
int  tl_soft_failures;

#define TL_MAX_PROCS 32
static pid_t procs[TL_MAX_PROCS];
static int   nprocs;
static pid_t spawned[TL_MAX_PROCS];     /* every pid we started, for cleanup */
static int   nspawned;
static pid_t main_pid;

void tl_msg(const char *file, int line, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	fprintf(stderr, "%s[%d]: %s:%d: %s\n", tl_test_name, (int)getpid(), file, line, buf);
	fflush(stderr);
}

/* Kill and reap every peer process we started (only those, by pid). */
static void kill_procs(void)
{
	for (int i = 0; i < nprocs; i++) {
		if (procs[i] > 0) {
			kill(procs[i], SIGKILL);
			waitpid(procs[i], NULL, 0);
			procs[i] = 0;
		}
	}
}

void tl_fail(void)
{
	fflush(stdout);
	fflush(stderr);
	if (tl_is_child)
		_exit(TL_EXIT_FAIL);
	kill_procs();
	exit(TL_EXIT_FAIL);
}

void tl_skip(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "%s: SKIP: ", tl_test_name);
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	kill_procs();
	exit(TL_EXIT_SKIP);
}

void (*tl_alarm_hook)(void);

static void on_alarm(int sig)
{
	static const char m[] = ": watchdog fired: the test or a peer process hung\n";

	(void)sig;
	if (write(2, tl_test_name, strlen(tl_test_name)) < 0 || write(2, m, sizeof(m) - 1) < 0)
		_exit(TL_EXIT_FAIL);
	if (!tl_is_child)
		for (int i = 0; i < nprocs; i++)
			if (procs[i] > 0)
				kill(procs[i], SIGKILL);
	if (!tl_is_child && tl_alarm_hook)
		tl_alarm_hook();
	_exit(TL_EXIT_FAIL);
}

/* A crash of the test program itself: say where (the CI log is all we
 * see of a rare one), take its daemons down, then die of the signal.  Not
 * under ASan, whose own report is better. */
#if !defined(__SANITIZE_ADDRESS__)
static void on_crash(int sig)
{
	static const char m[] = ": crashed; backtrace:\n";
	void *bt[48];

	if (write(2, tl_test_name, strlen(tl_test_name)) >= 0 && write(2, m, sizeof(m) - 1) >= 0)
		backtrace_symbols_fd(bt, backtrace(bt, 48), 2);
	if (!tl_is_child)
		for (int i = 0; i < nprocs; i++)
			if (procs[i] > 0)
				kill(procs[i], SIGKILL);
	if (!tl_is_child && tl_alarm_hook)
		tl_alarm_hook();
	signal(sig, SIG_DFL);
	raise(sig);
}
#endif

void tl_watchdog(unsigned secs)
{
	signal(SIGALRM, on_alarm);
	alarm(secs);
}

/* Best effort: remove what the library left in /dev/shm for our fabric, so
 * that repeated runs do not fill tmpfs.  (Only names containing our unique
 * fabric name: nothing else is touched.) */
static void cleanup_fabric(void)
{
	char pat[160];
	glob_t g;

	if (tl_is_child || getpid() != main_pid)
		return;
	kill_procs();
	snprintf(pat, sizeof(pat), "/dev/shm/*%s*", tl_fabric);
	if (glob(pat, 0, NULL, &g) == 0) {
		for (size_t i = 0; i < g.gl_pathc; i++)
			unlink(g.gl_pathv[i]);
		globfree(&g);
	}
	/* Counter pages of our processes that died without destroying their
	 * endpoint (killed on purpose, or failed): /dev/shm/tpz-stat.UID.PID.NODE */
	for (int i = -1; i < nspawned; i++) {
		snprintf(pat, sizeof(pat), "/dev/shm/tpz-stat.*.%d.*",
			 (int)(i < 0 ? main_pid : spawned[i]));
		if (glob(pat, 0, NULL, &g) == 0) {
			for (size_t j = 0; j < g.gl_pathc; j++)
				unlink(g.gl_pathv[j]);
			globfree(&g);
		}
	}
}

void tl_init(int argc, char **argv, unsigned secs)
{
	const char *base = argc > 0 ? strrchr(argv[0], '/') : NULL;

	base = base ? base + 1 : (argc > 0 ? argv[0] : "t-unknown");
	snprintf(tl_test_name, sizeof(tl_test_name), "%s", base);
	main_pid = getpid();
	snprintf(tl_fabric, sizeof(tl_fabric), "%s-%d", tl_test_name, (int)main_pid);
	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);
#if !defined(__SANITIZE_ADDRESS__)
	signal(SIGSEGV, on_crash);
	signal(SIGBUS, on_crash);
	signal(SIGFPE, on_crash);
#endif
	tl_watchdog(secs);
	atexit(cleanup_fabric);
}

double tl_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

void tl_pause(void)
{
	usleep(50);
}

void tl_idle(struct tpz_endpoint *ep)
{
	struct pollfd pfd = { .fd = tpz_event_fd(ep), .events = POLLIN };
	struct timespec ts = { 0, 50 * 1000 };

	if (pfd.fd < 0)
		tl_pause();
	else
		ppoll(&pfd, 1, &ts, NULL);
}

/* ---- endpoints ---------------------------------------------------------- */

const char *tl_link_name(enum tl_link link)
{
	return link == TL_SHM ? "shm" : "tcp";
}

static const char *level_name(int level)
{
	switch (level) {
	case TPZ_LOG_ERR:   return "error";
	case TPZ_LOG_WARN:  return "warning";
	case TPZ_LOG_INFO:  return "info";
	case TPZ_LOG_DEBUG: return "debug";
	}
	return "log";
}

void tl_log(void *arg, int level, const char *msg)
{
	uintptr_t node = (uintptr_t)arg;

	if (level >= TPZ_LOG_DEBUG && !getenv("TL_DEBUG"))
		return;
	fprintf(stderr, "%s[%d] node %u: libtrapeze %s: %s\n", tl_test_name, (int)getpid(),
		(unsigned)node, level_name(level), msg ? msg : "(null)");
}

void tl_config(struct tpz_config *cfg, uint32_t node, enum tl_link link)
{
	tpz_config_default(cfg);
	cfg->node = node;
	cfg->fabric = link == TL_SHM ? tl_fabric : NULL;
	cfg->secret = TL_SECRET;
	cfg->pool_frames = 128;    /* 8 MiB with 64 KiB frames: keeps tmpfs small */
	cfg->log = tl_log;
	cfg->log_arg = (void *)(uintptr_t)node;
}

struct tpz_endpoint *tl_endpoint(const struct tpz_config *cfg)
{
	struct tpz_endpoint *ep = NULL;
	int r = tpz_endpoint_create(cfg, &ep);

	CHECK(r == 0 && ep != NULL, "tpz_endpoint_create(node %u): %d %s",
	      cfg->node, r, tpz_strerror(r));
	return ep;
}

int tl_listen(struct tpz_endpoint *ep, enum tl_link link)
{
	int r;

	if (link == TL_SHM) {
		r = tpz_listen(ep, "shm");
		CHECK(r == 0, "tpz_listen(shm): %d %s", r, tpz_strerror(r));
		return 0;
	}
	r = tpz_listen(ep, "tcp://127.0.0.1:0");
	CHECK(r == 0, "tpz_listen(tcp://127.0.0.1:0): %d %s", r, tpz_strerror(r));
	r = tpz_listen_port(ep);
	CHECK(r > 0 && r < 65536, "tpz_listen_port: %d %s", r, tpz_strerror(r));
	return r;
}

void tl_wait_up(struct tpz_endpoint *ep, uint32_t node, int ms)
{
	CHECK(POLL_UNTIL(ep, tpz_peer_is_up(ep, node), ms),
	      "node %u did not come up within %d ms", node, ms);
}

void tl_connect(struct tpz_endpoint *ep, uint32_t node, enum tl_link link, int port)
{
	char url[64];
	int r;

	if (link == TL_SHM)
		snprintf(url, sizeof(url), "shm");
	else
		snprintf(url, sizeof(url), "tcp://127.0.0.1:%d", port);
	r = tpz_connect(ep, node, url, 5000);
	CHECK(r == 0, "tpz_connect(node %u, %s): %d %s", node, url, r, tpz_strerror(r));
	tl_wait_up(ep, node, 5000);
}

struct tpz_counters tl_counters(struct tpz_endpoint *ep)
{
	struct tpz_counters c;

	memset(&c, 0, sizeof(c));
	tpz_counters(ep, &c);
	return c;
}

void tl_print_counters(const char *who, const struct tpz_counters *c)
{
	fprintf(stderr,
		"%s counters: sent %llu recv %llu bytes %llu/%llu ring_full %llu wake %llu/%llu "
		"sleeps %llu ipt %llu/%llu/%llu unknown %llu peers %llu/%llu proto %llu auth %llu "
		"copies %llu zc %llu frames %llu/%llu\n", who,
		(unsigned long long)c->msgs_sent, (unsigned long long)c->msgs_recv,
		(unsigned long long)c->bytes_sent, (unsigned long long)c->bytes_recv,
		(unsigned long long)c->ring_full,
		(unsigned long long)c->wakeups_sent, (unsigned long long)c->wakeups_suppressed,
		(unsigned long long)c->sleeps,
		(unsigned long long)c->ipt_hits, (unsigned long long)c->ipt_misses,
		(unsigned long long)c->ipt_drops, (unsigned long long)c->unknown_handler,
		(unsigned long long)c->peers_up, (unsigned long long)c->peers_down,
		(unsigned long long)c->protocol_errors, (unsigned long long)c->auth_refused,
		(unsigned long long)c->payload_copies, (unsigned long long)c->payload_zero_copy,
		(unsigned long long)c->frames_free, (unsigned long long)c->frames_total);
}

int tl_send(struct tpz_endpoint *ep, const struct tpz_send *s, int ms)
{
	double end = tl_now_ms() + ms;
	int r;

	for (;;) {
		r = tpz_send(ep, s);
		if (r != -EAGAIN || tl_now_ms() > end)
			return r;
		int pr = tpz_poll(ep, 0);
		CHECK(pr >= 0, "tpz_poll: %s", tpz_strerror(pr));
		if (pr == 0)
			tl_idle(ep);
	}
}

int tl_send_inline(struct tpz_endpoint *ep, uint32_t dst, uint8_t h,
		   const void *data, uint32_t len, int ms)
{
	struct tpz_send s = { .dst = dst, .handler = h, .data = data, .data_len = len };

	return tl_send(ep, &s, ms);
}

/* ---- data patterns ------------------------------------------------------ */

uint8_t tl_pat(uint32_t seed, size_t off)
{
	uint32_t x = (uint32_t)off * 2654435761u ^ seed * 40503u ^ (uint32_t)(off >> 12);

	return (uint8_t)(x >> 13 ^ x >> 24 ^ x);
}

void tl_fill(void *buf, size_t len, uint32_t seed, size_t off0)
{
	uint8_t *p = buf;

	for (size_t i = 0; i < len; i++)
		p[i] = tl_pat(seed, off0 + i);
}

long tl_verify(const void *buf, size_t len, uint32_t seed, size_t off0)
{
	const uint8_t *p = buf;

	for (size_t i = 0; i < len; i++)
		if (p[i] != tl_pat(seed, off0 + i))
			return (long)i;
	return -1;
}

void tl_fill_payload(const struct tpz_payload *pl, size_t len, uint32_t seed)
{
	size_t off = 0;

	for (uint32_t i = 0; i < pl->nseg && off < len; i++) {
		size_t n = pl->seg[i].len;

		if (n > len - off)
			n = len - off;
		tl_fill(pl->seg[i].base, n, seed, off);
		off += n;
	}
	CHECK(off == len, "payload list holds %zu bytes, wanted %zu", off, len);
}

long tl_verify_payload(const struct tpz_payload *pl, size_t len, uint32_t seed)
{
	size_t off = 0;

	if (len == 0)
		return -1;
	CHECK(pl->nseg <= TPZ_SG_MAX, "rx payload nseg %u > %u", pl->nseg, TPZ_SG_MAX);
	for (uint32_t i = 0; i < pl->nseg && off < len; i++) {
		size_t n = pl->seg[i].len;

		if (n > len - off)
			n = len - off;
		CHECK(n == 0 || pl->seg[i].base != NULL, "rx payload segment %u has a NULL base", i);
		long bad = tl_verify(pl->seg[i].base, n, seed, off);
		if (bad >= 0)
			return (long)off + bad;
		off += n;
	}
	if (off < len)
		return (long)off;   /* the list is shorter than payload_len */
	return -1;
}

bool tl_all_bytes(const void *buf, size_t len, uint8_t v)
{
	const uint8_t *p = buf;

	for (size_t i = 0; i < len; i++)
		if (p[i] != v)
			return false;
	return true;
}

/* ---- peer processes ----------------------------------------------------- */

void tl_spawn(struct tl_proc *p, int (*fn)(struct tl_proc *self, void *arg), void *arg)
{
	int down[2], up[2];
	pid_t pid;

	CHECK(nprocs < TL_MAX_PROCS, "too many peer processes");
	CHECK(pipe(down) == 0 && pipe(up) == 0, "pipe: %s", strerror(errno));
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	CHECK(pid >= 0, "fork: %s", strerror(errno));
	if (pid == 0) {
		struct tl_proc self = { .pid = getpid(), .rd = down[0], .wr = up[1],
					.index = p->index };
		tl_is_child = true;
		tl_soft_failures = 0;
		nprocs = 0;
		nspawned = 0;
		close(down[1]);
		close(up[0]);
		tl_watchdog(60);   /* never outlive the runner; the parent watches too */
		int rc = fn(&self, arg);
		/* exit, not _exit: LeakSanitizer checks the peer processes too
		 * (our atexit handler does nothing in a child). */
		exit(rc);
	}
	close(down[0]);
	close(up[1]);
	p->pid = pid;
	p->rd = up[0];
	p->wr = down[1];
	procs[nprocs++] = pid;
	if (nspawned < TL_MAX_PROCS)
		spawned[nspawned++] = pid;
}

static void forget(pid_t pid)
{
	for (int i = 0; i < nprocs; i++)
		if (procs[i] == pid)
			procs[i] = 0;
}

int tl_reap_status(struct tl_proc *p, int ms)
{
	double end = tl_now_ms() + ms;
	int st;

	for (;;) {
		pid_t r = waitpid(p->pid, &st, WNOHANG);
		if (r == p->pid) {
			forget(p->pid);
			return st;
		}
		if (tl_now_ms() > end) {
			kill(p->pid, SIGKILL);
			waitpid(p->pid, &st, 0);
			forget(p->pid);
			return -1;
		}
		usleep(1000);
	}
}

void tl_reap(struct tl_proc *p, int ms)
{
	int st = tl_reap_status(p, ms);

	CHECK(st != -1, "peer process %d did not exit within %d ms (killed)", (int)p->pid, ms);
	CHECK(!WIFSIGNALED(st), "peer process %d died of signal %d (%s)", (int)p->pid,
	      WTERMSIG(st), strsignal(WTERMSIG(st)));
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "peer process %d exited with code %d",
	      (int)p->pid, WEXITSTATUS(st));
}

bool tl_reap_ok(struct tl_proc *p, int ms)
{
	int st = tl_reap_status(p, ms);

	if (st == -1)
		NOTE("peer process %d did not exit within %d ms (killed)", (int)p->pid, ms);
	else if (WIFSIGNALED(st))
		NOTE("peer process %d died of signal %d (%s)", (int)p->pid, WTERMSIG(st),
		     strsignal(WTERMSIG(st)));
	else if (WEXITSTATUS(st) != 0)
		NOTE("peer process %d exited with code %d", (int)p->pid, WEXITSTATUS(st));
	else
		return true;
	return false;
}

int tl_finish(void)
{
	if (tl_soft_failures)
		tl_msg(__FILE__, __LINE__, "%d EXPECT failure(s): FAIL", tl_soft_failures);
	fflush(stdout);
	fflush(stderr);
	return tl_soft_failures ? TL_EXIT_FAIL : TL_EXIT_PASS;
}

void tl_kill(struct tl_proc *p, int sig)
{
	CHECK(p->pid > 0 && kill(p->pid, sig) == 0, "kill(%d, %d): %s", (int)p->pid, sig,
	      strerror(errno));
}

void tl_put(int fd, const void *buf, size_t n)
{
	const char *b = buf;

	while (n > 0) {
		ssize_t w = write(fd, b, n);
		if (w < 0 && errno == EINTR)
			continue;
		CHECK(w > 0, "write to the %s process: %s", tl_is_child ? "parent" : "peer",
		      w < 0 ? strerror(errno) : "short");
		b += w;
		n -= (size_t)w;
	}
}

bool tl_readable(int fd)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };

	return poll(&pfd, 1, 0) > 0;
}

static void get_common(struct tpz_endpoint *ep, int fd, void *buf, size_t n, int ms)
{
	char *b = buf;
	double end = tl_now_ms() + ms;

	while (n > 0) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		int pr;

		if (ep) {
			/* Wake for the pipe or for the endpoint's work. */
			struct pollfd two[2] = { pfd, { .fd = tpz_event_fd(ep), .events = POLLIN } };
			int r = tpz_poll(ep, 0);
			CHECK(r >= 0, "tpz_poll: %s", tpz_strerror(r));
			pr = poll(two, two[1].fd >= 0 ? 2 : 1, r > 0 ? 0 : 1);
			pr = pr > 0 && (two[0].revents & (POLLIN | POLLHUP | POLLERR)) ? 1 : 0;
		} else {
			pr = poll(&pfd, 1, 10);
		}
		if (pr < 0 && errno == EINTR)
			continue;
		if (pr > 0) {
			ssize_t r = read(fd, b, n);
			if (r < 0 && errno == EINTR)
				continue;
			CHECK(r > 0, "the %s process went away (%s) while we waited for it",
			      tl_is_child ? "parent" : "peer", r < 0 ? strerror(errno) : "EOF");
			b += r;
			n -= (size_t)r;
			continue;
		}
		CHECK(tl_now_ms() <= end, "the %s process did not answer within %d ms",
		      tl_is_child ? "parent" : "peer", ms);
	}
}

void tl_get(int fd, void *buf, size_t n, int ms)
{
	get_common(NULL, fd, buf, n, ms);
}

void tl_get_poll(struct tpz_endpoint *ep, int fd, void *buf, size_t n, int ms)
{
	get_common(ep, fd, buf, n, ms);
}

void tl_put_u32(int fd, uint32_t v)
{
	tl_put(fd, &v, sizeof(v));
}

uint32_t tl_get_u32(int fd, int ms)
{
	uint32_t v;

	tl_get(fd, &v, sizeof(v), ms);
	return v;
}

uint32_t tl_get_u32_poll(struct tpz_endpoint *ep, int fd, int ms)
{
	uint32_t v;

	tl_get_poll(ep, fd, &v, sizeof(v), ms);
	return v;
}
