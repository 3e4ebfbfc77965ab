/*
 * blockd_testlib.h - helpers for the slice-blockd tests (static inline, on
 * top of nrpc_testlib.h).
 *
 * A test runs the real daemon: bt_start() forks and execs
 * BUILD/bin/slice-blockd (the one next to the test's own build directory)
 * with a data directory, log file and secret file named after the test and
 * its pid under /tmp, and waits for its "ready node=N tcp=PORT" line.  The
 * daemon dies with the test (PR_SET_PDEATHSIG), and at exit every daemon
 * the test started is killed by pid, its files removed, and the tail of
 * its log printed (the runner shows it only when the test failed;
 * BT_LOG_LINES=N shows more than the last 40 lines).
 *
 * The client is the test process: bt_connect() makes an endpoint (node 1
 * by default) and a NetRPC instance, and bt_write/bt_read/... issue the
 * operations of slice_wire.h with nrpc_call and return the reply status.
 */
#ifndef BLOCKD_TESTLIB_H
#define BLOCKD_TESTLIB_H

#include <fcntl.h>
#include <ftw.h>
#include <glob.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "nrpc_testlib.h"
#include "slice_blockd.h"
#include "slice_wire.h"

#define BT_SERVER   2u
#define BT_TIMEOUT  10000    /* ms per call: stable writes wait for the disk */

struct bt_daemon {
	pid_t        pid;
	uint32_t     node;
	enum tl_link link;
	int          port;
	char         data[160], log[160], secret[160];
	const char  *extra[16];   /* more options, NULL-terminated */
};

#define BT_MAX_DAEMONS 8
/* Static: the exit handler still needs them after main's frame is gone. */
static struct bt_daemon bt_all[BT_MAX_DAEMONS];
static int bt_nall;

static int bt_rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st; (void)flag; (void)ftw;
	remove(path);
	return 0;
}

