//! The tokio task that runs one [`SessionMachine`]: it owns the socket,
//! moves bytes and time into the machine, writes what the machine wants
//! sent, and connects to the next server when the machine asks for a
//! transport.

use super::hosts::HostOrder;
use super::machine::{Reply, ReplySink, SessionEvent, SessionMachine, WatchRequest};
use super::pacing::{Doubling, ReconnectPacer};
use super::state::ConnectionState;
use crate::error::Error;
use crate::proto::{AuthPacket, Request};
use crate::transport::{Connector, Reader, Transport, Writer};
use crate::watch::{EventSender, WatchEvent, WatchKind, WatchSink, WatcherId};
use bytes::BytesMut;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{broadcast, mpsc, oneshot, watch};
use tokio::time::Instant;

/// Delivers a request's outcome to the task awaiting it.
pub(crate) struct ReplySender(Option<oneshot::Sender<Result<Reply, Error>>>);

impl ReplySender {
    pub(crate) fn new() -> (ReplySender, oneshot::Receiver<Result<Reply, Error>>) {
        let (tx, rx) = oneshot::channel();
        (ReplySender(Some(tx)), rx)
    }

    /// A sink for requests whose outcome nobody awaits.
    pub(crate) fn ignore() -> ReplySender {
        ReplySender(None)
    }
}

impl ReplySink for ReplySender {
    fn complete(self, result: Result<Reply, Error>) {
        if let Some(tx) = self.0 {
            // The caller may have stopped waiting (deadline, dropped future).
            let _ = tx.send(result);
        }
    }
}

/// Delivers watch events to a one-shot future or a persistent stream.
pub(crate) enum WatchSender {
    /// Resolves a [`crate::watch::OneshotWatch`].
    OneShot(Option<oneshot::Sender<Box<WatchEvent>>>),
    /// Feeds a [`crate::watch::PersistentWatch`] (bounded; overflow is
    /// marked with a `Resync`).
    Stream(EventSender),
}

impl WatchSink for WatchSender {
    fn deliver(&mut self, event: WatchEvent) -> bool {
        match self {
            WatchSender::OneShot(tx) => {
                if let Some(tx) = tx.take() {
                    let _ = tx.send(Box::new(event));
                }
                false
            }
            WatchSender::Stream(tx) => tx.deliver(event),
        }
    }

    fn is_alive(&self) -> bool {
        match self {
            WatchSender::OneShot(tx) => tx.as_ref().is_some_and(|tx| !tx.is_closed()),
            WatchSender::Stream(tx) => tx.is_alive(),
        }
    }
}

/// A request from a [`crate::Client`] handle to its connection task.
pub(crate) enum Command {
    Submit {
        request: Request,
        watch: Option<(WatchKind, WatchRequest<WatchSender>)>,
        reply: ReplySender,
    },
    AddAuth {
        packet: AuthPacket,
        reply: ReplySender,
    },
    RemoveLocalWatches {
        path: String,
        watcher_type: crate::proto::WatcherType,
        reply: oneshot::Sender<usize>,
    },
    NewSession,
    /// Replace the host list (dynamic reconfiguration); the connection is
    /// kept if its server is still listed.
    UpdateHosts {
        hosts: Vec<(String, u16)>,
        reply: oneshot::Sender<()>,
    },
}

/// What the connection task publishes for the handles.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SessionInfo {
    pub(crate) state: ConnectionState,
    pub(crate) session_id: i64,
    pub(crate) timeout: Duration,
    pub(crate) server: Option<SocketAddr>,
}

/// State shared between the handles and the connection task.
pub(crate) struct Shared {
    pub(crate) info: watch::Sender<SessionInfo>,
    pub(crate) transitions: broadcast::Sender<ConnectionState>,
    pub(crate) last_zxid: AtomicI64,
    pub(crate) password: std::sync::Mutex<bytes::Bytes>,
    /// Why the latest connection attempt failed, for the error of a
    /// `connect` that times out or fails authentication.
    pub(crate) last_connect_error: std::sync::Mutex<Option<ConnectFailure>>,
    /// Requests the task holds (in flight or queued), as of its last turn.
    pub(crate) pending: std::sync::atomic::AtomicUsize,
    /// Registered watchers, as of the task's last turn.
    pub(crate) watchers: std::sync::atomic::AtomicUsize,
}

