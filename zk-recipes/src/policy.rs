//! What a connection-state change means for something a recipe holds.
//!
//! A ZooKeeper client that stops hearing from its server cannot know whether
//! its session is still alive: the server expires it after the session
//! timeout *as the server counts it*, and deletes its ephemeral nodes — at
//! which point a rival may acquire the lock or win the election. A holder has
//! to give up before that can happen. [`ConnectionPolicy`] says when.

use crate::error::{Error, LossReason, Result};
use futures::future::{Fuse, FusedFuture};
use futures::{FutureExt, StreamExt};
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::Instant;
use zk_client::{Client, ConnectionState, EventType, WatchEvent};

/// When a recipe gives up a lock, lease or leadership because the
/// connection is in doubt.
///
/// In both policies the hold ends at once when the session is lost, when the
/// client starts a new session, when the client is closed, or when the node
/// representing the hold is deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ConnectionPolicy {
    /// [`ConnectionState::Suspended`] ends the hold at once (Curator's
    /// "standard" error policy). The safest choice: the client suspends after
    /// two thirds of the session timeout without a word from the server,
    /// a third of the timeout before the server can expire the session.
    Strict,
    /// Keep the hold while suspended as long as the session is certainly
    /// still alive, and give up a quarter of the session timeout after the
    /// suspension if the client has not reconnected by then. The client
    /// suspends at the latest two thirds of the session timeout after it last
    /// heard from the server, so this gives up at the latest eleven twelfths
    /// of the timeout after the server last heard from the client: before the
    /// server can expire the session. A connection that is merely moved to
    /// another server, or dropped and re-established quickly, does not end
    /// the hold.
    #[default]
    Session,
}

impl ConnectionPolicy {
    /// How long a hold survives a suspension under this policy, for a
    /// session timeout `timeout`.
    pub fn grace(self, timeout: Duration) -> Duration {
        match self {
            ConnectionPolicy::Strict => Duration::ZERO,
            ConnectionPolicy::Session => timeout / 4,
        }
    }
}

/// Whether the client is usable for writes.
pub(crate) fn writable(state: ConnectionState) -> bool {
    matches!(
        state,
        ConnectionState::Connected | ConnectionState::Reconnected
    )
}

/// Waits until the client is connected to a read-write server and returns
/// the session id. A lost session is waited out if the client renews
/// sessions by itself; otherwise, and when the client is closed, this fails
/// with [`Error::SessionLost`].
pub(crate) async fn wait_connected(client: &Client) -> Result<i64> {
    loop {
        let state = client
            .wait_for_state(|s| writable(s) || s.is_terminal())
            .await;
        if writable(state) {
            return Ok(client.session_id());
        }
        match state {
            ConnectionState::Lost if client.renews_session_on_expiry() => {
                client.wait_for_state(|s| s != ConnectionState::Lost).await;
            }
            ConnectionState::Lost => return Err(Error::SessionLost(LossReason::SessionExpired)),
            _ => return Err(Error::SessionLost(LossReason::ClientClosed)),
        }
    }
}

/// Sleeps until `at`, or forever for `None`.
pub(crate) async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Watches one held node (a lock node, a lease, a latch node) of session
/// `session_id` and publishes the reason once the hold is lost.
///
/// The returned task ends when the hold is lost or the receiver side is
/// dropped by everyone (see [`HoldMonitor`]).
pub(crate) struct HoldMonitor {
    rx: watch::Receiver<Option<LossReason>>,
    /// `None` once stopped or handed over by [`HoldMonitor::detach`].
    task: Option<tokio::task::JoinHandle<()>>,
}

impl HoldMonitor {
    /// Starts monitoring `path` (client path), held by session `session_id`.
    pub(crate) fn start(
        client: &Client,
        path: &str,
        session_id: i64,
        policy: ConnectionPolicy,
    ) -> HoldMonitor {
        let (tx, rx) = watch::channel(None);
        let task = tokio::spawn(monitor(
            client.clone(),
            path.to_string(),
            session_id,
            policy,
            tx,
        ));
        HoldMonitor {
            rx,
            task: Some(task),
        }
    }

    /// Stops the monitor and returns once it has stopped. Any request the
    /// monitor made is queued on the session by then, so what the caller
    /// sends next reaches the server after it: a release's delete must not
    /// overtake the monitor's exists watch, which would otherwise stay
    /// registered on the deleted path, on the server, until the session
    /// ends (one per hold).
    pub(crate) async fn stop(&mut self) {
        if let Some(task) = self.detach() {
            let _ = task.await;
        }
    }

