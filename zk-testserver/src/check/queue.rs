//! A distributed queue: sequential nodes under one parent, taken in order by
//! deleting the lowest (the delete is the claim).
//!
//! Delivery rules of the workload (those of `zk_recipes::Queue`):
//! `put` is at-least-once under connection loss (a put whose reply was lost
//! is retried, so its item may be queued twice), `take` is at-most-once (a
//! take whose delete reply was lost gives the item up: it may be gone).
//!
//! Promises checked:
//! - **no duplicate**: no entry is delivered twice, and an item is
//!   delivered or left queued no more often than it was put (a retried put
//!   may legitimately queue it twice);
//! - **no loss**: every item whose put was acknowledged is delivered, still
//!   queued, or was the object of a take with an unknown outcome; items
//!   missing otherwise are excused only one each by a
//!   [`Call::TakeInDoubt`] (a take that may have removed an entry it could
//!   not name, as `zk_recipes::Queue::take` does after a lost delete reply);
//! - **no phantom**: everything delivered or queued was put;
//! - **total order**: deliveries, in zxid order, take entries in sequence
//!   order; each producer's acknowledged puts got increasing sequence
//!   numbers.

use super::history::{Call, History, HistoryOp, Ret};
use super::violation::Violation;
use std::collections::BTreeMap;

const NAME: &str = "queue";

/// What the run did with the queue.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueueStats {
    /// Items put (acknowledged).
    pub put: usize,
    /// Items delivered.
    pub delivered: usize,
    /// Items given up by a take with an unknown outcome.
    pub lost_to_unknown_takes: usize,
    /// Takes that may have removed an entry they could not name.
    pub takes_in_doubt: usize,
}

