# lib.sh: what the bench scripts (trapeze-core.sh, netrpc.sh) share.  Sourced,
# not run.  The script sets HERE (bench/) and ROOT, sources this, calls
# bench_init; sets PORT_BASE and port (the last loopback port used) if it runs
# ucx_perf; defines its steps, write_md and write_png; ends with bench_run.
# shellcheck shell=bash disable=SC2034  # (variables set here for the scripts)

BENCH=$(basename "$0")
REP=0

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
have() { command -v "$1" >/dev/null 2>&1; }

# bench_init NAME DEFAULT_REPS "$@": the options every script takes (see its
# -h, which prints the script's header comment) -> QUICK, REPS, OUT; the
# pinning -> CPU_S, CPU_C; the outputs OUT/NAME.{tsv,md,png}, OUT/NAME-logs/
bench_init() {
    local name=$1 def=$2
    shift 2
    REPS=""; QUICK=0; OUT=$HERE/results
    while (($#)); do
        case $1 in
            --quick | -q) QUICK=1 ;;
            -r) REPS=${2:?-r needs a number}; shift ;;
            -o) OUT=${2:?-o needs a directory}; shift ;;
            -h | --help) sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
            *) echo "$BENCH: unknown option $1 (see -h)" >&2; exit 2 ;;
        esac
        shift
    done
    [[ -n $REPS ]] || { ((QUICK)) && REPS=1 || REPS=$def; }
    [[ $REPS =~ ^[1-9][0-9]*$ ]] || { echo "$BENCH: -r wants a positive number" >&2; exit 2; }
    CPU_S=${TPZ_CPU_SERVER:-0}
    CPU_C=${TPZ_CPU_CLIENT:-1}
    TSV=$OUT/$name.tsv
    MD=$OUT/$name.md
    PNG=$OUT/$name.png
    LOGS=$OUT/$name-logs
}

# ---- setup ------------------------------------------------------------------

