//! A distributed read-write lock (Curator's `InterProcessReadWriteLock`
//! layout).

use crate::error::{Error, Result};
use crate::lock::{LockGuard, Registered};
use crate::lock_core::{Kind, LockCore, READ_NAME, WRITE_NAME};
use crate::nodes::basename;
use crate::policy::ConnectionPolicy;
use std::time::Duration;
use zk_client::Client;

/// A read-write lock: any number of readers, or one writer.
///
/// Readers and writers queue in one directory, with nodes
/// `_c_<uuid>-__READ__<seq>` and `_c_<uuid>-__WRIT__<seq>` ordered by
/// sequence number (Curator's names). A writer waits for the node just
/// ahead of it; a reader waits only for the first writer ahead of it. So the
/// queue is fair: with W1 holding, R queued and then W2 queued, R gets the
/// lock before W2, and W2 waits for R.
///
/// A writer may **downgrade** ([`ReadWriteLock::downgrade`]): it takes the
/// read lock (its own write node does not block it) and then releases the
/// write lock, with no window in which a rival writer could get in.
///
/// **Connection policy**: as for [`crate::Lock`] (guards are
/// [`LockGuard`]s).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let zk = zk_testserver::Ensemble::builder().start().await?;
/// # let client = zk_client::Client::builder(zk.connect_string()).renew_session_on_expiry(true).connect().await?;
/// # tokio::time::timeout(std::time::Duration::from_secs(20), demo(client)).await??;
/// # Ok(()) }
/// # async fn demo(client: zk_client::Client) -> Result<(), zk_recipes::Error> {
/// use zk_recipes::ReadWriteLock;
/// let rw = ReadWriteLock::new(&client, "/app/rw");
/// let w = rw.write().await?;
/// // ... exclusive work ...
/// let r = rw.downgrade(w).await?; // still no writer can get in
/// // ... shared work ...
/// r.release().await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct ReadWriteLock {
    read: LockCore,
    write: LockCore,
}

impl ReadWriteLock {
    /// A read-write lock on the directory `path`.
    pub fn new(client: &Client, path: impl Into<String>) -> ReadWriteLock {
        let path = path.into();
        let write = LockCore::new(client, path.clone(), WRITE_NAME, Kind::Exclusive);
        let mut read = LockCore::new(client, path, READ_NAME, Kind::Read);
        read.own_writes = write.own_writes.clone();
        ReadWriteLock { read, write }
    }

    /// The connection-state policy of the guards.
    pub fn with_policy(mut self, policy: ConnectionPolicy) -> ReadWriteLock {
        self.read.policy = policy;
        self.write.policy = policy;
        self
    }

    /// Waits for the read lock.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: if the future is dropped at any point, no lock is held and
    /// this contender's node is removed in the background.
    pub async fn read(&self) -> Result<LockGuard> {
        self.read
            .acquire(true)
            .await?
            .map(LockGuard::new)
            .ok_or(Error::Closed)
    }

    /// Takes the read lock if no writer holds or waits ahead.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe, as [`ReadWriteLock::read`].
    pub async fn try_read(&self) -> Result<Option<LockGuard>> {
        Ok(self.read.acquire(false).await?.map(LockGuard::new))
    }

    /// Waits for the read lock at most `timeout`.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe, as [`ReadWriteLock::read`].
    pub async fn read_timeout(&self, timeout: Duration) -> Result<LockGuard> {
        tokio::time::timeout(timeout, self.read())
            .await
            .unwrap_or_else(|_| Err(Error::timeout(&self.read.dir, timeout)))
    }

    /// Waits for the write lock.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe, as [`ReadWriteLock::read`].
    pub async fn write(&self) -> Result<LockGuard> {
        let hold = self.write.acquire(true).await?.ok_or(Error::Closed)?;
        Ok(self.register(hold))
    }

    /// Takes the write lock if nobody holds or waits for the lock.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe, as [`ReadWriteLock::read`].
    pub async fn try_write(&self) -> Result<Option<LockGuard>> {
        Ok(self
            .write
            .acquire(false)
            .await?
            .map(|hold| self.register(hold)))
    }

    /// Waits for the write lock at most `timeout`.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe, as [`ReadWriteLock::read`].
    pub async fn write_timeout(&self, timeout: Duration) -> Result<LockGuard> {
        tokio::time::timeout(timeout, self.write())
            .await
            .unwrap_or_else(|_| Err(Error::timeout(&self.write.dir, timeout)))
    }

    /// Turns a write guard of this lock into a read guard: takes the read
    /// lock (immediately: only our own writer is ahead of it), then releases
    /// the write lock.
    ///
    /// # Cancel safety
    ///
    /// Not cancel-safe in one respect: the write guard is moved into the call,
    /// so if the future is dropped before it returns, the caller holds neither
    /// lock (the write lock and any read lock taken are released in the
    /// background, as when a guard is dropped). Nothing is left held or behind.
    pub async fn downgrade(&self, write: LockGuard) -> Result<LockGuard> {
        let read = self.read().await?;
        write.release().await?;
        Ok(read)
    }

    /// Every participant's node name, in queue order.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: it only reads.
    pub async fn participants(&self) -> Result<Vec<String>> {
        self.write.participants().await
    }

    fn register(&self, hold: crate::hold::Hold) -> LockGuard {
        let name = basename(hold.path()).to_string();
        let mut guard = LockGuard::new(hold);
        guard.register(Registered::new(&self.write.own_writes, name));
        guard
    }
}
