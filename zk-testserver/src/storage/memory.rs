//! [`MemoryStorage`]: the in-memory backend, shared by handle so that it
//! outlives the member using it.

use std::io;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use super::{rules, Epochs, LogEntry, Recovered, Snapshot, Storage, StorageUsage, Zxid};

/// In-memory [`Storage`] that survives the member using it.
///
/// A `MemoryStorage` is a cheap [`Clone`] handle over shared state: every clone
/// sees the same log, snapshot and epochs. An in-process ensemble keeps one
/// handle per member slot, gives a clone to the member it starts, and when it
/// kills that member it either keeps the handle for the restarted member
/// ("restart keeping storage") or replaces it with [`MemoryStorage::new`]
/// ("wipe").
///
/// # Durability model
///
/// The store models a disk honestly enough for "acknowledge only after
/// logging" to be testable:
///
/// - [`Storage::append`] adds entries to a volatile tail;
///   [`Storage::flush`] makes the whole tail durable.
/// - [`MemoryStorage::crash`] simulates power loss: the unflushed tail is
///   dropped. An ensemble that kills a member calls it before handing the
///   storage to the restarted member.
/// - Epochs, snapshots, `truncate_after` and `install_snapshot` are durable as
///   soon as they return; `save_snapshot` and `truncate_after` flush the
///   appended tail first (as [`DirStorage`](super::DirStorage) does).
/// - [`Storage::recover`] reports the durable state only and leaves the
///   volatile tail in place.
///
/// Only the newest snapshot is kept, and log entries it covers are discarded
/// when it is saved. A member saves its own snapshots as images
/// ([`SnapshotData::Image`](super::SnapshotData::Image)), which share with
/// the member's tree every chunk of nodes and every child table the member
/// has not changed since: the store costs the log plus what changed since
/// the snapshot, not a second copy of the tree. Calls are checked exactly as `DirStorage` checks them
/// (zxids strictly increasing, no truncation below the newest snapshot, ...);
/// a refused call returns [`io::ErrorKind::InvalidInput`] and changes nothing.
///
/// # Example
///
/// ```
/// use bytes::Bytes;
/// use zk_testserver::storage::{LogEntry, MemoryStorage, Storage};
///
/// let disk = MemoryStorage::new();
/// let mut member = disk.clone();
/// member.append(&[LogEntry { zxid: 1, payload: Bytes::from_static(b"a") }])?;
/// member.flush()?;
/// member.append(&[LogEntry { zxid: 2, payload: Bytes::from_static(b"b") }])?;
/// drop(member); // the member is killed before its second flush
///
/// disk.crash();
/// let mut restarted = disk.clone();
/// let recovered = restarted.recover()?;
/// assert_eq!(recovered.log.len(), 1);
/// assert_eq!(disk.last_zxid(), 1);
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone, Debug, Default)]
pub struct MemoryStorage {
    inner: Arc<Mutex<State>>,
}

#[derive(Debug, Default)]
struct State {
    epochs: Epochs,
    snapshot: Option<Snapshot>,
    /// Entries newer than the snapshot, in zxid order.
    log: Vec<LogEntry>,
    /// How many entries of `log` are durable.
    flushed: usize,
    /// Number of flushes that made at least one entry durable.
    flushes: u64,
    /// What [`Storage::usage`] reports, kept as the log and the snapshot
    /// change: usage is asked for after every group of operations, so it
    /// must not walk the log or the snapshot's tree.
    usage: StorageUsage,
}

/// Bytes a log entry counts for in [`StorageUsage::log`] (its payload and
/// a record header).
fn entry_bytes(e: &LogEntry) -> u64 {
    e.payload.len() as u64 + 16
}

impl State {
    fn newest_snapshot(&self) -> Option<Zxid> {
        self.snapshot.as_ref().map(|s| s.zxid)
    }

    fn last_zxid(&self) -> Zxid {
        self.log
            .last()
            .map(|e| e.zxid)
            .or_else(|| self.newest_snapshot())
            .unwrap_or(0)
    }

