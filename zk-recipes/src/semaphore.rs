//! A distributed counting semaphore (Curator's `InterProcessSemaphoreV2`
//! layout).

use crate::error::{Error, LossReason, Result};
use crate::hold::Hold;
use crate::lock::Lock;
use crate::nodes::{basename, join, CleanupGuard, Protected};
use crate::policy::ConnectionPolicy;
use bytes::Bytes;
use std::future::Future;
use std::time::Duration;
use zk_client::{Client, WatchEvent};

const LEASE_NAME: &str = "lease-";

/// A semaphore with a fixed number of leases shared by all participants.
///
/// Layout (Curator's V2): `<path>/locks` is a [`Lock`] that serialises
/// acquirers, `<path>/leases` holds one protected ephemeral sequential node
/// `_c_<uuid>-lease-<seq>` per lease. An acquirer takes the lock, creates
/// its lease node, and waits (holding the lock, so only one process
/// watches) until at most `max_leases` lease nodes exist; then it releases
/// the lock. Releasing a lease deletes its node. All participants must agree
/// on `max_leases`.
///
/// **Connection policy**: as for [`Lock`]: a [`Lease`] survives a suspension
/// that ends in a reconnect within a quarter of the session timeout
/// (`Session`, the default) and [`Lease::lost`] fires otherwise, at session
/// loss, or if the lease node is deleted.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let zk = zk_testserver::Ensemble::builder().start().await?;
/// # let client = zk_client::Client::builder(zk.connect_string()).renew_session_on_expiry(true).connect().await?;
/// # tokio::time::timeout(std::time::Duration::from_secs(20), demo(client)).await??;
/// # Ok(()) }
/// # async fn demo(client: zk_client::Client) -> Result<(), zk_recipes::Error> {
/// use zk_recipes::Semaphore;
/// let pool = Semaphore::new(&client, "/app/db-slots", 3)?;
/// let lease = pool.acquire().await?;
/// // ... at most three holders across the cluster ...
/// lease.release().await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Semaphore {
    client: Client,
    path: String,
    max_leases: usize,
    lock: Lock,
    policy: ConnectionPolicy,
    data: Bytes,
}

impl Semaphore {
    /// A semaphore at `path` with `max_leases` leases (at least one).
    pub fn new(client: &Client, path: impl Into<String>, max_leases: usize) -> Result<Semaphore> {
        if max_leases == 0 {
            return Err(Error::InvalidArgument(
                "a semaphore needs at least one lease".into(),
            ));
        }
        let path = path.into();
        Ok(Semaphore {
            client: client.clone(),
            lock: Lock::new(client, join(&path, "locks")),
            path,
            max_leases,
            policy: ConnectionPolicy::default(),
            data: Bytes::new(),
        })
    }

    /// The connection-state policy of the leases.
    pub fn with_policy(mut self, policy: ConnectionPolicy) -> Semaphore {
        self.policy = policy;
        self
    }

    /// Data stored in each lease node.
    pub fn with_data(mut self, data: impl Into<Bytes>) -> Semaphore {
        self.data = data.into();
        self
    }

    fn leases_dir(&self) -> String {
        join(&self.path, "leases")
    }

    /// Waits for one lease.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: if the future is dropped at any point, no lease is held,
    /// and its lease node and its place in the acquirers' lock are removed in
    /// the background.
    pub async fn acquire(&self) -> Result<Lease> {
        self.acquire_inner(true).await?.ok_or(Error::Closed)
    }

    /// Takes a lease if one is free now.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe, as [`Semaphore::acquire`].
    pub async fn try_acquire(&self) -> Result<Option<Lease>> {
        self.acquire_inner(false).await
    }

    /// Waits for one lease at most `timeout`.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe, as [`Semaphore::acquire`].
    pub async fn acquire_timeout(&self, timeout: Duration) -> Result<Lease> {
        tokio::time::timeout(timeout, self.acquire())
            .await
            .unwrap_or_else(|_| Err(Error::timeout(&self.path, timeout)))
    }

