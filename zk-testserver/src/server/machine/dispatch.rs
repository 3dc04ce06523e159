//! Dispatch: applying committed transactions and answering the connections
//! that wait for them, watch notifications first.

use super::{ConnId, Pending, Server, Time, WriteReply};
use crate::server::apply::{Applied, TxnResult};
use crate::server::sessions::session_password;
use crate::tree::acl;
use bytes::Bytes;
use std::collections::VecDeque;
use zk_client::proto::{
    encode_notification, encode_record, encode_reply, ConnectResponse, Create2Response,
    CreateResponse, ErrorCode, OpCode, Perms, ReplyHeader, Response, StatResponse, WatcherEvent,
};

impl Server {
    pub(super) fn dispatch(&mut self, applied: Applied, now: Time) {
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
            let zxid = if self.config.version.notifications_carry_zxid() {
                h.zxid
            } else {
                -1
            };
            let frame = encode_notification(zxid, &WatcherEvent::node(f.event, f.path));
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
                    let (timeout, old_client) = (c.timeout_ms, c.old_client);
                    let pw = session_password(h.session_id, self.config.secret);
                    self.send(
                        conn,
                        connect_response(h.session_id, timeout, pw, old_client),
                    );
                    self.replay_deferred(conn, now);
                    self.drain_ready(conn, now);
                }
            }
            TxnResult::SessionClosed => {
                self.tracker.remove(h.session_id);
                self.owners.remove(h.session_id);
                let Some(conn) = conn else { return };
                self.session_conns.remove(&h.session_id);
                let hdr = ReplyHeader {
                    xid: h.cxid,
                    zxid: h.zxid,
                    err: 0,
                };
                let reply = WriteReply {
                    frame: encode_reply(&hdr, &Response::Empty),
                    zxid: h.zxid,
                    close: true,
                };
                if self.complete_write(conn, h.cxid, reply) {
                    // Closed once what the client sent before is answered.
                    self.drain_ready(conn, now);
                } else {
                    // Not this connection's own close (expiry, or a close
                    // sent on another connection): close at once.
                    self.close(conn);
                }
            }
            TxnResult::Error(code) if code == ErrorCode::SessionMoved.code() => {
                // The session moved away from this connection: close it
                // without a reply (what it sent before is answered first).
                let Some(conn) = conn else { return };
                if self.has_pending_write(conn, h.cxid) {
                    self.close(conn);
                }
            }
            result => {
                let Some(conn) = conn else { return };
                let (err, body) = match result {
                    TxnResult::Stat(stat) if h.op == OpCode::Reconfig.code() => {
                        (0, self.config_reply(stat))
                    }
                    result => reply_body(h.op, result),
                };
                let hdr = ReplyHeader {
                    xid: h.cxid,
                    zxid: h.zxid,
                    err,
                };
                let reply = WriteReply {
                    frame: encode_reply(&hdr, &body),
                    zxid: h.zxid,
                    close: false,
                };
                if self.complete_write(conn, h.cxid, reply) {
                    self.drain_ready(conn, now);
                }
            }
        }
    }

    /// Gives the pending write with xid `cxid` its reply; false if the
    /// connection has no such write. The reply goes out from
    /// [`Server::drain_ready`], in request order: a write applied while a
    /// read or sync sent before it still waits must not overtake it.
    pub(super) fn complete_write(&mut self, conn: ConnId, cxid: i32, reply: WriteReply) -> bool {
        let Some(c) = self.conns.get_mut(&conn) else {
            return false;
        };
        let slot = c.queue.iter_mut().find_map(|p| match p {
            Pending::Write {
                cxid: x,
                reply: slot,
                ..
            } if *x == cxid && slot.is_none() => Some(slot),
            _ => None,
        });
        match slot {
            Some(slot) => {
                *slot = Some(reply);
                true
            }
            None => false,
        }
    }

    /// Whether the connection waits for the transaction of write `cxid`.
    fn has_pending_write(&self, conn: ConnId, cxid: i32) -> bool {
        self.conns.get(&conn).is_some_and(|c| {
            c.queue
                .iter()
                .any(|p| matches!(p, Pending::Write { cxid: x, reply: None, .. } if *x == cxid))
        })
    }

    /// Answers what is ready at the head of the connection's queue, in
    /// order: reads, failures, finished syncs and applied writes.
    pub(super) fn drain_ready(&mut self, conn: ConnId, now: Time) {
        loop {
            let Some(c) = self.conns.get_mut(&conn) else {
                return;
            };
            match c.queue.front() {
                Some(Pending::Read { .. } | Pending::Failed { .. }) => {}
                Some(Pending::Sync { done: true, .. }) => {}
                Some(Pending::Write { reply: Some(_), .. }) => {}
                None => {
                    // Nothing waits: give back the room a burst (or just
                    // the handshake) made, which every idle connection
                    // would otherwise keep.
                    c.queue = VecDeque::new();
                    return;
                }
                _ => return,
            }
            match c.queue.pop_front() {
                Some(Pending::Write {
                    cxid,
                    start,
                    reply: Some(reply),
                }) => {
                    self.send(conn, reply.frame);
                    self.finish_request(conn, cxid, reply.zxid, start, now.mono_ms);
                    if reply.close {
                        self.close(conn);
                        return;
                    }
                }
                Some(Pending::Read {
                    xid,
                    request,
                    start,
                }) => self.answer_read(conn, xid, &request, start.min(now.mono_ms)),
                Some(Pending::Sync {
                    xid,
                    request,
                    start,
                    ..
                }) => self.answer_read(conn, xid, &request, start),
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
}

/// The handshake reply; without the readOnly byte for a client that did not
/// send one (ZooKeeper 3.3 and older), as ZooKeeper answers them.
pub(super) fn connect_response(
    session_id: i64,
    timeout_ms: i32,
    password: [u8; 16],
    old_client: bool,
) -> Bytes {
    encode_record(&ConnectResponse {
        protocol_version: 0,
        timeout_ms,
        session_id,
        password: Bytes::copy_from_slice(&password),
        read_only: (!old_client).then_some(false),
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
