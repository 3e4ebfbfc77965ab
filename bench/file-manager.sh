#!/usr/bin/env bash
# file-manager.sh: slice-fmd's metadata rate beside nfs-ganesha, in one run.
#
#   bench/file-manager.sh [--quick] [-r REPS] [-o DIR] [-h]
#
#   --quick   smaller runs, 1 rep unless -r is given (a smoke test, ~1 min)
#   -r REPS   repetitions of the whole suite (default 3); reps are interleaved
#             (every configuration once, then again) so drifts of a shared
#             machine hit slice-fmd and ganesha alike
#   -o DIR    output directory (default bench/results)
#
# One client (bench/fmd-meta: libnfs's synchronous API, the approach of the
# peers' nfsmeta.c) runs, against each server: create (+ write of 4 KiB when
# the server has file data: ganesha always, slice-fmd when slice-blockd is
# built) of 10 000 files in one directory, stat of each, a mixed workload of
# 10 000 operations (40% stat, 20% create, 20% remove, 10% rename, 10% stat
# of a missing name), and remove of what is left.  Empty files too, for both.
# Then 16 client processes, each with its own connection and directory
# (2 000 files each), against each server.
#
# Servers: slice-fmd with one manager (its store on /var/tmp, --sync full:
# every answered change is on disk; and --sync data, one flush per commit),
# and nfs-ganesha 4.3 with the VFS FSAL exporting a directory on the same
# file system (installed with apt-get if missing; it needs rpcbind, started
# here if none runs).  One-client runs: server (all its threads) on CPU
# $TPZ_CPU_SERVER (0), client on CPU $TPZ_CPU_CLIENT (1); 16-client runs:
# nothing pinned (server and clients share both CPUs).
# Writes DIR/file-manager.{tsv,md,png} and the tools' output under
# DIR/file-manager-logs/.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$HERE/lib.sh"
bench_init file-manager 3 "$@"

PORT_BASE=${FMD_PORT_BASE:-24700}
META=$ROOT/build/bench/fmd-meta
FMD=$ROOT/build/bin/slice-fmd
BLOCKD=$ROOT/build/bin/slice-blockd
WORK=/var/tmp/fmd-bench.$$
FILES=10000
MIXED=10000
FILES16=2000
MIXED16=2000
if ((QUICK)); then FILES=2000 MIXED=2000 FILES16=300 MIXED16=300; fi
DATA=0
[[ -x $BLOCKD ]] && DATA=1
FABRIC=fmdbench$$

mkdir -p "$OUT" "$LOGS"
trap 'stop_all_bg; rm -rf "$WORK"; rm -f /dev/shm/*"$FABRIC"* 2>/dev/null' EXIT

# ---- servers ------------------------------------------------------------------

# fmd_up TAG ARGS...: a fresh slice-fmd -> FMD_URL, FMD_PIDS
fmd_up() {
    local tag=$1 line np mp i
    shift
    rm -rf "$WORK/$tag"
    mkdir -p "$WORK"
    FMD_PIDS=()
    local extra=()
    if ((DATA)); then
        for i in 2 3; do
            start_bg "$LOGS/blockd$i-r$REP.log" taskset -c "$CPU_S" "$BLOCKD" --node $i \
                --data "$WORK/$tag-blockd$i" --cache-mb 64 --fabric "$FABRIC" --listen shm
            FMD_PIDS+=("$BG_PID")
        done
        sleep 0.3
        extra=(--node 1 --fabric "$FABRIC" --blockd 2=shm --blockd 3=shm)
    fi
    : >"$LOGS/$tag-r$REP.out"
    start_bg "$LOGS/$tag-r$REP.log" "$FMD" --data "$WORK/$tag" --export /export \
        --volume bench --nfs-port 0 --mount-port 0 --no-rpcbind --no-root-squash --root-mode 0777 \
        "${extra[@]}" "$@"
    FMD_PIDS+=("$BG_PID")
    SERVER_PID=$BG_PID
    # its ready line went to the log with stderr: find it
    for ((i = 0; i < 100; i++)); do
        line=$(grep -m1 '^ready nfs=' "$LOGS/$tag-r$REP.log" 2>/dev/null) && break
        sleep 0.1
    done
    np=$(sed -n 's/^ready nfs=\([0-9]*\) mount=\([0-9]*\)$/\1/p' <<<"$line")
    mp=$(sed -n 's/^ready nfs=\([0-9]*\) mount=\([0-9]*\)$/\2/p' <<<"$line")
    [[ -n $np ]] || { log "ERROR: slice-fmd did not start (see $LOGS/$tag-r$REP.log)"; return 1; }
    FMD_URL="nfs://127.0.0.1/export?nfsport=$np&mountport=$mp"
}
fmd_down() {
    local p
    for p in "${FMD_PIDS[@]}"; do stop_bg "$p"; done
    FMD_PIDS=()
    rm -rf "$WORK"
}

