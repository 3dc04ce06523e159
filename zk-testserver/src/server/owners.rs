//! Which member a session is attached through, as the member that prepares
//! writes (the leader) knows it: ZooKeeper's session owner.
//!
//! A client that re-attaches its session through another member moves it
//! there. From then on ZooKeeper's leader refuses the session's requests
//! that come through the old member (`SessionMoved`): the old connection is
//! closed without a reply when it next writes (or, when it is on the leader
//! itself, when it next sends anything), so two connections never act for
//! one session. Reads and pings on an old connection held by a follower are
//! still answered there, as by ZooKeeper; `closeSession` is never refused.

use std::collections::HashMap;

/// A member id (ZooKeeper's `myid`).
pub type Owner = u64;

/// The owner of every session the leader has seen a request for.
#[derive(Debug, Clone, Default)]
pub struct SessionOwners {
    owners: HashMap<i64, Owner>,
}

impl SessionOwners {
    /// The session is now attached through `owner` (created or re-attached
    /// there).
    pub fn attach(&mut self, session: i64, owner: Owner) {
        self.owners.insert(session, owner);
    }

    /// Whether a request of `session` may come through `owner`. A session
    /// without a known owner (a leader elected since it was last attached)
    /// is claimed by the first member that sends a request for it, as in
    /// ZooKeeper.
    pub fn claim(&mut self, session: i64, owner: Owner) -> bool {
        *self.owners.entry(session).or_insert(owner) == owner
    }

    /// Forgets a closed or expired session.
    pub fn remove(&mut self, session: i64) {
        self.owners.remove(&session);
    }

    /// Forgets every owner (leadership lost or starting).
    pub fn clear(&mut self) {
        self.owners.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_attach_owns_and_unknown_sessions_are_claimed() {
        let mut o = SessionOwners::default();
        o.attach(7, 1);
        assert!(o.claim(7, 1));
        o.attach(7, 2);
        assert!(!o.claim(7, 1), "moved to member 2");
        assert!(o.claim(7, 2));
        assert!(o.claim(8, 3), "unknown: claimed by the first");
        assert!(!o.claim(8, 1));
        o.remove(8);
        assert!(o.claim(8, 1));
        o.clear();
        assert!(o.claim(7, 1));
    }
}
