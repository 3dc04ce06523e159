//! Group membership (Curator's `GroupMember`): each member is an ephemeral
//! node `<path>/<id>` holding its payload, re-created after session loss.

use crate::error::{Error, Result};
use crate::node_cache::TreeCache;
use crate::nodes::{basename, delete_quietly, ensure_dir, join, release_node};
use crate::pause::RetryPause;
use crate::policy::{wait_connected, writable};
use bytes::Bytes;
use futures::StreamExt;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use tokio::sync::watch;
use zk_client::{Client, CreateMode, EventType, WatchEvent};

/// A member of a group.
///
/// [`GroupMember::start`] creates the member node and keeps it: after a
/// session loss (when the client renews sessions) or if someone deletes it,
/// it is created again with the latest payload. [`GroupMember::members`]
/// reads the group; [`GroupMember::watch_members`] follows it.
///
/// **Connection policy**: Suspended changes nothing (the node lives as long
/// as the session); after Lost the node is re-created in the new session.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let zk = zk_testserver::Ensemble::builder().start().await?;
/// # let client = zk_client::Client::builder(zk.connect_string()).renew_session_on_expiry(true).connect().await?;
/// # tokio::time::timeout(std::time::Duration::from_secs(20), demo(client)).await??;
/// # Ok(()) }
/// # async fn demo(client: zk_client::Client) -> Result<(), zk_recipes::Error> {
/// use zk_recipes::GroupMember;
/// let me = GroupMember::new(&client, "/app/members", "node-1", "10.0.0.5:8080");
/// me.start().await?;
/// let members = me.members().await?;
/// println!("{} members", members.len());
/// me.close().await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct GroupMember {
    handle: Arc<Handle>,
}

/// Shared by the clones of one member; when the last clone goes, the member
/// leaves the group (in the background).
struct Handle {
    inner: Arc<Inner>,
}

impl Drop for Handle {
    fn drop(&mut self) {
        // The keeper sees it, removes the member node and ends: it does not
        // outlive the handles (nor keep the session open).
        self.inner.closed.send_replace(true);
    }
}

struct Inner {
    client: Client,
    path: String,
    id: String,
    payload: Mutex<Bytes>,
    task: Mutex<Option<tokio::task::JoinHandle<()>>>,
    present: watch::Sender<bool>,
    closed: watch::Sender<bool>,
}

impl std::fmt::Debug for GroupMember {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupMember")
            .field("path", &self.handle.inner.path)
            .field("id", &self.handle.inner.id)
            .finish()
    }
}

impl GroupMember {
    /// A member `id` of the group at `path` with `payload`.
    pub fn new(
        client: &Client,
        path: impl Into<String>,
        id: impl Into<String>,
        payload: impl Into<Bytes>,
    ) -> GroupMember {
        GroupMember {
            handle: Arc::new(Handle {
                inner: Arc::new(Inner {
                    client: client.clone(),
                    path: path.into(),
                    id: id.into(),
                    payload: Mutex::new(payload.into()),
                    task: Mutex::new(None),
                    present: watch::Sender::new(false),
                    closed: watch::Sender::new(false),
                }),
            }),
        }
    }

    fn node(&self) -> String {
        join(&self.handle.inner.path, &self.handle.inner.id)
    }

    /// Joins the group (waits until the member node exists) and keeps the
    /// membership in the background, until [`GroupMember::close`] or until
    /// the last clone of this member is dropped (then the node is removed,
    /// in the background). Fails with [`Error::Closed`] after `close`.
    ///
    /// # Cancel safety
    ///
    /// Once polled, the member joins even if the future is dropped: the
    /// background keeper is started by the first poll; only the wait for
    /// the node is abandoned.
    pub async fn start(&self) -> Result<()> {
        let inner = &self.handle.inner;
        {
            let Ok(mut task) = inner.task.lock() else {
                return Err(Error::Closed);
            };
            if *inner.closed.borrow() {
                return Err(Error::Closed);
            }
            if task.is_none() {
                *task = Some(tokio::spawn(keep(inner.clone())));
            }
        }
        let mut present = inner.present.subscribe();
        let mut closed = inner.closed.subscribe();
        tokio::select! {
            p = present.wait_for(|p| *p) => p.map(|_| ()).map_err(|_| Error::Closed),
            _ = closed.wait_for(|c| *c) => Err(Error::Closed),
        }
    }

