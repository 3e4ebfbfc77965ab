# proxy-lib.sh - what the slice-proxy test scripts share (POSIX sh,
# sourced after setting NAME; builds on fmd-lib.sh): a local cluster of 4
# block servers and 2 file managers on this test's shm fabric, its cluster
# file, and a slice-proxy in front of it.  Everything is killed (by PID)
# and removed at exit whatever happened.
#
#   start_cluster [FMD_ARGS...]  4 slice-blockd, 2 slice-fmd, $TMP/cluster.conf
#   start_proxy [ARGS...]        slice-proxy; sets PROXY_PID PROXY_PORT PROXY_URL
#                                (PROXY_URL: nfs://127.0.0.1/slice, PROXY_Q: ?nfsport=..)
#   have_proxy                   are slice-proxy and slice-blockd built?
# Env: BUILD_DIR (default build).
# shellcheck shell=sh

. "$(dirname "$0")/fmd-lib.sh"

have_proxy() { [ -x "$B/bin/slice-proxy" ] && have_blockd; }

# free_port: a loopback TCP port that is free now
free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# start_manager I [ARGS...]: manager I of 2 on its port $FMDi_PORT (NFS and
# MOUNT on one port, as the cluster file says); sets FMDi_PID.  Also used
# to restart it (same data, same port).
start_manager() {
	i=$1
	shift
	other=$((1 - i))
	eval "port=\$FMD${i}_PORT"
	rm -f "$TMP/fmd$i.out"   # a restart must not read the last start's ready line
	"$B/bin/slice-fmd" --data "$TMP/fmd$i" --export /slice --volume vol --no-rpcbind \
		--nfs-port "$port" --mount-port "$port" --managers 2 --index "$i" --node $((2 + i)) \
		--fabric "$FABRIC" --secret-file "$TMP/secret" --peer-fmd "$other=$((2 + other))=shm" \
		--no-root-squash --root-mode 0777 --sync none --stripe-unit 65536 \
		--blockd 10=shm --blockd 11=shm --blockd 12=shm --blockd 13=shm "$@" \
		>"$TMP/fmd$i.out" 2>>"$TMP/fmd$i.log" &
	eval "FMD${i}_PID=$!"
	PIDS="$PIDS $!"
	line=$(wait_line "$TMP/fmd$i.out") || fail "slice-fmd $i did not get ready"
	case $line in ready*) ;; *) fail "slice-fmd $i: $line" ;; esac
}

start_cluster() {
	printf 'trapeze-test-secret\n' >"$TMP/secret"
	for n in 10 11 12 13; do
		start_blockd $n
	done
	for i in 0 1; do
		eval "FMD${i}_PORT=$(free_port)"
		start_manager $i "$@"
	done
	# one port per manager: the cluster file has one nfs= address
	[ "$FMD0_PORT" ] && [ "$FMD1_PORT" ] || fail "manager ports"
	{
		printf '[cluster]\nname = %s\nvolume = vol\nexport = /slice\nsecret_file = secret\n' "$FABRIC"
		printf 'stripe_unit = 65536\nroot_squash = no\nallow = 127.0.0.0/8\n\n'
		for n in 10 11 12 13; do
			printf '[blockd %u]\nnode = %u\ntpz = shm\ndata = blockd%u\n\n' $((n - 10)) $n $n
		done
		for i in 0 1; do
			eval "port=\$FMD${i}_PORT"
			printf '[fmd %u]\nnode = %u\ntpz = shm\nnfs = 127.0.0.1:%u\ndata = fmd%u\n\n' $i $((2 + i)) "$port" $i
		done
	} >"$TMP/cluster.conf"
}

start_proxy() {
	rm -f "$TMP/proxy.out"   # a restart must not read the last start's ready line
	"$B/bin/slice-proxy" --cluster "$TMP/cluster.conf" --listen 127.0.0.1:0 "$@" \
		>"$TMP/proxy.out" 2>"$TMP/proxy.log" &
	PROXY_PID=$!
	PIDS="$PIDS $PROXY_PID"
	line=$(wait_line "$TMP/proxy.out") || fail "slice-proxy did not get ready"
	PROXY_PORT=$(echo "$line" | sed -n 's/^ready nfs=\([0-9]*\) mount=\([0-9]*\) url=.*$/\1/p')
	[ -n "$PROXY_PORT" ] || fail "slice-proxy: '$line'"
	PROXY_FULL_URL=${line#*url=}
	PROXY_URL="nfs://127.0.0.1/slice"
	PROXY_Q="?nfsport=$PROXY_PORT&mountport=$PROXY_PORT"
}
