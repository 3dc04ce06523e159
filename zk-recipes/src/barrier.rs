//! Barriers (Curator's `DistributedBarrier` and
//! `DistributedDoubleBarrier` layouts).

use crate::error::{Error, Result};
use crate::nodes::{delete_quietly, ensure_dir, join, CleanupGuard};
use crate::policy::wait_connected;
use bytes::Bytes;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use zk_client::{Client, CreateMode, OneshotWatch, WatchEvent};

/// A barrier: while its node exists, [`Barrier::wait`] blocks; removing the
/// node releases every waiter.
///
/// **Connection policy**: waiters keep waiting through suspensions and
/// session losses (the barrier node is persistent).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let zk = zk_testserver::Ensemble::builder().start().await?;
/// # let client = zk_client::Client::builder(zk.connect_string()).renew_session_on_expiry(true).connect().await?;
/// # tokio::time::timeout(std::time::Duration::from_secs(20), demo(client)).await??;
/// # Ok(()) }
/// # async fn demo(client: zk_client::Client) -> Result<(), zk_recipes::Error> {
/// use zk_recipes::Barrier;
/// let barrier = Barrier::new(&client, "/app/barrier");
/// barrier.set().await?;
/// // elsewhere: barrier.wait().await?;
/// barrier.remove().await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Barrier {
    client: Client,
    path: String,
}

impl Barrier {
    /// A barrier at `path`.
    pub fn new(client: &Client, path: impl Into<String>) -> Barrier {
        Barrier {
            client: client.clone(),
            path: path.into(),
        }
    }

    /// Sets the barrier (creates its node; already set is fine).
    ///
    /// # Cancel safety
    ///
    /// Idempotent: a dropped call may or may not have set the barrier;
    /// calling it again is harmless.
    pub async fn set(&self) -> Result<()> {
        // Missing parents are containers, as Curator creates them.
        match self
            .client
            .create_all_with_parents(
                &self.path,
                Bytes::new(),
                CreateMode::Persistent,
                CreateMode::Container,
            )
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if e.is_node_exists() => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Removes the barrier, releasing the waiters.
    ///
    /// # Cancel safety
    ///
    /// Idempotent: a dropped call may or may not have removed the barrier;
    /// calling it again is harmless.
    pub async fn remove(&self) -> Result<()> {
        delete_quietly(&self.client, &self.path).await
    }

    /// Whether the barrier is set.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: it only reads.
    pub async fn is_set(&self) -> Result<bool> {
        Ok(self.client.exists(&self.path).await?.is_some())
    }

    /// Waits until the barrier is not set.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: it only reads and waits.
    pub async fn wait(&self) -> Result<()> {
        loop {
            let (stat, watch) = match self.client.exists_watch(&self.path).await {
                Ok(v) => v,
                Err(e) if e.is_session_expired() => {
                    wait_connected(&self.client).await?;
                    continue;
                }
                Err(e) => return Err(e.into()),
            };
            if stat.is_none() {
                return Ok(());
            }
            match watch.await {
                WatchEvent::Expired => {
                    wait_connected(&self.client).await?;
                }
                WatchEvent::Closed | WatchEvent::AuthFailed => {
                    return Err(Error::SessionLost(crate::LossReason::ClientClosed))
                }
                _ => {}
            }
        }
    }

    /// Like [`Barrier::wait`]; `false` if still set after `timeout`.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: it only reads and waits.
    pub async fn wait_timeout(&self, timeout: Duration) -> Result<bool> {
        match tokio::time::timeout(timeout, self.wait()).await {
            Ok(r) => r.map(|_| true),
            Err(_) => Ok(false),
        }
    }
}

const READY: &str = "ready";

/// A double barrier: [`DoubleBarrier::enter`] blocks until `members`
/// participants have entered; [`DoubleBarrier::leave`] blocks until all of
/// them have left.
///
/// Each participant is an ephemeral node `<path>/<uuid>`; the one that
/// completes the group creates `<path>/ready`, which releases the others.
/// Leaving follows Curator's scheme: the lowest participant waits for the
/// highest to go, the others delete their node and wait for the lowest, so
/// each waits on one node only.
///
/// **Connection policy**: a member whose session is lost while entering
/// enters again with a new node; a member lost while inside has left as far
/// as the others can tell.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let zk = zk_testserver::Ensemble::builder().start().await?;
/// # let client = zk_client::Client::builder(zk.connect_string()).renew_session_on_expiry(true).connect().await?;
/// # tokio::time::timeout(std::time::Duration::from_secs(20), demo(client)).await??;
/// # Ok(()) }
/// # async fn demo(client: zk_client::Client) -> Result<(), zk_recipes::Error> {
/// use zk_recipes::DoubleBarrier;
/// // Three participants (tasks here; processes in real use).
/// let members: Vec<_> = (0..3)
///     .map(|_| {
///         let barrier = DoubleBarrier::new(&client, "/app/phase", 3);
///         tokio::spawn(async move {
///             barrier.enter().await?; // returns once all 3 entered
///             // ... compute together ...
///             barrier.leave().await // returns once all 3 left
///         })
///     })
///     .collect();
/// for m in members {
///     m.await.expect("task")?;
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct DoubleBarrier {
    client: Client,
    path: String,
    members: usize,
    /// This participant's node name, new for each [`DoubleBarrier::enter`]
    /// (shared by clones: they are one participant).
    id: Arc<Mutex<String>>,
}

impl DoubleBarrier {
    /// A double barrier at `path` for `members` participants.
    pub fn new(client: &Client, path: impl Into<String>, members: usize) -> DoubleBarrier {
        DoubleBarrier {
            client: client.clone(),
            path: path.into(),
            members,
            id: Arc::new(Mutex::new(uuid::Uuid::new_v4().to_string())),
        }
    }

