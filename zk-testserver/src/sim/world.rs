//! The simulation proper: simulated time, the event queue, member links and
//! client connections, and the loop that runs it all in one thread.

use super::client::SimClient;
use super::config::SimConfig;
use super::exec::{ClientId, Shared, SimWorld};
use super::log::EventLog;
use super::node::Node;
use crate::check::MemberView;
use crate::server::ConnId;
use crate::zab::{MemberId, Role, ZabMessage};
use bytes::Bytes;
use futures::executor::{LocalPool, LocalSpawner};
use futures::task::LocalSpawnExt;
use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};
use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::rc::Rc;
use std::time::{Duration, Instant};

/// Something scheduled to happen at a simulated instant.
pub enum Event {
    /// A message from one member reaches another.
    Peer {
        /// Sender.
        from: MemberId,
        /// Receiver.
        to: MemberId,
        /// The receiver's incarnation when it was sent.
        incarnation: u64,
        /// The message.
        msg: ZabMessage,
    },
    /// A dead member's link reset reaches a peer.
    PeerReset {
        /// The dead member.
        from: MemberId,
        /// The peer.
        to: MemberId,
        /// The peer's incarnation when it was sent.
        incarnation: u64,
    },
    /// A member's disk finished a flush.
    Flush {
        /// The member.
        member: MemberId,
        /// Its incarnation when the append was made.
        incarnation: u64,
    },
    /// Client bytes reach the member end of a connection.
    ToMember {
        /// The connection.
        conn: ConnId,
        /// The bytes.
        bytes: Bytes,
    },
    /// Member bytes reach the client end of a connection.
    ToClient {
        /// The connection.
        conn: ConnId,
        /// The bytes.
        bytes: Bytes,
    },
    /// The client closed a connection; the member learns it.
    ClosedAtMember {
        /// The connection.
        conn: ConnId,
    },
    /// The member closed (or lost) a connection; the client learns it.
    ClosedAtClient {
        /// The connection.
        conn: ConnId,
    },
    /// A client tries to connect.
    Connect {
        /// The client.
        client: ClientId,
    },
    /// A paused member goes on.
    Resume {
        /// The member.
        member: MemberId,
        /// Its incarnation when paused.
        incarnation: u64,
    },
    /// The next fault.
    Fault,
    /// Undo a timed fault.
    Undo(super::faults::Undo),
}

impl Event {
    /// The member an event is for, if it waits while that member is paused.
    fn member(&self, conns: &BTreeMap<ConnId, Conn>) -> Option<MemberId> {
        match self {
            Event::Peer { to, .. } | Event::PeerReset { to, .. } => Some(*to),
            Event::Flush { member, .. } => Some(*member),
            Event::ToMember { conn, .. } | Event::ClosedAtMember { conn } => {
                conns.get(conn).map(|c| c.member)
            }
            _ => None,
        }
    }
}

/// Faults on one directed member link.
#[derive(Debug, Clone, Copy, Default)]
pub struct Link {
    /// Nothing gets through.
    pub cut: bool,
    /// Probability that a message is lost.
    pub loss: f64,
    /// Extra delay of every message.
    pub delay: Duration,
    /// When the last message sent on it arrives (FIFO).
    last_due: Option<Instant>,
}

impl Link {
    /// Removes the faults (in-flight messages keep their order).
    pub fn heal(&mut self) {
        self.cut = false;
        self.loss = 0.0;
        self.delay = Duration::ZERO;
    }
}

/// A client connection.
#[derive(Debug, Clone)]
pub struct Conn {
    /// The client.
    pub client: ClientId,
    /// The member.
    pub member: MemberId,
    /// The member's incarnation when it was accepted.
    pub incarnation: u64,
    /// The member end is closed.
    pub closed_at_member: bool,
    /// The client end is closed.
    pub closed_at_client: bool,
    to_member_due: Option<Instant>,
    to_client_due: Option<Instant>,
    /// What was sent while the client and the member could not reach each
    /// other: held, as TCP retransmits, until they can (direction: to the
    /// member?, bytes or a close).
    held: std::collections::VecDeque<(bool, Option<Bytes>)>,
}

