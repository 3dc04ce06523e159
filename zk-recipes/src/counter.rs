//! A shared integer (Curator's `SharedCount`: a 4-byte big-endian int).

use crate::error::{Error, Result};
use crate::node_cache::NodeCache;
use crate::nodes::{ensure_dir, parent_of};
use futures::{Stream, StreamExt};
use zk_client::{Client, CreateMode};

/// A value with the node version it was read at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Versioned<T> {
    /// The value.
    pub value: T,
    /// The node's data version when it was read (for compare-and-set).
    pub version: i32,
}

/// A counter shared by all processes, stored as Curator's `SharedCount`
/// stores it (4-byte big-endian `i32`), with versioned compare-and-set.
///
/// **Connection policy**: operations wait through suspensions (the
/// client's retries); nothing is held, so session loss changes nothing.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let zk = zk_testserver::Ensemble::builder().start().await?;
/// # let client = zk_client::Client::builder(zk.connect_string()).renew_session_on_expiry(true).connect().await?;
/// # tokio::time::timeout(std::time::Duration::from_secs(20), demo(client)).await??;
/// # Ok(()) }
/// # async fn demo(client: zk_client::Client) -> Result<(), zk_recipes::Error> {
/// use zk_recipes::SharedCounter;
/// let counter = SharedCounter::new(&client, "/app/counter", 0);
/// let n = counter.add(1).await?;
/// let current = counter.get().await?;
/// if counter.try_set(current.value * 2, current.version).await? {
///     println!("doubled from {}", current.value);
/// }
/// # let _ = n; Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct SharedCounter {
    client: Client,
    path: String,
    seed: i32,
}

/// Decodes Curator's encoding.
pub(crate) fn decode_count(path: &str, data: &[u8]) -> Result<i32> {
    let bytes: [u8; 4] = data
        .try_into()
        .map_err(|_| Error::bad_data(path, format!("{} bytes, want 4", data.len())))?;
    Ok(i32::from_be_bytes(bytes))
}

impl SharedCounter {
    /// A counter at `path`, created with `seed` when first used.
    pub fn new(client: &Client, path: impl Into<String>, seed: i32) -> SharedCounter {
        SharedCounter {
            client: client.clone(),
            path: path.into(),
            seed,
        }
    }

    /// The current value and version (the node is created with the seed if
    /// missing).
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: it only reads (and may create the node with its seed, which
    /// is idempotent).
    pub async fn get(&self) -> Result<Versioned<i32>> {
        loop {
            match self.client.get_data(&self.path).await {
                Ok((data, stat)) => {
                    return Ok(Versioned {
                        value: decode_count(&self.path, &data)?,
                        version: stat.version,
                    })
                }
                Err(e) if e.is_no_node() => self.create().await?,
                Err(e) => return Err(e.into()),
            }
        }
    }

    async fn create(&self) -> Result<()> {
        ensure_dir(&self.client, parent_of(&self.path), true).await?;
        match self
            .client
            .create(
                &self.path,
                self.seed.to_be_bytes().to_vec(),
                CreateMode::Persistent,
            )
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if e.is_node_exists() => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Sets the value unconditionally.
    ///
    /// # Cancel safety
    ///
    /// A dropped call may or may not have written the value; calling it again
    /// is harmless.
    pub async fn set(&self, value: i32) -> Result<()> {
        loop {
            match self
                .client
                .set_data(&self.path, value.to_be_bytes().to_vec(), None)
                .await
            {
                Ok(_) => return Ok(()),
                Err(e) if e.is_no_node() => self.create().await?,
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Sets the value if the node is still at `version`; `false` if someone
    /// changed it since. Fails with [`Error::OutcomeUnknown`] if the
    /// connection dropped before the reply and the repeated write found the
    /// node changed: the first write may have been the change.
    ///
    /// # Cancel safety
    ///
    /// A dropped call may or may not have applied the write, at most once (the
    /// version check makes a repeat fail).
    pub async fn try_set(&self, value: i32, version: i32) -> Result<bool> {
        match self
            .client
            .set_data(&self.path, value.to_be_bytes().to_vec(), Some(version))
            .await
        {
            Ok(_) => Ok(true),
            Err(e) if (e.is_bad_version() || e.is_no_node()) && e.after_retry() => {
                Err(Error::OutcomeUnknown {
                    path: self.path.clone(),
                })
            }
            Err(e) if e.is_bad_version() || e.is_no_node() => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Adds `delta` (compare-and-set loop) and returns the new value. Never
    /// adds twice: if a write's reply is lost and its outcome cannot be
    /// told, this fails with [`Error::OutcomeUnknown`] (the delta may or may
    /// not have been added) instead of adding again.
    ///
    /// # Cancel safety
    ///
    /// A dropped call may or may not have added `delta`, never more than once
    /// (each attempt is a compare-and-set).
    pub async fn add(&self, delta: i32) -> Result<i32> {
        loop {
            let current = self.get().await?;
            let next = current.value.wrapping_add(delta);
            if self.try_set(next, current.version).await? {
                return Ok(next);
            }
        }
    }

    /// A stream of values: the current one, then the latest value after
    /// each change (values that cannot be decoded are reported as errors).
    /// Quick successive changes may show as the last of them (see
    /// [`crate::NodeCache::changes`]).
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: a dropped call leaves no watch or task behind.
    pub async fn watch(&self) -> Result<impl Stream<Item = Result<i32>> + use<>> {
        self.get().await?;
        let cache = NodeCache::start(&self.client, self.path.clone()).await?;
        let path = self.path.clone();
        let stream = cache.changes();
        Ok(stream
            .filter_map(move |node| {
                let path = path.clone();
                async move { node.map(|n| decode_count(&path, &n.data)) }
            })
            .chain(futures::stream::once(async move {
                drop(cache);
                Err(Error::Closed)
            })))
    }
}
