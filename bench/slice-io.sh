#!/usr/bin/env bash
# slice-io.sh: the Slice data path (libslice + slice-blockd, driven by
# slice-obj bench) against the machine's own ceilings, in one run.
#
#   bench/slice-io.sh [--quick] [-r REPS] [-o DIR] [-h]
#
#   --quick   a smoke run (~2 minutes): 256 MiB, 1 and 4 servers, 64 KiB and
#             1 MiB; scaling with 1 and 4 servers and 128 MiB
#   -r REPS   repetitions of the whole suite (default 1; every figure is
#             also repeated inside a rep, see below)
#   -o DIR    output directory (default bench/results)
#
# Measures, each next to its peer from the same run:
#   * one client's sequential read (data in the servers' caches) and write
#     bandwidth against 1, 2, 4 and 8 slice-blockd on loopback, over shm and
#     tcp, 1 GiB, 64 KiB / 256 KiB / 1 MiB calls (stripe unit 256 KiB); reads
#     keep 4 MiB in flight (64, 16, 4 calls).  Peers: memcpy-bw (one thread's
#     memcpy from DRAM, GBps and GBps_dram) for shm; an iperf3 loopback
#     stream for tcp.
#   * scaling: N = 1, 2, 4, 8 servers, each in its own network namespace
#     behind a veth pair limited to 1 Gbit/s each way (tc tbf), the client
#     in the root namespace (its side unlimited): aggregate read bandwidth
#     (512 MiB, 1 MiB calls, 8 in flight).  Peers: N x the link rate, and
#     one iperf3 stream through one such link (the real ceiling).
#   * 4 KiB random reads, 4 servers, cached, shm and tcp: latency (p50,
#     p99) at queue depth 1 and IOPS at queue depth 16.  Peer: blockd-raw's
#     raw NetRPC cache hits against one slice-blockd (no striping client).
#
# Every slice-blockd runs on CPU $TPZ_CPU_SERVER (0), slice-obj and the other
# clients on CPU $TPZ_CPU_CLIENT (1); daemons run with their default spin.
# Each read figure is the median of reps 2..4 of the read inside one
# slice-obj process (rep 1 also maps the shared pool into the new process);
# writes include the final commit (fdatasync on /tmp's disk).  Data
# directories live under /tmp/slice-io-PID and are removed; namespaces are
# named sio*-PID and removed on exit.
#
# Writes DIR/slice-io.tsv (every value: rep group metric unit value),
# DIR/slice-io.md (goal table, matrices, method), DIR/slice-io.png and every
# tool's output under DIR/slice-io-logs/.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$HERE/lib.sh"
bench_init slice-io 1 "$@"

PORT_BASE=${SLICE_IO_PORT_BASE:-24700}   # loopback ports used: base .. base+49 (iperf3)
BLOCKD=$ROOT/build/bin/slice-blockd
OBJ=$ROOT/build/bin/slice-obj
MEMCPY=$ROOT/build/bench/memcpy-bw
RAW=$ROOT/build/bench/blockd-raw
port=$PORT_BASE

NSRV=(1 2 4 8)
BSS=(65536 262144 1048576)
TOTAL=$((1 << 30))
SCALE_TOTAL=$((512 << 20))
RAND_SECS=2
LINK_MBIT=1000                      # tbf rate of each server's link
if ((QUICK)); then
    NSRV=(1 4)
    BSS=(65536 1048576)
    TOTAL=$((256 << 20))
    SCALE_TOTAL=$((128 << 20))
    RAND_SECS=1
fi
INFLIGHT=$((4 << 20))               # bytes of reads in flight (loopback)
POOL_FRAMES=65536                   # 4 GiB of 64 KiB frames: every cache fits
WORK=/tmp/slice-io-$$
TAG=$$
FAB_SEQ=0

szname() { case $1 in 65536) echo 64KiB ;; 262144) echo 256KiB ;; 1048576) echo 1MiB ;; 4096) echo 4KiB ;; *) echo "${1}B" ;; esac; }

# ---- block servers -------------------------------------------------------------

SRV_ARGS=()        # --server NODE=URL ... for slice-obj
SRV_PIDS=()

