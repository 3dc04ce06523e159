//! kazoo's `SetPartitioner`: a set of work items divided among the
//! members of a group, each item owned by one member at a time.

use crate::error::{Error, Result};
use crate::kazoo_lock::{KazooLock, KazooLockGuard};
use crate::nodes::{ensure_dir, join};
use crate::policy::wait_connected;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{watch, Notify};
use zk_client::retry::NoRetry;
use zk_client::{Client, ConnectionState, CreateMode};

/// Where a [`SetPartitioner`] is (kazoo's `PartitionState`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PartitionState {
    /// Waiting for the group to settle and taking the locks of its items.
    Allocating,
    /// This member owns its items ([`SetPartitioner::partition`]) until the
    /// state changes.
    Acquired,
    /// The group changed: finish the work on the items, then call
    /// [`SetPartitioner::release_set`] to take part in the new division.
    Release,
    /// The partitioner ended (the session was lost, or
    /// [`SetPartitioner::finish`] was called); make a new one to take part
    /// again.
    Failure,
}

/// Divides a set of items among the members of a group, kazoo's way (same
/// layout, so kazoo and Rust members share the work): members join
/// `<path>/party` as ephemeral `<uuid hex>-<identifier>` nodes; once the
/// membership has been stable for the time boundary, member *i* of the
/// sorted identifiers takes the sorted items *i*, *i + n*, *i + 2n*, … and
/// locks each at `<path>/locks/<item>` (kazoo's lock layout). When the
/// membership changes, owners get [`PartitionState::Release`], finish, and
/// call [`SetPartitioner::release_set`]; the division is then made again.
///
/// Items are owned exclusively while [`PartitionState::Acquired`]: an item's
/// lock is only taken by the member the division gives it to, and a
/// member that lost its session loses its locks with it (and the
/// partitioner fails, as kazoo's does).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let zk = zk_testserver::Ensemble::builder().start().await?;
/// # let client = zk_client::Client::connect(zk.connect_string()).await?;
/// use std::time::Duration;
/// use zk_recipes::SetPartitioner;
/// let items: Vec<String> = (0..6).map(|i| format!("shard-{i}")).collect();
/// let me = SetPartitioner::start(&client, "/work", items, "worker-1")?
///     .with_time_boundary(Duration::from_millis(100));
/// let mine = me.wait_for_acquire().await?;
/// assert_eq!(mine.len(), 6); // alone in the group
/// me.finish().await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct SetPartitioner {
    inner: Arc<Inner>,
}

struct Inner {
    client: Client,
    path: String,
    identifier: String,
    items: Vec<String>,
    time_boundary: Mutex<Duration>,
    max_reaction_time: Duration,
    state: watch::Sender<PartitionState>,
    partition: Mutex<Vec<String>>,
    release: Notify,
    task: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl std::fmt::Debug for SetPartitioner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SetPartitioner")
            .field("path", &self.inner.path)
            .field("identifier", &self.inner.identifier)
            .field("state", &*self.inner.state.borrow())
            .finish()
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Ok(mut t) = self.task.lock() {
            if let Some(t) = t.take() {
                t.abort();
            }
        }
    }
}

impl SetPartitioner {
    /// Joins the group at `path` as `identifier` (unique per member) to
    /// share `items`, and starts dividing in the background. The time
    /// boundary (how long the membership must stay unchanged before a
    /// division) is kazoo's default, 30 s.
    pub fn start(
        client: &Client,
        path: impl Into<String>,
        items: Vec<String>,
        identifier: impl Into<String>,
    ) -> Result<SetPartitioner> {
        let identifier = identifier.into();
        if identifier.is_empty() || identifier.contains('/') {
            return Err(Error::InvalidArgument(format!(
                "bad identifier {identifier:?}"
            )));
        }
        let inner = Arc::new(Inner {
            client: client.clone(),
            path: path.into(),
            identifier,
            items,
            time_boundary: Mutex::new(Duration::from_secs(30)),
            max_reaction_time: Duration::from_secs(1),
            state: watch::Sender::new(PartitionState::Allocating),
            partition: Mutex::new(Vec::new()),
            release: Notify::new(),
            task: Mutex::new(None),
        });
        let task = tokio::spawn(run(Arc::downgrade(&inner)));
        if let Ok(mut t) = inner.task.lock() {
            *t = Some(task);
        }
        Ok(SetPartitioner { inner })
    }

