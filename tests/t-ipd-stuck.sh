#!/bin/sh
# t-ipd-stuck: a peer that stops reading (its daemon is SIGSTOPped: alive,
# linked, but consuming nothing).  Node 1 floods it until its ring is full;
# node 1 must then drop what cannot go (counted as "no credit") instead of
# waiting for it, and keep carrying traffic to node 3.  When node 2 resumes,
# traffic to it flows again.  Skips (77) without namespaces, TUN or ping.
T=t-ipd-stuck
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
ipd_wait_peers 1 2
ipd_ping "ipd1-$TAG" "$(ip4 2)"

kill -STOP "$PID_2"
# 600 packets in about a second: more than its 256-slot ring holds.
ip netns exec "ipd1-$TAG" ping -n -q -i 0.002 -c 600 -s 1000 -W 1 "$(ip4 2)" >/dev/null 2>&1 &
FLOOD=$!
IPD_BG="$IPD_BG $FLOOD"
sleep 1
ipd_ping "ipd1-$TAG" "$(ip4 3)"
ipd_ping "ipd3-$TAG" "$(ip6 1)" -6
wait "$FLOOD"
full=$(ipd_stat 1 drop_ring_full)
[ "${full:-0}" -gt 0 ] || fail "node 1 never found node 2's ring full (drop_ring_full = $full)"
kill -0 "$PID_1" 2>/dev/null || fail "node 1 died"
say "node 2 stopped: node 1 dropped $full packets for it and kept talking to node 3"

kill -CONT "$PID_2"
ipd_ping "ipd1-$TAG" "$(ip4 2)"
ipd_ping "ipd2-$TAG" "$(ip4 3)"
say "node 2 resumed: traffic flows"
for n in 1 2 3; do
	ipd_stop $n
done
say "ok"
exit 0