RPCBIND_PID=""
ganesha_up() {
    local conf=$LOGS/ganesha.conf i
    have ganesha.nfsd || return 1
    mkdir -p "$WORK/ganesha-export" /var/lib/nfs/ganesha /var/run/ganesha /run/rpcbind
    if ! rpcinfo -p 127.0.0.1 >/dev/null 2>&1; then
        # ganesha 4.3 will not start NFSv3 without a portmapper ('rpcbind -h'
        # crashes on Debian 12: no -h)
        start_bg "$LOGS/rpcbind.log" rpcbind -f -w
        RPCBIND_PID=$BG_PID
        for ((i = 0; i < 50; i++)); do rpcinfo -p 127.0.0.1 >/dev/null 2>&1 && break; sleep 0.1; done
    fi
    sed -e "s#@EXPORT_PATH@#$WORK/ganesha-export#" -e "s#@NFS_PORT@#$((PORT_BASE + 1))#" \
        -e "s#@MNT_PORT@#$((PORT_BASE + 2))#" "$HERE/conf/ganesha.conf" >"$conf"
    start_bg "$LOGS/ganesha-r$REP.out" ganesha.nfsd -F -f "$conf" \
        -L "$LOGS/ganesha-r$REP.log" -p "$WORK/ganesha.pid" -N NIV_EVENT
    GANESHA_PID=$BG_PID
    SERVER_PID=$BG_PID
    GANESHA_URL="nfs://127.0.0.1/export?nfsport=$((PORT_BASE + 1))&mountport=$((PORT_BASE + 2))"
    for ((i = 0; i < 300; i++)); do
        timeout 5 nfs-ls "$GANESHA_URL" >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    log "WARN: ganesha did not serve (see $LOGS/ganesha-r$REP.log)"
    return 1
}
ganesha_down() {
    stop_bg "$GANESHA_PID"
    [[ -n $RPCBIND_PID ]] && stop_bg "$RPCBIND_PID"
    RPCBIND_PID=""
    rm -rf "$WORK"
}

# ---- runs -------------------------------------------------------------------------

# pin_server PID CLIENTS: one client: the server's threads on CPU_S (the
# client goes on CPU_C); many: anywhere
pin_server() {
    local cpus=$CPU_S
    (($2 > 1)) && cpus=$CPU_S,$CPU_C
    taskset -a -cp "$cpus" "$1" >/dev/null 2>&1 || log "WARN: could not pin $1"
}

