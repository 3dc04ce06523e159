#!/usr/bin/env bash
# Benchmark zk-client (examples' zk-bench) against the zookeeper-client crate
# (scripts/bench/peer) on the same servers, in interleaved rounds, and print a
# table of medians and ratios.
#
# Run `scripts/bench/compare.sh --help` for the options. Results (one TSV row
# per run) go to target/bench/<timestamp>/results.tsv with the machine description
# and the raw output of every run beside it.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$SCRIPT_DIR/../.." && pwd)
REF="$REPO_ROOT/scripts/zk-reference.sh"
OURS="$REPO_ROOT/target/release/zk-bench"
PEER_DIR="$SCRIPT_DIR/peer"
PEER="$PEER_DIR/target/release/zk-bench-peer"
PROG=compare
# shellcheck source=scripts/bench/lib.sh
source "$SCRIPT_DIR/lib.sh"
TESTSERVER_ARGS=()

ROUNDS=5
PIPELINED_OPS=30000
SERIAL_OPS=3000
SIZE=100
TARGETS="zk1 zk3 zk3-sync"
CASES="get:64 get:1 create:64 create:1 set:64 mixed:64"
PIN=no
OUT_DIR=""
TESTSERVER_PORT=${BENCH_TESTSERVER_PORT:-26181}

usage() {
    cat <<EOF
Usage: scripts/bench/compare.sh [options]

Builds zk-bench (zk-client) and zk-bench-peer (zookeeper-client crate), starts
each target server, runs every case ROUNDS times alternating ours and the peer
(ABBA order: ours first in odd rounds, peer first in even rounds), stops the
server, and prints medians and ratios (ours / peer).

Options:
  --rounds R        rounds per case                              [$ROUNDS]
  --ops N           operations of a pipelined case (conc > 1)    [$PIPELINED_OPS]
  --serial-ops N    operations of a serial case (conc = 1)       [$SERIAL_OPS]
  --size BYTES      payload of creates and sets                  [$SIZE]
  --targets LIST    space-separated targets                      [$TARGETS]
                      zk1       real ZooKeeper standalone, forceSync=no
                      zk1-sync  real ZooKeeper standalone, forceSync=yes
                      zk3       real ZooKeeper 3 members, forceSync=no
                      zk3-sync  real ZooKeeper 3 members, forceSync=yes
                                (write cases only: create, set)
                      ts1, ts3  zk-testserver with 1 / 3 members, in memory
                      ts1-disk, ts3-disk
                                the same with --data-dir (log fsynced per
                                flush, like forceSync=yes; write cases only)
                      null      scripts/bench/nullserver: answers at once from
                                canned data, so the client is the bottleneck
                                (not ZooKeeper: a client-cost figure only)
  --cases LIST      space-separated op:concurrency pairs         [$CASES]
                      ops: get, create, set, mixed, multi (a
                      transaction of two sets)
  --pin             pin the server to CPU 0 and the clients to CPU 1 (less
                    noise, but a different machine than the default)
  --out DIR         where results go      [target/bench/<timestamp>]
  -h, --help        this text

Against a 3-member ensemble both clients connect to the same single follower,
so they see the same path (reads local, writes forwarded to the leader);
likewise against a 3-member zk-testserver (the follower is found with srvr).
Real ZooKeeper runs through scripts/zk-reference.sh (its ZK_REF_* settings
apply); zk-testserver listens on BENCH_TESTSERVER_PORT.. [$TESTSERVER_PORT].
EOF
}

while [[ $# -gt 0 ]]; do
    case $1 in
        --rounds) ROUNDS=${2:?}; shift 2 ;;
        --ops) PIPELINED_OPS=${2:?}; shift 2 ;;
        --serial-ops) SERIAL_OPS=${2:?}; shift 2 ;;
        --size) SIZE=${2:?}; shift 2 ;;
        --targets) TARGETS=${2:?}; shift 2 ;;
        --cases) CASES=${2:?}; shift 2 ;;
        --pin) PIN=yes; shift ;;
        --out) OUT_DIR=${2:?}; shift 2 ;;
        -h|--help) usage; exit 0 ;;
        *) die "unknown argument '$1' (see --help)" ;;
    esac
