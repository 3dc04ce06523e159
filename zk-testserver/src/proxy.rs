//! A fault-injecting TCP proxy for ZooKeeper client connections.
//!
//! [`FaultProxy`] listens on `127.0.0.1` and forwards every connection to
//! one upstream server (real ZooKeeper or a member of an `Ensemble`). Tests
//! point a client at [`FaultProxy::connect_string`] and then decide what the
//! client sees:
//!
//! - [`FaultProxy::drop_connections`]: every current connection is closed
//!   (the client sees EOF and reconnects at once);
//! - [`FaultProxy::stall`]: current connections go silent in both directions
//!   (the sockets stay open, so the client only notices through its own
//!   timers); new connections are served normally;
//! - [`FaultProxy::partition`]: current connections go silent and new ones
//!   are accepted but never answered, until [`FaultProxy::heal`] — a
//!   partition as the client sees it; the server expires the session after
//!   its timeout because nothing reaches it;
//! - [`FaultProxy::refuse`]: current connections are closed and new ones are
//!   closed as soon as they are accepted, until [`FaultProxy::heal`];
//! - [`FaultProxy::inject`]: a one-shot fault on the next request that
//!   matches a [`Match`] — drop the connection instead of forwarding the
//!   request, forward it and drop the connection instead of forwarding its
//!   reply (the "lost reply" case: the server applied the request, the client
//!   cannot know), or hold its reply (and everything after it on that
//!   connection) until [`Injection::release`].
//!
//! The proxy understands the framing (length-prefixed frames), the handshake
//! and the request and reply headers (through `zk_client::proto`), and keeps
//! a log of the requests it forwarded ([`FaultProxy::requests`]) so tests can
//! assert what a client asked for (for example which nodes it watches).
//! Everything is event-driven: [`Injection::triggered`] resolves when the
//! fault happened.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let zk = zk_testserver::Ensemble::builder().start().await?;
//! # let server = zk.addresses()[0];
//! use zk_testserver::proxy::{Fault, FaultProxy, Match};
//! use zk_client::proto::OpCode;
//! let proxy = FaultProxy::start(server).await?;
//! let client = zk_client::Client::connect(proxy.connect_string()).await?;
//! // The next create is applied by the server but its reply never arrives.
//! let lost = proxy.inject(Match::op(OpCode::Create2), Fault::DropBeforeReply);
//! let _ = client.create("/x", "", zk_client::CreateMode::Persistent).await;
//! lost.triggered().await;
//! # Ok(()) }
//! ```

use bytes::{BufMut, Bytes, BytesMut};
use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::Poll;
use std::time::Instant;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use zk_client::proto::{decode_request, split_frame, OpCode, Request};

/// Largest frame the proxy parses (far above ZooKeeper's limit, so the proxy
/// never refuses what a server or client would accept).
const MAX_FRAME: usize = 64 * 1024 * 1024;

/// Which requests an injected fault applies to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Match {
    /// The request's opcode (`None`: any).
    pub op: Option<OpCode>,
    /// A substring of the request's path (server path, chroot included); for
    /// a multi, of any of its operations' paths (`None`: any).
    pub path_contains: Option<String>,
}

impl Match {
    /// Any request (pings and handshake-time requests excluded).
    pub fn any() -> Match {
        Match::default()
    }

    /// Requests with this opcode.
    pub fn op(op: OpCode) -> Match {
        Match {
            op: Some(op),
            path_contains: None,
        }
    }

    /// Also require `needle` in the path.
    pub fn path_contains(mut self, needle: impl Into<String>) -> Match {
        self.path_contains = Some(needle.into());
        self
    }

    fn matches(&self, op: OpCode, request: &Request) -> bool {
        if op == OpCode::Ping {
            return false;
        }
        if self.op.is_some_and(|want| want != op) {
            return false;
        }
        match &self.path_contains {
            None => true,
            Some(needle) => request_paths(request).any(|p| p.contains(needle.as_str())),
        }
    }
}

fn request_paths(request: &Request) -> Box<dyn Iterator<Item = &str> + '_> {
    match request {
        Request::Multi(ops) | Request::MultiRead(ops) => {
            Box::new(ops.iter().filter_map(|r| r.path()))
        }
        other => Box::new(other.path().into_iter()),
    }
}

