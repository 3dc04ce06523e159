//! Dispatch: applying committed transactions and answering the connections
//! that wait for them, watch notifications first.

use super::{ConnId, Pending, Server, Time};
use crate::server::apply::{Applied, TxnResult};
use crate::server::sessions::session_password;
use crate::tree::acl;
use bytes::Bytes;
use zk_client::proto::{
    encode_notification, encode_record, encode_reply, ConnectResponse, Create2Response,
    CreateResponse, OpCode, Perms, ReplyHeader, Response, StatResponse, WatcherEvent,
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
                    self.replay_deferred(conn, now);
                    self.drain_reads(conn, now);
                }
            }
            TxnResult::SessionClosed => {
                self.tracker.remove(h.session_id);
                let Some(conn) = conn else { return };
                self.session_conns.remove(&h.session_id);
                let is_reply = self.take_write(conn, h.cxid);
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
                let Some(start) = self.take_write(conn, h.cxid) else {
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

    /// Removes the pending write with xid `cxid` from the connection's queue
    /// (normally its head); returns when it was received.
    pub(super) fn take_write(&mut self, conn: ConnId, cxid: i32) -> Option<u64> {
        let c = self.conns.get_mut(&conn)?;
        let pos = c
            .queue
            .iter()
            .position(|p| matches!(p, Pending::Write { cxid: x, .. } if *x == cxid))?;
        match c.queue.remove(pos) {
            Some(Pending::Write { start, .. }) => Some(start),
            _ => None,
        }
    }

    /// Answers the reads queued at the head of the connection's queue.
    pub(super) fn drain_reads(&mut self, conn: ConnId, now: Time) {
        loop {
            let Some(c) = self.conns.get_mut(&conn) else {
                return;
            };
            match c.queue.front() {
                Some(Pending::Read { .. } | Pending::Failed { .. }) => {}
                Some(Pending::Sync { done: true, .. }) => {}
                _ => return,
            }
            match c.queue.pop_front() {
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

pub(super) fn connect_response(session_id: i64, timeout_ms: i32, password: [u8; 16]) -> Bytes {
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
