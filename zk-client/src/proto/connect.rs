//! The session handshake: the first frame each way on a connection.

use super::jute::{DecodeError, JuteWrite, Reader, Record};
use bytes::{BufMut, Bytes, BytesMut};

/// Length of a session password.
pub const PASSWORD_LEN: usize = 16;

/// The client's first frame: start a session or reattach to one.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConnectRequest {
    /// Protocol version (always 0).
    pub protocol_version: i32,
    /// The highest zxid the client has seen; a server behind it refuses the client.
    pub last_zxid_seen: i64,
    /// Requested session timeout in milliseconds.
    pub timeout_ms: i32,
    /// Session to reattach, or 0 for a new one.
    pub session_id: i64,
    /// The session's password (16 zero bytes for a new session).
    pub password: Bytes,
    /// Whether the client accepts a read-only server. `None` when the peer
    /// (ZooKeeper 3.3 or older) did not send the field.
    pub read_only: Option<bool>,
}

impl Record for ConnectRequest {
    fn write(&self, buf: &mut BytesMut) {
        buf.put_i32(self.protocol_version);
        buf.put_i64(self.last_zxid_seen);
        buf.put_i32(self.timeout_ms);
        buf.put_i64(self.session_id);
        buf.put_jute_buffer(Some(&self.password));
        if let Some(ro) = self.read_only {
            buf.put_jute_bool(ro);
        }
    }

    fn read(r: &mut Reader) -> Result<Self, DecodeError> {
        Ok(ConnectRequest {
            protocol_version: r.read_i32()?,
            last_zxid_seen: r.read_i64()?,
            timeout_ms: r.read_i32()?,
            session_id: r.read_i64()?,
            password: r.read_bytes()?,
            read_only: if r.is_empty() {
                None
            } else {
                Some(r.read_bool()?)
            },
        })
    }
}

/// The server's first frame: the negotiated session.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConnectResponse {
    /// Protocol version (always 0).
    pub protocol_version: i32,
    /// Negotiated session timeout in milliseconds; 0 or less means the
    /// requested session is expired or the password was wrong.
    pub timeout_ms: i32,
    /// The session id (0 when refused).
    pub session_id: i64,
    /// The session password.
    pub password: Bytes,
    /// Whether the server is read-only. `None` when the peer did not send the field.
    pub read_only: Option<bool>,
}

impl ConnectResponse {
    /// The reply that tells a client its session is gone.
    pub fn expired() -> ConnectResponse {
        ConnectResponse {
            protocol_version: 0,
            timeout_ms: 0,
            session_id: 0,
            password: Bytes::from_static(&[0; PASSWORD_LEN]),
            read_only: Some(false),
        }
    }
}

impl Record for ConnectResponse {
    fn write(&self, buf: &mut BytesMut) {
        buf.put_i32(self.protocol_version);
        buf.put_i32(self.timeout_ms);
        buf.put_i64(self.session_id);
        buf.put_jute_buffer(Some(&self.password));
        if let Some(ro) = self.read_only {
            buf.put_jute_bool(ro);
        }
    }

    fn read(r: &mut Reader) -> Result<Self, DecodeError> {
        Ok(ConnectResponse {
            protocol_version: r.read_i32()?,
            timeout_ms: r.read_i32()?,
            session_id: r.read_i64()?,
            password: r.read_bytes()?,
            read_only: if r.is_empty() {
                None
            } else {
                Some(r.read_bool()?)
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connect_request_with_and_without_read_only() {
        let req = ConnectRequest {
            protocol_version: 0,
            last_zxid_seen: 0x1_0000_0005,
            timeout_ms: 30000,
            session_id: 0x1234,
            password: Bytes::from_static(&[7; 16]),
            read_only: Some(true),
        };
        let b = req.to_bytes();
        assert_eq!(b.len(), 4 + 8 + 4 + 8 + 4 + 16 + 1);
        assert_eq!(ConnectRequest::from_bytes(b).unwrap(), req);
        let old = ConnectRequest {
            read_only: None,
            ..req
        };
        assert_eq!(ConnectRequest::from_bytes(old.to_bytes()).unwrap(), old);
    }

    #[test]
    fn connect_response_round_trip() {
        let resp = ConnectResponse::expired();
        assert_eq!(resp.to_bytes().len(), 4 + 4 + 8 + 4 + 16 + 1);
        assert_eq!(ConnectResponse::from_bytes(resp.to_bytes()).unwrap(), resp);
        let old = ConnectResponse {
            read_only: None,
            ..resp
        };
        assert_eq!(ConnectResponse::from_bytes(old.to_bytes()).unwrap(), old);
    }
}
