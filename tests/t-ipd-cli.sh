#!/bin/sh
# t-ipd-cli: tpz-ipd's command line and its errors: --help, a bad option,
# --check of a good and of a bad cluster file (the bad line is named), a
# missing TUN device and a missing permission (each a clear message and a
# nonzero exit, nothing left behind).  Needs no namespace; the permission
# case runs as 'nobody' with setpriv when available.
T=t-ipd-cli
. "$(dirname "$0")/ipd_lib.sh"
[ -x "$IPD" ] || fail "$IPD not built"

expect() { # CODE PATTERN CMD...: exit code CODE and PATTERN in the output
	local code=$1 pat=$2 rc
	shift 2
	"$@" >"$TMP/out" 2>&1
	rc=$?
	[ $rc -eq "$code" ] || fail "'$*' exited $rc, not $code: $(cat "$TMP/out")"
	grep -q -- "$pat" "$TMP/out" || fail "'$*' did not say '$pat': $(cat "$TMP/out")"
}

expect 0 "usage: tpz-ipd --node ID --cluster FILE" "$IPD" --help
expect 2 "see --help" "$IPD" --mtu 70000
expect 2 "are required" "$IPD" --node 1
ipd_cluster_shm 1 2
expect 0 "fd77::2/64 *-> node 2" "$IPD" --check --node 1 --cluster "$CLUSTER"
expect 2 "node 5 has no 'node' line" "$IPD" --check --node 5 --cluster "$CLUSTER"
printf 'node 1 shm\nip 1 10.0.0.1/24\nip 1 10.0.0.300\n' >"$TMP/bad1"
expect 2 "bad1:3: '10.0.0.300' is not an IPv4 or IPv6 address" "$IPD" --check --node 1 --cluster "$TMP/bad1"
printf 'node 1 shm\n\nroute 1 10.0.0.0/8\n' >"$TMP/bad2"
expect 2 "bad2:3: not a 'node ID URL' or 'ip NODE ADDRESS' line" "$IPD" --check --node 1 --cluster "$TMP/bad2"
printf 'node 1 shm\nip 2 10.0.0.2\n' >"$TMP/bad3"
expect 2 "belongs to node 2, which has no 'node' line" "$IPD" --check --node 1 --cluster "$TMP/bad3"
printf 'node 1 shm\nip 1 10.0.0.1\nip 1 10.0.0.1/24\n' >"$TMP/bad4"
expect 2 "already belongs to node 1" "$IPD" --check --node 1 --cluster "$TMP/bad4"
printf 'node 1 tcp://10.0.0.1:7400\n' >"$TMP/tcp"
expect 2 "give the cluster secret with --secret-file" "$IPD" --node 1 --cluster "$TMP/tcp"
say "options and cluster files: ok"

expect 1 "cannot open $TMP/no-tun: No such file or directory (is the tun driver loaded" \
	"$IPD" --node 1 --cluster "$CLUSTER" --fabric "$FABRIC" --tun-dev "$TMP/no-tun"
if command -v setpriv >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && [ -c /dev/net/tun ]; then
	chmod 755 "$TMP"
	chmod 644 "$CLUSTER"
	expect 1 "needs root or CAP_NET_ADMIN" setpriv --reuid=65534 --regid=65534 --clear-groups \
		--inh-caps=-all --bounding-set=-all "$IPD" --node 1 --cluster "$CLUSTER" --fabric "$FABRIC"
	say "no permission: a clear error"
else
	say "(the permission case needs root and setpriv: not run)"
fi
[ -e "/dev/shm/tpz-$FABRIC" ] && fail "a failed start left its fabric behind"
say "ok"
exit 0
