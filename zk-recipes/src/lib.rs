//! Coordination recipes for ZooKeeper (work in progress).
#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod error;
mod hold;
mod lock;
mod lock_core;
mod nodes;
mod policy;

pub use error::{Error, LossReason, Result};
pub use lock::{Lock, LockGuard};
pub use policy::ConnectionPolicy;
