//! One ensemble member as a pure state machine: the ZooKeeper server
//! ([`crate::server::Server`]) and its replication ([`crate::zab::Member`], or
//! a trivial standalone log) joined, with no I/O, no clock and seeded
//! randomness. The same machine runs under the tokio driver
//! ([`crate::net::core`]) and can run under a deterministic simulator.
//!
//! # How requests flow
//!
//! - **Reads** are answered by the member the client is connected to, from
//!   its applied tree (after the connection's earlier writes).
//! - **Writes** (session creation and close included): the leader prepares
//!   them into transactions and proposes them; a follower forwards them to
//!   the leader as numbered [`AppMessage::Forward`]s on the same FIFO link as
//!   the leader's proposals. Every member applies commits in zxid order,
//!   fires its own watches, and the member holding the client's connection
//!   sends the reply. A write is answered exactly once, by that member, or
//!   not at all because its connection closed (the client sees a connection
//!   loss, as with ZooKeeper).
//! - **sync** goes through ZAB's sync: the reply leaves once everything the
//!   leader had proposed is applied here.
//! - **Sessions**: the leader owns expiry. Followers report session activity
//!   every half tick ([`AppMessage::Touch`]); a reattach is checked against
//!   the replicated session table (after a sync, on a follower that does not
//!   know the session yet).
//! - **Losing the leader or the quorum** stops serving: every client
//!   connection is closed, failing what was in flight; clients reconnect to a
//!   serving member.
//!
//! # Driving
//!
//! Method groups, quinn-style:
//! - construction: [`MemberMachine::new`] from the configuration and what
//!   storage recovered;
//! - inputs: [`MemberMachine::handle_client_open`],
//!   [`MemberMachine::handle_client_frame`],
//!   [`MemberMachine::handle_client_closed`],
//!   [`MemberMachine::handle_peer_message`],
//!   [`MemberMachine::handle_peer_reset`], [`MemberMachine::persisted`],
//!   [`MemberMachine::handle_timeout`];
//! - control: [`MemberMachine::expire_session`],
//!   [`MemberMachine::drop_client_connections`];
//! - polls, after every input: [`MemberMachine::poll_effect`] (peer messages
//!   and storage, carried out in order), [`MemberMachine::poll_client`]
//!   (client frames), then [`MemberMachine::poll_timeout`];
//! - getters: [`MemberMachine::status`], [`MemberMachine::last_zxid`],
//!   [`MemberMachine::digest`], [`MemberMachine::stats`], ...
//!
//! Effects are carried out in the order polled: `Truncate`, `SaveEpochs`,
//! `SaveSnapshot` and `InstallSnapshot` complete before the next effect;
//! `Append`s may be batched and made durable together (group commit), then
//! reported with [`MemberMachine::persisted`]; `Send`s go on the FIFO link to
//! the peer.

mod app;
mod config;
mod failpoints;
mod forwarding;
mod pump;
mod read_only;
mod reconfig;
mod replication;
mod solo;
mod view;

#[cfg(test)]
mod tests;

pub use app::AppMessage;
pub use config::MemberConfig;
pub use view::MemberView;
pub use read_only::default_grace as default_read_only_grace;

use crate::failpoint::{Action, Failpoint, Failpoints};
use crate::server::stats::{ReplicaRole, ReplicaStats, ServerStats, StatsDetail};
use crate::server::{ConnId, Database, ConnOutput, Server, Time};
use crate::storage::{Epochs, LogEntry, Recovered, Snapshot, Zxid};
use crate::zab::{self, MemberId, Role, ZabMessage};
use bytes::Bytes;
use forwarding::{Inbound, Outbound};
use rand::rngs::Xoshiro256PlusPlus;
use rand::SeedableRng;
use replication::Replication;
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// An effect on the world outside the machine: a message to a peer or a
/// storage operation, carried out in the order polled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Send `msg` to member `to` on the FIFO link between the two.
    Send {
        /// The destination.
        to: MemberId,
        /// The message.
        msg: ZabMessage,
    },
    /// Append the entries to the log; report durability with
    /// [`MemberMachine::persisted`] (several appends may share one flush).
    Append(Vec<LogEntry>),
    /// Drop log entries after the zxid, before anything later.
    Truncate(Zxid),
    /// Save the epochs durably, before anything later.
    SaveEpochs(Epochs),
    /// Save a snapshot of the applied state (periodic), before anything later.
    SaveSnapshot(Snapshot),
    /// Replace storage with this snapshot and an empty log (SNAP sync),
    /// durably, before anything later.
    InstallSnapshot(Snapshot),
    /// The machine cannot go on (a peer sent a snapshot it cannot decode):
    /// stop the member, as a process would exit.
    Halt(String),
    /// An armed failpoint crashed the member here: stop it as a killed
    /// process (carry out nothing after this; unflushed appends are lost).
    /// The machine takes no input after it.
    Crash(Failpoint),
    /// An armed failpoint paused the member here: take no input and carry
    /// out no further effect for `duration`, then go on.
    Pause {
        /// The failpoint that fired.
        failpoint: Failpoint,
        /// How long the member stalls.
        duration: Duration,
    },
}

