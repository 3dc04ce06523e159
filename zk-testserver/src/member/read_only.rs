//! Read-only mode of a member (ZooKeeper's `readonlymode.enabled`): after
//! looking for a leader for a grace period, a member serves read-only
//! sessions from its own tree until it joins a quorum again (see
//! [`crate::server::Server::start_read_only`] for what such a session may do).
//!
//! ZooKeeper starts its `ReadOnlyZooKeeperServer` when a member is still
//! LOOKING `max(2 s, tickTime)` after its election began, and shuts it down
//! (closing every connection) as soon as the member follows or leads.

use super::MemberMachine;
use crate::zab::Role;
use std::time::{Duration, Instant};

/// ZooKeeper's grace period before a looking member turns read-only:
/// `max(2000 ms, tickTime)`.
pub fn default_grace(tick: Duration) -> Duration {
    tick.max(Duration::from_secs(2))
}

impl MemberMachine {
    /// When the member turns read-only if it is still looking (None: read-only
    /// mode off, not looking, standalone, or read-only already).
    pub(super) fn read_only_deadline(&self) -> Option<Instant> {
        let grace = self.read_only_grace?;
        let since = self.looking_since?;
        if self.members < 2 || self.server.is_read_only() {
            return None;
        }
        Some(since + grace)
    }

    /// Turns read-only once the grace period has passed while looking.
    pub(super) fn check_read_only(&mut self, now: Instant) {
        if self.status.role != Role::Looking {
            return;
        }
        if self.read_only_deadline().is_some_and(|t| t <= now) {
            let time = self.base.time(now);
            self.server.start_read_only(time);
        }
    }

    /// Whether the member serves read-only sessions now.
    pub fn is_read_only(&self) -> bool {
        self.server.is_read_only()
    }
}