# wait_ready FILE PID: until FILE holds slice-blockd's ready line (10 s)
wait_ready() {
    local i
    for ((i = 0; i < 200; i++)); do
        grep -q '^ready ' "$1" 2>/dev/null && return 0
        kill -0 "$2" 2>/dev/null || return 1
        sleep 0.05
    done
    return 1
}

# cluster_start LINK N: N slice-blockd on loopback (nodes 2..N+1), caches
# sized for TOTAL/N plus 64 MiB; on shm the first one creates the fabric
# with a pool that holds every cache.  Fails if one does not start.
cluster_start() {
    local link=$1 n=$2 i node cache pid out fab
    cache=$((TOTAL / n / 1048576 + 64))
    FAB_SEQ=$((FAB_SEQ + 1))
    fab=sliceio-$TAG-$FAB_SEQ
    SRV_ARGS=() SRV_PIDS=()
    OBJ_LINK=()
    [[ $link == shm ]] && OBJ_LINK=(--fabric "$fab")
    [[ $link == tcp ]] && OBJ_LINK=(--secret-file "$WORK/secret")
    for ((i = 0; i < n; i++)); do
        node=$((i + 2))
        out=$LOGS/blockd-$link-n$n-$node-r$REP
        local a=(--node "$node" --data "$WORK/$link-$n-$node" --cache-mb "$cache")
        if [[ $link == shm ]]; then
            a+=(--listen shm --fabric "$fab" --pool-frames "$POOL_FRAMES")
        else
            a+=(--listen tcp://127.0.0.1:0 --secret-file "$WORK/secret")
        fi
        taskset -c "$CPU_S" "$BLOCKD" "${a[@]}" >"$out.ready" 2>"$out.log" &
        pid=$!
        BG_PIDS+=("$pid")
        SRV_PIDS+=("$pid")
        wait_ready "$out.ready" "$pid" || { log "WARN: slice-blockd $node ($link) did not start (see $out.log)"; return 1; }
        if [[ $link == shm ]]; then
            SRV_ARGS+=(--server "$node=shm")
            grep -q "cache in [0-9]* frames" "$out.log" ||
                { log "WARN: slice-blockd $node: cache not in the fabric's frames"; emit check "cache_private.$link.n$n" count 1; }
        else
            SRV_ARGS+=(--server "$node=tcp://127.0.0.1:$(sed -n 's/^ready node=[0-9]* tcp=//p' "$out.ready")")
        fi
    done
}

cluster_stop() {
    local p
    for p in "${SRV_PIDS[@]}"; do stop_bg "$p"; done
    SRV_PIDS=()
    rm -rf "${WORK:?}"/shm-* "${WORK:?}"/tcp-*
}

# sobj LOGF ARGS...: slice-obj on CPU_C with the cluster's servers; its JSON
# lines are appended to LOGF
sobj() {
    local logf=$1
    shift
    timeout 300 taskset -c "$CPU_C" "$OBJ" "${OBJ_LINK[@]}" --node 1 "${SRV_ARGS[@]}" "$@" >>"$logf" 2>>"$logf.err"
}

# jlines LOGF PHASE KEY: KEY of each JSON line of PHASE with rep >= 2
jlines() { grep "\"phase\":\"$2\"" "$1" | grep -v '"rep":1,' | jget_all "$3"; }
jget_all() { while IFS= read -r l; do jget "$1" <<<"$l"; done; }
# emit_all GROUP METRIC UNIT < values
emit_all() { local v; while read -r v; do emit "$1" "$2" "$3" "$v"; done; }

# bench_errors LOGF: the slice-obj stamp check must find nothing wrong
bench_errors() {
    local bad
    bad=$(grep -o '"errors":[0-9]*' "$1" | cut -d: -f2 | awk '{ s += $1 } END { print s + 0 }')
    ((bad == 0)) || { log "WARN: $bad wrong blocks read (see $1)"; emit check "errors.$2" count "$bad"; }
}

# ---- the loopback matrix -----------------------------------------------------

loop_one() {
    local link=$1 n=$2 bs name qd logf reps=4
    logf=$LOGS/obj-$link-n$n-r$REP
    : >"$logf"
    log "$link, $n server(s)"
    cluster_start "$link" "$n" || { cluster_stop; emit check "failed.$link.n$n" count 1; return 0; }
    local B=(bench 7 --bench-total "$TOTAL")
    for bs in "${BSS[@]}"; do   # the last write (1 MiB) leaves the object
        if ! sobj "$logf" "${B[@]}" --bench-what write --bench-bs "$bs"; then
            log "WARN: write failed: $(tail -1 "$logf.err") (see $logf.err)"
            emit check "failed.$link.n$n.write.$(szname "$bs")" count 1
            continue
        fi
        grep '"phase":"write"' "$logf" | tail -1 | jget GBps | emit_all slice "$link.write.n$n.$(szname "$bs")" GB/s
    done
    # The first read fills the servers' caches from the page cache.
    sobj "$logf.fill" "${B[@]}" --bench-what read --bench-bs 1048576 --bench-qd 4 &&
        emit slice "$link.read_fill.n$n" GB/s "$(jget GBps <"$logf.fill")"
    for bs in "${BSS[@]}"; do
        name=$(szname "$bs")
        qd=$((INFLIGHT / bs))
        sobj "$logf.read-$name" "${B[@]}" --bench-what read --bench-bs "$bs" --bench-qd "$qd" \
            --bench-reps $reps || { log "WARN: read failed (see $logf.read-$name.err)"; emit check "failed.$link.n$n.read.$name" count 1; }
        jlines "$logf.read-$name" read GBps | emit_all slice "$link.read.n$n.$name" GB/s
        bench_errors "$logf.read-$name" "$link.n$n.read.$name"
    done
    # One slice_read after the other (read-ahead 8 stripe units), 1 MiB.
    sobj "$logf.read-sync" "${B[@]}" --bench-what read --bench-bs 1048576 --bench-qd 1 --bench-reps $reps &&
        jlines "$logf.read-sync" read GBps | emit_all slice "$link.read_sync.n$n.1MiB" GB/s
    if ((n == 4)); then
        local q
        for q in 1 16; do
            sobj "$logf.rand-qd$q" "${B[@]}" --bench-what rand --bench-bs 4096 --bench-qd $q \
                --bench-seconds $RAND_SECS --bench-reps $reps || { emit check "failed.$link.rand.qd$q" count 1; continue; }
            jlines "$logf.rand-qd$q" randread iops | emit_all slice "$link.rand4k.qd$q.iops" IOPS
            jlines "$logf.rand-qd$q" randread lat_us_p50 | emit_all slice "$link.rand4k.qd$q.p50" us
            jlines "$logf.rand-qd$q" randread lat_us_p99 | emit_all slice "$link.rand4k.qd$q.p99" us
            bench_errors "$logf.rand-qd$q" "$link.rand.qd$q"
        done
    fi
    cluster_stop
}

run_loopback() {
    local link n
    for link in shm tcp; do
        for n in "${NSRV[@]}"; do loop_one "$link" "$n"; done
    done
}

# ---- peers ----------------------------------------------------------------------

run_memcpy() {
    local logf=$LOGS/memcpy-r$REP
    timeout 120 taskset -c "$CPU_C" "$MEMCPY" 1024 1024 3 >"$logf" 2>&1 ||
        { log "WARN: memcpy-bw failed"; return 0; }
    emit memcpy GBps GB/s "$(jget GBps <"$logf")"
    emit memcpy GBps_dram GB/s "$(jget GBps_dram <"$logf")"
}

# iperf3_gbps LOGF: the receiver's rate in GB/s
iperf3_gbps() {
    grep -E 'receiver$' "$1" | tail -1 | awk '{ for (i = 1; i <= NF; i++) if ($i ~ /bits\/sec$/) {
        v = $(i - 1); if ($i == "Mbits/sec") v /= 1000; printf "%.4g", v / 8; exit } }'
}

