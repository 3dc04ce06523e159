//! A member's storage on a thread of its own, so that writes and fsyncs never
//! run on the async runtime's threads (ZooKeeper's `SyncRequestProcessor`).
//!
//! The member's driver hands operations to a [`StorageWorker`] in the order
//! the replication machine asked for them; the worker's thread carries them
//! out in that order. Appends complete later: the thread takes every
//! operation already waiting, then makes all of their appends durable with
//! one flush (group commit) and reports the last durable zxid, which the
//! driver passes on to the machine — only then are proposals acknowledged
//! and writes committed. The operations the machine needs durable before it
//! goes on (truncation, epochs, a snapshot installed by a SNAP sync) are
//! awaited by the driver; the await suspends the member's task, never a
//! runtime thread.
//!
//! Dropping the worker stops it as a crash would: operations still queued
//! are discarded and appends not yet flushed are not flushed (the thread is
//! joined, so the storage is quiet once the drop returns).
//! [`StorageWorker::shutdown`] instead carries out everything queued.

use super::{Epochs, LogEntry, Snapshot, Storage, StorageUsage, Zxid};
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::{mpsc, oneshot, watch};

/// Operations queued between the driver and the storage thread. Each holds
/// up to one driver batch of appends, so memory stays bounded; a full queue
/// makes the driver wait (backpressure from a slow disk).
const QUEUE: usize = 64;

/// Operations the thread takes before flushing.
const GROUP: usize = 256;

/// The storage thread failed, or is gone.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StorageError {
    /// An operation failed; the member must stop.
    #[error("storage operation failed")]
    Io(#[source] Arc<io::Error>),
    /// The storage thread ended (it panicked or was stopped).
    #[error("the storage thread is gone")]
    Gone,
}

/// An operation for the storage thread.
enum Op {
    Append(Vec<LogEntry>),
    SaveSnapshot(Snapshot),
    /// Carried out, then answered (after flushing appends queued before it).
    Barrier(Barrier, oneshot::Sender<Result<(), Arc<io::Error>>>),
}

/// Operations the driver waits for.
enum Barrier {
    Truncate(Zxid),
    SaveEpochs(Epochs),
    InstallSnapshot(Snapshot),
}

/// What the thread has made durable, or why it stopped.
#[derive(Debug, Clone, Default)]
struct Progress {
    /// The last appended zxid known durable.
    durable: Option<Zxid>,
    /// Set once an operation failed; nothing runs after it.
    failed: Option<Arc<io::Error>>,
}

/// The driver's handle on a storage thread.
pub struct StorageWorker {
    ops: Option<mpsc::Sender<Op>>,
    progress: watch::Receiver<Progress>,
    usage: Arc<Mutex<StorageUsage>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl std::fmt::Debug for StorageWorker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StorageWorker").finish_non_exhaustive()
    }
}

impl StorageWorker {
    /// Starts a thread named `name` that owns `storage`. If the thread
    /// cannot be started, every operation and [`StorageWorker::durable`]
    /// report why.
    pub fn spawn(storage: Box<dyn Storage>, name: String) -> StorageWorker {
        let (ops, rx) = mpsc::channel(QUEUE);
        let (progress_tx, progress) = watch::channel(Progress::default());
        let usage = Arc::new(Mutex::new(storage.usage()));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = StorageThread {
            storage,
            ops: rx,
            progress: progress_tx,
            usage: usage.clone(),
            stop: stop.clone(),
            unflushed: None,
        };
        let (progress, thread) = match std::thread::Builder::new()
            .name(name)
            .spawn(move || thread.run())
        {
            Ok(thread) => (progress, Some(thread)),
            Err(e) => {
                // Its sender dropped: the worker reports this failure.
                let failed = Progress {
                    durable: None,
                    failed: Some(Arc::new(e)),
                };
                (watch::channel(failed).1, None)
            }
        };
        StorageWorker {
            ops: Some(ops),
            progress,
            usage,
            stop,
            thread,
        }
    }

