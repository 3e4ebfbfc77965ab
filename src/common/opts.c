/*
 * opts.c - the command line: the options every tool takes (link, mode, size,
 * counts, --peer / --listen, node, CPUs, secret, watchdog, -v, -h), merged
 * with the tool's own, which it handles itself.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "perfkit.h"

enum { O_LINK = 256, O_SIZE, O_MODE, O_ITERS, O_REPS, O_PEER, O_LISTEN, O_NODE,
       O_CPUS, O_CPUC, O_SECRET, O_TIMEOUT };
_Static_assert((int)O_TIMEOUT < (int)PK_O_TOOL, "the tools' option codes come after ours");

static const struct option common_opts[] = {
	{ "link", 1, NULL, O_LINK },         { "size", 1, NULL, O_SIZE },
	{ "mode", 1, NULL, O_MODE },         { "iters", 1, NULL, O_ITERS },
	{ "reps", 1, NULL, O_REPS },         { "peer", 1, NULL, O_PEER },
	{ "listen", 1, NULL, O_LISTEN },     { "node", 1, NULL, O_NODE },
	{ "cpu-server", 1, NULL, O_CPUS },   { "cpu-client", 1, NULL, O_CPUC },
	{ "secret", 1, NULL, O_SECRET },     { "timeout", 1, NULL, O_TIMEOUT },
	{ "verbose", 0, NULL, 'v' },         { "help", 0, NULL, 'h' },
};
#define N_COMMON (sizeof common_opts / sizeof common_opts[0])
#define MAX_OPTS 48

long pk_parse_num(const char *s, const char *what, long min, long max)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 0);
	if (errno || end == s || *end || v < min || v > max) {
		fprintf(stderr, "%s: bad %s '%s' (want %ld..%ld)\n", pk_prog, what, s, min, max);
		exit(2);
	}
	return v;
}

int pk_parse_enum(const char *s, const char *what, const char *const *names, int n)
{
	for (int i = 0; i < n; i++)
		if (!strcmp(s, names[i]))
			return i;
	fprintf(stderr, "%s: bad %s '%s' (see --help)\n", pk_prog, what, s);
	exit(2);
}

static bool common_opt(struct pk_opts *o, int opt, const char *arg, const struct pk_cli *cli)
{
	static const char *const links[] = { "shm", "tcp" };
	static const char *const modes[] = { "poll", "block" };

	switch (opt) {
	case O_LINK:    o->link = pk_parse_enum(arg, "link", links, 2) ? PK_LINK_TCP : PK_LINK_SHM; break;
	case O_MODE:    o->mode = pk_parse_enum(arg, "mode", modes, 2) ? PK_MODE_BLOCK : PK_MODE_POLL; break;
	case O_SIZE:    o->size_arg = pk_parse_num(arg, "size", 0, TPZ_PAYLOAD_CEIL); break;
	case O_ITERS:   o->iters = (uint64_t)pk_parse_num(arg, "iters", 1, 1L << 40); break;
	case O_REPS:    o->reps = (int)pk_parse_num(arg, "reps", 1, PK_MAX_REPS); break;
	case O_PEER:    o->peer = arg; break;
	case O_LISTEN:  o->listen_port = (int)pk_parse_num(arg, "port", 0, 65535); break;
	case O_NODE:    o->node = (uint32_t)pk_parse_num(arg, "node", 1, TPZ_MAX_NODES - 1); break;
	case O_CPUS:    o->cpu_server = (int)pk_parse_num(arg, "cpu", 0, 4095); o->cpus_given = true; break;
	case O_CPUC:    o->cpu_client = (int)pk_parse_num(arg, "cpu", 0, 4095); o->cpus_given = true; break;
	case O_SECRET:  o->secret = arg; break;
	case O_TIMEOUT: o->timeout_s = (int)pk_parse_num(arg, "timeout", 0, 86400); break;
	case 'v':       o->verbose = true; pk_verbose = 1; break;
	case 'h':       fputs(cli->usage, stdout); exit(0);
	default:        return false;
	}
	return true;
}

/* Ours, then the tool's, then the terminator getopt_long wants. */
static void merge_opts(struct option *all, const struct option *tool)
{
	size_t n = N_COMMON;

	memcpy(all, common_opts, sizeof common_opts);
	for (; tool && tool->name; tool++) {
		if (n + 1 >= MAX_OPTS) {
			fprintf(stderr, "%s: too many options\n", pk_prog);
			exit(2);
		}
		all[n++] = *tool;
	}
	all[n] = (struct option){ NULL, 0, NULL, 0 };
}

void pk_parse_args(struct pk_opts *o, int argc, char **argv, const struct pk_cli *cli)
{
	struct option all[MAX_OPTS];
	int opt;

	*o = (struct pk_opts){
		.link = PK_LINK_SHM, .mode = PK_MODE_POLL, .size_arg = -1, .listen_port = -1,
		.node = 1, .cpu_server = 0, .cpu_client = 1, .secret = cli->secret,
		.timeout_s = 120,
	};
	merge_opts(all, cli->opts);
	while ((opt = getopt_long(argc, argv, "vh", all, NULL)) != -1) {
		if (!common_opt(o, opt, optarg, cli) && !cli->opt(cli->arg, opt, optarg)) {
			fputs(cli->usage, stderr);
			exit(2);
		}
	}
	if (optind < argc) {
		fprintf(stderr, "%s: unexpected argument '%s' (see --help)\n", pk_prog, argv[optind]);
		exit(2);
	}
	if (o->peer && o->listen_port >= 0) {
		fprintf(stderr, "%s: --peer and --listen exclude each other\n", pk_prog);
		exit(2);
	}
	if (o->peer || o->listen_port >= 0) {
		if (o->peer && strncmp(o->peer, "tcp://", 6)) {
			fprintf(stderr, "%s: --peer wants tcp://HOST:PORT\n", pk_prog);
			exit(2);
		}
		o->link = PK_LINK_TCP;
	}
}
