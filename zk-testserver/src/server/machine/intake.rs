//! Intake: handshakes, auth packets and requests read from a connection,
//! turned into transactions (writes) or answered from the tree (reads).

use super::dispatch::connect_response;
use super::{ConnId, Mode, Pending, Server, Time};
use crate::server::owners::Owner;
use crate::server::prep::{PrepConfig, SessionState, WriteRequest};
use crate::server::reads::{read, ReadCtx};
use crate::server::sessions::session_password;
use crate::server::submit::{ForwardedWrite, Submission, REATTACHED};
use crate::server::txn::Txn;
use crate::server::ZkVersion;
use crate::tree::acl::{authenticate, AuthOutcome};
use crate::tree::AuthInfo;
use bytes::{Bytes, BytesMut};
use std::collections::VecDeque;
use zk_client::proto::{
    decode_request_header, encode_record, encode_reply, xid, ConnectRequest, ConnectResponse,
    ErrorCode, OpCode, Reader, Record, ReplyHeader, Request, Response,
};

impl Server {
    pub(super) fn handshake(&mut self, conn: ConnId, frame: Bytes, now: Time) {
        let mut r = Reader::new(frame);
        let Ok(req) = ConnectRequest::read(&mut r) else {
            tracing::debug!(conn, "malformed connect request");
            self.close(conn);
            return;
        };
        if self.mode == Mode::Down {
            // As ZooKeeper when its server is not running: close, no reply.
            tracing::debug!(conn, "not serving; connection refused");
            self.close(conn);
            return;
        }
        if self.mode == Mode::ReadOnly && req.last_zxid_seen <= self.db.last_zxid {
            self.read_only_handshake(conn, &req, now);
            return;
        }
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
        if let Some(c) = self.conns.get_mut(&conn) {
            c.old_client = req.read_only.is_none();
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
            if self.mode == Mode::Prepare {
                self.owners.attach(id, self.member_id());
                let txn = self.prep.create_session(id, timeout, now.wall_ms);
                self.propose(txn);
            } else {
                self.submissions
                    .push_back(Submission::Forward(ForwardedWrite {
                        session_id: id,
                        cxid: 0,
                        op: OpCode::CreateSession.code(),
                        body: Bytes::copy_from_slice(&timeout.to_be_bytes()),
                        auth: Vec::new(),
                    }));
            }
            return;
        }
        let id = req.session_id;
        let password = session_password(id, self.config.secret);
        if req.password.as_ref() != password.as_slice() {
            self.refuse_reattach(conn, id);
            return;
        }
        if !self.tracker.is_live(id) && self.mode == Mode::Forward {
            // The session may have been created through another member and
            // not be applied here yet: catch up with the leader, then decide.
            let token = self.request_sync(conn);
            if let Some(c) = self.conns.get_mut(&conn) {
                c.session = Some(id);
                c.timeout_ms = timeout;
                c.queue.push_back(Pending::Revalidate {
                    session_id: id,
                    timeout_ms: timeout,
                    token,
                });
            }
            return;
        }
        self.finish_reattach(conn, id, timeout, now);
    }

    /// Completes a reattach once the session table has been consulted.
    pub(super) fn finish_reattach(&mut self, conn: ConnId, id: i64, timeout: i32, now: Time) {
        if !self.tracker.is_live(id) {
            self.refuse_reattach(conn, id);
            return;
        }
        self.tracker.set_timeout(id, timeout, now.mono_ms);
        match self.mode {
            Mode::Forward => {
                self.touched.insert(id, timeout);
                // Ahead of anything the new connection sends, on the same
                // FIFO link: the leader moves the session here.
                self.submissions
                    .push_back(Submission::Forward(ForwardedWrite {
                        session_id: id,
                        cxid: 0,
                        op: REATTACHED,
                        body: Bytes::new(),
                        auth: Vec::new(),
                    }));
            }
            Mode::Prepare => self.owners.attach(id, self.member_id()),
            // A read-only member serves its own sessions (read_only_handshake).
            Mode::Down | Mode::ReadOnly => {}
        }
        if let Some(old) = self.session_conns.insert(id, conn) {
            if old != conn {
                self.close(old);
            }
        }
        if let Some(c) = self.conns.get_mut(&conn) {
            c.session = Some(id);
            c.timeout_ms = timeout;
        }
        let password = session_password(id, self.config.secret);
        let old_client = self.conns.get(&conn).is_some_and(|c| c.old_client);
        self.send(conn, connect_response(id, timeout, password, old_client));
        self.replay_deferred(conn, now);
    }