run_iperf3_lo() {
    local t=3 logf spid
    have iperf3 || { log "WARN: iperf3 missing"; return 0; }
    ((QUICK)) && t=2
    logf=$LOGS/iperf3-lo-r$REP
    next_port
    start_bg "$logf.server" timeout 60 taskset -c "$CPU_S" iperf3 -s -1 -B 127.0.0.1 -p "$port"
    spid=$BG_PID
    wait_listen "$port"
    timeout $((t + 30)) taskset -c "$CPU_C" iperf3 -c 127.0.0.1 -p "$port" -t "$t" -f m >"$logf" 2>&1 ||
        log "WARN: iperf3 failed (see $logf)"
    stop_bg "$spid"
    emit iperf3 loopback.1stream GB/s "$(iperf3_gbps "$logf")"
}

run_raw() {
    local link q logf
    for link in shm tcp; do
        for q in 1 16; do
            logf=$LOGS/blockd-raw-$link-qd$q-r$REP
            timeout 120 "$RAW" --link $link --size 4096 --qd $q --secs $RAND_SECS --phase read_hit \
                --obj-mb 64 --cpu-server "$CPU_S" --cpu-client "$CPU_C" >"$logf" 2>"$logf.err" ||
                { log "WARN: blockd-raw failed (see $logf.err)"; continue; }
            emit raw "$link.read_hit4k.qd$q.iops" IOPS "$(grep read_hit "$logf" | jget iops)"
            emit raw "$link.read_hit4k.qd$q.lat_mean" us "$(grep read_hit "$logf" | jget lat_us_mean)"
        done
    done
}