/// Why a connection attempt did not end in a session.
#[derive(Debug)]
pub(crate) struct ConnectFailure {
    /// `host:port` as the connect string named it.
    pub(crate) host: String,
    /// What went wrong.
    pub(crate) cause: FailureCause,
}

/// The cause in a [`ConnectFailure`].
#[derive(Debug)]
pub(crate) enum FailureCause {
    /// Connecting, reading or writing failed (refused, unknown host, reset,
    /// closed by the server, a TLS handshake or certificate failure).
    Io(std::io::Error),
    /// The transport worked but the handshake did not (timed out, answered
    /// with garbage, refused by the server).
    Handshake(String),
    /// The server rejected the client's SASL credentials.
    Auth(String),
}

/// Settings the task needs besides the machine's.
pub(crate) struct DriverConfig {
    pub(crate) connect_timeout: Duration,
    pub(crate) renew_session_on_expiry: bool,
    /// Requests the task holds (sent and awaiting replies, or queued while
    /// disconnected) beyond which it stops taking new ones: callers then
    /// wait for room in the bounded command channel.
    pub(crate) max_pending: usize,
    /// Opens connections (plain TCP or TLS).
    pub(crate) connector: Connector,
}

/// The receiving ends of the channels from the handles.
pub(crate) struct Inbox {
    /// Requests and other commands (bounded).
    pub(crate) commands: mpsc::Receiver<Command>,
    /// `close` calls (bounded; never held back by a full machine, so a
    /// close always gets through).
    pub(crate) closes: mpsc::Receiver<ReplySender>,
    /// Ids of watch handles dropped before their watch ended. Unbounded,
    /// but each handle sends its id at most once, so it never holds more
    /// than there are watch handles.
    pub(crate) unwatch: mpsc::UnboundedReceiver<WatcherId>,
}

type ConnectFuture = Pin<Box<dyn std::future::Future<Output = ConnectOutcome> + Send>>;

type ProbeFuture = Pin<Box<dyn std::future::Future<Output = Option<(String, u16)>> + Send>>;

/// A saturated task takes new commands again once this fraction of
/// `max_pending` (1/8) is free.
const RESUME_FREE: usize = 8;

/// The pause before each probe for a read-write server while connected to
/// a read-only one: 100 ms, doubling up to 10 s.
const PROBE_PAUSE: Doubling = Doubling::new(Duration::from_millis(100), Duration::from_secs(10));

struct ConnectOutcome {
    result: std::io::Result<Transport>,
    host: String,
}

/// The connection task.
pub(crate) struct Driver {
    machine: SessionMachine<ReplySender, WatchSender>,
    inbox: Inbox,
    hosts: HostOrder<(String, u16)>,
    shared: Arc<Shared>,
    config: DriverConfig,
    reader: Option<Reader>,
    writer: Option<Writer>,
    /// Bytes were written since the writer was last flushed (a TLS writer
    /// holds back part of a record until flushed).
    unflushed: bool,
    write_buf: BytesMut,
    /// Wakes the task for the machine's next deadline. Kept across turns
    /// and moved only to an earlier deadline: one that passes early just
    /// makes the machine find nothing due and a later deadline is armed
    /// then, instead of registering a new timer every turn.
    timer: Option<Pin<Box<tokio::time::Sleep>>>,
    /// The deadline `timer` is armed for (None: not armed).
    timer_at: Option<Instant>,
    connecting: Option<ConnectFuture>,
    server: Option<SocketAddr>,
    pacer: ReconnectPacer,
    /// Taking no commands until the machine holds fewer requests (see
    /// [`Driver::saturated`]).
    paused: bool,
    commands_closed: bool,
    closes_closed: bool,
    unwatch_closed: bool,
    probe: Option<ProbeFuture>,
    /// Probes started since the last reset (the round of [`PROBE_PAUSE`]).
    probe_round: u32,
    preferred: Option<(String, u16)>,
    ever_connected: bool,
}