    /// Queues `entries` for appending; [`StorageWorker::durable`] reports
    /// them once flushed. Waits only while the queue is full.
    pub async fn append(&self, entries: Vec<LogEntry>) -> Result<(), StorageError> {
        if entries.is_empty() {
            return Ok(());
        }
        self.send(Op::Append(entries)).await
    }

    /// Queues a periodic snapshot (written after the operations before it).
    pub async fn save_snapshot(&self, snapshot: Snapshot) -> Result<(), StorageError> {
        self.send(Op::SaveSnapshot(snapshot)).await
    }

    /// Drops log entries after `zxid`; returns once that is durable.
    pub async fn truncate_after(&self, zxid: Zxid) -> Result<(), StorageError> {
        self.barrier(Barrier::Truncate(zxid)).await
    }

    /// Saves the epochs; returns once they are durable.
    pub async fn save_epochs(&self, epochs: Epochs) -> Result<(), StorageError> {
        self.barrier(Barrier::SaveEpochs(epochs)).await
    }

    /// Replaces everything with `snapshot`; returns once that is durable.
    pub async fn install_snapshot(&self, snapshot: Snapshot) -> Result<(), StorageError> {
        self.barrier(Barrier::InstallSnapshot(snapshot)).await
    }

    /// Waits until more appends are durable and returns the last durable
    /// zxid, or the error that stopped the thread.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: a report not yet taken is returned by the next call.
    pub async fn durable(&mut self) -> Result<Zxid, StorageError> {
        loop {
            if self.progress.changed().await.is_err() {
                return Err(self.failure().unwrap_or(StorageError::Gone));
            }
            let progress = self.progress.borrow_and_update().clone();
            if let Some(e) = progress.failed {
                return Err(StorageError::Io(e));
            }
            if let Some(zxid) = progress.durable {
                return Ok(zxid);
            }
        }
    }

    /// Bytes the storage took after its last batch of operations.
    pub fn usage(&self) -> StorageUsage {
        *self.usage.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Carries out everything queued (flushing it), then ends the thread.
    pub async fn shutdown(mut self) {
        self.ops = None;
        while self.progress.changed().await.is_ok() {}
    }

    async fn send(&self, op: Op) -> Result<(), StorageError> {
        let ops = self.ops.as_ref().ok_or(StorageError::Gone)?;
        if ops.send(op).await.is_err() {
            return Err(self.failure().unwrap_or(StorageError::Gone));
        }
        Ok(())
    }

    async fn barrier(&self, barrier: Barrier) -> Result<(), StorageError> {
        let (tx, rx) = oneshot::channel();
        self.send(Op::Barrier(barrier, tx)).await?;
        match rx.await {
            Ok(result) => result.map_err(StorageError::Io),
            Err(_) => Err(self.failure().unwrap_or(StorageError::Gone)),
        }
    }

    fn failure(&self) -> Option<StorageError> {
        let failed = self.progress.borrow().failed.clone();
        failed.map(StorageError::Io)
    }
}

impl Drop for StorageWorker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        self.ops = None;
        if let Some(thread) = self.thread.take() {
            // At most the operation under way (one write or fsync) remains.
            let _ = thread.join();
        }
    }
}

/// The storage thread's state.
struct StorageThread {
    storage: Box<dyn Storage>,
    ops: mpsc::Receiver<Op>,
    progress: watch::Sender<Progress>,
    usage: Arc<Mutex<StorageUsage>>,
    stop: Arc<AtomicBool>,
    /// The last zxid appended and not yet flushed.
    unflushed: Option<Zxid>,
}

impl StorageThread {
    fn run(mut self) {
        while let Some(op) = self.ops.blocking_recv() {
            if let Err(e) = self.group(op) {
                tracing::error!(error = %e, "storage failed");
                self.progress.send_modify(|p| p.failed = Some(e));
                return;
            }
        }
    }

