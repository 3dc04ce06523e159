//! Curator's `SimpleDistributedQueue`: raw byte items at `<path>/qn-<seq>`.

use crate::error::Result;
use crate::item_queue::{ItemQueue, Layout};
use crate::nodes::join;
use bytes::Bytes;
use zk_client::Client;

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
    inner: ItemQueue,
}

impl SimpleQueue {
    /// The queue at `path`.
    pub fn new(client: &Client, path: impl Into<String>) -> SimpleQueue {
        SimpleQueue {
            inner: ItemQueue::new(client, path.into(), Layout::Simple),
        }
    }

    /// The queue's path.
    pub fn path(&self) -> &str {
        &self.inner.path
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
        self.inner.put(ITEM_PREFIX, data.into()).await
    }

    /// Removes and returns the head item, or `None` if the queue is empty.
    ///
    /// # Cancel safety
    ///
    /// If dropped while the delete of an item is in flight, that item may
    /// be removed without being returned (at-most-once); dropped at any
    /// other point, nothing is lost.
    pub async fn poll(&self) -> Result<Option<Bytes>> {
        self.inner.poll().await
    }

    /// Returns the head item without removing it, or `None`.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe (it only reads).
    pub async fn peek(&self) -> Result<Option<Bytes>> {
        let client = &self.inner.client;
        let children = match client.get_children(&self.inner.path).await {
            Ok(c) => c,
            Err(e) if e.is_no_node() => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        for name in self.inner.sorted(children) {
            match client.get_data(&join(&self.inner.path, &name)).await {
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
        self.inner.take().await
    }
}
