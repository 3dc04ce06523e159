//! Membership change (ZooKeeper's dynamic reconfiguration) on the leader.
//!
//! A reconfiguration is an ordinary proposal that also names the next
//! configuration. From the moment it is proposed until it commits, the
//! leader counts every proposal from it on against both configurations: an
//! entry commits only when a quorum of the old voters and a quorum of the new
//! ones have it durable (ZooKeeper's proposals with two quorum verifiers).
//! Learners that vote in the next configuration get proposals (and ack them)
//! from then on, even if they joined as non-voting learners. When the
//! reconfiguration commits, the leader switches to the new voter set at once;
//! every other member switches when it applies the committed entry
//! ([`super::Member::adopt_config`]).

use super::quorum::watermark;
use super::MemberId;
use crate::storage::Zxid;

/// A proposed configuration that has not committed yet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct PendingConfig {
    /// The zxid of the reconfiguration entry.
    pub(crate) zxid: Zxid,
    /// The voters of the next configuration.
    pub(crate) members: Vec<MemberId>,
    /// Its non-voting members.
    pub(crate) observers: Vec<MemberId>,
}

impl PendingConfig {
    /// The highest zxid that may commit, given `old` (what a quorum of the
    /// current voters has durable) and `marks_new` (the durable points of the
    /// next configuration's voters): entries before the reconfiguration need
    /// the old quorum only; it and later entries need both.
    pub(crate) fn commit_point(&self, old: Zxid, marks_new: Vec<Zxid>) -> Zxid {
        if old < self.zxid {
            return old;
        }
        let new = watermark(marks_new, self.members.len() / 2 + 1).unwrap_or(0);
        old.min(new).max(self.zxid - 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_from_the_reconfig_on_need_both_quorums() {
        let p = PendingConfig {
            zxid: 10,
            members: vec![1, 4, 5],
            observers: vec![],
        };
        // Before the reconfiguration, the old quorum alone decides.
        assert_eq!(p.commit_point(8, vec![]), 8);
        // The old quorum reached 12, the new one (2 of {1,4,5}) only 9.
        assert_eq!(p.commit_point(12, vec![12, 9, 0]), 9);
        // Both reached 11.
        assert_eq!(p.commit_point(12, vec![12, 11, 0]), 11);
        // The new one is ahead: the old one decides.
        assert_eq!(p.commit_point(11, vec![12, 12, 12]), 11);
    }
}
