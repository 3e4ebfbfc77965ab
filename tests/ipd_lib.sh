# ipd_lib.sh - what the t-ipd-*.sh tests share.  Sourced (POSIX sh), not run.
#
# Each test builds its "hosts" as network namespaces named after the test
# and its pid, starts tpz-ipd daemons (background, by pid), and leaves
# nothing behind: the EXIT trap stops the daemons it started (by pid only),
# deletes its namespaces and links, and removes the shm files of its fabric
# and of its daemons.  Every wait is bounded.
#
# Addresses inside the namespaces are the same for every test (namespaces
# do not see each other's); names in the root namespace (netns, veth,
# fabric) carry the pid.
#
# Env: BUILD_DIR (default: build).

B=${BUILD_DIR:-build}
IPD=$B/bin/tpz-ipd
XFER=$B/tests/t-ipd-xfer
INJECT=$B/tests/t-ipd-inject
TAG=$$
FABRIC=tipt$TAG
TMP=$(mktemp -d "/tmp/$T.XXXXXX")
CLUSTER=$TMP/cluster
IPD_PIDS=""
IPD_NETNS=""
IPD_LINKS=""
IPD_BG=""
IPD_REAPED=" "

# The data network on the TUN interfaces: node N is 10.77.0.N and fd77::N.
ip4() { echo "10.77.0.$1"; }
ip6() { echo "fd77::$1"; }

say() { echo "$T: $*"; }

ipd_dump_logs() {
	for f in "$TMP"/*.log; do
		[ -f "$f" ] || continue
		echo "--- $f (last 40 lines)"
		tail -n 40 "$f"
	done
}

fail() {
	echo "$T: FAIL: $*" >&2
	ipd_dump_logs >&2
	exit 1
}

stop_pid() { # PID: TERM, then KILL after 5 s; reap
	local p=$1 i=0
	kill "$p" 2>/dev/null || return 0
	kill -CONT "$p" 2>/dev/null   # a test may have stopped it
	while kill -0 "$p" 2>/dev/null && [ $i -lt 50 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	kill -9 "$p" 2>/dev/null
	wait "$p" 2>/dev/null
	return 0
}

ipd_cleanup() {
	for p in $IPD_BG $IPD_PIDS; do
		case "$IPD_REAPED" in *" $p "*) continue ;; esac
		stop_pid "$p"
	done
	for p in $IPD_PIDS; do   # pages of daemons that were killed
		rm -f /dev/shm/tip-stat.*."$p" /dev/shm/tpz-stat.*."$p".*
	done
	for n in $IPD_NETNS; do
		ip netns del "$n" 2>/dev/null
	done
	for l in $IPD_LINKS; do
		ip link del "$l" 2>/dev/null
	done
	rm -f "/dev/shm/tpz-$FABRIC"
	rm -rf "$TMP"
}
trap ipd_cleanup EXIT
trap 'exit 1' INT TERM HUP

# Skip (77) unless we can make namespaces and TUN devices.
ipd_require() {
	[ -x "$IPD" ] || fail "$IPD not built"
	command -v ip >/dev/null 2>&1 || { say "SKIP: no ip(8)"; exit 77; }
	[ -c /dev/net/tun ] || { say "SKIP: no /dev/net/tun"; exit 77; }
	if ! ip netns add "ipdprobe$TAG" 2>"$TMP/netns.err"; then
		say "SKIP: cannot create a network namespace: $(cat "$TMP/netns.err")"
		exit 77
	fi
	ip netns del "ipdprobe$TAG"
}

ipd_need() { # COMMAND...: skip unless installed
	for c; do
		command -v "$c" >/dev/null 2>&1 || { say "SKIP: $c is not installed"; exit 77; }
	done
}

ipd_netns() { # NAME: a namespace with lo up
	ip netns add "$1" || fail "ip netns add $1"
	IPD_NETNS="$IPD_NETNS $1"
	ip -n "$1" link set lo up
}

# ipd_cluster_shm N...: nodes on the shm fabric with their addresses
ipd_cluster_shm() {
	: >"$CLUSTER"
	for n; do
		echo "node $n shm" >>"$CLUSTER"
		echo "ip $n $(ip4 "$n")/24" >>"$CLUSTER"
		echo "ip $n $(ip6 "$n")/64" >>"$CLUSTER"
	done
}

# ipd_start NODE NETNS [ARGS...]: a daemon in our namespace whose
# interface is in NETNS (the shm setup); waits until its interface is up.
# Its pid is left in PID_<NODE>.
ipd_start() {
	local node=$1 ns=$2
	shift 2
	"$IPD" --node "$node" --cluster "$CLUSTER" --netns "$ns" --fabric "$FABRIC" "$@" \
		>>"$TMP/ipd-$node.log" 2>&1 &
	ipd_started "$node" $!
}

# ipd_start_in NETNS NODE [ARGS...]: a daemon running inside NETNS (the tcp
# setup: its links and its interface there).
ipd_start_in() {
	local ns=$1 node=$2
	shift 2
	ip netns exec "$ns" "$IPD" --node "$node" --cluster "$CLUSTER" "$@" >>"$TMP/ipd-$node.log" 2>&1 &
	ipd_started "$node" $!
}

ipd_started() { # NODE PID
	local node=$1 pid=$2 i=0
	IPD_PIDS="$IPD_PIDS $pid"
	eval "PID_$node=$pid"
	until grep -q "up: mtu" "$TMP/ipd-$node.log" 2>/dev/null; do
		kill -0 "$pid" 2>/dev/null || fail "tpz-ipd node $node exited during startup"
		i=$((i + 1))
		[ $i -gt 100 ] && fail "tpz-ipd node $node did not bring its interface up within 10 s"
		sleep 0.1
	done
}

# ipd_stop NODE: TERM, and check it exits 0 within 5 s
ipd_stop() {
	local pid i=0 rc
	eval "pid=\$PID_$1"
	kill "$pid" 2>/dev/null || fail "tpz-ipd node $1 (pid $pid) is not running"
	while kill -0 "$pid" 2>/dev/null; do
		i=$((i + 1))
		[ $i -gt 50 ] && fail "tpz-ipd node $1 did not stop within 5 s of SIGTERM"
		sleep 0.1
	done
	wait "$pid"
	rc=$?
	IPD_REAPED="$IPD_REAPED$pid "
	[ $rc -eq 0 ] || fail "tpz-ipd node $1 exited with code $rc after SIGTERM"
}

# ipd_kill NODE: SIGKILL (a crash), reaped
ipd_kill() {
	local pid
	eval "pid=\$PID_$1"
	kill -9 "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	IPD_REAPED="$IPD_REAPED$pid "
	return 0
}

# ipd_stat NODE KEY: a counter of the running daemon (tpz-ipd --stats
# --json).  The daemon refreshes its page every 100 ms: wait two rounds, so
# what the test just did is in it.
ipd_stat() {
	ipd_snap "$1"
	ipd_val "$2"
}
# ipd_snap NODE: read its counters once into SNAP; ipd_val KEY: one of them
ipd_snap() {
	local pid
	eval "pid=\$PID_$1"
	sleep 0.25
	SNAP=$("$IPD" --stats --json --pid "$pid")
}
ipd_val() {
	echo "$SNAP" | sed -n "s/.*\"$1\":\([0-9]*\).*/\1/p"
}