impl Driver {
    pub(crate) fn new(
        machine: SessionMachine<ReplySender, WatchSender>,
        inbox: Inbox,
        hosts: HostOrder<(String, u16)>,
        shared: Arc<Shared>,
        config: DriverConfig,
    ) -> Driver {
        let pacer = ReconnectPacer::new(hosts.len());
        Driver {
            machine,
            inbox,
            hosts,
            shared,
            config,
            reader: None,
            writer: None,
            unflushed: false,
            write_buf: BytesMut::with_capacity(64 * 1024),
            timer: None,
            timer_at: None,
            connecting: None,
            server: None,
            pacer,
            paused: false,
            commands_closed: false,
            closes_closed: false,
            unwatch_closed: false,
            probe: None,
            probe_round: 0,
            preferred: None,
            ever_connected: false,
        }
    }

    fn now() -> std::time::Instant {
        Instant::now().into_std()
    }

    /// Runs until the session is closed (or every handle is gone and the
    /// session ended).
    pub(crate) async fn run(mut self) {
        loop {
            self.drain_machine();
            if self.machine.is_ended()
                && (self.machine.state() == ConnectionState::Closed || self.commands_closed)
            {
                self.flush_best_effort().await;
                return;
            }
            if self.machine.wants_transport() && self.reader.is_none() && self.connecting.is_none()
            {
                self.start_connect();
            }
            if self.machine.state() == ConnectionState::ReadOnly && self.probe.is_none() {
                self.start_probe();
            }
            self.arm_timer();
            let has_output = !self.write_buf.is_empty() || self.unflushed;
            tokio::select! {
                cmd = self.inbox.commands.recv(), if !self.commands_closed && !self.saturated() => {
                    match cmd {
                        Some(cmd) => {
                            let now = Self::now();
                            self.apply(now, cmd);
                            // Take what is already queued so it goes out in one write.
                            while !self.saturated() {
                                let Ok(cmd) = self.inbox.commands.try_recv() else {
                                    break;
                                };
                                self.apply(now, cmd);
                            }
                        }
                        None => {
                            self.commands_closed = true;
                            self.machine.close(Self::now(), ReplySender::ignore());
                        }
                    }
                }
                reply = self.inbox.closes.recv(), if !self.closes_closed => match reply {
                    Some(reply) => {
                        let now = Self::now();
                        // What was submitted before the close goes first.
                        while let Ok(cmd) = self.inbox.commands.try_recv() {
                            self.apply(now, cmd);
                        }
                        self.machine.close(now, reply);
                    }
                    None => self.closes_closed = true,
                },
                id = self.inbox.unwatch.recv(), if !self.unwatch_closed => match id {
                    Some(id) => self.machine.remove_watcher(id),
                    None => self.unwatch_closed = true,
                },
                n = read_some(&mut self.reader, self.machine.read_buffer()) => {
                    let now = Self::now();
                    match n {
                        Ok(0) => {
                            tracing::debug!("server closed the connection");
                            let closed = self.config.connector.handshake_failure(
                                "the server closed the connection during the handshake",
                            );
                            self.note_handshake_failure(FailureCause::Io(closed));
                            self.drop_transport();
                            self.machine.transport_closed(now);
                        }
                        Ok(_) => self.machine.handle_read(now),
                        Err(e) => {
                            tracing::debug!(error = %e, "read failed");
                            self.note_handshake_failure(FailureCause::Io(e));
                            self.drop_transport();
                            self.machine.transport_closed(now);
                        }
                    }
                }
                w = write_some(&mut self.writer, &mut self.write_buf, &mut self.unflushed), if has_output => {
                    if let Err(e) = w {
                        tracing::debug!(error = %e, "write failed");
                        self.note_handshake_failure(FailureCause::Io(e));
                        self.drop_transport();
                        self.machine.transport_closed(Self::now());
                    }
                }
                outcome = poll_connect(&mut self.connecting) => {
                    self.connecting = None;
                    self.finish_connect(outcome);
                }
                found = poll_probe(&mut self.probe) => {
                    self.probe = None;
                    self.finish_probe(found);
                }
                _ = poll_timer(&mut self.timer), if self.timer_at.is_some() => {
                    self.timer_at = None;
                    self.machine.handle_timeout(Self::now());
                }
            }
        }
    }

    /// Arms the timer for the machine's next deadline if it is not armed
    /// yet or armed for a later one.
    fn arm_timer(&mut self) {
        let Some(deadline) = self.machine.poll_timeout().map(Instant::from_std) else {
            return;
        };
        if self.timer_at.is_some_and(|at| at <= deadline) {
            return;
        }
        match &mut self.timer {
            Some(timer) => timer.as_mut().reset(deadline),
            None => self.timer = Some(Box::pin(tokio::time::sleep_until(deadline))),
        }
        self.timer_at = Some(deadline);
    }

