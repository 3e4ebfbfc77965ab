#!/usr/bin/env bash
# fronts.sh: Slice's fronts (slicefs, slice-proxy) beside their peers, in one run.
#
#   bench/fronts.sh [--quick] [-r REPS] [-o DIR] [-h]
#
#   --quick   a smoke run: 128 MiB files, 1000 files, 3 s random reads, 1 rep
#   -r REPS   repetitions of the whole suite (default 2); reps are interleaved
#             (every system once, then again)
#   -o DIR    output directory (default bench/results)
#
# FUSE mounts, each measured with fio 3.33 and bench/fs-meta:
#   slicefs   our FUSE client over a local Slice cluster: 4 slice-blockd + 2
#             slice-fmd on a shm fabric (`slice up`, or the same daemons
#             started here when `slice` is missing)
#   gluster   GlusterFS, a distributed volume of 4 bricks on this machine;
#             glusterd and the bricks in a network namespace (fbns-PID,
#             10.213.99.1 on a veth pair: GlusterFS refuses 127.x bricks),
#             mounted (FUSE) from the root namespace through 10.213.99.1
#   pt        libfuse 3.14's passthrough_ll example (compiled here from
#             /usr/share/doc/libfuse3-dev/examples) over tmpfs: the ceiling
#             of any FUSE file system on this kernel
# NFSv3 servers, each measured with bench/nfs-io and bench/fmd-meta (libnfs,
# the same client programs for both; there is no kernel NFS client here):
#   proxy     slice-proxy in front of the same Slice cluster
#   ganesha   nfs-ganesha 4.3, VFS FSAL, exporting a tmpfs directory
#
# Every backing store (bricks, blockd data and fmd stores, the passthrough
# source, ganesha's export) lives on one private tmpfs mounted here: the
# fronts are compared, not the disk.
#
# Workloads (SIZE = 1 GiB, FILES = 10 000, RAND = 10 s; --quick: 128 MiB,
# 1000, 3 s):
#   seqwrite  fio: one new file of SIZE, 1 MiB writes, psync, buffered,
#             end_fsync=1 (the rate includes the final fsync)
#   seqread   fio: the same file, 1 MiB reads, psync, buffered, after
#             `sync; echo 3 > /proc/sys/vm/drop_caches` (the client's page
#             cache is empty; tmpfs backing stores keep their data)
#   rand qd1  fio: 4 KiB random reads over the file, psync, direct=1, RAND s
#   rand qd16 fio: the same with numjobs=16 (16 threads, each one read at a
#             time, group_reporting): FUSE has no true asynchronous direct
#             I/O path for libaio to exploit, so queue depth 16 here means
#             16 synchronous readers in parallel
#   meta      bench/fs-meta: create (open O_EXCL + write 4 KiB + close), stat,
#             unlink of FILES files in one new directory, one thread
#   NFS       nfs-io write/read of SIZE in 1 MiB calls, one in flight (COMMIT
#             at the end of the write), 4 KiB random reads with 1 and 16 in
#             flight (libnfs async); fmd-meta --files FILES --size 4096
#             --mixed 0 (create + write, stat, remove through libnfs's path API)
#
# Pinning: none.  Each system is several processes (4 bricks + glusterd +
# the glusterfs client; 4 blockd + 2 fmd + slicefs; passthrough_ll's
# threads) sharing the 2 CPUs with the workload tool, which runs unpinned
# too: forcing all daemons of a system onto one CPU would measure the
# scheduler, not the system.
#
# FRONTS_ONLY="slice pt gluster ganesha" (the default) brings up only those
# systems ("slice": slicefs and slice-proxy), for development.
# FRONTS_RA_KB=N sets the kernel read-ahead of every FUSE mount to N KiB
# (by default each keeps what it got when mounted: the kernel's 128 KiB).
# Writes DIR/fronts.{tsv,md,png} and the tools' output under DIR/fronts-logs/.
# Needs root (mounts, namespaces, drop_caches); installs fio,
# glusterfs-server, nfs-ganesha(-vfs), rpcbind, libnfs-utils, gnuplot-nox
# with apt-get if missing.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$HERE/lib.sh"
bench_init fronts 2 "$@"

SIZE_MIB=1024
FILES=10000
RAND_SECS=10
if ((QUICK)); then SIZE_MIB=128 FILES=1000 RAND_SECS=3; fi
PORT_BASE=${FRONTS_PORT_BASE:-24800}   # ganesha NFS/MOUNT: base+1, base+2
BIN=$ROOT/build/bin
FSMETA=$ROOT/build/bench/fs-meta
NFSIO=$ROOT/build/bench/nfs-io
FMDMETA=$ROOT/build/bench/fmd-meta
PT=$ROOT/build/peers/passthrough_ll
WORK=/tmp/fbench.$$                    # a tmpfs: every backing store
NS=fbns-$$
NSIP=10.213.99.1
HOSTIP=10.213.99.2
NSX=(nsenter "--net=/run/netns/$NS")
FABRIC=fbench$$
((EUID == 0)) || { echo "$BENCH: needs root (mounts, namespaces, drop_caches)" >&2; exit 1; }

