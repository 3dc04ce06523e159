//! Node-name helpers shared by the recipes: paths, sequence numbers,
//! protected creates, cleanup of orphaned nodes.

use crate::error::Result;
use crate::pause::RetryPause;
use crate::policy::{wait_connected, writable};
use bytes::Bytes;
use zk_client::retry::NoRetry;
use zk_client::{Client, ConnectionState, CreateMode, Stat, WeakClient};

/// The prefix Curator gives protected nodes: `_c_<uuid>-`.
pub(crate) const PROTECTED_PREFIX: &str = "_c_";

/// `parent/child`, without doubling the slash under the root.
pub(crate) fn join(parent: &str, child: &str) -> String {
    if parent == "/" {
        format!("/{child}")
    } else {
        format!("{parent}/{child}")
    }
}

/// The last segment of a path.
pub(crate) fn basename(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// The parent of a path (`/` for top-level nodes).
pub(crate) fn parent_of(path: &str) -> &str {
    match path.rfind('/') {
        Some(0) | None => "/",
        Some(i) => &path[..i],
    }
}

/// The ZooKeeper sequence number of a node name: its last ten characters,
/// as ZooKeeper formats them (`%010d`, so a counter that wrapped shows as
/// `-000000005`).
pub(crate) fn sequence_of(name: &str) -> Option<i64> {
    let tail = name.get(name.len().checked_sub(10)?..)?;
    let mut bytes = tail.bytes();
    let first_ok = bytes
        .next()
        .is_some_and(|b| b == b'-' || b.is_ascii_digit());
    if !first_ok || !bytes.all(|b| b.is_ascii_digit()) {
        return None;
    }
    tail.parse().ok()
}

/// Children whose names contain `marker` and end in a sequence number,
/// sorted by that number (the node's place in the queue, whatever protected
/// prefix precedes it).
pub(crate) fn sorted_by_sequence(children: Vec<String>, marker: &str) -> Vec<String> {
    let mut seq: Vec<(i64, String)> = children
        .into_iter()
        .filter(|c| c.contains(marker))
        .filter_map(|c| sequence_of(&c).map(|n| (n, c)))
        .collect();
    seq.sort();
    seq.into_iter().map(|(_, c)| c).collect()
}

/// A fresh protected id, `_c_<uuid>-`.
pub(crate) fn protected_id() -> String {
    format!("{PROTECTED_PREFIX}{}-", uuid::Uuid::new_v4())
}

/// Creates `dir` (and missing ancestors) if needed. Missing ancestors are
/// containers, as Curator creates them (`creatingParentContainersIfNeeded`),
/// so the server removes them once they are empty; `dir` itself is a
/// container if `container` (lock-like directories), else persistent.
pub(crate) async fn ensure_dir(client: &Client, dir: &str, container: bool) -> Result<()> {
    let mode = if container {
        CreateMode::Container
    } else {
        CreateMode::Persistent
    };
    match client
        .create_all_with_parents(dir, Bytes::new(), mode, CreateMode::Container)
        .await
    {
        Ok(_) => Ok(()),
        Err(e) if e.is_node_exists() => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// A protected sequential create: `dir/<id><name><seq>` where `id` is
/// `_c_<uuid>-`, so that after a connection loss the node can be found again
/// by its prefix — the create may have succeeded with its reply lost.
#[derive(Debug, Clone)]
pub(crate) struct Protected {
    pub(crate) dir: String,
    /// `_c_<uuid>-<name>`.
    pub(crate) prefix: String,
    pub(crate) container_dir: bool,
}

impl Protected {
    pub(crate) fn new(dir: &str, name: &str, container_dir: bool) -> Protected {
        Protected {
            dir: dir.to_string(),
            prefix: format!("{}{name}", protected_id()),
            container_dir,
        }
    }

    /// The protected id part (`_c_<uuid>-`).
    pub(crate) fn id(&self) -> &str {
        let end = PROTECTED_PREFIX.len() + 36 + 1;
        self.prefix.get(..end).unwrap_or(&self.prefix)
    }

    /// Creates the node (ephemeral sequential unless `mode` says otherwise)
    /// and returns its path and stat. A node found after a connection loss
    /// counts only if the current session owns it: a node with our prefix
    /// owned by an earlier session of this client is stale (that session may
    /// still be alive on the server for a moment) and is deleted, never
    /// adopted.
    pub(crate) async fn create(&self, client: &Client, data: &Bytes) -> Result<(String, Stat)> {
        let path = join(&self.dir, &self.prefix);
        let no_retry = client.with_retry(NoRetry);
        loop {
            match no_retry
                .create(&path, data.clone(), CreateMode::EphemeralSequential)
                .await
            {
                Ok(created) => return Ok(created),
                Err(e) if e.is_no_node() => {
                    ensure_dir(client, &self.dir, self.container_dir).await?
                }
                Err(e) if e.is_connection_loss() || e.is_retryable() || e.is_session_expired() => {
                    tracing::debug!(%path, error = %e, "create got no reply; looking for our node");
                    let session = wait_connected(client).await?;
                    if let Some(found) = self.find_own(client, session).await? {
                        return Ok(found);
                    }
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Our node owned by `session`, if any; nodes with our prefix owned by
    /// another session are deleted.
    pub(crate) async fn find_own(
        &self,
        client: &Client,
        session: i64,
    ) -> Result<Option<(String, Stat)>> {
        let children = match client.get_children(&self.dir).await {
            Ok(c) => c,
            Err(e) if e.is_no_node() => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let mut own = None;
        for child in children.into_iter().filter(|c| c.starts_with(&self.prefix)) {
            let path = join(&self.dir, &child);
            match client.exists(&path).await? {
                Some(stat) if stat.ephemeral_owner == session && own.is_none() => {
                    own = Some((path, stat));
                }
                Some(stat) => {
                    tracing::info!(
                        %path,
                        owner = format_args!("{:#x}", stat.ephemeral_owner),
                        "deleting a stale node of ours from another session"
                    );
                    delete_quietly(client, &path).await?;
                }
                None => {}
            }
        }
        Ok(own)
    }
}

/// Deletes a node; a missing node is fine.
pub(crate) async fn delete_quietly(client: &Client, path: &str) -> Result<()> {
    match client.delete(path, None).await {
        Ok(()) => Ok(()),
        Err(e) if e.is_no_node() => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Deletes `path` now if possible, else keeps trying in the background
/// while the session that owns it (`session`) lives; after that the server
/// removes it anyway. Returns whether the delete completed in the
/// foreground.
pub(crate) async fn release_node(client: &Client, path: &str, session: i64) -> bool {
    if !writable(client.state()) {
        // A request made while disconnected waits for a connection, which
        // a partition may keep away for good: the caller must not wait.
        spawn_release(client, path.to_string(), session);
        return false;
    }
    match client.with_retry(NoRetry).delete(path, None).await {
        Ok(()) => true,
        Err(e) if e.is_no_node() || e.is_terminal() => true,
        Err(e) => {
            tracing::info!(%path, error = %e, "release failed; retrying in the background");
            spawn_release(client, path.to_string(), session);
            false
        }
    }
}

/// Keeps deleting the ephemeral node `path` in the background until it is
/// gone or its session `session` is over.
pub(crate) fn spawn_release(client: &Client, path: String, session: i64) {
    spawn_release_after(None, client, path, session);
}

/// Waits, without keeping the session open, until `weak` can write in
/// session `session`, and returns a client for that; `None` once that
/// session is over (expired, closed, or let go of by the application: the
/// server then removes the session's ephemeral nodes by itself).
pub(crate) async fn connected_in_session(weak: &WeakClient, session: i64) -> Option<Client> {
    let state = weak
        .wait_for_state(|s| writable(s) || s.is_terminal())
        .await;
    if !writable(state) || weak.session_id() != session {
        return None;
    }
    weak.upgrade()
}

/// [`spawn_release`], starting once `first` (a hold's stopped monitor) has
/// finished, so that the delete follows whatever that task sent. The task
/// holds the session only for each delete attempt, never while waiting: if
/// the application lets go of its client, the session closes and takes the
/// node with it.
pub(crate) fn spawn_release_after(
    first: Option<tokio::task::JoinHandle<()>>,
    client: &Client,
    path: String,
    session: i64,
) {
    let Ok(handle) = tokio::runtime::Handle::try_current() else {
        tracing::warn!(%path, "no runtime to release a node; it goes when the session ends");
        return;
    };
    let weak = client.downgrade();
    handle.spawn(async move {
        if let Some(first) = first {
            let _ = first.await;
        }
        let mut pause = RetryPause::new();
        loop {
            // Once the owning session is over the server removes the node.
            let Some(client) = connected_in_session(&weak, session).await else {
                return;
            };
            match client.with_retry(NoRetry).delete(&path, None).await {
                Ok(()) => {
                    tracing::debug!(%path, "released in the background");
                    return;
                }
                Err(e) if e.is_no_node() || e.is_terminal() => return,
                Err(e) => {
                    tracing::debug!(%path, error = %e, "background release failed; retrying");
                    drop(client);
                    pause.wait().await;
                }
            }
        }
    });
}

/// Deletes, in the background, every node of `dir` whose name starts with
/// `prefix` — the ephemeral nodes of an operation that was abandoned (its
/// future dropped) while a create may have been in flight. A `sync` first
/// puts the cleanup behind any create of this session still on its way. The
/// task holds the session only while it works (see [`spawn_release_after`]).
pub(crate) fn spawn_cleanup(client: &Client, dir: String, prefix: String) {
    let Ok(handle) = tokio::runtime::Handle::try_current() else {
        return;
    };
    let weak = client.downgrade();
    handle.spawn(async move {
        let mut pause = RetryPause::new();
        for _ in 0..100 {
            let state = weak
                .wait_for_state(|s| writable(s) || s.is_terminal())
                .await;
            // A session that is over took its ephemeral nodes along.
            let Some(client) = weak.upgrade().filter(|_| writable(state)) else {
                if state == ConnectionState::Lost {
                    // A client that renews sessions may leave a node of the
                    // old session on another member for a moment: look again
                    // in the new session.
                    weak.wait_for_state(|s| s != ConnectionState::Lost).await;
                    continue;
                }
                return;
            };
            match cleanup(&client, &dir, &prefix).await {
                Ok(()) => return,
                Err(e) if e.is_session_lost() => return,
                Err(e) => {
                    tracing::debug!(%dir, error = %e, "cleanup failed; retrying");
                    drop(client);
                    pause.wait().await;
                }
            }
        }
    });
}

/// Removes our nodes of `dir` (names starting with `prefix`) now if the
/// connection allows, else in the background ([`spawn_cleanup`]).
pub(crate) async fn remove_own_nodes(client: &Client, dir: &str, prefix: &str) {
    if writable(client.state()) {
        match cleanup(&client.with_retry(NoRetry), dir, prefix).await {
            Ok(()) => return,
            Err(e) if e.is_session_lost() => return,
            Err(e) => {
                tracing::debug!(%dir, error = %e, "removal failed; retrying in the background")
            }
        }
    }
    spawn_cleanup(client, dir.to_string(), prefix.to_string());
}

async fn cleanup(client: &Client, dir: &str, prefix: &str) -> Result<()> {
    match client.sync(dir).await {
        Ok(()) => {}
        Err(e) if e.is_no_node() => return Ok(()),
        Err(e) => return Err(e.into()),
    }
    let children = match client.get_children(dir).await {
        Ok(c) => c,
        Err(e) if e.is_no_node() => return Ok(()),
        Err(e) => return Err(e.into()),
    };
    for child in children.iter().filter(|c| c.starts_with(prefix)) {
        let path = join(dir, child);
        tracing::debug!(%path, "removing the node of an abandoned operation");
        delete_quietly(client, &path).await?;
    }
    Ok(())
}

/// Deletes the node if it is still there when the guard is dropped armed.
/// Used by futures that created a node and may be dropped before handing it
/// over.
pub(crate) struct CleanupGuard {
    client: Client,
    dir: String,
    prefix: String,
    armed: bool,
}

impl CleanupGuard {
    pub(crate) fn new(client: &Client, protected: &Protected) -> CleanupGuard {
        CleanupGuard {
            client: client.clone(),
            dir: protected.dir.clone(),
            prefix: protected.id().to_string(),
            armed: true,
        }
    }

    /// Removes the nodes of `dir` whose names start with `prefix` if
    /// dropped armed.
    pub(crate) fn for_prefix(client: &Client, dir: &str, prefix: &str) -> CleanupGuard {
        CleanupGuard {
            client: client.clone(),
            dir: dir.to_string(),
            prefix: prefix.to_string(),
            armed: true,
        }
    }

    /// The node was handed over (or removed): nothing to clean.
    pub(crate) fn disarm(&mut self) {
        self.armed = false;
    }
}

impl Drop for CleanupGuard {
    fn drop(&mut self) {
        if self.armed {
            spawn_cleanup(
                &self.client,
                std::mem::take(&mut self.dir),
                std::mem::take(&mut self.prefix),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequences_and_sorting() {
        assert_eq!(sequence_of("lock-0000000012"), Some(12));
        assert_eq!(sequence_of("_c_x-lock--000000005"), Some(-5));
        assert_eq!(sequence_of("x-lock-+000000005"), None);
        assert_eq!(sequence_of("ready"), None);
        let sorted = sorted_by_sequence(
            vec![
                "_c_b-lock-0000000003".into(),
                "_c_a-lock-0000000010".into(),
                "_c_z-lock-0000000001".into(),
                "other".into(),
            ],
            "lock-",
        );
        assert_eq!(
            sorted,
            vec![
                "_c_z-lock-0000000001",
                "_c_b-lock-0000000003",
                "_c_a-lock-0000000010"
            ]
        );
        assert_eq!(join("/", "a"), "/a");
        assert_eq!(join("/a", "b"), "/a/b");
        assert_eq!(parent_of("/a/b"), "/a");
        assert_eq!(parent_of("/a"), "/");
        assert_eq!(basename("/a/b"), "b");
        let p = Protected::new("/d", "lock-", true);
        assert!(p.prefix.starts_with("_c_") && p.prefix.ends_with("-lock-"));
        assert_eq!(p.id().len(), 40);
        assert!(p.prefix.starts_with(p.id()));
    }
}