    fn apply(&mut self, now: std::time::Instant, cmd: Command) {
        match cmd {
            Command::Submit {
                request,
                watch,
                reply,
            } => self.machine.submit(now, request, watch, reply),
            Command::AddAuth { packet, reply } => self.machine.add_auth(now, packet, reply),
            Command::RemoveLocalWatches {
                path,
                watcher_type,
                reply,
            } => {
                let n = self.machine.remove_local_watches(&path, watcher_type);
                let _ = reply.send(n);
            }
            Command::NewSession => self.machine.start_new_session(now),
            Command::UpdateHosts { hosts, reply } => {
                self.update_hosts(now, hosts);
                let _ = reply.send(());
            }
        }
    }

    /// Takes a new host list. A connection to a server no longer listed is
    /// dropped, so the session moves to a listed one.
    fn update_hosts(&mut self, now: std::time::Instant, hosts: Vec<(String, u16)>) {
        if hosts.is_empty() {
            return;
        }
        let listed = |addr: SocketAddr| {
            hosts.iter().any(|(h, p)| {
                *p == addr.port()
                    && match h.trim_matches(['[', ']']).parse::<std::net::IpAddr>() {
                        Ok(ip) => ip == addr.ip(),
                        // A name: trust it (resolving here would block).
                        Err(_) => true,
                    }
            })
        };
        let keep = self.server.is_some_and(listed);
        let Some(order) = HostOrder::new(hosts, &mut rand::rng()) else {
            return;
        };
        self.hosts = order;
        self.preferred = None;
        if self.reader.is_some() && !keep {
            tracing::info!(server = ?self.server, "server left the host list; moving");
            self.drop_transport();
            self.machine.transport_closed(now);
        }
    }

    /// Whether the task takes no new commands now (they wait in the
    /// bounded channel meanwhile): from the moment the machine holds as many
    /// requests as it may until `max_pending / `[`RESUME_FREE`] places are
    /// free, or nothing is in flight (no reply will free more). Taking
    /// commands again only once a batch of room is free keeps a client that
    /// runs at the limit sending requests in batches, one write each, rather
    /// than one request (and one write and one turn) per reply.
    fn saturated(&mut self) -> bool {
        let held = self.machine.in_flight() + self.machine.queued_requests();
        let max = self.config.max_pending;
        if held >= max {
            self.paused = true;
        } else if self.paused && (held <= max - max / RESUME_FREE || self.machine.in_flight() == 0)
        {
            // Room enough, or no reply on the way to make more.
            self.paused = false;
        }
        self.paused
    }

    /// Moves the machine's output into the write buffer and acts on its events.
    fn drain_machine(&mut self) {
        loop {
            if self.writer.is_some() {
                self.machine.transmit_into(&mut self.write_buf);
            } else {
                // Nothing to send it on; the machine resends what matters.
                let _ = self.machine.poll_transmit();
            }
            let Some(event) = self.machine.poll_event() else {
                break;
            };
            match event {
                SessionEvent::State(state) => self.publish_state(state),
                SessionEvent::Disconnect(reason) => {
                    tracing::debug!(%reason, "closing connection");
                    if self.machine.state() == ConnectionState::AuthFailed {
                        // For connect's error: why the credentials failed.
                        let host = self.server.map(|a| a.to_string()).unwrap_or_default();
                        self.record_connect_failure(host, FailureCause::Auth(reason));
                    } else if self.reader.is_some() {
                        let hint = self.config.connector.plaintext_hint();
                        self.note_handshake_failure(FailureCause::Handshake(format!(
                            "{reason}{hint}"
                        )));
                    }
                    self.drop_transport();
                    // The machine already knows; this is idempotent for it.
                    self.machine.transport_closed(Self::now());
                }
                SessionEvent::Unwatch { path, watcher_type } => {
                    self.machine.remove_server_watch(
                        Self::now(),
                        path,
                        watcher_type,
                        ReplySender::ignore(),
                    );
                }
            }
        }
        self.shared
            .last_zxid
            .fetch_max(self.machine.last_zxid(), Ordering::Relaxed);
        let pending = self.machine.in_flight() + self.machine.queued_requests();
        self.shared.pending.store(pending, Ordering::Relaxed);
        let watchers = self.machine.watcher_count();
        self.shared.watchers.store(watchers, Ordering::Relaxed);
    }

