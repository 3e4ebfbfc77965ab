# knfs_retry.sh - sourced by the tests that drive the Linux kernel NFS
# client in qemu (kernel-nfs-client.sh).  knfs_run OUT LOG ARGS... runs it
# and, when the guest never got to run a single check (under TCG on a
# loaded host its kernel sometimes panics at boot: "IO-APIC + timer doesn't
# work"), boots it once more.  A guest that ran checks is never retried:
# its verdict stands.
knfs_run() {
	local out=$1 log=$2 rc try
	shift 2
	for try in 1 2; do
		"$KNFS" "$@" >"$out" 2>"$log"
		rc=$?
		[ $rc -eq 0 ] && return 0
		if grep '^KNFS ' "$out" | grep -qv '^KNFS RESULT'; then
			return $rc
		fi
		echo "$NAME: NOTE: the guest ran no check (boot failure, try $try): $(tail -3 "$log" | tr '\n' ' ')" >&2
	done
	return $rc
}
