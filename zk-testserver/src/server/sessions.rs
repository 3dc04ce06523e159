//! Session tracking: ids, passwords, timeout negotiation and expiry buckets.
//!
//! Expiry works like ZooKeeper's expiry queue: a session's deadline is rounded
//! up to the next tick boundary, so sessions expire in per-tick batches. Every
//! request or ping from the session pushes its deadline out again. Time comes
//! in as a monotonic millisecond count.

use sha1::{Digest as _, Sha1};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use zk_client::proto::PASSWORD_LEN;

#[derive(Debug, Clone)]
struct Tracked {
    timeout_ms: i32,
    deadline: u64,
    closing: bool,
}

/// The live sessions of a server and when each expires.
#[derive(Debug, Clone)]
pub struct SessionTracker {
    tick_ms: u64,
    buckets: BTreeMap<u64, BTreeSet<i64>>,
    sessions: HashMap<i64, Tracked>,
    next_id: i64,
}

/// The first session id of a server: its id in the top byte, then the start
/// time shifted into the middle bits (ZooKeeper's scheme).
pub fn initial_session_id(server_id: u8, now_ms: i64) -> i64 {
    let time = ((now_ms as u64) << 24) >> 8;
    let id = time | (u64::from(server_id) << 56);
    let id = id as i64;
    if id == i64::MIN {
        id + 1
    } else {
        id
    }
}

/// The password of a session: derived from its id and the server secret.
pub fn session_password(session_id: i64, secret: u64) -> [u8; PASSWORD_LEN] {
    let mut h = Sha1::new();
    h.update(secret.to_be_bytes());
    h.update(session_id.to_be_bytes());
    let digest = h.finalize();
    let mut out = [0u8; PASSWORD_LEN];
    out.copy_from_slice(&digest[..PASSWORD_LEN]);
    out
}

impl SessionTracker {
    /// A tracker with `tick_ms` buckets, handing out ids from `first_id`.
    pub fn new(tick_ms: u64, first_id: i64) -> SessionTracker {
        SessionTracker {
            tick_ms: tick_ms.max(1),
            buckets: BTreeMap::new(),
            sessions: HashMap::new(),
            next_id: first_id,
        }
    }

    /// Tracks exactly `sessions` (id → timeout), each with a full timeout
    /// from `now_ms`, none closing; the id counter is kept. Used when a
    /// member starts serving, as ZooKeeper rebuilds its tracker from the
    /// replicated session table.
    pub fn reset(&mut self, sessions: &BTreeMap<i64, i32>, now_ms: u64) {
        self.buckets.clear();
        self.sessions.clear();
        for (id, timeout) in sessions {
            self.add(*id, *timeout, now_ms);
        }
    }

    /// A fresh session id.
    pub fn next_id(&mut self) -> i64 {
        let id = self.next_id;
        self.next_id = self.next_id.wrapping_add(1);
        id
    }

    fn bucket(&self, t: u64) -> u64 {
        (t / self.tick_ms + 1) * self.tick_ms
    }

    /// Starts tracking `id` (new session, or one recovered from the log).
    pub fn add(&mut self, id: i64, timeout_ms: i32, now_ms: u64) {
        self.sessions.insert(
            id,
            Tracked {
                timeout_ms,
                deadline: 0,
                closing: false,
            },
        );
        self.touch(id, now_ms);
    }

    /// Pushes the session's deadline out; false if unknown or closing.
    pub fn touch(&mut self, id: i64, now_ms: u64) -> bool {
        let Some(s) = self.sessions.get(&id) else {
            return false;
        };
        if s.closing {
            return false;
        }
        let old = s.deadline;
        let new = self.bucket(now_ms.saturating_add(s.timeout_ms.max(0) as u64));
        if old == new {
            return true;
        }
        if let Some(b) = self.buckets.get_mut(&old) {
            b.remove(&id);
            if b.is_empty() {
                self.buckets.remove(&old);
            }
        }
        self.buckets.entry(new).or_default().insert(id);
        if let Some(s) = self.sessions.get_mut(&id) {
            s.deadline = new;
        }
        true
    }

