//! Argument and result types of client operations.

use crate::proto::{Acl, CreateMode, Stat};
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