/// What happens to the first request that matches an injection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Close the connection instead of forwarding the request: the server
    /// never sees it.
    DropBeforeRequest,
    /// Forward the request, and close the connection when its reply arrives
    /// instead of forwarding the reply: the server applied it, the client
    /// gets a connection loss.
    DropBeforeReply,
    /// Forward the request and hold its reply, and every later frame from
    /// the server on that connection, until [`Injection::release`] (or the
    /// connection closes).
    HoldReply,
}

/// A request the proxy forwarded (or dropped, for
/// [`Fault::DropBeforeRequest`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observed {
    /// Which client connection (numbered from 1 in accept order).
    pub conn: u64,
    /// The request's xid.
    pub xid: i32,
    /// The request's opcode.
    pub op: OpCode,
    /// The request's path (server path), if it has one.
    pub path: Option<String>,
    /// Whether it asked the server to leave a watch (exists, getData,
    /// getChildren with the watch flag; addWatch).
    pub watch: bool,
}

/// A one-shot fault registered with [`FaultProxy::inject`].
#[derive(Debug, Clone)]
pub struct Injection {
    rule: Arc<Rule>,
}

#[derive(Debug)]
struct Rule {
    matcher: Match,
    fault: Fault,
    /// Set when a request matched (claimed by one connection).
    claimed: Mutex<bool>,
    /// The matched request, once the fault has taken effect.
    fired: watch::Sender<Option<Observed>>,
    released: watch::Sender<bool>,
}

impl Injection {
    /// Waits until the fault has taken effect (the connection was dropped, or
    /// the reply is being held) and returns the request it hit.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: it only waits; the fault stays injected, and a later
    /// call returns the same request.
    pub async fn triggered(&self) -> Observed {
        let mut rx = self.rule.fired.subscribe();
        let result = rx.wait_for(Option::is_some).await;
        match result {
            Ok(seen) => seen.clone().unwrap_or_else(unreachable_observed),
            // The sender lives in `self.rule`; it cannot be gone.
            Err(_) => unreachable_observed(),
        }
    }

    /// Whether the fault has taken effect.
    pub fn has_triggered(&self) -> bool {
        self.rule.fired.borrow().is_some()
    }

    /// For [`Fault::HoldReply`]: lets the held frames through (also for a
    /// request that matches later). Without effect for the other faults.
    pub fn release(&self) {
        self.rule.released.send_replace(true);
    }

    /// Withdraws the injection if it has not matched a request yet.
    pub fn cancel(&self) {
        if let Ok(mut claimed) = self.rule.claimed.lock() {
            *claimed = true;
        }
        self.release();
    }
}

fn unreachable_observed() -> Observed {
    Observed {
        conn: 0,
        xid: 0,
        op: OpCode::Ping,
        path: None,
        watch: false,
    }
}

/// What new connections get.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Pass,
    Blackhole,
    Refuse,
}

/// What an existing connection does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fate {
    Live,
    Stalled,
    Closed,
}

struct State {
    mode: Mode,
    conns: HashMap<u64, watch::Sender<Fate>>,
    next_conn: u64,
    rules: Vec<Arc<Rule>>,
    log: Vec<Observed>,
    last_forwarded: Option<Instant>,
    accepted: u64,
}

struct Shared {
    upstream: SocketAddr,
    state: Mutex<State>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panicking test thread must not wedge the proxy for the others.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A TCP proxy in front of one ZooKeeper server, with faults controlled by
/// the test (see the [module docs](self)). Dropping it closes the listener
/// at once (its port can be bound again as soon as the drop returns) and
/// every connection (each closes when the runtime next runs its task).
pub struct FaultProxy {
    shared: Arc<Shared>,
    local: SocketAddr,
    /// The listening socket, shared with the accept task so that dropping
    /// the proxy closes it at once rather than when the task is next run.
    listener: Arc<Mutex<Option<TcpListener>>>,
    accept_task: JoinHandle<()>,
}

impl std::fmt::Debug for FaultProxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FaultProxy")
            .field("local", &self.local)
            .field("upstream", &self.shared.upstream)
            .finish()
    }
}

