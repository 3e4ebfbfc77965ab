/* connect.c - tpz_listen/tpz_connect: pick the link a URL names. */
#include <errno.h>
#include <string.h>

#include "tpz_internal.h"

int tpz_listen(struct tpz_endpoint *ep, const char *url)
{
	if (!ep || !url)
		return -EINVAL;
	if (strcmp(url, "shm") == 0)
		return ep->shm ? 0 : -EINVAL;   /* an shm endpoint always listens */
	if (strncmp(url, "tcp://", 6) == 0)
		return tpz_tcp_listen(ep, url + 6);
	return -EPROTONOSUPPORT;
}

int tpz_listen_port(struct tpz_endpoint *ep)
{
	return ep ? tpz_tcp_port(ep) : -EINVAL;
}

int tpz_connect(struct tpz_endpoint *ep, uint32_t node, const char *url, int timeout_ms)
{
	if (!ep || !url)
		return -EINVAL;
	if (strcmp(url, "shm") == 0)
		return tpz_shm_connect(ep, node, timeout_ms);
	if (strncmp(url, "tcp://", 6) == 0)
		return tpz_tcp_connect(ep, node, url + 6, timeout_ms);
	return -EPROTONOSUPPORT;
}
