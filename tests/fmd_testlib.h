/*
 * fmd_testlib.h - helpers for tests of slice-fmd: start real daemons (and
 * kill, restart them), and a synchronous NFSv3/MOUNTv3 client over
 * libnfs's raw calls (rpc_nfs3_*_async, driven until the reply comes).
 * Static functions: include after testlib.h.
 *
 * Daemons run from $BUILD_DIR/bin/slice-fmd with data under
 * /tmp/<test>-<pid>/, on ports they pick; they are killed and their
 * directories removed at exit, whatever happened.
 */
#ifndef FMD_TESTLIB_H
#define FMD_TESTLIB_H

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <nfsc/libnfs.h>
#include <nfsc/libnfs-raw.h>
#include <nfsc/libnfs-raw-mount.h>
#include <nfsc/libnfs-raw-nfs.h>

#include "testlib.h"

/* ---- daemons ---------------------------------------------------------- */

#define FT_MAX_DAEMONS 16

struct ft_daemon {
	pid_t    pid;
	uint16_t nfs_port, mount_port;
	char     dir[200];
	char     args[1600];      /* extra options, kept for restarts */
	char     log[220];
};

static struct ft_daemon *ft_daemons[FT_MAX_DAEMONS];
static int ft_ndaemons;
static char ft_base[160];

static inline void ft_cleanup(void)
{
	if (tl_is_child)
		return;
	for (int i = 0; i < ft_ndaemons; i++) {
		struct ft_daemon *d = ft_daemons[i];
		if (d->pid > 0) {
			kill(d->pid, SIGKILL);
			waitpid(d->pid, NULL, 0);
			d->pid = 0;
		}
	}
	if (ft_base[0] && !getenv("FT_KEEP")) {
		char cmd[200];
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", ft_base);
		if (system(cmd)) { /* best effort */ }
	}
}

static inline const char *ft_bin(const char *name)
{
	static char path[512];
	const char *b = getenv("BUILD_DIR");
	snprintf(path, sizeof(path), "%s/bin/%s", b ? b : "build", name);
	return path;
}

static inline void ft_init_base(void)
{
	if (ft_base[0])
		return;
	snprintf(ft_base, sizeof(ft_base), "/tmp/%s-%d", tl_test_name, (int)getpid());
	mkdir(ft_base, 0700);
	atexit(ft_cleanup);
	tl_alarm_hook = ft_cleanup;   /* the watchdog exits without atexit */
}

/* Start d (again, with the same data directory and options, if it ran
 * before).  Waits for the ready line. */
static inline void ft_start(struct ft_daemon *d)
{
	int out[2];
	CHECK(pipe(out) == 0, "pipe");
	pid_t pid = fork();
	CHECK(pid >= 0, "fork");
	if (pid == 0) {
		/* never outlive the test, even one killed by its runner */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() == 1)
			_exit(127);
		char *argv[64];
		int a = 0;
		static char buf[1700];
		argv[a++] = "slice-fmd";
		argv[a++] = "--data";
		argv[a++] = d->dir;
		argv[a++] = "--export";
		argv[a++] = "/slice";
		argv[a++] = "--volume";
		argv[a++] = "vol";
		argv[a++] = "--no-rpcbind";
		argv[a++] = "--nfs-port";
		argv[a++] = "0";
		argv[a++] = "--mount-port";
		argv[a++] = "0";
		snprintf(buf, sizeof(buf), "%s", d->args);
		for (char *tok = strtok(buf, " "); tok && a < 62; tok = strtok(NULL, " "))
			argv[a++] = tok;
		argv[a] = NULL;
		dup2(out[1], 1);
		int fd = open(d->log, O_WRONLY | O_CREAT | O_APPEND, 0644);
		if (fd >= 0)
			dup2(fd, 2);
		close(out[0]);
		execv(ft_bin("slice-fmd"), argv);
		_exit(127);
	}
	close(out[1]);
	char line[128] = { 0 };
	size_t n = 0;
	double end = tl_now_ms() + 10000;
	while (n < sizeof(line) - 1 && !strchr(line, '\n') && tl_now_ms() < end) {
		struct pollfd p = { .fd = out[0], .events = POLLIN };
		if (poll(&p, 1, 100) <= 0)
			continue;
		ssize_t got = read(out[0], line + n, sizeof(line) - 1 - n);
		if (got <= 0)
			break;
		n += (size_t)got;
	}
	close(out[0]);
	unsigned np = 0, mp = 0;
	if (sscanf(line, "ready nfs=%u mount=%u", &np, &mp) != 2) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		char cmd[300];
		snprintf(cmd, sizeof(cmd), "tail -20 '%s' >&2", d->log);
		if (system(cmd)) { /* shown if possible */ }
		CHECK(false, "slice-fmd did not get ready (got '%s')", line);
	}
	d->pid = pid;
	d->nfs_port = (uint16_t)np;
	d->mount_port = (uint16_t)mp;
}