mkdir -p "$OUT" "$LOGS"
MOUNTS=()            # FUSE mounts to undo, in order
UP=()                # systems that came up

# ---- cleanup: mounts, daemons (by PID), gluster, namespace, tmpfs ---------------

# is_mounted M: from mountinfo (a stat of a FUSE mount whose daemon hangs
# would hang too)
is_mounted() { awk -v m="$1" '$5 == m { f = 1 } END { exit !f }' /proc/self/mountinfo; }
# fuse_umount M: unmount; a daemon that does not answer has its FUSE
# connection aborted first (its id is the mount's minor device number)
fuse_umount() {
    local dev
    is_mounted "$1" || return 0
    timeout 20 umount "$1" 2>/dev/null && return 0
    dev=$(awk -v m="$1" '$5 == m { print $3 }' /proc/self/mountinfo | tail -1)
    [[ -n $dev && -e /sys/fs/fuse/connections/${dev#*:}/abort ]] &&
        { log "aborting the FUSE connection of $1"; echo 1 >"/sys/fs/fuse/connections/${dev#*:}/abort"; }
    umount "$1" 2>/dev/null || umount -l "$1"
}

# fuse_ra M [KB]: the kernel read-ahead of FUSE mount M (its bdi is 0:minor),
# set to KB first if given
fuse_ra() {
    local dev f
    dev=$(awk -v m="$1" '$5 == m { print $3 }' /proc/self/mountinfo | tail -1)
    f=/sys/class/bdi/$dev/read_ahead_kb
    [[ -n $dev && -e $f ]] || { echo "?"; return; }
    [[ -n ${2:-} ]] && echo "$2" >"$f"
    cat "$f"
}

cleanup() {
    local m
    for m in "${MOUNTS[@]}"; do fuse_umount "$m"; done
    gluster_down
    slice_down
    stop_all_bg
    ip netns list 2>/dev/null | grep -qw "$NS" && ip netns del "$NS"
    ip link del fbv-$$ 2>/dev/null
    is_mounted "$WORK" && umount "$WORK"
    rm -rf "$WORK"
    rm -f /dev/shm/*"$FABRIC"* 2>/dev/null
}
trap cleanup EXIT

wait_for() { # SECONDS CMD...: until CMD succeeds (bounded)
    local t=$1 i
    shift
    for ((i = 0; i < t * 10; i++)); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
    return 1
}

work_up() {
    mkdir -p "$WORK"
    mount -t tmpfs -o size=8g,mode=0755 "fbench$$" "$WORK" || { log "ERROR: no tmpfs at $WORK"; exit 1; }
}

# ---- passthrough_ll ------------------------------------------------------------------

PT_MNT=$WORK/mnt-pt
pt_up() {
    local ex=/usr/share/doc/libfuse3-dev/examples/passthrough_ll.c
    if [[ ! -x $PT || $ex -nt $PT ]]; then
        mkdir -p "$(dirname "$PT")"
        # shellcheck disable=SC2046
        gcc -O2 -Wall -o "$PT" "$ex" $(pkg-config --cflags --libs fuse3) >"$LOGS/pt-build.log" 2>&1 ||
            { log "WARN: passthrough_ll does not build (see $LOGS/pt-build.log)"; return 1; }
    fi
    mkdir -p "$WORK/pt-src" "$PT_MNT"
    # the example's defaults: multi-threaded, cache=auto, no writeback cache
    start_bg "$LOGS/pt.log" "$PT" -f -o source="$WORK/pt-src" "$PT_MNT"
    MOUNTS+=("$PT_MNT")
    wait_for 10 is_mounted "$PT_MNT" || { log "WARN: passthrough_ll did not mount"; return 1; }
}

# ---- GlusterFS ------------------------------------------------------------------------

GL=$WORK/gluster
GL_MNT=$WORK/mnt-gl
GL_UP=0
gl() { timeout 120 gluster --mode=script "$@"; }
gluster_up() {
    have glusterd || { log "WARN: glusterd missing"; return 1; }
    if [[ -S /run/glusterd.socket ]] && gl peer status >/dev/null 2>&1; then
        log "WARN: another glusterd answers on /run/glusterd.socket: no GlusterFS rows"
        return 1
    fi
    ip netns add "$NS" || return 1
    ip -n "$NS" link set lo up
    ip link add fbv-$$ type veth peer name fbp-$$ || return 1
    ip link set fbp-$$ netns "$NS"
    ip addr add "$HOSTIP/24" dev fbv-$$
    ip link set fbv-$$ up
    ip -n "$NS" addr add "$NSIP/24" dev fbp-$$
    ip -n "$NS" link set fbp-$$ up
    mkdir -p "$GL/glusterd" "$GL/b1" "$GL/b2" "$GL/b3" "$GL/b4" "$GL_MNT"
    cat >"$GL/glusterd.vol" <<EOF
volume management
    type mgmt/glusterd
    option working-directory $GL/glusterd
    option transport-type socket
    option transport.socket.listen-port 24007
    option ping-timeout 0
    option event-threads 1
    option max-port 60999
end-volume
EOF
    start_bg "$LOGS/glusterd.out" "${NSX[@]}" glusterd -N -f "$GL/glusterd.vol" -l "$LOGS/glusterd.log"
    GLUSTERD_PID=$BG_PID
    GL_UP=1
    wait_for 30 gl peer status || { log "WARN: glusterd does not answer"; return 1; }
    gl volume create fbvol transport tcp "$NSIP:$GL/b1" "$NSIP:$GL/b2" "$NSIP:$GL/b3" "$NSIP:$GL/b4" \
        force >>"$LOGS/gluster-cli.log" 2>&1 || { log "WARN: gluster volume create failed"; return 1; }
    gl volume start fbvol >>"$LOGS/gluster-cli.log" 2>&1 || { log "WARN: gluster volume start failed"; return 1; }
    # the bricks are glusterd's children: remember their pids to be sure they go
    gl volume status fbvol 2>/dev/null | awk '/^Brick/ { print $NF }' >"$GL/brick.pids"
    mount -t glusterfs -o log-file="$LOGS/gluster-fuse.log" "$NSIP:/fbvol" "$GL_MNT" ||
        { log "WARN: glusterfs mount failed"; return 1; }
    MOUNTS+=("$GL_MNT")
    wait_for 20 is_mounted "$GL_MNT"
}
gluster_down() {
    local p i
    ((GL_UP)) || return 0
    GL_UP=0
    fuse_umount "$GL_MNT"
    gl volume stop fbvol force >>"$LOGS/gluster-cli.log" 2>&1
    gl volume delete fbvol >>"$LOGS/gluster-cli.log" 2>&1
    while read -r p; do
        [[ $p =~ ^[0-9]+$ ]] || continue
        for ((i = 0; i < 50; i++)); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -0 "$p" 2>/dev/null && { log "killing leftover brick pid $p"; kill -9 "$p"; }
    done < <(cat "$GL/brick.pids" 2>/dev/null)
    stop_bg "$GLUSTERD_PID"
}

# ---- nfs-ganesha ----------------------------------------------------------------------

ganesha_up() {
    local conf=$LOGS/ganesha.conf
    have ganesha.nfsd || { log "WARN: ganesha.nfsd missing"; return 1; }
    mkdir -p "$WORK/ganesha-export" /var/lib/nfs/ganesha /var/run/ganesha /run/rpcbind
    chmod 0777 "$WORK/ganesha-export"
    if ! rpcinfo -p 127.0.0.1 >/dev/null 2>&1; then
        # ganesha 4.3 will not start NFSv3 without a portmapper ('rpcbind -h'
        # crashes on Debian 12: no -h)
        start_bg "$LOGS/rpcbind.log" rpcbind -f -w
        wait_for 5 rpcinfo -p 127.0.0.1
    fi
    sed -e "s#@EXPORT_PATH@#$WORK/ganesha-export#" -e "s#@NFS_PORT@#$((PORT_BASE + 1))#" \
        -e "s#@MNT_PORT@#$((PORT_BASE + 2))#" "$HERE/conf/ganesha.conf" >"$conf"
    start_bg "$LOGS/ganesha.out" ganesha.nfsd -F -f "$conf" -L "$LOGS/ganesha.log" \
        -p "$WORK/ganesha.pid" -N NIV_EVENT
    GANESHA_URL="nfs://127.0.0.1/export?nfsport=$((PORT_BASE + 1))&mountport=$((PORT_BASE + 2))"
    wait_for 30 timeout 5 nfs-ls "$GANESHA_URL" || { log "WARN: ganesha does not serve"; return 1; }
}

# ---- Slice: cluster, slicefs, slice-proxy -------------------------------------------------

# The cluster: 4 slice-blockd (nodes 10-13) and 2 slice-fmd (nodes 2-3,
# NFS+MOUNT on PORT_BASE+10, +11) on the shm fabric FABRIC, data on the
# tmpfs, described by SL/cluster.conf (slice_cluster.h) for slicefs and
# slice-proxy.  Started here (the daemons' own options, as
# tests/cluster_testlib.h does) so that every PID is ours.
SL=$WORK/slice
SL_PIDS=()
SLICEFS_MNT=$WORK/mnt-slicefs
BLOCKD_CACHE_MB=320            # each holds a quarter of the 1 GiB file
slice_ready() { # LOGFILE: its "ready" line within 15 s
    wait_for 15 grep -q '^ready' "$1" || { log "WARN: no ready line in $1"; tail -5 "$1" >&2; return 1; }
}
slice_cluster_up() {
    local i j args
    [[ -x $BIN/slice-blockd && -x $BIN/slice-fmd ]] || { log "WARN: slice-blockd/slice-fmd not built"; return 1; }
    mkdir -p "$SL"
    printf 'fronts-bench-secret-%s\n' "$$" >"$SL/secret"
    chmod 600 "$SL/secret"
    {
        printf '[cluster]\nname = %s\nvolume = vol\nexport = /slice\nsecret_file = secret\n' "$FABRIC"
        printf 'stripe_unit = 262144\nroot_squash = no\n\n'
        for i in 0 1 2 3; do
            printf '[blockd %d]\nhost = local\nnode = %d\ntpz = shm\ndata = blockd-%d\ncache_mb = %d\n\n' \
                "$i" $((10 + i)) "$i" "$BLOCKD_CACHE_MB"
        done
        for i in 0 1; do
            printf '[fmd %d]\nhost = local\nnode = %d\ntpz = shm\nnfs = 127.0.0.1:%d\ndata = fmd-%d\n\n' \
                "$i" $((2 + i)) $((PORT_BASE + 10 + i)) "$i"
        done
    } >"$SL/cluster.conf"
    for i in 0 1 2 3; do
        # the first creates the fabric: a pool that holds every cache (4 x
        # 320 MiB) and the clients' buffers, touched only as used
        start_bg "$LOGS/blockd-$i.out" "$BIN/slice-blockd" --node $((10 + i)) --data "$SL/blockd-$i" \
            --cache-mb "$BLOCKD_CACHE_MB" --fabric "$FABRIC" --listen shm --secret-file "$SL/secret" \
            --pool-frames 32768
        SL_PIDS+=("$BG_PID")
        slice_ready "$LOGS/blockd-$i.out" || return 1
    done
    for i in 0 1; do
        args=()
        for j in 0 1; do ((j != i)) && args+=(--peer-fmd "$j=$((2 + j))=shm"); done
        for j in 0 1 2 3; do args+=(--blockd "$((10 + j))=shm"); done
        start_bg "$LOGS/fmd-$i.out" "$BIN/slice-fmd" --data "$SL/fmd-$i" --export /slice --volume vol \
            --no-rpcbind --nfs-port $((PORT_BASE + 10 + i)) --mount-port $((PORT_BASE + 10 + i)) \
            --managers 2 --index "$i" --node $((2 + i)) --fabric "$FABRIC" --secret-file "$SL/secret" \
            --stripe-unit 262144 --no-root-squash --root-mode 0777 "${args[@]}"
        SL_PIDS+=("$BG_PID")
        slice_ready "$LOGS/fmd-$i.out" || return 1
    done
}
slicefs_up() {
    [[ -x $BIN/slicefs ]] || { log "WARN: slicefs not built"; return 1; }
    mkdir -p "$SLICEFS_MNT"
    start_bg "$LOGS/slicefs.log" "$BIN/slicefs" "$SLICEFS_MNT" --cluster "$SL/cluster.conf" -f
    SL_PIDS+=("$BG_PID")
    MOUNTS+=("$SLICEFS_MNT")
    # -f prints "ready mountpoint=M" once mounted and serving
    if ! slice_ready "$LOGS/slicefs.log" || ! is_mounted "$SLICEFS_MNT"; then
        log "WARN: slicefs did not mount (see $LOGS/slicefs.log)"
        return 1
    fi
}
proxy_up() {
    local line
    [[ -x $BIN/slice-proxy ]] || { log "WARN: slice-proxy not built"; return 1; }
    start_bg "$LOGS/proxy.out" "$BIN/slice-proxy" --cluster "$SL/cluster.conf" --listen 127.0.0.1:0
    SL_PIDS+=("$BG_PID")
    slice_ready "$LOGS/proxy.out" || return 1
    line=$(grep -m1 '^ready' "$LOGS/proxy.out")
    PROXY_URL=$(grep -o 'url=[^ ]*' <<<"$line" | cut -d= -f2-)
    [[ -n $PROXY_URL ]] || { log "WARN: no url= in slice-proxy's ready line: $line"; return 1; }
}
slice_up() {
    slice_cluster_up || { log "WARN: the Slice cluster did not come up: no Slice rows"; return 1; }
    if slicefs_up; then UP+=(slicefs); else log "WARN: no slicefs rows"; fi
    if proxy_up; then UP+=(proxy); else log "WARN: no slice-proxy rows"; fi
}
slice_down() {
    local p
    fuse_umount "$SLICEFS_MNT"
    # clients first, then managers, then block servers (reverse start order)
    for ((p = ${#SL_PIDS[@]} - 1; p >= 0; p--)); do stop_bg "${SL_PIDS[p]}"; done
    SL_PIDS=()
}

# ---- measurements -------------------------------------------------------------------------

drop_caches() { sync; echo 3 >/proc/sys/vm/drop_caches; }

# fio_run GROUP NAME FIO-ARGS...: one fio job, JSON output -> FIO_JSON
fio_run() {
    local group=$1 name=$2 logf
    shift 2
    logf=$LOGS/$group-$name-r$REP.json
    FIO_JSON=""
    if ! timeout -k 10 $((RAND_SECS + 600)) fio --output-format=json --name="$name" "$@" >"$logf" 2>"$logf.err"; then
        log "WARN: fio $group $name failed (see $logf.err)"
        emit check "failed.$group.$name" runs 1
        return 1
    fi
    FIO_JSON=$logf
}
fj() { jq -r "$1" "$FIO_JSON" 2>/dev/null; }

# The machine is shared: before each system's runs wait (QUIET_MAX s at
# most) until the CPUs were QUIET_IDLE idle over half a second, and record
# the idle fraction seen (group env), as the peers' storage.sh does.
QUIET_IDLE=${QUIET_IDLE:-0.8}
QUIET_MAX=${QUIET_MAX:-20}
cpu_idle() {
    local a b
    a=$(head -1 /proc/stat); sleep 0.5; b=$(head -1 /proc/stat)
    awk -v a="$a" -v b="$b" 'BEGIN { n = split(a, x, " "); split(b, y, " "); t = 0
        for (i = 2; i <= n; i++) t += y[i] - x[i]
        printf "%.2f", (t > 0 ? ((y[5] - x[5]) + (y[6] - x[6])) / t : 0) }'
}
quiet_gate() { # GROUP
    local t0=$SECONDS idle
    while :; do
        idle=$(cpu_idle)
        awk -v f="$idle" -v q="$QUIET_IDLE" 'BEGIN { exit !(f >= q) }' && break
        ((SECONDS - t0 >= QUIET_MAX)) && { log "  (busy: CPUs $idle idle after ${QUIET_MAX} s, measuring anyway)"; break; }
        sleep 1
    done
    emit env "idle_before.$1" fraction "$idle"
}

# fuse_suite GROUP DIR: the fio jobs and fs-meta on one mount
fuse_suite() {
    local g=$1 d=$2 f=$2/fbench.dat line
    rm -f "$f"
    quiet_gate "$g"
    drop_caches
    fio_run "$g" seqwrite --filename="$f" --rw=write --bs=1M --size="${SIZE_MIB}m" --ioengine=psync \
        --direct=0 --end_fsync=1 &&
        emit "$g" seqwrite MiB/s "$(fj '.jobs[0].write.bw_bytes / 1048576 | . * 10 | round / 10')"
    drop_caches
    fio_run "$g" seqread --filename="$f" --rw=read --bs=1M --size="${SIZE_MIB}m" --ioengine=psync --direct=0 &&
        emit "$g" seqread MiB/s "$(fj '.jobs[0].read.bw_bytes / 1048576 | . * 10 | round / 10')"
    # again with every mount's read-ahead at 4 MiB, so that the comparison
    # does not hang on that one setting
    local ra0
    ra0=$(fuse_ra "$d")
    if [[ $ra0 =~ ^[0-9]+$ ]]; then
        fuse_ra "$d" 4096 >/dev/null
        drop_caches
        fio_run "$g" seqread-ra4m --filename="$f" --rw=read --bs=1M --size="${SIZE_MIB}m" --ioengine=psync --direct=0 &&
            emit "$g" seqread.ra4m MiB/s "$(fj '.jobs[0].read.bw_bytes / 1048576 | . * 10 | round / 10')"
        fuse_ra "$d" "$ra0" >/dev/null
    fi
    fio_run "$g" rand-qd1 --filename="$f" --rw=randread --bs=4k --size="${SIZE_MIB}m" --ioengine=psync \
        --direct=1 --norandommap --randrepeat=0 --time_based --runtime="$RAND_SECS" &&
        { emit "$g" rand4k.qd1 IOPS "$(fj '.jobs[0].read.iops | round')"
          emit "$g" rand4k.qd1.lat us "$(fj '.jobs[0].read.lat_ns.mean / 1000 | . * 10 | round / 10')"; }
    fio_run "$g" rand-qd16 --filename="$f" --rw=randread --bs=4k --size="${SIZE_MIB}m" --ioengine=psync \
        --direct=1 --norandommap --randrepeat=0 --time_based --runtime="$RAND_SECS" \
        --numjobs=16 --group_reporting &&
        emit "$g" rand4k.qd16 IOPS "$(fj '.jobs[0].read.iops | round')"
    rm -f "$f"
    meta_posix "$g" "$d"
}

meta_posix() {
    local g=$1 d=$2 logf=$LOGS/$1-meta-r$REP.json line p
    timeout -k 10 900 "$FSMETA" "$d" --files "$FILES" --size 4096 >"$logf" 2>"$logf.err"
    line=$(tail -1 "$logf")
    grep -q '"ok":true' <<<"$line" || { log "WARN: fs-meta on $g failed: $line"; emit check "failed.$g.meta" runs 1; return; }
    for p in create stat remove; do emit "$g" "meta.$p" ops/s "$(jget "${p}_ops" <<<"$line")"; done
}

# nfs_suite GROUP URL: nfs-io and fmd-meta against one NFSv3 server
nfs_suite() {
    local g=$1 url=$2 logf line mode qd p
    quiet_gate "$g"
    for mode in write read rand1 rand16; do
        logf=$LOGS/$g-$mode-r$REP.json
        case $mode in
            write | read) timeout 600 "$NFSIO" "$url" /fbench.dat "$mode" --mib "$SIZE_MIB" --bs 1048576 --qd 1 ;;
            rand*) qd=${mode#rand}
                timeout $((RAND_SECS + 60)) "$NFSIO" "$url" /fbench.dat randread --mib "$SIZE_MIB" --bs 4096 \
                    --qd "$qd" --secs "$RAND_SECS" ;;
        esac >"$logf" 2>"$logf.err"
        line=$(tail -1 "$logf")
        if ! grep -q '"ok":true' <<<"$line"; then
            log "WARN: nfs-io $g $mode failed: $line"
            emit check "failed.$g.$mode" runs 1
            continue
        fi
        case $mode in
            write) emit "$g" seqwrite MiB/s "$(jget mib_s <<<"$line")" ;;
            read) emit "$g" seqread MiB/s "$(jget mib_s <<<"$line")" ;;
            rand1) emit "$g" rand4k.qd1 IOPS "$(jget iops <<<"$line")"
                emit "$g" rand4k.qd1.lat us "$(jget lat_us <<<"$line")" ;;
            rand16) emit "$g" rand4k.qd16 IOPS "$(jget iops <<<"$line")" ;;
        esac
    done
    timeout 60 "$NFSIO" "$url" /fbench.dat rm >/dev/null 2>&1
    logf=$LOGS/$g-meta-r$REP.json
    timeout 900 "$FMDMETA" "$url" --files "$FILES" --size 4096 --mixed 0 --clients 1 >"$logf" 2>"$logf.err"
    line=$(tail -1 "$logf")
    grep -q '"ok":true' <<<"$line" || { log "WARN: fmd-meta on $g failed: $line"; emit check "failed.$g.meta" runs 1; return; }
    for p in create stat remove; do emit "$g" "meta.$p" ops/s "$(jget "${p}_ops" <<<"$line")"; done
}

is_up() { [[ " ${UP[*]} " == *" $1 "* ]]; }
# the read-ahead each FUSE mount got; FRONTS_RA_KB
# sets it on every FUSE mount alike
RA_INFO=""
record_ra() {
    local g m
    for g in slicefs gluster pt; do
        is_up $g || continue
        case $g in slicefs) m=$SLICEFS_MNT ;; gluster) m=$GL_MNT ;; pt) m=$PT_MNT ;; esac
        RA_INFO+="${RA_INFO:+, }$g $(fuse_ra "$m" "${FRONTS_RA_KB:-}") KiB"
    done
}
run_slicefs() { is_up slicefs && fuse_suite slicefs "$SLICEFS_MNT"; }
run_gluster() { is_up gluster && fuse_suite gluster "$GL_MNT"; }
run_pt() { is_up pt && fuse_suite pt "$PT_MNT"; }
run_proxy() { is_up proxy && nfs_suite proxy "$PROXY_URL"; }
run_ganesha() { is_up ganesha && nfs_suite ganesha "$GANESHA_URL"; }

# ---- report ---------------------------------------------------------------------------------

orna() { [[ -n ${1:-} ]] && awk -v v="$1" 'BEGIN { printf (v >= 100 ? "%.0f\n" : "%.1f\n"), v }' || echo "n/a"; }
ratio() { awk -v a="${1:-}" -v b="${2:-}" 'BEGIN { if (a != "" && b != "" && b > 0) printf "%.2f", a / b }'; }
met() { # RATIO TARGET
    [[ -z ${1:-} ]] && { echo "n/a"; return; }
    awk -v v="$1" -v t="$2" 'BEGIN { print (v >= t) ? "yes" : "**no**" }'
}
# goal_row WHAT METRIC PEER FACTOR
goal_row() {
    local o p r
    o=$(med slicefs "$2")
    p=$(med "$3" "$2")
    r=$(ratio "$o" "$p")
    echo "| $1 | $(orna "$o") | $(orna "$p") ($3) | ≥ $4× | $([[ -n $r ]] && echo "$r×" || echo n/a) | $(met "$r" "$4") |"
}

label() {
    case $1 in
        slicefs) echo "slicefs (FUSE) → Slice: 4 blockd + 2 fmd, shm" ;;
        gluster) echo "GlusterFS $(pkg_version glusterfs-server | cut -d- -f1), 4-brick distribute, FUSE" ;;
        pt) echo "libfuse passthrough_ll → tmpfs" ;;
        proxy) echo "slice-proxy (NFSv3) → Slice, libnfs client" ;;
        ganesha) echo "nfs-ganesha $(pkg_version nfs-ganesha | cut -d- -f1) VFS → tmpfs, libnfs client" ;;
    esac
}

write_md() {
    local t_run=$1 nfail g row m o p
    nfail=$(awk -F'\t' 'NR > 1 && $2 == "check" { n++ } END { print n + 0 }' "$TSV")
    {
        echo "# Fronts benchmark: slicefs and slice-proxy beside GlusterFS, FUSE passthrough, nfs-ganesha"
        echo
        md_meta "$t_run" "$LOAD_BEFORE, after: $(cut -d' ' -f1-3 /proc/loadavg)" fio glusterfs-server nfs-ganesha fuse3 libnfs13 |
            grep -v '^- pinning:'
        echo "- **pinning: none** (each system is several daemons sharing both CPUs with the workload tool, see below)"
        echo "- systems up: ${UP[*]:-none}; checks: $nfail failed run(s) (must be 0)"
        echo "- CPU idle fraction before each system's runs (median): $(orna "$(med env idle_before.slicefs)") slicefs, $(orna "$(med env idle_before.gluster)") GlusterFS, $(orna "$(med env idle_before.pt)") passthrough, $(orna "$(med env idle_before.proxy)") slice-proxy, $(orna "$(med env idle_before.ganesha)") ganesha (each waited up to $QUIET_MAX s for ≥ $QUIET_IDLE)"
        echo "- kernel read-ahead of the FUSE mounts: ${RA_INFO:-n/a}$([[ -n ${FRONTS_RA_KB:-} ]] && echo " (set alike by FRONTS_RA_KB)" || echo " (as each mount left it)")"
        echo "- sizes: $SIZE_MIB MiB file, $FILES files of 4 KiB, $RAND_SECS s per random-read run"
        echo
        echo "## Goals"
        echo
        echo "| goal | measured (slicefs) | peer (same run) | target | ratio | met? |"
        echo "|---|---:|---:|---|---:|---|"
        goal_row "sequential write MiB/s vs GlusterFS" seqwrite gluster 2
        goal_row "sequential read MiB/s vs GlusterFS" seqread gluster 2
        goal_row "sequential read MiB/s vs GlusterFS, both with 4 MiB read-ahead" seqread.ra4m gluster 2
        goal_row "sequential write MiB/s vs passthrough" seqwrite pt 0.7
        goal_row "sequential read MiB/s vs passthrough" seqread pt 0.7
        goal_row "sequential read MiB/s vs passthrough, both with 4 MiB read-ahead" seqread.ra4m pt 0.7
        for m in create stat remove; do goal_row "metadata: $m/s vs GlusterFS" "meta.$m" gluster 2; done
        echo
        echo "For information (no goal): slice-proxy beside nfs-ganesha, the same libnfs client."
        echo
        echo "| figure | slice-proxy | nfs-ganesha | ratio |"
        echo "|---|---:|---:|---:|"
        for m in seqwrite seqread rand4k.qd1 rand4k.qd16 meta.create meta.stat meta.remove; do
            o=$(med proxy $m); p=$(med ganesha $m)
            echo "| $m | $(orna "$o") | $(orna "$p") | $(r=$(ratio "$o" "$p"); [[ -n $r ]] && echo "$r×" || echo n/a) |"
        done
        echo
        echo "## All systems (median of $REPS rep(s))"
        echo
        echo "| system | seq write MiB/s | seq read MiB/s | seq read, 4 MiB RA | 4K rand read IOPS QD1 | QD1 mean µs | 4K rand IOPS QD16 | create/s | stat/s | remove/s |"
        echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
        for g in slicefs gluster pt proxy ganesha; do
            row="| $(label $g)"
            for m in seqwrite seqread seqread.ra4m rand4k.qd1 rand4k.qd1.lat rand4k.qd16 meta.create meta.stat meta.remove; do
                row+=" | $(orna "$(med $g $m)")"
            done
            echo "$row |"
        done
        echo
        echo "## Method"
        echo
        echo "FUSE rows (slicefs, GlusterFS, passthrough): fio $(pkg_version fio) on the mount."
        echo "Sequential write: one new $SIZE_MIB MiB file, 1 MiB \`psync\` writes, buffered,"
        echo "\`end_fsync=1\` (the rate includes the final fsync).  Sequential read: the same file,"
        echo "1 MiB \`psync\` reads, buffered, right after \`sync; echo 3 > /proc/sys/vm/drop_caches\`"
        echo "(the client's page cache starts empty; the tmpfs backing stores keep their data)."
        echo "Each mount reads with the kernel read-ahead it got when mounted (listed above), then"
        echo "again after setting every"
        echo "mount's \`/sys/class/bdi/0:N/read_ahead_kb\` to 4096 and dropping the caches (\`seqread.ra4m\`)."
        echo "Random reads: 4 KiB, \`direct=1\` (every read goes to the FUSE daemon), $RAND_SECS s;"
        echo "QD1 is one \`psync\` thread; **QD16 is \`numjobs=16\` \`psync\` threads** (16 reads in flight"
        echo "from 16 threads: FUSE gives libaio no real asynchronous direct I/O, so an"
        echo "\`iodepth=16\` libaio job would not keep 16 requests in flight)."
        echo "Metadata: \`bench/fs-meta\`, one thread: create (open O_EXCL + write 4 KiB + close),"
        echo "stat, unlink of $FILES files in one new directory (the syscalls of the peers' metabench.c)."
        echo
        echo "NFS rows (slice-proxy, ganesha): the same libnfs 4.0 client programs for both:"
        echo "\`bench/nfs-io\` (sequential write of $SIZE_MIB MiB in 1 MiB calls, one in flight, then"
        echo "COMMIT; sequential read of it; 4 KiB random reads with 1 and 16 calls in flight) and"
        echo "\`bench/fmd-meta --mixed 0\` (create + 4 KiB write, stat, remove through libnfs's path API)."
        echo "These are not comparable with the FUSE rows (no kernel page cache, no FUSE hop)."
        echo
        echo "Slice: 4 \`slice-blockd\` ($BLOCKD_CACHE_MB MiB caches in the shm pool, default spin) and 2"
        echo "\`slice-fmd\` (name hashing, default \`--sync full\`: on tmpfs a flush costs next to"
        echo "nothing), stripe unit 256 KiB, one shm fabric; \`slicefs -f\` and \`slice-proxy\` with"
        echo "their default options, each a client of that fabric.  GlusterFS: default volume options."
        echo
        echo "Backing stores: all on one tmpfs (GlusterFS bricks, Slice's block servers and file"
        echo "managers, the passthrough source, ganesha's export), so the fronts and their"
        echo "servers are compared, not a disk.  GlusterFS: glusterd and 4 bricks in a network"
        echo "namespace on a veth pair (it refuses 127.x), the FUSE client in the root namespace."
        echo "Nothing is pinned: a system is several processes (GlusterFS: glusterd, 4 brick"
        echo "daemons, the FUSE client; Slice: 4 slice-blockd, 2 slice-fmd, slicefs or slice-proxy;"
        echo "passthrough_ll and ganesha: one multi-threaded daemon) sharing the 2 CPUs with the"
        echo "workload tool; the systems run one after the other, each rep in the same order."
        echo
        md_every_figure
    } >"$MD"
}

plabel() {
    case $1 in
        slicefs) echo "slicefs" ;; gluster) echo "GlusterFS" ;; pt) echo "passthrough" ;;
        proxy) echo "slice-proxy" ;; ganesha) echo "ganesha" ;;
    esac
}
write_png() {
    local dat=$LOGS/plot.dat g
    have gnuplot || { log "WARN: gnuplot missing, no plot"; return 0; }
    ((${#UP[@]})) || { log "WARN: no system came up, no plot"; return 0; }
    : >"$dat"
    for g in slicefs gluster pt proxy ganesha; do
        printf '"%s"' "$(plabel "$g")" >>"$dat"
        for m in seqwrite seqread meta.create meta.stat meta.remove; do
            printf '\t%s' "$(orna "$(med $g $m)" | sed 's#n/a#?#')" >>"$dat"
        done
        echo >>"$dat"
    done
    gnuplot >"$LOGS/gnuplot.log" 2>&1 <<EOF || log "WARN: gnuplot failed (see $LOGS/gnuplot.log)"
set terminal png size 1400,600 font ",10" noenhanced
set output "$PNG"
set multiplot layout 1,2 title "Fronts: slicefs / slice-proxy vs GlusterFS, FUSE passthrough, nfs-ganesha (median of $REPS rep(s), higher is better)"
$GP_HISTOGRAMS
set datafile missing "?"
set grid ytics
set key top left
set xlabel "FUSE mounts: slicefs, GlusterFS, passthrough_ll  |  NFSv3 through libnfs: slice-proxy, ganesha"
set title "sequential, 1 MiB calls (MiB/s)"
set yrange [0:*]
plot "$dat" using 2:xtic(1) title "write (+fsync)" lc rgb "#2b7bba", \
     "" using 3 title "read (cold client cache)" lc rgb "#7fbf7b"
set title "metadata, 4 KiB files (ops/s, log scale)"
set logscale y
set yrange [*:*]
plot "$dat" using 4:xtic(1) title "create+write" lc rgb "#2b7bba", \
     "" using 5 title "stat" lc rgb "#7fbf7b", \
     "" using 6 title "remove" lc rgb "#d95f02"
unset multiplot
EOF
}

# ---- main -------------------------------------------------------------------------------------

install_peers fio glusterfs-server glusterfs-client nfs-ganesha nfs-ganesha-vfs rpcbind libnfs-utils \
    libfuse3-dev gnuplot-nox jq
build_ours build/bench/fs-meta build/bench/nfs-io build/bench/fmd-meta
work_up
for s in ${FRONTS_ONLY:-slice pt gluster ganesha}; do
    log "== up $s"
    case $s in
        slice) slice_up ;;   # adds slicefs and proxy to UP
        *) "${s}_up" && UP+=("$s") || log "WARN: $s did not come up: no $s rows" ;;
    esac
done
record_ra
bench_run run_slicefs run_gluster run_pt run_proxy run_ganesha