/// A simulated ensemble with its clients and workload processes.
pub struct Sim {
    /// The run's configuration.
    pub cfg: SimConfig,
    pub(super) base: Instant,
    /// Simulated now.
    pub now: Instant,
    pub(super) rng: Xoshiro256PlusPlus,
    /// Every event, hashed.
    pub log: EventLog,
    queue: BTreeMap<(Instant, u64), Event>,
    seq: u64,
    /// The members, member `k` at index `k - 1`.
    pub nodes: Vec<Node>,
    /// The clients, by id.
    pub clients: Vec<SimClient>,
    /// Client connections.
    pub conns: BTreeMap<ConnId, Conn>,
    next_conn: ConnId,
    /// Member links by (from, to).
    pub links: BTreeMap<(MemberId, MemberId), Link>,
    /// Client ↔ member pairs that cannot reach each other.
    pub client_cuts: BTreeSet<(ClientId, MemberId)>,
    /// What processes and the simulation share.
    pub shared: Rc<RefCell<Shared>>,
    pool: LocalPool,
    spawner: LocalSpawner,
    /// Things that must never happen (storage refusing a member's call,
    /// a member that cannot start).
    pub anomalies: Vec<String>,
    /// Faults injected so far.
    pub faults: u64,
    /// Members that lost their disk and have not caught up yet.
    pub(super) amnesiac: BTreeSet<MemberId>,
    /// Whether the nemesis injects faults.
    pub(super) faulting: bool,
}

impl Sim {
    /// A simulation for `cfg`, members started, nothing else yet.
    pub fn new(cfg: SimConfig) -> Sim {
        let base = Instant::now();
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(cfg.seed);
        let nodes = cfg
            .ids()
            .into_iter()
            .map(|id| {
                let slow = rng.random_bool(0.3);
                let max = if slow { cfg.slow_flush } else { cfg.flush };
                Node::new(id, max)
            })
            .collect();
        let pool = LocalPool::new();
        let spawner = pool.spawner();
        let shared = Rc::new(RefCell::new(Shared {
            running: true,
            ..Shared::default()
        }));
        let log = EventLog::new(cfg.keep_events, cfg.print_events);
        let mut sim = Sim {
            cfg,
            base,
            now: base,
            rng,
            log,
            queue: BTreeMap::new(),
            seq: 0,
            nodes,
            clients: Vec::new(),
            conns: BTreeMap::new(),
            next_conn: 1,
            links: BTreeMap::new(),
            client_cuts: BTreeSet::new(),
            shared,
            pool,
            spawner,
            anomalies: Vec::new(),
            faults: 0,
            amnesiac: BTreeSet::new(),
            faulting: false,
        };
        for id in sim.cfg.ids() {
            sim.start_member(id);
        }
        sim.drain_all();
        sim
    }

    /// Simulated time since the start.
    pub fn elapsed(&self) -> Duration {
        self.now - self.base
    }

    pub(super) fn wall_ms(&self) -> i64 {
        1_700_000_000_000 + i64::try_from(self.elapsed().as_millis()).unwrap_or(0)
    }

    /// The world processes see.
    pub fn world(&self) -> SimWorld {
        SimWorld {
            shared: self.shared.clone(),
        }
    }

    /// Runs `fut` as a process.
    pub fn spawn(&mut self, fut: impl Future<Output = ()> + 'static) {
        if self.spawner.spawn_local(fut).is_err() {
            self.anomaly("the executor refused a process".into());
        }
    }

    pub(super) fn anomaly(&mut self, what: String) {
        self.log_event(format_args!("ANOMALY {what}"), &[]);
        self.anomalies.push(what);
    }

    pub(super) fn log_event(&mut self, what: std::fmt::Arguments<'_>, payload: &[u8]) {
        let at = self.elapsed();
        self.log.record(at, what, payload);
    }

    pub(super) fn schedule(&mut self, at: Instant, event: Event) {
        self.seq += 1;
        self.queue.insert((at, self.seq), event);
    }

