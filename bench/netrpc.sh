#!/usr/bin/env bash
# netrpc.sh: NetRPC (nrpc-perf) against raw Trapeze (tpz-perf) and UCX, in one run.
#
#   bench/netrpc.sh [--quick] [-r REPS] [-o DIR] [-h]
#
#   --quick   short runs, 1 rep unless -r is given (a smoke test, ~15 s)
#   -r REPS   repetitions of the whole suite (default 10, about 2.5 minutes);
#             reps are interleaved (every benchmark once, then again) so drifts
#             of a shared machine hit NetRPC, raw Trapeze and UCX alike
#   -o DIR    output directory (default bench/results)
#
# Measures, beside each other: the NetRPC null-call round trip (shm and tcp,
# poll and block) against tpz-perf's raw round trip of one 128-byte control
# message (--size 96, inline) and UCX ucp_am_lat 128 B (shm posix, tcp);
# NetRPC read bandwidth at 4 KiB, 8 KiB, 64 KiB and 1 MiB with 1, 8 and 64
# calls in flight (shm and tcp) as a fraction of tpz-perf's raw bandwidth for
# the same payload size; the round trip of an 8 KiB read (shm, polling); the
# null call rate with 64 and 256 calls in flight (shm).  The goals of the
# NetRPC issue are checked in the table (met yes/no).
#
# Every server/responder runs on CPU $TPZ_CPU_SERVER (0), every client/initiator
# on CPU $TPZ_CPU_CLIENT (1).  Only 127.0.0.1 and private shm fabrics are used.
# Writes DIR/netrpc.tsv (every value: rep group metric unit value),
# DIR/netrpc.md (goal table, round trips, bandwidth matrix, all medians),
# DIR/netrpc.png, and every tool's output under DIR/netrpc-logs/.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$HERE/lib.sh"
bench_init netrpc 10 "$@"

PORT_BASE=${NRPC_PORT_BASE:-24600}     # loopback ports used: base .. base+49 (UCX only)
NPERF=$ROOT/build/bin/nrpc-perf
TPERF=$ROOT/build/bin/tpz-perf
SIZES=(4096 8192 65536 1048576)
INFLIGHT=(1 8 64)
port=$PORT_BASE

szname() { case $1 in 4096) echo 4KiB ;; 8192) echo 8KiB ;; 65536) echo 64KiB ;; 1048576) echo 1MiB ;; *) echo "${1}B" ;; esac; }

# ---- UCX --------------------------------------------------------------------

# ucx_am_lat NAME TLS NETDEV ITERS: ucp_am_lat 128 B, one-way latency doubled
ucx_am_lat() {
    local name=$1 tls=$2 dev=$3 iters=$4
    have ucx_perftest || return 0
    ucx_perf "$name" "$tls" "$dev" ucp_am_lat 128 "$iters" 120 90 || return 0
    emit ucx "$name" us_rtt "$(awk -F, '{ printf "%.4g", 2 * $2 }' <<<"$UCX_LINE")"
}

run_ucx() {
    have ucx_perftest || { log "WARN: ucx_perftest missing, skipping UCX"; return 0; }
    ucx_am_lat posix.am_lat.128B posix,self all 200000
    ucx_am_lat tcp.am_lat.128B   tcp        lo  20000
}

# ---- ours -------------------------------------------------------------------

# nrpc NAME ARGS...: run nrpc-perf once; its JSON line is left in NLINE
nrpc() {
    local name=$1 logf=$LOGS/nrpc-$1-r$REP e
    shift
    NLINE=""
    run_tool "$NPERF" "$logf" "$@"
    local rc=$?
    NLINE=$(grep '^{' "$logf" | tail -1)
    if ((rc != 0)) || [[ -z $NLINE ]]; then
        log "WARN: nrpc-perf $name failed rc=$rc: $(grep -v '^{' "$logf.err" | tail -1) (see $logf.err)"
        emit check "failed.nrpc.$name" count 1
        NLINE=""
        return 1
    fi
    e=$(jget errors <<<"$NLINE")
    if [[ ${e:-0} != 0 ]]; then
        log "WARN: nrpc-perf $name reported $e errors"
        emit check "errors.nrpc.$name" count "$e"
    fi
    return 0
}

