//! The files of a data directory: log segments, snapshots, epochs.

use crate::storage::files::{read_epochs, read_segment, read_snapshot, write_segment, SegmentTail};
use crate::storage::LogEntry;
use bytes::Bytes;

/// The first byte picks the mode. Raw modes decode the rest as a file. The
/// structured mode builds a valid segment (checksums included) from the
/// input, then damages it where the input says, so the checks behind the
/// checksums are reached too: whatever the damage, every record read back
/// is one that was written, and an undamaged file reads back whole.
pub fn storage_files(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    match mode % 4 {
        0 => {
            let _ = read_segment(rest);
        }
        1 => {
            let _ = read_snapshot(&Bytes::copy_from_slice(rest));
        }
        2 => {
            let _ = read_epochs(rest);
        }
        _ => structured(rest),
    }
}

fn structured(data: &[u8]) {
    // Entries from (zxid step, payload length) pairs, then damage.
    let (spec, damage) = data.split_at(data.len().min(32));
    let mut zxid = 0i64;
    let entries: Vec<LogEntry> = spec
        .chunks(2)
        .map(|c| {
            zxid += i64::from(c[0] % 7) + 1;
            let len = usize::from(c.get(1).copied().unwrap_or(0) % 40);
            LogEntry {
                zxid,
                payload: Bytes::from(vec![c[0]; len]),
            }
        })
        .collect();
    let batches: Vec<usize> = spec.iter().map(|b| usize::from(b % 3) + 1).collect();
    let mut file = write_segment(0, &entries, &batches);
    match read_segment(&file) {
        Some(clean) => {
            assert_eq!(clean.entries, entries, "a written segment reads back");
            assert_eq!(clean.tail, SegmentTail::Clean);
        }
        None => panic!("a written segment has an unreadable header"),
    }
    for pair in damage.chunks(2) {
        if file.is_empty() {
            break;
        }
        let at = usize::from(pair[0]) * 7 % file.len();
        match pair.get(1) {
            Some(0) => file.truncate(at),
            Some(x) => file[at] ^= x,
            None => {}
        }
    }
    if let Some(seg) = read_segment(&file) {
        assert!(seg.valid_len <= file.len());
        for e in &seg.entries {
            assert!(
                entries.contains(e),
                "a damaged file produced an entry never written"
            );
        }
    }
}
