//! Jute, ZooKeeper's serialization: big-endian integers, length-prefixed
//! buffers, strings and vectors, records written field by field in declared
//! order with no tags.
//!
//! [`Reader`] decodes from a [`Bytes`] buffer without copying byte fields;
//! [`JuteWrite`] appends encodings to a [`BytesMut`]. A [`Record`] is anything
//! with both directions.

use bytes::{Buf, BufMut, Bytes, BytesMut};
use thiserror::Error;

/// Default `jute.maxbuffer`: the largest frame either side accepts (1 MiB - 1).
pub const DEFAULT_MAX_BUFFER: usize = 0xfffff;

/// Why a record could not be decoded. Never a panic: every malformed input
/// ends up here.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DecodeError {
    /// The input ended before the record did.
    #[error("truncated record: needed {needed} more bytes, {available} left")]
    Truncated {
        /// Bytes the next field needed.
        needed: usize,
        /// Bytes that were left.
        available: usize,
    },
    /// A length prefix was negative (other than the -1 null marker) or
    /// larger than the configured limit.
    #[error("bad length {len} (limit {limit})")]
    BadLength {
        /// The length read from the wire.
        len: i64,
        /// The largest length accepted.
        limit: usize,
    },
    /// A string field was not valid UTF-8.
    #[error("string field is not valid UTF-8")]
    InvalidUtf8,
    /// An enumerated field carried a value this protocol version does not define.
    #[error("unknown {what} value {value}")]
    UnknownValue {
        /// Which kind of value (opcode, event type, ...).
        what: &'static str,
        /// The value read.
        value: i32,
    },
    /// Bytes were left over after a record that must fill its frame.
    #[error("{0} trailing bytes after record")]
    TrailingBytes(usize),
    /// The record is structurally wrong (for example a multi op of a kind
    /// multi does not allow).
    #[error("invalid record: {0}")]
    Invalid(&'static str),
}

/// A cursor over one frame's bytes.
#[derive(Debug, Clone)]
pub struct Reader {
    buf: Bytes,
    max_len: usize,
    java: bool,
    refuse_null_strings: bool,
}

impl Reader {
    /// Reads `buf`, accepting inner buffers and strings up to
    /// twice [`DEFAULT_MAX_BUFFER`] (ZooKeeper's maxbuffer + extrasize).
    pub fn new(buf: Bytes) -> Self {
        Self::with_limit(buf, 2 * DEFAULT_MAX_BUFFER)
    }

    /// Reads `buf`, refusing any length prefix above `max_len`.
    pub fn with_limit(buf: Bytes, max_len: usize) -> Self {
        Reader {
            buf,
            max_len,
            java: false,
            refuse_null_strings: false,
        }
    }

    /// Decodes as ZooKeeper's Java server does: bytes that are not UTF-8
    /// become U+FFFD in strings instead of an error, and a vector count below
    /// -1 reads as an empty vector (Java's jute only treats -1 as null and
    /// reads no element for any other count under 1). A server uses this on
    /// requests so that bad input gets ZooKeeper's answer (a path that does
    /// not exist, or an invalid one) rather than a decode error.
    pub fn java_lenient(mut self) -> Self {
        self.java = true;
        self
    }

    /// Makes [`Reader::read_string`] fail on a null string instead of
    /// reading it as empty (ZooKeeper's server fails such requests with a
    /// marshalling error where it uses the string).
    pub fn refuse_null_strings(mut self) -> Self {
        self.refuse_null_strings = true;
        self
    }

    /// Bytes not yet consumed.
    pub fn remaining(&self) -> usize {
        self.buf.remaining()
    }

    /// Whether everything was consumed.
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// Fails with [`DecodeError::TrailingBytes`] unless everything was consumed.
    pub fn finish(&self) -> Result<(), DecodeError> {
        match self.remaining() {
            0 => Ok(()),
            n => Err(DecodeError::TrailingBytes(n)),
        }
    }

    fn need(&self, n: usize) -> Result<(), DecodeError> {
        if self.buf.remaining() < n {
            Err(DecodeError::Truncated {
                needed: n,
                available: self.buf.remaining(),
            })
        } else {
            Ok(())
        }
    }

    /// Reads a jute `int`.
    pub fn read_i32(&mut self) -> Result<i32, DecodeError> {
        self.need(4)?;
        Ok(self.buf.get_i32())
    }

    /// Reads a jute `long`.
    pub fn read_i64(&mut self) -> Result<i64, DecodeError> {
        self.need(8)?;
        Ok(self.buf.get_i64())
    }

