//! Framing: every message is a big-endian i32 length followed by that many bytes.
//!
//! Encoding functions return whole frames (length prefix included).
//! [`FrameDecoder`] splits a byte stream back into frames and refuses
//! oversized ones before buffering them.

use super::jute::{DecodeError, Reader, Record, DEFAULT_MAX_BUFFER};
use super::opcode::{xid, OpCode};
use super::records::{ReplyHeader, RequestHeader};
use super::request::Request;
use super::response::Response;
use super::watch::WatcherEvent;
use bytes::{Buf, BufMut, Bytes, BytesMut};
use thiserror::Error;

/// A frame that cannot be accepted.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum FrameError {
    /// The length prefix exceeds the limit (`jute.maxbuffer`).
    #[error("frame of {len} bytes exceeds the {max} byte limit")]
    TooLarge {
        /// The announced length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The length prefix is negative.
    #[error("negative frame length {0}")]
    NegativeLength(i32),
}

/// Builds one frame: reserves the length prefix, lets `body` write, patches the length.
pub fn encode_frame(body: impl FnOnce(&mut BytesMut)) -> Bytes {
    let mut buf = BytesMut::with_capacity(64);
    buf.put_i32(0);
    body(&mut buf);
    let len = i32::try_from(buf.len() - 4).unwrap_or(i32::MAX);
    buf[..4].copy_from_slice(&len.to_be_bytes());
    buf.freeze()
}

/// A frame holding a bare record (the handshake frames).
pub fn encode_record<T: Record>(record: &T) -> Bytes {
    encode_frame(|buf| record.write(buf))
}

/// A request frame: header (xid, opcode) and body.
pub fn encode_request(xid: i32, request: &Request) -> Bytes {
    let mut buf = BytesMut::with_capacity(64);
    encode_request_into(&mut buf, xid, request);
    buf.freeze()
}

/// Appends the frame [`encode_request`] would return to `buf`, so that a
/// stream of requests can share one buffer instead of one allocation each.
pub fn encode_request_into(buf: &mut BytesMut, xid: i32, request: &Request) {
    let start = buf.len();
    buf.put_i32(0);
    RequestHeader {
        xid,
        op: request.opcode().code(),
    }
    .write(buf);
    request.write_body(buf);
    let len = i32::try_from(buf.len() - start - 4).unwrap_or(i32::MAX);
    buf[start..start + 4].copy_from_slice(&len.to_be_bytes());
}

/// A reply frame. On error (`header.err != 0`) the body is not written,
/// as ZooKeeper does.
pub fn encode_reply(header: &ReplyHeader, response: &Response) -> Bytes {
    encode_frame(|buf| {
        header.write(buf);
        if header.err == 0 {
            response.write_body(buf);
        }
    })
}

/// A watch notification frame (xid -1).
pub fn encode_notification(zxid: i64, event: &WatcherEvent) -> Bytes {
    encode_frame(|buf| {
        ReplyHeader {
            xid: xid::NOTIFICATION,
            zxid,
            err: 0,
        }
        .write(buf);
        event.write(buf);
    })
}

/// A request header and the still-encoded body, as a server reads them.
#[derive(Debug, Clone)]
pub struct RawRequest {
    /// The header.
    pub header: RequestHeader,
    /// The body.
    pub body: Reader,
}

/// Splits a request frame (without its length prefix) into header and body.
pub fn decode_request_header(frame: Bytes) -> Result<RawRequest, DecodeError> {
    let mut body = Reader::new(frame);
    let header = RequestHeader::read(&mut body)?;
    Ok(RawRequest { header, body })
}

/// Decodes a whole request frame (without its length prefix). Trailing bytes
/// after the body are tolerated, as ZooKeeper's server does.
pub fn decode_request(frame: Bytes) -> Result<(RequestHeader, Request), DecodeError> {
    let RawRequest { header, mut body } = decode_request_header(frame)?;
    let op = OpCode::decode(header.op)?;
    let request = Request::read_body(op, &mut body)?;
    Ok((header, request))
}

