//! Transactions: what preparation decides and every member applies.
//!
//! A [`Txn`] carries everything apply needs (final paths with sequence
//! suffixes, new versions, the parent's new child version, the ephemerals a
//! closing session leaves), so applying it is deterministic. Its compact jute
//! encoding is the payload of replicated log entries.

use bytes::{BufMut, Bytes, BytesMut};
use zk_client::proto::jute::JuteWrite;
use zk_client::proto::{Acl, DecodeError, Reader, Record};

/// Who sent the transaction, where it sits in the order, and when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxnHeader {
    /// The session that sent the request (0 for server-internal ones).
    pub session_id: i64,
    /// The request's xid (0 for server-internal ones).
    pub cxid: i32,
    /// The transaction's zxid.
    pub zxid: i64,
    /// Wall-clock time at preparation, ms since the epoch (ctime/mtime).
    pub time: i64,
    /// The request opcode (decides the reply shape: create vs create2, ...).
    pub op: i32,
}

/// What a transaction does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TxnBody {
    /// A new session with its negotiated timeout.
    CreateSession {
        /// Negotiated timeout, ms.
        timeout_ms: i32,
    },
    /// The session ends (close or expiry); its ephemerals go.
    CloseSession {
        /// Ephemeral paths to delete (as known at preparation).
        ephemerals: Vec<String>,
    },
    /// A node is created.
    Create {
        /// Final path (sequence suffix included).
        path: String,
        /// Data.
        data: Option<Bytes>,
        /// Expanded ACL.
        acl: Vec<Acl>,
        /// Stored ephemeralOwner (session, container or TTL marker, or 0).
        owner: i64,
        /// The parent's new stored cversion.
        parent_cversion: i32,
    },
    /// A node is deleted (delete, or deleteContainer when `op` is 20).
    Delete {
        /// The node.
        path: String,
    },
    /// A node's data is replaced.
    SetData {
        /// The node.
        path: String,
        /// New data.
        data: Option<Bytes>,
        /// New version.
        version: i32,
    },
    /// A node's ACL is replaced.
    SetAcl {
        /// The node.
        path: String,
        /// New (expanded) ACL.
        acl: Vec<Acl>,
        /// New ACL version.
        aversion: i32,
    },
    /// A version check inside multi (changes nothing).
    Check {
        /// The node.
        path: String,
    },
    /// A failed write: consumes its zxid, changes nothing, answers `code`.
    Error {
        /// The error code.
        code: i32,
    },
    /// Several ops applied atomically; each op with its request opcode.
    Multi(Vec<(i32, TxnBody)>),
}

/// A transaction: header and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Txn {
    /// Header.
    pub header: TxnHeader,
    /// Body.
    pub body: TxnBody,
}

const T_CREATE_SESSION: i32 = 1;
const T_CLOSE_SESSION: i32 = 2;
const T_CREATE: i32 = 3;
const T_DELETE: i32 = 4;
const T_SET_DATA: i32 = 5;
const T_SET_ACL: i32 = 6;
const T_CHECK: i32 = 7;
const T_ERROR: i32 = 8;
const T_MULTI: i32 = 9;

impl TxnBody {
    fn write(&self, b: &mut BytesMut) {
        match self {
            TxnBody::CreateSession { timeout_ms } => {
                b.put_i32(T_CREATE_SESSION);
                b.put_i32(*timeout_ms);
            }
            TxnBody::CloseSession { ephemerals } => {
                b.put_i32(T_CLOSE_SESSION);
                b.put_jute_vec(ephemerals);
            }
            TxnBody::Create {
                path,
                data,
                acl,
                owner,
                parent_cversion,
            } => {
                b.put_i32(T_CREATE);
                b.put_jute_string(path);
                b.put_jute_buffer(data.as_deref());
                b.put_jute_vec(acl);
                b.put_i64(*owner);
                b.put_i32(*parent_cversion);
            }
            TxnBody::Delete { path } => {
                b.put_i32(T_DELETE);
                b.put_jute_string(path);
            }
            TxnBody::SetData {
                path,
                data,
                version,
            } => {
                b.put_i32(T_SET_DATA);
                b.put_jute_string(path);
                b.put_jute_buffer(data.as_deref());
                b.put_i32(*version);
            }
            TxnBody::SetAcl {
                path,
                acl,
                aversion,
            } => {
                b.put_i32(T_SET_ACL);
                b.put_jute_string(path);
                b.put_jute_vec(acl);
                b.put_i32(*aversion);
            }
            TxnBody::Check { path } => {
                b.put_i32(T_CHECK);
                b.put_jute_string(path);
            }
            TxnBody::Error { code } => {
                b.put_i32(T_ERROR);
                b.put_i32(*code);
            }
            TxnBody::Multi(ops) => {
                b.put_i32(T_MULTI);
                b.put_i32(i32::try_from(ops.len()).unwrap_or(i32::MAX));
                for (op, body) in ops {
                    b.put_i32(*op);
                    body.write(b);
                }
            }
        }
    }

