#!/bin/sh
# t-cmd-mount: the fronts through `slice` on a local cluster.
#
#   - `slice mount` mounts the volume (slicefs), records it; a file copied
#     in reads back the same; a second mount on the same point is refused;
#   - `slice nfs` starts slice-proxy and prints a URL nfs-cp takes as is:
#     the file copied in through the mount reads back through NFS;
#   - `slice umount` unmounts; `slice mount` again, then `slice down`
#     unmounts it and stops slicefs and slice-proxy too: no mount, no
#     process left;
#   - `slice status` lists the mount and the NFS front;
#   - a mount or an NFS front of a stopped cluster fails with the reason
#     and leaves no mount, pid file or process.
# Needs slicefs and slice-proxy beside slice:
# they are part of the build: without them the test fails.
# Env: BUILD_DIR (default: build).
set -u

B=$(cd "${BUILD_DIR:-build}" && pwd)
S=$B/bin/slice
[ -x "$S" ] || { echo "t-cmd-mount: $S not built" >&2; exit 1; }
for p in slicefs slice-proxy; do
	[ -x "$B/bin/$p" ] || { echo "t-cmd-mount: $B/bin/$p not built" >&2; exit 1; }
done
command -v nfs-cp >/dev/null || { echo "t-cmd-mount: SKIP: no nfs-cp" >&2; exit 77; }
TMP=$(mktemp -d /tmp/t-cmd-mount.XXXXXX)
D=$TMP/c
M=$TMP/mnt

cleanup() {
	"$S" down --dir "$D" >/dev/null 2>&1
	grep -q " $M " /proc/self/mountinfo && umount -l "$M"
	for f in "$D"/run/*.pid; do
		[ -f "$f" ] && kill -9 "$(cat "$f")" 2>/dev/null
	done
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

fail() {
	echo "t-cmd-mount: FAIL: $*" >&2
	for f in "$TMP"/*.out "$TMP"/*.err "$D"/logs/slicefs-*.log "$D"/logs/nfsproxy-*.log; do
		[ -f "$f" ] || continue
		echo "--- $f (last 10 lines)" >&2
		tail -n 10 "$f" >&2
	done
	exit 1
}

mounted() { grep -q " $1 .* fuse" /proc/self/mountinfo; }

"$S" up --dir "$D" --blockds 2 --managers 1 >"$TMP/up.out" 2>&1 || fail "slice up exited $?"
"$S" mount "$M" --dir "$D" >"$TMP/mount.out" 2>"$TMP/mount.err" || fail "slice mount exited $?"
mounted "$M" || fail "nothing mounted on $M"
grep -qx "$M" "$D/run/mounts" || fail "the mount is not recorded"
head -c $((3 << 20)) /dev/urandom >"$TMP/file"
cp "$TMP/file" "$M/file" || fail "cp into the mount"
cmp -s "$TMP/file" "$M/file" || fail "the file reads back different through the mount"

"$S" mount "$M" --dir "$D" >/dev/null 2>"$TMP/twice.err" && fail "a second mount on $M succeeded"
grep -q 'already a mount point' "$TMP/twice.err" || fail "no clear error for a second mount"

URL=$("$S" nfs --dir "$D" 2>"$TMP/nfs.err") || fail "slice nfs exited $?"
case "$URL" in nfs://*) ;; *) fail "slice nfs printed '$URL', not an nfs:// URL" ;; esac
BASE=${URL%%\?*}
QUERY=${URL#"$BASE"}
nfs-cp "$BASE/file$QUERY" "$TMP/via-nfs" >"$TMP/nfscp.err" 2>&1 || fail "nfs-cp from $URL"
cmp -s "$TMP/file" "$TMP/via-nfs" || fail "the file reads back different through slice-proxy"
"$S" status --dir "$D" >"$TMP/status.out" 2>&1 || fail "status exited $?"
grep -q "^slicefs-0 .* up .*$M" "$TMP/status.out" || fail "status does not list the mount"
grep -q "^nfsproxy-0 .* up .*nfs://" "$TMP/status.out" || fail "status does not list the NFS front"

"$S" umount "$M" --dir "$D" || fail "slice umount exited $?"
mounted "$M" && fail "still mounted after slice umount"
grep -qx "$M" "$D/run/mounts" 2>/dev/null && fail "umount left the record"

"$S" mount "$M" --dir "$D" >/dev/null 2>"$TMP/mount2.err" || fail "the second slice mount exited $?"
PIDS=$(cat "$D"/run/*.pid)
"$S" down --dir "$D" >"$TMP/down.out" 2>&1 || fail "slice down exited $?"
mounted "$M" && fail "slice down left the mount"
for p in $PIDS; do
	[ -d "/proc/$p" ] && ! grep -q '^State:.*Z' "/proc/$p/status" && fail "pid $p ($(cat /proc/$p/comm)) runs after down"
done
ls "$D"/run/*.pid >/dev/null 2>&1 && fail "pid files left: $(ls "$D/run")"

# ---- a mount that cannot be made: the cluster is down ---------------------------------
"$S" mount "$M" --dir "$D" >/dev/null 2>"$TMP/bad.err" && fail "a mount of a stopped cluster succeeded"
grep -q 'slicefs' "$TMP/bad.err" || fail "no clear error for a mount of a stopped cluster: $(cat "$TMP/bad.err")"
mounted "$M" && fail "a failed mount left a mount"
ls "$D"/run/slicefs-*.pid >/dev/null 2>&1 && fail "a failed mount left a pid file"
pgrep -f "slicefs $M" >/dev/null && fail "a failed mount left slicefs running"
"$S" nfs --dir "$D" >"$TMP/badnfs.out" 2>"$TMP/badnfs.err" && fail "slice nfs of a stopped cluster succeeded"
grep -q 'slice-proxy' "$TMP/badnfs.err" || fail "no clear error from slice nfs: $(cat "$TMP/badnfs.err")"
ls "$D"/run/nfsproxy-*.pid >/dev/null 2>&1 && fail "a failed slice nfs left a pid file"
pgrep -f "slice-proxy --cluster $D/" >/dev/null && fail "a failed slice nfs left slice-proxy running"
exit 0
