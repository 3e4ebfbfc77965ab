#!/usr/bin/env bash
# demo-trapeze.sh - build everything, then show two processes exchanging
# Trapeze messages over each link (shm and tcp) with their latency and
# bandwidth.  Installs the Debian packages it needs.
set -euo pipefail
cd "$(dirname "$0")/.."
case ${1:-} in -h|--help) sed -n '2,4p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;; esac
scripts/deps.sh build
make -j"$(nproc)" >/dev/null
perf=build/bin/tpz-perf
field() { sed -n "s/.*\"$1\":\([0-9.e+-]*\).*/\1/p"; }
run() {   # LABEL FIELD UNIT ARGS...
    local label=$1 f=$2 unit=$3 out
    shift 3
    out=$(timeout 120 "$perf" "$@" --reps 5 2>/dev/null | tail -1)
    printf '  %-58s %10s %s\n' "$label" "$(echo "$out" | field "$f")" "$unit"
}
echo "Trapeze: two processes (node 0 on CPU 0, node 1 on CPU 1) exchange messages."
echo
echo "shm link (one host, rings and frames in a shared segment):"
run "round trip, 128-byte control message, polling" rtt_us_median us --link shm --test lat --size 96
run "round trip, 128-byte control message, sleeping receiver" rtt_us_median us --link shm --test lat --size 96 --mode block
run "message rate, 128-byte control messages" mmsgs_per_s_median "M msg/s" --link shm --test rate
run "bandwidth, 64 KiB payloads from ordinary memory (one copy)" gbytes_per_s_median GB/s --link shm --test bw --size 65536 --copy
run "hand-off rate, 64 KiB pool frames (zero copy, by index)" gbytes_per_s_median GB/s --link shm --test bw --size 65536
echo
echo "tcp link (127.0.0.1, authenticated with a cluster secret):"
run "round trip, 128-byte control message, polling" rtt_us_median us --link tcp --test lat --size 96
run "bandwidth, 1 MiB payloads" gbytes_per_s_median GB/s --link tcp --test bw --size 1048576
echo
echo "NetRPC on top (reads land straight in the caller's buffer):"
perf=build/bin/nrpc-perf
run "null call round trip, shm, polling" rtt_us_median us --link shm --test null --inflight 1
run "null calls, shm, 64 in flight" mcalls_per_s_median "M calls/s" --link shm --test null --inflight 64
run "8 KiB read round trip, shm" rtt_us_median us --link shm --test read --size 8192 --inflight 1
run "64 KiB reads, shm, 8 in flight" gbytes_per_s_median GB/s --link shm --test read --size 65536 --inflight 8
run "64 KiB reads, tcp, 8 in flight" gbytes_per_s_median GB/s --link tcp --test read --size 65536 --inflight 8
echo
echo "Benchmarks beside UCX, iperf3 and a raw futex: bench/trapeze-core.sh, bench/netrpc.sh"
