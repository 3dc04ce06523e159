#!/usr/bin/env bash
# Cost curves (issue 21): how the cost of zk-client, the `zookeeper-client`
# crate (the peer), zk-testserver and real ZooKeeper grows as the work grows.
# Measures only; scripts/bench/draw.py draws the TSV files it writes.
#
# Run `scripts/bench/curves.sh --help` for the parts and ranges. Every range
# is a flag, so a rerun on a quiet machine can extend it; the defaults are
# the first set (what fits in about 40 minutes on 2 cores).
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$SCRIPT_DIR/../.." && pwd)
REF="$REPO_ROOT/scripts/zk-reference.sh"
REL="$REPO_ROOT/target/release"
PEER_DIR="$SCRIPT_DIR/peer"
PEER_REL="$PEER_DIR/target/release"
PROG=curves
LOG_CLOCK=yes
# shellcheck source=scripts/bench/lib.sh
source "$SCRIPT_DIR/lib.sh"

PARTS="client footprint server ensemble"
TARGETS="zk1 ts1"
CLIENT_TARGETS="zk1 ts1"
ROUNDS=1
CONC_OPS="get create set multi"
CONC_STEPS="1 4 16 64 256 1024"
SIZE_OPS="get set"
SIZE_STEPS="10 100 1000 10000 100000 1000000"
SIZE_CONC=16
OPS=20000
SERIAL_OPS=2000
SESSION_STEPS=1,10,100,1000
WATCH_STEPS=1,10,100,1000,10000,100000
PING_STEPS=1,10,100,1000
FANOUT_STEPS=1,10,100,1000
CHILDREN_STEPS=10,100,1000,10000,100000
ZNODE_STEPS="10000 100000"
ENSEMBLE_SIZES="1 3 5 7"
ENSEMBLE_ROUNDS=3
OUT_DIR=""
TESTSERVER_PORT=${BENCH_TESTSERVER_PORT:-26181}
CONTROL_PORT=${BENCH_CONTROL_PORT:-26170}
# A million znodes or children do not fit in zk-reference.sh's -Xmx256m.
export ZK_REF_JVM_OPTS=${ZK_REF_JVM_OPTS:--Xms32m -Xmx2g -XX:+UseSerialGC}

usage() {
    cat <<EOF
Usage: scripts/bench/curves.sh [options]

Measures the cost curves of issue 21 and writes one TSV per curve family to
target/bench/curves-<timestamp>/ (with machine.txt and the raw output of
every run); then draw them with
  python3 scripts/bench/draw.py target/bench/curves-<timestamp>

Parts (--parts, any of):
  client     zk-bench vs zk-bench-peer (scripts/bench/compare.sh, the same
             ABBA rounds) on each target: every op of --conc-ops at every
             concurrency of --conc-steps; every op of --size-ops at every
             payload of --size-steps (concurrency --size-conc)  -> client.tsv
  footprint  zk-footprint vs zk-footprint-peer: RSS of the client process
             per idle session (--session-steps) and per watch on one session
             (--watch-steps), with the server's RSS at each step
             -> footprint.tsv
  server     the same client (zk-client) against each target: get
             throughput (zk-bench get:64) with N idle sessions pinging at a
             2 s session timeout (--ping-steps) -> pings.tsv; one change to N
             watcher sessions (--fanout-steps) -> fanout.tsv; getChildren of
             N children (--children-steps) -> children.tsv; RSS, restart and
             first write after N znodes (--znode-steps; zk-testserver in
             memory and with --data-dir) -> znodes.tsv
             (pings, fanout, children and znodes also run alone)
  ensemble   start -> first acknowledged write and leader kill -> next
             acknowledged write, zk-testserver binary vs real ZooKeeper, per
             ensemble size (--ensemble-sizes, --ensemble-rounds)
             -> ensemble.tsv

Options:
  --parts LIST            parts to run                          [$PARTS]
  --targets LIST          servers of the footprint and server parts: zk1
                          (real ZooKeeper standalone) and/or ts1
                          (zk-testserver, 1 member, in memory)  [$TARGETS]
  --client-targets LIST   compare.sh targets of the client part (zk3, ts3,
                          null, ... work too)                   [$CLIENT_TARGETS]
  --rounds R              rounds of each client case            [$ROUNDS]
  --ops N                 measured ops of a pipelined case      [$OPS]
  --serial-ops N          measured ops at concurrency 1         [$SERIAL_OPS]
  --conc-ops LIST         [$CONC_OPS]
  --conc-steps LIST       [$CONC_STEPS]
  --size-ops LIST         [$SIZE_OPS]
  --size-steps LIST       payload bytes (below jute.maxbuffer)  [$SIZE_STEPS]
  --size-conc C           [$SIZE_CONC]
  --session-steps N,..    [$SESSION_STEPS]
  --watch-steps N,..      [$WATCH_STEPS]
  --ping-steps N,..       [$PING_STEPS] (check ulimit -n: one descriptor per
                          session in the client and in the server)
  --fanout-steps N,..     [$FANOUT_STEPS] (one session per watcher)
  --children-steps N,..   [$CHILDREN_STEPS]
  --znode-steps LIST      [$ZNODE_STEPS]
  --ensemble-sizes LIST   [$ENSEMBLE_SIZES]
  --ensemble-rounds R     [$ENSEMBLE_ROUNDS]
  --out DIR               [target/bench/curves-<timestamp>]

Ports: real ZooKeeper through scripts/zk-reference.sh (ZK_REF_STANDALONE_PORT,
ZK_REF_ENSEMBLE_*_BASE); zk-testserver on BENCH_TESTSERVER_PORT.. [$TESTSERVER_PORT],
its control endpoint on BENCH_CONTROL_PORT [$CONTROL_PORT]. JVM options:
ZK_REF_JVM_OPTS [$ZK_REF_JVM_OPTS].
EOF
}