static inline void bt_rm_rf(const char *dir)
{
	nftw(dir, bt_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static inline void bt_print_log(const struct bt_daemon *d, int lines)
{
	char cmd[256];

	fprintf(stderr, "---- %s (last %d lines) ----\n", d->log, lines);
	fflush(stderr);
	snprintf(cmd, sizeof(cmd), "tail -n %d '%s' >&2", lines, d->log);
	if (system(cmd) != 0)
		fprintf(stderr, "(no log)\n");
}

/* Its counter page, left in /dev/shm when it was killed. */
static inline void bt_unlink_stat(pid_t pid)
{
	char pat[96];
	glob_t g;

	snprintf(pat, sizeof(pat), "/dev/shm/tpz-stat.*.%d.*", (int)pid);
	if (glob(pat, 0, NULL, &g) == 0) {
		for (size_t i = 0; i < g.gl_pathc; i++)
			unlink(g.gl_pathv[i]);
		globfree(&g);
	}
}

static void bt_cleanup(void)
{
	if (tl_is_child)
		return;
	for (int i = 0; i < bt_nall; i++) {
		struct bt_daemon *d = &bt_all[i];
		if (d->pid > 0) {
			kill(d->pid, SIGKILL);
			waitpid(d->pid, NULL, 0);
			bt_unlink_stat(d->pid);
			d->pid = 0;
		}
		const char *n = getenv("BT_LOG_LINES");   /* more of it when debugging */
		bt_print_log(d, n ? atoi(n) : 40);
		unlink(d->log);
		unlink(d->secret);
		bt_rm_rf(d->data);
	}
	bt_nall = 0;
}

/* The slice-blockd of the build the test belongs to. */
static inline void bt_binary(char *buf, size_t len)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

	CHECK(n > 0, "readlink /proc/self/exe: %s", strerror(errno));
	exe[n] = '\0';
	char *slash = strrchr(exe, '/');          /* .../build/tests/t-x */
	if (slash)
		*slash = '\0';
	slash = strrchr(exe, '/');                /* .../build/tests */
	if (slash)
		*slash = '\0';
	snprintf(buf, len, "%.*s/bin/slice-blockd", (int)(len > 32 ? len - 32 : 0), exe);
	CHECK(access(buf, X_OK) == 0, "no daemon at %s", buf);
}

/* A new daemon description: node, link, files named after the test. */
static inline struct bt_daemon *bt_new(uint32_t node, enum tl_link link)
{
	static int seq;

	CHECK(bt_nall < BT_MAX_DAEMONS, "too many daemons");
	struct bt_daemon *d = &bt_all[bt_nall];
	memset(d, 0, sizeof(*d));
	d->node = node;
	d->link = link;
	snprintf(d->data, sizeof(d->data), "/tmp/%s-%d-%d.data", tl_test_name, (int)getpid(), seq);
	snprintf(d->log, sizeof(d->log), "/tmp/%s-%d-%d.log", tl_test_name, (int)getpid(), seq);
	snprintf(d->secret, sizeof(d->secret), "/tmp/%s-%d-%d.secret", tl_test_name, (int)getpid(), seq);
	seq++;
	int fd = open(d->secret, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	CHECK(fd >= 0, "create %s: %s", d->secret, strerror(errno));
	CHECK(write(fd, TL_SECRET "\n", strlen(TL_SECRET) + 1) > 0, "write secret");
	close(fd);
	if (bt_nall++ == 0)
		atexit(bt_cleanup);
	return d;
}

/* argv of the daemon: the basics, then d->extra. */
static inline int bt_argv(const struct bt_daemon *d, const char *bin, char *nodebuf, const char **argv)
{
	int n = 0;

	snprintf(nodebuf, 16, "%u", d->node);
	argv[n++] = bin;
	argv[n++] = "--node";
	argv[n++] = nodebuf;
	argv[n++] = "--data";
	argv[n++] = d->data;
	argv[n++] = "--log-level";
	argv[n++] = "debug";
	if (d->link == TL_SHM) {
		argv[n++] = "--listen";
		argv[n++] = "shm";
		argv[n++] = "--fabric";
		argv[n++] = tl_fabric;
		argv[n++] = "--pool-frames";
		argv[n++] = "128";    /* as tl_config: keep tmpfs small */
	} else {
		argv[n++] = "--listen";
		argv[n++] = "tcp://127.0.0.1:0";
		argv[n++] = "--secret-file";
		argv[n++] = d->secret;
		argv[n++] = "--pool-frames";
		argv[n++] = "128";
	}
	for (int i = 0; d->extra[i]; i++)
		argv[n++] = d->extra[i];
	argv[n] = NULL;
	return n;
}

/* Start the daemon and wait (up to 10 s) for its ready line. */
static inline void bt_start(struct bt_daemon *d)
{
	char bin[PATH_MAX], nodebuf[16], line[128];
	const char *argv[48];
	int out[2];

	bt_binary(bin, sizeof(bin));
	bt_argv(d, bin, nodebuf, argv);
	CHECK(pipe(out) == 0, "pipe: %s", strerror(errno));
	fflush(stdout);
	fflush(stderr);
	pid_t pid = fork();
	CHECK(pid >= 0, "fork: %s", strerror(errno));
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);   /* never outlive the test */
		int lfd = open(d->log, O_WRONLY | O_CREAT | O_APPEND, 0600);
		if (lfd < 0 || dup2(out[1], 1) < 0 || dup2(lfd, 2) < 0)
			_exit(127);
		close(out[0]);
		execv(bin, (char **)argv);
		_exit(127);
	}
	close(out[1]);
	d->pid = pid;
	size_t got = 0;
	double end = tl_now_ms() + 10000;
	while (got < sizeof(line) - 1 && (got == 0 || line[got - 1] != '\n')) {
		struct pollfd p = { .fd = out[0], .events = POLLIN };
		int left = (int)(end - tl_now_ms());
		if (left <= 0 || poll(&p, 1, left) <= 0)
			break;
		ssize_t n = read(out[0], line + got, sizeof(line) - 1 - got);
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	line[got] = '\0';
	close(out[0]);
	unsigned node = 0;
	int port = -1;
	if (sscanf(line, "ready node=%u tcp=%d", &node, &port) != 2 || node != d->node) {
		bt_print_log(d, 30);
		CHECK(0, "slice-blockd (node %u) did not say \"ready node=%u tcp=PORT\" within 10 s; "
		      "it said \"%s\"", d->node, d->node, line);
	}
	CHECK(d->link == TL_SHM ? port == 0 : port > 0, "ready line \"%s\": port %d for %s", line, port,
	      tl_link_name(d->link));
	d->port = port;
}

/* Wait up to ms for the daemon to exit; its wait status (-1: still running). */
static inline int bt_wait(struct bt_daemon *d, int ms)
{
	int st;
	double end = tl_now_ms() + ms;

	for (;;) {
		pid_t r = waitpid(d->pid, &st, WNOHANG);
		if (r == d->pid) {
			bt_unlink_stat(d->pid);
			d->pid = 0;
			return st;
		}
		if (tl_now_ms() > end)
			return -1;
		usleep(2000);
	}
}

static inline void bt_kill9(struct bt_daemon *d)
{
	CHECK(d->pid > 0 && kill(d->pid, SIGKILL) == 0, "kill -9 slice-blockd: %s", strerror(errno));
	int st = bt_wait(d, 5000);
	CHECK(st != -1 && WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL, "slice-blockd did not die of "
	      "SIGKILL (status %#x): it had failed before", st);
}

/* SIGTERM: it must exit 0 within 10 s. */
static inline void bt_stop(struct bt_daemon *d)
{
	CHECK(d->pid > 0 && kill(d->pid, SIGTERM) == 0, "kill -TERM slice-blockd: %s", strerror(errno));
	int st = bt_wait(d, 10000);
	if (st == -1 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		bt_print_log(d, 30);
		CHECK(0, "slice-blockd after SIGTERM: status %#x, want exit 0", st);
	}
}

/* Lines of the daemon's log that contain `what`. */
static inline int bt_log_count(const struct bt_daemon *d, const char *what)
{
	char line[2048];
	int n = 0;
	FILE *f = fopen(d->log, "r");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		n += strstr(line, what) != NULL;
	fclose(f);
	return n;
}

/* ---- the client ---------------------------------------------------------- */

struct bt_client {
	struct tpz_endpoint *ep;
	struct nrpc         *r;
	uint32_t             server;
};

static inline void bt_connect(struct bt_client *c, const struct bt_daemon *d, uint32_t node)
{
	struct nrpc_config nc;

	c->ep = nt_client_ep(node, d->link, d->node, d->port);
	nrpc_config_default(&nc);
	nc.timeout_ms = BT_TIMEOUT;
	c->r = nt_nrpc(c->ep, &nc);
	c->server = d->node;
}

static inline void bt_disconnect(struct bt_client *c)
{
	nrpc_destroy(c->r);
	tpz_endpoint_destroy(c->ep);
	c->r = NULL;
	c->ep = NULL;
}

/* One call; the reply's status (res filled in).  Fails the test only if
 * the call could not be issued. */
static inline int bt_call(struct bt_client *c, uint16_t op, const void *args, uint32_t args_len,
			  const struct tpz_payload *pl, struct tpz_payload *reply_buf,
			  struct nrpc_result *res)
{
	struct nrpc_call_desc d = { .dst = c->server, .op = op, .args = args, .args_len = args_len,
				    .payload = pl, .reply_buf = reply_buf };

	memset(res, 0, sizeof(*res));
	int rc = nrpc_call(c->r, &d, res);
	CHECK(rc == 0, "nrpc_call(op %#x): %d %s", op, rc, tpz_strerror(rc));
	if (res->payload.nseg && !res->placed)
		tpz_payload_free(c->ep, &res->payload);
	return res->status;
}

static inline int bt_write(struct bt_client *c, uint64_t obj, uint64_t off, const void *buf,
			   uint32_t len, uint32_t flags, struct slb_write_res *out)
{
	struct slb_rw a = { .obj = obj, .off = off, .len = len, .flags = flags };
	struct tpz_payload pl = nt_buf_payload((void *)buf, len);
	struct nrpc_result res;
	int st = bt_call(c, SLB_WRITE, &a, sizeof(a), len ? &pl : NULL, NULL, &res);

	if (st == 0) {
		CHECK(res.res_len == sizeof(*out), "WRITE: %u bytes of results, want %zu", res.res_len,
		      sizeof(*out));
		if (out)
			memcpy(out, res.res, sizeof(*out));
	}
	return st;
}

/* WRITE any length, in calls of at most SLB_IO_MAX; fails the test on an
 * error.  The last reply in *out. */
static inline void bt_write_all(struct bt_client *c, uint64_t obj, uint64_t off, const void *buf,
				size_t len, uint32_t flags, struct slb_write_res *out)
{
	for (size_t done = 0; done < len;) {
		uint32_t n = len - done < SLB_IO_MAX ? (uint32_t)(len - done) : SLB_IO_MAX;
		int st = bt_write(c, obj, off + done, (const uint8_t *)buf + done, n, flags, out);
		CHECK(st == 0, "WRITE %u bytes at %llu: %d (%s)", n, (unsigned long long)(off + done), st,
		      tpz_strerror(st));
		done += n;
	}
}

/* READ any length into buf, in calls of at most SLB_IO_MAX; fails the
 * test on an error.  The last reply in *out. */
static inline void bt_read_all(struct bt_client *c, uint64_t obj, uint64_t off, void *buf, size_t len,
			       struct slb_read_res *out);

/* READ into buf; on success the payload must have landed there, all of it. */
static inline int bt_read(struct bt_client *c, uint64_t obj, uint64_t off, void *buf, uint32_t len,
			  struct slb_read_res *out)
{
	struct slb_rw a = { .obj = obj, .off = off, .len = len };
	struct tpz_payload pl = nt_buf_payload(buf, len);
	struct nrpc_result res;
	int st = bt_call(c, SLB_READ, &a, sizeof(a), NULL, len ? &pl : NULL, &res);

	if (st == 0) {
		CHECK(res.res_len == sizeof(struct slb_read_res), "READ: %u bytes of results", res.res_len);
		CHECK(len == 0 || (res.placed && res.payload_len == len), "READ %u bytes at %llu: placed %d "
		      "payload_len %u", len, (unsigned long long)off, res.placed, res.payload_len);
		if (out)
			memcpy(out, res.res, sizeof(*out));
	}
	return st;
}

static inline void bt_read_all(struct bt_client *c, uint64_t obj, uint64_t off, void *buf, size_t len,
			       struct slb_read_res *out)
{
	for (size_t done = 0; done < len;) {
		uint32_t n = len - done < SLB_IO_MAX ? (uint32_t)(len - done) : SLB_IO_MAX;
		int st = bt_read(c, obj, off + done, (uint8_t *)buf + done, n, out);
		CHECK(st == 0, "READ %u bytes at %llu: %d (%s)", n, (unsigned long long)(off + done), st,
		      tpz_strerror(st));
		done += n;
	}
}

static inline int bt_obj_op(struct bt_client *c, uint16_t op, uint64_t obj, void *out, size_t out_len)
{
	struct slb_obj a = { .obj = obj };
	struct nrpc_result res;
	int st = bt_call(c, op, &a, sizeof(a), NULL, NULL, &res);

	if (st == 0 && out) {
		CHECK(res.res_len == out_len, "op %#x: %u bytes of results, want %zu", op, res.res_len, out_len);
		memcpy(out, res.res, out_len);
	}
	return st;
}

static inline int bt_commit(struct bt_client *c, uint64_t obj, struct slb_write_res *out)
{
	return bt_obj_op(c, SLB_COMMIT, obj, out, sizeof(*out));
}

static inline int bt_remove(struct bt_client *c, uint64_t obj)
{
	return bt_obj_op(c, SLB_REMOVE, obj, NULL, 0);
}

static inline int bt_stat(struct bt_client *c, uint64_t obj, struct slb_stat_res *out)
{
	return bt_obj_op(c, SLB_STAT, obj, out, sizeof(*out));
}

static inline int bt_truncate(struct bt_client *c, uint64_t obj, uint64_t size, struct slb_write_res *out)
{
	struct slb_trunc a = { .obj = obj, .size = size };
	struct nrpc_result res;
	int st = bt_call(c, SLB_TRUNCATE, &a, sizeof(a), NULL, NULL, &res);

	if (st == 0 && out)
		memcpy(out, res.res, sizeof(*out));
	return st;
}

static inline int bt_statfs(struct bt_client *c, struct slb_statfs_res *out)
{
	struct nrpc_result res;
	int st = bt_call(c, SLB_STATFS, NULL, 0, NULL, NULL, &res);

	if (st == 0 && out)
		memcpy(out, res.res, sizeof(*out));
	return st;
}

static inline struct slb_blockd_counters bt_counters(struct bt_client *c)
{
	struct slb_blockd_counters k;
	struct nrpc_result res;
	int st = bt_call(c, SLB_BLOCKD_COUNTERS, NULL, 0, NULL, NULL, &res);

	CHECK(st == 0 && res.res_len == sizeof(k), "COUNTERS: status %d (%s), %u bytes", st,
	      tpz_strerror(st), res.res_len);
	memcpy(&k, res.res, sizeof(k));
	return k;
}

/* ---- data ------------------------------------------------------------------ */

/* The bytes a test writes at object offset off: a function of (seed, off),
 * so any range can be checked on its own. */
static inline void bt_fill(void *buf, size_t len, uint32_t seed, uint64_t off)
{
	tl_fill(buf, len, seed, (size_t)off);
}

/* First byte of buf that is not the pattern at off, or -1. */
static inline long bt_verify(const void *buf, size_t len, uint32_t seed, uint64_t off)
{
	return tl_verify(buf, len, seed, (size_t)off);
}

#endif /* BLOCKD_TESTLIB_H */
