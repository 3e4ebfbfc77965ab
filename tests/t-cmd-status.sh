#!/bin/sh
# t-cmd-status: `slice status` tells the truth about every node.
#
# A local cluster over tcp (--tcp: 3 block servers, 2 managers):
#   - all up: exit 0, JSON with every node up, block servers' capacity;
#   - one block server killed -9: exit 1, that one down ("process gone"),
#     the others up;
#   - one block server stopped (SIGSTOP: alive but deaf): down, within the
#     probe's timeouts (no hang), while its process still exists;
#   - a manager killed: down;
#   - a cluster that was never started: every node down, exit 1, and no
#     fabric segment made by the probe.
# Env: BUILD_DIR (default: build).
set -u

B=${BUILD_DIR:-build}
S=$B/bin/slice
[ -x "$S" ] || { echo "t-cmd-status: $S not built" >&2; exit 1; }
TMP=$(mktemp -d /tmp/t-cmd-status.XXXXXX)
D=$TMP/c
STOPPED=""

cleanup() {
	[ -n "$STOPPED" ] && kill -CONT "$STOPPED" 2>/dev/null
	"$S" down --dir "$D" >/dev/null 2>&1
	for f in "$D"/run/*.pid; do
		[ -f "$f" ] && kill -9 "$(cat "$f")" 2>/dev/null
	done
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

fail() {
	echo "t-cmd-status: FAIL: $*" >&2
	for f in "$TMP"/*.out "$TMP"/*.err; do
		[ -f "$f" ] || continue
		echo "--- $f" >&2
		tail -n 15 "$f" >&2
	done
	exit 1
}

# up_of JSONFILE NAME: "true" / "false"
up_of() {
	python3 -c 'import json,sys
d = json.load(open(sys.argv[1]))
print([n for n in d["nodes"] if n["name"] == sys.argv[2]][0]["up"] and "true" or "false")' "$1" "$2"
}

"$S" up --dir "$D" --tcp --blockds 3 --managers 2 >"$TMP/up.out" 2>"$TMP/up.err" || fail "slice up --tcp exited $?"
grep -q 'tcp://127.0.0.1:' "$D/cluster.conf" || fail "--tcp wrote no tcp addresses"

"$S" status --dir "$D" --json >"$TMP/all.json" 2>"$TMP/all.err" || fail "status of a healthy cluster exited $?"
python3 -c 'import json,sys
d = json.load(open(sys.argv[1]))
assert len(d["nodes"]) == 5, "want 5 nodes"
for n in d["nodes"]:
    assert n["up"], n["name"] + " is not up: " + n["error"]
    if n["role"] == "blockd":
        assert n["capacity"]["total_bytes"] > 0, n["name"] + " has no capacity"
        assert "counters" in n, n["name"] + " has no counters"
' "$TMP/all.json" || fail "the JSON of a healthy cluster is wrong"

# ---- a killed block server ---------------------------------------------------------
kill -9 "$(cat "$D/run/blockd-1.pid")"
sleep 0.2
"$S" status --dir "$D" >"$TMP/kill.out" 2>&1
rc=$?
[ $rc -eq 1 ] || fail "status with a killed block server exited $rc, want 1"
grep -q '^blockd-1 .* DOWN ' "$TMP/kill.out" || fail "the killed block server is not shown DOWN"
grep -q 'blockd-1 is down: process gone' "$TMP/kill.out" || fail "no reason for blockd-1"
for n in blockd-0 blockd-2 fmd-0 fmd-1; do
	grep -q "^$n .* up " "$TMP/kill.out" || fail "$n is not up beside a dead block server"
done

# ---- a hung block server: alive, not answering ---------------------------------------
STOPPED=$(cat "$D/run/blockd-2.pid")
kill -STOP "$STOPPED"
"$S" status --dir "$D" --json >"$TMP/hung.json" 2>"$TMP/hung.err"
[ $? -eq 1 ] || fail "status with a stopped block server did not exit 1"
[ "$(up_of "$TMP/hung.json" blockd-2)" = false ] || fail "a SIGSTOPped block server shows up"
[ "$(up_of "$TMP/hung.json" blockd-0)" = true ] || fail "blockd-0 is not up beside a hung one"
kill -CONT "$STOPPED"
STOPPED=""

# ---- a killed manager ----------------------------------------------------------------
kill -9 "$(cat "$D/run/fmd-1.pid")"
sleep 0.2
"$S" status --dir "$D" --json >"$TMP/fmd.json" 2>&1
[ "$(up_of "$TMP/fmd.json" fmd-1)" = false ] || fail "a killed manager shows up"
[ "$(up_of "$TMP/fmd.json" fmd-0)" = true ] || fail "fmd-0 is not up beside a dead manager"

"$S" down --dir "$D" >"$TMP/down.out" 2>&1 || fail "down exited $?"

# ---- nothing runs ----------------------------------------------------------------------
"$S" up --dir "$TMP/shm" --blockds 1 --managers 1 >/dev/null 2>&1 || fail "up of a shm cluster"
"$S" down --dir "$TMP/shm" >/dev/null 2>&1 || fail "down of a shm cluster"
FABRIC=$(sed -n 's/^name = //p' "$TMP/shm/cluster.conf")
"$S" status --dir "$TMP/shm" >"$TMP/none.out" 2>&1
[ $? -eq 1 ] || fail "status of a stopped cluster did not exit 1"
grep -q '0 of 2 nodes up' "$TMP/none.out" || fail "a stopped cluster is not 0 of 2 up"
[ -e "/dev/shm/tpz-$FABRIC" ] && { rm -f "/dev/shm/tpz-$FABRIC"; fail "status made a fabric segment"; }
exit 0