/// A member's place in the ensemble, as last reported by replication.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Status {
    /// Looking, following or leading.
    pub role: Role,
    /// The leader, when known (this member itself when leading).
    pub leader: Option<MemberId>,
    /// The member's current epoch.
    pub epoch: u32,
    /// Whether it serves clients.
    pub serving: bool,
}

/// How often a member was brought up to date by each kind of sync since it
/// started (counted when the leader's DIFF, TRUNC or SNAP arrives).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SyncCounts {
    /// Syncs by DIFF (missing proposals replayed).
    pub diff: u64,
    /// Syncs by TRUNC (uncommitted proposals dropped).
    pub trunc: u64,
    /// Syncs by SNAP (a snapshot installed).
    pub snap: u64,
}

/// Why a member machine could not be built.
#[derive(Debug, thiserror::Error)]
pub enum MemberError {
    /// The replication configuration is invalid.
    #[error("invalid replication configuration")]
    Config(#[from] zab::ConfigError),
    /// The recovered snapshot does not decode.
    #[error("the recovered snapshot does not decode")]
    Snapshot(#[from] zk_client::proto::DecodeError),
}

/// Maps the driver's `Instant`s to the server's wall and monotonic times.
#[derive(Debug, Clone, Copy)]
struct TimeBase {
    at: Instant,
    wall_ms: i64,
}

impl TimeBase {
    fn time(&self, now: Instant) -> Time {
        let ms = now.saturating_duration_since(self.at).as_millis();
        let ms = u64::try_from(ms).unwrap_or(u64::MAX);
        Time {
            wall_ms: self
                .wall_ms
                .saturating_add(i64::try_from(ms).unwrap_or(i64::MAX)),
            // Start at 1 s so bucket arithmetic never needs negative times.
            mono_ms: 1_000u64.saturating_add(ms),
        }
    }
}

/// One member of an ensemble: server and replication in one pure machine.
/// See the [module docs](self) for the request flow and the driving order.
pub struct MemberMachine {
    id: MemberId,
    members: usize,
    server: Server,
    repl: Replication,
    base: TimeBase,
    rng: Xoshiro256PlusPlus,
    status: Status,
    outbound: Option<Outbound>,
    inbound: Inbound,
    effects: VecDeque<Effect>,
    tick: Duration,
    next_tick: Instant,
    snapshot_every: u64,
    since_snapshot: u64,
    leading_since: Option<Instant>,
    syncs: SyncCounts,
    failpoints: Failpoints,
    /// A failpoint crashed the machine: it takes no more input.
    crashed: bool,
    /// Read-only mode: how long to look for a leader before serving
    /// read-only sessions (None: off).
    read_only_grace: Option<std::time::Duration>,
    /// Voting members of the ensemble (`members` counts observers too).
    voters: usize,
    /// Whether this member observes (does not vote).
    observer: bool,
    /// Non-voting learners the published configuration does not name
    /// (spares a reconfig may add).
    spares: Vec<MemberId>,
    /// When the member last started looking for a leader.
    looking_since: Option<Instant>,
    /// The client port the configuration in force gives this member.
    client_port: Option<u16>,
}

impl MemberMachine {
    /// A member starting from what its storage recovered; `now` and
    /// `wall_ms` (ms since the Unix epoch at `now`) anchor its clocks.
    pub fn new(
        config: MemberConfig,
        recovered: Recovered,
        now: Instant,
        wall_ms: i64,
    ) -> Result<MemberMachine, MemberError> {
        let base = TimeBase { at: now, wall_ms };
        let db = match &recovered.snapshot {
            Some(s) => s.data.to_database()?,
            None => Database::default(),
        };
        let id = config.id();
        let mut server_config = config.server.clone();
        server_config.server_id = u8::try_from(id).unwrap_or(u8::MAX);
        let tick = Duration::from_millis(server_config.tick_ms.max(2) / 2);
        let mut server = Server::new(server_config, db, base.time(now));
        if let Some(text) = &config.ensemble_config {
            server.set_ensemble_config(text);
        }
        let rng = Xoshiro256PlusPlus::seed_from_u64(config.zab.seed ^ 0x6d65_6d62_6572);
        let members = config.zab.members.len() + config.zab.observers.len();
        let voters = config.zab.members.len();
        let observer = config.zab.is_observer();
        let spares = reconfig::spares_of(&config.zab.observers, config.ensemble_config.as_deref());
        let client_port = reconfig::client_port_in(config.ensemble_config.as_deref(), id);
        let repl = Replication::new(config.zab, recovered, now)?;
        let mut m = MemberMachine {
            id,
            members,
            server,
            repl,
            base,
            rng,
            status: Status {
                role: Role::Looking,
                leader: None,
                epoch: 0,
                serving: false,
            },
            outbound: None,
            inbound: Inbound::default(),
            effects: VecDeque::new(),
            tick,
            next_tick: now + tick,
            snapshot_every: config.snapshot_every,
            since_snapshot: 0,
            leading_since: None,
            syncs: SyncCounts::default(),
            failpoints: config.failpoints,
            crashed: false,
            read_only_grace: config.read_only_grace,
            voters,
            observer,
            spares,
            looking_since: Some(now),
            client_port,
        };
        m.pump(now);
        Ok(m)
    }

    // ----- getters -----

    /// This member's id.
    pub fn id(&self) -> MemberId {
        self.id
    }

    /// Role, leader, epoch and whether it serves.
    pub fn status(&self) -> Status {
        self.status
    }

    /// True if this member serves clients.
    pub fn is_serving(&self) -> bool {
        self.status.serving
    }

    /// Zxid of the last transaction applied to the data tree.
    pub fn last_zxid(&self) -> Zxid {
        self.server.last_zxid()
    }

    /// Zxid of the last entry in the log (applied or not).
    pub fn last_logged_zxid(&self) -> Zxid {
        self.repl.last_logged_zxid()
    }

    /// Zxid of the last entry known committed.
    pub fn last_committed_zxid(&self) -> Zxid {
        self.repl.last_committed_zxid()
    }

    /// How this member was synced with its leaders since it started.
    pub fn sync_counts(&self) -> SyncCounts {
        self.syncs
    }

    /// Digest of the data tree (equal on members that applied the same log).
    pub fn digest(&self) -> u64 {
        self.server.digest()
    }

    /// Sessions in the applied session table, with their timeouts (ms).
    pub fn sessions(&self) -> Vec<(i64, i32)> {
        self.server.sessions()
    }

    /// The server's clock reading for `now` (wall and monotonic ms).
    pub fn time(&self, now: Instant) -> Time {
        self.base.time(now)
    }

    /// The client port the configuration in force (`/zookeeper/config`)
    /// gives this member; None when it names none. A reconfig that changes
    /// it asks the member to listen there instead (ZooKeeper rebinds its
    /// client port at runtime); the driver carries that out.
    pub fn client_port(&self) -> Option<u16> {
        self.client_port
    }

    /// The server part (read-only).
    pub fn server(&self) -> &Server {
        &self.server
    }

    /// Carries out what an administrative four-letter word changes (counter
    /// resets, the trace mask); see [`Server::apply_admin`].
    pub fn apply_admin(&mut self, detail: &StatsDetail) {
        self.server.apply_admin(detail);
    }

    /// Figures for the four-letter words (the costly parts as `detail` asks).
    pub fn stats(&self, now: Instant, detail: StatsDetail) -> ServerStats {
        let mut stats = self.server.stats(detail);
        if self.members > 1 {
            let role = match (self.status.role, self.status.serving) {
                (Role::Leading, true) => ReplicaRole::Leader,
                (Role::Following, true) if self.observer => ReplicaRole::Observer,
                (Role::Following, true) => ReplicaRole::Follower,
                _ => ReplicaRole::Looking,
            };
            let learners = self.repl.learners().unwrap_or_default();
            stats.replica = Some(ReplicaStats {
                leader: self.status.leader,
                role,
                quorum_size: self.voters,
                learners: learners.connected,
                synced_followers: learners.synced,
                synced_observers: learners.synced_observers,
                leader_uptime_ms: self.leading_since.map_or(0, |t| {
                    u64::try_from(now.saturating_duration_since(t).as_millis()).unwrap_or(0)
                }),
            });
        }
        stats
    }

    // ----- inputs -----

    /// A client connected from `peer`.
    pub fn handle_client_open(&mut self, conn: ConnId, peer: SocketAddr) {
        if self.crashed {
            return;
        }
        self.server.open_connection(conn, peer);
    }

    /// A TLS client connection presented a certificate with subject `dn`.
    pub fn handle_client_x509(&mut self, conn: ConnId, dn: String) {
        if self.crashed {
            return;
        }
        self.server
            .add_identity(conn, zk_client::proto::Id::new("x509", dn));
    }

    /// A frame (without its length prefix) from a client connection.
    pub fn handle_client_frame(&mut self, now: Instant, conn: ConnId, frame: Bytes) {
        if self.crashed {
            return;
        }
        self.server.handle_frame(conn, frame, self.base.time(now));
        self.pump(now);
    }

    /// A client connection closed.
    pub fn handle_client_closed(&mut self, conn: ConnId) {
        self.server.connection_closed(conn);
    }

    /// A message from peer `from`. Malformed or unexpected messages are
    /// ignored or make the member rejoin; never a panic.
    pub fn handle_peer_message(&mut self, now: Instant, from: MemberId, msg: ZabMessage) {
        if self.crashed || !self.failpoint_on_arrival(now, from, &msg) {
            return;
        }
        match msg {
            ZabMessage::Diff { .. } => self.syncs.diff += 1,
            ZabMessage::Trunc { .. } => self.syncs.trunc += 1,
            ZabMessage::Snap { .. } => self.syncs.snap += 1,
            _ => {}
        }
        self.repl.step(now, from, msg);
        self.pump(now);
    }

    /// The link to `peer` was reset (the peer's process died).
    pub fn handle_peer_reset(&mut self, now: Instant, peer: MemberId) {
        if self.crashed {
            return;
        }
        self.repl.peer_disconnected(now, peer);
        self.pump(now);
    }

    /// Every `Append` up to the one ending with `up_to` is durable.
    pub fn persisted(&mut self, now: Instant, up_to: Zxid) {
        if self.crashed {
            return;
        }
        self.repl.persisted(now, up_to);
        self.pump(now);
    }

    /// The timer fired (early or late calls are harmless).
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.crashed {
            return;
        }
        if self.repl.poll_timeout().is_some_and(|t| t <= now) {
            self.repl.handle_timeout(now);
        }
        if now >= self.next_tick {
            self.next_tick = now + self.tick;
            self.server.handle_tick(self.base.time(now));
            self.report_touches();
        }
        self.check_read_only(now);
        self.pump(now);
    }

    // ----- control -----

    /// Expires a session now, as if its timeout had passed. Only the member
    /// that prepares writes (leader or standalone) can; false elsewhere or
    /// if the session is not live.
    pub fn expire_session(&mut self, now: Instant, session_id: i64) -> bool {
        if self.crashed {
            return false;
        }
        let done = self.server.expire_session(session_id, self.base.time(now));
        self.pump(now);
        done
    }

    /// Closes every client connection (sessions stay).
    pub fn drop_client_connections(&mut self) {
        self.server.drop_connections();
    }

    /// Arms `point` with `action` (it fires once); see [`crate::failpoint`].
    pub fn set_failpoint(&mut self, point: Failpoint, action: Action) {
        self.failpoints.arm(point, action);
    }

    /// Disarms `point`.
    pub fn clear_failpoint(&mut self, point: Failpoint) {
        self.failpoints.disarm(point);
    }

    /// The armed failpoints and how many fired.
    pub fn failpoints(&self) -> &Failpoints {
        &self.failpoints
    }

    /// Whether a failpoint crashed the machine (it takes no more input).
    pub fn is_crashed(&self) -> bool {
        self.crashed
    }

    // ----- polls -----

    /// The next peer message or storage operation.
    pub fn poll_effect(&mut self) -> Option<Effect> {
        self.effects.pop_front()
    }

    /// The next frame or close for a client connection.
    pub fn poll_client(&mut self) -> Option<(ConnId, ConnOutput)> {
        if self.crashed {
            return None;
        }
        self.server.poll_output()
    }

    /// When [`MemberMachine::handle_timeout`] should next be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.crashed {
            return None;
        }
        let next = match self.repl.poll_timeout() {
            Some(t) => t.min(self.next_tick),
            None => self.next_tick,
        };
        Some(match self.read_only_deadline() {
            Some(t) => t.min(next),
            None => next,
        })
    }
}
