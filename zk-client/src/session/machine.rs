//! The session state machine: handshake, request pipelining, replies,
//! notifications, heartbeats, dead-connection detection, reconnection and
//! expiry — with no I/O.

use super::config::SessionConfig;
use super::sasl::{SaslOutcome, SaslRun};
use super::state::ConnectionState;
use super::timers::{Timer, Timers};
use crate::error::Error;
use crate::proto::{
    decode_reply_header, encode_record, encode_request_into, xid, AuthPacket, ConnectRequest,
    ConnectResponse, ErrorCode, EventType, FrameDecoder, OpCode, Reader, Record, Request, Response,
    WatcherEvent, WatcherType, PASSWORD_LEN,
};
use crate::proto::{ReplyHeader, SaslPacket};
use crate::watch::{WatchEvent, WatchKind, WatchRegistry, WatchSink, WatcherId};
use bytes::{Bytes, BytesMut};
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// A successful reply: the server's zxid and the decoded body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// The zxid in the reply header.
    pub zxid: i64,
    /// The body.
    pub response: Response,
}

/// Where a request's outcome goes.
pub trait ReplySink {
    /// Hands over the outcome; called exactly once per submitted request.
    fn complete(self, result: Result<Reply, Error>);
}

/// A watcher to register if (and only if) the request succeeds.
pub struct WatchRequest<W> {
    /// Identifies the watcher, so its handle can unregister it.
    pub id: WatcherId,
    /// Where its events go.
    pub sink: W,
}

/// Something the driver must act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionEvent {
    /// The connection state changed.
    State(ConnectionState),
    /// Close the current transport (dead, timed out, or the peer misbehaved).
    /// If [`SessionMachine::wants_transport`] is still true afterwards,
    /// connect to the next server.
    Disconnect(String),
    /// The server's persistent watch of this kind on this path is no longer
    /// needed (its last local watcher is gone): the driver may remove it with
    /// a removeWatches request.
    Unwatch {
        /// Server path.
        path: String,
        /// Persistent or PersistentRecursive.
        watcher_type: WatcherType,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// No transport; waiting for the driver to connect one.
    Disconnected,
    /// ConnectRequest sent; waiting for the ConnectResponse.
    Handshaking,
    /// Session granted; the SASL exchange runs before anything else.
    Authenticating,
    /// Session established on the current transport.
    Connected,
    /// closeSession sent.
    Closing,
    /// The session is over (state says why).
    Ended,
}

struct Outgoing<R, W> {
    request: Request,
    sink: R,
    watch: Option<(WatchKind, WatchRequest<W>)>,
}

struct Pending<R, W> {
    xid: i32,
    op: OpCode,
    path: Option<String>,
    remove_type: Option<WatcherType>,
    sink: R,
    watch: Option<(WatchKind, WatchRequest<W>)>,
    /// The watch's handle was dropped while the request was in flight: no
    /// watcher is registered for it, and a persistent watch the server
    /// adds anyway is removed again.
    abandoned_watch: Option<WatchKind>,
}

/// One ZooKeeper session, as a pure state machine.
///
/// Time enters only through `now` arguments; bytes enter through
/// [`handle_bytes`](Self::handle_bytes) and leave through
/// [`poll_transmit`](Self::poll_transmit). Replies and watch events are
/// handed to the sinks supplied with each request, in server order: a
/// write's notifications reach their watchers before the write's reply
/// reaches its sink.
///
/// Method groups, in the order a driver uses them:
/// - transport lifecycle: [`wants_transport`](Self::wants_transport),
///   [`transport_connected`](Self::transport_connected),
///   [`transport_closed`](Self::transport_closed);
/// - input: [`handle_bytes`](Self::handle_bytes),
///   [`handle_timeout`](Self::handle_timeout);
/// - user requests: [`submit`](Self::submit), [`add_auth`](Self::add_auth),
///   [`remove_watcher`](Self::remove_watcher), [`close`](Self::close),
///   [`start_new_session`](Self::start_new_session);
/// - output, polled after every input until empty:
///   [`poll_transmit`](Self::poll_transmit), [`poll_event`](Self::poll_event),
///   then [`poll_timeout`](Self::poll_timeout) to arm the timer;
/// - getters: [`state`](Self::state), [`session_id`](Self::session_id),
///   [`negotiated_timeout`](Self::negotiated_timeout),
///   [`last_zxid`](Self::last_zxid).
pub struct SessionMachine<R, W> {
    config: SessionConfig,
    phase: Phase,
    state: ConnectionState,
    session_id: i64,
    password: Bytes,
    negotiated: Duration,
    last_zxid: i64,
    /// Whether the session was ever confirmed by a read-write server. A
    /// session handed out by a read-only server is local to it, so it is
    /// not offered to other servers (as ZooKeeper's client does).
    seen_rw: bool,
    /// The session id the current handshake offered (0: asked for a new one).
    offered_session: i64,
    next_xid: i32,
    queued: VecDeque<Outgoing<R, W>>,
    pending: VecDeque<Pending<R, W>>,
    auth: Vec<AuthPacket>,
    auth_waiters: Vec<(usize, R)>,
    pending_auth: VecDeque<Option<R>>,
    close_sink: Option<R>,
    watches: WatchRegistry<W>,
    decoder: FrameDecoder,
    /// Frames not yet taken by the driver, back to back.
    transmit: BytesMut,
    events: VecDeque<SessionEvent>,
    timers: Timers,
    last_send: Instant,
    last_recv: Instant,
    last_heard: Option<Instant>,
    /// The SASL exchange of the current connection.
    sasl: Option<SaslRun>,
}

