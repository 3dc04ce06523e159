//! The server machine: connections, sessions, and the request pipeline
//! (prepare → replicate → apply → reply), with no I/O and time as arguments.
//!
//! The server does not order or persist anything itself. Depending on its
//! [`Mode`] it either prepares client writes into transactions and submits
//! them for replication ([`Mode::Prepare`]: a standalone server or an
//! established leader) or forwards them to the member that does
//! ([`Mode::Forward`]: a synced follower). Every member then applies the
//! committed transactions it is given, in zxid order, and the member holding
//! the client's connection answers it.
//!
//! Method groups, in the order a driver uses them:
//! - role: [`Server::start_serving`], [`Server::stop_serving`],
//!   [`Server::install_snapshot`];
//! - connections: [`Server::open_connection`], [`Server::handle_frame`],
//!   [`Server::connection_closed`];
//! - replication: [`Server::apply_committed`], [`Server::sync_done`],
//!   [`Server::handle_forwarded`] (leader), [`Server::touch_sessions`]
//!   (leader), [`Server::take_touches`] (follower);
//! - time: [`Server::handle_tick`] on every timer tick;
//! - control: [`Server::expire_session`], [`Server::drop_connections`];
//! - output: [`Server::poll_output`] (client frames) and
//!   [`Server::poll_submission`] (work for replication) until `None` after
//!   each call above;
//! - getters: [`Server::last_zxid`], [`Server::digest`], [`Server::sessions`],
//!   [`Server::stats`], [`Server::mode`].
//!
//! Per connection, replies leave in request order: reads queue behind the
//! connection's writes until those are applied, frames that arrive before
//! the handshake is answered wait for it, and a write's watch notifications
//! are emitted before its reply.

mod admin;
mod config_node;
mod dispatch;
mod intake;
mod read_only;
mod role;
mod sasl;

use super::config::ServerConfig;
use super::database::Database;
use super::owners::SessionOwners;
use super::prep::Preparer;
use super::sessions::{initial_session_id, SessionTracker};
use super::stats::{ConnectionInfo, Counters, ServerStats, StatsDetail};
use super::submit::Submission;
use super::txn::Txn;
use crate::storage::{LogEntry, SnapshotData};
use crate::tree::AuthInfo;
use bytes::Bytes;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::SocketAddr;
use zk_client::proto::{ErrorCode, Record, Request};

/// Identifies a client connection (chosen by the driver, unique per server).
pub type ConnId = u64;

/// The current time, as the driver reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Time {
    /// Wall clock, ms since the Unix epoch (transaction times: ctime/mtime).
    pub wall_ms: i64,
    /// Monotonic clock, ms (session expiry).
    pub mono_ms: u64,
}

/// What the driver must do for a connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnOutput {
    /// Write this frame (length prefix included).
    Frame(Bytes),
    /// Close the connection after writing what came before.
    Close,
}

/// How the server takes part in replication.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Not serving: handshakes are refused (connection closed, no reply).
    Down,
    /// Prepares writes, proposes them and expires sessions: a standalone
    /// server or an established leader.
    Prepare,
    /// Forwards writes and session changes to the leader and reports session
    /// activity to it: a synced follower.
    Forward,
    /// Serves read-only sessions from its own tree: a member cut off from its
    /// quorum with read-only mode enabled (see [`Server::start_read_only`]).
    ReadOnly,
}

enum Pending {
    /// A new session waiting for its createSession transaction.
    Handshake {
        session_id: i64,
    },
    /// A reattach to a session this follower does not know yet, waiting for
    /// a sync with the leader before the session table is checked again.
    Revalidate {
        session_id: i64,
        timeout_ms: i32,
        token: u64,
    },
    /// A write waiting for its transaction; once applied, its reply waits
    /// here until everything ahead of it on the connection is answered.
    Write {
        cxid: i32,
        start: u64,
        reply: Option<WriteReply>,
    },
    Read {
        xid: i32,
        request: Request,
        start: u64,
    },
    Failed {
        xid: i32,
        err: ErrorCode,
    },
    /// A `sync` request: answered once its barrier is done, in order.
    Sync {
        xid: i32,
        request: Request,
        token: u64,
        done: bool,
        start: u64,
    },
}

