#!/usr/bin/env bash
# Run the real Apache ZooKeeper server (Debian bookworm's package, 3.8.0, or
# trixie's 3.9.3 unpacked beside it: ZK_REF_VERSION=3.8|3.9) on loopback for
# tests: one standalone server and/or a 3-member ensemble, with kill/restart of
# single members for client fault tests. No service scripts are used: each
# member is `java ... QuorumPeerMain zoo.cfg` with its own config, data and logs
# under <repo>/.zk-reference/.
#
# Run `scripts/zk-reference.sh help` for the subcommands and settings.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$SCRIPT_DIR/.." && pwd)

STATE_DIR=${ZK_REF_STATE_DIR:-$REPO_ROOT/.zk-reference}
HOST=127.0.0.1
STANDALONE_PORT=${ZK_REF_STANDALONE_PORT:-22181}
ENSEMBLE_SIZE=${ZK_REF_ENSEMBLE_SIZE:-3}
CLIENT_BASE=${ZK_REF_ENSEMBLE_CLIENT_BASE:-22280}
QUORUM_BASE=${ZK_REF_ENSEMBLE_QUORUM_BASE:-22380}
ELECTION_BASE=${ZK_REF_ENSEMBLE_ELECTION_BASE:-22480}
TICK_TIME=${ZK_REF_TICK_TIME:-200}
INIT_LIMIT=${ZK_REF_INIT_LIMIT:-50}
SYNC_LIMIT=${ZK_REF_SYNC_LIMIT:-20}
MIN_SESSION_TIMEOUT=${ZK_REF_MIN_SESSION_TIMEOUT:-}
MAX_SESSION_TIMEOUT=${ZK_REF_MAX_SESSION_TIMEOUT:-}
FORCE_SYNC=${ZK_REF_FORCE_SYNC:-no}
LOCAL_SESSIONS=${ZK_REF_LOCAL_SESSIONS:-no}
RECONFIG=${ZK_REF_RECONFIG:-no}
OBSERVERS=${ZK_REF_OBSERVERS:-0}
ADMIN_BASE=${ZK_REF_ADMIN_PORT_BASE:-}
CONTAINER_CHECK_MS=${ZK_REF_CONTAINER_CHECK_MS:-1000}
READY_TIMEOUT=${ZK_REF_READY_TIMEOUT:-60}
STOP_TIMEOUT=${ZK_REF_STOP_TIMEOUT:-15}
JVM_OPTS=${ZK_REF_JVM_OPTS:--Xms32m -Xmx256m -XX:+UseSerialGC}
SUPER_PASSWORD=${ZK_REF_SUPER_PASSWORD:-superpw}
LOG_LINES=${ZK_REF_LOG_LINES:-150}
JAVA=${ZK_REF_JAVA:-java}
JAR_DIR=${ZK_REF_JAR_DIR:-/usr/share/java}
CONF_DIR=${ZK_REF_CONF_DIR:-/etc/zookeeper/conf}
# Secure members (start secure): "tls" (TLS, no client certificate asked)
# and "mtls" (ssl.clientAuth=need), each with a plaintext port too; both
# serve SASL DIGEST-MD5 through JAAS.
TLS_PORT=${ZK_REF_TLS_PORT:-22191}
TLS_SECURE_PORT=${ZK_REF_TLS_SECURE_PORT:-22192}
MTLS_PORT=${ZK_REF_MTLS_PORT:-22193}
MTLS_SECURE_PORT=${ZK_REF_MTLS_SECURE_PORT:-22194}
STORE_PASSWORD=${ZK_REF_STORE_PASSWORD:-zkrs-store-pw}
# Kerberos member (start kerberos): "krb", SASL GSSAPI through a local KDC.
KRB_PORT=${ZK_REF_KRB_PORT:-22195}
KDC_PORT=${ZK_REF_KDC_PORT:-22088}
SASL_USER=${ZK_REF_SASL_USER:-bob}
SASL_PASSWORD=${ZK_REF_SASL_PASSWORD:-bob-secret-pw}
# Which ZooKeeper runs: 3.8 (bookworm's package, installed with apt-get) or 3.9
# (trixie's libzookeeper-java fetched with `apt-get download` into DIST_DIR and
# run on bookworm's dependency jars; `install` fetches it).
VERSION=${ZK_REF_VERSION:-3.8}
DIST_DIR=${ZK_REF_DIST_DIR:-$STATE_DIR/dist}
ZK39_PACKAGE=libzookeeper-java=3.9.3-1+deb13u1
ZK39_SUITE=${ZK_REF_TRIXIE_SUITE:-trixie}
ZK39_MIRROR=${ZK_REF_TRIXIE_MIRROR:-http://deb.debian.org/debian}

PROG=zk-reference

usage() {
    cat <<EOF
Usage: scripts/zk-reference.sh <command> [args]

Real Apache ZooKeeper $VERSION (Debian package) on $HOST, state under $STATE_DIR.
Names: standalone | ensemble | secure.  Members: standalone | 1 .. $ENSEMBLE_SIZE (ensemble
member ids) | tls | mtls (the two secure members).

Commands:
  install [--with-jdk]   apt-get install zookeeper (+ default-jdk-headless, python3 with
                         --with-jdk, for the fixture capture) unless already present; with
                         ZK_REF_VERSION=3.9 also fetch trixie's $ZK39_PACKAGE
                         (apt-get download, private sources list) into $DIST_DIR
  version                print the version of the selected ZooKeeper (ZK_REF_VERSION)
  start standalone|ensemble|secure
                         stop that name if running, wipe its data, start it fresh, wait
                         until ready, print its connect string on stdout. "secure" starts
                         two standalone servers with the Netty factory, TLS on a
                         secureClientPort (PKCS12 stores made by keytool in STATE_DIR/pki)
                         and SASL DIGEST-MD5 (JAAS): tls (ssl.clientAuth=none) and mtls
                         (ssl.clientAuth=need). "kerberos" starts a local MIT KDC
                         (scripts/secure/kdc.sh, realm ZKRS.TEST, in STATE_DIR/kdc) and one
                         standalone server, krb, serving SASL GSSAPI as zookeeper/localhost
  secure-env             print 'export ZK_SECURE_...' lines describing the secure servers
                         (ports, CA and client certificate PEM files, SASL user) for
                         zk-client's secure test suite
  kerberos-env           print 'export ...' lines for a GSSAPI client of krb (KRB5_CONFIG,
                         client keytab, ZK_KRB_CONNECT)
  stop [standalone|ensemble|all]
                         SIGTERM (then SIGKILL after ${STOP_TIMEOUT}s) every member; default all;
                         data and logs stay until the next start
  kill <member>          SIGKILL one member (data kept)
  stop-member <member>   SIGTERM one member (data kept)
  start-member <member>  start a stopped/killed member with its data, wait until ready
  join <member>          (ZK_REF_RECONFIG=yes) start a new member $((ENSEMBLE_SIZE + OBSERVERS + 1))..9 configured with the
                         ensemble and itself, wait until it serves; then reconfig -add it
  restart <member>       kill (SIGKILL) if running, then start-member
  kill-all-members       SIGKILL every ensemble member (data kept)
  start-all-members      start every stopped ensemble member with its data, wait until ready
  wait-ready [name]      wait until the server / every running member serves and the
                         ensemble has one leader (timeout ZK_REF_READY_TIMEOUT s)
  status                 one line per member: name, state, pid, client address, mode
  connect-string <name|member>
                         e.g. $HOST:$((CLIENT_BASE + 1)),$HOST:$((CLIENT_BASE + 2)),$HOST:$((CLIENT_BASE + 3))
  leader                 print the member id of the ensemble's current leader
  mode <member>          print the member's mode (standalone|leader|follower|observer) or "down"
  4lw <member> <word>    send a four-letter word (ruok, srvr, mntr, ...) and print the
                         answer's exact bytes
  cli <name|member> [zkCli args]
                         run ZooKeeper's own CLI (ZooKeeperMain) against it; it waits
                         for the connection (session timeout ZK_REF_CLI_TIMEOUT ms, 10000)
  logs [name]            print the tail of each member's server log (ZK_REF_LOG_LINES lines)
  pids                   print the pids of every running member
  super-auth             print the digest credentials of the super user (user:password)
  help

Settings (environment):
  ZK_REF_STATE_DIR               state directory          [$STATE_DIR]
  ZK_REF_STANDALONE_PORT         standalone client port   [$STANDALONE_PORT]
  ZK_REF_ENSEMBLE_SIZE           ensemble members         [$ENSEMBLE_SIZE]
  ZK_REF_ENSEMBLE_CLIENT_BASE    member i client port = base + i   [$CLIENT_BASE]
  ZK_REF_ENSEMBLE_QUORUM_BASE    member i quorum port = base + i   [$QUORUM_BASE]
  ZK_REF_ENSEMBLE_ELECTION_BASE  member i election port = base + i [$ELECTION_BASE]
  ZK_REF_TICK_TIME               tickTime in ms           [$TICK_TIME]
  ZK_REF_INIT_LIMIT              initLimit in ticks       [$INIT_LIMIT]
  ZK_REF_SYNC_LIMIT              syncLimit in ticks       [$SYNC_LIMIT]
  ZK_REF_MIN_SESSION_TIMEOUT     minSessionTimeout ms     [2 x tickTime]
  ZK_REF_MAX_SESSION_TIMEOUT     maxSessionTimeout ms     [20 x tickTime]
  ZK_REF_FORCE_SYNC              forceSync yes|no         [$FORCE_SYNC]
  ZK_REF_ADMIN_PORT_BASE         if set, the AdminServer (HTTP /commands/<name>) of member i listens
                                 on 127.0.0.1:base + i (standalone: base) [off]
  ZK_REF_RECONFIG                reconfigEnabled yes|no [$RECONFIG] (the super user may reconfig;
                                 join <member> starts a member beyond the configured ones)
  ZK_REF_OBSERVERS               observers started with the ensemble (peerType=observer) as members
                                 ENSEMBLE_SIZE+1 .. ENSEMBLE_SIZE+K, listed in every member's
                                 config as server.N=...:observer [$OBSERVERS]
  ZK_REF_LOCAL_SESSIONS          localSessionsEnabled and localSessionsUpgradingEnabled
                                 yes|no [$LOCAL_SESSIONS]; a read-only member (every member runs
                                 with readonlymode.enabled=true) admits new sessions only with yes
  ZK_REF_CONTAINER_CHECK_MS      how often empty containers / expired TTL nodes are
                                 deleted (znode.container.checkIntervalMs) [$CONTAINER_CHECK_MS]
  ZK_REF_READY_TIMEOUT           seconds to wait for readiness [$READY_TIMEOUT]
  ZK_REF_STOP_TIMEOUT            seconds before SIGTERM becomes SIGKILL [$STOP_TIMEOUT]
  ZK_REF_JVM_OPTS                JVM options              [$JVM_OPTS]
  ZK_REF_SUPER_PASSWORD          password of digest user "super" (superuser) [$SUPER_PASSWORD]
  ZK_REF_VERSION                 3.8 (bookworm, installed) or 3.9 (trixie's 3.9.3) [$VERSION]
  ZK_REF_DIST_DIR                where 3.9 is unpacked    [$DIST_DIR]
  ZK_REF_JAVA, ZK_REF_JAR_DIR, ZK_REF_CONF_DIR   java binary, jar and conf directories
  ZK_REF_TLS_PORT / ZK_REF_TLS_SECURE_PORT     secure member tls: plaintext / TLS port
                                               [$TLS_PORT / $TLS_SECURE_PORT]
  ZK_REF_MTLS_PORT / ZK_REF_MTLS_SECURE_PORT   secure member mtls: plaintext / TLS port
                                               [$MTLS_PORT / $MTLS_SECURE_PORT]
  ZK_REF_STORE_PASSWORD          password of the generated PKCS12 stores
  ZK_REF_SASL_USER, ZK_REF_SASL_PASSWORD       the JAAS DIGEST-MD5 user [$SASL_USER]
  ZK_REF_KRB_PORT, ZK_REF_KDC_PORT             kerberos member krb / its KDC [$KRB_PORT / $KDC_PORT]
EOF
}

log() { printf '%s: %s\n' "$PROG" "$*" >&2; }
die() {
    printf '%s: error: %s\n' "$PROG" "$*" >&2
    exit 1
}

is_uint() { [[ $1 =~ ^[0-9]+$ ]]; }

validate_settings() {
    local v
    for v in STANDALONE_PORT ENSEMBLE_SIZE CLIENT_BASE QUORUM_BASE ELECTION_BASE TICK_TIME \
        INIT_LIMIT SYNC_LIMIT CONTAINER_CHECK_MS READY_TIMEOUT STOP_TIMEOUT LOG_LINES \
        TLS_PORT TLS_SECURE_PORT MTLS_PORT MTLS_SECURE_PORT KRB_PORT KDC_PORT OBSERVERS; do
        is_uint "${!v}" || die "ZK_REF_$v must be a non-negative integer, got '${!v}'"
    done
    ((ENSEMBLE_SIZE >= 2 && ENSEMBLE_SIZE <= 9)) || die "ZK_REF_ENSEMBLE_SIZE must be 2..9"
    ((ENSEMBLE_SIZE + OBSERVERS <= 9)) || die "ZK_REF_ENSEMBLE_SIZE + ZK_REF_OBSERVERS must be at most 9"
    [[ $FORCE_SYNC == yes || $FORCE_SYNC == no ]] || die "ZK_REF_FORCE_SYNC must be yes or no"
    [[ $LOCAL_SESSIONS == yes || $LOCAL_SESSIONS == no ]] || die "ZK_REF_LOCAL_SESSIONS must be yes or no"
    [[ $RECONFIG == yes || $RECONFIG == no ]] || die "ZK_REF_RECONFIG must be yes or no"
    [[ $VERSION == 3.8 || $VERSION == 3.9 ]] || die "ZK_REF_VERSION must be 3.8 or 3.9, got '$VERSION'"
    [[ -z $MIN_SESSION_TIMEOUT ]] || is_uint "$MIN_SESSION_TIMEOUT" ||
        die "ZK_REF_MIN_SESSION_TIMEOUT must be an integer"
    [[ -z $MAX_SESSION_TIMEOUT ]] || is_uint "$MAX_SESSION_TIMEOUT" ||
        die "ZK_REF_MAX_SESSION_TIMEOUT must be an integer"
}

# ---------------------------------------------------------------------------
# Installation

as_root() {
    if [[ $(id -u) -eq 0 ]]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo -n "$@"
    else
        die "need root (or sudo) to run: $*"
    fi
}

# Where trixie's 3.9.3 jars are after `install` (dpkg -x of the package).
zk39_jar_dir() { printf '%s' "$DIST_DIR/zookeeper-3.9.3/usr/share/java"; }

# The ZooKeeper jars of the selected version. 3.9's own jute jar comes before
# its server jar: the server jar's manifest Class-Path names
# /usr/share/java/zookeeper-jute.jar (bookworm's 3.8 one), and the JVM searches
# a jar's Class-Path right after that jar, so a jute jar listed after it would
# be shadowed. Everything else that manifest names (netty, jetty, jackson,
# metrics, slf4j-api) is bookworm's.
zk_jars() {
    if [[ $VERSION == 3.9 ]]; then
        printf '%s' "$(zk39_jar_dir)/zookeeper-jute-3.9.3.jar:$(zk39_jar_dir)/zookeeper-3.9.3.jar"
    else
        printf '%s' "$JAR_DIR/zookeeper.jar"
    fi
}

classpath() {
    # zookeeper.jar's manifest Class-Path brings jute, netty, slf4j-api, jetty, ...
    # slf4j-api alone logs nothing, so add the log4j 1.2 binding Debian ships
    # (libslf4j-java, liblog4j1.2-java are dependencies of libzookeeper-java).
    # servlet-api: the AdminServer (Jetty) needs it and no manifest names it.
    printf '%s' "$CONF_DIR:$(zk_jars):$JAR_DIR/slf4j-log4j12.jar:$JAR_DIR/log4j-1.2.jar:$JAR_DIR/servlet-api.jar"
}

missing_parts() {
    local f
    command -v "$JAVA" >/dev/null 2>&1 || echo "java"
    for f in zookeeper.jar zookeeper-jute.jar slf4j-api.jar slf4j-log4j12.jar log4j-1.2.jar; do
        [[ -r $JAR_DIR/$f ]] || echo "$JAR_DIR/$f"
    done
}

missing_zk39() {
    local f
    for f in zookeeper-3.9.3.jar zookeeper-jute-3.9.3.jar; do
        [[ -r $(zk39_jar_dir)/$f ]] || echo "$(zk39_jar_dir)/$f"
    done
}

# Fetch trixie's libzookeeper-java 3.9.3 without touching the system's apt
# state: a private sources list, package lists and cache under DIST_DIR, then
# `apt-get download` and `dpkg -x` (nothing is installed).
fetch_zk39() {
    local work="$DIST_DIR/apt" deb apt_opts
    [[ -z $(missing_zk39) ]] && return 0
    command -v apt-get >/dev/null 2>&1 || die "apt-get not found: cannot fetch $ZK39_PACKAGE"
    rm -rf "$work" "$DIST_DIR/zookeeper-3.9.3"
    mkdir -p "$work/lists/partial" "$work/cache/archives/partial" "$work/deb"
    echo "deb $ZK39_MIRROR $ZK39_SUITE main" >"$work/sources.list"
    apt_opts=(-o "Dir::Etc::sourcelist=$work/sources.list" -o "Dir::Etc::sourceparts=-"
        -o "Dir::State::Lists=$work/lists" -o "Dir::Cache=$work/cache" -o Debug::NoLocking=1
        -o APT::Sandbox::User=root)
    log "fetching $ZK39_PACKAGE from $ZK39_MIRROR $ZK39_SUITE"
    apt-get "${apt_opts[@]}" -q update >&2 || die "apt-get update of the $ZK39_SUITE lists failed"
    (cd "$work/deb" && apt-get "${apt_opts[@]}" -q download "$ZK39_PACKAGE" >&2) ||
        die "apt-get download $ZK39_PACKAGE failed"
    deb=$(find "$work/deb" -name 'libzookeeper-java_*.deb' | head -n 1)
    [[ -n $deb ]] || die "apt-get download left no .deb in $work/deb"
    dpkg -x "$deb" "$DIST_DIR/zookeeper-3.9.3"
    rm -rf "$work"
    [[ -z $(missing_zk39) ]] || die "$ZK39_PACKAGE unpacked without $(missing_zk39 | tr '\n' ' ')"
}

require_installed() {
    local missing
    missing=$(missing_parts)
    [[ -z $missing ]] || die "ZooKeeper is not installed (missing: $(echo "$missing" | tr '\n' ' '));" \
        "run: scripts/zk-reference.sh install"
    if [[ $VERSION == 3.9 ]]; then
        missing=$(missing_zk39)
        [[ -z $missing ]] || die "ZooKeeper 3.9 is not fetched (missing: $(echo "$missing" | tr '\n' ' '));" \
            "run: ZK_REF_VERSION=3.9 scripts/zk-reference.sh install"
    fi
}

cmd_install() {
    local with_jdk=no pkgs=()
    case "${1:-}" in
    "") ;;
    --with-jdk) with_jdk=yes ;;
    *) die "install: unknown option '$1'" ;;
    esac
    [[ -z $(missing_parts) ]] || pkgs+=(zookeeper)
    if [[ $with_jdk == yes ]]; then
        command -v javac >/dev/null 2>&1 || pkgs+=(default-jdk-headless)
        command -v python3 >/dev/null 2>&1 || pkgs+=(python3)
    fi
    if ((${#pkgs[@]} == 0)); then
        if [[ $VERSION == 3.9 ]]; then fetch_zk39; fi
        log "already installed: $(zk_version)"
        return 0
    fi
    command -v apt-get >/dev/null 2>&1 || die "apt-get not found: install ${pkgs[*]} by hand"
    log "installing ${pkgs[*]} with apt-get"
    as_root apt-get update -q
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${pkgs[@]}"
    if [[ $VERSION == 3.9 ]]; then fetch_zk39; fi
    require_installed
    log "installed: $(zk_version)"
}

zk_version() {
    "$JAVA" -cp "$(zk_jars)" org.apache.zookeeper.version.VersionInfoMain 2>/dev/null ||
        echo "ZooKeeper (version unknown)"
}

super_digest() {
    # base64(sha1("super:<password>")), coreutils only
    local hex bytes="" i
    hex=$(printf 'super:%s' "$SUPER_PASSWORD" | sha1sum | cut -d' ' -f1)
    for ((i = 0; i < ${#hex}; i += 2)); do bytes+="\\x${hex:i:2}"; done
    printf '%b' "$bytes" | base64
}

# ---------------------------------------------------------------------------
# Members

all_members() {
    local i
    echo standalone
    for ((i = 1; i <= ENSEMBLE_SIZE; i++)); do echo "$i"; done
    observer_members
    secure_members
    echo krb
    joined_members
}

# The observers (ZK_REF_OBSERVERS): ids after the voters'.
observer_members() {
    local i
    for ((i = ENSEMBLE_SIZE + 1; i <= ENSEMBLE_SIZE + OBSERVERS; i++)); do echo "$i"; done
}

is_observer() { is_uint "$1" && (($1 > ENSEMBLE_SIZE && $1 <= ENSEMBLE_SIZE + OBSERVERS)); }

# Members started with `join` beyond the configured ensemble and its
# observers (ids up to 9), as long as their directory exists.
joined_members() {
    local i
    for ((i = ENSEMBLE_SIZE + OBSERVERS + 1; i <= 9; i++)); do
        if [[ -d $STATE_DIR/ensemble/member$i ]]; then echo "$i"; fi
    done
}

members_of() {
    case "$1" in
    standalone) echo standalone ;;
    ensemble)
        local i
        for ((i = 1; i <= ENSEMBLE_SIZE; i++)); do echo "$i"; done
        observer_members
        joined_members
        ;;
    all) all_members ;;
    secure) secure_members ;;
    kerberos) echo krb ;;
    tls | mtls | krb) echo "$1" ;;
    *)
        if ! is_uint "$1" || (($1 < 1 || $1 > ENSEMBLE_SIZE + OBSERVERS)) && [[ ! -d $STATE_DIR/ensemble/member$1 ]]; then
            die "unknown name '$1' (expected standalone, ensemble, secure, all, tls, mtls or a member 1..$ENSEMBLE_SIZE)"
        fi
        echo "$1"
        ;;
    esac
}