# install_peers PACKAGE...: install those this machine lacks (Debian packages;
# needs root or sudo)
install_peers() {
    local p missing=() sudo=""
    for p; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
    done
    ((${#missing[@]})) || return 0
    ((EUID == 0)) || sudo=sudo
    log "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get -y -q -o DPkg::Lock::Timeout=300 update >/dev/null || log "WARN: apt-get update failed"
    $sudo apt-get -y -q -o DPkg::Lock::Timeout=300 install "${missing[@]}" >/dev/null ||
        log "WARN: could not install ${missing[*]}: their rows stay empty"
}

# pkg_version PACKAGE: its installed version, or n/a
pkg_version() { dpkg-query -W -f='${Version}' "$1" 2>/dev/null || echo n/a; }

# build_ours TARGET...: make them (paths below ROOT, e.g. build/bin/tpz-perf)
build_ours() {
    local names="${*##*/}"
    log "building ${names// / and }"
    make -C "$ROOT" -j2 "$@" >"$LOGS/build.log" 2>&1 ||
        { log "ERROR: build failed, see $LOGS/build.log"; tail -5 "$LOGS/build.log" >&2; exit 1; }
}

# ---- background servers: started here, stopped by PID ---------------------

BG_PIDS=()
start_bg() { # LOGFILE CMD...: leaves the PID in BG_PID
    local logf=$1
    shift
    "$@" >"$logf" 2>&1 &
    BG_PID=$!
    BG_PIDS+=("$BG_PID")
}
stop_bg() { # PID
    local pid=$1 i
    kill "$pid" 2>/dev/null || true
    for ((i = 0; i < 40; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}
stop_all_bg() {
    local p
    for p in "${BG_PIDS[@]}"; do kill -0 "$p" 2>/dev/null && stop_bg "$p"; done
    BG_PIDS=()
}
trap stop_all_bg EXIT
trap 'log "interrupted"; exit 130' INT TERM

# wait_listen PORT: until something listens on tcp PORT (10 s at most)
wait_listen() {
    local hex i
    hex=$(printf '%04X' "$1")
    for ((i = 0; i < 200; i++)); do
        awk -v p=":$hex" '$2 ~ p"$" && $4 == "0A" { f = 1 } END { exit !f }' \
            /proc/net/tcp /proc/net/tcp6 2>/dev/null && return 0
        sleep 0.05
    done
    log "WARN: nothing listens on port $1"
    return 1
}
# next_port: the next loopback port (port: from PORT_BASE + 1 to + 49, round)
next_port() { port=$((port + 1)); ((port > PORT_BASE + 49)) && port=$((PORT_BASE + 1)); }

# ---- running the tools --------------------------------------------------------

# run_tool BIN LOGF ARGS...: tpz-perf or nrpc-perf once, both ends pinned as
# the peers' are, under a watchdog; stdout to LOGF, stderr to LOGF.err
run_tool() {
    local bin=$1 logf=$2
    shift 2
    timeout 150 "$bin" --cpu-server "$CPU_S" --cpu-client "$CPU_C" --timeout 140 "$@" \
        >"$logf" 2>"$logf.err"
}

# ucx_perf NAME TLS NETDEV TEST SIZE ITERS SERVER_TIMEOUT CLIENT_TIMEOUT:
# ucx_perftest's two ends on CPU_S / CPU_C over 127.0.0.1 (ITERS / 5 with
# --quick); its final CSV line -> UCX_LINE (iterations,p50_lat,avg_lat,
# overall_lat,avg_bw,overall_bw,avg_mr,overall_mr).  Fails if the client did.
ucx_perf() {
    local name=$1 tls=$2 dev=$3 test=$4 size=$5 iters=$6 ts=$7 tc=$8 logf spid rc
    ((QUICK)) && iters=$((iters / 5))
    logf=$LOGS/ucx-$name-r$REP
    UCX_LINE=""
    next_port
    start_bg "$logf.server" env UCX_TLS="$tls" UCX_NET_DEVICES="$dev" \
        timeout "$ts" taskset -c "$CPU_S" ucx_perftest -p "$port"
    spid=$BG_PID
    wait_listen "$port"
    env UCX_TLS="$tls" UCX_NET_DEVICES="$dev" timeout "$tc" \
        taskset -c "$CPU_C" ucx_perftest 127.0.0.1 -p "$port" \
        -t "$test" -s "$size" -n "$iters" -w $((iters / 10)) -f -v >"$logf.client" 2>&1
    rc=$?
    stop_bg "$spid"
    ((rc == 0)) || { log "WARN: ucx $name failed rc=$rc (see $logf.client)"; return 1; }
    UCX_LINE=$(grep -E '^ *[0-9]+,' "$logf.client" | tail -1 | tr -d ' ')
}

# jget KEY: a top-level number from the JSON line on stdin
jget() { grep -o "\"$1\":[-0-9.eE+]*" | head -1 | cut -d: -f2; }

# emit GROUP METRIC UNIT VALUE: one raw value
emit() {
    if [[ -z ${4:-} || $4 == nan ]]; then
        log "WARN: no value for $1/$2"
        return 0
    fi
    printf '%s\t%s\t%s\t%s\t%s\n' "$REP" "$1" "$2" "$3" "$4" >>"$TSV"
    log "  $1 $2 = $4 $3"
}

# ---- report -----------------------------------------------------------------

# stat GROUP METRIC FIELD: median|min|max|n over the reps ("" if none)
stat() {
    awk -F'\t' -v g="$1" -v m="$2" 'NR > 1 && $2 == g && $3 == m { print $5 }' "$TSV" | sort -g |
        awk -v f="$3" '{ v[NR] = $1 } END {
            if (NR == 0) exit
            if (f == "n") print NR
            else if (f == "min") print v[1]
            else if (f == "max") print v[NR]
            else printf "%.4g\n", (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
med() { stat "$1" "$2" median; }

# md_meta T_RUN LOAD PACKAGE...: a report's first lines: when, what, where
# (LOAD: the load averages to show), the peers' versions, pinning, files
md_meta() {
    local t_run=$1 load=$2 p tools=""
    shift 2
    for p; do tools+="${tools:+, }$p $(pkg_version "$p")"; done
    echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC'), run took $((t_run / 60)) min $((t_run % 60)) s," \
         "$REPS rep(s)$( ((QUICK)) && echo ', QUICK mode (short runs)')"
    echo "- commit: $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo none)$(git -C "$ROOT" status --porcelain 2>/dev/null | grep -q . && echo ' (work tree modified)')"
    echo "- machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(nproc) CPUs," \
         "kernel $(uname -r); load average before: $load"
    echo "- tools: $tools"
    echo "- pinning: every server/responder on CPU $CPU_S, every client/initiator on CPU $CPU_C"
    echo "- raw values: \`$(basename "$TSV")\`; tool output: \`$(basename "$LOGS")/\`"
}

# md_every_figure: the section with n, median, min and max of every metric
md_every_figure() {
    echo "## Every figure"
    echo
    echo "| group | metric | unit | n | median | min | max |"
    echo "|---|---|---|---:|---:|---:|---:|"
    awk -F'\t' 'NR > 1 && !seen[$2 FS $3]++ { print $2 "\t" $3 "\t" $4 }' "$TSV" |
        while IFS=$'\t' read -r g m u; do
            echo "| $g | $m | $u | $(stat "$g" "$m" n) | $(stat "$g" "$m" median) | $(stat "$g" "$m" min) | $(stat "$g" "$m" max) |"
        done
}

# The bars of every plot (gnuplot lines, for a here-document).
GP_HISTOGRAMS='set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set boxwidth 0.9'

# ---- main -------------------------------------------------------------------

# bench_run STEP...: a fresh TSV, REPS reps each running the STEP functions in
# turn (interleaved, so drifts of a shared machine hit every figure alike),
# then the script's write_md and write_png; prints the report
bench_run() {
    local step t_start
    printf 'rep\tgroup\tmetric\tunit\tvalue\n' >"$TSV"
    LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
    t_start=$(date +%s)
    for ((REP = 1; REP <= REPS; REP++)); do
        log "== rep $REP/$REPS (load $(cut -d' ' -f1-3 /proc/loadavg))"
        for step; do "$step"; done
    done
    write_md $(($(date +%s) - t_start))
    write_png
    log "wrote $TSV, $MD, $PNG"
    cat "$MD"
}
