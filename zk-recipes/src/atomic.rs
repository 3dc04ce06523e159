//! Curator's `DistributedAtomicLong` / `DistributedAtomicInteger`: a
//! number in one node, changed by optimistic compare-and-set, with an
//! optional promotion to a lock when optimism keeps failing.

use crate::error::{Error, Result};
use crate::lock::Lock;
use crate::nodes::{ensure_dir, parent_of};
use crate::pause::RetryPause;
use std::time::Duration;
use zk_client::retry::NoRetry;
use zk_client::{Client, CreateMode, Stat};

/// A number stored the way Curator's atomic recipes store it: big-endian
/// two's complement of its width (`long`: 8 bytes, `int`: 4 bytes); a
/// missing or empty node reads as 0.
pub trait AtomicNumber: Copy + PartialEq + std::fmt::Debug + Send + Sync + 'static {
    /// Width in bytes.
    const WIDTH: usize;
    /// The encoded value.
    fn encode(self) -> Vec<u8>;
    /// Decodes a value of exactly [`AtomicNumber::WIDTH`] bytes.
    fn decode(bytes: &[u8]) -> Option<Self>;
    /// `self + delta`, wrapping like Java's arithmetic.
    fn wrapping_add(self, delta: Self) -> Self;
    /// `-self`, wrapping.
    fn wrapping_neg(self) -> Self;
    /// Zero.
    fn zero() -> Self;
    /// One.
    fn one() -> Self;
}

macro_rules! atomic_number {
    ($t:ty) => {
        impl AtomicNumber for $t {
            const WIDTH: usize = std::mem::size_of::<$t>();
            fn encode(self) -> Vec<u8> {
                self.to_be_bytes().to_vec()
            }
            fn decode(bytes: &[u8]) -> Option<$t> {
                bytes.try_into().ok().map(<$t>::from_be_bytes)
            }
            fn wrapping_add(self, delta: $t) -> $t {
                <$t>::wrapping_add(self, delta)
            }
            fn wrapping_neg(self) -> $t {
                <$t>::wrapping_neg(self)
            }
            fn zero() -> $t {
                0
            }
            fn one() -> $t {
                1
            }
        }
    };
}
atomic_number!(i64);
atomic_number!(i32);

/// The outcome of a change: whether it was made, and the value before and
/// after (Curator's `AtomicValue`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AtomicOutcome<N> {
    /// Whether the change was applied. `false` when every optimistic try
    /// (and, if promoted, every try under the lock) met a concurrent
    /// change; the caller may try again.
    pub succeeded: bool,
    /// The value the change was computed from (the last one read).
    pub pre: N,
    /// The value written (equal to `pre` when not succeeded).
    pub post: N,
    /// How the change went.
    pub stats: AtomicStats,
}

/// How a change went (Curator's `AtomicStats`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AtomicStats {
    /// Compare-and-set attempts without the lock.
    pub optimistic_tries: u32,
    /// Attempts made while holding the promotion lock.
    pub promoted_tries: u32,
}

/// Promotion to a lock (Curator's `PromotedToLock`): after the optimistic
/// tries fail, a [`Lock`] at `lock_path` is taken (within `max_lock_time`)
/// and the change tried again `tries` times under it. Every writer that
/// can be promoted must use the same lock path (Curator services too).
#[derive(Debug, Clone)]
pub struct PromotedToLock {
    lock_path: String,
    max_lock_time: Duration,
    tries: u32,
}

impl PromotedToLock {
    /// Promotion to the lock at `lock_path`, waiting at most
    /// `max_lock_time` for it, 3 tries under it.
    pub fn new(lock_path: impl Into<String>, max_lock_time: Duration) -> PromotedToLock {
        PromotedToLock {
            lock_path: lock_path.into(),
            max_lock_time,
            tries: 3,
        }
    }

    /// Tries under the lock (at least 1).
    pub fn tries(mut self, tries: u32) -> PromotedToLock {
        self.tries = tries.max(1);
        self
    }
}

/// A 64-bit counter in Curator's `DistributedAtomicLong` format.
pub type DistributedAtomicLong = DistributedAtomic<i64>;
/// A 32-bit counter in Curator's `DistributedAtomicInteger` format.
pub type DistributedAtomicInteger = DistributedAtomic<i32>;

