#!/bin/sh
# t-cmd-netns: a Slice cluster over three hosts, run with `slice` - the
# worked example of docs/cluster.md.
#
# Three network namespaces are the hosts h1, h2, h3, joined by veth pairs
# to a bridge in the root namespace (NET.1, .2, .3; the bridge is NET.254,
# so the root namespace reaches every host).  The cluster file puts a block
# server on h1 and h2 and a file manager on each host, all over Trapeze
# tcp with the cluster secret.  Then:
#   - `ip netns exec hN slice up --cluster FILE --host hN` on each host;
#   - `slice status --cluster FILE` from the root namespace: all 5 up;
#   - a 6 MiB file copied in through manager 0 (nfs-cp) and out through
#     manager 2 on another host: the same bytes; both block servers
#     wrote bytes (their counters, through `slice status --json`);
#   - when slicefs is built: `slice mount` on h3 reads that file and
#     writes another, which reads back the same through manager 1;
#   - h2's nodes stopped with `slice down --host h2`: status shows exactly
#     those two down; then every host's `slice down`: nothing left.
# Env: BUILD_DIR (default: build).
set -u

B=$(cd "${BUILD_DIR:-build}" && pwd)
S=$B/bin/slice
[ -x "$S" ] || { echo "t-cmd-netns: $S not built" >&2; exit 1; }
for t in ip nfs-cp python3; do
	command -v $t >/dev/null 2>&1 || { echo "t-cmd-netns: SKIP: no $t" >&2; exit 77; }
done

tag=$$
A=$((100 + tag % 100))
NET=10.$A.0
BR=tcbr-$tag
TMP=$(mktemp -d /tmp/t-cmd-netns.XXXXXX)
HOSTS="h1 h2 h3"
NSLIST=""

ns_of() { echo "tc$1-$tag"; }   # h1 -> tch1-PID