    /// Keeps the first `keep` entries of the log.
    fn truncate_log(&mut self, keep: usize) {
        let dropped: u64 = self.log.get(keep..).unwrap_or_default().iter().map(entry_bytes).sum();
        self.usage.log -= dropped;
        self.log.truncate(keep);
    }

    /// Drops the first `covered` entries of the log.
    fn drain_log(&mut self, covered: usize) {
        let dropped: u64 = self.log.drain(..covered).map(|e| entry_bytes(&e)).sum();
        self.usage.log -= dropped;
    }

    /// Keeps `snapshot`, whose encoding is `len` bytes, as the newest
    /// snapshot.
    fn keep_snapshot(&mut self, snapshot: &Snapshot, len: u64) {
        self.usage.snapshots = len;
        self.snapshot = Some(snapshot.clone());
    }

    /// Makes the whole log durable.
    fn flush(&mut self) {
        if self.flushed < self.log.len() {
            self.flushes += 1;
        }
        self.flushed = self.log.len();
    }
}

impl MemoryStorage {
    /// A fresh, empty store (what a wiped member starts from).
    pub fn new() -> Self {
        Self::default()
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // The state is consistent between statements, so a panic elsewhere
        // while holding the lock leaves nothing half-done.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Simulates a crash of the machine: entries appended since the last flush
    /// are lost. Everything else is durable and stays.
    pub fn crash(&self) {
        let mut s = self.state();
        let flushed = s.flushed;
        s.truncate_log(flushed);
    }

    /// Zxid of the last appended entry (flushed or not); if the log is empty,
    /// that of the snapshot; 0 for a fresh store.
    pub fn last_zxid(&self) -> Zxid {
        self.state().last_zxid()
    }

    /// Zxid of the last entry that would survive [`MemoryStorage::crash`].
    pub fn durable_zxid(&self) -> Zxid {
        let s = self.state();
        match s.flushed {
            0 => s.newest_snapshot().unwrap_or(0),
            n => s.log[n - 1].zxid,
        }
    }

    /// Number of log entries held after the snapshot, unflushed ones included.
    pub fn len(&self) -> usize {
        self.state().log.len()
    }

    /// Whether the log after the snapshot is empty.
    pub fn is_empty(&self) -> bool {
        self.state().log.is_empty()
    }

    /// Number of appended entries not yet flushed.
    pub fn unflushed_len(&self) -> usize {
        let s = self.state();
        s.log.len() - s.flushed
    }

    /// How many flushes made at least one entry durable (to check group commit).
    pub fn flush_count(&self) -> u64 {
        self.state().flushes
    }

    /// The saved epochs.
    pub fn epochs(&self) -> Epochs {
        self.state().epochs
    }

    /// Zxid of the snapshot, if any.
    pub fn snapshot_zxid(&self) -> Option<Zxid> {
        self.state().newest_snapshot()
    }
}

impl Storage for MemoryStorage {
    fn never_blocks(&self) -> bool {
        true
    }

    fn recover(&mut self) -> io::Result<Recovered> {
        let s = self.state();
        Ok(Recovered {
            epochs: s.epochs,
            snapshot: s.snapshot.clone(),
            log: s.log[..s.flushed].to_vec(),
        })
    }

    fn append(&mut self, entries: &[LogEntry]) -> io::Result<()> {
        let mut s = self.state();
        rules::check_append(s.last_zxid(), entries)?;
        s.usage.log += entries.iter().map(entry_bytes).sum::<u64>();
        s.log.extend_from_slice(entries);
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.state().flush();
        Ok(())
    }

    fn truncate_after(&mut self, zxid: Zxid) -> io::Result<()> {
        let mut s = self.state();
        rules::check_truncate(zxid, s.newest_snapshot())?;
        let keep = s.log.partition_point(|e| e.zxid <= zxid);
        s.truncate_log(keep);
        s.flush();
        Ok(())
    }

    fn save_epochs(&mut self, epochs: Epochs) -> io::Result<()> {
        self.state().epochs = epochs;
        Ok(())
    }

