//! Simulated clients: a pure `zk_client` session machine per session, its
//! connection to one member at a time (bytes through the simulated
//! network), and host choice and reconnect pacing by the real driver's
//! [`HostOrder`] and [`ReconnectPacer`].

use super::exec::{gave_up, ClientId, Connected, ReplySlot, Request2Sim, Slot, WatchSlot};
use super::world::{Event, Sim};
use crate::server::ConnId;
use crate::zab::MemberId;
use bytes::Bytes;
use std::net::{Ipv4Addr, SocketAddr};
use std::rc::Rc;
use zk_client::session::{
    HostOrder, ReconnectPacer, SessionConfig, SessionEvent, SessionMachine, WatchRequest,
};
use zk_client::watch::WatchKind;
use zk_client::ConnectionState;

/// A simulated client's session machine.
pub type Machine = SessionMachine<ReplySlot, WatchSlot>;

/// One simulated client (one session).
pub struct SimClient {
    /// Its id.
    pub id: ClientId,
    /// The session machine.
    pub machine: Machine,
    /// The connection it uses now.
    pub conn: Option<ConnId>,
    /// A connection attempt is scheduled.
    connecting: bool,
    pacer: ReconnectPacer,
    /// Members in the order it tries them.
    hosts: HostOrder<MemberId>,
    /// When it started each connection attempt (time since the run began).
    pub attempts: Vec<std::time::Duration>,
    /// The client process crashed: it does nothing any more.
    pub crashed: bool,
    /// A process waits for the session to be established.
    waiting: Option<Rc<Slot<Connected>>>,
    next_watcher: u64,
}

impl SimClient {
    /// Whether the session is over (closed, expired) or the process crashed.
    pub fn is_done(&self) -> bool {
        self.crashed || self.machine.is_ended()
    }
}

impl Sim {
    /// A new client with the configured session timeout, its hosts
    /// shuffled (or only `pin`); it starts connecting at once, to a new
    /// session or to `attach` (id and password).
    pub(super) fn new_client(
        &mut self,
        pin: Option<MemberId>,
        attach: Option<(i64, Bytes)>,
    ) -> ClientId {
        let id = self.clients.len();
        let config = SessionConfig {
            session_timeout: self.cfg.session_timeout,
            connect_timeout: self.cfg.tick * 5,
            attach,
            ..SessionConfig::default()
        };
        let members: Vec<MemberId> = match pin {
            Some(m) => vec![m],
            None => self.cfg.ids(),
        };
        let Some(hosts) = HostOrder::new(members, &mut self.rng) else {
            unreachable!("an ensemble has at least one member");
        };
        self.clients.push(SimClient {
            id,
            machine: SessionMachine::new(config, self.now),
            conn: None,
            connecting: false,
            pacer: ReconnectPacer::new(hosts.len()),
            hosts,
            attempts: Vec::new(),
            crashed: false,
            waiting: None,
            next_watcher: 1,
        });
        self.log_event(format_args!("CLIENT {id} new"), &[]);
        id
    }

    /// Carries out a process's request.
    pub(super) fn carry_request(&mut self, request: Request2Sim) {
        let now = self.now;
        match request {
            Request2Sim::Call {
                client,
                request,
                watch,
                slot,
            } => {
                let c = &mut self.clients[client];
                if c.crashed {
                    slot.fill(Err(gave_up()));
                    return;
                }
                let watch = watch.map(|log| {
                    let id = c.next_watcher;
                    c.next_watcher += 1;
                    (
                        WatchKind::PersistentRecursive,
                        WatchRequest {
                            id,
                            sink: WatchSlot(log),
                        },
                    )
                });
                c.machine.submit(now, request, watch, ReplySlot(slot));
            }
            Request2Sim::Close { client, slot } => {
                let c = &mut self.clients[client];
                if c.crashed {
                    slot.fill(Err(gave_up()));
                    return;
                }
                c.machine.close(now, ReplySlot(slot));
            }
            Request2Sim::Connect(slot, pin) => {
                let id = self.new_client(pin, None);
                self.clients[id].waiting = Some(slot);
            }
            Request2Sim::Abandon(client) => self.crash_client(client),
        }
    }

