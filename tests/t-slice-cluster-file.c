/*
 * t-slice-cluster-file.c - the cluster file (slice_cluster.h): a good one
 * loads with its defaults and relative paths resolved, survives a save and
 * a reload, and every kind of bad one is refused with file:line and why.
 */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "slice_cluster.h"
#include "testlib.h"

static char dir[256], path[300];
static struct slice_cluster c, c2;

static void put(const char *text)
{
	FILE *f = fopen(path, "w");
	CHECK(f, "open %s", path);
	fputs(text, f);
	fclose(f);
}

static const char good[] =
	"[cluster]\nname = demo\nvolume = vol\nsecret_file = secret\n"
	"stripe_unit = 65536\nclient_nodes = 40-50\nallow = 10.0.0.0/8,127.0.0.0/8\n"
	"[blockd 1]\nnode = 11\ntpz = tcp://10.0.0.2:7001\ndata = /srv/b1\ncache_mb = 64\n"
	"[blockd 0]\nnode = 10\nhost = h1\ndata = b0\n"
	"[fmd 0]\nnode = 2\nnfs = 127.0.0.1:20490\ndata = fmd-0\n"
	"[fmd 1]\nnode = 3\nnfs = 127.0.0.1:20491\ndata = fmd-1\n";

/* The file is refused and the error names the line (0: any) and says want. */
static void bad(const char *text, int line, const char *want)
{
	char err[512], at[32];

	put(text);
	CHECK(slice_cluster_load(path, &c, err, sizeof(err)) < 0, "accepted: %s", text);
	CHECK(strstr(err, want), "error '%s' does not say '%s'", err, want);
	if (line) {
		snprintf(at, sizeof(at), ":%d:", line);
		CHECK(strstr(err, at), "error '%s' does not give line %d", err, line);
	}
}

int main(int argc, char **argv)
{
	char err[512];

	tl_init(argc, argv, 30);
	snprintf(dir, sizeof(dir), "/tmp/%s-%d", tl_test_name, (int)getpid());
	CHECK(mkdir(dir, 0700) == 0, "mkdir");
	snprintf(path, sizeof(path), "%s/cluster.conf", dir);

	put(good);
	CHECK(slice_cluster_load(path, &c, err, sizeof(err)) == 0, "good file: %s", err);
	CHECK(!strcmp(c.name, "demo") && !strcmp(c.volume, "vol"), "names");
	CHECK(!strcmp(c.export_path, "/slice"), "default export %s", c.export_path);
	CHECK(c.stripe_unit == 65536 && c.client_lo == 40 && c.client_hi == 50, "numbers");
	CHECK(c.managers == 2 && c.nnodes == 4 && c.root_squash == 0, "counts");
	char want[400];
	snprintf(want, sizeof(want), "%s/secret", dir);
	CHECK(!strcmp(c.secret_file, want), "secret path %s", c.secret_file);
	const struct slice_cluster_node *b[8];
	CHECK(slice_cluster_blockds(&c, b, 8) == 2, "two block servers");
	CHECK(b[0]->node == 10 && b[1]->node == 11, "stripe order by index");
	CHECK(!strcmp(b[0]->host, "h1") && !strcmp(b[1]->host, "local"), "hosts");
	CHECK(!strcmp(b[0]->tpz, "shm") && b[1]->cache_mb == 64, "defaults");
	snprintf(want, sizeof(want), "%s/b0", dir);
	CHECK(!strcmp(b[0]->data, want) && !strcmp(b[1]->data, "/srv/b1"), "data paths");
	CHECK(slice_cluster_fmd(&c, 1)->node == 3 && !slice_cluster_fmd(&c, 2), "fmd lookup");
	CHECK(slice_cluster_node_by_id(&c, 11) == b[1] && !slice_cluster_node_by_id(&c, 99), "by id");

	/* save and load again: the same cluster, paths still relative */
	char path2[320];
	snprintf(path2, sizeof(path2), "%s/again.conf", dir);
	CHECK(slice_cluster_save(&c, path2) == 0, "save");
	CHECK(slice_cluster_load(path2, &c2, err, sizeof(err)) == 0, "reload: %s", err);
	CHECK(c2.nnodes == c.nnodes && c2.managers == c.managers && c2.stripe_unit == c.stripe_unit, "same");
	for (uint32_t i = 0; i < c.nnodes; i++)
		CHECK(c2.nodes[i].node == c.nodes[i].node && !strcmp(c2.nodes[i].data, c.nodes[i].data) &&
		      !strcmp(c2.nodes[i].tpz, c.nodes[i].tpz), "node %u survives", i);
	CHECK(!strcmp(c2.secret_file, c.secret_file) && !strcmp(c2.allow, c.allow), "strings survive");
	unlink(path2);

	bad("[cluster]\nname = x\nvolume = v\ncolour = red\n", 4, "unknown key 'colour'");
	bad("[cluster]\nname = x\n[blockz 0]\nnode = 1\n", 4, "unknown section");
	bad("[cluster]\nname=x\nvolume=v\n[blockd 0]\nnode = 64\n", 5, "bad value '64'");
	bad("[cluster]\nname=x\nvolume=v\nstripe_unit = 5000\n", 4, "stripe_unit");
	bad("[cluster]\nname=x\nvolume=v\n[fmd 0]\nnode=2\nnfs=nohost\n", 6, "nfs");
	bad("[cluster]\nname=x\nvolume=v\n[blockd 0]\ntpz = udp://x\n", 5, "tpz");
	bad("this is not ini\n", 1, "syntax");
	bad("[cluster]\nname=x\nvolume=v\n[blockd 0]\nnode=5\ndata=d\n[fmd 0]\nnode=5\nnfs=a:1\ndata=f\n", 0,
	    "used twice");
	bad("[cluster]\nname=x\nvolume=v\n[blockd 0]\nnode=5\ndata=d\n[fmd 1]\nnode=6\nnfs=a:1\ndata=f\n", 0,
	    "[fmd 0] missing");
	bad("[cluster]\nname=x\nvolume=v\n[blockd 0]\nnode=5\ndata=d\n", 0, "at least one");
	bad("[cluster]\nname=x\nvolume=v\n[blockd 0]\nnode=45\ndata=d\n[fmd 0]\nnode=2\nnfs=a:1\ndata=f\n", 0,
	    "client range");
	bad("[cluster]\nname=x\nvolume=v\n[blockd 0]\nnode=5\ntpz=tcp://1.2.3.4:5\ndata=d\n"
	    "[fmd 0]\nnode=2\nnfs=a:1\ndata=f\n", 0, "secret_file");
	bad("[cluster]\nname=x\nvolume=v\n[blockd 0]\ndata=d\n[fmd 0]\nnode=2\nnfs=a:1\ndata=f\n", 0,
	    "no node id");
	unlink(path);
	CHECK(slice_cluster_load(path, &c, err, sizeof(err)) == -2 && strstr(err, "No such file"),
	      "missing file: %s", err);
	rmdir(dir);
	return 0;
}