    /// Sets a live session's timeout (a reattach negotiates a new one).
    pub fn set_timeout(&mut self, id: i64, timeout_ms: i32, now_ms: u64) {
        if let Some(s) = self.sessions.get_mut(&id) {
            s.timeout_ms = timeout_ms;
        }
        self.touch(id, now_ms);
    }

    /// Whether the session is known and not closing.
    pub fn is_live(&self, id: i64) -> bool {
        self.sessions.get(&id).is_some_and(|s| !s.closing)
    }

    /// Whether the session is known but closing.
    pub fn is_closing(&self, id: i64) -> bool {
        self.sessions.get(&id).is_some_and(|s| s.closing)
    }

    /// Marks a session as closing (a close or expiry transaction is on its way).
    pub fn set_closing(&mut self, id: i64) {
        if let Some(s) = self.sessions.get_mut(&id) {
            s.closing = true;
            let d = s.deadline;
            if let Some(b) = self.buckets.get_mut(&d) {
                b.remove(&id);
                if b.is_empty() {
                    self.buckets.remove(&d);
                }
            }
        }
    }

    /// Forgets a session (its close was applied).
    pub fn remove(&mut self, id: i64) {
        self.set_closing(id);
        self.sessions.remove(&id);
    }

    /// Sessions whose deadline has passed at `now_ms`, now marked closing.
    pub fn expire(&mut self, now_ms: u64) -> Vec<i64> {
        let due: Vec<u64> = self.buckets.range(..=now_ms).map(|(k, _)| *k).collect();
        let mut out = Vec::new();
        for k in due {
            if let Some(ids) = self.buckets.remove(&k) {
                for id in ids {
                    if let Some(s) = self.sessions.get_mut(&id) {
                        s.closing = true;
                    }
                    out.push(id);
                }
            }
        }
        out
    }

    /// The session's negotiated timeout.
    pub fn timeout(&self, id: i64) -> Option<i32> {
        self.sessions.get(&id).map(|s| s.timeout_ms)
    }

    /// Live and closing sessions with their timeouts, sorted by id.
    pub fn list(&self) -> Vec<(i64, i32)> {
        let mut v: Vec<_> = self
            .sessions
            .iter()
            .map(|(k, s)| (*k, s.timeout_ms))
            .collect();
        v.sort();
        v
    }

    /// Sessions by expiry bucket (for `dump`).
    pub fn buckets(&self) -> Vec<(u64, Vec<i64>)> {
        self.buckets
            .iter()
            .map(|(k, v)| (*k, v.iter().copied().collect()))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_passwords() {
        let id = initial_session_id(1, 0x1234_5678);
        assert_eq!(id >> 56, 1);
        assert_ne!(session_password(id, 1), session_password(id + 1, 1));
        assert_ne!(session_password(id, 1), session_password(id, 2));
        assert_eq!(session_password(id, 1), session_password(id, 1));
    }

    #[test]
    fn expiry_after_silence_and_touch_refreshes() {
        let mut t = SessionTracker::new(100, 1);
        let a = t.next_id();
        let b = t.next_id();
        t.add(a, 1000, 0);
        t.add(b, 1000, 0);
        // Deadline rounds up to the next tick boundary after now + timeout.
        assert!(t.expire(1099).is_empty());
        assert!(t.touch(b, 500));
        assert_eq!(t.expire(1100), vec![a]);
        assert!(t.is_closing(a));
        assert!(!t.touch(a, 1100));
        assert!(t.expire(1599).is_empty());
        assert_eq!(t.expire(1600), vec![b]);
        t.remove(a);
        assert!(!t.is_live(a) && !t.is_closing(a));
        t.reset(&BTreeMap::from([(a, 500)]), 2000);
        assert!(t.is_live(a) && !t.is_live(b));
        assert_eq!(t.expire(2599), Vec::<i64>::new());
        assert_eq!(t.expire(2600), vec![a]);
    }
}