    /// Waits for `n` leases (all or none: leases taken so far are returned
    /// if the future is dropped or fails).
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: if the future is dropped, the leases taken so far are
    /// returned in the background and none is held.
    pub async fn acquire_many(&self, n: usize) -> Result<Vec<Lease>> {
        if n > self.max_leases {
            return Err(Error::InvalidArgument(format!(
                "{n} leases asked of a semaphore with {}",
                self.max_leases
            )));
        }
        let mut leases = Vec::with_capacity(n);
        for _ in 0..n {
            leases.push(self.acquire().await?);
        }
        Ok(leases)
    }

    /// The current lease nodes.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: it only reads.
    pub async fn participants(&self) -> Result<Vec<String>> {
        match self.client.get_children(&self.leases_dir()).await {
            Ok(c) => Ok(c),
            Err(e) if e.is_no_node() => Ok(Vec::new()),
            Err(e) => Err(e.into()),
        }
    }

    async fn acquire_inner(&self, wait: bool) -> Result<Option<Lease>> {
        let serial = if wait {
            self.lock.acquire().await?
        } else {
            match self.lock.try_acquire().await? {
                Some(g) => g,
                None => return Ok(None),
            }
        };
        let dir = self.leases_dir();
        let protected = Protected::new(&dir, LEASE_NAME, true);
        let mut cleanup = CleanupGuard::new(&self.client, &protected);
        let result = async {
            loop {
                let (path, stat) = protected.create(&self.client, &self.data).await?;
                let ours = basename(&path).to_string();
                loop {
                    let (children, watch) = self.client.get_children_watch(&dir).await?;
                    if !children.contains(&ours) {
                        // Our lease node vanished (session loss): again.
                        break;
                    }
                    if children.len() <= self.max_leases
                        && stat.ephemeral_owner == self.client.session_id()
                    {
                        return Ok(Some(Hold::new(&self.client, path, stat, self.policy)));
                    }
                    if !wait {
                        crate::nodes::release_node(&self.client, &path, stat.ephemeral_owner).await;
                        return Ok(None);
                    }
                    match watch.await {
                        WatchEvent::Closed | WatchEvent::AuthFailed => {
                            return Err(Error::SessionLost(LossReason::ClientClosed))
                        }
                        _ => {}
                    }
                }
            }
        }
        .await;
        if result.is_ok() {
            cleanup.disarm();
        }
        let _ = serial.release().await;
        Ok(result?.map(|hold| Lease { hold }))
    }
}

/// One lease of a [`Semaphore`]; dropping it returns the lease in the
/// background.
#[derive(Debug)]
#[must_use = "dropping the lease returns it"]
pub struct Lease {
    hold: Hold,
}

impl Lease {
    /// The lease node's path.
    pub fn node_path(&self) -> &str {
        self.hold.path()
    }

    /// The fencing token: the lease node's creation zxid. Every lease
    /// granted later has a larger one, so a resource shared by the lease
    /// holders can refuse a holder that lost its lease without knowing
    /// (by remembering the tokens of the current holders, or the largest
    /// one, as the resource's semantics allow).
    pub fn fencing_token(&self) -> i64 {
        self.hold.stat().czxid
    }

    /// Resolves when the lease can no longer be considered held.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: the returned future only waits; dropping it changes
    /// nothing, and a later call waits again.
    pub fn lost(&self) -> impl Future<Output = LossReason> + Send + 'static {
        self.hold.lost()
    }

    /// Whether the lease was lost.
    pub fn is_lost(&self) -> bool {
        self.hold.lost_reason().is_some()
    }

    /// Returns the lease (in the background if the connection is down).
    /// Fails with [`Error::Lost`] if the lease had been lost before (its
    /// node is deleted all the same, should it still exist).
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: if the future is dropped, the lease is returned in the
    /// background.
    pub async fn release(self) -> Result<()> {
        self.hold.release().await
    }
}
