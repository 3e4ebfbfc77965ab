#!/usr/bin/env bash
# trapeze-ip.sh: TCP/IP through tpz-ipd against a veth pair and a plain TUN relay, in one run.
#
#   bench/trapeze-ip.sh [--quick] [-r REPS] [-o DIR] [-h]
#
#   --quick   short runs, 1 rep unless -r is given (a smoke test, ~2 minutes)
#   -r REPS   repetitions of the whole suite (default 3, about 3 minutes each);
#             reps are interleaved (every path once, then again) so drifts of
#             a shared machine hit ours and the baselines alike
#   -o DIR    output directory (default bench/results)
#
# Two network namespaces per path, joined four ways:
#   veth    a veth pair (the kernel's own path: no user space at all)
#   relay   build/bin/tip-relay: one TUN in each namespace and a process
#           copying packets between them (no Trapeze: the floor to beat)
#   shm     two tpz-ipd, interfaces in the namespaces, one shm fabric
#   tcp     two tpz-ipd inside the namespaces, Trapeze's tcp link over a
#           veth pair between them (hosts joined by a wire)
# and, for reference, iperf3 over loopback in our namespace.  Every path
# carries the same offloads and the same MTU (65535, except in the sweep).
#
# Per path and rep: iperf3 one TCP stream and four streams (receiver
# Gbit/s); the CPU it took (iperf3's own client + server figures, plus the
# relay or daemons from /proc/PID/stat) per Gbit/s; sockperf TCP ping-pong
# of 64-byte messages (50th percentile round trip); an MTU sweep (1500,
# 9000, 16384; 65535 is the main run) of one stream.  And a tuning sweep of
# tpz-ipd's --spin-us/--tx-spin-us (shm path) that justifies the defaults.
# The relay polls with tpz-ipd's default spin, so the floor gets the same
# policy; relay0 is the relay that never spins.
#
# Every iperf3/sockperf server runs on CPU $TPZ_CPU_SERVER (0), every client
# on CPU $TPZ_CPU_CLIENT (1); each tpz-ipd runs on its side's CPU (--cpus:
# node 1 with the client, node 2 with the server, as a host's daemon shares
# that host's CPUs), the relay is not pinned (it serves both sides).  Needs root
# (namespaces, TUN).  Writes DIR/trapeze-ip.tsv (rep group metric unit
# value), DIR/trapeze-ip.md (goal table and every median), DIR/trapeze-ip.png
# and every tool's output under DIR/trapeze-ip-logs/.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$HERE/lib.sh"
bench_init trapeze-ip 3 "$@"

IPD=$ROOT/build/bin/tpz-ipd
RELAY=$ROOT/build/bin/tip-relay
TAG=$$
PATHS=(veth relay relay0 shm tcp)
MTUS=(1500 9000 16384)
DEF_SPIN=(50 50)                 # tpz-ipd's defaults: --spin-us, --tx-spin-us
# Tuning sweep: --spin-us, --tx-spin-us, and whether each daemon is pinned to
# the CPU of its side's application (pin) or runs anywhere (free).
SPINS=("0 0 pin" "20 20 pin" "50 50 pin" "200 200 pin" "0 0 free" "50 50 free")
T_BW=5; T_MTU=3; T_RR=3
((QUICK)) && { T_BW=2; T_MTU=1; T_RR=1; }
PORT=5301
CLK_TCK=$(getconf CLK_TCK)

# ---- the paths ------------------------------------------------------------------

NSES=()
LINKS=()
declare -A NSA NSB DEVA DEVB ADDR PIDS

cleanup() {
    stop_all_bg
    local n
    for n in "${NSES[@]}"; do ip netns del "$n" 2>/dev/null; done
    for n in "${LINKS[@]}"; do ip link del "$n" 2>/dev/null; done
    rm -f "/dev/shm/tpz-tipbench$TAG"
}
trap cleanup EXIT

netns() { ip netns add "$1" && NSES+=("$1") && ip -n "$1" link set lo up; }

