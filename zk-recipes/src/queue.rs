//! Distributed queues (Curator's `DistributedQueue` /
//! `DistributedPriorityQueue` layout): FIFO or by priority, with a blocking
//! `take` and a locking consumer for at-least-once processing.

use crate::error::{Error, Result};
use crate::nodes::{ensure_dir, join, sequence_of, spawn_release};
use crate::policy::wait_connected;
use bytes::Bytes;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering as AtomicOrdering};
use std::sync::Arc;
use std::time::Duration;
use zk_client::{Client, CreateMode, Op, WatchEvent};

/// Curator's item name prefix.
const ITEM_PREFIX: &str = "queue-";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Order {
    Fifo,
    Priority,
}

/// Counters of what a [`Queue`] handle did, for monitoring (and for tests
/// that check the number of watches stays bounded).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueueStats {
    /// Child watches left on the server (one each time the queue was found
    /// empty — never one per item).
    pub watches_set: u64,
    /// Full listings of the queue's children.
    pub listings: u64,
    /// Items handed to consumers.
    pub taken: u64,
    /// Puts repeated after a connection loss (each may have queued its item
    /// twice).
    pub put_retries: u64,
    /// Items skipped by [`Queue::take`] because the connection dropped during
    /// their delete and the outcome could not be known (each may be lost).
    pub unknown_takes: u64,
}

#[derive(Debug, Default)]
struct Counters {
    watches_set: AtomicU64,
    listings: AtomicU64,
    taken: AtomicU64,
    put_retries: AtomicU64,
    unknown_takes: AtomicU64,
}

/// A distributed queue of byte items.
///
/// Items are persistent sequential nodes `<path>/queue-<seq>` (priority
/// queues: `queue-<priority><seq>`, with Curator's priority encoding, lower
/// first). Consumers list the children once and work through that listing,
/// re-listing only when it is used up; a child watch is left only when the
/// queue is empty, so the number of watches does not grow with the number of
/// items. Clones of a `Queue` share the listing, so many tasks can take from
/// one handle without competing for the same item.
///
/// - [`Queue::take`] removes the item before returning it, and only returns
///   it if this consumer's delete removed it: an item is never delivered
///   twice. It is **at-most-once**: a consumer that dies after the delete
///   loses the item, and so does one whose delete is applied but whose
///   connection drops before the reply (the item is gone, and nothing says
///   whether this consumer or another removed it).
/// - [`Queue::take_locked`] is **at-least-once**: it locks the item with an
///   ephemeral node `<lock path>/<item>` and leaves it in the queue until
///   [`QueueItem::ack`]; if the consumer's session ends first, the lock
///   vanishes and another consumer gets the item.
///
/// **Connection policy**: consumers wait through suspensions; after a
/// session loss they continue in the new session (when the client renews
/// sessions) — locks held by the old session are gone, so those items are
/// delivered again.
///
/// Listing a very large backlog needs a client whose
/// [`max_frame`](zk_client::ClientBuilder::max_frame) exceeds ZooKeeper's
/// 1 MiB default (about 50 000 item names fit in 1 MiB).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let zk = zk_testserver::Ensemble::builder().start().await?;
/// # let client = zk_client::Client::builder(zk.connect_string()).renew_session_on_expiry(true).connect().await?;
/// # tokio::time::timeout(std::time::Duration::from_secs(20), demo(client)).await??;
/// # Ok(()) }
/// # async fn demo(client: zk_client::Client) -> Result<(), zk_recipes::Error> {
/// use zk_recipes::Queue;
/// let queue = Queue::new(&client, "/app/jobs");
/// queue.put("job-1").await?;
/// let item = queue.take_locked().await?;
/// println!("processing {:?}", item.data());
/// item.ack().await?; // removed for good
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Queue {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    client: Client,
    path: String,
    lock_path: String,
    order: Order,
    cache: tokio::sync::Mutex<VecDeque<String>>,
    counters: Counters,
}

impl Queue {
    /// A FIFO queue at `path`.
    pub fn new(client: &Client, path: impl Into<String>) -> Queue {
        Queue::build(client, path.into(), Order::Fifo)
    }

    /// A priority queue at `path`: lower priorities first, FIFO within a
    /// priority. (Each take re-lists the queue, so that items put later
    /// with a lower priority come first.)
    pub fn priority(client: &Client, path: impl Into<String>) -> Queue {
        Queue::build(client, path.into(), Order::Priority)
    }

    fn build(client: &Client, path: String, order: Order) -> Queue {
        let lock_path = format!("{path}-locks");
        Queue {
            inner: Arc::new(Inner {
                client: client.clone(),
                path,
                lock_path,
                order,
                cache: tokio::sync::Mutex::new(VecDeque::new()),
                counters: Counters::default(),
            }),
        }
    }