check_member() {
    local m=$1
    if [[ $m == standalone ]] || is_secure_member "$m"; then return 0; fi
    if ! is_uint "$m" || ((m < 1 || m > 9)); then
        die "unknown member '$m' (expected standalone or 1..$ENSEMBLE_SIZE)"
    fi
    if ((m > ENSEMBLE_SIZE + OBSERVERS)) && [[ ! -d $STATE_DIR/ensemble/member$m ]]; then
        die "unknown member '$m' (expected standalone or 1..$ENSEMBLE_SIZE, or a joined member)"
    fi
}

member_dir() {
    if is_secure_member "$1"; then
        echo "$STATE_DIR/secure/$1"
    elif [[ $1 == standalone ]]; then
        echo "$STATE_DIR/standalone"
    else
        echo "$STATE_DIR/ensemble/member$1"
    fi
}

member_label() {
    if is_secure_member "$1"; then
        echo "secure member $1"
    elif [[ $1 == standalone ]]; then echo standalone; else echo "ensemble member $1"; fi
}

client_port() {
    if is_secure_member "$1"; then
        secure_plain_port "$1"
    elif [[ $1 == standalone ]]; then echo "$STANDALONE_PORT"; else echo $((CLIENT_BASE + $1)); fi
}

connect_string() {
    local name=$1 out="" m
    case "$name" in
    standalone | ensemble | secure | kerberos)
        for m in $(members_of "$name"); do out+="${out:+,}$HOST:$(client_port "$m")"; done
        ;;
    *)
        check_member "$name"
        out="$HOST:$(client_port "$name")"
        ;;
    esac
    echo "$out"
}

