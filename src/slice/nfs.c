/*
 * nfs.c - `slice nfs`: an NFSv3 front (slice-proxy) for the cluster, in
 * the background like the other daemons (run/nfsproxy-N.pid, stopped by
 * `slice down`); prints the nfs:// URL libnfs tools take as is.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sc.h"

static const char usage[] =
"usage: slice nfs --dir DIR [--listen ADDR:PORT]\n"
"       slice nfs --cluster FILE [--dir STATEDIR] [--listen ADDR:PORT]\n"
"Start slice-proxy, an NFSv3 + MOUNT server for the cluster's volume, in\n"
"the background, and print its URL (nfs://ADDR/EXPORT?nfsport=..., what\n"
"nfs-ls and nfs-cp take).  Default listener: a free port of 127.0.0.1.\n"
"It runs until `slice down`.\n";

int sc_cmd_nfs(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "dir", 1, 0, 'd' }, { "cluster", 1, 0, 'C' }, { "listen", 1, 0, 'l' },
		{ "help", 0, 0, 'h' }, { 0 } };
	const char *dir = NULL, *cluster = NULL, *listen = NULL;
	int o;

	while ((o = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (o) {
		case 'd': dir = optarg; break;
		case 'C': cluster = optarg; break;
		case 'l': listen = optarg; break;
		case 'h': fputs(usage, stdout); return 0;
		default: fputs(usage, stderr); return 2;
		}
	}
	if (optind != argc || (!dir && !cluster)) {
		fputs(usage, stderr);
		return 2;
	}
	struct sc_state st;
	int rc = sc_state_open(&st, dir, cluster, NULL);
	if (rc)
		return rc;
	struct sc_argv a;
	char name[32], pidf[PATH_MAX], outf[PATH_MAX], logf[PATH_MAX], line[512];
	memset(&a, 0, sizeof(a));
	rc = 1;
	if (sc_find_bin("slice-proxy", line, sizeof(line)) < 0) {
		fprintf(stderr, "%s: cannot find slice-proxy (neither beside %s nor in PATH)\n", SC_PROG, SC_PROG);
		goto out;
	}
	sc_argv_add(&a, "%s", line);
	sc_argv_add(&a, "--cluster");
	sc_argv_add(&a, "%s", st.file);
	/* Default: a free port of loopback (2049 may be the host's own NFS). */
	sc_argv_add(&a, "--listen");
	sc_argv_add(&a, "%s", listen ? listen : "127.0.0.1:0");
	/* The first number without a live proxy. */
	for (int i = 0; i < 100; i++) {
		snprintf(name, sizeof(name), "nfsproxy-%d", i);
		sc_path(pidf, sizeof(pidf), &st, "run", name, ".pid");
		if (!sc_pid_alive(pidf, "slice-proxy"))
			break;
	}
	sc_path(logf, sizeof(logf), &st, "run", "", "");
	mkdir(logf, 0755);
	sc_path(logf, sizeof(logf), &st, "logs", "", "");
	mkdir(logf, 0755);
	sc_path(outf, sizeof(outf), &st, "run", name, ".out");
	sc_path(logf, sizeof(logf), &st, "logs", name, ".log");
	pid_t pid = sc_spawn(a.argv, outf, logf);
	if (pid < 0) {
		fprintf(stderr, "%s: cannot start slice-proxy: %s\n", SC_PROG, strerror(-pid));
		goto out;
	}
	sc_write_pid(pidf, pid);
	int r = sc_wait_ready(pid, outf, 30000, line, sizeof(line));
	if (r < 0) {
		fprintf(stderr, "%s: slice-proxy %s; its log is %s\n", SC_PROG,
			r == -ECHILD ? "exited at start" : "did not get ready within 30 s", logf);
		pid_t p = pid;
		sc_stop(&p, 1, 5000);
		unlink(pidf);
		unlink(outf);
		goto out;
	}
	const char *url = strstr(line, "url=");
	if (!url) {
		fprintf(stderr, "%s: slice-proxy's ready line has no url=: %s\n", SC_PROG, line);
		goto out;
	}
	printf("%s\n", url + 4);
	fprintf(stderr, "%s: slice-proxy %s (pid %d) serves %s; log %s\n", SC_PROG, name, (int)pid,
		st.c->volume, logf);
	rc = 0;
out:
	sc_state_close(&st);
	return rc;
}
