/*
 * t-vol-cluster.c - cluster_testlib.h itself: a cluster of 2 block servers
 * and 2 managers comes up, its cluster file names them, every manager
 * answers MOUNT on the port the file gives, and one block server and one
 * manager survive a kill and restart (same node, same port).
 */
#include "cluster_testlib.h"
#include "fmd_testlib.h"

static uint16_t port_in_file(const char *file, uint32_t index)
{
	static struct slice_cluster sc;
	const struct slice_cluster_node *bl[4];
	char err[300] = "";
	int rc = slice_cluster_load(file, &sc, err, sizeof(err));
	CHECK(rc == 0, "slice_cluster_load: %d %s", rc, err);
	CHECK(sc.managers == 2 && slice_cluster_blockds(&sc, bl, 4) == 2, "managers %u", sc.managers);
	const struct slice_cluster_node *n = slice_cluster_fmd(&sc, index);
	CHECK(n, "no [fmd %u]", index);
	unsigned port = 0;
	CHECK(sscanf(n->nfs, "127.0.0.1:%u", &port) == 1, "nfs = %s", n->nfs);
	return (uint16_t)port;
}

int main(int argc, char **argv)
{
	tl_init(argc, argv, 60);
	struct ct_cluster *c = ct_start(2, 2, NULL);
	struct tfh root[2];
	for (uint32_t i = 0; i < 2; i++) {
		uint16_t port = port_in_file(c->file, i);
		CHECK(port == ct_fmd(c, i)->port, "manager %u: file says port %u, it listens on %u", i, port,
		      ct_fmd(c, i)->port);
		EXPECT_NFS(nc_mount(port, "/slice", &root[i]), MNT3_OK);
	}
	CHECK(root[0].len == root[1].len && memcmp(root[0].b, root[1].b, root[0].len) == 0,
	      "every manager gives the same root");

	ct_kill(c, ct_blockd(c, 1));
	CHECK(!ct_alive(ct_blockd(c, 1)), "killed");
	ct_restart(c, ct_blockd(c, 1));
	CHECK(ct_alive(ct_blockd(c, 1)), "restarted");

	ct_kill(c, ct_fmd(c, 1));
	ct_restart(c, ct_fmd(c, 1));
	struct tfh r1;
	EXPECT_NFS(nc_mount(ct_fmd(c, 1)->port, "/slice", &r1), MNT3_OK);
	CHECK(r1.len == root[1].len && memcmp(r1.b, root[1].b, r1.len) == 0, "same root after the restart");
	ct_stop(c);
	return tl_finish();
}
