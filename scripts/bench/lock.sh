#!/usr/bin/env bash
# Lock handoffs per second with 16 contenders: kazoo's Lock recipe and
# zk_recipes::Lock (zk-lock-bench) in interleaved rounds, against real
# ZooKeeper (standalone, 3 members) and zk-testserver (1, 3 members). With
# --clients "... floor" also the bare protocol (zk-lock-floor: one blocking
# thread per session, nothing but the requests), the practical ceiling.
#
# Usage: scripts/bench/lock.sh [--rounds R] [--seconds S] [--contenders N]
#                              [--targets "zk1 zk3 ts1 ts3"] [--clients "kazoo zk-recipes"]
#                              [--out DIR]
# kazoo is installed with pip into a venv under target/bench/venv. Each round
# runs every client once on the target, alternating which goes first. Real
# ZooKeeper runs through scripts/zk-reference.sh (forceSync=no unless
# ZK_REF_FORCE_SYNC says otherwise; its ZK_REF_* settings apply); zk-testserver
# runs in memory on BENCH_TESTSERVER_PORT (26181). Every client gets the whole
# connect string. Results: DIR/results.tsv and a summary of medians.
#
# After a target's rounds, the script also measures the bound any client of
# the queue-of-sequential-nodes lock reaches on it: a handoff is at least the
# holder's delete (a write) followed by the successor's getChildren (a read),
# one after the other, so handoffs/s <= 1 / (write p50 + read p50), with
# serial set and get p50 (zk-bench, 1 in flight, 3000 ops) averaged over the
# target's members (the contenders spread over all of them). DIR/bound.tsv.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$SCRIPT_DIR/../.." && pwd)
REF="$REPO_ROOT/scripts/zk-reference.sh"
VENV="$REPO_ROOT/target/bench/venv"
KAZOO_VERSION=2.11.0
PROG=lock
TESTSERVER_PORT=${BENCH_TESTSERVER_PORT:-26181}

ROUNDS=3
SECONDS_PER_ROUND=10
CONTENDERS=16
TARGETS="zk1 zk3 ts1 ts3"
CLIENTS="kazoo zk-recipes"
OUT_DIR=""

# shellcheck source=scripts/bench/lib.sh
source "$SCRIPT_DIR/lib.sh"

while [[ $# -gt 0 ]]; do
    case $1 in
        --rounds) ROUNDS=${2:?}; shift 2 ;;
        --seconds) SECONDS_PER_ROUND=${2:?}; shift 2 ;;
        --contenders) CONTENDERS=${2:?}; shift 2 ;;
        --targets) TARGETS=${2:?}; shift 2 ;;
        --clients) CLIENTS=${2:?}; shift 2 ;;
        --out) OUT_DIR=${2:?}; shift 2 ;;
        -h|--help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown argument '$1' (see --help)" ;;
    esac
