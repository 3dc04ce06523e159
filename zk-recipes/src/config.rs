//! A typed, watched configuration node (JSON via serde).

use crate::counter::Versioned;
use crate::error::{Error, Result};
use crate::node_cache::{NodeCache, NodeData};
use crate::nodes::{ensure_dir, parent_of};
use futures::{Stream, StreamExt};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::marker::PhantomData;
use zk_client::{Client, CreateMode};

/// A configuration value of type `T` kept as JSON in one node, watched for
/// changes, with versioned compare-and-set updates.
///
/// **Connection policy**: the last known value is kept while suspended and
/// re-read after reconnects and session losses (see [`NodeCache`]).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let zk = zk_testserver::Ensemble::builder().start().await?;
/// # let client = zk_client::Client::builder(zk.connect_string()).renew_session_on_expiry(true).connect().await?;
/// # tokio::time::timeout(std::time::Duration::from_secs(20), demo(client)).await??;
/// # Ok(()) }
/// # async fn demo(client: zk_client::Client) -> Result<(), zk_recipes::Error> {
/// use futures::StreamExt;
/// use zk_recipes::ConfigNode;
/// #[derive(serde::Serialize, serde::Deserialize, Clone, Debug, PartialEq)]
/// struct Limits { max_conns: u32 }
///
/// let config = ConfigNode::<Limits>::start(&client, "/app/limits").await?;
/// let mut changes = Box::pin(config.changes());
/// // A compare-and-set update: applied on top of whatever is there.
/// let new = config
///     .update(|old| Limits { max_conns: old.map_or(10, |l| l.max_conns + 1) })
///     .await?;
/// assert_eq!(new.value, Limits { max_conns: 10 });
/// // Watchers see it.
/// while let Some(value) = changes.next().await {
///     if let Some(v) = value? {
///         println!("limits now {:?} (version {})", v.value, v.version);
///         break;
///     }
/// }
/// # Ok(()) }
/// ```
pub struct ConfigNode<T> {
    client: Client,
    path: String,
    cache: NodeCache,
    _type: PhantomData<fn() -> T>,
}

impl<T> std::fmt::Debug for ConfigNode<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConfigNode")
            .field("path", &self.path)
            .finish()
    }
}

fn decode<T: DeserializeOwned>(path: &str, node: &NodeData) -> Result<Versioned<T>> {
    let value = serde_json::from_slice(&node.data).map_err(|e| Error::bad_data(path, e))?;
    Ok(Versioned {
        value,
        version: node.stat.version,
    })
}

