#!/bin/sh
# t-ipd-ping: two namespaces, a tpz-ipd for each on one shm fabric (the
# daemons in our namespace, their interfaces in theirs).  Ping both ways
# over IPv4 and IPv6, with small packets and with the largest packet the
# 65535-byte MTU allows (not fragmented), and check both daemons counted
# the traffic.  Skips (77) without namespaces, TUN or ping.
T=t-ipd-ping
. "$(dirname "$0")/ipd_lib.sh"
ipd_require
ipd_need ping

NSA=ipdA$TAG
NSB=ipdB$TAG
ipd_netns "$NSA"
ipd_netns "$NSB"
ipd_cluster_shm 1 2
ipd_start 1 "$NSA"
ipd_start 2 "$NSB"
ipd_wait_peers 1 1
ipd_wait_peers 2 1

ipd_ping "$NSA" "$(ip4 2)"
ipd_ping "$NSB" "$(ip4 1)"
ipd_ping "$NSA" "$(ip6 2)" -6
ipd_ping "$NSB" "$(ip6 1)" -6
say "small pings both ways, IPv4 and IPv6: ok"
ipd_ping "$NSA" "$(ip4 2)" -M do -s 65507
ipd_ping "$NSB" "$(ip6 1)" -6 -M do -s 65487
say "65535-byte packets, not fragmented: ok"

for n in 1 2; do
	tx=$(ipd_stat $n tx_packets)
	rx=$(ipd_stat $n rx_packets)
	[ "${tx:-0}" -ge 12 ] && [ "${rx:-0}" -ge 12 ] || fail "node $n counted $tx packets out, $rx in"
done
"$IPD" --stats --pid "$PID_1"
ipd_stop 1
ipd_stop 2
ip -n "$NSA" link show tip1 >/dev/null 2>&1 && fail "tip1 still exists after the daemon stopped"
say "ok"
exit 0
