#!/usr/bin/env bash
# Two zk-testserver binaries (before and after a change) measured in one run,
# paired: each round runs every part against a fresh server of each binary,
# in alternating order (round 1 before first, round 2 after first, ...), with
# the same client tools for both. Measures only; prints nothing it did not
# measure.
#
#   scripts/bench/server_pair.sh --before BIN --after BIN [--rounds 3]
#       [--port 23191] [--parts "children fanout sessions"]
#       [--children-steps 10000,100000,200000] [--fanout-steps 100,1000]
#       [--session-steps 1,1000] [--scale BIN] [--footprint BIN] [--out DIR]
#       [--children-timeout SECS]
#
# Parts (client tools from examples/, one process each):
#   children  zk-scale children: fill N children under one node (256 creates
#             in flight), then 5 getChildren; per step p50/min ms and fill s
#   fanout    zk-scale fanout: N watcher sessions, one set, time to the last
#             event; per step set/last p50 ms (5 rounds)
#   sessions  zk-footprint --mode sessions --pause: the server's VmRSS at
#             each step of idle sessions (10 s session timeout)
# Every part also records the server's CPU time (user+sys ms) when it ends.
#
# Output: DIR/results.tsv (part variant round key value load1) and the
# tools' own output under DIR/runs/.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$SCRIPT_DIR/../.." && pwd)
BEFORE=""
AFTER=""
ROUNDS=3
PORT=23191
PARTS="children fanout sessions"
CHILDREN_STEPS=10000,100000,200000
CHILDREN_TIMEOUT=600
FANOUT_STEPS=100,1000
SESSION_STEPS=1,1000
SCALE=$REPO_ROOT/target/release/zk-scale
FOOTPRINT=$REPO_ROOT/target/release/zk-footprint
OUT_DIR=""

PROG=server_pair
LOG_CLOCK=yes
# shellcheck source=scripts/bench/lib.sh
source "$SCRIPT_DIR/lib.sh"

while (($#)); do
    case $1 in
        --before) BEFORE=${2:?}; shift 2 ;;
        --after) AFTER=${2:?}; shift 2 ;;
        --rounds) ROUNDS=${2:?}; shift 2 ;;
        --port) PORT=${2:?}; shift 2 ;;
        --parts) PARTS=${2:?}; shift 2 ;;
        --children-steps) CHILDREN_STEPS=${2:?}; shift 2 ;;
        --children-timeout) CHILDREN_TIMEOUT=${2:?}; shift 2 ;;
        --fanout-steps) FANOUT_STEPS=${2:?}; shift 2 ;;
        --session-steps) SESSION_STEPS=${2:?}; shift 2 ;;
        --scale) SCALE=${2:?}; shift 2 ;;
        --footprint) FOOTPRINT=${2:?}; shift 2 ;;
        --out) OUT_DIR=${2:?}; shift 2 ;;
        -h | --help)
            sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
            exit 0
            ;;
        *) die "unknown argument '$1' (see --help)" ;;
    esac