# tpz NAME UNIT KEY ARGS...: run tpz-perf once, emit the median of KEY
tpz() {
    local name=$1 unit=$2 key=$3 logf=$LOGS/tpz-$1-r$REP e
    shift 3
    if ! run_tool "$TPERF" "$logf" "$@"; then
        log "WARN: tpz-perf $name failed (see $logf.err)"
        emit check "failed.tpz.$name" count 1
        return 1
    fi
    emit tpz "$name" "$unit" "$(jget "${key}_median" <"$logf")"
    e=$(jget errors <"$logf")
    [[ ${e:-0} == 0 ]] || { log "WARN: tpz-perf $name reported $e errors"; emit check "errors.tpz.$name" count "$e"; }
}

# Round trips: NetRPC null call and raw Trapeze (one 128-byte control message).
run_rtt() {
    local lat=(--iters 1000 --reps 50) blk=(--iters 200 --reps 25) link mode a
    ((QUICK)) && lat=(--iters 1000 --reps 10) blk=(--iters 100 --reps 5)
    for link in shm tcp; do
        for mode in poll block; do
            a=("${lat[@]}")
            [[ $mode == block ]] && a=("${blk[@]}")
            nrpc "$link.$mode.null" --link $link --mode $mode --test null --inflight 1 "${a[@]}" &&
                emit nrpc "$link.$mode.null.rtt" us_rtt "$(jget rtt_us_median <<<"$NLINE")"
            tpz "$link.$mode.lat.96B.inline" us_rtt rtt_us --link $link --mode $mode --test lat \
                --size 96 "${a[@]}"
        done
    done
    # NetRPC scans all its call records (max_calls, default 16384, ~800 B
    # each) once a millisecond while a call is active; after each sleep they
    # are cold.  The same blocking round trip with 64 records shows the cost.
    nrpc "shm.block.null.mc64" --link shm --mode block --test null --inflight 1 --max-calls 64 "${blk[@]}" &&
        emit nrpc "shm.block.null.rtt.max_calls_64" us_rtt "$(jget rtt_us_median <<<"$NLINE")"
}

# Read bandwidth, NetRPC against raw Trapeze streams of the same payload size.
run_bw() {
    local s k n link it reps raw_reps name
    for s in "${SIZES[@]}"; do
        n=$(szname "$s")
        # raw: tpz-perf bw, default path (pool frames handed over; on shm they
        # move by index), and on shm also --copy (ordinary memory, one copy:
        # what a read costs, since the reply is copied into the caller's buffer)
        raw_reps=10
        ((QUICK)) && raw_reps=3
        it=$(((256 << 20) / s)); ((it > 65536)) && it=65536; ((it < 64)) && it=64
        tpz "shm.bw.$n" GB/s gbytes_per_s --link shm --test bw --size "$s" --iters "$it" --reps $raw_reps
        tpz "shm.bw.$n.copy" GB/s gbytes_per_s --link shm --test bw --size "$s" --copy --iters "$it" --reps $raw_reps
        it=$(((32 << 20) / s)); ((it > 8192)) && it=8192; ((it < 32)) && it=32
        tpz "tcp.bw.$n" GB/s gbytes_per_s --link tcp --test bw --size "$s" --iters "$it" --reps 5
        for link in shm tcp; do
            for k in "${INFLIGHT[@]}"; do
                name="$link.read.$n.k$k"
                # Reps of 256 MiB (shm) or 32 MiB (tcp), at most 65536/8192
                # calls; with one call in flight at most 1000 calls per rep.
                if [[ $link == shm ]]; then
                    it=$(((256 << 20) / s)); ((it > 65536)) && it=65536; reps=10
                else
                    it=$(((32 << 20) / s)); ((it > 8192)) && it=8192; reps=5
                fi
                ((k == 1 && it > 1000)) && it=1000
                ((k == 1)) && reps=$([[ $link == shm ]] && echo 50 || echo 10)
                ((it < 32)) && it=32
                ((QUICK)) && { reps=3; ((it > 4096)) && it=4096; }
                # A short per-call timeout: a lost reply ends the run in
                # seconds (see the tcp 1 MiB x 64 note in README.md).
                nrpc "$name" --link $link --test read --size "$s" --inflight "$k" \
                    --iters "$it" --reps $reps --call-timeout 1000 || continue
                emit nrpc "$name" GB/s "$(jget gbytes_per_s_median <<<"$NLINE")"
                [[ $s == 8192 && $k == 1 ]] &&
                    emit nrpc "$link.read.$n.k1.rtt" us_rtt "$(jget rtt_us_median <<<"$NLINE")"
            done
        done
    done
}

