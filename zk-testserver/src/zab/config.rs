//! Static configuration of one ensemble member.

use std::time::Duration;

use super::MemberId;

/// Configuration of one member. All members of an ensemble must agree on
/// `members`, `tick`, `init_limit` and `sync_limit`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ZabConfig {
    /// This member's id; must appear in `members`.
    pub id: MemberId,
    /// Every voting member of the ensemble (this one included, unless it
    /// observes).
    pub members: Vec<MemberId>,
    /// Non-voting members (ZooKeeper's observers): they sync with the
    /// leader, learn every commit and serve clients, but take no part in
    /// elections or quorums. Empty by default.
    pub observers: Vec<MemberId>,
    /// The basic time unit (ZooKeeper's `tickTime`).
    pub tick: Duration,
    /// Ticks a follower may take to connect to and sync with a leader, and a new
    /// leader to gather and sync a quorum (ZooKeeper's `initLimit`).
    pub init_limit: u32,
    /// Ticks a serving follower may go without hearing from its leader, and a
    /// leader without hearing from a quorum (ZooKeeper's `syncLimit`).
    pub sync_limit: u32,
    /// Ticks a LOOKING member waits, once a quorum agrees on a vote, for a
    /// better vote before deciding (ZooKeeper's `finalizeWait`). Not used when
    /// every member agrees.
    pub finalize_ticks: u32,
    /// Committed entries kept in memory to sync followers by DIFF; a follower
    /// further behind gets a snapshot.
    pub diff_retention: usize,
    /// Seed of the member's random number generator (election retry jitter).
    pub seed: u64,
}

impl ZabConfig {
    /// A configuration with ZooKeeper-like defaults: 100 ms ticks, `init_limit`
    /// 10, `sync_limit` 5, one finalize tick, 500 entries kept for DIFF, and the
    /// member id as seed.
    pub fn new(id: MemberId, members: Vec<MemberId>) -> Self {
        ZabConfig {
            id,
            members,
            observers: Vec::new(),
            tick: Duration::from_millis(100),
            init_limit: 10,
            sync_limit: 5,
            finalize_ticks: 1,
            diff_retention: 500,
            seed: id,
        }
    }

    /// Checks the configuration; [`super::Member::new`] calls this.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !self.members.contains(&self.id) && !self.observers.contains(&self.id) {
            return Err(ConfigError::NotAMember(self.id));
        }
        let mut sorted = self.members.clone();
        sorted.extend(&self.observers);
        sorted.sort_unstable();
        sorted.dedup();
        if sorted.len() != self.members.len() + self.observers.len() {
            return Err(ConfigError::DuplicateMember);
        }
        if self.tick.is_zero() {
            return Err(ConfigError::ZeroTick);
        }
        if self.init_limit == 0 || self.sync_limit == 0 {
            return Err(ConfigError::ZeroLimit);
        }
        Ok(())
    }

    /// Whether this member observes (does not vote).
    pub fn is_observer(&self) -> bool {
        self.observers.contains(&self.id)
    }

    /// Votes needed for a quorum: a strict majority of `members`.
    pub fn quorum(&self) -> usize {
        self.members.len() / 2 + 1
    }

    pub(crate) fn ticks(&self, n: u32) -> Duration {
        self.tick.saturating_mul(n)
    }
}

/// Why a [`ZabConfig`] was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// `id` does not appear in `members`.
    #[error("member {0} is not in the member list")]
    NotAMember(MemberId),
    /// A member id appears twice.
    #[error("the member list has a duplicate id")]
    DuplicateMember,
    /// `tick` is zero.
    #[error("tick must be positive")]
    ZeroTick,
    /// `init_limit` or `sync_limit` is zero.
    #[error("init_limit and sync_limit must be positive")]
    ZeroLimit,
}
