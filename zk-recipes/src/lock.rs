//! A distributed mutex (Curator's `InterProcessMutex` layout).

use crate::error::{Error, LossReason, Result};
use crate::hold::Hold;
use crate::lock_core::{Kind, LockCore, LOCK_NAME};
use crate::policy::ConnectionPolicy;
use bytes::Bytes;
use std::future::Future;
use std::time::Duration;
use zk_client::{Client, Stat};

/// A distributed mutual-exclusion lock.
///
/// Each contender creates a protected ephemeral sequential node
/// `<path>/_c_<uuid>-lock-<seq>`; the lowest sequence number holds the lock
/// and every other contender watches only the node just ahead of its own
/// (no herd effect). The layout is Curator's, so a `Lock` and a JVM
/// `InterProcessMutex` on the same path exclude each other.
///
/// - A create whose reply is lost is recovered by finding the node by its
///   protected prefix; a node of an earlier session is never adopted.
/// - Dropping an acquire future at any point leaves no node behind.
/// - [`LockGuard::lost`] tells the holder when it must stop acting as the
///   holder; [`LockGuard::fencing_token`] is the lock node's creation zxid,
///   increasing with each acquisition, for downstream systems to reject a
///   stale holder.
///
/// **Connection policy** (see [`ConnectionPolicy`]): `Session` by default —
/// the guard survives a suspension that ends in a reconnect, and `lost()`
/// fires a quarter of the session timeout after a suspension (before the
/// server can expire the session), at session loss, or if the node is
/// deleted. Waiting acquirers keep waiting through suspensions and start
/// over with a new node after a session loss (when the client renews
/// sessions; otherwise they fail with [`Error::SessionLost`]).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let zk = zk_testserver::Ensemble::builder().start().await?;
/// # let client = zk_client::Client::builder(zk.connect_string()).renew_session_on_expiry(true).connect().await?;
/// # tokio::time::timeout(std::time::Duration::from_secs(20), demo(client)).await??;
/// # Ok(()) }
/// # async fn demo(client: zk_client::Client) -> Result<(), zk_recipes::Error> {
/// use zk_recipes::Lock;
/// let lock = Lock::new(&client, "/app/locks/reindex");
/// let guard = lock.acquire().await?;
/// let token = guard.fencing_token();
/// tokio::select! {
///     _ = do_work(token) => {}
///     reason = guard.lost() => eprintln!("lock lost: {reason}"),
/// }
/// guard.release().await?;
/// # Ok(()) }
/// # async fn do_work(_token: i64) {}
/// ```
#[derive(Debug, Clone)]
pub struct Lock {
    core: LockCore,
}

impl Lock {
    /// A lock on the directory `path` (created on first use, as a container).
    pub fn new(client: &Client, path: impl Into<String>) -> Lock {
        Lock {
            core: LockCore::new(client, path.into(), LOCK_NAME, Kind::Exclusive),
        }
    }

    /// Data stored in this contender's lock node (for operators; empty by
    /// default).
    pub fn with_data(mut self, data: impl Into<Bytes>) -> Lock {
        self.core.data = data.into();
        self
    }

    /// The connection-state policy of guards from this lock.
    pub fn with_policy(mut self, policy: ConnectionPolicy) -> Lock {
        self.core.policy = policy;
        self
    }

    /// The lock's directory.
    pub fn path(&self) -> &str {
        &self.core.dir
    }

    /// Waits until the lock is held.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: if the future is dropped at any point, the lock is not held
    /// and this contender's node is removed in the background (also when its
    /// create was still on its way).
    pub async fn acquire(&self) -> Result<LockGuard> {
        match self.core.acquire(true).await? {
            Some(hold) => Ok(LockGuard::new(hold)),
            None => Err(Error::Closed),
        }
    }

    /// Takes the lock if nobody holds it or waits for it; `Ok(None)`
    /// otherwise (this contender's node is removed again).
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe, as [`Lock::acquire`].
    pub async fn try_acquire(&self) -> Result<Option<LockGuard>> {
        Ok(self.core.acquire(false).await?.map(LockGuard::new))
    }

    /// Like [`Lock::acquire`], giving up with [`Error::Timeout`] after
    /// `timeout` (this contender's node is then removed in the background).
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe, as [`Lock::acquire`].
    pub async fn acquire_timeout(&self, timeout: Duration) -> Result<LockGuard> {
        tokio::time::timeout(timeout, self.acquire())
            .await
            .unwrap_or_else(|_| Err(Error::timeout(self.path(), timeout)))
    }

    /// The contenders' node names in lock order (the holder first).
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: it only reads.
    pub async fn participants(&self) -> Result<Vec<String>> {
        self.core.participants().await
    }
}

/// Proof of holding a [`Lock`]. Release it with [`LockGuard::release`];
/// dropping it releases in the background.
#[derive(Debug)]
#[must_use = "dropping the guard releases the lock"]
pub struct LockGuard {
    hold: Hold,
    registered: Option<Registered>,
}

/// A node name registered in a set while the guard lives (the write nodes a
/// read-write lock holds, which its own readers may pass).
#[derive(Debug)]
pub(crate) struct Registered {
    set: std::sync::Arc<std::sync::Mutex<std::collections::HashSet<String>>>,
    name: String,
}

impl Registered {
    pub(crate) fn new(
        set: &std::sync::Arc<std::sync::Mutex<std::collections::HashSet<String>>>,
        name: String,
    ) -> Registered {
        if let Ok(mut s) = set.lock() {
            s.insert(name.clone());
        }
        Registered {
            set: set.clone(),
            name,
        }
    }
}

impl Drop for Registered {
    fn drop(&mut self) {
        if let Ok(mut s) = self.set.lock() {
            s.remove(&self.name);
        }
    }
}

impl LockGuard {
    pub(crate) fn new(hold: Hold) -> LockGuard {
        LockGuard {
            hold,
            registered: None,
        }
    }

    pub(crate) fn register(&mut self, registered: Registered) {
        self.registered = Some(registered);
    }

    /// The lock node's path.
    pub fn node_path(&self) -> &str {
        self.hold.path()
    }

    pub(crate) fn hold_client(&self) -> &Client {
        self.hold.client()
    }

    /// The lock node's stat at creation.
    pub fn stat(&self) -> &Stat {
        self.hold.stat()
    }

    /// The fencing token: the lock node's creation zxid. Every later holder
    /// has a larger one, so a resource that remembers the largest token it
    /// has seen can refuse a holder that lost the lock without knowing.
    pub fn fencing_token(&self) -> i64 {
        self.hold.stat().czxid
    }

    /// Resolves when the lock can no longer be considered held: the session
    /// was lost (or may be, per the [`ConnectionPolicy`]) or the node was
    /// deleted. May be called any number of times.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: the returned future only waits; dropping it changes
    /// nothing, and a later call waits again.
    pub fn lost(&self) -> impl Future<Output = LossReason> + Send + 'static {
        self.hold.lost()
    }

    /// Why the lock was lost, if it was.
    pub fn lost_reason(&self) -> Option<LossReason> {
        self.hold.lost_reason()
    }

    /// Whether the lock was lost.
    pub fn is_lost(&self) -> bool {
        self.lost_reason().is_some()
    }

    /// Releases the lock: deletes the node. If the connection is down the
    /// delete goes on in the background (until it succeeds or the session
    /// ends, which removes the node too) and this returns at once.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: if the future is dropped, the lock is released all the
    /// same, in the background.
    pub async fn release(self) -> Result<()> {
        let LockGuard { hold, registered } = self;
        let released = hold.release().await;
        drop(registered);
        released
    }
}