    /// Where [`Queue::take_locked`] keeps its lock nodes (default
    /// `<path>-locks`; Curator's `lockPath`).
    pub fn with_lock_path(self, lock_path: impl Into<String>) -> Queue {
        let inner = &self.inner;
        Queue {
            inner: Arc::new(Inner {
                client: inner.client.clone(),
                path: inner.path.clone(),
                lock_path: lock_path.into(),
                order: inner.order,
                cache: tokio::sync::Mutex::new(VecDeque::new()),
                counters: Counters::default(),
            }),
        }
    }

    /// The queue's path.
    pub fn path(&self) -> &str {
        &self.inner.path
    }

    /// What this handle (and its clones) did so far.
    pub fn stats(&self) -> QueueStats {
        let c = &self.inner.counters;
        QueueStats {
            watches_set: c.watches_set.load(AtomicOrdering::Relaxed),
            listings: c.listings.load(AtomicOrdering::Relaxed),
            taken: c.taken.load(AtomicOrdering::Relaxed),
            put_retries: c.put_retries.load(AtomicOrdering::Relaxed),
            unknown_takes: c.unknown_takes.load(AtomicOrdering::Relaxed),
        }
    }

    /// Appends an item (priority queues: with priority 0) and returns its
    /// node name. After a connection loss the put is repeated, so an item
    /// is never lost but may (rarely) be queued twice.
    pub async fn put(&self, data: impl Into<Bytes>) -> Result<String> {
        self.put_named(ITEM_PREFIX.to_string(), data.into()).await
    }

    /// Appends an item with a priority (lower comes out first).
    pub async fn put_with_priority(&self, data: impl Into<Bytes>, priority: i32) -> Result<String> {
        let name = format!("{ITEM_PREFIX}{}", priority_code(priority));
        self.put_named(name, data.into()).await
    }

