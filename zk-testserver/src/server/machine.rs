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

use super::apply::{apply, Applied, TxnResult};
use super::commit::Committer;
use super::config::ServerConfig;
use super::database::Database;
use super::prep::{PrepConfig, Preparer, SessionState, WriteRequest};
use super::reads::{read, ReadCtx};
use super::sessions::{initial_session_id, session_password, SessionTracker};
use super::stats::{ConnectionInfo, Counters, ServerStats};
use super::txn::Txn;
use crate::storage::LogEntry;
use crate::tree::acl::{self, authenticate, AuthOutcome};
use crate::tree::AuthInfo;
use bytes::Bytes;
use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use zk_client::proto::{
    decode_request_header, encode_notification, encode_record, encode_reply, xid, ConnectRequest,
    ConnectResponse, Create2Response, CreateResponse, ErrorCode, OpCode, Perms, Reader, Record,
    ReplyHeader, Request, Response, StatResponse, WatcherEvent,
};

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
        zxid: i64,
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

    fn handshake(&mut self, conn: ConnId, frame: Bytes, now: Time) {
        let mut r = Reader::new(frame);
        let Ok(req) = ConnectRequest::read(&mut r) else {
            tracing::debug!(conn, "malformed connect request");
            self.close(conn);
            return;
        };
        if req.last_zxid_seen > self.db.last_zxid {
            tracing::info!(
                conn,
                client_zxid = format_args!("{:#x}", req.last_zxid_seen),
                server_zxid = format_args!("{:#x}", self.db.last_zxid),
                "refusing client that has seen a newer zxid"
            );
            self.close(conn);
            return;
        }
        let timeout = self.config.negotiate_timeout(req.timeout_ms);
        if req.session_id == 0 {
            let id = self.tracker.next_id();
            self.tracker.add(id, timeout, now.mono_ms);
            if let Some(c) = self.conns.get_mut(&conn) {
                c.session = Some(id);
                c.timeout_ms = timeout;
                c.queue.push_back(Pending::Handshake { session_id: id });
            }
            self.session_conns.insert(id, conn);
            let txn = self.prep.create_session(id, timeout, now.wall_ms);
            self.propose(txn);
            return;
        }
        let id = req.session_id;
        let password = session_password(id, self.config.secret);
        if !self.tracker.is_live(id) || req.password.as_ref() != password.as_slice() {
            tracing::info!(
                conn,
                session = format_args!("{id:#x}"),
                "reattach refused: expired or wrong password"
            );
            self.send(conn, encode_record(&ConnectResponse::expired()));
            self.close(conn);
            return;
        }
        self.tracker.set_timeout(id, timeout, now.mono_ms);
        if let Some(old) = self.session_conns.insert(id, conn) {
            if old != conn {
                self.close(old);
            }
        }
        if let Some(c) = self.conns.get_mut(&conn) {
            c.session = Some(id);
            c.timeout_ms = timeout;
        }
        self.send(conn, connect_response(id, timeout, password));
    }

    fn request(&mut self, conn: ConnId, frame: Bytes, now: Time) {
        let Ok(raw) = decode_request_header(frame) else {
            self.close(conn);
            return;
        };
        let (hxid, code) = (raw.header.xid, raw.header.op);
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        let session = c.session.unwrap_or(0);
        if c.queue
            .iter()
            .all(|p| !matches!(p, Pending::Handshake { .. }))
        {
            self.tracker.touch(session, now.mono_ms);
        }
        let op = match OpCode::from_code(code) {
            Some(op)
                if !matches!(
                    op,
                    OpCode::Notification
                        | OpCode::Error
                        | OpCode::CreateSession
                        | OpCode::DeleteContainer
                ) =>
            {
                op
            }
            _ => {
                tracing::debug!(conn, code, "unknown opcode");
                let hdr = ReplyHeader {
                    xid: hxid,
                    zxid: -1,
                    err: ErrorCode::Unimplemented.code(),
                };
                self.send(conn, encode_reply(&hdr, &Response::Empty));
                self.close(conn);
                return;
            }
        };
        let mut body = raw.body;
        let decoded = Request::read_body(op, &mut body);
        if op == OpCode::Auth {
            self.auth(conn, decoded);
            return;
        }
        let request = match decoded {
            Ok(r) => r,
            Err(e) => {
                tracing::debug!(conn, %op, error = %e, "undecodable request body");
                if op.is_write() {
                    let txn = self.prep.failed(
                        session,
                        hxid,
                        code,
                        ErrorCode::MarshallingError,
                        now.wall_ms,
                    );
                    if let Some(c) = self.conns.get_mut(&conn) {
                        c.queue.push_back(Pending::Write {
                            zxid: txn.header.zxid,
                            start: now.mono_ms,
                        });
                    }
                    self.propose(txn);
                    return;
                }
                let hdr = ReplyHeader {
                    xid: hxid,
                    zxid: self.db.last_zxid,
                    err: ErrorCode::MarshallingError.code(),
                };
                self.enqueue_or_send(conn, hxid, Err(hdr), now);
                return;
            }
        };
        if op == OpCode::Check {
            // A lone check is only meaningful inside multi.
            let hdr = ReplyHeader {
                xid: hxid,
                zxid: -1,
                err: ErrorCode::Unimplemented.code(),
            };
            self.send(conn, encode_reply(&hdr, &Response::Empty));
            self.close(conn);
            return;
        }
        if let Some(c) = self.conns.get_mut(&conn) {
            c.last_op = op.name();
        }
        if op.is_write() {
            let txn = if op == OpCode::CloseSession {
                self.tracker.set_closing(session);
                self.prep
                    .close_session(&self.db.tree, session, hxid, now.wall_ms)
            } else {
                let state = if self.tracker.is_live(session) {
                    SessionState::Live
                } else if self.tracker.is_closing(session) {
                    SessionState::Closing
                } else {
                    SessionState::Unknown
                };
                let Some(c) = self.conns.get(&conn) else {
                    return;
                };
                let cfg = PrepConfig {
                    extended_types: self.config.extended_types,
                };
                let wr = WriteRequest {
                    session_id: session,
                    cxid: hxid,
                    request: &request,
                    auth: &c.auth,
                    session: state,
                };
                self.prep.prepare(&self.db.tree, cfg, wr, now.wall_ms)
            };
            if let Some(c) = self.conns.get_mut(&conn) {
                c.queue.push_back(Pending::Write {
                    zxid: txn.header.zxid,
                    start: now.mono_ms,
                });
            }
            self.propose(txn);
        } else {
            self.enqueue_or_send(conn, hxid, Ok(request), now);
        }
    }

    /// Answers a read now if nothing is ahead of it, else queues it.
    fn enqueue_or_send(
        &mut self,
        conn: ConnId,
        xid: i32,
        request: Result<Request, ReplyHeader>,
        now: Time,
    ) {
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        match request {
            Err(hdr) if c.queue.is_empty() => {
                self.send(conn, encode_reply(&hdr, &Response::Empty));
            }
            Err(hdr) => c.queue.push_back(Pending::Failed {
                xid,
                err: ErrorCode::from_code(hdr.err).unwrap_or(ErrorCode::MarshallingError),
            }),
            Ok(request) if c.queue.is_empty() => self.answer_read(conn, xid, &request, now.mono_ms),
            Ok(request) => c.queue.push_back(Pending::Read {
                xid,
                request,
                start: now.mono_ms,
            }),
        }
    }

    fn answer_read(&mut self, conn: ConnId, xid: i32, request: &Request, start: u64) {
        let Some(c) = self.conns.get(&conn) else {
            return;
        };
        let ctx = ReadCtx {
            conn,
            session_id: c.session.unwrap_or(0),
            auth: &c.auth,
        };
        let auth = ctx.auth.clone();
        let ctx = ReadCtx { auth: &auth, ..ctx };
        let frames = read(&mut self.db, ctx, xid, request);
        let zxid = self.db.last_zxid;
        for f in frames {
            self.send(conn, f);
        }
        self.finish_request(conn, xid, zxid, start, start);
    }

    fn finish_request(&mut self, conn: ConnId, xid: i32, zxid: i64, start: u64, now: u64) {
        let latency = now.saturating_sub(start);
        self.counters.record(latency);
        if let Some(c) = self.conns.get_mut(&conn) {
            c.counters.record(latency);
            if xid >= 0 {
                c.last_cxid = xid;
            }
            c.last_zxid = zxid;
        }
    }

    fn auth(&mut self, conn: ConnId, decoded: Result<Request, zk_client::proto::DecodeError>) {
        let outcome = match decoded {
            Ok(Request::Auth(p)) => {
                authenticate(&p.scheme, &p.auth, self.config.super_digest.as_deref())
            }
            _ => AuthOutcome::Failed,
        };
        let err = match outcome {
            AuthOutcome::Added(ids) => {
                if let Some(c) = self.conns.get_mut(&conn) {
                    ids.into_iter().for_each(|id| c.auth.add(id));
                }
                0
            }
            AuthOutcome::Failed => ErrorCode::AuthFailed.code(),
        };
        let hdr = ReplyHeader {
            xid: xid::AUTH,
            zxid: 0,
            err,
        };
        self.send(conn, encode_reply(&hdr, &Response::Empty));
        if err != 0 {
            self.close(conn);
        }
    }

    /// Applies everything the committer has committed.
    fn drain_commits(&mut self, now: Time) {
        while let Some(entry) = self.committer.poll_committed() {
            let txn = match Txn::from_bytes(entry.payload) {
                Ok(t) => t,
                Err(e) => {
                    tracing::error!(zxid = entry.zxid, error = %e, "undecodable committed entry");
                    continue;
                }
            };
            let applied = apply(&mut self.db, &txn);
            self.prep.applied(applied.header.zxid);
            self.dispatch(applied, now);
        }
    }

    fn dispatch(&mut self, applied: Applied, now: Time) {
        let h = applied.header;
        for f in applied.fired {
            let Some(c) = self.conns.get(&f.watcher) else {
                continue;
            };
            // Events are only delivered to connections that may read the node
            // (the parent, for child events), as ZooKeeper does since the fix
            // for CVE-2024-23944.
            if acl::check(&f.acl, Perms::READ, &c.auth).is_err() {
                continue;
            }
            let frame = encode_notification(h.zxid, &WatcherEvent::node(f.event, f.path));
            self.send(f.watcher, frame);
        }
        let conn = self.session_conns.get(&h.session_id).copied();
        match applied.result {
            TxnResult::SessionCreated => {
                if !self.tracker.is_live(h.session_id) && !self.tracker.is_closing(h.session_id) {
                    let timeout = self.db.sessions.get(&h.session_id).copied().unwrap_or(0);
                    self.tracker.add(h.session_id, timeout, now.mono_ms);
                }
                let Some(conn) = conn else { return };
                let Some(c) = self.conns.get_mut(&conn) else {
                    return;
                };
                if matches!(c.queue.front(), Some(Pending::Handshake { session_id }) if *session_id == h.session_id)
                {
                    c.queue.pop_front();
                    let timeout = c.timeout_ms;
                    let pw = session_password(h.session_id, self.config.secret);
                    self.send(conn, connect_response(h.session_id, timeout, pw));
                    self.drain_reads(conn, now);
                }
            }
            TxnResult::SessionClosed => {
                self.tracker.remove(h.session_id);
                let Some(conn) = conn else { return };
                self.session_conns.remove(&h.session_id);
                let is_reply = self.take_write(conn, h.zxid);
                if let Some(start) = is_reply {
                    let hdr = ReplyHeader {
                        xid: h.cxid,
                        zxid: h.zxid,
                        err: 0,
                    };
                    self.send(conn, encode_reply(&hdr, &Response::Empty));
                    self.finish_request(conn, h.cxid, h.zxid, start, now.mono_ms);
                }
                self.close(conn);
            }
            result => {
                let Some(conn) = conn else { return };
                let Some(start) = self.take_write(conn, h.zxid) else {
                    return;
                };
                let (err, body) = reply_body(h.op, result);
                let hdr = ReplyHeader {
                    xid: h.cxid,
                    zxid: h.zxid,
                    err,
                };
                self.send(conn, encode_reply(&hdr, &body));
                self.finish_request(conn, h.cxid, h.zxid, start, now.mono_ms);
                self.drain_reads(conn, now);
            }
        }
    }

    /// Removes the pending write with `zxid` from the connection's queue
    /// (normally its head); returns when it was received.
    fn take_write(&mut self, conn: ConnId, zxid: i64) -> Option<u64> {
        let c = self.conns.get_mut(&conn)?;
        let pos = c
            .queue
            .iter()
            .position(|p| matches!(p, Pending::Write { zxid: z, .. } if *z == zxid))?;
        match c.queue.remove(pos) {
            Some(Pending::Write { start, .. }) => Some(start),
            _ => None,
        }
    }

    /// Answers the reads queued at the head of the connection's queue.
    fn drain_reads(&mut self, conn: ConnId, now: Time) {
        loop {
            let Some(c) = self.conns.get_mut(&conn) else {
                return;
            };
            match c.queue.front() {
                Some(Pending::Read { .. } | Pending::Failed { .. }) => {}
                _ => return,
            }
            match c.queue.pop_front() {
                Some(Pending::Read {
                    xid,
                    request,
                    start,
                }) => self.answer_read(conn, xid, &request, start.min(now.mono_ms)),
                Some(Pending::Failed { xid, err }) => {
                    let hdr = ReplyHeader {
                        xid,
                        zxid: self.db.last_zxid,
                        err: err.code(),
                    };
                    self.send(conn, encode_reply(&hdr, &Response::Empty));
                }
                _ => return,
            }
        }
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

fn connect_response(session_id: i64, timeout_ms: i32, password: [u8; 16]) -> Bytes {
    encode_record(&ConnectResponse {
        protocol_version: 0,
        timeout_ms,
        session_id,
        password: Bytes::copy_from_slice(&password),
        read_only: Some(false),
    })
}

/// The reply code and body for an applied write, shaped by its opcode.
fn reply_body(op: i32, result: TxnResult) -> (i32, Response) {
    match result {
        TxnResult::Created { path, stat } => {
            if op == OpCode::Create.code() {
                (0, Response::Create(CreateResponse { path }))
            } else {
                (0, Response::Create2(Create2Response { path, stat }))
            }
        }
        TxnResult::Stat(stat) => (0, Response::Stat(StatResponse { stat })),
        TxnResult::Multi(results) => (0, Response::Multi(results)),
        TxnResult::Error(code) => (code, Response::Empty),
        TxnResult::Deleted
        | TxnResult::Checked
        | TxnResult::SessionCreated
        | TxnResult::SessionClosed => (0, Response::Empty),
    }
}
