#!/bin/sh
# t-ipd-unknown: packets to addresses no node owns (one in the interface's
# subnet, IPv4 and IPv6) are dropped and counted as unknown destinations,
# multicast is counted on its own, and neither disturbs traffic to the
# known peer.  Skips (77) without namespaces, TUN or ping.
T=t-ipd-unknown
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

before=$(ipd_stat 1 drop_unknown_dst)
ip netns exec "$NSA" ping -n -q -c 3 -i 0.2 -W 1 10.77.0.77 >/dev/null 2>&1 && fail "10.77.0.77 answered"
ip netns exec "$NSA" ping -6 -n -q -c 3 -i 0.2 -W 1 fd77::77 >/dev/null 2>&1 && fail "fd77::77 answered"
after=$(ipd_stat 1 drop_unknown_dst)
[ $((after - before)) -ge 6 ] || fail "6 pings to unknown addresses, but unknown_dst went $before -> $after"
grep -q "dropped a packet to 10.77.0.77: no node has this address" "$TMP/ipd-1.log" ||
	fail "no log line for the unknown destination"
say "unknown destinations: $((after - before)) packets dropped and counted"

m0=$(ipd_stat 1 drop_multicast)
ip netns exec "$NSA" ping -6 -n -q -c 2 -i 0.2 -W 1 ff02::1%tip1 >/dev/null 2>&1
m1=$(ipd_stat 1 drop_multicast)
[ "$m1" -gt "$m0" ] || fail "multicast not counted ($m0 -> $m1)"
u=$(ipd_stat 1 drop_unknown_dst)
[ "$u" -eq "$after" ] || fail "multicast counted as unknown destinations ($after -> $u)"
say "multicast: dropped and counted apart ($m0 -> $m1)"

ipd_ping "$NSA" "$(ip4 2)"
ipd_ping "$NSA" "$(ip6 2)" -6
kill -0 "$PID_1" || fail "node 1 died"
ipd_stop 1
ipd_stop 2
say "ok"
exit 0
