/*
 * endpoint.c - the endpoint of either end: its configuration from the
 * options, and the server end's listen and "ready" report.
 */
#include <errno.h>
#include <stdio.h>
#include <unistd.h>

#include "perfkit.h"

void pk_endpoint_config(struct tpz_config *cfg, const struct pk_opts *o, uint32_t node,
			const char *fabric, const char *who)
{
	tpz_config_default(cfg);
	cfg->node = node;
	cfg->fabric = o->link == PK_LINK_SHM ? fabric : NULL;
	cfg->secret = o->secret;
	cfg->log = pk_log;
	cfg->log_arg = (void *)who;
	/* Blocking mode must really sleep, so each round trip pays (and shows)
	 * the wake-up: no spinning before going to sleep. */
	if (o->mode == PK_MODE_BLOCK)
		cfg->spin_us = 0;
}

/* Tell the parent we listen (and on which tcp port): it starts the client
 * only then, so the client never races the listener.  See read_ready()
 * in ends.c for the other side. */
static int announce(struct tpz_endpoint *ep, int ready_fd)
{
	char line[32];
	int port = tpz_listen_port(ep), n;

	if (ready_fd < 0)
		return 0;
	n = snprintf(line, sizeof line, "%d\n", port > 0 ? port : 0);
	return write(ready_fd, line, (size_t)n) == n ? 0 : -errno;
}

int pk_listen(struct tpz_endpoint *ep, const char *url, int ready_fd, bool forever)
{
	int rc = tpz_listen(ep, url);

	if (rc < 0) {
		fprintf(stderr, "%s: server: listen on %s: %s\n", pk_prog, url, tpz_strerror(rc));
		return rc;
	}
	if (forever)
		fprintf(stderr, "%s: server: node %u listening on %s (port %d)\n",
			pk_prog, tpz_node(ep), url, tpz_listen_port(ep));
	return announce(ep, ready_fd);
}
