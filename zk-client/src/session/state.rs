//! Connection states as users observe them.

/// The state of a client's connection to the ensemble, in Curator's
/// vocabulary. Transitions are published on [`crate::Client::state_stream`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ConnectionState {
    /// Not yet connected for the first time (or connecting a fresh session
    /// after one was lost).
    Connecting,
    /// A session was established (the first one, or a fresh one after
    /// [`ConnectionState::Lost`]); check the session id to tell them apart.
    Connected,
    /// The connection dropped; the session may still be alive and the client
    /// is reconnecting. Anything that depends on the session (locks,
    /// leadership) is in doubt until `Reconnected` or `Lost`.
    Suspended,
    /// Reconnected with the same session: ephemerals and watches survived.
    Reconnected,
    /// The session expired (reported by a server, or no server was reachable
    /// for the whole session timeout). Ephemerals are gone; one-shot and
    /// persistent watches have ended.
    Lost,
    /// Connected to a read-only server (the ensemble lost its quorum); writes
    /// fail with `NotReadOnly` until a read-write server is found.
    ReadOnly,
    /// The server rejected the credentials; the session is unusable.
    AuthFailed,
    /// The client was closed.
    Closed,
}

impl ConnectionState {
    /// Whether requests can currently be answered.
    pub fn is_connected(self) -> bool {
        matches!(
            self,
            ConnectionState::Connected | ConnectionState::Reconnected | ConnectionState::ReadOnly
        )
    }

    /// Whether the session is over for good (no reconnect will restore it).
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            ConnectionState::Lost | ConnectionState::AuthFailed | ConnectionState::Closed
        )
    }
}
