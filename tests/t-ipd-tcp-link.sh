#!/bin/sh
# t-ipd-tcp-link: two "hosts" as namespaces joined by a veth pair, a
# tpz-ipd inside each, linked by Trapeze's tcp link over the veth addresses
# (authenticated with a secret from a file).  Ping both ways over IPv4 and
# IPv6, move 256 MiB over TCP with checksums compared, then throw garbage
# bytes at node 1's Trapeze port: the daemon refuses that connection, logs
# it, and keeps carrying traffic.  Skips (77) without namespaces, TUN or ping.
T=t-ipd-tcp-link
. "$(dirname "$0")/ipd_lib.sh"
ipd_require
ipd_need ping
[ -x "$INJECT" ] || fail "$INJECT not built"

NSA=ipdA$TAG
NSB=ipdB$TAG
VA=ipva$TAG
VB=ipvb$TAG
ipd_netns "$NSA"
ipd_netns "$NSB"
ip link add "$VA" type veth peer name "$VB" || fail "ip link add veth"
IPD_LINKS="$VA"
ip link set "$VA" netns "$NSA" || fail "move $VA"
ip link set "$VB" netns "$NSB" || fail "move $VB"
ip -n "$NSA" addr add 10.99.0.1/24 dev "$VA" || fail "veth address A"
ip -n "$NSB" addr add 10.99.0.2/24 dev "$VB" || fail "veth address B"
ip -n "$NSA" link set "$VA" up
ip -n "$NSB" link set "$VB" up

SECRET=$TMP/secret
(umask 077 && echo "t-ipd-tcp-link secret $TAG" >"$SECRET")
cat >"$CLUSTER" <<EOC
node 1 tcp://10.99.0.1:7401
node 2 tcp://10.99.0.2:7401
ip 1 $(ip4 1)/24
ip 1 $(ip6 1)/64
ip 2 $(ip4 2)/24
ip 2 $(ip6 2)/64
EOC
ipd_start_in "$NSA" 1 --secret-file "$SECRET"
ipd_start_in "$NSB" 2 --secret-file "$SECRET"
ipd_wait_peers 1 1
ipd_wait_peers 2 1

ipd_ping "$NSA" "$(ip4 2)"
ipd_ping "$NSB" "$(ip4 1)"
ipd_ping "$NSA" "$(ip6 2)" -6
ipd_ping "$NSB" "$(ip6 1)" -6 -M do -s 65487
say "pings over the tcp link: ok"
ipd_xfer "$NSA" "$NSB" "$(ip4 2)" 268435456

ip netns exec "$NSB" "$INJECT" --garbage tcp://10.99.0.1:7401 >"$TMP/garbage.log" 2>&1 ||
	fail "could not send garbage: $(cat "$TMP/garbage.log")"
sleep 0.5
kill -0 "$PID_1" 2>/dev/null || fail "node 1 died of garbage on its port"
ipd_ping "$NSB" "$(ip4 1)"
ipd_ping "$NSA" "$(ip6 2)" -6
say "garbage on the Trapeze port: refused, traffic unaffected"
grep -i "refus\|malformed\|handshake\|bad" "$TMP/ipd-1.log" | tail -2
ipd_stop 1
ipd_stop 2
say "ok"
exit 0
