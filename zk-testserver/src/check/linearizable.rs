//! Linearizability of versioned registers: a Wing–Gong search with Lowe's
//! memoization, as Knossos and Porcupine do it, for ZooKeeper's model.
//!
//! # Model
//!
//! A register is a znode holding a value; its state is (value, version),
//! starting at (0, 0). Writes are `setData`:
//!
//! - `Write { value }` (version -1) returning version `v` is legal in state
//!   (_, v - 1) and leads to (value, v);
//! - `Cas { expect, value }` returning version `expect + 1` is legal in state
//!   (_, expect); failing with `BadVersion` is legal in any other state and
//!   changes nothing;
//! - `FinalRead` (a read once the ensemble is quiescent) returning (x, v) is
//!   legal in state (x, v).
//!
//! Ordinary ZooKeeper reads are not linearizable (a follower answers from
//! its own, possibly stale, copy), so they are left to
//! [`super::sessions`]; only writes, CAS and final reads are searched.
//!
//! An operation with an unknown outcome (connection loss, timeout) may take
//! effect at any point after its invocation, or never: it has no return
//! event, and the search succeeds once every operation with a known outcome
//! is placed.
//!
//! # Search
//!
//! Events (invocations and returns) are kept in a doubly linked list in time
//! order (an invocation before a return at the same instant, so ties count
//! as concurrent). The search walks the list: at an invocation it tries to
//! apply the operation; if that is legal and the pair (set of placed
//! operations, state) is new, it removes the operation's events and starts
//! again from the head; at a return whose operation was not placed yet it
//! backtracks. The cache of visited pairs keeps the search polynomial in
//! practice; a step budget bounds it, and a search that runs out is
//! reported as inconclusive, not as a violation.

use super::history::{Call, History, HistoryOp, Ret};
use super::violation::Violation;
use std::collections::{BTreeMap, HashSet};

/// Steps one key's search may take before it is called inconclusive.
pub const DEFAULT_BUDGET: u64 = 5_000_000;

const NAME: &str = "linearizable";
const NONE: usize = usize::MAX;

/// What the search did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LinStats {
    /// Registers checked.
    pub keys: usize,
    /// Operations searched (writes, CAS, final reads).
    pub ops: usize,
    /// Search steps over all keys.
    pub steps: u64,
    /// Keys whose search ran out of budget.
    pub inconclusive: Vec<String>,
}

/// A register's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct State {
    value: u64,
    version: i32,
}

/// The operation applied to `s`, if legal.
fn apply(s: State, op: &HistoryOp) -> Option<State> {
    match (&op.call, &op.ret) {
        (Call::Write { value, .. }, Ret::Register { version, .. }) => {
            (s.version.checked_add(1) == Some(*version)).then_some(State {
                value: *value,
                version: *version,
            })
        }
        (Call::Write { value, .. }, _) => Some(State {
            value: *value,
            version: s.version.saturating_add(1),
        }),
        (Call::Cas { expect, value, .. }, Ret::Register { version, .. }) => {
            (s.version == *expect && expect.checked_add(1) == Some(*version)).then_some(State {
                value: *value,
                version: *version,
            })
        }
        (Call::Cas { expect, .. }, Ret::Fail(_)) => (s.version != *expect).then_some(s),
        (Call::Cas { expect, value, .. }, _) => Some(if s.version == *expect {
            State {
                value: *value,
                version: expect.saturating_add(1),
            }
        } else {
            s
        }),
        (Call::FinalRead { .. }, Ret::Register { value, version }) => {
            (s.value == *value && s.version == *version).then_some(s)
        }
        _ => Some(s),
    }
}

/// The register an operation takes part in the search of, if any.
fn searched_key(op: &HistoryOp) -> Option<&str> {
    match (&op.call, &op.ret) {
        (Call::Write { key, .. }, Ret::Register { .. } | Ret::Unknown)
        | (Call::Cas { key, .. }, Ret::Register { .. } | Ret::Unknown)
        | (Call::FinalRead { key }, Ret::Register { .. }) => Some(key),
        (Call::Cas { key, .. }, r) if r.failed_with("BadVersion") => Some(key),
        _ => None,
    }
}

