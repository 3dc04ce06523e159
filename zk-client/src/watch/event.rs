//! What watches deliver.

use crate::proto::EventType;

/// A change to a watched node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchedEvent {
    /// What happened.
    pub event_type: EventType,
    /// The node it happened to (client-relative under a chroot).
    pub path: String,
    /// The zxid of the transaction that caused it, or -1 when the server
    /// fired the watch while re-registering it after a reconnect.
    pub zxid: i64,
}

/// One delivery on a watch: a node event, or a change in what the watch can
/// still promise.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum WatchEvent {
    /// A node changed.
    Node(WatchedEvent),
    /// Events may be missing here: the connection was lost and
    /// re-established with the same session (the persistent watch is
    /// registered again, but changes made while disconnected were not
    /// reported), or the reader fell behind by more than the stream holds
    /// and events were dropped. Re-read the state the watch follows. Only
    /// persistent watches get this (one-shot watches are re-armed with the
    /// last seen zxid, so the server reports missed changes to them).
    Resync,
    /// The watch was removed with `remove_watches`; nothing follows.
    Removed,
    /// The session expired; nothing follows.
    Expired,
    /// Authentication failed and the session is unusable; nothing follows.
    AuthFailed,
    /// The client was closed; nothing follows.
    Closed,
}

impl WatchEvent {
    /// The node event, if this is one.
    pub fn node(&self) -> Option<&WatchedEvent> {
        match self {
            WatchEvent::Node(e) => Some(e),
            _ => None,
        }
    }

    /// Whether nothing follows this event on its watch.
    pub fn is_terminal(&self) -> bool {
        matches!(
            self,
            WatchEvent::Removed | WatchEvent::Expired | WatchEvent::AuthFailed | WatchEvent::Closed
        )
    }
}