while [[ $# -gt 0 ]]; do
    case $1 in
        --parts) PARTS=${2:?}; shift 2 ;;
        --targets) TARGETS=${2:?}; shift 2 ;;
        --client-targets) CLIENT_TARGETS=${2:?}; shift 2 ;;
        --rounds) ROUNDS=${2:?}; shift 2 ;;
        --ops) OPS=${2:?}; shift 2 ;;
        --serial-ops) SERIAL_OPS=${2:?}; shift 2 ;;
        --conc-ops) CONC_OPS=${2:?}; shift 2 ;;
        --conc-steps) CONC_STEPS=${2:?}; shift 2 ;;
        --size-ops) SIZE_OPS=${2:?}; shift 2 ;;
        --size-steps) SIZE_STEPS=${2:?}; shift 2 ;;
        --size-conc) SIZE_CONC=${2:?}; shift 2 ;;
        --session-steps) SESSION_STEPS=${2:?}; shift 2 ;;
        --watch-steps) WATCH_STEPS=${2:?}; shift 2 ;;
        --ping-steps) PING_STEPS=${2:?}; shift 2 ;;
        --fanout-steps) FANOUT_STEPS=${2:?}; shift 2 ;;
        --children-steps) CHILDREN_STEPS=${2:?}; shift 2 ;;
        --znode-steps) ZNODE_STEPS=${2:?}; shift 2 ;;
        --ensemble-sizes) ENSEMBLE_SIZES=${2:?}; shift 2 ;;
        --ensemble-rounds) ENSEMBLE_ROUNDS=${2:?}; shift 2 ;;
        --out) OUT_DIR=${2:?}; shift 2 ;;
        -h|--help) usage; exit 0 ;;
        *) die "unknown argument '$1' (see --help)" ;;
    esac
