//! Curator's `PersistentNode` and `PersistentTtlNode`: a node that stays
//! there (re-created when deleted, after a session loss, ...) for as long
//! as the handle lives.

use crate::error::{Error, Result};
use crate::nodes::{ensure_dir, join};
use crate::pause::RetryPause;
use crate::policy::wait_connected;
use crate::protected::{delete_guaranteed, ProtectedCreate};
use bytes::Bytes;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;
use tokio::sync::watch;
use zk_client::{Client, CreateMode, CreateOptions, EventType, WatchEvent};

/// A node kept in existence: created with its data (missing parents as
/// containers), re-created whenever it disappears — deleted by someone,
/// or an ephemeral node gone with an expired session (when the client
/// renews sessions) — and deleted when the handle is closed or dropped.
/// Curator's `PersistentNode`, same layout.
///
/// If the node already exists it is adopted and its data set to ours (as
/// Curator does). Data changes by others are left alone until the node has
/// to be re-created. Sequential modes always use protection (see
/// [`ProtectedCreate`]), so a lost create reply never leaves two nodes;
/// [`PersistentNode::with_protection`] adds it to the other modes.
///
/// Typical use: an ephemeral registration node that must survive session
/// expiry (Curator's `GroupMember` is one).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let zk = zk_testserver::Ensemble::builder().start().await?;
/// # let client = zk_client::Client::builder(zk.connect_string()).renew_session_on_expiry(true).connect().await?;
/// use std::time::Duration;
/// use zk_client::CreateMode;
/// use zk_recipes::PersistentNode;
/// let node = PersistentNode::new(&client, "/workers/w1", CreateMode::Ephemeral, "ready");
/// node.start();
/// assert!(node.wait_for_initial_create(Duration::from_secs(10)).await?);
/// client.delete("/workers/w1", None).await?; // someone removes it...
/// let mut path = node.watch_path();
/// # tokio::time::timeout(Duration::from_secs(10), async {
/// while client.exists("/workers/w1").await?.is_none() { // ...and it comes back
///     path.changed().await.ok();
/// }
/// # Ok::<_, zk_client::Error>(()) }).await??;
/// node.close().await?;
/// # Ok(()) }
/// ```
///
/// # Cancel safety
///
/// [`PersistentNode::set_data`] records the data before writing it, so a
/// dropped call still takes effect (at the latest when the node is next
/// re-created); [`PersistentNode::close`] stops the keeper first, so a
/// dropped close still deletes the node in the background.
#[derive(Clone)]
pub struct PersistentNode {
    inner: Arc<Inner>,
}

struct Inner {
    client: Client,
    base_path: String,
    mode: CreateMode,
    ttl: Mutex<Option<Duration>>,
    protection: Mutex<Option<ProtectedCreate>>,
    data: Mutex<Bytes>,
    actual: watch::Sender<Option<String>>,
    closed: watch::Sender<bool>,
    delete_on_close: bool,
    task: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl std::fmt::Debug for PersistentNode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PersistentNode")
            .field("base_path", &self.inner.base_path)
            .field("mode", &self.inner.mode)
            .field("actual_path", &self.actual_path())
            .finish()
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Ok(mut t) = self.task.lock() {
            if let Some(t) = t.take() {
                t.abort();
            }
        }
        if *self.closed.borrow() || !self.delete_on_close {
            return;
        }
        if let (Some(path), Ok(handle)) = (
            self.actual.borrow().clone(),
            tokio::runtime::Handle::try_current(),
        ) {
            let client = self.client.clone();
            handle.spawn(async move {
                let _ = delete_guaranteed(&client, &path, None).await;
            });
        }
    }
}

impl PersistentNode {
    /// A node at `path` (for sequential modes: the prefix) in `mode` with
    /// `data`. Call [`PersistentNode::start`] to create it.
    pub fn new(
        client: &Client,
        path: impl Into<String>,
        mode: CreateMode,
        data: impl Into<Bytes>,
    ) -> PersistentNode {
        PersistentNode::build(client, path.into(), mode, None, data.into(), true)
    }

