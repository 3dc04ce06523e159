#!/usr/bin/env bash
# Paired before/after of a zk-client change, beside the peer: two builds of
# zk-bench / zk-footprint (OLD and NEW, each a directory holding both) and
# the `zookeeper-client` crate's zk-bench-peer / zk-footprint-peer, run in
# turn (the order rotated every round) against one zk-testserver member
# (in memory, plain port; the OLD dir's zk-testserver) and real ZooKeeper's
# secure member (scripts/zk-reference.sh start secure: TLS, no client
# certificate). Client CPU per op is the client process's user + system
# time (bash `times`), setup included, over the measured operations.
#
# Cases (one line each in CASES, "target op conc ops size"):
#   ts1 = zk-testserver plain, zk1tls = real ZooKeeper's TLS port.
# Footprint: --watch-steps N registers N one-shot exists watches on one
# session against ts1 (0 to skip) and records the growth of RSS per watch.
#
# Usage: scripts/bench/client_pair.sh --old DIR --new DIR --peer DIR
#            [--rounds 3] [--watch-steps 100000] [--out DIR]
# Ports: BENCH_TESTSERVER_PORT (25601) and the ZK_REF_* settings of
# zk-reference.sh (set ZK_REF_STATE_DIR, ZK_REF_TLS_PORT, ZK_REF_TLS_SECURE_PORT,
# ZK_REF_MTLS_PORT, ZK_REF_MTLS_SECURE_PORT to ports of your own).
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$SCRIPT_DIR/../.." && pwd)
REF="$REPO_ROOT/scripts/zk-reference.sh"
PROG=client-pair
OLD="" NEW="" PEER="" ROUNDS=3 WATCH_STEPS=100000 OUT_DIR=""
CASES=${CASES:-"ts1 get 16 200 1000000
ts1 set 16 200 1000000
ts1 get 64 30000 100
ts1 multi 256 10000 100
ts1 multi 1024 10000 100
zk1tls get 64 30000 100
zk1tls get 1 3000 100"}
TS_PORT=${BENCH_TESTSERVER_PORT:-25601}
# shellcheck source=scripts/bench/lib.sh
source "$SCRIPT_DIR/lib.sh"

while [[ $# -gt 0 ]]; do
    case $1 in
        --old) OLD=${2:?}; shift 2 ;;
        --new) NEW=${2:?}; shift 2 ;;
        --peer) PEER=${2:?}; shift 2 ;;
        --rounds) ROUNDS=${2:?}; shift 2 ;;
        --watch-steps) WATCH_STEPS=${2:?}; shift 2 ;;
        --out) OUT_DIR=${2:?}; shift 2 ;;
        -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
        *) die "unknown argument '$1'" ;;
    esac
done
[[ -n $OLD && -n $NEW && -n $PEER ]] || die "--old, --new and --peer are required"
OUT_DIR=${OUT_DIR:-$REPO_ROOT/target/bench/client-pair-$(date -u +%Y%m%dT%H%M%SZ)}
mkdir -p "$OUT_DIR/runs"
RESULTS="$OUT_DIR/results.tsv"
TIMES_FILE="$OUT_DIR/.times"
printf 'target\tcase\tclient\tround\tops_per_sec\tp50_us\tp99_us\tcpu_us_per_op\tload1\n' >"$RESULTS"
FOOT="$OUT_DIR/footprint.tsv"
printf 'client\tround\twatches\trss0_kib\trss_kib\tbytes_per_watch\tload1\n' >"$FOOT"

REF_RUNNING=no
cleanup() {
    ts_stop
    if [[ $REF_RUNNING == yes ]]; then "$REF" stop secure >/dev/null 2>&1 || true; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# bench_bin CLIENT: the zk-bench of a client.
bench_bin() {
    case $1 in
        old) echo "$OLD/zk-bench" ;;
        new) echo "$NEW/zk-bench" ;;
        peer) echo "$PEER/zk-bench-peer" ;;
    esac
}

# run_one TARGET OP CONC OPS SIZE CLIENT ROUND CONNECT-ARGS...: one measured run.
run_one() {
    local target=$1 op=$2 conc=$3 ops=$4 size=$5 client=$6 round=$7 line cpu load t0 tag bin
    shift 7
    tag="$target-$op-c$conc-s$size-$client-r$round"
    load=$(cut -d' ' -f1 /proc/loadavg)
    bin=$(bench_bin "$client")
    children_cpu_ms
    t0=$CHILDREN_CPU_MS
    "$bin" "$@" --op "$op" --ops "$ops" --concurrency "$conc" --size "$size" \
        >"$OUT_DIR/runs/$tag.out" 2>"$OUT_DIR/runs/$tag.err" ||
        die "run $tag failed: $(tail -3 "$OUT_DIR/runs/$tag.err")"
    children_cpu_ms
    cpu=$(( (CHILDREN_CPU_MS - t0) * 10000 / ops ))
    cpu="$((cpu / 10)).$((cpu % 10))"
    line=$(tail -1 "$OUT_DIR/runs/$tag.out")
    python3 - "$line" "$target" "$op:$conc:$size" "$client" "$round" "$cpu" "$load" >>"$RESULTS" <<'PY'
import sys
line, target, case, client, rnd, cpu, load = sys.argv[1:]
kv = dict(f.split("=", 1) for f in line.split() if "=" in f)
print("\t".join([target, case, client, rnd, kv["ops_per_sec"], kv["p50_us"], kv["p99_us"], cpu, load]))
PY
    log "$tag: $line cpu_us_per_op=$cpu load=$load"
}