# Null call rate with many calls in flight (shm, polling).
run_rate() {
    local k reps=10 it=200000
    ((QUICK)) && reps=3 it=50000
    for k in 64 256; do
        nrpc "shm.null.k$k" --link shm --test null --inflight $k --iters $it --reps $reps &&
            emit nrpc "shm.null.k$k.rate" Mcalls/s "$(jget mcalls_per_s_median <<<"$NLINE")"
    done
}

# ---- report -----------------------------------------------------------------

# ratio A B: A/B to 3 digits, "" if either is missing
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a != "" && b != "" && b > 0) printf "%.3g", a / b }'; }
orna() { [[ -n $1 ]] && echo "$1" || echo "n/a"; }
# met VALUE le|ge GOAL
met() { awk -v v="$1" -v d="$2" -v g="$3" 'BEGIN {
    if (v == "") { print "n/a"; exit }
    print ((d == "le" ? v + 0 <= g + 0 : v + 0 >= g + 0) ? "yes" : "**no**") }'; }

# worst_ratio LINK RAWGROUPSUFFIX: the lowest read/raw ratio with 8+ in flight,
# as "ratio<TAB>where"; "" if none was measured
worst_ratio() {
    local link=$1 suf=$2 s n k r raw w="" wr=""
    for s in "${SIZES[@]}"; do
        n=$(szname "$s")
        raw=$(med tpz "$link.bw.$n$suf")
        for k in 8 64; do
            r=$(ratio "$(med nrpc "$link.read.$n.k$k")" "$raw")
            [[ -z $r ]] && continue
            if [[ -z $wr ]] || awk -v a="$r" -v b="$wr" 'BEGIN { exit !(a < b) }'; then
                wr=$r w="$n, $k in flight"
            fi
        done
    done
    [[ -n $wr ]] && printf '%s\t%s\n' "$wr" "$w"
}