# veth_pair NS_A NS_B DEV_A DEV_B NET: a veth pair NET.1 <-> NET.2 (/24)
veth_pair() {
    ip link add "$3" type veth peer name "$4" && LINKS+=("$3") &&
        ip link set "$3" netns "$1" && ip link set "$4" netns "$2" &&
        ip -n "$1" addr add "$5.1/24" dev "$3" && ip -n "$2" addr add "$5.2/24" dev "$4" &&
        ip -n "$1" link set "$3" up && ip -n "$2" link set "$4" up
}

path_ns() { # PATH: its two namespaces
    NSA[$1]=tb-$1-a-$TAG
    NSB[$1]=tb-$1-b-$TAG
    netns "${NSA[$1]}" && netns "${NSB[$1]}"
}

setup_veth() {
    path_ns veth || return 1
    DEVA[veth]=tbva$TAG; DEVB[veth]=tbvb$TAG; ADDR[veth]=10.81.0.2
    veth_pair "${NSA[veth]}" "${NSB[veth]}" "${DEVA[veth]}" "${DEVB[veth]}" 10.81.0
}

# start_relay PATH NET SPIN
start_relay() {
    local p=$1 net=$2 spin=$3 i
    start_bg "$LOGS/relay-$p.log" "$RELAY" --netns-a "${NSA[$p]}" --netns-b "${NSB[$p]}" --spin-us "$spin"
    PIDS[$p]=$BG_PID
    for ((i = 0; i < 100; i++)); do grep -q ready "$LOGS/relay-$p.log" 2>/dev/null && break; sleep 0.05; done
    DEVA[$p]=tra0; DEVB[$p]=trb0; ADDR[$p]=$net.2
    ip -n "${NSA[$p]}" addr add "$net.1/24" dev tra0 && ip -n "${NSB[$p]}" addr add "$net.2/24" dev trb0 &&
        ip -n "${NSA[$p]}" link set tra0 up && ip -n "${NSB[$p]}" link set trb0 up
}
setup_relay() { path_ns relay && start_relay relay 10.82.0 "${DEF_SPIN[0]}"; }
setup_relay0() { path_ns relay0 && start_relay relay0 10.85.0 0; }

# The shm path: the daemons in our namespace, their interfaces in the path's.
SHM_CLUSTER=""
# pin_args NODE PIN: node 1 is on the client's side (namespace a), node 2
# on the server's: pinned, each runs on its side's CPU, like a host's daemon
# next to that host's applications
pin_args() {
    [[ $2 == pin ]] || return 0
    [[ $1 == 1 ]] && echo "--cpus $CPU_C" || echo "--cpus $CPU_S"
}
start_shm() { # SPIN TX_SPIN PIN
    local n ns i
    PIDS[shm]=""
    for n in 1 2; do
        [[ $n == 1 ]] && ns=${NSA[shm]} || ns=${NSB[shm]}
        # shellcheck disable=SC2046
        start_bg "$LOGS/ipd-shm-$n.log" "$IPD" --node $n --cluster "$SHM_CLUSTER" --netns "$ns" \
            --fabric "tipbench$TAG" --spin-us "$1" --tx-spin-us "$2" $(pin_args $n "$3")
        PIDS[shm]+=" $BG_PID"
    done
    wait_peers shm
}
stop_shm() { local p; for p in ${PIDS[shm]}; do stop_bg "$p"; done; }
setup_shm() {
    path_ns shm || return 1
    SHM_CLUSTER=$LOGS/cluster-shm
    printf 'node 1 shm\nnode 2 shm\nip 1 10.83.0.1/24\nip 2 10.83.0.2/24\n' >"$SHM_CLUSTER"
    DEVA[shm]=tip1; DEVB[shm]=tip2; ADDR[shm]=10.83.0.2
    start_shm "${DEF_SPIN[@]}" pin
}