done
for v in ROUNDS OPS SERIAL_OPS SIZE_CONC ENSEMBLE_ROUNDS; do
    [[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "${v,,} must be a positive integer"
done
for v in SESSION_STEPS WATCH_STEPS PING_STEPS FANOUT_STEPS CHILDREN_STEPS; do
    [[ ${!v} =~ ^[0-9]+(,[0-9]+)*$ ]] || die "${v,,} must be comma-separated counts"
done

OUT_DIR=${OUT_DIR:-$REPO_ROOT/target/bench/curves-$(date -u +%Y%m%dT%H%M%SZ)}
mkdir -p "$OUT_DIR/runs"
LOAD_LOG="$OUT_DIR/load.tsv"

# ----- servers this script started, stopped on exit -----

RUNNING_REF=""
COPROC_PID=""
stop_all() {
    if [[ -n $COPROC_PID ]]; then
        kill "$COPROC_PID" 2>/dev/null || true
        COPROC_PID=""
    fi
    if [[ -n $RUNNING_REF ]]; then
        "$REF" stop "$RUNNING_REF" >/dev/null 2>&1 || log "stopping $RUNNING_REF failed"
        RUNNING_REF=""
    fi
    ts_stop
}
trap stop_all EXIT
trap 'exit 130' INT TERM

load1() { cut -d' ' -f1 /proc/loadavg; }
now_ns() { date +%s%N; }
ms_since() { awk -v a="$1" -v b="$(now_ns)" 'BEGIN { printf "%.1f", (b - a) / 1e6 }'; }
# Sum of a /proc status field (KiB) over pids.
sum_kib() {
    local field=$1 pid total=0 v
    shift
    for pid in "$@"; do
        v=$(rss_kib "$pid" "$field" 2>/dev/null || echo 0)
        total=$((total + ${v:-0}))
    done
    echo "$total"
}
# kv KEY LINE: the value of KEY=value in LINE.
kv() { tr ' ' '\n' <<<"$2" | sed -n "s/^$1=//p"; }
note_load() { printf '%s\t%s\t%s\n' "$(date -u +%H:%M:%S)" "$1" "$(load1)" >>"$LOAD_LOG"; }

# start_server TARGET [extra zk-testserver args...]: sets CONNECT and PIDS.
CONNECT=""
PIDS=()
start_server() {
    local target=$1
    shift
    case $target in
        zk1)
            RUNNING_REF=standalone
            CONNECT=$("$REF" start standalone)
            mapfile -t PIDS < <("$REF" pids)
            ;;
        ts1|ts1-disk)
            local args=("$@")
            if [[ $target == ts1-disk ]]; then
                rm -rf "$OUT_DIR/ts-data"
                args+=(--data-dir "$OUT_DIR/ts-data")
            fi
            TS_BUILT=yes ts_start 1 "$TESTSERVER_PORT" "$OUT_DIR/testserver.log" "${args[@]}"
            CONNECT=$TS_CONNECT
            PIDS=("$TS_PID")
            ;;
        *) die "unknown target '$target'" ;;
    esac
    log "$target up at $CONNECT (pids ${PIDS[*]})"
}
stop_server() {
    if [[ -n $RUNNING_REF ]]; then
        "$REF" stop "$RUNNING_REF" >/dev/null
        RUNNING_REF=""
    fi
    ts_stop
}

# ----- machine -----

describe_machine() {
    echo "date: $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
    echo "commit: $(git -C "$REPO_ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')"
    echo "nproc: $(nproc)"
    echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
    echo "ram: $(awk '/MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)"
    echo "kernel: $(uname -r)"
    echo "rustc: $(rustc --version)"
    echo "java: $(java -version 2>&1 | head -1)"
    echo "ZK_REF_JVM_OPTS: $ZK_REF_JVM_OPTS"
    echo "ulimit -n: $(ulimit -n)"
    echo "parts: $PARTS; targets: $TARGETS; client targets: $CLIENT_TARGETS; rounds: $ROUNDS"
    echo "uptime: $(uptime)"
}

# ----- client: compare.sh over concurrency and payload -----

