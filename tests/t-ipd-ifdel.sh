#!/bin/sh
# t-ipd-ifdel: an operator deletes the daemon's interface under it.  The
# daemon notices, says so, and exits 1 within a few seconds (no busy loop on
# a dead descriptor, nothing left behind).  Skips (77) without namespaces or TUN.
T=t-ipd-ifdel
. "$(dirname "$0")/ipd_lib.sh"
ipd_require

NSA=ipdA$TAG
ipd_netns "$NSA"
ipd_cluster_shm 1 2
ipd_start 1 "$NSA"
ip -n "$NSA" link del tip1 || fail "cannot delete tip1"
i=0
while kill -0 "$PID_1" 2>/dev/null; do
	i=$((i + 1))
	[ $i -gt 50 ] && fail "the daemon still runs 5 s after its interface was deleted"
	sleep 0.1
done
wait "$PID_1"
rc=$?
IPD_REAPED="$IPD_REAPED$PID_1 "
[ $rc -eq 1 ] || fail "exit code $rc, not 1"
grep -q "interface tip1 is gone" "$TMP/ipd-1.log" || fail "no log line saying why"
[ -e "/dev/shm/tip-stat.$(id -u).$PID_1" ] && fail "its stats page was left behind"
say "ok"
exit 0
