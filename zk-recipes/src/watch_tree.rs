//! A subtree kept current with one-shot watches (a data watch per node, a
//! child watch per directory, an exists watch on a missing root): what
//! Curator's `PathChildrenCache` and `TreeCache` do, and what a cache falls
//! back to on servers without persistent watches (ZooKeeper 3.5).

use crate::error::Result;
use crate::node_cache::{apply_to, NodeData, TreeEvent};
use crate::nodes::join;
use crate::pause::RetryPause;
use crate::policy::wait_connected;
use futures::future::BoxFuture;
use futures::stream::FuturesUnordered;
use futures::{FutureExt, StreamExt};
use std::collections::{BTreeMap, HashSet, VecDeque};
use std::sync::{Arc, RwLock};
use tokio::sync::{broadcast, watch};
use zk_client::{Client, EventType, WatchEvent};

/// What a one-shot watch was left for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Kind {
    Data,
    Children,
    Exists,
}

/// The published state of a cache, shared by the engine and its handle.
#[derive(Debug, Clone)]
pub(crate) struct Published {
    pub(crate) nodes: Arc<RwLock<BTreeMap<String, NodeData>>>,
    pub(crate) events: broadcast::Sender<TreeEvent>,
    pub(crate) version: watch::Sender<u64>,
}

impl Published {
    pub(crate) fn new() -> Published {
        Published {
            nodes: Arc::default(),
            events: broadcast::channel(1024).0,
            version: watch::Sender::new(0),
        }
    }

    fn apply(&self, event: TreeEvent) {
        apply_to(&self.nodes, &event);
        let _ = self.events.send(event);
        self.version.send_modify(|v| *v += 1);
    }

    fn get(&self, path: &str) -> Option<NodeData> {
        self.nodes.read().ok().and_then(|n| n.get(path).cloned())
    }

    /// Cached direct children of `path`.
    fn cached_children(&self, path: &str) -> Vec<String> {
        let prefix = format!("{}/", path.trim_end_matches('/'));
        self.nodes
            .read()
            .map(|n| {
                n.range(prefix.clone()..)
                    .take_while(|(p, _)| p.starts_with(&prefix))
                    .filter(|(p, _)| !p[prefix.len()..].contains('/'))
                    .map(|(p, _)| p.clone())
                    .collect()
            })
            .unwrap_or_default()
    }
}

type Fired = BoxFuture<'static, (String, Kind, WatchEvent)>;

/// The engine: owns the watches, updates [`Published`].
struct Engine {
    client: Client,
    root: String,
    /// Levels below the root that are cached (`None`: all).
    max_depth: Option<usize>,
    out: Published,
    pending: HashSet<(String, Kind)>,
    watches: FuturesUnordered<Fired>,
}

/// Loads the subtree and starts the engine; the initial state is
/// published before this returns.
pub(crate) async fn start(
    client: &Client,
    root: String,
    max_depth: Option<usize>,
    out: Published,
) -> Result<tokio::task::JoinHandle<()>> {
    let mut engine = Engine {
        client: client.clone(),
        root,
        max_depth,
        out,
        pending: HashSet::new(),
        watches: FuturesUnordered::new(),
    };
    let root = engine.root.clone();
    engine.load(&root, true).await?;
    Ok(tokio::spawn(engine.run()))
}

impl Engine {
    fn depth(&self, path: &str) -> usize {
        path[self.root.len()..].matches('/').count()
    }

    fn track(&mut self, path: &str, kind: Kind, watch: zk_client::OneshotWatch) {
        self.pending.insert((path.to_string(), kind));
        let path = path.to_string();
        self.watches
            .push(async move { (path, kind, watch.await) }.boxed());
    }

    /// Reads `path` (and, with `children`, its subtree within the depth
    /// limit), leaving the watches that are not already pending.
    async fn load(&mut self, path: &str, children: bool) -> Result<()> {
        let mut todo = VecDeque::from([path.to_string()]);
        while let Some(path) = todo.pop_front() {
            if !self.load_data(&path).await? {
                continue;
            }
            let deeper = self.max_depth.is_none_or(|m| self.depth(&path) < m);
            if !(children && deeper) {
                continue;
            }
            let listing = if self.pending.contains(&(path.clone(), Kind::Children)) {
                self.client.get_children(&path).await.map(|c| (c, None))
            } else {
                self.client
                    .get_children_watch(&path)
                    .await
                    .map(|(c, w)| (c, Some(w)))
            };
            let names = match listing {
                Ok((names, watch)) => {
                    if let Some(w) = watch {
                        self.track(&path, Kind::Children, w);
                    }
                    names
                }
                Err(e) if e.is_no_node() => {
                    self.out.apply(TreeEvent::Removed(path.clone()));
                    continue;
                }
                Err(e) => return Err(e.into()),
            };
            let mut listed: Vec<String> = names.iter().map(|n| join(&path, n)).collect();
            listed.sort();
            for gone in self.out.cached_children(&path) {
                if listed.binary_search(&gone).is_err() {
                    self.out.apply(TreeEvent::Removed(gone));
                }
            }
            todo.extend(listed);
        }
        Ok(())
    }

