/*
 * mount.c - the MOUNTv3 program (RFC 1813 appendix I): hands out the root
 * handle of the one export to allowed clients, lists the export and who
 * mounted it.  The mount list is advisory (clients do not always UMNT)
 * and bounded; it lives in memory.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fmd.h"

#define MOUNTS_MAX 256

struct mount_ent {
	char host[64];
	char path[MNTPATHLEN + 1];
};

static pthread_mutex_t mounts_mu = PTHREAD_MUTEX_INITIALIZER;
static struct mount_ent mounts[MOUNTS_MAX];
static int nmounts;

static void peer_host(const struct orpc_call *c, char *buf, size_t len)
{
	orpc_addr_str(c->peer, buf, len);
	char *colon = strrchr(buf, ':');   /* drop the port */
	if (colon)
		*colon = 0;
}

/* "/export" and "/export/" name the export. */
static bool is_export(const struct fmd *f, const char *path)
{
	size_t n = strlen(f->cfg.export_path);
	if (strncmp(path, f->cfg.export_path, n) != 0)
		return false;
	for (const char *p = path + n; *p; p++)
		if (*p != '/')
			return false;
	return true;
}

static void remember(const char *host, const char *path)
{
	pthread_mutex_lock(&mounts_mu);
	for (int i = 0; i < nmounts; i++)
		if (!strcmp(mounts[i].host, host) && !strcmp(mounts[i].path, path))
			goto out;
	if (nmounts < MOUNTS_MAX) {
		snprintf(mounts[nmounts].host, sizeof(mounts[nmounts].host), "%s", host);
		snprintf(mounts[nmounts].path, sizeof(mounts[nmounts].path), "%s", path);
		nmounts++;
	}
out:
	pthread_mutex_unlock(&mounts_mu);
}

static void forget(const char *host, const char *path)
{
	pthread_mutex_lock(&mounts_mu);
	for (int i = 0; i < nmounts; i++) {
		if (!strcmp(mounts[i].host, host) && (!path || !strcmp(mounts[i].path, path))) {
			mounts[i] = mounts[--nmounts];
			i--;
		}
	}
	pthread_mutex_unlock(&mounts_mu);
}

/* Encode with enc into a reply of at most max bytes and send it. */
static void send_res(struct orpc_call *c, size_t max, uint32_t (*enc)(ZDR *, void *), void *res)
{
	uint8_t *body = orpc_reply_buf(c, max);
	ZDR z;
	if (!body) {
		orpc_reply_error(c, ORPC_SYSTEM_ERR);
		return;
	}
	zdrmem_create(&z, (char *)body, (uint32_t)max, ZDR_ENCODE);
	if (!enc(&z, res)) {
		orpc_reply_error(c, ORPC_SYSTEM_ERR);
		return;
	}
	orpc_reply_send(c, zdr_getpos(&z));
}

static uint32_t enc_mountres3(ZDR *z, void *r) { return zdr_mountres3(z, r); }
static uint32_t enc_mountlist(ZDR *z, void *r) { return zdr_mountlist(z, r); }
static uint32_t enc_exports(ZDR *z, void *r) { return zdr_exports(z, r); }

static void do_mnt(struct fmd *f, struct orpc_call *c, const struct orpc_mnt3_args *a)
{
	mountres3 res;
	int flavors[1] = { ORPC_AUTH_SYS };
	uint8_t fh[FH_SIZE];
	char host[64];

	memset(&res, 0, sizeof(res));
	if (a->flags & ORPC_NFS3_F_NAMETOOLONG)
		res.fhs_status = MNT3ERR_NAMETOOLONG;
	else if (!export_allowed(&f->cfg, c->peer))
		res.fhs_status = MNT3ERR_ACCES;
	else if (!is_export(f, a->path))
		res.fhs_status = MNT3ERR_NOENT;
	if (res.fhs_status == MNT3_OK) {
		fmd_root_fh(f, fh);
		res.mountres3_u.mountinfo.fhandle.fhandle3_len = FH_SIZE;
		res.mountres3_u.mountinfo.fhandle.fhandle3_val = (char *)fh;
		res.mountres3_u.mountinfo.auth_flavors.auth_flavors_len = 1;
		res.mountres3_u.mountinfo.auth_flavors.auth_flavors_val = flavors;
		peer_host(c, host, sizeof(host));
		remember(host, a->path);
	}
	send_res(c, 256, enc_mountres3, &res);
}

/* MOUNT runs on the RPC loop thread only: static room is enough. */
static void do_dump(struct orpc_call *c)
{
	static struct mountbody body[MOUNTS_MAX];
	static struct mount_ent copy[MOUNTS_MAX];
	mountlist list = NULL;

	pthread_mutex_lock(&mounts_mu);
	int n = nmounts;
	memcpy(copy, mounts, sizeof(copy[0]) * (size_t)n);
	pthread_mutex_unlock(&mounts_mu);
	for (int i = n - 1; i >= 0; i--) {
		body[i].ml_hostname = copy[i].host;
		body[i].ml_directory = copy[i].path;
		body[i].ml_next = list;
		list = &body[i];
	}
	send_res(c, 64 + (size_t)n * (16 + 64 + MNTPATHLEN + 8), enc_mountlist, &list);
}

static void do_export(struct fmd *f, struct orpc_call *c)
{
	struct exportnode ex = { .ex_dir = (char *)f->cfg.export_path };
	struct groupnode g[FMD_MAX_ALLOW + 1];
	char names[FMD_MAX_ALLOW + 1][64];
	exports list = &ex;
	uint32_t n = f->cfg.nallow;

	if (n == 0) {
		snprintf(names[0], sizeof(names[0]), "127.0.0.1/8");
		n = 1;
	} else {
		for (uint32_t i = 0; i < n; i++) {
			char a[48];
			inet_ntop(f->cfg.allow[i].family, f->cfg.allow[i].addr, a, sizeof(a));
			snprintf(names[i], sizeof(names[i]), "%s/%d", a, f->cfg.allow[i].bits);
		}
	}
	for (uint32_t i = 0; i < n; i++) {
		g[i].gr_name = names[i];
		g[i].gr_next = i + 1 < n ? &g[i + 1] : NULL;
	}
	ex.ex_groups = &g[0];
	send_res(c, 4096 + strlen(f->cfg.export_path), enc_exports, &list);
}

void mount_dispatch(struct orpc_call *c, void *arg)
{
	struct fmd *f = arg;
	struct orpc_mnt3_args a;
	char host[64];

	if (orpc_mnt3_decode(c->proc, c->args, c->args_len, &a) != 0) {
		orpc_reply_error(c, ORPC_GARBAGE_ARGS);
		return;
	}
	switch (c->proc) {
	case MOUNT3_NULL:
	case MOUNT3_UMNT:
	case MOUNT3_UMNTALL:
		if (c->proc != MOUNT3_NULL) {
			peer_host(c, host, sizeof(host));
			forget(host, c->proc == MOUNT3_UMNT ? a.path : NULL);
		}
		if (orpc_reply_buf(c, 0))
			orpc_reply_send(c, 0);
		else
			orpc_reply_error(c, ORPC_SYSTEM_ERR);
		break;
	case MOUNT3_MNT:
		do_mnt(f, c, &a);
		break;
	case MOUNT3_DUMP:
		do_dump(c);
		break;
	case MOUNT3_EXPORT:
		do_export(f, c);
		break;
	default:
		orpc_reply_error(c, ORPC_PROC_UNAVAIL);
	}
}
