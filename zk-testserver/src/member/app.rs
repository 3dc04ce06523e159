//! Application messages between members, carried by ZAB `App` messages on
//! the same FIFO links as proposals and commits.
//!
//! Followers number what they forward (per stream: one stream per period of
//! serving under one leader), so the leader can tell when a forward was lost
//! on a lossy link; a periodic touch report carries the last number sent, so
//! even the loss of the last forward shows.

use crate::server::ForwardedWrite;
use bytes::{BufMut, Bytes, BytesMut};
use zk_client::proto::jute::JuteWrite;
use zk_client::proto::{DecodeError, Reader};

const FORWARD: i32 = 1;
const TOUCH: i32 = 2;

/// A message from a follower to its leader.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AppMessage {
    /// A client write (or session creation / close) to prepare.
    Forward {
        /// The epoch the follower follows in.
        epoch: u32,
        /// The follower's forwarding stream.
        stream: u64,
        /// Number of this forward in the stream (1, 2, ...).
        seq: u64,
        /// The write.
        write: ForwardedWrite,
    },
    /// Session activity since the last report, and the stream's last number.
    Touch {
        /// The epoch the follower follows in.
        epoch: u32,
        /// The follower's forwarding stream.
        stream: u64,
        /// The number of the last forward sent in the stream (0: none).
        last_seq: u64,
        /// Sessions used on the follower, with their negotiated timeouts.
        sessions: Vec<(i64, i32)>,
    },
}

impl AppMessage {
    /// The encoded message.
    pub fn encode(&self) -> Bytes {
        let mut b = BytesMut::new();
        match self {
            AppMessage::Forward {
                epoch,
                stream,
                seq,
                write,
            } => {
                b.put_i32(FORWARD);
                b.put_u32(*epoch);
                b.put_u64(*stream);
                b.put_u64(*seq);
                b.put_i64(write.session_id);
                b.put_i32(write.cxid);
                b.put_i32(write.op);
                b.put_jute_buffer(Some(&write.body));
                b.put_jute_vec(&write.auth);
            }
            AppMessage::Touch {
                epoch,
                stream,
                last_seq,
                sessions,
            } => {
                b.put_i32(TOUCH);
                b.put_u32(*epoch);
                b.put_u64(*stream);
                b.put_u64(*last_seq);
                b.put_i32(i32::try_from(sessions.len()).unwrap_or(i32::MAX));
                for (id, timeout) in sessions {
                    b.put_i64(*id);
                    b.put_i32(*timeout);
                }
            }
        }
        b.freeze()
    }

    /// Decodes a message; malformed input is an error, never a panic.
    pub fn decode(bytes: Bytes) -> Result<AppMessage, DecodeError> {
        let mut r = Reader::new(bytes);
        let kind = r.read_i32()?;
        let epoch = r.read_i32()? as u32;
        let stream = r.read_i64()? as u64;
        let seq = r.read_i64()? as u64;
        let msg = match kind {
            FORWARD => AppMessage::Forward {
                epoch,
                stream,
                seq,
                write: ForwardedWrite {
                    session_id: r.read_i64()?,
                    cxid: r.read_i32()?,
                    op: r.read_i32()?,
                    body: r.read_buffer()?.unwrap_or_default(),
                    auth: r.read_vec()?,
                },
            },
            TOUCH => {
                let n = r.read_i32()?;
                if n < 0 || n as usize > r.remaining() / 12 {
                    return Err(DecodeError::Invalid("bad touch count"));
                }
                let mut sessions = Vec::with_capacity(n as usize);
                for _ in 0..n {
                    sessions.push((r.read_i64()?, r.read_i32()?));
                }
                AppMessage::Touch {
                    epoch,
                    stream,
                    last_seq: seq,
                    sessions,
                }
            }
            value => {
                return Err(DecodeError::UnknownValue {
                    what: "app message",
                    value,
                })
            }
        };
        r.finish()?;
        Ok(msg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use zk_client::proto::Id;

    #[test]
    fn round_trip_and_garbage() {
        let msgs = [
            AppMessage::Forward {
                epoch: 3,
                stream: u64::MAX,
                seq: 7,
                write: ForwardedWrite {
                    session_id: -5,
                    cxid: 9,
                    op: 1,
                    body: Bytes::from_static(b"body"),
                    auth: vec![Id {
                        scheme: "digest".into(),
                        id: "u:x".into(),
                    }],
                },
            },
            AppMessage::Touch {
                epoch: 1,
                stream: 2,
                last_seq: 0,
                sessions: vec![(1, 4000), (2, 200)],
            },
        ];
        for m in msgs {
            let bytes = m.encode();
            assert_eq!(AppMessage::decode(bytes.clone()).unwrap(), m);
            for cut in 0..bytes.len() {
                assert!(AppMessage::decode(bytes.slice(..cut)).is_err());
            }
        }
        let mut huge = BytesMut::new();
        huge.put_i32(TOUCH);
        huge.put_slice(&[0; 20]);
        huge.put_i32(i32::MAX);
        assert!(AppMessage::decode(huge.freeze()).is_err());
    }
}
