#!/usr/bin/env bash
# demo.sh - the main job: build everything, start a local Slice
# cluster (4 block servers, 2 file managers) with `slice up`, mount its
# volume with slicefs, copy a file in and out, serve it over NFS, show
# `slice status`, run a short `slice bench`, and stop it all.
# Installs the Debian packages it needs.  The Trapeze messaging demo is
# scripts/demo-trapeze.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
case ${1:-} in -h|--help) sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;; esac
scripts/deps.sh demo
make -j"$(nproc)" >/dev/null
S=$PWD/build/bin/slice
W=$(mktemp -d /tmp/slice-demo.XXXXXX)
D=$W/cluster
M=$W/mnt

cleanup() {
    "$S" down --dir "$D" >/dev/null 2>&1 || true
    # Never remove through a mount that is still there.
    if grep -q " $M " /proc/self/mountinfo; then umount -l "$M" 2>/dev/null || true; fi
    rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

step() { printf '\n== %s\n' "$*"; }

step "slice up --dir $D: a new local cluster on shared memory"
"$S" up --dir "$D"

step "slice mount $M: the volume through slicefs (FUSE)"
"$S" mount "$M" --dir "$D"

step "copy a 64 MiB file in and out"
head -c $((64 << 20)) /dev/urandom >"$W/file"
t0=$(date +%s.%N)
cp "$W/file" "$M/file"
sync "$M/file"
t1=$(date +%s.%N)
cp "$M/file" "$W/back"
t2=$(date +%s.%N)
cmp "$W/file" "$W/back"
awk -v a="$t0" -v b="$t1" -v c="$t2" 'BEGIN { printf "in: %.2f s, out: %.2f s; the same bytes\n", b - a, c - b }'
ls -l "$M"

step "slice nfs: an NFSv3 front (slice-proxy) for any NFS client"
URL=$("$S" nfs --dir "$D" 2>/dev/null)
echo "$URL"
nfs-ls "$URL"

step "slice status: every node, probed"
"$S" status --dir "$D"

step "slice bench: a 64 MiB file and 200 small files through the mount"
"$S" bench --dir "$D" "$M" --size 64 --files 200 2>/dev/null

step "slice down: unmount, stop every daemon"
"$S" down --dir "$D"
echo
echo "More: docs/cluster.md (the cluster file, clusters over several hosts, operations)."
