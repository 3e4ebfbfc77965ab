#!/bin/sh
# t-blockd-cli: slice-blockd as an operator meets it.
#
#   --help prints the usage and exits 0; bad command lines exit 2 with a
#   reason (missing --node/--data/--listen, --listen shm without --fabric,
#   tcp without --secret-file, a bad number, an unknown option); a start
#   prints exactly "ready node=N tcp=PORT" on stdout; a second daemon on
#   the same data directory is refused (exit 1, "in use"); a directory
#   holding someone else's files is refused; a missing secret file is
#   refused; SIGUSR1 logs the counters; SIGTERM stops it with exit 0 and
#   "stopped" in its log.
#
# Every daemon started here is killed by its pid on exit.
set -u

BUILD_DIR=${BUILD_DIR:-build}
BIN=$BUILD_DIR/bin/slice-blockd
[ -x "$BIN" ] || { echo "t-blockd-cli: no $BIN"; exit 1; }
T=/tmp/t-blockd-cli-$$
mkdir -p "$T"
PIDS=""
cleanup() {
	for p in $PIDS; do kill -9 "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	rm -rf "$T"
	rm -f /dev/shm/tpz-t-blockd-cli-$$ 2>/dev/null
}
trap cleanup EXIT INT TERM

fail() {
	echo "t-blockd-cli: FAIL: $*"
	for f in "$T"/*.log; do [ -f "$f" ] && { echo "---- $f"; tail -n 20 "$f"; }; done
	exit 1
}

# expect_exit CODE PATTERN ARGS...: the command exits CODE and says PATTERN.
expect_exit() {
	want=$1 pat=$2
	shift 2
	"$BIN" "$@" >"$T/out" 2>&1
	rc=$?
	[ "$rc" -eq "$want" ] || fail "slice-blockd $*: exit $rc, want $want ($(cat "$T/out"))"
	grep -q -- "$pat" "$T/out" || fail "slice-blockd $*: no \"$pat\" in: $(cat "$T/out")"
}

# start NAME ARGS...: start a daemon in the background, wait for its ready line.
start() {
	name=$1
	shift
	rm -f "$T/$name.out"   # a restart must not read the last start's ready line
	"$BIN" "$@" >"$T/$name.out" 2>"$T/$name.log" &
	pid=$!
	PIDS="$PIDS $pid"
	i=0
	while [ $i -lt 200 ]; do
		grep -q '^ready ' "$T/$name.out" 2>/dev/null && return 0
		kill -0 "$pid" 2>/dev/null || return 1
		sleep 0.05
		i=$((i + 1))
	done
	return 1
}

printf 'trapeze-test-secret\n' >"$T/secret"
chmod 600 "$T/secret"
FAB=t-blockd-cli-$$

expect_exit 0 "usage: slice-blockd" --help
grep -q -- "--cache-mb" "$T/out" || fail "--help does not list --cache-mb"
expect_exit 2 "--node is required" --data "$T/d" --listen shm --fabric "$FAB"
expect_exit 2 "--data is required" --node 2 --listen shm --fabric "$FAB"
expect_exit 2 "at least one --listen" --node 2 --data "$T/d"
expect_exit 2 "needs --fabric" --node 2 --data "$T/d" --listen shm
expect_exit 2 "needs --secret-file" --node 2 --data "$T/d" --listen tcp://127.0.0.1:0
expect_exit 2 "node id" --node 300 --data "$T/d" --listen shm --fabric "$FAB"
expect_exit 2 "cache-mb" --node 2 --data "$T/d" --listen shm --fabric "$FAB" --cache-mb lots
expect_exit 2 "unknown" --node 2 --data "$T/d" --listen shm --fabric "$FAB" --frobnicate
expect_exit 2 "listen" --node 2 --data "$T/d" --listen udp://x:1 --fabric "$FAB"

# A good start: the ready line, and nothing else on stdout.
start a --node 2 --data "$T/d" --listen shm --fabric "$FAB" --listen tcp://127.0.0.1:0 \
	--secret-file "$T/secret" --cache-mb 8 || fail "the daemon did not get ready"
APID=$pid
grep -Eq '^ready node=2 tcp=[1-9][0-9]*$' "$T/a.out" || fail "ready line: $(cat "$T/a.out")"
[ "$(wc -l <"$T/a.out")" -eq 1 ] || fail "more than the ready line on stdout"
[ -f "$T/d/FORMAT" ] && [ -d "$T/d/objects/ff" ] || fail "data directory not laid out"

# The same directory again: refused while the first one runs.
expect_exit 1 "in use" --node 3 --data "$T/d" --listen shm --fabric "$FAB"
# Someone else's directory.
mkdir -p "$T/other" && echo hello >"$T/other/notes.txt"
expect_exit 1 "not a slice-blockd data directory" --node 3 --data "$T/other" --listen shm --fabric "$FAB"
# A secret file that is not there.
expect_exit 1 "secret file" --node 3 --data "$T/d3" --listen tcp://127.0.0.1:0 --secret-file "$T/nope"

kill -USR1 "$APID"
i=0
while [ $i -lt 100 ] && ! grep -q "SIGUSR1: counters" "$T/a.log"; do sleep 0.05; i=$((i + 1)); done
grep -q "SIGUSR1: counters" "$T/a.log" || fail "SIGUSR1 did not log the counters"

kill -TERM "$APID"
wait "$APID"
rc=$?
[ "$rc" -eq 0 ] || fail "exit $rc after SIGTERM, want 0"
grep -q "slice-blockd\[node 2\]: stopped" "$T/a.log" || fail "no \"stopped\" in the log"
grep -q "counters: reads" "$T/a.log" || fail "no counters at exit"

# The directory is free again, and SIGINT works the same.
start b --node 2 --data "$T/d" --listen shm --fabric "$FAB" || fail "restart on the same directory"
kill -INT "$pid"
wait "$pid"
rc=$?
[ "$rc" -eq 0 ] || fail "exit $rc after SIGINT, want 0"
echo "t-blockd-cli: ok"
exit 0
