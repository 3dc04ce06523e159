//! Curator's `DistributedIdQueue`: a FIFO queue whose items carry an id,
//! so queued items can be removed by id.

use crate::error::{Error, Result};
use crate::item_queue::{separated, ItemQueue, Layout, QUEUE_PREFIX, SEPARATOR};
use bytes::Bytes;
use zk_client::Client;

/// A FIFO queue of items with ids, in the layout of Curator's
/// `DistributedIdQueue`: persistent sequential nodes
/// `<path>/queue-|<id>|<seq>` holding the item in Curator's
/// `DistributedQueue` framing, taken in sequence order; queued items can be
/// removed by id ([`IdQueue::remove`]). Ids have `/` and `|` replaced by
/// `_`, as Curator does.
///
/// Takes are at-most-once (read, then delete), as in Curator without a
/// lock path.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let zk = zk_testserver::Ensemble::builder().start().await?;
/// # let client = zk_client::Client::connect(zk.connect_string()).await?;
/// use zk_recipes::IdQueue;
/// let queue = IdQueue::new(&client, "/app/mail");
/// queue.put("hello", "msg-1").await?;
/// queue.put("oops", "msg-2").await?;
/// assert_eq!(queue.remove("msg-2").await?, 1); // changed our mind
/// assert_eq!(queue.take().await?.as_ref(), b"hello");
/// assert_eq!(queue.poll().await?, None);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct IdQueue {
    inner: ItemQueue,
}

/// Curator's `fixId`.
fn fix_id(id: &str) -> String {
    id.replace(['/', SEPARATOR], "_")
}

impl IdQueue {
    /// The queue at `path`.
    pub fn new(client: &Client, path: impl Into<String>) -> IdQueue {
        IdQueue {
            inner: ItemQueue::new(client, path.into(), Layout::Id),
        }
    }

    /// Adds an item with `id` (need not be unique); returns its node name.
    ///
    /// # Cancel safety
    ///
    /// Dropped before it completes, the item may or may not be queued.
    pub async fn put(&self, data: impl Into<Bytes>, id: &str) -> Result<String> {
        if id.is_empty() {
            return Err(Error::InvalidArgument("empty id".into()));
        }
        let name = format!("{QUEUE_PREFIX}{SEPARATOR}{}{SEPARATOR}", fix_id(id));
        self.inner.put(&name, data.into()).await
    }

    /// Removes the queued items with `id`; how many were removed.
    ///
    /// # Cancel safety
    ///
    /// Dropped midway, some of the items may be removed.
    pub async fn remove(&self, id: &str) -> Result<usize> {
        let id = fix_id(id);
        self.inner
            .remove_where(|name| separated(name).is_some_and(|(item, _)| item == id))
            .await
    }

    /// Removes and returns the head item, or `None`.
    ///
    /// # Cancel safety
    ///
    /// If dropped while the delete of an item is in flight, that item may
    /// be removed without being returned; otherwise nothing is lost.
    pub async fn poll(&self) -> Result<Option<Bytes>> {
        self.inner.poll().await
    }

    /// Removes and returns the head item, waiting while there is none.
    ///
    /// # Cancel safety
    ///
    /// As [`IdQueue::poll`].
    pub async fn take(&self) -> Result<Bytes> {
        self.inner.take().await
    }
}
