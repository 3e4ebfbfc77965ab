/*
 * bench.c - `slice bench`: what a directory gives an application -
 * sequential write (1 MiB writes, fsync at the end) and read, 4 KiB random
 * reads, and metadata (create + write 4 KiB, stat, unlink).  Any directory
 * works, so a Slice mount can be set beside tmpfs or a local disk.
 *
 * Reads must not come from this host's page cache, or they measure memory:
 * the file is reopened with O_DIRECT where the file system takes it, else
 * its cached pages are dropped (posix_fadvise DONTNEED after the fsync;
 * on tmpfs that cannot work - the table says which was used).
 * Each phase is bounded (the random phase by time too); nothing here is a
 * pass/fail judgement.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "sc.h"
#include "slice.h"
#include "slice_blockd.h"

#define BS        (1u << 20)
#define RAND_BS   4096u
#define RAND_MAX_OPS 20000u
#define RAND_MAX_S   5.0

static const char usage[] =
"usage: slice bench [--dir DIR | --cluster FILE] MOUNTPOINT [--size MiB] [--files N]\n"
"Measure a directory (a slicefs mount, or any other for comparison):\n"
"  sequential write of --size MiB (default 256) in 1 MiB writes + fsync,\n"
"  sequential read (O_DIRECT if the file system takes it, else after\n"
"  dropping the file's cached pages), 4 KiB random reads (at most 20000 or\n"
"  5 s), and --files (default 1000) files created with 4 KiB, stat'ed,\n"
"  unlinked.  A progress bar on stderr when it is a terminal.  With --dir or\n"
"  --cluster, also the bytes each block server moved during the run.\n";

struct phase {
	const char *name;
	double amount;        /* bytes or operations */
	const char *unit;     /* "MiB", "ops", "files" */
	double seconds;
	int err;              /* errno of a failure, 0 ok */
};

static bool tty;
static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	stop = 1;
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Progress: a bar redrawn in place on a terminal; nothing otherwise (the
 * plain line comes when the phase ends). */
static void progress(const char *what, double done, double total, double t0)
{
	static double last;
	double t = now();
	if (!tty || (t - last < 0.1 && done < total))
		return;
	last = t;
	int w = 30, fill = total > 0 ? (int)(w * done / total) : 0;
	char bar[64];
	for (int i = 0; i < w; i++)
		bar[i] = i < fill ? '#' : '.';
	bar[w] = 0;
	fprintf(stderr, "\r%-16s [%s] %3.0f%%  %.1f s ", what, bar, total > 0 ? 100 * done / total : 0, t - t0);
	fflush(stderr);
}

static void phase_done(const struct phase *p)
{
	if (tty)
		fprintf(stderr, "\r%-70s\r", "");
	if (p->err)
		fprintf(stderr, "%s: %s: %s\n", SC_PROG, p->name, strerror(p->err));
	else if (!tty)
		fprintf(stderr, "%s: %s done in %.2f s\n", SC_PROG, p->name, p->seconds);
}

static int seq_write(const char *path, uint64_t size, char *buf, struct phase *p)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	double t0 = now();
	for (uint64_t off = 0; off < size && !stop; off += BS) {
		ssize_t w = pwrite(fd, buf, BS, (off_t)off);
		if (w != (ssize_t)BS) {
			int e = w < 0 ? errno : EIO;
			close(fd);
			return -e;
		}
		progress(p->name, (double)(off + BS), (double)size, t0);
	}
	if (fsync(fd) < 0) {
		int e = errno;
		close(fd);
		return -e;
	}
	p->seconds = now() - t0;
	p->amount = (double)size;
	/* The written pages stay cached: drop them so reads go to the servers. */
	posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
	close(fd);
	return 0;
}

/* O_DIRECT when the file system takes it; *direct says which. */
static int open_read(const char *path, bool *direct)
{
	int fd = open(path, O_RDONLY | O_DIRECT | O_CLOEXEC);
	*direct = fd >= 0;
	if (fd >= 0)
		return fd;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0)
		posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
	return fd < 0 ? -errno : fd;
}

static int seq_read(const char *path, uint64_t size, char *buf, bool *direct, struct phase *p)
{
	int fd = open_read(path, direct);
	if (fd < 0)
		return fd;
	double t0 = now();
	uint64_t off = 0;
	while (off < size && !stop) {
		ssize_t r = pread(fd, buf, BS, (off_t)off);
		if (r < 0 && errno == EINVAL && *direct) {   /* O_DIRECT opened but refused */
			close(fd);
			if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
				return -errno;
			posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
			*direct = false;
			continue;
		}
		if (r <= 0) {
			int e = r < 0 ? errno : EIO;
			close(fd);
			return -e;
		}
		off += (uint64_t)r;
		progress(p->name, (double)off, (double)size, t0);
	}
	p->seconds = now() - t0;
	p->amount = (double)off;
	close(fd);
	return 0;
}