# pid of a running member, or nothing. The pid file is trusted only while that
# process is still QuorumPeerMain with this member's config (no pid reuse, and
# an unreaped zombie has an empty command line).
member_pid() {
    local dir pid
    dir=$(member_dir "$1")
    [[ -r $dir/pid ]] || return 0
    pid=$(<"$dir/pid")
    is_uint "$pid" || return 0
    if { tr '\0' ' ' <"/proc/$pid/cmdline"; } 2>/dev/null | grep -qF -- "QuorumPeerMain $dir/zoo.cfg"; then
        echo "$pid"
    fi
}

# True while pid exists and is not a zombie. A main thread that exited
# before the others shows as a zombie while they still run (and hold the
# process's sockets), so a zombie with other threads left counts as alive.
process_alive() {
    local stat threads
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
    stat=${stat##*) }
    [[ ${stat:0:1} != Z ]] && return 0
    threads=(/proc/"$1"/task/*)
    ((${#threads[@]} > 1))
}

# Processes started from this state directory whose pid file is gone (e.g. a
# lost state); matched on the exact config path, never on a broad name.
stray_pids() {
    local f pid cmd
    for f in /proc/[0-9]*/cmdline; do
        pid=${f#/proc/}
        pid=${pid%/cmdline}
        cmd=$({ tr '\0' ' ' <"$f"; } 2>/dev/null) || continue
        if [[ $cmd == *"QuorumPeerMain $STATE_DIR/"*"/zoo.cfg"* ]]; then echo "$pid"; fi
    done
}

# Is something accepting connections on HOST:port?
port_open() {
    # shellcheck disable=SC2016 # expanded by the inner bash
    timeout 2 bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$HOST" "$1" 2>/dev/null
}

# Print the answer to a four-letter word; fail if there is none. A server that
# is not serving yet may answer without closing the socket, so the read is
# bounded and what arrived before the bound still counts.
four_letter() {
    local port=$1 word=$2 out
    # shellcheck disable=SC2016 # expanded by the inner bash
    out=$(timeout "${ZK_REF_4LW_TIMEOUT:-2}" bash -c \
        'exec 3<>"/dev/tcp/$0/$1" && printf "%s" "$2" >&3 && cat <&3' \
        "$HOST" "$port" "$word" 2>/dev/null) || true
    [[ -n $out ]] || return 1
    printf '%s\n' "$out"
}

member_mode() {
    local out
    out=$(four_letter "$(client_port "$1")" srvr) || true
    sed -n 's/^Mode: //p' <<<"$out"
}

write_log4j() {
    cat >"$STATE_DIR/log4j.properties" <<'EOF'
# Written by scripts/zk-reference.sh: server log of each member in its logs/ dir.
log4j.rootLogger=INFO, FILE
log4j.appender.FILE=org.apache.log4j.FileAppender
log4j.appender.FILE.File=${zookeeper.log.dir}/zookeeper.log
log4j.appender.FILE.Append=true
log4j.appender.FILE.layout=org.apache.log4j.PatternLayout
log4j.appender.FILE.layout.ConversionPattern=%d{ISO8601} %-5p [%t:%C{1}@%L] - %m%n
EOF
}

write_config() {
    local m=$1 dir i
    dir=$(member_dir "$m")
    mkdir -p "$dir/data" "$dir/logs"
    {
        echo "# Written by scripts/zk-reference.sh ($(member_label "$m"))"
        echo "tickTime=$TICK_TIME"
        echo "initLimit=$INIT_LIMIT"
        echo "syncLimit=$SYNC_LIMIT"
        [[ -z $MIN_SESSION_TIMEOUT ]] || echo "minSessionTimeout=$MIN_SESSION_TIMEOUT"
        [[ -z $MAX_SESSION_TIMEOUT ]] || echo "maxSessionTimeout=$MAX_SESSION_TIMEOUT"
        echo "dataDir=$dir/data"
        echo "forceSync=$FORCE_SYNC"
        echo "preAllocSize=1024"
        echo "maxClientCnxns=0"
        if [[ -n $ADMIN_BASE ]]; then
            echo "admin.enableServer=true"
            echo "admin.serverAddress=$HOST"
            if [[ $m == standalone ]]; then
                echo "admin.serverPort=$ADMIN_BASE"
            else
                echo "admin.serverPort=$((ADMIN_BASE + m))"
            fi
        else
            echo "admin.enableServer=false"
        fi
        echo "4lw.commands.whitelist=*"
        # Unknown keys become system properties "zookeeper.<key>": this is
        # zookeeper.extendedTypesEnabled (TTL nodes).
        echo "extendedTypesEnabled=true"
        if [[ $RECONFIG == yes ]]; then
            echo "reconfigEnabled=true"
            echo "standaloneEnabled=false"
        fi
        if [[ $LOCAL_SESSIONS == yes ]]; then
            echo "localSessionsEnabled=true"
            echo "localSessionsUpgradingEnabled=true"
        else
            echo "localSessionsEnabled=false"
            echo "localSessionsUpgradingEnabled=false"
        fi
        if is_secure_member "$m"; then
            secure_config_lines "$m"
        elif [[ $m == standalone ]]; then
            echo "clientPortAddress=$HOST"
            echo "clientPort=$STANDALONE_PORT"
        else
            echo "$m" >"$dir/data/myid"
            for ((i = 1; i <= ENSEMBLE_SIZE; i++)); do
                echo "server.$i=$HOST:$((QUORUM_BASE + i)):$((ELECTION_BASE + i));$HOST:$((CLIENT_BASE + i))"
            done
            # Observers: every member lists them; each runs as peerType=observer.
            for i in $(observer_members); do
                echo "server.$i=$HOST:$((QUORUM_BASE + i)):$((ELECTION_BASE + i)):observer;$HOST:$((CLIENT_BASE + i))"
            done
            if is_observer "$m"; then echo "peerType=observer"; fi
            # A joining member lists the ensemble and itself (ZooKeeper's way
            # to add a server: start it so, then reconfig -add it).
            if ((m > ENSEMBLE_SIZE + OBSERVERS)); then
                echo "server.$m=$HOST:$((QUORUM_BASE + m)):$((ELECTION_BASE + m));$HOST:$((CLIENT_BASE + m))"
            fi
        fi
    } >"$dir/zoo.cfg"
}

launch_member() {
    local m=$1 dir pid port
    dir=$(member_dir "$m")
    [[ -r $dir/zoo.cfg ]] || die "$(member_label "$m") has no configuration; run: start $(name_of "$m")"
    [[ -z $(member_pid "$m") ]] || {
        log "$(member_label "$m") already running (pid $(member_pid "$m"))"
        return 0
    }
    for port in $(member_ports "$m"); do
        ! port_open "$port" || die "port $HOST:$port needed by $(member_label "$m") is already in use" \
            "(another server? see 'scripts/zk-reference.sh status'; ports are set by ZK_REF_* variables)"
    done
    mkdir -p "$dir/logs"
    {
        echo "===== $(date -u '+%Y-%m-%dT%H:%M:%SZ') start $(member_label "$m")"
    } >>"$dir/console.log"
    # shellcheck disable=SC2086 # JVM_OPTS is a list of options
    nohup "$JAVA" $JVM_OPTS \
        -Djava.net.preferIPv4Stack=true \
        "-Dzookeeper.log.dir=$dir/logs" \
        "-Dlog4j.configuration=file:$STATE_DIR/log4j.properties" \
        -Dzookeeper.jmx.log4j.disable=true \
        -Dreadonlymode.enabled=true \
        "-Dznode.container.checkIntervalMs=$CONTAINER_CHECK_MS" \
        "-Dzookeeper.DigestAuthenticationProvider.superDigest=super:$(super_digest)" \
        $(secure_jvm_options "$m") \
        -cp "$(classpath)$(secure_classpath "$m")" \
        org.apache.zookeeper.server.quorum.QuorumPeerMain "$dir/zoo.cfg" \
        >>"$dir/console.log" 2>&1 </dev/null &
    pid=$!
    echo "$pid" >"$dir/pid"
    # The background job becomes java after nohup's exec; wait for that so that
    # member_pid (which checks the command line) recognises it.
    local deadline=$((SECONDS + 10))
    while [[ -z $(member_pid "$m") ]]; do
        if ! process_alive "$pid" || ((SECONDS >= deadline)); then
            kill -KILL "$pid" 2>/dev/null || true
            rm -f "$dir/pid"
            print_logs "$m" >&2 || true
            die "$(member_label "$m") did not start (java exited; logs above)"
        fi
        sleep 0.02
    done
    log "started $(member_label "$m") (pid $pid, client port $(client_port "$m"))"
}

member_ports() {
    if is_secure_member "$1"; then
        echo "$(secure_plain_port "$1") $(secure_tls_port "$1")"
    elif [[ $1 == standalone ]]; then
        echo "$STANDALONE_PORT"
    else
        echo "$((CLIENT_BASE + $1)) $((QUORUM_BASE + $1)) $((ELECTION_BASE + $1))"
    fi
}

name_of() {
    if [[ $1 == krb ]]; then
        echo kerberos
    elif is_secure_member "$1"; then
        echo secure
    elif [[ $1 == standalone ]]; then echo standalone; else echo ensemble; fi
}

# Send sig to a member and wait until its process is gone. With TERM, escalate
# to KILL after STOP_TIMEOUT seconds.
signal_member() {
    local m=$1 sig=$2 pid deadline
    pid=$(member_pid "$m")
    if [[ -z $pid ]]; then
        rm -f "$(member_dir "$m")/pid"
        return 0
    fi
    kill "-$sig" "$pid" 2>/dev/null || true
    deadline=$((SECONDS + STOP_TIMEOUT))
    # An exiting JVM loses its command line (its memory is released, or its
    # main thread has ended) before its sockets are closed; with a large heap
    # that takes long enough for a start right after to find the client port
    # still bound. So wait until every thread of it is gone, too.
    while [[ -n $(member_pid "$m") ]] || process_alive "$pid"; do
        if ((SECONDS >= deadline)); then
            if [[ $sig == KILL ]]; then
                die "$(member_label "$m") (pid $pid) did not exit after SIGKILL"
            fi
            log "$(member_label "$m") (pid $pid) ignored SIGTERM for ${STOP_TIMEOUT}s; sending SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
            sig=KILL
            deadline=$((SECONDS + STOP_TIMEOUT))
        fi
        sleep 0.05
    done
    rm -f "$(member_dir "$m")/pid"
    log "$(member_label "$m") (pid $pid) stopped with SIG$sig"
}

# Members that are meant to run: those with a pid file (kill/stop remove it).
up_members() {
    local name=$1 m
    for m in $(members_of "$name"); do
        if [[ -e $(member_dir "$m")/pid ]]; then echo "$m"; fi
    done
}

print_logs() {
    local name=${1:-all} m dir
    for m in $(members_of "$name"); do
        dir=$(member_dir "$m")
        [[ -d $dir ]] || continue
        echo "----- $(member_label "$m"): $dir/logs/zookeeper.log (last $LOG_LINES lines)"
        tail -n "$LOG_LINES" "$dir/logs/zookeeper.log" 2>/dev/null || echo "(no log)"
        if [[ -s $dir/console.log ]]; then
            echo "----- $(member_label "$m"): $dir/console.log (last 40 lines)"
            tail -n 40 "$dir/console.log"
        fi
    done
}

# Wait until every member of the name that is meant to run serves clients and
# (ensemble) exactly one of them is the leader.
wait_ready() {
    local name=$1 deadline m pid mode up n_up leaders report quorum
    mapfile -t up < <(up_members "$name")
    n_up=${#up[@]}
    if ((n_up == 0)); then
        die "$name is not running (start it with: scripts/zk-reference.sh start $name)"
    fi
    if [[ $name == ensemble ]]; then
        quorum=$((ENSEMBLE_SIZE / 2 + 1))
        local voters_up=0
        for m in "${up[@]}"; do is_observer "$m" || voters_up=$((voters_up + 1)); done
        ((voters_up >= quorum)) || die "only $voters_up of $ENSEMBLE_SIZE voting members are running" \
            "(members ${up[*]}); a quorum needs $quorum, so no leader can be elected"
    fi
    deadline=$((SECONDS + READY_TIMEOUT))
    while :; do
        leaders=0
        report=""
        local ready=yes
        for m in "${up[@]}"; do
            pid=$(member_pid "$m")
            if [[ -z $pid ]]; then
                print_logs "$m" >&2 || true
                die "$(member_label "$m") exited while starting (logs above, in $(member_dir "$m")/logs)"
            fi
            mode=$(member_mode "$m")
            report+=" $(member_label "$m"): ${mode:-not serving};"
            case "$mode" in
            leader)
                leaders=$((leaders + 1))
                ;;
            standalone | follower | observer) ;;
            *) ready=no ;;
            esac
        done
        if [[ $ready == yes && ($name != ensemble || $leaders -eq 1) ]]; then
            log "$name ready:${report%;}"
            return 0
        fi
        if ((SECONDS >= deadline)); then
            print_logs "$name" >&2 || true
            die "$name not ready after ${READY_TIMEOUT}s:${report%;} (logs above)"
        fi
        sleep 0.1
    done
}

# ---------------------------------------------------------------------------
# Secure members: TLS (Netty, PKCS12 stores from keytool) and SASL (JAAS)

secure_members() { printf '%s\n' tls mtls; }

# tls, mtls and krb (kerberos) are standalone servers with extra settings.
is_secure_member() { [[ $1 == tls || $1 == mtls || $1 == krb ]]; }

secure_plain_port() {
    case $1 in tls) echo "$TLS_PORT" ;; mtls) echo "$MTLS_PORT" ;; krb) echo "$KRB_PORT" ;; esac
}

