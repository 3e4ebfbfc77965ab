/*
 * netns.c - create the TUN device in another network namespace.
 *
 * The shm link finds its peers through abstract unix sockets, and those
 * belong to a network namespace: two daemons in two namespaces could not
 * meet.  So tpz-ipd stays in its own namespace (where its endpoint and
 * links live) and steps into the target one only to create and configure
 * the interface.  Everything made there stays there: the TUN descriptor
 * keeps working from any namespace, and so do the sockets we configure it
 * with.  setns() changes only the calling thread, which is why this runs
 * before any other thread exists.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "tip.h"

int tip_netns_enter(const char *ns, int *back)
{
	char path[256];
	int fd, rc;

	/* A bare name is one made by 'ip netns add' (iproute2 keeps them here). */
	if (strchr(ns, '/'))
		snprintf(path, sizeof(path), "%s", ns);
	else
		snprintf(path, sizeof(path), "/run/netns/%s", ns);
	*back = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (*back < 0)
		return -errno;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		goto fail;
	}
	rc = setns(fd, CLONE_NEWNET) < 0 ? -errno : 0;
	close(fd);
	if (rc == 0)
		return 0;
fail:
	close(*back);
	*back = -1;
	return rc;
}

int tip_netns_leave(int back)
{
	int rc = setns(back, CLONE_NEWNET) < 0 ? -errno : 0;
	close(back);
	return rc;
}