static int rand_read(const char *path, uint64_t size, char *buf, bool direct, struct phase *p)
{
	int fd = direct ? open(path, O_RDONLY | O_DIRECT | O_CLOEXEC) : open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (!direct)
		posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
	uint64_t blocks = size / RAND_BS, x = 0x9e3779b97f4a7c15ull, n = 0;
	getrandom(&x, sizeof(x), 0);
	double t0 = now(), t = t0;
	for (; n < RAND_MAX_OPS && t - t0 < RAND_MAX_S && !stop; n++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;   /* xorshift64 */
		ssize_t r = pread(fd, buf, RAND_BS, (off_t)((x % blocks) * RAND_BS));
		if (r != (ssize_t)RAND_BS) {
			int e = r < 0 ? errno : EIO;
			close(fd);
			return -e;
		}
		if ((n & 63) == 0) {
			t = now();
			double frac = (t - t0) / RAND_MAX_S, fops = (double)n / RAND_MAX_OPS;
			progress(p->name, frac > fops ? frac : fops, 1, t0);
		}
	}
	p->seconds = now() - t0;
	p->amount = (double)n;
	close(fd);
	return 0;
}

/* create + write 4 KiB + close, then stat, then unlink: three phases. */
static int meta(const char *dir, unsigned files, const char *buf, struct phase *ph)
{
	char path[PATH_MAX + 96];
	const char *names[3] = { ph[0].name, ph[1].name, ph[2].name };
	for (int k = 0; k < 3; k++) {
		double t0 = now();
		unsigned i;
		for (i = 0; i < files && !stop; i++) {
			snprintf(path, sizeof(path), "%s/f%u", dir, i);
			int rc = 0;
			if (k == 0) {
				int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
				if (fd < 0 || write(fd, buf, RAND_BS) != (ssize_t)RAND_BS)
					rc = errno ? errno : EIO;
				if (fd >= 0 && close(fd) < 0 && !rc)
					rc = errno;
			} else if (k == 1) {
				struct stat st;
				if (stat(path, &st) < 0)
					rc = errno;
				else if (st.st_size != RAND_BS)
					rc = EIO;
			} else if (unlink(path) < 0) {
				rc = errno;
			}
			if (rc) {
				ph[k].err = rc;
				phase_done(&ph[k]);
				return -rc;
			}
			progress(names[k], i + 1, files, t0);
		}
		ph[k].seconds = now() - t0;
		ph[k].amount = i;
		phase_done(&ph[k]);
	}
	return 0;
}

/* The block servers' byte counters, to show where the bytes went. */
struct bd_snap {
	int n;
	char name[SLICE_CLUSTER_MAX_NODES][32];
	bool ok[SLICE_CLUSTER_MAX_NODES];
	struct slb_blockd_counters c[SLICE_CLUSTER_MAX_NODES];
};

static void snap(const struct slice_cluster *c, struct bd_snap *s)
{
	char err[256];
	struct sc_probe *p = sc_probe_open(c, err, sizeof(err));
	s->n = 0;
	for (uint32_t i = 0; p && i < c->nnodes; i++) {
		const struct slice_cluster_node *n = &c->nodes[i];
		struct slb_statfs_res fs;
		bool have = false;
		if (n->role != SLICE_ROLE_BLOCKD)
			continue;
		sc_node_name(n, s->name[s->n], sizeof(s->name[0]));
		sc_probe_blockd(p, n, &fs, &s->c[s->n], &have, err, sizeof(err));
		s->ok[s->n++] = have;
	}
	sc_probe_close(p);
}

static void print_table(const char *mp, uint64_t size, unsigned files, bool direct, const struct phase *ph,
			int n)
{
	printf("slice bench %s: %" PRIu64 " MiB file, %u files; reads %s\n", mp, size >> 20, files,
	       direct ? "with O_DIRECT" : "after dropping the page cache (no O_DIRECT here)");
	printf("%-18s %14s %10s %14s\n", "PHASE", "AMOUNT", "SECONDS", "RATE");
	for (int i = 0; i < n; i++) {
		const struct phase *p = &ph[i];
		char amount[32], rate[32];
		if (p->err) {
			printf("%-18s %14s %10s %14s\n", p->name, "-", "-", strerror(p->err));
			continue;
		}
		if (p->seconds <= 0) {
			printf("%-18s %14s %10s %14s\n", p->name, "-", "-", "not run");
			continue;
		}
		if (!strcmp(p->unit, "MiB")) {
			snprintf(amount, sizeof(amount), "%.0f MiB", p->amount / (1 << 20));
			snprintf(rate, sizeof(rate), "%.1f MB/s", p->amount / p->seconds / 1e6);
		} else {
			snprintf(amount, sizeof(amount), "%.0f %s", p->amount, p->unit);
			snprintf(rate, sizeof(rate), "%.0f %s", p->amount / p->seconds,
				 !strcmp(p->unit, "reads") ? "IOPS" : "ops/s");
		}
		printf("%-18s %14s %10.2f %14s\n", p->name, amount, p->seconds, rate);
	}
}