    fn save_snapshot(&mut self, snapshot: &Snapshot) -> io::Result<()> {
        // Measured once, here, and before taking the lock (for an image
        // it is a walk of the image's tree).
        let len = snapshot.data.encoded_len() as u64;
        let mut s = self.state();
        rules::check_save_snapshot(snapshot.zxid, s.newest_snapshot(), s.last_zxid())?;
        s.flush();
        let covered = s.log.partition_point(|e| e.zxid <= snapshot.zxid);
        s.drain_log(covered);
        s.flushed = s.log.len();
        s.keep_snapshot(snapshot, len);
        Ok(())
    }

    fn install_snapshot(&mut self, snapshot: &Snapshot) -> io::Result<()> {
        rules::check_install_snapshot(snapshot.zxid)?;
        let len = snapshot.data.encoded_len() as u64;
        let mut s = self.state();
        s.truncate_log(0);
        s.flushed = 0;
        s.keep_snapshot(snapshot, len);
        Ok(())
    }

    fn usage(&self) -> StorageUsage {
        self.state().usage
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn e(zxid: Zxid) -> LogEntry {
        LogEntry {
            zxid,
            payload: Bytes::from(format!("txn {zxid}")),
        }
    }

    #[test]
    fn recover_after_append_and_flush() {
        let mut m = MemoryStorage::new();
        assert_eq!(m.recover().unwrap(), Recovered::default());
        m.append(&[e(1), e(2)]).unwrap();
        m.append(&[e(3)]).unwrap();
        m.flush().unwrap();
        assert_eq!(m.flush_count(), 1, "one flush for three appends");
        m.save_epochs(Epochs {
            accepted: 2,
            current: 1,
        })
        .unwrap();
        let r = m.clone().recover().unwrap();
        assert_eq!(r.log, vec![e(1), e(2), e(3)]);
        assert_eq!(r.epochs.accepted, 2);
        assert_eq!((m.len(), m.last_zxid(), m.durable_zxid()), (3, 3, 3));
    }

    #[test]
    fn crash_drops_the_unflushed_tail_only() {
        let disk = MemoryStorage::new();
        let mut m = disk.clone();
        m.append(&[e(1), e(2)]).unwrap();
        m.flush().unwrap();
        m.append(&[e(3), e(4)]).unwrap();
        assert_eq!((disk.last_zxid(), disk.durable_zxid()), (4, 2));
        assert_eq!(disk.unflushed_len(), 2);
        // recover() reports only durable entries but does not lose the tail.
        assert_eq!(m.recover().unwrap().log, vec![e(1), e(2)]);
        assert_eq!(disk.len(), 4);
        disk.crash();
        assert_eq!(disk.len(), 2);
        assert_eq!(disk.clone().recover().unwrap().log, vec![e(1), e(2)]);
        // The crashed member's appends are gone; a new history can be appended.
        m.append(&[e(3)]).unwrap();
        m.flush().unwrap();
        assert_eq!(disk.clone().recover().unwrap().log, vec![e(1), e(2), e(3)]);
    }

    #[test]
    fn wipe_is_a_fresh_handle() {
        let mut m = MemoryStorage::new();
        m.append(&[e(1)]).unwrap();
        m.flush().unwrap();
        let wiped = MemoryStorage::new();
        assert!(wiped.is_empty());
        assert_eq!(m.len(), 1);
    }

    #[test]
    fn refused_calls_change_nothing() {
        let mut m = MemoryStorage::new();
        m.append(&[e(5)]).unwrap();
        let err = m.append(&[e(6), e(6)]).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        assert_eq!(m.last_zxid(), 5);
        m.save_snapshot(&Snapshot {
            zxid: 5,
            data: Bytes::new().into(),
        })
        .unwrap();
        assert_eq!(
            m.truncate_after(4).unwrap_err().kind(),
            io::ErrorKind::InvalidInput
        );
        let beyond = Snapshot {
            zxid: 6,
            data: Bytes::new().into(),
        };
        assert_eq!(
            m.save_snapshot(&beyond).unwrap_err().kind(),
            io::ErrorKind::InvalidInput
        );
        assert_eq!(m.snapshot_zxid(), Some(5));
    }

    /// What usage() reports: the entries the log holds and the newest
    /// snapshot's encoding, through every call that changes either.
    #[test]
    fn usage_follows_the_log_and_the_snapshot() {
        fn recount(m: &MemoryStorage) -> StorageUsage {
            let s = m.state();
            StorageUsage {
                snapshots: s.snapshot.as_ref().map_or(0, |x| x.data.to_bytes().len() as u64),
                log: s.log.iter().map(entry_bytes).sum(),
            }
        }
        fn check(m: &MemoryStorage) {
            assert_eq!(m.usage(), recount(m));
        }
        let mut m = MemoryStorage::new();
        check(&m);
        m.append(&[e(1), e(2), e(3)]).unwrap();
        m.flush().unwrap();
        m.append(&[e(4), e(5)]).unwrap();
        check(&m);
        m.crash();
        check(&m);
        m.append(&[e(4), e(5), e(6)]).unwrap();
        m.truncate_after(5).unwrap();
        check(&m);
        m.save_snapshot(&Snapshot {
            zxid: 2,
            data: Bytes::from_static(b"snap at 2").into(),
        })
        .unwrap();
        check(&m);
        assert_eq!(m.usage().snapshots, 9);
        let db = crate::server::Database::default();
        m.save_snapshot(&Snapshot {
            zxid: 4,
            data: crate::storage::SnapshotData::image_of(&db),
        })
        .unwrap();
        check(&m);
        m.install_snapshot(&Snapshot {
            zxid: 9,
            data: Bytes::from_static(b"s9").into(),
        })
        .unwrap();
        check(&m);
        assert_eq!(m.usage(), StorageUsage { snapshots: 2, log: 0 });
    }

    /// The storage thread asks for usage() after every group of writes. Once
    /// a snapshot image was kept, usage() walked the image's whole tree each
    /// time, so every write cost time in proportion to the number of znodes
    /// (filling a million children stalled after the first snapshot). The
    /// image is measured once, when it is saved.
    #[test]
    fn usage_does_not_walk_the_snapshot_tree() {
        let mut db = crate::server::Database::default();
        let open = zk_client::proto::Acl::open_unsafe();
        for i in 0..100 {
            let path = format!("/n{i}");
            let kind = crate::tree::NodeKind::Persistent;
            db.tree.create(&path, None, &open, kind, i, 1, 0).unwrap();
        }
        let mut m = MemoryStorage::new();
        m.append(&[e(1)]).unwrap();
        m.save_snapshot(&Snapshot {
            zxid: 1,
            data: crate::storage::SnapshotData::image_of(&db),
        })
        .unwrap();
        let walks = crate::tree::data_tree::walks_on_this_thread();
        for zxid in 2..1000 {
            m.append(&[e(zxid)]).unwrap();
            m.flush().unwrap();
            let _ = m.usage();
        }
        assert_eq!(
            crate::tree::data_tree::walks_on_this_thread(),
            walks,
            "usage() walked the snapshot's tree"
        );
        assert_eq!(m.usage().snapshots, db.snapshot().len() as u64);
    }

    #[test]
    fn snapshot_truncate_and_install() {
        let mut m = MemoryStorage::new();
        m.append(&[e(1), e(2), e(3), e(4)]).unwrap();
        m.save_snapshot(&Snapshot {
            zxid: 2,
            data: Bytes::from_static(b"s2").into(),
        })
        .unwrap();
        assert_eq!(m.len(), 2);
        m.append(&[e(5)]).unwrap();
        m.truncate_after(3).unwrap();
        m.crash();
        let r = m.recover().unwrap();
        assert_eq!(r.snapshot.unwrap().zxid, 2);
        assert_eq!(r.log, vec![e(3)]);
        m.append(&[e(9)]).unwrap();
        m.install_snapshot(&Snapshot {
            zxid: 7,
            data: Bytes::from_static(b"s7").into(),
        })
        .unwrap();
        let r = m.recover().unwrap();
        assert_eq!(r.snapshot.unwrap().zxid, 7);
        assert!(r.log.is_empty());
        assert_eq!(m.last_zxid(), 7);
    }
}
