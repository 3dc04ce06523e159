//! A handle on a session that does not keep the session open.

use super::{Client, Inner};
use crate::retry::RetryPolicy;
use crate::session::driver::SessionInfo;
use crate::session::ConnectionState;
use std::sync::{Arc, Weak};
use std::time::Duration;
use tokio::sync::{broadcast, watch};

/// A [`Client`] that does not keep the session open: the session still
/// closes when the last `Client` clone is dropped, whatever `WeakClient`s
/// remain.
///
/// Made with [`Client::downgrade`]. Background work that should last only
/// as long as the application holds a client (a cleanup, a re-watch, a
/// recipe's keeper task) holds a `WeakClient` and calls
/// [`WeakClient::upgrade`] for each step: `None` means the application let
/// go of the session, which closes it — and the server then removes the
/// session's ephemeral nodes by itself.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let zk = zk_testserver::Ensemble::builder().start().await?;
/// let client = zk_client::Client::connect(zk.connect_string()).await?;
/// let weak = client.downgrade();
/// assert!(weak.upgrade().is_some());
/// drop(client); // the last strong handle: the session closes
/// assert!(weak.upgrade().is_none());
/// assert_eq!(weak.state(), zk_client::ConnectionState::Closed);
/// let closed = weak.wait_for_state(|s| s.is_terminal()).await;
/// assert!(closed.is_terminal());
/// # Ok(()) }
/// ```
pub struct WeakClient {
    inner: Weak<Inner>,
    info: watch::Receiver<SessionInfo>,
    /// Only resubscribed (a receiver does not keep the channel open).
    transitions: broadcast::Receiver<ConnectionState>,
    policy: Arc<dyn RetryPolicy>,
    deadline: Option<Duration>,
}

impl Clone for WeakClient {
    fn clone(&self) -> WeakClient {
        WeakClient {
            inner: self.inner.clone(),
            info: self.info.clone(),
            transitions: self.transitions.resubscribe(),
            policy: self.policy.clone(),
            deadline: self.deadline,
        }
    }
}

impl std::fmt::Debug for WeakClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let info = *self.info.borrow();
        f.debug_struct("WeakClient")
            .field("session_id", &format_args!("{:#x}", info.session_id))
            .field("state", &info.state)
            .field("alive", &(self.inner.strong_count() > 0))
            .finish()
    }
}

impl Client {
    /// A [`WeakClient`] on this session, with this handle's retry policy and
    /// deadline.
    pub fn downgrade(&self) -> WeakClient {
        WeakClient {
            inner: Arc::downgrade(&self.inner),
            info: self.inner.info.clone(),
            transitions: self.inner.shared.transitions.subscribe(),
            policy: self.policy.clone(),
            deadline: self.deadline,
        }
    }
}

impl WeakClient {
    /// A `Client` on the session, unless every `Client` clone was dropped
    /// (then the session is closed or closing).
    pub fn upgrade(&self) -> Option<Client> {
        Some(Client {
            inner: self.inner.upgrade()?,
            policy: self.policy.clone(),
            deadline: self.deadline,
        })
    }

    /// The current session id (as [`Client::session_id`]).
    pub fn session_id(&self) -> i64 {
        self.info.borrow().session_id
    }

    /// The current connection state ([`ConnectionState::Closed`] once the
    /// session was let go of).
    pub fn state(&self) -> ConnectionState {
        if self.inner.strong_count() == 0 {
            return ConnectionState::Closed;
        }
        self.info.borrow().state
    }

    /// Waits, without keeping the session open, until the state satisfies
    /// `pred` (checked on the current state first, then on every transition
    /// in order, as [`Client::wait_for_state`]) and returns it. Returns
    /// [`ConnectionState::Closed`] once the connection task is gone.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: it only waits.
    pub async fn wait_for_state(&self, pred: impl Fn(ConnectionState) -> bool) -> ConnectionState {
        // Subscribed before the current state is read: nothing falls between.
        let transitions = self.transitions.resubscribe();
        super::state_wait::wait_for_state(transitions, self.info.clone(), pred).await
    }
}
