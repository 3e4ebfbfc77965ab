#!/bin/sh
# t-slice-netns: a Slice stripe over four "hosts".  Four slice-blockd, each
# in its own network namespace, joined to the root namespace by a veth pair
# (10.A.I.1 in the root namespace, 10.A.I.2 in namespace I; A from the pid),
# serve over tcp; slice-obj runs in the root namespace.
#
#   - put a 64 MiB random file, get it back: same sha256;
#   - kill -9 one server while a get runs: slice-obj exits non-zero within
#     15 s and says which server is down;
#   - restart that server (same data directory and address): get works
#     again and the bytes are the same.
#
# The get that sees the kill writes into a pipe whose reader sleeps first,
# so it is certainly still running (blocked on the full pipe) when the
# server dies.  Skips (77) only if network namespaces cannot be made.
# Env: BUILD_DIR (default: build).
set -u

B=${BUILD_DIR:-build}
BLOCKD=$B/bin/slice-blockd
OBJ=$B/bin/slice-obj
for x in "$BLOCKD" "$OBJ"; do
	[ -x "$x" ] || { echo "t-slice-netns: $x not built" >&2; exit 1; }
done
command -v ip >/dev/null 2>&1 || { echo "t-slice-netns: SKIP: no ip(8)" >&2; exit 77; }

tag=$$
A=$((200 + tag % 50))
PORT=7300
NSRV=4
TMP=$(mktemp -d /tmp/t-slice-netns.XXXXXX)
PIDS=""           # "i:pid" of the running servers
NSLIST=""

