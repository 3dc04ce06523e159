//! Building and connecting a [`Client`].

use super::{Client, Inner};
use crate::connect_string::{Chroot, ConnectString};
use crate::error::{Error, ErrorKind, Result};
use crate::proto::{AuthPacket, DEFAULT_MAX_BUFFER};
use crate::retry::{ExponentialRetry, RetryPolicy};
use crate::sasl::SaslConfig;
use crate::session::driver::{Command, Driver, DriverConfig, ReplySender, SessionInfo, Shared};
use crate::session::hosts::HostList;
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
    tls: Option<TlsConfig>,
    sasl: Option<SaslConfig>,
}

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
    /// servers, [`ExponentialRetry`], no deadline.
    pub fn new(connect_string: impl Into<String>) -> ClientBuilder {
        ClientBuilder {
            connect_string: connect_string.into(),
            session_timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            read_only: false,
            auth: Vec::new(),
            retry: Arc::new(ExponentialRetry::default()),
            deadline: None,
            renew_session_on_expiry: false,
            max_frame: DEFAULT_MAX_BUFFER,
            attach: None,
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

    /// Start a fresh session automatically when the session is lost (as
    /// kazoo does). Recipes rely on this to rejoin; without it, a lost
    /// session stays lost until [`Client::start_new_session`].
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
    pub async fn connect(self) -> Result<Client> {
        let parsed = ConnectString::parse(&self.connect_string)?;
        if self.session_timeout.is_zero() {
            return Err(Error::invalid_argument("session timeout must be positive"));
        }
        let hosts = HostList::new(parsed.hosts);
        let chroot = Chroot::new(parsed.chroot);
        // Each attempt gets its share of the session timeout, as ZooKeeper's
        // client does, within sensible bounds; shorter than the connect
        // timeout, so that a stalled attempt ends, and says why, before
        // `connect` gives up.
        let per_attempt = (self.session_timeout / hosts.len().max(1) as u32)
            .max(Duration::from_millis(100))
            .min(self.connect_timeout * 3 / 4);
        let now = tokio::time::Instant::now().into_std();
        let mut machine = SessionMachine::new(
            SessionConfig {
                session_timeout: self.session_timeout,
                connect_timeout: per_attempt,
                read_only: self.read_only,
                chroot: chroot.clone(),
                max_frame: self.max_frame,
                attach: self.attach,
                sasl: self.sasl,
            },
            now,
        );
        let mut auth_replies = Vec::new();
        for (scheme, auth) in self.auth {
            let packet = AuthPacket {
                auth_type: 0,
                scheme,
                auth,
            };
            let (reply, rx) = ReplySender::new();
            machine.add_auth(now, packet, reply);
            auth_replies.push(rx);
        }
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
            last_failure: std::sync::Mutex::new(None),
        });
        let (cmd_tx, cmd_rx) = mpsc::unbounded_channel();
        let (unwatch_tx, unwatch_rx) = mpsc::unbounded_channel();
        let driver = Driver::new(
            machine,
            cmd_rx,
            unwatch_rx,
            hosts,
            shared.clone(),
            DriverConfig {
                connect_timeout: per_attempt,
                renew_session_on_expiry: self.renew_session_on_expiry,
                connector: Connector::new(self.tls),
            },
        );
        tokio::spawn(driver.run());
        let client = Client {
            inner: Arc::new(Inner {
                commands: cmd_tx,
                unwatch: unwatch_tx,
                shared,
                info: info_rx,
                chroot,
                next_watcher: AtomicU64::new(1),
                renew_session_on_expiry: self.renew_session_on_expiry,
            }),
            policy: self.retry,
            deadline: self.deadline,
        };
        let deadline = tokio::time::Instant::now() + self.connect_timeout;
        let waited = tokio::time::timeout_at(
            deadline,
            client.wait_for_state(|s| s.is_connected() || s.is_terminal()),
        )
        .await;
        match waited {
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
            Ok(ConnectionState::AuthFailed) => Err(client
                .inner
                .shared
                .last_failure
                .lock()
                .ok()
                .and_then(|mut l| l.take())
                .unwrap_or_else(Error::auth_failed)),
            Ok(ConnectionState::Lost) => Err(Error::session_expired()),
            Ok(_) => Err(Error::closed()),
            Err(_) => {
                let (reply, _) = ReplySender::new();
                let _ = client.inner.commands.send(Command::Close { reply });
                let last = client
                    .inner
                    .shared
                    .last_failure
                    .lock()
                    .ok()
                    .and_then(|mut l| l.take());
                Err(connect_timed_out(
                    &self.connect_string,
                    self.connect_timeout,
                    last,
                ))
            }
        }
    }
}

/// The error of a `connect` that saw no session within the connect timeout.
/// A TLS failure is reported as such (retrying will not fix a certificate
/// or a plaintext port); anything else stays a timeout that says what the
/// last attempt ran into.
fn connect_timed_out(connect_string: &str, timeout: Duration, last: Option<Error>) -> Error {
    let what = format!("no server in {connect_string:?} completed a handshake within {timeout:?}");
    match last {
        Some(e) if e.kind() == ErrorKind::Tls => e.with_message(what),
        Some(e) => Error::timeout().with_message(format!("{what} (last attempt: {e})")),
        None => Error::timeout().with_message(what),
    }
}
