//! Re-entrant locking: Curator's `InterProcessMutex` is re-entrant per
//! thread; here re-entry is per owner handle.

use crate::error::{LossReason, Result};
use crate::lock::{Lock, LockGuard};
use std::future::Future;
use std::sync::{Arc, Mutex, Weak};

/// A [`Lock`] that its owner can take again while holding it, as Curator's
/// `InterProcessMutex` can be by the thread holding it. The owner is the
/// `ReentrantLock` value (and its clones): an [`ReentrantLock::acquire`]
/// while a guard of the same owner is alive returns another guard at once,
/// without a new node; the node is deleted when the last guard is released
/// or dropped. Other owners (other `ReentrantLock`s, other processes,
/// Curator) are excluded as by a [`Lock`], with the same layout.
///
/// Async code has no thread identity to key re-entry on; pass the owner
/// (or a clone) to the code that must re-enter.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let zk = zk_testserver::Ensemble::builder().start().await?;
/// # let client = zk_client::Client::connect(zk.connect_string()).await?;
/// use zk_recipes::ReentrantLock;
/// let owner = ReentrantLock::new(&client, "/locks/account-7");
/// let outer = owner.acquire().await?;
/// let inner = owner.acquire().await?; // re-entered: no wait, same node
/// assert_eq!(owner.hold_count(), 2);
/// assert_eq!(inner.node_path(), outer.node_path());
/// inner.release().await?;
/// outer.release().await?; // the node goes with the last guard
/// assert_eq!(owner.hold_count(), 0);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct ReentrantLock {
    lock: Lock,
    /// The hold shared by this owner's guards, while any lives.
    held: Arc<tokio::sync::Mutex<Weak<Shared>>>,
}

#[derive(Debug)]
struct Shared {
    guard: Mutex<Option<LockGuard>>,
    node: String,
    token: i64,
}

/// One entry of a [`ReentrantLock`]'s owner; the lock is held while any
/// guard of the owner lives.
#[derive(Debug)]
#[must_use = "dropping the guard leaves the lock (the last one releases it)"]
pub struct ReentrantGuard {
    shared: Arc<Shared>,
}

impl ReentrantLock {
    /// A re-entrant lock on the directory `path` (Curator's mutex layout).
    pub fn new(client: &zk_client::Client, path: impl Into<String>) -> ReentrantLock {
        ReentrantLock::from_lock(Lock::new(client, path))
    }

    /// A re-entrant owner of `lock` (with its data and policy).
    pub fn from_lock(lock: Lock) -> ReentrantLock {
        ReentrantLock {
            lock,
            held: Arc::default(),
        }
    }

    /// Takes the lock, or enters it again if this owner holds it (and has
    /// not lost it).
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe, as [`Lock::acquire`]: dropped, it neither holds nor
    /// leaves a node behind (a re-entry has nothing to undo).
    pub async fn acquire(&self) -> Result<ReentrantGuard> {
        let mut held = self.held.lock().await;
        if let Some(shared) = held.upgrade() {
            let alive = shared
                .guard
                .lock()
                .map(|g| g.as_ref().is_some_and(|g| !g.is_lost()))
                .unwrap_or(false);
            if alive {
                return Ok(ReentrantGuard { shared });
            }
        }
        let guard = self.lock.acquire().await?;
        let shared = Arc::new(Shared {
            node: guard.node_path().to_string(),
            token: guard.fencing_token(),
            guard: Mutex::new(Some(guard)),
        });
        *held = Arc::downgrade(&shared);
        Ok(ReentrantGuard { shared })
    }

    /// How many guards of this owner hold the lock now (0 while an acquire
    /// of this owner is waiting for the lock).
    pub fn hold_count(&self) -> usize {
        self.held.try_lock().map(|h| h.strong_count()).unwrap_or(0)
    }

    /// The underlying lock.
    pub fn lock(&self) -> &Lock {
        &self.lock
    }
}

impl ReentrantGuard {
    /// The lock node's path (the same for every entry of one hold).
    pub fn node_path(&self) -> &str {
        &self.shared.node
    }

    /// The fencing token (see [`LockGuard::fencing_token`]).
    pub fn fencing_token(&self) -> i64 {
        self.shared.token
    }

    /// Resolves when the lock is lost (see [`LockGuard::lost`]).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: the returned future only waits; dropping it changes
    /// nothing, and a later call waits again.
    pub fn lost(&self) -> impl Future<Output = LossReason> + Send + 'static {
        let lost = self
            .shared
            .guard
            .lock()
            .ok()
            .and_then(|g| g.as_ref().map(|g| g.lost()));
        async move {
            match lost {
                Some(lost) => lost.await,
                None => std::future::pending().await,
            }
        }
    }

    /// Resolves when someone asks the holder to release the lock (see
    /// [`LockGuard::revoke_requested`]).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: the returned future only waits.
    pub fn revoke_requested(&self) -> impl Future<Output = ()> + Send + 'static {
        let asked = self
            .shared
            .guard
            .lock()
            .ok()
            .and_then(|g| g.as_ref().map(|g| g.revoke_requested()));
        async move {
            match asked {
                Some(asked) => asked.await,
                None => std::future::pending().await,
            }
        }
    }

    /// Leaves this entry; the last one releases the lock (deletes the
    /// node).
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: dropped, the entry is left all the same and the last
    /// one's release goes on in the background.
    pub async fn release(self) -> Result<()> {
        let Ok(shared) = Arc::try_unwrap(self.shared) else {
            return Ok(()); // other entries still hold it
        };
        let guard = shared.guard.into_inner().ok().flatten();
        match guard {
            Some(guard) => guard.release().await,
            None => Ok(()),
        }
    }
}
