#!/usr/bin/env bash
# Real ZooKeeper's side of the ensemble timings that
# `cargo test --release -p zk-testserver --test bench -- --ignored --nocapture --test-threads 1`
# measures for zk-testserver:
#
# - start -> first acknowledged write: from launching a fresh 3-member
#   ensemble (scripts/zk-reference.sh start ensemble, which returns once every
#   member serves and one leads) to the first create acknowledged through a
#   new client (zk-bench --op create --ops 1);
# - leader kill -> next acknowledged write: SIGKILL the leader, then retry a
#   fresh client's create until one is acknowledged.
#
# Usage: scripts/bench/ensemble_timing.sh [rounds] [ensemble|standalone]
# (default 5 rounds, ensemble; standalone measures start -> first write only)
# The tick is ZK_REF_TICK_TIME (default here 100 ms, the tick of the
# zk-testserver figures). Prints one line per sample and a median per figure.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$SCRIPT_DIR/../.." && pwd)
REF="$REPO_ROOT/scripts/zk-reference.sh"
BENCH="$REPO_ROOT/target/release/zk-bench"
ROUNDS=${1:-5}
NAME=${2:-ensemble}
[[ $NAME == ensemble || $NAME == standalone ]] || { echo "ensemble_timing: ensemble or standalone" >&2; exit 2; }
export ZK_REF_TICK_TIME=${ZK_REF_TICK_TIME:-100}

cargo build --release -q -p examples --bin zk-bench --manifest-path "$REPO_ROOT/Cargo.toml"

now_ms() { date +%s%3N; }

# One acknowledged create through a fresh client; fails if none within 10 s.
write_once() {
    timeout 10 "$BENCH" --connect "$1" --op create --ops 1 --concurrency 1 >/dev/null 2>&1
}

median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }

starts=()
kills=()
for ((r = 1; r <= ROUNDS; r++)); do
    "$REF" stop "$NAME" >/dev/null 2>&1 || true
    t0=$(now_ms)
    hosts=$("$REF" start "$NAME" | tail -1)
    until write_once "$hosts"; do :; done
    t1=$(now_ms)
    starts+=($((t1 - t0)))
    echo "round $r: start_to_first_write_ms=$((t1 - t0))"
    [[ $NAME == standalone ]] && continue

    leader=$("$REF" leader)
    t0=$(now_ms)
    "$REF" kill "$leader" >/dev/null
    until write_once "$hosts"; do :; done
    t1=$(now_ms)
    kills+=($((t1 - t0)))
    echo "round $r: leader_kill_to_next_write_ms=$((t1 - t0)) (killed member $leader)"
done
"$REF" stop "$NAME" >/dev/null 2>&1 || true
echo "real-zookeeper $NAME start_to_first_write: n=$ROUNDS p50_ms=$(printf '%s\n' "${starts[@]}" | median)"
[[ $NAME == standalone ]] && exit 0
echo "real-zookeeper leader_kill_to_next_write: n=$ROUNDS p50_ms=$(printf '%s\n' "${kills[@]}" | median)"