    /// One network delay, drawn from the configured range.
    pub(super) fn net_delay(&mut self) -> Duration {
        let (lo, hi) = self.cfg.net_delay;
        let (lo, hi) = (lo.as_micros() as u64, hi.as_micros() as u64);
        Duration::from_micros(if hi > lo {
            self.rng.random_range(lo..=hi)
        } else {
            lo
        })
    }

    // ----- member links -----

    /// Sends a member message, subject to the link's faults.
    pub(super) fn send_peer(&mut self, from: MemberId, to: MemberId, msg: ZabMessage) {
        let link = self.links.get(&(from, to)).copied().unwrap_or_default();
        if link.cut || (link.loss > 0.0 && self.rng.random_bool(link.loss.min(1.0))) {
            return;
        }
        let incarnation = self.nodes[(to - 1) as usize].incarnation;
        self.send_link(
            from,
            to,
            Event::Peer {
                from,
                to,
                incarnation,
                msg,
            },
        );
    }

    /// Queues an event on the FIFO link from → to.
    pub(super) fn send_link(&mut self, from: MemberId, to: MemberId, event: Event) {
        let d = self.net_delay();
        let link = self.links.entry((from, to)).or_default();
        let due = self.now + d + link.delay;
        let due = link.last_due.map_or(due, |l| l.max(due));
        link.last_due = Some(due);
        if link.cut {
            return;
        }
        self.schedule(due, event);
    }

    // ----- client connections -----

    pub(super) fn open_conn(&mut self, client: ClientId, member: MemberId) -> ConnId {
        let conn = self.next_conn;
        self.next_conn += 1;
        let incarnation = self.nodes[(member - 1) as usize].incarnation;
        self.conns.insert(
            conn,
            Conn {
                client,
                member,
                incarnation,
                closed_at_member: false,
                closed_at_client: false,
                to_member_due: None,
                to_client_due: None,
                held: std::collections::VecDeque::new(),
            },
        );
        self.nodes[(member - 1) as usize].decoders.insert(
            conn,
            zk_client::proto::FrameDecoder::new(zk_client::proto::DEFAULT_MAX_BUFFER),
        );
        conn
    }

    fn conn_due(&mut self, conn: ConnId, to_member: bool) -> Option<Instant> {
        let d = self.net_delay();
        let c = self.conns.get_mut(&conn)?;
        let slot = if to_member {
            &mut c.to_member_due
        } else {
            &mut c.to_client_due
        };
        let due = slot.map_or(self.now + d, |l| l.max(self.now + d));
        *slot = Some(due);
        Some(due)
    }

    /// Sends bytes (or a close, with `None`) on a connection, one way. While
    /// the client and the member cannot reach each other, everything is
    /// held in order and released when they can again (TCP retransmits; it
    /// never loses data in the middle of a stream).
    fn conn_send(&mut self, conn: ConnId, to_member: bool, what: Option<Bytes>) {
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        if self.client_cuts.contains(&(c.client, c.member)) || !c.held.is_empty() {
            c.held.push_back((to_member, what));
            return;
        }
        let Some(due) = self.conn_due(conn, to_member) else {
            return;
        };
        let event = match (to_member, what) {
            (true, Some(bytes)) => Event::ToMember { conn, bytes },
            (false, Some(bytes)) => Event::ToClient { conn, bytes },
            (true, None) => Event::ClosedAtMember { conn },
            (false, None) => Event::ClosedAtClient { conn },
        };
        self.schedule(due, event);
    }

    /// Releases what the connections between `client` and `member` held.
    pub(super) fn release_held(&mut self, client: ClientId, member: MemberId) {
        let conns: Vec<ConnId> = self
            .conns
            .iter()
            .filter(|(_, c)| c.client == client && c.member == member && !c.held.is_empty())
            .map(|(id, _)| *id)
            .collect();
        for conn in conns {
            let held = self
                .conns
                .get_mut(&conn)
                .map(|c| std::mem::take(&mut c.held))
                .unwrap_or_default();
            for (to_member, what) in held {
                self.conn_send(conn, to_member, what);
            }
        }
    }

