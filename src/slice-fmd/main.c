/*
 * main.c - slice-fmd, the Slice file manager: options, the volume in the
 * data directory, the threads, the listeners, signals.
 *
 * Start-up order: the store (creating the volume on first start), the
 * commit thread, the data threads and the removal queue, then the RPC
 * listeners; "ready nfs=P mount=P" is printed only when requests can be
 * served.  SIGTERM/SIGINT: stop reading requests, serve what is queued,
 * close the store.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "data.h"
#include "fabric.h"
#include "nfs_op.h"
#include "remote.h"
#include "slice_route.h"

static uint32_t log_index;
static int log_verbose;

void fmd_set_log_index(uint32_t index)
{
	log_index = index;
}

void fmd_log(int level, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	if (level >= LOG_DEBUG && !log_verbose)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "slice-fmd[%u]: %s\n", log_index, msg);
}

static void rpc_log(void *arg, int level, const char *msg)
{
	fmd_log(level, "rpc: %s", msg);
}

void fmd_crash_point(struct fmd *f, const char *point)
{
	if (!f->crash_point[0] || strcmp(point, f->crash_point) != 0)
		return;
	if (atomic_fetch_sub(&f->crash_left, 1) == 1) {
		fmd_log(LOG_WARNING, "test hook: killing myself at %s", point);
		raise(SIGKILL);
	}
}

void fmd_root_fh(struct fmd *f, uint8_t out[FH_SIZE])
{
	struct fh h = { .manager = (uint32_t)(f->root >> 56), .volid = f->volid, .fileid = f->root, .gen = f->root_gen,
			.flags = f->switching ? SLICE_FH_F_LOCAL : 0 };
	fh_encode(&h, out);
}

static void usage(FILE *o)
{
	fprintf(o,
"usage: slice-fmd --data DIR --export /PATH --volume NAME [options]\n"
"\n"
"The Slice file manager: an NFSv3 + MOUNTv3 server over TCP for a volume's\n"
"name space, kept in LMDB under DIR, with file data on Slice block servers.\n"
"\n"
"  --data DIR            data directory (created; holds the LMDB store)\n"
"  --export /PATH        the path clients mount (MOUNT MNT)\n"
"  --volume NAME         the volume; a data directory belongs to one volume\n"
"  --listen-addr ADDR    address to listen on (default 127.0.0.1)\n"
"  --nfs-port P          NFS port (default 2049; 0: pick one)\n"
"  --mount-port P        MOUNT port (default 20048; 0: pick one; the same\n"
"                        as --nfs-port: both programs on one port)\n"
"  --managers N          file managers in the volume (1..%u, default 1)\n"
"  --index I             this manager's index (0..N-1)\n"
"  --peer-fmd I=NODE=URL the volume's manager I: its Trapeze node and URL\n"
"                        (\"shm\" or tcp://HOST:PORT); one for each other manager\n"
"  --node N              Trapeze node id (joins the fabric: map service)\n"
"  --fabric NAME         Trapeze shm fabric\n"
"  --secret-file F       cluster secret (Trapeze tcp; with N > 1 also the key\n"
"                        of the file handles, shared by all managers)\n"
"  --tpz-listen URL      also take Trapeze connections at tcp://ADDR:PORT\n"
"  --mkdir-switch PM     a new volume places directories by mkdir switching:\n"
"                        a directory's names live with it, and a new one goes\n"
"                        to another manager with probability PM/1000 (default:\n"
"                        name hashing: every directory spread over all managers)\n"
"  --blockd NODE=URL     a block server (repeat; stripe order)\n"
"  --stripe-unit BYTES   stripe unit of new files (default 262144)\n"
"  --root-squash         map uid/gid 0 to the anonymous ids (default)\n"
"  --no-root-squash      trust root\n"
"  --anon UID:GID        anonymous ids (default 65534:65534)\n"
"  --allow CIDR          clients allowed (repeat; default: loopback only)\n"
"  --root-owner UID:GID  owner of the root directory of a new volume (0:0)\n"
"  --root-mode OCTAL     mode of the root directory of a new volume (0755)\n"
"  --rpcbind             register with rpcbind if one runs (default)\n"
"  --no-rpcbind          do not\n"
"  --db-size BYTES       LMDB map size (default 16 GiB)\n"
"  --batch-max N         mutations per commit (default 256)\n"
"  --data-threads N      threads for READ/WRITE/COMMIT (default 4)\n"
"  --spin-us N           busy-poll this long for more work before sleeping\n"
"                        (RPC loop, commit thread; default 50, 0: never)\n"
"  --sync MODE           full: every answered change is on disk (default);\n"
"                        data: one flush per commit instead of two, a power\n"
"                        cut may take back the last commit (never consistency);\n"
"                        none: no flush (tests; a kill -9 still loses nothing)\n"
"  --no-sync             --sync none\n"
"  --crash-at POINT[:N]  test hook: SIGKILL at the Nth time POINT is reached\n"
"  --check               check the store's consistency, print a summary, exit\n"
"                        (0: consistent, 1: problems, logged; 2: cannot open)\n"
"  -v, --verbose         log more\n"
"  -h, --help            this text\n"
"\n"
"When ready it prints one line to stdout: ready nfs=PORT mount=PORT\n",
		FMD_MAX_MANAGERS);
}

static bool parse_u64(const char *s, uint64_t *v)
{
	char *end;
	errno = 0;
	unsigned long long x = strtoull(s, &end, 0);
	if (errno || end == s || *end)
		return false;
	*v = x;
	return true;
}

static bool parse_u32(const char *s, uint32_t *v)
{
	uint64_t x;
	if (!parse_u64(s, &x) || x > UINT32_MAX)
		return false;
	*v = (uint32_t)x;
	return true;
}

static bool parse_pair(const char *s, uint32_t *a, uint32_t *b)
{
	char buf[64];
	const char *colon = strchr(s, ':');
	if (!colon || (size_t)(colon - s) >= sizeof(buf))
		return false;
	memcpy(buf, s, (size_t)(colon - s));
	buf[colon - s] = 0;
	return parse_u32(buf, a) && parse_u32(colon + 1, b);
}

struct extra {
	uint32_t root_uid, root_gid, root_mode;
	uint32_t data_threads;
};

static int parse_args(int argc, char **argv, struct fmd_config *c, struct extra *x)
{
	enum { O_DATA = 256, O_EXPORT, O_VOLUME, O_LISTEN, O_NFSPORT, O_MNTPORT, O_MANAGERS,
	       O_INDEX, O_NODE, O_FABRIC, O_SECRET, O_BLOCKD, O_STRIPE, O_SQUASH, O_NOSQUASH,
	       O_ANON, O_ALLOW, O_ROOTOWNER, O_ROOTMODE, O_RPCBIND, O_NORPCBIND, O_DBSIZE,
	       O_BATCH, O_DTHREADS, O_NOSYNC, O_CRASH, O_PEER, O_CHECK, O_TPZLISTEN, O_SPIN, O_SYNC,
	       O_MKDIRSW };
	static const struct option opts[] = {
		{ "data", 1, 0, O_DATA }, { "export", 1, 0, O_EXPORT }, { "volume", 1, 0, O_VOLUME },
		{ "listen-addr", 1, 0, O_LISTEN }, { "nfs-port", 1, 0, O_NFSPORT },
		{ "mount-port", 1, 0, O_MNTPORT }, { "managers", 1, 0, O_MANAGERS },
		{ "index", 1, 0, O_INDEX }, { "node", 1, 0, O_NODE }, { "fabric", 1, 0, O_FABRIC },
		{ "secret-file", 1, 0, O_SECRET }, { "blockd", 1, 0, O_BLOCKD },
		{ "stripe-unit", 1, 0, O_STRIPE }, { "root-squash", 0, 0, O_SQUASH },
		{ "no-root-squash", 0, 0, O_NOSQUASH }, { "anon", 1, 0, O_ANON },
		{ "allow", 1, 0, O_ALLOW }, { "root-owner", 1, 0, O_ROOTOWNER },
		{ "root-mode", 1, 0, O_ROOTMODE }, { "rpcbind", 0, 0, O_RPCBIND },
		{ "no-rpcbind", 0, 0, O_NORPCBIND }, { "db-size", 1, 0, O_DBSIZE },
		{ "batch-max", 1, 0, O_BATCH }, { "data-threads", 1, 0, O_DTHREADS },
		{ "no-sync", 0, 0, O_NOSYNC }, { "crash-at", 1, 0, O_CRASH }, { "sync", 1, 0, O_SYNC },
		{ "peer-fmd", 1, 0, O_PEER }, { "check", 0, 0, O_CHECK },
		{ "tpz-listen", 1, 0, O_TPZLISTEN }, { "spin-us", 1, 0, O_SPIN },
		{ "mkdir-switch", 1, 0, O_MKDIRSW },
		{ "verbose", 0, 0, 'v' }, { "help", 0, 0, 'h' }, { 0, 0, 0, 0 },
	};
	uint32_t v;
	uint64_t v64;
	int o;

	while ((o = getopt_long(argc, argv, "vh", opts, NULL)) != -1) {
		switch (o) {
		case O_DATA: c->data_dir = optarg; break;
		case O_EXPORT: c->export_path = optarg; break;
		case O_VOLUME: c->volume = optarg; break;
		case O_LISTEN: c->listen_addr = optarg; break;
		case O_NFSPORT:
			if (!parse_u32(optarg, &v) || v > 65535)
				goto bad;
			c->nfs_port = (uint16_t)v;
			break;
		case O_MNTPORT:
			if (!parse_u32(optarg, &v) || v > 65535)
				goto bad;
			c->mount_port = (uint16_t)v;
			break;
		case O_MANAGERS:
			if (!parse_u32(optarg, &c->managers) || c->managers < 1 || c->managers > FMD_MAX_MANAGERS)
				goto bad;
			break;
		case O_INDEX:
			if (!parse_u32(optarg, &c->index))
				goto bad;
			break;
		case O_NODE:
			if (!parse_u32(optarg, &c->node))
				goto bad;
			break;
		case O_FABRIC: c->fabric = optarg; break;
		case O_SECRET: c->secret_file = optarg; break;
		case O_BLOCKD: {
			const char *eq = strchr(optarg, '=');
			char num[16];
			if (!eq || c->nblockd == FMD_MAX_BLOCKD || (size_t)(eq - optarg) >= sizeof(num))
				goto bad;
			memcpy(num, optarg, (size_t)(eq - optarg));
			num[eq - optarg] = 0;
			if (!parse_u32(num, &c->blockd[c->nblockd].node) ||
			    strlen(eq + 1) >= sizeof(c->blockd[0].url))
				goto bad;
			strcpy(c->blockd[c->nblockd].url, eq + 1);
			c->nblockd++;
			break;
		}
		case O_STRIPE:
			if (!parse_u32(optarg, &c->stripe_unit) || c->stripe_unit < SLICE_STRIPE_UNIT_MIN ||
			    c->stripe_unit > SLICE_STRIPE_UNIT_MAX || (c->stripe_unit & (c->stripe_unit - 1)))
				goto bad;
			break;
		case O_SQUASH: c->root_squash = true; break;
		case O_NOSQUASH: c->root_squash = false; break;
		case O_ANON:
			if (!parse_pair(optarg, &c->anon_uid, &c->anon_gid))
				goto bad;
			break;
		case O_ALLOW:
			if (c->nallow == FMD_MAX_ALLOW || orpc_cidr_parse(optarg, strlen(optarg), &c->allow[c->nallow]))
				goto bad;
			c->nallow++;
			break;
		case O_ROOTOWNER:
			if (!parse_pair(optarg, &x->root_uid, &x->root_gid))
				goto bad;
			break;
		case O_ROOTMODE: {
			char *end;
			unsigned long m = strtoul(optarg, &end, 8);
			if (*end || m > 07777)
				goto bad;
			x->root_mode = (uint32_t)m;
			break;
		}
		case O_RPCBIND: c->rpcbind = true; break;
		case O_NORPCBIND: c->rpcbind = false; break;
		case O_DBSIZE:
			if (!parse_u64(optarg, &v64) || v64 < (1u << 20))
				goto bad;
			c->db_size = v64;
			break;
		case O_BATCH:
			if (!parse_u32(optarg, &c->batch_max) || c->batch_max == 0)
				goto bad;
			break;
		case O_DTHREADS:
			if (!parse_u32(optarg, &x->data_threads) || x->data_threads == 0 || x->data_threads > 64)
				goto bad;
			break;
		case O_NOSYNC: c->sync = FMD_SYNC_NONE; break;
		case O_SYNC:
			if (!strcmp(optarg, "full"))
				c->sync = FMD_SYNC_FULL;
			else if (!strcmp(optarg, "data"))
				c->sync = FMD_SYNC_DATA;
			else if (!strcmp(optarg, "none"))
				c->sync = FMD_SYNC_NONE;
			else
				goto bad;
			break;
		case O_CRASH: c->crash_at = optarg; break;
		case O_CHECK: c->check = true; break;
		case O_MKDIRSW:
			if (!parse_u32(optarg, &v) || v > 1000)
				goto bad;
			c->mkdir_switch = (int32_t)v;
			break;
		case O_TPZLISTEN: c->tpz_listen = optarg; break;
		case O_SPIN:
			if (!parse_u32(optarg, &c->spin_us) || c->spin_us > 100000)
				goto bad;
			break;
		case O_PEER: {
			/* I=NODE=URL */
			char buf[200];
			uint32_t i, node;
			snprintf(buf, sizeof(buf), "%s", optarg);
			char *e1 = strchr(buf, '='), *e2 = e1 ? strchr(e1 + 1, '=') : NULL;
			if (!e2)
				goto bad;
			*e1 = *e2 = 0;
			if (!parse_u32(buf, &i) || i >= FMD_MAX_MANAGERS || !parse_u32(e1 + 1, &node) ||
			    strlen(e2 + 1) >= sizeof(c->peers[0].url))
				goto bad;
			c->peers[i].node = node;
			strcpy(c->peers[i].url, e2 + 1);
			c->peers[i].set = true;
			break;
		}
		case 'v': log_verbose = 1; break;
		case 'h': usage(stdout); exit(0);
		default: usage(stderr); return -1;
		}
		continue;
