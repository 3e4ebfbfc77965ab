#!/usr/bin/env bash
# trapeze-core.sh: Trapeze (tpz-perf) against its peers, in one run, same pinning.
#
#   bench/trapeze-core.sh [--quick] [-r REPS] [-o DIR] [-h]
#
#   --quick   short runs, 1 rep unless -r is given (a smoke test, ~1 minute)
#   -r REPS   repetitions of the whole suite (default 5); reps are interleaved
#             (every benchmark once, then again) so drifts of a shared machine
#             hit ours and the peers alike
#   -o DIR    output directory (default bench/results)
#
# Every server/responder runs on CPU $TPZ_CPU_SERVER (0), every client/initiator
# on CPU $TPZ_CPU_CLIENT (1).  Only 127.0.0.1 and a private shm fabric are used.
#
# Peers: ucx_perftest (UCX_TLS=posix,self for shared memory; tcp with
# UCX_NET_DEVICES=lo), iperf3 (one TCP stream), futex-pingpong (bench/).
# Ours: build/bin/tpz-perf.  Writes DIR/trapeze-core.tsv (every value:
# rep group metric unit value), DIR/trapeze-core.md (the goal table and all
# medians), DIR/trapeze-core.png (improvement over the peer next to the goal),
# and every tool's output under DIR/trapeze-core-logs/.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$HERE/lib.sh"
bench_init trapeze-core 5 "$@"

PORT_BASE=${TPZ_PORT_BASE:-24500}      # loopback ports used: base .. base+49
PERF=$ROOT/build/bin/tpz-perf
FUTEX=$ROOT/build/bench/futex-pingpong
port=$PORT_BASE

# ---- peers ------------------------------------------------------------------

# ucx NAME TLS NETDEV TEST SIZE ITERS -> UCX_LINE (see ucx_perf in lib.sh)
ucx() { ucx_perf "$@" 180 120 && [[ -n $UCX_LINE ]]; }
# ucx_perftest prints one-way latency (half the round trip): doubled here.
ucx_lat() { ucx "$@" && emit ucx "$1" us_rtt "$(awk -F, '{ printf "%.4g", 2 * $2 }' <<<"$UCX_LINE")"; }
# overall_bw is in MiB/s.
ucx_bw() { ucx "$@" && emit ucx "$1" GB/s "$(awk -F, '{ printf "%.4g", $6 * 1048576 / 1e9 }' <<<"$UCX_LINE")"; }
ucx_rate() { ucx "$@" && emit ucx "$1" Mmsg/s "$(awk -F, '{ printf "%.4g", $8 / 1e6 }' <<<"$UCX_LINE")"; }

run_ucx() {
    have ucx_perftest || { log "WARN: ucx_perftest missing, skipping UCX"; return 0; }
    ucx_lat  posix.tag_lat.128B  posix,self all tag_lat 128     200000
    ucx_rate posix.tag_rate.128B posix,self all tag_bw  128     2000000
    ucx_bw   posix.tag_bw.64KiB  posix,self all tag_bw  65536   20000
    ucx_lat  tcp.tag_lat.128B    tcp        lo  tag_lat 128     20000
    ucx_bw   tcp.tag_bw.1MiB     tcp        lo  tag_bw  1048576 2000
}

run_iperf3() {
    local t=5 logf spid line
    have iperf3 || { log "WARN: iperf3 missing, skipping"; return 0; }
    ((QUICK)) && t=2
    logf=$LOGS/iperf3-r$REP
    next_port
    start_bg "$logf.server" timeout 60 taskset -c "$CPU_S" iperf3 -s -1 -B 127.0.0.1 -p "$port"
    spid=$BG_PID
    wait_listen "$port"
    timeout $((t + 30)) taskset -c "$CPU_C" iperf3 -c 127.0.0.1 -p "$port" -t "$t" -f g >"$logf" 2>&1 ||
        log "WARN: iperf3 failed (see $logf)"
    stop_bg "$spid"
    # receiver-side Gbit/s -> GB/s
    line=$(grep -E 'receiver$' "$logf" | tail -1)
    emit iperf3 tcp.1stream GB/s "$(awk '{ for (i = 1; i <= NF; i++) if ($i ~ /bits\/sec$/) {
        v = $(i - 1); if ($i == "Mbits/sec") v /= 1000; printf "%.4g", v / 8; exit } }' <<<"$line")"
}

