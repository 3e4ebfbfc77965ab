/*
 * main.c - slicefs: mount a Slice volume with FUSE.
 *
 *   slicefs MOUNTPOINT --cluster FILE [options]
 *
 * Daemonizes by default, but only once the volume is reached and the mount
 * is made: the caller gets the exit status and the error of a failed
 * mount.  Unmounts cleanly on SIGTERM, SIGINT or `fusermount3 -u`, after
 * every open file's data was committed.  docs/slicefs.md.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "slicefs.h"

struct opts {
	char mountpoint[PATH_MAX];
	char cluster[PATH_MAX];
	unsigned long node;
	bool foreground, debug;
	const char *fuse_opts;
	double attr_timeout, entry_timeout;
	unsigned long readahead, dirty_mb;
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: slicefs MOUNTPOINT --cluster FILE [options]\n"
		"  --cluster FILE       the cluster file (slice_cluster.h; `slice up` writes one)\n"
		"  --node N             this client's Trapeze node id (default: a free one of the\n"
		"                       cluster's client range)\n"
		"  -f, --foreground     stay in the foreground; print `ready mountpoint=M` once mounted\n"
		"  -o OPTS              FUSE mount options (e.g. allow_other, ro)\n"
		"  --attr-timeout S     seconds the kernel keeps attributes (default 1)\n"
		"  --entry-timeout S    seconds the kernel keeps names (default 1)\n"
		"  --readahead UNITS    data-path read-ahead in stripe units (default: libslice's)\n"
		"  --dirty-mb N         write-behind MiB per open file (default: libslice's)\n"
		"  --debug              log every FUSE request (implies -f)\n"
		"  -h, --help           this text\n");
}

static int parse_double(const char *s, double *out)
{
	char *end;

	errno = 0;
	*out = strtod(s, &end);
	return errno || *end || end == s || *out < 0 || *out > 86400 ? -EINVAL : 0;
}

static int parse_ulong(const char *s, unsigned long max, unsigned long *out)
{
	char *end;

	errno = 0;
	*out = strtoul(s, &end, 10);
	return errno || *end || end == s || s[0] == '-' || *out > max ? -EINVAL : 0;
}

/* Returns 0, 1 (help printed) or 2 (bad command line, said why). */
static int parse(int argc, char **argv, struct opts *o)
{
	enum { O_CLUSTER = 256, O_NODE, O_ATTR, O_ENTRY, O_RA, O_DIRTY, O_DEBUG };
	static const struct option lo[] = {
		{ "cluster", required_argument, NULL, O_CLUSTER },
		{ "node", required_argument, NULL, O_NODE },
		{ "foreground", no_argument, NULL, 'f' },
		{ "attr-timeout", required_argument, NULL, O_ATTR },
		{ "entry-timeout", required_argument, NULL, O_ENTRY },
		{ "readahead", required_argument, NULL, O_RA },
		{ "dirty-mb", required_argument, NULL, O_DIRTY },
		{ "debug", no_argument, NULL, O_DEBUG },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *cluster = NULL, *mnt = NULL;
	int c;

	o->attr_timeout = o->entry_timeout = 1.0;
	while ((c = getopt_long(argc, argv, "fho:", lo, NULL)) != -1) {
		int bad = 0;
		switch (c) {
		case O_CLUSTER: cluster = optarg; break;
		case O_NODE: bad = parse_ulong(optarg, 255, &o->node); break;
		case 'f': o->foreground = true; break;
		case 'o': o->fuse_opts = optarg; break;
		case O_ATTR: bad = parse_double(optarg, &o->attr_timeout); break;
		case O_ENTRY: bad = parse_double(optarg, &o->entry_timeout); break;
		case O_RA: bad = parse_ulong(optarg, 1024, &o->readahead); break;
		case O_DIRTY: bad = parse_ulong(optarg, 1u << 20, &o->dirty_mb); break;
		case O_DEBUG: o->debug = o->foreground = true; break;
		case 'h': usage(stdout); return 1;
		default: usage(stderr); return 2;
		}
		if (bad) {
			fprintf(stderr, "slicefs: bad value for --%s: '%s'\n", lo[c - O_CLUSTER].name, optarg);
			return 2;
		}
	}
	if (optind + 1 != argc) {
		fprintf(stderr, "slicefs: %s\n", optind < argc ? "one mount point only" : "no mount point");
		usage(stderr);
		return 2;
	}
	mnt = argv[optind];
	if (!cluster) {
		fprintf(stderr, "slicefs: --cluster FILE is required\n");
		return 2;
	}
	/* The daemon leaves the working directory: absolute paths. */
	if (!realpath(mnt, o->mountpoint)) {
		fprintf(stderr, "slicefs: mount point %s: %s\n", mnt, strerror(errno));
		return 2;
	}
	if (!realpath(cluster, o->cluster)) {
		fprintf(stderr, "slicefs: cluster file %s: %s\n", cluster, strerror(errno));
		return 2;
	}
	return 0;
}

/* The kernel reads ahead 128 KiB by default; the data path streams far
 * better with more in flight.  Best effort (needs root).  The device
 * number comes from mountinfo: a stat of the mount point would wait for
 * the session loop, which is not running yet. */
static void raise_readahead(const char *mnt)
{
	FILE *f = fopen("/proc/self/mountinfo", "r");
	char line[4096], path[128], dev[32] = "", mp[PATH_MAX];

	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		char d[32];
		if (sscanf(line, "%*s %*s %31s %*s %4095s", d, mp) == 2 && strcmp(mp, mnt) == 0)
			snprintf(dev, sizeof(dev), "%s", d);   /* the last one: ours */
	}
	fclose(f);
	if (!dev[0])
		return;
	snprintf(path, sizeof(path), "/sys/class/bdi/%s/read_ahead_kb", dev);
	int fd = open(path, O_WRONLY);
	if (fd < 0)
		return;
	if (write(fd, "4096", 4) < 0) {
		/* not ours to change: the default stays */
	}
	close(fd);
}