impl FaultProxy {
    /// Listens on an ephemeral port of 127.0.0.1, forwarding to `upstream`.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: dropped before it returns, it has started nothing (a
    /// port it bound is closed with the future).
    pub async fn start(upstream: SocketAddr) -> std::io::Result<FaultProxy> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let local = listener.local_addr()?;
        let shared = Arc::new(Shared {
            upstream,
            state: Mutex::new(State {
                mode: Mode::Pass,
                conns: HashMap::new(),
                next_conn: 1,
                rules: Vec::new(),
                log: Vec::new(),
                last_forwarded: None,
                accepted: 0,
            }),
        });
        let listener = Arc::new(Mutex::new(Some(listener)));
        let accept_task = tokio::spawn(accept_all(listener.clone(), shared.clone()));
        Ok(FaultProxy {
            shared,
            local,
            listener,
            accept_task,
        })
    }

    /// Resolves `upstream` (`host:port`) and starts a proxy in front of its
    /// first address.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe, as [`FaultProxy::start`] (a name lookup under way on
    /// tokio's blocking threads finishes there, unused).
    pub async fn start_for(upstream: &str) -> std::io::Result<FaultProxy> {
        let addr = tokio::net::lookup_host(upstream)
            .await?
            .next()
            .ok_or_else(|| {
                std::io::Error::new(std::io::ErrorKind::NotFound, "no address for upstream")
            })?;
        FaultProxy::start(addr).await
    }

    /// The proxy's listening address.
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// The server the proxy forwards to.
    pub fn upstream(&self) -> SocketAddr {
        self.shared.upstream
    }

    /// `127.0.0.1:<port>`, for a client's connect string (append a chroot if
    /// needed).
    pub fn connect_string(&self) -> String {
        self.local.to_string()
    }

    /// Closes every current connection; new ones are served as before.
    pub fn drop_connections(&self) {
        self.set_fates(Fate::Closed);
    }

    /// Current connections go silent both ways (sockets stay open); new
    /// connections are served normally.
    pub fn stall(&self) {
        self.set_fates(Fate::Stalled);
    }

    /// Current connections go silent and new ones are accepted but never
    /// answered, until [`FaultProxy::heal`].
    pub fn partition(&self) {
        self.shared.lock().mode = Mode::Blackhole;
        self.set_fates(Fate::Stalled);
    }

    /// Current connections are closed and new ones are closed on accept,
    /// until [`FaultProxy::heal`].
    pub fn refuse(&self) {
        self.shared.lock().mode = Mode::Refuse;
        self.set_fates(Fate::Closed);
    }

    /// New connections are served again. (Connections silenced before stay
    /// silent until their client gives up on them.)
    pub fn heal(&self) {
        self.shared.lock().mode = Mode::Pass;
    }

    /// Registers a one-shot fault for the next request matching `matcher`
    /// on any connection.
    pub fn inject(&self, matcher: Match, fault: Fault) -> Injection {
        let rule = Arc::new(Rule {
            matcher,
            fault,
            claimed: Mutex::new(false),
            fired: watch::Sender::new(None),
            released: watch::Sender::new(false),
        });
        self.shared.lock().rules.push(rule.clone());
        Injection { rule }
    }

    /// Every request forwarded so far, in order.
    pub fn requests(&self) -> Vec<Observed> {
        self.shared.lock().log.clone()
    }

    /// Forgets the request log.
    pub fn clear_requests(&self) {
        self.shared.lock().log.clear();
    }

    /// When the proxy last forwarded a frame from a client to the server
    /// (pings included): the server's session clock cannot have been touched
    /// later than this through the proxy.
    pub fn last_forwarded(&self) -> Option<Instant> {
        self.shared.lock().last_forwarded
    }

    /// Connections accepted so far.
    pub fn accepted(&self) -> u64 {
        self.shared.lock().accepted
    }

    /// Connections currently open (served, stalled or blackholed).
    pub fn open_connections(&self) -> usize {
        self.shared.lock().conns.len()
    }

    fn set_fates(&self, fate: Fate) {
        let state = self.shared.lock();
        for tx in state.conns.values() {
            tx.send_if_modified(|f| {
                // A closed connection stays closed; a stalled one can only close.
                let next = match (*f, fate) {
                    (Fate::Closed, _) => Fate::Closed,
                    (Fate::Stalled, Fate::Live) => Fate::Stalled,
                    (_, next) => next,
                };
                let changed = *f != next;
                *f = next;
                changed
            });
        }
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        drop(
            self.listener
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .take(),
        );
        self.accept_task.abort();
        self.set_fates(Fate::Closed);
    }
}

/// Accepts connections until the proxy takes the listener away (dropped).
async fn accept_all(listener: Arc<Mutex<Option<TcpListener>>>, shared: Arc<Shared>) {
    loop {
        let accepted =
            std::future::poll_fn(
                |cx| match &*listener.lock().unwrap_or_else(|e| e.into_inner()) {
                    Some(listener) => listener.poll_accept(cx).map(Some),
                    None => Poll::Ready(None),
                },
            )
            .await;
        match accepted {
            Some(Ok((socket, _))) => {
                let _ = socket.set_nodelay(true);
                accept(&shared, socket);
            }
            Some(Err(_)) => continue,
            None => return,
        }
    }
}