/// Checks every register of `history` (initial state (0, 0)).
pub fn check(history: &History) -> Result<LinStats, Violation> {
    check_with_budget(history, DEFAULT_BUDGET)
}

/// [`check`] with a step budget per register.
pub fn check_with_budget(history: &History, budget: u64) -> Result<LinStats, Violation> {
    let mut by_key: BTreeMap<&str, Vec<&HistoryOp>> = BTreeMap::new();
    for op in history.ops() {
        if let Some(key) = searched_key(op) {
            by_key.entry(key).or_default().push(op);
        }
    }
    let mut stats = LinStats {
        keys: by_key.len(),
        ..LinStats::default()
    };
    for (key, ops) in by_key {
        stats.ops += ops.len();
        let mut search = Search::new(&ops);
        match search.run(budget) {
            Outcome::Linearizable => {}
            Outcome::OutOfBudget => stats.inconclusive.push(key.to_string()),
            Outcome::Violation => return Err(search.violation(key, &ops)),
        }
        stats.steps += search.steps;
    }
    Ok(stats)
}

enum Outcome {
    Linearizable,
    Violation,
    OutOfBudget,
}

#[derive(Debug, Clone, Copy)]
struct Node {
    /// Index into the key's operations; NONE for the head.
    op: usize,
    call: bool,
    prev: usize,
    next: usize,
    /// For a call: its return node, or NONE (unknown outcome).
    ret: usize,
}

struct Search<'a> {
    ops: &'a [&'a HistoryOp],
    nodes: Vec<Node>,
    steps: u64,
    /// Deepest point reached: placed count and the return that stopped it.
    deepest: (usize, usize),
}

