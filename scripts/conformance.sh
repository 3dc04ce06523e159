#!/usr/bin/env bash
# Conformance run against the real Apache ZooKeeper server (see
# scripts/zk-reference.sh): the client integration suite against a standalone
# server, then against a 3-member ensemble (with fault tests that kill and
# restart members), then whatever further steps are listed in STEPS below.
#
# Usage: scripts/conformance.sh [step ...]     (default: every step, in order)
#        scripts/conformance.sh --list
#
# Each step is a function `step_<name>` (dashes become underscores) that either
# runs (and fails the run by failing) or calls `skip "<reason>"`. Reference
# servers are stopped after every step and when the script exits, whatever
# happens; on failure the tail of their logs is printed.
#
# Contract with the suites: they read ZK_CONNECT (connect string), ZK_REFERENCE
# (standalone|ensemble), ZK_REFERENCE_SCRIPT (this repo's zk-reference.sh, for
# kill/restart/leader/wait-ready of ensemble members), ZK_REFERENCE_TICK_TIME and
# ZK_REFERENCE_SUPER_AUTH ("super:<password>", digest credentials of the super
# user). `cargo test --workspace` (in .ci/run) builds and runs the same test
# targets without these variables, so a suite must run against an in-process
# zk-testserver when ZK_CONNECT is unset, or be #[ignore]d with its reason and
# run here with --ignored (the differential test).
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$SCRIPT_DIR/.." && pwd)
REF="$SCRIPT_DIR/zk-reference.sh"
cd "$REPO_ROOT"

# The real ZooKeeper release the run is against: 3.8 (bookworm's package) or
# 3.9 (trixie's 3.9.3, fetched by `zk-reference.sh install`). Every step, and
# every suite through ZK_REFERENCE_VERSION, runs against that one release.
REF_VERSION=${ZK_REF_VERSION:-3.8}
export ZK_REF_VERSION=$REF_VERSION

# Steps in the order they run. Add new suites here and as step_<name> below.
STEPS=(
    reference-smoke
    client-standalone
    client-ensemble
    read-only-ensemble
    reconfig-ensemble
    observer-ensemble
    recipes-standalone
    recipes-ensemble
    examples-standalone
    differential
    differential-ensemble
    session-moved
    wire-edges
    zkcli-testserver
    interop-reference
    interop-testserver
    secure
    kazoo-testserver-secure
    zkcli-testserver-secure
    kerberos
)

section() { printf '\n===== conformance: %s =====\n' "$*"; }
note() { printf 'conformance: %s\n' "$*"; }
die() { note "ERROR: $*"; exit 1; }

# Every cargo command of a step (a build and a test run) gets at most
# CARGO_LIMIT seconds: a test that hangs fails its step with its name in the
# log, instead of using up CI's whole time limit.
CARGO_LIMIT=${CARGO_LIMIT:-1500}
cargo() {
    local rc=0
    timeout --kill-after=30 "$CARGO_LIMIT" cargo "$@" || rc=$?
    if ((rc == 124 || rc == 137)); then
        note "cargo $* did not finish within ${CARGO_LIMIT}s (the tests still running are named above)"
    fi
    return "$rc"
}

# A step calls `skip "reason"` (and returns) when it has nothing to run yet.
SKIPPED=""
skip() {
    note "SKIPPED $CURRENT_STEP: $*"
    SKIPPED=yes
}

# Has the package a test target of that name (tests/<t>.rs, tests/<t>/main.rs
# or a [[test]] entry in its Cargo.toml)?
has_test_target() {
    local crate=$1 target=$2
    [[ -f $crate/tests/$target.rs || -f $crate/tests/$target/main.rs ]] && return 0
    grep -Eq "^[[:space:]]*name[[:space:]]*=[[:space:]]*\"$target\"" "$crate/Cargo.toml" 2>/dev/null &&
        grep -q '^\[\[test\]\]' "$crate/Cargo.toml"
}

# Start a reference server (standalone|ensemble) and export what the suites read.
start_reference() {
    local name=$1
    LAST_REFERENCE=$name
    ZK_CONNECT=$("$REF" start "$name")
    export ZK_CONNECT
    export ZK_REFERENCE=$name
    export ZK_REFERENCE_SCRIPT=$REF
    export ZK_REFERENCE_TICK_TIME=${ZK_REF_TICK_TIME:-200}
    export ZK_REFERENCE_VERSION=$REF_VERSION
    ZK_REFERENCE_SUPER_AUTH=$("$REF" super-auth)
    export ZK_REFERENCE_SUPER_AUTH
    note "ZK_REFERENCE=$ZK_REFERENCE ZK_REFERENCE_VERSION=$ZK_REFERENCE_VERSION ZK_CONNECT=$ZK_CONNECT"
}

