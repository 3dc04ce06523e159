//! Read-only mode: what a member cut off from its quorum serves when
//! `readonlymode.enabled` is on, as ZooKeeper's `ReadOnlyZooKeeperServer`.
//!
//! - Only clients that allow read-only connections are admitted: any other
//!   handshake is closed without a reply.
//! - Only local sessions: a new session is created here and replicated
//!   nowhere, and only such a session can reattach. A global session (one in
//!   the replicated session table) is refused, its connection closed without
//!   a reply, as ZooKeeper logs "Refusing global session reconnection in RO
//!   mode". The ConnectResponse says `readOnly = true`.
//!   (Real ZooKeeper creates new read-only sessions only with
//!   `localSessionsEnabled=true`; without it, it answers the handshake with a
//!   bare `NotReadOnly` reply header, and read-only mode admits nobody. This
//!   server always behaves as with local sessions on.)
//! - Reads are answered from this member's (possibly stale) tree; every
//!   write, `check`, `multi` and `sync` fails with `NotReadOnly` (-119);
//!   `closeSession` ends the session here and closes the connection.
//! - Sessions do not expire here (the leader owns expiry, and there is
//!   none): they end when the client closes them or when the member leaves
//!   read-only mode, which closes every connection.

use super::{ConnId, Mode, Server, Time};
use crate::server::sessions::session_password;
use bytes::Bytes;
use zk_client::proto::{encode_record, ConnectRequest, ConnectResponse, ErrorCode, OpCode};
use zk_client::proto::{encode_reply, ReplyHeader, Response};

impl Server {
    /// Starts serving read-only sessions (the member is partitioned from its
    /// quorum and read-only mode is enabled). Connections of an earlier mode
    /// are closed first.
    pub fn start_read_only(&mut self, now: Time) {
        if self.mode == Mode::ReadOnly {
            return;
        }
        self.stop_serving();
        tracing::info!(server = self.config.server_id, "serving read-only");
        self.mode = Mode::ReadOnly;
        // Only the local sessions created from now on are known here.
        self.tracker.reset(&Default::default(), now.mono_ms);
    }

    /// Whether this server currently serves read-only sessions.
    pub fn is_read_only(&self) -> bool {
        self.mode == Mode::ReadOnly
    }

    /// A handshake while read-only.
    pub(super) fn read_only_handshake(&mut self, conn: ConnId, req: &ConnectRequest, now: Time) {
        if req.read_only != Some(true) {
            // As ZooKeeper: a client that does not accept read-only mode is
            // closed without an answer.
            tracing::debug!(conn, "read-only server refused a read-write client");
            self.close(conn);
            return;
        }
        let timeout = self.config.negotiate_timeout(req.timeout_ms);
        let id = if req.session_id == 0 {
            let id = self.tracker.next_id();
            self.tracker.add(id, timeout, now.mono_ms);
            id
        } else {
            let id = req.session_id;
            if self.db.sessions.contains_key(&id) {
                tracing::info!(
                    conn,
                    "refusing global session reconnection in read-only mode"
                );
                self.close(conn);
                return;
            }
            let password = session_password(id, self.config.secret);
            if req.password.as_ref() != password.as_slice() || !self.tracker.is_live(id) {
                self.send(conn, encode_record(&ConnectResponse::expired()));
                self.close(conn);
                return;
            }
            self.tracker.set_timeout(id, timeout, now.mono_ms);
            id
        };
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
        self.send(conn, read_only_connect_response(id, timeout, password));
        self.replay_deferred(conn, now);
    }

    /// A write, `check`, `multi` or `sync` while read-only: answered with
    /// `NotReadOnly` in its turn; `closeSession` ends the session here.
    /// Returns false for requests served as usual (reads).
    pub(super) fn read_only_request(
        &mut self,
        conn: ConnId,
        xid: i32,
        op: OpCode,
        session: i64,
        now: Time,
    ) -> bool {
        if op == OpCode::CloseSession {
            self.tracker.remove(session);
            self.session_conns.remove(&session);
            let hdr = ReplyHeader {
                xid,
                zxid: self.db.last_zxid,
                err: 0,
            };
            self.send(conn, encode_reply(&hdr, &Response::Empty));
            self.close(conn);
            return true;
        }
        if !(op.is_write() || op == OpCode::Sync) {
            return false;
        }
        let hdr = ReplyHeader {
            xid,
            zxid: self.db.last_zxid,
            err: ErrorCode::NotReadOnly.code(),
        };
        self.enqueue_or_send(conn, xid, Err(hdr), now);
        true
    }
}

fn read_only_connect_response(session_id: i64, timeout_ms: i32, password: [u8; 16]) -> Bytes {
    encode_record(&ConnectResponse {
        protocol_version: 0,
        timeout_ms,
        session_id,
        password: Bytes::copy_from_slice(&password),
        read_only: Some(true),
    })
}
