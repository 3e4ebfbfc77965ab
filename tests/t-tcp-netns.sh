#!/bin/sh
# t-tcp-netns: two "hosts" as network namespaces joined by a veth pair
# (10.99.N.1 and 10.99.N.2).  An echo server runs in one, a client in the
# other; the client sends messages with payloads up to the maximum and
# checks every echo.  A client with a wrong secret is refused first, and the
# server counts that refusal.  Skips (77) only if namespaces cannot be made.
#
# Env: BUILD_DIR (default: build).
set -u

B=${BUILD_DIR:-build}
PEER=$B/tests/t-tcp-peer
[ -x "$PEER" ] || { echo "t-tcp-netns: $PEER not built" >&2; exit 1; }
command -v ip >/dev/null 2>&1 || { echo "t-tcp-netns: SKIP: no ip(8)" >&2; exit 77; }

tag=$$
n=$((tag % 250 + 1))
NSA=tpzA$tag
NSB=tpzB$tag
VA=tzva$tag
VB=tzvb$tag
ADDR_A=10.99.$n.1
ADDR_B=10.99.$n.2
PORT=7411
TMP=$(mktemp -d /tmp/t-tcp-netns.XXXXXX)
SRV_PID=

cleanup() {
	if [ -n "$SRV_PID" ]; then
		kill -9 "$SRV_PID" 2>/dev/null
		wait "$SRV_PID" 2>/dev/null
	fi
	ip netns del "$NSA" 2>/dev/null
	ip netns del "$NSB" 2>/dev/null
	ip link del "$VA" 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

fail() {
	echo "t-tcp-netns: FAIL: $*" >&2
	for f in "$TMP"/*.log; do
		[ -f "$f" ] || continue
		echo "--- $f" >&2
		cat "$f" >&2
	done
	exit 1
}

if ! ip netns add "$NSA" 2>"$TMP/netns.err"; then
	echo "t-tcp-netns: SKIP: cannot create a network namespace: $(cat "$TMP/netns.err")" >&2
	exit 77
fi
ip netns add "$NSB" || fail "ip netns add $NSB"
ip link add "$VA" type veth peer name "$VB" || fail "ip link add veth"
ip link set "$VA" netns "$NSA" || fail "move $VA"
ip link set "$VB" netns "$NSB" || fail "move $VB"
ip -n "$NSA" addr add "$ADDR_A/24" dev "$VA" || fail "addr A"
ip -n "$NSB" addr add "$ADDR_B/24" dev "$VB" || fail "addr B"
ip -n "$NSA" link set lo up
ip -n "$NSB" link set lo up
ip -n "$NSA" link set "$VA" up || fail "link A up"
ip -n "$NSB" link set "$VB" up || fail "link B up"

# The server must count one refusal (the wrong-secret client) before it exits.
ip netns exec "$NSA" "$PEER" --server "$ADDR_A:$PORT" --node 1 --expect-refused=1 \
	>"$TMP/server.log" 2>&1 &
SRV_PID=$!

i=0
until grep -q listening "$TMP/server.log" 2>/dev/null; do
	i=$((i + 1))
	[ $i -gt 100 ] && fail "the server did not start listening within 10 s"
	kill -0 "$SRV_PID" 2>/dev/null || fail "the server exited early"
	sleep 0.1
done

ip netns exec "$NSB" "$PEER" --client "tcp://$ADDR_A:$PORT" --node 3 --peer 1 \
	--secret wrong-secret --expect-refused >"$TMP/refused.log" 2>&1 ||
	fail "the wrong-secret client was not refused cleanly"

ip netns exec "$NSB" "$PEER" --client "tcp://$ADDR_A:$PORT" --node 2 --peer 1 \
	--count 60 >"$TMP/client.log" 2>&1 || fail "the client failed"

i=0
while kill -0 "$SRV_PID" 2>/dev/null; do
	i=$((i + 1))
	[ $i -gt 100 ] && fail "the server did not exit within 10 s after the client left"
	sleep 0.1
done
wait "$SRV_PID"
rc=$?
SRV_PID=
[ $rc -eq 0 ] || fail "the server exited with code $rc"

cat "$TMP/refused.log" "$TMP/client.log" "$TMP/server.log"
echo "t-tcp-netns: ok ($ADDR_B -> $ADDR_A)"
exit 0
