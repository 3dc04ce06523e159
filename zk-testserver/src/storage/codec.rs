//! Byte layouts of the files [`DirStorage`](super::DirStorage) writes, and the
//! scanner that reads a log segment back and classifies a damaged tail.
//!
//! Every integer is big-endian. Every layout carries a CRC-32C (see
//! [`super::crc32c`]); the full description of the directory is in the docs of
//! [`super::dir`].
//!
//! Nothing here touches the file system: encoders fill buffers (a snapshot
//! file is streamed into a writer the caller opened), decoders take the bytes
//! of a whole file and never panic on any input.

use std::io::{self, Write};
use std::ops::Range;

use bytes::Bytes;

use super::crc32c::{crc32c, Crc32c};
use super::{Epochs, LogEntry, Snapshot, Zxid};

/// Magic at the start of a log segment (`zk-testserver` log, format 1).
const SEGMENT_MAGIC: [u8; 8] = *b"ZKTSLOG1";
/// Magic at the start of a snapshot file.
const SNAPSHOT_MAGIC: [u8; 8] = *b"ZKTSSNP1";
/// Magic at the start of the epochs file.
const EPOCHS_MAGIC: [u8; 8] = *b"ZKTSEPO1";

/// Segment header: magic (8), `prev_zxid` (8), CRC-32C of the first 16 bytes (4).
pub(crate) const SEGMENT_HEADER_LEN: usize = 20;
/// Record header: CRC (4), payload length (4), zxid (8), batch start offset (8).
pub(crate) const RECORD_HEADER_LEN: usize = 24;
/// Snapshot header: magic (8), zxid (8), data length (8); a 4-byte CRC trails the data.
const SNAPSHOT_HEADER_LEN: usize = 24;
/// Epochs file: magic (8), accepted (4), current (4), CRC (4).
pub(crate) const EPOCHS_LEN: usize = 20;

/// Largest payload a record can frame (its length field is a `u32`).
pub(crate) const MAX_PAYLOAD: usize = u32::MAX as usize;

fn be_u32(buf: &[u8], at: usize) -> Option<u32> {
    let bytes = buf.get(at..at.checked_add(4)?)?;
    Some(u32::from_be_bytes(bytes.try_into().ok()?))
}

fn be_u64(buf: &[u8], at: usize) -> Option<u64> {
    let bytes = buf.get(at..at.checked_add(8)?)?;
    Some(u64::from_be_bytes(bytes.try_into().ok()?))
}

fn be_i64(buf: &[u8], at: usize) -> Option<i64> {
    be_u64(buf, at).map(|v| v as i64)
}

// ---------------------------------------------------------------------------
// File names
// ---------------------------------------------------------------------------

/// Name of the log segment whose first record has zxid `first`.
pub(crate) fn segment_name(first: Zxid) -> String {
    format!("log.{:016x}", first as u64)
}

/// Name of the snapshot of the tree as of `zxid`.
pub(crate) fn snapshot_name(zxid: Zxid) -> String {
    format!("snap.{:016x}", zxid as u64)
}

/// Name of generation directory `n`.
pub(crate) fn generation_name(n: u64) -> String {
    format!("gen.{n:016x}")
}

/// Parses `<prefix>.<16 hex digits>`; anything else (a `.tmp` or `.corrupt`
/// suffix included) is `None`.
pub(crate) fn parse_name(name: &str, prefix: &str) -> Option<u64> {
    let hex = name.strip_prefix(prefix)?.strip_prefix('.')?;
    if hex.len() != 16 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u64::from_str_radix(hex, 16).ok()
}

// ---------------------------------------------------------------------------
// Log segments
// ---------------------------------------------------------------------------

/// The header of a segment whose first record follows the record `prev` (or the
/// snapshot / empty state at `prev` when no record precedes it).
pub(crate) fn encode_segment_header(prev: Zxid) -> [u8; SEGMENT_HEADER_LEN] {
    let mut out = [0u8; SEGMENT_HEADER_LEN];
    out[..8].copy_from_slice(&SEGMENT_MAGIC);
    out[8..16].copy_from_slice(&prev.to_be_bytes());
    let crc = crc32c(&out[..16]);
    out[16..].copy_from_slice(&crc.to_be_bytes());
    out
}