impl<R: ReplySink, W: WatchSink> SessionMachine<R, W> {
    /// A machine that will open a new session on the first transport.
    pub fn new(config: SessionConfig, now: Instant) -> Self {
        let max_frame = config.max_frame;
        let (session_id, password) = config
            .attach
            .clone()
            .unwrap_or((0, Bytes::from_static(&[0; PASSWORD_LEN])));
        SessionMachine {
            config,
            phase: Phase::Disconnected,
            state: ConnectionState::Connecting,
            session_id,
            password,
            negotiated: Duration::ZERO,
            last_zxid: 0,
            seen_rw: session_id != 0,
            offered_session: 0,
            next_xid: 1,
            queued: VecDeque::new(),
            pending: VecDeque::new(),
            auth: Vec::new(),
            auth_waiters: Vec::new(),
            pending_auth: VecDeque::new(),
            close_sink: None,
            watches: WatchRegistry::new(),
            decoder: FrameDecoder::new(max_frame),
            transmit: BytesMut::new(),
            events: VecDeque::new(),
            timers: Timers::default(),
            last_send: now,
            last_recv: now,
            last_heard: None,
            sasl: None,
        }
    }

    // ----- getters -----

    /// The current connection state.
    pub fn state(&self) -> ConnectionState {
        self.state
    }

    /// The session id (0 before the first handshake).
    pub fn session_id(&self) -> i64 {
        self.session_id
    }

    /// The session password.
    pub fn password(&self) -> &Bytes {
        &self.password
    }

    /// The timeout the server granted (zero before the first handshake).
    pub fn negotiated_timeout(&self) -> Duration {
        self.negotiated
    }

    /// The highest zxid seen from any server.
    pub fn last_zxid(&self) -> i64 {
        self.last_zxid
    }

    /// Requests sent and awaiting replies.
    pub fn in_flight(&self) -> usize {
        self.pending.len()
    }

    /// Requests waiting for a connection (submitted while disconnected).
    pub fn queued_requests(&self) -> usize {
        self.queued.len()
    }

    /// Registered watchers.
    pub fn watcher_count(&self) -> usize {
        self.watches.len()
    }

    /// Whether the driver should open a transport (none is open and the
    /// session is not over).
    pub fn wants_transport(&self) -> bool {
        self.phase == Phase::Disconnected
    }

    /// Whether the session is over and no transport is needed any more.
    pub fn is_ended(&self) -> bool {
        self.phase == Phase::Ended
    }

    // ----- transport lifecycle -----

    /// The driver connected a transport: send the handshake.
    pub fn transport_connected(&mut self, now: Instant) {
        if self.phase != Phase::Disconnected {
            return;
        }
        self.decoder.clear();
        self.transmit.clear();
        self.phase = Phase::Handshaking;
        let (session_id, password) = if self.seen_rw {
            (self.session_id, self.password.clone())
        } else {
            (0, Bytes::from_static(&[0; PASSWORD_LEN]))
        };
        self.offered_session = session_id;
        let request = ConnectRequest {
            protocol_version: 0,
            last_zxid_seen: self.last_zxid,
            timeout_ms: millis_i32(self.config.session_timeout),
            session_id,
            password,
            read_only: Some(self.config.read_only),
        };
        self.send(now, encode_record(&request));
        self.last_recv = now;
        self.timers
            .set(Timer::Handshake, now + self.config.connect_timeout);
    }

