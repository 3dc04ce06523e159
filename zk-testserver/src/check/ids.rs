//! Unique ids from sequential nodes.
//!
//! Each id is the sequence number of a persistent sequential node (the
//! parent's child version when it was created). Promises:
//!
//! - no two acknowledged creates got the same id;
//! - ids follow the order of the creates: by zxid, and in real time (a
//!   create acknowledged before another was invoked got a smaller id);
//! - no acknowledged id is lost, and no id appears that no create asked for
//!   (the final children hold every acknowledged id, and at most as many
//!   more as creates with an unknown outcome).
//!
//! Gaps are allowed: a failed or lost create may have consumed a number.

use super::history::{Call, History, HistoryOp, Ret};
use super::violation::Violation;
use std::collections::{BTreeMap, BTreeSet};

const NAME: &str = "ids";

/// Checks the ids handed out in `history` against the final children's ids.
pub fn check(history: &History, final_ids: &BTreeSet<u64>) -> Result<usize, Violation> {
    let creates: Vec<&HistoryOp> = history
        .ops()
        .iter()
        .filter(|o| o.call == Call::CreateId)
        .collect();
    let mut acked: BTreeMap<u64, &HistoryOp> = BTreeMap::new();
    for op in &creates {
        if let Ret::Id(id) = op.ret {
            if let Some(other) = acked.insert(id, op) {
                return Err(Violation::new(NAME, format!("id {id} handed out twice"))
                    .with_ops([other, *op]));
            }
        }
    }
    // By zxid.
    let mut by_zxid: Vec<(&u64, &&HistoryOp)> =
        acked.iter().filter(|(_, o)| o.zxid.is_some()).collect();
    by_zxid.sort_by_key(|(_, o)| o.zxid);
    for pair in by_zxid.windows(2) {
        if pair[1].0 < pair[0].0 {
            return Err(Violation::new(
                NAME,
                format!(
                    "id {} was created after id {} (zxid order)",
                    pair[1].0, pair[0].0
                ),
            )
            .with_ops([*pair[0].1, *pair[1].1]));
        }
    }
    // In real time: a create acknowledged before another began got a
    // smaller id. Sorted by completion, the running maximum id of creates
    // completed before an invocation must stay below its id.
    let mut done: Vec<(&HistoryOp, u64)> = acked.iter().map(|(id, o)| (*o, *id)).collect();
    done.sort_by_key(|(o, _)| o.complete);
    let mut started: Vec<(&HistoryOp, u64)> = done.clone();
    started.sort_by_key(|(o, _)| o.invoke);
    let mut i = 0;
    let mut max_before: Option<(&HistoryOp, u64)> = None;
    for (op, id) in started {
        while i < done.len() && done[i].0.complete.is_some_and(|c| c < op.invoke) {
            if max_before.is_none_or(|(_, m)| done[i].1 > m) {
                max_before = Some(done[i]);
            }
            i += 1;
        }
        if let Some((before, m)) = max_before {
            if m >= id {
                return Err(Violation::new(
                    NAME,
                    format!("id {id} was handed out after id {m} had been acknowledged"),
                )
                .with_ops([before, op]));
            }
        }
    }
    // Nothing lost, nothing invented.
    if let Some((id, op)) = acked.iter().find(|(id, _)| !final_ids.contains(id)) {
        return Err(Violation::new(NAME, format!("acknowledged id {id} is gone")).with_ops([*op]));
    }
    let unknown = creates.iter().filter(|o| o.ret == Ret::Unknown).count();
    let extra = final_ids.len() - acked.len();
    if extra > unknown {
        return Err(Violation::new(
            NAME,
            format!(
                "{extra} ids exist that no acknowledged create got, but only {unknown} creates \
                 had an unknown outcome"
            ),
        ));
    }
    Ok(acked.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn at(ms: u64) -> Duration {
        Duration::from_millis(ms)
    }

    fn create(h: &mut History, p: u32, inv: u64, done: u64, ret: Ret, zxid: i64) {
        let id = h.invoke(p, p.into(), Call::CreateId, at(inv));
        h.complete(id, at(done), ret, (zxid > 0).then_some(zxid));
    }

    #[test]
    fn accepts_gaps_concurrency_and_lost_replies() {
        let mut h = History::new();
        create(&mut h, 1, 0, 10, Ret::Id(2), 0x102);
        create(&mut h, 2, 1, 9, Ret::Id(1), 0x101);
        create(&mut h, 3, 11, 11, Ret::Unknown, 0);
        create(&mut h, 1, 12, 13, Ret::Id(5), 0x105);
        // Ids 1, 2, 4 (the unknown create happened), 5.
        let ids = BTreeSet::from([1, 2, 4, 5]);
        assert_eq!(check(&h, &ids), Ok(3));
    }

    #[test]
    fn detects_duplicates_reordering_and_loss() {
        let mut h = History::new();
        create(&mut h, 1, 0, 1, Ret::Id(1), 0x101);
        create(&mut h, 2, 2, 3, Ret::Id(1), 0x102);
        assert!(check(&h, &BTreeSet::from([1])).is_err(), "duplicate");

        let mut h = History::new();
        create(&mut h, 1, 0, 1, Ret::Id(3), 0x101);
        create(&mut h, 2, 2, 3, Ret::Id(2), 0x102);
        let v = check(&h, &BTreeSet::from([2, 3])).unwrap_err();
        assert!(v.message.contains("zxid order"), "{v}");

        let mut h = History::new();
        create(&mut h, 1, 0, 1, Ret::Id(3), 0);
        create(&mut h, 2, 2, 3, Ret::Id(2), 0);
        let v = check(&h, &BTreeSet::from([2, 3])).unwrap_err();
        assert!(v.message.contains("after id 3"), "{v}");

        let mut h = History::new();
        create(&mut h, 1, 0, 1, Ret::Id(1), 0x101);
        let v = check(&h, &BTreeSet::new()).unwrap_err();
        assert!(v.message.contains("gone"), "{v}");
        let v = check(&h, &BTreeSet::from([1, 9])).unwrap_err();
        assert!(v.message.contains("no acknowledged create"), "{v}");
    }
}