/// `prev_zxid` of a segment, or `None` if the header is short or damaged.
fn decode_segment_header(buf: &[u8]) -> Option<Zxid> {
    let header = buf.get(..SEGMENT_HEADER_LEN)?;
    if header[..8] != SEGMENT_MAGIC || be_u32(header, 16)? != crc32c(&header[..16]) {
        return None;
    }
    be_i64(header, 8)
}

/// Appends the framed record for `entry` to `out`. `batch_start` is the file
/// offset of the first record written by the same flush.
///
/// The caller has checked `entry.payload.len() <= MAX_PAYLOAD`.
pub(crate) fn encode_record(out: &mut Vec<u8>, entry: &LogEntry, batch_start: u64) {
    let len = u32::try_from(entry.payload.len()).unwrap_or(u32::MAX);
    let mut header = [0u8; RECORD_HEADER_LEN];
    header[4..8].copy_from_slice(&len.to_be_bytes());
    header[8..16].copy_from_slice(&entry.zxid.to_be_bytes());
    header[16..24].copy_from_slice(&batch_start.to_be_bytes());
    let crc = Crc32c::new()
        .update(&header[4..])
        .update(&entry.payload)
        .finish();
    header[..4].copy_from_slice(&crc.to_be_bytes());
    out.extend_from_slice(&header);
    out.extend_from_slice(&entry.payload);
}

/// One intact record found by [`decode_record`].
struct RawRecord {
    zxid: Zxid,
    payload: Range<usize>,
    end: usize,
}

/// Decodes the record at `off`, which must have a zxid above `after`.
fn decode_record(buf: &[u8], off: usize, after: Zxid) -> Result<RawRecord, &'static str> {
    let header = off
        .checked_add(RECORD_HEADER_LEN)
        .and_then(|end| buf.get(off..end))
        .ok_or("partial record header")?;
    let crc = be_u32(header, 0).ok_or("partial record header")?;
    let len = be_u32(header, 4).ok_or("partial record header")? as usize;
    let zxid = be_i64(header, 8).ok_or("partial record header")?;
    let batch_start = be_u64(header, 16).ok_or("partial record header")?;
    let start = off + RECORD_HEADER_LEN;
    let end = start
        .checked_add(len)
        .filter(|&end| end <= buf.len())
        .ok_or("partial record payload")?;
    let actual = Crc32c::new()
        .update(&header[4..])
        .update(&buf[start..end])
        .finish();
    if actual != crc {
        return Err("record checksum mismatch");
    }
    if batch_start > off as u64 || batch_start < SEGMENT_HEADER_LEN as u64 {
        return Err("record batch offset out of range");
    }
    if zxid <= after {
        return Err("record zxid not increasing");
    }
    Ok(RawRecord {
        zxid,
        payload: start..end,
        end,
    })
}

/// Whether some intact record after offset `off` was written by a later flush
/// than the one that wrote offset `off`, i.e. whether its batch started after
/// `off`.
///
/// A flush only starts after the previous one has been made durable, so such a
/// record proves that whatever sits at `off` had been acknowledged: damage there
/// is corruption, not a torn write.
fn later_flush_after(buf: &[u8], off: usize, after: Zxid) -> bool {
    let last = match buf.len().checked_sub(RECORD_HEADER_LEN) {
        Some(last) => last,
        None => return false,
    };
    (off + 1..=last).any(|p| {
        // Cheap filter first: a record of a later batch names a batch start in (off, p].
        matches!(be_u64(buf, p + 16), Some(bs) if bs > off as u64 && bs <= p as u64)
            && decode_record(buf, p, after).is_ok()
    })
}

/// How a segment ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tail {
    /// Every byte belongs to an intact record.
    Clean,
    /// The bytes from `offset` on are the remains of a flush that never
    /// completed: safe to cut off.
    Torn {
        /// Where the first damaged record starts.
        offset: usize,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The record at `offset` is damaged but a later flush wrote intact records
    /// after it: acknowledged data is damaged.
    Corrupt {
        /// Where the damaged record starts.
        offset: usize,
        /// What is wrong with it.
        reason: &'static str,
    },
}

/// The readable part of one segment.
#[derive(Debug)]
pub(crate) struct ScannedSegment {
    /// `prev_zxid` from the header.
    pub(crate) prev: Zxid,
    /// Intact records in order: zxid and payload position in the buffer.
    pub(crate) records: Vec<(Zxid, Range<usize>)>,
    /// Length of the intact prefix (header plus intact records).
    pub(crate) valid_len: usize,
    /// What follows the intact prefix.
    pub(crate) tail: Tail,
}