# meta GROUP NAME URL CLIENTS FILES MIXED SIZE: fmd-meta once, its rates emitted
# (SERVER_PID: the server to pin)
meta() {
    local group=$1 name=$2 url=$3 k=$4 n=$5 m=$6 sz=$7 logf line pin=() p
    logf=$LOGS/$group-$name-r$REP.json
    pin_server "$SERVER_PID" "$k"
    ((k == 1)) && pin=(taskset -c "$CPU_C")
    timeout 900 "${pin[@]}" "$META" "$url" --clients "$k" --files "$n" --mixed "$m" --size "$sz" \
        >"$logf" 2>"$logf.err"
    line=$(tail -1 "$logf")
    if ! grep -q '"ok":true' <<<"$line"; then
        log "WARN: $group $name failed (see $logf.err)"
        emit check "failed.$group.$name" runs 1
    fi
    for p in create stat mixed remove; do
        emit "$group" "$name.$p" ops/s "$(jget "${p}_ops" <<<"$line")"
    done
}

run_fmd() {
    local mode
    for mode in full data; do
        fmd_up "fmd-$mode" --sync "$mode" || continue
        meta "fmd-$mode" c1.0B "$FMD_URL" 1 "$FILES" "$MIXED" 0
        ((DATA)) && meta "fmd-$mode" c1.4KiB "$FMD_URL" 1 "$FILES" "$MIXED" 4096
        [[ $mode == full ]] && meta "fmd-$mode" c16.0B "$FMD_URL" 16 "$FILES16" "$MIXED16" 0
        [[ $mode == full ]] && ((DATA)) && meta "fmd-$mode" c16.4KiB "$FMD_URL" 16 "$FILES16" "$MIXED16" 4096
        grep -E 'NFS calls|commits' "$LOGS/fmd-$mode-r$REP.log" >&2
        fmd_down
    done
}

run_ganesha() {
    ganesha_up || { ganesha_down; return 0; }
    meta ganesha c1.0B "$GANESHA_URL" 1 "$FILES" "$MIXED" 0
    meta ganesha c1.4KiB "$GANESHA_URL" 1 "$FILES" "$MIXED" 4096
    meta ganesha c16.0B "$GANESHA_URL" 16 "$FILES16" "$MIXED16" 0
    meta ganesha c16.4KiB "$GANESHA_URL" 16 "$FILES16" "$MIXED16" 4096
    ganesha_down
}

# ---- report -----------------------------------------------------------------------

orna() { [[ -n ${1:-} ]] && echo "$1" || echo "n/a"; }
ratio() { awk -v a="${1:-}" -v b="${2:-}" 'BEGIN { if (a != "" && b != "" && b > 0) printf "%.2f", a / b }'; }
met() { # VALUE ge|le TARGET
    [[ -z ${1:-} ]] && { echo "n/a"; return; }
    awk -v v="$1" -v op="$2" -v t="$3" 'BEGIN { ok = (op == "ge") ? v >= t : v <= t; print ok ? "yes" : "**no**" }'
}

goal_table() {
    local p o g r sz
    echo "| goal | slice-fmd | ganesha | ratio | target | met? |"
    echo "|---|---:|---:|---:|---|---|"
    for sz in 0B 4KiB; do
        for p in create stat; do
            o=$(med fmd-full "c1.$sz.$p")
            g=$(med ganesha "c1.$sz.$p")
            r=$(ratio "$o" "$g")
            echo "| 1 client, $p ($sz files), --sync full | $(orna "$o") | $(orna "$g") | $(orna "$r") | ≥ 2× ganesha | $(met "$r" ge 2) |"
            o=$(med fmd-data "c1.$sz.$p")
            r=$(ratio "$o" "$g")
            echo "| 1 client, $p ($sz files), --sync data | $(orna "$o") | $(orna "$g") | $(orna "$r") | ≥ 2× ganesha | $(met "$r" ge 2) |"
        done
    done
    o=$(med fmd-full c16.0B.create)
    g=$(med ganesha c16.0B.create)
    echo "| 16 clients, creates/s (empty files), one manager | $(orna "$o") | $(orna "$g") | $(orna "$(ratio "$o" "$g")") | ≥ 20 000/s | $(met "$o" ge 20000) |"
    o=$(med fmd-full c16.4KiB.create)
    g=$(med ganesha c16.4KiB.create)
    echo "| 16 clients, creates/s (4 KiB files), one manager | $(orna "$o") | $(orna "$g") | $(orna "$(ratio "$o" "$g")") | ≥ 20 000/s | $(met "$o" ge 20000) |"
}

