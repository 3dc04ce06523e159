//! Coordination recipes for ZooKeeper (work in progress).
#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod barrier;
mod config;
mod counter;
mod discovery;
mod error;
mod group;
mod hold;
mod leader_election;
mod leader_latch;
mod lock;
mod lock_core;
mod multi_lock;
mod node_cache;
mod nodes;
mod policy;
mod queue;
mod rwlock;
mod semaphore;

pub use barrier::{Barrier, DoubleBarrier};
pub use config::ConfigNode;
pub use counter::{SharedCounter, Versioned};
pub use discovery::{
    ProviderStrategy, ServiceCache, ServiceDiscovery, ServiceInstance, ServiceProvider, ServiceType,
};
pub use error::{Error, LossReason, Result};
pub use group::GroupMember;
pub use leader_election::{ElectionHandle, LeaderElection, Leadership};
pub use leader_latch::{LeaderLatch, Participant};
pub use lock::{Lock, LockGuard};
pub use multi_lock::{MultiLock, MultiLockGuard};
pub use node_cache::{NodeCache, NodeData, TreeCache, TreeEvent};
pub use policy::ConnectionPolicy;
pub use queue::{Queue, QueueItem, QueueStats};
pub use rwlock::ReadWriteLock;
pub use semaphore::{Lease, Semaphore};
