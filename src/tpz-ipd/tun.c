/*
 * tun.c - the TUN device: an IP interface whose packets we read and write.
 *
 * IFF_VNET_HDR puts a virtio-net header in front of every packet, which is
 * how offloads cross the user/kernel boundary: with TUNSETOFFLOAD we tell
 * the kernel we take packets whose checksum is not computed (TUN_F_CSUM)
 * and TCP/UDP "super-packets" up to 64 KiB that are not yet cut into
 * MTU-sized segments (TSO, USO).  The header says so (NEEDS_CSUM, gso_type,
 * gso_size); we carry it to the other node, whose kernel accepts the packet
 * as it is.  No side computes a checksum or segments in software: the
 * modern form of Trapeze's checksum offload and large MTU.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tip.h"

/* UDP segmentation offload for TUN came with Linux 6.2; older headers
 * lack the names (the kernel then refuses them, and we go without). */
#ifndef TUN_F_USO4
#define TUN_F_USO4 0x20
#endif
#ifndef TUN_F_USO6
#define TUN_F_USO6 0x40
#endif

/* Best first; each step down drops what an older kernel may refuse. */
static const unsigned offload_tries[] = {
	TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN | TUN_F_USO4 | TUN_F_USO6,
	TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN,
	TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6,
	TUN_F_CSUM,
};

const char *tip_offload_str(unsigned o, char *buf, size_t len)
{
	snprintf(buf, len, "%s%s%s%s%s%s", o & TUN_F_CSUM ? "csum" : "none", o & TUN_F_TSO4 ? " tso4" : "",
		 o & TUN_F_TSO6 ? " tso6" : "", o & TUN_F_TSO_ECN ? " tso-ecn" : "",
		 o & TUN_F_USO4 ? " uso4" : "", o & TUN_F_USO6 ? " uso6" : "");
	return buf;
}

static int ifreq_ioctl(unsigned long req, struct ifreq *ifr)
{
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return -errno;
	int rc = ioctl(s, req, ifr) < 0 ? -errno : 0;
	close(s);
	return rc;
}

int tip_tun_set_mtu(const char *ifname, uint32_t mtu)
{
	struct ifreq ifr = { 0 };
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	ifr.ifr_mtu = (int)mtu;
	return ifreq_ioctl(SIOCSIFMTU, &ifr);
}

int tip_tun_set_up(const char *ifname)
{
	struct ifreq ifr = { 0 };
	int rc;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	if ((rc = ifreq_ioctl(SIOCGIFFLAGS, &ifr)) < 0)
		return rc;
	ifr.ifr_flags |= IFF_UP;
	return ifreq_ioctl(SIOCSIFFLAGS, &ifr);
}

static int open_error(int e, const char *dev, char *err, size_t errlen)
{
	if (e == ENOENT || e == ENODEV || e == ENXIO)
		snprintf(err, errlen, "cannot open %s: %s (is the tun driver loaded? try 'modprobe tun')",
			 dev, strerror(e));
	else if (e == EACCES || e == EPERM)
		snprintf(err, errlen, "cannot open %s: %s (tpz-ipd needs root or CAP_NET_ADMIN)", dev, strerror(e));
	else
		snprintf(err, errlen, "cannot open %s: %s", dev, strerror(e));
	return -e;
}

/* Create the interface (it lives as long as our descriptor), offloads on,
 * non-blocking reads.  The device is created in the caller's current
 * network namespace. */
int tip_tun_open(struct tip_daemon *d, char *err, size_t errlen)
{
	struct ifreq ifr = { 0 };
	int fd, rc, hdrsz = TIP_VNET_SIZE;

	fd = open(d->opt.tun_dev, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return open_error(errno, d->opt.tun_dev, err, errlen);
	/* IFF_TUN_EXCL: a name already taken is an error, not a device to share. */
	ifr.ifr_flags = IFF_TUN | IFF_NO_PI | IFF_VNET_HDR | IFF_TUN_EXCL;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", d->ifname);
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		rc = -errno;
		if (rc == -EPERM || rc == -EACCES)
			snprintf(err, errlen, "cannot create TUN interface %s: %s (tpz-ipd needs root or CAP_NET_ADMIN "
				 "in the interface's network namespace)", d->ifname, strerror(-rc));
		else if (rc == -EBUSY || rc == -EEXIST)
			snprintf(err, errlen, "cannot create TUN interface %s: an interface of that name exists",
				 d->ifname);
		else
			snprintf(err, errlen, "cannot create TUN interface %s: %s", d->ifname, strerror(-rc));
		goto fail;
	}
	snprintf(d->ifname, sizeof(d->ifname), "%s", ifr.ifr_name);
	if (ioctl(fd, TUNSETVNETHDRSZ, &hdrsz) < 0) {
		rc = -errno;
		snprintf(err, errlen, "%s: cannot set the virtio-net header size: %s", d->ifname, strerror(-rc));
		goto fail;
	}
	d->offloads = 0;
	for (size_t i = 0; d->opt.offload && i < sizeof(offload_tries) / sizeof(offload_tries[0]); i++) {
		if (ioctl(fd, TUNSETOFFLOAD, offload_tries[i]) == 0) {
			d->offloads = offload_tries[i];
			break;
		}
	}
	if (!d->offloads && ioctl(fd, TUNSETOFFLOAD, 0) < 0) {
		rc = -errno;
		snprintf(err, errlen, "%s: TUNSETOFFLOAD: %s", d->ifname, strerror(-rc));
		goto fail;
	}
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0) {
		rc = -errno;
		snprintf(err, errlen, "%s: O_NONBLOCK: %s", d->ifname, strerror(-rc));
		goto fail;
	}
	struct ifreq q = { 0 };
	snprintf(q.ifr_name, sizeof(q.ifr_name), "%s", d->ifname);
	if ((rc = ifreq_ioctl(SIOCGIFINDEX, &q)) < 0) {
		snprintf(err, errlen, "%s: no interface index: %s", d->ifname, strerror(-rc));
		goto fail;
	}
	d->ifindex = q.ifr_ifindex;
	if ((rc = tip_tun_set_mtu(d->ifname, d->opt.mtu)) < 0) {
		snprintf(err, errlen, "%s: cannot set the MTU to %u: %s", d->ifname, d->opt.mtu, strerror(-rc));
		goto fail;
	}
	d->tun_fd = fd;
	return 0;
fail:
	close(fd);
	return rc;
}