secure_tls_port() {
    case $1 in tls) echo "$TLS_SECURE_PORT" ;; mtls) echo "$MTLS_SECURE_PORT" ;; esac
}

KDC_DIR=$STATE_DIR/kdc

PKI_DIR=$STATE_DIR/pki
CLIENT_DN="CN=zk-rs client,O=zk-rs"

keytool_() { keytool -storetype PKCS12 -storepass "$STORE_PASSWORD" -keypass "$STORE_PASSWORD" "$@"; }

# A key pair in <name>.p12 signed by the CA, its chain imported, the
# certificate in <name>.pem and (for clients) the key in <name>.key.
issue_cert() {
    local name=$1 dname=$2 ext=$3 extra=("${@:4}")
    keytool_ -genkeypair -alias "$name" -keyalg EC -groupname secp256r1 -dname "$dname" \
        -validity 3650 -keystore "$PKI_DIR/$name.p12" 2>/dev/null
    keytool_ -certreq -alias "$name" -keystore "$PKI_DIR/$name.p12" -file "$PKI_DIR/$name.csr"
    keytool_ -gencert -alias ca -keystore "$PKI_DIR/ca.p12" -infile "$PKI_DIR/$name.csr" \
        -outfile "$PKI_DIR/$name.pem" -rfc -ext "$ext" "${extra[@]}"
    keytool_ -importcert -noprompt -alias ca -file "$PKI_DIR/ca.pem" -keystore "$PKI_DIR/$name.p12"
    keytool_ -importcert -alias "$name" -file "$PKI_DIR/$name.pem" -keystore "$PKI_DIR/$name.p12"
    # The Rust client reads PEM keys (openssl only converts). As SEC1 with
    # the public key: Java's PKCS#8 EC keys leave it out, which ring refuses.
    openssl pkcs12 -in "$PKI_DIR/$name.p12" -passin "pass:$STORE_PASSWORD" -nocerts -nodes 2>/dev/null |
        openssl ec -out "$PKI_DIR/$name.key" 2>/dev/null
}

