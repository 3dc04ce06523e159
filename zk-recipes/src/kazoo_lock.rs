//! kazoo's `Lock` layout, for the recipes that interoperate with kazoo
//! (its lease and set partitioner lock with it): nodes
//! `<path>/<uuid hex>__lock__<seq>` holding the owner's identifier, the
//! lowest sequence holds, each waiter watches the node just ahead of it.

use crate::error::Result;
use crate::nodes::{ensure_dir, join, spawn_cleanup};
use crate::policy::wait_connected;
use std::time::Duration;
use tokio::time::Instant;
use zk_client::retry::NoRetry;
use zk_client::{Client, CreateMode};

/// kazoo's lock node marker.
const NODE_NAME: &str = "__lock__";

/// One attempt to hold a kazoo-layout lock.
#[derive(Debug)]
pub(crate) struct KazooLock {
    client: Client,
    path: String,
    /// `<uuid hex>__lock__`.
    prefix: String,
    data: String,
}

/// A held kazoo lock; released on [`KazooLockGuard::release`] or, in the
/// background, on drop.
#[derive(Debug)]
pub(crate) struct KazooLockGuard {
    client: Client,
    node: Option<String>,
}

/// Deletes our node (found by prefix) if the acquiring future is dropped.
struct Abandoned<'a> {
    lock: &'a KazooLock,
    armed: bool,
}

impl Drop for Abandoned<'_> {
    fn drop(&mut self) {
        if self.armed {
            spawn_cleanup(
                &self.lock.client,
                self.lock.path.clone(),
                self.lock.prefix.clone(),
            );
        }
    }
}

impl KazooLock {
    pub(crate) fn new(client: &Client, path: &str, identifier: &str) -> KazooLock {
        KazooLock {
            client: client.clone(),
            path: path.to_string(),
            prefix: format!("{}{NODE_NAME}", uuid::Uuid::new_v4().simple()),
            data: identifier.to_string(),
        }
    }

    /// Takes the lock, waiting at most `timeout` (`None`: forever);
    /// `None` if it timed out (our node is then removed).
    pub(crate) async fn acquire(
        &self,
        timeout: Option<Duration>,
    ) -> Result<Option<KazooLockGuard>> {
        let deadline = timeout.map(|t| Instant::now() + t);
        let mut abandoned = Abandoned {
            lock: self,
            armed: true,
        };
        let mut node = self.create().await?;
        loop {
            let children = self.client.get_children(&self.path).await?;
            if !children.iter().any(|c| c == &node) {
                // Our node went with an expired session: take a new one.
                node = self.create().await?;
                continue;
            }
            let Some(ahead) = predecessor(&children, &node) else {
                abandoned.armed = false;
                return Ok(Some(KazooLockGuard {
                    client: self.client.clone(),
                    node: Some(join(&self.path, &node)),
                }));
            };
            let (stat, watch) = self.client.exists_watch(&join(&self.path, &ahead)).await?;
            if stat.is_none() {
                continue;
            }
            match deadline {
                Some(d) => {
                    if tokio::time::timeout_at(d, watch).await.is_err() {
                        return Ok(None); // `abandoned` removes our node
                    }
                }
                None => {
                    let _ = watch.await;
                }
            }
        }
    }

    /// Creates our node, or finds it after a lost reply; its name.
    async fn create(&self) -> Result<String> {
        let path = join(&self.path, &self.prefix);
        let no_retry = self.client.with_retry(NoRetry);
        loop {
            match no_retry
                .create(&path, self.data.clone(), CreateMode::EphemeralSequential)
                .await
            {
                Ok((created, _)) => return Ok(crate::nodes::basename(&created).to_string()),
                // kazoo's ensure_path: persistent directories.
                Err(e) if e.is_no_node() => ensure_dir(&self.client, &self.path, false).await?,
                Err(e) if e.is_connection_loss() || e.is_retryable() => {
                    wait_connected(&self.client).await?;
                    let children = self.client.get_children(&self.path).await?;
                    if let Some(found) = children.into_iter().find(|c| c.starts_with(&self.prefix))
                    {
                        return Ok(found);
                    }
                }
                Err(e) => return Err(e.into()),
            }
        }
    }
}

/// The contender just ahead of `node` (kazoo's `_get_predecessor`: names
/// ending in `__lock__` + 10 digits, ordered by those digits).
fn predecessor(children: &[String], node: &str) -> Option<String> {
    let ours = sequence(node)?;
    children
        .iter()
        .filter_map(|c| sequence(c).map(|s| (s, c)))
        .filter(|(s, _)| *s < ours)
        .max()
        .map(|(_, c)| c.clone())
}

fn sequence(name: &str) -> Option<&str> {
    let tail = name.get(name.len().checked_sub(10 + NODE_NAME.len())?..)?;
    let (marker, digits) = tail.split_at(NODE_NAME.len());
    (marker == NODE_NAME && digits.bytes().all(|b| b.is_ascii_digit())).then_some(digits)
}

impl KazooLockGuard {
    pub(crate) async fn release(mut self) -> Result<()> {
        if let Some(node) = self.node.take() {
            match self.client.delete(&node, None).await {
                Ok(()) => {}
                Err(e) if e.is_no_node() => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }
}

impl Drop for KazooLockGuard {
    fn drop(&mut self) {
        if let Some(node) = self.node.take() {
            crate::nodes::spawn_release(&self.client, node, self.client.session_id());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn predecessor_follows_kazoo() {
        let children: Vec<String> = [
            "aa__lock__0000000003",
            "bb__lock__0000000001",
            "cc__lock__0000000007",
            "_c_x-lock-0000000002",
            "dd__rlock__0000000000",
        ]
        .map(String::from)
        .to_vec();
        assert_eq!(
            predecessor(&children, "cc__lock__0000000007").as_deref(),
            Some("aa__lock__0000000003")
        );
        assert_eq!(
            predecessor(&children, "aa__lock__0000000003").as_deref(),
            Some("bb__lock__0000000001")
        );
        assert_eq!(predecessor(&children, "bb__lock__0000000001"), None);
    }
}
