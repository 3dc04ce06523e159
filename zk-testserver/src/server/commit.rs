//! The commit step between preparation and apply.
//!
//! The server hands every prepared transaction, encoded, to a [`Committer`]
//! and applies whatever the committer reports as committed, in order. A single
//! member commits at once ([`LocalCommitter`]); the replicated ensemble plugs
//! in a committer driven by the ZAB machine (leader proposes, a quorum acks,
//! commits arrive in zxid order), without changes to preparation or apply.

use crate::storage::LogEntry;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

/// An applied log shared between a committer and whoever restarts the server.
pub type SharedLog = Arc<Mutex<Vec<LogEntry>>>;

/// Where prepared transactions go to be ordered and made durable.
pub trait Committer: Send {
    /// Hands over a prepared transaction (already carrying its zxid).
    fn propose(&mut self, entry: LogEntry);
    /// The next committed entry to apply, in zxid order; `None` until more
    /// commits arrive.
    fn poll_committed(&mut self) -> Option<LogEntry>;
}

/// A single-member committer: every proposal is committed at once and kept in
/// an in-memory log, so a restarted server can replay it.
#[derive(Debug, Default)]
pub struct LocalCommitter {
    log: SharedLog,
    ready: VecDeque<LogEntry>,
}

impl LocalCommitter {
    /// A committer appending to `log` (whose entries the caller already applied).
    pub fn new(log: SharedLog) -> LocalCommitter {
        LocalCommitter {
            log,
            ready: VecDeque::new(),
        }
    }

    /// The shared log.
    pub fn log(&self) -> SharedLog {
        self.log.clone()
    }
}

impl Committer for LocalCommitter {
    fn propose(&mut self, entry: LogEntry) {
        self.log
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(entry.clone());
        self.ready.push_back(entry);
    }

    fn poll_committed(&mut self) -> Option<LogEntry> {
        self.ready.pop_front()
    }
}