bad:
		for (const struct option *op = opts; op->name; op++)
			if (op->val == o)
				fprintf(stderr, "slice-fmd: bad value for --%s: %s\n", op->name, optarg);
		return -1;
	}
	if (optind < argc) {
		fprintf(stderr, "slice-fmd: unexpected argument %s (see --help)\n", argv[optind]);
		return -1;
	}
	if (!c->data_dir || !c->export_path || !c->volume) {
		fprintf(stderr, "slice-fmd: --data, --export and --volume are required (see --help)\n");
		return -1;
	}
	if (c->export_path[0] != '/' || strlen(c->export_path) > MNTPATHLEN) {
		fprintf(stderr, "slice-fmd: --export must be an absolute path\n");
		return -1;
	}
	if (c->index >= c->managers) {
		fprintf(stderr, "slice-fmd: --index must be below --managers\n");
		return -1;
	}
	if (c->managers > 1 && !c->check) {
		if (c->node == UINT32_MAX || !c->secret_file) {
			fprintf(stderr, "slice-fmd: several managers need --node and --secret-file (the handles' key)\n");
			return -1;
		}
		for (uint32_t i = 0; i < c->managers; i++) {
			if (i != c->index && !c->peers[i].set) {
				fprintf(stderr, "slice-fmd: no --peer-fmd for manager %u\n", i);
				return -1;
			}
		}
	}
	return 0;
}

