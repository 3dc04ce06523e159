//! Leader latch: one participant among many is the leader, until it leaves
//! (Curator's `LeaderLatch` layout).

use crate::error::{Error, Result};
use crate::nodes::{
    basename, delete_quietly, join, remove_own_nodes, sorted_by_sequence, Protected,
};
use crate::pause::RetryPause;
use crate::policy::{sleep_until, wait_connected, writable, ConnectionPolicy};
use bytes::Bytes;
use futures::StreamExt;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::Instant;
use zk_client::{Client, ConnectionState, WatchEvent};

const LATCH_NAME: &str = "latch-";

/// One participant of a latch, as [`LeaderLatch::participants`] lists them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Participant {
    /// The participant id (its node's data).
    pub id: String,
    /// The participant's node name.
    pub node: String,
    /// Whether it is the leader (first in line).
    pub is_leader: bool,
}

/// A leader latch: every participant creates a protected ephemeral
/// sequential node `<path>/_c_<uuid>-latch-<seq>` holding its id; the lowest
/// is the leader. Non-leaders watch only the node just ahead of theirs.
///
/// Leadership is published as a [`tokio::sync::watch`] channel
/// ([`LeaderLatch::leadership`]) and is granted only when the first node is
/// ours *and* its ephemeral owner is the client's current session — a node
/// left by an earlier session (which the server may not have expired yet)
/// never counts, and is replaced. After a session loss the latch re-joins
/// with a new node (when the client renews sessions).
///
/// **Connection policy**: `Session` by default — leadership survives a
/// suspension that ends in a reconnect within a quarter of the session
/// timeout and is dropped after that; `Strict` drops it at the suspension.
/// Leadership is always dropped at session loss and regained only through
/// the normal check in the new session.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let zk = zk_testserver::Ensemble::builder().start().await?;
/// # let client = zk_client::Client::builder(zk.connect_string()).renew_session_on_expiry(true).connect().await?;
/// # tokio::time::timeout(std::time::Duration::from_secs(20), demo(client)).await??;
/// # Ok(()) }
/// # async fn demo(client: zk_client::Client) -> Result<(), zk_recipes::Error> {
/// use zk_recipes::LeaderLatch;
/// let latch = LeaderLatch::new(&client, "/app/leader", "node-1");
/// latch.start();
/// latch.await_leadership().await?;
/// let leadership = latch.leadership();
/// // Act as leader while `*leadership.borrow()` is true; a real leader
/// // would `leadership.changed().await` to learn when that ends.
/// assert!(*leadership.borrow());
/// latch.close().await?; // steps down; another participant takes over
/// assert!(!latch.is_leader());
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct LeaderLatch {
    handle: Arc<Handle>,
}

/// Shared by the clones of one latch; when the last clone goes, the latch
/// leaves the election (in the background).
struct Handle {
    inner: Arc<Inner>,
}

impl Drop for Handle {
    fn drop(&mut self) {
        // The task sees it, gives up leadership, removes our node and ends:
        // it does not outlive the handles (nor keep the session open).
        self.inner.closed.send_replace(true);
    }
}

/// Our node: its path and creation zxid (the fencing token while leader).
#[derive(Debug, Clone, PartialEq, Eq)]
struct OwnNode {
    path: String,
    czxid: i64,
}

struct Inner {
    client: Client,
    path: String,
    id: String,
    /// One protected prefix for the latch's life: every node it creates
    /// (one per session) is found by it, and a stale one is never adopted.
    protected: Protected,
    policy: Mutex<ConnectionPolicy>,
    leader: watch::Sender<bool>,
    /// Our node, while we have one.
    node: watch::Sender<Option<OwnNode>>,
    task: Mutex<Option<tokio::task::JoinHandle<()>>>,
    closed: watch::Sender<bool>,
}

impl std::fmt::Debug for LeaderLatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LeaderLatch")
            .field("path", &self.inner().path)
            .field("id", &self.inner().id)
            .field("is_leader", &self.is_leader())
            .finish()
    }
}

