//! Building and connecting a [`Client`].

use super::{Client, Inner};
use crate::connect_string::{Chroot, ConnectString};
use crate::error::{Error, ErrorKind, Result};
use crate::proto::{AuthPacket, DEFAULT_MAX_BUFFER};
use crate::retry::{ExponentialRetry, RetryPolicy};
use crate::sasl::SaslConfig;
use crate::session::driver::{
    ConnectFailure, Driver, DriverConfig, FailureCause, Inbox, ReplySender, SessionInfo, Shared,
    WatchSender,
};
use crate::session::HostOrder;
use crate::session::{ConnectionState, SessionConfig, SessionMachine};
use crate::transport::{Connector, TlsConfig};
use bytes::Bytes;
use std::sync::atomic::{AtomicI64, AtomicU64};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{broadcast, mpsc, watch};

/// Settings for a [`Client`]; finish with [`ClientBuilder::connect`].
///
/// ```no_run
/// # async fn demo() -> Result<(), zk_client::Error> {
/// use std::time::Duration;
/// let client = zk_client::Client::builder("10.0.0.1:2181,10.0.0.2:2181/my-app")
///     .session_timeout(Duration::from_secs(10))
///     .auth("digest", "app:secret")
///     .connect()
///     .await?;
/// # Ok(()) }
/// ```
pub struct ClientBuilder {
    connect_string: String,
    session_timeout: Duration,
    connect_timeout: Duration,
    read_only: bool,
    auth: Vec<(String, Bytes)>,
    retry: Arc<dyn RetryPolicy>,
    deadline: Option<Duration>,
    renew_session_on_expiry: bool,
    max_frame: usize,
    attach: Option<(i64, Bytes)>,
    watch_buffer: usize,
    max_pending: usize,
    create_chroot: bool,
    tls: Option<TlsConfig>,
    sasl: Option<SaslConfig>,
}

/// Default of [`ClientBuilder::watch_buffer`].
const DEFAULT_WATCH_BUFFER: usize = 1024;

/// Default of [`ClientBuilder::max_pending_requests`]: ZooKeeper's own
/// server-side limit of outstanding requests (`globalOutstandingLimit`).
const DEFAULT_MAX_PENDING: usize = 1000;

/// Commands (requests, auth, watch removals) a client's handles may queue
/// for the connection task beyond what it holds; callers wait for room.
const COMMAND_QUEUE: usize = 256;

/// `close` calls that may wait for the connection task at once.
const CLOSE_QUEUE: usize = 16;

impl std::fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("connect_string", &self.connect_string)
            .field("session_timeout", &self.session_timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("read_only", &self.read_only)
            .field(
                "auth_schemes",
                &self.auth.iter().map(|(s, _)| s).collect::<Vec<_>>(),
            )
            .field("retry", &self.retry)
            .field("deadline", &self.deadline)
            .field("renew_session_on_expiry", &self.renew_session_on_expiry)
            .field("tls", &self.tls)
            .field("sasl", &self.sasl)
            .finish()
    }
}

impl ClientBuilder {
    /// Defaults: 30 s session timeout, 10 s connect timeout, no read-only
    /// servers, [`ExponentialRetry`], no deadline, a fresh session after an
    /// expiry ([`ClientBuilder::renew_session_on_expiry`]).
    pub fn new(connect_string: impl Into<String>) -> ClientBuilder {
        ClientBuilder {
            connect_string: connect_string.into(),
            session_timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            read_only: false,
            auth: Vec::new(),
            retry: Arc::new(ExponentialRetry::default()),
            deadline: None,
            renew_session_on_expiry: true,
            max_frame: DEFAULT_MAX_BUFFER,
            attach: None,
            watch_buffer: DEFAULT_WATCH_BUFFER,
            max_pending: DEFAULT_MAX_PENDING,
            create_chroot: true,
            tls: None,
            sasl: None,
        }
    }

    /// Requested session timeout; the server clamps it to [2, 20] ticks.
    pub fn session_timeout(mut self, timeout: Duration) -> Self {
        self.session_timeout = timeout;
        self
    }

    /// How long [`ClientBuilder::connect`] waits for the first session, and
    /// the upper bound of each connection attempt.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Whether to accept read-only servers (members cut off from their quorum).
    pub fn read_only(mut self, allowed: bool) -> Self {
        self.read_only = allowed;
        self
    }