    /// Carries out `first` and every operation already waiting (up to
    /// [`GROUP`]), then flushes their appends once and reports them.
    fn group(&mut self, first: Op) -> Result<(), Arc<io::Error>> {
        let mut next = Some(first);
        let mut taken = 0;
        while let Some(op) = next.take() {
            if self.stopped() {
                return Ok(());
            }
            self.carry_out(op)?;
            taken += 1;
            if taken < GROUP {
                next = self.ops.try_recv().ok();
            }
        }
        if self.stopped() {
            return Ok(());
        }
        self.flush()?;
        *self.usage.lock().unwrap_or_else(|e| e.into_inner()) = self.storage.usage();
        Ok(())
    }

    fn stopped(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    fn carry_out(&mut self, op: Op) -> Result<(), Arc<io::Error>> {
        match op {
            Op::Append(entries) => {
                self.storage.append(&entries).map_err(Arc::new)?;
                if let Some(last) = entries.last() {
                    self.unflushed = Some(last.zxid);
                }
            }
            Op::SaveSnapshot(snapshot) => {
                self.storage.save_snapshot(&snapshot).map_err(Arc::new)?;
            }
            Op::Barrier(barrier, reply) => {
                // Appends before the barrier are durable before it is.
                self.flush()?;
                let result = match barrier {
                    Barrier::Truncate(zxid) => self.storage.truncate_after(zxid),
                    Barrier::SaveEpochs(epochs) => self.storage.save_epochs(epochs),
                    Barrier::InstallSnapshot(s) => self.storage.install_snapshot(&s),
                }
                .map_err(Arc::new);
                let _ = reply.send(result.clone());
                result?;
            }
        }
        Ok(())
    }

    /// Flushes appends not yet durable and reports the last one.
    fn flush(&mut self) -> Result<(), Arc<io::Error>> {
        let Some(zxid) = self.unflushed.take() else {
            return Ok(());
        };
        self.storage.flush().map_err(Arc::new)?;
        self.progress.send_modify(|p| p.durable = Some(zxid));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::MemoryStorage;
    use bytes::Bytes;

    fn entry(zxid: Zxid) -> LogEntry {
        LogEntry {
            zxid,
            payload: Bytes::from_static(b"txn"),
        }
    }

    #[tokio::test]
    async fn appends_are_reported_once_flushed() {
        let disk = MemoryStorage::new();
        let mut worker = StorageWorker::spawn(Box::new(disk.clone()), "test".into());
        worker.append(vec![entry(1), entry(2)]).await.unwrap();
        worker.append(vec![entry(3)]).await.unwrap();
        let mut durable = worker.durable().await.unwrap();
        while durable < 3 {
            durable = worker.durable().await.unwrap();
        }
        assert_eq!(durable, 3);
        assert_eq!(disk.last_zxid(), 3);
        assert!(disk.flush_count() <= 2, "{} flushes", disk.flush_count());
    }

    #[tokio::test]
    async fn a_barrier_waits_for_its_operation_and_reports_its_error() {
        let disk = MemoryStorage::new();
        let worker = StorageWorker::spawn(Box::new(disk.clone()), "test".into());
        worker.append(vec![entry(5)]).await.unwrap();
        let epochs = Epochs {
            accepted: 2,
            current: 1,
        };
        worker.save_epochs(epochs).await.unwrap();
        assert_eq!(disk.clone().recover().unwrap().epochs, epochs);
        // Zxids must increase: this append is refused, and so is what follows.
        worker.append(vec![entry(4)]).await.unwrap();
        let err = worker.truncate_after(5).await.unwrap_err();
        assert!(matches!(err, StorageError::Io(_)), "{err:?}");
    }

    #[tokio::test]
    async fn shutdown_flushes_what_was_queued_and_drop_does_not() {
        let disk = MemoryStorage::new();
        let worker = StorageWorker::spawn(Box::new(disk.clone()), "test".into());
        worker.append(vec![entry(1)]).await.unwrap();
        worker.shutdown().await;
        disk.crash();
        assert_eq!(disk.last_zxid(), 1);
    }
}