impl LeaderLatch {
    /// A latch on `path` for the participant `id`. Call
    /// [`LeaderLatch::start`] to join.
    pub fn new(client: &Client, path: impl Into<String>, id: impl Into<String>) -> LeaderLatch {
        let path = path.into();
        LeaderLatch {
            handle: Arc::new(Handle {
                inner: Arc::new(Inner {
                    client: client.clone(),
                    protected: Protected::new(&path, LATCH_NAME, true),
                    path,
                    id: id.into(),
                    policy: Mutex::new(ConnectionPolicy::default()),
                    leader: watch::Sender::new(false),
                    node: watch::Sender::new(None),
                    task: Mutex::new(None),
                    closed: watch::Sender::new(false),
                }),
            }),
        }
    }

    fn inner(&self) -> &Arc<Inner> {
        &self.handle.inner
    }

    /// Sets the connection-state policy (before [`LeaderLatch::start`]).
    pub fn with_policy(self, policy: ConnectionPolicy) -> LeaderLatch {
        if let Ok(mut p) = self.inner().policy.lock() {
            *p = policy;
        }
        self
    }

    /// Joins the election in the background; [`LeaderLatch::joined`] waits
    /// until this participant's node exists. Calling it again does nothing.
    ///
    /// The background task lasts until [`LeaderLatch::close`] or until the
    /// last clone of this latch is dropped; then it gives up leadership and
    /// removes this participant's node.
    pub fn start(&self) {
        let inner = self.inner();
        let Ok(mut task) = inner.task.lock() else {
            return;
        };
        if task.is_some() || *inner.closed.borrow() {
            return;
        }
        *task = Some(tokio::spawn(run(inner.clone())));
    }

    /// Waits until this participant has its node in the election (after
    /// [`LeaderLatch::start`]) and returns the node's path: from then on
    /// [`LeaderLatch::participants`] lists it. After a session loss the
    /// participant joins again with a new node; this then waits for that.
    /// Fails with [`Error::Closed`] if the latch is closed first.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: it only waits.
    pub async fn joined(&self) -> Result<String> {
        let mut node = self.inner().node.subscribe();
        let mut closed = self.inner().closed.subscribe();
        tokio::select! {
            n = node.wait_for(Option::is_some) => match n {
                Ok(n) => n.as_ref().map(|n| n.path.clone()).ok_or(Error::Closed),
                Err(_) => Err(Error::Closed),
            },
            _ = closed.wait_for(|c| *c) => Err(Error::Closed),
        }
    }

    /// Whether this participant is the leader now.
    pub fn is_leader(&self) -> bool {
        *self.inner().leader.borrow()
    }

    /// The fencing token of the current term while this participant is the
    /// leader: its node's creation zxid. Each later leader's node is created
    /// after this one, so its token is larger: a resource that remembers the
    /// largest token it has seen can refuse a leader that lost leadership
    /// without knowing.
    pub fn fencing_token(&self) -> Option<i64> {
        let node = self.inner().node.borrow().clone();
        node.filter(|_| self.is_leader()).map(|n| n.czxid)
    }

    /// The leadership as a watch channel: `true` while leader. Wrap it in
    /// `tokio_stream::wrappers::WatchStream` for a stream of changes.
    pub fn leadership(&self) -> watch::Receiver<bool> {
        self.inner().leader.subscribe()
    }

    /// Waits until this participant is the leader. Fails with
    /// [`Error::Closed`] if the latch is closed first.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: it only waits.
    pub async fn await_leadership(&self) -> Result<()> {
        let mut leader = self.leadership();
        let mut closed = self.inner().closed.subscribe();
        tokio::select! {
            r = leader.wait_for(|l| *l) => r.map(|_| ()).map_err(|_| Error::Closed),
            _ = closed.wait_for(|c| *c) => Err(Error::Closed),
        }
    }

    /// Like [`LeaderLatch::await_leadership`], returning `false` after
    /// `timeout`.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: it only waits.
    pub async fn await_leadership_timeout(&self, timeout: Duration) -> Result<bool> {
        match tokio::time::timeout(timeout, self.await_leadership()).await {
            Ok(r) => r.map(|_| true),
            Err(_) => Ok(false),
        }
    }

    /// This participant's node, while it has one.
    pub fn node_path(&self) -> Option<String> {
        self.inner().node.borrow().as_ref().map(|n| n.path.clone())
    }

    /// The participant id.
    pub fn id(&self) -> &str {
        &self.inner().id
    }

