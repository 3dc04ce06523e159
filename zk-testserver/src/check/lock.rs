//! A lock with fencing tokens: at most one holder at a time, in the order of
//! the tokens.
//!
//! A holder's token is the czxid of its lock node. The resource the lock
//! guards is only written through a multi that first checks the holder's
//! lock node still exists, so a holder whose session expired (and whose
//! node is gone) cannot write any more, even if it has not noticed yet.
//!
//! Promises checked:
//! - every acquisition has its own token;
//! - acquisitions in real time get increasing tokens (one acknowledged
//!   before another began has the smaller token);
//! - the guarded writes that succeeded, in zxid order, carry non-decreasing
//!   tokens: once a holder wrote, no earlier holder writes again (so the
//!   holders' writes never interleave);
//! - every successful guarded write was made by an acquired token.

use super::history::{Call, History, HistoryOp, Ret};
use super::violation::Violation;
use std::collections::BTreeMap;

const NAME: &str = "lock";

/// What the run did with the lock.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LockStats {
    /// Acquisitions.
    pub acquired: usize,
    /// Successful guarded writes.
    pub writes: usize,
}

/// Checks the lock operations of `history`.
pub fn check(history: &History) -> Result<LockStats, Violation> {
    let tokens = granted(history, NAME)?;
    // Real-time order of acquisitions.
    let mut acquired: Vec<(&HistoryOp, i64)> = tokens.iter().map(|(t, o)| (*o, *t)).collect();
    acquired.sort_by_key(|(o, _)| o.complete);
    let mut started = acquired.clone();
    started.sort_by_key(|(o, _)| o.invoke);
    let mut i = 0;
    let mut max_before: Option<(&HistoryOp, i64)> = None;
    for (op, t) in &started {
        while i < acquired.len() && acquired[i].0.complete.is_some_and(|c| c < op.invoke) {
            if max_before.is_none_or(|(_, m)| acquired[i].1 > m) {
                max_before = Some(acquired[i]);
            }
            i += 1;
        }
        if let Some((before, m)) = max_before {
            if m >= *t {
                return Err(Violation::new(
                    NAME,
                    format!("token {t:#x} acquired after token {m:#x} had been acknowledged"),
                )
                .with_ops([before, *op]));
            }
        }
    }
    // Fenced writes in zxid order.
    let mut writes: Vec<&HistoryOp> = history
        .ops()
        .iter()
        .filter(|o| matches!(o.call, Call::GuardedWrite { .. }) && o.ret == Ret::Ok)
        .collect();
    for w in &writes {
        if let Call::GuardedWrite { token, .. } = w.call {
            if !tokens.contains_key(&token) {
                return Err(Violation::new(
                    NAME,
                    format!("guarded write with token {token:#x}, which was never acquired"),
                )
                .with_ops([*w]));
            }
        }
        if w.zxid.is_none() {
            return Err(Violation::new(NAME, "guarded write without a zxid").with_ops([*w]));
        }
    }
    writes.sort_by_key(|o| o.zxid);
    let token = |o: &HistoryOp| match o.call {
        Call::GuardedWrite { token, .. } => token,
        _ => 0,
    };
    for pair in writes.windows(2) {
        if token(pair[1]) < token(pair[0]) {
            return Err(Violation::new(
                NAME,
                format!(
                    "two holders at once: token {:#x} wrote after token {:#x}",
                    token(pair[1]),
                    token(pair[0])
                ),
            )
            .with_ops([pair[0], pair[1]])
            .with_ops(tokens.get(&token(pair[1])).copied())
            .with_ops(tokens.get(&token(pair[0])).copied()));
        }
    }
    Ok(LockStats {
        acquired: tokens.len(),
        writes: writes.len(),
    })
}

/// Every granted token with its acquisition; a violation of `checker` if a
/// token was granted twice.
pub(super) fn granted<'h>(
    history: &'h History,
    checker: &'static str,
) -> Result<BTreeMap<i64, &'h HistoryOp>, Violation> {
    let mut tokens: BTreeMap<i64, &HistoryOp> = BTreeMap::new();
    for op in history.ops() {
        if let (Call::Acquire, Ret::Token(t)) = (&op.call, &op.ret) {
            if let Some(other) = tokens.insert(*t, op) {
                return Err(
                    Violation::new(checker, format!("token {t:#x} granted twice"))
                        .with_ops([other, op]),
                );
            }
        }
    }
    Ok(tokens)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn at(ms: u64) -> Duration {
        Duration::from_millis(ms)
    }

    fn acquire(h: &mut History, p: u32, inv: u64, done: u64, token: i64) {
        let id = h.invoke(p, p.into(), Call::Acquire, at(inv));
        h.complete(id, at(done), Ret::Token(token), Some(token));
    }

    fn write(h: &mut History, p: u32, t: u64, token: i64, ret: Ret, zxid: i64) {
        let call = Call::GuardedWrite { token, value: t };
        h.record(p, p.into(), call, at(t), ret, Some(zxid));
    }

    #[test]
    fn accepts_a_stale_holder_whose_fenced_writes_fail() {
        let mut h = History::new();
        acquire(&mut h, 1, 0, 1, 0x101);
        write(&mut h, 1, 2, 0x101, Ret::Ok, 0x102);
        // p1's session expires; p2 acquires while p1 still believes it holds.
        acquire(&mut h, 2, 3, 10, 0x103);
        write(&mut h, 2, 11, 0x103, Ret::Ok, 0x105);
        // p1's write is fenced off: its lock node is gone.
        write(&mut h, 1, 12, 0x101, Ret::Fail("NoNode".into()), 0x106);
        assert_eq!(
            check(&h),
            Ok(LockStats {
                acquired: 2,
                writes: 2
            })
        );
    }

    #[test]
    fn detects_two_holders_writing_at_once() {
        let mut h = History::new();
        acquire(&mut h, 1, 0, 1, 0x101);
        acquire(&mut h, 2, 0, 5, 0x102);
        write(&mut h, 2, 6, 0x102, Ret::Ok, 0x103);
        write(&mut h, 1, 7, 0x101, Ret::Ok, 0x104);
        let v = check(&h).unwrap_err();
        assert!(v.message.contains("two holders"), "{v}");
    }

    #[test]
    fn detects_reused_tokens_and_out_of_order_grants() {
        let mut h = History::new();
        acquire(&mut h, 1, 0, 1, 0x101);
        acquire(&mut h, 2, 2, 3, 0x101);
        assert!(check(&h).is_err());
        let mut h = History::new();
        acquire(&mut h, 1, 0, 1, 0x105);
        acquire(&mut h, 2, 2, 3, 0x102);
        let v = check(&h).unwrap_err();
        assert!(v.message.contains("after token"), "{v}");
        let mut h = History::new();
        write(&mut h, 1, 0, 0x999, Ret::Ok, 0x102);
        assert!(check(&h).is_err(), "unacquired token");
    }
}
