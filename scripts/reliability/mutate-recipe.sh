#!/usr/bin/env bash
# Mutation check of the recipes' chaos test: is a broken recipe caught?
# Breaks zk_recipes::Lock so that a contender holds the lock without waiting
# for the node ahead of it (every contender "holds" at once), runs
# `cargo test -p zk-recipes --test chaos`, and expects it to FAIL; the file is
# restored on exit whatever happens. Exit 0 when the mutant is caught, 1 when
# it survives, 2 if the test failed for another reason. Takes about a minute warm (rebuilding zk-recipes' tests and
# running two seeds); not part of CI. Result of the last run: RELIABILITY.md.
#
#   scripts/reliability/mutate-recipe.sh
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
file=$repo/zk-recipes/src/lock_core.rs
old='Kind::Exclusive => Decision::Wait(sorted[index - 1].clone()),'
new='Kind::Exclusive => Decision::Held,'
backup=$(mktemp)
cp "$file" "$backup"
trap 'cp "$backup" "$file"; rm -f "$backup"' EXIT
python3 - "$file" "$old" "$new" <<'PY'
import sys
path, old, new = sys.argv[1:4]
text = open(path).read()
if old not in text:
    sys.exit(f"mutate-recipe: pattern not found in {path}")
open(path, "w").write(text.replace(old, new, 1))
PY
log=$(mktemp)
if (cd "$repo" && cargo test -q -p zk-recipes --test chaos -- --test-threads=1) >"$log" 2>&1; then
    echo "mutant SURVIVED: the recipes' chaos test passed with a lock that never waits"
    tail -20 "$log"
    rm -f "$log"
    exit 1
fi
if ! grep -q 'two holders at once' "$log"; then
    echo "the test failed, but not on the lock's promise (build error or another failure):"
    tail -30 "$log"
    rm -f "$log"
    exit 2
fi
echo "mutant caught: the recipes' chaos test failed with a lock that never waits"
grep -m1 -A6 'panicked' "$log" | cut -c1-240 || true
rm -f "$log"
