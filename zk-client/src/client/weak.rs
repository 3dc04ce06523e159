//! A handle on a session that does not keep the session open.

use super::{Client, Inner};
use crate::retry::RetryPolicy;
use crate::session::driver::SessionInfo;
use crate::session::ConnectionState;
use std::sync::{Arc, Weak};
use std::time::Duration;
use tokio::sync::watch;

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
#[derive(Clone)]
pub struct WeakClient {
    inner: Weak<Inner>,
    info: watch::Receiver<SessionInfo>,
    policy: Arc<dyn RetryPolicy>,
    deadline: Option<Duration>,
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
    /// `pred` (checked on the current state first) and returns it. Returns
    /// [`ConnectionState::Closed`] once the connection task is gone.
    pub async fn wait_for_state(&self, pred: impl Fn(ConnectionState) -> bool) -> ConnectionState {
        let mut info = self.info.clone();
        let result = info.wait_for(|i| pred(i.state)).await;
        match result {
            Ok(i) => i.state,
            Err(_) => ConnectionState::Closed,
        }
    }
}