    /// Changes this member's payload.
    ///
    /// # Cancel safety
    ///
    /// The new payload is remembered at the first poll (a re-created node uses
    /// it); a dropped call may or may not have written it to the node yet.
    /// Calling it again is harmless.
    pub async fn set_payload(&self, payload: impl Into<Bytes>) -> Result<()> {
        let payload = payload.into();
        if let Ok(mut p) = self.handle.inner.payload.lock() {
            *p = payload.clone();
        }
        match self
            .handle
            .inner
            .client
            .set_data(&self.node(), payload, None)
            .await
        {
            Ok(_) => Ok(()),
            // The keeper writes the latest payload when it re-creates the node.
            Err(e) if e.is_no_node() => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// The group's members: id → payload.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: it only reads.
    pub async fn members(&self) -> Result<BTreeMap<String, Bytes>> {
        let client = &self.handle.inner.client;
        let children = match client.get_children(&self.handle.inner.path).await {
            Ok(c) => c,
            Err(e) if e.is_no_node() => return Ok(BTreeMap::new()),
            Err(e) => return Err(e.into()),
        };
        let mut out = BTreeMap::new();
        for child in children {
            match client
                .get_data(&join(&self.handle.inner.path, &child))
                .await
            {
                Ok((data, _)) => {
                    out.insert(child, data);
                }
                Err(e) if e.is_no_node() => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(out)
    }

    /// Follows the group: a watch channel of id → payload, kept current by a
    /// [`TreeCache`] of the group path (dropped with the returned cache).
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: a dropped call leaves no watch or task behind.
    pub async fn watch_members(
        &self,
    ) -> Result<(TreeCache, watch::Receiver<BTreeMap<String, Bytes>>)> {
        let tree =
            TreeCache::start(&self.handle.inner.client, self.handle.inner.path.clone()).await?;
        let root = self.handle.inner.path.clone();
        let snapshot = move |t: &TreeCache| -> BTreeMap<String, Bytes> {
            t.children(&root)
                .into_iter()
                .filter_map(|c| t.get(&join(&root, &c)).map(|n| (c, n.data)))
                .collect()
        };
        let (tx, rx) = watch::channel(snapshot(&tree));
        let mut version = tree.version();
        let nodes = tree.snapshot_handle();
        let root = self.handle.inner.path.clone();
        tokio::spawn(async move {
            while version.changed().await.is_ok() {
                let now: BTreeMap<String, Bytes> = nodes
                    .read()
                    .map(|n| {
                        n.iter()
                            .filter(|(p, _)| crate::nodes::parent_of(p) == root)
                            .map(|(p, d)| (basename(p).to_string(), d.data.clone()))
                            .collect()
                    })
                    .unwrap_or_default();
                tx.send_if_modified(|cur| {
                    let changed = *cur != now;
                    *cur = now;
                    changed
                });
            }
        });
        Ok((tree, rx))
    }

    /// Leaves the group: stops keeping the node and deletes it (in the
    /// background if the connection is down).
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: once polled, the member leaves even if the future is
    /// dropped (the keeper finishes the leaving).
    pub async fn close(&self) -> Result<()> {
        let inner = &self.handle.inner;
        inner.closed.send_replace(true);
        let task = inner.task.lock().ok().and_then(|mut t| t.take());
        match task {
            // The keeper removes the node as it stops.
            Some(task) => {
                let _ = task.await;
            }
            None => {
                inner.present.send_replace(false);
                delete_quietly(&inner.client, &self.node()).await?;
            }
        }
        Ok(())
    }
}

/// The member's task: keeps the node until closed (or until the last handle
/// is dropped), then removes it.
async fn keep(inner: Arc<Inner>) {
    let mut closed = inner.closed.subscribe();
    tokio::select! {
        _ = keep_node(&inner) => {}
        _ = closed.wait_for(|c| *c) => {}
    }
    inner.present.send_replace(false);
    let node = join(&inner.path, &inner.id);
    // Sent after any create of ours still on its way, on the same session.
    release_node(&inner.client, &node, inner.client.session_id()).await;
}

async fn keep_node(inner: &Inner) {
    let client = inner.client.clone();
    let node = join(&inner.path, &inner.id);
    let mut states = client.state_stream();
    let mut pause = RetryPause::new();
    loop {
        if wait_connected(&client).await.is_err() {
            inner.present.send_replace(false);
            return;
        }
        let session = client.session_id();
        let payload = inner.payload.lock().map(|p| p.clone()).unwrap_or_default();
        let made = match client
            .create(&node, payload.clone(), CreateMode::Ephemeral)
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if e.is_no_node() => ensure_dir(&client, &inner.path, true).await.map(|_| ()),
            Err(e) if e.is_node_exists() => match client.exists(&node).await {
                Ok(Some(stat)) if stat.ephemeral_owner == session => client
                    .set_data(&node, payload, None)
                    .await
                    .map(|_| ())
                    .map_err(Into::into),
                // A node of an earlier session: replace it.
                Ok(Some(_)) => delete_quietly(&client, &node).await,
                Ok(None) => Ok(()),
                Err(e) => Err(e.into()),
            },
            Err(e) => Err(e.into()),
        };
        if let Err(e) = made {
            tracing::debug!(%node, error = %e, "group member node not written; retrying");
            pause.wait().await;
            continue;
        }
        let watch = match client.exists_watch(&node).await {
            Ok((Some(stat), w)) if stat.ephemeral_owner == session => w,
            Ok(_) => continue,
            Err(e) => {
                tracing::debug!(%node, error = %e, "group member node not watched; retrying");
                pause.wait().await;
                continue;
            }
        };
        pause.reset();
        inner.present.send_replace(true);
        // Wait until the node goes or the session changes.
        tokio::select! {
            event = watch => match event {
                WatchEvent::Node(e) if e.event_type == EventType::NodeDeleted => {}
                WatchEvent::Closed | WatchEvent::AuthFailed => return,
                _ => {}
            },
            _ = async {
                while let Some(s) = states.next().await {
                    if s.is_terminal() || (writable(s) && client.session_id() != session) {
                        return;
                    }
                }
            } => {}
        }
        inner.present.send_replace(false);
    }
}