# run_cases TARGET CONNECT-ARGS...: every case of TARGET, rounds interleaved.
run_cases() {
    local target=$1 t op conc ops size round i clients=(old new peer)
    shift
    while read -r t op conc ops size; do
        [[ $t == "$target" ]] || continue
        for round in $(seq "$ROUNDS"); do
            for i in 0 1 2; do
                run_one "$target" "$op" "$conc" "$ops" "$size" "${clients[(i + round) % 3]}" \
                    "$round" "$@"
            done
        done
    done <<<"$CASES"
}

# footprint CLIENT ROUND: RSS growth per watch over WATCH_STEPS watches.
footprint() {
    local client=$1 round=$2 bin load out
    case $client in
        old) bin=$OLD/zk-footprint ;;
        new) bin=$NEW/zk-footprint ;;
        peer) bin=$PEER/zk-footprint-peer ;;
    esac
    load=$(cut -d' ' -f1 /proc/loadavg)
    out="$OUT_DIR/runs/footprint-$client-r$round.out"
    "$bin" --connect "$TS_CONNECT" --mode watches --steps "$WATCH_STEPS" >"$out" \
        2>"${out%.out}.err" || die "footprint $client failed: $(tail -3 "${out%.out}.err")"
    python3 - "$out" "$client" "$round" "$load" >>"$FOOT" <<'PY'
import sys
out, client, rnd, load = sys.argv[1:]
rows = [dict(f.split("=", 1) for f in l.split() if "=" in f) for l in open(out) if "rss_kib=" in l]
first, last = rows[0], rows[-1]
n = int(last["count"])
r0, r1 = int(first["rss_kib"]), int(last["rss_kib"])
print("\t".join([client, rnd, str(n), str(r0), str(r1), f"{(r1 - r0) * 1024 / n:.0f}", load]))
PY
    log "footprint $client r$round: $(tail -1 "$FOOT")"
}

{
    echo "date: $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
    echo "commit: $(git -C "$REPO_ROOT" rev-parse --short HEAD)"
    echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//') x $(nproc)"
    echo "uptime before: $(uptime)"
} | tee "$OUT_DIR/machine.txt" >&2

# ts_start runs $REPO_ROOT/target/release/zk-testserver: point it at OLD's.
export TS_BUILT=yes
mkdir -p "$OUT_DIR/ts/target/release"
ln -sf "$(realpath "$OLD/zk-testserver")" "$OUT_DIR/ts/target/release/zk-testserver"
REPO_ROOT="$OUT_DIR/ts" ts_start 1 "$TS_PORT" "$OUT_DIR/testserver.log"
run_cases ts1 --connect "$TS_CONNECT"
if [[ $WATCH_STEPS != 0 ]]; then
    for round in $(seq "$ROUNDS"); do
        clients=(old new peer)
        for i in 0 1 2; do footprint "${clients[(i + round) % 3]}" "$round"; done
    done
fi
ts_stop

if grep -q '^zk1tls' <<<"$CASES"; then
    REF_RUNNING=yes
    "$REF" start secure >/dev/null
    eval "$("$REF" secure-env)"
    run_cases zk1tls --connect "$ZK_SECURE_TLS" --tls-ca "$ZK_SECURE_CA"
    "$REF" stop secure >/dev/null
    REF_RUNNING=no
fi
echo "uptime after: $(uptime)" | tee -a "$OUT_DIR/machine.txt" >&2

python3 - "$RESULTS" "$FOOT" <<'PY' | tee "$OUT_DIR/summary.txt"
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
keys = sorted({(r["target"], r["case"]) for r in rows})
print("target case: median client CPU us/op old / new / peer (each round); new/old, new/peer, old/peer;"
      " median ops/s old / new / peer; load1 range")
for target, case in keys:
    sel = lambda c: [r for r in rows if (r["target"], r["case"], r["client"]) == (target, case, c)]
    cpu = {c: [float(r["cpu_us_per_op"]) for r in sel(c)] for c in ("old", "new", "peer")}
    tput = {c: statistics.median(float(r["ops_per_sec"]) for r in sel(c)) for c in cpu}
    m = {c: statistics.median(v) for c, v in cpu.items()}
    loads = [float(r["load1"]) for r in rows if (r["target"], r["case"]) == (target, case)]
    each = " / ".join(",".join(f"{x:g}" for x in cpu[c]) for c in cpu)
    print(f"{target} {case}: {m['old']:.1f} / {m['new']:.1f} / {m['peer']:.1f} ({each}); "
          f"{m['new'] / m['old']:.2f}, {m['new'] / m['peer']:.2f}, {m['old'] / m['peer']:.2f}; "
          f"{tput['old']:.0f} / {tput['new']:.0f} / {tput['peer']:.0f}; load {min(loads)}-{max(loads)}")
foot = list(csv.DictReader(open(sys.argv[2]), delimiter="\t"))
if foot:
    b = {c: [int(r["bytes_per_watch"]) for r in foot if r["client"] == c] for c in ("old", "new", "peer")}
    m = {c: statistics.median(v) for c, v in b.items() if v}
    print("bytes of RSS per watch, median (each round): "
          + ", ".join(f"{c} {m[c]:.0f} ({','.join(map(str, b[c]))})" for c in m))
    if "new" in m and "old" in m:
        print(f"  new/old {m['new'] / m['old']:.2f}" + (f", new/peer {m['new'] / m['peer']:.2f}, old/peer {m['old'] / m['peer']:.2f}" if "peer" in m else ""))
PY
log "results in $OUT_DIR"