    fn refuse_reattach(&mut self, conn: ConnId, id: i64) {
        tracing::info!(
            conn,
            session = format_args!("{id:#x}"),
            "reattach refused: expired or wrong password"
        );
        let mut refusal = ConnectResponse::expired();
        if self.conns.get(&conn).is_some_and(|c| c.old_client) {
            refusal.read_only = None;
        }
        self.send(conn, encode_record(&refusal));
        self.close(conn);
    }

    /// Handles the frames that arrived while the handshake was pending.
    pub(super) fn replay_deferred(&mut self, conn: ConnId, now: Time) {
        loop {
            let Some(c) = self.conns.get_mut(&conn) else {
                return;
            };
            if c.closing || c.handshaking() {
                return;
            }
            let Some(frame) = c.deferred.pop_front() else {
                // Give back the room the frames took while they waited.
                c.deferred = VecDeque::new();
                return;
            };
            self.request(conn, frame, now);
        }
    }

    pub(super) fn request(&mut self, conn: ConnId, frame: Bytes, now: Time) {
        let Ok(raw) = decode_request_header(frame) else {
            self.close(conn);
            return;
        };
        let (hxid, code) = (raw.header.xid, raw.header.op);
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        let (session, timeout) = (c.session.unwrap_or(0), c.timeout_ms);
        self.touch(session, timeout, now);
        let Some(op) = OpCode::from_code(code).filter(|op| served_alone(*op)) else {
            tracing::debug!(conn, code, "unknown opcode");
            self.refuse_unimplemented(conn, hxid);
            return;
        };
        let mut body = raw.body.java_lenient();
        if fails_on_null_path(op, self.config.version) {
            body = body.refuse_null_strings();
        }
        let decoded = Request::read_body(op, &mut body);
        if op == OpCode::Auth {
            self.auth(conn, decoded);
            return;
        }
        if op == OpCode::Sasl {
            self.sasl(conn, hxid, decoded);
            return;
        }
        if self.mode == Mode::Prepare
            && op != OpCode::CloseSession
            && !self.owners.claim(session, self.member_id())
        {
            self.session_moved(conn, session, hxid, op, now);
            return;
        }
        let head = Head {
            conn,
            session,
            xid: hxid,
            code,
            op,
        };
        match decoded {
            Ok(request) => self.serve(head, request, now),
            Err(e) => {
                tracing::debug!(conn, %op, error = %e, "undecodable request body");
                self.undecodable(head, now);
            }
        }
    }

    /// Replies `Unimplemented` to `xid` and closes the connection, as
    /// ZooKeeper does for an opcode it does not serve.
    fn refuse_unimplemented(&mut self, conn: ConnId, xid: i32) {
        let hdr = ReplyHeader {
            xid,
            zxid: -1,
            err: ErrorCode::Unimplemented.code(),
        };
        self.send(conn, encode_reply(&hdr, &Response::Empty));
        self.close(conn);
    }

    /// A request whose body does not decode: a write on the leader becomes
    /// a failed transaction (so it keeps its place in the session's
    /// order), anything else gets `MarshallingError` in order.
    fn undecodable(&mut self, head: Head, now: Time) {
        let Head {
            conn,
            session,
            xid,
            code,
            op,
        } = head;
        if op.is_write() && self.mode == Mode::Prepare {
            let txn =
                self.prep
                    .failed(session, xid, code, ErrorCode::MarshallingError, now.wall_ms);
            self.queue_write(conn, xid, now);
            self.propose(txn);
            return;
        }
        let hdr = ReplyHeader {
            xid,
            zxid: self.db.last_zxid,
            err: ErrorCode::MarshallingError.code(),
        };
        self.enqueue_or_send(conn, xid, Err(hdr), now);
    }

