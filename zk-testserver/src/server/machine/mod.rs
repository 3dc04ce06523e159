//! The server machine: connections, sessions, and the request pipeline
//! (prepare → commit → apply → reply), with no I/O and time as arguments.
//!
//! Method groups, in the order a driver uses them:
//! - connections: [`Server::open_connection`], [`Server::handle_frame`],
//!   [`Server::connection_closed`];
//! - time: [`Server::handle_tick`] on every timer tick;
//! - control: [`Server::expire_session`], [`Server::drop_connections`];
//! - output: [`Server::poll_output`] until `None` after each call above;
//! - getters: [`Server::last_zxid`], [`Server::digest`], [`Server::sessions`],
//!   [`Server::stats`].
//!
//! Per connection, replies leave in request order: reads queue behind the
//! connection's writes until those are applied, and a write's watch
//! notifications are emitted before its reply.

mod dispatch;
mod intake;

use super::apply::apply;
use super::commit::Committer;
use super::config::ServerConfig;
use super::database::Database;
use super::prep::Preparer;
use super::sessions::{initial_session_id, SessionTracker};
use super::stats::{ConnectionInfo, Counters, ServerStats};
use super::txn::Txn;
use crate::storage::LogEntry;
use crate::tree::AuthInfo;
use bytes::Bytes;
use std::collections::{HashMap, VecDeque};
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
pub enum Output {
    /// Write this frame (length prefix included).
    Frame(Bytes),
    /// Close the connection after writing what came before.
    Close,
}

enum Pending {
    Handshake {
        session_id: i64,
    },
    Write {
        cxid: i32,
        start: u64,
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
}

struct Conn {
    peer: SocketAddr,
    auth: AuthInfo,
    session: Option<i64>,
    timeout_ms: i32,
    closing: bool,
    queue: VecDeque<Pending>,
    counters: Counters,
    last_cxid: i32,
    last_zxid: i64,
    last_op: &'static str,
}

/// One ZooKeeper server (see the module docs for the driving order).
pub struct Server {
    config: ServerConfig,
    db: Database,
    prep: Preparer,
    committer: Box<dyn Committer>,
    tracker: SessionTracker,
    conns: HashMap<ConnId, Conn>,
    session_conns: HashMap<i64, ConnId>,
    outputs: VecDeque<(ConnId, Output)>,
    counters: Counters,
    last_container_check: u64,
}

impl Server {
    /// A server whose state is `replay` (committed entries, in order) applied
    /// to a fresh tree; new transactions go to `committer`. Sessions found in
    /// the log are tracked again as if just touched.
    pub fn new(
        config: ServerConfig,
        committer: Box<dyn Committer>,
        replay: &[LogEntry],
        now: Time,
    ) -> Server {
        Server::recover(config, committer, Database::default(), replay, now)
    }

