//! A shared value of arbitrary bytes (Curator's `SharedValue`).

use crate::counter::Versioned;
use crate::error::{Error, Result};
use crate::node_cache::NodeCache;
use crate::nodes::{ensure_dir, parent_of};
use bytes::Bytes;
use futures::{Stream, StreamExt};
use zk_client::{Client, CreateMode};

/// A value of arbitrary bytes shared by all processes, stored as Curator's
/// `SharedValue` stores it: the node's data as it is, created with a seed
/// when first used (its missing parents as containers), with versioned
/// compare-and-set. [`crate::SharedCounter`] is this with Curator's
/// 4-byte integer encoding.
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
/// use zk_recipes::SharedValue;
/// let mode = SharedValue::new(&client, "/app/mode", "normal");
/// let current = mode.get().await?;
/// if !mode.try_set("maintenance", current.version).await? {
///     println!("someone else changed the mode first");
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct SharedValue {
    client: Client,
    path: String,
    seed: Bytes,
}

impl SharedValue {
    /// A value at `path`, created with `seed` when first used.
    pub fn new(client: &Client, path: impl Into<String>, seed: impl Into<Bytes>) -> SharedValue {
        SharedValue {
            client: client.clone(),
            path: path.into(),
            seed: seed.into(),
        }
    }

    /// The node's path.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The current value and version (the node is created with the seed if
    /// missing).
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: it only reads (and may create the node with its seed,
    /// which is idempotent).
    pub async fn get(&self) -> Result<Versioned<Bytes>> {
        loop {
            match self.client.get_data(&self.path).await {
                Ok((value, stat)) => {
                    return Ok(Versioned {
                        value,
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
            .create(&self.path, self.seed.clone(), CreateMode::Persistent)
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
    /// A dropped call may or may not have written the value; calling it
    /// again is harmless.
    pub async fn set(&self, value: impl Into<Bytes>) -> Result<()> {
        let value = value.into();
        loop {
            match self.client.set_data(&self.path, value.clone(), None).await {
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
    /// A dropped call may or may not have applied the write, at most once
    /// (the version check makes a repeat fail).
    pub async fn try_set(&self, value: impl Into<Bytes>, version: i32) -> Result<bool> {
        match self
            .client
            .set_data(&self.path, value.into(), Some(version))
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

    /// A stream of values: the current one, then the latest value after
    /// each change. Quick successive changes may show as the last of them
    /// (see [`crate::NodeCache::changes`]). It ends with [`Error::Closed`]
    /// if the cache behind it stops.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: a dropped call leaves no watch or task behind.
    pub async fn watch(&self) -> Result<impl Stream<Item = Result<Bytes>> + use<>> {
        self.get().await?;
        let cache = NodeCache::start(&self.client, self.path.clone()).await?;
        let stream = cache.changes();
        Ok(stream
            .filter_map(|node| async move { node.map(|n| Ok(n.data)) })
            .chain(futures::stream::once(async move {
                drop(cache);
                Err(Error::Closed)
            })))
    }
}