done
[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || die "--rounds must be a positive integer"
[[ $PIPELINED_OPS =~ ^[1-9][0-9]*$ ]] || die "--ops must be a positive integer"
[[ $SERIAL_OPS =~ ^[1-9][0-9]*$ ]] || die "--serial-ops must be a positive integer"
[[ $SIZE =~ ^[0-9]+$ ]] || die "--size must be a byte count"
command -v python3 >/dev/null || die "python3 is needed for the summary"
if [[ $PIN == yes ]]; then
    command -v taskset >/dev/null || die "--pin needs taskset (util-linux)"
    [[ $(nproc) -ge 2 ]] || die "--pin needs at least 2 CPUs"
fi

OUT_DIR=${OUT_DIR:-$REPO_ROOT/target/bench/$(date -u +%Y%m%dT%H%M%SZ)}
mkdir -p "$OUT_DIR/runs"
RESULTS="$OUT_DIR/results.tsv"
TIMES_FILE="$OUT_DIR/.times"
printf 'target\tcase\tclient\tround\tops_per_sec\tp50_us\tp99_us\tcpu_us_per_op\tload1\n' >"$RESULTS"

# ----- what is running, so the exit trap can stop it -----

RUNNING_REF=""      # zk-reference name (standalone|ensemble) we started
TESTSERVER_PID=""   # zk-testserver or null server we started

stop_target() {
    if [[ -n $RUNNING_REF ]]; then
        "$REF" stop "$RUNNING_REF" >/dev/null 2>&1 || log "stopping $RUNNING_REF failed"
        RUNNING_REF=""
    fi
    if [[ -n $TESTSERVER_PID ]]; then
        kill "$TESTSERVER_PID" 2>/dev/null || true
        wait "$TESTSERVER_PID" 2>/dev/null || true
        TESTSERVER_PID=""
        TS_PID=""
    fi
}
trap stop_target EXIT
trap 'exit 130' INT TERM

# ----- machine -----

describe_machine() {
    echo "date: $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
    echo "commit: $(git -C "$REPO_ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')"
    echo "nproc: $(nproc)"
    echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
    echo "ram: $(awk '/MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)"
    echo "kernel: $(uname -r)"
    echo "rustc: $(rustc --version)"
    local jars=(/usr/share/java/zookeeper-3*.jar)
    echo "zookeeper: $(basename "${jars[0]}")"
    echo "java: $(java -version 2>&1 | head -1)"
    echo "pin: $PIN"
    echo "uptime: $(uptime)"
}

# ----- targets -----

# Starts a target and sets CONNECT to the connect string both clients use.
# (Not run in a subshell: the exit trap must know what was started.)
CONNECT=""
start_target() {
    local target=$1
    case $target in
        zk1|zk1-sync)
            local sync=no
            [[ $target == *-sync ]] && sync=yes
            RUNNING_REF=standalone
            CONNECT=$(ZK_REF_FORCE_SYNC=$sync "$REF" start standalone)
            pin_server "$("$REF" pids)"
            ;;
        zk3|zk3-sync)
            local sync=no
            [[ $target == *-sync ]] && sync=yes
            RUNNING_REF=ensemble
            ZK_REF_FORCE_SYNC=$sync "$REF" start ensemble >/dev/null
            pin_server "$("$REF" pids)"
            # One follower, the same for both clients.
            local leader member
            leader=$("$REF" leader)
            for member in 1 2 3; do
                if [[ $member != "$leader" ]]; then
                    CONNECT=$("$REF" connect-string "$member")
                    return
                fi
            done
            die "no follower in the ensemble"
            ;;
        # zk-testserver (release build) in memory, or with --data-dir (fsync
        # per flush) for the -disk targets.
        ts1|ts3|ts1-disk|ts3-disk)
            local members=${target#ts}
            members=${members%-disk}
            TESTSERVER_ARGS=()
            if [[ $target == *-disk ]]; then
                rm -rf "$OUT_DIR/ts-data"
                TESTSERVER_ARGS=(--data-dir "$OUT_DIR/ts-data")
            fi
            start_testserver "$members"
            ;;
        null)
            start_nullserver
            ;;
        *) die "unknown target '$target' (see --help)" ;;
    esac
}

start_testserver() {
    local members=$1
    ts_start "$members" "$TESTSERVER_PORT" "$OUT_DIR/testserver-$members.log" \
        "${TESTSERVER_ARGS[@]}"
    TESTSERVER_PID=$TS_PID
    CONNECT=$TS_CONNECT
    if [[ $members -gt 1 ]]; then
        # One follower, the same for both clients, as against real ZooKeeper.
        CONNECT=$(follower_of "$TS_CONNECT") || die "no follower in $TS_CONNECT"
    fi
    pin_server "$TESTSERVER_PID"
}