cleanup() {
	for e in $PIDS; do
		kill -9 "${e#*:}" 2>/dev/null
		wait "${e#*:}" 2>/dev/null
	done
	i=1
	while [ $i -le $NSRV ]; do
		ip link del "tslr$i-$tag" 2>/dev/null   # the pair: both ends
		i=$((i + 1))
	done
	for ns in $NSLIST; do
		ip netns del "$ns" 2>/dev/null
	done
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

fail() {
	echo "t-slice-netns: FAIL: $*" >&2
	for f in "$TMP"/*.log "$TMP"/*.err; do
		[ -f "$f" ] || continue
		echo "--- $f (last 15 lines)" >&2
		tail -n 15 "$f" >&2
	done
	exit 1
}

ns_of() { echo "tsl$1-$tag"; }
addr_of() { echo "10.$A.$1.2"; }

# ---- the hosts -------------------------------------------------------------
if ! ip netns add "$(ns_of 1)" 2>"$TMP/netns.err"; then
	echo "t-slice-netns: SKIP: cannot create a network namespace: $(cat "$TMP/netns.err")" >&2
	exit 77
fi
NSLIST=$(ns_of 1)
i=1
while [ $i -le $NSRV ]; do
	ns=$(ns_of $i)
	if [ $i -gt 1 ]; then
		ip netns add "$ns" || fail "ip netns add $ns"
		NSLIST="$NSLIST $ns"
	fi
	vr=tslr$i-$tag
	vn=tsln$i-$tag
	ip link add "$vr" type veth peer name "$vn" || fail "ip link add $vr"
	ip link set "$vn" netns "$ns" || fail "move $vn into $ns"
	ip addr add "10.$A.$i.1/24" dev "$vr" || fail "address on $vr"
	ip -n "$ns" addr add "$(addr_of $i)/24" dev "$vn" || fail "address on $vn"
	ip link set "$vr" up || fail "$vr up"
	ip -n "$ns" link set "$vn" up || fail "$vn up"
	ip -n "$ns" link set lo up
	i=$((i + 1))
done

printf 'netns-test-secret-%s\n' "$tag" >"$TMP/secret"
chmod 600 "$TMP/secret"

# start I: slice-blockd node I+1 in namespace I; waits for its ready line.
start() {
	i=$1
	# The old ready line must go first: the child truncates the file only
	# once it runs, and the wait below could see the last start's line.
	rm -f "$TMP/ready$i"
	ip netns exec "$(ns_of "$i")" "$BLOCKD" --node $((i + 1)) --data "$TMP/data$i" \
		--listen "tcp://$(addr_of "$i"):$PORT" --secret-file "$TMP/secret" --cache-mb 64 \
		>"$TMP/ready$i" 2>>"$TMP/blockd$i.log" &
	pid=$!
	PIDS="$PIDS $i:$pid"
	n=0
	until grep -q '^ready ' "$TMP/ready$i" 2>/dev/null; do
		n=$((n + 1))
		[ $n -gt 100 ] && fail "slice-blockd $i did not get ready within 10 s"
		kill -0 "$pid" 2>/dev/null || fail "slice-blockd $i exited at start"
		sleep 0.1
	done
}

# pid_of I: the pid of server I
pid_of() {
	for e in $PIDS; do
		[ "${e%%:*}" = "$1" ] && echo "${e#*:}"
	done
}

i=1
while [ $i -le $NSRV ]; do
	start $i
	i=$((i + 1))
done

SERVERS=""
i=1
while [ $i -le $NSRV ]; do
	SERVERS="$SERVERS --server $((i + 1))=tcp://$(addr_of $i):$PORT"
	i=$((i + 1))
done
# slice-obj ARGS...: the client in the root namespace, 1 s per call
sobj() {
	# shellcheck disable=SC2086  # SERVERS is a list of options
	"$OBJ" --secret-file "$TMP/secret" --node 1 --timeout-ms 1000 $SERVERS "$@"
}

# ---- put and get -----------------------------------------------------------
head -c $((64 << 20)) /dev/urandom >"$TMP/file" || fail "random file"
want=$(sha256sum <"$TMP/file" | cut -d' ' -f1)
sobj put 42 "$TMP/file" 2>"$TMP/put.err" || fail "put failed"
sobj get 42 "$TMP/copy" 2>"$TMP/get.err" || fail "get failed"
got=$(sha256sum <"$TMP/copy" | cut -d' ' -f1)
[ "$got" = "$want" ] || fail "get returned other bytes (sha256 $got, want $want)"
echo "t-slice-netns: put and get of 64 MiB over 4 namespaces: sha256 matches"

# ---- kill -9 a server while a get runs --------------------------------------
VICTIM=3
( sobj get 42 - 2>"$TMP/killed.err"; echo $? >"$TMP/killed.rc" ) | { sleep 1; cat >/dev/null; } &
GETPID=$!
sleep 0.5
vpid=$(pid_of $VICTIM)
kill -9 "$vpid" || fail "kill -9 server $VICTIM"
wait "$vpid" 2>/dev/null
PIDS=$(echo "$PIDS" | sed "s/ $VICTIM:$vpid//")
t0=$(date +%s)
n=0
while kill -0 "$GETPID" 2>/dev/null; do
	n=$((n + 1))
	[ $n -gt 150 ] && fail "slice-obj still running 15 s after server $VICTIM was killed"
	sleep 0.1
done
wait "$GETPID"
rc=$(cat "$TMP/killed.rc" 2>/dev/null)
[ -n "$rc" ] && [ "$rc" -ne 0 ] || fail "slice-obj get exited $rc after server $VICTIM was killed, want non-zero"
grep -q "get:" "$TMP/killed.err" || fail "no error line from slice-obj: $(cat "$TMP/killed.err")"
grep -q "block server $((VICTIM + 1)) .*down" "$TMP/killed.err" ||
	fail "the error does not name block server $((VICTIM + 1)): $(cat "$TMP/killed.err")"
echo "t-slice-netns: get with server $VICTIM killed: exit $rc after $(($(date +%s) - t0)) s: $(cat "$TMP/killed.err")"

# ---- restart it: get works again --------------------------------------------
start $VICTIM
rm -f "$TMP/copy"
sobj get 42 "$TMP/copy" 2>"$TMP/get2.err" || fail "get after the restart failed"
got=$(sha256sum <"$TMP/copy" | cut -d' ' -f1)
[ "$got" = "$want" ] || fail "get after the restart returned other bytes"
echo "t-slice-netns: server $VICTIM restarted: get works, sha256 matches"
exit 0