impl<'a> Search<'a> {
    fn new(ops: &'a [&'a HistoryOp]) -> Search<'a> {
        // (time, is_return, op index): calls sort before returns at a tie.
        let mut events: Vec<(std::time::Duration, bool, usize)> = Vec::new();
        for (i, op) in ops.iter().enumerate() {
            events.push((op.invoke, false, i));
            if let (Some(t), true) = (op.complete, op.ret.is_definite()) {
                events.push((t.max(op.invoke), true, i));
            }
        }
        events.sort();
        let mut nodes = vec![Node {
            op: NONE,
            call: false,
            prev: NONE,
            next: NONE,
            ret: NONE,
        }];
        let mut call_of = vec![NONE; ops.len()];
        let mut ret_of = vec![NONE; ops.len()];
        for (_, is_ret, i) in events {
            let idx = nodes.len();
            let prev = idx - 1;
            nodes[prev].next = idx;
            nodes.push(Node {
                op: i,
                call: !is_ret,
                prev,
                next: NONE,
                ret: NONE,
            });
            if is_ret {
                ret_of[i] = idx;
            } else {
                call_of[i] = idx;
            }
        }
        for i in 0..ops.len() {
            let c = call_of[i];
            nodes[c].ret = ret_of[i];
        }
        Search {
            ops,
            nodes,
            steps: 0,
            deepest: (0, NONE),
        }
    }

    fn unlink(&mut self, n: usize) {
        let Node { prev, next, .. } = self.nodes[n];
        self.nodes[prev].next = next;
        if next != NONE {
            self.nodes[next].prev = prev;
        }
    }

    fn relink(&mut self, n: usize) {
        let Node { prev, next, .. } = self.nodes[n];
        self.nodes[prev].next = n;
        if next != NONE {
            self.nodes[next].prev = n;
        }
    }

    fn lift(&mut self, call: usize) {
        self.unlink(call);
        let ret = self.nodes[call].ret;
        if ret != NONE {
            self.unlink(ret);
        }
    }

    fn unlift(&mut self, call: usize) {
        let ret = self.nodes[call].ret;
        if ret != NONE {
            self.relink(ret);
        }
        self.relink(call);
    }

    fn run(&mut self, budget: u64) -> Outcome {
        let n = self.ops.len();
        let words = n / 64 + 1;
        let mut placed = vec![0u64; words];
        let mut placed_count = 0usize;
        let mut remaining = self.ops.iter().filter(|o| o.ret.is_definite()).count();
        let mut state = State {
            value: 0,
            version: 0,
        };
        let mut cache: HashSet<(Vec<u64>, State)> = HashSet::new();
        let mut stack: Vec<(usize, State)> = Vec::new();
        let mut entry = self.nodes[0].next;
        while remaining > 0 {
            self.steps += 1;
            if self.steps > budget {
                return Outcome::OutOfBudget;
            }
            if entry == NONE {
                // Only invocations of unknown operations are left after the
                // cursor, yet known ones remain: backtrack.
                match self.backtrack(&mut stack, &mut placed, &mut placed_count, &mut remaining) {
                    Some((next, s)) => {
                        entry = next;
                        state = s;
                        continue;
                    }
                    None => return Outcome::Violation,
                }
            }
            let node = self.nodes[entry];
            if node.call {
                let op = self.ops[node.op];
                if let Some(next_state) = apply(state, op) {
                    let (w, b) = (node.op / 64, node.op % 64);
                    placed[w] |= 1 << b;
                    if cache.insert((placed.clone(), next_state)) {
                        stack.push((entry, state));
                        state = next_state;
                        placed_count += 1;
                        if op.ret.is_definite() {
                            remaining -= 1;
                        }
                        self.lift(entry);
                        entry = self.nodes[0].next;
                        continue;
                    }
                    placed[w] &= !(1 << b);
                }
                entry = node.next;
            } else {
                if placed_count >= self.deepest.0 {
                    self.deepest = (placed_count, entry);
                }
                match self.backtrack(&mut stack, &mut placed, &mut placed_count, &mut remaining) {
                    Some((next, s)) => {
                        entry = next;
                        state = s;
                    }
                    None => return Outcome::Violation,
                }
            }
        }
        Outcome::Linearizable
    }

    /// Undoes the last placement; the entry after it and the state before.
    fn backtrack(
        &mut self,
        stack: &mut Vec<(usize, State)>,
        placed: &mut [u64],
        placed_count: &mut usize,
        remaining: &mut usize,
    ) -> Option<(usize, State)> {
        let (call, state) = stack.pop()?;
        self.unlift(call);
        let op = self.nodes[call].op;
        placed[op / 64] &= !(1 << (op % 64));
        *placed_count -= 1;
        if self.ops[op].ret.is_definite() {
            *remaining += 1;
        }
        Some((self.nodes[call].next, state))
    }

    fn violation(&self, key: &str, ops: &[&HistoryOp]) -> Violation {
        let (depth, stuck) = self.deepest;
        let Some(stuck_op) = (stuck != NONE).then(|| ops[self.nodes[stuck].op]) else {
            return Violation::new(NAME, format!("register {key}: no linearization"))
                .with_ops(ops.iter().copied().take(20));
        };
        let end = stuck_op.complete.unwrap_or(stuck_op.invoke);
        // Operations concurrent with the stuck one, and the few before it.
        let near = ops.iter().copied().filter(|o| {
            let done = o.complete.unwrap_or(std::time::Duration::MAX);
            o.invoke <= end
                && done.saturating_add(std::time::Duration::from_secs(1)) >= stuck_op.invoke
        });
        Violation::new(
            NAME,
            format!(
                "register {key}: no linearization places op #{} before it returned \
                 (longest linearizable prefix: {depth} of {} operations)",
                stuck_op.id,
                ops.len()
            ),
        )
        .with_ops(std::iter::once(stuck_op).chain(near))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    /// Builds a history from (process, call, invoke, complete, ret).
    fn history(ops: &[(u32, Call, u64, Option<u64>, Ret)]) -> History {
        let mut h = History::new();
        for (p, call, inv, done, ret) in ops {
            let id = h.invoke(*p, 1, call.clone(), ms(*inv));
            h.complete(id, ms(done.unwrap_or(*inv)), ret.clone(), None);
        }
        h
    }

    fn w(value: u64) -> Call {
        Call::Write {
            key: "r".into(),
            value,
        }
    }

    fn cas(expect: i32, value: u64) -> Call {
        Call::Cas {
            key: "r".into(),
            expect,
            value,
        }
    }

    fn reg(value: u64, version: i32) -> Ret {
        Ret::Register { value, version }
    }

    fn fin() -> Call {
        Call::FinalRead { key: "r".into() }
    }

    #[test]
    fn accepts_concurrent_writes_in_either_order_and_unknowns() {
        // Two overlapping writes; their versions say which went first, which
        // is fine because they overlap. An unknown CAS took effect (the final
        // read shows its value); an unknown write never did.
        let h = history(&[
            (1, w(10), 0, Some(10), reg(10, 2)),
            (2, w(20), 1, Some(9), reg(20, 1)),
            (3, cas(2, 30), 12, None, Ret::Unknown),
            (4, w(40), 13, None, Ret::Unknown),
            (1, cas(2, 50), 14, Some(20), Ret::Fail("BadVersion".into())),
            (2, fin(), 100, Some(101), reg(30, 3)),
        ]);
        let stats = check(&h).expect("linearizable");
        assert_eq!((stats.keys, stats.ops), (1, 6));
    }

    #[test]
    fn detects_a_write_that_overtook_a_completed_one() {
        // Write 10 completed (version 1) before write 20 started, yet 20 got
        // version 1 and 10 version 2: impossible.
        let h = history(&[
            (1, w(10), 0, Some(5), reg(10, 2)),
            (2, w(20), 6, Some(9), reg(20, 1)),
        ]);
        let v = check(&h).unwrap_err();
        assert_eq!(v.checker, "linearizable");
        assert!(v.to_string().contains("no linearization"), "{v}");
    }

    #[test]
    fn detects_a_lost_acknowledged_write_at_the_final_read() {
        let h = history(&[
            (1, w(10), 0, Some(5), reg(10, 1)),
            (2, w(20), 6, Some(9), reg(20, 2)),
            (3, fin(), 20, Some(21), reg(10, 1)),
        ]);
        assert!(check(&h).is_err());
    }

    #[test]
    fn detects_a_cas_that_failed_although_the_version_matched() {
        let h = history(&[
            (1, w(10), 0, Some(5), reg(10, 1)),
            (2, cas(1, 20), 6, Some(9), Ret::Fail("BadVersion".into())),
            (3, fin(), 20, Some(21), reg(10, 1)),
        ]);
        assert!(check(&h).is_err());
        // With a concurrent unknown write that could have moved the version
        // first, and did (the final read shows it), the failure is fine.
        let h = history(&[
            (1, w(10), 0, Some(5), reg(10, 1)),
            (4, w(15), 5, None, Ret::Unknown),
            (2, cas(1, 20), 6, Some(9), Ret::Fail("BadVersion".into())),
            (3, fin(), 20, Some(21), reg(15, 2)),
        ]);
        check(&h).expect("the unknown write explains the failed CAS");
    }

    #[test]
    fn a_tight_budget_is_inconclusive_not_a_violation() {
        let mut ops = Vec::new();
        for i in 0..12 {
            ops.push((i, w(100 + i as u64), 0, None, Ret::Unknown));
        }
        ops.push((99, fin(), 1000, Some(1001), reg(7, 13)));
        let h = history(&ops);
        let stats = check_with_budget(&h, 50).expect("no verdict within budget");
        assert_eq!(stats.inconclusive, ["r"]);
        // With the default budget the search finds the final read impossible
        // (value 7 was never written).
        assert!(check(&h).is_err());
    }
}
