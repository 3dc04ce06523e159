#!/usr/bin/env bash
# Before/after check of a zk-client change: two zk-bench binaries, interleaved
# (ABBA) against zk-null-server, so that the client is the bottleneck. Prints
# per-round throughput and client CPU per op (perf task-clock of the whole
# process, warm-up and cleanup included) and the medians.
#
# Usage: scripts/bench/ab.sh --a BIN --b BIN [--op get] [--concurrency 64]
#                            [--ops 300000] [--rounds 6] [--pin]
#
# Build the two binaries from the two revisions first, e.g.
#   git stash; cargo build --release -p examples --bin zk-bench
#   cp target/release/zk-bench target/bench/zk-bench-before; git stash pop
#   cargo build --release -p examples --bin zk-bench
#   scripts/bench/ab.sh --a target/bench/zk-bench-before --b target/release/zk-bench --pin
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
NULL_DIR="$SCRIPT_DIR/nullserver"
PROG=ab
# shellcheck source=scripts/bench/lib.sh
source "$SCRIPT_DIR/lib.sh"

A="" B="" OP=get CONC=64 OPS=300000 ROUNDS=6 PIN=no

while [[ $# -gt 0 ]]; do
    case $1 in
        --a) A=${2:?}; shift 2 ;;
        --b) B=${2:?}; shift 2 ;;
        --op) OP=${2:?}; shift 2 ;;
        --concurrency) CONC=${2:?}; shift 2 ;;
        --ops) OPS=${2:?}; shift 2 ;;
        --rounds) ROUNDS=${2:?}; shift 2 ;;
        --pin) PIN=yes; shift ;;
        -h|--help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown argument '$1' (see --help)" ;;
    esac
done
[[ -x $A && -x $B ]] || die "--a and --b must name executable zk-bench binaries"
[[ $ROUNDS =~ ^[1-9][0-9]*$ && $OPS =~ ^[1-9][0-9]*$ ]] || die "--rounds and --ops must be positive"

cargo build --release -q --manifest-path "$NULL_DIR/Cargo.toml"
server=("$NULL_DIR/target/release/zk-null-server")
client=()
if [[ $PIN == yes ]]; then
    server=(taskset -c 0 "${server[@]}")
    client=(taskset -c 1)
fi

tmp=$(mktemp -d)
NULL_PID=""
cleanup() {
    if [[ -n $NULL_PID ]]; then
        kill "$NULL_PID" 2>/dev/null || true
        wait "$NULL_PID" 2>/dev/null || true
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT

mkfifo "$tmp/addr"
"${server[@]}" >"$tmp/addr" 2>"$tmp/server.log" &
NULL_PID=$!
read -r -t 30 connect <"$tmp/addr" || die "zk-null-server did not start: $(cat "$tmp/server.log")"

perf stat -e task-clock true >/dev/null 2>&1 || die "needs perf (apt-get install linux-perf)"

# run LABEL BIN: prints "LABEL ops_per_sec cpu_us_per_op"
run() {
    local label=$1 bin=$2 line ms
    line=$(perf stat -e task-clock -x, -o "$tmp/stat" "${client[@]}" "$bin" --connect "$connect" \
        --op "$OP" --ops "$OPS" --concurrency "$CONC" 2>/dev/null) || die "$bin failed"
    ms=$(grep task-clock "$tmp/stat" | cut -d, -f1)
    python3 -c "
import sys
kv = dict(f.split('=', 1) for f in sys.argv[2].split() if '=' in f)
print(sys.argv[1], kv['ops_per_sec'], f'{float(sys.argv[3]) * 1000 / int(sys.argv[4]):.2f}')
" "$label" "$line" "$ms" "$OPS"
}

echo "op=$OP conc=$CONC ops=$OPS rounds=$ROUNDS pin=$PIN load: $(cut -d' ' -f1-3 /proc/loadavg)"
for round in $(seq "$ROUNDS"); do
    if (( round % 2 )); then
        run a "$A"; run b "$B"
    else
        run b "$B"; run a "$A"
    fi
done | tee "$tmp/rows"
python3 - "$tmp/rows" <<'EOF'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
for label in ("a", "b"):
    t = [float(r[1]) for r in rows if r[0] == label]
    c = [float(r[2]) for r in rows if r[0] == label]
    print(f"{label}: median ops/s {statistics.median(t):.0f}, median CPU us/op {statistics.median(c):.2f}")
EOF
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