impl ScannedSegment {
    /// Zxid of the last intact record, or `prev` when there is none.
    pub(crate) fn last_zxid(&self) -> Zxid {
        self.records.last().map_or(self.prev, |r| r.0)
    }
}

/// A segment whose header is unreadable.
#[derive(Debug)]
pub(crate) struct BadHeader {
    /// Whether intact records follow anyway (the header was then durable once,
    /// since a segment's header is synced before its first record is written).
    pub(crate) records_follow: bool,
}

/// Reads a whole segment file.
pub(crate) fn scan_segment(buf: &[u8]) -> Result<ScannedSegment, BadHeader> {
    let prev = decode_segment_header(buf).ok_or_else(|| BadHeader {
        records_follow: later_flush_after(buf, 0, Zxid::MIN),
    })?;
    let mut records = Vec::new();
    let mut off = SEGMENT_HEADER_LEN;
    let mut last = prev;
    let tail = loop {
        if off == buf.len() {
            break Tail::Clean;
        }
        match decode_record(buf, off, last) {
            Ok(rec) => {
                records.push((rec.zxid, rec.payload));
                last = rec.zxid;
                off = rec.end;
            }
            Err(reason) if later_flush_after(buf, off, last) => {
                break Tail::Corrupt {
                    offset: off,
                    reason,
                }
            }
            Err(reason) => {
                break Tail::Torn {
                    offset: off,
                    reason,
                }
            }
        }
    };
    Ok(ScannedSegment {
        prev,
        records,
        valid_len: off,
        tail,
    })
}

// ---------------------------------------------------------------------------
// Snapshots
// ---------------------------------------------------------------------------

/// Writes the snapshot file for `snapshot` to `out`: header, the snapshot's
/// encoding, trailer. The encoding is streamed (an image is encoded piece by
/// piece, see [`SnapshotData::write_encoded`](super::SnapshotData::write_encoded))
/// with the checksum kept as it goes, so a snapshot of a large tree never
/// needs a second copy in memory.
pub(crate) fn write_snapshot_file(out: &mut dyn Write, snapshot: &Snapshot) -> io::Result<()> {
    let len = snapshot.data.encoded_len();
    let mut header = [0u8; SNAPSHOT_HEADER_LEN];
    header[..8].copy_from_slice(&SNAPSHOT_MAGIC);
    header[8..16].copy_from_slice(&snapshot.zxid.to_be_bytes());
    header[16..].copy_from_slice(&(len as u64).to_be_bytes());
    out.write_all(&header)?;
    let mut crc = Crc32c::new().update(&header);
    let mut written = 0;
    snapshot.data.write_encoded(&mut |piece| {
        crc = crc.update(piece);
        written += piece.len();
        out.write_all(piece)
    })?;
    if written != len {
        return Err(io::Error::other(format!(
            "snapshot encoding is {written} bytes, announced {len}"
        )));
    }
    out.write_all(&crc.finish().to_be_bytes())
}

/// The whole snapshot file for `snapshot`, in one buffer.
pub(crate) fn encode_snapshot(snapshot: &Snapshot) -> Vec<u8> {
    let mut out = Vec::with_capacity(SNAPSHOT_HEADER_LEN + snapshot.data.encoded_len() + 4);
    write_snapshot_file(&mut out, snapshot)
        .expect("a Vec takes every write, and an encoding has the length it announces");
    out
}

/// Decodes a snapshot file; the data is a slice of `buf`, not a copy.
pub(crate) fn decode_snapshot(buf: &Bytes) -> Result<Snapshot, &'static str> {
    if buf.len() < SNAPSHOT_HEADER_LEN + 4 || buf[..8] != SNAPSHOT_MAGIC {
        return Err("bad snapshot header");
    }
    let zxid = be_i64(buf, 8).ok_or("bad snapshot header")?;
    let len = be_u64(buf, 16).ok_or("bad snapshot header")?;
    let body_end = buf.len() - 4;
    if len != (body_end - SNAPSHOT_HEADER_LEN) as u64 {
        return Err("snapshot length does not match the file");
    }
    let stored = be_u32(buf, body_end).ok_or("bad snapshot trailer")?;
    if crc32c(&buf[..body_end]) != stored {
        return Err("snapshot checksum mismatch");
    }
    Ok(Snapshot {
        zxid,
        data: buf.slice(SNAPSHOT_HEADER_LEN..body_end).into(),
    })
}