/// A number in one persistent node, changed atomically: each change reads
/// the node and writes it back only if its version did not move (the
/// node and its missing ancestors are created on first write, the
/// ancestors as containers, as Curator does). Compatible with Curator's
/// `DistributedAtomicLong` / `DistributedAtomicInteger` on the same path.
///
/// A change that keeps meeting concurrent writers gives up after the
/// optimistic tries (default 10, with a short jittered pause between
/// them) unless [`DistributedAtomic::promoted_to_lock`] is set, and
/// reports `succeeded: false` rather than failing.
///
/// A write whose reply is lost (connection loss) is **not** repeated: the
/// call fails with that connection-loss error, since the write may have
/// been applied, and repeating a compare-and-set that was applied would
/// apply the change twice.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let zk = zk_testserver::Ensemble::builder().start().await?;
/// # let client = zk_client::Client::connect(zk.connect_string()).await?;
/// use std::time::Duration;
/// use zk_recipes::{DistributedAtomicLong, PromotedToLock};
/// let hits = DistributedAtomicLong::new(&client, "/app/hits")
///     .promoted_to_lock(PromotedToLock::new("/app/hits-lock", Duration::from_secs(5)));
/// let outcome = hits.increment().await?;
/// assert!(outcome.succeeded);
/// assert_eq!((outcome.pre, outcome.post), (0, 1));
/// assert_eq!(hits.get().await?, 1);
/// # Ok(()) }
/// ```
///
/// # Cancel safety
///
/// Every change is one conditional write after reads. Dropped before
/// that write is sent, nothing changes; dropped while it is in flight,
/// the change may or may not be applied (as with a lost reply). A
/// promotion lock held when the future is dropped is released in the
/// background.
#[derive(Debug, Clone)]
pub struct DistributedAtomic<N> {
    client: Client,
    path: String,
    optimistic_tries: u32,
    promoted: Option<PromotedToLock>,
    _number: std::marker::PhantomData<fn() -> N>,
}

impl<N: AtomicNumber> DistributedAtomic<N> {
    /// The number at `path`.
    pub fn new(client: &Client, path: impl Into<String>) -> DistributedAtomic<N> {
        DistributedAtomic {
            client: client.clone(),
            path: path.into(),
            optimistic_tries: 10,
            promoted: None,
            _number: std::marker::PhantomData,
        }
    }

    /// Optimistic tries per change (at least 1; default 10).
    pub fn optimistic_tries(mut self, tries: u32) -> DistributedAtomic<N> {
        self.optimistic_tries = tries.max(1);
        self
    }

    /// Promote to a lock when the optimistic tries fail.
    pub fn promoted_to_lock(mut self, promoted: PromotedToLock) -> DistributedAtomic<N> {
        self.promoted = Some(promoted);
        self
    }

    /// The node's path.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The current value (0 if the node does not exist).
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe (it only reads).
    pub async fn get(&self) -> Result<N> {
        Ok(self.read().await?.0)
    }

    /// Adds `delta`.
    ///
    /// # Cancel safety
    ///
    /// Dropped before its conditional write is sent, nothing changes; dropped
    /// while the write is in flight, the change may or may not be applied (as
    /// after a lost reply). A promotion lock it held is released in the
    /// background.
    pub async fn add(&self, delta: N) -> Result<AtomicOutcome<N>> {
        self.change(|v| v.wrapping_add(delta)).await
    }

    /// Subtracts `delta`.
    ///
    /// # Cancel safety
    ///
    /// Dropped before its conditional write is sent, nothing changes; dropped
    /// while the write is in flight, the change may or may not be applied (as
    /// after a lost reply). A promotion lock it held is released in the
    /// background.
    pub async fn subtract(&self, delta: N) -> Result<AtomicOutcome<N>> {
        self.add(delta.wrapping_neg()).await
    }

    /// Adds one.
    ///
    /// # Cancel safety
    ///
    /// Dropped before its conditional write is sent, nothing changes; dropped
    /// while the write is in flight, the change may or may not be applied (as
    /// after a lost reply). A promotion lock it held is released in the
    /// background.
    pub async fn increment(&self) -> Result<AtomicOutcome<N>> {
        self.add(N::one()).await
    }

    /// Subtracts one.
    ///
    /// # Cancel safety
    ///
    /// Dropped before its conditional write is sent, nothing changes; dropped
    /// while the write is in flight, the change may or may not be applied (as
    /// after a lost reply). A promotion lock it held is released in the
    /// background.
    pub async fn decrement(&self) -> Result<AtomicOutcome<N>> {
        self.subtract(N::one()).await
    }

    /// Sets `value` (optimistically, then promoted if configured).
    ///
    /// # Cancel safety
    ///
    /// Dropped before its conditional write is sent, nothing changes; dropped
    /// while the write is in flight, the change may or may not be applied (as
    /// after a lost reply). A promotion lock it held is released in the
    /// background.
    pub async fn try_set(&self, value: N) -> Result<AtomicOutcome<N>> {
        self.change(move |_| value).await
    }

    /// Sets `new` if the value is `expected` (one try, never promoted).
    ///
    /// # Cancel safety
    ///
    /// Dropped before its conditional write is sent, nothing changes; dropped
    /// while the write is in flight, the value may or may not be set.
    pub async fn compare_and_set(&self, expected: N, new: N) -> Result<AtomicOutcome<N>> {
        let (current, stat) = self.read().await?;
        let mut outcome = AtomicOutcome {
            succeeded: false,
            pre: current,
            post: current,
            stats: AtomicStats {
                optimistic_tries: 1,
                promoted_tries: 0,
            },
        };
        // As in Curator, a missing node never matches.
        if let (Some(stat), true) = (stat, current == expected) {
            if self.write(new, Some(&stat)).await? {
                outcome.succeeded = true;
                outcome.post = new;
            }
        }
        Ok(outcome)
    }

