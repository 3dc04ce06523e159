//! Leader election that runs a task while leader (Curator's
//! `LeaderSelector`, which is a mutex on the election path).

use crate::error::LossReason;
use crate::lock::Lock;
use crate::pause::RetryPause;
use crate::policy::ConnectionPolicy;
use std::future::Future;
use std::pin::Pin;
use tokio::sync::watch;
use zk_client::Client;

/// What the leader's task gets: its fencing token and a signal of the end
/// of its term.
pub struct Leadership {
    token: i64,
    term: u64,
    lost: Pin<Box<dyn Future<Output = LossReason> + Send>>,
}

impl std::fmt::Debug for Leadership {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Leadership")
            .field("token", &self.token)
            .field("term", &self.term)
            .finish()
    }
}

impl Leadership {
    /// The fencing token of this term (the election node's czxid; larger
    /// for every later term).
    pub fn fencing_token(&self) -> i64 {
        self.token
    }

    /// How many terms this participant had, this one included.
    pub fn term(&self) -> u64 {
        self.term
    }

    /// Resolves when leadership is lost. (The task is cancelled at that
    /// point anyway; this is for work the task hands to others.)
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: it only waits.
    pub async fn lost(self) -> LossReason {
        self.lost.await
    }
}

/// Leader election that runs a task while leader.
///
/// Participants queue on a [`Lock`] at the election path (nodes
/// `_c_<uuid>-lock-<seq>`, as Curator's `LeaderSelector`). The leader runs
/// the user's task; the task future is **dropped (cancelled)** as soon as
/// leadership is lost (see [`ConnectionPolicy`]); when the task finishes by
/// itself, leadership is given up. With [`LeaderElection::auto_requeue`] the
/// participant queues again after each term, also after a session loss (when
/// the client renews sessions).
///
/// **Connection policy**: as for [`Lock`] — `Session` by default (the task
/// keeps running through a suspension that ends in a reconnect within a
/// quarter of the session timeout), `Strict` cancels it at the suspension.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let zk = zk_testserver::Ensemble::builder().start().await?;
/// # let client = zk_client::Client::builder(zk.connect_string()).renew_session_on_expiry(true).connect().await?;
/// # tokio::time::timeout(std::time::Duration::from_secs(20), demo(client)).await?;
/// # Ok(()) }
/// # async fn demo(client: zk_client::Client) {
/// use zk_recipes::LeaderElection;
/// let election = LeaderElection::new(&client, "/app/election")
///     .with_id("worker-1")
///     .auto_requeue(true)
///     .run(|leadership| async move {
///         println!("leading with token {}", leadership.fencing_token());
///         // ... lead until done or cancelled ...
///     });
/// // later
/// election.stop().await;
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct LeaderElection {
    client: Client,
    path: String,
    id: String,
    requeue: bool,
    policy: ConnectionPolicy,
}

impl LeaderElection {
    /// An election on `path`.
    pub fn new(client: &Client, path: impl Into<String>) -> LeaderElection {
        LeaderElection {
            client: client.clone(),
            path: path.into(),
            id: String::new(),
            requeue: false,
            policy: ConnectionPolicy::default(),
        }
    }

    /// This participant's id, stored in its node.
    pub fn with_id(mut self, id: impl Into<String>) -> LeaderElection {
        self.id = id.into();
        self
    }

    /// Queue again after each term (default: one term only).
    pub fn auto_requeue(mut self, requeue: bool) -> LeaderElection {
        self.requeue = requeue;
        self
    }

    /// The connection-state policy.
    pub fn with_policy(mut self, policy: ConnectionPolicy) -> LeaderElection {
        self.policy = policy;
        self
    }

    /// Joins the election; `task` is called for each term with its
    /// [`Leadership`].
    pub fn run<F, Fut>(self, mut task: F) -> ElectionHandle
    where
        F: FnMut(Leadership) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let (leader_tx, leader_rx) = watch::channel(false);
        let (terms_tx, terms_rx) = watch::channel(0u64);
        let lock = Lock::new(&self.client, self.path.clone())
            .with_data(self.id.clone().into_bytes())
            .with_policy(self.policy);
        let requeue = self.requeue;
        let client = self.client.clone();
        let join = tokio::spawn(async move {
            let mut term = 0;
            let mut pause = RetryPause::new();
            loop {
                let guard = match lock.acquire().await {
                    Ok(g) => {
                        pause.reset();
                        g
                    }
                    Err(e) if e.is_session_lost() && !client.renews_session_on_expiry() => {
                        tracing::warn!(error = %e, "election ends: session lost");
                        return;
                    }
                    Err(e) => {
                        tracing::debug!(error = %e, "election: acquire failed; retrying");
                        pause.wait().await;
                        continue;
                    }
                };
                term += 1;
                terms_tx.send_replace(term);
                leader_tx.send_replace(true);
                let leadership = Leadership {
                    token: guard.fencing_token(),
                    term,
                    lost: Box::pin(guard.lost()),
                };
                tokio::select! {
                    _ = task(leadership) => {
                        tracing::info!(term, "leader task finished; giving up leadership");
                    }
                    reason = guard.lost() => {
                        tracing::info!(term, %reason, "leadership lost; leader task cancelled");
                    }
                }
                leader_tx.send_replace(false);
                let _ = guard.release().await;
                if !requeue {
                    return;
                }
            }
        });
        ElectionHandle {
            leader: leader_rx,
            terms: terms_rx,
            join: Some(join),
        }
    }
}

/// A running participant of a [`LeaderElection`]. Dropping it stops the
/// participant (cancelling a running term).
#[derive(Debug)]
pub struct ElectionHandle {
    leader: watch::Receiver<bool>,
    terms: watch::Receiver<u64>,
    join: Option<tokio::task::JoinHandle<()>>,
}

impl ElectionHandle {
    /// Whether the task is running as leader now.
    pub fn is_leader(&self) -> bool {
        *self.leader.borrow()
    }

    /// Leadership as a watch channel (`true` during a term).
    pub fn leadership(&self) -> watch::Receiver<bool> {
        self.leader.clone()
    }

    /// How many terms began so far, as a watch channel.
    pub fn terms(&self) -> watch::Receiver<u64> {
        self.terms.clone()
    }

    /// Whether the participant finished (one term done without requeue, or
    /// the session was lost for good).
    pub fn is_finished(&self) -> bool {
        self.join.as_ref().is_none_or(|j| j.is_finished())
    }

    /// Leaves the election: cancels a running term and releases the node.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: the handle is consumed at the first poll, and dropping it
    /// stops the participant all the same (a running term is cancelled and its
    /// node removed in the background).
    pub async fn stop(mut self) {
        if let Some(join) = self.join.take() {
            join.abort();
            let _ = join.await;
        }
    }
}

impl Drop for ElectionHandle {
    fn drop(&mut self) {
        if let Some(join) = self.join.take() {
            join.abort();
        }
    }
}