    /// A decoded request from a session this member may serve: a read is
    /// answered in order, a sync waits for the leader, a write is proposed
    /// (leader) or forwarded (follower).
    fn serve(&mut self, head: Head, request: Request, now: Time) {
        let Head {
            conn,
            session,
            xid,
            op,
            ..
        } = head;
        if op == OpCode::Check {
            // A lone check is only meaningful inside multi.
            self.refuse_unimplemented(conn, xid);
            return;
        }
        if let Some(c) = self.conns.get_mut(&conn) {
            c.last_op = op.name();
        }
        if self.mode == Mode::ReadOnly && self.read_only_request(conn, xid, op, session, now) {
            return;
        }
        if op == OpCode::Sync {
            let token = self.request_sync(conn);
            if let Some(c) = self.conns.get_mut(&conn) {
                c.queue.push_back(Pending::Sync {
                    xid,
                    request,
                    token,
                    done: false,
                    start: now.mono_ms,
                });
            }
        } else if op.is_write() {
            self.write(head, request, now);
        } else {
            self.enqueue_or_send(conn, xid, Ok(request), now);
        }
    }

    /// Takes the place of a write in its connection's reply order.
    fn queue_write(&mut self, conn: ConnId, xid: i32, now: Time) {
        if let Some(c) = self.conns.get_mut(&conn) {
            c.queue.push_back(Pending::Write {
                cxid: xid,
                start: now.mono_ms,
                reply: None,
            });
        }
    }

    /// A write: proposed here on the leader, forwarded to it otherwise.
    fn write(&mut self, head: Head, request: Request, now: Time) {
        let Head {
            conn,
            session,
            xid,
            code,
            op,
        } = head;
        self.queue_write(conn, xid, now);
        if op == OpCode::CloseSession {
            self.tracker.set_closing(session);
        }
        let auth = self
            .conns
            .get(&conn)
            .map(|c| c.auth.clone())
            .unwrap_or_default();
        if self.mode != Mode::Prepare {
            let mut body = BytesMut::new();
            request.write_body(&mut body);
            self.submissions
                .push_back(Submission::Forward(ForwardedWrite {
                    session_id: session,
                    cxid: xid,
                    op: code,
                    body: body.freeze(),
                    auth: auth.ids,
                }));
            return;
        }
        let txn = self.prepare_write(session, xid, &request, &auth, now);
        self.propose(txn);
    }

    /// This member's id, the owner of the sessions attached here.
    fn member_id(&self) -> Owner {
        Owner::from(self.config.server_id)
    }

    /// A request on a connection whose session moved to another member,
    /// seen by the member that prepares writes: a write becomes a failed
    /// transaction (it consumes a zxid, as in ZooKeeper) whose application
    /// closes the connection; anything else closes it now. No reply.
    fn session_moved(&mut self, conn: ConnId, session: i64, xid: i32, op: OpCode, now: Time) {
        tracing::info!(
            conn,
            session = format_args!("{session:#x}"),
            "session moved to another member; closing its old connection"
        );
        if !op.is_write() {
            self.close(conn);
            return;
        }
        if let Some(c) = self.conns.get_mut(&conn) {
            c.queue.push_back(Pending::Write {
                cxid: xid,
                start: now.mono_ms,
                reply: None,
            });
        }
        let txn = self.prep.failed(
            session,
            xid,
            op.code(),
            ErrorCode::SessionMoved,
            now.wall_ms,
        );
        self.propose(txn);
    }

