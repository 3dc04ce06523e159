//! The client's error type.
//!
//! [`Error`] is small (one pointer) and opaque, with query methods in the
//! style of tokio-postgres: [`Error::code`] for ZooKeeper result codes,
//! [`Error::kind`] for the broad category, and predicates such as
//! [`Error::is_connection_loss`] for the questions callers usually ask.
//!
//! `Display` says what failed (kind or result code, path, what went wrong);
//! an underlying cause from below the client (the `io::Error` of a failed
//! connection, a TLS failure) is returned by [`std::error::Error::source`]
//! and not repeated in `Display`, so reporters that walk the chain print
//! each cause once. `{:?}` shows everything, the source included.

use crate::proto::{DecodeError, ErrorCode, FrameError, MultiResult};
use std::fmt;

/// The broad category of an [`Error`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The server answered with a ZooKeeper error code (see [`Error::code`]).
    Server,
    /// The connection dropped before the reply arrived; the request may or
    /// may not have been applied.
    ConnectionLoss,
    /// The session expired; this client's session is gone for good.
    SessionExpired,
    /// The server rejected the connection's credentials; the session is unusable.
    AuthFailed,
    /// The client was closed.
    Closed,
    /// The request's deadline passed before it completed.
    Timeout,
    /// The request was refused locally because its arguments are invalid
    /// (bad path, bad connect string, bad option).
    InvalidArgument,
    /// The peer violated the protocol (undecodable or oversized frame,
    /// out-of-order reply).
    Protocol,
    /// An I/O error while connecting or talking to a server.
    Io,
    /// TLS failed: a handshake error, a certificate the other side rejected
    /// (unknown CA, expired, wrong name), or one end speaking TLS and the
    /// other not.
    Tls,
}

struct Inner {
    kind: ErrorKind,
    code: Option<ErrorCode>,
    raw_code: i32,
    message: Option<String>,
    path: Option<String>,
    multi: Option<Vec<MultiResult>>,
    zxid: Option<i64>,
    after_retry: bool,
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

/// An error from the client.
pub struct Error(Box<Inner>);

impl Error {
    fn new(kind: ErrorKind) -> Error {
        Error(Box::new(Inner {
            kind,
            code: None,
            raw_code: 0,
            message: None,
            path: None,
            multi: None,
            zxid: None,
            after_retry: false,
            source: None,
        }))
    }

    /// An error for a ZooKeeper result code received from the server.
    pub fn from_code(raw: i32) -> Error {
        let code = ErrorCode::from_code(raw);
        let kind = match code {
            Some(ErrorCode::ConnectionLoss) => ErrorKind::ConnectionLoss,
            Some(ErrorCode::SessionExpired) => ErrorKind::SessionExpired,
            Some(ErrorCode::AuthFailed) => ErrorKind::AuthFailed,
            _ => ErrorKind::Server,
        };
        let mut e = Error::new(kind);
        e.0.code = code;
        e.0.raw_code = raw;
        e
    }

    /// An error for a known result code.
    pub fn code_error(code: ErrorCode) -> Error {
        Error::from_code(code.code())
    }

    pub(crate) fn connection_loss() -> Error {
        let mut e = Error::new(ErrorKind::ConnectionLoss);
        e.0.code = Some(ErrorCode::ConnectionLoss);
        e.0.raw_code = ErrorCode::ConnectionLoss.code();
        e
    }

    pub(crate) fn session_expired() -> Error {
        let mut e = Error::new(ErrorKind::SessionExpired);
        e.0.code = Some(ErrorCode::SessionExpired);
        e.0.raw_code = ErrorCode::SessionExpired.code();
        e
    }

    pub(crate) fn auth_failed() -> Error {
        let mut e = Error::new(ErrorKind::AuthFailed);
        e.0.code = Some(ErrorCode::AuthFailed);
        e.0.raw_code = ErrorCode::AuthFailed.code();
        e
    }

    pub(crate) fn closed() -> Error {
        Error::new(ErrorKind::Closed)
    }

    pub(crate) fn timeout() -> Error {
        Error::new(ErrorKind::Timeout)
    }

    pub(crate) fn invalid_argument(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::InvalidArgument).with_message(message)
    }