    /// Credentials sent right after every handshake (`digest` with `user:password`).
    pub fn auth(mut self, scheme: impl Into<String>, auth: impl Into<Bytes>) -> Self {
        self.auth.push((scheme.into(), auth.into()));
        self
    }

    /// The retry policy (default [`ExponentialRetry`]; use
    /// [`crate::retry::NoRetry`] to see every connection loss).
    pub fn retry(mut self, policy: impl RetryPolicy + 'static) -> Self {
        self.retry = Arc::new(policy);
        self
    }

    /// A deadline for every call (retries included).
    pub fn request_timeout(mut self, deadline: Duration) -> Self {
        self.deadline = Some(deadline);
        self
    }

    /// Whether to start a fresh session by itself when the session is lost
    /// (default `true`, as Curator and kazoo do).
    ///
    /// A long-running service wants its client to keep working after an
    /// expiry, and every recipe of zk-recipes needs it to rejoin (a lock
    /// waiter, a latch, a cache would otherwise end with `SessionLost`).
    /// The expiry is still visible: [`Client::state_stream`] yields
    /// [`ConnectionState::Lost`] and then `Connected` with a new
    /// [`Client::session_id`]; requests in flight and waiting at the expiry
    /// fail with a session-expired error; watches end with
    /// [`crate::WatchEvent::Expired`]; the old session's ephemerals are gone.
    ///
    /// With `false` a lost session stays lost (every call fails with a
    /// session-expired error) until [`Client::start_new_session`], which is
    /// what code that must never act under a second session wants. A session
    /// given with [`ClientBuilder::attach_session`] that turns out to be gone
    /// fails `connect` either way; renewal applies only to sessions that
    /// were established.
    pub fn renew_session_on_expiry(mut self, renew: bool) -> Self {
        self.renew_session_on_expiry = renew;
        self
    }

    /// Largest frame accepted from a server (default 1 MiB - 1, ZooKeeper's
    /// jute.maxbuffer).
    pub fn max_frame(mut self, bytes: usize) -> Self {
        self.max_frame = bytes;
        self
    }

    /// Whether to create the connect string's chroot (`host:port/app`) on
    /// first use if it does not exist (default `true`, as Curator's
    /// namespaces do): before the first request, the client looks for it
    /// and creates it and any missing ancestors as empty persistent nodes
    /// with an open ACL. Services sharing an ensemble with JVM services on
    /// Curator then find the same layout whoever starts first, and a fresh
    /// ensemble needs no manual setup step.
    ///
    /// With `false` a missing chroot is an error: every `NoNode` it causes
    /// names it ("the chroot /app does not exist ..."). Choose `false` when
    /// a typo in the chroot must fail rather than start an empty namespace,
    /// or when the client may not create nodes there.
    pub fn create_chroot(mut self, create: bool) -> Self {
        self.create_chroot = create;
        self
    }

    /// How many events a persistent watch's stream holds for a reader that
    /// falls behind (default 1024). Past that, events are dropped and the
    /// stream yields [`crate::WatchEvent::Resync`] where they were, so
    /// memory stays bounded however slow the reader.
    pub fn watch_buffer(mut self, events: usize) -> Self {
        self.watch_buffer = events.max(1);
        self
    }

    /// How many requests the client holds at once, sent and awaiting
    /// replies or waiting for a connection (default 1000, ZooKeeper's
    /// server-side limit). Past that, calls wait for room before their
    /// request is queued, so callers that keep abandoning calls (a timeout
    /// around each) against a stalled server cannot grow memory without
    /// bound. Once the client is full, it takes new requests again when an
    /// eighth of the room is free, so that they go out in batches.
    pub fn max_pending_requests(mut self, requests: usize) -> Self {
        self.max_pending = requests.max(1);
        self
    }

    /// Attach to an existing session (its id and password, from
    /// [`Client::session_id`] and [`Client::session_password`]) instead of
    /// opening a new one. The server then serves the session to this client
    /// and drops the other connection; closing this client ends the session
    /// for both (the usual way for tests to force a session expiry). If the
    /// session no longer exists, `connect` fails with a session-expired error.
    pub fn attach_session(mut self, session_id: i64, password: impl Into<Bytes>) -> Self {
        self.attach = Some((session_id, password.into()));
        self
    }

    /// Speaks TLS to every server of the connect string (their secure
    /// client ports); see [`TlsConfig`]. A server that does not speak TLS,
    /// or whose certificate is not trusted, fails `connect` with an
    /// [`crate::ErrorKind::Tls`] error once the connect timeout passes.
    pub fn tls(mut self, config: TlsConfig) -> Self {
        self.tls = Some(config);
        self
    }