/// The reply of an applied write, held until its turn.
struct WriteReply {
    frame: Bytes,
    zxid: i64,
    /// The write was this session's closeSession: close after the reply.
    close: bool,
}

struct Conn {
    peer: SocketAddr,
    auth: AuthInfo,
    session: Option<i64>,
    timeout_ms: i32,
    closing: bool,
    queue: VecDeque<Pending>,
    /// Frames received while the handshake was pending.
    deferred: VecDeque<Bytes>,
    counters: Counters,
    last_cxid: i32,
    last_zxid: i64,
    last_op: &'static str,
    /// The connection's SASL exchange, once started.
    sasl: Option<Box<zk_client::proto::sasl::DigestMd5Server>>,
    /// The handshake had no readOnly byte (a 3.3 client): neither has ours.
    old_client: bool,
}

impl Conn {
    fn handshaking(&self) -> bool {
        matches!(
            self.queue.front(),
            Some(Pending::Handshake { .. } | Pending::Revalidate { .. })
        )
    }
}

/// Sizes of the transactions proposed while preparing writes (for srvr/mntr).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ProposalSizes {
    /// Size of the last proposal, bytes.
    pub last: usize,
    /// Smallest proposal, bytes.
    pub min: usize,
    /// Largest proposal, bytes.
    pub max: usize,
}

/// One ZooKeeper server (see the module docs for the driving order).
pub struct Server {
    config: ServerConfig,
    mode: Mode,
    db: Database,
    prep: Preparer,
    /// Reconfigurations proposed and applied, for the member to act on.
    config_changes: config_node::ConfigChanges,
    tracker: SessionTracker,
    conns: HashMap<ConnId, Conn>,
    session_conns: HashMap<i64, ConnId>,
    outputs: VecDeque<(ConnId, ConnOutput)>,
    submissions: VecDeque<Submission>,
    /// Sync barriers in flight: token → connection.
    syncs: HashMap<u64, ConnId>,
    next_token: u64,
    /// Follower: sessions active since the last report, with their timeouts.
    touched: BTreeMap<i64, i32>,
    /// Preparing: the member each session is attached through.
    owners: SessionOwners,
    counters: Counters,
    proposal_sizes: Option<ProposalSizes>,
    last_container_check: u64,
    /// The trace mask of `gtmk` / `stmk`.
    trace_mask: i64,
}