    /// Client bytes onto a connection.
    pub(super) fn send_to_member(&mut self, conn: ConnId, bytes: Bytes) {
        self.conn_send(conn, true, Some(bytes));
    }

    /// Member bytes onto a connection.
    pub(super) fn send_to_client(&mut self, conn: ConnId, bytes: Bytes) {
        self.conn_send(conn, false, Some(bytes));
    }

    /// The member end closes `conn` (the member asked to, or it died); the
    /// client learns it after what is in flight.
    pub(super) fn member_closed_conn(&mut self, conn: ConnId, tell_member: bool) {
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        if c.closed_at_member {
            return;
        }
        c.closed_at_member = true;
        let member = c.member;
        if tell_member {
            let node = &mut self.nodes[(member - 1) as usize];
            node.decoders.remove(&conn);
            if let Some(m) = node.machine.as_mut() {
                m.handle_client_closed(conn);
            }
        }
        self.conn_send(conn, false, None);
    }

    /// The client end closes `conn`; the member learns it after what is in
    /// flight.
    pub(super) fn client_closed_conn(&mut self, conn: ConnId) {
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        if c.closed_at_client {
            return;
        }
        c.closed_at_client = true;
        self.conn_send(conn, true, None);
    }

    // ----- running -----

    /// Drains every member and client, and runs the processes, until
    /// nothing moves.
    pub(super) fn drain_all(&mut self) {
        loop {
            let mut busy = false;
            for id in self.cfg.ids() {
                busy |= self.drain_member(id);
            }
            for c in 0..self.clients.len() {
                busy |= self.drain_client(c);
            }
            busy |= self.run_processes();
            if !busy {
                return;
            }
        }
    }

    /// Polls the processes until they wait, carrying out their requests.
    fn run_processes(&mut self) -> bool {
        let mut busy = false;
        loop {
            {
                let mut s = self.shared.borrow_mut();
                s.now = self.now - self.base;
                s.wake_due();
            }
            self.pool.run_until_stalled();
            let requests: Vec<_> = self.shared.borrow_mut().requests.drain(..).collect();
            if requests.is_empty() {
                return busy;
            }
            busy = true;
            for r in requests {
                self.carry_request(r);
            }
        }
    }

    fn next_due(&self) -> Option<(Instant, Due)> {
        let mut best: Option<(Instant, Due)> = None;
        let mut consider = |t: Instant, d: Due| {
            if best.as_ref().is_none_or(|(bt, _)| t < *bt) {
                best = Some((t, d));
            }
        };
        if let Some((&(t, _), _)) = self.queue.first_key_value() {
            consider(t, Due::Queue);
        }
        for n in &self.nodes {
            if n.is_active() {
                if let Some(t) = n.machine.as_ref().and_then(|m| m.poll_timeout()) {
                    consider(t, Due::Member(n.id));
                }
            }
        }
        for c in &self.clients {
            if !c.crashed {
                if let Some(t) = c.machine.poll_timeout() {
                    consider(t, Due::Client(c.id));
                }
            }
        }
        if let Some(t) = self.shared.borrow().next_timer() {
            consider(self.base + t, Due::Process);
        }
        best
    }

    /// Handles the next event due by `until`; false (time moved to `until`)
    /// if there is none.
    pub fn step(&mut self, until: Instant) -> bool {
        let Some((t, due)) = self.next_due().filter(|(t, _)| *t <= until) else {
            self.now = self.now.max(until);
            return false;
        };
        self.now = self.now.max(t);
        let now = self.now;
        match due {
            Due::Queue => {
                if let Some((_, event)) = self.queue.pop_first() {
                    self.handle(event);
                }
            }
            Due::Member(id) => {
                self.log_event(format_args!("TIMER {id}"), &[]);
                if let Some(m) = self.nodes[(id - 1) as usize].machine.as_mut() {
                    m.handle_timeout(now);
                }
            }
            Due::Client(id) => {
                self.log_event(format_args!("CTIMER {id}"), &[]);
                self.clients[id].machine.handle_timeout(now);
            }
            Due::Process => {}
        }
        self.drain_all();
        if !self.amnesiac.is_empty() {
            self.note_recovered();
        }
        true
    }