    /// Authenticates every connection with SASL (e.g.
    /// [`SaslConfig::digest_md5`]) before any request; see [`crate::sasl`].
    /// Rejected credentials fail `connect` with
    /// [`crate::ErrorKind::AuthFailed`].
    pub fn sasl(mut self, config: SaslConfig) -> Self {
        self.sasl = Some(config);
        self
    }

    /// Starts the connection task and waits for the first session.
    ///
    /// Fails with a timeout if no server completes a handshake within the
    /// connect timeout, and with `AuthFailed` if a server rejects the
    /// credentials.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: dropped before it returns, the half-built client goes with
    /// it; its connection task closes the session (if a handshake completed)
    /// and the connection in the background. Nothing is left open.
    pub async fn connect(self) -> Result<Client> {
        let connect_string = self.connect_string.clone();
        let connect_timeout = self.connect_timeout;
        let (client, transitions, auth_replies) = self.spawn()?;
        let deadline = tokio::time::Instant::now() + connect_timeout;
        match tokio::time::timeout_at(deadline, first_outcome(transitions)).await {
            Ok(s) if s.is_connected() => {
                // Credentials are answered right after the handshake; a
                // rejected one fails the connect.
                for rx in auth_replies {
                    match tokio::time::timeout_at(deadline, rx).await {
                        Ok(Ok(Ok(_))) => {}
                        Ok(Ok(Err(e))) => return Err(e),
                        Ok(Err(_)) => return Err(Error::closed()),
                        Err(_) => return Err(Error::timeout()),
                    }
                }
                Ok(client)
            }
            Ok(ConnectionState::AuthFailed) => Err(auth_failed(&client.inner.shared)),
            Ok(ConnectionState::Lost) => Err(Error::session_expired()),
            Ok(_) => Err(Error::closed()),
            Err(_) => {
                let (reply, _) = ReplySender::new();
                let _ = client.inner.closes.try_send(reply);
                Err(connect_timed_out(
                    &connect_string,
                    connect_timeout,
                    &client.inner.shared,
                ))
            }
        }
    }

    /// Checks the settings and starts the connection task: the client, its
    /// state transitions (subscribed before the task starts, so none is
    /// missed: a session whose connection drops right after the handshake
    /// was still established) and the replies to its credentials.
    fn spawn(self) -> Result<(Client, broadcast::Receiver<ConnectionState>, Vec<AuthReply>)> {
        let parsed = ConnectString::parse(&self.connect_string)?;
        if self.session_timeout.is_zero() {
            return Err(Error::invalid_argument("session timeout must be positive"));
        }
        let hosts = HostOrder::new(parsed.hosts, &mut rand::rng())
            .ok_or_else(|| Error::invalid_argument("the connect string names no host"))?;
        let chroot = Chroot::new(parsed.chroot);
        // Each attempt gets its share of the session timeout, as ZooKeeper's
        // client does, within sensible bounds; shorter than the connect
        // timeout, so that a stalled attempt ends, and says why, before
        // `connect` gives up.
        let per_attempt = (self.session_timeout / hosts.len().max(1) as u32)
            .max(Duration::from_millis(100))
            .min(self.connect_timeout * 3 / 4);
        let config = SessionConfig {
            session_timeout: self.session_timeout,
            connect_timeout: per_attempt,
            read_only: self.read_only,
            chroot: chroot.clone(),
            max_frame: self.max_frame,
            attach: self.attach,
            sasl: self.sasl,
        };
        let (machine, auth_replies) = session_machine(config, self.auth);
        let (shared, info_rx) = shared_state();
        let (cmd_tx, cmd_rx) = mpsc::channel(COMMAND_QUEUE);
        let (close_tx, close_rx) = mpsc::channel(CLOSE_QUEUE);
        let (unwatch_tx, unwatch_rx) = mpsc::unbounded_channel();
        let driver = Driver::new(
            machine,
            Inbox {
                commands: cmd_rx,
                closes: close_rx,
                unwatch: unwatch_rx,
            },
            hosts,
            shared.clone(),
            DriverConfig {
                connect_timeout: per_attempt,
                renew_session_on_expiry: self.renew_session_on_expiry,
                max_pending: self.max_pending,
                connector: Connector::new(self.tls),
            },
        );
        let transitions = shared.transitions.subscribe();
        tokio::spawn(driver.run());
        let client = Client {
            inner: Arc::new(Inner {
                commands: cmd_tx,
                closes: close_tx,
                unwatch: unwatch_tx,
                watch_buffer: self.watch_buffer,
                shared,
                info: info_rx,
                chroot,
                chroot_state: super::chroot::ChrootState::new(self.create_chroot),
                next_watcher: AtomicU64::new(1),
                renew_session_on_expiry: self.renew_session_on_expiry,
            }),
            policy: self.retry,
            deadline: self.deadline,
        };
        Ok((client, transitions, auth_replies))
    }
}