# ---- scaling: servers behind 1 Gbit/s links ---------------------------------------

NS_MADE=()
ns_name() { echo "sio$1-$TAG"; }
ns_addr() { echo "10.$((200 + TAG % 50)).$1.2"; }

ns_cleanup() {
    local i
    for i in "${NS_MADE[@]}"; do
        ip link del "sior$i-$TAG" 2>/dev/null
        ip netns del "$(ns_name "$i")" 2>/dev/null
    done
    NS_MADE=()
}

# ns_setup N: namespaces 1..N, each joined by a veth pair with tbf at
# LINK_MBIT on both ends
ns_setup() {
    local n=$1 i ns vr vn tbf
    tbf=(tbf rate "${LINK_MBIT}mbit" burst 256kb latency 10ms)
    for ((i = 1; i <= n; i++)); do
        ns=$(ns_name $i) vr=sior$i-$TAG vn=sion$i-$TAG
        ip netns add "$ns" || return 1
        NS_MADE+=("$i")
        ip link add "$vr" type veth peer name "$vn" &&
            ip link set "$vn" netns "$ns" &&
            ip addr add "10.$((200 + TAG % 50)).$i.1/24" dev "$vr" &&
            ip -n "$ns" addr add "$(ns_addr $i)/24" dev "$vn" &&
            ip link set "$vr" up && ip -n "$ns" link set "$vn" up && ip -n "$ns" link set lo up &&
            tc qdisc add dev "$vr" root "${tbf[@]}" &&
            ip netns exec "$ns" tc qdisc add dev "$vn" root "${tbf[@]}" || return 1
    done
}