    /// Reads a jute `boolean` (any non-zero byte is true, as in Java).
    pub fn read_bool(&mut self) -> Result<bool, DecodeError> {
        self.need(1)?;
        Ok(self.buf.get_u8() != 0)
    }

    /// Reads a length prefix; `None` for the -1 null marker.
    fn read_len(&mut self) -> Result<Option<usize>, DecodeError> {
        let len = self.read_i32()?;
        if len == -1 {
            return Ok(None);
        }
        if len < 0 || len as usize > self.max_len {
            return Err(DecodeError::BadLength {
                len: len.into(),
                limit: self.max_len,
            });
        }
        Ok(Some(len as usize))
    }

    /// Reads a jute `buffer`; `None` when the sender wrote null (-1).
    pub fn read_buffer(&mut self) -> Result<Option<Bytes>, DecodeError> {
        match self.read_len()? {
            None => Ok(None),
            Some(len) => {
                self.need(len)?;
                Ok(Some(self.buf.split_to(len)))
            }
        }
    }

    /// Reads a jute `buffer`, mapping null to empty.
    pub fn read_bytes(&mut self) -> Result<Bytes, DecodeError> {
        Ok(self.read_buffer()?.unwrap_or_default())
    }

    /// Reads a jute `ustring`; `None` when the sender wrote null (-1).
    pub fn read_opt_string(&mut self) -> Result<Option<String>, DecodeError> {
        match self.read_len()? {
            None => Ok(None),
            Some(len) => {
                self.need(len)?;
                let raw = self.buf.split_to(len);
                if self.java {
                    return Ok(Some(String::from_utf8_lossy(&raw).into_owned()));
                }
                String::from_utf8(raw.to_vec())
                    .map(Some)
                    .map_err(|_| DecodeError::InvalidUtf8)
            }
        }
    }

    /// Reads a jute `ustring`, mapping null to the empty string (or failing,
    /// see [`Reader::refuse_null_strings`]).
    pub fn read_string(&mut self) -> Result<String, DecodeError> {
        match self.read_opt_string()? {
            Some(s) => Ok(s),
            None if self.refuse_null_strings => Err(DecodeError::Invalid("null string")),
            None => Ok(String::new()),
        }
    }

    /// Reads a jute `vector`; `None` when the sender wrote null (-1).
    pub fn read_opt_vec<T: Record>(&mut self) -> Result<Option<Vec<T>>, DecodeError> {
        let peek = self
            .buf
            .get(..4)
            .map(|b| i32::from_be_bytes([b[0], b[1], b[2], b[3]]));
        if self.java && peek.is_some_and(|n| n < -1) {
            self.read_i32()?;
            return Ok(Some(Vec::new()));
        }
        let Some(count) = self.read_len()? else {
            return Ok(None);
        };
        // Every element takes at least one byte, so a count larger than what is
        // left is malformed; checking first keeps a hostile count from
        // reserving memory.
        if count > self.remaining() {
            return Err(DecodeError::Truncated {
                needed: count,
                available: self.remaining(),
            });
        }
        let mut items = Vec::with_capacity(count);
        for _ in 0..count {
            items.push(T::read(self)?);
        }
        Ok(Some(items))
    }

    /// Reads a jute `vector`, mapping null to empty.
    pub fn read_vec<T: Record>(&mut self) -> Result<Vec<T>, DecodeError> {
        Ok(self.read_opt_vec()?.unwrap_or_default())
    }
}

/// Jute encodings appended to a [`BytesMut`].
pub trait JuteWrite {
    /// Writes a jute `boolean`.
    fn put_jute_bool(&mut self, v: bool);
    /// Writes a jute `buffer`; `None` writes the -1 null marker.
    fn put_jute_buffer(&mut self, v: Option<&[u8]>);
    /// Writes a jute `ustring`.
    fn put_jute_string(&mut self, v: &str);
    /// Writes a jute `ustring`; `None` writes the -1 null marker.
    fn put_jute_opt_string(&mut self, v: Option<&str>);
    /// Writes a jute `vector` of records.
    fn put_jute_vec<T: Record>(&mut self, v: &[T]);
}

impl JuteWrite for BytesMut {
    fn put_jute_bool(&mut self, v: bool) {
        self.put_u8(u8::from(v));
    }

    fn put_jute_buffer(&mut self, v: Option<&[u8]>) {
        match v {
            None => self.put_i32(-1),
            Some(b) => {
                self.put_i32(len_i32(b.len()));
                self.put_slice(b);
            }
        }
    }

    fn put_jute_string(&mut self, v: &str) {
        self.put_jute_buffer(Some(v.as_bytes()));
    }

