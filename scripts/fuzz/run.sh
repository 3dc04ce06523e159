#!/usr/bin/env bash
# Runs every cargo-fuzz target of the workspace for a while.
#
#   scripts/fuzz/run.sh [seconds-per-target] [target ...]
#
# Needs cargo-fuzz (`cargo install cargo-fuzz`). The stable toolchain builds
# the sanitizer-instrumented targets with RUSTC_BOOTSTRAP=1. Each target
# starts from its committed seed corpus (*/fuzz/seeds/<target>, seeded from
# real ZooKeeper frames by seed-corpus.py) plus a working corpus under
# */fuzz/corpus/<target> that is not committed. An input that runs longer
# than 10 s counts as a hang. Crashes and hangs land in
# */fuzz/artifacts/<target>/ and make the script exit non-zero.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../.."
seconds=${1:-60}
shift || true
export RUSTC_BOOTSTRAP=1

command -v cargo-fuzz >/dev/null 2>&1 || { echo "cargo-fuzz missing: cargo install cargo-fuzz" >&2; exit 2; }

status=0
for crate in zk-client zk-testserver; do
    [[ -f $crate/fuzz/Cargo.toml ]] || continue
    mapfile -t targets < <(cd "$crate" && cargo fuzz list)
    for target in "${targets[@]}"; do
        if (($# > 0)) && [[ " $* " != *" $target "* ]]; then continue; fi
        mkdir -p "$crate/fuzz/corpus/$target"
        echo "== $crate/$target for ${seconds}s"
        corpora=("fuzz/corpus/$target")
        [[ -d $crate/fuzz/seeds/$target ]] && corpora+=("fuzz/seeds/$target")
        if ! (cd "$crate" && cargo fuzz run "$target" "${corpora[@]}" -- \
            -max_total_time="$seconds" -max_len=65536 -timeout=10 -print_final_stats=1 2>&1 |
            grep -E '^(Done|stat::number_of_executed_units|stat::peak_rss_mb)|SUMMARY|panicked|ERROR'); then
            echo "!! $crate/$target failed (see $crate/fuzz/artifacts/$target)"
            status=1
        fi
    done
done
exit "$status"
