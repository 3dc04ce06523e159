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

/// How much one read into [`FrameDecoder::read_buffer`] may take, and the
/// size from which the rest of a frame is read in place rather than staged.
pub const READ_CHUNK: usize = 64 * 1024;

/// Splits a byte stream into frames.
///
/// Frames are slices of one buffer ([`Bytes`], no copy), so what a caller
/// keeps of a frame (a node's data) keeps that buffer's allocation alive.
/// Reads through [`FrameDecoder::read_buffer`] therefore land in a reused
/// staging buffer and are appended to the frame buffer, which then holds
/// no more than the frames need, except the rest of a frame of more than
/// [`READ_CHUNK`] bytes: that is read straight into the room reserved for
/// it when its length arrived, so a large frame is copied once, by the read.
#[derive(Debug)]
pub struct FrameDecoder {
    buf: BytesMut,
    /// Bytes read and not yet appended to `buf` (never split, so its
    /// allocation is reused from read to read).
    staging: BytesMut,
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
            staging: BytesMut::new(),
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

    /// Where the next read from the stream goes (with room for it; never
    /// none, which a reader would take for the end of the stream): the
    /// frame buffer while more than [`READ_CHUNK`] bytes of the frame in
    /// progress are missing, else the staging buffer. Either way
    /// [`next_frame`](Self::next_frame) sees the bytes read.
    pub fn read_buffer(&mut self) -> &mut BytesMut {
        let missing = self.missing_bytes();
        if missing > READ_CHUNK && self.staging.is_empty() {
            // Reserved when the length prefix arrived; a no-op then.
            self.buf.reserve(missing);
            return &mut self.buf;
        }
        self.staging.reserve(READ_CHUNK);
        &mut self.staging
    }

    /// Bytes still missing from the frame at the front of the buffer (0 if
    /// its length is not known yet or is refused).
    fn missing_bytes(&self) -> usize {
        let Some(prefix) = self.buf.get(..4) else {
            return 0;
        };
        let len = i32::from_be_bytes([prefix[0], prefix[1], prefix[2], prefix[3]]);
        match usize::try_from(len) {
            Ok(len) if len <= self.max_frame => (4 + len).saturating_sub(self.buf.len()),
            _ => 0,
        }
    }

    /// Bytes buffered but not yet returned as frames.
    pub fn buffered(&self) -> usize {
        self.buf.len() + self.staging.len()
    }

    /// Returns the next complete frame (without its length prefix), `None` if
    /// more bytes are needed, or an error for a frame that must not be read.
    pub fn next_frame(&mut self) -> Result<Option<Bytes>, FrameError> {
        if !self.staging.is_empty() {
            self.buf.extend_from_slice(&self.staging);
            self.staging.clear();
        }
        split_frame(&mut self.buf, self.max_frame)
    }

    /// Discards everything buffered (after a reconnect).
    pub fn clear(&mut self) {
        self.buf.clear();
        self.staging.clear();
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

    /// Feeds `stream` as a socket would (each read at most `max_read` bytes
    /// and what [`FrameDecoder::read_buffer`] has room for), taking frames
    /// after each read. Returns the frames and the bytes read in place.
    fn feed(d: &mut FrameDecoder, stream: &[u8], max_read: usize) -> (Vec<Bytes>, usize) {
        let (mut frames, mut in_place, mut fed) = (Vec::new(), 0, 0);
        while fed < stream.len() {
            let buf = d.read_buffer();
            let n = (stream.len() - fed)
                .min(max_read)
                .min(buf.capacity() - buf.len());
            assert!(n > 0, "a read buffer without room");
            if !buf.is_empty() {
                // Only the frame buffer holds bytes before a read.
                in_place += n;
            }
            buf.extend_from_slice(&stream[fed..fed + n]);
            fed += n;
            while let Some(frame) = d.next_frame().unwrap() {
                frames.push(frame);
            }
        }
        (frames, in_place)
    }

    #[test]
    fn a_large_frame_is_read_in_place_and_small_ones_are_staged() {
        let mut stream = Vec::new();
        for (len, byte) in [(300_000, 7), (10, 8), (20, 9)] {
            stream.extend_from_slice(&(len as i32).to_be_bytes());
            stream.resize(stream.len() + len, byte);
        }
        let mut d = FrameDecoder::new(1 << 20);
        let (frames, in_place) = feed(&mut d, &stream, 10_000);
        let lens: Vec<usize> = frames.iter().map(Bytes::len).collect();
        assert_eq!(lens, [300_000, 10, 20]);
        assert!(frames[0].iter().all(|&b| b == 7));
        assert_eq!(&frames[2][..], &[9u8; 20]);
        // All but the first and the last READ_CHUNK bytes of the large one.
        assert!(
            in_place >= 300_000 - 2 * READ_CHUNK,
            "{in_place} bytes read in place"
        );
        assert_eq!(d.buffered(), 0);
        // Small frames only: every read is staged.
        let (frames, in_place) = feed(&mut d, &stream[300_004..], 7);
        assert_eq!((frames.len(), in_place), (2, 0));
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
