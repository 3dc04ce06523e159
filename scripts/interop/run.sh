#!/usr/bin/env bash
# The interop suite: real Apache Curator (Java, scripts/interop/java/) and
# zk-recipes (Rust, the zk-interop example binary) on one ensemble.
#
#   scripts/interop/run.sh [--server reference|testserver] [--curator VERSION] [scenario ...]
#   scripts/interop/run.sh --list
#
# --server reference (default) runs real ZooKeeper (scripts/zk-reference.sh,
# standalone); testserver runs the zk-testserver binary. --curator is 5.4
# (Debian bookworm, default) or 5.7.1 (Debian trixie; scripts/interop/curator.sh
# fetch 5.7.1 first). ZK_CONNECT, if set, names a server to use instead.
#
# For each scenario:
#  - layout: Curator and zk-recipes each run the recipe alone under their own
#    root and print every node it created (kind: ephemeral | durable |
#    durable-empty, the last left out of the comparison while held), then
#    again after the server's container reaper has run; the two listings must
#    be identical (a persistent directory where Curator's is a container shows
#    as a node left "after" on one side only);
#  - mixed: 4 Curator + 4 zk-recipes contenders at once (or, for directional
#    scenarios, one side producing/writing and the other consuming/reading,
#    then the other way round), each side checking the invariants itself.
# A scenario fails if either side prints a VIOLATION or exits non-zero.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$SCRIPT_DIR/../.." && pwd)
REF="$REPO_ROOT/scripts/zk-reference.sh"
CURATOR="$SCRIPT_DIR/curator.sh"
STATE_DIR=${ZK_INTEROP_STATE_DIR:-$REPO_ROOT/.zk-reference/interop}
TESTSERVER_PORT=${ZK_INTEROP_TESTSERVER_PORT:-$((${ZK_TESTSERVER_CLI_PORT:-22590} + 1))}
CONTENDERS=${ZK_INTEROP_CONTENDERS:-4}
ROUNDS=${ZK_INTEROP_ROUNDS:-3}

# scenario -> phases ("layout", "mixed", or "directional:<roleA>:<roleB>": the
# Java side takes roleA and Rust roleB, then the other way round).
declare -A PLAN=(
    [mutex]="layout mixed"
    [semaphore]="layout mixed"
    [semaphore-mutex]="layout mixed"
    [rwlock]="layout mixed"
    [multilock]="layout mixed"
    [reentrant-mutex]="layout mixed"
    [revocation]="directional:holder:revoker"
    [leader-latch]="layout mixed"
    [leader-selector]="layout mixed"
    [discovery]="layout mixed"
    [persistent-node]="layout"
    [queue]="layout directional:producer:consumer mixed"
    [locked-queue]="layout directional:producer:consumer mixed"
    [priority-queue]="layout directional:producer:consumer"
    [simple-queue]="layout directional:producer:consumer mixed"
    [delay-queue]="layout directional:producer:consumer"
    [id-queue]="layout directional:producer:consumer mixed"
    [barrier]="layout directional:setter:waiter"
    [double-barrier]="layout mixed"
    [shared-count]="layout mixed"
    [shared-value]="layout mixed"
    [atomic-long]="layout mixed"
    [group-member]="layout mixed"
    [node-cache]="directional:writer:reader"
    [path-cache]="directional:writer:reader"
    [tree-cache]="directional:writer:reader"
    [tree-cache-one-shot]="directional:writer:reader"
)
# kazoo scenarios (the other side is scripts/interop/kazoo_twins.py); run with
# the first Curator version only, as they do not involve Curator.
KAZOO=(kazoo-lease kazoo-partitioner)
PLAN[kazoo-lease]="kazoo"
PLAN[kazoo-partitioner]="kazoo"
ORDER=(mutex semaphore semaphore-mutex rwlock multilock reentrant-mutex revocation leader-latch leader-selector discovery persistent-node queue locked-queue priority-queue
    simple-queue delay-queue id-queue barrier double-barrier shared-count shared-value atomic-long group-member node-cache path-cache tree-cache
    tree-cache-one-shot)