int sc_cmd_bench(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "dir", 1, 0, 'd' }, { "cluster", 1, 0, 'C' }, { "size", 1, 0, 's' },
		{ "files", 1, 0, 'f' }, { "help", 0, 0, 'h' }, { 0 } };
	const char *dir = NULL, *cluster = NULL;
	uint64_t size = 256ull << 20;
	unsigned files = 1000;
	int o;

	while ((o = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (o) {
		case 'd': dir = optarg; break;
		case 'C': cluster = optarg; break;
		case 's': size = (uint64_t)sc_parse_num(optarg, "--size (MiB)", 1, 1 << 20) << 20; break;
		case 'f': files = (unsigned)sc_parse_num(optarg, "--files", 1, 1000000); break;
		case 'h': fputs(usage, stdout); return 0;
		default: fputs(usage, stderr); return 2;
		}
	}
	if (optind + 1 != argc) {
		fputs(usage, stderr);
		return 2;
	}
	const char *mp = argv[optind];
	struct stat st;
	if (stat(mp, &st) < 0 || !S_ISDIR(st.st_mode)) {
		fprintf(stderr, "%s: %s is not a directory\n", SC_PROG, mp);
		return 1;
	}
	struct sc_state cs = { 0 };
	struct bd_snap *before = NULL, *after = NULL;
	if (dir || cluster) {
		int rc = sc_state_open(&cs, dir, cluster, NULL);
		if (rc)
			return rc;
		before = calloc(1, sizeof(*before));
		after = calloc(1, sizeof(*after));
		if (before)
			snap(cs.c, before);
	}

	tty = isatty(2);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	char *buf = NULL, file[PATH_MAX + 64], mdir[PATH_MAX + 64];
	if (posix_memalign((void **)&buf, 4096, BS) != 0) {
		fprintf(stderr, "%s: out of memory\n", SC_PROG);
		return 1;
	}
	getrandom(buf, BS, 0);   /* incompressible, and not zeros a server could skip */
	snprintf(file, sizeof(file), "%s/.slice-bench.%d", mp, (int)getpid());
	snprintf(mdir, sizeof(mdir), "%s/.slice-bench-meta.%d", mp, (int)getpid());

	struct phase ph[6] = {
		{ "seq write+fsync", 0, "MiB", 0, 0 }, { "seq read", 0, "MiB", 0, 0 },
		{ "rand read 4K", 0, "reads", 0, 0 }, { "create+write 4K", 0, "files", 0, 0 },
		{ "stat", 0, "files", 0, 0 }, { "unlink", 0, "files", 0, 0 },
	};
	bool direct = false;
	int rc;
	if ((rc = seq_write(file, size, buf, &ph[0])) < 0)
		ph[0].err = -rc;
	phase_done(&ph[0]);
	if (!ph[0].err && !stop) {
		if ((rc = seq_read(file, size, buf, &direct, &ph[1])) < 0)
			ph[1].err = -rc;
		phase_done(&ph[1]);
	}
	if (!ph[0].err && !stop) {
		if ((rc = rand_read(file, size, buf, direct, &ph[2])) < 0)
			ph[2].err = -rc;
		phase_done(&ph[2]);
	}
	unlink(file);
	if (!stop) {
		if (mkdir(mdir, 0755) < 0) {
			ph[3].err = errno;
			phase_done(&ph[3]);
		} else {
			meta(mdir, files, buf, &ph[3]);
			/* After a failure some files may be left: remove them. */
			for (unsigned i = 0; i < files; i++) {
				char p[PATH_MAX + 96];
				snprintf(p, sizeof(p), "%s/f%u", mdir, i);
				unlink(p);
			}
			rmdir(mdir);
		}
	}
	print_table(mp, size, files, direct, ph, 6);
	if (before && after) {
		snap(cs.c, after);
		printf("%-10s %14s %14s\n", "BLOCKD", "WRITTEN", "READ");
		for (int i = 0; i < after->n && i < before->n; i++) {
			if (!before->ok[i] || !after->ok[i]) {
				printf("%-10s %14s %14s\n", after->name[i], "?", "?");
				continue;
			}
			char w[16], r[16];
			sc_human(w, sizeof(w), after->c[i].bytes_written - before->c[i].bytes_written);
			sc_human(r, sizeof(r), after->c[i].bytes_read - before->c[i].bytes_read);
			printf("%-10s %14s %14s\n", after->name[i], w, r);
		}
	}
	free(before);
	free(after);
	free(buf);
	sc_state_close(&cs);
	int bad = stop;
	for (int i = 0; i < 6; i++)
		bad |= ph[i].err != 0;
	return bad ? 1 : 0;
}
