//! A counting semaphore with fencing tokens: at most `max` lease holders at
//! a time.
//!
//! A lease's token is the czxid of its lease node. Holders write the
//! resource the leases guard only through a multi that first checks their
//! lease node still exists, so every successful guarded write happened
//! while its lease node existed. A lease node is created once and, once
//! deleted, never comes back: between two successful writes of one lease,
//! its node existed throughout. Each lease is thus held — granted and its
//! node present — over the zxid span from its first to its last successful
//! guarded write.
//!
//! Promises checked:
//! - every lease granted has its own token;
//! - every successful guarded write was made by a granted token;
//! - at no zxid do more than `max` leases' spans overlap.
//!
//! With `max` 1 this is a mutex's promise as well (see [`super::lock`] for
//! the stronger token-order one).

use super::history::{Call, History, HistoryOp, Ret};
use super::violation::Violation;
use std::collections::BTreeMap;

const NAME: &str = "semaphore";

/// What the run did with the semaphore.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SemaphoreStats {
    /// Leases granted.
    pub granted: usize,
    /// Successful guarded writes.
    pub writes: usize,
    /// The most leases seen held at once.
    pub most_at_once: usize,
}

/// Checks the `Acquire`/`GuardedWrite` operations of `history` against a
/// semaphore of `max` leases.
pub fn check(history: &History, max: usize) -> Result<SemaphoreStats, Violation> {
    let granted = super::lock::granted(history, NAME)?;
    // Each lease's first and last successful write, by zxid.
    let mut spans: BTreeMap<i64, (&HistoryOp, &HistoryOp)> = BTreeMap::new();
    let mut writes = 0;
    for op in history.ops() {
        let (Call::GuardedWrite { token, .. }, Ret::Ok) = (&op.call, &op.ret) else {
            continue;
        };
        if !granted.contains_key(token) {
            return Err(Violation::new(
                NAME,
                format!("guarded write with token {token:#x}, which was never granted"),
            )
            .with_ops([op]));
        }
        if op.zxid.is_none() {
            return Err(Violation::new(NAME, "guarded write without a zxid").with_ops([op]));
        }
        writes += 1;
        let span = spans.entry(*token).or_insert((op, op));
        if op.zxid < span.0.zxid {
            span.0 = op;
        }
        if op.zxid > span.1.zxid {
            span.1 = op;
        }
    }
    let mut most_at_once = 0;
    for (first, _) in spans.values() {
        let at = first.zxid;
        let holding: Vec<(&HistoryOp, &HistoryOp)> = spans
            .values()
            .copied()
            .filter(|(a, b)| a.zxid <= at && at <= b.zxid)
            .collect();
        most_at_once = most_at_once.max(holding.len());
        if holding.len() > max {
            let tokens: Vec<String> = holding
                .iter()
                .filter_map(|(a, _)| match a.call {
                    Call::GuardedWrite { token, .. } => Some(format!("{token:#x}")),
                    _ => None,
                })
                .collect();
            return Err(Violation::new(
                NAME,
                format!(
                    "{} leases held at once (at most {max}): tokens {}",
                    holding.len(),
                    tokens.join(", ")
                ),
            )
            .with_ops(holding.iter().flat_map(|(a, b)| [*a, *b])));
        }
    }
    Ok(SemaphoreStats {
        granted: granted.len(),
        writes,
        most_at_once,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn at(ms: u64) -> Duration {
        Duration::from_millis(ms)
    }

    fn grant(h: &mut History, p: u32, t: u64, token: i64) {
        h.record(p, p.into(), Call::Acquire, at(t), Ret::Token(token), None);
    }

    fn write(h: &mut History, p: u32, token: i64, ret: Ret, zxid: i64) {
        let call = Call::GuardedWrite {
            token,
            value: zxid as u64,
        };
        h.record(p, p.into(), call, at(zxid as u64), ret, Some(zxid));
    }

    #[test]
    fn accepts_max_holders_and_fenced_stale_ones() {
        let mut h = History::new();
        grant(&mut h, 1, 0, 0x10);
        grant(&mut h, 2, 1, 0x11);
        write(&mut h, 1, 0x10, Ret::Ok, 0x20);
        write(&mut h, 2, 0x11, Ret::Ok, 0x21);
        write(&mut h, 1, 0x10, Ret::Ok, 0x22);
        // p1's lease expires; p3 gets one; p1's late write is fenced off.
        grant(&mut h, 3, 2, 0x23);
        write(&mut h, 3, 0x23, Ret::Ok, 0x24);
        write(&mut h, 1, 0x10, Ret::Fail("NoNode".into()), 0x25);
        write(&mut h, 3, 0x23, Ret::Ok, 0x26);
        write(&mut h, 2, 0x11, Ret::Ok, 0x27);
        let stats = check(&h, 2).expect("valid");
        assert_eq!((stats.granted, stats.writes, stats.most_at_once), (3, 6, 2));
    }

    #[test]
    fn detects_one_holder_too_many() {
        let mut h = History::new();
        for (p, token) in [(1, 0x10), (2, 0x11), (3, 0x12)] {
            grant(&mut h, p, 0, token);
        }
        write(&mut h, 1, 0x10, Ret::Ok, 0x20);
        write(&mut h, 2, 0x11, Ret::Ok, 0x21);
        write(&mut h, 3, 0x12, Ret::Ok, 0x22);
        write(&mut h, 1, 0x10, Ret::Ok, 0x23);
        write(&mut h, 2, 0x11, Ret::Ok, 0x24);
        let v = check(&h, 2).unwrap_err();
        assert!(v.message.contains("3 leases held at once"), "{v}");
        assert!(check(&h, 3).is_ok());
    }

    #[test]
    fn detects_reused_and_unknown_tokens() {
        let mut h = History::new();
        grant(&mut h, 1, 0, 0x10);
        grant(&mut h, 2, 1, 0x10);
        assert!(check(&h, 2).unwrap_err().message.contains("twice"));
        let mut h = History::new();
        write(&mut h, 1, 0x99, Ret::Ok, 0x20);
        assert!(check(&h, 2).unwrap_err().message.contains("never granted"));
    }
}
