//! [`Ensemble`]: start ZooKeeper-compatible servers inside a test (or the
//! binary), inspect them and inject faults.
//!
//! Today an ensemble has exactly one member (a standalone server); the API is
//! shaped for several, each with its own client port, log and state.

use crate::net::connection::PortInfo;
use crate::net::core::{self, Clock, Command, Inspection};
use crate::net::listener::accept_loop;
use crate::server::{LocalCommitter, Server, ServerConfig, SharedLog};
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use thiserror::Error;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use zk_client::proto::DEFAULT_MAX_BUFFER;

/// Errors of the ensemble API.
#[derive(Debug, Error)]
pub enum Error {
    /// Binding or accepting on the client port failed.
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
    /// The member is stopped.
    #[error("member is stopped")]
    Stopped,
    /// The requested configuration is not supported yet.
    #[error("unsupported: {0}")]
    Unsupported(&'static str),
}

/// Result of the ensemble API.
pub type Result<T> = std::result::Result<T, Error>;

/// A session as the ensemble reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionInfo {
    /// Session id.
    pub id: i64,
    /// Negotiated timeout.
    pub timeout: Duration,
}

/// Configures and starts an [`Ensemble`].
#[derive(Debug, Clone)]
pub struct EnsembleBuilder {
    members: usize,
    tick: Duration,
    extended_types: bool,
    super_digest: Option<String>,
    port: u16,
    min_session_timeout: Option<Duration>,
    max_session_timeout: Option<Duration>,
    container_check: Option<Duration>,
}

impl Default for EnsembleBuilder {
    fn default() -> Self {
        EnsembleBuilder {
            members: 1,
            tick: Duration::from_millis(100),
            extended_types: false,
            super_digest: None,
            port: 0,
            min_session_timeout: None,
            max_session_timeout: None,
            container_check: None,
        }
    }
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

fn ms_i32(d: Duration) -> i32 {
    i32::try_from(d.as_millis()).unwrap_or(i32::MAX)
}

impl EnsembleBuilder {
    /// Number of members (only 1 is supported for now).
    pub fn members(mut self, n: usize) -> Self {
        self.members = n;
        self
    }

    /// ZooKeeper's tickTime (default 100 ms): the session timeout unit and
    /// expiry granularity. Negotiated timeouts are clamped to [2, 20] ticks.
    pub fn tick(mut self, tick: Duration) -> Self {
        self.tick = tick;
        self
    }

    /// Allows TTL nodes (`zookeeper.extendedTypesEnabled`); off by default.
    pub fn extended_types(mut self, on: bool) -> Self {
        self.extended_types = on;
        self
    }

    /// The superuser digest id, `super:<base64 sha1>` (see
    /// [`zk_client::proto::digest_id`]).
    pub fn super_digest(mut self, digest: impl Into<String>) -> Self {
        self.super_digest = Some(digest.into());
        self
    }

    /// The client port of the first member (default 0: any free port).
    pub fn port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }

    /// Overrides the smallest negotiated session timeout (default 2 ticks).
    pub fn min_session_timeout(mut self, t: Duration) -> Self {
        self.min_session_timeout = Some(t);
        self
    }

    /// Overrides the largest negotiated session timeout (default 20 ticks).
    pub fn max_session_timeout(mut self, t: Duration) -> Self {
        self.max_session_timeout = Some(t);
        self
    }

    /// How often empty containers and expired TTL nodes are removed
    /// (default 5 ticks).
    pub fn container_check_interval(mut self, t: Duration) -> Self {
        self.container_check = Some(t);
        self
    }

    fn server_config(&self, server_id: u8) -> ServerConfig {
        let mut c = ServerConfig::with_tick(ms(self.tick).max(1));
        c.server_id = server_id;
        c.extended_types = self.extended_types;
        c.super_digest = self.super_digest.clone();
        if let Some(t) = self.min_session_timeout {
            c.min_session_timeout_ms = ms_i32(t);
        }
        if let Some(t) = self.max_session_timeout {
            c.max_session_timeout_ms = ms_i32(t);
        }
        if let Some(t) = self.container_check {
            c.container_check_ms = ms(t).max(1);
        }
        c
    }

    /// Binds the client ports on 127.0.0.1 and starts serving.
    pub async fn start(self) -> Result<Ensemble> {
        if self.members != 1 {
            return Err(Error::Unsupported(
                "only single-member ensembles are implemented so far",
            ));
        }
        let config = self.server_config(1);
        let addr = SocketAddr::from(([127, 0, 0, 1], self.port));
        let mut member = Member {
            addr,
            config,
            log: SharedLog::default(),
            clock: Clock::new(),
            running: None,
        };
        member.start().await?;
        Ok(Ensemble {
            members: vec![member],
        })
    }
}

struct Running {
    core_tx: mpsc::UnboundedSender<Command>,
    core: JoinHandle<()>,
    listener: JoinHandle<()>,
}