/// Checks the queue operations of `history` against the entries left at the
/// end, as (sequence number, item).
pub fn check(history: &History, remaining: &[(u64, u64)]) -> Result<QueueStats, Violation> {
    let ops = history.ops();
    let mut puts: BTreeMap<u64, Vec<&HistoryOp>> = BTreeMap::new();
    let mut takes: BTreeMap<u64, Vec<&HistoryOp>> = BTreeMap::new();
    let mut in_doubt: Vec<&HistoryOp> = Vec::new();
    for op in ops {
        match op.call {
            Call::Put { item } => puts.entry(item).or_default().push(op),
            Call::Take { item, .. } => takes.entry(item).or_default().push(op),
            Call::TakeInDoubt => in_doubt.push(op),
            _ => {}
        }
    }
    let mut stats = QueueStats {
        takes_in_doubt: in_doubt.len(),
        ..QueueStats::default()
    };
    // Acknowledged items nobody delivered, left or named in a take.
    let mut missing: Vec<(u64, Vec<&HistoryOp>)> = Vec::new();
    // Entries delivered twice.
    let mut by_seq: BTreeMap<u64, &HistoryOp> = BTreeMap::new();
    for op in takes.values().flatten() {
        if let (Call::Take { seq: Some(seq), .. }, Ret::Ok) = (&op.call, &op.ret) {
            if let Some(other) = by_seq.insert(*seq, op) {
                return Err(Violation::new(NAME, format!("entry {seq} delivered twice"))
                    .with_ops([other, *op]));
            }
        }
    }
    let mut queued: BTreeMap<u64, usize> = BTreeMap::new();
    for (_, item) in remaining {
        *queued.entry(*item).or_default() += 1;
    }
    let mut all_items: Vec<u64> = puts.keys().copied().collect();
    all_items.extend(takes.keys().copied());
    all_items.extend(queued.keys().copied());
    all_items.sort_unstable();
    all_items.dedup();
    for item in all_items {
        let item_puts = puts.get(&item).map(Vec::as_slice).unwrap_or_default();
        let item_takes = takes.get(&item).map(Vec::as_slice).unwrap_or_default();
        let possible_puts = item_puts
            .iter()
            .filter(|o| !matches!(o.ret, Ret::Fail(_)))
            .count();
        let acked = item_puts.iter().any(|o| matches!(o.ret, Ret::Id(_)));
        let delivered = item_takes.iter().filter(|o| o.ret == Ret::Ok).count();
        let unknown_takes = item_takes.iter().filter(|o| o.ret == Ret::Unknown).count();
        let left = queued.get(&item).copied().unwrap_or(0);
        let excerpt = || item_puts.iter().chain(item_takes).copied();
        if possible_puts == 0 && (delivered > 0 || left > 0) {
            return Err(
                Violation::new(NAME, format!("item {item} appeared but was never put"))
                    .with_ops(excerpt()),
            );
        }
        if delivered + left > possible_puts {
            return Err(Violation::new(
                NAME,
                format!(
                    "item {item} delivered {delivered} times and left {left} times, but put at \
                     most {possible_puts} times"
                ),
            )
            .with_ops(excerpt()));
        }
        if acked && delivered + left + unknown_takes == 0 {
            missing.push((item, excerpt().collect()));
        }
        if acked {
            stats.put += 1;
        }
        stats.delivered += delivered;
        if acked && delivered + left == 0 {
            stats.lost_to_unknown_takes += 1;
        }
    }
    if missing.len() > in_doubt.len() {
        let items: Vec<String> = missing.iter().map(|(i, _)| i.to_string()).collect();
        return Err(Violation::new(
            NAME,
            format!(
                "item(s) {} were put (acknowledged) and are gone: never delivered ({} take(s) \
                 in doubt)",
                items.join(", "),
                in_doubt.len()
            ),
        )
        .with_ops(missing.into_iter().flat_map(|(_, ops)| ops))
        .with_ops(in_doubt));
    }
    // Deliveries in zxid order take entries in sequence order.
    let mut deliveries: Vec<&HistoryOp> = by_seq
        .values()
        .copied()
        .filter(|o| o.zxid.is_some())
        .collect();
    deliveries.sort_by_key(|o| o.zxid);
    for pair in deliveries.windows(2) {
        let seq = |o: &HistoryOp| match o.call {
            Call::Take { seq, .. } => seq.unwrap_or(0),
            _ => 0,
        };
        if seq(pair[1]) < seq(pair[0]) {
            return Err(Violation::new(
                NAME,
                format!(
                    "entry {} was taken after entry {} (out of order)",
                    seq(pair[1]),
                    seq(pair[0])
                ),
            )
            .with_ops([pair[0], pair[1]]));
        }
    }
    // Each producer's acknowledged puts in increasing sequence order.
    let mut last: BTreeMap<u32, &HistoryOp> = BTreeMap::new();
    let mut acked_puts: Vec<&HistoryOp> = puts
        .values()
        .flatten()
        .copied()
        .filter(|o| matches!(o.ret, Ret::Id(_)))
        .collect();
    acked_puts.sort_by_key(|o| (o.invoke, o.id));
    for op in acked_puts {
        if let Some(prev) = last.get(&op.process) {
            if let (Ret::Id(a), Ret::Id(b)) = (&prev.ret, &op.ret) {
                if b <= a {
                    return Err(Violation::new(
                        NAME,
                        format!("producer p{} put entry {b} after entry {a}", op.process),
                    )
                    .with_ops([*prev, op]));
                }
            }
        }
        last.insert(op.process, op);
    }
    Ok(stats)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn at(ms: u64) -> Duration {
        Duration::from_millis(ms)
    }

    fn put(h: &mut History, p: u32, t: u64, item: u64, ret: Ret) {
        h.record(p, 1, Call::Put { item }, at(t), ret, Some(t as i64 + 0x100));
    }

    fn take(h: &mut History, p: u32, t: u64, item: u64, seq: u64, ret: Ret) {
        let zxid = (ret == Ret::Ok).then_some(t as i64 + 0x100);
        let seq = Some(seq);
        h.record(p, 2, Call::Take { item, seq }, at(t), ret, zxid);
    }

    /// A recipe's take: the item, but no sequence number or zxid.
    fn recipe_take(h: &mut History, p: u32, t: u64, item: u64) {
        let call = Call::Take { item, seq: None };
        h.record(p, 2, call, at(t), Ret::Ok, None);
    }

    #[test]
    fn in_doubt_takes_excuse_one_missing_item_each() {
        let mut h = History::new();
        for item in [10, 11, 12] {
            put(&mut h, 1, item, item, Ret::Id(item));
        }
        recipe_take(&mut h, 2, 20, 10);
        h.record(2, 2, Call::TakeInDoubt, at(21), Ret::Unknown, None);
        // One item gone, one take in doubt: accounted for.
        let stats = check(&h, &[(2, 12)]).expect("valid");
        assert_eq!((stats.delivered, stats.takes_in_doubt), (1, 1));
        // Two gone, one take in doubt: a loss.
        let v = check(&h, &[]).unwrap_err();
        assert!(v.message.contains("11, 12"), "{v}");
        // A recipe take delivering an item twice is still a duplicate.
        recipe_take(&mut h, 3, 22, 10);
        let v = check(&h, &[(2, 12)]).unwrap_err();
        assert!(v.message.contains("put at most 1"), "{v}");
    }

    #[test]
    fn accepts_retried_puts_and_takes_lost_in_flight() {
        let mut h = History::new();
        put(&mut h, 1, 0, 10, Ret::Id(0));
        // A put whose reply was lost, retried: queued twice.
        put(&mut h, 1, 1, 11, Ret::Unknown);
        put(&mut h, 1, 2, 11, Ret::Id(2));
        put(&mut h, 1, 3, 12, Ret::Id(3));
        take(&mut h, 2, 4, 10, 0, Ret::Ok);
        take(&mut h, 3, 5, 10, 0, Ret::Fail("NoNode".into()));
        take(&mut h, 2, 6, 11, 1, Ret::Ok);
        // At-most-once: the delete's reply was lost and item 12 is gone.
        take(&mut h, 2, 7, 12, 3, Ret::Unknown);
        let stats = check(&h, &[(2, 11)]).expect("valid");
        assert_eq!(stats.put, 3);
        assert_eq!(stats.delivered, 2);
        assert_eq!(stats.lost_to_unknown_takes, 1);
    }

    #[test]
    fn detects_loss_duplicates_phantoms_and_disorder() {
        let mut h = History::new();
        put(&mut h, 1, 0, 10, Ret::Id(0));
        let v = check(&h, &[]).unwrap_err();
        assert!(v.message.contains("are gone"), "{v}");

        let mut h = History::new();
        put(&mut h, 1, 0, 10, Ret::Id(0));
        take(&mut h, 2, 1, 10, 0, Ret::Ok);
        let v = check(&h, &[(0, 10)]).unwrap_err();
        assert!(v.message.contains("put at most 1"), "{v}");
        let v = check(&h, &[(7, 99)]).unwrap_err();
        assert!(v.message.contains("never put"), "{v}");

        let mut h = History::new();
        put(&mut h, 1, 0, 10, Ret::Id(0));
        put(&mut h, 1, 1, 11, Ret::Id(1));
        take(&mut h, 2, 2, 11, 1, Ret::Ok);
        take(&mut h, 3, 3, 10, 0, Ret::Ok);
        let v = check(&h, &[]).unwrap_err();
        assert!(v.message.contains("out of order"), "{v}");

        let mut h = History::new();
        put(&mut h, 1, 0, 10, Ret::Id(5));
        put(&mut h, 1, 1, 11, Ret::Id(4));
        let v = check(&h, &[(5, 10), (4, 11)]).unwrap_err();
        assert!(v.message.contains("producer"), "{v}");
    }
}