    fn handle(&mut self, event: Event) {
        if let Some(m) = event.member(&self.conns) {
            if let Some(until) = self.nodes[(m - 1) as usize].paused_until {
                // A stalled member reads nothing: keep it for later.
                self.schedule(until, event);
                return;
            }
        }
        let now = self.now;
        match event {
            Event::Peer {
                from,
                to,
                incarnation,
                msg,
            } => {
                let node = &mut self.nodes[(to - 1) as usize];
                let cut = self.links.get(&(from, to)).is_some_and(|l| l.cut);
                if node.incarnation != incarnation || cut {
                    return;
                }
                let kind = msg.kind();
                if let Some(m) = node.machine.as_mut() {
                    m.handle_peer_message(now, from, msg);
                }
                self.log_event(format_args!("MSG {from}->{to} {kind}"), &[]);
            }
            Event::PeerReset {
                from,
                to,
                incarnation,
            } => {
                let node = &mut self.nodes[(to - 1) as usize];
                if node.incarnation != incarnation {
                    return;
                }
                if let Some(m) = node.machine.as_mut() {
                    m.handle_peer_reset(now, from);
                }
                self.log_event(format_args!("RESET {from}->{to}"), &[]);
            }
            Event::Flush {
                member,
                incarnation,
            } => {
                if self.nodes[(member - 1) as usize].incarnation == incarnation {
                    self.log_event(format_args!("FLUSH {member}"), &[]);
                    self.flushed(member);
                }
            }
            Event::ToMember { conn, bytes } => self.member_bytes(conn, bytes),
            Event::ToClient { conn, bytes } => {
                if let Some(c) = self.conns.get(&conn) {
                    let client = c.client;
                    let xid = bytes
                        .get(4..8)
                        .map_or(0, |b| i32::from_be_bytes([b[0], b[1], b[2], b[3]]));
                    self.log_event(
                        format_args!("TOCLIENT {conn} len={} xid={xid}", bytes.len()),
                        &bytes,
                    );
                    self.client_bytes(client, conn, bytes);
                }
            }
            Event::ClosedAtMember { conn } => {
                let Some(c) = self.conns.get_mut(&conn) else {
                    return;
                };
                if c.closed_at_member {
                    return;
                }
                c.closed_at_member = true;
                let (member, incarnation) = (c.member, c.incarnation);
                self.log_event(format_args!("CLOSED@M {conn}"), &[]);
                let node = &mut self.nodes[(member - 1) as usize];
                if node.incarnation == incarnation {
                    node.decoders.remove(&conn);
                    if let Some(m) = node.machine.as_mut() {
                        m.handle_client_closed(conn);
                    }
                }
            }
            Event::ClosedAtClient { conn } => {
                if let Some(c) = self.conns.get(&conn) {
                    let client = c.client;
                    self.log_event(format_args!("CLOSED@C {conn}"), &[]);
                    self.client_conn_reset(client, conn);
                }
            }
            Event::Connect { client } => self.connect_attempt(client),
            Event::Resume {
                member,
                incarnation,
            } => {
                let node = &mut self.nodes[(member - 1) as usize];
                if node.incarnation == incarnation && node.paused_until.is_some_and(|u| u <= now) {
                    node.paused_until = None;
                    self.log_event(format_args!("RESUME {member}"), &[]);
                }
            }
            Event::Fault => self.fault(),
            Event::Undo(u) => self.undo(u),
        }
    }