struct Member {
    addr: SocketAddr,
    config: ServerConfig,
    log: SharedLog,
    clock: Clock,
    running: Option<Running>,
}

impl Member {
    async fn start(&mut self) -> Result<()> {
        let listener = TcpListener::bind(self.addr).await?;
        self.addr = listener.local_addr()?;
        let entries = self.log.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let committer = Box::new(LocalCommitter::new(self.log.clone()));
        let server = Server::new(self.config.clone(), committer, &entries, self.clock.now());
        let (core_tx, core_rx) = mpsc::unbounded_channel();
        let core = tokio::spawn(core::run(server, core_rx, self.clock));
        let info = PortInfo {
            port: self.addr.port(),
            max_frame: DEFAULT_MAX_BUFFER,
            started: Instant::now(),
        };
        let listener = tokio::spawn(accept_loop(listener, core_tx.clone(), info));
        tracing::info!(addr = %self.addr, replayed = entries.len(), "member serving");
        self.running = Some(Running {
            core_tx,
            core,
            listener,
        });
        Ok(())
    }

    async fn stop(&mut self) {
        if let Some(r) = self.running.take() {
            r.listener.abort();
            let _ = r.listener.await;
            drop(r.core_tx);
            r.core.abort();
            let _ = r.core.await;
            tracing::info!(addr = %self.addr, "member stopped");
        }
    }

    async fn ask<T>(&self, make: impl FnOnce(oneshot::Sender<T>) -> Command) -> Result<T> {
        let r = self.running.as_ref().ok_or(Error::Stopped)?;
        let (tx, rx) = oneshot::channel();
        r.core_tx.send(make(tx)).map_err(|_| Error::Stopped)?;
        rx.await.map_err(|_| Error::Stopped)
    }

    async fn inspect(&self) -> Result<Inspection> {
        self.ask(Command::Inspect).await
    }
}

impl Drop for Member {
    fn drop(&mut self) {
        if let Some(r) = self.running.take() {
            r.listener.abort();
            r.core.abort();
        }
    }
}

/// Running ZooKeeper-compatible servers. Dropping it shuts them down.
///
/// ```no_run
/// # async fn demo() -> zk_testserver::ensemble::Result<()> {
/// use std::time::Duration;
/// let zk = zk_testserver::Ensemble::builder()
///     .tick(Duration::from_millis(50))
///     .extended_types(true)
///     .start()
///     .await?;
/// println!("{}", zk.connect_string());
/// # Ok(()) }
/// ```
pub struct Ensemble {
    members: Vec<Member>,
}

impl Ensemble {
    /// A builder with defaults: one member, 100 ms tick, any free port.
    pub fn builder() -> EnsembleBuilder {
        EnsembleBuilder::default()
    }

    /// `host:port[,host:port...]` of every member.
    pub fn connect_string(&self) -> String {
        self.members
            .iter()
            .map(|m| m.addr.to_string())
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Client address of every member.
    pub fn addresses(&self) -> Vec<SocketAddr> {
        self.members.iter().map(|m| m.addr).collect()
    }

    fn leader(&self) -> &Member {
        &self.members[0]
    }

    /// Expires a session as if its timeout had passed (its ephemerals go,
    /// its connection is closed, later reattach attempts get the expired reply).
    pub async fn expire_session(&self, session_id: i64) -> Result<()> {
        self.leader()
            .ask(|tx| Command::ExpireSession(session_id, tx))
            .await
    }

    /// Closes every client connection of every member; sessions stay alive.
    pub async fn drop_client_connections(&self) -> Result<()> {
        for m in &self.members {
            if m.running.is_some() {
                m.ask(Command::DropConnections).await?;
            }
        }
        Ok(())
    }

    /// Stops every member (connections close; state is kept for restart).
    pub async fn stop(&mut self) {
        for m in &mut self.members {
            m.stop().await;
        }
    }

    /// Restarts every member on its port, rebuilding its state by replaying
    /// its applied log (sessions included: clients can reattach).
    pub async fn restart(&mut self) -> Result<()> {
        self.stop().await;
        for m in &mut self.members {
            m.start().await?;
        }
        Ok(())
    }

    /// Digest of the first member's data tree (equal on members in sync).
    pub async fn digest(&self) -> Result<u64> {
        Ok(self.leader().inspect().await?.digest)
    }

    /// Zxid of the last transaction the first member applied.
    pub async fn last_zxid(&self) -> Result<i64> {
        Ok(self.leader().inspect().await?.last_zxid)
    }

    /// Live sessions.
    pub async fn sessions(&self) -> Result<Vec<SessionInfo>> {
        Ok(self
            .leader()
            .inspect()
            .await?
            .sessions
            .into_iter()
            .map(|(id, t)| SessionInfo {
                id,
                timeout: Duration::from_millis(u64::try_from(t).unwrap_or(0)),
            })
            .collect())
    }
}