    /// Sets the time boundary (kazoo's `time_boundary`).
    pub fn with_time_boundary(self, boundary: Duration) -> SetPartitioner {
        if let Ok(mut b) = self.inner.time_boundary.lock() {
            *b = boundary;
        }
        self
    }

    /// The state, as a watch channel.
    pub fn state(&self) -> watch::Receiver<PartitionState> {
        self.inner.state.subscribe()
    }

    /// The items this member owns (empty unless
    /// [`PartitionState::Acquired`] or [`PartitionState::Release`]).
    pub fn partition(&self) -> Vec<String> {
        self.inner
            .partition
            .lock()
            .map(|p| p.clone())
            .unwrap_or_default()
    }

    /// Waits until this member owns its items and returns them.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: it only waits.
    pub async fn wait_for_acquire(&self) -> Result<Vec<String>> {
        let mut state = self.state();
        let now = *state
            .wait_for(|s| matches!(s, PartitionState::Acquired | PartitionState::Failure))
            .await
            .map_err(|_| Error::Closed)?;
        match now {
            PartitionState::Acquired => Ok(self.partition()),
            _ => Err(Error::Closed),
        }
    }

    /// After [`PartitionState::Release`]: gives the items up and takes part
    /// in the next division.
    ///
    /// # Cancel safety
    ///
    /// The release is requested on the first poll; dropping the future after
    /// that only stops the wait.
    pub async fn release_set(&self) -> Result<()> {
        self.inner.release.notify_one();
        let mut state = self.state();
        state
            .wait_for(|s| *s != PartitionState::Release)
            .await
            .map_err(|_| Error::Closed)?;
        Ok(())
    }

    /// Leaves the group and gives the items up.
    ///
    /// # Cancel safety
    ///
    /// From its first poll the member has left (its task is stopped). Dropped
    /// before its party node is deleted, that node stays until the session
    /// ends, and the others re-divide only then.
    pub async fn finish(&self) -> Result<()> {
        if let Ok(mut t) = self.inner.task.lock() {
            if let Some(t) = t.take() {
                t.abort();
            }
        }
        self.inner.fail();
        // The party node and the locks are ephemeral nodes of this session
        // and go with their handles (dropped with the task); delete the
        // party node now so others re-divide at once.
        let party = join(&self.inner.path, "party");
        let prefix = format!("-{}", self.inner.identifier);
        if let Ok(children) = self.inner.client.get_children(&party).await {
            for c in children.into_iter().filter(|c| c.ends_with(&prefix)) {
                let path = join(&party, &c);
                if let Ok(Some(stat)) = self.inner.client.exists(&path).await {
                    if stat.ephemeral_owner == self.inner.client.session_id() {
                        let _ = self.inner.client.delete(&path, None).await;
                    }
                }
            }
        }
        Ok(())
    }
}

impl Inner {
    fn set(&self, state: PartitionState) {
        self.state.send_replace(state);
    }

    fn fail(&self) {
        if let Ok(mut p) = self.partition.lock() {
            p.clear();
        }
        self.set(PartitionState::Failure);
    }
}

/// kazoo's default division: the sorted items, every n-th from our place
/// among the sorted members.
fn share(identifier: &str, mut members: Vec<String>, items: &[String]) -> Vec<String> {
    members.sort();
    let Some(i) = members.iter().position(|m| m == identifier) else {
        return Vec::new();
    };
    let mut items = items.to_vec();
    items.sort();
    items.into_iter().skip(i).step_by(members.len()).collect()
}

/// The partitioner's life: join, then divide, own, release, divide…
async fn run(weak: std::sync::Weak<Inner>) {
    let Some(inner) = weak.upgrade() else { return };
    let client = inner.client.clone();
    let session = client.session_id();
    let party = join(&inner.path, "party");
    let joined = join_party(&inner, &party).await;
    drop(inner);
    if let Err(e) = joined {
        tracing::warn!(error = %e, "set partitioner: could not join");
        if let Some(inner) = weak.upgrade() {
            inner.fail();
        }
        return;
    }
    let mut states = client.state_stream();
    let lost = async move {
        use futures::StreamExt;
        while let Some(s) = states.next().await {
            if s == ConnectionState::Lost || s.is_terminal() {
                return;
            }
        }
    };
    tokio::select! {
        _ = lost => {}
        _ = divide_forever(weak.clone(), client.clone(), party) => {}
    }
    if let Some(inner) = weak.upgrade() {
        tracing::info!(
            session = format_args!("{session:#x}"),
            "set partitioner: session lost"
        );
        inner.fail();
    }
}

