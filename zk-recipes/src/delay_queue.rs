//! Curator's `DistributedDelayQueue`: items taken in due-time order, not
//! before their due time.

use crate::error::Result;
use crate::item_queue::{now_ms, ItemQueue, Layout, QUEUE_PREFIX, SEPARATOR};
use bytes::Bytes;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use zk_client::Client;

/// A queue whose items become available at a time of their own, in the
/// layout of Curator's `DistributedDelayQueue`: persistent sequential nodes
/// `<path>/queue-|<due time, hex ms since the epoch>|<seq>` holding the
/// item in Curator's `DistributedQueue` framing, taken in due-time order
/// once due. Due times compare against this machine's clock, as in Curator
/// (clocks must be roughly in sync).
///
/// Takes are at-most-once (read, then delete), as in Curator without a
/// lock path.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let zk = zk_testserver::Ensemble::builder().start().await?;
/// # let client = zk_client::Client::connect(zk.connect_string()).await?;
/// use std::time::Duration;
/// use zk_recipes::DelayQueue;
/// let queue = DelayQueue::new(&client, "/app/retries");
/// queue.put_after("retry job-7", Duration::from_millis(50)).await?;
/// queue.put_after("retry job-3", Duration::ZERO).await?;
/// assert_eq!(queue.take().await?.as_ref(), b"retry job-3");
/// assert_eq!(queue.take().await?.as_ref(), b"retry job-7"); // ~50 ms later
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct DelayQueue {
    inner: ItemQueue,
}

impl DelayQueue {
    /// The queue at `path`.
    pub fn new(client: &Client, path: impl Into<String>) -> DelayQueue {
        DelayQueue {
            inner: ItemQueue::new(client, path.into(), Layout::Delay),
        }
    }

    /// Adds an item due at `due`; returns its node name.
    ///
    /// # Cancel safety
    ///
    /// Dropped before it completes, the item may or may not be queued (a
    /// sequential create is never repeated behind the caller's back).
    pub async fn put(&self, data: impl Into<Bytes>, due: SystemTime) -> Result<String> {
        let due_ms = due
            .duration_since(UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
            .unwrap_or(0);
        let name = format!("{QUEUE_PREFIX}{SEPARATOR}{due_ms:08X}{SEPARATOR}");
        self.inner.put(&name, data.into()).await
    }

    /// Adds an item due `delay` from now.
    ///
    /// # Cancel safety
    ///
    /// As [`DelayQueue::put`].
    pub async fn put_after(&self, data: impl Into<Bytes>, delay: Duration) -> Result<String> {
        let due = i64::try_from(delay.as_millis()).unwrap_or(i64::MAX);
        let at = UNIX_EPOCH
            + Duration::from_millis(u64::try_from(now_ms().saturating_add(due)).unwrap_or(0));
        self.put(data, at).await
    }

    /// Removes and returns the first due item, or `None`.
    ///
    /// # Cancel safety
    ///
    /// If dropped while the delete of an item is in flight, that item may
    /// be removed without being returned; otherwise nothing is lost.
    pub async fn poll(&self) -> Result<Option<Bytes>> {
        self.inner.poll().await
    }

    /// Removes and returns the first item, waiting until one is due.
    ///
    /// # Cancel safety
    ///
    /// As [`DelayQueue::poll`].
    pub async fn take(&self) -> Result<Bytes> {
        self.inner.take().await
    }
}
