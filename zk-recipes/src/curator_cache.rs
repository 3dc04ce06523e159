//! Curator's `CuratorCache`: a subtree cache on a persistent recursive
//! watch, falling back to one-shot watches on servers without persistent
//! watches (ZooKeeper 3.5).

use crate::error::{Error, Result};
use crate::node_cache::{NodeData, TreeCache, TreeEvents};
use crate::watch_tree::{self, Published};
use std::collections::BTreeMap;
use tokio::sync::watch;
use zk_client::proto::ErrorCode;
use zk_client::Client;

/// How a [`CuratorCache`] learns about changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheWatchMode {
    /// One persistent recursive watch on the root (ZooKeeper 3.6+).
    PersistentRecursive,
    /// A one-shot data watch per node and child watch per directory, left
    /// again as they fire (every ZooKeeper version).
    OneShot,
}

/// A live copy of a subtree (the root and all its descendants), like
/// Curator's `CuratorCache`: on a persistent recursive watch (see
/// [`TreeCache`]) where the server has them, otherwise — the server
/// answers `addWatch` with `Unimplemented`, as ZooKeeper 3.5 does — on
/// one-shot watches, like Curator's older `TreeCache`.
///
/// **Connection policy**: the last known tree is kept while suspended;
/// missed events (a reconnect, a session loss) lead to a full re-read whose
/// differences are reported as events.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let zk = zk_testserver::Ensemble::builder().start().await?;
/// # let client = zk_client::Client::connect(zk.connect_string()).await?;
/// use zk_client::CreateMode;
/// use zk_recipes::{CacheWatchMode, CuratorCache};
/// let cache = CuratorCache::start(&client, "/config").await?;
/// assert_eq!(cache.mode(), CacheWatchMode::PersistentRecursive);
/// client.create_all("/config/db/url", "pg://db", CreateMode::Persistent).await?;
/// let mut version = cache.version();
/// version.wait_for(|_| cache.get("/config/db/url").is_some()).await?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct CuratorCache {
    inner: Mode,
}

#[derive(Debug)]
enum Mode {
    Persistent(TreeCache),
    OneShot {
        out: Published,
        task: tokio::task::JoinHandle<()>,
    },
}

impl Drop for CuratorCache {
    fn drop(&mut self) {
        if let Mode::OneShot { task, .. } = &self.inner {
            task.abort();
        }
    }
}

impl CuratorCache {
    /// Starts caching the subtree at `root` (loaded before this returns),
    /// on a persistent watch if the server has them.
    ///
    /// # Cancel safety
    ///
    /// Dropped before it returns, nothing is left running.
    pub async fn start(client: &Client, root: impl Into<String>) -> Result<CuratorCache> {
        let root = root.into();
        match TreeCache::start(client, root.clone()).await {
            Ok(tree) => Ok(CuratorCache {
                inner: Mode::Persistent(tree),
            }),
            Err(e) if no_persistent_watches(&e) => {
                tracing::info!(%root, "server without persistent watches; caching with one-shot watches");
                CuratorCache::start_one_shot(client, root).await
            }
            Err(e) => Err(e),
        }
    }

    /// Starts caching with one-shot watches whatever the server supports.
    ///
    /// # Cancel safety
    ///
    /// Dropped before it returns, nothing is left running.
    pub async fn start_one_shot(client: &Client, root: impl Into<String>) -> Result<CuratorCache> {
        let out = Published::new();
        let task = watch_tree::start(client, root.into(), None, out.clone()).await?;
        Ok(CuratorCache {
            inner: Mode::OneShot { out, task },
        })
    }

    /// How this cache watches.
    pub fn mode(&self) -> CacheWatchMode {
        match self.inner {
            Mode::Persistent(_) => CacheWatchMode::PersistentRecursive,
            Mode::OneShot { .. } => CacheWatchMode::OneShot,
        }
    }

    /// One node, if present.
    pub fn get(&self, path: &str) -> Option<NodeData> {
        match &self.inner {
            Mode::Persistent(t) => t.get(path),
            Mode::OneShot { out, .. } => out.nodes.read().ok().and_then(|n| n.get(path).cloned()),
        }
    }

    /// Every cached node.
    pub fn snapshot(&self) -> BTreeMap<String, NodeData> {
        match &self.inner {
            Mode::Persistent(t) => t.snapshot(),
            Mode::OneShot { out, .. } => out.nodes.read().map(|n| n.clone()).unwrap_or_default(),
        }
    }

    /// Changes as they are applied, for one reader (a reader that falls
    /// behind gets a [`crate::TreeEvent::Gap`]; [`CuratorCache::snapshot`] catches
    /// up).
    pub fn events(&self) -> TreeEvents {
        match &self.inner {
            Mode::Persistent(t) => t.events(),
            Mode::OneShot { out, .. } => TreeEvents::new(out.events.subscribe()),
        }
    }

    /// Counts applied changes, as a watch channel.
    pub fn version(&self) -> watch::Receiver<u64> {
        match &self.inner {
            Mode::Persistent(t) => t.version(),
            Mode::OneShot { out, .. } => out.version.subscribe(),
        }
    }
}

/// Whether `addWatch` failed because the server does not know it.
fn no_persistent_watches(e: &Error) -> bool {
    matches!(e, Error::Client(c) if c.code() == Some(ErrorCode::Unimplemented))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unimplemented_add_watch_means_fallback() {
        let unimplemented = Error::Client(zk_client::Error::code_error(ErrorCode::Unimplemented));
        assert!(no_persistent_watches(&unimplemented));
        let other = Error::Client(zk_client::Error::code_error(ErrorCode::NoAuth));
        assert!(!no_persistent_watches(&other));
    }
}
