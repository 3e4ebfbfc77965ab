/*
 * slice_cluster.h - the cluster file: every node of a Slice cluster, its
 * role, host and addresses.  `slice up` writes one for a local cluster; an
 * operator writes one for a cluster of several hosts; every program of the
 * fronts (slicefs, slice-proxy, slice) finds the cluster through it.  INI
 * format, parsed with inih (Debian libinih-dev).  docs/cluster.md is the
 * reference; an example:
 *
 *   [cluster]
 *   name = demo                ; the Trapeze fabric name (shm segments)
 *   volume = vol               ; the volume the file managers serve
 *   export = /slice            ; the path NFS clients mount
 *   secret_file = secret       ; relative paths: relative to this file's folder
 *   stripe_unit = 262144
 *   mkdir_switch = 0           ; permille; 0: name hashing (fixed at creation)
 *   client_nodes = 32-63       ; Trapeze node ids for clients (mounts, proxies, tools)
 *   root_squash = no           ; the managers' --root-squash / --no-root-squash
 *   allow = 127.0.0.0/8        ; NFS client addresses the managers and proxies allow
 *                              ;  (comma-separated CIDRs; default loopback only)
 *
 *   [blockd 0]                 ; stripe order: blockd 0, 1, 2 ...
 *   host = local               ; `slice up --host H` starts the nodes of host H
 *   node = 10                  ; Trapeze node id
 *   tpz = shm                  ; where others reach it: shm, or tcp://ADDR:PORT
 *   data = blockd-0            ; its data directory, on its host
 *   cache_mb = 256
 *
 *   [fmd 0]                    ; manager index 0 .. managers-1 (the count of
 *   host = local               ;  [fmd N] sections is the volume's manager count)
 *   node = 2
 *   tpz = shm
 *   nfs = 127.0.0.1:20490      ; its NFSv3 + MOUNT listener
 *   data = fmd-0
 *
 *   [proxy 0]                  ; optional: slice-proxy instances
 *   host = local
 *   node = 40
 *   nfs = 127.0.0.1:2049
 *
 * Unknown keys and sections are errors (a typo must not silently change a
 * cluster).  Errors: 0 or -errno; the loader says what and where in err.
 */
#ifndef SLICE_CLUSTER_H
#define SLICE_CLUSTER_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SLICE_CLUSTER_MAX_NODES 128u
#define SLICE_CLUSTER_STR       256u
/* Every node id (servers and the client range) is below this: the shm
 * fabric's default size (trapeze.h fabric_nodes), so that whichever
 * node creates the fabric makes room for all. */
#define SLICE_CLUSTER_NODE_IDS  64u

enum slice_role {
	SLICE_ROLE_BLOCKD = 1,
	SLICE_ROLE_FMD    = 2,
	SLICE_ROLE_PROXY  = 3,
};

struct slice_cluster_node {
	enum slice_role role;
	uint32_t index;                      /* blockd: stripe position; fmd: manager index; proxy: its number */
	uint32_t node;                       /* Trapeze node id (< SLICE_CLUSTER_NODE_IDS) */
	uint32_t cache_mb;                   /* blockd; 0: the daemon's default */
	char host[64];                       /* the host that runs it ("local" by default) */
	char tpz[SLICE_CLUSTER_STR];         /* Trapeze URL to reach it: "shm" or "tcp://ADDR:PORT" */
	char nfs[SLICE_CLUSTER_STR];         /* fmd, proxy: "ADDR:PORT" of the NFS + MOUNT listener */
	char data[SLICE_CLUSTER_STR];        /* blockd, fmd: data directory (absolute once loaded) */
};

struct slice_cluster {
	char     path[SLICE_CLUSTER_STR];    /* the file it was loaded from (absolute) */
	char     dir[SLICE_CLUSTER_STR];     /* its folder: base of relative paths */
	char     name[64];                   /* the Trapeze fabric name */
	char     volume[64];
	char     export_path[128];
	char     secret_file[SLICE_CLUSTER_STR];   /* absolute once loaded; "" none (shm only) */
	uint32_t stripe_unit;                /* default 262144 */
	uint32_t mkdir_switch;               /* permille */
	uint32_t client_lo, client_hi;       /* client node ids, inclusive; default 32-63 */
	uint32_t managers;                   /* count of [fmd N] sections */
	int      root_squash;                /* 0 / 1; default 0 */
	char     allow[SLICE_CLUSTER_STR];   /* comma-separated CIDRs; "" loopback only */
	uint32_t nnodes;
	struct slice_cluster_node nodes[SLICE_CLUSTER_MAX_NODES];
};

/* Parse path into out (heap-allocate it: it is large).  Checks: sections
 * and keys known, numbers in range, node ids unique and outside the client
 * range, fmd indexes 0..N-1 without gaps, blockd indexes unique, at least
 * one fmd and one blockd.  err (may be NULL) gets "file:line: what". */
int slice_cluster_load(const char *path, struct slice_cluster *out, char *err, size_t errlen);
/* Write c to path in the format above (atomically: temp file + rename). */
int slice_cluster_save(const struct slice_cluster *c, const char *path);

/* Lookups (NULL when there is none). */
const struct slice_cluster_node *slice_cluster_fmd(const struct slice_cluster *c, uint32_t index);
const struct slice_cluster_node *slice_cluster_node_by_id(const struct slice_cluster *c, uint32_t node);
/* The blockd nodes in stripe order: fills up to max entries, returns the count. */
uint32_t slice_cluster_blockds(const struct slice_cluster *c, const struct slice_cluster_node **out,
			       uint32_t max);

/* The cluster file of a `slice up --dir DIR` cluster: DIR/cluster.conf. */
#define SLICE_CLUSTER_FILE "cluster.conf"

#ifdef __cplusplus
}
#endif
#endif