# A CA, the servers' keystore (localhost, 127.0.0.1), a truststore with the
# CA, a client certificate and an expired one; kept across starts.
make_pki() {
    [[ -f $PKI_DIR/done ]] && return 0
    command -v keytool >/dev/null 2>&1 || die "keytool not found (a JDK's bin)"
    command -v openssl >/dev/null 2>&1 || die "openssl not found (needed to export PEM keys)"
    rm -rf "$PKI_DIR"
    mkdir -p "$PKI_DIR"
    log "making a CA, server and client certificates with keytool in $PKI_DIR"
    keytool_ -genkeypair -alias ca -keyalg EC -groupname secp256r1 \
        -dname "CN=zk-rs reference CA,O=zk-rs" -ext bc:c -validity 3650 -keystore "$PKI_DIR/ca.p12" 2>/dev/null
    keytool_ -exportcert -rfc -alias ca -keystore "$PKI_DIR/ca.p12" -file "$PKI_DIR/ca.pem"
    issue_cert server "CN=localhost,O=zk-rs" "SAN=dns:localhost,ip:127.0.0.1" -validity 3650
    issue_cert client "$CLIENT_DN" "EKU=clientAuth" -validity 3650
    issue_cert expired "$CLIENT_DN" "EKU=clientAuth" -startdate 2000/01/01 -validity 2
    keytool_ -importcert -noprompt -alias ca -file "$PKI_DIR/ca.pem" -keystore "$PKI_DIR/truststore.p12"
    cp "$PKI_DIR/server.p12" "$PKI_DIR/keystore.p12"
    touch "$PKI_DIR/done"
}

