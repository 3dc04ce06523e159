//! The commit step between preparation and apply.
//!
//! The server hands every prepared transaction, encoded, to a [`Committer`]
//! and applies whatever the committer reports as committed, in order. A single
//! member commits at once ([`LocalCommitter`]); the replicated ensemble plugs
//! in a committer driven by the ZAB machine (leader proposes, a quorum acks,
//! commits arrive in zxid order), without changes to preparation or apply.

use crate::storage::LogEntry;
use bytes::Bytes;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use zk_client::proto::Id;

/// An applied log shared between a committer and whoever restarts the server.
pub type SharedLog = Arc<Mutex<Vec<LogEntry>>>;

/// A client write a follower hands to the member that prepares writes (the
/// leader), with what preparation needs to know about the connection.
#[derive(Clone, PartialEq, Eq)]
pub struct ForwardedWrite {
    /// The requesting session.
    pub session_id: i64,
    /// The request's xid.
    pub cxid: i32,
    /// The request opcode (`createSession` carries the negotiated timeout as
    /// a big-endian i32 body).
    pub op: i32,
    /// The request body, encoded as on the wire.
    pub body: Bytes,
    /// The connection's identities (for ACL checks and `auth` ACL expansion).
    pub auth: Vec<Id>,
}

impl std::fmt::Debug for ForwardedWrite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ForwardedWrite")
            .field("session_id", &format_args!("{:#x}", self.session_id))
            .field("cxid", &self.cxid)
            .field("op", &self.op)
            .field("body_len", &self.body.len())
            .field("auth", &"<redacted>")
            .finish()
    }
}

/// Where prepared transactions go to be ordered and made durable.
///
/// A standalone server or a leader prepares writes itself and
/// [`propose`](Committer::propose)s them; a follower reports
/// `prepares_writes() == false` and [`forward`](Committer::forward)s client
/// writes instead, to be fed to the leader's
/// [`Server::handle_forwarded`](super::Server::handle_forwarded). Every member
/// applies what [`poll_committed`](Committer::poll_committed) yields, and
/// answers the connections it holds (matched by session and xid).
pub trait Committer: Send {
    /// Hands over a prepared transaction (already carrying its zxid).
    fn propose(&mut self, entry: LogEntry);
    /// The next committed entry to apply, in zxid order; `None` until more
    /// commits arrive.
    fn poll_committed(&mut self) -> Option<LogEntry>;
    /// Whether this member prepares writes (standalone or leader).
    fn prepares_writes(&self) -> bool {
        true
    }
    /// Sends a client write to the member that prepares writes. Only called
    /// when [`Committer::prepares_writes`] is false.
    fn forward(&mut self, write: ForwardedWrite) {
        tracing::error!(?write, "forward called on a committer that prepares writes");
    }
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