part_client() {
    local cases="" op conc size ops
    for op in $CONC_OPS; do
        for conc in $CONC_STEPS; do cases+="$op:$conc "; done
    done
    note_load "client concurrency"
    "$SCRIPT_DIR/compare.sh" --rounds "$ROUNDS" --ops "$OPS" --serial-ops "$SERIAL_OPS" \
        --targets "$CLIENT_TARGETS" --cases "$cases" --out "$OUT_DIR/client-conc" >&2
    append_client_rows "$OUT_DIR/client-conc/results.tsv" conc 100
    for size in $SIZE_STEPS; do
        # About 100 MB of payload per run, between 100 and OPS operations.
        ops=$((100000000 / (size > 0 ? size : 1)))
        ((ops > OPS)) && ops=$OPS
        ((ops < 100)) && ops=100
        cases=""
        for op in $SIZE_OPS; do cases+="$op:$SIZE_CONC "; done
        note_load "client size $size"
        "$SCRIPT_DIR/compare.sh" --rounds "$ROUNDS" --ops "$ops" --serial-ops "$ops" \
            --size "$size" --targets "$CLIENT_TARGETS" --cases "$cases" \
            --out "$OUT_DIR/client-size-$size" >&2
        append_client_rows "$OUT_DIR/client-size-$size/results.tsv" size "$size"
    done
}

# append_client_rows FILE SWEEP SIZE: compare.sh's rows (target case client
# round ops p50 p99 cpu load) with the sweep (conc or size) and the payload
# size added.
append_client_rows() {
    local file=$1 sweep=$2 size=$3
    [[ -s $OUT_DIR/client.tsv ]] ||
        printf 'sweep\ttarget\top\tconc\tsize\tclient\tround\tops_per_sec\tp50_us\tp99_us\tcpu_us_per_op\tload1\n' \
            >"$OUT_DIR/client.tsv"
    awk -F'\t' -v OFS='\t' -v sweep="$sweep" -v size="$size" 'NR > 1 {
        split($2, c, ":"); print sweep, $1, c[1], c[2], size, $3, $4, $5, $6, $7, $8, $9 }' \
        "$file" >>"$OUT_DIR/client.tsv"
}

# ----- footprint: client and server RSS per session and per watch -----

# footprint TARGET CLIENT MODE STEPS [extra args]: runs the footprint tool
# with --pause; at each step notes the server's RSS, then lets it go on.
# Calls on_step (if set) after each step line with the line in STEP_LINE.
STEP_LINE=""
ON_STEP=""
footprint() {
    local target=$1 client=$2 mode=$3 steps=$4 bin line count=0 server
    shift 4
    bin=$REL/zk-footprint
    [[ $client == peer ]] && bin=$PEER_REL/zk-footprint-peer
    local from_fp to_fp
    coproc FP { "$bin" --connect "$CONNECT" --mode "$mode" --steps "$steps" --pause "$@" \
        2>"$OUT_DIR/runs/footprint-$target-$client-$mode.err"; }
    COPROC_PID=$FP_PID
    # Copies: bash closes the coproc's own descriptors once it has exited.
    exec {from_fp}<&"${FP[0]}" {to_fp}>&"${FP[1]}"
    while read -r -u "$from_fp" line; do
        echo "$line" >>"$OUT_DIR/runs/footprint-$target-$client-$mode.out"
        server=$(sum_kib VmRSS "${PIDS[@]}")
        count=$(kv count "$line")
        printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$target" "$mode" "$client" \
            "$(kv step "$line")" "$count" "$(kv rss_kib "$line")" "$server" \
            "$(kv not_connected "$line")" "$(load1)" >>"$OUT_DIR/$FOOTPRINT_TSV"
        STEP_LINE=$line
        if [[ -n $ON_STEP ]]; then "$ON_STEP" "$target"; fi
        # The final line asks for no answer (the tool may be gone already).
        if [[ $(kv step "$line") != final ]]; then
            echo >&"$to_fp" 2>/dev/null || true
        fi
    done
    exec {from_fp}<&- {to_fp}>&-
    # A failure (e.g. a server that stops admitting sessions) keeps the
    # steps measured before it, and is logged.
    wait "$COPROC_PID" ||
        log "zk-footprint ($client, $mode) failed on $target: $(tail -3 "$OUT_DIR/runs/footprint-$target-$client-$mode.err")"
    COPROC_PID=""
}

