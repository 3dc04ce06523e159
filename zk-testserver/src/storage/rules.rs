//! Argument checks shared by both backends, so that they accept and refuse
//! exactly the same calls (the agreement test depends on it).
//!
//! A refused call changes nothing and returns [`io::ErrorKind::InvalidInput`].

use std::io;

use super::codec::MAX_PAYLOAD;
use super::{LogEntry, Zxid};

fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, msg)
}

/// `append`: zxids strictly increase from `last` (the tail of the log, or the
/// newest snapshot's zxid, or 0), payloads fit a record.
pub(crate) fn check_append(last: Zxid, entries: &[LogEntry]) -> io::Result<()> {
    let mut prev = last;
    for e in entries {
        if e.zxid <= prev {
            return Err(invalid(format!(
                "append: zxid {:#x} does not follow {:#x}",
                e.zxid, prev
            )));
        }
        if e.payload.len() > MAX_PAYLOAD {
            return Err(invalid(format!(
                "append: payload of {:#x} is {} bytes, more than {MAX_PAYLOAD}",
                e.zxid,
                e.payload.len()
            )));
        }
        prev = e.zxid;
    }
    Ok(())
}

/// `truncate_after`: a snapshot cannot be un-applied, so the cut must not fall
/// below the newest snapshot.
pub(crate) fn check_truncate(zxid: Zxid, newest_snapshot: Option<Zxid>) -> io::Result<()> {
    match newest_snapshot {
        Some(s) if zxid < s => Err(invalid(format!(
            "truncate_after({zxid:#x}): below the newest snapshot {s:#x}; a SNAP sync is needed"
        ))),
        _ => Ok(()),
    }
}

/// `save_snapshot`: not older than the newest snapshot and not beyond what was
/// logged (`last`, unflushed appends included).
pub(crate) fn check_save_snapshot(
    zxid: Zxid,
    newest_snapshot: Option<Zxid>,
    last: Zxid,
) -> io::Result<()> {
    if zxid < 0 {
        return Err(invalid(format!("save_snapshot: negative zxid {zxid:#x}")));
    }
    if let Some(s) = newest_snapshot.filter(|&s| zxid < s) {
        return Err(invalid(format!(
            "save_snapshot({zxid:#x}): older than the newest snapshot {s:#x}"
        )));
    }
    if zxid > last {
        return Err(invalid(format!(
            "save_snapshot({zxid:#x}): beyond the last logged zxid {last:#x}"
        )));
    }
    Ok(())
}

/// `install_snapshot`: any non-negative zxid.
pub(crate) fn check_install_snapshot(zxid: Zxid) -> io::Result<()> {
    if zxid < 0 {
        return Err(invalid(format!(
            "install_snapshot: negative zxid {zxid:#x}"
        )));
    }
    Ok(())
}
