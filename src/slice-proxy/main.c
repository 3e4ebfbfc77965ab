/*
 * main.c - slice-proxy: options, the cluster, the volume client, the
 * connections to the managers, the listener, signals.
 *
 * "ready nfs=P mount=P url=..." is printed once calls can be served; the
 * URL is one libnfs's tools take as it is.  NFS and MOUNT share one port.
 * SIGTERM/SIGINT: stop taking calls, finish the ones in hand, then close
 * the volume (which commits what was written through it).
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "oncrpc_nfs3.h"
#include "proxy.h"

#define NFS_PROG   100003u
#define MOUNT_PROG 100005u

int proxy_verbose;

void proxy_log(int level, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	if (level >= LOG_DEBUG && !proxy_verbose)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "slice-proxy: %s\n", msg);
}

static void rpc_log(void *arg, int level, const char *msg)
{
	proxy_log(level, "rpc: %s", msg);
}

static void usage(FILE *o)
{
	fprintf(o,
"usage: slice-proxy --cluster FILE [options]\n"
"\n"
"The Slice µproxy: one NFSv3 + MOUNTv3 server (TCP) for a whole Slice volume.\n"
"Name-space calls go to the file manager that serves them; READ, WRITE and\n"
"COMMIT go straight to the block servers.\n"
"\n"
"  --cluster FILE      the cluster file (slice_cluster.h, docs/cluster.md)\n"
"  --listen ADDR:PORT  where NFS and MOUNT are served (one port; PORT 0: pick\n"
"                      one); default: the nfs= of [proxy I], else 127.0.0.1:2049\n"
"  --index I           this proxy's [proxy I] section (listen address, node)\n"
"  --node N            Trapeze node id (default: [proxy I]'s, else the first\n"
"                      free one of the cluster's client range)\n"
"  --threads N         threads for READ, WRITE, COMMIT (default 16; 4 more\n"
"                      send forwarded calls)\n"
"  --conns N           TCP connections per file manager (default 4)\n"
"  --timeout-ms MS     a manager's answer or a data call waits this long at\n"
"                      most (default 10000)\n"
"  --rpcbind           register NFS 3 and MOUNT 3 with the local rpcbind (so\n"
"                      that clients find the port), unregister at exit\n"
"  -v, --verbose       log more\n"
"  -h, --help          this text\n"
"\n"
"Prints \"ready nfs=PORT mount=PORT url=nfs://ADDR/EXPORT?nfsport=P&mountport=P\"\n"
"on stdout when it serves.\n");
}

static int split_listen(const char *s, char *addr, size_t cap, uint16_t *port)
{
	const char *colon = strrchr(s, ':');
	if (!colon || colon == s || (size_t)(colon - s) >= cap)
		return -EINVAL;
	char *end;
	long p = strtol(colon + 1, &end, 10);
	if (*end || end == colon + 1 || p < 0 || p > 65535)
		return -EINVAL;
	size_t n = (size_t)(colon - s);
	if (s[0] == '[' && n >= 2 && s[n - 1] == ']') {
		s++;
		n -= 2;
	}
	memcpy(addr, s, n);
	addr[n] = 0;
	*port = (uint16_t)p;
	return 0;
}

static long num_arg(const char *name, const char *s, long lo, long hi)
{
	char *end;
	long v = strtol(s, &end, 10);
	if (*end || end == s || v < lo || v > hi) {
		fprintf(stderr, "slice-proxy: %s: expected a number in %ld..%ld, got '%s'\n", name, lo, hi, s);
		exit(2);
	}
	return v;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "cluster", required_argument, NULL, 'c' },
		{ "listen", required_argument, NULL, 'l' },
		{ "index", required_argument, NULL, 'i' },
		{ "node", required_argument, NULL, 'n' },
		{ "threads", required_argument, NULL, 't' },
		{ "conns", required_argument, NULL, 'C' },
		{ "timeout-ms", required_argument, NULL, 'T' },
		{ "rpcbind", no_argument, NULL, 'R' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *cluster_file = NULL, *listen = NULL;
	long index = -1, node = 0, threads = 16, conns = 4, timeout_ms = 10000;
	bool rpcbind = false;
	int o;

	while ((o = getopt_long(argc, argv, "vh", opts, NULL)) != -1) {
		switch (o) {
		case 'c': cluster_file = optarg; break;
		case 'l': listen = optarg; break;
		case 'i': index = num_arg("--index", optarg, 0, 1000000); break;
		case 'n': node = num_arg("--node", optarg, 1, 65535); break;
		case 't': threads = num_arg("--threads", optarg, 1, 1024); break;
		case 'C': conns = num_arg("--conns", optarg, 1, 64); break;
		case 'T': timeout_ms = num_arg("--timeout-ms", optarg, 100, 3600000); break;
		case 'R': rpcbind = true; break;
		case 'v': proxy_verbose = 1; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (!cluster_file || optind < argc) {
		usage(stderr);
		return 2;
	}

	static struct proxy px;
	struct proxy *p = &px;
	char err[512] = "";
	int rc;
	p->cl = calloc(1, sizeof(*p->cl));
	if (!p->cl)
		return 1;
	if ((rc = slice_cluster_load(cluster_file, p->cl, err, sizeof(err))) < 0) {
		if (err[0])   /* "file:line: what" */
			fprintf(stderr, "slice-proxy: %s\n", err);
		else
			fprintf(stderr, "slice-proxy: %s: %s\n", cluster_file, strerror(-rc));
		return 2;
	}
	const struct slice_cluster_node *me = NULL;
	if (index >= 0) {
		for (uint32_t i = 0; i < p->cl->nnodes; i++)
			if (p->cl->nodes[i].role == SLICE_ROLE_PROXY && p->cl->nodes[i].index == (uint32_t)index)
				me = &p->cl->nodes[i];
		if (!me) {
			fprintf(stderr, "slice-proxy: %s has no [proxy %ld]\n", cluster_file, index);
			return 2;
		}
	}
	if (!listen)
		listen = me && me->nfs[0] ? me->nfs : "127.0.0.1:2049";
	char laddr[128];
	uint16_t lport;
	if (split_listen(listen, laddr, sizeof(laddr), &lport) < 0) {
		fprintf(stderr, "slice-proxy: --listen: expected ADDR:PORT, got '%s'\n", listen);
		return 2;
	}
	if (proxy_parse_allow(p, p->cl->allow) < 0) {
		fprintf(stderr, "slice-proxy: %s: bad allow list '%s'\n", cluster_file, p->cl->allow);
		return 2;
	}
	p->managers = p->cl->managers;
	p->timeout_ms = (int)timeout_ms;
	p->conns = (uint32_t)conns;

	/* signals go to the main thread only (sigwait below) */
	sigset_t sigs;
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);

	struct slice_vol_config vc;
	slice_vol_config_default(&vc);
	vc.cluster_file = cluster_file;
	vc.node = node ? (uint32_t)node : me ? me->node : 0;
	vc.timeout_ms = (int)timeout_ms;
	if ((rc = slice_vol_open(&vc, &p->vol)) < 0) {
		fprintf(stderr, "slice-proxy: cannot open the volume: %s\n", strerror(-rc));
		return 1;
	}

	p->up = calloc(p->managers, sizeof(*p->up));
	if (!p->up)
		return 1;
	for (uint32_t i = 0; i < p->managers; i++) {
		const struct slice_cluster_node *f = slice_cluster_fmd(p->cl, i);
		if (!f || !f->nfs[0]) {
			fprintf(stderr, "slice-proxy: %s: [fmd %u] has no nfs address\n", cluster_file, i);
			return 2;
		}
		if ((rc = upstream_new(f->nfs, i, (int)timeout_ms, p->conns, &p->up[i])) < 0) {
			fprintf(stderr, "slice-proxy: [fmd %u] nfs = %s: %s\n", i, f->nfs, strerror(-rc));
			return 2;
		}
	}
	if ((rc = pool_start((uint32_t)threads, &p->pool)) < 0 || (rc = pool_start(4, &p->fwd_pool)) < 0) {
		fprintf(stderr, "slice-proxy: threads: %s\n", strerror(-rc));
		return 1;
	}

	struct orpc_server_config sc;
	orpc_server_config_default(&sc);
	sc.log = rpc_log;
	uint16_t bound = 0;
	if ((rc = orpc_server_create(&sc, &p->srv)) < 0 ||
	    (rc = orpc_server_add_program(p->srv, NFS_PROG, 3, 3, ORPC_NFS3_NPROCS, nfs_dispatch, p)) < 0 ||
	    (rc = orpc_server_add_program(p->srv, MOUNT_PROG, 3, 3, ORPC_MNT3_NPROCS, mount_dispatch, p)) < 0 ||
	    (rc = orpc_server_listen(p->srv, laddr, lport, &bound)) < 0 ||
	    (rc = orpc_server_start(p->srv)) < 0) {
		fprintf(stderr, "slice-proxy: listen on %s: %s\n", listen, strerror(-rc));
		return 1;
	}
	if (rpcbind) {
		/* a registration left by an earlier run that was killed goes first */
		orpc_pmap_unset(NFS_PROG, 3);
		orpc_pmap_unset(MOUNT_PROG, 3);
		if ((rc = orpc_pmap_set(NFS_PROG, 3, bound)) == 0)
			rc = orpc_pmap_set(MOUNT_PROG, 3, bound);
		if (rc < 0) {
			proxy_log(LOG_WARNING, "not registered with rpcbind (%s): clients name the port",
				  strerror(-rc));
			rpcbind = false;
		}
	}
	const char *uaddr = strcmp(laddr, "0.0.0.0") == 0 || strcmp(laddr, "::") == 0 ? "127.0.0.1" : laddr;
	printf("ready nfs=%u mount=%u url=nfs://%s%s%s%s?nfsport=%u&mountport=%u\n", bound, bound,
	       strchr(uaddr, ':') ? "[" : "", uaddr, strchr(uaddr, ':') ? "]" : "", p->cl->export_path,
	       bound, bound);
	fflush(stdout);
	proxy_log(LOG_INFO, "serving %s (%u managers) on %s:%u", p->cl->volume, p->managers, laddr, bound);

	int sig = 0;
	sigwait(&sigs, &sig);
	proxy_log(LOG_INFO, "signal %d: stopping", sig);
	atomic_store(&p->stopping, true);
	/* no new calls; the ones in hand finish (their replies are dropped
	 * if their connection is gone) */
	if (rpcbind) {
		orpc_pmap_unset(NFS_PROG, 3);
		orpc_pmap_unset(MOUNT_PROG, 3);
	}
	orpc_server_destroy(p->srv);
	pool_stop(p->pool);       /* its SETATTRs may still forward: first */
	pool_stop(p->fwd_pool);
	for (uint32_t i = 0; i < p->managers; i++)
		upstream_free(p->up[i]);
	proxy_log(LOG_INFO, "forwarded %llu (%llu failed), data calls %llu (%llu failed)",
		  (unsigned long long)atomic_load(&p->fwd_calls), (unsigned long long)atomic_load(&p->fwd_fail),
		  (unsigned long long)atomic_load(&p->data_calls), (unsigned long long)atomic_load(&p->data_fail));
	slice_vol_close(p->vol);   /* commits what was written through it */
	free(p->up);
	free(p->cl);
	return 0;
}