part_footprint() {
    local target client
    FOOTPRINT_TSV=footprint.tsv
    printf 'target\tmode\tclient\tstep\tcount\tclient_rss_kib\tserver_rss_kib\tnot_connected\tload1\n' \
        >"$OUT_DIR/footprint.tsv"
    for target in $TARGETS; do
        for client in ours peer; do
            # A fresh server per run: the server's own figures then start
            # from the same state for both clients.
            start_server "$target"
            note_load "footprint $target $client"
            footprint "$target" "$client" sessions "$SESSION_STEPS"
            footprint "$target" "$client" watches "$WATCH_STEPS"
            stop_server
        done
    done
}

# ----- server: one client (ours), each server -----

# At each step of the pinging sessions: a get throughput run beside them.
ping_step() {
    local target=$1 tag line
    if [[ $(kv step "$STEP_LINE") == final ]]; then
        # After the last run: did the held sessions stay connected?
        printf '%s\t%s\t-\t-\t-\t%s\t%s\t%s\n' "$target" "$(kv count "$STEP_LINE")" \
            "$(kv not_connected "$STEP_LINE")" "$(sum_kib VmRSS "${PIDS[@]}")" "$(load1)" \
            >>"$OUT_DIR/pings.tsv"
        return
    fi
    tag="pings-$target-$(kv count "$STEP_LINE")"
    # A failed run (real ZooKeeper expired the benchmark's own session
    # beside 10 000 others here) is a row of its own: "failed".
    if ! line=$("$REL/zk-bench" --connect "$CONNECT" --op get --ops "$OPS" --concurrency 64 \
        2>"$OUT_DIR/runs/$tag.err"); then
        log "zk-bench failed beside the sessions: $(tail -1 "$OUT_DIR/runs/$tag.err")"
        line="ops_per_sec=failed p50_us=failed p99_us=failed"
    fi
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$target" "$(kv count "$STEP_LINE")" \
        "$(kv ops_per_sec "$line")" "$(kv p50_us "$line")" "$(kv p99_us "$line")" \
        "$(kv not_connected "$STEP_LINE")" "$(sum_kib VmRSS "${PIDS[@]}")" "$(load1)" \
        >>"$OUT_DIR/pings.tsv"
}

part_server() {
    part_pings
    part_fanout
    part_children
    part_znodes
}

part_pings() {
    local target
    printf 'target\tsessions\tops_per_sec\tp50_us\tp99_us\tnot_connected_before\tserver_rss_kib\tload1\n' \
        >"$OUT_DIR/pings.tsv"
    for target in $TARGETS; do
        # Sessions of 2 s: zk-testserver allows 2..20 ticks, so a 1 s tick.
        local extra=()
        [[ $target == ts1 ]] && extra=(--tick-ms 1000)
        start_server "$target" "${extra[@]}"
        note_load "pings $target"
        FOOTPRINT_TSV=runs/pings-footprint.tsv
        ON_STEP=ping_step
        footprint "$target" ours sessions "$PING_STEPS" --session-timeout-ms 2000
        ON_STEP=""
        stop_server
    done
}

part_fanout() {
    local target line
    printf 'target\twatchers\trounds\tset_p50_ms\tlast_p50_ms\tlast_min_ms\tlast_max_ms\tload1\n' \
        >"$OUT_DIR/fanout.tsv"
    for target in $TARGETS; do
        start_server "$target"
        note_load "fanout $target"
        # A failure keeps the steps measured before it (and is logged).
        "$REL/zk-scale" fanout --connect "$CONNECT" --steps "$FANOUT_STEPS" --rounds 3 \
            >"$OUT_DIR/runs/fanout-$target.out" 2>"$OUT_DIR/runs/fanout-$target.err" ||
            log "fanout on $target failed: $(tail -3 "$OUT_DIR/runs/fanout-$target.err")"
        while read -r line; do
            printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$target" "$(kv watchers "$line")" \
                "$(kv rounds "$line")" "$(kv set_p50_ms "$line")" "$(kv last_p50_ms "$line")" \
                "$(kv last_min_ms "$line")" "$(kv last_max_ms "$line")" "$(load1)" >>"$OUT_DIR/fanout.tsv"
        done <"$OUT_DIR/runs/fanout-$target.out"
        stop_server
    done
}

