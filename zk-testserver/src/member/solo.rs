//! Replication of a standalone server: nothing to agree on. A proposal is
//! committed once it is durable in the local log; the recovered log is
//! committed at start. Zxids stay in epoch 0, as in a standalone ZooKeeper.

use crate::storage::{LogEntry, Recovered, Zxid};
use crate::zab::{MemberId, Output, Role};
use std::collections::VecDeque;

/// The standalone "replication": outputs in the same vocabulary as
/// [`crate::zab::Member`], so the member machine drives both alike.
pub(crate) struct Solo {
    last_logged: Zxid,
    /// Appended, not yet durable, in order.
    pending: VecDeque<LogEntry>,
    committed: Zxid,
    /// Sync barriers: (target zxid, token).
    syncs: VecDeque<(Zxid, u64)>,
    out: VecDeque<Output>,
}

impl Solo {
    /// Commits what storage recovered (after its snapshot) and starts serving.
    pub(crate) fn new(id: MemberId, recovered: Recovered) -> Solo {
        let base = recovered.snapshot.as_ref().map_or(0, |s| s.zxid);
        let mut out = VecDeque::new();
        let mut last = base;
        for entry in recovered.log {
            if entry.zxid <= last {
                tracing::warn!(zxid = entry.zxid, "recovered entry out of order, skipped");
                continue;
            }
            last = entry.zxid;
            out.push_back(Output::Commit(entry));
        }
        out.push_back(Output::RoleChanged {
            role: Role::Leading,
            leader: Some(id),
            epoch: 0,
            serving: true,
        });
        Solo {
            last_logged: last,
            pending: VecDeque::new(),
            committed: last,
            syncs: VecDeque::new(),
            out,
        }
    }

    pub(crate) fn last_logged(&self) -> Zxid {
        self.last_logged
    }

    pub(crate) fn committed(&self) -> Zxid {
        self.committed
    }

    /// Logs the entry; it commits once reported durable. False unless its
    /// zxid follows the last one.
    pub(crate) fn propose(&mut self, entry: LogEntry) -> bool {
        if entry.zxid <= self.last_logged {
            return false;
        }
        self.last_logged = entry.zxid;
        self.pending.push_back(entry.clone());
        self.out.push_back(Output::Append(vec![entry]));
        true
    }

    /// Every append up to `up_to` is durable: commit it.
    pub(crate) fn persisted(&mut self, up_to: Zxid) {
        while self.pending.front().is_some_and(|e| e.zxid <= up_to) {
            if let Some(e) = self.pending.pop_front() {
                self.committed = e.zxid;
                self.out.push_back(Output::Commit(e));
            }
        }
        while self
            .syncs
            .front()
            .is_some_and(|(t, _)| *t <= self.committed)
        {
            if let Some((_, token)) = self.syncs.pop_front() {
                self.out.push_back(Output::SyncDone(token));
            }
        }
    }

    /// Done once everything proposed so far is committed.
    pub(crate) fn sync(&mut self, token: u64) {
        if self.last_logged <= self.committed {
            self.out.push_back(Output::SyncDone(token));
        } else {
            self.syncs.push_back((self.last_logged, token));
        }
    }

    pub(crate) fn poll_output(&mut self) -> Option<Output> {
        self.out.pop_front()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn e(zxid: Zxid) -> LogEntry {
        LogEntry {
            zxid,
            payload: Bytes::new(),
        }
    }

    #[test]
    fn commits_recovered_log_then_durable_proposals() {
        let mut s = Solo::new(
            1,
            Recovered {
                log: vec![e(1), e(2)],
                ..Recovered::default()
            },
        );
        let outs: Vec<Output> = std::iter::from_fn(|| s.poll_output()).collect();
        assert!(matches!(outs[0], Output::Commit(ref x) if x.zxid == 1));
        assert!(matches!(outs[2], Output::RoleChanged { serving: true, .. }));
        assert!(!s.propose(e(2)));
        assert!(s.propose(e(3)) && s.propose(e(4)));
        s.sync(7);
        s.persisted(3);
        s.persisted(4);
        let outs: Vec<Output> = std::iter::from_fn(|| s.poll_output()).collect();
        let commits: Vec<Zxid> = outs
            .iter()
            .filter_map(|o| match o {
                Output::Commit(x) => Some(x.zxid),
                _ => None,
            })
            .collect();
        assert_eq!(commits, [3, 4]);
        assert_eq!(outs.last(), Some(&Output::SyncDone(7)));
        s.sync(8);
        assert_eq!(s.poll_output(), Some(Output::SyncDone(8)));
    }
}
