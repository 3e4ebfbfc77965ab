#!/bin/sh
# t-cmd-up-down: the life of a local cluster through `slice`.
#
#   - `slice up --dir` makes a cluster (2 block servers, 2 managers on shm),
#     its daemons run, their pid files name them, `slice status` says all up;
#   - a second `slice up` refuses (exit 1, "already runs") and starts nothing;
#   - `slice down` of a half-dead cluster (one block server and one manager
#     killed -9) exits 0 and leaves no process, pid file, fabric segment or
#     Trapeze stat page behind;
#   - `slice up` again restarts the same cluster (same data), and after a
#     node is killed, `slice up` starts just that node;
#   - a daemon that cannot start (its port taken): `slice up` exits 1,
#     names it, shows its log, and stops what it started;
#   - a bad cluster file gets exit 2 and "FILE:LINE: what" from every
#     command that reads it; a bad command line gets exit 2.
# Env: BUILD_DIR (default: build).
set -u

B=${BUILD_DIR:-build}
S=$B/bin/slice
[ -x "$S" ] || { echo "t-cmd-up-down: $S not built" >&2; exit 1; }
TMP=$(mktemp -d /tmp/t-cmd-updown.XXXXXX)
D=$TMP/c

cleanup() {
	"$S" down --dir "$D" >/dev/null 2>&1
	for f in "$D"/run/*.pid; do
		[ -f "$f" ] && kill -9 "$(cat "$f")" 2>/dev/null
	done
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

fail() {
	echo "t-cmd-up-down: FAIL: $*" >&2
	for f in "$TMP"/*.out "$TMP"/*.err "$D"/logs/*.log; do
		[ -f "$f" ] || continue
		echo "--- $f (last 10 lines)" >&2
		tail -n 10 "$f" >&2
	done
	exit 1
}

# alive PIDFILE PROG: the pid file names a running PROG
alive() {
	[ -f "$1" ] || return 1
	p=$(cat "$1")
	[ -d "/proc/$p" ] && [ "$(cat "/proc/$p/comm" 2>/dev/null)" = "$2" ] &&
		! grep -q '^State:.*Z' "/proc/$p/status" 2>/dev/null
}

# ---- up ----------------------------------------------------------------------
"$S" up --dir "$D" --blockds 2 --managers 2 >"$TMP/up.out" 2>"$TMP/up.err" || fail "slice up exited $?"
[ "$(stat -c %a "$D/secret")" = 600 ] || fail "the secret is not mode 0600"
for n in blockd-0 blockd-1; do alive "$D/run/$n.pid" slice-blockd || fail "$n does not run"; done
for n in fmd-0 fmd-1; do alive "$D/run/$n.pid" slice-fmd || fail "$n does not run"; done
grep -q 'nfs://127.0.0.1/slice?nfsport=' "$TMP/up.out" || fail "no NFS URL in the summary"
FABRIC=$(sed -n 's/^name = //p' "$D/cluster.conf")
[ -n "$FABRIC" ] && [ -e "/dev/shm/tpz-$FABRIC" ] || fail "no fabric segment for '$FABRIC'"
PIDS=$(cat "$D"/run/*.pid)

"$S" status --dir "$D" >"$TMP/status.out" 2>&1 || fail "slice status exited $? on a healthy cluster"
grep -q '4 of 4 nodes up' "$TMP/status.out" || fail "status does not count 4 of 4 up"

# ---- up twice ----------------------------------------------------------------
"$S" up --dir "$D" >"$TMP/up2.out" 2>"$TMP/up2.err"
rc=$?
[ $rc -eq 1 ] || fail "a second slice up exited $rc, want 1"
grep -q 'already runs' "$TMP/up2.err" || fail "a second up does not say the cluster runs: $(cat "$TMP/up2.err")"
[ "$(cat "$D"/run/*.pid)" = "$PIDS" ] || fail "a second up changed the daemons"

# ---- a node dies: up starts just that one -----------------------------------
kill -9 "$(cat "$D/run/blockd-1.pid")"
n=0
while alive "$D/run/blockd-1.pid" slice-blockd; do
	n=$((n + 1)); [ $n -gt 100 ] && fail "blockd-1 survives kill -9"; sleep 0.05
done
"$S" up --dir "$D" >"$TMP/up3.out" 2>"$TMP/up3.err" || fail "slice up after a node died exited $?"
grep -q '^blockd-1 ' "$TMP/up3.out" || fail "up did not restart blockd-1: $(cat "$TMP/up3.out")"
grep -q '^fmd-0 ' "$TMP/up3.out" && fail "up restarted fmd-0, which ran"
alive "$D/run/blockd-1.pid" slice-blockd || fail "blockd-1 does not run after up"
"$S" status --dir "$D" >"$TMP/status2.out" 2>&1 || fail "status after the restart exited $?"

# ---- down of a half-dead cluster ---------------------------------------------
PIDS=$(cat "$D"/run/*.pid)
kill -9 "$(cat "$D/run/blockd-0.pid")" "$(cat "$D/run/fmd-1.pid")"
"$S" down --dir "$D" >"$TMP/down.out" 2>"$TMP/down.err" || fail "slice down exited $?"
for p in $PIDS; do
	if [ -d "/proc/$p" ] && ! grep -q '^State:.*Z' "/proc/$p/status" 2>/dev/null; then
		fail "pid $p ($(cat /proc/$p/comm 2>/dev/null)) still runs after down"
	fi
	for f in /dev/shm/tpz-stat.*."$p".*; do
		[ -e "$f" ] && fail "a Trapeze stat page of pid $p is left: $f"
	done
done
ls "$D/run/"*.pid >/dev/null 2>&1 && fail "pid files left: $(ls "$D/run")"
[ -e "/dev/shm/tpz-$FABRIC" ] && fail "the fabric segment /dev/shm/tpz-$FABRIC is left"
"$S" down --dir "$D" >/dev/null 2>&1 || fail "a second down exited $?"

# ---- the same cluster comes back ----------------------------------------------
"$S" up --dir "$D" >"$TMP/up4.out" 2>"$TMP/up4.err" || fail "slice up of a stopped cluster exited $?"
"$S" status --dir "$D" >/dev/null 2>&1 || fail "status after the second up exited $?"
"$S" down --dir "$D" >/dev/null 2>&1 || fail "down exited $?"

# ---- a daemon that cannot start: up says why and leaves nothing running --------------
PORT=$(sed -n 's/^nfs = 127.0.0.1://p' "$D/cluster.conf" | head -1)
python3 -c 'import socket,sys,time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(1); time.sleep(30)' "$PORT" &
HOLDER=$!
n=0
until ss -ltn 2>/dev/null | grep -q "127.0.0.1:$PORT "; do
	n=$((n + 1)); [ $n -gt 100 ] && { kill $HOLDER; fail "could not hold port $PORT"; }; sleep 0.05
done
"$S" up --dir "$D" >"$TMP/busy.out" 2>"$TMP/busy.err"
rc=$?
kill $HOLDER 2>/dev/null
wait $HOLDER 2>/dev/null
[ $rc -eq 1 ] || fail "slice up with manager 0's port taken exited $rc, want 1"
grep -q 'fmd-0 (slice-fmd) exited at start' "$TMP/busy.err" || fail "up does not say fmd-0 failed: $(cat "$TMP/busy.err")"
grep -q 'logs/fmd-0.log' "$TMP/busy.err" || fail "up does not show fmd-0's log"
ls "$D/run/"*.pid >/dev/null 2>&1 && fail "a failed up left pid files: $(ls "$D/run")"
pgrep -f "$D/" >/dev/null && fail "a failed up left daemons: $(pgrep -af "$D/")"

# ---- bad input -----------------------------------------------------------------
cp "$D/cluster.conf" "$TMP/bad.conf"
cp "$D/secret" "$TMP/secret"
line=$(grep -n '^cache_mb' "$TMP/bad.conf" | head -1 | cut -d: -f1)
sed -i "${line}s/^cache_mb/cache_mib/" "$TMP/bad.conf"
for cmd in "up --cluster $TMP/bad.conf" "status --cluster $TMP/bad.conf" "down --cluster $TMP/bad.conf"; do
	# shellcheck disable=SC2086  # cmd is a word list
	"$S" $cmd >"$TMP/bad.out" 2>"$TMP/bad.err"
	rc=$?
	[ $rc -eq 2 ] || fail "slice $cmd exited $rc on a bad key, want 2"
	grep -q "bad.conf:$line" "$TMP/bad.err" || fail "slice $cmd does not say bad.conf:$line: $(cat "$TMP/bad.err")"
done
"$S" status --dir "$TMP/nothing-here" >/dev/null 2>"$TMP/bad.err" && fail "status of a missing dir succeeded"
"$S" up --dir "$D" --blockds 0 >/dev/null 2>&1; [ $? -eq 2 ] || fail "--blockds 0 is not exit 2"
"$S" frobnicate >/dev/null 2>&1; [ $? -eq 2 ] || fail "an unknown command is not exit 2"
"$S" up --dir "$TMP/big" --blockds 40 --managers 2 >/dev/null 2>"$TMP/big.err" && fail "42 daemons accepted"
grep -q "at most" "$TMP/big.err" || fail "too many daemons: no clear error: $(cat "$TMP/big.err")"
for c in up down status mount umount nfs bench; do
	"$S" $c --help >/dev/null || fail "slice $c --help exited $?"
done
exit 0