note() { printf 'interop: %s\n' "$*"; }
die() { note "ERROR: $*"; exit 1; }

SERVER=reference
VERSION=5.4
SCENARIOS=()
while (($#)); do
    case $1 in
    --server) SERVER=$2; shift 2 ;;
    --curator) VERSION=$2; shift 2 ;;
    --list) printf '%s\n' "${ORDER[@]}" "${KAZOO[@]}"; exit 0 ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'; exit 0 ;;
    -*) die "unknown option $1" ;;
    *) [[ -n ${PLAN[$1]:-} ]] || die "unknown scenario $1 (scenarios: ${ORDER[*]})"; SCENARIOS+=("$1"); shift ;;
    esac
done
if ((${#SCENARIOS[@]} == 0)); then
    SCENARIOS=("${ORDER[@]}")
    [[ $VERSION != 5.4 ]] || SCENARIOS+=("${KAZOO[@]}")
fi

OUT=$STATE_DIR/runs/$SERVER-$VERSION
rm -rf "$OUT"
mkdir -p "$OUT"
TS_PID=""

cleanup() {
    if [[ -n $TS_PID ]]; then
        kill -INT "$TS_PID" 2>/dev/null || true
        wait "$TS_PID" 2>/dev/null || true
    fi
    if [[ $SERVER == reference && -z ${ZK_CONNECT_GIVEN:-} ]]; then "$REF" stop standalone >/dev/null 2>&1 || true; fi
}
trap cleanup EXIT

start_server() {
    if [[ -n ${ZK_CONNECT:-} ]]; then
        ZK_CONNECT_GIVEN=yes
        CONNECT=$ZK_CONNECT
        return
    fi
    case $SERVER in
    reference)
        CONNECT=$("$REF" start standalone)
        ;;
    testserver)
        cargo build -q -p zk-testserver --bin zk-testserver
        "$REPO_ROOT/target/debug/zk-testserver" --members 1 --port "$TESTSERVER_PORT" --tick-ms 200 \
            --extended-types --container-check-ms 200 >"$OUT/testserver.stdout" 2>"$OUT/testserver.stderr" &
        TS_PID=$!
        local first=""
        for _ in $(seq 1 100); do
            first=$(head -n 1 "$OUT/testserver.stdout" 2>/dev/null || true)
            [[ -n $first ]] && break
            sleep 0.1
        done
        [[ $first == "127.0.0.1:$TESTSERVER_PORT" ]] || { cat "$OUT/testserver.stderr"; die "zk-testserver did not start"; }
        CONNECT=$first
        ;;
    *) die "unknown server $SERVER (reference | testserver)" ;;
    esac
}

note "building the Curator $VERSION programs and zk-interop"
CLASSPATH_ALL=$("$CURATOR" build "$VERSION")
cargo build -q -p examples --bin zk-interop
RUST_BIN=$REPO_ROOT/target/debug/zk-interop
start_server
note "server: $SERVER ($CONNECT), Curator $VERSION"
RUN_ID="$SERVER-${VERSION//./_}-$$"

java_side() { # <log> <args...>
    local log=$1; shift
    java -Xss512k -XX:+UseSerialGC -cp "$CLASSPATH_ALL" zkrs.interop.Main --connect "$CONNECT" --side java "$@" >"$log" 2>&1
}
kazoo_side() { # <log> <args...>
    local log=$1; shift
    python3 "$SCRIPT_DIR/kazoo_twins.py" --connect "$CONNECT" --side kazoo "$@" >"$log" 2>&1
}
rust_side() { # <log> <args...>
    local log=$1; shift
    "$RUST_BIN" --connect "$CONNECT" --side rust "$@" >"$log" 2>&1
}