    /// A server starting from `db` (a decoded snapshot, see
    /// [`Database::from_snapshot`]) with the newer `replay` entries applied on
    /// top; entries at or below the snapshot's zxid are skipped.
    pub fn recover(
        config: ServerConfig,
        committer: Box<dyn Committer>,
        mut db: Database,
        replay: &[LogEntry],
        now: Time,
    ) -> Server {
        let base = db.last_zxid;
        for entry in replay.iter().filter(|e| e.zxid > base) {
            match Txn::from_bytes(entry.payload.clone()) {
                Ok(txn) => {
                    apply(&mut db, &txn);
                }
                Err(e) => tracing::error!(zxid = entry.zxid, error = %e, "undecodable log entry"),
            }
        }
        let mut tracker = SessionTracker::new(
            config.tick_ms,
            initial_session_id(config.server_id, now.wall_ms),
        );
        for (id, timeout) in &db.sessions {
            tracker.add(*id, *timeout, now.mono_ms);
        }
        Server {
            prep: Preparer::new(db.last_zxid),
            db,
            committer,
            tracker,
            conns: HashMap::new(),
            session_conns: HashMap::new(),
            outputs: VecDeque::new(),
            counters: Counters::default(),
            last_container_check: now.mono_ms,
            config,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &ServerConfig {
        &self.config
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

    /// Live sessions with their timeouts (ms), sorted by id.
    pub fn sessions(&self) -> Vec<(i64, i32)> {
        self.db.sessions.iter().map(|(k, v)| (*k, *v)).collect()
    }

    /// Next output for a connection.
    pub fn poll_output(&mut self) -> Option<(ConnId, Output)> {
        self.outputs.pop_front()
    }

    /// A new client connection from `peer`.
    pub fn open_connection(&mut self, conn: ConnId, peer: SocketAddr) {
        self.conns.insert(
            conn,
            Conn {
                peer,
                auth: AuthInfo::from_ip(&peer.ip().to_string()),
                session: None,
                timeout_ms: 0,
                closing: false,
                queue: VecDeque::new(),
                counters: Counters::default(),
                last_cxid: 0,
                last_zxid: 0,
                last_op: "NA",
            },
        );
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
        self.db.tree.watches.remove_watcher(conn);
    }

    /// Closes every client connection (sessions stay alive).
    pub fn drop_connections(&mut self) {
        let ids: Vec<ConnId> = self.conns.keys().copied().collect();
        for id in ids {
            self.close(id);
        }
    }

    /// Expires a session now, as if its timeout had passed.
    pub fn expire_session(&mut self, session_id: i64, now: Time) {
        if self.tracker.is_live(session_id) {
            self.tracker.set_closing(session_id);
            let txn = self
                .prep
                .close_session(&self.db.tree, session_id, 0, now.wall_ms);
            self.propose(txn);
            self.drain_commits(now);
        }
    }

    /// Timer tick: expires silent sessions, deletes empty containers and
    /// expired TTL nodes.
    pub fn handle_tick(&mut self, now: Time) {
        for id in self.tracker.expire(now.mono_ms) {
            tracing::info!(session = format_args!("{id:#x}"), "session expired");
            let txn = self.prep.close_session(&self.db.tree, id, 0, now.wall_ms);
            self.propose(txn);
        }
        if now.mono_ms.saturating_sub(self.last_container_check) >= self.config.container_check_ms {
            self.last_container_check = now.mono_ms;
            for path in self.db.tree.expired_containers(now.wall_ms) {
                let txn = self
                    .prep
                    .delete_container(&self.db.tree, &path, now.wall_ms);
                self.propose(txn);
            }
        }
        self.drain_commits(now);
    }

    fn send(&mut self, conn: ConnId, frame: Bytes) {
        if let Some(c) = self.conns.get_mut(&conn) {
            c.counters.sent += 1;
        }
        self.counters.sent += 1;
        self.outputs.push_back((conn, Output::Frame(frame)));
    }

    fn close(&mut self, conn: ConnId) {
        if let Some(c) = self.conns.get_mut(&conn) {
            if !c.closing {
                c.closing = true;
                self.outputs.push_back((conn, Output::Close));
            }
        }
    }

    fn propose(&mut self, txn: Txn) {
        let entry = LogEntry {
            zxid: txn.header.zxid,
            payload: txn.to_bytes(),
        };
        self.committer.propose(entry);
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
        } else {
            self.request(conn, frame, now);
        }
        self.drain_commits(now);
    }

    /// Counters, connections and tree figures for the four-letter words.
    pub fn stats(&self) -> ServerStats {
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
        let by_watcher = self.db.tree.watches.by_watcher();
        let mut watches_by_session: Vec<(i64, Vec<String>)> = by_watcher
            .into_iter()
            .map(|(conn, paths)| {
                let session = self.conns.get(&conn).and_then(|c| c.session).unwrap_or(0);
                (session, paths.into_iter().collect())
            })
            .collect();
        watches_by_session.sort();
        let tree = &self.db.tree;
        let data_size = tree
            .paths()
            .iter()
            .map(|p| p.len() + tree.get(p).map_or(0, |n| n.data_len().max(0) as usize))
            .sum();
        ServerStats {
            counters: self.counters.clone(),
            outstanding: connections.iter().map(|c| c.queued).sum(),
            connections,
            zxid: self.db.last_zxid,
            node_count: tree.node_count(),
            watch_count: tree.watches.count(),
            watches_by_session,
            ephemerals_count: tree.ephemeral_count(),
            ephemerals: tree.ephemerals_by_session().into_iter().collect(),
            sessions: self.sessions(),
            buckets: self.tracker.buckets(),
            data_size,
            tick_ms: self.config.tick_ms,
            min_session_timeout_ms: self.config.min_session_timeout_ms,
            max_session_timeout_ms: self.config.max_session_timeout_ms,
            server_id: self.config.server_id,
        }
    }
}
