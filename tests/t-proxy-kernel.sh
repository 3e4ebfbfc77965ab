#!/bin/sh
# t-proxy-kernel: the real Linux NFS client through slice-proxy.  Boots a
# Debian kernel in qemu (kernel-nfs-client.sh) that mounts the proxy's one
# port (NFS and MOUNT) over NFSv3/TCP, in front of 2 file managers and 4
# block servers, and runs its 25 checks: create, read, append, a 12 MiB
# dd write and read back after drop_caches with md5, partial reads,
# overwrite, truncate, mkdir -p, renames across directories (names spread
# over both managers), symlink, hard link, chmod, utimes, a 300-entry
# directory listed with ls, error codes, remount and md5 again.  Then the
# proxy and the managers stop cleanly and both managers' stores check.
# Skips (77) without qemu, the client script, slice-proxy or slice-blockd.
# test-timeout: 300
# Env: KNFS_SCRIPT (default: ../shared/tools/kernel-nfs-client.sh beside
# the repository), BUILD_DIR.
set -u
NAME=t-proxy-kernel
. "$(dirname "$0")/proxy-lib.sh"

here=$(cd "$(dirname "$0")" && pwd)
KNFS=${KNFS_SCRIPT:-$here/../../shared/tools/kernel-nfs-client.sh}
[ -x "$KNFS" ] || KNFS=/work/shared/tools/kernel-nfs-client.sh
[ -x "$KNFS" ] || { echo "$NAME: SKIP: no kernel-nfs-client.sh at $KNFS" >&2; exit 77; }
. "$here/knfs_retry.sh"
command -v qemu-system-x86_64 >/dev/null 2>&1 || { echo "$NAME: SKIP: no qemu-system-x86_64" >&2; exit 77; }
have_proxy || { echo "$NAME: SKIP: slice-proxy or slice-blockd not built" >&2; exit 77; }

start_cluster
start_proxy
KNFS_BIG_MB=${KNFS_BIG_MB:-12} KNFS_TIMEOUT=${KNFS_TIMEOUT:-200} \
	knfs_run "$TMP/knfs.out" "$TMP/knfs.log" "$PROXY_PORT" "$PROXY_PORT" /slice
rc=$?
grep '^KNFS' "$TMP/knfs.out" >&2
[ $rc -eq 0 ] || fail "the kernel client's checks failed through the proxy (rc $rc)"
stop_pid "$PROXY_PID" || fail "slice-proxy did not shut down cleanly"
for m in 0 1; do   # (stop_pid uses $i)
	eval "pid=\$FMD${m}_PID"
	stop_pid "$pid" || fail "slice-fmd $m did not shut down cleanly"
	"$B/bin/slice-fmd" --data "$TMP/fmd$m" --export /slice --volume vol --managers 2 --index "$m" --check >"$TMP/check$m.log" 2>&1 ||
		fail "--check of manager $m after the kernel client: $(cat "$TMP/check$m.log")"
done
exit 0
