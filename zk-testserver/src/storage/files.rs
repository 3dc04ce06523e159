//! The files of a [`DirStorage`](super::DirStorage) directory, read and
//! written one at a time: for tools that inspect a data directory and for
//! the fuzz targets of the decoders. The formats are described in
//! [`super::dir`].

use super::codec;
use super::{Epochs, LogEntry, Snapshot, Zxid};
use bytes::Bytes;

/// What a log segment file holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    /// The zxid the segment's first record follows.
    pub prev: Zxid,
    /// The intact records, in order.
    pub entries: Vec<LogEntry>,
    /// Length of the intact prefix (header and intact records).
    pub valid_len: usize,
    /// What follows the intact prefix.
    pub tail: SegmentTail,
}

/// How a segment file ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SegmentTail {
    /// Every byte belongs to an intact record.
    Clean,
    /// The rest is the remains of a flush that never completed.
    Torn,
    /// A damaged record precedes records of a later flush: acknowledged data
    /// is damaged.
    Corrupt,
}

/// Reads a log segment file; `None` if its header is unreadable.
pub fn read_segment(buf: &[u8]) -> Option<Segment> {
    let scanned = codec::scan_segment(buf).ok()?;
    let entries = scanned
        .records
        .iter()
        .map(|(zxid, range)| LogEntry {
            zxid: *zxid,
            payload: Bytes::copy_from_slice(&buf[range.clone()]),
        })
        .collect();
    Some(Segment {
        prev: scanned.prev,
        entries,
        valid_len: scanned.valid_len,
        tail: match scanned.tail {
            codec::Tail::Clean => SegmentTail::Clean,
            codec::Tail::Torn { .. } => SegmentTail::Torn,
            codec::Tail::Corrupt { .. } => SegmentTail::Corrupt,
        },
    })
}

/// A segment file following `prev`, its records written by flushes of the
/// given sizes (entries beyond the batches form one last batch).
pub fn write_segment(prev: Zxid, entries: &[LogEntry], batches: &[usize]) -> Vec<u8> {
    let mut out = codec::encode_segment_header(prev).to_vec();
    let mut sizes = batches.iter().copied();
    let mut left_in_batch = 0usize;
    let mut batch_start = out.len() as u64;
    for e in entries {
        if left_in_batch == 0 {
            left_in_batch = sizes.next().unwrap_or(usize::MAX).max(1);
            batch_start = out.len() as u64;
        }
        codec::encode_record(&mut out, e, batch_start);
        left_in_batch -= 1;
    }
    out
}

/// Reads a snapshot file.
pub fn read_snapshot(buf: &Bytes) -> Result<Snapshot, &'static str> {
    codec::decode_snapshot(buf)
}

/// A snapshot file.
pub fn write_snapshot(snapshot: &Snapshot) -> Vec<u8> {
    codec::encode_snapshot(snapshot)
}

/// Reads the epochs file.
pub fn read_epochs(buf: &[u8]) -> Result<Epochs, &'static str> {
    codec::decode_epochs(buf)
}

/// The epochs file.
pub fn write_epochs(epochs: Epochs) -> Vec<u8> {
    codec::encode_epochs(epochs).to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_round_trip_and_damage_is_reported() {
        let entries: Vec<LogEntry> = (1..=5)
            .map(|z| LogEntry {
                zxid: z,
                payload: Bytes::from(vec![z as u8; z as usize]),
            })
            .collect();
        let seg = write_segment(0, &entries, &[2, 2]);
        let read = read_segment(&seg).expect("header");
        assert_eq!((read.prev, read.tail), (0, SegmentTail::Clean));
        assert_eq!(read.entries, entries);
        // A flipped byte in the second batch (records 3 and 4), followed by
        // the third batch: corrupt. Record 3 starts after the 20-byte header
        // and records 1 and 2 (24-byte headers, payloads of 1 and 2 bytes).
        let mut bad = seg.clone();
        bad[20 + 25 + 26 + 1] ^= 0xff;
        assert_eq!(
            read_segment(&bad).expect("header").tail,
            SegmentTail::Corrupt
        );
        // A cut in the last batch: torn.
        let cut = &seg[..seg.len() - 2];
        let torn = read_segment(cut).expect("header");
        assert_eq!((torn.tail, torn.entries.len()), (SegmentTail::Torn, 4));
        assert!(read_segment(&seg[..10]).is_none());
        let snap = Snapshot {
            zxid: 9,
            data: Bytes::from_static(b"tree").into(),
        };
        assert_eq!(read_snapshot(&Bytes::from(write_snapshot(&snap))), Ok(snap));
        let e = Epochs {
            accepted: 3,
            current: 2,
        };
        assert_eq!(read_epochs(&write_epochs(e)), Ok(e));
        assert!(read_epochs(&[0; 3]).is_err());
    }
}