/* The INIT reply sets the read-ahead again (the kernel takes the smaller
 * of its value and ours), so it is raised once INIT has been answered:
 * op_init cannot, it runs before its reply is sent.  This thread waits a
 * little after op_init, raises it, and once more later in case the reply
 * was slow to go out. */
static char ra_mountpoint[PATH_MAX];

static void *ra_thread(void *arg)
{
	(void)arg;
	usleep(100000);
	raise_readahead(ra_mountpoint);
	usleep(400000);
	raise_readahead(ra_mountpoint);
	return NULL;
}

static void op_init(void *userdata, struct fuse_conn_info *conn)
{
	/* 1 MiB requests: four stripe units per call to the data path.
	 * No writeback cache: every write reaches the vfile at once, so
	 * flush and close see them (close-to-open). */
	conn->max_write = 1u << 20;
	conn->want &= ~FUSE_CAP_WRITEBACK_CACHE;
	if (conn->capable & FUSE_CAP_ASYNC_READ)
		conn->want |= FUSE_CAP_ASYNC_READ;
	pthread_t t;
	if (ra_mountpoint[0] && pthread_create(&t, NULL, ra_thread, NULL) == 0)
		pthread_detach(t);
}

static void op_destroy(void *userdata)
{
	sfs_close_all(userdata);
}

/* The daemon's child reports how the mount went through this pipe. */
static int status_fd = -1;

static void report(int status)
{
	if (status_fd < 0)
		return;
	char c = (char)status;
	if (write(status_fd, &c, 1) < 0) {
		/* the parent is gone: nobody to tell */
	}
	close(status_fd);
	status_fd = -1;
}

/* Fork; the parent waits for the child's word and exits with it. */
static int daemonize(void)
{
	int p[2];

	if (pipe(p) < 0)
		return -errno;
	pid_t pid = fork();
	if (pid < 0)
		return -errno;
	if (pid > 0) {
		char c;
		close(p[1]);
		ssize_t n;
		do
			n = read(p[0], &c, 1);
		while (n < 0 && errno == EINTR);
		if (n == 1)
			_exit((unsigned char)c);
		int ws = 0;
		waitpid(pid, &ws, 0);
		_exit(WIFEXITED(ws) && WEXITSTATUS(ws) ? WEXITSTATUS(ws) : 1);
	}
	close(p[0]);
	status_fd = p[1];
	setsid();
	return 0;
}

static void detach_stdio(void)
{
	int fd = open("/dev/null", O_RDWR);

	if (fd < 0)
		return;
	dup2(fd, 0);
	dup2(fd, 1);
	dup2(fd, 2);
	if (fd > 2)
		close(fd);
	if (chdir("/") < 0) {
		/* stays where it was: harmless */
	}
}