# ipd_wait_peers NODE COUNT: until NODE has COUNT peers up (10 s at most)
ipd_wait_peers() {
	local pid i=0 n
	eval "pid=\$PID_$1"
	while :; do
		n=$("$IPD" --stats --json --pid "$pid" | sed -n 's/.*"peers_up":\[\([0-9,]*\)\].*/\1/p' |
			tr ',' '\n' | grep -c .)
		[ "$n" -ge "$2" ] && return 0
		i=$((i + 1))
		[ $i -gt 100 ] && fail "node $1 has $n peers up, not $2, after 10 s"
		sleep 0.1
	done
}

# ipd_ping NETNS ADDR [PING ARGS...]: 3 echoes must come back
ipd_ping() {
	local ns=$1 addr=$2
	shift 2
	ip netns exec "$ns" ping -n -q -c 3 -i 0.2 -W 2 "$@" "$addr" >"$TMP/ping.out" 2>&1 ||
		fail "ping $* $addr from $ns failed: $(tail -3 "$TMP/ping.out")"
}

# ipd_xfer NETNS_FROM NETNS_TO ADDR BYTES [PORT]: a TCP transfer; the
# checksums at both ends must agree
ipd_xfer() {
	local from=$1 to=$2 addr=$3 bytes=$4 port=${5:-5001} rpid
	ip netns exec "$to" "$XFER" --listen "$addr" --port "$port" >"$TMP/xfer-recv.out" 2>"$TMP/xfer-recv.log" &
	rpid=$!
	IPD_BG="$IPD_BG $rpid"
	ip netns exec "$from" "$XFER" --send "$addr" --port "$port" --bytes "$bytes" \
		>"$TMP/xfer-send.out" 2>"$TMP/xfer-send.log" || fail "the sender failed: $(cat "$TMP/xfer-send.log")"
	wait "$rpid" || fail "the receiver failed: $(cat "$TMP/xfer-recv.log")"
	local s r
	s=$(cut -d' ' -f1-4 "$TMP/xfer-send.out")
	r=$(cut -d' ' -f1-4 "$TMP/xfer-recv.out")
	[ -n "$s" ] && [ "$s" = "$r" ] || fail "checksums differ: sent '$s', received '$r'"
	say "transfer to $addr: $(cat "$TMP/xfer-recv.out")"
}
