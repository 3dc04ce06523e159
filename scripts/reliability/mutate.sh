#!/usr/bin/env bash
# Mutation check of the chaos run: does it notice a deliberately broken
# promise? Copies the working tree to a scratch directory, replaces the first
# occurrence of OLD with NEW in FILE there, builds the chaos example and runs
# SEEDS simulated seeds. A mutation that breaks a promise should end with
# violations > 0; the figures of past checks are in RELIABILITY.md.
#
#   scripts/reliability/mutate.sh NAME FILE OLD NEW [SEEDS] [chaos args...]
#
# Output: target/mutants/NAME.txt; the summary line is printed.
set -euo pipefail
name=$1 file=$2 old=$3 new=$4 seeds=${5:-300}
shift 4; shift || true
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
work=${MUTANT_DIR:-/tmp/zk-mutant}
out=$repo/target/mutants
mkdir -p "$out"
rm -rf "$work" && mkdir -p "$work"
(cd "$repo" && tar --exclude=./target --exclude=./.git --exclude='./*/fuzz' -cf - .) | (cd "$work" && tar -xf -)
python3 "$repo/scripts/reliability/replace-once.py" "$work/$file" "$old" "$new"
CARGO_TARGET_DIR=$repo/target/mutants/target cargo build -q --release \
    --manifest-path "$work/Cargo.toml" -p zk-testserver --example chaos
"$repo/target/mutants/target/release/examples/chaos" --sim --seeds "$seeds" "$@" >"$out/$name.txt" 2>&1 || true
echo "$name: $(tail -1 "$out/$name.txt")"
grep -m1 -A2 '^VIOLATION' "$out/$name.txt" | cut -c1-240 || true
