//! The member's in-memory view of its log: the retained tail of its history,
//! how far it is committed, and how far it is durable.
//!
//! Durability is tracked by append sequence numbers rather than zxids, so a
//! flush report for entries that a later TRUNC removed can never vouch for
//! entries appended after the truncation.

use std::collections::VecDeque;

use crate::storage::{LogEntry, Zxid};

#[derive(Clone, Debug)]
struct Slot {
    entry: LogEntry,
    /// Append sequence number; 0 for entries recovered from storage.
    seq: u64,
}

/// The retained history `(trim, last]` plus commit and durability points.
#[derive(Debug)]
pub(crate) struct History {
    /// Entries up to here are not retained (they are in the snapshot the member
    /// started from, or were committed, durable and dropped past retention).
    trim: Zxid,
    entries: VecDeque<Slot>,
    committed: Zxid,
    retention: usize,
    next_seq: u64,
    flushed_seq: u64,
    /// Appends not yet reported durable, in append order.
    unflushed: VecDeque<(u64, Zxid)>,
}

impl History {
    /// A history starting after `base` (the snapshot zxid), with recovered
    /// entries. Entries at or before `base`, or out of order, are dropped.
    pub(crate) fn new(base: Zxid, log: Vec<LogEntry>, retention: usize) -> Self {
        let mut entries = VecDeque::with_capacity(log.len());
        let mut last = base;
        for entry in log {
            if entry.zxid <= last {
                tracing::debug!(
                    zxid = entry.zxid,
                    "recovered log entry out of order, ignored"
                );
                continue;
            }
            last = entry.zxid;
            entries.push_back(Slot { entry, seq: 0 });
        }
        History {
            trim: base,
            entries,
            committed: base,
            retention,
            next_seq: 1,
            flushed_seq: 0,
            unflushed: VecDeque::new(),
        }
    }

    /// The last logged zxid (or the trim point when nothing is retained).
    pub(crate) fn last(&self) -> Zxid {
        self.entries.back().map_or(self.trim, |s| s.entry.zxid)
    }

    pub(crate) fn committed(&self) -> Zxid {
        self.committed
    }

    pub(crate) fn trim(&self) -> Zxid {
        self.trim
    }

    fn index_of(&self, zxid: Zxid) -> Result<usize, usize> {
        self.entries.binary_search_by(|s| s.entry.zxid.cmp(&zxid))
    }

    /// True if `zxid` is a retained entry or the trim point itself.
    pub(crate) fn has(&self, zxid: Zxid) -> bool {
        zxid == self.trim || self.index_of(zxid).is_ok()
    }

    /// The largest retained zxid at or below `zxid`, or the trim point.
    pub(crate) fn floor(&self, zxid: Zxid) -> Zxid {
        match self.index_of(zxid) {
            Ok(_) => zxid,
            Err(0) => self.trim,
            Err(i) => self.entries.get(i - 1).map_or(self.trim, |s| s.entry.zxid),
        }
    }

    /// Retained entries with a zxid greater than `zxid`, in order.
    pub(crate) fn after(&self, zxid: Zxid) -> impl Iterator<Item = &LogEntry> {
        let start = match self.index_of(zxid) {
            Ok(i) => i + 1,
            Err(i) => i,
        };
        self.entries.range(start..).map(|s| &s.entry)
    }

    /// Appends an entry; false (and nothing changes) unless it extends the log.
    pub(crate) fn append(&mut self, entry: LogEntry) -> bool {
        if entry.zxid <= self.last() {
            return false;
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        self.unflushed.push_back((seq, entry.zxid));
        self.entries.push_back(Slot { entry, seq });
        true
    }

    /// Drops entries after `zxid`. Refuses (returns false) to drop committed or
    /// untracked entries.
    pub(crate) fn truncate_after(&mut self, zxid: Zxid) -> bool {
        if zxid < self.committed || zxid < self.trim {
            return false;
        }
        while self.entries.back().is_some_and(|s| s.entry.zxid > zxid) {
            self.entries.pop_back();
        }
        true
    }

    /// Replaces everything with an (installed, durable) snapshot at `zxid`.
    pub(crate) fn reset(&mut self, zxid: Zxid) {
        self.entries.clear();
        self.trim = zxid;
        self.committed = zxid;
    }

    /// Marks entries up to `zxid` (clamped to the log) committed and returns the
    /// newly committed ones, in order.
    pub(crate) fn commit_to(&mut self, zxid: Zxid) -> Vec<LogEntry> {
        let upto = zxid.min(self.last());
        if upto <= self.committed {
            return Vec::new();
        }
        let newly: Vec<LogEntry> = self
            .after(self.committed)
            .take_while(|e| e.zxid <= upto)
            .cloned()
            .collect();
        self.committed = upto;
        self.trim_retained();
        newly
    }

    /// The durability report of the driver: every append up to the one of the
    /// entry `up_to` is durable. Unknown zxids are ignored. Returns true if the
    /// report was matched.
    pub(crate) fn persisted(&mut self, up_to: Zxid) -> bool {
        let Some(pos) = self.unflushed.iter().position(|&(_, z)| z == up_to) else {
            return false;
        };
        for _ in 0..=pos {
            if let Some((seq, _)) = self.unflushed.pop_front() {
                self.flushed_seq = self.flushed_seq.max(seq);
            }
        }
        self.trim_retained();
        true
    }

    /// The last zxid such that it and every entry before it are durable.
    pub(crate) fn durable(&self) -> Zxid {
        let n = self.entries.partition_point(|s| s.seq <= self.flushed_seq);
        match n {
            0 => self.trim,
            n => self.entries.get(n - 1).map_or(self.trim, |s| s.entry.zxid),
        }
    }

    /// Drops committed, durable entries beyond the retention budget.
    fn trim_retained(&mut self) {
        let committed_count = match self.index_of(self.committed) {
            Ok(i) => i + 1,
            Err(i) => i,
        };
        let mut excess = committed_count.saturating_sub(self.retention);
        while excess > 0 {
            match self.entries.front() {
                Some(s) if s.seq <= self.flushed_seq && s.entry.zxid <= self.committed => {
                    self.trim = s.entry.zxid;
                    self.entries.pop_front();
                    excess -= 1;
                }
                _ => break,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn e(zxid: Zxid) -> LogEntry {
        LogEntry {
            zxid,
            payload: Bytes::from(zxid.to_string()),
        }
    }

    #[test]
    fn durability_follows_reports_across_truncation() {
        let mut h = History::new(0, vec![e(1), e(2)], 10);
        assert_eq!(h.durable(), 2);
        assert!(h.append(e(10)));
        assert!(h.append(e(11)));
        assert_eq!(h.durable(), 2);
        assert!(h.truncate_after(2));
        assert!(h.append(e(5)));
        // The report for the truncated append does not cover entry 5.
        assert!(h.persisted(11));
        assert_eq!(h.durable(), 2);
        assert!(h.persisted(5));
        assert_eq!(h.durable(), 5);
        assert!(!h.persisted(99));
    }

    #[test]
    fn commit_trims_beyond_retention() {
        let mut h = History::new(0, (1..=10).map(e).collect(), 3);
        assert_eq!(h.commit_to(8).len(), 8);
        assert_eq!(h.trim(), 5);
        assert!(h.has(5) && h.has(6) && !h.has(4));
        assert_eq!(h.floor(100), 10);
        assert_eq!(h.after(8).map(|e| e.zxid).collect::<Vec<_>>(), vec![9, 10]);
        assert!(!h.truncate_after(7));
        assert!(h.truncate_after(9));
        assert_eq!(h.last(), 9);
    }
}
