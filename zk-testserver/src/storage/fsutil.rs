//! Small file-system helpers for durable writes.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::Path;

/// Makes the entries of directory `dir` (creations, renames, removals) durable.
#[cfg(unix)]
pub(crate) fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Directories cannot be opened for syncing on this platform; renames are
/// assumed durable once they return.
#[cfg(not(unix))]
pub(crate) fn sync_dir(_dir: &Path) -> io::Result<()> {
    Ok(())
}

/// Replaces `dir/name` with what `write` writes, atomically: write `dir/name.tmp`, sync it,
/// rename it over `dir/name`, sync `dir`. A crash leaves either the old file or
/// the new one (plus possibly a stray `.tmp`, which readers ignore). With
/// `fsync` off the syncs are skipped and only atomicity against a process crash
/// remains.
pub(crate) fn write_atomic(
    dir: &Path,
    name: &str,
    fsync: bool,
    write: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> io::Result<()> {
    let tmp = dir.join(format!("{name}.tmp"));
    {
        let mut file = File::create(&tmp)?;
        write(&mut file)?;
        if fsync {
            file.sync_all()?;
        }
    }
    fs::rename(&tmp, dir.join(name))?;
    if fsync {
        sync_dir(dir)?;
    }
    Ok(())
}

/// Removes a file; one already gone is not an error.
pub(crate) fn remove_file(path: &Path) -> io::Result<()> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// `InvalidData` error for damaged storage, naming the file.
pub(crate) fn invalid_data(path: &Path, what: impl std::fmt::Display) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("{}: {what}", path.display()),
    )
}