/// The answer to one `auth` packet sent at connect.
type AuthReply = tokio::sync::oneshot::Receiver<Result<crate::session::Reply>>;

/// The session's state machine, with the builder's credentials queued to
/// be sent right after the first handshake.
fn session_machine(
    config: SessionConfig,
    auth: Vec<(String, Bytes)>,
) -> (SessionMachine<ReplySender, WatchSender>, Vec<AuthReply>) {
    let now = tokio::time::Instant::now().into_std();
    let mut machine = SessionMachine::new(config, now);
    let mut replies = Vec::new();
    for (scheme, auth) in auth {
        let packet = AuthPacket {
            auth_type: 0,
            scheme,
            auth,
        };
        let (reply, rx) = ReplySender::new();
        machine.add_auth(now, packet, reply);
        replies.push(rx);
    }
    (machine, replies)
}

/// What the client's handles and its connection task share, still
/// connecting, and the receiver of its session info.
fn shared_state() -> (Arc<Shared>, watch::Receiver<SessionInfo>) {
    let (info_tx, info_rx) = watch::channel(SessionInfo {
        state: ConnectionState::Connecting,
        session_id: 0,
        timeout: Duration::ZERO,
        server: None,
    });
    let (transitions, _) = broadcast::channel(256);
    let shared = Arc::new(Shared {
        info: info_tx,
        transitions,
        last_zxid: AtomicI64::new(0),
        password: std::sync::Mutex::new(Bytes::new()),
        last_connect_error: std::sync::Mutex::new(None),
        pending: Default::default(),
        watchers: Default::default(),
    });
    (shared, info_rx)
}

/// The error of a `connect` that found no session in time: a TLS failure
/// as such (retrying will not fix a certificate or a plaintext port), an I/O
/// error carrying the last attempt's cause when there was one (refused,
/// unknown host, closed during the handshake), else a plain timeout.
fn connect_timed_out(connect_string: &str, timeout: Duration, shared: &Shared) -> Error {
    let summary =
        format!("no server in {connect_string:?} completed a handshake within {timeout:?}");
    match take_connect_failure(shared) {
        Some(ConnectFailure {
            host,
            cause: FailureCause::Io(cause),
        }) => {
            let e = Error::from_transport(cause);
            let what = if e.kind() == ErrorKind::Tls {
                "TLS failed"
            } else {
                "last attempt"
            };
            e.with_message(format!("{summary}; {what} {host}"))
        }
        Some(ConnectFailure {
            host,
            cause: FailureCause::Handshake(why),
        }) => Error::timeout().with_message(format!("{summary}; last attempt {host}: {why}")),
        Some(ConnectFailure {
            cause: FailureCause::Auth(why),
            ..
        }) => Error::auth_failed().with_message(why),
        None => Error::timeout().with_message(summary),
    }
}

/// Why the latest connection attempt failed, taken out of `shared`.
fn take_connect_failure(shared: &Shared) -> Option<ConnectFailure> {
    shared
        .last_connect_error
        .lock()
        .ok()
        .and_then(|mut last| last.take())
}

/// The error of a `connect` whose credentials the server rejected.
fn auth_failed(shared: &Shared) -> Error {
    match take_connect_failure(shared) {
        Some(ConnectFailure {
            cause: FailureCause::Auth(why),
            ..
        }) => Error::auth_failed().with_message(why),
        _ => Error::auth_failed(),
    }
}

/// The first state that settles a `connect`: a session (connected) or the
/// end (terminal), from every transition in order.
async fn first_outcome(mut transitions: broadcast::Receiver<ConnectionState>) -> ConnectionState {
    loop {
        match transitions.recv().await {
            Ok(s) if s.is_connected() || s.is_terminal() => return s,
            Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
            Err(broadcast::error::RecvError::Closed) => return ConnectionState::Closed,
        }
    }
}
