#!/bin/sh
# t-ipd-restart: a peer killed (SIGKILL) and restarted.  While a paced TCP
# transfer runs from A to B, B's daemon is killed: A notices at once, keeps
# running, drops (and counts) what it cannot deliver, and pings to B fail
# quickly instead of hanging.  B's daemon restarts, the link comes back and
# the same TCP connection finishes with matching checksums.  Then A's
# daemon (the one B connects to) is killed and restarted: B reconnects on
# its own and traffic flows both ways again.  Both daemons then stop
# cleanly on SIGTERM.  Skips (77) without namespaces, TUN or ping.
T=t-ipd-restart
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
ipd_ping "$NSA" "$(ip4 2)"

# A transfer that lasts about 2 s: 96 MiB, 20 ms of sleep after each MiB.
ip netns exec "$NSB" "$XFER" --listen "$(ip4 2)" --port 5002 >"$TMP/recv.out" 2>"$TMP/recv.log" &
RPID=$!
IPD_BG="$IPD_BG $RPID"
ip netns exec "$NSA" "$XFER" --send "$(ip4 2)" --port 5002 --bytes 100663296 --pace-ms 20 \
	>"$TMP/send.out" 2>"$TMP/send.log" &
SPID=$!
IPD_BG="$IPD_BG $SPID"
sleep 0.5

ipd_kill 2
i=0
until grep -q "node 2 is down" "$TMP/ipd-1.log"; do
	i=$((i + 1))
	[ $i -gt 20 ] && fail "node 1 did not notice node 2's death within 2 s"
	sleep 0.1
done
kill -0 "$PID_1" 2>/dev/null || fail "node 1 died with its peer"
before=$(ipd_stat 1 drop_peer_down)
ip netns exec "$NSA" ping -n -q -c 2 -i 0.2 -W 1 "$(ip4 2)" >/dev/null 2>&1 && fail "a ping reached a dead node"
after=$(ipd_stat 1 drop_peer_down)
[ "$after" -gt "$before" ] || fail "node 1 did not count packets to its dead peer ($before -> $after)"
say "node 2 killed: node 1 alive, dropped and counted $after packets for it"

ipd_start 2 "$NSB"
ipd_wait_peers 1 1
wait "$SPID" || fail "the transfer across the restart failed: $(cat "$TMP/send.log")"
wait "$RPID" || fail "the receiver failed: $(cat "$TMP/recv.log")"
s=$(cut -d' ' -f1-4 "$TMP/send.out")
r=$(cut -d' ' -f1-4 "$TMP/recv.out")
[ -n "$s" ] && [ "$s" = "$r" ] || fail "checksums differ across the restart: sent '$s', received '$r'"
say "node 2 restarted: the TCP connection resumed and finished ($r)"
ipd_ping "$NSA" "$(ip4 2)"
ipd_ping "$NSB" "$(ip6 1)" -6

ipd_kill 1
ipd_start 1 "$NSA"
ipd_wait_peers 2 1
ipd_ping "$NSB" "$(ip4 1)"
ipd_ping "$NSA" "$(ip6 2)" -6
ipd_xfer "$NSB" "$NSA" "$(ip4 1)" 16777216
say "node 1 killed and restarted: node 2 reconnected, traffic flows"
ipd_stop 1
ipd_stop 2
say "ok"
exit 0