    /// The transport closed (EOF, error, or after a [`SessionEvent::Disconnect`]).
    pub fn transport_closed(&mut self, now: Instant) {
        match self.phase {
            Phase::Disconnected | Phase::Ended => return,
            Phase::Closing => {
                self.end(ConnectionState::Closed);
                return;
            }
            Phase::Handshaking | Phase::Authenticating | Phase::Connected => {}
        }
        self.sasl = None;
        let was_connected = self.phase == Phase::Connected;
        self.phase = Phase::Disconnected;
        self.transmit.clear();
        self.decoder.clear();
        self.timers.stop(Timer::Handshake);
        self.timers.stop(Timer::Ping);
        self.timers.stop(Timer::Read);
        self.fail_in_flight(Error::connection_loss);
        if was_connected {
            self.set_state(ConnectionState::Suspended);
        }
        self.arm_session_loss(now);
        // The loss deadline may already have passed (a long handshake).
        self.check_session_loss(now);
    }

    // ----- input -----

    /// Feeds bytes read from the transport.
    pub fn handle_bytes(&mut self, now: Instant, bytes: &[u8]) {
        if !self.reading() {
            return;
        }
        self.decoder.extend(bytes);
        self.handle_read(now);
    }

    /// The buffer a driver reads transport bytes into (then calls
    /// [`handle_read`](Self::handle_read)), instead of passing them to
    /// [`handle_bytes`](Self::handle_bytes): the rest of a large frame is
    /// then read in place, with no copy (see [`FrameDecoder::read_buffer`]).
    pub fn read_buffer(&mut self) -> &mut BytesMut {
        self.decoder.read_buffer()
    }

    /// Processes the bytes a driver read into [`read_buffer`](Self::read_buffer).
    pub fn handle_read(&mut self, now: Instant) {
        if !self.reading() {
            // No transport is expected to deliver anything now.
            self.decoder.clear();
            return;
        }
        self.last_recv = now;
        loop {
            if !self.reading() {
                return;
            }
            let frame = match self.decoder.next_frame() {
                Ok(Some(frame)) => frame,
                Ok(None) => break,
                Err(e) => {
                    self.protocol_violation(now, format!("bad frame from server: {e}"));
                    return;
                }
            };
            if self.phase == Phase::Handshaking {
                self.handle_connect_response(now, frame);
            } else {
                self.handle_frame(now, frame);
            }
        }
        self.rearm_connected_timers();
    }

    /// Whether bytes from the transport are expected (a handshake or a
    /// session is under way on it).
    fn reading(&self) -> bool {
        matches!(
            self.phase,
            Phase::Handshaking | Phase::Authenticating | Phase::Connected | Phase::Closing
        )
    }

