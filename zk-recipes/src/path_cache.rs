//! Curator's `PathChildrenCache`: the direct children of one node, with
//! their data, kept current by one-shot watches.

use crate::error::Result;
use crate::node_cache::{NodeData, TreeEvent, TreeEvents};
use crate::nodes::basename;
use crate::watch_tree::{self, Published};
use futures::StreamExt;
use std::collections::BTreeMap;
use tokio::sync::watch;
use zk_client::Client;

/// A change to a [`PathChildrenCache`] (by child name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChildEvent {
    /// A child appeared.
    Added(String, NodeData),
    /// A child's data changed.
    Updated(String, NodeData),
    /// A child went away.
    Removed(String),
    /// The children were read again in full (after a reconnect that may
    /// have missed events, or a session loss); the differences found are
    /// reported before this.
    Reloaded,
    /// This reader fell behind and `missed` events were dropped for it;
    /// [`PathChildrenCache::current`] has the children.
    Gap {
        /// How many events this reader missed.
        missed: u64,
    },
}

/// The children of `path` and their data (Curator's `PathChildrenCache`):
/// a child watch on `path` and a data watch on each child, left again each
/// time they fire, so it works on every ZooKeeper version. The parent
/// need not exist: the cache fills when it appears and empties when it
/// goes.
///
/// **Connection policy**: the last known children are kept while
/// suspended; after a session loss everything is read again.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let zk = zk_testserver::Ensemble::builder().start().await?;
/// # let client = zk_client::Client::connect(zk.connect_string()).await?;
/// use zk_client::CreateMode;
/// use zk_recipes::PathChildrenCache;
/// let cache = PathChildrenCache::start(&client, "/workers").await?;
/// client.create_all("/workers/w1", "idle", CreateMode::Persistent).await?;
/// let mut version = cache.version();
/// version.wait_for(|_| cache.get("w1").is_some()).await?;
/// assert_eq!(cache.get("w1").unwrap().data.as_ref(), b"idle");
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct PathChildrenCache {
    path: String,
    out: Published,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for PathChildrenCache {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl PathChildrenCache {
    /// Starts caching the children of `path` (loaded before this
    /// returns).
    ///
    /// # Cancel safety
    ///
    /// Dropped before it returns, nothing is left running (the watches
    /// already left are removed with their handles).
    pub async fn start(client: &Client, path: impl Into<String>) -> Result<PathChildrenCache> {
        let path = path.into();
        let out = Published::new();
        let task = watch_tree::start(client, path.clone(), Some(1), out.clone()).await?;
        Ok(PathChildrenCache { path, out, task })
    }

    /// The parent's path.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The children by name, with their data.
    pub fn current(&self) -> BTreeMap<String, NodeData> {
        self.out
            .nodes
            .read()
            .map(|n| {
                n.iter()
                    .filter(|(p, _)| p.as_str() != self.path)
                    .map(|(p, d)| (basename(p).to_string(), d.clone()))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// One child by name.
    pub fn get(&self, name: &str) -> Option<NodeData> {
        let path = crate::nodes::join(&self.path, name);
        self.out
            .nodes
            .read()
            .ok()
            .and_then(|n| n.get(&path).cloned())
    }

    /// Changes to the children as they are applied, for one reader (a
    /// reader that falls behind gets a [`ChildEvent::Gap`];
    /// [`PathChildrenCache::current`] catches up).
    pub fn events(&self) -> impl futures::Stream<Item = ChildEvent> + Send + Unpin + 'static {
        let parent = self.path.clone();
        TreeEvents::new(self.out.events.subscribe()).filter_map(move |event| {
            let child = |p: &str| (p != parent).then(|| basename(p).to_string());
            let mapped = match event {
                TreeEvent::Added(p, d) => child(&p).map(|c| ChildEvent::Added(c, d)),
                TreeEvent::Updated(p, d) => child(&p).map(|c| ChildEvent::Updated(c, d)),
                TreeEvent::Removed(p) if p == parent => Some(ChildEvent::Reloaded),
                TreeEvent::Removed(p) => child(&p).map(ChildEvent::Removed),
                TreeEvent::Reloaded => Some(ChildEvent::Reloaded),
                TreeEvent::Gap { missed } => Some(ChildEvent::Gap { missed }),
            };
            std::future::ready(mapped)
        })
    }

    /// Counts applied changes, as a watch channel (to wait for the cache
    /// to show something).
    pub fn version(&self) -> watch::Receiver<u64> {
        self.out.version.subscribe()
    }
}