// ---------------------------------------------------------------------------
// Epochs
// ---------------------------------------------------------------------------

/// The whole epochs file.
pub(crate) fn encode_epochs(epochs: Epochs) -> [u8; EPOCHS_LEN] {
    let mut out = [0u8; EPOCHS_LEN];
    out[..8].copy_from_slice(&EPOCHS_MAGIC);
    out[8..12].copy_from_slice(&epochs.accepted.to_be_bytes());
    out[12..16].copy_from_slice(&epochs.current.to_be_bytes());
    let crc = crc32c(&out[..16]);
    out[16..].copy_from_slice(&crc.to_be_bytes());
    out
}

/// Magic at the start of a generation's `head` file.
const HEAD_MAGIC: [u8; 8] = *b"ZKTSHED1";
/// Length of the `head` file.
pub(crate) const HEAD_LEN: usize = 20;

/// The `head` file: the first zxid of the newest log segment (0: none).
pub(crate) fn encode_head(newest_segment: Zxid) -> [u8; HEAD_LEN] {
    let mut out = [0u8; HEAD_LEN];
    out[..8].copy_from_slice(&HEAD_MAGIC);
    out[8..16].copy_from_slice(&newest_segment.to_be_bytes());
    let crc = crc32c(&out[..16]);
    out[16..].copy_from_slice(&crc.to_be_bytes());
    out
}

/// Decodes the `head` file.
pub(crate) fn decode_head(buf: &[u8]) -> Result<Zxid, &'static str> {
    if buf.len() != HEAD_LEN || buf[..8] != HEAD_MAGIC {
        return Err("bad head file");
    }
    if be_u32(buf, 16) != Some(crc32c(&buf[..16])) {
        return Err("head checksum mismatch");
    }
    let mut z = [0u8; 8];
    z.copy_from_slice(&buf[8..16]);
    Ok(Zxid::from_be_bytes(z))
}

