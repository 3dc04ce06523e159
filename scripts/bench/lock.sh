#!/usr/bin/env bash
# Lock handoffs per second with 16 contenders against real ZooKeeper
# (standalone, then 3 members), kazoo's Lock recipe; our zk-recipes lock
# joins when it lands (see lock_handoffs.py).
#
# Usage: scripts/bench/lock.sh [--rounds R] [--seconds S] [--contenders N] [--targets "zk1 zk3"]
# kazoo is installed with pip into a venv under target/bench/venv.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$SCRIPT_DIR/../.." && pwd)
REF="$REPO_ROOT/scripts/zk-reference.sh"
VENV="$REPO_ROOT/target/bench/venv"
KAZOO_VERSION=2.11.0
PROG=lock

ROUNDS=3
SECONDS_PER_ROUND=10
CONTENDERS=16
TARGETS="zk1 zk3"
CLIENTS="kazoo"   # add zk-recipes here once lock_handoffs.py supports it

die() { echo "$PROG: $*" >&2; exit 1; }
log() { echo "$PROG: $*" >&2; }

while [[ $# -gt 0 ]]; do
    case $1 in
        --rounds) ROUNDS=${2:?}; shift 2 ;;
        --seconds) SECONDS_PER_ROUND=${2:?}; shift 2 ;;
        --contenders) CONTENDERS=${2:?}; shift 2 ;;
        --targets) TARGETS=${2:?}; shift 2 ;;
        -h|--help) sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown argument '$1' (see --help)" ;;
    esac
done
[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || die "--rounds must be a positive integer"

if ! "$VENV/bin/python" -c "import kazoo" 2>/dev/null; then
    log "installing kazoo $KAZOO_VERSION into $VENV"
    mkdir -p "$(dirname "$VENV")"
    python3 -m venv "$VENV" || die "python3 -m venv failed (apt-get install python3-venv)"
    "$VENV/bin/pip" install -q "kazoo==$KAZOO_VERSION" || die "pip install kazoo failed"
fi

RUNNING_REF=""
cleanup() {
    if [[ -n $RUNNING_REF ]]; then
        "$REF" stop "$RUNNING_REF" >/dev/null 2>&1 || log "stopping $RUNNING_REF failed"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "nproc=$(nproc) cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//') uptime: $(uptime)"
for target in $TARGETS; do
    case $target in
        zk1) RUNNING_REF=standalone; connect=$("$REF" start standalone) ;;
        zk3) RUNNING_REF=ensemble; connect=$("$REF" start ensemble) ;;
        *) die "unknown target '$target' (zk1 or zk3)" ;;
    esac
    for round in $(seq "$ROUNDS"); do
        for client in $CLIENTS; do
            line=$("$VENV/bin/python" "$SCRIPT_DIR/lock_handoffs.py" --connect "$connect" \
                --contenders "$CONTENDERS" --seconds "$SECONDS_PER_ROUND" --client "$client") ||
                die "lock_handoffs.py failed on $target"
            echo "target=$target round=$round load1=$(cut -d' ' -f1 /proc/loadavg) $line"
        done
    done
    "$REF" stop "$RUNNING_REF" >/dev/null
    RUNNING_REF=""
done
echo "uptime after: $(uptime)"