# The tcp path: daemons inside the namespaces, the link over a veth pair.
setup_tcp() {
    path_ns tcp || return 1
    veth_pair "${NSA[tcp]}" "${NSB[tcp]}" "tbta$TAG" "tbtb$TAG" 10.98.0 || return 1
    local c=$LOGS/cluster-tcp s=$LOGS/secret n ns
    (umask 077 && echo "bench secret $TAG" >"$s")
    printf 'node 1 tcp://10.98.0.1:7411\nnode 2 tcp://10.98.0.2:7411\nip 1 10.84.0.1/24\nip 2 10.84.0.2/24\n' >"$c"
    DEVA[tcp]=tip1; DEVB[tcp]=tip2; ADDR[tcp]=10.84.0.2
    PIDS[tcp]=""
    for n in 1 2; do
        [[ $n == 1 ]] && ns=${NSA[tcp]} || ns=${NSB[tcp]}
        # shellcheck disable=SC2046
        start_bg "$LOGS/ipd-tcp-$n.log" ip netns exec "$ns" "$IPD" --node $n --cluster "$c" --secret-file "$s" \
            --spin-us "${DEF_SPIN[0]}" --tx-spin-us "${DEF_SPIN[1]}" $(pin_args $n pin)
        PIDS[tcp]+=" $BG_PID"
    done
    wait_peers tcp
}

# wait_peers PATH: until both daemons of the path have their peer up
wait_peers() {
    local i p n
    for ((i = 0; i < 100; i++)); do
        n=0
        for p in ${PIDS[$1]}; do
            "$IPD" --stats --json --pid "$p" 2>/dev/null | grep -q '"peers_up":\[[0-9]' && n=$((n + 1))
        done
        ((n == 2)) && return 0
        sleep 0.1
    done
    log "ERROR: the $1 daemons did not link up (see $LOGS/ipd-$1-*.log)"
    return 1
}

set_mtu() { # PATH MTU
    ip -n "${NSA[$1]}" link set dev "${DEVA[$1]}" mtu "$2" && ip -n "${NSB[$1]}" link set dev "${DEVB[$1]}" mtu "$2"
}

setup_all() {
    local p
    for p in "${PATHS[@]}"; do
        log "setting up path $p"
        "setup_$p" || { log "ERROR: cannot set up path $p"; exit 1; }
        set_mtu "$p" 65535 || { log "ERROR: cannot set the MTU of path $p"; exit 1; }
    done
}

# ---- measurements ---------------------------------------------------------------

# wait_listen_ns NS PORT: until something listens on tcp PORT inside NS
wait_listen_ns() {
    local hex i
    hex=$(printf '%04X' "$2")
    for ((i = 0; i < 100; i++)); do
        ip netns exec "$1" awk -v p=":$hex" '$2 ~ p"$" && $4 == "0A" { f = 1 } END { exit !f }' \
            /proc/net/tcp /proc/net/tcp6 2>/dev/null && return 0
        sleep 0.05
    done
    log "WARN: nothing listens on port $2 in $1"
    return 1
}

next() { PORT=$((PORT + 1)); ((PORT > 5399)) && PORT=5301; }