/// Splits a reply frame (without its length prefix) into header and body.
pub fn decode_reply_header(frame: Bytes) -> Result<(ReplyHeader, Reader), DecodeError> {
    let mut body = Reader::new(frame);
    let header = ReplyHeader::read(&mut body)?;
    Ok((header, body))
}

/// Splits a byte stream into frames.
#[derive(Debug)]
pub struct FrameDecoder {
    buf: BytesMut,
    max_frame: usize,
}

impl Default for FrameDecoder {
    fn default() -> Self {
        FrameDecoder::new(DEFAULT_MAX_BUFFER)
    }
}

impl FrameDecoder {
    /// A decoder refusing frames longer than `max_frame` bytes.
    pub fn new(max_frame: usize) -> Self {
        FrameDecoder {
            buf: BytesMut::new(),
            max_frame,
        }
    }

    /// Buffers bytes read from the stream.
    pub fn extend(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }

    /// The internal buffer, for drivers that read straight into it.
    pub fn buffer_mut(&mut self) -> &mut BytesMut {
        &mut self.buf
    }

    /// Bytes buffered but not yet returned as frames.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// Returns the next complete frame (without its length prefix), `None` if
    /// more bytes are needed, or an error for a frame that must not be read.
    pub fn next_frame(&mut self) -> Result<Option<Bytes>, FrameError> {
        split_frame(&mut self.buf, self.max_frame)
    }

    /// Discards everything buffered (after a reconnect).
    pub fn clear(&mut self) {
        self.buf.clear();
    }
}

/// Takes one complete frame off the front of `buf`.
pub fn split_frame(buf: &mut BytesMut, max_frame: usize) -> Result<Option<Bytes>, FrameError> {
    if buf.len() < 4 {
        return Ok(None);
    }
    let len = i32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]);
    if len < 0 {
        return Err(FrameError::NegativeLength(len));
    }
    let len = len as usize;
    if len > max_frame {
        return Err(FrameError::TooLarge {
            len,
            max: max_frame,
        });
    }
    if buf.len() < 4 + len {
        buf.reserve(4 + len - buf.len());
        return Ok(None);
    }
    buf.advance(4);
    Ok(Some(buf.split_to(len).freeze()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::records::PathWatchRequest;

    #[test]
    fn request_frame_layout() {
        let f = encode_request(
            7,
            &Request::GetData(PathWatchRequest {
                path: "/a".into(),
                watch: true,
            }),
        );
        assert_eq!(
            &f[..],
            &[0, 0, 0, 15, 0, 0, 0, 7, 0, 0, 0, 4, 0, 0, 0, 2, b'/', b'a', 1]
        );
        let mut d = FrameDecoder::default();
        d.extend(&f[..5]);
        assert_eq!(d.next_frame().unwrap(), None);
        d.extend(&f[5..]);
        let frame = d.next_frame().unwrap().unwrap();
        let (h, req) = decode_request(frame).unwrap();
        assert_eq!(h.xid, 7);
        assert_eq!(req.opcode(), OpCode::GetData);
        assert_eq!(d.buffered(), 0);
    }

    #[test]
    fn bad_lengths_are_refused() {
        let mut d = FrameDecoder::new(10);
        d.extend(&11i32.to_be_bytes());
        assert_eq!(
            d.next_frame(),
            Err(FrameError::TooLarge { len: 11, max: 10 })
        );
        let mut d = FrameDecoder::new(10);
        d.extend(&(-3i32).to_be_bytes());
        assert_eq!(d.next_frame(), Err(FrameError::NegativeLength(-3)));
    }

    #[test]
    fn error_replies_have_no_body() {
        let f = encode_reply(
            &ReplyHeader {
                xid: 1,
                zxid: 2,
                err: -101,
            },
            &Response::Empty,
        );
        assert_eq!(f.len(), 4 + 16);
    }
}