    fn build(
        client: &Client,
        base_path: String,
        mode: CreateMode,
        ttl: Option<Duration>,
        data: Bytes,
        delete_on_close: bool,
    ) -> PersistentNode {
        let protection = mode
            .is_sequential()
            .then(|| ProtectedCreate::new(&base_path));
        PersistentNode {
            inner: Arc::new(Inner {
                client: client.clone(),
                base_path,
                mode,
                ttl: Mutex::new(ttl),
                protection: Mutex::new(protection),
                data: Mutex::new(data),
                actual: watch::Sender::new(None),
                closed: watch::Sender::new(false),
                delete_on_close,
                task: Mutex::new(None),
            }),
        }
    }

    /// Creates the node with Curator's protection (`_c_<uuid>-` prefix) in
    /// any mode (sequential modes always have it). Call before `start`.
    pub fn with_protection(self) -> PersistentNode {
        if let Ok(mut p) = self.inner.protection.lock() {
            if p.is_none() {
                *p = Some(ProtectedCreate::new(&self.inner.base_path));
            }
        }
        self
    }

    /// A TTL mode's time to live (needed by the TTL modes, which the server
    /// must allow: `zookeeper.extendedTypesEnabled`). Call before `start`.
    pub fn with_ttl(self, ttl: Duration) -> PersistentNode {
        if let Ok(mut t) = self.inner.ttl.lock() {
            *t = Some(ttl);
        }
        self
    }

    /// Starts keeping the node (in the background). Calling it again does
    /// nothing.
    pub fn start(&self) {
        let Ok(mut task) = self.inner.task.lock() else {
            return;
        };
        if task.is_some() || *self.inner.closed.borrow() {
            return;
        }
        *task = Some(tokio::spawn(keep(
            Arc::downgrade(&self.inner),
            self.inner.client.clone(),
        )));
    }

    /// Waits until the node was first created; `false` on timeout.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: it only waits.
    pub async fn wait_for_initial_create(&self, timeout: Duration) -> Result<bool> {
        let mut rx = self.inner.actual.subscribe();
        let created = tokio::time::timeout(timeout, rx.wait_for(Option::is_some))
            .await
            .map(|r| r.is_ok());
        match created {
            Ok(true) => Ok(true),
            Ok(false) => Err(Error::Closed),
            Err(_) => Ok(false),
        }
    }

    /// The node's current path (with its sequence number for sequential
    /// modes), once created.
    pub fn actual_path(&self) -> Option<String> {
        self.inner.actual.borrow().clone()
    }

    /// The node's path as a watch channel (it changes when a sequential
    /// node is re-created under a new number).
    pub fn watch_path(&self) -> watch::Receiver<Option<String>> {
        self.inner.actual.subscribe()
    }

    /// The data the node is (re-)created with.
    pub fn data(&self) -> Bytes {
        self.inner
            .data
            .lock()
            .map(|d| d.clone())
            .unwrap_or_default()
    }