proc_ticks() { # PID...: utime + stime of those processes, in clock ticks
    local p t=0 v
    for p; do
        v=$(awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$p/stat" 2>/dev/null)
        t=$((t + ${v:-0}))
    done
    echo "$t"
}

# ipd_sum PATH: the sums over the path's daemons of tpz-ipd's tx_packets,
# tx_sleeps and Trapeze's msgs_sent, wakeups_sent (tpz-stat)
ipd_sum() {
    local p a=0 b=0 c=0 d=0 j
    for p in ${PIDS[$1]:-}; do
        j=$("$IPD" --stats --json --pid "$p" 2>/dev/null)
        a=$((a + $(jget tx_packets <<<"$j"))) b=$((b + $(jget tx_sleeps <<<"$j")))
        j=$("$ROOT/build/bin/tpz-stat" --json 2>/dev/null | grep "\"pid\":$p,")
        c=$((c + ${j:+$(jget msgs_sent <<<"$j")}+0)) d=$((d + ${j:+$(jget wakeups_sent <<<"$j")}+0))
    done
    echo "$a $b $c $d"
}

# iperf PATH NAME SECONDS [IPERF ARGS]: -> IP_GBPS, IP_CORES (both ends +
# relay/daemons); emits NAME (Gbit/s), NAME.cpu (cores) and NAME.cpu_per_gbit
iperf() {
    local p=$1 name=$2 t=$3 logf=$LOGS/iperf3-$1-$2-r$REP spid t0 t1 k0 k1 ns_a ns_b addr
    shift 3
    next
    if [[ $p == loopback ]]; then
        ns_a=""; ns_b=""; addr=127.0.0.1
    else
        ns_a="ip netns exec ${NSA[$p]}"; ns_b="ip netns exec ${NSB[$p]}"; addr=${ADDR[$p]}
    fi
    start_bg "$logf.server" timeout $((t + 30)) $ns_b taskset -c "$CPU_S" iperf3 -s -1 -B "$addr" -p "$PORT"
    spid=$BG_PID
    if [[ $p == loopback ]]; then wait_listen "$PORT"; else wait_listen_ns "${NSB[$p]}" "$PORT"; fi
    k0=$(proc_ticks ${PIDS[$p]:-})
    local w0 w1
    w0=$(ipd_sum "$p")
    t0=$(date +%s.%N)
    timeout $((t + 30)) $ns_a taskset -c "$CPU_C" iperf3 -c "$addr" -p "$PORT" -t "$t" -f g -V "$@" >"$logf" 2>&1 ||
        log "WARN: iperf3 $p $name failed (see $logf)"
    t1=$(date +%s.%N)
    k1=$(proc_ticks ${PIDS[$p]:-})
    sleep 0.25   # the daemons publish their counters every 100 ms
    w1=$(ipd_sum "$p")
    stop_bg "$spid"
    IP_GBPS=$(grep -E 'receiver$' "$logf" | tail -1 | awk '{ for (i = 1; i <= NF; i++) if ($i ~ /bits\/sec$/) {
        v = $(i - 1); if ($i == "Mbits/sec") v /= 1000; printf "%.4g", v; exit } }')
    # "CPU Utilization: local/sender 92.1% (...), remote/receiver 45.3% (...)"
    IP_CORES=$(awk -v k="$((k1 - k0))" -v hz="$CLK_TCK" -v a="$t0" -v b="$t1" '/CPU Utilization/ {
        gsub(/%/, ""); for (i = 1; i <= NF; i++) { if ($i == "local/sender") l = $(i + 1); if ($i == "remote/receiver") r = $(i + 1) }
        printf "%.3g", (l + r) / 100 + k / hz / (b - a); exit }' "$logf")
    emit "$p" "$name" Gbit/s "$IP_GBPS"
    emit "$p" "$name.cpu" cores "$IP_CORES"
    [[ -n $IP_GBPS && -n $IP_CORES ]] &&
        emit "$p" "$name.cpu_per_gbit" core/Gbit "$(awk -v c="$IP_CORES" -v g="$IP_GBPS" 'BEGIN { if (g > 0) printf "%.3g", c / g }')"
    # Interrupt suppression: packets per wake-up of a tx thread, Trapeze
    # messages per doorbell (shm only: tcp wakes through its socket).
    if [[ $name == tcp.1stream && ( $p == shm || $p == tcp ) ]]; then
        read -r -a w0 <<<"$w0"
        read -r -a w1 <<<"$w1"
        emit "$p" "$name.pkts_per_tx_wakeup" ratio "$(awk -v a=$((w1[0] - w0[0])) -v b=$((w1[1] - w0[1])) \
            'BEGIN { if (b > 0) printf "%.4g", a / b }')"
        [[ $p == shm ]] && emit "$p" "$name.msgs_per_doorbell" ratio "$(awk -v a=$((w1[2] - w0[2])) \
            -v b=$((w1[3] - w0[3])) 'BEGIN { if (b > 0) printf "%.4g", a / b }')"
    fi
}

# rr PATH NAME SECONDS: sockperf TCP ping-pong, 64 B; 50th percentile x 2
rr() {
    local p=$1 name=$2 t=$3 logf=$LOGS/sockperf-$1-$2-r$REP spid
    next
    start_bg "$logf.server" timeout $((t + 30)) ip netns exec "${NSB[$p]}" taskset -c "$CPU_S" \
        sockperf server --tcp -i "${ADDR[$p]}" -p "$PORT"
    spid=$BG_PID
    wait_listen_ns "${NSB[$p]}" "$PORT"
    timeout $((t + 30)) ip netns exec "${NSA[$p]}" taskset -c "$CPU_C" sockperf ping-pong --tcp \
        -i "${ADDR[$p]}" -p "$PORT" -m 64 -t "$t" >"$logf" 2>&1 || log "WARN: sockperf $p failed (see $logf)"
    stop_bg "$spid"
    emit "$p" "$name" us_rtt "$(awk '/percentile 50.000/ { printf "%.4g", 2 * $NF }' "$logf")"
}