    /// The timer from [`poll_timeout`](Self::poll_timeout) fired.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.timers.expired(Timer::Close, now) {
            self.timers.stop(Timer::Close);
            self.end(ConnectionState::Closed);
            self.events
                .push_back(SessionEvent::Disconnect("close timed out".into()));
            return;
        }
        if self.timers.expired(Timer::Handshake, now) {
            self.timers.stop(Timer::Handshake);
            self.events
                .push_back(SessionEvent::Disconnect("handshake timed out".into()));
            self.transport_closed(now);
            return;
        }
        if self.timers.expired(Timer::Read, now) {
            self.timers.stop(Timer::Read);
            let silent = now.saturating_duration_since(self.last_recv);
            self.events.push_back(SessionEvent::Disconnect(format!(
                "no response from server for {} ms",
                silent.as_millis()
            )));
            self.transport_closed(now);
            return;
        }
        if self.timers.expired(Timer::Ping, now) && self.phase == Phase::Connected {
            self.send_request(now, xid::PING, &Request::Ping);
        }
        self.check_session_loss(now);
        self.rearm_connected_timers();
    }

    // ----- user requests -----

    /// Queues a request. With `watch`, a watcher of `WatchKind` is registered
    /// when the request succeeds (for exists: `Data` on an existing node,
    /// `Exist` on a missing one, whatever kind is passed).
    pub fn submit(
        &mut self,
        now: Instant,
        request: Request,
        watch: Option<(WatchKind, WatchRequest<W>)>,
        sink: R,
    ) {
        if let Some(err) = self.ended_error() {
            sink.complete(Err(err));
            return;
        }
        if self.phase == Phase::Closing {
            sink.complete(Err(Error::closed()));
            return;
        }
        // removeWatches and checkWatches are checked against local watchers
        // first, as ZooKeeper's client does.
        if let Request::RemoveWatches(r) | Request::CheckWatches(r) = &request {
            let known = WatcherType::from_code(r.watcher_type)
                .is_ok_and(|t| self.watches.has_matching(&r.path, t));
            if !known {
                sink.complete(Err(
                    Error::code_error(ErrorCode::NoWatcher).with_path(r.path.clone())
                ));
                return;
            }
        }
        let out = Outgoing {
            request,
            sink,
            watch,
        };
        if self.phase == Phase::Connected {
            self.send_outgoing(now, out);
            self.rearm_connected_timers();
        } else {
            self.queued.push_back(out);
        }
    }

    /// Sends removeWatches for a server-side persistent watch that no local
    /// watcher needs any more (after [`SessionEvent::Unwatch`]). Unlike
    /// [`submit`](Self::submit), it does not first look for a matching
    /// local watcher: there is none by design.
    pub fn remove_server_watch(
        &mut self,
        now: Instant,
        path: String,
        watcher_type: WatcherType,
        sink: R,
    ) {
        if let Some(err) = self.ended_error() {
            sink.complete(Err(err));
            return;
        }
        let out = Outgoing {
            request: Request::RemoveWatches(crate::proto::WatchesRequest {
                path,
                watcher_type: watcher_type.code(),
            }),
            sink,
            watch: None,
        };
        match self.phase {
            Phase::Closing => out.sink.complete(Err(Error::closed())),
            Phase::Connected => {
                self.send_outgoing(now, out);
                self.rearm_connected_timers();
            }
            // Not needed on a new connection: the server dropped the old
            // connection's watches, and only live ones are set again.
            _ => out.sink.complete(Ok(Reply {
                zxid: self.last_zxid,
                response: Response::Empty,
            })),
        }
    }

    /// Adds credentials to the session. They are sent now (if connected) and
    /// again after every reconnect; the sink gets the first answer.
    pub fn add_auth(&mut self, now: Instant, packet: AuthPacket, sink: R) {
        if let Some(err) = self.ended_error() {
            sink.complete(Err(err));
            return;
        }
        self.auth.push(packet.clone());
        if self.phase == Phase::Connected {
            self.send_request(now, xid::AUTH, &Request::Auth(packet));
            self.pending_auth.push_back(Some(sink));
            self.rearm_connected_timers();
        } else {
            self.auth_waiters.push((self.auth.len() - 1, sink));
        }
    }

    /// Unregisters a watcher whose handle was dropped. A watcher whose
    /// request has not been answered yet is never registered: a request
    /// still queued is dropped (it only reads or adds a watch), one in
    /// flight registers nothing when answered.
    pub fn remove_watcher(&mut self, id: WatcherId) {
        if let Some((kind, path, remaining)) = self.watches.remove(id) {
            if !remaining && kind.is_persistent() {
                self.unwatch_on_server(kind, path);
            }
            return;
        }
        let has_id =
            |w: &Option<(WatchKind, WatchRequest<W>)>| w.as_ref().is_some_and(|(_, w)| w.id == id);
        if let Some(i) = self.queued.iter().position(|o| has_id(&o.watch)) {
            if let Some(out) = self.queued.remove(i) {
                out.sink.complete(Err(Error::closed()));
            }
        } else if let Some(p) = self.pending.iter_mut().find(|p| has_id(&p.watch)) {
            p.abandoned_watch = p.watch.take().map(|(kind, _)| kind);
        }
    }

    /// Asks the driver to remove the server's persistent watch of `kind`
    /// on `path`, which no local watcher needs any more.
    fn unwatch_on_server(&mut self, kind: WatchKind, path: String) {
        if self.phase == Phase::Ended {
            return;
        }
        let watcher_type = if kind == WatchKind::Persistent {
            WatcherType::Persistent
        } else {
            WatcherType::PersistentRecursive
        };
        if !self.watches.has_matching(&path, watcher_type) {
            self.events
                .push_back(SessionEvent::Unwatch { path, watcher_type });
        }
    }

    /// Removes this client's watchers of `watcher_type` on a server path
    /// without asking the server (each receives
    /// [`WatchEvent::Removed`]); the server-side watch, if any, stays until
    /// it fires. Returns how many were removed.
    pub fn remove_local_watches(&mut self, server_path: &str, watcher_type: WatcherType) -> usize {
        self.watches.remove_matching(server_path, watcher_type)
    }

    /// Ends the session: sends closeSession after everything already
    /// submitted; the sink completes when the server confirms (or at once if
    /// no server is connected).
    pub fn close(&mut self, now: Instant, sink: R) {
        match self.phase {
            Phase::Ended => {
                if self.state != ConnectionState::Closed {
                    self.set_state(ConnectionState::Closed);
                }
                sink.complete(Ok(Reply {
                    zxid: self.last_zxid,
                    response: Response::Empty,
                }));
            }
            Phase::Closing => sink.complete(Err(Error::closed())),
            Phase::Connected => {
                let xid = self.take_xid();
                self.send_request(now, xid, &Request::CloseSession);
                self.pending.push_back(Pending {
                    xid,
                    op: OpCode::CloseSession,
                    path: None,
                    remove_type: None,
                    sink,
                    watch: None,
                    abandoned_watch: None,
                });
                self.phase = Phase::Closing;
                self.timers
                    .set(Timer::Close, now + self.config.connect_timeout);
            }
            Phase::Disconnected | Phase::Handshaking | Phase::Authenticating => {
                // Nothing to tell a server; the session times out on its own.
                let had_transport = self.phase != Phase::Disconnected;
                self.close_sink = Some(sink);
                self.end(ConnectionState::Closed);
                if had_transport {
                    self.events
                        .push_back(SessionEvent::Disconnect("client closed".into()));
                }
            }
        }
    }

    /// After the session ended with [`ConnectionState::Lost`], starts over
    /// with a fresh session on the next transport. The last seen zxid is
    /// kept, so the client never goes back in time.
    pub fn start_new_session(&mut self, now: Instant) {
        if self.phase != Phase::Ended || self.state != ConnectionState::Lost {
            return;
        }
        self.phase = Phase::Disconnected;
        self.session_id = 0;
        self.seen_rw = false;
        self.password = Bytes::from_static(&[0; PASSWORD_LEN]);
        self.negotiated = Duration::ZERO;
        self.last_heard = None;
        self.timers.clear();
        self.last_send = now;
        self.set_state(ConnectionState::Connecting);
    }

    // ----- output -----

    /// The next bytes to write to the transport: every frame queued since
    /// the last call, back to back.
    pub fn poll_transmit(&mut self) -> Option<Bytes> {
        (!self.transmit.is_empty()).then(|| self.transmit.split().freeze())
    }

    /// Moves every frame queued since the last call to the end of `out`
    /// (what [`poll_transmit`](Self::poll_transmit) returns, without a
    /// copy when `out` is empty: the two buffers are swapped, so each keeps
    /// its capacity for the next round).
    pub fn transmit_into(&mut self, out: &mut BytesMut) {
        if out.is_empty() {
            std::mem::swap(&mut self.transmit, out);
        } else {
            out.extend_from_slice(&self.transmit);
            self.transmit.clear();
        }
    }

    /// The next event for the driver.
    pub fn poll_event(&mut self) -> Option<SessionEvent> {
        self.events.pop_front()
    }

    /// When [`handle_timeout`](Self::handle_timeout) must be called next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.next()
    }

    #[cfg(test)]
    pub(crate) fn set_next_xid_for_test(&mut self, xid: i32) {
        self.next_xid = xid;
    }

    // ----- internals -----

    fn ended_error(&self) -> Option<Error> {
        (self.phase == Phase::Ended).then(|| terminal_error(self.state))
    }

    fn set_state(&mut self, state: ConnectionState) {
        if self.state != state {
            self.state = state;
            self.events.push_back(SessionEvent::State(state));
        }
    }

    fn take_xid(&mut self) -> i32 {
        let xid = self.next_xid;
        self.next_xid = if xid >= i32::MAX - 1 { 1 } else { xid + 1 };
        xid
    }

    fn send(&mut self, now: Instant, frame: Bytes) {
        self.transmit.extend_from_slice(&frame);
        self.last_send = now;
    }

    /// Encodes a request straight into the transmit buffer.
    fn send_request(&mut self, now: Instant, xid: i32, request: &Request) {
        encode_request_into(&mut self.transmit, xid, request);
        self.last_send = now;
    }

    fn send_outgoing(&mut self, now: Instant, out: Outgoing<R, W>) {
        let xid = self.take_xid();
        let op = out.request.opcode();
        let remove_type = match &out.request {
            Request::RemoveWatches(r) => WatcherType::from_code(r.watcher_type).ok(),
            _ => None,
        };
        // The path is needed again only to register a watcher or to drop
        // local watchers after a removeWatches.
        let path = if out.watch.is_some() || remove_type.is_some() {
            out.request.path().map(str::to_string)
        } else {
            None
        };
        self.send_request(now, xid, &out.request);
        self.pending.push_back(Pending {
            xid,
            op,
            path,
            remove_type,
            sink: out.sink,
            watch: out.watch,
            abandoned_watch: None,
        });
    }

    fn rearm_connected_timers(&mut self) {
        let t = self.negotiated;
        match self.phase {
            Phase::Connected => {
                self.timers.set(Timer::Ping, self.last_send + t / 3);
                self.timers.set(Timer::Read, self.last_recv + t * 2 / 3);
            }
            Phase::Closing => {
                self.timers.stop(Timer::Ping);
                self.timers.set(Timer::Read, self.last_recv + t * 2 / 3);
            }
            _ => {}
        }
    }

    fn arm_session_loss(&mut self, _now: Instant) {
        if let Some(heard) = self.last_heard {
            if self.session_id != 0 {
                self.timers.set(Timer::SessionLoss, heard + self.negotiated);
            }
        }
    }

    fn check_session_loss(&mut self, now: Instant) {
        if self.phase != Phase::Connected
            && self.phase != Phase::Ended
            && self.timers.expired(Timer::SessionLoss, now)
        {
            tracing::info!(
                session_id = format_args!("{:#x}", self.session_id),
                "no server reachable for the session timeout; session lost"
            );
            let had_transport = matches!(self.phase, Phase::Handshaking | Phase::Authenticating);
            self.end(ConnectionState::Lost);
            if had_transport {
                self.events.push_back(SessionEvent::Disconnect(
                    "session timed out while reconnecting".into(),
                ));
            }
        }
    }

    /// Ends the session for good with `state` (Lost, AuthFailed, Closed).
    fn end(&mut self, state: ConnectionState) {
        self.phase = Phase::Ended;
        self.timers.clear();
        self.transmit.clear();
        let err = || terminal_error(state);
        self.fail_in_flight(err);
        for out in self.queued.drain(..) {
            out.sink.complete(Err(err()));
        }
        for (_, sink) in self.auth_waiters.drain(..) {
            sink.complete(Err(err()));
        }
        let watch_end = match state {
            ConnectionState::Lost => WatchEvent::Expired,
            ConnectionState::AuthFailed => WatchEvent::AuthFailed,
            _ => WatchEvent::Closed,
        };
        self.watches.end_all(watch_end);
        if let Some(sink) = self.close_sink.take() {
            sink.complete(Ok(Reply {
                zxid: self.last_zxid,
                response: Response::Empty,
            }));
        }
        self.set_state(state);
    }

    fn fail_in_flight(&mut self, err: impl Fn() -> Error) {
        for p in self.pending.drain(..) {
            if p.op == OpCode::CloseSession {
                // The session is over for this client whether or not the
                // server saw the close (if it did not, the session expires
                // there), so a close reports success, as the Java client's
                // does; a closing client never reconnects to repeat it.
                p.sink.complete(Ok(Reply {
                    zxid: self.last_zxid,
                    response: Response::Empty,
                }));
            } else {
                p.sink.complete(Err(err()));
            }
        }
        for sink in self.pending_auth.drain(..).flatten() {
            sink.complete(Err(err()));
        }
    }

    fn protocol_violation(&mut self, now: Instant, message: String) {
        tracing::warn!(%message, "dropping connection");
        let carried = message.clone();
        self.events.push_back(SessionEvent::Disconnect(message));
        // Fail in-flight requests with a connection loss that says why (a
        // close in flight ends as any lost close does).
        self.fail_in_flight(|| Error::connection_loss().with_message(carried.clone()));
        self.transport_closed(now);
    }

    fn handle_connect_response(&mut self, now: Instant, frame: Bytes) {
        let response = match ConnectResponse::from_bytes(frame.clone()) {
            Ok(r) => r,
            Err(e) => {
                // A server that cannot create the session (a read-only
                // member without local sessions) answers with a bare reply
                // header carrying the error instead.
                let message = match decode_reply_header(frame) {
                    Ok((h, rest)) if rest.is_empty() && h.err != 0 => {
                        format!("server refused the session: {}", Error::from_code(h.err))
                    }
                    _ => format!("bad handshake reply: {e}"),
                };
                self.protocol_violation(now, message);
                return;
            }
        };
        self.timers.stop(Timer::Handshake);
        if response.timeout_ms <= 0 {
            tracing::info!(
                session_id = format_args!("{:#x}", self.session_id),
                "server reports the session expired"
            );
            self.end(ConnectionState::Lost);
            self.events
                .push_back(SessionEvent::Disconnect("session expired".into()));
            return;
        }
        let read_only = response.read_only == Some(true);
        let resumed = self.offered_session != 0 && self.offered_session == response.session_id;
        if self.session_id != 0 && !resumed {
            // The read-only server's local session is not carried over: the
            // read-write server started a fresh one.
            tracing::info!("left a read-only server's local session for a new one");
        }
        if !read_only {
            self.seen_rw = true;
        }
        self.session_id = response.session_id;
        self.password = response.password;
        self.negotiated = Duration::from_millis(response.timeout_ms as u64);
        self.phase = Phase::Connected;
        self.last_heard = Some(now);
        self.timers.stop(Timer::SessionLoss);
        tracing::debug!(
            session_id = format_args!("{:#x}", self.session_id),
            timeout_ms = response.timeout_ms,
            resumed,
            "session established"
        );
        if let Some(sasl) = &self.config.sasl {
            // Nothing else goes out before the server accepts the
            // credentials; the handshake deadline covers the exchange.
            self.phase = Phase::Authenticating;
            self.timers
                .set(Timer::Handshake, now + self.config.connect_timeout);
            match SaslRun::start(sasl, read_only, resumed) {
                Ok((run, token)) => {
                    self.sasl = Some(run);
                    self.send_sasl_token(now, token);
                }
                Err(e) => self.sasl_failed(e),
            }
            return;
        }
        self.enter_connected(now, read_only, resumed);
    }

    /// The session is usable on this connection: credentials, watches, then
    /// whatever queued up, go out.
    fn enter_connected(&mut self, now: Instant, read_only: bool, resumed: bool) {
        self.phase = Phase::Connected;
        self.timers.stop(Timer::Handshake);
        // Credentials first, then watches, then whatever queued up.
        let waiters: Vec<(usize, R)> = self.auth_waiters.drain(..).collect();
        let mut waiters = waiters.into_iter().peekable();
        for (i, packet) in self.auth.clone().into_iter().enumerate() {
            self.send_request(now, xid::AUTH, &Request::Auth(packet));
            let sink = match waiters.peek() {
                Some((idx, _)) if *idx == i => waiters.next().map(|(_, s)| s),
                _ => None,
            };
            self.pending_auth.push_back(sink);
        }
        for request in self.watches.set_watches_requests(self.last_zxid) {
            self.send_request(now, xid::SET_WATCHES, &request);
        }
        while let Some(out) = self.queued.pop_front() {
            self.send_outgoing(now, out);
        }
        let state = if read_only {
            ConnectionState::ReadOnly
        } else if resumed {
            ConnectionState::Reconnected
        } else {
            ConnectionState::Connected
        };
        if resumed {
            self.watches.resync_persistent();
        }
        // A reconnect reports Reconnected even if the previous transport
        // never reached Suspended (it died during the handshake).
        self.state = ConnectionState::Connecting;
        self.set_state(state);
    }

    fn handle_frame(&mut self, now: Instant, frame: Bytes) {
        let (header, mut body) = match decode_reply_header(frame) {
            Ok(v) => v,
            Err(e) => {
                self.protocol_violation(now, format!("bad reply header: {e}"));
                return;
            }
        };
        self.last_heard = Some(now);
        if self.phase == Phase::Authenticating {
            self.handle_sasl_reply(now, header, body);
            return;
        }
        match header.xid {
            xid::NOTIFICATION => self.handle_notification(header.zxid, &mut body),
            xid::PING | xid::SET_WATCHES => {}
            xid::AUTH => self.handle_auth_reply(header.err),
            x if x < 0 => tracing::debug!(xid = x, "ignoring reply with unknown special xid"),
            x => self.handle_reply(now, x, header.zxid, header.err, body),
        }
    }

    fn send_sasl_token(&mut self, now: Instant, token: Vec<u8>) {
        let xid = self.take_xid();
        if let Some(run) = &mut self.sasl {
            run.sent(xid);
        }
        let packet = SaslPacket {
            token: Some(token.into()),
        };
        self.send_request(now, xid, &Request::Sasl(packet));
    }

    fn handle_sasl_reply(&mut self, now: Instant, header: ReplyHeader, mut body: Reader) {
        let Some(run) = self.sasl.as_mut() else {
            return;
        };
        match run.handle_reply(&header, &mut body) {
            SaslOutcome::Send(token) => self.send_sasl_token(now, token),
            SaslOutcome::Authenticated => {
                tracing::debug!("SASL authentication succeeded");
                let (read_only, resumed) = (run.read_only, run.resumed);
                self.sasl = None;
                self.enter_connected(now, read_only, resumed);
            }
            SaslOutcome::Failed(message) => self.sasl_failed(message),
            SaslOutcome::Violation(message) => self.protocol_violation(now, message),
            SaslOutcome::Ignore => {}
        }
    }

    /// Credentials refused: the session is unusable (`AuthFailed`, terminal).
    fn sasl_failed(&mut self, message: String) {
        tracing::warn!(%message, "SASL authentication failed");
        self.sasl = None;
        self.end(ConnectionState::AuthFailed);
        self.events.push_back(SessionEvent::Disconnect(format!(
            "SASL authentication failed: {message}"
        )));
    }

    fn handle_notification(&mut self, zxid: i64, body: &mut Reader) {
        let event = match WatcherEvent::read(body) {
            Ok(e) => e,
            Err(e) => {
                tracing::warn!(error = %e, "undecodable watch notification ignored");
                return;
            }
        };
        if zxid > self.last_zxid {
            self.last_zxid = zxid;
        }
        match EventType::from_code(event.event_type) {
            Ok(EventType::None) => {}
            Ok(t) => {
                self.watches.fire(t, &event.path, zxid, &self.config.chroot);
            }
            Err(e) => tracing::warn!(error = %e, "unknown watch event type ignored"),
        }
    }

    fn handle_auth_reply(&mut self, err: i32) {
        let sink = self.pending_auth.pop_front().flatten();
        if err == ErrorCode::AuthFailed.code() {
            if let Some(sink) = sink {
                sink.complete(Err(Error::auth_failed()));
            }
            self.end(ConnectionState::AuthFailed);
            self.events
                .push_back(SessionEvent::Disconnect("authentication failed".into()));
        } else if let Some(sink) = sink {
            let result = if err == 0 {
                Ok(Reply {
                    zxid: self.last_zxid,
                    response: Response::Empty,
                })
            } else {
                Err(Error::from_code(err))
            };
            sink.complete(result);
        }
    }

    fn handle_reply(&mut self, now: Instant, xid: i32, zxid: i64, err: i32, mut body: Reader) {
        let expected = self.pending.front().map(|p| p.xid);
        if expected != Some(xid) {
            self.protocol_violation(
                now,
                format!("reply xid {xid} out of order (expected {expected:?})"),
            );
            return;
        }
        let Some(p) = self.pending.pop_front() else {
            return;
        };
        if zxid > self.last_zxid {
            self.last_zxid = zxid;
        }
        if p.op == OpCode::CloseSession {
            p.sink.complete(Ok(Reply {
                zxid,
                response: Response::Empty,
            }));
            self.end(ConnectionState::Closed);
            self.events
                .push_back(SessionEvent::Disconnect("session closed".into()));
            return;
        }
        let path = p.path.unwrap_or_default();
        if err != 0 {
            if p.op == OpCode::Exists && err == ErrorCode::NoNode.code() {
                if let Some((_, w)) = p.watch.filter(|(_, w)| w.sink.is_alive()) {
                    self.watches.add(WatchKind::Exist, path, w.id, w.sink);
                }
            }
            p.sink.complete(Err(Error::from_code(err).with_zxid(zxid)));
            return;
        }
        let response = match Response::read_body(p.op, &mut body) {
            Ok(r) => r,
            Err(e) => {
                // Frames are length-delimited, so the stream is still in step:
                // fail this request and carry on.
                tracing::warn!(op = %p.op, error = %e, "undecodable reply body");
                p.sink.complete(Err(Error::from(e)));
                return;
            }
        };
        let mut abandoned = p.abandoned_watch;
        if let Some((kind, w)) = p.watch {
            let kind = if p.op == OpCode::Exists {
                WatchKind::Data
            } else {
                kind
            };
            // The handle may be gone without its id having reached us yet.
            if w.sink.is_alive() {
                self.watches.add(kind, path.clone(), w.id, w.sink);
            } else {
                abandoned = Some(kind);
            }
        }
        if let Some(kind) = abandoned.filter(|k| k.is_persistent()) {
            self.unwatch_on_server(kind, path.clone());
        }
        if let Some(t) = p.remove_type {
            self.watches.remove_matching(&path, t);
        }
        p.sink.complete(Ok(Reply { zxid, response }));
    }
}

fn terminal_error(state: ConnectionState) -> Error {
    match state {
        ConnectionState::Lost => Error::session_expired(),
        ConnectionState::AuthFailed => Error::auth_failed(),
        _ => Error::closed(),
    }
}

fn millis_i32(d: Duration) -> i32 {
    i32::try_from(d.as_millis()).unwrap_or(i32::MAX)
}
