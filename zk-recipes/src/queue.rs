//! Distributed queues (Curator's `DistributedQueue` /
//! `DistributedPriorityQueue` layout): FIFO or by priority, with a blocking
//! `take` and a locking consumer for at-least-once processing.

use crate::detach::finish_on_drop;
use crate::error::{Error, Result};
use crate::nodes::{ensure_dir, join, sequence_of, spawn_release};
use crate::policy::wait_connected;
use crate::queue_frame;
use bytes::Bytes;
use std::collections::VecDeque;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering as AtomicOrdering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::Instant;
use zk_client::retry::NoRetry;
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
/// first), holding the item framed as Curator's `DistributedQueue` frames
/// it (its `ItemSerializer`; a Curator queue with a pass-through
/// `QueueSerializer` puts and takes the same bytes). Nodes Curator wrote
/// with several items (`putMulti`) are taken item by item. Consumers list the children once and work through that listing,
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
    /// Items this handle removed from the queue for a take whose future was
    /// dropped before it could return them (name, data): the next take on
    /// this handle returns them first.
    claimed: Mutex<VecDeque<(String, Bytes)>>,
    /// How many such removals are still finishing in the background; the
    /// next take waits for them (a round trip) before it looks elsewhere.
    finishing: watch::Sender<usize>,
    counters: Counters,
}

/// A deadline and the timeout it came from (for the error).
type Deadline = Option<(Instant, Duration)>;

/// What a take's delete said about the item.
enum Claim {
    /// Our delete removed it: it is ours to deliver.
    Ours,
    /// Someone else removed it (or we cannot prove it was us).
    Gone,
    /// Nothing happened (session changed, delete not applied): try again.
    Again,
}

impl Queue {
    /// A FIFO queue at `path`.
    pub fn new(client: &Client, path: impl Into<String>) -> Queue {
        Queue::build(client, path.into(), None, Order::Fifo)
    }

    /// A priority queue at `path`: lower priorities first, FIFO within a
    /// priority. (Each take re-lists the queue, so that items put later
    /// with a lower priority come first.)
    pub fn priority(client: &Client, path: impl Into<String>) -> Queue {
        Queue::build(client, path.into(), None, Order::Priority)
    }

    fn build(client: &Client, path: String, lock_path: Option<String>, order: Order) -> Queue {
        let lock_path = lock_path.unwrap_or_else(|| format!("{path}-locks"));
        Queue {
            inner: Arc::new(Inner {
                client: client.clone(),
                path,
                lock_path,
                order,
                cache: tokio::sync::Mutex::new(VecDeque::new()),
                claimed: Mutex::new(VecDeque::new()),
                finishing: watch::Sender::new(0),
                counters: Counters::default(),
            }),
        }
    }

