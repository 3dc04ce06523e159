#!/usr/bin/env bash
# TLS against plaintext: zk-client (examples' zk-bench) on zk-testserver's
# plain and secure ports, and on real ZooKeeper's (scripts/zk-reference.sh
# start secure: the "tls" member, Netty, no client certificate); the
# zookeeper-client crate (scripts/bench/peer) over the same real TLS port.
# Interleaved rounds (the client order rotates each round); one TSV row per
# run, then medians and the ratios issue 17 asks for.
#
# Usage: scripts/bench/tls.sh [--rounds R] [--ops N] [--serial-ops N] [--out DIR]
# Results: target/bench/tls-<timestamp>/ (results.tsv, summary.txt, runs/).
# Ports: BENCH_TESTSERVER_PORT (zk-testserver plain; +1 is its TLS port) and
# the ZK_REF_* settings of zk-reference.sh (ZK_REF_TLS_PORT, ZK_REF_TLS_SECURE_PORT).
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$SCRIPT_DIR/../.." && pwd)
REF="$REPO_ROOT/scripts/zk-reference.sh"
OURS="$REPO_ROOT/target/release/zk-bench"
PEER_DIR="$SCRIPT_DIR/peer"
PEER="$PEER_DIR/target/release/zk-bench-peer"
PROG=tls-bench
ROUNDS=3
PIPELINED_OPS=30000
SERIAL_OPS=3000
CASES="get:64 create:64 get:1"
OUT_DIR=""
TESTSERVER_PORT=${BENCH_TESTSERVER_PORT:-26181}
# shellcheck source=scripts/bench/lib.sh
source "$SCRIPT_DIR/lib.sh"

while [[ $# -gt 0 ]]; do
    case $1 in
        --rounds) ROUNDS=${2:?}; shift 2 ;;
        --ops) PIPELINED_OPS=${2:?}; shift 2 ;;
        --serial-ops) SERIAL_OPS=${2:?}; shift 2 ;;
        --cases) CASES=${2:?}; shift 2 ;;
        --out) OUT_DIR=${2:?}; shift 2 ;;
        -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
        *) die "unknown argument '$1'" ;;
    esac
done
OUT_DIR=${OUT_DIR:-$REPO_ROOT/target/bench/tls-$(date -u +%Y%m%dT%H%M%SZ)}
mkdir -p "$OUT_DIR/runs"
RESULTS="$OUT_DIR/results.tsv"
TIMES_FILE="$OUT_DIR/.times"
printf 'target\tcase\tclient\tround\tops_per_sec\tp50_us\tp99_us\tcpu_us_per_op\tload1\n' >"$RESULTS"

