/*
 * opts.c - slice-blockd's command line.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blockd.h"

static const char usage[] =
"usage: slice-blockd --node N --data DIR --listen URL [--listen URL] [options]\n"
"\n"
"The Slice block I/O server: stores objects (64-bit ids) as sparse byte\n"
"arrays under DIR, with a CRC32C per 4 KiB block checked on every read, and\n"
"serves READ, WRITE, COMMIT, TRUNCATE, REMOVE, STAT and STATFS over NetRPC\n"
"(include/slice_wire.h).  Prints \"ready node=N tcp=PORT\" on stdout once it\n"
"serves; logs to stderr; SIGTERM or SIGINT stop it cleanly, SIGUSR1 logs its\n"
"counters.  See docs/blockd.md.\n"
"\n"
"  --node N            Trapeze node id of this server (0..255)\n"
"  --data DIR          data directory (created if missing)\n"
"  --listen URL        where to serve: \"shm\" (needs --fabric) and/or\n"
"                      tcp://HOST:PORT (port 0: any; needs --secret-file);\n"
"                      repeatable, one of each at most\n"
"  --fabric NAME       shm fabric to join, or create if none exists\n"
"  --secret-file F     file holding the cluster secret (tcp)\n"
"  --cache-mb M        block cache in MiB (default 256; 0: none)\n"
"  --workers K         I/O threads (default 4)\n"
"  --pool-frames N     frames of 64 KiB in the fabric's pool when this server\n"
"                      creates it, or in its private pool (default 512); the\n"
"                      cache moves into the pool when it fits (docs/blockd.md)\n"
"  --max-open N        objects kept open at once (default 1024)\n"
"  --spin-us U         after the last request, poll up to this long (giving\n"
"                      the CPU away between polls; adapts to how far apart\n"
"                      requests come) before sleeping (default 50; 0: sleep)\n"
"  --log-level L       error, warn, info (default) or debug\n"
"  --help              this text\n";

enum { O_NODE = 256, O_DATA, O_LISTEN, O_FABRIC, O_SECRET, O_CACHE, O_WORKERS, O_POOL, O_MAXOPEN,
       O_SPIN, O_LOGLEVEL, O_HELP };

static const struct option longopts[] = {
	{ "node", required_argument, NULL, O_NODE },
	{ "data", required_argument, NULL, O_DATA },
	{ "listen", required_argument, NULL, O_LISTEN },
	{ "fabric", required_argument, NULL, O_FABRIC },
	{ "secret-file", required_argument, NULL, O_SECRET },
	{ "cache-mb", required_argument, NULL, O_CACHE },
	{ "workers", required_argument, NULL, O_WORKERS },
	{ "pool-frames", required_argument, NULL, O_POOL },
	{ "max-open", required_argument, NULL, O_MAXOPEN },
	{ "spin-us", required_argument, NULL, O_SPIN },
	{ "log-level", required_argument, NULL, O_LOGLEVEL },
	{ "help", no_argument, NULL, O_HELP },
	{ NULL, 0, NULL, 0 },
};

static int bad(const char *fmt, const char *arg)
{
	fprintf(stderr, "slice-blockd: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\n(slice-blockd --help lists the options)\n");
	return 2;
}

/* A whole decimal number in [min, max]. */
static bool number(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	char *end;

	if (!*s || *s == '-')
		return false;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return false;
	*out = v;
	return true;
}

/* 0: go on; 1: --help was printed (exit 0); 2: bad command line. */
int blockd_parse_opts(int argc, char **argv, struct blockd_opts *o)
{
	bool have_node = false, shm = false, tcp = false;
	uint64_t v;
	int c;

	*o = (struct blockd_opts){ .cache_mb = 256, .workers = 4, .pool_frames = 512, .max_open = 1024,
				   .spin_us = BLOCKD_SPIN_US, .log_level = BLOG_INFO };
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case O_NODE:
			if (!number(optarg, 0, TPZ_MAX_NODES - 1, &v))
				return bad("--node: want a node id 0..255, not \"%s\"", optarg);
			o->node = (uint32_t)v;
			have_node = true;
			break;
		case O_DATA:
			o->data = optarg;
			break;
		case O_LISTEN:
			if (strcmp(optarg, "shm") == 0 && !shm)
				shm = true;
			else if (strncmp(optarg, "tcp://", 6) == 0 && !tcp)
				tcp = true;
			else
				return bad("--listen: want \"shm\" or tcp://HOST:PORT, once each; \"%s\" is not",
					   optarg);
			o->listen[o->nlisten++] = optarg;
			break;
		case O_FABRIC:
			o->fabric = optarg;
			break;
		case O_SECRET:
			o->secret_file = optarg;
			break;
		case O_CACHE:
			if (!number(optarg, 0, 1u << 20, &v))
				return bad("--cache-mb: want MiB, 0..1048576, not \"%s\"", optarg);
			o->cache_mb = v;
			break;
		case O_WORKERS:
			if (!number(optarg, 1, 256, &v))
				return bad("--workers: want 1..256 threads, not \"%s\"", optarg);
			o->workers = (uint32_t)v;
			break;
		case O_POOL:
			if (!number(optarg, 16, 1u << 22, &v))
				return bad("--pool-frames: want 16..4194304 frames, not \"%s\"", optarg);
			o->pool_frames = (uint32_t)v;
			break;
		case O_MAXOPEN:
			if (!number(optarg, 4, 1u << 20, &v))
				return bad("--max-open: want 4..1048576 objects, not \"%s\"", optarg);
			o->max_open = (uint32_t)v;
			break;
		case O_SPIN:
			if (!number(optarg, 0, 1000000, &v))
				return bad("--spin-us: want 0..1000000 microseconds, not \"%s\"", optarg);
			o->spin_us = (int)v;
			break;
		case O_LOGLEVEL:
			if ((o->log_level = blog_level_parse(optarg)) < 0)
				return bad("--log-level: want error, warn, info or debug, not \"%s\"", optarg);
			break;
		case O_HELP:
			fputs(usage, stdout);
			return 1;
		default:
			return bad("unknown or incomplete option \"%s\"", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return bad("unexpected argument \"%s\"", argv[optind]);
	if (!have_node)
		return bad("%s", "--node is required");
	if (!o->data)
		return bad("%s", "--data is required");
	if (!o->nlisten)
		return bad("%s", "give at least one --listen (shm, tcp://HOST:PORT)");
	if (shm != (o->fabric != NULL))
		return bad("%s", shm ? "--listen shm needs --fabric NAME"
				     : "--fabric is only for --listen shm");
	if (tcp && !o->secret_file)
		return bad("%s", "--listen tcp://... needs --secret-file (the cluster secret)");
	return 0;
}
