#!/bin/sh
# t-ipd-malformed: malformed Trapeze/IP messages on the link.  A helper
# joins the fabric as node 9 and sends node 1 a message of every malformed
# kind (bad version, flags, lengths, IP header, virtio-net header...): each
# is dropped, counted and logged, and then a good ICMP echo request from
# the helper still gets its reply through the same daemon.  A second helper,
# node 10, which the cluster file does not list, is not answered
# (unknown source).  Traffic between the real nodes is unaffected.
# Skips (77) without namespaces, TUN or ping.
T=t-ipd-malformed
. "$(dirname "$0")/ipd_lib.sh"
ipd_require
ipd_need ping
[ -x "$INJECT" ] || fail "$INJECT not built"

NSA=ipdA$TAG
NSB=ipdB$TAG
ipd_netns "$NSA"
ipd_netns "$NSB"
ipd_cluster_shm 1 2
echo "node 9 shm" >>"$CLUSTER"
echo "ip 9 $(ip4 9)" >>"$CLUSTER"
ipd_start 1 "$NSA"
ipd_start 2 "$NSB"
ipd_wait_peers 1 1

"$INJECT" --fabric "$FABRIC" --node 9 --peer 1 --src "$(ip4 9)" --dst "$(ip4 1)" \
	>"$TMP/inject.log" 2>&1 || fail "injector: $(tail -5 "$TMP/inject.log")"
k=$(sed -n 's/^malformed \([0-9]*\)$/\1/p' "$TMP/inject.log")
[ -n "$k" ] && [ "$k" -gt 10 ] || fail "the injector sent no malformed cases"
grep -q "echo reply received" "$TMP/inject.log" || fail "no echo reply after the malformed messages"
ipd_snap 1
bad=$(ipd_val rx_malformed)
[ "$bad" -eq "$k" ] || fail "$k malformed messages sent, $bad counted"
kill -0 "$PID_1" 2>/dev/null || fail "node 1 died"
grep -q "dropped a malformed packet from node 9" "$TMP/ipd-1.log" || fail "no log line for malformed packets"
say "$k malformed messages dropped, counted and logged; the good packet got its answer"

"$INJECT" --fabric "$FABRIC" --node 10 --peer 1 --src 10.77.0.10 --dst "$(ip4 1)" --good-only --no-reply \
	>"$TMP/inject10.log" 2>&1 || fail "node 10 got an answer: $(tail -3 "$TMP/inject10.log")"
u=$(ipd_stat 1 rx_unknown_src)
[ "$u" -ge 1 ] || fail "the packet from node 10 was not counted as from an unknown source"
say "a node outside the cluster file: dropped and counted"

ipd_ping "$NSA" "$(ip4 2)"
ipd_ping "$NSB" "$(ip6 1)" -6
cat $TMP/ipd-1.log; ipd_stop 1
ipd_stop 2
say "ok"
exit 0