    fn id(&self) -> String {
        self.id.lock().map(|id| id.clone()).unwrap_or_default()
    }

    /// Deletes our node; a session that ended took it already.
    async fn delete_ours(&self) -> Result<()> {
        match delete_quietly(&self.client, &self.ours()).await {
            Err(e) if e.is_session_lost() && self.client.renews_session_on_expiry() => Ok(()),
            other => other,
        }
    }

    fn ours(&self) -> String {
        join(&self.path, &self.id())
    }

    /// Enters; returns once `members` participants have entered.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: if the future is dropped (or fails), this participant's
    /// node is removed in the background, so the others do not count it.
    /// (A group that was completed by it just before stays released.)
    pub async fn enter(&self) -> Result<()> {
        // A fresh name per attempt: the cleanup of an abandoned attempt can
        // then never remove the node of a later one.
        let id = uuid::Uuid::new_v4().to_string();
        if let Ok(mut current) = self.id.lock() {
            current.clone_from(&id);
        }
        let mut undo = CleanupGuard::for_prefix(&self.client, &self.path, &id);
        let entered = self.enter_inner().await;
        if entered.is_ok() {
            undo.disarm();
        }
        entered
    }

    async fn enter_inner(&self) -> Result<()> {
        loop {
            wait_connected(&self.client).await?;
            let watch = match self.enter_pass().await {
                Ok(Some(watch)) => watch,
                Ok(None) => return Ok(()),
                // Our node went with the session: enter again in the new
                // one (if the client renews sessions; else the wait above
                // fails).
                Err(Error::Client(e)) if e.is_session_expired() => continue,
                Err(e) => return Err(e),
            };
            match watch.await {
                WatchEvent::Closed | WatchEvent::AuthFailed => {
                    return Err(Error::SessionLost(crate::LossReason::ClientClosed))
                }
                _ => {}
            }
        }
    }

    /// Makes sure our node exists and looks whether the group is complete
    /// (completing it if we are the last): `None` once it is, else the
    /// watch on `ready` to wait for.
    async fn enter_pass(&self) -> Result<Option<OneshotWatch>> {
        let ready = join(&self.path, READY);
        loop {
            match self
                .client
                .create(&self.ours(), Bytes::new(), CreateMode::Ephemeral)
                .await
            {
                Ok(_) => break,
                Err(e) if e.is_node_exists() => break,
                Err(e) if e.is_no_node() => ensure_dir(&self.client, &self.path, true).await?,
                Err(e) => return Err(e.into()),
            }
        }
        let (stat, watch) = self.client.exists_watch(&ready).await?;
        if stat.is_some() {
            return Ok(None);
        }
        let count = self
            .client
            .get_children(&self.path)
            .await?
            .iter()
            .filter(|c| c.as_str() != READY)
            .count();
        if count < self.members {
            return Ok(Some(watch));
        }
        match self
            .client
            .create(&ready, Bytes::new(), CreateMode::Persistent)
            .await
        {
            Ok(_) => Ok(None),
            Err(e) if e.is_node_exists() => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Like [`DoubleBarrier::enter`]; `false` (and this participant's node
    /// removed) if the group was not complete within `timeout`.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe, as [`DoubleBarrier::enter`].
    pub async fn enter_timeout(&self, timeout: Duration) -> Result<bool> {
        match tokio::time::timeout(timeout, self.enter()).await {
            Ok(r) => r.map(|_| true),
            Err(_) => {
                delete_quietly(&self.client, &self.ours()).await?;
                Ok(false)
            }
        }
    }

    /// Leaves; returns once every participant has left.
    ///
    /// # Cancel safety
    ///
    /// If the future is dropped, this participant has left all the same
    /// (its node is removed in the background); only the wait for the
    /// others is abandoned.
    pub async fn leave(&self) -> Result<()> {
        let mut leave_anyway = CleanupGuard::for_prefix(&self.client, &self.path, &self.id());
        let left = self.leave_inner().await;
        if left.is_ok() {
            leave_anyway.disarm();
        }
        left
    }

    async fn leave_inner(&self) -> Result<()> {
        let ours = self.id();
        loop {
            let mut children: Vec<String> = match self.client.get_children(&self.path).await {
                Ok(c) => c.into_iter().filter(|c| c != READY).collect(),
                Err(e) if e.is_no_node() => return Ok(()),
                Err(e) if e.is_session_expired() => {
                    wait_connected(&self.client).await?;
                    continue;
                }
                Err(e) => return Err(e.into()),
            };
            children.sort();
            let (Some(lowest), Some(highest)) = (children.first(), children.last()) else {
                // Everyone left: the last one out removes `ready`.
                let _ = delete_quietly(&self.client, &join(&self.path, READY)).await;
                let _ = self.client.delete(&self.path, None).await;
                return Ok(());
            };
            let present = children.contains(&ours);
            let target = if children.len() == 1 && present {
                self.delete_ours().await?;
                continue;
            } else if present && *lowest == ours {
                highest.clone()
            } else {
                if present {
                    self.delete_ours().await?;
                }
                lowest.clone()
            };
            let (stat, watch) = match self.client.exists_watch(&join(&self.path, &target)).await {
                Ok(found) => found,
                // Our node went with the session: look again.
                Err(e) if e.is_session_expired() => continue,
                Err(e) => return Err(e.into()),
            };
            if stat.is_none() {
                continue;
            }
            match watch.await {
                WatchEvent::Closed | WatchEvent::AuthFailed => {
                    return Err(Error::SessionLost(crate::LossReason::ClientClosed))
                }
                _ => {}
            }
        }
    }
}