    /// Sets the node's data (and remembers it for re-creation).
    ///
    /// # Cancel safety
    ///
    /// The data is recorded before it is written, so a dropped call still
    /// takes effect (at the latest when the node is next re-created).
    pub async fn set_data(&self, data: impl Into<Bytes>) -> Result<()> {
        let data = data.into();
        if let Ok(mut d) = self.inner.data.lock() {
            *d = data.clone();
        }
        let Some(path) = self.actual_path() else {
            return Ok(()); // created with it
        };
        match self.inner.client.set_data(&path, data, None).await {
            Ok(_) => Ok(()),
            // Being re-created, with the new data.
            Err(e) if e.is_no_node() => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Stops keeping the node and deletes it (a guaranteed delete: kept up
    /// in the background if the connection is down).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: from the first poll the keeper is stopped and the delete
    /// runs in a task of its own, so a dropped `close` still deletes the
    /// node (a guaranteed delete, as [`delete_guaranteed`]).
    pub async fn close(&self) -> Result<()> {
        if self.inner.closed.send_replace(true) {
            return Ok(());
        }
        if let Ok(mut t) = self.inner.task.lock() {
            if let Some(t) = t.take() {
                t.abort();
            }
        }
        let path = self.inner.actual.send_replace(None);
        match path {
            Some(path) if self.inner.delete_on_close => {
                // In a task of its own, so that a dropped `close` still
                // deletes (its retries hold only a weak client).
                let client = self.inner.client.clone();
                let deleting =
                    tokio::spawn(async move { delete_guaranteed(&client, &path, None).await });
                deleting.await.map_err(|_| Error::Closed)??;
                Ok(())
            }
            _ => Ok(()),
        }
    }

    pub(crate) fn client(&self) -> &Client {
        &self.inner.client
    }
}

impl Inner {
    fn options(&self) -> CreateOptions {
        let options = CreateOptions::new(self.mode);
        match self.ttl.lock().ok().and_then(|t| *t) {
            Some(ttl) => options.ttl(ttl),
            None => options,
        }
    }

    /// Creates the node, or adopts it if it exists; its path.
    async fn ensure(&self) -> Result<String> {
        let data = self.data.lock().map(|d| d.clone()).unwrap_or_default();
        let protection = self.protection.lock().ok().and_then(|p| p.clone());
        if let Some(protection) = protection {
            return Ok(protection.run(&self.client, data, self.options()).await?.0);
        }
        loop {
            match self
                .client
                .create(&self.base_path, data.clone(), self.options())
                .await
            {
                Ok((path, _)) => return Ok(path),
                Err(e) if e.is_no_node() => {
                    ensure_dir(&self.client, crate::nodes::parent_of(&self.base_path), true).await?
                }
                Err(e) if e.is_node_exists() => {
                    match self
                        .client
                        .set_data(&self.base_path, data.clone(), None)
                        .await
                    {
                        Ok(_) => return Ok(self.base_path.clone()),
                        Err(e) if e.is_no_node() => {}
                        Err(e) => return Err(e.into()),
                    }
                }
                Err(e) => return Err(e.into()),
            }
        }
    }
}

/// The keeper: (re-)creates the node and watches it.
async fn keep(weak: Weak<Inner>, client: Client) {
    let mut pause = RetryPause::new();
    let mut known: Option<String> = None;
    loop {
        let Some(inner) = weak.upgrade() else { return };
        if *inner.closed.borrow() {
            return;
        }
        let path = match known.take() {
            Some(path) => path,
            None => match inner.ensure().await {
                Ok(path) => {
                    pause.reset();
                    inner.actual.send_replace(Some(path.clone()));
                    path
                }
                Err(e) if e.is_session_lost() && !client.renews_session_on_expiry() => {
                    tracing::warn!(error = %e, "persistent node: session lost; giving up");
                    return;
                }
                Err(e) => {
                    tracing::debug!(path = %inner.base_path, error = %e, "persistent node: create failed; retrying");
                    drop(inner);
                    pause.wait().await;
                    continue;
                }
            },
        };
        let watch = match client.exists_watch(&path).await {
            Ok((Some(_), w)) => w,
            Ok((None, _)) => continue,
            Err(e) => {
                tracing::debug!(%path, error = %e, "persistent node: watch failed; retrying");
                drop(inner);
                if wait_connected(&client).await.is_err() && !client.renews_session_on_expiry() {
                    return;
                }
                pause.wait().await;
                continue;
            }
        };
        drop(inner);
        match watch.await {
            // Only the data changed: keep watching the same node.
            WatchEvent::Node(e) if e.event_type == EventType::NodeDataChanged => known = Some(path),
            WatchEvent::Node(_) | WatchEvent::Resync => {}
            WatchEvent::Expired => {
                if wait_connected(&client).await.is_err() {
                    return;
                }
            }
            _ => return,
        }
    }
}

/// Curator's `PersistentTtlNode`: a persistent TTL node at `path` holding
/// the data, with a TTL child `touch` that is touched every `ttl / 2` while
/// the handle lives. When the process dies (or the handle is closed) the
/// touching stops: the child expires after the TTL, then the node itself,
/// a TTL node without children. The server must allow TTL nodes
/// (`zookeeper.extendedTypesEnabled=true`).
///
/// # Cancel safety
///
/// As [`PersistentNode`].
#[derive(Debug)]
pub struct PersistentTtlNode {
    node: PersistentNode,
    ttl: Duration,
    toucher: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

/// The name of the TTL child a [`PersistentTtlNode`] touches (Curator's).
pub const TTL_TOUCH_CHILD: &str = "touch";

impl PersistentTtlNode {
    /// A TTL node at `path` with `data`, living `ttl` past the last touch.
    pub fn new(
        client: &Client,
        path: impl Into<String>,
        ttl: Duration,
        data: impl Into<Bytes>,
    ) -> PersistentTtlNode {
        PersistentTtlNode {
            node: PersistentNode::build(
                client,
                path.into(),
                CreateMode::PersistentWithTtl,
                Some(ttl),
                data.into(),
                false,
            ),
            ttl,
            toucher: Mutex::new(None),
        }
    }

    /// Creates the node and starts touching its child.
    pub fn start(&self) {
        self.node.start();
        let Ok(mut toucher) = self.toucher.lock() else {
            return;
        };
        if toucher.is_none() {
            let client = self.node.client().clone();
            let child = join(&self.node.inner.base_path, TTL_TOUCH_CHILD);
            *toucher = Some(tokio::spawn(touch_loop(client, child, self.ttl)));
        }
    }

    /// See [`PersistentNode::wait_for_initial_create`].
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: it only waits.
    pub async fn wait_for_initial_create(&self, timeout: Duration) -> Result<bool> {
        self.node.wait_for_initial_create(timeout).await
    }

    /// See [`PersistentNode::set_data`].
    ///
    /// # Cancel safety
    ///
    /// As [`PersistentNode::set_data`].
    pub async fn set_data(&self, data: impl Into<Bytes>) -> Result<()> {
        self.node.set_data(data).await
    }

    /// The data.
    pub fn data(&self) -> Bytes {
        self.node.data()
    }

    /// Stops touching and keeping the node, without deleting it: it expires
    /// after the TTL.
    ///
    /// # Cancel safety
    ///
    /// Touching stops on the first poll; the rest is as
    /// [`PersistentNode::close`].
    pub async fn close(&self) -> Result<()> {
        if let Ok(mut t) = self.toucher.lock() {
            if let Some(t) = t.take() {
                t.abort();
            }
        }
        self.node.close().await
    }
}

impl Drop for PersistentTtlNode {
    fn drop(&mut self) {
        if let Ok(mut t) = self.toucher.lock() {
            if let Some(t) = t.take() {
                t.abort();
            }
        }
    }
}

async fn touch_loop(client: Client, child: String, ttl: Duration) {
    let period = (ttl / 2).max(Duration::from_millis(1));
    let mut ticks = tokio::time::interval(period);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticks.tick().await;
    loop {
        ticks.tick().await;
        match client.set_data(&child, Bytes::new(), None).await {
            Ok(_) => {}
            Err(e) if e.is_no_node() => {
                let options = CreateOptions::new(CreateMode::PersistentWithTtl).ttl(ttl);
                match client.create(&child, Bytes::new(), options).await {
                    Ok(_) => {}
                    // The parent is not there (yet): the keeper re-creates it.
                    Err(e) if e.is_no_node() || e.is_node_exists() => {}
                    Err(e) => tracing::debug!(%child, error = %e, "could not touch"),
                }
            }
            Err(e) if e.is_closed() => return,
            Err(e) => tracing::debug!(%child, error = %e, "could not touch"),
        }
    }
}