fn accept(shared: &Arc<Shared>, socket: TcpStream) {
    let (mode, id, fate) = {
        let mut state = shared.lock();
        state.accepted += 1;
        let id = state.next_conn;
        state.next_conn += 1;
        let initial = match state.mode {
            Mode::Pass => Fate::Live,
            Mode::Blackhole => Fate::Stalled,
            Mode::Refuse => Fate::Closed,
        };
        let (tx, rx) = watch::channel(initial);
        if state.mode != Mode::Refuse {
            state.conns.insert(id, tx);
        }
        (state.mode, id, rx)
    };
    match mode {
        Mode::Refuse => drop(socket),
        Mode::Blackhole => {
            let shared = shared.clone();
            tokio::spawn(async move {
                swallow(socket, None, fate).await;
                shared.lock().conns.remove(&id);
            });
        }
        Mode::Pass => {
            let shared = shared.clone();
            tokio::spawn(async move {
                match TcpStream::connect(shared.upstream).await {
                    Ok(upstream) => {
                        let _ = upstream.set_nodelay(true);
                        Conn::new(shared.clone(), id, fate)
                            .run(socket, upstream)
                            .await
                    }
                    Err(e) => tracing::debug!(error = %e, "proxy: upstream connect failed"),
                }
                shared.lock().conns.remove(&id);
            });
        }
    }
}

/// Reads and discards from both sockets until the fate becomes Closed or a
/// peer closes.
async fn swallow(client: TcpStream, upstream: Option<TcpStream>, mut fate: watch::Receiver<Fate>) {
    let (mut cr, _cw) = client.into_split();
    let mut upstream = upstream.map(TcpStream::into_split);
    let mut cbuf = vec![0u8; 16 * 1024];
    let mut ubuf = vec![0u8; 16 * 1024];
    loop {
        if *fate.borrow() == Fate::Closed {
            return;
        }
        tokio::select! {
            r = cr.read(&mut cbuf) => if !matches!(r, Ok(n) if n > 0) { return },
            r = read_opt(upstream.as_mut().map(|(r, _)| r), &mut ubuf) => {
                if !matches!(r, Ok(n) if n > 0) { return }
            }
            changed = fate.changed() => if changed.is_err() { return },
        }
    }
}

async fn read_opt(
    r: Option<&mut tokio::net::tcp::OwnedReadHalf>,
    buf: &mut [u8],
) -> std::io::Result<usize> {
    match r {
        Some(r) => r.read(buf).await,
        None => std::future::pending().await,
    }
}

/// A reply-side fault armed for one xid of a connection.
struct Armed {
    xid: i32,
    rule: Arc<Rule>,
}

struct Conn {
    shared: Arc<Shared>,
    id: u64,
    fate: watch::Receiver<Fate>,
    armed: VecDeque<Armed>,
    /// While set, frames from the server are queued until this rule is released.
    holding: Option<Arc<Rule>>,
    held: VecDeque<Bytes>,
}

enum Step {
    Continue,
    Close,
}

impl Conn {
    fn new(shared: Arc<Shared>, id: u64, fate: watch::Receiver<Fate>) -> Conn {
        Conn {
            shared,
            id,
            fate,
            armed: VecDeque::new(),
            holding: None,
            held: VecDeque::new(),
        }
    }

