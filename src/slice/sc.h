/*
 * sc.h - `slice`, the operator's command: what its files share.
 *
 *   main.c     subcommand dispatch, usage
 *   state.c    which cluster and which state directory a command is about
 *   conf.c     a local cluster: secret, free ports, DIR/cluster.conf
 *   proc.c     daemons: find a binary, start one detached, wait for its
 *              ready line, pid files, liveness, stop
 *   node.c     the command line of a node's daemon from the cluster file
 *   up.c down.c status.c probe.c mount.c nfs.c bench.c  the subcommands
 *
 * State of a cluster on a host (DIR: --dir, or the cluster file's folder):
 *   DIR/run/NAME.pid    the daemon's pid (NAME: blockd-I, fmd-I, proxy-I)
 *   DIR/run/NAME.out    its stdout (the ready line)
 *   DIR/run/mounts      slicefs mount points, one a line
 *   DIR/logs/NAME.log   its stderr
 * Errors: the subcommands print what went wrong and return the exit
 * status (0 ok, 1 failure, 2 bad command line or cluster file).
 */
#ifndef SC_H
#define SC_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "slice_cluster.h"

#define SC_PROG "slice"

/* A cluster as a command sees it. */
struct sc_state {
	char dir[PATH_MAX];        /* state directory (run/, logs/) */
	char file[PATH_MAX + 32];  /* the cluster file */
	char host[64];             /* only nodes of this host ("" = all) */
	struct slice_cluster *c;   /* heap; NULL until loaded */
};

/* ---- state.c ----------------------------------------------------------------- */
/* From --dir / --cluster / --host: fill st and load the cluster file.
 * Returns 0, or an exit status after printing why. */
int  sc_state_open(struct sc_state *st, const char *dir, const char *cluster, const char *host);
void sc_state_close(struct sc_state *st);
/* Is n one of the nodes this command handles (its host)? */
bool sc_state_mine(const struct sc_state *st, const struct slice_cluster_node *n);
void sc_path(char *out, size_t len, const struct sc_state *st, const char *sub, const char *name,
	     const char *ext);

/* ---- node.c ------------------------------------------------------------------ */
const char *sc_role_name(enum slice_role r);
/* "blockd-0", "fmd-1", "proxy-0" */
void sc_node_name(const struct slice_cluster_node *n, char *out, size_t len);
/* The daemon of a node: program name and argv (strings in buf). */
struct sc_argv {
	char *argv[96];
	int   argc;
	char  buf[8192];
	size_t used;
};
void sc_argv_add(struct sc_argv *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int  sc_node_argv(const struct slice_cluster *c, const struct slice_cluster_node *n, struct sc_argv *a);
const char *sc_node_prog(enum slice_role r);

/* ---- proc.c ------------------------------------------------------------------ */
/* The path of program name: beside our own executable, else in PATH. */
int   sc_find_bin(const char *name, char *out, size_t len);
/* Start argv detached (setsid, stdin /dev/null, stdout to out_path, stderr
 * appended to log_path).  Returns the pid or -errno. */
pid_t sc_spawn(char *const argv[], const char *out_path, const char *log_path);
/* Wait (bounded) until out_path holds a line starting "ready"; copies it
 * into line.  0, -ETIMEDOUT, or -ECHILD if pid died first (it was ours). */
int   sc_wait_ready(pid_t pid, const char *out_path, int timeout_ms, char *line, size_t len);
/* The pid recorded in path if that process runs prog, else 0. */
pid_t sc_pid_alive(const char *pid_path, const char *prog);
bool  sc_proc_is(pid_t pid, const char *prog);
int   sc_write_pid(const char *path, pid_t pid);
/* SIGTERM the pids, wait up to timeout_ms for all, SIGKILL the rest.
 * Returns how many needed SIGKILL. */
int   sc_stop(const pid_t *pids, int n, int timeout_ms);
bool  sc_gone(pid_t pid);

/* ---- conf.c ------------------------------------------------------------------ */
struct sc_local_opts {
	uint32_t blockds, managers, cache_mb, stripe_unit;
	bool tcp;
};
/* Make DIR's secret and cluster file for a new local cluster. */
int sc_local_create(const char *dir, const struct sc_local_opts *o, char *err, size_t errlen);
char *sc_read_line(const char *path, char *buf, size_t len);   /* first line, no newline */
int   sc_mkdir_p(const char *dir, mode_t mode);

/* ---- probe.c ----------------------------------------------------------------- */
struct sc_probe;
struct slb_statfs_res;
struct slb_blockd_counters;
struct sc_nfs_fs {
	uint64_t total, free, files, ffree;   /* bytes; inodes */
};
/* One Trapeze endpoint (a client node of the cluster) for probing block
 * servers; never fails: a probe without it reports the reason. */
struct sc_probe *sc_probe_open(const struct slice_cluster *c, char *err, size_t errlen);
void sc_probe_close(struct sc_probe *p);
int  sc_probe_blockd(struct sc_probe *p, const struct slice_cluster_node *n, struct slb_statfs_res *fs,
		     struct slb_blockd_counters *ctr, bool *have_ctr, char *err, size_t errlen);
/* MOUNT + FSSTAT over NFSv3 to a manager's (or proxy's) listener. */
int  sc_probe_nfs(const struct slice_cluster *c, const char *addr, struct sc_nfs_fs *out, char *err,
		  size_t errlen);

/* ---- subcommands ------------------------------------------------------------- */
int sc_cmd_up(int argc, char **argv);
int sc_cmd_down(int argc, char **argv);
int sc_cmd_status(int argc, char **argv);
int sc_cmd_mount(int argc, char **argv);
int sc_cmd_umount(int argc, char **argv);
int sc_cmd_nfs(int argc, char **argv);
int sc_cmd_bench(int argc, char **argv);

/* Helpers of the subcommands (down.c): unmount and stop everything of st
 * that runs here; returns 0 or 1. */
int sc_down_all(struct sc_state *st, bool quiet);
/* mount.c: the mount points recorded in st's run dir. */
int sc_mounts_read(const struct sc_state *st, char mp[][PATH_MAX], int max);
bool sc_is_mounted(const char *mp);
int sc_unmount(const char *mp);
void sc_mounts_forget(const struct sc_state *st, const char *mp);

/* misc */
long sc_parse_num(const char *s, const char *what, long min, long max);   /* exits 2 */
uint64_t sc_parse_size(const char *s);   /* 4K, 1M, 1G; 0 on error */
void sc_human(char *out, size_t len, uint64_t bytes);

#endif