    fn member_bytes(&mut self, conn: ConnId, bytes: Bytes) {
        let Some(c) = self.conns.get(&conn) else {
            return;
        };
        if c.closed_at_member {
            return;
        }
        let (member, incarnation) = (c.member, c.incarnation);
        let head = |i: usize| {
            bytes
                .get(i..i + 4)
                .map_or(0, |b| i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
        };
        let (xid, op) = (head(4), head(8));
        self.log_event(
            format_args!("TOMEMBER {conn} len={} xid={xid} op={op}", bytes.len()),
            &bytes,
        );
        let now = self.now;
        let node = &mut self.nodes[(member - 1) as usize];
        if node.incarnation != incarnation {
            return;
        }
        let Some(decoder) = node.decoders.get_mut(&conn) else {
            return;
        };
        decoder.extend(&bytes);
        let mut frames = Vec::new();
        let mut bad = false;
        loop {
            match decoder.next_frame() {
                Ok(Some(f)) => frames.push(f),
                Ok(None) => break,
                Err(_) => {
                    bad = true;
                    break;
                }
            }
        }
        if let Some(m) = node.machine.as_mut() {
            for f in frames {
                m.handle_client_frame(now, conn, f);
            }
        }
        if bad {
            self.member_closed_conn(conn, true);
        }
    }

    /// Runs until `until` (simulated), or until `stop` holds (checked after
    /// every event); true if `stop` held.
    pub fn run_until(&mut self, until: Instant, stop: impl Fn(&Sim) -> bool) -> bool {
        loop {
            if stop(self) {
                return true;
            }
            if !self.step(until) {
                return stop(self);
            }
        }
    }

    /// Runs for `d` of simulated time.
    pub fn run_for(&mut self, d: Duration) {
        let until = self.now + d;
        while self.step(until) {}
    }

    // ----- observation -----

    /// The serving leader with the highest epoch, if any.
    pub fn leader(&self) -> Option<MemberId> {
        self.nodes
            .iter()
            .filter_map(|n| n.machine.as_ref().map(|m| (n.id, m.status())))
            .filter(|(_, s)| s.role == Role::Leading && s.serving)
            .max_by_key(|(_, s)| s.epoch)
            .map(|(id, _)| id)
    }

    /// Every member runs and serves under one leader, nothing outstanding,
    /// all applied the same zxid.
    pub fn quiescent(&self) -> bool {
        let Some(l) = self.leader() else {
            return false;
        };
        let Some(lm) = self.nodes[(l - 1) as usize].machine.as_ref() else {
            return false;
        };
        let epoch = lm.status().epoch;
        lm.last_logged_zxid() == lm.last_committed_zxid()
            && lm.last_zxid() == lm.last_committed_zxid()
            && self.nodes.iter().all(|n| {
                n.is_active()
                    && n.machine.as_ref().is_some_and(|m| {
                        let s = m.status();
                        s.serving
                            && s.leader == Some(l)
                            && s.epoch == epoch
                            && m.last_zxid() == lm.last_zxid()
                    })
            })
    }

    /// One line per member and per live client, for failure reports.
    pub fn describe(&self) -> String {
        let mut out = String::new();
        for n in &self.nodes {
            match &n.machine {
                None => out += &format!("member {}: down; ", n.id),
                Some(m) => {
                    let s = m.status();
                    out += &format!(
                        "member {}: {:?} leader={:?} epoch={} serving={} paused={} crashed={} zxid={:#x} logged={:#x} committed={:#x}; ",
                        n.id,
                        s.role,
                        s.leader,
                        s.epoch,
                        s.serving,
                        n.paused_until.is_some(),
                        m.is_crashed(),
                        m.last_zxid(),
                        m.last_logged_zxid(),
                        m.last_committed_zxid()
                    )
                }
            }
        }
        for c in self.clients.iter().filter(|c| !c.is_done()) {
            out += &format!(
                "client {}: {:?} session={:#x} conn={:?} in_flight={}; ",
                c.id,
                c.machine.state(),
                c.machine.session_id(),
                c.conn,
                c.machine.in_flight()
            );
        }
        out
    }

    /// What each running member holds.
    pub fn views(&self) -> Vec<MemberView> {
        self.nodes
            .iter()
            .filter_map(|n| n.machine.as_ref().map(|m| m.view()))
            .collect()
    }
}

/// What is due next.
#[derive(Debug, Clone, Copy)]
enum Due {
    Queue,
    Member(MemberId),
    Client(ClientId),
    Process,
}
