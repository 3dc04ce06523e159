//! Named failpoints in the replication path.
//!
//! A test arms a [`Failpoint`] on one member with an [`Action`]; the member
//! machine checks the point where it is named and, the first time it is
//! reached, acts: it crashes there, pauses there, or drops its link to the
//! leader there. An armed failpoint fires once and disarms itself.
//!
//! Unarmed failpoints cost one array lookup at each named point (the check
//! that needs decoding, [`Failpoint::CloseSessionProposal`], decodes only
//! when that point is armed).
//!
//! The same member machine runs under the tokio driver and under the
//! deterministic simulator; both carry out the actions the same way: a
//! crash stops the member as a killed process would (what it had not
//! flushed is lost), and a pause makes the driver stop reading inputs and
//! carrying out effects for a while.
//!
//! ```
//! use std::time::Duration;
//! use zk_testserver::failpoint::{Action, Failpoint, Failpoints};
//!
//! let mut fps = Failpoints::default();
//! fps.arm(Failpoint::AfterNewLeaderAck, Action::Crash);
//! fps.arm(Failpoint::BeforeAck, Action::Pause(Duration::from_millis(300)));
//! assert_eq!(fps.take(Failpoint::AfterNewLeaderAck), Some(Action::Crash));
//! // Fired once: disarmed now.
//! assert_eq!(fps.take(Failpoint::AfterNewLeaderAck), None);
//! assert_eq!(fps.hits(), 1);
//! ```

use std::fmt;
use std::time::Duration;

/// A named point in a member's replication path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Failpoint {
    /// Follower, broadcast: a proposal is durable in the log and the ACK for
    /// it is about to be sent (fires before the ACK leaves).
    BeforeAck,
    /// Leader, sync: a SNAP was just handed to the link to a follower (fires
    /// after it, before the proposals, commit point and NEWLEADER that
    /// follow it).
    SnapSent,
    /// Follower, sync: a SNAP arrived and is installed in memory, not yet in
    /// storage (fires before it is persisted and before anything it leads
    /// to is acknowledged).
    SnapReceived,
    /// Follower, sync: the ACK of NEWLEADER was just sent (its log and
    /// epoch are durable; UPTODATE has not arrived).
    AfterNewLeaderAck,
    /// A closeSession proposal: on a follower when the PROPOSAL message
    /// carrying it arrives (on an observer, the INFORM; fires before the
    /// message is processed); on the leader once it is appended to the log
    /// (fires before it is durable and before it is sent to the followers).
    CloseSessionProposal,
    /// Follower, sync: a TRUNC was carried out on the log (fires before the
    /// proposals and NEWLEADER that follow it are processed).
    AfterTrunc,
}

impl Failpoint {
    /// Every failpoint, in declaration order.
    pub const ALL: [Failpoint; 6] = [
        Failpoint::BeforeAck,
        Failpoint::SnapSent,
        Failpoint::SnapReceived,
        Failpoint::AfterNewLeaderAck,
        Failpoint::CloseSessionProposal,
        Failpoint::AfterTrunc,
    ];

    fn index(self) -> usize {
        self as usize
    }

    /// The failpoint's name, as used on command lines and in logs.
    pub fn name(self) -> &'static str {
        match self {
            Failpoint::BeforeAck => "before-ack",
            Failpoint::SnapSent => "snap-sent",
            Failpoint::SnapReceived => "snap-received",
            Failpoint::AfterNewLeaderAck => "after-newleader-ack",
            Failpoint::CloseSessionProposal => "close-session-proposal",
            Failpoint::AfterTrunc => "after-trunc",
        }
    }

    /// The failpoint with this [`name`](Failpoint::name).
    pub fn from_name(name: &str) -> Option<Failpoint> {
        Failpoint::ALL.into_iter().find(|f| f.name() == name)
    }
}

impl fmt::Display for Failpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What a member does when it reaches an armed failpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Stop as a killed process: effects before the point are carried out,
    /// nothing after; appends not yet flushed are lost.
    Crash,
    /// Stop reading inputs and carrying out effects for this long, then go
    /// on (a stalled process: a GC pause, a slow disk).
    Pause(Duration),
    /// The link to the leader fails at this point (a socket error): a
    /// follower rejoins the election with its in-memory state, as
    /// ZooKeeper's learner does after an I/O error. A message that fires
    /// the point on arrival is dropped unprocessed. Ignored on a leader.
    Rejoin,
}

/// The armed failpoints of one member, and how many fired.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Failpoints {
    armed: [Option<Action>; Failpoint::ALL.len()],
    hits: u32,
}

impl Failpoints {
    /// Arms `point` with `action` (replacing an earlier arming).
    pub fn arm(&mut self, point: Failpoint, action: Action) {
        self.armed[point.index()] = Some(action);
    }

    /// Disarms `point`.
    pub fn disarm(&mut self, point: Failpoint) {
        self.armed[point.index()] = None;
    }

    /// Whether `point` is armed (without firing it).
    pub fn is_armed(&self, point: Failpoint) -> bool {
        self.armed[point.index()].is_some()
    }

    /// Whether any point is armed.
    pub fn any(&self) -> bool {
        self.armed.iter().any(Option::is_some)
    }

    /// Fires `point` if armed: returns its action and disarms it.
    pub fn take(&mut self, point: Failpoint) -> Option<Action> {
        let action = self.armed[point.index()].take()?;
        self.hits = self.hits.saturating_add(1);
        tracing::warn!(failpoint = %point, ?action, "failpoint fired");
        Some(action)
    }

    /// How many failpoints fired so far.
    pub fn hits(&self) -> u32 {
        self.hits
    }

    /// The armed points and their actions.
    pub fn armed(&self) -> Vec<(Failpoint, Action)> {
        Failpoint::ALL
            .into_iter()
            .filter_map(|p| self.armed[p.index()].map(|a| (p, a)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_points_fire_once() {
        for p in Failpoint::ALL {
            assert_eq!(Failpoint::from_name(p.name()), Some(p));
        }
        assert_eq!(Failpoint::from_name("nope"), None);
        let mut f = Failpoints::default();
        assert!(!f.any());
        f.arm(Failpoint::SnapSent, Action::Rejoin);
        assert!(f.any() && f.is_armed(Failpoint::SnapSent));
        assert_eq!(f.armed(), [(Failpoint::SnapSent, Action::Rejoin)]);
        assert_eq!(f.take(Failpoint::BeforeAck), None);
        assert_eq!(f.take(Failpoint::SnapSent), Some(Action::Rejoin));
        assert_eq!(f.take(Failpoint::SnapSent), None);
        assert_eq!(f.hits(), 1);
        f.arm(Failpoint::AfterTrunc, Action::Crash);
        f.disarm(Failpoint::AfterTrunc);
        assert!(!f.any());
    }
}