    /// Where [`Queue::take_locked`] keeps its lock nodes (default
    /// `<path>-locks`; Curator's `lockPath`).
    pub fn with_lock_path(self, lock_path: impl Into<String>) -> Queue {
        let inner = &self.inner;
        Queue::build(
            &inner.client,
            inner.path.clone(),
            Some(lock_path.into()),
            inner.order,
        )
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
    ///
    /// # Cancel safety
    ///
    /// Once polled, the item is queued even if this future is dropped: the
    /// put finishes in the background (only its node name is lost). A
    /// future dropped before its first poll queues nothing.
    pub async fn put(&self, data: impl Into<Bytes>) -> Result<String> {
        self.put_in_background_if_dropped(ITEM_PREFIX.to_string(), data.into())
            .await
    }

    /// Appends an item with a priority (lower comes out first).
    ///
    /// # Cancel safety
    ///
    /// As [`Queue::put`]: once polled, the item is queued.
    pub async fn put_with_priority(&self, data: impl Into<Bytes>, priority: i32) -> Result<String> {
        let name = format!("{ITEM_PREFIX}{}", priority_code(priority));
        self.put_in_background_if_dropped(name, data.into()).await
    }

    async fn put_in_background_if_dropped(&self, name: String, data: Bytes) -> Result<String> {
        let inner = self.inner.clone();
        finish_on_drop(async move { inner.put_named(&name, data).await }, |_| {}).await
    }

    /// The number of items (locked ones included).
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: it only reads.
    pub async fn len(&self) -> Result<usize> {
        Ok(self.list().await?.len())
    }

    /// Whether the queue has no items.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: it only reads.
    pub async fn is_empty(&self) -> Result<bool> {
        Ok(self.len().await? == 0)
    }

    /// Removes and returns the next item, waiting while the queue is empty.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: no item is lost if the future is dropped (in
    /// `tokio::select!`, under a timeout). An item whose removal was already
    /// sent to the server when the future was dropped is kept by this
    /// handle (and its clones) and returned by the next `take`, `try_take`
    /// or `take_timeout`; if the handle is dropped first, such items are put
    /// back at the end of the queue.
    pub async fn take(&self) -> Result<Bytes> {
        self.take_until(None).await
    }

    /// Removes and returns the next item, or `None` if the queue is empty.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe, as [`Queue::take`].
    pub async fn try_take(&self) -> Result<Option<Bytes>> {
        self.inner.abandoned_takes_finished().await;
        if let Some(data) = self.inner.claimed_earlier() {
            return Ok(Some(data));
        }
        Ok(self.take_pass(None).await?.map(|(_, d)| d))
    }

    /// Like [`Queue::take`], failing with [`Error::Timeout`] after `timeout`.
    ///
    /// The deadline stops the waiting, never a removal under way: if the
    /// deadline passes while this call is removing an item, the call
    /// returns that item (one round trip after the deadline at most).
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe, as [`Queue::take`].
    pub async fn take_timeout(&self, timeout: Duration) -> Result<Bytes> {
        self.take_until(Some((Instant::now() + timeout, timeout)))
            .await
    }

    async fn take_until(&self, deadline: Deadline) -> Result<Bytes> {
        loop {
            let finished = async {
                self.inner.abandoned_takes_finished().await;
                Ok(())
            };
            self.until(deadline, finished).await?;
            if let Some(data) = self.inner.claimed_earlier() {
                return Ok(data);
            }
            if let Some((_, data)) = self.take_pass(deadline).await? {
                return Ok(data);
            }
            // Woken by a change of the queue, or by an abandoned take of
            // this handle that finishes (it may keep an item for us).
            let mut finishing = self.inner.finishing.subscribe();
            let item_kept = async {
                let _ = finishing.changed().await;
                Ok(())
            };
            let wait = async {
                tokio::select! {
                    r = self.wait_for_items(false) => r,
                    r = item_kept => r,
                }
            };
            self.until(deadline, wait).await?;
        }
    }

    /// Locks the next unlocked item and returns it without removing it;
    /// waits while there is none. See [`QueueItem`].
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: if the future is dropped while it is locking an item,
    /// the locking finishes in the background and the lock is removed
    /// again, so the item stays takeable (and no lock node is left).
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
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe, as [`Queue::take_locked`].
    pub async fn try_take_locked(&self) -> Result<Option<QueueItem>> {
        self.pass(None, |inner, name| {
            // Locking is two requests (create the lock, read the item): if
            // the caller goes away in between, finish and unlock.
            finish_on_drop(inner.claim_locked(name), drop)
        })
        .await
    }

    async fn list(&self) -> Result<Vec<String>> {
        self.inner.list().await
    }

    /// `fut`, failing with [`Error::Timeout`] once `deadline` passes.
    async fn until<T>(
        &self,
        deadline: Deadline,
        fut: impl Future<Output = Result<T>>,
    ) -> Result<T> {
        match deadline {
            None => fut.await,
            Some((at, after)) => tokio::time::timeout_at(at, fut)
                .await
                .unwrap_or_else(|_| Err(Error::timeout(&self.inner.path, after))),
        }
    }

    /// One pass over the current listing for a plain take: the first item
    /// this consumer removed.
    async fn take_pass(&self, deadline: Deadline) -> Result<Option<(String, Bytes)>> {
        self.pass(deadline, |inner, name| async move {
            let item = Inner::claim(inner, name.clone()).await?;
            Ok(item.map(|data| (name, data)))
        })
        .await
    }

    /// One pass over the current listing (re-listed once if the cached one
    /// is used up): the first item `claim` got. The deadline bounds the
    /// listing, never a claim.
    async fn pass<T, F, Fut>(&self, deadline: Deadline, claim: F) -> Result<Option<T>>
    where
        F: Fn(Arc<Inner>, String) -> Fut,
        Fut: Future<Output = Result<Option<T>>>,
    {
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
                    let listing = self.until(deadline, self.list()).await?;
                    cache.extend(listing);
                    fresh = true;
                }
                cache.pop_front()
            };
            let Some(name) = next else {
                return Ok(None);
            };
            if let Some(item) = claim(self.inner.clone(), name).await? {
                self.inner
                    .counters
                    .taken
                    .fetch_add(1, AtomicOrdering::Relaxed);
                return Ok(Some(item));
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
                    let items = self.inner.sort(children);
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

impl Inner {
    async fn put_named(&self, name: &str, data: Bytes) -> Result<String> {
        let client = &self.client;
        let path = join(&self.path, name);
        // Curator's DistributedQueue framing (one item per node).
        let data = queue_frame::encode(&[&data]);
        loop {
            match client
                .create(&path, data.clone(), CreateMode::PersistentSequential)
                .await
            {
                Ok((created, _)) => {
                    return Ok(crate::nodes::basename(&created).to_string());
                }
                Err(e) if e.is_no_node() => ensure_dir(client, &self.path, false).await?,
                Err(e) if e.is_connection_loss() => {
                    self.counters
                        .put_retries
                        .fetch_add(1, AtomicOrdering::Relaxed);
                    wait_connected(client).await?;
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Waits until no removal of an abandoned take is still finishing.
    async fn abandoned_takes_finished(&self) {
        let mut finishing = self.finishing.subscribe();
        let _ = finishing.wait_for(|n| *n == 0).await;
    }

    /// An item an abandoned take removed, if any (counted as taken now).
    fn claimed_earlier(&self) -> Option<Bytes> {
        let (_, data) = self.claimed.lock().ok()?.pop_front()?;
        self.counters.taken.fetch_add(1, AtomicOrdering::Relaxed);
        Some(data)
    }

    async fn list(&self) -> Result<Vec<String>> {
        let client = &self.client;
        self.counters.listings.fetch_add(1, AtomicOrdering::Relaxed);
        let children = loop {
            match client.get_children(&self.path).await {
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
        match self.order {
            Order::Fifo => items.sort_by_key(|c| (sequence_of(c).unwrap_or(i64::MAX), c.clone())),
            Order::Priority => items.sort(),
        }
        items
    }

    /// Reads the item and removes it; its data if our delete removed it.
    /// Reading is harmless to abandon; the delete is not (it is applied
    /// whether or not we wait for its reply), so a dropped caller leaves it
    /// to a background task, which keeps an item it removed for the next
    /// take.
    async fn claim(inner: Arc<Inner>, name: String) -> Result<Option<Bytes>> {
        let client = &inner.client;
        let path = join(&inner.path, &name);
        loop {
            let items = match client.get_data(&path).await {
                Ok((data, _)) => unframe(&path, data),
                Err(e) if e.is_no_node() => return Ok(None),
                Err(e) if e.is_session_expired() => {
                    wait_connected(client).await?;
                    continue;
                }
                Err(e) => return Err(e.into()),
            };
            let keep = {
                let (inner, name, items) = (inner.clone(), name.clone(), items.clone());
                move |claim: Result<Claim>| {
                    if let Ok(Claim::Ours) = claim {
                        tracing::debug!(%name, "take abandoned after removing its item; kept");
                        if let Ok(mut claimed) = inner.claimed.lock() {
                            claimed.extend(items.into_iter().map(|d| (name.clone(), d)));
                        }
                    }
                    inner.finishing.send_modify(|n| *n -= 1);
                }
            };
            let detaching = inner.clone();
            let delete = finish_on_drop(Inner::delete_claim(inner.clone(), path.clone()), keep)
                .on_detach(move || detaching.finishing.send_modify(|n| *n += 1));
            match delete.await? {
                Claim::Ours => {
                    // A node with several items (Curator's putMulti): the
                    // first now, the others on the next takes.
                    let mut items = items.into_iter();
                    let first = items.next();
                    if let Ok(mut claimed) = inner.claimed.lock() {
                        claimed.extend(items.map(|d| (name.clone(), d)));
                    }
                    return Ok(first);
                }
                Claim::Gone => return Ok(None),
                Claim::Again => continue,
            }
        }
    }

    async fn delete_claim(inner: Arc<Inner>, path: String) -> Result<Claim> {
        let client = &inner.client;
        // The delete is the claim: it must not be retried behind our back,
        // or a retry that finds the item gone could not tell our delete from
        // another consumer's.
        match client.with_retry(NoRetry).delete(&path, None).await {
            Ok(()) => Ok(Claim::Ours),
            Err(e) if e.is_no_node() => Ok(Claim::Gone),
            Err(e) if e.is_session_expired() => {
                wait_connected(client).await?;
                Ok(Claim::Again)
            }
            Err(e) if e.is_retryable() => {
                // Unknown outcome: if the item is still there the delete
                // was not applied and we try again; if it is gone, we
                // cannot prove it was ours, so we do not deliver it.
                if client.exists(&path).await?.is_some() {
                    return Ok(Claim::Again);
                }
                tracing::debug!(%path, "delete outcome unknown after a connection loss; item skipped");
                inner
                    .counters
                    .unknown_takes
                    .fetch_add(1, AtomicOrdering::Relaxed);
                Ok(Claim::Gone)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Locks the item `name` and reads it.
    async fn claim_locked(self: Arc<Inner>, name: String) -> Result<Option<QueueItem>> {
        let client = &self.client;
        let lock = join(&self.lock_path, &name);
        let session = loop {
            match client
                .create(&lock, Bytes::new(), CreateMode::Ephemeral)
                .await
            {
                Ok((_, stat)) => break stat.ephemeral_owner,
                Err(e) if e.is_node_exists() => return Ok(None),
                Err(e) if e.is_no_node() => {
                    ensure_dir(client, &self.lock_path, false).await?;
                }
                Err(e) if e.is_session_expired() => {
                    wait_connected(client).await?;
                }
                Err(e) => return Err(e.into()),
            }
        };
        let mut item = QueueItem {
            client: client.clone(),
            item: join(&self.path, &name),
            lock,
            session,
            data: Bytes::new(),
            items: Vec::new(),
            done: false,
        };
        // From here on, dropping `item` unlocks the item.
        match client.get_data(&item.item).await {
            Ok((data, _)) => {
                item.items = unframe(&item.item, data);
                item.data = item.items.first().cloned().unwrap_or_default();
                Ok(Some(item))
            }
            Err(e) if e.is_no_node() => Ok(None),
            Err(e) => Err(e.into()),
        }
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        let Ok(claimed) = self.claimed.get_mut() else {
            return;
        };
        if claimed.is_empty() {
            return;
        }
        // Items removed for takes that were abandoned, and no handle left
        // to take them: put them back (at the end of the queue).
        let items = std::mem::take(claimed);
        let Ok(handle) = tokio::runtime::Handle::try_current() else {
            tracing::warn!(path = %self.path, lost = items.len(), "no runtime to put back taken items");
            return;
        };
        let back = Inner {
            client: self.client.clone(),
            path: self.path.clone(),
            lock_path: self.lock_path.clone(),
            order: self.order,
            cache: tokio::sync::Mutex::new(VecDeque::new()),
            claimed: Mutex::new(VecDeque::new()),
            finishing: watch::Sender::new(0),
            counters: Counters::default(),
        };
        handle.spawn(async move {
            for (name, data) in items {
                // The name without its sequence number: `queue-[priority]`.
                let prefix = &name[..name.len().saturating_sub(10)];
                if let Err(e) = back.put_named(prefix, data).await {
                    tracing::warn!(path = %back.path, %name, error = %e, "could not put back a taken item");
                }
            }
        });
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
    items: Vec<Bytes>,
    done: bool,
}

impl QueueItem {
    /// The item's data.
    pub fn data(&self) -> &Bytes {
        &self.data
    }

    /// Every item of the node: one, except for nodes a Curator producer
    /// wrote with `putMulti` (all acked or released together).
    pub fn items(&self) -> &[Bytes] {
        &self.items
    }

    /// The item's node path.
    pub fn path(&self) -> &str {
        &self.item
    }

    /// Removes the item and its lock atomically. Fails (and the item will be
    /// delivered again) if this consumer's lock is gone — its session ended.
    ///
    /// # Cancel safety
    ///
    /// If the future is dropped, the item is either removed (the removal was
    /// applied) or unlocked in the background and delivered again: never
    /// left locked.
    pub async fn ack(mut self) -> Result<()> {
        if self.client.session_id() != self.session {
            self.done = true;
            return Err(Error::SessionLost(crate::LossReason::SessionExpired));
        }
        let ops = vec![Op::delete(&self.lock, None), Op::delete(&self.item, None)];
        let acked = match self.client.multi(ops).await {
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
        };
        // On an error the lock (if still ours) is released by Drop.
        self.done = acked.is_ok();
        acked
    }

    /// Unlocks the item, leaving it in the queue for another consumer.
    ///
    /// # Cancel safety
    ///
    /// If the future is dropped, the lock is removed in the background.
    pub async fn release(mut self) -> Result<()> {
        crate::nodes::release_node(&self.client, &self.lock, self.session).await;
        self.done = true;
        Ok(())
    }
}

impl Drop for QueueItem {
    fn drop(&mut self) {
        if !self.done {
            spawn_release(&self.client, std::mem::take(&mut self.lock), self.session);
        }
    }
}

/// The items of a queue node in Curator's framing; data in another format
/// (raw bytes, as zk-recipes wrote before it framed items) is one item.
fn unframe(path: &str, data: Bytes) -> Vec<Bytes> {
    match queue_frame::decode(&data) {
        Some(items) if !items.is_empty() => items,
        Some(_) => {
            tracing::warn!(%path, "queue node without items; delivered as empty");
            vec![Bytes::new()]
        }
        None => {
            tracing::warn!(%path, "queue node not in Curator's framing; delivered as raw bytes");
            vec![data]
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