    async fn run(mut self, client: TcpStream, upstream: TcpStream) {
        let (mut cr, mut cw) = client.into_split();
        let (mut ur, mut uw) = upstream.into_split();
        let mut from_client = BytesMut::with_capacity(16 * 1024);
        let mut from_server = BytesMut::with_capacity(16 * 1024);
        let mut client_handshake_done = false;
        let mut server_handshake_done = false;
        loop {
            match *self.fate.borrow() {
                Fate::Live => {}
                Fate::Stalled => break,
                Fate::Closed => return,
            }
            let mut release = self.holding.as_ref().map(|r| r.released.subscribe());
            tokio::select! {
                r = cr.read_buf(&mut from_client) => {
                    if !matches!(r, Ok(n) if n > 0) { return }
                    loop {
                        let frame = match split_frame(&mut from_client, MAX_FRAME) {
                            Ok(Some(f)) => f,
                            Ok(None) => break,
                            Err(_) => return,
                        };
                        let step = if client_handshake_done {
                            self.client_frame(&frame)
                        } else {
                            client_handshake_done = true;
                            Step::Continue
                        };
                        if let Step::Close = step { return }
                        if uw.write_all(&framed(&frame)).await.is_err() { return }
                        self.shared.lock().last_forwarded = Some(Instant::now());
                    }
                }
                r = ur.read_buf(&mut from_server) => {
                    if !matches!(r, Ok(n) if n > 0) { return }
                    loop {
                        let frame = match split_frame(&mut from_server, MAX_FRAME) {
                            Ok(Some(f)) => f,
                            Ok(None) => break,
                            Err(_) => return,
                        };
                        let forward = if server_handshake_done {
                            match self.server_frame(&frame) {
                                Some(Step::Close) => return,
                                Some(Step::Continue) => true,
                                None => false,
                            }
                        } else {
                            server_handshake_done = true;
                            true
                        };
                        if forward && cw.write_all(&framed(&frame)).await.is_err() { return }
                    }
                }
                _ = wait_released(release.as_mut()) => {
                    self.holding = None;
                    while let Some(frame) = self.held.pop_front() {
                        if cw.write_all(&framed(&frame)).await.is_err() { return }
                    }
                }
                changed = self.fate.changed() => if changed.is_err() { return },
            }
        }
        // Stalled: keep both sockets open and silent until closed.
        let client = match cr.reunite(cw) {
            Ok(s) => s,
            Err(_) => return,
        };
        let upstream = match ur.reunite(uw) {
            Ok(s) => s,
            Err(_) => return,
        };
        swallow(client, Some(upstream), self.fate).await;
    }

    /// A request from the client: log it, apply a matching fault.
    fn client_frame(&mut self, frame: &Bytes) -> Step {
        let Ok((header, request)) = decode_request(frame.clone()) else {
            // Not ours to judge; the server will.
            return Step::Continue;
        };
        let Some(op) = OpCode::from_code(header.op) else {
            return Step::Continue;
        };
        if op == OpCode::Ping {
            return Step::Continue;
        }
        let observed = Observed {
            conn: self.id,
            xid: header.xid,
            op,
            path: request.path().map(str::to_string),
            watch: wants_watch(&request),
        };
        let mut state = self.shared.lock();
        let rule = state
            .rules
            .iter()
            .find(|r| {
                r.matcher.matches(op, &request) && r.claimed.lock().map(|c| !*c).unwrap_or(false)
            })
            .cloned();
        if let Some(rule) = rule {
            if let Ok(mut claimed) = rule.claimed.lock() {
                *claimed = true;
            }
            state.rules.retain(|r| !Arc::ptr_eq(r, &rule));
            tracing::debug!(?observed, fault = ?rule.fault, "proxy: fault armed");
            match rule.fault {
                Fault::DropBeforeRequest => {
                    rule.fired.send_replace(Some(observed));
                    return Step::Close;
                }
                Fault::DropBeforeReply | Fault::HoldReply => {
                    self.armed.push_back(Armed {
                        xid: header.xid,
                        rule,
                    });
                }
            }
        }
        state.log.push(observed);
        Step::Continue
    }

    /// A frame from the server: `Some(Continue)` forward, `Some(Close)` drop
    /// the connection, `None` held.
    fn server_frame(&mut self, frame: &Bytes) -> Option<Step> {
        if frame.len() >= 4 {
            let xid = i32::from_be_bytes([frame[0], frame[1], frame[2], frame[3]]);
            if let Some(pos) = self.armed.iter().position(|a| a.xid == xid) {
                if let Some(armed) = self.armed.remove(pos) {
                    let observed = self
                        .shared
                        .lock()
                        .log
                        .iter()
                        .rev()
                        .find(|o| o.conn == self.id && o.xid == xid)
                        .cloned()
                        .unwrap_or_else(unreachable_observed);
                    match armed.rule.fault {
                        Fault::DropBeforeReply => {
                            armed.rule.fired.send_replace(Some(observed));
                            return Some(Step::Close);
                        }
                        _ => {
                            if !*armed.rule.released.borrow() {
                                self.holding = Some(armed.rule.clone());
                            }
                            armed.rule.fired.send_replace(Some(observed));
                        }
                    }
                }
            }
        }
        if self.holding.is_some() {
            self.held.push_back(frame.clone());
            return None;
        }
        Some(Step::Continue)
    }
}

