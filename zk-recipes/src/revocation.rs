//! Curator's lock revocation protocol: whoever wants a lock asks its
//! holder to give it up by writing `__REVOKE__` into the holder's lock
//! node; a revocable holder watches its node for that and releases
//! (cooperatively — nothing is taken from it).

use crate::error::Result;
use crate::lock::LockGuard;
use crate::pause::RetryPause;
use crate::policy::wait_connected;
use std::future::Future;
use zk_client::{Client, EventType, WatchEvent};

/// The data Curator's `Revoker` writes into a lock node.
pub const REVOKE_MESSAGE: &[u8] = b"__REVOKE__";

/// Asks the holder of the lock node `node_path` (any contender's node of a
/// [`crate::Lock`], [`crate::ReadWriteLock`] or a Curator
/// `InterProcessMutex`) to release it (Curator's
/// `Revoker.attemptRevoke`). A node already gone is fine.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let zk = zk_testserver::Ensemble::builder().start().await?;
/// # let client = zk_client::Client::connect(zk.connect_string()).await?;
/// use zk_recipes::{attempt_revoke, Lock};
/// let lock = Lock::new(&client, "/locks/report");
/// let guard = lock.acquire().await?;
/// let revoked = guard.revoke_requested();
/// // Another process, wanting the lock:
/// attempt_revoke(&client, &lock.participants().await?.first().map(|n| format!("/locks/report/{n}")).unwrap()).await?;
/// revoked.await; // the holder is asked to give it up
/// guard.release().await?;
/// # Ok(()) }
/// ```
///
/// # Cancel safety
///
/// Dropped before it returns, the request may or may not be written.
pub async fn attempt_revoke(client: &Client, node_path: &str) -> Result<()> {
    match client.set_data(node_path, REVOKE_MESSAGE, None).await {
        Ok(_) => Ok(()),
        Err(e) if e.is_no_node() => Ok(()),
        Err(e) => Err(e.into()),
    }
}

impl LockGuard {
    /// Resolves when someone asks this holder to release the lock
    /// ([`attempt_revoke`], or Curator's `Revoker.attemptRevoke`, writing
    /// `__REVOKE__` into the lock node): Curator's `makeRevocable` listener.
    /// Giving up the lock is the holder's decision. Never resolves if the
    /// lock is lost first (see [`LockGuard::lost`]).
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: it only watches; call it again for a new watch.
    pub fn revoke_requested(&self) -> impl Future<Output = ()> + Send + 'static {
        let client = self.hold_client().clone();
        let path = self.node_path().to_string();
        async move {
            let mut pause = RetryPause::new();
            loop {
                match client.get_data_watch(&path).await {
                    Ok((data, _, _)) if data.as_ref() == REVOKE_MESSAGE => return,
                    Ok((_, _, watch)) => match watch.await {
                        WatchEvent::Node(e) if e.event_type == EventType::NodeDeleted => {
                            return std::future::pending().await
                        }
                        WatchEvent::Closed | WatchEvent::AuthFailed => {
                            return std::future::pending().await
                        }
                        _ => {}
                    },
                    Err(e) if e.is_no_node() => return std::future::pending().await,
                    Err(e) => {
                        tracing::debug!(%path, error = %e, "revocation watch failed; retrying");
                        if wait_connected(&client).await.is_err() {
                            return std::future::pending().await;
                        }
                        pause.wait().await;
                    }
                }
            }
        }
    }
}