stop_reference() {
    "$REF" stop all
    unset ZK_CONNECT ZK_REFERENCE ZK_REFERENCE_SCRIPT ZK_REFERENCE_TICK_TIME ZK_REFERENCE_SUPER_AUTH \
        ZK_REFERENCE_VERSION
}

# ---------------------------------------------------------------------------
# Steps

# The reference servers themselves work here: a TTL node (extended types), the
# super user, and a write through a follower of the ensemble.
step_reference_smoke() {
    local name out
    for name in standalone ensemble; do
        start_reference "$name"
        [[ $("$REF" 4lw "$(first_member "$name")" ruok) == imok ]] || {
            note "ruok did not answer imok"
            return 1
        }
        out=$("$REF" cli "$name" create -t 60000 /conformance-smoke-ttl x 2>&1) || true
        grep -q 'Created /conformance-smoke-ttl' <<<"$out" || {
            printf '%s\n' "$out"
            note "zkCli could not create a TTL node on $name"
            return 1
        }
        stop_reference
    done
}

first_member() {
    if [[ $1 == standalone ]]; then echo standalone; else echo 1; fi
}

run_client_integration() {
    local name=$1
    if ! has_test_target zk-client integration; then
        skip "zk-client has no 'integration' test target yet (zk-client/tests/integration.rs or" \
            "zk-client/tests/integration/main.rs); nothing to run against the $name reference server"
        return 0
    fi
    start_reference "$name"
    cargo test -p zk-client --test integration -- --test-threads=1
    stop_reference
}

step_client_standalone() { run_client_integration standalone; }

step_client_ensemble() { run_client_integration ensemble; }

# Dynamic reconfiguration: an ensemble with reconfigEnabled=true; the test
# joins a fourth member, removes members (the leader too), moves a client
# port, with a client following /zookeeper/config.
step_reconfig_ensemble() {
    export ZK_REF_RECONFIG=yes
    start_reference ensemble
    cargo test -p zk-client --test integration reconfig -- --include-ignored --test-threads=1
    stop_reference
    unset ZK_REF_RECONFIG
}

# Observers: the ensemble starts with a fourth member as an observer
# (peerType=observer, listed as server.4=...:observer by every member); a
# client of it reads, writes through it and gets its watches fired.
step_observer_ensemble() {
    export ZK_REF_OBSERVERS=1
    start_reference ensemble
    cargo test -p zk-client --test integration observers -- --test-threads=1
    stop_reference
    unset ZK_REF_OBSERVERS
}

# Read-only mode: the ensemble's members run with readonlymode.enabled=true
# (always) and local sessions (a real read-only member admits no other), the
# test stops two members and uses the third read-only.
step_read_only_ensemble() {
    export ZK_REF_LOCAL_SESSIONS=yes
    start_reference ensemble
    cargo test -p zk-client --test integration read_only -- --test-threads=1
    stop_reference
    unset ZK_REF_LOCAL_SESSIONS
}

# The recipe suite (each test in its own namespace, so in parallel).
run_recipes() {
    start_reference "$1"
    cargo test -p zk-recipes
    stop_reference
}

step_recipes_standalone() { run_recipes standalone; }

step_recipes_ensemble() { run_recipes ensemble; }

# Every example program against the real standalone server (--connect).
step_examples_standalone() {
    local bin failed=0
    cargo build -q -p examples --bins
    start_reference standalone
    for bin in quickstart lock rwlock semaphore leader_latch leader_election queue barrier atomic_long simple_queue service_provider persistent_node children_cache work_sharing delay_queue reentrant_lock \
        service_discovery config_watch watch_tree multi acl; do
        if "$REPO_ROOT/target/debug/$bin" --connect "$ZK_CONNECT" >"$REPO_ROOT/target/example-$bin.log" 2>&1; then
            note "example $bin -> ok"
        else
            note "example $bin FAILED:"; cat "$REPO_ROOT/target/example-$bin.log"; failed=1
        fi
    done
    stop_reference
    ((failed == 0)) || die "some examples failed against real ZooKeeper"
}

