//! Caches of one node and of a whole subtree, kept current by persistent
//! watches (ZooKeeper 3.6+).

use crate::error::Result;
use crate::nodes::join;
use crate::pause::RetryPause;
use crate::policy::wait_connected;
use bytes::Bytes;
use futures::StreamExt;
use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};
use tokio::sync::{broadcast, watch};
use tokio_stream::wrappers::errors::BroadcastStreamRecvError;
use tokio_stream::wrappers::BroadcastStream;
use zk_client::{AddWatchMode, Client, EventType, PersistentWatch, Stat, WatchEvent};

/// A node's data and stat.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeData {
    /// The data.
    pub data: Bytes,
    /// The stat.
    pub stat: Stat,
}

/// A live copy of one node (`None` while it does not exist), kept current
/// by a persistent watch. After a reconnect (when events may have been
/// missed: [`WatchEvent::Resync`]) and after a session loss the node is
/// read again.
///
/// **Connection policy**: the last known value is kept while suspended.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let zk = zk_testserver::Ensemble::builder().start().await?;
/// # let client = zk_client::Client::builder(zk.connect_string()).renew_session_on_expiry(true).connect().await?;
/// # tokio::time::timeout(std::time::Duration::from_secs(20), demo(client)).await??;
/// # Ok(()) }
/// # async fn demo(client: zk_client::Client) -> Result<(), zk_recipes::Error> {
/// use zk_recipes::NodeCache;
/// let cache = NodeCache::start(&client, "/app/flag").await?;
/// let mut updates = cache.subscribe();
/// client.create_all("/app/flag", "on", zk_client::CreateMode::Persistent).await?;
/// // The cache follows the node (created, changed, deleted).
/// let now = updates
///     .wait_for(|node| node.is_some())
///     .await
///     .map(|node| node.as_ref().map(|n| n.data.clone()));
/// println!("flag is {now:?}");
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct NodeCache {
    rx: watch::Receiver<Option<NodeData>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for NodeCache {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn read_node(client: &Client, path: &str) -> Result<Option<NodeData>> {
    match client.get_data(path).await {
        Ok((data, stat)) => Ok(Some(NodeData { data, stat })),
        Err(e) if e.is_no_node() => Ok(None),
        Err(e) => Err(e.into()),
    }
}

impl NodeCache {
    /// Starts caching `path` (its current value is loaded before this
    /// returns).
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: a dropped start leaves no watch or task behind.
    pub async fn start(client: &Client, path: impl Into<String>) -> Result<NodeCache> {
        let path = path.into();
        let watch = client.add_watch(&path, AddWatchMode::Persistent).await?;
        let initial = read_node(client, &path).await?;
        let (tx, rx) = watch::channel(initial);
        let task = tokio::spawn(node_loop(client.clone(), path, watch, tx));
        Ok(NodeCache { rx, task })
    }

    /// The current value.
    pub fn current(&self) -> Option<NodeData> {
        self.rx.borrow().clone()
    }

    /// The value as a watch channel.
    pub fn subscribe(&self) -> watch::Receiver<Option<NodeData>> {
        self.rx.clone()
    }

    /// A stream of values: the current one, then the latest value after
    /// each change.
    ///
    /// **Changes are coalesced**: a reader sees the newest value when it
    /// looks, and values written in between may be skipped (five quick
    /// writes may show as one). Versions only grow, and the last value
    /// always arrives. This is deliberate: ZooKeeper's watch notifications
    /// carry no data, so no client can see a value that was overwritten
    /// before it read the node; to act on every change, keep the history in
    /// the data (or use a [`crate::Queue`]).
    pub fn changes(&self) -> tokio_stream::wrappers::WatchStream<Option<NodeData>> {
        tokio_stream::wrappers::WatchStream::new(self.rx.clone())
    }
}

async fn node_loop(
    client: Client,
    path: String,
    mut watch: PersistentWatch,
    tx: watch::Sender<Option<NodeData>>,
) {
    loop {
        match watch.next().await {
            Some(WatchEvent::Node(e)) if e.event_type == EventType::NodeChildrenChanged => continue,
            Some(WatchEvent::Node(_)) | Some(WatchEvent::Resync) => {}
            Some(WatchEvent::Expired) => {
                match rewatch(&client, &path, AddWatchMode::Persistent).await {
                    Some(w) => watch = w,
                    None => return,
                }
            }
            _ => return,
        }
        match read_node(&client, &path).await {
            Ok(now) => {
                tx.send_if_modified(|cur| {
                    let changed = *cur != now;
                    *cur = now;
                    changed
                });
            }
            Err(e) => tracing::debug!(%path, error = %e, "node cache reload failed"),
        }
    }
}

/// Waits for a usable session and watches `path` again; `None` once the
/// session is over for good (or the client closed).
pub(crate) async fn rewatch(
    client: &Client,
    path: &str,
    mode: AddWatchMode,
) -> Option<PersistentWatch> {
    let mut pause = RetryPause::new();
    loop {
        wait_connected(client).await.ok()?;
        match client.add_watch(path, mode).await {
            Ok(w) => return Some(w),
            Err(e) if e.is_closed() => return None,
            Err(e) => {
                tracing::debug!(%path, error = %e, "cannot watch again yet");
                pause.wait().await;
            }
        }
    }
}

/// A change applied to a [`TreeCache`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TreeEvent {
    /// A node appeared.
    Added(String, NodeData),
    /// A node's data changed.
    Updated(String, NodeData),
    /// A node (and everything below it) went away.
    Removed(String),
    /// The cache was re-read in full (after a reconnect or a session loss);
    /// the individual changes found are reported before this.
    Reloaded,
    /// This reader fell behind by more than the cache buffers
    /// ([`TreeCache::EVENT_BUFFER`] events) and `missed` events were dropped
    /// for it: the events after this one are complete again, but to know
    /// the tree, read [`TreeCache::snapshot`].
    Gap {
        /// How many events this reader missed.
        missed: u64,
    },
}

/// The changes a [`TreeCache`] applies, in order, for one reader: a
/// [`Stream`](futures::Stream) of [`TreeEvent`]s, also read with
/// [`TreeEvents::recv`].
///
/// Each reader has its own position. The cache never waits for a slow
/// reader: it keeps the last [`TreeCache::EVENT_BUFFER`] events, and a
/// reader that falls further behind gets a [`TreeEvent::Gap`] in place of
/// what it missed — never a silent skip. The stream ends when the cache is
/// dropped.
#[derive(Debug)]
pub struct TreeEvents {
    inner: BroadcastStream<TreeEvent>,
}

impl TreeEvents {
    /// A reader of `events` (also used by the one-shot-watch caches).
    pub(crate) fn new(events: broadcast::Receiver<TreeEvent>) -> TreeEvents {
        TreeEvents {
            inner: BroadcastStream::new(events),
        }
    }

    /// The next event (`None` once the cache is dropped).
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: an event is only taken when this returns it.
    pub async fn recv(&mut self) -> Option<TreeEvent> {
        self.next().await
    }
}

impl futures::Stream for TreeEvents {
    type Item = TreeEvent;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<TreeEvent>> {
        self.inner.poll_next_unpin(cx).map(|event| {
            event.map(|e| match e {
                Ok(event) => event,
                Err(BroadcastStreamRecvError::Lagged(missed)) => TreeEvent::Gap { missed },
            })
        })
    }
}

/// A live copy of a subtree (the root and all its descendants), kept
/// current by one persistent recursive watch. Events that may have been
/// missed ([`WatchEvent::Resync`] after a reconnect, or a session loss)
/// trigger a full re-read, and the differences are reported as events.
///
/// Each change of the tree is reported as an event with the data read
/// after it, so quick successive writes to a node can show as updates
/// carrying the newest data (the data in between is not seen: ZooKeeper's
/// notifications carry none), but every node that changed gets an event
/// and the last state always arrives. A reader that falls too far behind
/// gets an explicit [`TreeEvent::Gap`] (see [`TreeEvents`]).
///
/// **Connection policy**: the last known tree is kept while suspended.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let zk = zk_testserver::Ensemble::builder().start().await?;
/// # let client = zk_client::Client::builder(zk.connect_string()).renew_session_on_expiry(true).connect().await?;
/// # tokio::time::timeout(std::time::Duration::from_secs(20), demo(client)).await??;
/// # Ok(()) }
/// # async fn demo(client: zk_client::Client) -> Result<(), zk_recipes::Error> {
/// use zk_recipes::TreeCache;
/// let tree = TreeCache::start(&client, "/app/config").await?;
/// let mut events = tree.events();
/// println!("{} nodes", tree.snapshot().len());
/// client.create_all("/app/config/db", "pg://db:5432", zk_client::CreateMode::Persistent).await?;
/// // Every change below the root arrives as an event.
/// while let Some(event) = events.recv().await {
///     println!("{event:?}");
///     if tree.snapshot().contains_key("/app/config/db") {
///         break;
///     }
/// }
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct TreeCache {
    nodes: Arc<RwLock<BTreeMap<String, NodeData>>>,
    events: broadcast::Sender<TreeEvent>,
    version: watch::Receiver<u64>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for TreeCache {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn load_tree(client: &Client, root: &str) -> Result<BTreeMap<String, NodeData>> {
    let mut out = BTreeMap::new();
    let mut todo = vec![root.to_string()];
    while let Some(path) = todo.pop() {
        let Some(node) = read_node(client, &path).await? else {
            continue;
        };
        if node.stat.num_children > 0 {
            match client.get_children(&path).await {
                Ok(children) => todo.extend(children.iter().map(|c| join(&path, c))),
                Err(e) if e.is_no_node() => continue,
                Err(e) => return Err(e.into()),
            }
        }
        out.insert(path, node);
    }
    Ok(out)
}

struct TreeState {
    client: Client,
    root: String,
    nodes: Arc<RwLock<BTreeMap<String, NodeData>>>,
    events: broadcast::Sender<TreeEvent>,
    version: watch::Sender<u64>,
}

impl TreeCache {
    /// Starts caching the subtree at `root` (loaded before this returns).
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: a dropped start leaves no watch or task behind.
    pub async fn start(client: &Client, root: impl Into<String>) -> Result<TreeCache> {
        let root = root.into();
        let watch = client
            .add_watch(&root, AddWatchMode::PersistentRecursive)
            .await?;
        let nodes = Arc::new(RwLock::new(load_tree(client, &root).await?));
        let (events, _) = broadcast::channel(TreeCache::EVENT_BUFFER);
        let (version_tx, version) = watch::channel(0);
        let state = TreeState {
            client: client.clone(),
            root,
            nodes: nodes.clone(),
            events: events.clone(),
            version: version_tx,
        };
        let task = tokio::spawn(tree_loop(state, watch));
        Ok(TreeCache {
            nodes,
            events,
            version,
            task,
        })
    }

    /// One node, if present.
    pub fn get(&self, path: &str) -> Option<NodeData> {
        self.nodes.read().ok().and_then(|n| n.get(path).cloned())
    }

    /// The names of a node's children, sorted.
    pub fn children(&self, path: &str) -> Vec<String> {
        let prefix = if path == "/" {
            "/".to_string()
        } else {
            format!("{path}/")
        };
        self.nodes
            .read()
            .map(|n| {
                n.range(prefix.clone()..)
                    .take_while(|(p, _)| p.starts_with(&prefix))
                    .filter_map(|(p, _)| {
                        let rest = &p[prefix.len()..];
                        (!rest.is_empty() && !rest.contains('/')).then(|| rest.to_string())
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Every cached node.
    pub fn snapshot(&self) -> BTreeMap<String, NodeData> {
        self.nodes.read().map(|n| n.clone()).unwrap_or_default()
    }

    pub(crate) fn snapshot_handle(&self) -> Arc<RwLock<BTreeMap<String, NodeData>>> {
        self.nodes.clone()
    }

    /// How many events the cache keeps for readers that are behind; one
    /// that falls further behind gets a [`TreeEvent::Gap`].
    pub const EVENT_BUFFER: usize = 1024;

    /// Changes as they are applied from now on, for one reader (see
    /// [`TreeEvents`]: a reader that falls more than
    /// [`TreeCache::EVENT_BUFFER`] events behind gets a [`TreeEvent::Gap`]).
    pub fn events(&self) -> TreeEvents {
        TreeEvents {
            inner: BroadcastStream::new(self.events.subscribe()),
        }
    }

    /// Counts applied changes, as a watch channel (to wait for the cache to
    /// catch up with something).
    pub fn version(&self) -> watch::Receiver<u64> {
        self.version.clone()
    }
}

/// Applies `event` to a cached tree (shared with the one-shot-watch
/// caches).
pub(crate) fn apply_to(nodes: &RwLock<BTreeMap<String, NodeData>>, event: &TreeEvent) {
    if let Ok(mut nodes) = nodes.write() {
        match event {
            TreeEvent::Added(p, d) | TreeEvent::Updated(p, d) => {
                nodes.insert(p.clone(), d.clone());
            }
            TreeEvent::Removed(p) => {
                let below = format!("{p}/");
                nodes.retain(|k, _| k != p && !k.starts_with(&below));
            }
            TreeEvent::Reloaded | TreeEvent::Gap { .. } => {}
        }
    }
}

impl TreeState {
    fn apply(&self, event: TreeEvent) {
        apply_to(&self.nodes, &event);
        let _ = self.events.send(event);
        self.version.send_modify(|v| *v += 1);
    }

    async fn refresh(&self, path: &str) {
        match read_node(&self.client, path).await {
            Ok(Some(data)) => {
                let known = self.nodes.read().ok().and_then(|n| n.get(path).cloned());
                match known {
                    None => self.apply(TreeEvent::Added(path.to_string(), data)),
                    Some(old) if old != data => {
                        self.apply(TreeEvent::Updated(path.to_string(), data))
                    }
                    Some(_) => {}
                }
            }
            Ok(None) => self.remove(path),
            Err(e) => tracing::debug!(%path, error = %e, "tree cache read failed"),
        }
    }

    fn remove(&self, path: &str) {
        let known = self
            .nodes
            .read()
            .map(|n| n.contains_key(path))
            .unwrap_or(false);
        if known {
            self.apply(TreeEvent::Removed(path.to_string()));
        }
    }

    async fn reload(&self) {
        let fresh = match load_tree(&self.client, &self.root).await {
            Ok(t) => t,
            Err(e) => {
                tracing::debug!(root = %self.root, error = %e, "tree cache reload failed");
                return;
            }
        };
        let old = self.nodes.read().map(|n| n.clone()).unwrap_or_default();
        for path in old.keys().filter(|p| !fresh.contains_key(*p)) {
            if self
                .nodes
                .read()
                .map(|n| n.contains_key(path))
                .unwrap_or(false)
            {
                self.apply(TreeEvent::Removed(path.clone()));
            }
        }
        for (path, data) in fresh {
            match old.get(&path) {
                None => self.apply(TreeEvent::Added(path, data)),
                Some(o) if *o != data => self.apply(TreeEvent::Updated(path, data)),
                Some(_) => {}
            }
        }
        self.apply(TreeEvent::Reloaded);
    }
}

async fn tree_loop(state: TreeState, mut watch: PersistentWatch) {
    loop {
        match watch.next().await {
            Some(WatchEvent::Node(e)) => match e.event_type {
                EventType::NodeDeleted => state.remove(&e.path),
                EventType::NodeCreated | EventType::NodeDataChanged => state.refresh(&e.path).await,
                _ => {}
            },
            Some(WatchEvent::Resync) => state.reload().await,
            Some(WatchEvent::Expired) => {
                match rewatch(
                    &state.client,
                    &state.root,
                    AddWatchMode::PersistentRecursive,
                )
                .await
                {
                    Some(w) => watch = w,
                    None => return,
                }
                state.reload().await;
            }
            _ => return,
        }
    }
}
