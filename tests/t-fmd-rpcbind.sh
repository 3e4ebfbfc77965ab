#!/bin/sh
# t-fmd-rpcbind: with --rpcbind, slice-fmd registers NFS 3 and MOUNT 3 (tcp)
# with the local rpcbind, so that a client that names no ports finds it
# (nfs-ls through the portmapper), and unregisters them at shutdown.
# Without an rpcbind it still serves (the other tests run with
# --no-rpcbind; here: --rpcbind and none running must not matter either).
# Uses the machine's rpcbind when one runs and nobody has NFS 3 registered
# there (otherwise another NFS server is using it: skip, 77); starts one
# for the test when none runs and rpcbind is installed.
set -u
NAME=t-fmd-rpcbind
. "$(dirname "$0")/fmd-lib.sh"

for t in rpcinfo nfs-ls; do
	command -v $t >/dev/null 2>&1 || { echo "$NAME: SKIP: no $t" >&2; exit 77; }
done

registered() { # PROG: its tcp v3 port at rpcbind, or nothing
	rpcinfo -p 127.0.0.1 2>/dev/null | awk -v p="$1" '$1 == p && $2 == 3 && $3 == "tcp" { print $4; exit }'
}

ours=""
if ! rpcinfo -p 127.0.0.1 >/dev/null 2>&1; then
	# first: no rpcbind at all, --rpcbind must not stop it from serving
	start_fmd alone --no-root-squash --rpcbind
	nfs-ls "nfs://127.0.0.1/slice?nfsport=$NFS_PORT&mountport=$MOUNT_PORT" >"$TMP/ls0.out" 2>&1 ||
		fail "serving without rpcbind: $(cat "$TMP/ls0.out")"
	stop_pid "$FMD_PID" || fail "stop without rpcbind"
	command -v rpcbind >/dev/null 2>&1 || { echo "$NAME: SKIP: no rpcbind installed" >&2; exit 77; }
	mkdir -p /run/rpcbind
	rpcbind -f -w >"$TMP/rpcbind.log" 2>&1 &
	ours=$!
	PIDS="$PIDS $ours"
	i=0
	until rpcinfo -p 127.0.0.1 >/dev/null 2>&1; do
		i=$((i + 1))
		[ $i -lt 100 ] || fail "rpcbind did not start: $(cat "$TMP/rpcbind.log")"
		kill -0 "$ours" 2>/dev/null || { echo "$NAME: SKIP: rpcbind would not start" >&2; exit 77; }
		sleep 0.05
	done
elif [ -n "$(registered 100003)" ]; then
	echo "$NAME: SKIP: another NFS server is registered with rpcbind" >&2
	exit 77
fi

start_fmd fmd --no-root-squash --rpcbind
[ "$(registered 100003)" = "$NFS_PORT" ] || fail "NFS 3 at rpcbind: '$(registered 100003)', serving on $NFS_PORT"
[ "$(registered 100005)" = "$MOUNT_PORT" ] || fail "MOUNT 3 at rpcbind: '$(registered 100005)', serving on $MOUNT_PORT"

# a client that names no ports
: >"$TMP/empty"
nfs-cp "$TMP/empty" "nfs://127.0.0.1/slice/found" >"$TMP/cp.out" 2>&1 || fail "nfs-cp via rpcbind: $(cat "$TMP/cp.out")"
nfs-ls "nfs://127.0.0.1/slice" >"$TMP/ls.out" 2>&1 || fail "nfs-ls via rpcbind: $(cat "$TMP/ls.out")"
grep -q " found\$" "$TMP/ls.out" || fail "nfs-ls via rpcbind: $(cat "$TMP/ls.out")"

stop_pid "$FMD_PID" || fail "clean shutdown"
[ -z "$(registered 100003)" ] && [ -z "$(registered 100005)" ] ||
	fail "still registered after shutdown: $(rpcinfo -p 127.0.0.1 2>&1)"
note "registered at rpcbind on ports $NFS_PORT/$MOUNT_PORT, found by nfs-ls, unregistered at exit"
exit 0