done
[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || die "--rounds must be a positive integer"
read -r -a CLIENT_LIST <<<"$CLIENTS"
[[ ${#CLIENT_LIST[@]} -gt 0 ]] || die "--clients is empty"

OUT_DIR=${OUT_DIR:-$REPO_ROOT/target/bench/lock-$(date -u +%Y%m%dT%H%M%SZ)}
mkdir -p "$OUT_DIR"
RESULTS="$OUT_DIR/results.tsv"
printf 'target\tclient\tround\thandoffs_per_sec\tacquire_p50_ms\tacquire_p99_ms\tload1\n' >"$RESULTS"

if [[ " $CLIENTS " == *" kazoo "* ]] && ! "$VENV/bin/python" -c "import kazoo" 2>/dev/null; then
    log "installing kazoo $KAZOO_VERSION into $VENV"
    mkdir -p "$(dirname "$VENV")"
    python3 -m venv "$VENV" || die "python3 -m venv failed (apt-get install python3-venv)"
    "$VENV/bin/pip" install -q "kazoo==$KAZOO_VERSION" || die "pip install kazoo failed"
fi
(cd "$REPO_ROOT" && cargo build --release -q -p examples --bin zk-lock-bench --bin zk-lock-floor --bin zk-bench)
ZK_BENCH="$REPO_ROOT/target/release/zk-bench"
BOUND="$OUT_DIR/bound.tsv"
printf 'target\tmember\tset_p50_us\tget_p50_us\n' >"$BOUND"

# chain_bound TARGET CONNECT: serial set and get p50 on each member -> bound.tsv
chain_bound() {
    local target=$1 member set_us get_us
    for member in ${2//,/ }; do
        set_us=$("$ZK_BENCH" --connect "$member" --op set --ops 3000 --concurrency 1 2>/dev/null |
            sed -n 's/.* p50_us=\([0-9.]*\).*/\1/p') || die "zk-bench set on $member failed"
        get_us=$("$ZK_BENCH" --connect "$member" --op get --ops 3000 --concurrency 1 2>/dev/null |
            sed -n 's/.* p50_us=\([0-9.]*\).*/\1/p') || die "zk-bench get on $member failed"
        printf '%s\t%s\t%s\t%s\n' "$target" "$member" "$set_us" "$get_us" >>"$BOUND"
        log "$target $member: serial set p50 ${set_us} us, get p50 ${get_us} us"
    done
}
PYTHON=python3
[[ -x $VENV/bin/python ]] && PYTHON=$VENV/bin/python

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
    echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
    echo "uptime: $(uptime)"
} | tee "$OUT_DIR/machine.txt" >&2

for target in $TARGETS; do
    case $target in
        zk1) RUNNING_REF=standalone; connect=$("$REF" start standalone) ;;
        zk3) RUNNING_REF=ensemble; connect=$("$REF" start ensemble) ;;
        ts1|ts3)
            ts_start "${target#ts}" "$TESTSERVER_PORT" "$OUT_DIR/testserver-$target.log"
            connect=$TS_CONNECT
            ;;
        *) die "unknown target '$target' (zk1, zk3, ts1 or ts3)" ;;
    esac
    log "$target: $connect"
    for round in $(seq "$ROUNDS"); do
        order=("${CLIENT_LIST[@]}")
        if (( round % 2 == 0 )); then
            order=()
            for ((i = ${#CLIENT_LIST[@]} - 1; i >= 0; i--)); do order+=("${CLIENT_LIST[i]}"); done
        fi
        for client in "${order[@]}"; do
            load=$(cut -d' ' -f1 /proc/loadavg)
            line=$("$PYTHON" "$SCRIPT_DIR/lock_handoffs.py" --connect "$connect" \
                --contenders "$CONTENDERS" --seconds "$SECONDS_PER_ROUND" --client "$client") ||
                die "lock_handoffs.py --client $client failed on $target"
            echo "target=$target round=$round load1=$load $line"
            python3 - "$line" "$target" "$client" "$round" "$load" >>"$RESULTS" <<'EOF'
import sys
line, target, client, rnd, load = sys.argv[1:]
kv = dict(f.split("=", 1) for f in line.split() if "=" in f)
print("\t".join([target, client, rnd, kv["handoffs_per_sec"], kv["acquire_p50_ms"],
                 kv["acquire_p99_ms"], load]))
EOF
        done
    done
    chain_bound "$target" "$connect"
    if [[ -n $RUNNING_REF ]]; then
        "$REF" stop "$RUNNING_REF" >/dev/null
        RUNNING_REF=""
    fi
    ts_stop
done
echo "uptime after: $(uptime)" | tee -a "$OUT_DIR/machine.txt" >&2

python3 - "$RESULTS" "$BOUND" <<'EOF' | tee "$OUT_DIR/summary.md"
import statistics, sys
from collections import defaultdict
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1])][1:]
bounds = defaultdict(list)
for t, _, set_us, get_us in [l.rstrip("\n").split("\t") for l in open(sys.argv[2])][1:]:
    bounds[t].append((float(set_us), float(get_us)))
by = defaultdict(list)
for t, c, r, hps, p50, p99, load in rows:
    by[(t, c)].append((float(hps), float(p50), float(p99), float(load)))
kazoo_zk1 = by.get(("zk1", "kazoo"))
base = statistics.median(x[0] for x in kazoo_zk1) if kazoo_zk1 else None
print("| target | client | rounds | handoffs/s (each round) | median | acquire p50 / p99 ms (medians) "
      "| vs kazoo, same target | vs kazoo on zk1 | of the bound | load1 |")
print("|---|---|---|---|---|---|---|---|---|---|")
for (t, c), xs in by.items():
    med = statistics.median(x[0] for x in xs)
    k = by.get((t, "kazoo"))
    same = f"{med / statistics.median(x[0] for x in k):.2f}" if k else "–"
    vs1 = f"{med / base:.2f}" if base else "–"
    loads = [x[3] for x in xs]
    b = bounds.get(t)
    bound = 1e6 / (statistics.mean(x[0] for x in b) + statistics.mean(x[1] for x in b)) if b else None
    of_bound = f"{med / bound:.2f}" if bound else "–"
    print(f"| {t} | {c} | {len(xs)} | {', '.join(f'{x[0]:.1f}' for x in xs)} | **{med:.1f}** "
          f"| {statistics.median(x[1] for x in xs):.2f} / {statistics.median(x[2] for x in xs):.2f} "
          f"| {same} | {vs1} | {of_bound} | {min(loads):.2f}–{max(loads):.2f} |")
print()
print("| target | serial set p50 µs (mean of members) | serial get p50 µs | bound: handoffs/s ≤ 1 / (set + get) |")
print("|---|---|---|---|")
for t, b in bounds.items():
    s_us, g_us = statistics.mean(x[0] for x in b), statistics.mean(x[1] for x in b)
    print(f"| {t} | {s_us:.1f} | {g_us:.1f} | {1e6 / (s_us + g_us):.0f} |")
EOF
log "results in $OUT_DIR"
