//! Several locks taken as one (Curator's `InterProcessMultiLock`).

use crate::error::{LossReason, Result};
use crate::lock::{Lock, LockGuard};
use futures::future::select_all;
use std::future::Future;
use std::time::Duration;

/// Holds several [`Lock`]s at once: acquires them in the given order (give
/// every process the same order to avoid deadlocks) and releases all of
/// them if one cannot be taken.
///
/// **Connection policy**: that of the member locks; the guard counts as
/// lost as soon as any member is.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let zk = zk_testserver::Ensemble::builder().start().await?;
/// # let client = zk_client::Client::builder(zk.connect_string()).renew_session_on_expiry(true).connect().await?;
/// # tokio::time::timeout(std::time::Duration::from_secs(20), demo(client)).await??;
/// # Ok(()) }
/// # async fn demo(client: zk_client::Client) -> Result<(), zk_recipes::Error> {
/// use zk_recipes::{Lock, MultiLock};
/// let both = MultiLock::new(vec![
///     Lock::new(&client, "/app/locks/a"),
///     Lock::new(&client, "/app/locks/b"),
/// ]);
/// let guard = both.acquire().await?;
/// guard.release().await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct MultiLock {
    locks: Vec<Lock>,
}

impl MultiLock {
    /// A lock made of `locks`, taken in this order.
    pub fn new(locks: Vec<Lock>) -> MultiLock {
        MultiLock { locks }
    }

    /// Waits for every lock. If one fails, those taken are released.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: if the future is dropped, the locks taken so far are
    /// released in the background and none is held.
    pub async fn acquire(&self) -> Result<MultiLockGuard> {
        let mut guards = Vec::with_capacity(self.locks.len());
        for lock in &self.locks {
            match lock.acquire().await {
                Ok(g) => guards.push(g),
                Err(e) => {
                    let _ = release_all(guards).await;
                    return Err(e);
                }
            }
        }
        Ok(MultiLockGuard { guards })
    }

    /// Takes every lock if each is free now; otherwise takes none.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe, as [`MultiLock::acquire`].
    pub async fn try_acquire(&self) -> Result<Option<MultiLockGuard>> {
        let mut guards = Vec::with_capacity(self.locks.len());
        for lock in &self.locks {
            match lock.try_acquire().await {
                Ok(Some(g)) => guards.push(g),
                Ok(None) => {
                    let _ = release_all(guards).await;
                    return Ok(None);
                }
                Err(e) => {
                    let _ = release_all(guards).await;
                    return Err(e);
                }
            }
        }
        Ok(Some(MultiLockGuard { guards }))
    }

    /// Waits at most `timeout` for every lock (none is kept on timeout).
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe, as [`MultiLock::acquire`].
    pub async fn acquire_timeout(&self, timeout: Duration) -> Result<MultiLockGuard> {
        let paths: Vec<&str> = self.locks.iter().map(Lock::path).collect();
        tokio::time::timeout(timeout, self.acquire())
            .await
            .unwrap_or_else(|_| Err(crate::Error::timeout(paths.join(", "), timeout)))
    }
}

/// Releases every guard, last first; the first error (a guard that had been
/// lost) once all are released.
async fn release_all(guards: Vec<LockGuard>) -> Result<()> {
    let mut first_error = None;
    for g in guards.into_iter().rev() {
        if let Err(e) = g.release().await {
            first_error.get_or_insert(e);
        }
    }
    first_error.map_or(Ok(()), Err)
}

/// Proof of holding every lock of a [`MultiLock`]; dropping it releases
/// them in the background.
#[derive(Debug)]
#[must_use = "dropping the guard releases the locks"]
pub struct MultiLockGuard {
    guards: Vec<LockGuard>,
}

impl MultiLockGuard {
    /// The member guards, in acquisition order.
    pub fn guards(&self) -> &[LockGuard] {
        &self.guards
    }

    /// Resolves when any member lock is lost.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: the returned future only waits; dropping it changes
    /// nothing, and a later call waits again.
    pub fn lost(&self) -> impl Future<Output = LossReason> + Send + 'static {
        let all: Vec<_> = self.guards.iter().map(|g| Box::pin(g.lost())).collect();
        async move {
            if all.is_empty() {
                return std::future::pending().await;
            }
            select_all(all).await.0
        }
    }

    /// Whether any member lock was lost.
    pub fn is_lost(&self) -> bool {
        self.guards.iter().any(LockGuard::is_lost)
    }

    /// Releases every lock, in reverse order.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: if the future is dropped, every lock is released all the
    /// same, in the background.
    pub async fn release(self) -> Result<()> {
        release_all(self.guards).await
    }
}