done
[[ -x $BEFORE && -x $AFTER ]] || die "--before and --after must name executables"
[[ -x $SCALE && -x $FOOTPRINT ]] || die "zk-scale / zk-footprint not found (--scale, --footprint)"
[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || die "--rounds must be a positive integer"
OUT_DIR=${OUT_DIR:-$REPO_ROOT/target/bench/server-pair-$(date -u +%Y%m%dT%H%M%SZ)}
mkdir -p "$OUT_DIR/runs"
RESULTS=$OUT_DIR/results.tsv
printf 'part\tvariant\tround\tkey\tvalue\tload1\n' >"$RESULTS"

load1() { cut -d' ' -f1 /proc/loadavg; }
kv() { tr ' ' '\n' <<<"$2" | sed -n "s/^$1=//p"; }
# User + system CPU of a live process, in ms.
cpu_ms() {
    awk -v hz="$(getconf CLK_TCK)" '{ printf "%d", ($14 + $15) * 1000 / hz }' "/proc/$1/stat"
}
row() { printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$PART" "$VARIANT" "$ROUND" "$1" "$2" "$(load1)" >>"$RESULTS"; }

TS_PID=""
CONNECT=""
stop_server() {
    if [[ -n $TS_PID ]]; then
        kill "$TS_PID" 2>/dev/null || true
        wait "$TS_PID" 2>/dev/null || true
        TS_PID=""
    fi
}
trap stop_server EXIT
trap 'exit 130' INT TERM

# start_server BIN: one in-memory member on $PORT; sets TS_PID and CONNECT.
start_server() {
    local bin=$1 fifo fd logfile=$OUT_DIR/runs/server-$PART-$VARIANT-$ROUND.log
    fifo=$(mktemp -u "${TMPDIR:-/tmp}/server-pair.XXXXXX.fifo")
    mkfifo "$fifo"
    "$bin" --members 1 --port "$PORT" --max-client-cnxns 0 --4lw-whitelist '*' \
        >"$fifo" 2>"$logfile" &
    TS_PID=$!
    exec {fd}<"$fifo"
    rm -f "$fifo"
    read -r -t 60 CONNECT <&"$fd" || die "$bin printed no connect string (log: $logfile)"
    cat <&"$fd" >>"$logfile" &
    exec {fd}<&-
}

part_children() {
    local out=$OUT_DIR/runs/children-$VARIANT-$ROUND.out line n
    timeout "$CHILDREN_TIMEOUT" "$SCALE" children --connect "$CONNECT" --steps "$CHILDREN_STEPS" \
        --rounds 5 >"$out" 2>"${out%.out}.err" || log "children ($VARIANT) ended early: $(tail -1 "${out%.out}.err")"
    while read -r line; do
        n=$(kv count "$line")
        row "p50_ms@$n" "$(kv p50_ms "$line")"
        row "min_ms@$n" "$(kv min_ms "$line")"
        row "fill_s@$n" "$(kv fill_secs "$line")"
    done <"$out"
}

part_fanout() {
    local out=$OUT_DIR/runs/fanout-$VARIANT-$ROUND.out line n
    "$SCALE" fanout --connect "$CONNECT" --steps "$FANOUT_STEPS" --rounds 5 \
        >"$out" 2>"${out%.out}.err" || log "fanout ($VARIANT) failed: $(tail -1 "${out%.out}.err")"
    while read -r line; do
        n=$(kv watchers "$line")
        row "set_p50_ms@$n" "$(kv set_p50_ms "$line")"
        row "last_p50_ms@$n" "$(kv last_p50_ms "$line")"
        row "last_min_ms@$n" "$(kv last_min_ms "$line")"
    done <"$out"
}

part_sessions() {
    local out=$OUT_DIR/runs/sessions-$VARIANT-$ROUND.out line from to step rss count
    local first_rss="" first_count=0
    row "rss_kib@0" "$(rss_kib "$TS_PID")"
    coproc FP { "$FOOTPRINT" --connect "$CONNECT" --mode sessions --steps "$SESSION_STEPS" \
        --session-timeout-ms 10000 --pause 2>"${out%.out}.err"; }
    local fp_pid=$FP_PID
    exec {from}<&"${FP[0]}" {to}>&"${FP[1]}"
    while read -r -u "$from" line; do
        echo "$line" >>"$out"
        step=$(kv step "$line")
        [[ $step == final ]] && continue
        count=$(kv count "$line")
        if ((count == 0)); then
            echo >&"$to" 2>/dev/null || true
            continue
        fi
        sleep 1
        rss=$(rss_kib "$TS_PID")
        row "rss_kib@$count" "$rss"
        if [[ -z $first_rss ]]; then
            first_rss=$rss first_count=$count
        elif ((count > first_count)); then
            row kib_per_session "$(awk -v a="$first_rss" -v b="$rss" -v n=$((count - first_count)) \
                'BEGIN { printf "%.2f", (b - a) / n }')"
        fi
        echo >&"$to" 2>/dev/null || true
    done
    exec {from}<&- {to}>&-
    wait "$fp_pid" || log "zk-footprint ($VARIANT) failed: $(tail -1 "${out%.out}.err")"
}

{
    echo "date: $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
    echo "commit: $(git -C "$REPO_ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')"
    echo "before: $BEFORE ($(sha256sum "$BEFORE" | cut -c1-12))"
    echo "after: $AFTER ($(sha256sum "$AFTER" | cut -c1-12))"
    echo "cpu: $(nproc) x $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
    echo "parts: $PARTS; rounds: $ROUNDS; children: $CHILDREN_STEPS; fanout: $FANOUT_STEPS;" \
        "sessions: $SESSION_STEPS"
    echo "uptime: $(uptime)"
} >"$OUT_DIR/machine.txt"

for ((ROUND = 1; ROUND <= ROUNDS; ROUND++)); do
    order="before after"
    ((ROUND % 2 == 0)) && order="after before"
    for PART in $PARTS; do
        for VARIANT in $order; do
            bin=$BEFORE
            [[ $VARIANT == after ]] && bin=$AFTER
            start_server "$bin"
            log "round $ROUND $PART $VARIANT (load $(load1))"
            "part_$PART"
            row cpu_ms "$(cpu_ms "$TS_PID")"
            stop_server
        done
    done
done
echo "uptime at the end: $(uptime)" >>"$OUT_DIR/machine.txt"

# Medians over the rounds, and after / before.
awk -F'\t' 'NR > 1 { k = $1 "\t" $4; v[k, $2, ++n[k, $2]] = $5; keys[k] = 1 }
function median(k, var,   m, i, j, t, a) {
    m = n[k, var]
    if (!m) return ""
    for (i = 1; i <= m; i++) a[i] = v[k, var, i] + 0
    for (i = 1; i <= m; i++) for (j = i + 1; j <= m; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
    return (m % 2) ? a[(m + 1) / 2] : (a[m / 2] + a[m / 2 + 1]) / 2
}
END {
    printf "part\tkey\tbefore\tafter\tafter/before\n"
    for (k in keys) {
        b = median(k, "before"); a = median(k, "after")
        r = (b != "" && a != "" && b + 0 != 0) ? sprintf("%.3f", a / b) : "-"
        printf "%s\t%s\t%s\t%s\n", k, b, a, r
    }
}' "$RESULTS" | sort >"$OUT_DIR/medians.tsv"
column -t -s $'\t' "$OUT_DIR/medians.tsv"
echo "results: $OUT_DIR" >&2