run_path() {
    local p=$1 m
    log "-- $p"
    iperf "$p" tcp.1stream "$T_BW"
    iperf "$p" tcp.4streams "$T_BW" -P 4
    rr "$p" tcp.rr.64B "$T_RR"
    for m in "${MTUS[@]}"; do
        set_mtu "$p" "$m"
        iperf "$p" "mtu$m" "$T_MTU"
    done
    set_mtu "$p" 65535
}

step_veth() { run_path veth; }
step_relay() { run_path relay; }
step_relay0() { run_path relay0; }
step_shm() { run_path shm; }
step_tcp() { run_path tcp; }
step_loopback() { log "-- loopback"; iperf loopback tcp.1stream "$T_BW"; }

# The spin sweep: shm daemons restarted with each setting.
step_tuning() {
    local s a b c
    for s in "${SPINS[@]}"; do
        read -r a b c <<<"$s"
        log "-- tuning: --spin-us $a --tx-spin-us $b, $c"
        stop_shm
        start_shm "$a" "$b" "$c" || continue
        iperf shm "spin.$a.$b.$c.tcp.1stream" "$T_MTU"
        rr shm "spin.$a.$b.$c.rr.64B" "$T_RR"
    done
    stop_shm
    start_shm "${DEF_SPIN[@]}" pin
}

# ---- report -------------------------------------------------------------------------

# goal rows: label | ours group | ours metric | peer group | peer metric | le/ge | goal ratio | absolute goal
GOALS=(
    "one stream, tpz-ipd over shm (absolute)|shm|tcp.1stream|-|-|ge|-|13"
    "one stream, tpz-ipd over shm vs the veth pair|shm|tcp.1stream|veth|tcp.1stream|ge|0.6|-"
    "one stream, tpz-ipd over shm vs the TUN relay (floor)|shm|tcp.1stream|relay|tcp.1stream|ge|1.0|-"
    "four streams, tpz-ipd over shm vs the veth pair|shm|tcp.4streams|veth|tcp.4streams|ge|-|-"
    "one stream, tpz-ipd over tcp vs the veth pair|tcp|tcp.1stream|veth|tcp.1stream|ge|-|-"
    "TCP round trip 64 B, tpz-ipd over shm vs the veth pair|shm|tcp.rr.64B|veth|tcp.rr.64B|le|1.2|-"
    "TCP round trip 64 B, tpz-ipd over tcp vs the veth pair|tcp|tcp.rr.64B|veth|tcp.rr.64B|le|-|-"
    "CPU per Gbit/s, one stream, tpz-ipd over shm vs the veth pair|shm|tcp.1stream.cpu_per_gbit|veth|tcp.1stream.cpu_per_gbit|le|-|-"
)

goal_rows() {
    local row label og om pg pm dir goal abs o p
    for row in "${GOALS[@]}"; do
        IFS='|' read -r label og om pg pm dir goal abs <<<"$row"
        o=$(med "$og" "$om")
        p=""
        [[ $pg != - ]] && p=$(med "$pg" "$pm")
        awk -v l="$label" -v o="$o" -v p="$p" -v d="$dir" -v g="$goal" -v a="$abs" 'BEGIN {
            r = (o != "" && p != "" && p > 0) ? o / p : ""
            if (a != "-") { met = (o == "") ? "—" : ((d == "le" ? o <= a : o >= a) ? "yes" : "**no**"); gs = (d == "le" ? "<= " : ">= ") a " Gbit/s" }
            else if (g != "-") { met = (r == "") ? "—" : ((d == "le" ? r <= g : r >= g) ? "yes" : "**no**"); gs = (d == "le" ? "<= " : ">= ") g "x" }
            else { met = "—"; gs = "—" }
            printf "| %s | %s | %s | %s | %s | %s |\n", l, (o == "" ? "n/a" : o), (p == "" ? "—" : p),
                (r == "" ? "—" : sprintf("%.3g", r)), gs, met }'
    done
}

