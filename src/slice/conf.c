/*
 * conf.c - a new local cluster (`slice up --dir DIR`): its secret, its
 * ports and its cluster file, written once; later commands read it.
 *
 * Node ids: managers 1..M, block servers M+1..M+N, clients 32-63 (the
 * cluster file's default): every id below SLICE_CLUSTER_NODE_IDS, the shm
 * fabric's slots, so a local cluster holds at most 31 daemons.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sc.h"

#define CLIENT_LO 32u

char *sc_read_line(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return NULL;
	char *r = fgets(buf, (int)len, f);
	fclose(f);
	if (r)
		buf[strcspn(buf, "\r\n")] = 0;
	return r;
}

static void hex(char *out, const uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", b[i]);
}

static int write_secret(const char *path)
{
	uint8_t b[32];
	char text[2 * sizeof(b) + 2];
	if (getrandom(b, sizeof(b), 0) != (ssize_t)sizeof(b))
		return -EIO;
	hex(text, b, sizeof(b));
	strcat(text, "\n");
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	ssize_t w = write(fd, text, strlen(text));
	int e = (w == (ssize_t)strlen(text) && fsync(fd) == 0) ? 0 : -EIO;
	close(fd);
	return e;
}

/* n free tcp ports of 127.0.0.1: the sockets stay bound until all are
 * picked, so they differ; another program may still take one before the
 * daemon binds it (the daemon then fails to start and says so). */
static int free_ports(unsigned *ports, int n)
{
	int fds[256], rc = 0;
	for (int i = 0; i < n; i++) {
		struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
		socklen_t sl = sizeof(sa);
		fds[i] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fds[i] < 0 || bind(fds[i], (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
		    getsockname(fds[i], (struct sockaddr *)&sa, &sl) < 0) {
			rc = -errno;
			n = i + 1;
			break;
		}
		ports[i] = ntohs(sa.sin_port);
	}
	for (int i = 0; i < n; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	return rc;
}

int sc_mkdir_p(const char *dir, mode_t mode)
{
	char tmp[PATH_MAX];
	snprintf(tmp, sizeof(tmp), "%s", dir);
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		if (mkdir(tmp, mode) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	return mkdir(tmp, mode) < 0 && errno != EEXIST ? -errno : 0;
}

static int write_conf(const char *path, const char *dir, const struct sc_local_opts *o, const char *name,
		      const unsigned *ports)
{
	uint32_t M = o->managers, N = o->blockds;
	char tmp[PATH_MAX + 8];
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	FILE *f = fopen(tmp, "w");
	if (!f)
		return -errno;
	fprintf(f, "; A local Slice cluster made by `slice up --dir %s`.\n"
		   "; docs/cluster.md describes every key.\n\n", dir);
	fprintf(f, "[cluster]\nname = %s\nvolume = vol\nexport = /slice\nsecret_file = secret\n"
		   "stripe_unit = %u\nmkdir_switch = 0\n", name, o->stripe_unit);
	fprintf(f, "client_nodes = %u-%u\n", CLIENT_LO, SLICE_CLUSTER_NODE_IDS - 1);
	fprintf(f, "root_squash = no\nallow = 127.0.0.0/8\n");
	for (uint32_t i = 0; i < M; i++) {
		fprintf(f, "\n[fmd %u]\nhost = local\nnode = %u\n", i, 1 + i);
		if (o->tcp)
			fprintf(f, "tpz = tcp://127.0.0.1:%u\n", ports[M + N + i]);
		else
			fprintf(f, "tpz = shm\n");
		fprintf(f, "nfs = 127.0.0.1:%u\ndata = fmd-%u\n", ports[i], i);
	}
	for (uint32_t i = 0; i < N; i++) {
		fprintf(f, "\n[blockd %u]\nhost = local\nnode = %u\n", i, 1 + M + i);
		if (o->tcp)
			fprintf(f, "tpz = tcp://127.0.0.1:%u\n", ports[M + i]);
		else
			fprintf(f, "tpz = shm\n");
		fprintf(f, "data = blockd-%u\ncache_mb = %u\n", i, o->cache_mb);
	}
	if (fclose(f) != 0 || rename(tmp, path) != 0) {
		int e = errno;
		unlink(tmp);
		return -e;
	}
	return 0;
}

int sc_local_create(const char *dir, const struct sc_local_opts *o, char *err, size_t errlen)
{
	char path[PATH_MAX], name[32];
	uint8_t rnd[4];
	unsigned ports[256];
	int rc;

	if (o->managers + o->blockds >= CLIENT_LO) {
		snprintf(err, errlen, "a local cluster holds at most %u daemons (node ids 1..%u; "
			 "%u..%u are the clients')", CLIENT_LO - 1, CLIENT_LO - 1, CLIENT_LO,
			 SLICE_CLUSTER_NODE_IDS - 1);
		return -EINVAL;
	}
	const char *subs[] = { "", "/run", "/logs" };
	for (int i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s%s", dir, subs[i]);
		if ((rc = sc_mkdir_p(path, 0755)) < 0) {
			snprintf(err, errlen, "mkdir %s: %s", path, strerror(-rc));
			return rc;
		}
	}
	snprintf(path, sizeof(path), "%s/secret", dir);
	if ((rc = write_secret(path)) < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(-rc));
		return rc;
	}
	/* The fabric's name is its shm segment's (/dev/shm/tpz-NAME): unique
	 * per cluster, so two local clusters never share one. */
	getrandom(rnd, sizeof(rnd), 0);
	strcpy(name, "slice-");
	hex(name + 6, rnd, sizeof(rnd));
	if ((rc = free_ports(ports, (int)(o->tcp ? 2 * o->managers + o->blockds : o->managers))) < 0) {
		snprintf(err, errlen, "no free tcp port: %s", strerror(-rc));
		return rc;
	}
	snprintf(path, sizeof(path), "%s/%s", dir, SLICE_CLUSTER_FILE);
	if ((rc = write_conf(path, dir, o, name, ports)) < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(-rc));
		return rc;
	}
	return 0;
}