/* A new daemon with its own data directory; args: extra options. */
static inline struct ft_daemon *ft_new(const char *name, const char *args)
{
	ft_init_base();
	CHECK(ft_ndaemons < FT_MAX_DAEMONS, "too many daemons");
	struct ft_daemon *d = calloc(1, sizeof(*d));
	snprintf(d->dir, sizeof(d->dir), "%s/%s", ft_base, name);
	snprintf(d->log, sizeof(d->log), "%s/%s.log", ft_base, name);
	snprintf(d->args, sizeof(d->args), "%s", args ? args : "");
	ft_daemons[ft_ndaemons++] = d;
	ft_start(d);
	return d;
}

/* SIGTERM and wait: the exit status (0 for a clean shutdown). */
static inline int ft_stop(struct ft_daemon *d)
{
	int st = -1;
	if (d->pid <= 0)
		return -1;
	kill(d->pid, SIGTERM);
	for (int i = 0; i < 200; i++) {
		if (waitpid(d->pid, &st, WNOHANG) == d->pid) {
			d->pid = 0;
			return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
		}
		usleep(25000);
	}
	kill(d->pid, SIGKILL);
	waitpid(d->pid, NULL, 0);
	d->pid = 0;
	return -1;
}

static inline void ft_kill9(struct ft_daemon *d)
{
	if (d->pid > 0) {
		kill(d->pid, SIGKILL);
		waitpid(d->pid, NULL, 0);
		d->pid = 0;
	}
}

/* Has d died (e.g. by a crash hook)?  Reaps it. */
static inline bool ft_dead(struct ft_daemon *d, int ms)
{
	double end = tl_now_ms() + ms;
	do {
		int st;
		if (d->pid <= 0 || waitpid(d->pid, &st, WNOHANG) == d->pid) {
			d->pid = 0;
			return true;
		}
		usleep(2000);
	} while (tl_now_ms() < end);
	return false;
}

static inline bool ft_alive(struct ft_daemon *d)
{
	return d->pid > 0 && waitpid(d->pid, NULL, WNOHANG) == 0;
}

/* A volume of n managers on the test's shm fabric (the test makes the
 * fabric first, e.g. with an endpoint of its own): manager i is Trapeze
 * node 2 + i; extra: more options for all of them. */
static inline void ft_volume(struct ft_daemon **d, int n, const char *extra)
{
	char secret[240], args[1600], name[16];
	ft_init_base();
	snprintf(secret, sizeof(secret), "%s/secret", ft_base);
	FILE *fp = fopen(secret, "w");
	CHECK(fp && fputs(TL_SECRET, fp) >= 0 && fclose(fp) == 0, "secret file");
	for (int i = 0; i < n; i++) {
		int len = snprintf(args, sizeof(args), "--managers %d --index %d --node %d --fabric %s "
				   "--secret-file %s %s", n, i, 2 + i, tl_fabric, secret, extra ? extra : "");
		for (int j = 0; j < n; j++)
			if (j != i)
				len += snprintf(args + len, sizeof(args) - (size_t)len, " --peer-fmd %d=%d=shm", j, 2 + j);
		snprintf(name, sizeof(name), "fmd%d", i);
		d[i] = ft_new(name, args);
	}
}

/* ---- a synchronous libnfs raw client ------------------------------------ */

struct tfh {
	uint32_t len;
	uint8_t  b[NFS3_FHSIZE];
};

struct nc {
	struct rpc_context *rpc;
	uint16_t port;
};

struct tdirent {
	uint64_t fileid, cookie;
	char     name[256];
	bool     has_attr, has_fh;
	fattr3   attr;
	struct tfh fh;
};

/* Everything a test may want from one reply. */
struct nres {
	int      rpc;            /* RPC_STATUS_*; not SUCCESS: no NFS result */
	int      status;         /* nfsstat3 */
	struct tfh fh;
	bool     has_attr;
	fattr3   attr;
	wcc_data wcc, wcc2;      /* dir (or file) wcc; RENAME: from, to */
	uint32_t access;
	uint32_t count;
	bool     eof;
	char     verf[8];
	char    *data;           /* READ/READLINK: caller's buffer */
	uint32_t data_cap;
	struct tdirent *ents;    /* READDIR[PLUS]: caller's array */
	uint32_t ents_cap, nents;
	uint64_t u64[8];         /* FSSTAT / FSINFO / PATHCONF numbers */
	bool     done;
	void   (*copy)(struct nres *r, void *data);
};

static inline void fh_copy(struct tfh *dst, const nfs_fh3 *src)
{
	dst->len = src->data.data_len > NFS3_FHSIZE ? NFS3_FHSIZE : src->data.data_len;
	memcpy(dst->b, src->data.data_val, dst->len);
}

