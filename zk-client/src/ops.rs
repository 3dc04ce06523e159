//! Argument and result types of client operations.

use crate::proto::{Acl, CreateMode, ErrorCode, MultiResult, Stat};
use bytes::Bytes;
use std::time::Duration;

/// How to create a node: mode, ACL and (for TTL modes) time to live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateOptions {
    /// Lifetime and naming.
    pub mode: CreateMode,
    /// The node's ACL (default: open to everyone).
    pub acl: Vec<Acl>,
    /// Time to live, required by the TTL modes.
    pub ttl: Option<Duration>,
}

impl CreateOptions {
    /// Options for `mode` with an open ACL.
    pub fn new(mode: CreateMode) -> CreateOptions {
        CreateOptions {
            mode,
            acl: Acl::open_unsafe(),
            ttl: None,
        }
    }

    /// Sets the ACL.
    pub fn acl(mut self, acl: Vec<Acl>) -> CreateOptions {
        self.acl = acl;
        self
    }

    /// Sets the time to live (use with a TTL mode).
    pub fn ttl(mut self, ttl: Duration) -> CreateOptions {
        self.ttl = Some(ttl);
        self
    }
}

impl Default for CreateOptions {
    fn default() -> Self {
        CreateOptions::new(CreateMode::Persistent)
    }
}

impl From<CreateMode> for CreateOptions {
    fn from(mode: CreateMode) -> CreateOptions {
        CreateOptions::new(mode)
    }
}

impl From<&CreateOptions> for CreateOptions {
    fn from(o: &CreateOptions) -> CreateOptions {
        o.clone()
    }
}

/// One write inside a [`crate::Client::multi`] transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// Create a node.
    Create {
        /// Path (client-relative).
        path: String,
        /// Initial data.
        data: Bytes,
        /// Mode, ACL, TTL.
        options: CreateOptions,
    },
    /// Delete a node.
    Delete {
        /// Path.
        path: String,
        /// Expected version; `None` for any.
        version: Option<i32>,
    },
    /// Replace a node's data.
    SetData {
        /// Path.
        path: String,
        /// New data.
        data: Bytes,
        /// Expected version; `None` for any.
        version: Option<i32>,
    },
    /// Require a node's version (or existence, with `None`).
    Check {
        /// Path.
        path: String,
        /// Expected version; `None` for any.
        version: Option<i32>,
    },
}

impl Op {
    /// A create.
    pub fn create(
        path: impl Into<String>,
        data: impl Into<Bytes>,
        options: impl Into<CreateOptions>,
    ) -> Op {
        Op::Create {
            path: path.into(),
            data: data.into(),
            options: options.into(),
        }
    }

    /// A delete.
    pub fn delete(path: impl Into<String>, version: Option<i32>) -> Op {
        Op::Delete {
            path: path.into(),
            version,
        }
    }

    /// A setData.
    pub fn set_data(path: impl Into<String>, data: impl Into<Bytes>, version: Option<i32>) -> Op {
        Op::SetData {
            path: path.into(),
            data: data.into(),
            version,
        }
    }

    /// A version check.
    pub fn check(path: impl Into<String>, version: Option<i32>) -> Op {
        Op::Check {
            path: path.into(),
            version,
        }
    }
}

/// The result of one op of a successful [`crate::Client::multi`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpResult {
    /// The created node's path (with any sequence suffix), and its stat
    /// when the server reports one (containers and TTL nodes; a plain
    /// create inside multi reports only the path).
    Create {
        /// Path (client-relative).
        path: String,
        /// The new node's stat, if reported.
        stat: Option<Stat>,
    },
    /// The node was deleted.
    Delete,
    /// The node's new stat.
    SetData(Stat),
    /// The check passed.
    Check,
}

/// What became of one op of a [`crate::Client::multi`] that failed as a
/// whole (nothing of it was applied), from [`crate::Error::multi_failures`].
///
/// Both `Debug` and `Display` print it in words:
/// `[not applied: another op failed, failed: bad version (-103), ...]`.
/// The wire's codes stay reachable through [`OpFailure::wire_code`] and
/// [`crate::Error::multi_results`].
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub enum OpFailure {
    /// This op failed, and that is why nothing was applied.
    Failed {
        /// Its result code on the wire (see [`OpFailure::code`]).
        raw_code: i32,
    },
    /// This op was not applied because another op failed. On the wire, ops
    /// before the failing one carry 0 (Ok) and ops after it
    /// RuntimeInconsistency (-2).
    NotApplied {
        /// Its result code on the wire (0 or -2).
        raw_code: i32,
    },
}

impl OpFailure {
    /// Reads a failed multi's wire results.
    pub fn from_results(results: &[MultiResult]) -> Vec<OpFailure> {
        let not_applied =
            |c: i32| c == ErrorCode::Ok.code() || c == ErrorCode::RuntimeInconsistency.code();
        results
            .iter()
            .map(|r| match r.error() {
                Some(raw_code) if !not_applied(raw_code) => OpFailure::Failed { raw_code },
                Some(raw_code) => OpFailure::NotApplied { raw_code },
                // A failed multi reports only errors; a success among them
                // was not applied either.
                None => OpFailure::NotApplied {
                    raw_code: ErrorCode::Ok.code(),
                },
            })
            .collect()
    }

    /// Whether this op is the one that failed.
    pub fn is_failed(&self) -> bool {
        matches!(self, OpFailure::Failed { .. })
    }

    /// The op's own error code, if it is the one that failed (`None` for an
    /// op not applied because of another, or a code this client does not know).
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            OpFailure::Failed { raw_code } => ErrorCode::from_code(*raw_code),
            OpFailure::NotApplied { .. } => None,
        }
    }

    /// The code the server sent for this op.
    pub fn wire_code(&self) -> i32 {
        match self {
            OpFailure::Failed { raw_code } | OpFailure::NotApplied { raw_code } => *raw_code,
        }
    }
}

impl std::fmt::Display for OpFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OpFailure::Failed { raw_code } => match ErrorCode::from_code(*raw_code) {
                Some(code) => write!(f, "failed: {code}"),
                None => write!(f, "failed: server error code {raw_code}"),
            },
            OpFailure::NotApplied { .. } => f.write_str("not applied: another op failed"),
        }
    }
}

impl std::fmt::Debug for OpFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}

/// One read inside [`crate::Client::multi_read`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadOp {
    /// Read a node's data.
    GetData(String),
    /// List a node's children.
    GetChildren(String),
}

/// The result of one read of [`crate::Client::multi_read`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadResult {
    /// Data and stat.
    Data(Bytes, Stat),
    /// Child names.
    Children(Vec<String>),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_multi_results_read_in_words() {
        let wire = [
            MultiResult::Error(0),
            MultiResult::Error(ErrorCode::BadVersion.code()),
            MultiResult::Error(ErrorCode::RuntimeInconsistency.code()),
        ];
        let failures = OpFailure::from_results(&wire);
        assert_eq!(
            format!("{failures:?}"),
            "[not applied: another op failed, failed: bad version (-103), \
             not applied: another op failed]"
        );
        assert_eq!(failures[1].code(), Some(ErrorCode::BadVersion));
        assert!(failures[1].is_failed() && !failures[0].is_failed());
        let codes: Vec<i32> = failures.iter().map(OpFailure::wire_code).collect();
        assert_eq!(codes, [0, -103, -2], "the wire codes stay reachable");
        assert_eq!(
            OpFailure::from_results(&[MultiResult::Error(-999)])[0].to_string(),
            "failed: server error code -999"
        );
    }
}