    /// Sets `value` unconditionally.
    ///
    /// # Cancel safety
    ///
    /// Dropped while a write is in flight, the value may or may not be set.
    pub async fn force_set(&self, value: N) -> Result<()> {
        loop {
            match self.client.set_data(&self.path, value.encode(), None).await {
                Ok(_) => return Ok(()),
                Err(e) if e.is_no_node() => match self.create(value).await {
                    Ok(true) => return Ok(()),
                    Ok(false) => {}
                    Err(e) => return Err(e),
                },
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Creates the node with `value` if it does not exist; whether it was
    /// created.
    ///
    /// # Cancel safety
    ///
    /// Dropped while the create is in flight, the node may or may not be
    /// created; calling again tells (`false` once it exists).
    pub async fn initialize(&self, value: N) -> Result<bool> {
        self.create(value).await
    }

    /// Optimistic tries, then (if configured) tries under the lock.
    async fn change(&self, next: impl Fn(N) -> N) -> Result<AtomicOutcome<N>> {
        let mut outcome = AtomicOutcome {
            succeeded: false,
            pre: N::zero(),
            post: N::zero(),
            stats: AtomicStats::default(),
        };
        let mut pause = RetryPause::new();
        for attempt in 0..self.optimistic_tries {
            if attempt > 0 {
                pause.wait().await;
            }
            outcome.stats.optimistic_tries += 1;
            if self.try_once(&next, &mut outcome).await? {
                return Ok(outcome);
            }
        }
        let Some(promoted) = &self.promoted else {
            return Ok(outcome);
        };
        let lock = Lock::new(&self.client, promoted.lock_path.clone());
        let guard = match lock.acquire_timeout(promoted.max_lock_time).await {
            Ok(g) => g,
            Err(Error::Timeout { .. }) => return Ok(outcome),
            Err(e) => return Err(e),
        };
        let mut result = Ok(outcome);
        for attempt in 0..promoted.tries {
            if attempt > 0 {
                pause.wait().await;
            }
            outcome.stats.promoted_tries += 1;
            match self.try_once(&next, &mut outcome).await {
                Ok(true) => {
                    result = Ok(outcome);
                    break;
                }
                Ok(false) => result = Ok(outcome),
                Err(e) => {
                    result = Err(e);
                    break;
                }
            }
        }
        guard.release().await?;
        result
    }

    /// One read and conditional write; `false` if someone changed the
    /// node in between.
    async fn try_once(
        &self,
        next: &impl Fn(N) -> N,
        outcome: &mut AtomicOutcome<N>,
    ) -> Result<bool> {
        let (current, stat) = self.read().await?;
        let new = next(current);
        outcome.pre = current;
        outcome.post = current;
        if self.write(new, stat.as_ref()).await? {
            outcome.succeeded = true;
            outcome.post = new;
            return Ok(true);
        }
        Ok(false)
    }

    /// The value and stat (`None` if the node does not exist).
    async fn read(&self) -> Result<(N, Option<Stat>)> {
        match self.client.get_data(&self.path).await {
            Ok((data, stat)) if data.is_empty() => Ok((N::zero(), Some(stat))),
            Ok((data, stat)) => match N::decode(&data) {
                Some(v) => Ok((v, Some(stat))),
                None => Err(Error::bad_data(
                    &self.path,
                    format!("{} bytes, expected {}", data.len(), N::WIDTH),
                )),
            },
            Err(e) if e.is_no_node() => Ok((N::zero(), None)),
            Err(e) => Err(e.into()),
        }
    }

    /// Writes `value` if the node is still at `stat`'s version (or still
    /// missing); `false` if it moved. Never repeated after a connection
    /// loss (see the type's docs).
    async fn write(&self, value: N, stat: Option<&Stat>) -> Result<bool> {
        let Some(stat) = stat else {
            return self.create(value).await;
        };
        match self
            .client
            .with_retry(NoRetry)
            .set_data(&self.path, value.encode(), Some(stat.version))
            .await
        {
            Ok(_) => Ok(true),
            Err(e) if e.is_bad_version() || e.is_no_node() => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Creates the node with `value`; `false` if it exists.
    async fn create(&self, value: N) -> Result<bool> {
        loop {
            match self
                .client
                .with_retry(NoRetry)
                .create(&self.path, value.encode(), CreateMode::Persistent)
                .await
            {
                Ok(_) => return Ok(true),
                Err(e) if e.is_node_exists() => return Ok(false),
                Err(e) if e.is_no_node() => {
                    ensure_dir(&self.client, parent_of(&self.path), true).await?
                }
                Err(e) => return Err(e.into()),
            }
        }
    }
}
