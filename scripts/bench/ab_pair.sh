#!/usr/bin/env bash
# Paired before/after of two builds (each a release target dir with
# zk-lock-bench and zk-bench): the two run alternately, the order swapped
# every round, against zk-testserver --members 1 (in memory, from NEW) and
# real ZooKeeper standalone (scripts/zk-reference.sh, forceSync=no). Cases per
# round and target: lock handoffs with 16 contenders, pipelined get and create
# (64 in flight), serial get. One TSV row per run (the tool's own key=value
# line) in OUT/results.tsv; lock breakdown lines in OUT/stderr.log.
#
# Usage: scripts/bench/ab_pair.sh --old DIR --new DIR [--rounds 5] [--out DIR]
# Ports: BENCH_TESTSERVER_PORT (25681) and ZK_REF_STANDALONE_PORT (25691).
set -euo pipefail
SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$SCRIPT_DIR/../.." && pwd)
REF="$REPO_ROOT/scripts/zk-reference.sh"
OLD="" NEW="" ROUNDS=5 OUT=""
while [[ $# -gt 0 ]]; do
    case $1 in
        --old) OLD=${2:?}; shift 2 ;;
        --new) NEW=${2:?}; shift 2 ;;
        --rounds) ROUNDS=${2:?}; shift 2 ;;
        --out) OUT=${2:?}; shift 2 ;;
        -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
        *) echo "ab_pair: unknown argument '$1'" >&2; exit 2 ;;
    esac
done
[[ -n $OLD && -n $NEW ]] || { echo "ab_pair: --old and --new are required" >&2; exit 2; }
OUT=${OUT:-$REPO_ROOT/target/bench/ab-pair-$(date -u +%Y%m%dT%H%M%SZ)}
mkdir -p "$OUT"
TS_PORT=${BENCH_TESTSERVER_PORT:-25681}
export ZK_REF_STANDALONE_PORT=${ZK_REF_STANDALONE_PORT:-25691}
"$NEW/zk-testserver" --members 1 --port "$TS_PORT" --max-client-cnxns 0 --4lw-whitelist '*' \
    >"$OUT/ts.out" 2>"$OUT/ts.log" &
TS=$!
trap 'kill $TS 2>/dev/null || true; "$REF" stop standalone >/dev/null 2>&1 || true' EXIT
"$REF" start standalone >"$OUT/ref.log" 2>&1
declare -A HOST=([ts1]=127.0.0.1:$TS_PORT [zk1]=127.0.0.1:$ZK_REF_STANDALONE_PORT)

# run CASE TARGET old|new ROUND TOOL ARGS...: one measured run, one TSV row.
run() {
    local case=$1 target=$2 which=$3 round=$4 bin line
    shift 4
    if [[ $which == old ]]; then bin=$OLD; else bin=$NEW; fi
    line=$("$bin/$1" "${@:2}" --connect "${HOST[$target]}" 2>>"$OUT/stderr.log" | tail -1)
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$case" "$target" "$which" "$round" \
        "$(cut -d' ' -f1 /proc/loadavg)" "$line" | tee -a "$OUT/results.tsv"
}
for r in $(seq 1 "$ROUNDS"); do
    if ((r % 2)); then order="old new"; else order="new old"; fi
    for target in ts1 zk1; do
        for w in $order; do run lock "$target" "$w" "$r" zk-lock-bench --contenders 16 --seconds 10 --warmup 2; done
        for w in $order; do run get64 "$target" "$w" "$r" zk-bench --op get --ops 30000 --concurrency 64; done
        for w in $order; do run create64 "$target" "$w" "$r" zk-bench --op create --ops 30000 --concurrency 64; done
        for w in $order; do run get1 "$target" "$w" "$r" zk-bench --op get --ops 3000 --concurrency 1; done
    done
done