# Runs both sides at once; both must exit 0.
both() { # <name> <java args> -- <rust args>
    local name=$1; shift
    local jargs=() rargs=()
    while [[ $1 != -- ]]; do jargs+=("$1"); shift; done
    shift
    rargs=("$@")
    "${OTHER_SIDE:-java_side}" "$OUT/$name.java.log" "${jargs[@]}" & local jp=$!
    rust_side "$OUT/$name.rust.log" "${rargs[@]}" & local rp=$!
    local jrc=0 rrc=0
    wait "$jp" || jrc=$?
    wait "$rp" || rrc=$?
    if ((jrc != 0 || rrc != 0)); then
        note "$name: Curator exit $jrc, zk-recipes exit $rrc"
        note "--- Curator side ($OUT/$name.java.log)"; grep -v '^LAYOUT' "$OUT/$name.java.log" | tail -40
        note "--- zk-recipes side ($OUT/$name.rust.log)"; grep -v '^LAYOUT' "$OUT/$name.rust.log" | tail -40
        return 1
    fi
}

run_layout() {
    local s=$1 ns=$2
    both "$s-layout" --ns "$ns" --scenario "$s" --phase layout --peers 1 -- \
        --ns "$ns" --scenario "$s" --phase layout --peers 1 || return 1
    # Empty durable nodes while held may be containers the reaper takes at
    # any moment (a semaphore's lock directory between two acquires): only
    # the "after" listing compares them.
    grep '^LAYOUT' "$OUT/$s-layout.java.log" | grep -v '^LAYOUT held .* durable-empty$' | sort -u >"$OUT/$s-layout.java"
    grep '^LAYOUT' "$OUT/$s-layout.rust.log" | grep -v '^LAYOUT held .* durable-empty$' | sort -u >"$OUT/$s-layout.rust"
    if ! diff -u --label "Curator $VERSION" --label zk-recipes "$OUT/$s-layout.java" "$OUT/$s-layout.rust" >"$OUT/$s-layout.diff"; then
        note "$s: znode layout differs from Curator's ('held': while the recipe holds; 'after': what the container reaper left):"
        cat "$OUT/$s-layout.diff"
        return 1
    fi
}

# Every phase runs even after one failed, so that one run shows every divergence.
run_scenario() {
    local s=$1 phase ns=/interop/$RUN_ID/$1 a b ok=0
    for phase in ${PLAN[$s]}; do
        case $phase in
        layout) run_layout "$s" "$ns" || ok=1 ;;
        kazoo)
            OTHER_SIDE=kazoo_side both "$s-kazoo" --ns "$ns" --scenario "$s" --contenders "$CONTENDERS" -- \
                --ns "$ns" --scenario "$s" --contenders "$CONTENDERS" || ok=1
            ;;
        mixed)
            both "$s-mixed" --ns "$ns" --scenario "$s" --contenders "$CONTENDERS" --rounds "$ROUNDS" -- \
                --ns "$ns" --scenario "$s" --contenders "$CONTENDERS" --rounds "$ROUNDS" || ok=1
            ;;
        directional:*)
            IFS=: read -r _ a b <<<"$phase"
            both "$s-java-$a" --ns "$ns/java-$a" --scenario "$s" --phase directional --role "$a" -- \
                --ns "$ns/java-$a" --scenario "$s" --phase directional --role "$b" || ok=1
            both "$s-rust-$a" --ns "$ns/rust-$a" --scenario "$s" --phase directional --role "$b" -- \
                --ns "$ns/rust-$a" --scenario "$s" --phase directional --role "$a" || ok=1
            ;;
        esac
    done
    return $ok
}

failed=()
for s in "${SCENARIOS[@]}"; do
    start=$SECONDS
    if run_scenario "$s"; then
        note "$s: ok ($((SECONDS - start))s)"
    else
        note "$s: FAILED ($((SECONDS - start))s)"
        failed+=("$s")
    fi
done
if ((${#failed[@]})); then
    note "FAILED against $SERVER with Curator $VERSION: ${failed[*]} (logs in $OUT)"
    exit 1
fi
note "all ${#SCENARIOS[@]} scenarios passed against $SERVER with Curator $VERSION"
