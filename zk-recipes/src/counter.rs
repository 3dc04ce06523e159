//! A shared integer (Curator's `SharedCount`: a 4-byte big-endian int).

use crate::error::{Error, Result};
use crate::shared_value::SharedValue;
use bytes::Bytes;
use futures::{Stream, StreamExt};
use zk_client::Client;

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
    value: SharedValue,
}

/// Decodes Curator's encoding.
pub(crate) fn decode_count(path: &str, data: &[u8]) -> Result<i32> {
    let bytes: [u8; 4] = data
        .try_into()
        .map_err(|_| Error::bad_data(path, format!("{} bytes, want 4", data.len())))?;
    Ok(i32::from_be_bytes(bytes))
}

fn encode_count(value: i32) -> Bytes {
    Bytes::copy_from_slice(&value.to_be_bytes())
}

impl SharedCounter {
    /// A counter at `path`, created with `seed` when first used.
    pub fn new(client: &Client, path: impl Into<String>, seed: i32) -> SharedCounter {
        SharedCounter {
            value: SharedValue::new(client, path, encode_count(seed)),
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
        let Versioned { value, version } = self.value.get().await?;
        Ok(Versioned {
            value: decode_count(self.value.path(), &value)?,
            version,
        })
    }

    /// Sets the value unconditionally.
    ///
    /// # Cancel safety
    ///
    /// A dropped call may or may not have written the value; calling it again
    /// is harmless.
    pub async fn set(&self, value: i32) -> Result<()> {
        self.value.set(encode_count(value)).await
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
        self.value.try_set(encode_count(value), version).await
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
        let path = self.value.path().to_string();
        let values = self.value.watch().await?;
        Ok(values.map(move |v| v.and_then(|data| decode_count(&path, &data))))
    }
}