goal_table() {
    local link mode o r ov w wr where v
    echo "| goal | measured | target | met? |"
    echo "|---|---|---|---|"
    for link in shm tcp; do
        for mode in poll block; do
            o=$(med nrpc "$link.$mode.null.rtt")
            r=$(med tpz "$link.$mode.lat.96B.inline")
            ov=$(awk -v a="$o" -v b="$r" 'BEGIN { if (a != "" && b != "") printf "%.3g", a - b }')
            echo "| NetRPC overhead, $link $mode: null call RTT − raw Trapeze RTT | $(orna "$ov") µs ($(orna "$o") − $(orna "$r")) | (reported) | — |"
        done
    done
    o=$(med nrpc shm.block.null.rtt.max_calls_64)
    r=$(med tpz shm.block.lat.96B.inline)
    ov=$(awk -v a="$o" -v b="$r" 'BEGIN { if (a != "" && b != "") printf "%.3g", a - b }')
    echo "| NetRPC overhead, shm block, with max_calls 64 instead of 16384 | $(orna "$ov") µs ($(orna "$o") − $(orna "$r")) | (reported) | — |"
    for w in "shm|" "shm|.copy" "tcp|"; do
        link=${w%%|*}
        local suf=${w#*|}
        v=$(worst_ratio "$link" "$suf")
        wr=${v%%$'\t'*} where=${v#*$'\t'}
        local base="tpz-perf bw (default path)"
        [[ $link == shm && -z $suf ]] && base="tpz-perf bw (frames handed over by index: zero-copy)"
        [[ -n $suf ]] && base="tpz-perf bw --copy (one copy, as a read)"
        echo "| read bw ≥ 95% of raw Trapeze bw with 8+ in flight, $link, vs $base | worst $(orna "$wr")${v:+ ($where)} | ≥ 0.95 | $(met "$wr" ge 0.95) |"
    done
    v=$(med nrpc shm.read.8KiB.k1.rtt)
    echo "| 8 KiB read RTT, shm, polling, 1 in flight | $(orna "$v") µs | ≤ 3 µs | $(met "$v" le 3) |"
    for k in 64 256; do
        v=$(med nrpc "shm.null.k$k.rate")
        echo "| null call rate, shm, polling, $k in flight | $(orna "$v") M calls/s | ≥ 2 M calls/s | $(met "$v" ge 2) |"
    done
}

rtt_table() {
    local link mode o r u
    echo "| link | mode | NetRPC null call | raw Trapeze 128-byte msg (96 B inline) | overhead | UCX ucp_am_lat 128 B |"
    echo "|---|---|---:|---:|---:|---:|"
    for link in shm tcp; do
        for mode in poll block; do
            o=$(med nrpc "$link.$mode.null.rtt")
            r=$(med tpz "$link.$mode.lat.96B.inline")
            u="—"
            [[ $mode == poll ]] && u=$(orna "$(med ucx "$([[ $link == shm ]] && echo posix || echo tcp).am_lat.128B")")
            echo "| $link | $mode | $(orna "$o") | $(orna "$r") | $(orna "$(awk -v a="$o" -v b="$r" 'BEGIN { if (a != "" && b != "") printf "%.3g", a - b }')") | $u |"
        done
    done
}

bw_table() {
    local link s n k raw rawc cells v
    echo "| link | size | raw GB/s | raw one-copy GB/s | read, 1 in flight | read, 8 in flight | read, 64 in flight |"
    echo "|---|---|---:|---:|---:|---:|---:|"
    for link in shm tcp; do
        for s in "${SIZES[@]}"; do
            n=$(szname "$s")
            raw=$(med tpz "$link.bw.$n")
            rawc="—"
            [[ $link == shm ]] && rawc=$(orna "$(med tpz "shm.bw.$n.copy")")
            cells=""
            for k in "${INFLIGHT[@]}"; do
                v=$(med nrpc "$link.read.$n.k$k")
                if [[ -z $v ]]; then
                    cells+=" n/a |"
                elif [[ $link == shm ]]; then
                    cells+=" $v ($(orna "$(ratio "$v" "$raw")") / $(orna "$(ratio "$v" "$(med tpz "shm.bw.$n.copy")")")) |"
                else
                    cells+=" $v ($(orna "$(ratio "$v" "$raw")")) |"
                fi
            done
            echo "| $link | $n | $(orna "$raw") | $rawc |$cells"
        done
    done
}

write_md() {
    local t_run=$1 nerr nfail
    nfail=$(awk -F'\t' 'NR > 1 && $2 == "check" && $3 ~ /^failed\./ { n++ } END { print n + 0 }' "$TSV")
    nerr=$(awk -F'\t' 'NR > 1 && $2 == "check" && $3 ~ /^errors\./ { n += $5 } END { print n + 0 }' "$TSV")
    {
        echo "# NetRPC benchmark: NetRPC against raw Trapeze and UCX"
        echo
        md_meta "$t_run" "$LOAD_BEFORE, after: $(cut -d' ' -f1-3 /proc/loadavg)" ucx-utils
        echo "- checks: $nfail failed run(s), $nerr error(s) reported by the tools (both must be 0;" \
             "the \`check\` rows below name them)"
        echo
        echo "Values are medians over the reps; each rep's value is the tool's own median"
        echo "over its timed batches (nrpc-perf, tpz-perf) or UCX's 50th percentile."
        echo "RTT in µs (UCX's one-way latency doubled); GB/s = 1e9 bytes/s."
        echo
        echo "## Goals"
        echo
        goal_table
        echo
        echo "## Round trip (µs)"
        echo
        rtt_table
        echo
        echo "## Read bandwidth (GB/s, and the fraction of raw)"
        echo
        echo "raw = \`tpz-perf --test bw --size N\` (one-way stream of pool-frame payloads;"
        echo "on shm the frames move by index, no byte is copied); raw one-copy ="
        echo "\`tpz-perf --test bw --size N --copy\` (shm only: ordinary memory, the engine copies"
        echo "it once - as a NetRPC read, whose reply the engine copies once into the caller's"
        echo "buffer). shm cells: GB/s (fraction of raw / fraction of raw one-copy); tcp: GB/s"
        echo "(fraction of raw)."
        echo
        bw_table
        echo
        md_every_figure
        echo
        echo "See \`bench/README.md\` (netrpc.sh) for what each figure measures."
    } >"$MD"
}

write_png() {
    local rtt=$LOGS/plot-rtt.dat bw=$LOGS/plot-bw.dat goals=$LOGS/plot-goals.dat link mode s n k raw v row
    have gnuplot || { log "WARN: gnuplot missing, no plot"; return 0; }
    : >"$rtt"
    for link in shm tcp; do
        for mode in poll block; do
            v=""
            [[ $mode == poll ]] && v=$(med ucx "$([[ $link == shm ]] && echo posix || echo tcp).am_lat.128B")
            printf '"%s %s"\t%s\t%s\t%s\n' "$link" "$mode" "$(med nrpc "$link.$mode.null.rtt")" \
                "$(med tpz "$link.$mode.lat.96B.inline")" "$v" |
                awk -F'\t' -v OFS='\t' '{ for (i = 2; i <= 4; i++) if ($i == "") $i = "?"; print }' >>"$rtt"
        done
    done
    : >"$bw"
    for link in shm tcp; do
        for s in "${SIZES[@]}"; do
            n=$(szname "$s")
            raw=$(med tpz "$link.bw.$n")
            row="\"$link $n\""
            for k in "${INFLIGHT[@]}"; do
                v=$(ratio "$(med nrpc "$link.read.$n.k$k")" "$raw")
                row+=$'\t'${v:-?}
            done
            if [[ $link == shm ]]; then
                for k in "${INFLIGHT[@]}"; do
                    v=$(ratio "$(med nrpc "$link.read.$n.k$k")" "$(med tpz "shm.bw.$n.copy")")
                    row+=$'\t'${v:-?}
                done
            else
                row+=$'\t?\t?\t?'
            fi
            echo "$row" >>"$bw"
        done
    done
    # goal factors: rates achieved/goal, latency goal/achieved, ratios /0.95
    : >"$goals"
    for k in 64 256; do
        v=$(med nrpc "shm.null.k$k.rate")
        printf '"null rate, %s in flight"\t%s\n' "$k" "$(awk -v v="$v" 'BEGIN { print v == "" ? "?" : v / 2 }')" >>"$goals"
    done
    v=$(med nrpc shm.read.8KiB.k1.rtt)
    printf '"8 KiB read RTT"\t%s\n' "$(awk -v v="$v" 'BEGIN { print (v == "" || v == 0) ? "?" : 3 / v }')" >>"$goals"
    for row in "shm|.copy|shm read bw vs one-copy" "shm||shm read bw vs zero-copy" "tcp||tcp read bw"; do
        IFS='|' read -r link s n <<<"$row"
        v=$(worst_ratio "$link" "$s")
        v=${v%%$'\t'*}
        printf '"%s (worst, 8+)"\t%s\n' "$n" "$(awk -v v="$v" 'BEGIN { print v == "" ? "?" : v / 0.95 }')" >>"$goals"
    done
    gnuplot >"$LOGS/gnuplot.log" 2>&1 <<EOF || log "WARN: gnuplot failed (see $LOGS/gnuplot.log)"
set terminal png size 1400,1000 font ",10" noenhanced
set output "$PNG"
set multiplot layout 2,2 title "NetRPC (nrpc-perf) vs raw Trapeze (tpz-perf) and UCX"
$GP_HISTOGRAMS
set datafile missing "?"
set grid ytics
set key top left
set title "Round trip, 1 in flight (µs, log scale; lower is better)"
set logscale y
set yrange [0.1:*]
plot "$rtt" using 2:xtic(1) title "NetRPC null call" lc rgb "#2b7bba", \
     "" using 3 title "raw Trapeze 128-byte msg" lc rgb "#7fbf7b", \
     "" using 4 title "UCX ucp_am_lat 128 B" lc rgb "#d95f02"
set title "Read bw / raw tpz-perf bw (default path; log scale)"
set xtics rotate by -20 left
set key below horizontal
set yrange [0.001:2]
plot "$bw" using 2:xtic(1) title "1 in flight" lc rgb "#a6cee3", \
     "" using 3 title "8 in flight" lc rgb "#1f78b4", \
     "" using 4 title "64 in flight" lc rgb "#08306b", \
     0.95 with lines dt 2 lc rgb "red" title "goal 0.95"
set title "shm read bw / raw tpz-perf bw --copy (one copy, as a read)"
unset logscale y
set yrange [0:1.3]
plot "< head -4 $bw" using 5:xtic(1) title "1 in flight" lc rgb "#a6cee3", \
     "" using 6 title "8 in flight" lc rgb "#1f78b4", \
     "" using 7 title "64 in flight" lc rgb "#08306b", \
     0.95 with lines dt 2 lc rgb "red" title "goal 0.95"
set title "Goals: achieved / goal (higher is better; 1 = just met)"
set logscale y
set yrange [0.01:*]
plot "$goals" using 2:xtic(1) title "achieved / goal" lc rgb "#2b7bba", \
     1 with lines dt 2 lc rgb "red" title "goal"
unset multiplot
EOF
}

# ---- main -------------------------------------------------------------------

mkdir -p "$OUT" "$LOGS"
rm -f "$LOGS"/*
install_peers ucx-utils gnuplot-nox
build_ours build/bin/nrpc-perf build/bin/tpz-perf
bench_run run_rtt run_ucx run_rate run_bw
