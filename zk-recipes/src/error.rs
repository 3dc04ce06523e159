//! The recipes' error type.

use std::fmt;

/// Why a recipe call failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A ZooKeeper operation failed (see [`zk_client::Error`] for the
    /// details: connection loss, session expiry, server error codes). It
    /// displays as the client's error and has that error's source.
    #[error(transparent)]
    Client(#[from] zk_client::Error),
    /// The call's deadline passed.
    #[error("timed out after {after:?} waiting on {path}")]
    Timeout {
        /// The recipe's node (the lock, queue, latch, barrier path).
        path: String,
        /// The deadline the call was given.
        after: std::time::Duration,
    },
    /// What the guard stood for (a lock, a lease) had been lost before it
    /// was released: work done after [`LossReason`] was published was not
    /// protected by it. The node is deleted all the same, should it still
    /// exist.
    #[error("{path} was lost before it was released ({reason})")]
    Lost {
        /// The node that stood for the hold.
        path: String,
        /// Why it was lost.
        reason: LossReason,
    },
    /// The session ended and the client is not set to start a new one
    /// (see [`zk_client::ClientBuilder::renew_session_on_expiry`]), or the
    /// client was closed.
    #[error("session lost ({0})")]
    SessionLost(LossReason),
    /// The recipe was closed or stopped.
    #[error("recipe closed")]
    Closed,
    /// A conditional write's reply was lost with the connection and its
    /// repetition found the node changed: the write may or may not have
    /// been applied. Read the node to find out; blindly repeating the call
    /// could apply it twice.
    #[error("the write to {path} may or may not have been applied (its reply was lost)")]
    OutcomeUnknown {
        /// The node written.
        path: String,
    },
    /// A node's data could not be decoded (it was written by something else,
    /// or by an incompatible version).
    #[error("bad data in {path}: {message}")]
    BadData {
        /// The node.
        path: String,
        /// What was wrong.
        message: String,
    },
    /// A value could not be encoded.
    #[error("cannot encode: {0}")]
    Encode(String),
    /// The arguments make no sense (a zero-lease semaphore, an empty lock
    /// list, a path without a parent, ...).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
}

impl Error {
    /// Whether the underlying cause is a ZooKeeper connection loss.
    pub fn is_connection_loss(&self) -> bool {
        matches!(self, Error::Client(e) if e.is_connection_loss())
    }

    /// Whether the underlying cause is the end of the session.
    pub fn is_session_lost(&self) -> bool {
        match self {
            Error::SessionLost(_) => true,
            Error::Client(e) => e.is_session_expired() || e.is_closed(),
            _ => false,
        }
    }

    pub(crate) fn timeout(path: impl Into<String>, after: std::time::Duration) -> Error {
        Error::Timeout {
            path: path.into(),
            after,
        }
    }

    pub(crate) fn bad_data(path: impl Into<String>, message: impl fmt::Display) -> Error {
        Error::BadData {
            path: path.into(),
            message: message.to_string(),
        }
    }
}

/// Result alias of the recipes.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why something held (a lock, a lease, leadership) was given up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum LossReason {
    /// The session expired (or the client started a new session).
    SessionExpired,
    /// The connection was suspended and the recipe's
    /// [`ConnectionPolicy`](crate::ConnectionPolicy) gave up: either at once
    /// (`Strict`) or because the session could have expired on the server
    /// without this client hearing about it (`Session`).
    Suspended,
    /// The node that represented the hold was deleted (by someone else, or
    /// by an administrator).
    NodeDeleted,
    /// The client was closed (or authentication failed).
    ClientClosed,
}

impl fmt::Display for LossReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LossReason::SessionExpired => "session expired",
            LossReason::Suspended => "connection suspended",
            LossReason::NodeDeleted => "node deleted",
            LossReason::ClientClosed => "client closed",
        })
    }
}
