/*
 * ifaddr.c - give the interface the addresses the cluster file lists for
 * this node, and routes to the other nodes' addresses.
 *
 * rtnetlink rather than ioctls: it is the one interface that does IPv4 and
 * IPv6 alike, and it lets an IPv6 address skip duplicate address detection
 * (IFA_F_NODAD).  DAD would keep the address "tentative", unusable, for a
 * second or two, and it cannot find a duplicate here anyway: a TUN link has
 * no neighbours, the cluster file is the whole truth about who is where.
 *
 * Own addresses get their prefix (the kernel adds the on-link route for
 * it); a peer address outside every own prefix gets a host route through
 * the interface.
 */
#include <errno.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tip.h"

struct nl_req {
	struct nlmsghdr h;
	union {
		struct ifaddrmsg a;
		struct rtmsg     r;
	};
	char attrs[128];
};

static void put_attr(struct nl_req *q, uint16_t type, const void *data, size_t len)
{
	struct rtattr *ra = (struct rtattr *)((char *)q + NLMSG_ALIGN(q->h.nlmsg_len));
	ra->rta_type = type;
	ra->rta_len = (uint16_t)RTA_LENGTH(len);
	memcpy(RTA_DATA(ra), data, len);
	q->h.nlmsg_len = NLMSG_ALIGN(q->h.nlmsg_len) + (uint32_t)RTA_ALIGN(ra->rta_len);
}

/* Send one request and read its acknowledgement: 0 or -errno. */
static int nl_talk(struct nl_req *q)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	char buf[1024];
	int fd, rc;

	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (fd < 0)
		return -errno;
	struct timeval tv = { 2, 0 };   /* the kernel answers at once; never hang */
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	q->h.nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
	q->h.nlmsg_seq = 1;
	if (sendto(fd, q, q->h.nlmsg_len, 0, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		rc = -errno;
		goto out;
	}
	ssize_t n = recv(fd, buf, sizeof(buf), 0);
	if (n < 0) {
		rc = -errno;
		goto out;
	}
	rc = -EPROTO;
	for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)n); h = NLMSG_NEXT(h, n)) {
		if (h->nlmsg_type == NLMSG_ERROR) {
			struct nlmsgerr *e = NLMSG_DATA(h);
			rc = e->error;   /* 0 or -errno */
			break;
		}
	}
out:
	close(fd);
	return rc;
}

static size_t alen(int family) { return family == AF_INET ? 4 : 16; }

int tip_if_addr_add(int ifindex, const struct tip_addr *a)
{
	struct nl_req q;
	uint32_t flags = IFA_F_NODAD;

	memset(&q, 0, sizeof(q));
	q.h.nlmsg_len = NLMSG_LENGTH(sizeof(struct ifaddrmsg));
	q.h.nlmsg_type = RTM_NEWADDR;
	q.h.nlmsg_flags = NLM_F_CREATE | NLM_F_REPLACE;
	q.a.ifa_family = a->family;
	q.a.ifa_prefixlen = a->plen;
	q.a.ifa_index = (uint32_t)ifindex;
	q.a.ifa_flags = IFA_F_NODAD;
	put_attr(&q, IFA_LOCAL, a->a, alen(a->family));
	put_attr(&q, IFA_ADDRESS, a->a, alen(a->family));
	put_attr(&q, IFA_FLAGS, &flags, sizeof(flags));
	return nl_talk(&q);
}

int tip_if_route_add(int ifindex, const struct tip_addr *dst)
{
	struct nl_req q;
	uint32_t oif = (uint32_t)ifindex;

	memset(&q, 0, sizeof(q));
	q.h.nlmsg_len = NLMSG_LENGTH(sizeof(struct rtmsg));
	q.h.nlmsg_type = RTM_NEWROUTE;
	q.h.nlmsg_flags = NLM_F_CREATE | NLM_F_REPLACE;
	q.r.rtm_family = dst->family;
	q.r.rtm_dst_len = (uint8_t)(alen(dst->family) * 8);
	q.r.rtm_table = RT_TABLE_MAIN;
	q.r.rtm_protocol = RTPROT_STATIC;
	q.r.rtm_scope = RT_SCOPE_LINK;
	q.r.rtm_type = RTN_UNICAST;
	put_attr(&q, RTA_DST, dst->a, alen(dst->family));
	put_attr(&q, RTA_OIF, &oif, sizeof(oif));
	return nl_talk(&q);
}

static bool covered(const struct tip_map *m, uint32_t me, const struct tip_addr *a)
{
	for (uint32_t k = 0; k < m->n; k++)
		if (m->ent[k].node == me && tip_addr_in(&m->ent[k].addr, a))
			return true;
	return false;
}

/* Addresses, up, routes: routes need the link up. */
int tip_if_configure(struct tip_daemon *d, char *err, size_t errlen)
{
	const struct tip_map *m = &d->map;
	char s[64];
	int rc;

	for (uint32_t k = 0; d->opt.addr && k < m->n; k++) {
		if (m->ent[k].node != d->opt.node)
			continue;
		if ((rc = tip_if_addr_add(d->ifindex, &m->ent[k].addr)) < 0) {
			snprintf(err, errlen, "%s: cannot add address %s: %s", d->ifname,
				 tip_addr_str(&m->ent[k].addr, true, s, sizeof(s)), strerror(-rc));
			return rc;
		}
	}
	if ((rc = tip_tun_set_up(d->ifname)) < 0) {
		snprintf(err, errlen, "%s: cannot bring the interface up: %s", d->ifname, strerror(-rc));
		return rc;
	}
	for (uint32_t k = 0; d->opt.addr && k < m->n; k++) {
		const struct tip_addr *a = &m->ent[k].addr;
		if (m->ent[k].node == d->opt.node || covered(m, d->opt.node, a))
			continue;
		if ((rc = tip_if_route_add(d->ifindex, a)) < 0) {
			snprintf(err, errlen, "%s: cannot add a route to %s: %s", d->ifname,
				 tip_addr_str(a, false, s, sizeof(s)), strerror(-rc));
			return rc;
		}
	}
	return 0;
}