    async fn put_named(&self, name: String, data: Bytes) -> Result<String> {
        let client = &self.inner.client;
        let path = join(&self.inner.path, &name);
        loop {
            match client
                .create(&path, data.clone(), CreateMode::PersistentSequential)
                .await
            {
                Ok((created, _)) => {
                    return Ok(crate::nodes::basename(&created).to_string());
                }
                Err(e) if e.is_no_node() => ensure_dir(client, &self.inner.path, false).await?,
                Err(e) if e.is_connection_loss() => {
                    self.inner
                        .counters
                        .put_retries
                        .fetch_add(1, AtomicOrdering::Relaxed);
                    wait_connected(client).await?;
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// The number of items (locked ones included).
    pub async fn len(&self) -> Result<usize> {
        Ok(self.list().await?.len())
    }

    /// Whether the queue has no items.
    pub async fn is_empty(&self) -> Result<bool> {
        Ok(self.len().await? == 0)
    }

    /// Removes and returns the next item, waiting while the queue is empty.
    pub async fn take(&self) -> Result<Bytes> {
        loop {
            if let Some(data) = self.take_pass(false).await? {
                return Ok(data.1);
            }
            self.wait_for_items(false).await?;
        }
    }

    /// Removes and returns the next item, or `None` if the queue is empty.
    pub async fn try_take(&self) -> Result<Option<Bytes>> {
        Ok(self.take_pass(false).await?.map(|(_, d)| d))
    }

    /// Like [`Queue::take`], failing with [`Error::Timeout`] after `timeout`.
    pub async fn take_timeout(&self, timeout: Duration) -> Result<Bytes> {
        tokio::time::timeout(timeout, self.take())
            .await
            .unwrap_or(Err(Error::Timeout))
    }

    /// Locks the next unlocked item and returns it without removing it;
    /// waits while there is none. See [`QueueItem`].
    pub async fn take_locked(&self) -> Result<QueueItem> {
        loop {
            if let Some(item) = self.try_take_locked().await? {
                return Ok(item);
            }
            self.wait_for_items(true).await?;
        }
    }

    /// Locks the next unlocked item and returns it without removing it, or
    /// `None` if every item is taken or locked. See [`QueueItem`].
    pub async fn try_take_locked(&self) -> Result<Option<QueueItem>> {
        Ok(self.take_pass(true).await?.map(|(name, data)| QueueItem {
            client: self.inner.client.clone(),
            item: join(&self.inner.path, &name),
            lock: join(&self.inner.lock_path, &name),
            session: self.inner.client.session_id(),
            data,
            done: false,
        }))
    }

    async fn list(&self) -> Result<Vec<String>> {
        let client = &self.inner.client;
        self.inner
            .counters
            .listings
            .fetch_add(1, AtomicOrdering::Relaxed);
        let children = loop {
            match client.get_children(&self.inner.path).await {
                Ok(c) => break c,
                Err(e) if e.is_no_node() => break Vec::new(),
                Err(e) if e.is_session_expired() => {
                    wait_connected(client).await?;
                }
                Err(e) => return Err(e.into()),
            }
        };
        Ok(self.sort(children))
    }

    fn sort(&self, children: Vec<String>) -> Vec<String> {
        let mut items: Vec<String> = children
            .into_iter()
            .filter(|c| c.starts_with(ITEM_PREFIX))
            .collect();
        match self.inner.order {
            Order::Fifo => items.sort_by_key(|c| (sequence_of(c).unwrap_or(i64::MAX), c.clone())),
            Order::Priority => items.sort(),
        }
        items
    }

    /// One pass over the current listing (re-listed once if the cached one
    /// is used up): the first item this consumer could claim.
    async fn take_pass(&self, locked: bool) -> Result<Option<(String, Bytes)>> {
        let mut fresh = false;
        loop {
            let next = {
                let mut cache = self.inner.cache.lock().await;
                if self.inner.order == Order::Priority && !fresh {
                    cache.clear();
                }
                if cache.is_empty() {
                    if fresh {
                        return Ok(None);
                    }
                    cache.extend(self.list().await?);
                    fresh = true;
                }
                cache.pop_front()
            };
            let Some(name) = next else {
                return Ok(None);
            };
            let claimed = if locked {
                self.claim_locked(&name).await?
            } else {
                self.claim(&name).await?
            };
            if let Some(data) = claimed {
                self.inner
                    .counters
                    .taken
                    .fetch_add(1, AtomicOrdering::Relaxed);
                return Ok(Some((name, data)));
            }
        }
    }

    async fn claim(&self, name: &str) -> Result<Option<Bytes>> {
        let client = &self.inner.client;
        // The delete is the claim: it must not be retried behind our back,
        // or a retry that finds the item gone could not tell our delete from
        // another consumer's.
        let once = client.with_retry(zk_client::retry::NoRetry);
        let path = join(&self.inner.path, name);
        loop {
            let data = match client.get_data(&path).await {
                Ok((data, _)) => data,
                Err(e) if e.is_no_node() => return Ok(None),
                Err(e) if e.is_session_expired() => {
                    wait_connected(client).await?;
                    continue;
                }
                Err(e) => return Err(e.into()),
            };
            return match once.delete(&path, None).await {
                Ok(()) => Ok(Some(data)),
                Err(e) if e.is_no_node() => Ok(None),
                Err(e) if e.is_session_expired() => {
                    wait_connected(client).await?;
                    continue;
                }
                Err(e) if e.is_retryable() => {
                    // Unknown outcome: if the item is still there the delete
                    // was not applied and we try again; if it is gone, we
                    // cannot prove it was ours, so we do not deliver it.
                    if client.exists(&path).await?.is_some() {
                        continue;
                    }
                    tracing::debug!(%path, "delete outcome unknown after a connection loss; item skipped");
                    self.inner
                        .counters
                        .unknown_takes
                        .fetch_add(1, AtomicOrdering::Relaxed);
                    Ok(None)
                }
                Err(e) => Err(e.into()),
            };
        }
    }

    async fn claim_locked(&self, name: &str) -> Result<Option<Bytes>> {
        let client = &self.inner.client;
        let lock = join(&self.inner.lock_path, name);
        loop {
            match client
                .create(&lock, Bytes::new(), CreateMode::Ephemeral)
                .await
            {
                Ok(_) => break,
                Err(e) if e.is_node_exists() => return Ok(None),
                Err(e) if e.is_no_node() => {
                    ensure_dir(client, &self.inner.lock_path, false).await?;
                }
                Err(e) if e.is_session_expired() => {
                    wait_connected(client).await?;
                }
                Err(e) => return Err(e.into()),
            }
        }
        match client.get_data(&join(&self.inner.path, name)).await {
            Ok((data, _)) => Ok(Some(data)),
            Err(e) => {
                spawn_release(client.clone(), lock, client.session_id());
                if e.is_no_node() {
                    Ok(None)
                } else {
                    Err(e.into())
                }
            }
        }
    }

    /// Waits until the queue may have something for us: its child list
    /// changed (and, for locking consumers, the lock list changed).
    async fn wait_for_items(&self, locked: bool) -> Result<()> {
        let client = &self.inner.client;
        let counters = &self.inner.counters;
        let (items, queue_watch) = loop {
            match client.get_children_watch(&self.inner.path).await {
                Ok((children, watch)) => {
                    counters.watches_set.fetch_add(1, AtomicOrdering::Relaxed);
                    let items = self.sort(children);
                    if !locked && !items.is_empty() {
                        return Ok(());
                    }
                    break (items, Some(watch));
                }
                Err(e) if e.is_no_node() => {
                    ensure_dir(client, &self.inner.path, false).await?;
                }
                Err(e) if e.is_session_expired() => {
                    wait_connected(client).await?;
                }
                Err(e) => return Err(e.into()),
            }
        };
        let lock_watch = if locked {
            match client.get_children_watch(&self.inner.lock_path).await {
                Ok((locks, watch)) => {
                    counters.watches_set.fetch_add(1, AtomicOrdering::Relaxed);
                    // A lock released between our last attempt and this
                    // watch would never be reported: look now.
                    if items.iter().any(|i| !locks.contains(i)) {
                        return Ok(());
                    }
                    Some(watch)
                }
                Err(e) if e.is_no_node() => {
                    if !items.is_empty() {
                        return Ok(());
                    }
                    None
                }
                Err(e) if e.is_session_expired() => return Ok(()),
                Err(e) => return Err(e.into()),
            }
        } else {
            None
        };
        let event = match (queue_watch, lock_watch) {
            (Some(q), Some(l)) => {
                tokio::select! {
                    e = q => e,
                    e = l => e,
                }
            }
            (Some(q), None) => q.await,
            (None, Some(l)) => l.await,
            (None, None) => return Ok(()),
        };
        match event {
            WatchEvent::Expired => {
                wait_connected(client).await?;
                Ok(())
            }
            WatchEvent::Closed | WatchEvent::AuthFailed => {
                Err(Error::SessionLost(crate::LossReason::ClientClosed))
            }
            _ => Ok(()),
        }
    }
}

/// An item taken with [`Queue::take_locked`]: still in the queue, locked by
/// this consumer's session. [`QueueItem::ack`] removes it for good;
/// [`QueueItem::release`] (or dropping the item) unlocks it for another
/// consumer; if the session ends first, it is unlocked too.
#[derive(Debug)]
#[must_use = "an item is delivered again unless acked"]
pub struct QueueItem {
    client: Client,
    item: String,
    lock: String,
    session: i64,
    data: Bytes,
    done: bool,
}

impl QueueItem {
    /// The item's data.
    pub fn data(&self) -> &Bytes {
        &self.data
    }

    /// The item's node path.
    pub fn path(&self) -> &str {
        &self.item
    }

    /// Removes the item and its lock atomically. Fails (and the item will be
    /// delivered again) if this consumer's lock is gone — its session ended.
    pub async fn ack(mut self) -> Result<()> {
        self.done = true;
        if self.client.session_id() != self.session {
            return Err(Error::SessionLost(crate::LossReason::SessionExpired));
        }
        let ops = vec![Op::delete(&self.lock, None), Op::delete(&self.item, None)];
        match self.client.multi(ops).await {
            Ok(_) => Ok(()),
            Err(e) if e.is_connection_loss() => {
                // Did it happen? The item is gone iff the multi applied.
                wait_connected(&self.client).await?;
                match self.client.exists(&self.item).await? {
                    None => Ok(()),
                    Some(_) if self.client.session_id() == self.session => {
                        let ops = vec![Op::delete(&self.lock, None), Op::delete(&self.item, None)];
                        self.client.multi(ops).await?;
                        Ok(())
                    }
                    Some(_) => Err(Error::SessionLost(crate::LossReason::SessionExpired)),
                }
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Unlocks the item, leaving it in the queue for another consumer.
    pub async fn release(mut self) -> Result<()> {
        self.done = true;
        crate::nodes::release_node(&self.client, &self.lock, self.session).await;
        Ok(())
    }
}

impl Drop for QueueItem {
    fn drop(&mut self) {
        if !self.done {
            spawn_release(
                self.client.clone(),
                std::mem::take(&mut self.lock),
                self.session,
            );
        }
    }
}

/// Curator's priority encoding: `1` + 8 hex digits for non-negative
/// priorities, `0` + the two's complement for negative ones, so that names
/// sort in priority order.
fn priority_code(priority: i32) -> String {
    let sign = if priority >= 0 { '1' } else { '0' };
    format!("{sign}{:08X}", priority as u32)
}

#[cfg(test)]
mod tests {
    use super::priority_code;

    #[test]
    fn priority_codes_sort_in_priority_order() {
        let mut ps = vec![5, -1, 0, i32::MIN, i32::MAX, -300, 17];
        let mut codes: Vec<(String, i32)> = ps.iter().map(|&p| (priority_code(p), p)).collect();
        codes.sort();
        ps.sort();
        assert_eq!(codes.into_iter().map(|(_, p)| p).collect::<Vec<_>>(), ps);
        assert_eq!(priority_code(1), "100000001");
        assert_eq!(priority_code(-1), "0FFFFFFFF");
    }
}
