//! Messages exchanged between members, and zxid arithmetic.

use bytes::Bytes;
use std::cmp::Ordering;

use super::MemberId;
use crate::storage::{LogEntry, Zxid};

/// The epoch part (high 32 bits) of a zxid.
pub fn zxid_epoch(zxid: Zxid) -> u32 {
    (zxid >> 32) as u32
}

/// The counter part (low 32 bits) of a zxid.
pub fn zxid_counter(zxid: Zxid) -> u32 {
    (zxid & 0xffff_ffff) as u32
}

/// Builds a zxid from an epoch and a counter.
pub fn make_zxid(epoch: u32, counter: u32) -> Zxid {
    (i64::from(epoch) << 32) | i64::from(counter)
}

/// What a member proposes as leader during an election.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Vote {
    /// The proposed leader.
    pub leader: MemberId,
    /// The proposed leader's last logged zxid.
    pub zxid: Zxid,
    /// The proposed leader's current epoch (`peerEpoch`).
    pub epoch: u32,
}

impl Vote {
    /// The total order of votes: by epoch, then last zxid, then member id.
    pub fn order(&self, other: &Vote) -> Ordering {
        (self.epoch, self.zxid, self.leader).cmp(&(other.epoch, other.zxid, other.leader))
    }

    /// True if `self` beats `other`.
    pub fn beats(&self, other: &Vote) -> bool {
        self.order(other) == Ordering::Greater
    }
}

/// The state a member reports alongside its vote.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PeerState {
    /// Electing a leader.
    Looking,
    /// Following the leader named in the vote.
    Following,
    /// Leading (the vote names the sender).
    Leading,
}

/// An election notification: a vote, the sender's election round and state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Notification {
    /// The sender's current (or, when not looking, deciding) vote.
    pub vote: Vote,
    /// The sender's election round (`logicalclock`).
    pub round: u64,
    /// The sender's state.
    pub state: PeerState,
}

/// A message between two members. Every message travels on a per-pair link
/// that must deliver in FIFO order (it may drop, delay or cut; the machine
/// detects the gaps that matter and rejoins).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ZabMessage {
    /// Election notification.
    Vote(Notification),
    /// Follower → leader: start of discovery.
    FollowerInfo {
        /// The follower's `acceptedEpoch`.
        accepted_epoch: u32,
        /// The follower's last logged zxid.
        last_zxid: Zxid,
    },
    /// Leader → follower: the epoch the leader proposes.
    LeaderInfo {
        /// The new epoch.
        epoch: u32,
    },
    /// Follower → leader: the follower accepted the new epoch.
    AckEpoch {
        /// The follower's `currentEpoch`.
        current_epoch: u32,
        /// False if the follower had already accepted this epoch before (such an
        /// ack does not count toward the leader's epoch quorum).
        fresh: bool,
        /// The follower's last logged zxid.
        last_zxid: Zxid,
    },
    /// Leader → follower: keep the log up to `zxid` (a common point); the
    /// missing proposals follow.
    Diff {
        /// The follower's last zxid, known to be in the leader's history.
        zxid: Zxid,
    },
    /// Leader → follower: drop log entries after `zxid`; proposals follow.
    Trunc {
        /// The last zxid the follower and the leader have in common.
        zxid: Zxid,
    },
    /// Leader → follower: replace everything with this snapshot; proposals follow.
    /// Sent by the leader's driver in place of [`super::Output::SendSnapshot`].
    Snap {
        /// The last zxid applied in `data`.
        zxid: Zxid,
        /// The serialized data tree.
        data: Bytes,
    },
    /// Leader → follower: log this entry (it directly follows `prev`).
    Proposal {
        /// The zxid of the entry before this one in the leader's history.
        prev: Zxid,
        /// The proposed entry.
        entry: LogEntry,
    },
    /// Leader → observer: log this entry, already committed (it directly
    /// follows `prev`; the commit point follows). Unlike a proposal, it is
    /// never acknowledged: ZooKeeper's INFORM, for learners without a vote.
    Inform {
        /// The zxid of the entry before this one in the leader's history.
        prev: Zxid,
        /// The committed entry.
        entry: LogEntry,
    },
    /// Leader → follower: every entry up to and including this zxid is committed.
    Commit(Zxid),
    /// Leader → follower: end of sync; acknowledge once all of it is durable.
    NewLeader {
        /// The leader's epoch.
        epoch: u32,
        /// The last zxid of the synced history; a follower whose log does not
        /// end there lost part of the sync and must not acknowledge.
        last: Zxid,
    },
    /// Follower → leader: the synced history and the new epoch are durable.
    AckNewLeader {
        /// The leader's epoch.
        epoch: u32,
    },
    /// Leader → follower: the leader is established; start serving.
    UpToDate,
    /// Follower → leader: every entry up to and including this zxid is durable.
    Ack(Zxid),
    /// Leader → follower heartbeat, carrying the leader's log tail and commit
    /// point (a synced follower behind `last` lost a proposal and rejoins).
    Ping {
        /// The leader's last proposed zxid.
        last: Zxid,
        /// The leader's last committed zxid.
        committed: Zxid,
    },
    /// Follower → leader heartbeat reply, carrying the follower's durable point
    /// (zero until it has acknowledged NEWLEADER).
    PingReply {
        /// The follower's last durable zxid.
        acked: Zxid,
    },
    /// Follower → leader: answer once everything outstanding now is committed.
    Sync {
        /// The follower's token, echoed back.
        token: u64,
    },
    /// Leader → follower: answer to [`ZabMessage::Sync`], with the leader's
    /// commit point (at least the sync's target). A follower commits up to it
    /// before completing the sync, so a lost COMMIT cannot make a sync
    /// complete early.
    SyncReply {
        /// The token of the request.
        token: u64,
        /// The leader's last committed zxid when it answered.
        committed: Zxid,
    },
    /// Opaque payload for the server layer (forwarded writes, session activity).
    App(Bytes),
}

