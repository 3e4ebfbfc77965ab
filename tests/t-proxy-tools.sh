#!/bin/sh
# t-proxy-tools: the libnfs command-line tools (nfs-cp, nfs-ls, nfs-cat)
# through slice-proxy in front of 2 file managers and 4 block servers: the
# URL the proxy prints works as it is; a 5 MiB file and small files copied
# in and out byte for byte; nfs-ls lists every name (they are spread over
# both managers) with the big file's size; a missing file fails.
# Skips (77) without libnfs-utils or without slice-proxy / slice-blockd.
# test-timeout: 90
set -u
NAME=t-proxy-tools
. "$(dirname "$0")/proxy-lib.sh"

for t in nfs-ls nfs-cp nfs-cat; do
	command -v $t >/dev/null 2>&1 || { echo "$NAME: SKIP: no $t (libnfs-utils)" >&2; exit 77; }
done
have_proxy || { echo "$NAME: SKIP: slice-proxy or slice-blockd not built" >&2; exit 77; }

start_cluster
start_proxy
U=$PROXY_URL
Q=$PROXY_Q

# the printed URL, as it is
nfs-ls "$PROXY_FULL_URL" >"$TMP/ls0.out" 2>&1 || fail "nfs-ls of the printed URL '$PROXY_FULL_URL': $(cat "$TMP/ls0.out")"

head -c 5242880 /dev/urandom >"$TMP/big"
nfs-cp "$TMP/big" "$U/big$Q" >"$TMP/cp.out" 2>&1 || fail "nfs-cp in: $(cat "$TMP/cp.out")"
nfs-cp "$U/big$Q" "$TMP/back" >"$TMP/cp.out" 2>&1 || fail "nfs-cp out: $(cat "$TMP/cp.out")"
cmp -s "$TMP/big" "$TMP/back" || fail "nfs-cp out differs from what went in"
nfs-cat "$U/big$Q" >"$TMP/cat" 2>"$TMP/cat.err" || fail "nfs-cat: $(cat "$TMP/cat.err")"
cmp -s "$TMP/big" "$TMP/cat" || fail "nfs-cat differs"

i=0
while [ $i -lt 12 ]; do
	printf 'file %u\n' $i >"$TMP/s$i"
	nfs-cp "$TMP/s$i" "$U/small-$i$Q" >"$TMP/cp.out" 2>&1 || fail "nfs-cp small-$i: $(cat "$TMP/cp.out")"
	i=$((i + 1))
done
nfs-ls "$U$Q" >"$TMP/ls.out" 2>&1 || fail "nfs-ls: $(cat "$TMP/ls.out")"
i=0
while [ $i -lt 12 ]; do
	grep -q " small-$i\$" "$TMP/ls.out" || fail "nfs-ls does not show small-$i: $(cat "$TMP/ls.out")"
	[ "$(nfs-cat "$U/small-$i$Q")" = "file $i" ] || fail "small-$i reads '$(nfs-cat "$U/small-$i$Q")'"
	i=$((i + 1))
done
grep " big\$" "$TMP/ls.out" | grep -q 5242880 || fail "nfs-ls does not show big with 5242880 bytes: $(grep big "$TMP/ls.out")"
nfs-cat "$U/missing$Q" >/dev/null 2>&1 && fail "nfs-cat of a missing file succeeded"
stop_pid "$PROXY_PID" || fail "slice-proxy did not exit cleanly on SIGTERM"
exit 0