run_futex() {
    local logf=$LOGS/futex-r$REP args=()
    ((QUICK)) && args=(-r 10)
    timeout 120 "$FUTEX" -a "$CPU_C" -b "$CPU_S" "${args[@]}" >"$logf" 2>&1 ||
        { log "WARN: futex-pingpong failed (see $logf)"; return 0; }
    emit futex pingpong us_rtt "$(jget rtt_us_median <"$logf")"
}

# ---- ours -------------------------------------------------------------------

# perf NAME UNIT KEY ARGS...: run tpz-perf once, emit the median of KEY
perf() {
    local name=$1 unit=$2 key=$3 logf=$LOGS/tpz-$1-r$REP
    shift 3
    run_tool "$PERF" "$logf" "$@" || { log "WARN: tpz-perf $name failed (see $logf.err)"; return 1; }
    emit ours "$name" "$unit" "$(jget "${key}_median" <"$logf")"
    local e
    e=$(jget errors <"$logf")
    [[ ${e:-0} == 0 ]] || log "WARN: tpz-perf $name reported $e errors"
}

run_ours() {
    local lat=(--iters 1000 --reps 50) blk=(--iters 200 --reps 25) bw=(--reps 10) logf
    ((QUICK)) && lat=(--iters 1000 --reps 10) blk=(--iters 100 --reps 5) bw=(--reps 3)
    perf shm.lat.128B        us_rtt rtt_us --link shm --test lat --size 128 "${lat[@]}"
    perf shm.lat.96B.inline  us_rtt rtt_us --link shm --test lat --size 96 "${lat[@]}"
    perf shm.rate.128B       Mmsg/s mmsgs_per_s --link shm --test rate --size 96 "${bw[@]}"
    perf shm.bw.64KiB.copy   GB/s gbytes_per_s --link shm --test bw --size 65536 --copy "${bw[@]}"
    perf shm.bw.64KiB.copy.touch GB/s gbytes_per_s --link shm --test bw --size 65536 --copy --touch "${bw[@]}"
    perf shm.bw.64KiB.zc     GB/s gbytes_per_s --link shm --test bw --size 65536 --zero-copy "${bw[@]}"
    perf tcp.lat.128B        us_rtt rtt_us --link tcp --test lat --size 128 "${lat[@]}"
    perf tcp.bw.1MiB         GB/s gbytes_per_s --link tcp --test bw --size 1048576 "${bw[@]}"
    # Blocking: every message needs a wake-up; also record how many it took.
    for link in shm tcp; do
        logf=$LOGS/tpz-$link.lat.block-r$REP
        perf $link.lat.block us_rtt rtt_us --link $link --test lat --size 8 --mode block "${blk[@]}" &&
            emit ours $link.lat.block.wakeups_per_msg count "$(jget wakeups_per_msg <"$logf")"
    done
    # Under load one wake-up covers a whole batch (interrupt suppression).
    logf=$LOGS/tpz-shm.rate.block-r$REP
    perf shm.rate.block Mmsg/s mmsgs_per_s --link shm --test rate --size 96 --mode block "${bw[@]}" &&
        emit ours shm.rate.block.wakeups_per_msg count "$(jget wakeups_per_msg <"$logf")"
}

# ---- report -----------------------------------------------------------------

# goal rows: plot label | label | ours metric | peer group | peer metric | le/ge | goal
# ratio ("-": shown for information, no goal)
GOALS=(
    "shm RTT 128B|shm RTT 128 B (payload, zero-copy) vs UCX posix tag_lat 128 B|shm.lat.128B|ucx|posix.tag_lat.128B|le|0.5"
    "shm RTT ctl msg|shm RTT 128-byte control message (96 B inline) vs UCX posix tag_lat 128 B|shm.lat.96B.inline|ucx|posix.tag_lat.128B|le|0.5"
    "shm msg rate|shm message rate, 128-byte messages vs UCX posix tag_bw 128 B|shm.rate.128B|ucx|posix.tag_rate.128B|ge|2"
    "shm bw 64K copy|shm bandwidth 64 KiB, one copy vs UCX posix tag_bw 64 KiB|shm.bw.64KiB.copy|ucx|posix.tag_bw.64KiB|ge|1.2"
    "shm bw 64K copy+read|shm bandwidth 64 KiB, one copy, receiver reads the data vs UCX posix tag_bw 64 KiB|shm.bw.64KiB.copy.touch|ucx|posix.tag_bw.64KiB|ge|-"
    "shm bw 64K zero-copy|shm bandwidth 64 KiB, zero-copy frames vs UCX posix tag_bw 64 KiB|shm.bw.64KiB.zc|ucx|posix.tag_bw.64KiB|ge|-"
    "tcp RTT 128B|tcp RTT 128 B vs UCX tcp tag_lat 128 B|tcp.lat.128B|ucx|tcp.tag_lat.128B|le|1.0"
    "tcp bw 1M vs UCX|tcp bandwidth 1 MiB vs UCX tcp tag_bw 1 MiB|tcp.bw.1MiB|ucx|tcp.tag_bw.1MiB|ge|1.0"
    "tcp bw 1M vs iperf3|tcp bandwidth 1 MiB vs iperf3 one stream|tcp.bw.1MiB|iperf3|tcp.1stream|ge|0.9"
    "shm blocking RTT|shm blocking RTT vs futex ping-pong|shm.lat.block|futex|pingpong|le|1.2"
    "tcp blocking RTT|tcp blocking RTT vs futex ping-pong|tcp.lat.block|futex|pingpong|le|-"
)