    fn put_jute_opt_string(&mut self, v: Option<&str>) {
        self.put_jute_buffer(v.map(str::as_bytes));
    }

    fn put_jute_vec<T: Record>(&mut self, v: &[T]) {
        self.put_i32(len_i32(v.len()));
        for item in v {
            item.write(self);
        }
    }
}

/// Lengths on the wire are i32; anything larger cannot be represented and
/// would be refused by every peer anyway, so it saturates (the peer then
/// rejects the frame as oversized instead of misreading it).
fn len_i32(len: usize) -> i32 {
    i32::try_from(len).unwrap_or(i32::MAX)
}

/// A jute record: encodable and decodable.
pub trait Record: Sized {
    /// Appends the encoding of `self`.
    fn write(&self, buf: &mut BytesMut);
    /// Decodes one record from the reader.
    fn read(r: &mut Reader) -> Result<Self, DecodeError>;

    /// Encodes `self` into a fresh buffer.
    fn to_bytes(&self) -> Bytes {
        let mut buf = BytesMut::new();
        self.write(&mut buf);
        buf.freeze()
    }

    /// Decodes a record that must fill `bytes` exactly.
    fn from_bytes(bytes: Bytes) -> Result<Self, DecodeError> {
        let mut r = Reader::new(bytes);
        let v = Self::read(&mut r)?;
        r.finish()?;
        Ok(v)
    }
}

impl Record for i32 {
    fn write(&self, buf: &mut BytesMut) {
        buf.put_i32(*self);
    }
    fn read(r: &mut Reader) -> Result<Self, DecodeError> {
        r.read_i32()
    }
}

impl Record for i64 {
    fn write(&self, buf: &mut BytesMut) {
        buf.put_i64(*self);
    }
    fn read(r: &mut Reader) -> Result<Self, DecodeError> {
        r.read_i64()
    }
}

impl Record for bool {
    fn write(&self, buf: &mut BytesMut) {
        buf.put_jute_bool(*self);
    }
    fn read(r: &mut Reader) -> Result<Self, DecodeError> {
        r.read_bool()
    }
}

impl Record for String {
    fn write(&self, buf: &mut BytesMut) {
        buf.put_jute_string(self);
    }
    fn read(r: &mut Reader) -> Result<Self, DecodeError> {
        r.read_string()
    }
}

