# Helpers shared by the benchmark scripts (sourced, not run): starting and
# stopping a zk-testserver process, four-letter words, picking a follower,
# resident memory of a process, CPU time of finished children.
#
# The caller sets PROG (its name, the prefix of its messages), REPO_ROOT (and
# TIMES_FILE for children_cpu_ms); LOG_CLOCK=yes puts the UTC time of day in
# its log lines.
# shellcheck shell=bash disable=SC2034 # TS_* are read by the callers

# die MESSAGE...: prints "PROG: MESSAGE" on stderr and exits 1.
die() { echo "$PROG: $*" >&2; exit 1; }

# log MESSAGE...: prints "PROG: MESSAGE" on stderr ("PROG: HH:MM:SS MESSAGE"
# with LOG_CLOCK=yes).
log() {
    if [[ ${LOG_CLOCK:-no} == yes ]]; then
        echo "$PROG: $(date -u +%H:%M:%S) $*" >&2
    else
        echo "$PROG: $*" >&2
    fi
}

TS_PID=""      # the zk-testserver process started by ts_start
TS_CONNECT=""  # its connect string (first stdout line)

# ts_start MEMBERS PORT LOG [extra zk-testserver arguments...]
# Builds (release; not when TS_BUILT=yes, for callers that time the start)
# and starts zk-testserver with MEMBERS members on client ports PORT.., waits
# for its connect string, sets TS_PID and TS_CONNECT. Its stderr and the rest
# of its stdout go to LOG.
ts_start() {
    local members=$1 port=$2 logfile=$3 fifo fd
    shift 3
    if [[ ${TS_BUILT:-no} != yes ]]; then
        (cd "$REPO_ROOT" && cargo build --release -q -p zk-testserver --bin zk-testserver) ||
            die "zk-testserver does not build"
    fi
    fifo=$(mktemp -u "${TMPDIR:-/tmp}/zk-testserver.XXXXXX.fifo")
    mkfifo "$fifo"
    # As the reference ZooKeeper runs (scripts/zk-reference.sh): no cap on
    # connections per address (every client is on 127.0.0.1), every
    # four-letter word answered.
    "$REPO_ROOT/target/release/zk-testserver" --members "$members" --port "$port" \
        --max-client-cnxns 0 --4lw-whitelist '*' "$@" \
        >"$fifo" 2>"$logfile" &
    TS_PID=$!
    exec {fd}<"$fifo"
    rm -f "$fifo"
    if ! read -r -t 60 TS_CONNECT <&"$fd"; then
        die "zk-testserver exited or printed no connect string within 60 s (log: $logfile)"
    fi
    # Keep draining its stdout so that it never blocks on a full pipe.
    cat <&"$fd" >>"$logfile" &
    exec {fd}<&-
}

# ts_stop: SIGTERM the zk-testserver started by ts_start and wait for it.
ts_stop() {
    if [[ -n $TS_PID ]]; then
        kill "$TS_PID" 2>/dev/null || true
        wait "$TS_PID" 2>/dev/null || true
        TS_PID=""
    fi
}

# four_letter HOST:PORT WORD: prints the server's answer (fails if none).
four_letter() {
    local addr=$1 word=$2 out
    # shellcheck disable=SC2016 # expanded by the inner bash
    out=$(timeout 2 bash -c 'exec 3<>"/dev/tcp/$0/$1" && printf "%s" "$2" >&3 && cat <&3' \
        "${addr%:*}" "${addr##*:}" "$word" 2>/dev/null) || true
    [[ -n $out ]] || return 1
    printf '%s\n' "$out"
}

# server_mode HOST:PORT: standalone, leader or follower (srvr's Mode line).
server_mode() {
    four_letter "$1" srvr | sed -n 's/^Mode: //p'
}

# follower_of CONNECT: prints the first member of a connect string whose mode
# is follower, waiting up to 30 s for the ensemble to settle.
follower_of() {
    local connect=$1 addr tries
    for tries in $(seq 60); do
        for addr in ${connect//,/ }; do
            if [[ $(server_mode "$addr" || true) == follower ]]; then
                printf '%s\n' "$addr"
                return 0
            fi
        done
        [[ $tries -lt 60 ]] && sleep 0.5
    done
    return 1
}

# rss_kib PID [FIELD]: a memory figure of a process from /proc/PID/status in
# KiB (FIELD VmRSS by default; VmHWM is the peak).
rss_kib() {
    awk -v f="${2:-VmRSS}:" '$1 == f { print $2 }' "/proc/$1/status"
}

# Sets CHILDREN_CPU_MS to the user + system milliseconds of this shell's
# finished children, from bash's `times` (run in this shell: in a $(...)
# subshell it would report zero).
CHILDREN_CPU_MS=0
children_cpu_ms() {
    local line re='^([0-9]+)m([0-9]+)\.([0-9]{3})s ([0-9]+)m([0-9]+)\.([0-9]{3})s$'
    times >"$TIMES_FILE"
    line=$(sed -n 2p "$TIMES_FILE")
    [[ $line =~ $re ]] || die "cannot parse bash times output '$line'"
    local r=("${BASH_REMATCH[@]}")
    CHILDREN_CPU_MS=$(( (10#${r[1]} * 60 + 10#${r[2]}) * 1000 + 10#${r[3]}
        + (10#${r[4]} * 60 + 10#${r[5]}) * 1000 + 10#${r[6]} ))
}