part_children() {
    local target line
    printf 'target\tchildren\trounds\tp50_ms\tmin_ms\tfill_secs\tload1\n' >"$OUT_DIR/children.tsv"
    for target in $TARGETS; do
        start_server "$target"
        note_load "children $target"
        "$REL/zk-scale" children --connect "$CONNECT" --steps "$CHILDREN_STEPS" --rounds 5 \
            >"$OUT_DIR/runs/children-$target.out" 2>"$OUT_DIR/runs/children-$target.err" ||
            log "children on $target failed: $(tail -3 "$OUT_DIR/runs/children-$target.err")"
        while read -r line; do
            printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$target" "$(kv count "$line")" \
                "$(kv rounds "$line")" "$(kv p50_ms "$line")" "$(kv min_ms "$line")" \
                "$(kv fill_secs "$line")" "$(load1)" >>"$OUT_DIR/children.tsv"
        done <"$OUT_DIR/runs/children-$target.out"
        stop_server
    done
}

# Memory after N znodes (zk-fill), then a restart from the data and the
# time to the first acknowledged write (real ZooKeeper and zk-testserver
# with --data-dir; zk-testserver in memory has nothing to recover).
part_znodes() {
    local target n t0 restart rss fill targets=""
    printf 'target\tznodes\tserver_rss_kib\tfill_secs\trestart_ms\tload1\n' >"$OUT_DIR/znodes.tsv"
    for target in $TARGETS; do
        targets+=" $target"
        [[ $target == ts1 ]] && targets+=" ts1-disk"
    done
    for target in $targets; do
        for n in $ZNODE_STEPS; do
            start_server "$target"
            note_load "znodes $target $n"
            t0=$(now_ns)
            "$REL/zk-fill" --connect "$CONNECT" --nodes "$n" >"$OUT_DIR/runs/fill-$target-$n.out" ||
                die "zk-fill failed on $target"
            fill=$(awk -v ms="$(ms_since "$t0")" 'BEGIN { printf "%.1f", ms / 1000 }')
            if [[ $target == zk1 ]]; then
                jcmd "${PIDS[0]}" GC.run >/dev/null 2>&1 || true
            fi
            sleep 2
            rss=$(sum_kib VmRSS "${PIDS[@]}")
            restart=-
            if [[ $target != ts1 ]]; then
                restart_server "$target"
                restart=$RESTART_MS
            fi
            printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$target" "$n" "$rss" "$fill" "$restart" "$(load1)" \
                >>"$OUT_DIR/znodes.tsv"
            log "znodes $target $n: rss ${rss} KiB, fill ${fill} s, restart ${restart} ms"
            stop_server
        done
    done
}

# restart_server TARGET: stops the running server keeping its data, starts
# it again and sets RESTART_MS to the milliseconds from the start to the
# first acknowledged write. (Not in a subshell: PIDS and TS_PID change.)
RESTART_MS=""
restart_server() {
    local target=$1 t0
    if [[ $target == zk1 ]]; then
        "$REF" stop-member standalone >/dev/null
        t0=$(now_ns)
        "$REF" start-member standalone >/dev/null 2>&1
        mapfile -t PIDS < <("$REF" pids)
    else
        ts_stop
        t0=$(now_ns)
        TS_BUILT=yes ts_start 1 "$TESTSERVER_PORT" "$OUT_DIR/testserver.log" --data-dir "$OUT_DIR/ts-data"
        PIDS=("$TS_PID")
    fi
    "$REL/zk-scale" first-write --connect "$CONNECT" >/dev/null || die "no write after restarting $target"
    RESTART_MS=$(ms_since "$t0")
}

# ----- ensemble: start and failover per size -----