secure_config_lines() {
    local m=$1 auth=none dir
    dir=$(member_dir "$m")
    if [[ $m == krb ]]; then
        kerberos_config_lines "$dir"
        return
    fi
    [[ $m == mtls ]] && auth=need
    echo "clientPortAddress=$HOST"
    echo "clientPort=$(secure_plain_port "$m")"
    echo "secureClientPortAddress=$HOST"
    echo "secureClientPort=$(secure_tls_port "$m")"
    echo "serverCnxnFactory=org.apache.zookeeper.server.NettyServerCnxnFactory"
    echo "ssl.keyStore.location=$PKI_DIR/keystore.p12"
    echo "ssl.keyStore.password=$STORE_PASSWORD"
    echo "ssl.keyStore.type=PKCS12"
    echo "ssl.trustStore.location=$PKI_DIR/truststore.p12"
    echo "ssl.trustStore.password=$STORE_PASSWORD"
    echo "ssl.trustStore.type=PKCS12"
    echo "ssl.clientAuth=$auth"
    echo "authProvider.1=org.apache.zookeeper.server.auth.SASLAuthenticationProvider"
    echo "authProvider.x509=org.apache.zookeeper.server.auth.X509AuthenticationProvider"
    # The JAAS file names the server's DIGEST-MD5 users.
    cat >"$dir/jaas.conf" <<JAAS
Server {
    org.apache.zookeeper.server.auth.DigestLoginModule required
    user_$SASL_USER="$SASL_PASSWORD";
};
JAAS
}

