//! Coordination recipes for ZooKeeper (work in progress).
#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod error;
mod hold;
mod leader_election;
mod leader_latch;
mod lock;
mod lock_core;
mod nodes;
mod policy;

pub use error::{Error, LossReason, Result};
pub use leader_election::{ElectionHandle, LeaderElection, Leadership};
pub use leader_latch::{LeaderLatch, Participant};
pub use lock::{Lock, LockGuard};
pub use policy::ConnectionPolicy;
