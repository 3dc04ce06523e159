#!/usr/bin/env bash
# Capture wire fixtures from the real ZooKeeper server (Debian's 3.8 package):
#
#   1. compile CaptureClient.java against the installed jars (into .zk-reference/capture/)
#   2. start a fresh standalone server (scripts/zk-reference.sh) and the recording
#      relay (relay.py) in front of it
#   3. run CaptureClient through the relay: every client operation, watch events,
#      reconnects, ping, close, auth failure; the four-letter words go straight to
#      the server while the session is open
#   4. four-letter words of a 3-member ensemble's leader and a follower
#
# Output (default zk-client/tests/fixtures/zk-3.8.0/):
#   frames.txt                      one line per frame, see README.md there
#   4lw/<word>.txt                  standalone answers
#   4lw/ensemble-<role>-<word>.txt  ensemble answers
# The client's own log (what each step returned) is left in .zk-reference/capture/client.log.
#
# Usage: scripts/capture/capture.sh [output dir]
# Env: CAPTURE_RELAY_PORT (22190), CAPTURE_CONTROL_PORT (22191), plus the ZK_REF_* settings
#      of scripts/zk-reference.sh (the fixtures were taken with the defaults).
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$SCRIPT_DIR/../.." && pwd)
REF="$REPO_ROOT/scripts/zk-reference.sh"
OUT=${1:-$REPO_ROOT/zk-client/tests/fixtures/zk-3.8.0}
RELAY_PORT=${CAPTURE_RELAY_PORT:-22190}
CONTROL_PORT=${CAPTURE_CONTROL_PORT:-22191}
STATE_DIR=${ZK_REF_STATE_DIR:-$REPO_ROOT/.zk-reference}
BUILD="$STATE_DIR/capture"
JARS=/usr/share/java
RELAY_PID=""

log() { printf 'capture: %s\n' "$*" >&2; }
die() {
    printf 'capture: error: %s\n' "$*" >&2
    exit 1
}

cleanup() {
    local rc=$?
    if [[ -n $RELAY_PID ]] && kill -0 "$RELAY_PID" 2>/dev/null; then
        kill "$RELAY_PID" 2>/dev/null || true
        wait "$RELAY_PID" 2>/dev/null || true
    fi
    if ((rc != 0)); then
        log "failed (exit $rc); client log: $BUILD/client.log"
        "$REF" logs standalone >&2 || true
    fi
    "$REF" stop all || true
    exit "$rc"
}

port_open() {
    # shellcheck disable=SC2016 # expanded by the inner bash
    timeout 2 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$0"' "$1" 2>/dev/null
}

main() {
    "$REF" install --with-jdk
    command -v javac >/dev/null || die "javac not found (scripts/zk-reference.sh install --with-jdk)"
    command -v python3 >/dev/null || die "python3 not found"
    for port in "$RELAY_PORT" "$CONTROL_PORT"; do
        ! port_open "$port" || die "port 127.0.0.1:$port is in use (set CAPTURE_RELAY_PORT / CAPTURE_CONTROL_PORT)"
    done

    trap cleanup EXIT
    rm -rf "$BUILD"
    mkdir -p "$BUILD" "$OUT/4lw"
    log "compiling CaptureClient.java"
    javac -Xlint:all,-path -d "$BUILD/classes" -cp "$JARS/zookeeper.jar:$JARS/zookeeper-jute.jar" \
        "$SCRIPT_DIR/CaptureClient.java"

    local server server_port version tick
    server=$("$REF" start standalone)
    server_port=${server##*:}
    version=$("$REF" 4lw standalone srvr | sed -n 's/^Zookeeper version: //p')
    tick=${ZK_REF_TICK_TIME:-200}

    log "starting the relay 127.0.0.1:$RELAY_PORT -> $server"
    python3 "$SCRIPT_DIR/relay.py" --listen-port "$RELAY_PORT" --control-port "$CONTROL_PORT" \
        --server-port "$server_port" --output "$BUILD/frames.txt" \
        --header "ZooKeeper client protocol frames captured from real Apache ZooKeeper by scripts/capture/capture.sh" \
        --header "server: $version (Debian package), standalone, tickTime=$tick ms, fresh data directory" \
        --header "client: official ZooKeeper Java client (same jar), scripts/capture/CaptureClient.java" \
        --header "captured: $(date -u '+%Y-%m-%dT%H:%M:%SZ')" \
        --header "format: C|S <label> <hex of the whole frame incl. its 4-byte length>; see README.md" \
        >"$BUILD/relay.log" 2>&1 &
    RELAY_PID=$!
    local deadline=$((SECONDS + 20))
    until port_open "$CONTROL_PORT"; do
        kill -0 "$RELAY_PID" 2>/dev/null || die "relay exited: $(cat "$BUILD/relay.log")"
        ((SECONDS < deadline)) || die "relay did not listen on $CONTROL_PORT"
        sleep 0.1
    done

    log "running CaptureClient (log: $BUILD/client.log)"
    rm -f "$OUT"/4lw/*.txt
    if ! java -cp "$BUILD/classes:$JARS/zookeeper.jar:$JARS/slf4j-nop.jar" CaptureClient \
        "127.0.0.1:$RELAY_PORT" "$server" "$CONTROL_PORT" "$OUT/4lw" >"$BUILD/client.log" 2>&1; then
        tail -n 60 "$BUILD/client.log" >&2
        die "CaptureClient failed"
    fi

    # quit: the relay closes what is left and exits
    # shellcheck disable=SC2016 # expanded by the inner bash
    timeout 10 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$0"; echo quit >&3; read -r _ <&3' "$CONTROL_PORT" ||
        log "relay did not answer quit"
    wait "$RELAY_PID" || die "relay failed: $(cat "$BUILD/relay.log")"
    RELAY_PID=""
    cp "$BUILD/frames.txt" "$OUT/frames.txt"
    "$REF" stop standalone

    log "four-letter words of the ensemble"
    "$REF" start ensemble >/dev/null
    local leader follower m role word
    leader=$("$REF" leader)
    follower=$(((leader % 3) + 1))
    for m in "$leader" "$follower"; do
        if [[ $m == "$leader" ]]; then role=leader; else role=follower; fi
        for word in srvr mntr stat conf; do
            "$REF" 4lw "$m" "$word" >"$OUT/4lw/ensemble-$role-$word.txt"
        done
    done
    "$REF" stop ensemble

    log "wrote $OUT/frames.txt ($(grep -vc '^#' "$OUT/frames.txt") frames) and $(find "$OUT/4lw" -name '*.txt' | wc -l) files in $OUT/4lw"
}

main "$@"
