#!/bin/sh
# t-fmd-tools: the libnfs command-line tools (nfs-ls, nfs-cp, nfs-cat from
# libnfs-utils) against slice-fmd.  Names first: empty files copied in,
# listed, catted, recursively listed.  Then data, through two slice-blockd
# block servers: a 3 MiB file copied in and out and catted, byte for byte,
# and its size in the listing.  Skips (77) the data part when slice-blockd
# is not built (the names part must still pass).
set -u
NAME=t-fmd-tools
. "$(dirname "$0")/fmd-lib.sh"

for t in nfs-ls nfs-cp nfs-cat; do
	command -v $t >/dev/null 2>&1 || { echo "$NAME: SKIP: no $t (libnfs-utils)" >&2; exit 77; }
done

data=0
if have_blockd; then
	data=1
	start_blockd 2
	start_blockd 3
	start_fmd fmd --no-root-squash --node 1 --fabric "$FABRIC" --blockd 2=shm --blockd 3=shm \
		--stripe-unit 65536
else
	start_fmd fmd --no-root-squash
fi
U="nfs://127.0.0.1/slice"
Q="?nfsport=$NFS_PORT&mountport=$MOUNT_PORT"

# names
: >"$TMP/empty"
for n in a b c; do
	nfs-cp "$TMP/empty" "$U/$n$Q" >"$TMP/cp.out" 2>&1 || fail "nfs-cp empty $n: $(cat "$TMP/cp.out")"
done
nfs-ls "$U$Q" >"$TMP/ls.out" 2>&1 || fail "nfs-ls: $(cat "$TMP/ls.out")"
for n in a b c; do
	grep -q " $n\$" "$TMP/ls.out" || fail "nfs-ls does not show $n: $(cat "$TMP/ls.out")"
done
nfs-ls -R "$U$Q" >"$TMP/lsr.out" 2>&1 || fail "nfs-ls -R: $(cat "$TMP/lsr.out")"
[ "$(nfs-cat "$U/a$Q" | wc -c)" -eq 0 ] || fail "nfs-cat of an empty file"
nfs-cat "$U/missing$Q" >/dev/null 2>&1 && fail "nfs-cat of a missing file succeeded"
nfs-ls "nfs://127.0.0.1/nowhere$Q" >/dev/null 2>&1 && fail "nfs-ls of an unexported path succeeded"

if [ $data -eq 0 ]; then
	echo "$NAME: SKIP: no slice-blockd in this build: the data part was not run (names passed)" >&2
	exit 77
fi

# data
head -c 3145728 /dev/urandom >"$TMP/big"
nfs-cp "$TMP/big" "$U/big$Q" >"$TMP/cp.out" 2>&1 || fail "nfs-cp in: $(cat "$TMP/cp.out")"
nfs-cp "$U/big$Q" "$TMP/back" >"$TMP/cp.out" 2>&1 || fail "nfs-cp out: $(cat "$TMP/cp.out")"
cmp -s "$TMP/big" "$TMP/back" || fail "nfs-cp out differs from what went in"
nfs-cat "$U/big$Q" >"$TMP/cat" 2>"$TMP/cat.err" || fail "nfs-cat: $(cat "$TMP/cat.err")"
cmp -s "$TMP/big" "$TMP/cat" || fail "nfs-cat differs"
nfs-ls "$U$Q" >"$TMP/ls.out" 2>&1
grep -q "3145728 big\$" "$TMP/ls.out" || grep " big\$" "$TMP/ls.out" | grep -q 3145728 ||
	fail "nfs-ls does not show big with 3145728 bytes: $(grep big "$TMP/ls.out")"
printf 'hello\n' >"$TMP/small"
nfs-cp "$TMP/small" "$U/small$Q" >/dev/null 2>&1 || fail "nfs-cp of a small file"
[ "$(nfs-cat "$U/small$Q")" = hello ] || fail "small file reads '$(nfs-cat "$U/small$Q")'"
# (nfs-cp does not overwrite: libnfs creates GUARDED; ganesha answers EXIST too)
nfs-cp "$TMP/small" "$U/small$Q" >/dev/null 2>&1 && fail "nfs-cp over an existing file succeeded"
stop_pid "$FMD_PID" || fail "slice-fmd did not shut down cleanly"
note "ok: names and data"
exit 0
