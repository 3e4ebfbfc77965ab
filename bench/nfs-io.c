/*
 * nfs-io - data rate of an NFSv3 server through libnfs (user space: this
 * machine has no kernel NFS client), the same client for every server.  The
 * fronts benchmark runs it against nfs-ganesha and slice-proxy; the peers'
 * nfsio.c does the same with positional arguments.
 *
 *   nfs-io URL FILE write    [--mib N] [--bs B] [--qd K]
 *   nfs-io URL FILE read     [--mib N] [--bs B] [--qd K]
 *   nfs-io URL FILE randread [--mib N] [--bs B] [--qd K] [--secs S]
 *   nfs-io URL FILE rm
 *
 * URL: nfs://127.0.0.1/EXPORT?nfsport=P&mountport=M; FILE: a path in the
 * export.  write: create/truncate FILE, N MiB of B-byte UNSTABLE WRITEs in
 * order with K in flight, then COMMIT (nfs_fsync): the time includes it.
 * read: the first N MiB in B-byte READs, K in flight (every read must return
 * B bytes: a short file is an error).  randread: B-byte reads at random
 * B-aligned offsets below N MiB for S seconds, K in flight.  Defaults: 1024
 * MiB, 1 MiB, K = 1, 10 s.  libnfs splits a call larger than the server's
 * rsize/wsize into several RPCs (both are printed).
 *
 * Output: one JSON line {"mode":..,"mib_s":..,"iops":..,"lat_us":..,
 * "bytes":..,"secs":..,"qd":..,"bs":..,"rsize":..,"wsize":..,"ok":true};
 * exit 1 with "ok":false and the error if a call failed.
 */
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <nfsc/libnfs.h>

static struct nfs_context *nfs;
static struct nfsfh *fh;
static char *wbuf;
static const char *mode;
static uint64_t size, bs, next_off, done_bytes, done_ops, inflight;
static int writing, randmode, failed;
static double t_end_at, lat_sum;
static uint64_t rng = 88172645463325252ull;
static char errbuf[256];

struct slot {
	double t0;
};

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int fail(const char *what, const char *why)
{
	printf("{\"mode\":\"%s\",\"ok\":false,\"error\":\"%s: %s\"}\n", mode ? mode : "?", what,
	       why ? why : "?");
	return 1;
}