    fn read(r: &mut Reader, depth: u32) -> Result<TxnBody, DecodeError> {
        Ok(match r.read_i32()? {
            T_CREATE_SESSION => TxnBody::CreateSession {
                timeout_ms: r.read_i32()?,
            },
            T_CLOSE_SESSION => TxnBody::CloseSession {
                ephemerals: r.read_vec()?,
            },
            T_CREATE => TxnBody::Create {
                path: r.read_string()?,
                data: r.read_buffer()?,
                acl: r.read_vec()?,
                owner: r.read_i64()?,
                parent_cversion: r.read_i32()?,
            },
            T_DELETE => TxnBody::Delete {
                path: r.read_string()?,
            },
            T_SET_DATA => TxnBody::SetData {
                path: r.read_string()?,
                data: r.read_buffer()?,
                version: r.read_i32()?,
            },
            T_SET_ACL => TxnBody::SetAcl {
                path: r.read_string()?,
                acl: r.read_vec()?,
                aversion: r.read_i32()?,
            },
            T_CHECK => TxnBody::Check {
                path: r.read_string()?,
            },
            T_ERROR => TxnBody::Error {
                code: r.read_i32()?,
            },
            T_MULTI if depth == 0 => {
                let n = r.read_i32()?;
                if n < 0 || n as usize > r.remaining() {
                    return Err(DecodeError::Invalid("bad multi txn count"));
                }
                let mut ops = Vec::with_capacity(n as usize);
                for _ in 0..n {
                    let op = r.read_i32()?;
                    ops.push((op, TxnBody::read(r, depth + 1)?));
                }
                TxnBody::Multi(ops)
            }
            value => {
                return Err(DecodeError::UnknownValue {
                    what: "txn body",
                    value,
                })
            }
        })
    }
}

impl Record for Txn {
    fn write(&self, b: &mut BytesMut) {
        let h = &self.header;
        b.put_i64(h.session_id);
        b.put_i32(h.cxid);
        b.put_i64(h.zxid);
        b.put_i64(h.time);
        b.put_i32(h.op);
        self.body.write(b);
    }

    fn read(r: &mut Reader) -> Result<Txn, DecodeError> {
        let header = TxnHeader {
            session_id: r.read_i64()?,
            cxid: r.read_i32()?,
            zxid: r.read_i64()?,
            time: r.read_i64()?,
            op: r.read_i32()?,
        };
        Ok(Txn {
            header,
            body: TxnBody::read(r, 0)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_body_round_trips() {
        let bodies = vec![
            TxnBody::CreateSession { timeout_ms: 4000 },
            TxnBody::CloseSession {
                ephemerals: vec!["/e".into()],
            },
            TxnBody::Create {
                path: "/a0000000001".into(),
                data: None,
                acl: Acl::open_unsafe(),
                owner: i64::MIN,
                parent_cversion: 2,
            },
            TxnBody::Delete { path: "/a".into() },
            TxnBody::SetData {
                path: "/a".into(),
                data: Some(Bytes::from_static(b"x")),
                version: 3,
            },
            TxnBody::SetAcl {
                path: "/a".into(),
                acl: vec![],
                aversion: 1,
            },
            TxnBody::Check { path: "/a".into() },
            TxnBody::Error { code: -101 },
            TxnBody::Multi(vec![
                (1, TxnBody::Delete { path: "/x".into() }),
                (-1, TxnBody::Error { code: -2 }),
            ]),
        ];
        for (i, body) in bodies.into_iter().enumerate() {
            let txn = Txn {
                header: TxnHeader {
                    session_id: 7,
                    cxid: i as i32,
                    zxid: 0x1_0000_0001,
                    time: 1234,
                    op: 1,
                },
                body,
            };
            assert_eq!(Txn::from_bytes(txn.to_bytes()).unwrap(), txn);
        }
        // Nested multi and garbage are errors, not panics.
        let mut b = BytesMut::new();
        b.put_slice(&[0; 32]);
        b.put_i32(T_MULTI);
        b.put_i32(1);
        b.put_i32(14);
        b.put_i32(T_MULTI);
        assert!(Txn::from_bytes(b.freeze()).is_err());
        assert!(Txn::from_bytes(Bytes::from_static(&[1, 2, 3])).is_err());
    }
}