start_nullserver() {
    local dir="$SCRIPT_DIR/nullserver" fifo ts_fd
    cargo build --release -q --manifest-path "$dir/Cargo.toml"
    fifo="$OUT_DIR/nullserver.fifo"
    rm -f "$fifo"
    mkfifo "$fifo"
    "$dir/target/release/zk-null-server" >"$fifo" 2>"$OUT_DIR/nullserver.log" &
    TESTSERVER_PID=$!
    exec {ts_fd}<"$fifo"
    if ! read -r -t 30 CONNECT <&"$ts_fd"; then
        die "zk-null-server exited or printed no address within 30 s (log: $OUT_DIR/nullserver.log)"
    fi
    exec {ts_fd}<&-
    pin_server "$TESTSERVER_PID"
}

pin_server() {
    [[ $PIN == yes ]] || return 0
    local pid
    for pid in $1; do
        taskset -a -p -c 0 "$pid" >/dev/null
    done
}

# ----- one run -----

# run_one TARGET CONNECT OP CONC CLIENT ROUND
run_one() {
    local target=$1 connect=$2 op=$3 conc=$4 client=$5 round=$6
    local bin ops line cpu load tag
    bin=$OURS
    [[ $client == peer ]] && bin=$PEER
    ops=$PIPELINED_OPS
    [[ $conc == 1 ]] && ops=$SERIAL_OPS
    tag="$target-$op-c$conc-$client-r$round"
    local cmd=("$bin" --connect "$connect" --op "$op" --ops "$ops" --concurrency "$conc" --size "$SIZE")
    [[ $PIN == yes ]] && cmd=(taskset -c 1 "${cmd[@]}")
    load=$(cut -d' ' -f1 /proc/loadavg)
    local t0 t1
    children_cpu_ms
    t0=$CHILDREN_CPU_MS
    if ! "${cmd[@]}" >"$OUT_DIR/runs/$tag.out" 2>"$OUT_DIR/runs/$tag.err"; then
        die "run $tag failed: $(tail -3 "$OUT_DIR/runs/$tag.err")"
    fi
    children_cpu_ms
    t1=$CHILDREN_CPU_MS
    line=$(tail -1 "$OUT_DIR/runs/$tag.out")
    # Client CPU (user + system) per measured operation; warm-up, setup and
    # cleanup are included, so it only compares clients with each other.
    cpu=$(( (t1 - t0) * 10000 / ops ))
    cpu="$((cpu / 10)).$((cpu % 10))"
    python3 - "$line" "$target" "$op:$conc" "$client" "$round" "$cpu" "$load" >>"$RESULTS" <<'EOF'
import sys
line, target, case, client, rnd, cpu, load = sys.argv[1:]
kv = dict(f.split("=", 1) for f in line.split() if "=" in f)
print("\t".join([target, case, client, rnd, kv["ops_per_sec"], kv["p50_us"], kv["p99_us"], cpu, load]))
EOF
    log "$tag: $line"
}

# ----- main -----

log "building zk-bench and zk-bench-peer (release)"
(cd "$REPO_ROOT" && cargo build --release -q -p examples --bin zk-bench)
cargo build --release -q --manifest-path "$PEER_DIR/Cargo.toml"

describe_machine | tee "$OUT_DIR/machine.txt" >&2

for target in $TARGETS; do
    log "starting $target"
    start_target "$target"
    connect=$CONNECT
    log "$target: connect string $connect"
    for case in $CASES; do
        op=${case%%:*}
        conc=${case##*:}
        if [[ ($target == *-sync || $target == *-disk) && $op != create && $op != set && $op != multi ]]; then
            continue
        fi
        for round in $(seq "$ROUNDS"); do
            if (( round % 2 )); then
                run_one "$target" "$connect" "$op" "$conc" ours "$round"
                run_one "$target" "$connect" "$op" "$conc" peer "$round"
            else
                run_one "$target" "$connect" "$op" "$conc" peer "$round"
                run_one "$target" "$connect" "$op" "$conc" ours "$round"
            fi
        done
    done
    stop_target
done
echo "uptime after: $(uptime)" | tee -a "$OUT_DIR/machine.txt" >&2

python3 "$SCRIPT_DIR/summarize.py" "$RESULTS" | tee "$OUT_DIR/summary.md"
log "results in $OUT_DIR"
