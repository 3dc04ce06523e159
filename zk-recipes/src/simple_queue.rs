//! Curator's `SimpleDistributedQueue`: raw byte items at `<path>/qn-<seq>`.

use crate::error::Result;
use crate::nodes::{ensure_dir, join};
use crate::policy::wait_connected;
use bytes::Bytes;
use zk_client::retry::NoRetry;
use zk_client::{Client, CreateMode};

/// Curator's item prefix for `SimpleDistributedQueue`.
const ITEM_PREFIX: &str = "qn-";

/// A FIFO queue of raw byte items in the layout of Curator's
/// `SimpleDistributedQueue`: persistent sequential nodes `<path>/qn-<seq>`
/// holding the item's bytes unframed, taken in name order; the queue's
/// directory and its missing ancestors are containers (the server removes
/// an emptied queue directory).
///
/// Delivery is at-most-once, as in Curator: a consumer deletes an item and
/// then returns it, so an item whose delete was applied but not answered
/// (connection lost at that moment) is skipped, not delivered twice. For
/// at-least-once processing use [`crate::Queue::take_locked`].
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let zk = zk_testserver::Ensemble::builder().start().await?;
/// # let client = zk_client::Client::connect(zk.connect_string()).await?;
/// use zk_recipes::SimpleQueue;
/// let queue = SimpleQueue::new(&client, "/app/jobs");
/// queue.offer("job-1").await?;
/// assert_eq!(queue.take().await?.as_ref(), b"job-1");
/// assert_eq!(queue.poll().await?, None);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct SimpleQueue {
    client: Client,
    path: String,
}

impl SimpleQueue {
    /// The queue at `path`.
    pub fn new(client: &Client, path: impl Into<String>) -> SimpleQueue {
        SimpleQueue {
            client: client.clone(),
            path: path.into(),
        }
    }

    /// The queue's path.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// Appends an item; returns its node name.
    ///
    /// A sequential create is not repeated after a connection loss (the
    /// lost attempt may have queued the item): the error is returned and
    /// the caller decides whether to offer again.
    ///
    /// # Cancel safety
    ///
    /// Dropped before it completes, the item may or may not be queued.
    pub async fn offer(&self, data: impl Into<Bytes>) -> Result<String> {
        let data = data.into();
        let path = join(&self.path, ITEM_PREFIX);
        loop {
            match self
                .client
                .create(&path, data.clone(), CreateMode::PersistentSequential)
                .await
            {
                Ok((created, _)) => return Ok(crate::nodes::basename(&created).to_string()),
                Err(e) if e.is_no_node() => ensure_dir(&self.client, &self.path, true).await?,
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Removes and returns the head item, or `None` if the queue is empty.
    ///
    /// # Cancel safety
    ///
    /// If dropped while the delete of an item is in flight, that item may
    /// be removed without being returned (at-most-once); dropped at any
    /// other point, nothing is lost.
    pub async fn poll(&self) -> Result<Option<Bytes>> {
        let children = match self.client.get_children(&self.path).await {
            Ok(c) => c,
            Err(e) if e.is_no_node() => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        self.take_first(children).await
    }

    /// Returns the head item without removing it, or `None`.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe (it only reads).
    pub async fn peek(&self) -> Result<Option<Bytes>> {
        let children = match self.client.get_children(&self.path).await {
            Ok(c) => c,
            Err(e) if e.is_no_node() => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        for name in sorted(children) {
            match self.client.get_data(&join(&self.path, &name)).await {
                Ok((data, _)) => return Ok(Some(data)),
                Err(e) if e.is_no_node() => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(None)
    }

    /// Removes and returns the head item, waiting while the queue is empty
    /// (one child watch per wait, never one per item).
    ///
    /// # Cancel safety
    ///
    /// As [`SimpleQueue::poll`]: only an item whose delete is in flight
    /// when the future is dropped can be lost.
    pub async fn take(&self) -> Result<Bytes> {
        loop {
            let (children, watch) = match self.client.get_children_watch(&self.path).await {
                Ok(found) => found,
                Err(e) if e.is_no_node() => {
                    ensure_dir(&self.client, &self.path, true).await?;
                    continue;
                }
                Err(e) if e.is_connection_loss() || e.is_session_expired() => {
                    wait_connected(&self.client).await?;
                    continue;
                }
                Err(e) => return Err(e.into()),
            };
            if let Some(item) = self.take_first(children).await? {
                return Ok(item);
            }
            // Whatever the event (a child, a reaped directory, a lost
            // connection), list again.
            let _ = watch.await;
        }
    }

    /// Claims the first item of `children` still there.
    async fn take_first(&self, children: Vec<String>) -> Result<Option<Bytes>> {
        let no_retry = self.client.with_retry(NoRetry);
        for name in sorted(children) {
            let path = join(&self.path, &name);
            let (data, stat) = match self.client.get_data(&path).await {
                Ok(found) => found,
                Err(e) if e.is_no_node() => continue,
                Err(e) => return Err(e.into()),
            };
            match no_retry.delete(&path, Some(stat.version)).await {
                Ok(()) => return Ok(Some(data)),
                // Another consumer took it.
                Err(e) if e.is_no_node() || e.is_bad_version() => {}
                // The delete may or may not have been applied: the item is
                // skipped rather than possibly delivered twice.
                Err(e) if e.is_connection_loss() => {
                    tracing::warn!(%path, "connection lost while taking an item; skipping it");
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(None)
    }
}

/// Item names in Curator's order (by name, so by sequence), foreign nodes
/// left out.
fn sorted(children: Vec<String>) -> Vec<String> {
    let mut items: Vec<String> = children
        .into_iter()
        .filter(|c| c.starts_with(ITEM_PREFIX))
        .collect();
    items.sort();
    items
}
