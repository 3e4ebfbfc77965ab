#!/bin/sh
# t-ipd-tcp-1g: 1 GiB over one TCP connection through two tpz-ipd on a shm
# fabric (interfaces in two namespaces), checksums (BLAKE2b) compared at
# both ends; the daemons must have dropped nothing.  Skips (77) without
# namespaces or TUN.
T=t-ipd-tcp-1g
. "$(dirname "$0")/ipd_lib.sh"
ipd_require

NSA=ipdA$TAG
NSB=ipdB$TAG
ipd_netns "$NSA"
ipd_netns "$NSB"
ipd_cluster_shm 1 2
ipd_start 1 "$NSA"
ipd_start 2 "$NSB"
ipd_wait_peers 2 1

ipd_xfer "$NSA" "$NSB" "$(ip4 2)" 1073741824
for n in 1 2; do
	ipd_snap $n
	for c in drop_peer_down drop_ring_full drop_no_frames drop_send_errors rx_malformed rx_payload_lost rx_write_errors; do
		v=$(ipd_val $c)
		[ "${v:-1}" -eq 0 ] || fail "node $n: $c = $v"
	done
done
# Frames are not lost: after 16000 packets of 64 KiB through a pool of 1024
# frames, all are free but those the two send threads keep for their next
# reads (one per batch slot, 32 each).
f=$("$B/bin/tpz-stat" --json | grep "\"pid\":$PID_1," | sed -n 's/.*"frames_free":\([0-9]*\),"frames_total":\([0-9]*\).*/\1 \2/p')
set -- $f
[ -n "$f" ] && [ "$1" -ge $(($2 - 64)) ] || fail "frames free/total after the transfer: '$f'"
say "frames free after the transfer: $1 of $2"
b=$(ipd_stat 1 tx_bytes)
[ "${b:-0}" -ge 1073741824 ] || fail "node 1 sent only $b bytes"
"$IPD" --stats --pid "$PID_1"
ipd_stop 1
ipd_stop 2
say "ok"
exit 0
