/*
 * t-cluster: cluster files ("node ID URL" per line, '#' comments) parse to
 * the right nodes; every malformed line makes the whole parse fail with
 * -EINVAL; tpz_cluster_load reads the same from a file.
 */
#include "testlib.h"

#include <stdlib.h>
#include <unistd.h>

static const char good[] =
	"# a test cluster\n"
	"\n"
	"node 1 tcp://10.0.0.1:7000\n"
	"   node\t2\ttcp://host-b.example:7001   \n"
	"# node 3 is down\n"
	"node 0 shm\n"
	"node 255 tcp://[::1]:7002 # trailing comment\n"
	"node 17 tcp://10.0.0.17:7017";             /* no final newline */

static void check_good(const struct tpz_cluster_node *n, int r, const char *how)
{
	CHECK(r == 5, "%s: %d nodes, want 5", how, r);
	CHECK(n[0].node == 1 && strcmp(n[0].url, "tcp://10.0.0.1:7000") == 0,
	      "%s: node[0] = %u \"%s\"", how, n[0].node, n[0].url);
	CHECK(n[1].node == 2 && strcmp(n[1].url, "tcp://host-b.example:7001") == 0,
	      "%s: node[1] = %u \"%s\" (tabs, surrounding blanks)", how, n[1].node, n[1].url);
	CHECK(n[2].node == 0 && strcmp(n[2].url, "shm") == 0, "%s: node[2] = %u \"%s\"", how,
	      n[2].node, n[2].url);
	CHECK(n[3].node == 255 && strcmp(n[3].url, "tcp://[::1]:7002") == 0,
	      "%s: node[3] = %u \"%s\" (trailing comment)", how, n[3].node, n[3].url);
	CHECK(n[4].node == 17 && strcmp(n[4].url, "tcp://10.0.0.17:7017") == 0,
	      "%s: node[4] = %u \"%s\" (last line without newline)", how, n[4].node, n[4].url);
}

int main(int argc, char **argv)
{
	struct tpz_cluster_node n[8];
	int r;

	tl_init(argc, argv, 10);

	memset(n, 0, sizeof(n));
	r = tpz_cluster_parse(good, n, 8);
	check_good(n, r, "parse");
	CHECK_RC(tpz_cluster_parse("", n, 8), 0);
	CHECK_RC(tpz_cluster_parse("# only a comment\n\n   \n", n, 8), 0);
	CHECK_RC(tpz_cluster_parse("node 3 tcp://a:1\r\nnode 4 tcp://b:2\r\n", n, 8), 2);
	CHECK(n[0].node == 3 && strcmp(n[0].url, "tcp://a:1") == 0, "CRLF: node[0] \"%s\"",
	      n[0].url);
	CHECK(n[1].node == 4 && strcmp(n[1].url, "tcp://b:2") == 0, "CRLF: node[1] \"%s\"",
	      n[1].url);

	/* A URL of 127 characters fits; 128 does not. */
	char text[512], url[200];
	memset(url, 'x', sizeof(url));
	memcpy(url, "tcp://", 6);
	url[127 - 5] = '\0';
	strcat(url, ":7000");                     /* 127 characters */
	CHECK_RC(strlen(url), 127);
	snprintf(text, sizeof(text), "node 9 %s\n", url);
	r = tpz_cluster_parse(text, n, 8);
	CHECK(r == 1 && strcmp(n[0].url, url) == 0, "127-character URL: %d", r);

	static const char *bad[] = {
		"node x tcp://a:1\n",
		"node 1\n",
		"node\n",
		"nod 1 tcp://a:1\n",
		"nodes 1 tcp://a:1\n",
		"1 tcp://a:1\n",
		"node 256 tcp://a:1\n",
		"node -1 tcp://a:1\n",
		"node 4294967297 tcp://a:1\n",
		"node 1x tcp://a:1\n",
		"node 1 tcp://a:1 extra\n",
		"node 1 tcp://a:1\nnode 1 tcp://b:2\n",      /* duplicate id */
		"node 1 tcp://a:1\ngarbage\nnode 2 tcp://b:2\n",
		"node 1 tcp://a:1\nnode 2\n",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		r = tpz_cluster_parse(bad[i], n, 8);
		CHECK(r == -EINVAL, "bad cluster text %zu \"%s\": got %d, want -EINVAL", i, bad[i], r);
	}
	snprintf(text, sizeof(text), "node 9 %s0\n", url);  /* 128 characters */
	r = tpz_cluster_parse(text, n, 8);
	CHECK(r == -EINVAL, "a 128-character URL (does not fit url[128]): got %d", r);
	CHECK_RC(tpz_cluster_parse(NULL, n, 8), -EINVAL);
	/* More nodes than room: an error, never a silent truncation. */
	r = tpz_cluster_parse(good, n, 3);
	CHECK(r < 0, "5 nodes into room for 3: got %d", r);
	CHECK(tpz_cluster_parse(good, n, 0) < 0, "5 nodes into room for 0");

	/* The same from a file. */
	char path[] = "/tmp/t-cluster-XXXXXX";
	int fd = mkstemp(path);
	CHECK(fd >= 0, "mkstemp");
	CHECK(write(fd, good, strlen(good)) == (ssize_t)strlen(good), "write");
	close(fd);
	memset(n, 0, sizeof(n));
	r = tpz_cluster_load(path, n, 8);
	unlink(path);
	check_good(n, r, "load");
	CHECK_RC(tpz_cluster_load("/nonexistent/cluster.conf", n, 8), -ENOENT);
	printf("t-cluster: ok\n");
	return 0;
}