    /// Every participant, leader first.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: it only reads.
    pub async fn participants(&self) -> Result<Vec<Participant>> {
        let inner = self.inner();
        let client = &inner.client;
        let children = match client.get_children(&inner.path).await {
            Ok(c) => c,
            Err(e) if e.is_no_node() => return Ok(Vec::new()),
            Err(e) => return Err(e.into()),
        };
        let mut out = Vec::new();
        for (i, node) in sorted_by_sequence(children, LATCH_NAME)
            .into_iter()
            .enumerate()
        {
            match client.get_data(&join(&inner.path, &node)).await {
                Ok((data, _)) => out.push(Participant {
                    id: String::from_utf8_lossy(&data).into_owned(),
                    node,
                    is_leader: i == 0,
                }),
                Err(e) if e.is_no_node() => {}
                Err(e) => return Err(e.into()),
            }
        }
        if let Some(first) = out.first_mut() {
            first.is_leader = true;
        }
        Ok(out)
    }

    /// The current leader, if any.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: it only reads.
    pub async fn leader(&self) -> Result<Option<Participant>> {
        Ok(self.participants().await?.into_iter().next())
    }

    /// Leaves the election: stops the background task, gives up leadership
    /// and deletes this participant's node (in the background if the
    /// connection is down). Dropping every clone of the latch does the same
    /// in the background.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: once polled, the latch leaves the election even if the
    /// future is dropped (the background task finishes the leaving).
    pub async fn close(&self) -> Result<()> {
        let inner = self.inner();
        inner.closed.send_replace(true);
        inner.set_leader(false);
        let task = inner.task.lock().ok().and_then(|mut t| t.take());
        if let Some(task) = task {
            // The task leaves the election as it stops.
            let _ = task.await;
        }
        Ok(())
    }
}

impl Inner {
    fn set_leader(&self, leader: bool) {
        self.leader.send_if_modified(|l| {
            let changed = *l != leader;
            if changed {
                tracing::info!(path = %self.path, id = %self.id, leader, "leadership changed");
            }
            *l = leader;
            changed
        });
    }

    fn set_node(&self, node: Option<OwnNode>) {
        self.node.send_replace(node);
    }

    fn policy(&self) -> ConnectionPolicy {
        self.policy.lock().map(|p| *p).unwrap_or_default()
    }
}

/// The latch's task: takes part until closed (or until the last handle is
/// dropped), then leaves.
async fn run(inner: Arc<Inner>) {
    let mut closed = inner.closed.subscribe();
    tokio::select! {
        _ = participate(&inner) => {}
        _ = closed.wait_for(|c| *c) => {}
    }
    inner.set_leader(false);
    inner.set_node(None);
    // Our node, and any create of ours still on its way.
    remove_own_nodes(&inner.client, &inner.path, &inner.protected.prefix).await;
}

/// What stopped a wait of the election loop.
enum Step<T> {
    Done(T),
    /// The client is closed (or the latch must stop).
    Stop,
}

/// Runs `fut` while following the connection state: leadership is given up
/// when the policy says so, even while a request is stuck in the client's
/// retries.
async fn following_state<T>(
    inner: &Inner,
    states: &mut (impl futures::Stream<Item = ConnectionState> + Unpin),
    give_up_at: &mut Option<Instant>,
    fut: impl std::future::Future<Output = T>,
) -> Step<T> {
    tokio::pin!(fut);
    loop {
        tokio::select! {
            out = &mut fut => return Step::Done(out),
            s = states.next() => {
                let Some(s) = s else { return Step::Stop };
                if !on_state(inner, s, give_up_at) {
                    return Step::Stop;
                }
            }
            _ = sleep_until(*give_up_at) => {
                *give_up_at = None;
                inner.set_leader(false);
            }
        }
    }
}

