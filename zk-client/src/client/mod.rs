//! The [`Client`] handle: cheap to clone, talking over a channel to the one
//! task that owns the session's connection.

mod builder;
mod chroot;
mod nodes;
mod reconfig;
mod state_wait;
mod tree;
mod watches;
mod weak;

pub use builder::ClientBuilder;
pub use reconfig::{EnsembleFollower, Reconfig};
pub use weak::WeakClient;

use crate::connect_string::Chroot;
use crate::error::{Error, Result};
use crate::proto::{AuthPacket, Request, Response};
use crate::retry::{idempotence, Idempotence, RetryPolicy};
use crate::session::driver::{Command, ReplySender, SessionInfo, Shared, WatchSender};
use crate::session::{ConnectionState, Reply, WatchRequest};
use crate::watch::{WatchKind, WatcherId};
use bytes::Bytes;
use futures::Stream;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

/// A ZooKeeper client: one session, shared by every clone of the handle.
///
/// Cloning is cheap (an `Arc`); all clones share the session, its watches
/// and its connection, and requests from all of them are pipelined on one
/// socket. The session is closed when [`Client::close`] is called or the
/// last clone is dropped.
///
/// Calls retry connection losses according to the client's
/// [`RetryPolicy`] when the request is safe to repeat
/// (see [`crate::retry`]), and can be bounded with
/// [`Client::with_deadline`].
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
    policy: Arc<dyn RetryPolicy>,
    deadline: Option<Duration>,
}

struct Inner {
    commands: mpsc::Sender<Command>,
    closes: mpsc::Sender<ReplySender>,
    unwatch: mpsc::UnboundedSender<WatcherId>,
    /// Capacity of each persistent watch's event queue.
    watch_buffer: usize,
    shared: Arc<Shared>,
    info: watch::Receiver<SessionInfo>,
    chroot: Chroot,
    chroot_state: chroot::ChrootState,
    next_watcher: AtomicU64,
    renew_session_on_expiry: bool,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let info = *self.inner.info.borrow();
        f.debug_struct("Client")
            .field("session_id", &format_args!("{:#x}", info.session_id))
            .field("state", &info.state)
            .field("chroot", &self.inner.chroot.prefix())
            .finish()
    }
}

impl Client {
    /// Starts building a client for `connect_string`
    /// (`host:port[,host:port...][/chroot]`).
    pub fn builder(connect_string: impl Into<String>) -> ClientBuilder {
        ClientBuilder::new(connect_string)
    }

    /// Connects with default settings.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe, as [`ClientBuilder::connect`]: dropped before it returns,
    /// nothing is left open.
    pub async fn connect(connect_string: impl Into<String>) -> Result<Client> {
        ClientBuilder::new(connect_string).connect().await
    }

    /// A handle on the same session whose calls give up after `deadline`
    /// (retries included) with a [`crate::ErrorKind::Timeout`] error.
    pub fn with_deadline(&self, deadline: Duration) -> Client {
        Client {
            deadline: Some(deadline),
            ..self.clone()
        }
    }

    /// A handle on the same session that retries with `policy`.
    pub fn with_retry(&self, policy: impl RetryPolicy + 'static) -> Client {
        Client {
            policy: Arc::new(policy),
            ..self.clone()
        }
    }

    /// The current session id (0 before the first handshake).
    pub fn session_id(&self) -> i64 {
        self.inner.info.borrow().session_id
    }

    /// The current session's password (together with the id, enough to
    /// reattach to the session from another client).
    pub fn session_password(&self) -> Bytes {
        self.inner
            .shared
            .password
            .lock()
            .map(|p| p.clone())
            .unwrap_or_default()
    }

    /// The session timeout the server granted.
    pub fn session_timeout(&self) -> Duration {
        self.inner.info.borrow().timeout
    }

    /// The address of the server the session is connected to, if connected.
    pub fn connected_server(&self) -> Option<std::net::SocketAddr> {
        self.inner.info.borrow().server
    }

    /// Whether the client starts a fresh session by itself after the session
    /// is lost (see [`ClientBuilder::renew_session_on_expiry`]).
    pub fn renews_session_on_expiry(&self) -> bool {
        self.inner.renew_session_on_expiry
    }

    /// The current connection state.
    pub fn state(&self) -> ConnectionState {
        self.inner.info.borrow().state
    }

    /// The highest zxid this client has seen; it covers at least every reply
    /// already returned to a caller.
    pub fn last_zxid(&self) -> i64 {
        self.inner.shared.last_zxid.load(Ordering::Relaxed)
    }

