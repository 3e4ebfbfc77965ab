#!/bin/sh
# t-proxy-rpcbind: with --rpcbind, slice-proxy registers NFS 3 and MOUNT 3
# (tcp, its one port) with the local rpcbind, so that a client that names
# no port finds the whole volume (nfs-cp and nfs-ls through the
# portmapper), and unregisters them at shutdown; with no rpcbind running
# it still serves.  Uses the machine's rpcbind when one runs and nobody has
# NFS 3 registered there (otherwise another NFS server uses it: skip, 77);
# starts one for the test when none runs.
set -u
NAME=t-proxy-rpcbind
. "$(dirname "$0")/proxy-lib.sh"

for t in rpcinfo nfs-ls nfs-cp; do
	command -v $t >/dev/null 2>&1 || { echo "$NAME: SKIP: no $t" >&2; exit 77; }
done
have_proxy || { echo "$NAME: SKIP: slice-proxy or slice-blockd not built" >&2; exit 77; }

registered() { # PROG: its tcp v3 port at rpcbind, or nothing
	rpcinfo -p 127.0.0.1 2>/dev/null | awk -v p="$1" '$1 == p && $2 == 3 && $3 == "tcp" { print $4; exit }'
}

start_cluster
if ! rpcinfo -p 127.0.0.1 >/dev/null 2>&1; then
	start_proxy --rpcbind
	nfs-ls "$PROXY_URL$PROXY_Q" >"$TMP/ls0.out" 2>&1 || fail "serving without rpcbind: $(cat "$TMP/ls0.out")"
	stop_pid "$PROXY_PID" || fail "stop without rpcbind"
	command -v rpcbind >/dev/null 2>&1 || { echo "$NAME: SKIP: no rpcbind installed" >&2; exit 77; }
	mkdir -p /run/rpcbind
	rpcbind -f -w >"$TMP/rpcbind.log" 2>&1 &
	ours=$!
	PIDS="$PIDS $ours"
	n=0
	until rpcinfo -p 127.0.0.1 >/dev/null 2>&1; do
		n=$((n + 1))
		[ $n -lt 100 ] || fail "rpcbind did not start: $(cat "$TMP/rpcbind.log")"
		kill -0 "$ours" 2>/dev/null || { echo "$NAME: SKIP: rpcbind would not start" >&2; exit 77; }
		sleep 0.05
	done
elif [ -n "$(registered 100003)" ]; then
	echo "$NAME: SKIP: another NFS server is registered with rpcbind" >&2
	exit 77
fi

start_proxy --rpcbind
[ "$(registered 100003)" = "$PROXY_PORT" ] || fail "NFS 3 at rpcbind: '$(registered 100003)', serving on $PROXY_PORT"
[ "$(registered 100005)" = "$PROXY_PORT" ] || fail "MOUNT 3 at rpcbind: '$(registered 100005)', serving on $PROXY_PORT"
printf 'found through rpcbind\n' >"$TMP/small"
nfs-cp "$TMP/small" "nfs://127.0.0.1/slice/found" >"$TMP/cp.out" 2>&1 || fail "nfs-cp via rpcbind: $(cat "$TMP/cp.out")"
nfs-ls "nfs://127.0.0.1/slice" >"$TMP/ls.out" 2>&1 || fail "nfs-ls via rpcbind: $(cat "$TMP/ls.out")"
grep -q " found\$" "$TMP/ls.out" || fail "nfs-ls via rpcbind: $(cat "$TMP/ls.out")"
stop_pid "$PROXY_PID" || fail "clean shutdown"
[ -z "$(registered 100003)" ] && [ -z "$(registered 100005)" ] ||
	fail "still registered after shutdown: $(rpcinfo -p 127.0.0.1 2>&1)"
exit 0