REF_RUNNING=no
cleanup() {
    ts_stop
    if [[ $REF_RUNNING == yes ]]; then "$REF" stop secure >/dev/null 2>&1 || true; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# run_one TARGET CLIENT OP CONC ROUND BIN ARGS...: one measured run.
run_one() {
    local target=$1 client=$2 op=$3 conc=$4 round=$5 bin=$6 ops line cpu load t0 tag
    shift 6
    ops=$PIPELINED_OPS
    [[ $conc == 1 ]] && ops=$SERIAL_OPS
    tag="$target-$op-c$conc-$client-r$round"
    load=$(cut -d' ' -f1 /proc/loadavg)
    children_cpu_ms
    t0=$CHILDREN_CPU_MS
    "$bin" "$@" --op "$op" --ops "$ops" --concurrency "$conc" >"$OUT_DIR/runs/$tag.out" \
        2>"$OUT_DIR/runs/$tag.err" || die "run $tag failed: $(tail -3 "$OUT_DIR/runs/$tag.err")"
    children_cpu_ms
    # Client CPU (user + system) per measured operation, setup included.
    cpu=$(( (CHILDREN_CPU_MS - t0) * 10000 / ops ))
    cpu="$((cpu / 10)).$((cpu % 10))"
    line=$(tail -1 "$OUT_DIR/runs/$tag.out")
    python3 - "$line" "$target" "$op:$conc" "$client" "$round" "$cpu" "$load" >>"$RESULTS" <<'PY'
import sys
line, target, case, client, rnd, cpu, load = sys.argv[1:]
kv = dict(f.split("=", 1) for f in line.split() if "=" in f)
print("\t".join([target, case, client, rnd, kv["ops_per_sec"], kv["p50_us"], kv["p99_us"], cpu, load]))
PY
    log "$tag: $line cpu_us_per_op=$cpu load=$load"
}

# run_target TARGET "CLIENT|BIN ARGS..." ...: every case, rounds interleaved,
# the client order rotated by one each round.
run_target() {
    local target=$1 case op conc round i n
    shift
    local clients=("$@")
    n=${#clients[@]}
    for case in $CASES; do
        op=${case%%:*}
        conc=${case##*:}
        for round in $(seq "$ROUNDS"); do
            for ((i = 0; i < n; i++)); do
                local spec=${clients[(i + round) % n]}
                # shellcheck disable=SC2086 # the spec is a word list
                run_one "$target" "${spec%%|*}" "$op" "$conc" "$round" ${spec#*|}
            done
        done
    done
}

log "building zk-bench, zk-testserver and zk-bench-peer (release)"
(cd "$REPO_ROOT" && cargo build --release -q -p examples --bin zk-bench -p zk-testserver --bin zk-testserver)
cargo build --release -q --manifest-path "$PEER_DIR/Cargo.toml"
{
    echo "date: $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
    echo "commit: $(git -C "$REPO_ROOT" rev-parse --short HEAD)"
    echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//') x $(nproc)"
    echo "uptime before: $(uptime)"
} | tee "$OUT_DIR/machine.txt" >&2

# zk-testserver: plain port and TLS port of one member.
pki="$OUT_DIR/ts-pki"
ts_start 1 "$TESTSERVER_PORT" "$OUT_DIR/testserver.log" --secure-port $((TESTSERVER_PORT + 1)) \
    --tls-generate "$pki" --tls-client-auth none
run_target ts1 \
    "ours-plain|$OURS --connect $TS_CONNECT" \
    "ours-tls|$OURS --connect 127.0.0.1:$((TESTSERVER_PORT + 1)) --tls-ca $pki/ca.pem"
ts_stop

# Real ZooKeeper: the secure member "tls" (plaintext and TLS ports).
REF_RUNNING=yes
"$REF" start secure >/dev/null
eval "$("$REF" secure-env)"
run_target zk1 \
    "ours-plain|$OURS --connect $ZK_SECURE_PLAIN" \
    "ours-tls|$OURS --connect $ZK_SECURE_TLS --tls-ca $ZK_SECURE_CA" \
    "peer-plain|$PEER --connect $ZK_SECURE_PLAIN" \
    "peer-tls|$PEER --connect $ZK_SECURE_TLS --tls-ca $ZK_SECURE_CA"
"$REF" stop secure >/dev/null
REF_RUNNING=no
echo "uptime after: $(uptime)" | tee -a "$OUT_DIR/machine.txt" >&2

python3 - "$RESULTS" <<'PY' | tee "$OUT_DIR/summary.txt"
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
med = {}
for key in {(r["target"], r["case"], r["client"]) for r in rows}:
    sel = [r for r in rows if (r["target"], r["case"], r["client"]) == key]
    med[key] = {f: statistics.median(float(r[f]) for r in sel)
                for f in ("ops_per_sec", "p50_us", "p99_us", "cpu_us_per_op", "load1")}
print("target case client: median ops/s, p50 us, p99 us, client cpu us/op (load1)")
for key in sorted(med):
    m = med[key]
    print(f"{key[0]} {key[1]} {key[2]}: {m['ops_per_sec']:.0f}, {m['p50_us']:.0f}, "
          f"{m['p99_us']:.0f}, {m['cpu_us_per_op']:.1f} ({m['load1']:.1f})")
def ratio(a, b, f):
    return med[a][f] / med[b][f] if a in med and b in med and med[b][f] else float("nan")
print("\nratios of medians")
for target, case in sorted({(k[0], k[1]) for k in med}):
    k = lambda c: (target, case, c)
    print(f"{target} {case}: tls/plain throughput ours {ratio(k('ours-tls'), k('ours-plain'), 'ops_per_sec'):.2f}"
          f", p50 {ratio(k('ours-tls'), k('ours-plain'), 'p50_us'):.2f}"
          f", cpu/op {ratio(k('ours-tls'), k('ours-plain'), 'cpu_us_per_op'):.2f}"
          + (f"; ours-tls/peer-tls cpu/op {ratio(k('ours-tls'), k('peer-tls'), 'cpu_us_per_op'):.2f}"
             f", throughput {ratio(k('ours-tls'), k('peer-tls'), 'ops_per_sec'):.2f}"
             if k('peer-tls') in med else ""))
PY
log "results in $OUT_DIR"
