//! What the server hands to replication: prepared transactions to propose
//! (when it prepares writes), client writes to forward to the member that
//! prepares them (a follower), and `sync` barriers.
//!
//! The server never learns by itself what is committed: whoever drives it
//! calls [`Server::apply_committed`](super::Server::apply_committed) with each
//! committed entry, in zxid order, on every member, and
//! [`Server::sync_done`](super::Server::sync_done) when a barrier completes.

use crate::storage::LogEntry;
use bytes::Bytes;
use zk_client::proto::Id;

/// The internal opcode of a [`ForwardedWrite`] telling the leader that a
/// connection on the forwarding member re-attached the session (ZooKeeper's
/// REVALIDATE: the session is now owned there; see
/// [`super::owners`]). Its body is empty; it is answered by no one.
pub const REATTACHED: i32 = -20;

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

/// A request from the server to the replication layer, in the order made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Submission {
    /// Order and replicate this prepared transaction (it already carries its
    /// zxid, the next one after the previous proposal).
    Propose(LogEntry),
    /// Send this client write to the member that prepares writes.
    Forward(ForwardedWrite),
    /// Call back [`Server::sync_done`](super::Server::sync_done) with this
    /// token once everything the leader has proposed now is applied here.
    Sync(u64),
}