impl Server {
    /// A server holding `db` (empty, or decoded from a snapshot), not serving
    /// yet: call [`Server::start_serving`] once replication allows it.
    pub fn new(config: ServerConfig, db: Database, now: Time) -> Server {
        let mut tracker = SessionTracker::new(
            config.tick_ms,
            initial_session_id(config.server_id, now.wall_ms),
        );
        for (id, timeout) in &db.sessions {
            tracker.add(*id, *timeout, now.mono_ms);
        }
        Server {
            mode: Mode::Down,
            prep: Preparer::new(db.last_zxid),
            config_changes: Default::default(),
            db,
            tracker,
            conns: HashMap::new(),
            session_conns: HashMap::new(),
            outputs: VecDeque::new(),
            submissions: VecDeque::new(),
            syncs: HashMap::new(),
            next_token: 1,
            touched: BTreeMap::new(),
            owners: SessionOwners::default(),
            counters: Counters::default(),
            proposal_sizes: None,
            last_container_check: now.mono_ms,
            config,
            trace_mask: admin::DEFAULT_TRACE_MASK,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &ServerConfig {
        &self.config
    }

    /// How the server currently takes part in replication.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// Zxid of the last applied transaction.
    pub fn last_zxid(&self) -> i64 {
        self.db.last_zxid
    }

    /// Digest of the data tree.
    pub fn digest(&self) -> u64 {
        self.db.digest()
    }

    /// The applied state.
    pub fn database(&self) -> &Database {
        &self.db
    }

    /// A snapshot of the applied state (tree, sessions, last zxid).
    pub fn snapshot(&self) -> Bytes {
        self.db.snapshot()
    }

    /// A frozen image of the replicated state, for a snapshot to keep or
    /// write (cheap: it shares the tree's nodes; see [`Database::image`]).
    pub fn snapshot_image(&self) -> SnapshotData {
        SnapshotData::image_of(&self.db)
    }

    /// Live sessions with their timeouts (ms), sorted by id.
    pub fn sessions(&self) -> Vec<(i64, i32)> {
        self.db.sessions.iter().map(|(k, v)| (*k, *v)).collect()
    }

    /// Next output for a connection.
    pub fn poll_output(&mut self) -> Option<(ConnId, ConnOutput)> {
        self.outputs.pop_front()
    }

    /// Next piece of work for the replication layer.
    pub fn poll_submission(&mut self) -> Option<Submission> {
        self.submissions.pop_front()
    }

    /// A new client connection from `peer`.
    pub fn open_connection(&mut self, conn: ConnId, peer: SocketAddr) {
        self.conns.insert(
            conn,
            Conn {
                peer,
                auth: AuthInfo {
                    skip_acl: self.config.skip_acl,
                    ..AuthInfo::from_ip(&peer.ip().to_string())
                },
                session: None,
                timeout_ms: 0,
                closing: false,
                queue: VecDeque::new(),
                deferred: VecDeque::new(),
                counters: Counters::default(),
                last_cxid: 0,
                last_zxid: 0,
                last_op: "NA",
                sasl: None,
                old_client: false,
            },
        );
    }

    /// An identity the connection proved outside the request stream (an
    /// `x509` client certificate).
    pub fn add_identity(&mut self, conn: ConnId, id: zk_client::proto::Id) {
        if let Some(c) = self.conns.get_mut(&conn) {
            c.auth.add(id);
        }
    }

    /// The connection went away (socket closed). Its session lives on until
    /// it expires; its watches are dropped.
    pub fn connection_closed(&mut self, conn: ConnId) {
        if let Some(c) = self.conns.remove(&conn) {
            if let Some(s) = c.session {
                if self.session_conns.get(&s) == Some(&conn) {
                    self.session_conns.remove(&s);
                }
            }
        }
        self.syncs.retain(|_, c| *c != conn);
        self.db.tree.watches.remove_watcher(conn);
    }

    /// Closes every client connection (sessions stay alive).
    pub fn drop_connections(&mut self) {
        // In id order, so that a deterministic driver sees the same closes.
        let mut ids: Vec<ConnId> = self.conns.keys().copied().collect();
        ids.sort_unstable();
        for id in ids {
            self.close(id);
        }
    }

    /// One frame (without its length prefix) from a connection.
    pub fn handle_frame(&mut self, conn: ConnId, frame: Bytes, now: Time) {
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        if c.closing {
            return;
        }
        c.counters.received += 1;
        self.counters.received += 1;
        if c.session.is_none() {
            self.handshake(conn, frame, now);
        } else if c.handshaking() {
            c.deferred.push_back(frame);
        } else {
            self.request(conn, frame, now);
        }
    }

    /// Applies one committed entry (entries come in zxid order, each once)
    /// and answers the connection waiting for it, if it is here.
    pub fn apply_committed(&mut self, entry: LogEntry, now: Time) {
        let txn = match Txn::from_bytes(entry.payload) {
            Ok(t) => t,
            Err(e) => {
                tracing::error!(zxid = entry.zxid, error = %e, "undecodable committed entry");
                return;
            }
        };
        self.note_applied_config(&txn);
        let applied = super::apply::apply(&mut self.db, &txn);
        self.prep.applied(applied.header.zxid);
        self.dispatch(applied, now);
    }

    fn send(&mut self, conn: ConnId, frame: Bytes) {
        if let Some(c) = self.conns.get_mut(&conn) {
            c.counters.sent += 1;
        }
        self.counters.sent += 1;
        self.outputs.push_back((conn, ConnOutput::Frame(frame)));
    }

    fn close(&mut self, conn: ConnId) {
        if let Some(c) = self.conns.get_mut(&conn) {
            if !c.closing {
                c.closing = true;
                self.outputs.push_back((conn, ConnOutput::Close));
            }
        }
    }

    fn propose(&mut self, txn: Txn) {
        self.note_proposed_config(&txn);
        let entry = LogEntry {
            zxid: txn.header.zxid,
            payload: txn.to_bytes(),
        };
        let size = entry.payload.len();
        self.proposal_sizes = Some(match self.proposal_sizes {
            None => ProposalSizes {
                last: size,
                min: size,
                max: size,
            },
            Some(p) => ProposalSizes {
                last: size,
                min: p.min.min(size),
                max: p.max.max(size),
            },
        });
        self.submissions.push_back(Submission::Propose(entry));
    }

    fn new_token(&mut self) -> u64 {
        let t = self.next_token;
        self.next_token += 1;
        t
    }

    /// Counters, connections and tree figures for the four-letter words;
    /// the costly parts only as `detail` asks.
    pub fn stats(&self, detail: StatsDetail) -> ServerStats {
        let mut connections: Vec<ConnectionInfo> = self
            .conns
            .values()
            .map(|c| ConnectionInfo {
                peer: c.peer.to_string(),
                session_id: c.session.unwrap_or(0),
                timeout_ms: c.timeout_ms,
                queued: c.queue.len(),
                counters: c.counters.clone(),
                last_cxid: c.last_cxid,
                last_zxid: c.last_zxid,
                last_op: c.last_op,
            })
            .collect();
        connections.sort_by(|a, b| a.peer.cmp(&b.peer));
        let mut watches_by_session: Vec<(i64, Vec<String>)> = Vec::new();
        if detail.watches {
            watches_by_session = self
                .db
                .tree
                .watches
                .by_watcher()
                .into_iter()
                .map(|(conn, paths)| {
                    let session = self.conns.get(&conn).and_then(|c| c.session).unwrap_or(0);
                    (session, paths.into_iter().collect())
                })
                .collect();
            watches_by_session.sort();
        }
        let tree = &self.db.tree;
        let data_size = if detail.data_size {
            tree.approximate_data_size()
        } else {
            0
        };
        let zxid = match self.mode {
            // A preparing server reports the last zxid it handed out (ZooKeeper's hzxid).
            Mode::Prepare => self.prep.last_zxid().max(self.db.last_zxid),
            _ => self.db.last_zxid,
        };
        ServerStats {
            counters: self.counters.clone(),
            outstanding: connections.iter().map(|c| c.queued).sum(),
            connections,
            zxid,
            node_count: tree.node_count(),
            watch_count: tree
                .watches
                .count(self.config.version.counts_recursive_watches_twice()),
            watches_by_session,
            ephemerals_count: tree.ephemeral_count(),
            ephemerals: if detail.ephemerals {
                tree.ephemerals_by_session().into_iter().collect()
            } else {
                Vec::new()
            },
            sessions: self.sessions(),
            buckets: self.tracker.buckets(),
            data_size,
            tick_ms: self.config.tick_ms,
            min_session_timeout_ms: self.config.min_session_timeout_ms,
            max_session_timeout_ms: self.config.max_session_timeout_ms,
            server_id: self.config.server_id,
            proposal_sizes: self.proposal_sizes,
            pending_syncs: self.syncs.len(),
            serving: self.mode != Mode::Down,
            read_only: self.mode == Mode::ReadOnly,
            digest: detail.digest.then(|| (self.db.last_zxid, self.db.digest())),
            trace_mask: self.trace_mask,
            storage: Default::default(),
            replica: None,
        }
    }
}