static inline nfs_fh3 fh_arg(const struct tfh *f)
{
	nfs_fh3 h;
	h.data.data_len = f->len;
	h.data.data_val = (char *)f->b;
	return h;
}

static inline void post_copy(struct nres *r, const post_op_attr *p)
{
	r->has_attr = p->attributes_follow;
	if (p->attributes_follow)
		r->attr = p->post_op_attr_u.attributes;
}

static inline void nc_cb(struct rpc_context *rpc, int status, void *data, void *priv)
{
	struct nres *r = priv;
	r->done = true;
	r->rpc = status;
	if (status == RPC_STATUS_SUCCESS && data) {
		r->status = *(int *)data;   /* every result starts with its status */
		if (r->copy)
			r->copy(r, data);
	}
}

/* Set by tests that kill the server: a lost connection or a timeout then
 * ends a call with RPC_STATUS_ERROR instead of failing the test. */
static bool nc_soft;

static inline void nc_wait(struct nc *c, struct nres *r, int ms)
{
	double end = tl_now_ms() + ms;
	while (!r->done) {
		if (nc_soft && tl_now_ms() >= end) {
			/* the context goes now, while r can still take the
			 * cancelled call's callback; the caller reconnects */
			rpc_destroy_context(c->rpc);
			c->rpc = NULL;
			r->done = true;
			r->rpc = RPC_STATUS_TIMEOUT;
			return;
		}
		CHECK(tl_now_ms() < end, "no NFS reply within %d ms", ms);
		struct pollfd p = { .fd = rpc_get_fd(c->rpc), .events = (short)rpc_which_events(c->rpc) };
		int n = poll(&p, 1, 50);
		CHECK(n >= 0 || errno == EINTR, "poll: %s", strerror(errno));
		int rc = rpc_service(c->rpc, n > 0 ? p.revents : 0);
		if (rc != 0 && nc_soft) {
			rpc_destroy_context(c->rpc);
			c->rpc = NULL;
			r->done = true;
			r->rpc = RPC_STATUS_ERROR;
			return;
		}
		CHECK(rc == 0 || r->done, "rpc_service: %s", rpc_get_error(c->rpc));
	}
}

static inline void nc_connected(struct rpc_context *rpc, int status, void *data, void *priv)
{
	struct nres *r = priv;
	r->done = true;
	r->rpc = status;
}

/* Connect to port as uid/gid with ngids supplementary groups (a few
 * tries: a daemon just restarted may still be busy recovering). */
static inline void nc_open(struct nc *c, uint16_t port, uint32_t prog, uint32_t uid, uint32_t gid,
			   uint32_t ngids, const uint32_t *gids)
{
	bool soft = nc_soft;
	nc_soft = true;   /* a failed try ends the wait instead of the test */
	for (int attempt = 0; attempt < 20; attempt++) {
		c->rpc = rpc_init_context();
		CHECK(c->rpc, "rpc_init_context");
		c->port = port;
		rpc_set_auth(c->rpc, libnfs_authunix_create("ft", uid, gid, ngids, (uint32_t *)gids));
		struct nres r = { 0 };
		if (rpc_connect_port_async(c->rpc, "127.0.0.1", port, (int)prog, 3, nc_connected, &r) == 0) {
			nc_wait(c, &r, 5000);
			if (r.rpc == RPC_STATUS_SUCCESS && c->rpc) {
				nc_soft = soft;
				return;
			}
		}
		if (c->rpc)
			rpc_destroy_context(c->rpc);
		c->rpc = NULL;
		usleep(100000);
	}
	CHECK(false, "cannot connect to port %u", port);
}

static inline void nc_close(struct nc *c)
{
	if (c->rpc)
		rpc_destroy_context(c->rpc);
	c->rpc = NULL;
}

/* A soft failure earlier left no context: the call fails too (the
 * caller reconnects), it never reaches libnfs with NULL. */