/// Declares a plain jute record: a struct whose fields are encoded in order.
/// Field types must implement [`Record`], or be `Bytes`/`Option<Bytes>`
/// (buffers) or `Vec<T>` (vectors), through the [`Field`] helper trait.
macro_rules! jute_record {
    (
        $(#[$meta:meta])*
        pub struct $name:ident {
            $( $(#[$fmeta:meta])* pub $field:ident : $ty:ty ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Default)]
        pub struct $name {
            $( $(#[$fmeta])* pub $field: $ty, )*
        }

        impl $crate::proto::jute::Record for $name {
            fn write(&self, buf: &mut ::bytes::BytesMut) {
                $( $crate::proto::jute::Field::write_field(&self.$field, buf); )*
            }
            fn read(
                r: &mut $crate::proto::jute::Reader,
            ) -> ::std::result::Result<Self, $crate::proto::jute::DecodeError> {
                Ok($name {
                    $( $field: $crate::proto::jute::Field::read_field(r)?, )*
                })
            }
        }
    };
}
pub(crate) use jute_record;

/// How one field of a record struct is encoded. Records encode
/// themselves; `Bytes` is a buffer (null read as empty), `Option<Bytes>` a
/// nullable buffer, `Option<String>` a nullable ustring, `Vec<T>` a vector
/// (null read as empty).
pub trait Field: Sized {
    /// Appends the field's encoding.
    fn write_field(&self, buf: &mut BytesMut);
    /// Decodes the field.
    fn read_field(r: &mut Reader) -> Result<Self, DecodeError>;
}

impl<T: Record> Field for T {
    fn write_field(&self, buf: &mut BytesMut) {
        self.write(buf);
    }
    fn read_field(r: &mut Reader) -> Result<Self, DecodeError> {
        T::read(r)
    }
}

impl Field for Bytes {
    fn write_field(&self, buf: &mut BytesMut) {
        buf.put_jute_buffer(Some(self));
    }
    fn read_field(r: &mut Reader) -> Result<Self, DecodeError> {
        r.read_bytes()
    }
}

impl Field for Option<Bytes> {
    fn write_field(&self, buf: &mut BytesMut) {
        buf.put_jute_buffer(self.as_deref());
    }
    fn read_field(r: &mut Reader) -> Result<Self, DecodeError> {
        r.read_buffer()
    }
}

impl Field for Option<String> {
    fn write_field(&self, buf: &mut BytesMut) {
        buf.put_jute_opt_string(self.as_deref());
    }
    fn read_field(r: &mut Reader) -> Result<Self, DecodeError> {
        r.read_opt_string()
    }
}

impl<T: Record> Field for Vec<T> {
    fn write_field(&self, buf: &mut BytesMut) {
        buf.put_jute_vec(self);
    }
    fn read_field(r: &mut Reader) -> Result<Self, DecodeError> {
        r.read_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn primitives_round_trip() {
        let mut b = BytesMut::new();
        b.put_i32(-7);
        b.put_i64(1 << 40);
        b.put_jute_bool(true);
        b.put_jute_buffer(None);
        b.put_jute_buffer(Some(b"xy"));
        b.put_jute_string("héllo");
        b.put_jute_opt_string(None);
        b.put_jute_vec(&["a".to_string(), "b".to_string()]);
        let mut r = Reader::new(b.freeze());
        assert_eq!(r.read_i32().unwrap(), -7);
        assert_eq!(r.read_i64().unwrap(), 1 << 40);
        assert!(r.read_bool().unwrap());
        assert_eq!(r.read_buffer().unwrap(), None);
        assert_eq!(r.read_buffer().unwrap().unwrap(), Bytes::from_static(b"xy"));
        assert_eq!(r.read_string().unwrap(), "héllo");
        assert_eq!(r.read_opt_string().unwrap(), None);
        assert_eq!(r.read_vec::<String>().unwrap(), vec!["a", "b"]);
        r.finish().unwrap();
    }

    #[test]
    fn java_lenient_reading() {
        let mut b = BytesMut::new();
        b.put_jute_buffer(Some(b"/\xff\xfe"));
        b.put_i32(-3);
        b.put_i32(-1);
        b.put_jute_opt_string(None);
        let bytes = b.freeze();
        let mut strict = Reader::new(bytes.clone());
        assert_eq!(strict.read_string(), Err(DecodeError::InvalidUtf8));
        assert!(strict.read_vec::<String>().is_err());
        let mut r = Reader::new(bytes.clone()).java_lenient();
        assert_eq!(r.read_string().unwrap(), "/\u{fffd}\u{fffd}");
        assert_eq!(r.read_opt_vec::<String>().unwrap(), Some(vec![]));
        assert_eq!(r.read_opt_vec::<String>().unwrap(), None);
        assert_eq!(r.read_string().unwrap(), "", "null reads as empty");
        let mut r = Reader::new(bytes.slice(15..))
            .java_lenient()
            .refuse_null_strings();
        assert_eq!(r.read_string(), Err(DecodeError::Invalid("null string")));
    }

    #[test]
    fn encoding_is_big_endian_with_length_prefixes() {
        let mut b = BytesMut::new();
        b.put_jute_string("ab");
        b.put_jute_buffer(None);
        b.put_jute_bool(false);
        assert_eq!(&b[..], &[0, 0, 0, 2, b'a', b'b', 0xff, 0xff, 0xff, 0xff, 0]);
    }

    #[test]
    fn malformed_input_is_an_error() {
        let mut r = Reader::new(Bytes::from_static(&[0, 0, 0]));
        assert!(matches!(r.read_i32(), Err(DecodeError::Truncated { .. })));
        let mut r = Reader::new(Bytes::from_static(&[0xff, 0xff, 0xff, 0xfe]));
        assert!(matches!(
            r.read_buffer(),
            Err(DecodeError::BadLength { .. })
        ));
        let mut r = Reader::new(Bytes::from_static(&[0, 0, 0, 9, 1]));
        assert!(matches!(
            r.read_buffer(),
            Err(DecodeError::Truncated { .. })
        ));
        let mut r = Reader::with_limit(Bytes::from_static(&[0, 0, 0, 9]), 4);
        assert!(matches!(
            r.read_buffer(),
            Err(DecodeError::BadLength { .. })
        ));
        let mut r = Reader::new(Bytes::from_static(&[0, 0, 0, 1, 0xff]));
        assert_eq!(r.read_string(), Err(DecodeError::InvalidUtf8));
        // A vector claiming far more items than bytes left must not allocate.
        let mut r = Reader::new(Bytes::from_static(&[0x7f, 0xff, 0xff, 0xff]));
        assert!(r.read_vec::<i64>().is_err());
        let r = Reader::new(Bytes::from_static(&[1]));
        assert_eq!(r.finish(), Err(DecodeError::TrailingBytes(1)));
    }
}