# The same randomized operation sequences against real ZooKeeper (standalone)
# and an in-process zk-testserver; every reply, Stat and watch event compared.
step_differential() {
    start_reference standalone
    DIFF_SEEDS=${DIFF_SEEDS:-40} cargo test -p zk-testserver --test differential -- --nocapture --ignored
    stop_reference
}

# The same, with zk-testserver as a 3-member ensemble (clients on any member).
step_differential_ensemble() {
    start_reference standalone
    DIFF_MEMBERS=3 DIFF_SEEDS=${DIFF_SEEDS:-20} cargo test -p zk-testserver --test differential -- --nocapture --ignored
    stop_reference
}

# A session re-attached on another member (SessionMoved): the same raw-socket
# transcript against the real ensemble and a 3-member zk-testserver.
step_session_moved() {
    start_reference ensemble
    cargo test -p zk-testserver --test session_moved -- --nocapture the_same_as_real_zookeeper
    stop_reference
}

# Raw-socket edges of the protocol (null and non-UTF-8 paths, ACL counts, ip
# ids, wchs figures): the answers pinned in zk-testserver's tests, checked
# against the real standalone server and zk-testserver alike.
step_wire_edges() {
    start_reference standalone
    cargo test -p zk-testserver --test wire_edges -- --nocapture the_same_as_real_zookeeper
    stop_reference
}

# ZooKeeper's own Java CLI against the zk-testserver binary.
step_zkcli_testserver() {
    local port=${ZK_TESTSERVER_CLI_PORT:-22590} out pid first
    cargo build -q -p zk-testserver --bin zk-testserver
    out=$(mktemp -d)
    "$REPO_ROOT/target/debug/zk-testserver" --members 1 --port "$port" >"$out/stdout" 2>"$out/stderr" &
    pid=$!
    for _ in $(seq 1 100); do
        first=$(head -n 1 "$out/stdout" 2>/dev/null || true)
        [[ -n $first ]] && break
        sleep 0.1
    done
    [[ $first == "127.0.0.1:$port" ]] || { kill "$pid" 2>/dev/null || true; cat "$out/stderr"; die "zk-testserver did not start (first line '$first')"; }
    local target="127.0.0.1:$port" ok=1 result
    zkcli() { "$REF" cli "$target" "$@" 2>&1; }
    expect() { # expect <needle> <zkCli args...>
        local needle=$1; shift
        result=$(zkcli "$@") || true
        if [[ $result != *"$needle"* ]]; then
            note "zkCli $* printed:"; printf '%s\n' "$result"; note "expected to find: $needle"; ok=0
        else
            note "zkCli $* -> ok"
        fi
    }
    expect "Created /zkcli-check" create /zkcli-check hello
    expect "hello" get /zkcli-check
    zkcli set /zkcli-check world >/dev/null
    expect "world" get /zkcli-check
    expect "zkcli-check" ls /
    expect "dataLength = 5" stat /zkcli-check
    expect "Created /zkcli-check/s-0000000000" create -s /zkcli-check/s- x
    expect "[s-0000000000]" ls /zkcli-check
    zkcli delete /zkcli-check/s-0000000000 >/dev/null
    zkcli delete /zkcli-check >/dev/null
    expect "Node does not exist" get /zkcli-check
    kill -INT "$pid"
    wait "$pid" || { note "zk-testserver exited with status $?"; ok=0; }
    rm -rf "$out"
    ((ok)) || die "zkCli against zk-testserver failed"
}

# Real Apache Curator and zk-recipes on one server (scripts/interop/run.sh):
# layouts compared with Curator's, then mixed 4 + 4 herds; with every Curator
# version of scripts/interop/curator.sh (Debian bookworm's 5.4 and trixie's
# 5.7.1, fetched without installing).
run_interop() {
    local server=$1 version
    "$SCRIPT_DIR/interop/curator.sh" install
    for version in $("$SCRIPT_DIR/interop/curator.sh" versions); do
        [[ $version == 5.4 ]] || "$SCRIPT_DIR/interop/curator.sh" fetch "$version"
        LAST_REFERENCE=standalone
        "$SCRIPT_DIR/interop/run.sh" --server "$server" --curator "$version"
    done
}

step_interop_reference() { run_interop reference; }

