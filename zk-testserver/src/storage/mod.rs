//! Durable state of one ensemble member: the transaction log, snapshots and the
//! two ZAB epochs.
//!
//! The replication machine ([`crate::zab`]) never touches storage itself: it asks
//! its driver to persist entries, and only acknowledges a proposal once the driver
//! reports the write as durable. Two backends implement [`Storage`]:
//! an in-memory store that outlives a member inside one `Ensemble` (so a killed
//! member can be restarted with its history), and a directory store (txn log files
//! with group commit and fsync, periodic snapshots, torn-tail detection).
//!
//! - [`MemoryStorage`]: a shared handle; [`MemoryStorage::crash`] drops what was
//!   appended but not flushed, so "acknowledge only after logging" is testable.
//! - [`DirStorage`]: a directory; the on-disk format, recovery rules and the
//!   crash-safety argument are in the docs of module [`dir`].
//!
//! Both backends accept and refuse the same calls and recover the same state
//! from the same sequence of calls (a randomized test checks it):
//!
//! - `append` needs zxids strictly increasing after the last logged zxid (or the
//!   snapshot's, or 0);
//! - `truncate_after(z)` with `z` below the newest snapshot is refused (a
//!   snapshot cannot be un-applied; the member needs a SNAP sync instead);
//! - `save_snapshot` needs a zxid between the newest snapshot's and the last
//!   appended one; it flushes buffered appends first, as `truncate_after` does;
//! - `recover` reports the durable state and leaves unflushed appends buffered.
//!
//! A refused call returns [`io::ErrorKind::InvalidInput`] and changes nothing.
//! Damaged data that cannot be repaired without losing acknowledged entries is
//! [`io::ErrorKind::InvalidData`].

use bytes::Bytes;
use std::io;

mod codec;
mod crc32c;
pub mod dir;
pub mod files;
mod fsutil;
pub mod memory;
mod rules;
mod snapshot_data;
#[cfg(test)]
mod tests;
pub mod worker;

pub use dir::{DirOptions, DirStorage};
pub use memory::MemoryStorage;
pub use snapshot_data::SnapshotData;
pub use worker::{StorageError, StorageWorker};

/// A ZooKeeper transaction id: epoch in the high 32 bits, counter in the low 32.
pub type Zxid = i64;

/// One entry of the replicated log: an opaque, already-encoded transaction and
/// the zxid the leader gave it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogEntry {
    /// Position of the entry in the global order.
    pub zxid: Zxid,
    /// The encoded transaction; storage and replication never look inside.
    pub payload: Bytes,
}

/// The two epochs ZAB must keep across restarts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Epochs {
    /// The newest epoch this member has promised to follow (`acceptedEpoch`).
    pub accepted: u32,
    /// The epoch of the leader whose history this member has acknowledged (`currentEpoch`).
    pub current: u32,
}

/// A snapshot of the data tree as of `zxid` (every entry up to and including it applied).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Snapshot {
    /// The last transaction reflected in `data`.
    pub zxid: Zxid,
    /// The data tree and session table, encoded or as a frozen image.
    pub data: SnapshotData,
}

/// What a member finds in its storage when it starts.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Recovered {
    /// Saved epochs (zero for a fresh member).
    pub epochs: Epochs,
    /// The newest valid snapshot, if any.
    pub snapshot: Option<Snapshot>,
    /// Log entries newer than the snapshot, in zxid order, up to the last intact one.
    pub log: Vec<LogEntry>,
}

/// Persistence for one member. Calls come from the member's driver only, in the
/// order the replication machine asked for them.
pub trait Storage: Send {
    /// Reads everything back. Called once when a member starts.
    fn recover(&mut self) -> io::Result<Recovered>;
    /// Appends entries after the current tail. They need not be durable until
    /// [`Storage::flush`] returns; a driver batches several appends per flush
    /// (group commit).
    fn append(&mut self, entries: &[LogEntry]) -> io::Result<()>;
    /// Makes every appended entry and saved epoch durable (fsync for files).
    fn flush(&mut self) -> io::Result<()>;
    /// Drops every log entry with a zxid greater than `zxid` (ZAB TRUNC).
    fn truncate_after(&mut self, zxid: Zxid) -> io::Result<()>;
    /// Saves the epochs; durable once this returns.
    fn save_epochs(&mut self, epochs: Epochs) -> io::Result<()>;
    /// Saves a snapshot, durable once this returns. Log entries at or before
    /// `snapshot.zxid` may be discarded afterwards.
    fn save_snapshot(&mut self, snapshot: &Snapshot) -> io::Result<()>;
    /// Replaces everything with `snapshot` and an empty log (ZAB SNAP sync);
    /// durable once this returns.
    fn install_snapshot(&mut self, snapshot: &Snapshot) -> io::Result<()>;
    /// Bytes the snapshots and the log take (the four-letter word `dirs`).
    fn usage(&self) -> StorageUsage {
        StorageUsage::default()
    }
    /// True if no operation ever waits for a device (storage in memory), so
    /// a driver may carry them out on its own task instead of a thread. A
    /// wrapper that can delay operations keeps the default, false.
    fn never_blocks(&self) -> bool {
        false
    }
}

/// What a member's storage holds, in bytes (ZooKeeper's `dirs` reports the
/// sizes of its snapshot and transaction-log directories).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StorageUsage {
    /// Snapshots (ZooKeeper's `datadir_size`).
    pub snapshots: u64,
    /// The transaction log (ZooKeeper's `logdir_size`).
    pub log: u64,
}
