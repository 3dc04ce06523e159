//! SASL requests (opcode 102): DIGEST-MD5 against the configured user
//! table, as a ZooKeeper whose JAAS `Server` section uses
//! `DigestLoginModule`. A server without users answers every SASL request
//! with a null token, as a ZooKeeper without a SASL server does.

use super::{ConnId, Server};
use crate::server::config::SaslUsers;
use base64::Engine as _;
use sha1::Digest as _;
use zk_client::proto::sasl::{DigestMd5Server, ServerStep};
use zk_client::proto::{
    encode_frame, DecodeError, ErrorCode, Id, Record, ReplyHeader, Request, SaslPacket,
};

impl Server {
    /// Answers one SASL token. Success adds `sasl:<user>` to the connection;
    /// failure answers AuthFailed and closes the connection (the session
    /// lives on until it expires), as ZooKeeper does.
    pub(super) fn sasl(&mut self, conn: ConnId, xid: i32, decoded: Result<Request, DecodeError>) {
        // Zxid 0, and a token record even with an error (a null one), as
        // ZooKeeper answers SASL requests.
        let reply = |err: ErrorCode, token: Option<Vec<u8>>| {
            encode_frame(|buf| {
                ReplyHeader {
                    xid,
                    zxid: 0,
                    err: err.code(),
                }
                .write(buf);
                SaslPacket {
                    token: token.map(Into::into),
                }
                .write(buf);
            })
        };
        if self.config.sasl_users.is_empty() {
            self.send(conn, reply(ErrorCode::Ok, None));
            return;
        }
        let nonce = sasl_nonce(self.config.secret, self.config.server_id, conn);
        let users = &self.config.sasl_users;
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        let token = match decoded {
            Ok(Request::Sasl(p)) => p.token.map(|t| t.to_vec()).unwrap_or_default(),
            _ => Vec::new(),
        };
        let exchange = c
            .sasl
            .get_or_insert_with(|| Box::new(DigestMd5Server::new(&nonce)));
        match exchange.step(&token, |user| users.password(user)) {
            Ok(ServerStep::Challenge(challenge)) => {
                self.send(conn, reply(ErrorCode::Ok, Some(challenge)));
            }
            Ok(ServerStep::Success { rspauth, user }) => {
                tracing::info!(conn, %user, "SASL DIGEST-MD5 authenticated");
                c.auth.add(Id::new("sasl", user));
                self.send(conn, reply(ErrorCode::Ok, Some(rspauth)));
            }
            Err(e) => {
                tracing::info!(conn, error = %e, "SASL authentication failed; closing");
                self.send(conn, reply(ErrorCode::AuthFailed, None));
                self.close(conn);
            }
        }
    }
}

/// A nonce no client can predict: derived from the ensemble's secret, the
/// member and the connection.
fn sasl_nonce(secret: u64, server_id: u8, conn: ConnId) -> String {
    let mut h = sha1::Sha1::new();
    h.update(b"zk-testserver sasl nonce");
    h.update(secret.to_be_bytes());
    h.update([server_id]);
    h.update(conn.to_be_bytes());
    base64::engine::general_purpose::STANDARD.encode(h.finalize())
}

impl SaslUsers {
    fn password(&self, user: &str) -> Option<String> {
        self.get(user).map(str::to_string)
    }
}