step_interop_testserver() { run_interop testserver; }
# zk-client's secure suite (TLS server-auth and mutual, x509 ACLs, SASL
# DIGEST-MD5, bad certificates and mismatched ports) against real ZooKeeper:
# two standalone servers with the Netty factory, keytool-made PKCS12 stores,
# ssl.clientAuth=none / need, and a JAAS DigestLoginModule user.
step_secure() {
    "$REF" start secure >/dev/null
    LAST_REFERENCE=secure
    eval "$("$REF" secure-env)"
    note "ZK_SECURE_TLS=$ZK_SECURE_TLS ZK_SECURE_MTLS=$ZK_SECURE_MTLS ZK_SECURE_PLAIN=$ZK_SECURE_PLAIN"
    cargo test -p zk-client --test secure -- --test-threads=2
    "$REF" stop secure
    unset "${!ZK_SECURE_@}"
}

# SASL GSSAPI (zk-client's `gssapi` feature, MIT Kerberos) against real
# ZooKeeper whose JAAS Server section uses Krb5LoginModule, with a local KDC
# (scripts/secure/kdc.sh) holding the service and client principals.
step_kerberos() {
    "$REF" start kerberos >/dev/null
    LAST_REFERENCE=kerberos
    eval "$("$REF" kerberos-env)"
    note "ZK_KRB_CONNECT=$ZK_KRB_CONNECT KRB5_CONFIG=$KRB5_CONFIG"
    cargo test -p zk-client --features gssapi --test secure gssapi -- --include-ignored --test-threads=1
    "$REF" stop kerberos
    unset ZK_KRB_CONNECT KRB5_CONFIG KRB5_CLIENT_KTNAME KRB5CCNAME ZK_KRB_REALM \
        ZK_KRB_SERVER_KEYTAB ZK_KRB_CLIENT_PRINCIPAL
}

# Starts the zk-testserver binary with a plain port and a TLS port (test
# certificates in DIR/pki, client certificates optional) serving SASL
# DIGEST-MD5 for USER / PASSWORD; sets SECURE_TS_PID and SECURE_TS_TLS.
start_secure_testserver() {
    local port=$1 dir=$2 user=$3 password=$4 second=""
    cargo build -q -p zk-testserver --bin zk-testserver
    printf '%s=%s\n' "$user" "$password" >"$dir/users"
    "$REPO_ROOT/target/debug/zk-testserver" --members 1 --port "$port" --secure-port $((port + 1)) \
        --tls-generate "$dir/pki" --tls-client-auth want --sasl-users "$dir/users" \
        >"$dir/stdout" 2>"$dir/stderr" &
    SECURE_TS_PID=$!
    for _ in $(seq 1 100); do
        second=$(sed -n 2p "$dir/stdout" 2>/dev/null || true)
        [[ -n $second ]] && break
        sleep 0.1
    done
    SECURE_TS_TLS=$second
    [[ $second == "127.0.0.1:$((port + 1))" ]] || {
        kill "$SECURE_TS_PID" 2>/dev/null || true
        cat "$dir/stderr"
        die "zk-testserver did not start with a secure port (second line '$second')"
    }
}

# Stops it; fails if it did not exit cleanly or logged the password.
stop_secure_testserver() {
    local dir=$1 password=$2 rc=0
    kill -INT "$SECURE_TS_PID"
    wait "$SECURE_TS_PID" || { note "zk-testserver exited with status $?"; rc=1; }
    if grep -qF "$password" "$dir/stderr"; then
        note "the SASL password appeared in zk-testserver's log"
        rc=1
    fi
    return "$rc"
}

# kazoo (Python) against the zk-testserver binary's secure port and SASL:
# TLS with a client certificate, an x509 ACL, DIGEST-MD5 (pure-sasl) in
# plaintext and over TLS, a wrong password.
step_kazoo_testserver_secure() {
    local port=${ZK_REF_TESTSERVER_SECURE_PORT:-22595} out rc=0
    python3 -c 'import kazoo, puresasl' 2>/dev/null || die "kazoo and pure-sasl are not installed (pip install kazoo pure-sasl)"
    out=$(mktemp -d)
    printf 'kazoo-secret-pw\n' >"$out/password"
    start_secure_testserver "$port" "$out" kazoo kazoo-secret-pw
    python3 "$SCRIPT_DIR/secure/kazoo_check.py" --plain "127.0.0.1:$port" --tls "$SECURE_TS_TLS" \
        --pki "$out/pki" --sasl-user kazoo --sasl-password-file "$out/password" || rc=$?
    stop_secure_testserver "$out" kazoo-secret-pw || rc=1
    rm -rf "$out"
    ((rc == 0)) || die "kazoo against zk-testserver's secure port failed"
}