/* The handle key: from the cluster secret when there is one (all managers
 * of a volume must agree on it), else random, kept in the store. */
static int handle_key(struct fmd *f, uint8_t key[16], bool *from_secret)
{
	*from_secret = false;
	if (!f->cfg.secret_file)
		return 0;
	FILE *fp = fopen(f->cfg.secret_file, "r");
	if (!fp)
		return -errno;
	uint8_t buf[4096];
	size_t n = fread(buf, 1, sizeof(buf), fp);
	fclose(fp);
	crypto_generichash_state st;
	crypto_generichash_init(&st, NULL, 0, 16);
	crypto_generichash_update(&st, (const uint8_t *)"slice-fmd handles:", 18);
	crypto_generichash_update(&st, buf, n);
	crypto_generichash_update(&st, (const uint8_t *)f->cfg.volume, strlen(f->cfg.volume));
	crypto_generichash_final(&st, key, 16);
	sodium_memzero(buf, sizeof(buf));
	*from_secret = true;
	return 0;
}

/* Open the volume in the store, creating it (and its root directory) on
 * the first start. */
static int open_volume(struct fmd *f, const struct extra *x)
{
	struct fmd_config *c = &f->cfg;
	MDB_txn *t;
	char name[256] = { 0 };
	uint8_t key[16], secret_key[16];
	bool from_secret;
	int rc;

	if ((rc = handle_key(f, secret_key, &from_secret)))
		return rc;
	store_set_id_base(f->st, (uint64_t)c->index << 56);
	store_set_managers(f->st, c->managers);
	if ((rc = store_wr(f->st, &t)))
		return rc;
	if ((rc = store_load_counters(f->st, t)))
		goto abort;
	rc = meta_get(f->st, t, "volume", name, sizeof(name));
	if (rc == 0) {
		uint32_t managers, index;
		if (strncmp(name, c->volume, sizeof(name)) != 0) {
			fmd_log(LOG_ERR, "%s holds volume \"%.64s\", not \"%s\"", c->data_dir, name, c->volume);
			rc = -EINVAL;
			goto abort;
		}
		if ((rc = meta_get(f->st, t, "volid", &f->volid, 4)) ||
		    (rc = meta_get(f->st, t, "fhkey", key, 16)) ||
		    (rc = meta_get(f->st, t, "root", &f->root, 8)) ||
		    (rc = meta_get(f->st, t, "rootgen", &f->root_gen, 4)) ||
		    (rc = meta_get(f->st, t, "managers", &managers, 4)) ||
		    (rc = meta_get(f->st, t, "index", &index, 4)))
			goto abort;
		if (managers != c->managers || index != c->index) {
			fmd_log(LOG_ERR, "volume made for %u managers as index %u; started as %u/%u",
				managers, index, c->managers, c->index);
			rc = -EINVAL;
			goto abort;
		}
		/* the placement of directories (a volume made before there was
		 * a choice has no record: name hashing) */
		uint32_t pl[2] = { 0, 0 };
		rc = meta_get(f->st, t, "placement", pl, sizeof(pl));
		if (rc && rc != -ENOENT)
			goto abort;
		f->switching = pl[0] == 1;
		f->switch_pm = pl[1];
		if (c->mkdir_switch >= 0 && (!f->switching || f->switch_pm != (uint32_t)c->mkdir_switch)) {
			fmd_log(LOG_ERR, "volume made with %s; started with --mkdir-switch %d",
				f->switching ? "another --mkdir-switch" : "name hashing", c->mkdir_switch);
			rc = -EINVAL;
			goto abort;
		}
		if (from_secret && memcmp(key, secret_key, 16) != 0)
			fmd_log(LOG_WARNING, "the secret changed since the volume was made: keeping its handle key");
		mdb_txn_abort(t);
		return 0;
	}
	if (rc != -ENOENT)
		goto abort;
	if (c->check) {
		fmd_log(LOG_ERR, "%s holds no volume", c->data_dir);
		goto abort;
	}

	/* a new volume */
	uint8_t h[4];
	crypto_generichash(h, sizeof(h), (const uint8_t *)c->volume, strlen(c->volume), NULL, 0);
	f->volid = (uint32_t)h[0] << 24 | (uint32_t)h[1] << 16 | (uint32_t)h[2] << 8 | h[3];
	if (from_secret)
		memcpy(key, secret_key, 16);
	else
		randombytes_buf(key, 16);
	memset(name, 0, sizeof(name));
	snprintf(name, sizeof(name), "%s", c->volume);
	struct inode root = { 0 };
	root.type = NF3DIR;
	root.mode = x->root_mode;
	root.nlink = 2;
	root.uid = x->root_uid;
	root.gid = x->root_gid;
	/* every manager knows the root's handle: manager 0's first file id,
	 * a generation from the handle key */
	uint8_t g[4];
	crypto_generichash(g, sizeof(g), (const uint8_t *)"root", 4, key, 16);
	root.gen = ((uint32_t)g[0] << 24 | (uint32_t)g[1] << 16 | (uint32_t)g[2] << 8 | g[3]) | 1;
	root.atime = root.mtime = root.ctime = fmd_now();
	if (c->index == 0) {
		root.fileid = store_new_fileid(f->st, t, &rc);
		if (rc)
			goto abort;
	} else {
		root.fileid = 1;
	}
	root.parent = root.fileid;
	f->root = root.fileid;
	f->root_gen = root.gen;
	/* mkdir switching: every directory, the root first, keeps its names */
	f->switching = c->mkdir_switch >= 0;
	f->switch_pm = f->switching ? (uint32_t)c->mkdir_switch : 0;
	if (f->switching)
		root.flags |= INO_LOCAL_DIR;
	uint32_t pl[2] = { f->switching ? 1u : 0u, f->switch_pm };
	if ((rc = meta_put(f->st, t, "volume", name, sizeof(name))) ||
	    (rc = meta_put(f->st, t, "volid", &f->volid, 4)) ||
	    (rc = meta_put(f->st, t, "fhkey", key, 16)) ||
	    (rc = meta_put(f->st, t, "root", &f->root, 8)) ||
	    (rc = meta_put(f->st, t, "rootgen", &f->root_gen, 4)) ||
	    (rc = meta_put(f->st, t, "managers", &c->managers, 4)) ||
	    (rc = meta_put(f->st, t, "index", &c->index, 4)) ||
	    (rc = meta_put(f->st, t, "placement", pl, sizeof(pl))) ||
	    (c->index == 0 && (rc = ino_put(f->st, t, &root))))
		goto abort;
	if ((rc = mdb_txn_commit(t)))
		return -EIO;
	fmd_log(LOG_INFO, "made volume \"%s\" (id %08x) in %s", c->volume, f->volid, c->data_dir);
	fh_init(key, f->volid);
	return 1;
abort:
	mdb_txn_abort(t);
	return rc;
}