run_scaling() {
    local n i pid out logf t=3 maxn=${NSRV[-1]}
    command -v ip >/dev/null && command -v tc >/dev/null || { log "WARN: no ip/tc: no scaling rows"; return 0; }
    ((QUICK)) && t=2
    if ! ns_setup "$maxn"; then
        log "WARN: cannot make network namespaces with tbf links: no scaling rows"
        ns_cleanup
        return 0
    fi
    # The real ceiling: one TCP stream from namespace 1 through its link.
    logf=$LOGS/iperf3-link-r$REP
    start_bg "$logf.server" timeout 60 taskset -c "$CPU_S" ip netns exec "$(ns_name 1)" iperf3 -s -1 -B "$(ns_addr 1)" -p 5201
    pid=$BG_PID
    sleep 0.5
    timeout $((t + 30)) taskset -c "$CPU_C" iperf3 -c "$(ns_addr 1)" -p 5201 -R -t "$t" -f m >"$logf" 2>&1 ||
        log "WARN: iperf3 through the link failed (see $logf)"
    stop_bg "$pid"
    emit iperf3 link.1stream GB/s "$(iperf3_gbps "$logf")"
    for n in "${NSRV[@]}"; do
        log "scaling: $n server(s) behind ${LINK_MBIT} Mbit/s links"
        SRV_ARGS=() SRV_PIDS=() OBJ_LINK=(--secret-file "$WORK/secret")
        for ((i = 1; i <= n; i++)); do
            out=$LOGS/blockd-scale-n$n-$i-r$REP
            taskset -c "$CPU_S" ip netns exec "$(ns_name $i)" "$BLOCKD" --node $((i + 1)) \
                --data "$WORK/tcp-scale-$i" --cache-mb $((SCALE_TOTAL / n / 1048576 + 64)) \
                --listen "tcp://$(ns_addr $i):7400" --secret-file "$WORK/secret" >"$out.ready" 2>"$out.log" &
            pid=$!
            BG_PIDS+=("$pid")
            SRV_PIDS+=("$pid")
            wait_ready "$out.ready" "$pid" || { log "WARN: slice-blockd in $(ns_name $i) did not start"; break; }
            SRV_ARGS+=(--server "$((i + 1))=tcp://$(ns_addr $i):7400")
        done
        logf=$LOGS/obj-scale-n$n-r$REP
        : >"$logf"
        # Calls wait behind megabytes queued for a slow link, and a lost
        # segment there costs TCP retransmission timeouts: 10 s per call.
        if ((${#SRV_ARGS[@]} == 2 * n)); then
            if sobj "$logf" -v --timeout-ms 10000 bench 7 --bench-total "$SCALE_TOTAL" --bench-bs 1048576 \
                --bench-what write; then
                emit slice "scale.write.n$n" GB/s "$(grep '"phase":"write"' "$logf" | jget GBps)"
                sobj "$logf" -v --timeout-ms 10000 bench 7 --bench-total "$SCALE_TOTAL" --bench-bs 1048576 \
                    --bench-what read --bench-qd 8 --bench-reps 3 || emit check "failed.scale.n$n" count 1
                jlines "$logf" read GBps | emit_all slice "scale.read.n$n" GB/s
                bench_errors "$logf" "scale.n$n"
            else
                log "WARN: scaling write with $n server(s) failed: $(tail -1 "$logf.err") (see $logf.err)"
                emit check "failed.scale.n$n.write" count 1
            fi
        else
            emit check "failed.scale.n$n" count 1
        fi
        cluster_stop
    done
    ns_cleanup
}

# ---- report -------------------------------------------------------------------------

orna() { [[ -n $1 ]] && echo "$1" || echo "n/a"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a != "" && b != "" && b > 0) printf "%.3g", a / b }'; }
mul() { awk -v a="$1" -v b="$2" 'BEGIN { if (a != "" && b != "") printf "%.4g", a * b }'; }
met() { awk -v v="$1" -v g="$2" 'BEGIN { if (v == "" || g == "") print "n/a"; else print (v + 0 >= g + 0) ? "yes" : "**no**" }'; }

goal_table() {
    local n v g dram raw link
    dram=$(med memcpy GBps_dram)
    g=$(mul "$dram" 0.7)
    echo "| goal | measured | peer (same run) | target | met? |"
    echo "|---|---:|---|---:|---|"
    for n in "${NSRV[@]}"; do
        v=$(med slice "shm.read.n$n.1MiB")
        echo "| shm read, cached, $n server(s), 1 MiB calls × 4 in flight | $(orna "$v") GB/s | memcpy from DRAM $(orna "$dram") GB/s (in-cache destination $(orna "$(med memcpy GBps)")) | ≥ 0.7 × memcpy = $(orna "$g") GB/s | $(met "$v" "$g") |"
    done
    raw=$(med iperf3 link.1stream)
    for n in "${NSRV[@]}"; do
        v=$(med slice "scale.read.n$n")
        g=$(awk -v n="$n" -v r="$LINK_MBIT" 'BEGIN { printf "%.4g", 0.9 * n * r / 8000 }')
        echo "| scaling: aggregate read, $n server(s) behind ${LINK_MBIT} Mbit/s links | $(orna "$v") GB/s | $n × link = $(awk -v n="$n" -v r="$LINK_MBIT" 'BEGIN { printf "%.4g", n * r / 8000 }') GB/s; $n × one iperf3 stream = $(orna "$(mul "$raw" "$n")") GB/s | ≥ 0.9 × $n × link = $g GB/s | $(met "$v" "$g") |"
    done
    for link in shm tcp; do
        echo "| 4 KiB random read, $link, 4 servers, qd 1: p50 / p99 latency | $(orna "$(med slice "$link.rand4k.qd1.p50")") / $(orna "$(med slice "$link.rand4k.qd1.p99")") µs | raw NetRPC hit, 1 server: mean $(orna "$(med raw "$link.read_hit4k.qd1.lat_mean")") µs | (reported) | — |"
        echo "| 4 KiB random read, $link, 4 servers, qd 16: IOPS (p50 / p99) | $(orna "$(med slice "$link.rand4k.qd16.iops")") ($(orna "$(med slice "$link.rand4k.qd16.p50")") / $(orna "$(med slice "$link.rand4k.qd16.p99")") µs) | raw NetRPC hits, 1 server: $(orna "$(med raw "$link.read_hit4k.qd16.iops")") IOPS | (reported) | — |"
    done
}

# matrix KIND LINK: GB/s by servers (rows) and call size (columns)
matrix() {
    local kind=$1 link=$2 n bs row
    row="| servers |"
    for bs in "${BSS[@]}"; do row+=" $(szname "$bs") |"; done
    echo "$row"
    row="|---:|"
    for bs in "${BSS[@]}"; do row+="---:|"; done
    echo "$row"
    for n in "${NSRV[@]}"; do
        row="| $n |"
        for bs in "${BSS[@]}"; do row+=" $(orna "$(med slice "$link.$kind.n$n.$(szname "$bs")")") |"; done
        echo "$row"
    done
}

write_md() {
    local t_run=$1 nfail nerr n
    nfail=$(awk -F'\t' 'NR > 1 && $2 == "check" { n++ } END { print n + 0 }' "$TSV")
    nerr=$(awk -F'\t' 'NR > 1 && $2 == "check" && $3 ~ /^errors\./ { n += $5 } END { print n + 0 }' "$TSV")
    {
        echo "# Slice data path: one client against 1-8 block servers"
        echo
        md_meta "$t_run" "$LOAD_BEFORE, after: $(cut -d' ' -f1-3 /proc/loadavg)" iperf3
        echo "- checks: $nfail check row(s), $nerr wrong block(s) read (both must be 0; see the \`check\` rows)"
        echo
        echo "GB/s = 1e9 bytes/s. Values are medians (n, min and max in the last section)."
        echo
        echo "## Goals"
        echo
        goal_table
        echo
        echo "## Sequential read, cached, shm (GB/s; 4 MiB of reads in flight)"
        echo
        matrix read shm
        echo
        echo "memcpy-bw, one thread, same run: $(orna "$(med memcpy GBps_dram)") GB/s into DRAM, $(orna "$(med memcpy GBps)") GB/s into a buffer that stays in the cache (a reader reusing its buffers is closer to this one)."
        echo
        echo "## Sequential read, cached, tcp loopback (GB/s; 4 MiB of reads in flight)"
        echo
        matrix read tcp
        echo
        echo "iperf3, one TCP stream on 127.0.0.1, same pinning: $(orna "$(med iperf3 loopback.1stream)") GB/s."
        echo
        echo "## Sequential write (GB/s, write-behind, including the final commit)"
        echo
        echo "shm:"
        echo
        matrix write shm
        echo
        echo "tcp:"
        echo
        matrix write tcp
        echo
        echo "## Other reads (GB/s, 1 MiB calls)"
        echo
        echo "| servers | shm, one slice_read after the other (read-ahead 8) | tcp, same | shm, first read (from the page cache) | tcp, same |"
        echo "|---:|---:|---:|---:|---:|"
        for n in "${NSRV[@]}"; do
            echo "| $n | $(orna "$(med slice "shm.read_sync.n$n.1MiB")") | $(orna "$(med slice "tcp.read_sync.n$n.1MiB")") | $(orna "$(med slice "shm.read_fill.n$n")") | $(orna "$(med slice "tcp.read_fill.n$n")") |"
        done
        echo
        echo "## Scaling: each server behind its own ${LINK_MBIT} Mbit/s link (tc tbf)"
        echo
        echo "| servers | aggregate read GB/s | per server | of N × link | write GB/s |"
        echo "|---:|---:|---:|---:|---:|"
        for n in "${NSRV[@]}"; do
            local v
            v=$(med slice "scale.read.n$n")
            echo "| $n | $(orna "$v") | $(orna "$(ratio "$v" "$n")") | $(orna "$(ratio "$v" "$(awk -v n="$n" -v r="$LINK_MBIT" 'BEGIN { print n * r / 8000 }')")") | $(orna "$(med slice "scale.write.n$n")") |"
        done
        echo
        echo "One iperf3 stream through one link (server in the namespace sending): $(orna "$(med iperf3 link.1stream)") GB/s (the link's nominal rate: $(awk -v r="$LINK_MBIT" 'BEGIN { print r / 8000 }') GB/s)."
        echo
        echo "## 4 KiB random reads, 4 servers, cached"
        echo
        echo "| link | qd | IOPS | p50 µs | p99 µs | raw NetRPC hits (1 server): IOPS / mean µs |"
        echo "|---|---:|---:|---:|---:|---:|"
        for link in shm tcp; do
            for n in 1 16; do
                echo "| $link | $n | $(orna "$(med slice "$link.rand4k.qd$n.iops")") | $(orna "$(med slice "$link.rand4k.qd$n.p50")") | $(orna "$(med slice "$link.rand4k.qd$n.p99")") | $(orna "$(med raw "$link.read_hit4k.qd$n.iops")") / $(orna "$(med raw "$link.read_hit4k.qd$n.lat_mean")") |"
            done
        done
        echo
        echo "## Method"
        echo
        echo "- \`slice-obj bench\` (src/slice-obj/bench.c) is the client: one process, one thread, node 1,"
        echo "  on CPU $CPU_C; every \`slice-blockd\` (cache sized to its share of the data + 64 MiB) on CPU $CPU_S."
        echo "  Stripe unit 256 KiB; the object is striped over all N servers."
        echo "- shm: the first server creates the fabric with $POOL_FRAMES frames of 64 KiB, so every cache fits in"
        echo "  the pool and hits are lent (the client copies them once, with memcpy, out of shared memory);"
        echo "  a \`cache_private\` check row says a server fell back to private memory."
        echo "- Reads: \`--bench-qd\` reads in flight (slice_read_start/_end), $(szname 1048576) × 4, 256 KiB × 16 or"
        echo "  64 KiB × 64 = 4 MiB; each figure is the median of reps 2-4 of four reads of the whole object"
        echo "  in one process (rep 1 also maps the pool's pages into the new process; it is not used)."
        echo "  Every 4 KiB read is checked against the offset written into it (wrong blocks: check rows)."
        echo "- Writes: write-behind of the whole object, then slice_close (commit: fdatasync on every server,"
        echo "  data directories on /tmp, the VM's disk)."
        echo "- Random reads: one thread keeps qd reads in flight; latency from start to the moment the end is"
        echo "  collected; $RAND_SECS s per rep."
        echo "- Scaling: N namespaces, veth pairs with \`tc qdisc ... tbf rate ${LINK_MBIT}mbit burst 256kb latency 10ms\`"
        echo "  on both ends; slice-blockd in namespace i on 10.x.i.2 over tcp; the client in the root namespace"
        echo "  reads $((SCALE_TOTAL >> 20)) MiB in 1 MiB calls, 8 in flight (per-call timeout 10 s: calls wait behind"
        echo "  megabytes queued for a slow link, and a segment the link drops costs TCP retransmission timeouts)."
        echo "- The machine is a 2-vCPU VM shared with other work: see the load line above and the min/max"
        echo "  columns below; -r 3 for decisions."
        echo
        md_every_figure
    } >"$MD"
}

write_png() {
    local d=$LOGS/plot link n v
    have gnuplot || { log "WARN: gnuplot missing, no plot"; return 0; }
    for link in shm tcp; do
        : >"$d-$link.dat"
        for n in "${NSRV[@]}"; do
            local row="$n"
            local bs
            for bs in 65536 262144 1048576; do
                v=$(med slice "$link.read.n$n.$(szname "$bs")")
                row+=$'\t'${v:-?}
            done
            echo "$row" >>"$d-$link.dat"
        done
    done
    : >"$d-scale.dat"
    for n in "${NSRV[@]}"; do
        v=$(med slice "scale.read.n$n")
        printf '%s\t%s\t%s\n' "$n" "${v:-?}" "$(awk -v n="$n" -v r="$LINK_MBIT" 'BEGIN { print 0.9 * n * r / 8000 }')" >>"$d-scale.dat"
    done
    : >"$d-rand.dat"
    for link in shm tcp; do
        for n in 1 16; do
            printf '"%s qd %s"\t%s\t%s\n' "$link" "$n" "$(orna "$(med slice "$link.rand4k.qd$n.p50")")" \
                "$(orna "$(med slice "$link.rand4k.qd$n.p99")")" | sed 's/n\/a/?/g' >>"$d-rand.dat"
        done
    done
    local mc lo
    mc=$(med memcpy GBps_dram) lo=$(med iperf3 loopback.1stream)
    gnuplot >"$LOGS/gnuplot.log" 2>&1 <<EOF || log "WARN: gnuplot failed (see $LOGS/gnuplot.log)"
set terminal png size 1400,1000 font ",10" noenhanced
set output "$PNG"
set multiplot layout 2,2 title "Slice data path: slice-obj against 1-8 slice-blockd (2 vCPUs)"
set datafile missing "?"
set grid ytics
set ylabel "GB/s"
set xtics (1, 2, 4, 8)
set logscale x 2
set xrange [0.8:10]
set key below
set bmargin 6
set title "Cached sequential read over shm, by block servers (4 MiB in flight)"
plot "$d-shm.dat" using 1:2 with linespoints title "64 KiB calls", \
     "" using 1:3 with linespoints title "256 KiB", \
     "" using 1:4 with linespoints title "1 MiB", \
     ${mc:-0} * 0.7 with lines dt 2 lc rgb "red" title "0.7 x memcpy from DRAM (goal)", \
     ${mc:-0} with lines dt 3 lc rgb "gray" title "memcpy from DRAM"
set title "Cached sequential read over tcp loopback, by block servers (4 MiB in flight)"
plot "$d-tcp.dat" using 1:2 with linespoints title "64 KiB calls", \
     "" using 1:3 with linespoints title "256 KiB", \
     "" using 1:4 with linespoints title "1 MiB", \
     ${lo:-0} with lines dt 3 lc rgb "gray" title "iperf3 loopback, one stream"
set title "Scaling: aggregate read by block servers, each behind ${LINK_MBIT} Mbit/s"
plot "$d-scale.dat" using 1:2 with linespoints lw 2 title "slice-obj read (1 MiB x 8)", \
     "" using 1:3 with lines dt 2 lc rgb "red" title "goal: 0.9 x N x link"
unset logscale x
set autoscale x
set xtics auto
set title "4 KiB random read latency, 4 servers, cached (us, log scale)"
set logscale y
set yrange [1:10000]
set ylabel "us"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set boxwidth 0.9
plot "$d-rand.dat" using 2:xtic(1) title "p50" lc rgb "#2b7bba", \
     "" using 3 title "p99" lc rgb "#d95f02"
unset multiplot
EOF
}

# ---- main ------------------------------------------------------------------------

cleanup_all() {
    stop_all_bg
    ns_cleanup
    rm -rf "$WORK"
    rm -f /dev/shm/tpz-sliceio-"$TAG"-* 2>/dev/null
}
trap cleanup_all EXIT

# SLICE_IO_PLOT_ONLY=1: redraw the plot from an existing TSV, measure nothing.
if [[ -n ${SLICE_IO_PLOT_ONLY:-} ]]; then
    mkdir -p "$LOGS"
    write_png
    exit 0
fi
mkdir -p "$OUT" "$LOGS" "$WORK"
rm -f "$LOGS"/*
printf 'slice-io-bench-%s\n' "$TAG" >"$WORK/secret"
chmod 600 "$WORK/secret"
install_peers iperf3 gnuplot-nox
build_ours build/bin/slice-blockd build/bin/slice-obj build/bench/memcpy-bw build/bench/blockd-raw
bench_run run_memcpy run_iperf3_lo run_raw run_loopback run_scaling