#define NC_CALL(c, r, fn, args) do {                                            \
	(r)->done = false;                                                      \
	if (!(c)->rpc) {                                                        \
		CHECK(nc_soft, #fn " on a closed connection");                 \
		(r)->done = true;                                               \
		(r)->rpc = RPC_STATUS_ERROR;                                    \
		break;                                                          \
	}                                                                       \
	CHECK(fn((c)->rpc, nc_cb, args, r) == 0, #fn ": %s", rpc_get_error((c)->rpc)); \
	nc_wait(c, r, 10000);                                                   \
} while (0)

/* ---- MOUNT ---------------------------------------------------------------- */

static inline void cp_mnt(struct nres *r, void *d)
{
	mountres3 *m = d;
	if (m->fhs_status == MNT3_OK) {
		r->fh.len = m->mountres3_u.mountinfo.fhandle.fhandle3_len;
		if (r->fh.len > NFS3_FHSIZE)
			r->fh.len = NFS3_FHSIZE;
		memcpy(r->fh.b, m->mountres3_u.mountinfo.fhandle.fhandle3_val, r->fh.len);
	}
}

/* MNT path as uid 0; returns the mount status, root handle in *root. */
static inline int nc_mount(uint16_t mount_port, const char *path, struct tfh *root)
{
	struct nc c;
	nc_open(&c, mount_port, MOUNT_PROGRAM, 0, 0, 0, NULL);
	struct nres r = { .copy = cp_mnt };
	r.done = false;
	CHECK(rpc_mount3_mnt_async(c.rpc, nc_cb, (char *)path, &r) == 0, "mnt");
	nc_wait(&c, &r, 5000);
	CHECK(r.rpc == RPC_STATUS_SUCCESS, "MNT rpc failed");
	nc_close(&c);
	if (root)
		*root = r.fh;
	return r.status;
}

/* ---- NFSv3 ------------------------------------------------------------------- */

static inline void cp_getattr(struct nres *r, void *d)
{
	GETATTR3res *x = d;
	if (x->status == NFS3_OK) {
		r->has_attr = true;
		r->attr = x->GETATTR3res_u.resok.obj_attributes;
	}
}

static inline int nc_getattr(struct nc *c, const struct tfh *f, struct nres *r)
{
	GETATTR3args a = { .object = fh_arg(f) };
	*r = (struct nres){ .copy = cp_getattr };
	NC_CALL(c, r, rpc_nfs3_getattr_async, &a);
	return r->rpc == RPC_STATUS_SUCCESS ? r->status : -1;
}

static inline void cp_setattr(struct nres *r, void *d)
{
	SETATTR3res *x = d;
	r->wcc = x->SETATTR3res_u.resok.obj_wcc;
	post_copy(r, &r->wcc.after);
}

static inline int nc_setattr(struct nc *c, const struct tfh *f, const sattr3 *s, const nfstime3 *guard,
		      struct nres *r)
{
	SETATTR3args a = { .object = fh_arg(f), .new_attributes = *s };
	if (guard) {
		a.guard.check = 1;
		a.guard.sattrguard3_u.obj_ctime = *guard;
	}
	*r = (struct nres){ .copy = cp_setattr };
	NC_CALL(c, r, rpc_nfs3_setattr_async, &a);
	return r->rpc == RPC_STATUS_SUCCESS ? r->status : -1;
}

static inline void cp_lookup(struct nres *r, void *d)
{
	LOOKUP3res *x = d;
	if (x->status == NFS3_OK) {
		fh_copy(&r->fh, &x->LOOKUP3res_u.resok.object);
		post_copy(r, &x->LOOKUP3res_u.resok.obj_attributes);
	}
}

static inline int nc_lookup(struct nc *c, const struct tfh *dir, const char *name, struct nres *r)
{
	LOOKUP3args a = { .what = { .dir = fh_arg(dir), .name = (char *)name } };
	*r = (struct nres){ .copy = cp_lookup };
	NC_CALL(c, r, rpc_nfs3_lookup_async, &a);
	return r->rpc == RPC_STATUS_SUCCESS ? r->status : -1;
}

static inline void cp_access(struct nres *r, void *d)
{
	ACCESS3res *x = d;
	if (x->status == NFS3_OK)
		r->access = x->ACCESS3res_u.resok.access;
}

static inline int nc_access(struct nc *c, const struct tfh *f, uint32_t want, struct nres *r)
{
	ACCESS3args a = { .object = fh_arg(f), .access = want };
	*r = (struct nres){ .copy = cp_access };
	NC_CALL(c, r, rpc_nfs3_access_async, &a);
	return r->rpc == RPC_STATUS_SUCCESS ? r->status : -1;
}

static inline void cp_readlink(struct nres *r, void *d)
{
	READLINK3res *x = d;
	if (x->status == NFS3_OK && r->data)
		snprintf(r->data, r->data_cap, "%s", x->READLINK3res_u.resok.data);
}

static inline int nc_readlink(struct nc *c, const struct tfh *f, char *buf, uint32_t cap, struct nres *r)
{
	READLINK3args a = { .symlink = fh_arg(f) };
	*r = (struct nres){ .copy = cp_readlink, .data = buf, .data_cap = cap };
	NC_CALL(c, r, rpc_nfs3_readlink_async, &a);
	return r->rpc == RPC_STATUS_SUCCESS ? r->status : -1;
}

static inline void cp_read(struct nres *r, void *d)
{
	READ3res *x = d;
	post_copy(r, &x->READ3res_u.resok.file_attributes);
	if (x->status == NFS3_OK) {
		r->count = x->READ3res_u.resok.count;
		r->eof = x->READ3res_u.resok.eof;
		uint32_t n = x->READ3res_u.resok.data.data_len;
		if (r->data)
			memcpy(r->data, x->READ3res_u.resok.data.data_val, n < r->data_cap ? n : r->data_cap);
	}
}

static inline int nc_read(struct nc *c, const struct tfh *f, uint64_t off, uint32_t count, char *buf,
		   struct nres *r)
{
	READ3args a = { .file = fh_arg(f), .offset = off, .count = count };
	*r = (struct nres){ .copy = cp_read, .data = buf, .data_cap = count };
	NC_CALL(c, r, rpc_nfs3_read_async, &a);
	return r->rpc == RPC_STATUS_SUCCESS ? r->status : -1;
}

static inline void cp_write(struct nres *r, void *d)
{
	WRITE3res *x = d;
	r->wcc = x->WRITE3res_u.resok.file_wcc;
	post_copy(r, &r->wcc.after);
	if (x->status == NFS3_OK) {
		r->count = x->WRITE3res_u.resok.count;
		memcpy(r->verf, x->WRITE3res_u.resok.verf, 8);
	}
}

static inline int nc_write(struct nc *c, const struct tfh *f, uint64_t off, const void *buf, uint32_t n,
		    int stable, struct nres *r)
{
	WRITE3args a = { .file = fh_arg(f), .offset = off, .count = n, .stable = stable };
	a.data.data_len = n;
	a.data.data_val = (char *)buf;
	*r = (struct nres){ .copy = cp_write };
	NC_CALL(c, r, rpc_nfs3_write_async, &a);
	return r->rpc == RPC_STATUS_SUCCESS ? r->status : -1;
}

static inline void cp_commit(struct nres *r, void *d)
{
	COMMIT3res *x = d;
	r->wcc = x->COMMIT3res_u.resok.file_wcc;
	if (x->status == NFS3_OK)
		memcpy(r->verf, x->COMMIT3res_u.resok.verf, 8);
}

static inline int nc_commit(struct nc *c, const struct tfh *f, struct nres *r)
{
	COMMIT3args a = { .file = fh_arg(f) };
	*r = (struct nres){ .copy = cp_commit };
	NC_CALL(c, r, rpc_nfs3_commit_async, &a);
	return r->rpc == RPC_STATUS_SUCCESS ? r->status : -1;
}

/* CREATE, MKDIR, SYMLINK and MKNOD results have the same shape. */
#define CP_MADE(fn, T, U)                                                      \
static inline void fn(struct nres *r, void *d)                                        \
{                                                                              \
	T *x = d;                                                              \
	if (x->status == NFS3_OK) {                                            \
		if (x->U.resok.obj.handle_follows)                             \
			fh_copy(&r->fh, &x->U.resok.obj.post_op_fh3_u.handle); \
		post_copy(r, &x->U.resok.obj_attributes);                      \
		r->wcc = x->U.resok.dir_wcc;                                   \
	} else {                                                               \
		r->wcc = x->U.resfail.dir_wcc;                                 \
	}                                                                      \
}
CP_MADE(cp_create, CREATE3res, CREATE3res_u)
CP_MADE(cp_mkdir, MKDIR3res, MKDIR3res_u)
CP_MADE(cp_symlink, SYMLINK3res, SYMLINK3res_u)
CP_MADE(cp_mknod, MKNOD3res, MKNOD3res_u)

static inline sattr3 sattr_mode(int mode)
{
	sattr3 s;
	memset(&s, 0, sizeof(s));
	if (mode >= 0) {
		s.mode.set_it = 1;
		s.mode.set_mode3_u.mode = (uint32_t)mode;
	}
	return s;
}

/* how: UNCHECKED, GUARDED, EXCLUSIVE (verf used); mode < 0: not set */
static inline int nc_create(struct nc *c, const struct tfh *dir, const char *name, int how, int mode,
		     const char *verf, struct nres *r)
{
	CREATE3args a;
	memset(&a, 0, sizeof(a));
	a.where.dir = fh_arg(dir);
	a.where.name = (char *)name;
	a.how.mode = how;
	if (how == EXCLUSIVE)
		memcpy(a.how.createhow3_u.verf, verf, 8);
	else
		a.how.createhow3_u.obj_attributes = sattr_mode(mode);
	*r = (struct nres){ .copy = cp_create };
	NC_CALL(c, r, rpc_nfs3_create_async, &a);
	return r->rpc == RPC_STATUS_SUCCESS ? r->status : -1;
}

static inline int nc_mkdir(struct nc *c, const struct tfh *dir, const char *name, int mode, struct nres *r)
{
	MKDIR3args a;
	memset(&a, 0, sizeof(a));
	a.where.dir = fh_arg(dir);
	a.where.name = (char *)name;
	a.attributes = sattr_mode(mode);
	*r = (struct nres){ .copy = cp_mkdir };
	NC_CALL(c, r, rpc_nfs3_mkdir_async, &a);
	return r->rpc == RPC_STATUS_SUCCESS ? r->status : -1;
}

static inline int nc_symlink(struct nc *c, const struct tfh *dir, const char *name, const char *target,
		      struct nres *r)
{
	SYMLINK3args a;
	memset(&a, 0, sizeof(a));
	a.where.dir = fh_arg(dir);
	a.where.name = (char *)name;
	a.symlink.symlink_attributes = sattr_mode(-1);
	a.symlink.symlink_data = (char *)target;
	*r = (struct nres){ .copy = cp_symlink };
	NC_CALL(c, r, rpc_nfs3_symlink_async, &a);
	return r->rpc == RPC_STATUS_SUCCESS ? r->status : -1;
}

static inline int nc_mknod(struct nc *c, const struct tfh *dir, const char *name, int type, uint32_t maj,
		    uint32_t min, struct nres *r)
{
	MKNOD3args a;
	memset(&a, 0, sizeof(a));
	a.where.dir = fh_arg(dir);
	a.where.name = (char *)name;
	a.what.type = type;
	if (type == NF3CHR || type == NF3BLK) {
		a.what.mknoddata3_u.chr_device.dev_attributes = sattr_mode(0600);
		a.what.mknoddata3_u.chr_device.spec.specdata1 = maj;
		a.what.mknoddata3_u.chr_device.spec.specdata2 = min;
	} else if (type == NF3SOCK || type == NF3FIFO) {
		a.what.mknoddata3_u.sock_attributes = sattr_mode(0600);
	}
	*r = (struct nres){ .copy = cp_mknod };
	NC_CALL(c, r, rpc_nfs3_mknod_async, &a);
	return r->rpc == RPC_STATUS_SUCCESS ? r->status : -1;
}

static inline void cp_remove(struct nres *r, void *d)
{
	REMOVE3res *x = d;   /* RMDIR3res has the same layout */
	r->wcc = x->REMOVE3res_u.resok.dir_wcc;
}

static inline int nc_remove(struct nc *c, const struct tfh *dir, const char *name, struct nres *r)
{
	REMOVE3args a = { .object = { .dir = fh_arg(dir), .name = (char *)name } };
	*r = (struct nres){ .copy = cp_remove };
	NC_CALL(c, r, rpc_nfs3_remove_async, &a);
	return r->rpc == RPC_STATUS_SUCCESS ? r->status : -1;
}

static inline int nc_rmdir(struct nc *c, const struct tfh *dir, const char *name, struct nres *r)
{
	RMDIR3args a = { .object = { .dir = fh_arg(dir), .name = (char *)name } };
	*r = (struct nres){ .copy = cp_remove };
	NC_CALL(c, r, rpc_nfs3_rmdir_async, &a);
	return r->rpc == RPC_STATUS_SUCCESS ? r->status : -1;
}

static inline void cp_rename(struct nres *r, void *d)
{
	RENAME3res *x = d;
	r->wcc = x->RENAME3res_u.resok.fromdir_wcc;
	r->wcc2 = x->RENAME3res_u.resok.todir_wcc;
}

static inline int nc_rename(struct nc *c, const struct tfh *fd, const char *fn, const struct tfh *td,
		     const char *tn, struct nres *r)
{
	RENAME3args a = { .from = { .dir = fh_arg(fd), .name = (char *)fn },
			  .to = { .dir = fh_arg(td), .name = (char *)tn } };
	*r = (struct nres){ .copy = cp_rename };
	NC_CALL(c, r, rpc_nfs3_rename_async, &a);
	return r->rpc == RPC_STATUS_SUCCESS ? r->status : -1;
}

static inline void cp_link(struct nres *r, void *d)
{
	LINK3res *x = d;
	post_copy(r, &x->LINK3res_u.resok.file_attributes);
	r->wcc = x->LINK3res_u.resok.linkdir_wcc;
}

static inline int nc_link(struct nc *c, const struct tfh *f, const struct tfh *dir, const char *name,
		   struct nres *r)
{
	LINK3args a = { .file = fh_arg(f), .link = { .dir = fh_arg(dir), .name = (char *)name } };
	*r = (struct nres){ .copy = cp_link };
	NC_CALL(c, r, rpc_nfs3_link_async, &a);
	return r->rpc == RPC_STATUS_SUCCESS ? r->status : -1;
}

static inline void cp_readdir(struct nres *r, void *d)
{
	READDIR3res *x = d;
	if (x->status != NFS3_OK)
		return;
	r->eof = x->READDIR3res_u.resok.reply.eof;
	/* libnfs 4.0 lays decoded entries out unaligned: copy each one out */
	entry3 ebuf, *e;
	for (entry3 *p = x->READDIR3res_u.resok.reply.entries; p; p = e->nextentry) {
		memcpy(&ebuf, p, sizeof(ebuf));
		e = &ebuf;
		if (r->nents < r->ents_cap) {
			struct tdirent *t = &r->ents[r->nents];
			memset(t, 0, sizeof(*t));
			t->fileid = e->fileid;
			t->cookie = e->cookie;
			snprintf(t->name, sizeof(t->name), "%s", e->name);
		}
		r->nents++;
	}
}

static inline int nc_readdir(struct nc *c, const struct tfh *dir, uint64_t cookie, uint32_t count,
		      struct tdirent *ents, uint32_t cap, struct nres *r)
{
	READDIR3args a;
	memset(&a, 0, sizeof(a));
	a.dir = fh_arg(dir);
	a.cookie = cookie;
	a.count = count;
	*r = (struct nres){ .copy = cp_readdir, .ents = ents, .ents_cap = cap };
	NC_CALL(c, r, rpc_nfs3_readdir_async, &a);
	return r->rpc == RPC_STATUS_SUCCESS ? r->status : -1;
}

static inline void cp_readdirplus(struct nres *r, void *d)
{
	READDIRPLUS3res *x = d;
	if (x->status != NFS3_OK)
		return;
	r->eof = x->READDIRPLUS3res_u.resok.reply.eof;
	entryplus3 ebuf, *e;
	for (entryplus3 *p = x->READDIRPLUS3res_u.resok.reply.entries; p; p = e->nextentry) {
		memcpy(&ebuf, p, sizeof(ebuf));
		e = &ebuf;
		if (r->nents < r->ents_cap) {
			struct tdirent *t = &r->ents[r->nents];
			memset(t, 0, sizeof(*t));
			t->fileid = e->fileid;
			t->cookie = e->cookie;
			snprintf(t->name, sizeof(t->name), "%s", e->name);
			t->has_attr = e->name_attributes.attributes_follow;
			if (t->has_attr)
				t->attr = e->name_attributes.post_op_attr_u.attributes;
			t->has_fh = e->name_handle.handle_follows;
			if (t->has_fh)
				fh_copy(&t->fh, &e->name_handle.post_op_fh3_u.handle);
		}
		r->nents++;
	}
}

static inline int nc_readdirplus(struct nc *c, const struct tfh *dir, uint64_t cookie, uint32_t dircount,
			  uint32_t maxcount, struct tdirent *ents, uint32_t cap, struct nres *r)
{
	READDIRPLUS3args a;
	memset(&a, 0, sizeof(a));
	a.dir = fh_arg(dir);
	a.cookie = cookie;
	a.dircount = dircount;
	a.maxcount = maxcount;
	*r = (struct nres){ .copy = cp_readdirplus, .ents = ents, .ents_cap = cap };
	NC_CALL(c, r, rpc_nfs3_readdirplus_async, &a);
	return r->rpc == RPC_STATUS_SUCCESS ? r->status : -1;
}

static inline void cp_fsstat(struct nres *r, void *d)
{
	FSSTAT3res *x = d;
	if (x->status != NFS3_OK)
		return;
	FSSTAT3resok *o = &x->FSSTAT3res_u.resok;
	uint64_t v[] = { o->tbytes, o->fbytes, o->abytes, o->tfiles, o->ffiles, o->afiles };
	memcpy(r->u64, v, sizeof(v));
}

static inline int nc_fsstat(struct nc *c, const struct tfh *f, struct nres *r)
{
	FSSTAT3args a = { .fsroot = fh_arg(f) };
	*r = (struct nres){ .copy = cp_fsstat };
	NC_CALL(c, r, rpc_nfs3_fsstat_async, &a);
	return r->rpc == RPC_STATUS_SUCCESS ? r->status : -1;
}

static inline void cp_fsinfo(struct nres *r, void *d)
{
	FSINFO3res *x = d;
	if (x->status != NFS3_OK)
		return;
	FSINFO3resok *o = &x->FSINFO3res_u.resok;
	uint64_t v[] = { o->rtmax, o->wtmax, o->dtpref, o->maxfilesize, o->properties };
	memcpy(r->u64, v, sizeof(v));
}

static inline int nc_fsinfo(struct nc *c, const struct tfh *f, struct nres *r)
{
	FSINFO3args a = { .fsroot = fh_arg(f) };
	*r = (struct nres){ .copy = cp_fsinfo };
	NC_CALL(c, r, rpc_nfs3_fsinfo_async, &a);
	return r->rpc == RPC_STATUS_SUCCESS ? r->status : -1;
}

static inline void cp_pathconf(struct nres *r, void *d)
{
	PATHCONF3res *x = d;
	if (x->status != NFS3_OK)
		return;
	PATHCONF3resok *o = &x->PATHCONF3res_u.resok;
	uint64_t v[] = { o->linkmax, o->name_max, o->no_trunc, o->case_preserving };
	memcpy(r->u64, v, sizeof(v));
}

static inline int nc_pathconf(struct nc *c, const struct tfh *f, struct nres *r)
{
	PATHCONF3args a = { .object = fh_arg(f) };
	*r = (struct nres){ .copy = cp_pathconf };
	NC_CALL(c, r, rpc_nfs3_pathconf_async, &a);
	return r->rpc == RPC_STATUS_SUCCESS ? r->status : -1;
}

static inline int nc_null(struct nc *c)
{
	struct nres r = { 0 };
	r.done = false;
	CHECK(rpc_nfs3_null_async(c->rpc, nc_cb, &r) == 0, "null");
	nc_wait(c, &r, 5000);
	return r.rpc == RPC_STATUS_SUCCESS ? 0 : -1;
}


/* ---- many creates in flight ------------------------------------------------ */

/* NFS3ERR_JUKEBOX ("try again later": a partitioned volume's manager
 * could not reach another for a moment) is retried, as NFS clients do. */
struct nc_many {
	uint32_t inflight, done, ok, retried;
	int      first_bad;
	uint32_t *redo;          /* indexes to send again */
	uint32_t nredo;
};

struct nc_many_req {
	struct nc_many *m;
	uint32_t        idx;
};

static inline void nc_many_cb(struct rpc_context *rpc, int status, void *data, void *priv)
{
	struct nc_many_req *q = priv;
	struct nc_many *m = q->m;
	m->inflight--;
	int st = status == RPC_STATUS_SUCCESS && data ? *(int *)data : -1;
	if (st == NFS3ERR_JUKEBOX && m->retried < 1000) {
		m->retried++;
		m->redo[m->nredo++] = q->idx;
		return;
	}
	m->done++;
	if (st == NFS3_OK)
		m->ok++;
	else if (!m->first_bad)
		m->first_bad = st;
}

/* Create files fmt % i for i in [first, first + n) in dir, `window` calls
 * in flight (the file manager commits them in groups).  Returns how many
 * succeeded. */
static inline uint32_t nc_create_some(struct nc *c, const struct tfh *dir, const char *fmt, uint32_t first,
				      uint32_t n, uint32_t window, bool (*pick)(uint32_t i, void *arg), void *arg);

static inline uint32_t nc_create_many(struct nc *c, const struct tfh *dir, const char *fmt,
				      uint32_t first, uint32_t n, uint32_t window)
{
	return nc_create_some(c, dir, fmt, first, n, window, NULL, NULL);
}

/* The same for the i in [first, first + n) that pick(i) accepts. */
static inline uint32_t nc_create_some(struct nc *c, const struct tfh *dir, const char *fmt, uint32_t first,
				      uint32_t n, uint32_t window, bool (*pick)(uint32_t i, void *arg), void *arg)
{
	struct nc_many m = { 0 };
	struct nc_many_req *reqs = calloc(n, sizeof(*reqs));
	m.redo = calloc(n, sizeof(uint32_t));
	char name[300];
	uint32_t next = 0;
	double end = tl_now_ms() + 90000;
	CHECK(reqs && m.redo, "memory");
	uint32_t want = n;
	if (pick) {
		want = 0;
		for (uint32_t i = 0; i < n; i++)
			want += pick(first + i, arg);
	}
	while (m.done < want) {
		while ((next < n || m.nredo) && m.inflight < window) {
			uint32_t idx;
			if (m.nredo) {
				idx = m.redo[--m.nredo];
			} else {
				idx = next++;
				if (pick && !pick(first + idx, arg))
					continue;
			}
			CREATE3args a;
			memset(&a, 0, sizeof(a));
			a.where.dir = fh_arg(dir);
			snprintf(name, sizeof(name), fmt, first + idx);
			a.where.name = name;
			a.how.mode = GUARDED;
			a.how.createhow3_u.obj_attributes = sattr_mode(0644);
			reqs[idx] = (struct nc_many_req){ &m, idx };
			CHECK(rpc_nfs3_create_async(c->rpc, nc_many_cb, &a, &reqs[idx]) == 0, "create_async");
			m.inflight++;
		}
		if (m.done >= want)
			break;
		CHECK(tl_now_ms() < end, "creates stalled at %u of %u", m.done, want);
		struct pollfd p = { .fd = rpc_get_fd(c->rpc), .events = (short)rpc_which_events(c->rpc) };
		int k = poll(&p, 1, 50);
		CHECK(rpc_service(c->rpc, k > 0 ? p.revents : 0) == 0, "rpc_service: %s", rpc_get_error(c->rpc));
	}
	if (m.ok != want || m.retried)
		NOTE("creates: %u of %u ok, %u retried after JUKEBOX, first failure status %d", m.ok, want, m.retried,
		     m.first_bad);
	free(reqs);
	free(m.redo);
	return m.ok;
}

/* Expect an NFS status: CHECK with the call's text on mismatch. */
#define EXPECT_NFS(call, want) do {                                              \
	int _st = (call);                                                        \
	CHECK(_st == (want), "%s: got status %d, want %s (%d)", #call, _st, #want, (int)(want)); \
} while (0)

#endif