    pub(crate) fn protocol(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::Protocol).with_message(message)
    }

    /// An error for a failed connection attempt: [`ErrorKind::Tls`] when
    /// the TLS layer failed, else [`ErrorKind::Io`].
    #[cfg(feature = "runtime")]
    pub(crate) fn from_transport(e: std::io::Error) -> Error {
        let kind = if crate::transport::TlsFailure::is_tls(&e) {
            ErrorKind::Tls
        } else {
            ErrorKind::Io
        };
        let mut err = Error::new(kind);
        err.0.source = Some(Box::new(e));
        err
    }

    pub(crate) fn with_message(mut self, message: impl Into<String>) -> Error {
        self.0.message = Some(message.into());
        self
    }

    /// The message added to the error, if any.
    pub(crate) fn message(&self) -> Option<&str> {
        self.0.message.as_deref()
    }

    pub(crate) fn with_path(mut self, path: impl Into<String>) -> Error {
        self.0.path = Some(path.into());
        self
    }

    pub(crate) fn with_multi_results(mut self, results: Vec<MultiResult>) -> Error {
        self.0.multi = Some(results);
        self
    }

    pub(crate) fn with_zxid(mut self, zxid: i64) -> Error {
        self.0.zxid = Some(zxid);
        self
    }

    pub(crate) fn mark_after_retry(mut self) -> Error {
        self.0.after_retry = true;
        self
    }

    /// The broad category.
    pub fn kind(&self) -> ErrorKind {
        self.0.kind
    }

    /// The ZooKeeper result code, when the error is one (server errors,
    /// connection loss, session expiry, auth failure).
    pub fn code(&self) -> Option<ErrorCode> {
        self.0.code
    }

    /// The raw result code from the wire, including codes this client does
    /// not know (0 when the error is not a result code).
    pub fn raw_code(&self) -> i32 {
        self.0.raw_code
    }

    /// The path the failing request was about, if any (client-relative).
    pub fn path(&self) -> Option<&str> {
        self.0.path.as_deref()
    }

    /// For a failed multi: what became of each op, in words
    /// (`[not applied: another op failed, failed: bad version (-103), ...]`).
    pub fn multi_failures(&self) -> Option<Vec<crate::OpFailure>> {
        self.0.multi.as_deref().map(crate::OpFailure::from_results)
    }

    /// For a failed multi: the index of the op that failed it.
    pub fn failed_op(&self) -> Option<usize> {
        self.multi_failures()?.iter().position(|f| f.is_failed())
    }

    /// For a failed multi: the per-op results as the server sent them (0
    /// before the failing op, its code, RuntimeInconsistency after it).
    /// [`Error::multi_failures`] says the same in words.
    pub fn multi_results(&self) -> Option<&[MultiResult]> {
        self.0.multi.as_deref()
    }

    /// For an error the server answered: the zxid in its reply header (the
    /// server's last applied zxid, which for a failed write is the zxid the
    /// failure consumed).
    pub fn zxid(&self) -> Option<i64> {
        self.0.zxid
    }

    /// Whether this error was returned by a retried attempt, after an earlier
    /// attempt lost its connection: the earlier attempt may have been applied
    /// (for example `NodeExists` from a retried create can mean "created by
    /// the first attempt").
    pub fn after_retry(&self) -> bool {
        self.0.after_retry
    }

    /// Whether the server answered with `code`.
    pub fn is(&self, code: ErrorCode) -> bool {
        self.0.code == Some(code)
    }

    /// The node does not exist.
    pub fn is_no_node(&self) -> bool {
        self.is(ErrorCode::NoNode)
    }

    /// The node already exists.
    pub fn is_node_exists(&self) -> bool {
        self.is(ErrorCode::NodeExists)
    }

    /// The expected version did not match.
    pub fn is_bad_version(&self) -> bool {
        self.is(ErrorCode::BadVersion)
    }

    /// The connection dropped before a reply; the outcome is unknown.
    pub fn is_connection_loss(&self) -> bool {
        self.0.kind == ErrorKind::ConnectionLoss
    }

    /// The session is gone.
    pub fn is_session_expired(&self) -> bool {
        self.0.kind == ErrorKind::SessionExpired
    }

    /// The client was closed.
    pub fn is_closed(&self) -> bool {
        self.0.kind == ErrorKind::Closed
    }

    /// The deadline passed.
    pub fn is_timeout(&self) -> bool {
        self.0.kind == ErrorKind::Timeout
    }

    /// Whether retrying the same request later can succeed: connection loss,
    /// server-side operation timeouts and throttling. Whether a retry is
    /// *safe* depends on the operation (see [`crate::retry`]).
    pub fn is_retryable(&self) -> bool {
        matches!(self.0.kind, ErrorKind::ConnectionLoss | ErrorKind::Io)
            || matches!(
                self.0.code,
                Some(ErrorCode::OperationTimeout) | Some(ErrorCode::ThrottledOp)
            )
    }

    /// Whether the session can no longer be used (expired, auth failed, closed).
    pub fn is_terminal(&self) -> bool {
        matches!(
            self.0.kind,
            ErrorKind::SessionExpired | ErrorKind::AuthFailed | ErrorKind::Closed
        )
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.0.kind, self.0.code) {
            (_, Some(code)) => write!(f, "{code}")?,
            (ErrorKind::Server, None) => write!(f, "server error code {}", self.0.raw_code)?,
            (ErrorKind::ConnectionLoss, None) => f.write_str("connection loss")?,
            (ErrorKind::SessionExpired, None) => f.write_str("session expired")?,
            (ErrorKind::AuthFailed, None) => f.write_str("authentication failed")?,
            (ErrorKind::Closed, _) => f.write_str("client closed")?,
            (ErrorKind::Timeout, _) => f.write_str("deadline exceeded")?,
            (ErrorKind::InvalidArgument, _) => f.write_str("invalid argument")?,
            (ErrorKind::Protocol, _) => f.write_str("protocol violation")?,
            (ErrorKind::Io, _) => f.write_str("I/O error")?,
            (ErrorKind::Tls, _) => f.write_str("TLS error")?,
        }
        if let Some(path) = &self.0.path {
            write!(f, " for {path}")?;
        }
        if let Some(message) = &self.0.message {
            write!(f, ": {message}")?;
        }
        // The source is not repeated here: `source()` returns it.
        if self.0.after_retry {
            f.write_str(" (after a retry)")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Error");
        d.field("kind", &self.0.kind);
        if let Some(code) = self.0.code {
            d.field("code", &code);
        } else if self.0.raw_code != 0 {
            d.field("raw_code", &self.0.raw_code);
        }
        if let Some(path) = &self.0.path {
            d.field("path", path);
        }
        if let Some(message) = &self.0.message {
            d.field("message", message);
        }
        if let Some(source) = &self.0.source {
            d.field("source", source);
        }
        if self.0.after_retry {
            d.field("after_retry", &true);
        }
        d.finish()
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0
            .source
            .as_deref()
            .map(|s| s as &(dyn std::error::Error + 'static))
    }
}

/// A clone cannot share the source (`dyn Error` is not `Clone`): it keeps
/// the source's text in its message instead, and has no `source()`.
impl Clone for Error {
    fn clone(&self) -> Error {
        Error(Box::new(Inner {
            kind: self.0.kind,
            code: self.0.code,
            raw_code: self.0.raw_code,
            message: match (&self.0.message, &self.0.source) {
                (Some(m), Some(s)) => Some(format!("{m}: {s}")),
                (None, Some(s)) => Some(s.to_string()),
                (m, None) => m.clone(),
            },
            path: self.0.path.clone(),
            multi: self.0.multi.clone(),
            zxid: self.0.zxid,
            after_retry: self.0.after_retry,
            source: None,
        }))
    }
}

// What a decode, frame or path error says is what went wrong, not a cause
// behind it: it becomes the message, so `Display` names the problem.
impl From<DecodeError> for Error {
    fn from(e: DecodeError) -> Error {
        Error::protocol(e.to_string())
    }
}

impl From<FrameError> for Error {
    fn from(e: FrameError) -> Error {
        Error::protocol(e.to_string())
    }
}

impl From<crate::proto::path::InvalidPath> for Error {
    fn from(e: crate::proto::path::InvalidPath) -> Error {
        Error::invalid_argument(e.to_string())
    }
}

/// Result alias for client operations.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_map_to_kinds() {
        assert_eq!(Error::from_code(-4).kind(), ErrorKind::ConnectionLoss);
        assert_eq!(Error::from_code(-112).kind(), ErrorKind::SessionExpired);
        assert_eq!(Error::from_code(-101).kind(), ErrorKind::Server);
        assert!(Error::from_code(-101).is_no_node());
        assert!(Error::from_code(-4).is_retryable());
        assert!(!Error::from_code(-110).is_retryable());
        let unknown = Error::from_code(-999);
        assert_eq!(unknown.code(), None);
        assert_eq!(unknown.raw_code(), -999);
        assert!(unknown.to_string().contains("-999"));
        assert_eq!(std::mem::size_of::<Error>(), std::mem::size_of::<usize>());
    }

    #[test]
    fn display_mentions_path_and_retry() {
        let e = Error::from_code(-110).with_path("/a").mark_after_retry();
        let s = e.to_string();
        assert!(
            s.contains("node exists") && s.contains("/a") && s.contains("retry"),
            "{s}"
        );
        assert!(e.clone().after_retry());
    }

    #[test]
    fn the_source_is_returned_not_displayed() {
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused by peer");
        let mut e = Error::new(ErrorKind::Io).with_message("connecting to h:1");
        e.0.source = Some(Box::new(io));
        assert_eq!(e.to_string(), "I/O error: connecting to h:1");
        let source = std::error::Error::source(&e).expect("a source");
        assert_eq!(source.to_string(), "refused by peer");
        assert!(format!("{e:?}").contains("refused by peer"));
        // A clone keeps the cause's text, once, without a source.
        let clone = e.clone();
        assert_eq!(
            clone.to_string(),
            "I/O error: connecting to h:1: refused by peer"
        );
        assert!(std::error::Error::source(&clone).is_none());
    }
}