    /// The client process dies: the OS resets its connection; the session
    /// lives on the server until it expires.
    pub(super) fn crash_client(&mut self, id: ClientId) {
        self.log_event(format_args!("CLIENT {id} crash"), &[]);
        let c = &mut self.clients[id];
        c.crashed = true;
        if let Some(slot) = c.waiting.take() {
            slot.fill(Err(gave_up()));
        }
        if let Some(conn) = c.conn.take() {
            self.client_closed_conn(conn);
        }
    }

    /// Moves client `id`'s frames to its connection and acts on its events;
    /// true if anything happened.
    pub(super) fn drain_client(&mut self, id: ClientId) -> bool {
        let mut busy = false;
        if self.clients[id].crashed {
            return false;
        }
        loop {
            while let Some(frame) = self.clients[id].machine.poll_transmit() {
                busy = true;
                if let Some(conn) = self.clients[id].conn {
                    self.send_to_member(conn, frame);
                }
            }
            let Some(event) = self.clients[id].machine.poll_event() else {
                break;
            };
            busy = true;
            match event {
                SessionEvent::State(state) => self.client_state(id, state),
                SessionEvent::Disconnect(_) => {
                    if let Some(conn) = self.clients[id].conn.take() {
                        self.client_closed_conn(conn);
                    }
                }
                SessionEvent::Unwatch { path, watcher_type } => {
                    let slot = ReplySlot(Slot::new_rc());
                    self.clients[id].machine.remove_server_watch(
                        self.now,
                        path,
                        watcher_type,
                        slot,
                    );
                }
            }
        }
        let c = &self.clients[id];
        if c.machine.wants_transport() && c.conn.is_none() && !c.connecting {
            self.schedule_connect(id);
        }
        busy
    }

    fn client_state(&mut self, id: ClientId, state: ConnectionState) {
        self.log_event(format_args!("CLIENT {id} state {state:?}"), &[]);
        let c = &mut self.clients[id];
        if state.is_connected() {
            c.pacer
                .session_established(self.now, c.machine.negotiated_timeout());
            if let Some(slot) = c.waiting.take() {
                slot.fill(Ok((id, c.machine.session_id())));
            }
        } else if state.is_terminal() {
            if let Some(slot) = c.waiting.take() {
                slot.fill(Err(gave_up()));
            }
        }
    }

    fn schedule_connect(&mut self, id: ClientId) {
        let c = &mut self.clients[id];
        c.connecting = true;
        let delay = c.pacer.next_attempt(self.now, &mut self.rng);
        let latency = self.net_delay();
        self.schedule(self.now + delay + latency, Event::Connect { client: id });
    }

    /// A connection attempt: the next host, if it runs and is reachable.
    pub(super) fn connect_attempt(&mut self, id: ClientId) {
        let now = self.now;
        let c = &mut self.clients[id];
        c.connecting = false;
        if c.crashed || !c.machine.wants_transport() || c.conn.is_some() {
            return;
        }
        let member = c.hosts.next_host();
        c.attempts.push(now - self.base);
        let reachable =
            self.nodes[(member - 1) as usize].is_up() && !self.client_cuts.contains(&(id, member));
        if !reachable {
            self.log_event(format_args!("CLIENT {id} refused by {member}"), &[]);
            self.drain_client(id);
            return;
        }
        let conn = self.open_conn(id, member);
        let addr = SocketAddr::from((Ipv4Addr::new(10, 0, 0, 1), 10_000 + id as u16));
        let node = &mut self.nodes[(member - 1) as usize];
        if let Some(m) = node.machine.as_mut() {
            m.handle_client_open(conn, addr);
        }
        self.clients[id].conn = Some(conn);
        self.clients[id].machine.transport_connected(now);
        self.log_event(format_args!("CLIENT {id} conn {conn} to {member}"), &[]);
    }

    /// Bytes from the member reached client `id` on `conn`.
    pub(super) fn client_bytes(&mut self, id: ClientId, conn: ConnId, bytes: Bytes) {
        let c = &mut self.clients[id];
        if c.crashed || c.conn != Some(conn) {
            return;
        }
        c.machine.handle_bytes(self.now, &bytes);
    }

    /// The member closed `conn` and the client learned it.
    pub(super) fn client_conn_reset(&mut self, id: ClientId, conn: ConnId) {
        let c = &mut self.clients[id];
        if c.crashed || c.conn != Some(conn) {
            return;
        }
        c.conn = None;
        c.machine.transport_closed(self.now);
    }
}
