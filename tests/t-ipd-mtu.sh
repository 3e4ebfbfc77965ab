#!/bin/sh
# t-ipd-mtu: the MTU sweep.  For each MTU (1500, 9000, 16 KiB, 64 KiB, and
# 1500 again without offloads) two tpz-ipd start with --mtu, and the
# largest unfragmented ping both ways (IPv4 and IPv6) and a 16 MiB TCP
# transfer with checksums must get through.  Skips (77) without
# namespaces, TUN or ping.
T=t-ipd-mtu
. "$(dirname "$0")/ipd_lib.sh"
ipd_require
ipd_need ping

NSA=ipdA$TAG
NSB=ipdB$TAG
ipd_netns "$NSA"
ipd_netns "$NSB"
ipd_cluster_shm 1 2

for case in 1500 9000 16384 65535 1500:--no-offload; do
	mtu=${case%%:*}
	extra=""
	[ "$case" != "$mtu" ] && extra=${case#*:}
	ipd_start 1 "$NSA" --mtu "$mtu" $extra
	ipd_start 2 "$NSB" --mtu "$mtu" $extra
	ipd_wait_peers 2 1
	got=$(ip -n "$NSA" -o link show tip1 | sed -n 's/.* mtu \([0-9]*\) .*/\1/p')
	[ "$got" = "$mtu" ] || fail "tip1 has mtu '$got', not $mtu"
	ipd_ping "$NSA" "$(ip4 2)" -M do -s $((mtu - 28))
	ipd_ping "$NSB" "$(ip4 1)" -M do -s $((mtu - 28))
	ipd_ping "$NSA" "$(ip6 2)" -6 -M do -s $((mtu - 48))
	ipd_ping "$NSB" "$(ip6 1)" -6 -M do -s $((mtu - 48))
	ipd_xfer "$NSA" "$NSB" "$(ip4 2)" 16777216
	ipd_xfer "$NSB" "$NSA" "$(ip6 1)" 16777216
	gso=$(ipd_stat 1 tx_gso)
	say "mtu $mtu $extra: pings of $mtu bytes both ways and transfers ok ($gso segmentation-offloaded packets)"
	ipd_stop 1
	ipd_stop 2
done
say "ok"
exit 0