    fn publish_state(&mut self, state: ConnectionState) {
        tracing::info!(
            ?state,
            session_id = format_args!("{:#x}", self.machine.session_id()),
            "connection state"
        );
        if state.is_connected() {
            self.pacer
                .session_established(Self::now(), self.machine.negotiated_timeout());
            if let Ok(mut last) = self.shared.last_connect_error.lock() {
                *last = None;
            }
            if state != ConnectionState::ReadOnly {
                self.probe = None;
                self.probe_round = 0;
            }
            if let Ok(mut pw) = self.shared.password.lock() {
                *pw = self.machine.password().clone();
            }
        }
        self.shared.info.send_replace(SessionInfo {
            state,
            session_id: self.machine.session_id(),
            timeout: self.machine.negotiated_timeout(),
            server: if state.is_connected() {
                self.server
            } else {
                None
            },
        });
        let _ = self.shared.transitions.send(state);
        if state.is_connected() {
            self.ever_connected = true;
        }
        // Renew only a session that was established: an attached session
        // found dead at the first handshake fails `connect` instead.
        if state == ConnectionState::Lost
            && self.config.renew_session_on_expiry
            && self.ever_connected
        {
            self.machine.start_new_session(Self::now());
        }
    }

    fn drop_transport(&mut self) {
        self.reader = None;
        self.writer = None;
        self.unflushed = false;
        self.write_buf.clear();
    }

    fn start_connect(&mut self) {
        let (host, port) = match self.preferred.take() {
            Some(found) => found,
            None => self.hosts.next_host(),
        };
        let delay = self.pacer.next_attempt(Self::now(), &mut rand::rng());
        let timeout = self.config.connect_timeout;
        let connector = self.config.connector.clone();
        self.connecting = Some(Box::pin(async move {
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            ConnectOutcome {
                result: connector.connect(&host, port, timeout).await,
                host: format!("{host}:{port}"),
            }
        }));
    }

    fn finish_connect(&mut self, outcome: ConnectOutcome) {
        match outcome.result {
            Ok(Transport {
                reader,
                writer,
                addr,
            }) => {
                tracing::debug!(%addr, "connected");
                self.reader = Some(reader);
                self.writer = Some(writer);
                self.server = Some(addr);
                self.machine.transport_connected(Self::now());
            }
            Err(e) => {
                tracing::debug!(host = %outcome.host, error = %e, "connect failed");
                self.record_connect_failure(outcome.host, FailureCause::Io(e));
            }
        }
    }

    /// Records why a connection that had not yet completed its handshake
    /// ended (nothing is recorded once a session is up on it).
    fn note_handshake_failure(&mut self, cause: FailureCause) {
        let handshaking = matches!(
            self.machine.state(),
            ConnectionState::Connecting | ConnectionState::Suspended
        );
        if self.reader.is_none() || !handshaking {
            return;
        }
        let host = self.server.map(|a| a.to_string()).unwrap_or_default();
        self.record_connect_failure(host, cause);
    }

    fn record_connect_failure(&mut self, host: String, cause: FailureCause) {
        if let Ok(mut last) = self.shared.last_connect_error.lock() {
            *last = Some(ConnectFailure { host, cause });
        }
    }

    /// While on a read-only server, asks the next host whether it serves
    /// read-write (`isro`), backing off between rounds as ZooKeeper's client does.
    fn start_probe(&mut self) {
        let (host, port) = self.hosts.next_host();
        let delay = PROBE_PAUSE.delay(self.probe_round);
        self.probe_round = self.probe_round.saturating_add(1);
        let current = self.server;
        let timeout = self.config.connect_timeout;
        let connector = self.config.connector.clone();
        self.probe = Some(Box::pin(async move {
            tokio::time::sleep(delay).await;
            let transport = connector.connect(&host, port, timeout).await.ok()?;
            if Some(transport.addr) == current {
                return None;
            }
            let answer = tokio::time::timeout(timeout, ask_isro(transport))
                .await
                .ok()??;
            (answer == "rw").then_some((host, port))
        }));
    }