# zookeeper.jar's manifest leaves out netty's codec and resolver, which the
# Netty factory's TLS handler needs.
secure_classpath() {
    if is_secure_member "$1"; then
        printf ':%s' "$JAR_DIR/netty-codec.jar" "$JAR_DIR/netty-resolver.jar"
    fi
}

secure_jvm_options() {
    if is_secure_member "$1"; then
        echo "-Djava.security.auth.login.config=$(member_dir "$1")/jaas.conf"
    fi
    if [[ $1 == krb ]]; then
        echo "-Djava.security.krb5.conf=$KDC_DIR/krb5.conf"
    fi
}

# The kerberos member: SASL with the service principal zookeeper/localhost
# from the local KDC's keytab.
kerberos_config_lines() {
    local dir=$1
    echo "clientPortAddress=$HOST"
    echo "clientPort=$KRB_PORT"
    echo "authProvider.1=org.apache.zookeeper.server.auth.SASLAuthenticationProvider"
    cat >"$dir/jaas.conf" <<JAAS
Server {
    com.sun.security.auth.module.Krb5LoginModule required
    useKeyTab=true
    keyTab="$KDC_DIR/zookeeper.keytab"
    storeKey=true
    useTicketCache=false
    principal="zookeeper/localhost@ZKRS.TEST";
};
JAAS
}

cmd_kerberos_env() {
    "$SCRIPT_DIR/secure/kdc.sh" env "$KDC_DIR"
    echo "export ZK_KRB_CONNECT=localhost:$KRB_PORT"
}

cmd_secure_env() {
    cat <<ENV
export ZK_SECURE_PLAIN=$HOST:$TLS_PORT
export ZK_SECURE_TLS=$HOST:$TLS_SECURE_PORT
export ZK_SECURE_MTLS=$HOST:$MTLS_SECURE_PORT
export ZK_SECURE_MTLS_PLAIN=$HOST:$MTLS_PORT
export ZK_SECURE_CA=$PKI_DIR/ca.pem
export ZK_SECURE_CLIENT_CERT=$PKI_DIR/client.pem
export ZK_SECURE_CLIENT_KEY=$PKI_DIR/client.key
export ZK_SECURE_CLIENT_DN='$CLIENT_DN'
export ZK_SECURE_EXPIRED_CERT=$PKI_DIR/expired.pem
export ZK_SECURE_EXPIRED_KEY=$PKI_DIR/expired.key
export ZK_SECURE_SASL_USER=$SASL_USER
export ZK_SECURE_SASL_PASSWORD=$SASL_PASSWORD
ENV
}

# ---------------------------------------------------------------------------
# Commands

cmd_start() {
    local name=${1:-} m
    [[ $name == standalone || $name == ensemble || $name == secure || $name == kerberos ]] ||
        die "usage: start standalone|ensemble|secure|kerberos"
    require_installed
    cmd_stop "$name" 2>/dev/null
    if [[ $name == standalone ]]; then
        rm -rf "$STATE_DIR/standalone"
    elif [[ $name == secure ]]; then
        rm -rf "$STATE_DIR"/secure/{tls,mtls}
        make_pki
    elif [[ $name == kerberos ]]; then
        rm -rf "$STATE_DIR/secure/krb"
        ZK_REF_KDC_PORT=$KDC_PORT "$SCRIPT_DIR/secure/kdc.sh" start "$KDC_DIR" "$KDC_PORT" >&2
    else
        rm -rf "$STATE_DIR/ensemble"
    fi
    mkdir -p "$STATE_DIR"
    write_log4j
    for m in $(members_of "$name"); do write_config "$m"; done
    for m in $(members_of "$name"); do launch_member "$m"; done
    wait_ready "$name"
    connect_string "$name"
}

cmd_stop() {
    local name=${1:-all} m pid
    for m in $(members_of "$name"); do signal_member "$m" TERM; done
    if [[ $name == all || $name == kerberos ]] && [[ -d $KDC_DIR ]]; then
        "$SCRIPT_DIR/secure/kdc.sh" stop "$KDC_DIR"
    fi
    if [[ $name == all ]]; then
        for pid in $(stray_pids); do
            log "stopping stray ZooKeeper process $pid (started from $STATE_DIR)"
            kill -KILL "$pid" 2>/dev/null || true
        done
    fi
}

