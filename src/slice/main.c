/*
 * main.c - `slice`, the operator's command for a Slice cluster: one
 * subcommand per file (sc.h lists them).
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sc.h"

static const char usage[] =
"usage: slice COMMAND [options]     (slice COMMAND --help for its options)\n"
"Run a Slice cluster: block servers (slice-blockd), file managers\n"
"(slice-fmd), and the fronts (slicefs, slice-proxy).\n"
"\n"
"  up       start a cluster's daemons on this host (a new local one in --dir)\n"
"  down     unmount, stop every daemon of the cluster on this host\n"
"  status   every node: up or down, capacity, counters\n"
"  mount    mount the volume with slicefs; umount: unmount it\n"
"  nfs      start an NFSv3 front (slice-proxy) and print its nfs:// URL\n"
"  bench    sequential, random and metadata speed of a directory\n"
"\n"
"docs/cluster.md: the cluster file, local and multi-host clusters.\n";

long sc_parse_num(const char *s, const char *what, long min, long max)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || *end || end == s || v < min || v > max) {
		fprintf(stderr, "%s: %s: want a number in %ld..%ld, not '%s'\n", SC_PROG, what, min, max, s);
		exit(2);
	}
	return v;
}

uint64_t sc_parse_size(const char *s)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || end == s)
		return 0;
	switch (*end) {
	case 'k': case 'K': v <<= 10; end++; break;
	case 'm': case 'M': v <<= 20; end++; break;
	case 'g': case 'G': v <<= 30; end++; break;
	}
	return *end ? 0 : v;
}

void sc_human(char *out, size_t len, uint64_t b)
{
	const char *u = "BKMGTP";
	double v = (double)b;
	while (v >= 1024 && u[1]) {
		v /= 1024;
		u++;
	}
	if (*u == 'B')
		snprintf(out, len, "%" PRIu64 "B", b);
	else
		snprintf(out, len, "%.1f%c", v, *u);
}

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*fn)(int, char **);
	} cmds[] = {
		{ "up", sc_cmd_up }, { "down", sc_cmd_down }, { "status", sc_cmd_status },
		{ "mount", sc_cmd_mount }, { "umount", sc_cmd_umount }, { "nfs", sc_cmd_nfs },
		{ "bench", sc_cmd_bench },
	};

	/* A peer that goes away mid-probe must be an error, not our death. */
	signal(SIGPIPE, SIG_IGN);
	if (argc < 2) {
		fputs(usage, stderr);
		return 2;
	}
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
		fputs(usage, stdout);
		return 0;
	}
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (!strcmp(argv[1], cmds[i].name))
			return cmds[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "%s: no command '%s'\n%s", SC_PROG, argv[1], usage);
	return 2;
}