cell() { local v; v=$(med "$1" "$2"); echo "${v:-n/a}"; }

write_md() {
    local t_run=$1 p m s a b
    {
        echo "# Trapeze/IP benchmark: tpz-ipd against a veth pair and a plain TUN relay"
        echo
        md_meta "$t_run" "$LOAD_BEFORE" iperf3 sockperf
        echo "- paths: two network namespaces each; MTU 65535 and checksum/TSO/USO offloads on every path"
        echo "  (veth: the kernel's defaults, which include TSO/GSO); relay and tpz-ipd poll ${DEF_SPIN[0]} µs"
        echo "  (yielding the CPU) before sleeping, relay0 never polls; each tpz-ipd is pinned to its side's"
        echo "  CPU (node 1 with the client on CPU $CPU_C, node 2 with the server on CPU $CPU_S), the relay is not"
        echo
        echo "Medians over the reps.  Gbit/s = iperf3 receiver throughput; us_rtt = sockperf TCP"
        echo "ping-pong round trip (50th percentile, one-way x 2); cores = CPU time of both iperf3 ends"
        echo "(iperf3's own figures) plus the relay or both daemons, per second of the run;"
        echo "core/Gbit = cores / Gbit/s.  ratio = ours / peer."
        echo
        echo "## Goals"
        echo
        echo "| metric | ours | peer | ratio | goal | met? |"
        echo "|---|---:|---:|---:|---|---|"
        goal_rows
        echo
        echo "## Throughput, latency and CPU per path (MTU 65535)"
        echo
        echo "| path | 1 stream Gbit/s | 4 streams Gbit/s | RR 64 B µs | cores (1 stream) | core per Gbit/s |"
        echo "|---|---:|---:|---:|---:|---:|"
        for p in "${PATHS[@]}"; do
            echo "| $p | $(cell "$p" tcp.1stream) | $(cell "$p" tcp.4streams) | $(cell "$p" tcp.rr.64B) |" \
                "$(cell "$p" tcp.1stream.cpu) | $(cell "$p" tcp.1stream.cpu_per_gbit) |"
        done
        echo "| loopback (127.0.0.1, no namespaces) | $(cell loopback tcp.1stream) | | | $(cell loopback tcp.1stream.cpu) | $(cell loopback tcp.1stream.cpu_per_gbit) |"
        echo
        echo "Interrupt suppression during the one-stream runs: packets per wake-up of a tx thread"
        echo "(both daemons: shm $(cell shm tcp.1stream.pkts_per_tx_wakeup), tcp"
        echo "$(cell tcp tcp.1stream.pkts_per_tx_wakeup)), Trapeze messages per doorbell over shm"
        echo "$(cell shm tcp.1stream.msgs_per_doorbell) (a doorbell rings only for a receiver that said it sleeps)."
        echo
        echo "## MTU sweep, one stream (Gbit/s; core per Gbit/s)"
        echo
        echo "| path | 1500 | 9000 | 16384 | 65535 |"
        echo "|---|---:|---:|---:|---:|"
        for p in "${PATHS[@]}"; do
            printf '| %s' "$p"
            for m in "${MTUS[@]}"; do printf ' | %s (%s)' "$(cell "$p" "mtu$m")" "$(cell "$p" "mtu$m.cpu_per_gbit")"; done
            printf ' | %s (%s) |\n' "$(cell "$p" tcp.1stream)" "$(cell "$p" tcp.1stream.cpu_per_gbit)"
        done
        echo
        echo "## Tuning: tpz-ipd's polling before it sleeps (shm path)"
        echo
        echo "| --spin-us | --tx-spin-us | daemons | 1 stream Gbit/s | cores | RR 64 B µs |"
        echo "|---:|---:|---|---:|---:|---:|"
        for s in "${SPINS[@]}"; do
            read -r a b c <<<"$s"
            echo "| $a | $b | $c | $(cell shm "spin.$a.$b.$c.tcp.1stream") | $(cell shm "spin.$a.$b.$c.tcp.1stream.cpu") |" \
                "$(cell shm "spin.$a.$b.$c.rr.64B") |"
        done
        echo
        md_every_figure
        echo
        echo "See \`docs/trapeze-ip.md\` for the design and \`bench/README.md\` for the method."
    } >"$MD"
}