/// Decodes the epochs file.
pub(crate) fn decode_epochs(buf: &[u8]) -> Result<Epochs, &'static str> {
    if buf.len() != EPOCHS_LEN || buf[..8] != EPOCHS_MAGIC {
        return Err("bad epochs header");
    }
    if be_u32(buf, 16) != Some(crc32c(&buf[..16])) {
        return Err("epochs checksum mismatch");
    }
    Ok(Epochs {
        accepted: be_u32(buf, 8).ok_or("bad epochs file")?,
        current: be_u32(buf, 12).ok_or("bad epochs file")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(zxid: Zxid, payload: &'static [u8]) -> LogEntry {
        LogEntry {
            zxid,
            payload: Bytes::from_static(payload),
        }
    }

    #[test]
    fn head_round_trip_and_damage() {
        let b = encode_head(0x1_0000_0005);
        assert_eq!(decode_head(&b), Ok(0x1_0000_0005));
        let mut bad = b;
        bad[10] ^= 1;
        assert!(decode_head(&bad).is_err());
        assert!(decode_head(&b[..10]).is_err());
    }

    /// A segment with one flush per element of `batches`.
    fn segment(prev: Zxid, batches: &[&[LogEntry]]) -> Vec<u8> {
        let mut buf = encode_segment_header(prev).to_vec();
        for batch in batches {
            let start = buf.len() as u64;
            for e in *batch {
                encode_record(&mut buf, e, start);
            }
        }
        buf
    }

    #[test]
    fn names_round_trip() {
        assert_eq!(segment_name(0x1_0000_0002), "log.0000000100000002");
        assert_eq!(
            parse_name("log.0000000100000002", "log"),
            Some(0x1_0000_0002)
        );
        assert_eq!(parse_name(&snapshot_name(-1), "snap"), Some(u64::MAX));
        assert_eq!(parse_name("log.0000000100000002.tmp", "log"), None);
        assert_eq!(parse_name("log.+000000100000002", "log"), None);
        assert_eq!(parse_name("snap.0000000100000002", "log"), None);
        assert_eq!(parse_name("logs.0000000100000002", "log"), None);
    }

    #[test]
    fn segment_round_trip() {
        let a = [entry(5, b"a"), entry(6, b"")];
        let b = [entry(9, b"ccc")];
        let buf = segment(4, &[&a, &b]);
        let scan = scan_segment(&buf).unwrap();
        assert_eq!(scan.prev, 4);
        assert_eq!(scan.tail, Tail::Clean);
        assert_eq!(scan.valid_len, buf.len());
        let zxids: Vec<_> = scan.records.iter().map(|r| r.0).collect();
        assert_eq!(zxids, [5, 6, 9]);
        assert_eq!(&buf[scan.records[2].1.clone()], b"ccc");
        assert_eq!(scan.last_zxid(), 9);
    }

    #[test]
    fn damage_in_the_last_flush_is_torn_even_with_intact_records_after_it() {
        // One flush of three records; the middle one is damaged. The flush may
        // never have completed, so nothing after the damage was acknowledged.
        let batch = [entry(1, b"one"), entry(2, b"two"), entry(3, b"three")];
        let mut buf = segment(0, &[&batch]);
        let second = SEGMENT_HEADER_LEN + RECORD_HEADER_LEN + 3;
        buf[second + RECORD_HEADER_LEN] ^= 0x40;
        let scan = scan_segment(&buf).unwrap();
        assert_eq!(scan.records.len(), 1);
        assert!(matches!(scan.tail, Tail::Torn { offset, .. } if offset == second));
    }

    #[test]
    fn damage_before_a_later_flush_is_corruption() {
        let mut buf = segment(
            0,
            &[&[entry(1, b"one"), entry(2, b"two")], &[entry(3, b"x")]],
        );
        let second = SEGMENT_HEADER_LEN + RECORD_HEADER_LEN + 3;
        for i in second..second + RECORD_HEADER_LEN + 3 {
            buf[i] ^= 0x01;
            let scan = scan_segment(&buf).unwrap();
            assert!(
                matches!(scan.tail, Tail::Corrupt { offset, .. } if offset == second),
                "byte {i}: {:?}",
                scan.tail
            );
            buf[i] ^= 0x01;
        }
    }

    #[test]
    fn non_increasing_zxid_is_damage() {
        let buf = segment(0, &[&[entry(1, b"a"), entry(1, b"b")]]);
        let scan = scan_segment(&buf).unwrap();
        assert_eq!(scan.records.len(), 1);
        assert!(matches!(scan.tail, Tail::Torn { reason, .. } if reason.contains("zxid")));
        // A first record at or below prev_zxid is damage too.
        let buf = segment(7, &[&[entry(7, b"a")]]);
        assert!(scan_segment(&buf).unwrap().records.is_empty());
    }

    #[test]
    fn bad_header() {
        assert!(!scan_segment(&[]).unwrap_err().records_follow);
        let mut buf = segment(0, &[]);
        buf[3] ^= 1;
        assert!(!scan_segment(&buf).unwrap_err().records_follow);
        let mut buf = segment(0, &[&[entry(1, b"a")]]);
        buf[3] ^= 1;
        assert!(scan_segment(&buf).unwrap_err().records_follow);
    }

    #[test]
    fn garbage_never_panics() {
        let mut buf = segment(0, &[&[entry(1, b"abc"), entry(2, b"defg")]]);
        for cut in 0..buf.len() {
            let _ = scan_segment(&buf[..cut]);
        }
        for i in 0..buf.len() {
            buf[i] = 0xFF;
            let _ = scan_segment(&buf);
        }
    }

    #[test]
    fn snapshot_round_trip_and_damage() {
        let snap = Snapshot {
            zxid: 42,
            data: Bytes::from_static(b"tree").into(),
        };
        let file = encode_snapshot(&snap);
        assert_eq!(decode_snapshot(&Bytes::from(file.clone())).unwrap(), snap);
        for i in 0..file.len() {
            let mut bad = file.clone();
            bad[i] ^= 0x10;
            assert!(decode_snapshot(&Bytes::from(bad)).is_err(), "byte {i}");
            assert!(decode_snapshot(&Bytes::copy_from_slice(&file[..i])).is_err());
        }
    }

    #[test]
    fn epochs_round_trip_and_damage() {
        let e = Epochs {
            accepted: 7,
            current: 6,
        };
        let file = encode_epochs(e);
        assert_eq!(decode_epochs(&file).unwrap(), e);
        for i in 0..file.len() {
            let mut bad = file;
            bad[i] ^= 0x10;
            assert!(decode_epochs(&bad).is_err());
            assert!(decode_epochs(&file[..i]).is_err());
        }
    }
}
