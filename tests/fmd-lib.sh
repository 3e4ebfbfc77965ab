# fmd-lib.sh - what the slice-fmd test scripts share (POSIX sh, sourced
# after setting NAME).  Daemons are started in the background, tracked by
# PID, and killed (by PID) with their data at exit whatever happened.
#
#   start_blockd NODE            a slice-blockd on this test's shm fabric
#   start_fmd TAG ARGS...        a slice-fmd; sets NFS_PORT MOUNT_PORT FMD_PID
#   have_blockd                  is slice-blockd built?
#   fail MSG / note MSG
# Env: BUILD_DIR (default build).
# shellcheck shell=sh

B=${BUILD_DIR:-build}
TMP=$(mktemp -d "/tmp/$NAME.XXXXXX")
FABRIC="$NAME-$$"
PIDS=""

fmd_cleanup() {
	for p in $PIDS; do
		kill -9 "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	rm -rf "$TMP"
	# the shm fabric's files carry its unique name; nothing else goes
	rm -f /dev/shm/*"$FABRIC"* 2>/dev/null
}
trap fmd_cleanup EXIT
trap 'exit 1' INT TERM

note() { echo "$NAME: $*" >&2; }
fail() {
	echo "$NAME: FAIL: $*" >&2
	for f in "$TMP"/*.log; do
		[ -f "$f" ] && { echo "---- $f" >&2; tail -20 "$f" >&2; }
	done
	exit 1
}

have_blockd() { [ -x "$B/bin/slice-blockd" ]; }

# wait_line FILE: until FILE has a line (10 s at most); prints it
wait_line() {
	i=0
	while [ $i -lt 200 ]; do
		if [ -s "$1" ] && grep -q . "$1"; then
			head -1 "$1"
			return 0
		fi
		sleep 0.05
		i=$((i + 1))
	done
	return 1
}

# (Each start removes the last start's output first: the child truncates
# it only once it runs, and wait_line could read the old ready line.)
start_blockd() {
	rm -f "$TMP/blockd$1.out"
	"$B/bin/slice-blockd" --node "$1" --data "$TMP/blockd$1" --cache-mb 32 \
		--fabric "$FABRIC" --listen shm >"$TMP/blockd$1.out" 2>"$TMP/blockd$1.log" &
	PIDS="$PIDS $!"
	line=$(wait_line "$TMP/blockd$1.out") || fail "slice-blockd $1 did not get ready"
	case $line in ready*) ;; *) fail "slice-blockd $1: $line" ;; esac
}

start_fmd() {
	tag=$1
	shift
	rm -f "$TMP/$tag.out"
	"$B/bin/slice-fmd" --data "$TMP/$tag" --export /slice --volume vol --nfs-port 0 \
		--mount-port 0 --no-rpcbind "$@" >"$TMP/$tag.out" 2>"$TMP/$tag.log" &
	FMD_PID=$!
	PIDS="$PIDS $FMD_PID"
	line=$(wait_line "$TMP/$tag.out") || fail "slice-fmd $tag did not get ready"
	NFS_PORT=$(echo "$line" | sed -n 's/^ready nfs=\([0-9]*\) mount=\([0-9]*\)$/\1/p')
	MOUNT_PORT=$(echo "$line" | sed -n 's/^ready nfs=\([0-9]*\) mount=\([0-9]*\)$/\2/p')
	[ -n "$NFS_PORT" ] && [ -n "$MOUNT_PORT" ] || fail "slice-fmd $tag: '$line'"
}

# stop PID: SIGTERM, then wait (5 s), then SIGKILL; returns the exit status
stop_pid() {
	kill "$1" 2>/dev/null
	i=0
	while kill -0 "$1" 2>/dev/null && [ $i -lt 100 ]; do
		sleep 0.05
		i=$((i + 1))
	done
	kill -9 "$1" 2>/dev/null
	wait "$1"
}
