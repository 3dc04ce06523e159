#!/usr/bin/env bash
# Mutation check of the recipes' chaos test: is a broken recipe caught?
# Breaks one recipe in place, runs `cargo test -p zk-recipes --test chaos`
# and expects it to FAIL on that recipe's promise; the file is restored on
# exit whatever happens. About 15-60 s warm each (rebuilding zk-recipes'
# tests, two seeds); not part of CI. Results of the last run: RELIABILITY.md.
#
#   scripts/reliability/mutate-recipe.sh [lock|latch|semaphore|queue ...]   (default: all four)
#
# Exit 0 when every mutant is caught, 1 when one survives, 2 when the test
# failed for another reason (build error, another checker).
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

# name -> file | old | new | text the failure must contain
mutant() {
    case $1 in
    lock) # a contender holds without waiting for the node ahead
        echo "zk-recipes/src/lock_core.rs|Kind::Exclusive => Decision::Wait(sorted[index - 1].clone()),|Kind::Exclusive => Decision::Held,|[lock] two holders at once" ;;
    latch) # the first two participants both lead
        echo "zk-recipes/src/leader_latch.rs|    if index == 0 {|    if index <= 1 {|[leader latch]" ;;
    semaphore) # one lease more than the semaphore has
        echo "zk-recipes/src/semaphore.rs|children.len() <= self.max_leases|children.len() <= self.max_leases + 1|leases held at once" ;;
    queue) # a take that lost the race for an entry delivers it anyway
        echo "zk-recipes/src/queue.rs|Err(e) if e.is_no_node() => Ok(Claim::Gone),|Err(e) if e.is_no_node() => Ok(Claim::Ours),|[queue]" ;;
    *) echo "unknown mutant $1 (lock, latch, semaphore, queue)" >&2; exit 2 ;;
    esac
}

check_one() {
    local name=$1 spec file old new expect backup log
    spec=$(mutant "$name")
    IFS='|' read -r file old new expect <<<"$spec"
    file=$repo/$file
    backup=$(mktemp)
    log=$(mktemp)
    cp "$file" "$backup"
    trap 'cp "'"$backup"'" "'"$file"'"' EXIT
    python3 "$repo/scripts/reliability/replace-once.py" "$file" "$old" "$new"
    local rc=0
    if (cd "$repo" && cargo test -q -p zk-recipes --test chaos) >"$log" 2>&1; then
        echo "$name: mutant SURVIVED (the recipes' chaos test passed)"
        rc=1
    elif ! grep -qF "$expect" "$log"; then
        echo "$name: the test failed, but not with \"$expect\":"
        tail -30 "$log"
        rc=2
    else
        echo "$name: mutant caught"
        grep -m1 -A4 'panicked' "$log" | cut -c1-200 || true
    fi
    cp "$backup" "$file"
    trap - EXIT
    rm -f "$backup" "$log"
    return $rc
}

status=0
for name in "${@:-lock latch semaphore queue}"; do
    for n in $name; do
        check_one "$n" || status=$?
    done
done
exit $status