write_png() {
    local d1=$LOGS/plot-paths.dat d2=$LOGS/plot-mtu.dat d3=$LOGS/plot-spin.dat p m s a b
    have gnuplot || { log "WARN: gnuplot missing, no plot"; return 0; }
    : >"$d1"
    for p in "${PATHS[@]}"; do
        printf '"%s"\t%s\t%s\t%s\t%s\n' "$p" "$(cell "$p" tcp.1stream)" "$(cell "$p" tcp.4streams)" \
            "$(cell "$p" tcp.rr.64B)" "$(cell "$p" tcp.1stream.cpu_per_gbit)" >>"$d1"
    done
    echo "mtu ${PATHS[*]}" >"$d2"
    for m in "${MTUS[@]}" 65535; do
        printf '%s' "$m" >>"$d2"
        for p in "${PATHS[@]}"; do
            [[ $m == 65535 ]] && printf '\t%s' "$(cell "$p" tcp.1stream)" >>"$d2" || printf '\t%s' "$(cell "$p" "mtu$m")" >>"$d2"
        done
        echo >>"$d2"
    done
    : >"$d3"
    for s in "${SPINS[@]}"; do
        read -r a b c <<<"$s"
        printf '"%s/%s %s"\t%s\t%s\n' "$a" "$b" "$c" "$(cell shm "spin.$a.$b.$c.tcp.1stream")" \
            "$(cell shm "spin.$a.$b.$c.rr.64B")" >>"$d3"
    done
    sed -i 's/\tn\/a/\t?/g' "$d1" "$d2" "$d3"
    gnuplot >"$LOGS/gnuplot.log" 2>&1 <<EOF || log "WARN: gnuplot failed (see $LOGS/gnuplot.log)"
set terminal png size 1400,900 font ",10"
set output "$PNG"
set multiplot layout 2,2 title "Trapeze/IP (tpz-ipd) vs a veth pair and a plain TUN relay (MTU 65535 unless swept)"
$GP_HISTOGRAMS
set datafile missing "?"
set grid ytics
set key top left
set title "iperf3 throughput (Gbit/s, higher is better)"
set yrange [0:*]
plot "$d1" using 2:xtic(1) title "1 stream" lc rgb "#2b7bba", "" using 3 title "4 streams" lc rgb "#7fbf7b", \
     13 with lines dt 2 lc rgb "#d95f02" title "goal (shm)"
set title "TCP round trip, 64 B (µs, lower is better)"
plot "$d1" using 4:xtic(1) title "sockperf p50" lc rgb "#2b7bba"
set title "MTU sweep, one stream (Gbit/s)"
set style data linespoints
set logscale x 2
set xrange [1000:80000]
set xtics (1500, 9000, 16384, 65535)
plot for [i=2:$((${#PATHS[@]} + 1))] "$d2" using 1:i title columnhead(i) lw 2
unset logscale x
set xrange [*:*]
set xtics auto
set style data histograms
set title "tpz-ipd polling before sleep (--spin-us/--tx-spin-us), shm"
set ylabel "Gbit/s"
set y2label "µs"
set y2tics
set y2range [0:*]
set ytics nomirror
plot "$d3" using 2:xtic(1) title "1 stream Gbit/s" lc rgb "#2b7bba", "" using 3 axes x1y2 title "RR µs" lc rgb "#d95f02"
unset multiplot
EOF
}

# ---- main ---------------------------------------------------------------------------

((EUID == 0)) || { echo "$BENCH: needs root (network namespaces, TUN devices)" >&2; exit 1; }
mkdir -p "$OUT" "$LOGS"
rm -f "$LOGS"/*
install_peers iperf3 sockperf gnuplot-nox iproute2
build_ours build/bin/tpz-ipd build/bin/tip-relay
setup_all
bench_run step_veth step_relay step_shm step_tcp step_relay0 step_loopback step_tuning