    /// Requests the connection task holds: sent and awaiting a reply, or
    /// waiting for a connection (bounded by
    /// [`ClientBuilder::max_pending_requests`]; a `close` lets through what
    /// was already queued before it). A request whose call was dropped
    /// stays until its reply arrives or the connection drops.
    /// Updated on each turn of the task, so for metrics and tests.
    pub fn pending_requests(&self) -> usize {
        self.inner.shared.pending.load(Ordering::Relaxed)
    }

    /// Watchers registered on this session: one-shot watches not yet fired
    /// and persistent watches, across all clones. Updated on each turn of
    /// the connection task, so for metrics and tests.
    pub fn watcher_count(&self) -> usize {
        self.inner.shared.watchers.load(Ordering::Relaxed)
    }

    /// The chroot prefix, if the connect string had one.
    pub fn chroot(&self) -> Option<&str> {
        self.inner.chroot.prefix()
    }

    /// The connection's state transitions, starting with the current state.
    /// A subscriber that falls far behind skips to the current state.
    pub fn state_stream(&self) -> impl Stream<Item = ConnectionState> + Send + Unpin + 'static {
        let rx = self.inner.shared.transitions.subscribe();
        let current = self.state();
        let info = self.inner.info.clone();
        let tail = futures::stream::unfold((rx, info), |(mut rx, info)| async move {
            let state = match rx.recv().await {
                Ok(state) => state,
                // Fell behind: skip to the present.
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => info.borrow().state,
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return None,
            };
            Some((state, (rx, info)))
        });
        Box::pin(futures::StreamExt::chain(
            futures::stream::iter([current]),
            tail,
        ))
    }

    /// Waits until the state satisfies `pred` (checked on the current state
    /// first, then on every transition in order, so a passing state such as
    /// `Lost` before a renewed session is not missed) and returns it.
    /// Returns `Closed` once the client is closed.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: it only waits.
    pub async fn wait_for_state(&self, pred: impl Fn(ConnectionState) -> bool) -> ConnectionState {
        // Subscribed before the current state is read: nothing falls between.
        let transitions = self.inner.shared.transitions.subscribe();
        state_wait::wait_for_state(transitions, self.inner.info.clone(), pred).await
    }

    /// Adds credentials to the session (`digest` with `user:password`, ...).
    /// They are re-sent after every reconnect. Credentials are never logged.
    ///
    /// # Cancel safety
    ///
    /// Dropped while it waits for room in the request queue, nothing is added.
    /// Once handed to the connection task (the first poll, unless the queue is
    /// full) the credentials are added anyway and re-sent after every
    /// reconnect; only the server's answer is lost (a refusal still ends the
    /// session with `AuthFailed`).
    pub async fn add_auth(&self, scheme: &str, auth: impl Into<Bytes>) -> Result<()> {
        let (reply, rx) = ReplySender::new();
        let packet = AuthPacket {
            auth_type: 0,
            scheme: scheme.to_string(),
            auth: auth.into(),
        };
        self.send_command(Command::AddAuth { packet, reply })
            .await?;
        let fut = async { rx.await.unwrap_or_else(|_| Err(Error::closed())) };
        self.bounded(fut).await.map(|_| ())
    }

    /// Closes the session: the server deletes its ephemerals and watches
    /// end with [`crate::WatchEvent::Closed`]. Requests still in flight are
    /// answered first. Other clones of this handle stop working.
    ///
    /// If no server is connected, or the connection drops before the server
    /// confirms (dropped, or broken by a reply the client cannot read), the
    /// client is closed all the same and `close` returns `Ok`, as the Java
    /// client's does; the session then ends at the server when its timeout
    /// passes (its ephemerals live until then).
    ///
    /// # Cancel safety
    ///
    /// Once polled, the close is handed to the connection task (unless 16
    /// other closes are waiting, then on a later poll) and the session closes
    /// whether or not this future is dropped; dropping it loses only the wait
    /// for the server's confirmation. Dropped before that, nothing happens.
    pub async fn close(&self) -> Result<()> {
        let (reply, rx) = ReplySender::new();
        if self.inner.closes.send(reply).await.is_err() {
            return Ok(());
        }
        match rx.await {
            Ok(Ok(_)) | Err(_) => Ok(()),
            Ok(Err(e)) if e.is_closed() => Ok(()),
            Ok(Err(e)) => Err(e),
        }
    }

    /// After the session was lost ([`ConnectionState::Lost`]), starts a
    /// fresh one; waits until it is established. (Clients built with
    /// [`ClientBuilder::renew_session_on_expiry`] do this by themselves.)
    ///
    /// # Cancel safety
    ///
    /// Once the request is handed to the connection task (the first poll,
    /// unless the queue is full) the new session starts whether or not this
    /// future is dropped; dropping it loses only the wait.
    pub async fn start_new_session(&self) -> Result<()> {
        self.send_command(Command::NewSession).await?;
        let fut = async {
            let state = self
                .wait_for_state(|s| {
                    s.is_connected()
                        || matches!(s, ConnectionState::Closed | ConnectionState::AuthFailed)
                })
                .await;
            if state.is_connected() {
                Ok(())
            } else {
                Err(Error::closed())
            }
        };
        self.bounded(fut).await
    }

    /// Sends a raw request and returns the raw reply, with no path mapping,
    /// validation or retry. For tools and tests that need exact control of
    /// the wire (server paths, odd opcodes).
    ///
    /// # Cancel safety
    ///
    /// Dropped before it returns, the request may or may not be applied, as
    /// after a connection loss.
    pub async fn raw_request(&self, request: Request) -> Result<(i64, Response)> {
        let reply = self.bounded(self.submit_raw(request, None)).await?;
        Ok((reply.zxid, reply.response))
    }

    // ----- plumbing shared by the operations -----

    fn server_path(&self, path: &str) -> String {
        self.inner.chroot.to_server(path)
    }

    fn client_path(&self, path: &str) -> String {
        self.inner.chroot.to_client(path)
    }

    /// [`Self::client_path`] reusing `path` when there is no chroot.
    fn client_path_owned(&self, path: String) -> String {
        match self.inner.chroot.prefix() {
            None => path,
            Some(_) => self.inner.chroot.to_client(&path),
        }
    }

    fn next_watcher_id(&self) -> WatcherId {
        self.inner.next_watcher.fetch_add(1, Ordering::Relaxed)
    }

    /// Hands a request to the connection task (creating the chroot first
    /// if the builder asked for it) and waits for its reply.
    ///
    /// Builds the command at once (nothing is sent before the future is
    /// polled): a request's future then holds it once, not once per layer.
    fn submit(
        &self,
        request: Request,
        watch: Option<(WatchKind, WatchRequest<WatchSender>)>,
    ) -> impl Future<Output = Result<Reply>> + Send + '_ {
        self.exchange(request, watch, true)
    }

    /// [`Self::submit`] without the chroot check.
    fn submit_raw(
        &self,
        request: Request,
        watch: Option<(WatchKind, WatchRequest<WatchSender>)>,
    ) -> impl Future<Output = Result<Reply>> + Send + '_ {
        self.exchange(request, watch, false)
    }

    fn exchange(
        &self,
        request: Request,
        watch: Option<(WatchKind, WatchRequest<WatchSender>)>,
        chroot_first: bool,
    ) -> impl Future<Output = Result<Reply>> + Send + '_ {
        let (reply, rx) = ReplySender::new();
        let command = Command::Submit {
            request,
            watch,
            reply,
        };
        self.send_and_wait(command, rx, chroot_first)
    }

    /// Sends a `Submit` command (after the chroot check if `chroot_first`)
    /// and waits for the reply `rx` will carry.
    async fn send_and_wait(
        &self,
        command: Command,
        rx: tokio::sync::oneshot::Receiver<Result<Reply>>,
        chroot_first: bool,
    ) -> Result<Reply> {
        if chroot_first && self.chroot_pending() {
            // Once per client at most: boxed, so that every request's future
            // does not carry the chroot creation's state.
            Box::pin(self.ensure_chroot()).await?;
        }
        self.send_command(command).await?;
        let result = rx.await.unwrap_or_else(|_| Err(Error::closed()));
        // Visible to the caller as soon as it holds the reply (the
        // connection task publishes its own view a moment later).
        let zxid = match &result {
            Ok(reply) => Some(reply.zxid),
            Err(e) => e.zxid(),
        };
        if let Some(zxid) = zxid {
            self.inner
                .shared
                .last_zxid
                .fetch_max(zxid, Ordering::Relaxed);
        }
        result
    }

    /// Hands `command` to the connection task: at once if its queue has
    /// room, otherwise through the returned future, which waits for room.
    /// Call it where the command is due (inside the caller's async body):
    /// unlike an async fn, it queues the command before it is polled.
    ///
    /// Cancel safety: once queued the command stays queued; a waiting
    /// future dropped before it completes leaves the command unqueued.
    ///
    /// The wait is exempt from tokio's cooperative budget: once a task's
    /// budget is spent, a budgeted send returns `Pending` without taking its
    /// place in the channel's queue, so a call started later in the same task
    /// (a `join_all` of writes) could reach the server first. Unbudgeted, the
    /// send either queues the command or waits in the channel's FIFO, and
    /// one task's calls go out in the order they were first polled. What
    /// follows (awaiting the reply) stays under the budget. `try_send` never
    /// overtakes waiting senders (the channel hands freed room to them
    /// first), so the order holds for the immediate path too.
    ///
    /// Only the waiting path builds tokio's send future (several hundred
    /// bytes), boxed: every request's future would otherwise carry it.
    pub(super) fn send_command(
        &self,
        command: Command,
    ) -> futures::future::Either<
        futures::future::Ready<Result<()>>,
        futures::future::BoxFuture<'_, Result<()>>,
    > {
        use futures::future::{ready, Either, FutureExt};
        match self.inner.commands.try_send(command) {
            Ok(()) => Either::Left(ready(Ok(()))),
            Err(mpsc::error::TrySendError::Closed(_)) => Either::Left(ready(Err(Error::closed()))),
            Err(mpsc::error::TrySendError::Full(command)) => Either::Right(
                tokio::task::unconstrained(self.inner.commands.send(command))
                    .map(|sent| sent.map_err(|_| Error::closed()))
                    .boxed(),
            ),
        }
    }

    async fn bounded<T>(&self, fut: impl Future<Output = Result<T>>) -> Result<T> {
        match self.deadline {
            Some(d) => tokio::time::timeout(d, fut)
                .await
                .unwrap_or_else(|_| Err(Error::timeout())),
            None => fut.await,
        }
    }

    /// Sends `request` and retries it per policy. Returns the reply and
    /// whether an earlier attempt was lost (so it may have been applied).
    ///
    /// A `NoNode` caused by a missing chroot names the chroot (and, if the
    /// builder asked for the chroot to be created, creates it and sends the
    /// request once more: it was not applied).
    async fn call(&self, request: Request) -> Result<(Reply, bool)> {
        self.call_ref(&request).await
    }

    /// [`Self::call`] for a caller that needs the request afterwards (each
    /// attempt sends a copy of it anyway).
    async fn call_ref(&self, request: &Request) -> Result<(Reply, bool)> {
        let idem = idempotence(request);
        let attempt = || self.retrying(idem, || self.submit(request.clone(), None));
        match attempt().await {
            Err(e) if e.is_no_node() && !matches!(request, Request::Exists(_)) => {
                // Rare (a missing node under a chroot): boxed, so that the
                // common path's future does not carry a second attempt.
                Box::pin(self.after_no_node(e, request, attempt)).await
            }
            other => other,
        }
    }

    /// Runs `attempt` until it succeeds, fails with an error the policy does
    /// not retry, or the deadline passes.
    async fn retrying<T, F, Fut>(&self, idem: Idempotence, mut attempt: F) -> Result<(T, bool)>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        let deadline = self.deadline.map(|d| Instant::now() + d);
        let mut schedule = None;
        let mut retried = false;
        loop {
            let result = match deadline {
                Some(at) => tokio::time::timeout_at(at, attempt())
                    .await
                    .unwrap_or_else(|_| Err(Error::timeout())),
                None => attempt().await,
            };
            let err = match result {
                Ok(v) => return Ok((v, retried)),
                Err(e) => e,
            };
            if !self.policy.should_retry(&err, idem) {
                return Err(if retried { err.mark_after_retry() } else { err });
            }
            let delay = schedule
                .get_or_insert_with(|| self.policy.schedule())
                .next_backoff();
            let Some(delay) = delay else {
                return Err(if retried { err.mark_after_retry() } else { err });
            };
            if deadline.is_some_and(|at| Instant::now() + delay >= at) {
                return Err(Error::timeout().with_message(format!("last error: {err}")));
            }
            tracing::debug!(error = %err, delay_ms = delay.as_millis() as u64, "retrying");
            tokio::time::sleep(delay).await;
            retried = true;
        }
    }
}

fn unexpected(response: Response) -> Error {
    Error::protocol(format!("unexpected reply body {response:?}"))
}