impl<T: Serialize + DeserializeOwned + Send + 'static> ConfigNode<T> {
    /// Starts watching the node at `path` (it need not exist).
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: it only sets a watch and reads (a dropped start leaves no
    /// watch behind).
    pub async fn start(client: &Client, path: impl Into<String>) -> Result<ConfigNode<T>> {
        let path = path.into();
        let cache = NodeCache::start(client, path.clone()).await?;
        Ok(ConfigNode {
            client: client.clone(),
            path,
            cache,
            _type: PhantomData,
        })
    }

    /// The last known value (`None` if the node does not exist; an error if
    /// its data is not a `T`).
    pub fn current(&self) -> Result<Option<Versioned<T>>> {
        self.cache
            .current()
            .map(|n| decode(&self.path, &n))
            .transpose()
    }

    /// Reads the value from the server (not the cache).
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: it only reads.
    pub async fn read(&self) -> Result<Option<Versioned<T>>> {
        match self.client.get_data(&self.path).await {
            Ok((data, stat)) => Ok(Some(decode(&self.path, &NodeData { data, stat })?)),
            Err(e) if e.is_no_node() => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// The value as it changes: the current one, then the latest value
    /// after each change.
    ///
    /// **Changes are coalesced**: values written in quick succession may
    /// show as the last of them (versions only grow; the last value always
    /// arrives). ZooKeeper's notifications carry no data, so a value
    /// overwritten before it was read cannot be seen by any client; see
    /// [`NodeCache::changes`].
    pub fn changes(&self) -> impl Stream<Item = Result<Option<Versioned<T>>>> + use<T> {
        let path = self.path.clone();
        self.cache
            .changes()
            .map(move |node| node.map(|n| decode(&path, &n)).transpose())
    }

    /// Writes `value` unconditionally (creating the node if needed).
    ///
    /// # Cancel safety
    ///
    /// A dropped call may or may not have written the value (at most once);
    /// calling it again is harmless.
    pub async fn set(&self, value: &T) -> Result<i32> {
        let data = serde_json::to_vec(value).map_err(|e| Error::Encode(e.to_string()))?;
        loop {
            match self.client.set_data(&self.path, data.clone(), None).await {
                Ok(stat) => return Ok(stat.version),
                Err(e) if e.is_no_node() => match self.create(&data).await {
                    Ok(Some(v)) => return Ok(v),
                    // Created meanwhile (perhaps by us): overwrite it.
                    Ok(None) => {}
                    Err(Error::Client(e)) if e.is_node_exists() => {}
                    Err(e) => return Err(e),
                },
                Err(e) => return Err(e.into()),
            }
        }
    }

    async fn create(&self, data: &[u8]) -> Result<Option<i32>> {
        ensure_dir(&self.client, parent_of(&self.path), false).await?;
        match self
            .client
            .create(&self.path, data.to_vec(), CreateMode::Persistent)
            .await
        {
            Ok((_, stat)) => Ok(Some(stat.version)),
            // After a lost reply, the node found may be our own create.
            Err(e) if e.is_node_exists() && !e.after_retry() => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Writes `value` if the node is still at `expected` (`None`: if the
    /// node does not exist yet). Returns the new version, or `None` if
    /// someone else changed it first. Fails with [`Error::OutcomeUnknown`]
    /// if the reply was lost and the repeated write found the node changed
    /// (the first write may have been the change).
    ///
    /// # Cancel safety
    ///
    /// A dropped call may or may not have applied the write, at most once (a
    /// later compare-and-set with the old version fails if it did); read the
    /// node to know.
    pub async fn compare_and_set(&self, value: &T, expected: Option<i32>) -> Result<Option<i32>> {
        let data = serde_json::to_vec(value).map_err(|e| Error::Encode(e.to_string()))?;
        let unknown = || Error::OutcomeUnknown {
            path: self.path.clone(),
        };
        match expected {
            None => match self.create(&data).await {
                Err(Error::Client(e)) if e.after_retry() => Err(unknown()),
                other => other,
            },
            Some(version) => match self.client.set_data(&self.path, data, Some(version)).await {
                Ok(stat) => Ok(Some(stat.version)),
                Err(e) if (e.is_bad_version() || e.is_no_node()) && e.after_retry() => {
                    Err(unknown())
                }
                Err(e) if e.is_bad_version() || e.is_no_node() => Ok(None),
                Err(e) => Err(e.into()),
            },
        }
    }

    /// Read-modify-write with compare-and-set, retried until it applies.
    /// `f` gets the current value (`None` if unset) and returns the new one.
    /// Never applies twice: if a write's reply is lost and its outcome
    /// cannot be told, this fails with [`Error::OutcomeUnknown`].
    ///
    /// # Cancel safety
    ///
    /// A dropped call may or may not have applied one update, never more than
    /// one (each attempt is a compare-and-set).
    pub async fn update(&self, mut f: impl FnMut(Option<T>) -> T) -> Result<Versioned<T>>
    where
        T: Clone,
    {
        loop {
            let current = self.read().await?;
            let expected = current.as_ref().map(|c| c.version);
            let next = f(current.map(|c| c.value));
            if let Some(version) = self.compare_and_set(&next, expected).await? {
                return Ok(Versioned {
                    value: next,
                    version,
                });
            }
        }
    }
}