    fn finish_probe(&mut self, found: Option<(String, u16)>) {
        let Some((host, port)) = found else {
            return;
        };
        if self.machine.state() != ConnectionState::ReadOnly {
            return;
        }
        tracing::info!(%host, port, "found a read-write server; leaving the read-only one");
        self.preferred = Some((host, port));
        self.probe_round = 0;
        self.drop_transport();
        self.machine.transport_closed(Self::now());
    }

    async fn flush_best_effort(&mut self) {
        self.machine.transmit_into(&mut self.write_buf);
        if let Some(w) = self.writer.as_mut() {
            let _ = tokio::time::timeout(Duration::from_millis(100), async {
                w.write_all(&self.write_buf).await?;
                w.flush().await
            })
            .await;
        }
    }
}

async fn read_some(reader: &mut Option<Reader>, buf: &mut BytesMut) -> std::io::Result<usize> {
    match reader {
        // The machine's buffer comes with room for the read.
        Some(r) => r.read_buf(buf).await,
        None => std::future::pending().await,
    }
}

/// Writes some of `buf`; once it is empty, flushes the writer. Cancel safe:
/// what was written is gone from `buf`, and `unflushed` stays set until a
/// flush completes.
async fn write_some(
    writer: &mut Option<Writer>,
    buf: &mut BytesMut,
    unflushed: &mut bool,
) -> std::io::Result<()> {
    match writer {
        Some(w) => {
            if !buf.is_empty() {
                let n = w.write_buf(buf).await?;
                if n == 0 {
                    return Err(std::io::ErrorKind::WriteZero.into());
                }
                *unflushed = true;
            }
            if buf.is_empty() {
                w.flush().await?;
                *unflushed = false;
            }
            Ok(())
        }
        None => std::future::pending().await,
    }
}

async fn poll_connect(connecting: &mut Option<ConnectFuture>) -> ConnectOutcome {
    match connecting {
        Some(f) => f.await,
        None => std::future::pending().await,
    }
}

async fn poll_probe(probe: &mut Option<ProbeFuture>) -> Option<(String, u16)> {
    match probe {
        Some(f) => f.await,
        None => std::future::pending().await,
    }
}

/// Sends the `isro` four-letter word and returns the answer (`ro` or `rw`).
async fn ask_isro(mut transport: Transport) -> Option<String> {
    transport.writer.write_all(b"isro").await.ok()?;
    transport.writer.flush().await.ok()?;
    let mut answer = Vec::new();
    transport.reader.read_to_end(&mut answer).await.ok()?;
    String::from_utf8(answer).ok().map(|s| s.trim().to_string())
}

async fn poll_timer(timer: &mut Option<Pin<Box<tokio::time::Sleep>>>) {
    match timer {
        Some(t) => t.as_mut().await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    /// A writer that, like a TLS stream, accepts bytes at once but holds
    /// them back until flushed.
    #[derive(Default)]
    struct HoldsUntilFlushed {
        held: Vec<u8>,
        sent: std::sync::Arc<std::sync::Mutex<Vec<u8>>>,
    }

    impl tokio::io::AsyncWrite for HoldsUntilFlushed {
        fn poll_write(
            mut self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
            buf: &[u8],
        ) -> std::task::Poll<std::io::Result<usize>> {
            self.held.extend_from_slice(buf);
            std::task::Poll::Ready(Ok(buf.len()))
        }

        fn poll_flush(
            mut self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<std::io::Result<()>> {
            let held = std::mem::take(&mut self.held);
            self.sent.lock().unwrap().extend_from_slice(&held);
            std::task::Poll::Ready(Ok(()))
        }

        fn poll_shutdown(
            self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<std::io::Result<()>> {
            std::task::Poll::Ready(Ok(()))
        }
    }

    #[tokio::test]
    async fn written_bytes_are_flushed_once_the_buffer_is_empty() {
        let writer = HoldsUntilFlushed::default();
        let sent = writer.sent.clone();
        let mut writer: Option<crate::transport::Writer> = Some(Box::new(writer));
        let mut buf = bytes::BytesMut::from(&b"a request frame"[..]);
        let mut unflushed = false;
        super::write_some(&mut writer, &mut buf, &mut unflushed)
            .await
            .unwrap();
        assert!(buf.is_empty() && !unflushed);
        assert_eq!(&sent.lock().unwrap()[..], b"a request frame");
    }
}