# Start a member beyond the configured ensemble (reconfig mode): it syncs
# with the leader as a non-voting learner until `reconfig -add` makes it a
# member. Returns once it serves.
cmd_join() {
    local m=${1:-} deadline mode
    [[ $RECONFIG == yes ]] || die "join needs ZK_REF_RECONFIG=yes"
    is_uint "$m" && ((m > ENSEMBLE_SIZE + OBSERVERS && m <= 9)) ||
        die "usage: join <member $((ENSEMBLE_SIZE + OBSERVERS + 1))..9>"
    require_installed
    signal_member "$m" KILL 2>/dev/null || true
    rm -rf "$STATE_DIR/ensemble/member$m"
    write_config "$m"
    launch_member "$m"
    deadline=$((SECONDS + READY_TIMEOUT))
    while mode=$(member_mode "$m"); [[ $mode != follower && $mode != observer && $mode != leader ]]; do
        ((SECONDS < deadline)) || die "joined member $m not serving after ${READY_TIMEOUT}s (mode '${mode}')"
        sleep 0.1
    done
    log "member $m joined as $mode"
}

cmd_start_member() {
    local m=${1:-}
    [[ -n $m ]] || die "usage: start-member <member>"
    check_member "$m"
    require_installed
    launch_member "$m"
    wait_ready "$(name_of "$m")"
}

cmd_restart() {
    local m=${1:-}
    [[ -n $m ]] || die "usage: restart <member>"
    check_member "$m"
    signal_member "$m" KILL
    cmd_start_member "$m"
}

cmd_kill_all_members() {
    local m
    for m in $(members_of ensemble); do signal_member "$m" KILL; done
}

cmd_start_all_members() {
    local m
    require_installed
    for m in $(members_of ensemble); do
        [[ -r $(member_dir "$m")/zoo.cfg ]] || die "the ensemble was never started; run: start ensemble"
    done
    for m in $(members_of ensemble); do launch_member "$m"; done
    wait_ready ensemble
}

cmd_wait_ready() {
    local name=${1:-} n
    if [[ -n $name ]]; then
        wait_ready "$name"
        return
    fi
    n=0
    for name in standalone ensemble secure kerberos; do
        if [[ -n $(up_members "$name") ]]; then
            wait_ready "$name"
            n=$((n + 1))
        fi
    done
    ((n > 0)) || die "nothing is running (start with: scripts/zk-reference.sh start standalone|ensemble)"
}

cmd_status() {
    local m pid state mode
    printf '%-12s %-8s %-8s %-17s %s\n' MEMBER STATE PID ADDRESS MODE
    for m in $(all_members); do
        [[ -d $(member_dir "$m") ]] || continue
        pid=$(member_pid "$m")
        if [[ -n $pid ]]; then
            state=running
            mode=$(member_mode "$m")
        else
            state=down
            mode=-
        fi
        printf '%-12s %-8s %-8s %-17s %s\n' "$m" "$state" "${pid:--}" \
            "$HOST:$(client_port "$m")" "${mode:-not serving}"
    done
}

cmd_leader() {
    local m
    for m in $(members_of ensemble); do
        if [[ -n $(member_pid "$m") && $(member_mode "$m") == leader ]]; then
            echo "$m"
            return 0
        fi
    done
    die "the ensemble has no leader now"
}

cmd_mode() {
    local m=${1:-} mode
    [[ -n $m ]] || die "usage: mode <member>"
    check_member "$m"
    if [[ -z $(member_pid "$m") ]]; then
        echo down
        return 0
    fi
    mode=$(member_mode "$m")
    echo "${mode:-not-serving}"
}

# Print the exact bytes of the answer (no newline added or removed).
cmd_4lw() {
    local m=${1:-} word=${2:-} tmp
    [[ -n $m && -n $word ]] || die "usage: 4lw <member> <word>"
    check_member "$m"
    tmp=$(mktemp)
    # shellcheck disable=SC2016 # expanded by the inner bash
    timeout "${ZK_REF_4LW_TIMEOUT:-5}" bash -c \
        'exec 3<>"/dev/tcp/$0/$1" && printf "%s" "$2" >&3 && cat <&3' \
        "$HOST" "$(client_port "$m")" "$word" >"$tmp" 2>/dev/null || true
    if [[ ! -s $tmp ]]; then
        rm -f "$tmp"
        die "no answer from $(member_label "$m") to '$word'"
    fi
    cat "$tmp"
    rm -f "$tmp"
}

cmd_cli() {
    local target=${1:-}
    [[ -n $target ]] || die "usage: cli <name|member|host:port[,...]> [zkCli arguments]"
    shift
    require_installed
    local server
    # A literal connect string (any server, e.g. zk-testserver) or one of ours.
    if [[ $target == *:* ]]; then server=$target; else server=$(connect_string "$target"); fi
    # slf4j-nop: the CLI prints its own output; no logging noise
    "$JAVA" -cp "$CONF_DIR:$(zk_jars):$JAR_DIR/slf4j-nop.jar" org.apache.zookeeper.ZooKeeperMain \
        -server "$server" -waitforconnection -timeout "${ZK_REF_CLI_TIMEOUT:-10000}" "$@"
}

cmd_pids() {
    local m pid
    for m in $(all_members); do
        pid=$(member_pid "$m")
        if [[ -n $pid ]]; then echo "$pid"; fi
    done
}

main() {
    local cmd=${1:-help}
    shift || true
    validate_settings
    case "$cmd" in
    install) cmd_install "$@" ;;
    version)
        require_installed
        zk_version
        ;;
    start) cmd_start "$@" ;;
    stop) cmd_stop "$@" ;;
    kill)
        [[ -n ${1:-} ]] || die "usage: kill <member>"
        check_member "$1"
        signal_member "$1" KILL
        ;;
    stop-member)
        [[ -n ${1:-} ]] || die "usage: stop-member <member>"
        check_member "$1"
        signal_member "$1" TERM
        ;;
    start-member) cmd_start_member "$@" ;;
    join) cmd_join "$@" ;;
    restart) cmd_restart "$@" ;;
    kill-all-members) cmd_kill_all_members ;;
    start-all-members) cmd_start_all_members ;;
    wait-ready) cmd_wait_ready "$@" ;;
    status) cmd_status ;;
    connect-string)
        [[ -n ${1:-} ]] || die "usage: connect-string <name|member>"
        connect_string "$1"
        ;;
    leader) cmd_leader ;;
    mode) cmd_mode "$@" ;;
    4lw) cmd_4lw "$@" ;;
    cli) cmd_cli "$@" ;;
    logs) print_logs "${1:-all}" ;;
    pids) cmd_pids ;;
    super-auth) echo "super:$SUPER_PASSWORD" ;;
    secure-env) cmd_secure_env ;;
    kerberos-env) cmd_kerberos_env ;;
    help | -h | --help) usage ;;
    *)
        usage >&2
        die "unknown command '$cmd'"
        ;;
    esac
}

main "$@"