# ZooKeeper's Java client (zkCli over Netty with -Dzookeeper.client.secure,
# PEM trust and key stores, a JAAS DigestLoginModule) against the
# zk-testserver binary's TLS port: whoAmI must name the client both by its
# certificate and by its SASL user.
step_zkcli_testserver_secure() {
    local port=${ZK_REF_TESTSERVER_SECURE_PORT:-22595} out result rc=0
    out=$(mktemp -d)
    start_secure_testserver "$port" "$out" javauser java-secret-pw
    cat "$out/pki/client.pem" "$out/pki/client.key" >"$out/pki/client-keystore.pem"
    cat >"$out/jaas.conf" <<'JAAS'
Client {
    org.apache.zookeeper.server.auth.DigestLoginModule required
    username="javauser"
    password="java-secret-pw";
};
JAAS
    result=$(timeout 60 java -Dzookeeper.client.secure=true \
        -Dzookeeper.clientCnxnSocket=org.apache.zookeeper.ClientCnxnSocketNetty \
        "-Dzookeeper.ssl.trustStore.location=$out/pki/ca.pem" -Dzookeeper.ssl.trustStore.type=PEM \
        "-Dzookeeper.ssl.keyStore.location=$out/pki/client-keystore.pem" -Dzookeeper.ssl.keyStore.type=PEM \
        "-Djava.security.auth.login.config=$out/jaas.conf" \
        -cp "/etc/zookeeper/conf:/usr/share/java/zookeeper.jar:/usr/share/java/slf4j-nop.jar:/usr/share/java/netty-codec.jar:/usr/share/java/netty-resolver.jar" \
        org.apache.zookeeper.ZooKeeperMain -server "$SECURE_TS_TLS" -waitforconnection -timeout 10000 \
        whoami 2>&1) || true
    for needle in "sasl: javauser" "x509: CN=zk-rs client,O=zk-rs" "SaslAuthenticated"; do
        if [[ $result != *"$needle"* ]]; then
            note "zkCli whoami printed:"; printf '%s\n' "$result"; note "expected to find: $needle"; rc=1
        fi
    done
    stop_secure_testserver "$out" java-secret-pw || rc=1
    rm -rf "$out"
    ((rc == 0)) || die "the Java client against zk-testserver's secure port failed"
    note "zkCli over TLS with SASL against zk-testserver -> ok"
}

# ---------------------------------------------------------------------------

CURRENT_STEP=""
LAST_REFERENCE=""
RESULTS=()

on_exit() {
    local rc=$?
    if ((rc != 0)); then
        note "FAILED in step '${CURRENT_STEP:-setup}' (exit $rc); reference server logs follow"
        "$REF" logs "${LAST_REFERENCE:-all}" || true
    fi
    "$REF" stop all || true
    exit "$rc"
}

main() {
    local steps=() step fn
    if [[ ${1:-} == --list ]]; then
        printf '%s\n' "${STEPS[@]}"
        return 0
    fi
    if (($# > 0)); then steps=("$@"); else steps=("${STEPS[@]}"); fi
    for step in "${steps[@]}"; do
        declare -F "step_${step//-/_}" >/dev/null || {
            printf 'conformance: unknown step %s (steps: %s)\n' "$step" "${STEPS[*]}" >&2
            exit 2
        }
    done
    trap on_exit EXIT
    "$REF" install
    REF_RELEASE=$("$REF" version)
    note "reference server: $REF_RELEASE (ZK_REF_VERSION=$REF_VERSION)"
    for step in "${steps[@]}"; do
        CURRENT_STEP=$step
        SKIPPED=""
        fn="step_${step//-/_}"
        section "$step (ZooKeeper $REF_VERSION)"
        "$fn"
        "$REF" stop all
        if [[ -n $SKIPPED ]]; then RESULTS+=("$step=skipped"); else RESULTS+=("$step=ok"); fi
    done
    CURRENT_STEP=""
    section "summary (ZooKeeper $REF_VERSION)"
    note "against $REF_RELEASE: ${RESULTS[*]}"
}

main "$@"
