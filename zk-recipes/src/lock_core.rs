//! The queue-of-sequential-nodes algorithm shared by [`Lock`](crate::Lock),
//! [`ReadWriteLock`](crate::ReadWriteLock) and
//! [`LeaderElection`](crate::LeaderElection): create a protected ephemeral
//! sequential node, and wait for the one node ahead of us that matters —
//! never for the whole directory (no herd effect).

use crate::error::{Error, LossReason, Result};
use crate::hold::Hold;
use crate::nodes::{basename, join, release_node, sorted_by_sequence, CleanupGuard, Protected};
use crate::policy::{wait_connected, ConnectionPolicy};
use bytes::Bytes;
use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use zk_client::{Client, WatchEvent};

/// Curator's node names: `lock-` for mutexes, `__READ__` / `__WRIT__` for
/// the two sides of a read-write lock.
pub(crate) const LOCK_NAME: &str = "lock-";
pub(crate) const READ_NAME: &str = "__READ__";
pub(crate) const WRITE_NAME: &str = "__WRIT__";

/// Which rule decides whether our node holds the lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Held when first in line; waits for the node just ahead.
    Exclusive,
    /// Held when no write node (other than our own) is ahead; waits for the
    /// first such write node.
    Read,
}

enum Decision {
    Held,
    Wait(String),
    Missing,
}

/// One lock directory and how to take it.
#[derive(Clone)]
pub(crate) struct LockCore {
    pub(crate) client: Client,
    pub(crate) dir: String,
    /// The name after the protected id (`lock-`, `__READ__`, `__WRIT__`).
    pub(crate) name: &'static str,
    pub(crate) kind: Kind,
    /// Names that count as participants when ordering.
    pub(crate) markers: &'static [&'static str],
    pub(crate) data: Bytes,
    pub(crate) policy: ConnectionPolicy,
    /// Write nodes held through the same handle (read-lock downgrade).
    pub(crate) own_writes: Arc<Mutex<HashSet<String>>>,
}

impl std::fmt::Debug for LockCore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LockCore")
            .field("dir", &self.dir)
            .field("name", &self.name)
            .field("kind", &self.kind)
            .field("policy", &self.policy)
            .finish()
    }
}

impl LockCore {
    pub(crate) fn new(client: &Client, dir: String, name: &'static str, kind: Kind) -> LockCore {
        let markers: &'static [&'static str] = if name == LOCK_NAME {
            &[LOCK_NAME]
        } else {
            &[READ_NAME, WRITE_NAME]
        };
        LockCore {
            client: client.clone(),
            dir,
            name,
            kind,
            markers,
            data: Bytes::new(),
            policy: ConnectionPolicy::default(),
            own_writes: Arc::default(),
        }
    }

    /// The participants' node names in lock order.
    pub(crate) async fn participants(&self) -> Result<Vec<String>> {
        let children = match self.client.get_children(&self.dir).await {
            Ok(c) => c,
            Err(e) if e.is_no_node() => Vec::new(),
            Err(e) => return Err(e.into()),
        };
        Ok(self.sort(children))
    }

    fn sort(&self, children: Vec<String>) -> Vec<String> {
        let mut all = Vec::new();
        for marker in self.markers {
            all.extend(
                children
                    .iter()
                    .filter(|c| c.contains(marker))
                    .cloned()
                    .collect::<Vec<_>>(),
            );
        }
        // The markers are disjoint; sort by sequence across all of them.
        sorted_by_sequence(all, "")
    }

    fn decide(&self, sorted: &[String], ours: &str) -> Decision {
        let Some(index) = sorted.iter().position(|c| c == ours) else {
            return Decision::Missing;
        };
        match self.kind {
            Kind::Exclusive if index == 0 => Decision::Held,
            Kind::Exclusive => Decision::Wait(sorted[index - 1].clone()),
            Kind::Read => {
                let own = self
                    .own_writes
                    .lock()
                    .map(|o| o.clone())
                    .unwrap_or_default();
                match sorted[..index]
                    .iter()
                    .find(|c| c.contains(WRITE_NAME) && !own.contains(c.as_str()))
                {
                    Some(write) => Decision::Wait(write.clone()),
                    None => Decision::Held,
                }
            }
        }
    }

    /// Takes the lock: waits (`wait`) or gives up at once if it is taken
    /// (`Ok(None)`). Dropping the future at any point leaves no node behind
    /// (a cleanup runs in the background).
    pub(crate) async fn acquire(&self, wait: bool) -> Result<Option<Hold>> {
        let protected = Protected::new(&self.dir, self.name, true);
        let mut cleanup = CleanupGuard::new(&self.client, &protected);
        loop {
            wait_connected(&self.client).await?;
            let (path, stat) = protected.create(&self.client, &self.data).await?;
            let ours = basename(&path).to_string();
            tracing::debug!(%path, czxid = stat.czxid, "lock node created");
            match self.wait_turn(&ours, stat.ephemeral_owner, wait).await? {
                Turn::Held => {
                    cleanup.disarm();
                    return Ok(Some(Hold::new(&self.client, path, stat, self.policy)));
                }
                Turn::Busy => {
                    release_node(&self.client, &path, stat.ephemeral_owner).await;
                    cleanup.disarm();
                    return Ok(None);
                }
                // The session changed or our node vanished: start over.
                Turn::Restart => {
                    tracing::info!(%path, "lock node lost while waiting; starting over");
                }
            }
        }
    }

    async fn wait_turn(&self, ours: &str, owner: i64, wait: bool) -> Result<Turn> {
        loop {
            let children = match self.client.get_children(&self.dir).await {
                Ok(c) => c,
                Err(e) if e.is_session_expired() => return Ok(Turn::Restart),
                Err(e) => return Err(e.into()),
            };
            let sorted = self.sort(children);
            match self.decide(&sorted, ours) {
                Decision::Missing => return Ok(Turn::Restart),
                Decision::Held => {
                    // Only a node of the current session holds anything: an
                    // earlier session's node may linger until the server
                    // expires that session.
                    if owner != self.client.session_id() {
                        return Ok(Turn::Restart);
                    }
                    return Ok(Turn::Held);
                }
                Decision::Wait(_) if !wait => return Ok(Turn::Busy),
                Decision::Wait(ahead) => {
                    let ahead = join(&self.dir, &ahead);
                    let watch = match self.client.get_data_watch(&ahead).await {
                        Ok((_, _, w)) => w,
                        Err(e) if e.is_no_node() => continue,
                        Err(e) if e.is_session_expired() => return Ok(Turn::Restart),
                        Err(e) => return Err(e.into()),
                    };
                    tracing::trace!(%ahead, "waiting for the node ahead");
                    match watch.await {
                        WatchEvent::Expired => return Ok(Turn::Restart),
                        WatchEvent::Closed | WatchEvent::AuthFailed => {
                            return Err(Error::SessionLost(LossReason::ClientClosed))
                        }
                        _ => {}
                    }
                }
            }
        }
    }
}

enum Turn {
    Held,
    Busy,
    Restart,
}