    /// Reads one node's data; `false` if it does not exist.
    async fn load_data(&mut self, path: &str) -> Result<bool> {
        let read = if self.pending.contains(&(path.to_string(), Kind::Data)) {
            self.client.get_data(path).await.map(|(d, s)| (d, s, None))
        } else {
            self.client
                .get_data_watch(path)
                .await
                .map(|(d, s, w)| (d, s, Some(w)))
        };
        match read {
            Ok((data, stat, watch)) => {
                if let Some(w) = watch {
                    self.track(path, Kind::Data, w);
                }
                let node = NodeData { data, stat };
                match self.out.get(path) {
                    None => self.out.apply(TreeEvent::Added(path.to_string(), node)),
                    Some(known) if known != node => {
                        self.out.apply(TreeEvent::Updated(path.to_string(), node))
                    }
                    Some(_) => {}
                }
                Ok(true)
            }
            Err(e) if e.is_no_node() => {
                if self.out.get(path).is_some() {
                    self.out.apply(TreeEvent::Removed(path.to_string()));
                }
                if path == self.root && !self.pending.contains(&(path.to_string(), Kind::Exists)) {
                    let (stat, watch) = self.client.exists_watch(path).await?;
                    self.track(path, Kind::Exists, watch);
                    if stat.is_some() {
                        // Created in between: the exists watch fires later;
                        // read it now.
                        return Box::pin(self.load_data(path)).await;
                    }
                }
                Ok(false)
            }
            Err(e) => Err(e.into()),
        }
    }

    async fn run(mut self) {
        let mut pause = RetryPause::new();
        loop {
            let Some((path, kind, event)) = self.watches.next().await else {
                // No watch left (only after failures): load again.
                if self.reload(&mut pause).await.is_err() {
                    return;
                }
                continue;
            };
            self.pending.remove(&(path.clone(), kind));
            let outcome = match event {
                WatchEvent::Node(e) => match e.event_type {
                    EventType::NodeDeleted => {
                        if self.out.get(&path).is_some() {
                            self.out.apply(TreeEvent::Removed(path.clone()));
                        }
                        if path == self.root {
                            self.load(&path, true).await
                        } else {
                            Ok(())
                        }
                    }
                    EventType::NodeDataChanged => self.load(&path, false).await,
                    _ => self.load(&path, true).await,
                },
                WatchEvent::Resync => {
                    self.pending.remove(&(path.clone(), kind));
                    let root = self.root.clone();
                    let r = self.load(&root, true).await;
                    self.out.apply(TreeEvent::Reloaded);
                    r
                }
                WatchEvent::Expired => {
                    // Every watch of the old session is gone.
                    self.pending.clear();
                    self.watches = FuturesUnordered::new();
                    if self.reload(&mut pause).await.is_err() {
                        return;
                    }
                    Ok(())
                }
                _ => return,
            };
            if let Err(e) = outcome {
                tracing::debug!(root = %self.root, error = %e, "cache refresh failed; reloading");
                if self.reload(&mut pause).await.is_err() {
                    return;
                }
            }
        }
    }

    /// Waits for a session and reads everything again; `Err` once the
    /// client is done for good.
    async fn reload(&mut self, pause: &mut RetryPause) -> std::result::Result<(), ()> {
        loop {
            if wait_connected(&self.client).await.is_err() {
                return Err(());
            }
            let root = self.root.clone();
            match self.load(&root, true).await {
                Ok(()) => {
                    self.out.apply(TreeEvent::Reloaded);
                    pause.reset();
                    return Ok(());
                }
                Err(e) => {
                    tracing::debug!(%root, error = %e, "cache reload failed; retrying");
                    pause.wait().await;
                }
            }
        }
    }
}
