#!/usr/bin/env bash
# deps.sh [build|demo|test|bench] - install the Debian packages this project needs
# (only those missing; needs root).  Why each package is here: README.md.
set -euo pipefail
what=${1:-build}
pkgs=(build-essential pkg-config libsodium-dev libisal-dev liblmdb-dev libnfs-dev libfuse3-dev fuse3 libinih-dev)
case $what in
  build) ;;
  demo)  pkgs+=(libnfs-utils) ;;
  test)  pkgs+=(clang libclang-rt-14-dev iproute2 iputils-ping procps libnfs-utils qemu-system-x86 rpcbind) ;;
  bench) pkgs+=(ucx-utils iperf3 gnuplot-nox util-linux sockperf iproute2 nfs-ganesha nfs-ganesha-vfs rpcbind fio glusterfs-server libnfs-utils jq) ;;
  *) echo "usage: $0 [build|demo|test|bench]" >&2; exit 2 ;;
esac
missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
((${#missing[@]} == 0)) && exit 0
if [[ $(id -u) != 0 ]]; then
    echo "deps.sh: missing Debian packages: ${missing[*]}; run as root or install them" >&2
    exit 1
fi
echo "deps.sh: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq "${missing[@]}" >/dev/null