async fn wait_released(rx: Option<&mut watch::Receiver<bool>>) {
    match rx {
        Some(rx) => {
            let _ = rx.wait_for(|released| *released).await;
        }
        None => std::future::pending().await,
    }
}

fn wants_watch(request: &Request) -> bool {
    match request {
        Request::Exists(r)
        | Request::GetData(r)
        | Request::GetChildren(r)
        | Request::GetChildren2(r) => r.watch,
        Request::AddWatch(_) => true,
        _ => false,
    }
}

fn framed(frame: &Bytes) -> Bytes {
    let mut out = BytesMut::with_capacity(frame.len() + 4);
    out.put_i32(i32::try_from(frame.len()).unwrap_or(i32::MAX));
    out.extend_from_slice(frame);
    out.freeze()
}

#[cfg(test)]
mod tests {
    //! These run in front of the server named by `ZK_CONNECT` (its first
    //! `host:port`; real ZooKeeper in conformance runs), or else in front of
    //! an in-process ensemble.
    use super::*;
    use crate::Ensemble;
    use std::time::Duration;
    use zk_client::retry::NoRetry;
    use zk_client::{Client, CreateMode};

    /// The proxy, and the in-process ensemble behind it unless
    /// `ZK_CONNECT` names one (it must outlive the test).
    async fn upstream() -> (FaultProxy, Option<Ensemble>) {
        let (target, ensemble) = match std::env::var("ZK_CONNECT") {
            Ok(target) => (target, None),
            Err(_) => {
                let zk = Ensemble::builder()
                    .tick(Duration::from_millis(200))
                    .start()
                    .await
                    .expect("ensemble starts");
                (zk.connect_string(), Some(zk))
            }
        };
        let host = target.split(',').next().unwrap_or_default().to_string();
        let proxy = FaultProxy::start_for(&host).await.expect("proxy starts");
        (proxy, ensemble)
    }

    fn unique(tag: &str) -> String {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        format!("/proxy-test-{tag}-{nanos}")
    }

    #[tokio::test]
    async fn lost_reply_applies_the_request() {
        let (proxy, _ensemble) = upstream().await;
        let client = Client::builder(proxy.connect_string())
            .session_timeout(Duration::from_secs(4))
            .retry(NoRetry)
            .connect()
            .await
            .unwrap();
        let path = unique("lost");
        let injection = proxy.inject(
            Match::op(OpCode::Create2).path_contains(path.clone()),
            Fault::DropBeforeReply,
        );
        let err = client
            .create(&path, "x", CreateMode::Persistent)
            .await
            .unwrap_err();
        assert!(err.is_connection_loss(), "{err:?}");
        let seen = injection.triggered().await;
        assert_eq!(seen.path.as_deref(), Some(path.as_str()));
        client.wait_for_state(|s| s.is_connected()).await;
        assert!(client.exists(&path).await.unwrap().is_some());
        client.delete(&path, None).await.unwrap();
        let log = proxy.requests();
        assert!(log.iter().any(|o| o.op == OpCode::Delete));
    }

    #[tokio::test]
    async fn held_reply_waits_for_release_and_drop_before_request() {
        let (proxy, _ensemble) = upstream().await;
        let client = Client::builder(proxy.connect_string())
            .session_timeout(Duration::from_secs(4))
            .retry(NoRetry)
            .connect()
            .await
            .unwrap();
        let path = unique("hold");
        client
            .create(&path, "v", CreateMode::Persistent)
            .await
            .unwrap();
        let hold = proxy.inject(
            Match::op(OpCode::GetData).path_contains(path.clone()),
            Fault::HoldReply,
        );
        let reader = {
            let client = client.clone();
            let path = path.clone();
            tokio::spawn(async move { client.get_data(&path).await })
        };
        hold.triggered().await;
        assert!(!reader.is_finished());
        hold.release();
        let (data, _) = reader.await.unwrap().unwrap();
        assert_eq!(&data[..], b"v");

        let drop = proxy.inject(
            Match::op(OpCode::Delete).path_contains(path.clone()),
            Fault::DropBeforeRequest,
        );
        let err = client.delete(&path, None).await.unwrap_err();
        assert!(err.is_connection_loss(), "{err:?}");
        drop.triggered().await;
        client.wait_for_state(|s| s.is_connected()).await;
        assert!(client.exists(&path).await.unwrap().is_some(), "never sent");
        client.delete(&path, None).await.unwrap();
    }
}
