/*
 * main.c - slice-obj's options: who we are on the fabric, which block
 * servers hold the stripe, and the command.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "obj.h"

static const char usage[] =
"usage: slice-obj [options] COMMAND ...\n"
"Store and fetch objects on Slice block servers through the striped data path.\n"
"\n"
"commands:\n"
"  put OBJ FILE        write FILE (- = stdin) as object OBJ, then commit\n"
"  get OBJ FILE        read object OBJ into FILE (- = stdout)\n"
"  stat OBJ            size and allocated bytes of OBJ over all servers\n"
"  rm OBJ              remove OBJ from every server\n"
"  truncate OBJ SIZE   set OBJ's size\n"
"  statfs              every server's capacity and cache\n"
"  bench OBJ           measure (see --bench-*); one JSON line per phase\n"
"\n"
"options:\n"
"  --server NODE=URL   a block server, in stripe order (repeat); URL is shm or\n"
"                      tcp://HOST:PORT\n"
"  --node N            our node id (default 15; on shm below the fabric's node count)\n"
"  --fabric NAME       shm fabric to join (needed for shm servers)\n"
"  --secret-file F     cluster secret for tcp servers\n"
"  --stripe-unit SIZE  bytes per stripe unit (default 256K)\n"
"  --size SIZE         get: bytes to read (default: the object's size)\n"
"  --readahead N       stripe units of read-ahead (default 8, 0 = off)\n"
"  --timeout-ms MS     per block call (default 3000)\n"
"  --spin-us U         poll this long before sleeping while waiting (default:\n"
"                      Trapeze's, 50)\n"
"  --bench-total SIZE  bench: bytes to write and read (default 256M)\n"
"  --bench-bs SIZE     bench: bytes per call (default 1M)\n"
"  --bench-what W      bench: write, read, seq (write+read), rand (default seq)\n"
"  --bench-qd N        bench read, rand: reads in flight (default 1; read: 1 =\n"
"                      one slice_read after the other, with read-ahead)\n"
"  --bench-seconds S   bench rand: run time (default 3)\n"
"  --bench-reps N      bench: run the read or rand phase N times (default 1)\n"
"  -v                  log the library's messages\n"
"  -h, --help          this text\n";

double obj_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

uint64_t obj_parse_size(const char *s)
{
	char *end;
	unsigned long long v = strtoull(s, &end, 10);
	switch (*end) {
	case 'k': case 'K': v <<= 10; end++; break;
	case 'm': case 'M': v <<= 20; end++; break;
	case 'g': case 'G': v <<= 30; end++; break;
	}
	return *end || end == s ? 0 : v;
}

static void logcb(void *arg, int level, const char *msg)
{
	if (level <= TPZ_LOG_WARN || *(int *)arg)
		fprintf(stderr, "slice-obj: %s\n", msg);
}

static char *read_secret(const char *path)
{
	static char buf[256];
	FILE *f = fopen(path, "r");
	if (!f)
		return NULL;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		n--;
	buf[n] = 0;
	return n ? buf : NULL;
}

static int connect_one(void *arg, uint32_t node)
{
	struct obj_ctx *x = arg;
	for (uint32_t i = 0; i < x->nservers; i++)
		if (x->map.layout.servers[i] == node)
			return tpz_connect(x->ep, node, x->urls[i], 2000);
	return -ENOENT;
}

static uint64_t parse_obj(const char *s)
{
	char *end;
	uint64_t v = strtoull(s, &end, 0);
	if (*end || end == s) {
		fprintf(stderr, "slice-obj: bad object id '%s'\n", s);
		exit(2);
	}
	return v;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "server", 1, 0, 's' }, { "node", 1, 0, 'n' }, { "fabric", 1, 0, 'f' },
		{ "secret-file", 1, 0, 'S' }, { "stripe-unit", 1, 0, 'u' }, { "size", 1, 0, 'z' },
		{ "readahead", 1, 0, 'r' }, { "timeout-ms", 1, 0, 't' }, { "bench-total", 1, 0, 'T' },
		{ "bench-bs", 1, 0, 'b' }, { "bench-what", 1, 0, 'w' }, { "bench-qd", 1, 0, 'q' },
		{ "bench-seconds", 1, 0, 'D' }, { "spin-us", 1, 0, 'P' }, { "bench-reps", 1, 0, 'E' }, { "help", 0, 0, 'h' }, { 0 } };
	struct obj_ctx x = { .readahead = 8 };
	struct tpz_config cfg;
	struct slice_client_config ccfg;
	const char *secret_file = NULL, *what = "seq";
	int64_t size = -1;
	uint64_t total = 256u << 20;
	uint32_t bs = 1u << 20, qd = 1, reps = 1;
	double seconds = 3;
	int o, rc;

	tpz_config_default(&cfg);
	cfg.node = 15;
	slice_client_config_default(&ccfg);
	x.map.layout.stripe_unit = SLICE_STRIPE_UNIT_DEF;
	while ((o = getopt_long(argc, argv, "vh", lo, NULL)) != -1) {
		switch (o) {
		case 's': {
			char *eq = strchr(optarg, '=');
			if (!eq || x.nservers == SLICE_STRIPE_MAX || strlen(eq + 1) >= sizeof(x.urls[0])) {
				fprintf(stderr, "slice-obj: --server wants NODE=URL (at most %d)\n", SLICE_STRIPE_MAX);
				return 2;
			}
			x.map.layout.servers[x.nservers] = (uint32_t)strtoul(optarg, NULL, 10);
			strcpy(x.urls[x.nservers++], eq + 1);
			break;
		}
		case 'n': cfg.node = (uint32_t)strtoul(optarg, NULL, 10); break;
		case 'f': cfg.fabric = optarg; break;
		case 'S': secret_file = optarg; break;
		case 'u': x.map.layout.stripe_unit = (uint32_t)obj_parse_size(optarg); break;
		case 'z': size = (int64_t)obj_parse_size(optarg); break;
		case 'r': ccfg.readahead = (uint32_t)strtoul(optarg, NULL, 10); break;
		case 't': ccfg.timeout_ms = atoi(optarg); break;
		case 'T': total = obj_parse_size(optarg); break;
		case 'b': bs = (uint32_t)obj_parse_size(optarg); break;
		case 'w': what = optarg; break;
		case 'q': qd = (uint32_t)strtoul(optarg, NULL, 10); break;
		case 'D': seconds = atof(optarg); break;
		case 'E': reps = (uint32_t)strtoul(optarg, NULL, 10); break;
		case 'P': cfg.spin_us = (uint32_t)strtoul(optarg, NULL, 10); break;
		case 'v': x.verbose = 1; break;
		case 'h': fputs(usage, stdout); return 0;
		default: fputs(usage, stderr); return 2;
		}
	}
	if (optind >= argc || x.nservers == 0) {
		fprintf(stderr, "slice-obj: %s\n%s", x.nservers ? "no command" : "no --server given", usage);
		return 2;
	}
	x.map.layout.width = x.nservers;
	if (slice_layout_check(&x.map.layout) < 0) {
		fprintf(stderr, "slice-obj: bad layout (stripe unit a power of two, 4K..1M)\n");
		return 2;
	}
	if (secret_file && !(cfg.secret = read_secret(secret_file))) {
		fprintf(stderr, "slice-obj: cannot read a secret from %s\n", secret_file);
		return 2;
	}
	cfg.log = logcb;
	cfg.log_arg = &x.verbose;
	if ((rc = tpz_endpoint_create(&cfg, &x.ep)) < 0) {
		fprintf(stderr, "slice-obj: endpoint: %s\n", tpz_strerror(rc));
		return 1;
	}
	struct nrpc_config ncfg;
	nrpc_config_default(&ncfg);
	ncfg.workers = 1;
	if ((rc = nrpc_create(x.ep, &ncfg, &x.r)) < 0) {
		fprintf(stderr, "slice-obj: netrpc: %s\n", tpz_strerror(rc));
		return 1;
	}
	ccfg.connect = connect_one;
	ccfg.connect_arg = &x;
	slice_client_create(x.r, &ccfg, &x.c);
	for (uint32_t i = 0; i < x.nservers; i++)
		if ((rc = tpz_connect(x.ep, x.map.layout.servers[i], x.urls[i], 3000)) < 0) {
			fprintf(stderr, "slice-obj: cannot reach block server %u at %s: %s\n",
				x.map.layout.servers[i], x.urls[i], tpz_strerror(rc));
			return 1;
		}
	const char *cmd = argv[optind];
	int nargs = argc - optind - 1;
	char **a = argv + optind + 1;
	if (!strcmp(cmd, "put") && nargs == 2)
		rc = obj_put(&x, parse_obj(a[0]), a[1]);
	else if (!strcmp(cmd, "get") && nargs == 2)
		rc = obj_get(&x, parse_obj(a[0]), a[1], size);
	else if (!strcmp(cmd, "stat") && nargs == 1)
		rc = obj_stat(&x, parse_obj(a[0]));
	else if (!strcmp(cmd, "rm") && nargs == 1)
		rc = obj_rm(&x, parse_obj(a[0]));
	else if (!strcmp(cmd, "truncate") && nargs == 2)
		rc = obj_truncate(&x, parse_obj(a[0]), obj_parse_size(a[1]));
	else if (!strcmp(cmd, "statfs") && nargs == 0)
		rc = obj_statfs(&x);
	else if (!strcmp(cmd, "bench") && nargs == 1)
		rc = obj_bench(&x, parse_obj(a[0]), total, bs, what, qd, seconds, reps);
	else {
		fprintf(stderr, "slice-obj: bad command or arguments: %s\n%s", cmd, usage);
		rc = 2;
	}
	slice_client_destroy(x.c);
	nrpc_destroy(x.r);
	tpz_endpoint_destroy(x.ep);
	return rc;
}
