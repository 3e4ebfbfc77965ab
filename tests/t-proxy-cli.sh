#!/bin/sh
# t-proxy-cli: slice-proxy's command line: --help (exit 0, on stdout), no
# --cluster or an unknown option (exit 2), a missing or malformed cluster
# file (exit 2, says which and where), an --index with no [proxy I]
# section, a bad --listen; and a [proxy 0] section's nfs= address is used
# when --index 0 is given (the ready line names its port).
set -u
NAME=t-proxy-cli
. "$(dirname "$0")/proxy-lib.sh"
[ -x "$B/bin/slice-proxy" ] || { echo "$NAME: SKIP: slice-proxy not built" >&2; exit 77; }
P="$B/bin/slice-proxy"

"$P" --help >"$TMP/help" 2>&1 || fail "--help: exit $?"
grep -q -- "--cluster FILE" "$TMP/help" || fail "--help does not mention --cluster"
"$P" >/dev/null 2>&1; [ $? -eq 2 ] || fail "no --cluster: exit not 2"
"$P" --cluster x --bogus >/dev/null 2>&1; [ $? -eq 2 ] || fail "unknown option: exit not 2"
"$P" --cluster "$TMP/none.conf" >/dev/null 2>"$TMP/err"; [ $? -eq 2 ] || fail "missing cluster file: exit not 2"
grep -q "none.conf" "$TMP/err" || fail "missing cluster file: not named: $(cat "$TMP/err")"
printf '[cluster]\nname = x\nbogus_key = 1\n' >"$TMP/bad.conf"
"$P" --cluster "$TMP/bad.conf" >/dev/null 2>"$TMP/err"; [ $? -eq 2 ] || fail "bad cluster file: exit not 2"
grep -q "bad.conf:" "$TMP/err" || fail "bad cluster file: no file:line: $(cat "$TMP/err")"

have_proxy || { echo "$NAME: SKIP: slice-blockd not built (the rest needs a cluster)" >&2; exit 77; }
start_cluster
"$P" --cluster "$TMP/cluster.conf" --index 3 >/dev/null 2>"$TMP/err"; [ $? -eq 2 ] || fail "--index 3: exit not 2"
grep -q "proxy 3" "$TMP/err" || fail "--index 3: $(cat "$TMP/err")"
"$P" --cluster "$TMP/cluster.conf" --listen nonsense >/dev/null 2>"$TMP/err"; [ $? -eq 2 ] || fail "bad --listen: exit not 2"

port=$(free_port)
printf '[proxy 0]\nnode = 20\nnfs = 127.0.0.1:%u\n' "$port" >>"$TMP/cluster.conf"
"$P" --cluster "$TMP/cluster.conf" --index 0 >"$TMP/p.out" 2>"$TMP/p.log" &
pid=$!
PIDS="$PIDS $pid"
line=$(wait_line "$TMP/p.out") || fail "slice-proxy --index 0 did not get ready: $(cat "$TMP/p.log")"
case $line in "ready nfs=$port mount=$port url=nfs://127.0.0.1/slice?nfsport=$port&mountport=$port") ;;
	*) fail "--index 0: '$line', want port $port" ;; esac
stop_pid "$pid" || fail "slice-proxy --index 0 did not exit cleanly"
exit 0
