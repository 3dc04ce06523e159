//! Curator's protection mode and guaranteed delete, for users' own nodes.

use crate::error::{Error, Result};
use crate::nodes::{basename, ensure_dir, join, parent_of, protected_id};
use crate::pause::RetryPause;
use crate::policy::wait_connected;
use bytes::Bytes;
use zk_client::retry::NoRetry;
use zk_client::{Client, CreateOptions, Stat};

/// Curator's `create().withProtection()`: the node's name gets a
/// `_c_<uuid>-` prefix (`/app/_c_<uuid>-worker-0000000007`), so that after a
/// connection loss — when the create may have succeeded with its reply
/// lost — the node can be found again by that prefix instead of being
/// created twice. Missing parents are created as containers (Curator's
/// `creatingParentContainersIfNeeded`).
///
/// A node found with our prefix counts only if it is an ephemeral owned by
/// the current session or not ephemeral at all; an ephemeral of an earlier
/// session (still alive on the server for a moment after an expiry) is
/// deleted and the node created anew.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let zk = zk_testserver::Ensemble::builder().start().await?;
/// # let client = zk_client::Client::connect(zk.connect_string()).await?;
/// use zk_client::CreateMode;
/// use zk_recipes::ProtectedCreate;
/// let create = ProtectedCreate::new("/workers/worker-");
/// let (path, _) = create.run(&client, "host-1", CreateMode::EphemeralSequential).await?;
/// assert!(path.starts_with(&format!("/workers/{}", create.prefix())));
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct ProtectedCreate {
    parent: String,
    /// `_c_<uuid>-<name>`.
    name: String,
}

impl ProtectedCreate {
    /// A protected create of `path` (for sequential modes, the prefix the
    /// sequence number is appended to). Each `ProtectedCreate` has its own
    /// uuid: repeat [`ProtectedCreate::run`] on the same value to retry.
    pub fn new(path: &str) -> ProtectedCreate {
        ProtectedCreate {
            parent: parent_of(path).to_string(),
            name: format!("{}{}", protected_id(), basename(path)),
        }
    }

    /// The protected node name without the sequence number
    /// (`_c_<uuid>-<name>`).
    pub fn prefix(&self) -> &str {
        &self.name
    }

    /// Creates the node (or finds the one an earlier attempt with a lost
    /// reply created) and returns its path and stat.
    ///
    /// # Cancel safety
    ///
    /// Dropped while a create is in flight, the node may exist: call
    /// `run` again on the same `ProtectedCreate` to find it (or
    /// [`ProtectedCreate::find`] to look without creating).
    pub async fn run(
        &self,
        client: &Client,
        data: impl Into<Bytes>,
        options: impl Into<CreateOptions>,
    ) -> Result<(String, Stat)> {
        let data = data.into();
        let options = options.into();
        let path = join(&self.parent, &self.name);
        let no_retry = client.with_retry(NoRetry);
        loop {
            match no_retry.create(&path, data.clone(), options.clone()).await {
                Ok(created) => return Ok(created),
                Err(e) if e.is_no_node() => ensure_dir(client, &self.parent, true).await?,
                Err(e) if e.is_node_exists() && !options.mode.is_sequential() => {
                    if let Some(found) = self.find(client).await? {
                        return Ok(found);
                    }
                }
                Err(e) if e.is_connection_loss() || e.is_retryable() || e.is_session_expired() => {
                    tracing::debug!(%path, error = %e, "protected create got no reply; looking for it");
                    wait_connected(client).await?;
                    if let Some(found) = self.find(client).await? {
                        return Ok(found);
                    }
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// The node an earlier [`ProtectedCreate::run`] created, if any (stale
    /// ephemerals of another session are deleted, see the type's docs).
    ///
    /// # Cancel safety
    ///
    /// Dropped while it deletes stale nodes, some may stay; a later `find` or
    /// `run` deletes them.
    pub async fn find(&self, client: &Client) -> Result<Option<(String, Stat)>> {
        let children = match client.get_children(&self.parent).await {
            Ok(c) => c,
            Err(e) if e.is_no_node() => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let session = client.session_id();
        let mut own = None;
        for child in children.iter().filter(|c| c.starts_with(&self.name)) {
            let path = join(&self.parent, child);
            match client.exists(&path).await? {
                Some(stat)
                    if own.is_none()
                        && (stat.ephemeral_owner == 0 || stat.ephemeral_owner == session) =>
                {
                    own = Some((path, stat));
                }
                // Another session's ephemeral, or a second node of ours
                // (exactly one may stay).
                Some(_) => {
                    tracing::info!(%path, "deleting a stale or duplicate protected node");
                    match client.delete(&path, None).await {
                        Ok(()) => {}
                        Err(e) if e.is_no_node() => {}
                        Err(e) => return Err(e.into()),
                    }
                }
                None => {}
            }
        }
        Ok(own)
    }
}

/// What [`delete_guaranteed`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GuaranteedDelete {
    /// The node is gone (deleted now, or it was not there).
    Deleted,
    /// The delete could not complete now (connection trouble); it goes on
    /// in the background until it succeeds, the node is gone, or the
    /// application lets go of the client (an ephemeral node also goes when
    /// its session ends).
    InBackground,
}

/// Curator's `delete().guaranteed()`: deletes `path` (if its version is
/// `version`, or any version for `None`); if that fails for a connection
/// problem, keeps trying in the background. Other failures (`NotEmpty`,
/// `BadVersion`, `NoAuth`) are returned and nothing is retried.
///
/// The background task holds only a weak client: it does not keep the
/// session open, and ends once the application has let go of its
/// [`Client`] (an ephemeral node then goes with the session; a persistent
/// one stays).
///
/// # Cancel safety
///
/// Dropped before it returns, the delete may or may not be done; nothing
/// continues in the background.
pub async fn delete_guaranteed(
    client: &Client,
    path: &str,
    version: Option<i32>,
) -> Result<GuaranteedDelete> {
    match try_delete(client, path, version).await {
        Ok(()) => Ok(GuaranteedDelete::Deleted),
        Err(e) if retry_later(&e) => {
            tracing::info!(%path, error = %e, "delete failed; retrying in the background");
            let (weak, path) = (client.downgrade(), path.to_string());
            if let Ok(handle) = tokio::runtime::Handle::try_current() {
                handle.spawn(async move {
                    let mut pause = RetryPause::new();
                    loop {
                        // Without keeping the session open: once the
                        // application lets go of its client, this ends.
                        let state = weak
                            .wait_for_state(|s| s.is_connected() || s.is_terminal())
                            .await;
                        let Some(client) = weak.upgrade().filter(|_| !state.is_terminal()) else {
                            return;
                        };
                        match try_delete(&client, &path, version).await {
                            Ok(()) => return,
                            Err(e) if retry_later(&e) => {
                                drop(client);
                                pause.wait().await;
                            }
                            Err(e) => {
                                tracing::warn!(%path, error = %e, "guaranteed delete gave up");
                                return;
                            }
                        }
                    }
                });
            }
            Ok(GuaranteedDelete::InBackground)
        }
        Err(e) => Err(e),
    }
}

async fn try_delete(client: &Client, path: &str, version: Option<i32>) -> Result<()> {
    match client.with_retry(NoRetry).delete(path, version).await {
        Ok(()) => Ok(()),
        Err(e) if e.is_no_node() => Ok(()),
        Err(e) => Err(e.into()),
    }
}

fn retry_later(e: &Error) -> bool {
    matches!(e, Error::Client(c) if c.is_connection_loss() || c.is_retryable() || c.is_session_expired())
}
