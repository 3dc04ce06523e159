#!/usr/bin/env bash
# Durable writes, two builds paired (BENCHMARKS K): for each round, start
# each build's zk-testserver (1 member, --data-dir in a fresh temp dir),
# run pipelined and serial creates with one zk-bench, stop it; the order of
# the two builds swaps every round.
#
# Usage: scripts/bench/durable_pair.sh --old DIR --new DIR [--rounds N]
#        [--bench PATH] [--port P]
# DIR holds a release `zk-testserver`; --bench defaults to OLD/zk-bench.
# Prints one line per run: round, build, load, and zk-bench's two lines.
set -euo pipefail

OLD= NEW= ROUNDS=5 BENCH= PORT=26181
while (($#)); do
  case $1 in
    --old) OLD=$2; shift 2 ;;
    --new) NEW=$2; shift 2 ;;
    --rounds) ROUNDS=$2; shift 2 ;;
    --bench) BENCH=$2; shift 2 ;;
    --port) PORT=$2; shift 2 ;;
    *) echo "durable_pair: unknown argument $1" >&2; exit 2 ;;
  esac
done
[[ -n $OLD && -n $NEW ]] || { echo "durable_pair: --old DIR --new DIR" >&2; exit 2; }
BENCH=${BENCH:-$OLD/zk-bench}

one() { # label dir round
  local dir pid load pipelined serial
  dir=$(mktemp -d /tmp/durable-pair-XXXX)
  "$2/zk-testserver" --members 1 --port "$PORT" --data-dir "$dir" >/dev/null 2>&1 &
  pid=$!
  for _ in $(seq 200); do
    [[ $( (echo ruok | nc -q1 127.0.0.1 "$PORT") 2>/dev/null) == imok ]] && break
    sleep 0.05
  done
  load=$(cut -d' ' -f1 /proc/loadavg)
  pipelined=$("$BENCH" --connect "127.0.0.1:$PORT" --op create --ops 20000 --concurrency 64 2>/dev/null | tail -1)
  serial=$("$BENCH" --connect "127.0.0.1:$PORT" --op create --ops 2000 --concurrency 1 2>/dev/null | tail -1)
  kill "$pid"; wait "$pid" 2>/dev/null || true
  rm -rf "$dir"
  printf '%s\t%s\tload=%s\t%s\t%s\n' "$3" "$1" "$load" "$pipelined" "$serial"
}

for r in $(seq "$ROUNDS"); do
  if ((r % 2)); then one old "$OLD" "$r"; one new "$NEW" "$r"
  else one new "$NEW" "$r"; one old "$OLD" "$r"; fi
done