static uint64_t xorshift(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static void issue(struct slot *s);

static void done(int status, struct nfs_context *n, void *data, void *priv)
{
	struct slot *s = priv;
	(void)n;
	inflight--;
	if (status < 0 || (uint64_t)status != bs) {
		/* a short read or write is an error too: the file holds size bytes */
		if (!failed)
			snprintf(errbuf, sizeof errbuf, "%s returned %d%s%s", writing ? "write" : "read",
				 status, status < 0 ? " " : "", status < 0 && data ? (char *)data : "");
		failed = 1;
		free(s);
		return;
	}
	done_bytes += (uint64_t)status;
	done_ops++;
	lat_sum += now() - s->t0;
	issue(s);
}

/* the next call on slot s, or free it when the work is done */
static void issue(struct slot *s)
{
	uint64_t off;
	if (failed)
		goto out;
	if (randmode) {
		if (now() >= t_end_at)
			goto out;
		off = (xorshift() % (size / bs)) * bs;
	} else {
		if (next_off >= size)
			goto out;
		off = next_off;
		next_off += bs;
	}
	s->t0 = now();
	int rc = writing ? nfs_pwrite_async(nfs, fh, off, bs, wbuf, done, s)
			 : nfs_pread_async(nfs, fh, off, bs, done, s);
	if (rc != 0) {
		if (!failed)
			snprintf(errbuf, sizeof errbuf, "queue: %s", nfs_get_error(nfs));
		failed = 1;
		goto out;
	}
	inflight++;
	return;
out:
	free(s);
}

int main(int argc, char **argv)
{
	static const struct option lo[] = { { "mib", 1, 0, 'm' }, { "bs", 1, 0, 'b' },
					    { "qd", 1, 0, 'q' },  { "secs", 1, 0, 's' },
					    { "help", 0, 0, 'h' }, { 0, 0, 0, 0 } };
	long mib = 1024, qd = 1;
	double secs = 10;
	int c;
	bs = 1 << 20;
	while ((c = getopt_long(argc, argv, "m:b:q:s:h", lo, NULL)) != -1) {
		switch (c) {
		case 'm': mib = atol(optarg); break;
		case 'b': bs = strtoull(optarg, NULL, 10); break;
		case 'q': qd = atol(optarg); break;
		case 's': secs = atof(optarg); break;
		case 'h':
			printf("usage: nfs-io URL FILE write|read|randread|rm [--mib N] [--bs B] [--qd K]"
			       " [--secs S]\n");
			return 0;
		default: return 2;
		}
	}
	if (optind != argc - 3) {
		fprintf(stderr, "nfs-io: usage: nfs-io URL FILE write|read|randread|rm [options] (-h)\n");
		return 2;
	}
	const char *urls = argv[optind], *file = argv[optind + 1];
	mode = argv[optind + 2];
	writing = !strcmp(mode, "write");
	randmode = !strcmp(mode, "randread");
	if (!writing && !randmode && strcmp(mode, "read") && strcmp(mode, "rm")) {
		fprintf(stderr, "nfs-io: unknown mode %s\n", mode);
		return 2;
	}
	if (mib < 1 || mib > (1l << 20) || bs < 512 || bs > (64u << 20) || ((uint64_t)mib << 20) % bs ||
	    qd < 1 || qd > 256 || secs <= 0) {
		fprintf(stderr, "nfs-io: bad --mib/--bs/--qd/--secs (bs must divide the size)\n");
		return 2;
	}
	size = (uint64_t)mib << 20;

	nfs = nfs_init_context();
	if (!nfs)
		return fail("init", "no memory");
	struct nfs_url *url = nfs_parse_url_dir(nfs, urls);
	if (!url)
		return fail("url", nfs_get_error(nfs));
	if (nfs_mount(nfs, url->server, url->path) != 0)
		return fail("mount", nfs_get_error(nfs));
	if (!strcmp(mode, "rm")) {
		nfs_unlink(nfs, file); /* a missing file is fine: rm is cleanup */
		printf("{\"mode\":\"rm\",\"ok\":true}\n");
		return 0;
	}
	wbuf = malloc(bs);
	if (!wbuf)
		return fail("malloc", "no memory");
	memset(wbuf, 0xa5, bs);
	if (writing) {
		if (nfs_create(nfs, file, O_RDWR | O_TRUNC, 0644, &fh) != 0)
			return fail("create", nfs_get_error(nfs));
	} else if (nfs_open(nfs, file, O_RDONLY, &fh) != 0) {
		return fail("open", nfs_get_error(nfs));
	}

	double t0 = now();
	t_end_at = t0 + secs;
	for (long i = 0; i < qd; i++) {
		struct slot *s = calloc(1, sizeof *s);
		if (!s)
			return fail("malloc", "no memory");
		issue(s);
	}
	/* bounded: every call either completes or fails; a server that stops
	 * answering for 30 s ends the run */
	double quiet_since = now();
	uint64_t last_ops = 0;
	while (inflight > 0) {
		struct pollfd pfd = { .fd = nfs_get_fd(nfs), .events = nfs_which_events(nfs) };
		if (poll(&pfd, 1, 1000) < 0)
			return fail("poll", "failed");
		if (nfs_service(nfs, pfd.revents) < 0)
			return fail("service", nfs_get_error(nfs));
		if (done_ops != last_ops) {
			last_ops = done_ops;
			quiet_since = now();
		} else if (now() - quiet_since > 30) {
			return fail("timeout", "no reply for 30 s");
		}
	}
	if (failed)
		return fail(mode, errbuf);
	if (writing && nfs_fsync(nfs, fh) != 0)
		return fail("commit", nfs_get_error(nfs));
	double el = now() - t0;
	nfs_close(nfs, fh);
	printf("{\"mode\":\"%s\",\"mib_s\":%.1f,\"iops\":%.0f,\"lat_us\":%.1f,\"bytes\":%llu,\"secs\":%.3f,"
	       "\"qd\":%ld,\"bs\":%llu,\"rsize\":%llu,\"wsize\":%llu,\"ok\":true}\n",
	       mode, done_bytes / el / 1048576.0, done_ops / el, done_ops ? lat_sum / done_ops * 1e6 : 0.0,
	       (unsigned long long)done_bytes, el, qd, (unsigned long long)bs,
	       (unsigned long long)nfs_get_readmax(nfs), (unsigned long long)nfs_get_writemax(nfs));
	nfs_destroy_url(url);
	nfs_destroy_context(nfs);
	free(wbuf);
	return 0;
}
