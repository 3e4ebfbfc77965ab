#!/bin/sh
# t-ipd-three: three namespaces, three tpz-ipd on one shm fabric: every
# node pings every other over IPv4 and IPv6 (the map sends each packet to
# the right one of two peers), and a TCP transfer between nodes 2 and 3
# runs with checksums compared.  Skips (77) without namespaces, TUN or ping.
T=t-ipd-three
. "$(dirname "$0")/ipd_lib.sh"
ipd_require
ipd_need ping

for n in 1 2 3; do
	ipd_netns "ipd$n-$TAG"
done
ipd_cluster_shm 1 2 3
for n in 1 2 3; do
	ipd_start $n "ipd$n-$TAG"
done
for n in 1 2 3; do
	ipd_wait_peers $n 2
done
for a in 1 2 3; do
	for b in 1 2 3; do
		[ $a = $b ] && continue
		ipd_ping "ipd$a-$TAG" "$(ip4 $b)"
		ipd_ping "ipd$a-$TAG" "$(ip6 $b)" -6
	done
done
say "every pair pings, IPv4 and IPv6: ok"
ipd_xfer "ipd2-$TAG" "ipd3-$TAG" "$(ip4 3)" 67108864
for n in 1 2 3; do
	u=$(ipd_stat $n drop_unknown_dst)
	[ "${u:-1}" -eq 0 ] || fail "node $n dropped $u packets for unknown destinations"
done
for n in 1 2 3; do
	ipd_stop $n
done
say "ok"
exit 0