    /// Aborts the monitor and hands over its task, for a background release
    /// to await first (see [`HoldMonitor::stop`]).
    pub(crate) fn detach(&mut self) -> Option<tokio::task::JoinHandle<()>> {
        let task = self.task.take()?;
        task.abort();
        Some(task)
    }

    /// A receiver of the loss reason (`None` while held).
    pub(crate) fn receiver(&self) -> watch::Receiver<Option<LossReason>> {
        self.rx.clone()
    }

    /// The reason, if the hold is lost.
    pub(crate) fn lost_reason(&self) -> Option<LossReason> {
        *self.rx.borrow()
    }
}

impl Drop for HoldMonitor {
    fn drop(&mut self) {
        self.detach();
    }
}

/// Resolves with the loss reason once one is published.
pub(crate) async fn lost(mut rx: watch::Receiver<Option<LossReason>>) -> LossReason {
    let verdict = match rx.wait_for(Option::is_some).await {
        Ok(reason) => Some(reason.unwrap_or(LossReason::ClientClosed)),
        Err(_) => None,
    };
    match verdict {
        Some(reason) => reason,
        // The monitor is gone without a verdict: the hold was released.
        None => std::future::pending().await,
    }
}

async fn monitor(
    client: Client,
    path: String,
    session_id: i64,
    policy: ConnectionPolicy,
    tx: watch::Sender<Option<LossReason>>,
) {
    let reason = watch_hold(&client, &path, session_id, policy).await;
    tracing::info!(%path, %reason, "hold lost");
    tx.send_replace(Some(reason));
}

async fn watch_hold(
    client: &Client,
    path: &str,
    session_id: i64,
    policy: ConnectionPolicy,
) -> LossReason {
    let mut states = client.state_stream();
    let mut give_up_at: Option<Instant> = None;
    let mut node_watch = None;
    // The exists watch in flight, if any. It is polled beside the state
    // stream and the grace timer, never awaited alone: a request stuck in
    // the client's retries must not keep the timer from being armed.
    let mut request = std::pin::pin!(Fuse::terminated());
    loop {
        if client.session_id() != session_id {
            return LossReason::SessionExpired;
        }
        if node_watch.is_none() && request.is_terminated() && writable(client.state()) {
            request.set(client.exists_watch(path).fuse());
        }
        let watch_fut = async {
            match node_watch.as_mut() {
                Some(w) => w.await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            result = &mut request, if !request.is_terminated() => match result {
                Ok((Some(stat), w)) if stat.ephemeral_owner == session_id => {
                    node_watch = Some(w);
                }
                // The node is gone: because the session is (a reply in the
                // new session of a client that renews sessions), or deleted.
                Ok(_) if client.session_id() != session_id => return LossReason::SessionExpired,
                Ok(_) => return LossReason::NodeDeleted,
                Err(e) if e.is_session_expired() => return LossReason::SessionExpired,
                Err(e) if e.is_closed() => return LossReason::ClientClosed,
                // Connection trouble: the state stream tells what follows.
                Err(_) => {}
            },
            state = states.next() => {
                let Some(state) = state else { return LossReason::ClientClosed };
                match state {
                    ConnectionState::Suspended | ConnectionState::ReadOnly | ConnectionState::Connecting => {
                        if give_up_at.is_none() {
                            let grace = policy.grace(client.session_timeout());
                            if grace.is_zero() {
                                return LossReason::Suspended;
                            }
                            give_up_at = Some(Instant::now() + grace);
                        }
                    }
                    ConnectionState::Connected | ConnectionState::Reconnected => {
                        if client.session_id() != session_id {
                            return LossReason::SessionExpired;
                        }
                        give_up_at = None;
                    }
                    ConnectionState::Lost => return LossReason::SessionExpired,
                    _ => return LossReason::ClientClosed,
                }
            }
            event = watch_fut => {
                node_watch = None;
                match event {
                    // Deleted by someone, or by the server expiring our
                    // session (the event can arrive before the expiry is
                    // known here): the next pass looks again, and a
                    // missing node then counts as deleted only if the
                    // session is still ours.
                    WatchEvent::Node(e) if e.event_type == EventType::NodeDeleted => {}
                    WatchEvent::Expired => return LossReason::SessionExpired,
                    WatchEvent::Closed | WatchEvent::AuthFailed => return LossReason::ClientClosed,
                    // A data change or a re-registration: watch again.
                    _ => {}
                }
            }
            _ = sleep_until(give_up_at) => return LossReason::Suspended,
        }
    }
}
