/*
 * perfkit.h - what the benchmark tools under src/ (tpz-perf, nrpc-perf)
 * share: the process basics, the options both take, endpoint setup, running
 * the two ends (forked, or split by --listen / --peer), median/min/max, and
 * the one JSON line a run prints.  Built into libperfkit.a (see Makefile).
 *
 * A tool sets pk_prog first: every message starts with it.
 */
#ifndef PERFKIT_H
#define PERFKIT_H

#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>

#include "trapeze.h"

#define PK_SERVER_NODE 0u       /* the server end's node; the client's is --node */
#define PK_MAX_REPS    10000

/* Values travel in the tools' START messages: keep them. */
enum pk_link { PK_LINK_SHM, PK_LINK_TCP };
enum pk_mode { PK_MODE_POLL = 1, PK_MODE_BLOCK };

/* ---- base.c: program name, stop flag, clock, pinning, log --------------- */

extern const char *pk_prog;      /* "tpz-perf" */
extern volatile int pk_stop;     /* SIGINT or SIGTERM seen: wind down */
extern int pk_verbose;           /* -v: the library's info messages too */

uint64_t pk_now_ns(void);
void pk_pin_cpu(int cpu, const char *who);
/* Trapeze's log callback (tpz_config.log); log_arg is the end ("server"). */
void pk_log(void *arg, int level, const char *msg);
const char *pk_link_name(enum pk_link l);
const char *pk_mode_name(enum pk_mode m);

/* ---- opts.c: the options every tool takes ------------------------------- */

struct pk_opts {
	enum pk_link link;
	enum pk_mode mode;
	long     size_arg;       /* --size, -1 if not given: the tool settles it */
	uint64_t iters;          /* 0: the tool's default */
	int      reps;           /* 0: the tool's default */
	const char *peer;        /* tcp://HOST:PORT: run only the client end */
	int      listen_port;    /* >= 0: run only the server end */
	uint32_t node;           /* the client's node id */
	int      cpu_server, cpu_client;
	bool     cpus_given;     /* pin even in --peer / --listen mode */
	const char *secret;
	int      timeout_s;      /* watchdog */
	bool     verbose;
};

/* A tool's own options: getopt_long codes from PK_O_TOOL up. */
enum { PK_O_TOOL = 300 };

struct pk_cli {
	const char *usage;              /* -h prints it; a bad option, to stderr */
	const char *secret;             /* default --secret */
	const struct option *opts;      /* the tool's options, { NULL } last */
	/* Take one of them; false: not one of the tool's. */
	bool (*opt)(void *arg, int opt, const char *val);
	void *arg;
};

/* Fill o from argv (the tool's options go to cli->opt); exits 2 on misuse. */
void pk_parse_args(struct pk_opts *o, int argc, char **argv, const struct pk_cli *cli);
long pk_parse_num(const char *s, const char *what, long min, long max);
/* The index of s in names[n]. */
int  pk_parse_enum(const char *s, const char *what, const char *const *names, int n);

/* ---- endpoint.c: an endpoint of either end ------------------------------ */

/* tpz_config_default plus what the options say: node, the private shm
 * fabric (shm link only), secret, pk_log, no spinning in block mode.  The
 * tool adds its own settings, then calls tpz_endpoint_create. */
void pk_endpoint_config(struct tpz_config *cfg, const struct pk_opts *o, uint32_t node,
			const char *fabric, const char *who);
/* The server end: listen on url, then tell the forked parent (pk_run). */
int  pk_listen(struct tpz_endpoint *ep, const char *url, int ready_fd, bool forever);

/* ---- ends.c: run both ends, or one ----------------------------------------- */

/* What a tool plugs into pk_run; arg is its options. */
struct pk_ends {
	const char *fabric_prefix;      /* the private shm fabric: PREFIX-PID */
	/* The client failed: true: SIGTERM the server end (it cleans up), and
	 * SIGKILL it only if it is not gone within 2 s; false: SIGKILL. */
	bool stop_gently;
	/* Bytes of each payload the client end sends (0: none): more than
	 * its endpoint takes is refused before measuring. */
	uint32_t payload;
	/* The endpoint of an end: node, who ("server", "client"), fabric (NULL
	 * unless both ends run here). */
	int  (*open)(void *arg, uint32_t node, const char *fabric, const char *who,
		     struct tpz_endpoint **ep);
	/* The server end on url: one session (forked) or sessions until pk_stop
	 * (forever: --listen); it reports with pk_listen. */
	int  (*serve)(void *arg, struct tpz_endpoint *ep, const char *url, int ready_fd,
		      bool forever);
	/* The client end against url: the measured run. */
	int  (*measure)(void *arg, struct tpz_endpoint *ep, const char *url);
	/* After a measure that succeeded, its endpoint gone: the JSON line. */
	void (*report)(void *arg);
	void *arg;
};

/* Signals, watchdog, pinning; --listen, --peer, or both ends here (the server
 * forked).  Returns main's exit status. */
int pk_run(const struct pk_opts *o, const struct pk_ends *e);

/* ---- stats.c --------------------------------------------------------------- */

struct pk_summary { double median, min, max; };

struct pk_summary pk_summarize(const double *v, int n);   /* all 0 if n == 0 */

/* ---- json.c: the JSON line on stdout ------------------------------------ */

struct pk_json { bool more; };  /* a field stands before: the next takes a comma */

void pk_json_begin(struct pk_json *j);
void pk_json_str(struct pk_json *j, const char *k, const char *v);
void pk_json_bool(struct pk_json *j, const char *k, bool v);
void pk_json_int(struct pk_json *j, const char *k, long long v);
void pk_json_u64(struct pk_json *j, const char *k, uint64_t v);
void pk_json_num(struct pk_json *j, const char *k, double v);          /* %.4g */
/* k_median, k_min, k_max of v[n] */
void pk_json_summary(struct pk_json *j, const char *k, const double *v, int n);
void pk_json_object(struct pk_json *j, const char *k);   /* fields up to pk_json_close */
void pk_json_close(struct pk_json *j);
void pk_json_end(struct pk_json *j);                     /* the line ends, flushed */

#endif /* PERFKIT_H */
