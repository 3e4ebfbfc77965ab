#!/bin/sh
# t-fmd-kernel: the real Linux NFS client against slice-fmd.  Boots a
# Debian kernel in qemu (kernel-nfs-client.sh, about 15 s) that mounts the
# export over NFSv3/TCP and runs its 25 checks: create, read, append, a
# 10 MiB write and read back, partial reads, overwrite, truncate, rename,
# symlink, hard link, chmod, utimes, a 300-entry directory, error codes,
# remount.  File data goes to two slice-blockd block servers.
# Skips (77) without slice-blockd, qemu or the client script.
# test-timeout: 240
# Env: KNFS_SCRIPT (default: ../shared/tools/kernel-nfs-client.sh beside
# the repository), BUILD_DIR.
set -u
NAME=t-fmd-kernel
. "$(dirname "$0")/fmd-lib.sh"

here=$(cd "$(dirname "$0")" && pwd)
KNFS=${KNFS_SCRIPT:-$here/../../shared/tools/kernel-nfs-client.sh}
# A clone elsewhere (CI) finds the team's copy at its usual place.
[ -x "$KNFS" ] || KNFS=/work/shared/tools/kernel-nfs-client.sh
[ -x "$KNFS" ] || { echo "$NAME: SKIP: no kernel-nfs-client.sh at $KNFS" >&2; exit 77; }
. "$here/knfs_retry.sh"
command -v qemu-system-x86_64 >/dev/null 2>&1 || { echo "$NAME: SKIP: no qemu-system-x86_64" >&2; exit 77; }
have_blockd || { echo "$NAME: SKIP: no slice-blockd in this build (file data)" >&2; exit 77; }

start_blockd 2
start_blockd 3
# the guest is uid 0 and the export must let it create: no squash
start_fmd fmd --no-root-squash --root-mode 0777 --node 1 --fabric "$FABRIC" \
	--blockd 2=shm --blockd 3=shm
KNFS_TIMEOUT=${KNFS_TIMEOUT:-120} knfs_run "$TMP/knfs.out" "$TMP/knfs.log" "$NFS_PORT" "$MOUNT_PORT" /slice
rc=$?
grep '^KNFS' "$TMP/knfs.out" >&2
[ $rc -eq 0 ] || fail "the kernel client's checks failed (rc $rc)"
stop_pid "$FMD_PID" || fail "slice-fmd did not shut down cleanly"
"$B/bin/slice-fmd" --data "$TMP/fmd" --export /slice --volume vol --check >"$TMP/check.log" 2>&1 ||
	fail "--check after the kernel client: $(cat "$TMP/check.log")"
exit 0