async fn join_party(inner: &Inner, party: &str) -> Result<()> {
    ensure_dir(&inner.client, &join(&inner.path, "locks"), false).await?;
    ensure_dir(&inner.client, party, false).await?;
    let node = join(
        party,
        &format!("{}-{}", uuid::Uuid::new_v4().simple(), inner.identifier),
    );
    match inner
        .client
        .create(&node, inner.identifier.clone(), CreateMode::Ephemeral)
        .await
    {
        Ok(_) => Ok(()),
        Err(e) if e.is_node_exists() => Ok(()),
        Err(e) => Err(e.into()),
    }
}

async fn divide_forever(weak: std::sync::Weak<Inner>, client: Client, party: String) {
    loop {
        let Some(inner) = weak.upgrade() else { return };
        inner.set(PartitionState::Allocating);
        let boundary = inner.time_boundary.lock().map(|b| *b).unwrap_or_default();
        drop(inner);
        let Ok((members, changed)) = stable_members(&client, &party, boundary).await else {
            return;
        };
        let Some(inner) = weak.upgrade() else { return };
        let mine = share(&inner.identifier, members, &inner.items);
        let mut locks: Vec<KazooLockGuard> = Vec::new();
        let mut changed = Box::pin(changed);
        let mut aborted = false;
        'items: for item in &mine {
            let lock = KazooLock::new(&client, &join(&join(&inner.path, "locks"), item), "");
            loop {
                tokio::select! {
                    got = lock.acquire(Some(inner.max_reaction_time)) => match got {
                        Ok(Some(guard)) => { locks.push(guard); break; }
                        Ok(None) => {}
                        Err(_) => return,
                    },
                    _ = &mut changed => { aborted = true; break 'items; }
                }
            }
        }
        if aborted {
            for l in locks {
                let _ = l.release().await;
            }
            continue;
        }
        if let Ok(mut p) = inner.partition.lock() {
            p.clone_from(&mine);
        }
        inner.set(PartitionState::Acquired);
        drop(inner);
        // Own the items until the group changes, then until released.
        let _ = (&mut changed).await;
        let Some(inner) = weak.upgrade() else { return };
        inner.set(PartitionState::Release);
        inner.release.notified().await;
        if let Ok(mut p) = inner.partition.lock() {
            p.clear();
        }
        drop(inner);
        for l in locks {
            let _ = l.release().await;
        }
    }
}

/// kazoo's `PatientChildrenWatch`: the party's identifiers once they have
/// not changed for `boundary`, and a future that completes on the next
/// change.
async fn stable_members(
    client: &Client,
    party: &str,
    boundary: Duration,
) -> Result<(Vec<String>, impl std::future::Future<Output = ()> + use<>)> {
    loop {
        let (children, watch) = loop {
            match client.with_retry(NoRetry).get_children_watch(party).await {
                Ok(found) => break found,
                Err(e) if e.is_connection_loss() => {
                    wait_connected(client).await?;
                }
                Err(e) => return Err(e.into()),
            }
        };
        let mut watch = Box::pin(watch);
        if tokio::time::timeout(boundary, &mut watch).await.is_ok() {
            continue; // changed within the boundary: wait again
        }
        let members = children
            .iter()
            .filter_map(|c| c.split_once('-').map(|(_, id)| id.to_string()))
            .collect();
        return Ok((members, async move {
            let _ = watch.await;
        }));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kazoo_division() {
        let items: Vec<String> = ["d", "a", "c", "b", "e"].map(String::from).to_vec();
        let members: Vec<String> = ["w2", "w1"].map(String::from).to_vec();
        assert_eq!(share("w1", members.clone(), &items), ["a", "c", "e"]);
        assert_eq!(share("w2", members.clone(), &items), ["b", "d"]);
        assert!(share("w3", members, &items).is_empty());
    }
}