async fn participate(inner: &Inner) {
    let client = inner.client.clone();
    let mut states = client.state_stream();
    // The stream opens with the current state, which the loop reads itself.
    let _ = states.next().await;
    let mut give_up_at: Option<Instant> = None;
    // Our node and the session that created it.
    let mut node: Option<(String, i64)> = None;
    let mut pause = RetryPause::new();
    loop {
        if !writable(client.state()) {
            let usable = client.wait_for_state(|s| {
                writable(s) || matches!(s, ConnectionState::Closed | ConnectionState::AuthFailed)
            });
            match following_state(inner, &mut states, &mut give_up_at, usable).await {
                Step::Done(s) if writable(s) => continue,
                _ => return,
            }
        }
        let checked =
            match following_state(inner, &mut states, &mut give_up_at, check(inner, &mut node))
                .await
            {
                Step::Done(checked) => checked,
                Step::Stop => return,
            };
        let wait = match checked {
            Ok(w) => {
                pause.reset();
                w
            }
            Err(e) if e.is_session_lost() && !client.renews_session_on_expiry() => {
                inner.set_leader(false);
                if let Err(e) = wait_connected(&client).await {
                    tracing::warn!(path = %inner.path, error = %e, "latch stops");
                    return;
                }
                continue;
            }
            Err(e) => {
                tracing::debug!(path = %inner.path, error = %e, "latch check failed; retrying");
                // Let the state stream catch up with whatever went wrong.
                if let Step::Stop =
                    following_state(inner, &mut states, &mut give_up_at, pause.wait()).await
                {
                    return;
                }
                continue;
            }
        };
        let Some(watch) = wait else { continue };
        match following_state(inner, &mut states, &mut give_up_at, watch).await {
            Step::Done(event) => {
                tracing::debug!(id = %inner.id, ?event, "latch: watch fired");
                if matches!(event, WatchEvent::Closed | WatchEvent::AuthFailed) {
                    return;
                }
            }
            Step::Stop => return,
        }
    }
}

/// Reacts to a connection state; false when the latch must stop.
fn on_state(inner: &Inner, state: ConnectionState, give_up_at: &mut Option<Instant>) -> bool {
    match state {
        ConnectionState::Suspended | ConnectionState::ReadOnly | ConnectionState::Connecting => {
            if *inner.leader.borrow() && give_up_at.is_none() {
                let grace = inner.policy().grace(inner.client.session_timeout());
                if grace.is_zero() {
                    inner.set_leader(false);
                } else {
                    *give_up_at = Some(Instant::now() + grace);
                }
            }
            true
        }
        ConnectionState::Connected | ConnectionState::Reconnected => {
            *give_up_at = None;
            true
        }
        ConnectionState::Lost => {
            *give_up_at = None;
            inner.set_leader(false);
            true
        }
        _ => false,
    }
}

/// Makes sure we have a node of the current session, decides leadership,
/// and returns the watch to wait on.
async fn check(
    inner: &Inner,
    node: &mut Option<(String, i64)>,
) -> Result<Option<zk_client::OneshotWatch>> {
    let client = &inner.client;
    let session = client.session_id();
    if let Some((path, owner)) = node.as_ref() {
        if *owner != session {
            // A node of an earlier session: it holds nothing for us (the
            // server may not have expired that session yet). Replace it.
            inner.set_leader(false);
            tracing::info!(%path, "latch node belongs to an earlier session; replacing it");
            let path = path.clone();
            *node = None;
            inner.set_node(None);
            delete_quietly(client, &path).await?;
        }
    }
    if node.is_none() {
        let (path, stat) = inner
            .protected
            .create(client, &Bytes::from(inner.id.clone().into_bytes()))
            .await?;
        inner.set_node(Some(OwnNode {
            path: path.clone(),
            czxid: stat.czxid,
        }));
        *node = Some((path, stat.ephemeral_owner));
    }
    let Some((path, owner)) = node.clone() else {
        return Ok(None);
    };
    let children = client.get_children(&inner.path).await?;
    let sorted = sorted_by_sequence(children, LATCH_NAME);
    let ours = basename(&path);
    let Some(index) = sorted.iter().position(|c| c == ours) else {
        // Our node vanished (deleted by someone, or the session ended).
        inner.set_leader(false);
        *node = None;
        inner.set_node(None);
        return Ok(None);
    };
    if index == 0 {
        if owner != client.session_id() {
            return Ok(None);
        }
        let (stat, watch) = client.exists_watch(&path).await?;
        if stat.map(|s| s.ephemeral_owner) != Some(owner) {
            return Ok(None);
        }
        inner.set_leader(true);
        Ok(Some(watch))
    } else {
        inner.set_leader(false);
        let ahead = join(&inner.path, &sorted[index - 1]);
        tracing::debug!(id = %inner.id, %ahead, "latch: waiting for the node ahead");
        match client.get_data_watch(&ahead).await {
            Ok((_, _, watch)) => Ok(Some(watch)),
            Err(e) if e.is_no_node() => Ok(None),
            Err(e) => Err(e.into()),
        }
    }
}