cleanup() {
	for h in $HOSTS; do
		ip netns exec "$(ns_of $h)" "$S" down --cluster "$TMP/cluster.conf" --host $h >/dev/null 2>&1
	done
	for f in "$TMP"/run/*.pid; do
		[ -f "$f" ] && kill -9 "$(cat "$f")" 2>/dev/null
	done
	for h in $HOSTS; do
		ip link del "tcv$h-$tag" 2>/dev/null
	done
	ip link del "$BR" 2>/dev/null
	for ns in $NSLIST; do
		ip netns del "$ns" 2>/dev/null
	done
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

fail() {
	echo "t-cmd-netns: FAIL: $*" >&2
	for f in "$TMP"/*.out "$TMP"/*.err "$TMP"/logs/*.log; do
		[ -f "$f" ] || continue
		echo "--- $f (last 12 lines)" >&2
		tail -n 12 "$f" >&2
	done
	exit 1
}

# ---- the hosts -------------------------------------------------------------------
if ! ip netns add "$(ns_of h1)" 2>"$TMP/netns.err"; then
	echo "t-cmd-netns: SKIP: cannot create a network namespace: $(cat "$TMP/netns.err")" >&2
	exit 77
fi
NSLIST=$(ns_of h1)
ip link add "$BR" type bridge || fail "ip link add $BR"
ip addr add "$NET.254/24" dev "$BR" || fail "address on $BR"
ip link set "$BR" up || fail "$BR up"
i=1
for h in $HOSTS; do
	ns=$(ns_of $h)
	if [ $h != h1 ]; then
		ip netns add "$ns" || fail "ip netns add $ns"
		NSLIST="$NSLIST $ns"
	fi
	ip link add "tcv$h-$tag" type veth peer name "tcn$h-$tag" || fail "veth of $h"
	ip link set "tcv$h-$tag" master "$BR" up || fail "veth of $h on the bridge"
	ip link set "tcn$h-$tag" netns "$ns" || fail "veth into $ns"
	ip -n "$ns" addr add "$NET.$i/24" dev "tcn$h-$tag" || fail "address of $h"
	ip -n "$ns" link set "tcn$h-$tag" up || fail "link of $h up"
	ip -n "$ns" link set lo up
	i=$((i + 1))
done

# ---- the cluster file (docs/cluster.md shows it with NET=10.77.0) ---------------------
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$TMP/secret"
chmod 600 "$TMP/secret"
cat >"$TMP/cluster.conf" <<CONF
[cluster]
name = three
volume = vol
export = /slice
secret_file = secret
allow = $NET.0/24, 127.0.0.0/8

[blockd 0]
host = h1
node = 10
tpz = tcp://$NET.1:7410
data = h1/blockd-0
cache_mb = 32

[blockd 1]
host = h2
node = 11
tpz = tcp://$NET.2:7410
data = h2/blockd-1
cache_mb = 32

[fmd 0]
host = h1
node = 1
tpz = tcp://$NET.1:7401
nfs = $NET.1:20490
data = h1/fmd-0

[fmd 1]
host = h2
node = 2
tpz = tcp://$NET.2:7401
nfs = $NET.2:20490
data = h2/fmd-1

[fmd 2]
host = h3
node = 3
tpz = tcp://$NET.3:7401
nfs = $NET.3:20490
data = h3/fmd-2
CONF
C=$TMP/cluster.conf

# ---- up, host by host --------------------------------------------------------------
for h in $HOSTS; do
	ip netns exec "$(ns_of $h)" "$S" up --cluster "$C" --host $h >"$TMP/up-$h.out" 2>"$TMP/up-$h.err" ||
		fail "slice up on $h exited $?"
done
"$S" status --cluster "$C" >"$TMP/status.out" 2>&1 || fail "slice status exited $? with every host up"
grep -q '5 of 5 nodes up' "$TMP/status.out" || fail "status does not see 5 of 5 up"

# ---- file I/O through the volume -------------------------------------------------------
Q='?nfsport=20490&mountport=20490&version=3'
head -c $((6 << 20)) /dev/urandom >"$TMP/file"
nfs-cp "$TMP/file" "nfs://$NET.1/slice/file$Q" >"$TMP/cp-in.err" 2>&1 || fail "nfs-cp in through manager 0"
nfs-cp "nfs://$NET.3/slice/file$Q" "$TMP/back" >"$TMP/cp-out.err" 2>&1 || fail "nfs-cp out through manager 2"
cmp -s "$TMP/file" "$TMP/back" || fail "the file read through manager 2 differs from what went in"
"$S" status --cluster "$C" --json >"$TMP/status.json" 2>&1 || fail "status --json exited $?"
python3 -c 'import json,sys
d = json.load(open(sys.argv[1]))
for n in d["nodes"]:
    if n["role"] == "blockd":
        w = n["counters"]["bytes_written"]
        assert w > 0, n["name"] + " wrote nothing"
        print("t-cmd-netns: %s on %s wrote %d bytes" % (n["name"], n["host"], w))
' "$TMP/status.json" || fail "the file did not go to both block servers"

# ---- through slicefs on h3, when it is built --------------------------------------------
# `ip netns exec` gives the command a mount namespace of its own: the mount,
# the copies and the unmount happen in one shell there.
if [ -x "$B/bin/slicefs" ]; then
	ip netns exec "$(ns_of h3)" sh -c '
		S=$1; C=$2; T=$3
		"$S" mount "$T/mnt" --cluster "$C" >"$T/fs-mount.out" 2>&1 || { echo "slice mount failed"; exit 1; }
		cmp -s "$T/file" "$T/mnt/file" || { echo "the file reads different through slicefs"; "$S" umount "$T/mnt"; exit 1; }
		cp "$T/file" "$T/mnt/file2" || { echo "cp into slicefs failed"; "$S" umount "$T/mnt"; exit 1; }
		"$S" umount "$T/mnt" --dir "$T" || { echo "slice umount failed"; exit 1; }
	' sh "$S" "$C" "$TMP" >"$TMP/fs.err" 2>&1 || fail "slicefs on h3: $(cat "$TMP/fs.err")"
	nfs-cp "nfs://$NET.2/slice/file2$Q" "$TMP/back2" >"$TMP/cp-out2.err" 2>&1 || fail "nfs-cp of slicefs's file"
	cmp -s "$TMP/file" "$TMP/back2" || fail "the file written through slicefs reads different through manager 1"
	echo "t-cmd-netns: slicefs on h3 over tcp: read and write match"
fi

# ---- one host down ------------------------------------------------------------------------
ip netns exec "$(ns_of h2)" "$S" down --cluster "$C" --host h2 >"$TMP/down-h2.out" 2>&1 || fail "down on h2"
"$S" status --cluster "$C" >"$TMP/status2.out" 2>&1
[ $? -eq 1 ] || fail "status with h2 down did not exit 1"
grep -q '3 of 5 nodes up' "$TMP/status2.out" || fail "status with h2 down is not 3 of 5"
grep -q '^blockd-1 .* DOWN' "$TMP/status2.out" || fail "blockd-1 (h2) not down"
grep -q '^fmd-1 .* DOWN' "$TMP/status2.out" || fail "fmd-1 (h2) not down"
[ -e "$TMP/run/fmd-0.pid" ] || fail "down on h2 touched h1's pid files"

# ---- every host down ---------------------------------------------------------------------
PIDS=$(cat "$TMP"/run/*.pid)
for h in h1 h3; do
	ip netns exec "$(ns_of $h)" "$S" down --cluster "$C" --host $h >"$TMP/down-$h.out" 2>&1 || fail "down on $h"
done
for p in $PIDS; do
	[ -d "/proc/$p" ] && ! grep -q '^State:.*Z' "/proc/$p/status" && fail "pid $p runs after down"
done
ls "$TMP"/run/*.pid >/dev/null 2>&1 && fail "pid files left: $(ls "$TMP/run")"
exit 0