impl ZabMessage {
    /// A short name for logs and statistics.
    pub fn kind(&self) -> &'static str {
        match self {
            ZabMessage::Vote(_) => "Vote",
            ZabMessage::FollowerInfo { .. } => "FollowerInfo",
            ZabMessage::LeaderInfo { .. } => "LeaderInfo",
            ZabMessage::AckEpoch { .. } => "AckEpoch",
            ZabMessage::Diff { .. } => "Diff",
            ZabMessage::Trunc { .. } => "Trunc",
            ZabMessage::Snap { .. } => "Snap",
            ZabMessage::Proposal { .. } => "Proposal",
            ZabMessage::Inform { .. } => "Inform",
            ZabMessage::Commit(_) => "Commit",
            ZabMessage::NewLeader { .. } => "NewLeader",
            ZabMessage::AckNewLeader { .. } => "AckNewLeader",
            ZabMessage::UpToDate => "UpToDate",
            ZabMessage::Ack(_) => "Ack",
            ZabMessage::Ping { .. } => "Ping",
            ZabMessage::PingReply { .. } => "PingReply",
            ZabMessage::Sync { .. } => "Sync",
            ZabMessage::SyncReply { .. } => "SyncReply",
            ZabMessage::App(_) => "App",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zxid_parts_round_trip() {
        let z = make_zxid(7, 42);
        assert_eq!(zxid_epoch(z), 7);
        assert_eq!(zxid_counter(z), 42);
        assert!(make_zxid(2, 1) > make_zxid(1, u32::MAX));
    }

    #[test]
    fn vote_order_is_epoch_then_zxid_then_id() {
        let v = |leader, zxid, epoch| Vote {
            leader,
            zxid,
            epoch,
        };
        assert!(v(1, 5, 2).beats(&v(3, 100, 1)));
        assert!(v(1, 100, 1).beats(&v(3, 5, 1)));
        assert!(v(3, 5, 1).beats(&v(1, 5, 1)));
        assert!(!v(3, 5, 1).beats(&v(3, 5, 1)));
    }
}