part_ensemble() {
    local m r t0 start kill leader
    printf 'server\tmembers\tround\tstart_to_write_ms\tkill_to_write_ms\tload1\n' >"$OUT_DIR/ensemble.tsv"
    for m in $ENSEMBLE_SIZES; do
        for r in $(seq "$ENSEMBLE_ROUNDS"); do
            note_load "ensemble $m round $r"
            # zk-testserver: the binary, tick 100 ms, faults through --control.
            t0=$(now_ns)
            TS_BUILT=yes ts_start "$m" "$TESTSERVER_PORT" "$OUT_DIR/testserver-ensemble.log" \
                --tick-ms 100 --control "127.0.0.1:$CONTROL_PORT"
            "$REL/zk-scale" first-write --connect "$TS_CONNECT" >/dev/null || die "zk-testserver $m: no first write"
            start=$(ms_since "$t0")
            kill=-
            if ((m > 1)); then
                leader=$(curl -sf -X POST "http://127.0.0.1:$CONTROL_PORT/wait/leader" |
                    python3 -c 'import json, sys; print(json.load(sys.stdin)["leader"])')
                t0=$(now_ns)
                curl -sf -X POST "http://127.0.0.1:$CONTROL_PORT/members/$leader/kill" >/dev/null
                "$REL/zk-scale" first-write --connect "$TS_CONNECT" >/dev/null || die "zk-testserver $m: no write after the kill"
                kill=$(ms_since "$t0")
            fi
            ts_stop
            printf 'zk-testserver\t%s\t%s\t%s\t%s\t%s\n' "$m" "$r" "$start" "$kill" "$(load1)" >>"$OUT_DIR/ensemble.tsv"
            log "ensemble zk-testserver $m round $r: start $start ms, kill $kill ms"
            ensemble_real "$m" "$r"
        done
    done
}

# Real ZooKeeper, tick 100 ms: 1 member is the standalone server.
ensemble_real() {
    local m=$1 r=$2 t0 start kill=- leader connect name=standalone
    if ((m > 1)); then
        name=ensemble
        # Exported, so that the exit trap's stop finds every member too.
        export ZK_REF_ENSEMBLE_SIZE=$m
    fi
    t0=$(now_ns)
    RUNNING_REF=$name
    connect=$(ZK_REF_TICK_TIME=100 "$REF" start "$name" 2>"$OUT_DIR/runs/ensemble-zk-$m-$r.err" | tail -1) ||
        die "real ZooKeeper $m: did not start: $(tail -3 "$OUT_DIR/runs/ensemble-zk-$m-$r.err")"
    "$REL/zk-scale" first-write --connect "$connect" >/dev/null || die "real ZooKeeper $m: no first write"
    start=$(ms_since "$t0")
    if ((m > 1)); then
        leader=$("$REF" leader)
        t0=$(now_ns)
        "$REF" kill "$leader" >/dev/null
        "$REL/zk-scale" first-write --connect "$connect" >/dev/null || die "real ZooKeeper $m: no write after the kill"
        kill=$(ms_since "$t0")
    fi
    "$REF" stop "$name" >/dev/null 2>&1
    RUNNING_REF=""
    printf 'zookeeper\t%s\t%s\t%s\t%s\t%s\n' "$m" "$r" "$start" "$kill" "$(load1)" >>"$OUT_DIR/ensemble.tsv"
    log "ensemble zookeeper $m round $r: start $start ms, kill $kill ms"
}

# ----- main -----

log "building (release): zk-bench, zk-footprint, zk-scale, zk-fill, zk-testserver, the peer"
(cd "$REPO_ROOT" && cargo build --release -q -p examples --bin zk-bench --bin zk-footprint \
    --bin zk-scale --bin zk-fill -p zk-testserver --bin zk-testserver)
cargo build --release -q --manifest-path "$PEER_DIR/Cargo.toml"
# Built: compare.sh's zk-testserver starts need no cargo (which would wait
# for any other cargo command holding the target directory's lock).
export TS_BUILT=yes
describe_machine | tee "$OUT_DIR/machine.txt" >&2
printf 'time\tphase\tload1\n' >"$LOAD_LOG"
for part in $PARTS; do
    case $part in
        client|footprint|server|pings|fanout|children|znodes|ensemble)
            log "part $part"
            "part_$part"
            ;;
        *) die "unknown part '$part' (see --help)" ;;
    esac
done
echo "uptime after: $(uptime)" | tee -a "$OUT_DIR/machine.txt" >&2
log "results in $OUT_DIR; draw with: python3 scripts/bench/draw.py $OUT_DIR"
