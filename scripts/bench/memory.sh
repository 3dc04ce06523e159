#!/usr/bin/env bash
# Resident memory of a server holding many znodes: real ZooKeeper against
# zk-testserver, the same creation workload (zk-fill) on each.
#
# Usage: scripts/bench/memory.sh [--targets "zk1 ts1"] [--nodes 1000000]
#                                [--size 100] [--fanout 1000] [--settle 10]
#                                [--out DIR]
# Targets: zk1 (real ZooKeeper standalone, forceSync=no), zk3 (3 members),
# ts1 / ts3 (zk-testserver in memory), ts1-disk / ts3-disk (with --data-dir).
# For each target: start it fresh, note the RSS, run zk-fill (N leaf nodes of
# SIZE bytes, FANOUT per directory node), wait SETTLE seconds, check the
# server's znode count (mntr), for Java run a full GC (jcmd <pid> GC.run) and
# wait SETTLE seconds more, then note VmRSS and VmHWM (peak) of every server
# process, and the JVM's heap figures (jcmd GC.heap_info). The JVM options
# are ZK_REF_JVM_OPTS (default here: -Xms32m -Xmx2g -XX:+UseSerialGC, since
# the script's -Xmx256m cannot hold a million znodes).
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$SCRIPT_DIR/../.." && pwd)
REF="$REPO_ROOT/scripts/zk-reference.sh"
FILL="$REPO_ROOT/target/release/zk-fill"
PROG=memory
TESTSERVER_PORT=${BENCH_TESTSERVER_PORT:-26181}
export ZK_REF_JVM_OPTS=${ZK_REF_JVM_OPTS:--Xms32m -Xmx2g -XX:+UseSerialGC}

TARGETS="zk1 ts1"
NODES=1000000
SIZE=100
FANOUT=1000
SETTLE=10
OUT_DIR=""

# shellcheck source=scripts/bench/lib.sh
source "$SCRIPT_DIR/lib.sh"

while [[ $# -gt 0 ]]; do
    case $1 in
        --targets) TARGETS=${2:?}; shift 2 ;;
        --nodes) NODES=${2:?}; shift 2 ;;
        --size) SIZE=${2:?}; shift 2 ;;
        --fanout) FANOUT=${2:?}; shift 2 ;;
        --settle) SETTLE=${2:?}; shift 2 ;;
        --out) OUT_DIR=${2:?}; shift 2 ;;
        -h|--help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown argument '$1' (see --help)" ;;
    esac
done
for v in NODES SIZE FANOUT SETTLE; do
    [[ ${!v} =~ ^[0-9]+$ ]] || die "--${v,,} must be a non-negative integer"
done

OUT_DIR=${OUT_DIR:-$REPO_ROOT/target/bench/memory-$(date -u +%Y%m%dT%H%M%SZ)}
mkdir -p "$OUT_DIR"
RESULTS="$OUT_DIR/results.tsv"
printf 'target\tprocesses\tznodes\trss_before_mib\trss_after_mib\tpeak_mib\theap_used_mib\theap_committed_mib\tfill_seconds\tload1\n' >"$RESULTS"

(cd "$REPO_ROOT" && cargo build --release -q -p examples --bin zk-fill -p zk-testserver --bin zk-testserver)

RUNNING_REF=""
cleanup() {
    if [[ -n $RUNNING_REF ]]; then
        "$REF" stop "$RUNNING_REF" >/dev/null 2>&1 || log "stopping $RUNNING_REF failed"
    fi
    ts_stop
}
trap cleanup EXIT
trap 'exit 130' INT TERM

{
    echo "date: $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
    echo "commit: $(git -C "$REPO_ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')"
    echo "nproc: $(nproc)"
    echo "ram: $(awk '/MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)"
    echo "java: $(java -version 2>&1 | head -1)"
    echo "ZK_REF_JVM_OPTS: $ZK_REF_JVM_OPTS"
    echo "workload: $NODES nodes of $SIZE bytes, fan-out $FANOUT"
    echo "uptime: $(uptime)"
} | tee "$OUT_DIR/machine.txt" >&2