static void pmap_register(struct fmd *f, uint16_t nfs, uint16_t mnt)
{
	orpc_pmap_unset(NFS_PROGRAM, NFS_V3);
	orpc_pmap_unset(MOUNT_PROGRAM, MOUNT_V3);
	int rc = orpc_pmap_set(NFS_PROGRAM, NFS_V3, nfs);
	if (rc == 0)
		rc = orpc_pmap_set(MOUNT_PROGRAM, MOUNT_V3, mnt);
	if (rc)
		fmd_log(LOG_INFO, "not registered with rpcbind (%s): clients name the ports", strerror(-rc));
	else
		fmd_log(LOG_INFO, "registered with rpcbind");
}

int main(int argc, char **argv)
{
	static struct fmd fmd;
	struct fmd *f = &fmd;
	struct fmd_config *c = &f->cfg;
	struct extra x = { .root_mode = 0755, .data_threads = 4 };
	uint16_t nfs_port = 0, mnt_port = 0;
	int rc, status = 1;

	c->listen_addr = "127.0.0.1";
	c->nfs_port = 2049;
	c->mount_port = 20048;
	c->managers = 1;
	c->node = UINT32_MAX;
	c->stripe_unit = SLICE_STRIPE_UNIT_DEF;
	c->root_squash = true;
	c->anon_uid = c->anon_gid = 65534;
	c->rpcbind = true;
	c->db_size = 16ull << 30;
	c->batch_max = 256;
	c->sync = FMD_SYNC_FULL;
	c->spin_us = 50;
	c->mkdir_switch = -1;
	if (parse_args(argc, argv, c, &x))
		return 2;
	fmd_set_log_index(c->index);
	if (sodium_init() < 0) {
		fmd_log(LOG_ERR, "libsodium failed to start");
		return 1;
	}
	if (c->crash_at) {
		const char *colon = strchr(c->crash_at, ':');
		size_t n = colon ? (size_t)(colon - c->crash_at) : strlen(c->crash_at);
		if (n >= sizeof(f->crash_point))
			n = sizeof(f->crash_point) - 1;
		memcpy(f->crash_point, c->crash_at, n);
		atomic_store(&f->crash_left, colon ? atoi(colon + 1) : 1);
	}
	uint64_t verf;
	randombytes_buf(&verf, sizeof(verf));
	atomic_store(&f->writeverf, verf);

	/* every thread inherits this mask: only the main thread takes signals */
	sigset_t sigs;
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);

	if ((rc = store_open(c->data_dir, c->db_size, c->sync, &f->st))) {
		fmd_log(LOG_ERR, "cannot open the store in %s: %s", c->data_dir, strerror(-rc));
		return 1;
	}
	if ((rc = open_volume(f, &x)) < 0) {
		fmd_log(LOG_ERR, "cannot open volume \"%s\": %s", c->volume, strerror(-rc));
		goto out_store;
	}
	if (rc == 0) {
		uint8_t key[16];
		MDB_txn *t;
		if ((rc = store_rd(f->st, &t)) == 0) {
			rc = meta_get(f->st, t, "fhkey", key, 16);
			store_rd_done(t);
		}
		if (rc) {
			fmd_log(LOG_ERR, "cannot read the handle key: %s", strerror(-rc));
			goto out_store;
		}
		fh_init(key, f->volid);
		sodium_memzero(key, sizeof(key));
	}
	/* one fsid for the whole volume, on every manager: a client that sees
	 * files of several managers (through the proxy, or forwarded) must see
	 * one file system - a Linux client takes a new fsid for a mount point
	 * and refuses renames and links across it (file ids are unique in the
	 * volume: their top byte is the manager) */
	f->fsid = (uint64_t)f->volid << 32;
	if (!c->check && (rc = store_prealloc(f->st)) < 0)
		fmd_log(LOG_WARNING, "cannot preallocate the store: %s", strerror(-rc));
	if (c->check) {
		uint64_t inodes, names, problems;
		rc = fmd_check(f, &inodes, &names, &problems);
		printf("check: %llu inodes, %llu names, %llu problems\n", (unsigned long long)inodes,
		       (unsigned long long)names, (unsigned long long)problems);
		store_close(f->st);
		return rc < 0 ? 2 : rc;
	}

	if (c->node != UINT32_MAX && (rc = fabric_open(f, &f->fabric)) < 0) {
		fmd_log(LOG_ERR, "cannot join the Trapeze fabric as node %u", c->node);
		goto out_store;
	}
	if ((rc = drc_create(16384, &f->drc)) || (rc = data_open(f, &f->data)) ||
	    (rc = commit_start(f, &f->cq)) || (rc = data_pool_start(f, x.data_threads, &f->io)) ||
	    (rc = removeq_start(f, &f->rmq)) || (f->fabric && (rc = mapsvc_start(f))) ||
	    (c->managers > 1 && ((rc = remote_start(f)) || (rc = xop_start_resolver(f))))) {
		fmd_log(LOG_ERR, "cannot start: %s", strerror(-rc));
		goto out_threads;
	}
	if (data_unavailable(f->data))
		fmd_log(LOG_WARNING, "READ/WRITE/COMMIT of file data will fail: %s", data_unavailable(f->data));

	struct orpc_server_config rc_cfg;
	orpc_server_config_default(&rc_cfg);
	rc_cfg.log = rpc_log;
	rc_cfg.spin_us = c->spin_us;
	if ((rc = orpc_server_create(&rc_cfg, &f->rpc)) ||
	    (rc = orpc_server_add_program(f->rpc, NFS_PROGRAM, NFS_V3, NFS_V3, ORPC_NFS3_NPROCS,
					  nfs_dispatch, f)) ||
	    (rc = orpc_server_add_program(f->rpc, MOUNT_PROGRAM, MOUNT_V3, MOUNT_V3, ORPC_MNT3_NPROCS,
					  mount_dispatch, f))) {
		fmd_log(LOG_ERR, "rpc server: %s", strerror(-rc));
		goto out_threads;
	}
	if ((rc = orpc_server_listen(f->rpc, c->listen_addr, c->nfs_port, &nfs_port))) {
		fmd_log(LOG_ERR, "cannot listen on %s port %u: %s", c->listen_addr, c->nfs_port, strerror(-rc));
		goto out_threads;
	}
	mnt_port = nfs_port;
	if (c->mount_port != c->nfs_port || c->nfs_port == 0) {
		if ((rc = orpc_server_listen(f->rpc, c->listen_addr, c->mount_port, &mnt_port))) {
			fmd_log(LOG_ERR, "cannot listen on %s port %u: %s", c->listen_addr, c->mount_port,
				strerror(-rc));
			goto out_threads;
		}
	}
	if ((rc = orpc_server_start(f->rpc))) {
		fmd_log(LOG_ERR, "cannot start the rpc loop: %s", strerror(-rc));
		goto out_threads;
	}
	if (c->rpcbind && c->index == 0)
		pmap_register(f, nfs_port, mnt_port);
	char placement[48] = "name hashing";
	if (f->switching)
		snprintf(placement, sizeof(placement), "mkdir switching %u/1000", f->switch_pm);
	fmd_log(LOG_INFO, "serving volume \"%s\" as %s on %s: nfs %u, mount %u (manager %u of %u, %s)",
		c->volume, c->export_path, c->listen_addr, nfs_port, mnt_port, c->index, c->managers,
		c->managers > 1 ? placement : "one manager");
	printf("ready nfs=%u mount=%u\n", nfs_port, mnt_port);
	fflush(stdout);

	int sig;
	sigwait(&sigs, &sig);
	fmd_log(LOG_INFO, "signal %d: shutting down", sig);
	{
		uint64_t batches, ops, maxb, hits, inprog, ents, cns;
		commit_counters(f->cq, &batches, &ops, &maxb, &cns);
		drc_counters(f->drc, &hits, &inprog, &ents);
		nfs_counters_log();
		fmd_log(LOG_INFO, "commits: %llu batches, %llu changes (largest batch %llu, %.0f us per "
			"commit); DRC: %llu replays, %llu duplicates dropped", (unsigned long long)batches,
			(unsigned long long)ops, (unsigned long long)maxb,
			batches ? cns / 1e3 / (double)batches : 0.0, (unsigned long long)hits,
			(unsigned long long)inprog);
	}
	atomic_store(&f->stopping, true);
	if (c->rpcbind && c->index == 0) {
		orpc_pmap_unset(NFS_PROGRAM, NFS_V3);
		orpc_pmap_unset(MOUNT_PROGRAM, MOUNT_V3);
	}
	status = 0;
out_threads:
	if (c->managers > 1 && f->cq) {
		xop_stop_resolver(f);
		remote_stop(f);
	}
	orpc_server_destroy(f->rpc);   /* no more requests */
	data_pool_stop(f->io);         /* data calls finish (a WRITE queues its commit) */
	commit_stop(f->cq);            /* what is queued is committed and answered */
	removeq_stop(f->rmq);
	data_close(f->data);           /* open files commit */
	fabric_close(f->fabric);       /* the map service's requests end here */
	commit_free(f->cq);
	drc_destroy(f->drc);
out_store:
	store_close(f->st);
	return c->check ? 2 : status;
}