rate_table() {
    local cfg p row g
    echo "| configuration | create | stat | mixed | remove |"
    echo "|---|---:|---:|---:|---:|"
    for cfg in c1.0B c1.4KiB c16.0B c16.4KiB; do
        for g in fmd-full fmd-data ganesha; do
            row="| $g, $cfg"
            for p in create stat mixed remove; do row+=" | $(orna "$(med "$g" "$cfg.$p")")"; done
            echo "$row |"
        done
    done
}

write_md() {
    local t_run=$1 nfail
    nfail=$(awk -F'\t' 'NR > 1 && $2 == "check" { n++ } END { print n + 0 }' "$TSV")
    {
        echo "# File manager benchmark: slice-fmd beside nfs-ganesha"
        echo
        md_meta "$t_run" "$LOAD_BEFORE, after: $(cut -d' ' -f1-3 /proc/loadavg)" nfs-ganesha libnfs13
        echo "- checks: $nfail failed run(s) (must be 0)"
        echo "- file data: $( ((DATA)) && echo "slice-blockd x2 on a shm fabric" ||
            echo "**no slice-blockd in this build: slice-fmd rows with 4 KiB files are missing**")"
        echo "- files: $FILES per run for one client, $FILES16 per client for 16; mixed: $MIXED / $MIXED16 ops"
        echo
        echo "Rates in operations per second (median over the reps; each is the aggregate of all"
        echo "clients over the wall time of the phase).  One operation of \`create\` is"
        echo "CREATE + WRITE (4 KiB files) + close as libnfs does it; \`stat\` is libnfs's"
        echo "nfs_stat64 (LOOKUPs + GETATTR).  slice-fmd answers a change only after its"
        echo "commit is on disk (\`--sync full\`: two flushes per commit; \`--sync data\`: one);"
        echo "ganesha's VFS FSAL leaves metadata to ext4's journal (no flush per operation)."
        echo
        echo "## Goals"
        echo
        goal_table
        echo
        echo "## Rates (ops/s)"
        echo
        rate_table
        echo
        md_every_figure
    } >"$MD"
}

write_png() {
    local dat=$LOGS/plot.dat cfg g
    have gnuplot || { log "WARN: gnuplot missing, no plot"; return 0; }
    : >"$dat"
    for cfg in c1.0B c1.4KiB c16.0B c16.4KiB; do
        for p in create stat mixed remove; do
            printf '"%s %s"' "$cfg" "$p" >>"$dat"
            for g in fmd-full fmd-data ganesha; do
                printf '\t%s' "$(orna "$(med "$g" "$cfg.$p")" | sed 's#n/a#?#')" >>"$dat"
            done
            echo >>"$dat"
        done
    done
    gnuplot >"$LOGS/gnuplot.log" 2>&1 <<EOF || log "WARN: gnuplot failed (see $LOGS/gnuplot.log)"
set terminal png size 1400,700 font ",10" noenhanced
set output "$PNG"
set title "NFSv3 metadata rate through libnfs: slice-fmd (one manager) vs nfs-ganesha (ops/s, higher is better)"
$GP_HISTOGRAMS
set datafile missing "?"
set grid ytics
set key top right
set xtics rotate by -30 left
set logscale y
plot "$dat" using 2:xtic(1) title "slice-fmd --sync full" lc rgb "#2b7bba", \
     "" using 3 title "slice-fmd --sync data" lc rgb "#7fbf7b", \
     "" using 4 title "nfs-ganesha VFS" lc rgb "#d95f02"
EOF
}

install_peers nfs-ganesha nfs-ganesha-vfs rpcbind libnfs-utils gnuplot-nox
build_ours build/bin/slice-fmd build/bench/fmd-meta
bench_run run_fmd run_ganesha