static int run(const struct opts *o)
{
	struct sfs s = { .attr_timeout = o->attr_timeout, .entry_timeout = o->entry_timeout,
			 .debug = o->debug };
	struct slice_vol_config cfg;
	struct slice_attr root;
	struct fuse_lowlevel_ops ops = { .init = op_init, .destroy = op_destroy };
	char fsname[200];
	int rc, ret = 1;

	slice_vol_config_default(&cfg);
	cfg.cluster_file = o->cluster;
	cfg.node = (uint32_t)o->node;
	if (o->readahead)
		cfg.readahead = (uint32_t)o->readahead;
	if (o->dirty_mb)
		cfg.dirty_max = (uint64_t)o->dirty_mb << 20;
	if ((rc = slice_vol_open(&cfg, &s.vol)) < 0) {
		fprintf(stderr, "slicefs: cannot open the volume of %s: %s\n", o->cluster, strerror(-rc));
		return 1;
	}
	if ((rc = slice_vol_root(s.vol, &s.root_fh, &root)) < 0) {
		fprintf(stderr, "slicefs: the volume's root: %s\n", strerror(-rc));
		goto out_vol;
	}
	s.root_fileid = root.fileid;
	s.stripe_unit = slice_vol_cluster(s.vol)->stripe_unit;
	if ((rc = sfs_table_init(&s)) < 0) {
		fprintf(stderr, "slicefs: %s\n", strerror(-rc));
		goto out_table;
	}

	sfs_ops_name(&ops);
	sfs_ops_file(&ops);
	sfs_ops_dir(&ops);
	struct fuse_args args = FUSE_ARGS_INIT(0, NULL);
	/* default_permissions: the kernel checks mode bits too, with the
	 * attributes it holds.  Without it a name the kernel has cached is
	 * walked without asking anyone - another user would pass a 0700
	 * directory for entry-timeout seconds.  The managers still check
	 * every call (root squash, and what the kernel's attributes do not
	 * know yet).  docs/slicefs.md, Permissions. */
	snprintf(fsname, sizeof(fsname), "-ofsname=slice:%s,subtype=slice,default_permissions",
		 slice_vol_cluster(s.vol)->volume);
	if (fuse_opt_add_arg(&args, "slicefs") || fuse_opt_add_arg(&args, fsname) ||
	    (o->fuse_opts && (fuse_opt_add_arg(&args, "-o") || fuse_opt_add_arg(&args, o->fuse_opts))) ||
	    (o->debug && fuse_opt_add_arg(&args, "-d"))) {
		fprintf(stderr, "slicefs: out of memory\n");
		goto out_args;
	}
	s.se = fuse_session_new(&args, &ops, sizeof(ops), &s);
	if (!s.se) {
		fprintf(stderr, "slicefs: bad FUSE options '%s'\n", o->fuse_opts ? o->fuse_opts : "");
		goto out_args;
	}
	if (fuse_set_signal_handlers(s.se) != 0)
		goto out_session;
	if (fuse_session_mount(s.se, o->mountpoint) != 0) {
		fprintf(stderr, "slicefs: cannot mount on %s\n", o->mountpoint);
		goto out_signals;
	}
	snprintf(ra_mountpoint, sizeof(ra_mountpoint), "%s", o->mountpoint);
	if (o->foreground) {
		printf("ready mountpoint=%s\n", o->mountpoint);
		fflush(stdout);
	} else {
		report(0);
		detach_stdio();
		sfs_log_to_syslog();
	}

	struct fuse_loop_config lc = { .clone_fd = 0, .max_idle_threads = 16 };
	rc = fuse_session_loop_mt(s.se, &lc);
	ret = rc < 0 ? 1 : 0;
	fuse_session_unmount(s.se);
out_signals:
	fuse_remove_signal_handlers(s.se);
out_session:
	fuse_session_destroy(s.se);      /* calls destroy: open files closed */
out_args:
	fuse_opt_free_args(&args);
out_table:
	sfs_table_free(&s);
out_vol:
	slice_vol_close(s.vol);
	return ret;
}

int main(int argc, char **argv)
{
	struct opts o = { 0 };
	int rc = parse(argc, argv, &o);

	if (rc)
		return rc == 1 ? 0 : 2;
	if (!o.foreground && daemonize() < 0) {
		fprintf(stderr, "slicefs: cannot start the daemon: %s\n", strerror(errno));
		return 1;
	}
	rc = run(&o);
	report(rc ? 1 : 0);
	return rc;
}