sum_kib() { # sum_kib FIELD PID...
    local field=$1 pid total=0
    shift
    for pid in "$@"; do total=$((total + $(rss_kib "$pid" "$field"))); done
    echo "$total"
}
mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }

# Heap used / committed (MiB, summed over the JVMs) from jcmd GC.heap_info:
# "def new generation total 9792K, used 1234K" and "tenured generation total ...".
java_heap() {
    local pid used=0 committed=0 line
    for pid in "$@"; do
        jcmd "$pid" GC.heap_info >"$OUT_DIR/heap-$pid.txt" 2>&1 || true
        while read -r line; do
            if [[ $line =~ total\ ([0-9]+)K,\ used\ ([0-9]+)K ]]; then
                committed=$((committed + BASH_REMATCH[1]))
                used=$((used + BASH_REMATCH[2]))
            fi
        done < <(grep -E '(new|tenured) generation' "$OUT_DIR/heap-$pid.txt")
    done
    echo "$(mib "$used") $(mib "$committed")"
}

for target in $TARGETS; do
    pids=()
    case $target in
        zk1)
            RUNNING_REF=standalone
            connect=$("$REF" start standalone)
            mapfile -t pids < <("$REF" pids)
            ;;
        zk3)
            RUNNING_REF=ensemble
            connect=$("$REF" start ensemble)
            # One pid per line: every member's JVM counts.
            mapfile -t pids < <("$REF" pids)
            ;;
        ts1|ts3|ts1-disk|ts3-disk)
            members=${target#ts}
            members=${members%-disk}
            args=()
            if [[ $target == *-disk ]]; then
                rm -rf "$OUT_DIR/ts-data"
                args=(--data-dir "$OUT_DIR/ts-data")
            fi
            ts_start "$members" "$TESTSERVER_PORT" "$OUT_DIR/testserver-$target.log" "${args[@]}"
            connect=$TS_CONNECT
            pids=("$TS_PID")
            ;;
        *) die "unknown target '$target' (see --help)" ;;
    esac
    log "$target: $connect (pids ${pids[*]})"
    before=$(sum_kib VmRSS "${pids[@]}")
    load=$(cut -d' ' -f1 /proc/loadavg)
    t0=$(date +%s.%N)
    "$FILL" --connect "$connect" --nodes "$NODES" --size "$SIZE" --fanout "$FANOUT" \
        >"$OUT_DIR/fill-$target.out" || die "zk-fill failed on $target"
    t1=$(date +%s.%N)
    log "$target: $(cat "$OUT_DIR/fill-$target.out")"
    sleep "$SETTLE"
    # After the settle: the member asked may have been behind the one that
    # acknowledged the last create.
    count=$(four_letter "${connect%%,*}" mntr | awk '$1 == "zk_znode_count" { print $2 }')
    heap="- -"
    if [[ $target == zk* ]]; then
        for pid in "${pids[@]}"; do jcmd "$pid" GC.run >/dev/null; done
        sleep "$SETTLE"
        heap=$(java_heap "${pids[@]}")
    fi
    after=$(sum_kib VmRSS "${pids[@]}")
    peak=$(sum_kib VmHWM "${pids[@]}")
    read -r heap_used heap_committed <<<"$heap"
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$target" "${#pids[@]}" "$count" \
        "$(mib "$before")" "$(mib "$after")" "$(mib "$peak")" "$heap_used" "$heap_committed" \
        "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')" "$load" >>"$RESULTS"
    log "$target: RSS $(mib "$before") MiB before, $(mib "$after") MiB after (peak $(mib "$peak")), znodes $count, heap used/committed $heap"
    if [[ -n $RUNNING_REF ]]; then
        "$REF" stop "$RUNNING_REF" >/dev/null
        RUNNING_REF=""
    fi
    ts_stop
    rm -rf "$OUT_DIR/ts-data"
done
echo "uptime after: $(uptime)" | tee -a "$OUT_DIR/machine.txt" >&2
column -t -s $'\t' "$RESULTS" | tee "$OUT_DIR/summary.txt"
log "results in $OUT_DIR"