# One line per goal row: label ours peer ratio goal met speedup speedup_goal short
goal_rows() {
    local row short label om pg pm dir goal o p
    for row in "${GOALS[@]}"; do
        IFS='|' read -r short label om pg pm dir goal <<<"$row"
        o=$(stat ours "$om" median)
        p=$(stat "$pg" "$pm" median)
        awk -v l="$label" -v sh="$short" -v o="$o" -v p="$p" -v d="$dir" -v g="$goal" 'BEGIN {
            r = (o != "" && p != "" && p > 0) ? o / p : ""
            met = (r == "" || g == "-") ? "—" : ((d == "le" ? r <= g : r >= g) ? "yes" : "**no**")
            # improvement factor, higher is better, for the plot ("?" = none)
            s = (r == "" || r == 0) ? "?" : sprintf("%.4g", d == "le" ? 1 / r : r)
            sg = (g == "-") ? "?" : sprintf("%.4g", d == "le" ? 1 / g : g)
            printf "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", l, (o == "" ? "n/a" : o),
                (p == "" ? "n/a" : p), (r == "" ? "n/a" : sprintf("%.3g", r)),
                (g == "-" ? "—" : (d == "le" ? "<= " : ">= ") g), met, s, sg, sh }'
    done
}

write_md() {
    local t_run=$1
    {
        echo "# Trapeze core benchmark: ours against the peers"
        echo
        md_meta "$t_run" "$LOAD_BEFORE" ucx-utils iperf3
        echo
        echo "Values are medians over the reps; each rep's value is the tool's own median"
        echo "(tpz-perf, futex-pingpong: of per-batch means) or its overall figure (UCX bandwidth"
        echo "and rate, iperf3).  us_rtt = round trip in µs (UCX's one-way latency doubled);"
        echo "GB/s = 1e9 bytes/s; Mmsg/s = million messages/s.  ratio = ours / peer."
        echo
        echo "| metric | ours | peer | ratio | goal | met? |"
        echo "|---|---:|---:|---:|---|---|"
        goal_rows | awk -F'\t' '{ printf "| %s | %s | %s | %s | %s | %s |\n", $1, $2, $3, $4, $5, $6 }'
        echo
        md_every_figure
        echo
        echo "See \`bench/README.md\` for what each figure measures."
    } >"$MD"
}

write_png() {
    local dat=$LOGS/plot.dat
    have gnuplot || { log "WARN: gnuplot missing, no plot"; return 0; }
    goal_rows | awk -F'\t' '{ printf "\"%s\"\t%s\t%s\n", $9, $7, $8 }' >"$dat"
    gnuplot >"$LOGS/gnuplot.log" 2>&1 <<EOF || log "WARN: gnuplot failed (see $LOGS/gnuplot.log)"
set terminal png size 1200,650 font ",10"
set output "$PNG"
set title "Trapeze vs peers: factor over the peer (higher is better; latency: peer/ours, rates: ours/peer)"
$GP_HISTOGRAMS
set xtics rotate by -30 left
set ylabel "x peer (log scale)"
set logscale y
set yrange [0.1:*]
set datafile missing "?"
set grid ytics
set key top left
set bmargin 8
set rmargin 6
plot "$dat" using 2:xtic(1) title "achieved" lc rgb "#2b7bba", \
     "" using 3 title "goal" lc rgb "#d95f02", \
     1 with lines dt 2 lc rgb "black" title "parity"
EOF
}

# ---- main -------------------------------------------------------------------

mkdir -p "$OUT" "$LOGS"
rm -f "$LOGS"/*
install_peers ucx-utils iperf3 gnuplot-nox
build_ours build/bin/tpz-perf build/bench/futex-pingpong
bench_run run_futex run_ours run_ucx run_iperf3