    /// Answers a read now if nothing is ahead of it, else queues it.
    pub(super) fn enqueue_or_send(
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

    pub(super) fn answer_read(&mut self, conn: ConnId, xid: i32, request: &Request, start: u64) {
        let Some(c) = self.conns.get(&conn) else {
            return;
        };
        let ctx = ReadCtx {
            conn,
            session_id: c.session.unwrap_or(0),
            auth: &c.auth,
            version: self.config.version,
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

    pub(super) fn finish_request(
        &mut self,
        conn: ConnId,
        xid: i32,
        zxid: i64,
        start: u64,
        now: u64,
    ) {
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

    pub(super) fn auth(
        &mut self,
        conn: ConnId,
        decoded: Result<Request, zk_client::proto::DecodeError>,
    ) {
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

    /// Prepares a client write (closeSession included) for `session`.
    pub(super) fn prepare_write(
        &mut self,
        session: i64,
        cxid: i32,
        request: &Request,
        auth: &AuthInfo,
        now: Time,
    ) -> Txn {
        if let Request::CloseSession = request {
            return self
                .prep
                .close_session(&self.db.tree, session, cxid, now.wall_ms);
        }
        let state = if self.tracker.is_live(session) {
            SessionState::Live
        } else if self.tracker.is_closing(session) {
            SessionState::Closing
        } else {
            SessionState::Unknown
        };
        let cfg = PrepConfig {
            extended_types: self.config.extended_types,
            providers: self.config.auth_providers(),
            reconfig_enabled: self.config.reconfig_enabled,
        };
        let wr = WriteRequest {
            session_id: session,
            cxid,
            request,
            auth,
            session: state,
        };
        self.prep.prepare(&self.db.tree, cfg, wr, now.wall_ms)
    }

    /// A write forwarded by follower `from` (this member prepares writes): it
    /// is prepared and proposed like a local one; the follower answers its
    /// client once the transaction is committed and applied there. A write of
    /// a session attached through another member fails with SessionMoved
    /// (see [`crate::server::owners`]). Ignored unless this server prepares
    /// writes.
    pub fn handle_forwarded(&mut self, from: Owner, write: ForwardedWrite, now: Time) {
        if self.mode != Mode::Prepare {
            tracing::debug!(?write, "forwarded write ignored: not preparing writes");
            return;
        }
        self.tracker.touch(write.session_id, now.mono_ms);
        if write.op == REATTACHED {
            if self.tracker.is_live(write.session_id) {
                self.owners.attach(write.session_id, from);
            }
            return;
        }
        let closing = write.op == OpCode::CloseSession.code();
        if write.op == OpCode::CreateSession.code() {
            self.owners.attach(write.session_id, from);
        } else if !closing && !self.owners.claim(write.session_id, from) {
            let txn = self.prep.failed(
                write.session_id,
                write.cxid,
                write.op,
                ErrorCode::SessionMoved,
                now.wall_ms,
            );
            self.propose(txn);
            return;
        }
        let txn = match OpCode::from_code(write.op) {
            Some(OpCode::CreateSession) => {
                let timeout = Reader::new(write.body).read_i32().unwrap_or(0);
                if !self.tracker.is_live(write.session_id) {
                    self.tracker.add(write.session_id, timeout, now.mono_ms);
                }
                self.prep
                    .create_session(write.session_id, timeout, now.wall_ms)
            }
            Some(op) => match Request::read_body(op, &mut Reader::new(write.body)) {
                Ok(request) => {
                    if op == OpCode::CloseSession {
                        self.tracker.set_closing(write.session_id);
                    }
                    let auth = AuthInfo {
                        ids: write.auth,
                        skip_acl: self.config.skip_acl,
                    };
                    self.prepare_write(write.session_id, write.cxid, &request, &auth, now)
                }
                Err(_) => self.prep.failed(
                    write.session_id,
                    write.cxid,
                    write.op,
                    ErrorCode::MarshallingError,
                    now.wall_ms,
                ),
            },
            None => self.prep.failed(
                write.session_id,
                write.cxid,
                write.op,
                ErrorCode::Unimplemented,
                now.wall_ms,
            ),
        };
        self.propose(txn);
    }
}

/// Whether ZooKeeper fails a request with a null path (or another null
/// string) with MarshallingError: the requests whose processing uses the
/// path before validating it. The others treat null as empty (setData and
/// setACL then fail validation with BadArguments; sync, getEphemerals,
/// addWatch and removeWatches go on with it, and so does checkWatches from
/// 3.9).
fn fails_on_null_path(op: OpCode, version: ZkVersion) -> bool {
    match op {
        OpCode::CheckWatches => !version.check_watches_reads_null_path(),
        _ => matches!(
            op,
            OpCode::Create
                | OpCode::Create2
                | OpCode::CreateContainer
                | OpCode::CreateTtl
                | OpCode::Delete
                | OpCode::Exists
                | OpCode::GetData
                | OpCode::GetAcl
                | OpCode::GetChildren
                | OpCode::GetChildren2
                | OpCode::GetAllChildrenNumber
                | OpCode::Multi
                | OpCode::MultiRead
        ),
    }
}

/// Who sent a request and what it is, as read from its header.
#[derive(Debug, Clone, Copy)]
struct Head {
    conn: ConnId,
    session: i64,
    xid: i32,
    code: i32,
    op: OpCode,
}

/// Whether a client may send `op` as a request of its own (not a
/// notification, an error, a session creation outside the handshake, or
/// the server's internal container deletion).
fn served_alone(op: OpCode) -> bool {
    !matches!(
        op,
        OpCode::Notification | OpCode::Error | OpCode::CreateSession | OpCode::DeleteContainer
    )
}
