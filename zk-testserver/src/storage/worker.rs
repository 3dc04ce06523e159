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
//!
//! A storage whose operations never wait for a device (in memory:
//! [`Storage::never_blocks`]) gains nothing from a thread and would pay two
//! thread hand-offs per write (a serial create in memory took 98 µs instead
//! of 62 µs, BENCHMARKS K2): [`StorageWorker::for_storage`] runs it inline,
//! on the driver's task, with the same interface and order.

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

/// The driver's handle on a member's storage: a thread of its own, or the
/// storage itself when it never blocks.
pub struct StorageWorker {
    backend: Backend,
    progress: watch::Receiver<Progress>,
    usage: Arc<Mutex<StorageUsage>>,
}

/// Where the operations run.
enum Backend {
    /// Queued to a storage thread.
    Thread {
        ops: Option<mpsc::Sender<Op>>,
        stop: Arc<AtomicBool>,
        thread: Option<std::thread::JoinHandle<()>>,
    },
    /// Carried out at once by the caller (the lock is never held across an
    /// await).
    Inline(Mutex<StorageThread>),
}

impl std::fmt::Debug for StorageWorker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StorageWorker").finish_non_exhaustive()
    }
}

impl StorageWorker {
    /// The worker a member's driver uses: inline when `storage` never
    /// blocks ([`Storage::never_blocks`]), otherwise a thread named `name`.
    pub fn for_storage(storage: Box<dyn Storage>, name: String) -> StorageWorker {
        if storage.never_blocks() {
            StorageWorker::inline(storage)
        } else {
            StorageWorker::spawn(storage, name)
        }
    }

    /// Starts a thread named `name` that owns `storage`. If the thread
    /// cannot be started, every operation and [`StorageWorker::durable`]
    /// report why.
    pub fn spawn(storage: Box<dyn Storage>, name: String) -> StorageWorker {
        let (ops, rx) = mpsc::channel(QUEUE);
        let stop = Arc::new(AtomicBool::new(false));
        let (thread, progress, usage) = StorageThread::new(storage, rx, stop.clone());
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
            backend: Backend::Thread {
                ops: Some(ops),
                stop,
                thread,
            },
            progress,
            usage,
        }
    }

    /// Runs `storage`'s operations inline, each flushed as it is carried
    /// out: for a storage that never blocks. Failures are reported as the
    /// thread reports them (by the operation's barrier,
    /// [`StorageWorker::durable`], and every later operation).
    pub fn inline(storage: Box<dyn Storage>) -> StorageWorker {
        // No operation is ever queued: the receiver only lets the shared
        // grouping code find nothing more to take.
        let (_, rx) = mpsc::channel(1);
        let (thread, progress, usage) =
            StorageThread::new(storage, rx, Arc::new(AtomicBool::new(false)));
        StorageWorker {
            backend: Backend::Inline(Mutex::new(thread)),
            progress,
            usage,
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
        match &mut self.backend {
            Backend::Thread { ops, .. } => *ops = None,
            // Everything was carried out already.
            Backend::Inline(_) => return,
        }
        while self.progress.changed().await.is_ok() {}
    }

    async fn send(&self, op: Op) -> Result<(), StorageError> {
        match &self.backend {
            Backend::Thread { ops, .. } => {
                let ops = ops.as_ref().ok_or(StorageError::Gone)?;
                if ops.send(op).await.is_err() {
                    return Err(self.failure().unwrap_or(StorageError::Gone));
                }
                Ok(())
            }
            Backend::Inline(storage) => {
                if let Some(e) = self.failure() {
                    return Err(e);
                }
                let mut storage = storage.lock().unwrap_or_else(|e| e.into_inner());
                storage.carry_out_and_report(op);
                Ok(())
            }
        }
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
        if let Backend::Thread { ops, stop, thread } = &mut self.backend {
            stop.store(true, Ordering::SeqCst);
            *ops = None;
            if let Some(thread) = thread.take() {
                // At most the operation under way (one write or fsync) remains.
                let _ = thread.join();
            }
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
    /// The state over `storage`, with the receiving ends of its progress
    /// reports and its usage.
    fn new(
        storage: Box<dyn Storage>,
        ops: mpsc::Receiver<Op>,
        stop: Arc<AtomicBool>,
    ) -> (StorageThread, watch::Receiver<Progress>, Arc<Mutex<StorageUsage>>) {
        let (progress_tx, progress) = watch::channel(Progress::default());
        let usage = Arc::new(Mutex::new(storage.usage()));
        let thread = StorageThread {
            storage,
            ops,
            progress: progress_tx,
            usage: usage.clone(),
            stop,
            unflushed: None,
        };
        (thread, progress, usage)
    }

    fn run(mut self) {
        while let Some(op) = self.ops.blocking_recv() {
            if !self.carry_out_and_report(op) {
                return;
            }
        }
    }

    /// Carries out `op` and whatever else is waiting, flushed; on failure
    /// reports it and returns false (nothing may run after it).
    fn carry_out_and_report(&mut self, op: Op) -> bool {
        match self.group(op) {
            Ok(()) => true,
            Err(e) => {
                tracing::error!(error = %e, "storage failed");
                self.progress.send_modify(|p| p.failed = Some(e));
                false
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

    #[tokio::test]
    async fn storage_in_memory_runs_inline_with_the_same_reports() {
        let disk = MemoryStorage::new();
        let mut worker = StorageWorker::for_storage(Box::new(disk.clone()), "test".into());
        assert!(matches!(worker.backend, Backend::Inline(_)));
        worker.append(vec![entry(1), entry(2)]).await.unwrap();
        // Durable as soon as the append returns.
        assert_eq!(worker.durable().await.unwrap(), 2);
        disk.crash();
        assert_eq!(disk.last_zxid(), 2);
        let epochs = Epochs {
            accepted: 2,
            current: 1,
        };
        worker.save_epochs(epochs).await.unwrap();
        assert_eq!(disk.clone().recover().unwrap().epochs, epochs);
        // A refused append stops the storage: the next operation and
        // `durable` say why, as with a thread.
        worker.append(vec![entry(1)]).await.unwrap();
        assert!(matches!(worker.durable().await, Err(StorageError::Io(_))));
        assert!(matches!(
            worker.truncate_after(1).await,
            Err(StorageError::Io(_))
        ));
        worker.shutdown().await;
    }

    #[test]
    fn a_storage_that_may_block_gets_a_thread() {
        struct MayBlock(MemoryStorage);
        impl Storage for MayBlock {
            fn recover(&mut self) -> io::Result<crate::storage::Recovered> {
                self.0.recover()
            }
            fn append(&mut self, entries: &[LogEntry]) -> io::Result<()> {
                self.0.append(entries)
            }
            fn flush(&mut self) -> io::Result<()> {
                self.0.flush()
            }
            fn truncate_after(&mut self, zxid: Zxid) -> io::Result<()> {
                self.0.truncate_after(zxid)
            }
            fn save_epochs(&mut self, epochs: Epochs) -> io::Result<()> {
                self.0.save_epochs(epochs)
            }
            fn save_snapshot(&mut self, snapshot: &Snapshot) -> io::Result<()> {
                self.0.save_snapshot(snapshot)
            }
            fn install_snapshot(&mut self, snapshot: &Snapshot) -> io::Result<()> {
                self.0.install_snapshot(snapshot)
            }
        }
        let worker =
            StorageWorker::for_storage(Box::new(MayBlock(MemoryStorage::new())), "test".into());
        assert!(matches!(worker.backend, Backend::Thread { .. }));
    }
}
