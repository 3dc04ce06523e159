//! [`DirStorage`]: a member's state in a directory — a segmented transaction
//! log with group commit, checksummed snapshots, and the epochs.
//!
//! # On-disk format
//!
//! ```text
//! <dir>/
//!   epochs                  the two epochs (replaced atomically)
//!   gen.<n>/                the current generation: one self-contained history
//!     snap.<zxid>           snapshot of the tree as of <zxid> (newest few kept)
//!     log.<zxid>            log segment whose first record has <zxid>
//!     head                  names the newest log segment (replaced atomically)
//!   gen.<n+1>.tmp/          an install_snapshot in progress (discarded on open)
//!   *.tmp                   a file being replaced (discarded on open)
//!   gen.<n>/snap.<zxid>.corrupt   a damaged snapshot set aside by recovery
//! ```
//!
//! `<zxid>` and `<n>` are 16 lower-case hex digits (the zxid's bits as `u64`).
//! All integers below are big-endian; every checksum is CRC-32C.
//!
//! | file | layout |
//! |---|---|
//! | `epochs` | `"ZKTSEPO1"` · accepted `u32` · current `u32` · crc `u32` of the 16 bytes before |
//! | `snap.*` | `"ZKTSSNP1"` · zxid `i64` · length `u64` · data · crc `u32` of everything before |
//! | `log.*` header | `"ZKTSLOG1"` · prev_zxid `i64` · crc `u32` of the 16 bytes before |
//! | `log.*` record | crc `u32` · length `u32` · zxid `i64` · batch `u64` · payload |
//! | `head` | `"ZKTSHED1"` · first zxid of the newest segment `i64` (0: none) · crc `u32` |
//!
//! - A record's crc covers everything after the crc field (length, zxid, batch,
//!   payload). `batch` is the file offset of the first record written by the
//!   same flush. Zxids strictly increase within a segment and across segments.
//! - A segment's `prev_zxid` is the zxid of the record just before its first
//!   record (the last record of the previous segment), or, for the first segment
//!   of a history, the zxid of the snapshot (or 0) the log continues from. The
//!   log after zxid `p` is complete exactly when its segments chain from one
//!   whose `prev_zxid <= p`.
//! - A generation is a whole history. `install_snapshot` builds the next one
//!   beside it and switches by renaming its directory.
//!
//! # Writing
//!
//! [`Storage::append`] only buffers entries in memory. [`Storage::flush`]
//! encodes the whole buffer as one batch, writes it to the last segment with a
//! single `write`, and syncs the file once (group commit). A batch never spans
//! two segments: when the last segment has reached
//! [`DirOptions::segment_size`], the next flush starts a new one, first writing
//! and syncing its header and the directory entry.
//!
//! `save_snapshot` flushes the log, writes `snap.<zxid>.tmp`, syncs it, renames
//! it into place and syncs the directory. Then it deletes all but the newest
//! [`DirOptions::snapshots_to_keep`] snapshots and every segment except the last
//! whose records are all covered by the *oldest* snapshot kept, so that any
//! kept snapshot plus the log is a complete history (this is what makes falling
//! back to an older snapshot worth anything).
//!
//! # Recovery
//!
//! On [`DirStorage::open`] (and when [`Storage::recover`] is called again):
//!
//! 1. Leftover `.tmp` files and directories are removed; of the generation
//!    directories only the highest is kept (a higher one exists only after its
//!    install committed).
//! 2. Every segment is read and checked. Damage in the last segment is a *torn
//!    tail* when nothing after it was written by a later flush (judged by the
//!    `batch` field of any intact record found further on): such bytes belong to
//!    a flush that never completed, so they were never acknowledged. The file
//!    is cut at the last intact record (warning logged), and later appends
//!    continue cleanly from there. A segment left without records is removed.
//!    Damage followed by records of a later flush, or damage in any earlier
//!    segment, means acknowledged data is lost: `open` fails with
//!    [`io::ErrorKind::InvalidData`] instead of silently dropping it.
//!
//!    Consequence: damage inside the last flush is always treated as torn, even
//!    when intact records of that same flush follow it, because a crash during
//!    that flush can leave exactly this picture (pages reach the disk in any
//!    order before the sync returns).
//! 3. Snapshots are tried newest first; a damaged one is renamed to
//!    `*.corrupt` (warning logged) and the previous one is used.
//! 4. **Gaps are errors.** The log must reach back to the chosen snapshot: its
//!    chain of segments must start at a `prev_zxid` at or below the snapshot's
//!    zxid (0 without a snapshot). Otherwise entries between the snapshot and
//!    the log are missing, and `open` fails with `InvalidData` rather than
//!    return a history with a hole. A generation made by `install_snapshot`
//!    without any readable snapshot is the same error. Older segments that do
//!    not chain to the rest (left over by an interrupted purge) are removed.
//! 5. **A missing newest segment is an error.** `head` names the newest
//!    segment; it is written when a segment starts (after the segment's
//!    header is durable) and before a truncate deletes segments. If the
//!    segment it names is not there (deleted by hand), the transactions it
//!    held are gone though they were acknowledged, and `open` fails with
//!    `InvalidData` instead of returning a shorter log. (A deleted earlier
//!    segment is already caught as a gap.) A damaged `head` is ignored
//!    with a warning; one that names a segment recovery removed as torn is
//!    rewritten.
//! 6. The result is the snapshot plus the log records after it.
//!
//! # Crash safety
//!
//! Each operation moves the directory from one consistent state to the next
//! through steps that each leave a recoverable state:
//!
//! - **flush**: a crash before the sync returns leaves a prefix of the batch,
//!   possibly with holes; recovery cuts it as a torn tail (step 2). Nothing of
//!   it was acknowledged, because `flush` had not returned.
//! - **save_snapshot**: before the rename the temporary file is discarded; after
//!   it the snapshot is complete and the log still reaches back to every kept
//!   snapshot. Deleting old snapshots and segments can be lost or partly lost
//!   in a crash; resurrected older files are harmless (step 4 removes segments
//!   that no longer chain).
//! - **truncate_after(z)**: segments wholly after `z` are deleted from the last
//!   one backwards and the directory synced, then the segment holding `z` is
//!   cut and synced. Every intermediate state is a prefix of the old log that
//!   still contains the new one; a restarted member resynchronises from there,
//!   and nothing was acknowledged after a truncate that did not return.
//! - **install_snapshot**: the new snapshot is written into `gen.<n+1>.tmp/`,
//!   synced with its directory, then the directory is renamed to `gen.<n+1>`
//!   and the parent synced. That rename is the commit point: before it,
//!   recovery deletes the `.tmp` directory and finds the old history untouched;
//!   after it, recovery picks generation `n+1` and deletes `gen.<n>`. No state
//!   mixes the old log with the new snapshot.
//! - **save_epochs**: `epochs.tmp`, sync, rename, sync directory: old or new.
//!
//! With [`DirOptions::fsync`] off the syncs are skipped: the store still
//! survives a process crash, not a machine crash.
//!
//! Any I/O error while writing leaves the in-memory view of the files
//! uncertain, so the store refuses every later call; drop it and open the
//! directory again.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use bytes::Bytes;
use tracing::{debug, warn};

use super::codec::{self, Tail, RECORD_HEADER_LEN, SEGMENT_HEADER_LEN};
use super::fsutil::{invalid_data, remove_file, sync_dir, write_atomic};
use super::{rules, Epochs, LogEntry, Recovered, Snapshot, Storage, StorageUsage, Zxid};

const EPOCHS_FILE: &str = "epochs";
/// In a generation: the first zxid of its newest log segment.
const HEAD_FILE: &str = "head";

/// Settings of a [`DirStorage`].
///
/// ```
/// use zk_testserver::storage::DirOptions;
///
/// let options = DirOptions::default().fsync(false).segment_size(1 << 20);
/// assert!(!options.fsync);
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct DirOptions {
    /// Sync files and directories so that data survives a machine crash
    /// (default `true`). Tests may turn it off for speed.
    pub fsync: bool,
    /// Size in bytes after which the next flush starts a new log segment
    /// (default 64 MiB). A segment exceeds it by at most one flush.
    pub segment_size: u64,
    /// How many snapshots to keep (default 3, at least 1).
    pub snapshots_to_keep: usize,
}

impl Default for DirOptions {
    fn default() -> Self {
        DirOptions {
            fsync: true,
            segment_size: 64 << 20,
            snapshots_to_keep: 3,
        }
    }
}

impl DirOptions {
    /// Sets [`DirOptions::fsync`].
    pub fn fsync(mut self, fsync: bool) -> Self {
        self.fsync = fsync;
        self
    }

    /// Sets [`DirOptions::segment_size`].
    pub fn segment_size(mut self, bytes: u64) -> Self {
        self.segment_size = bytes;
        self
    }

    /// Sets [`DirOptions::snapshots_to_keep`] (0 is taken as 1).
    pub fn snapshots_to_keep(mut self, count: usize) -> Self {
        self.snapshots_to_keep = count.max(1);
        self
    }
}

/// One log segment on disk; never empty once in the index.
#[derive(Debug)]
struct Segment {
    path: PathBuf,
    /// Zxid of the first record (also in the file name).
    first: Zxid,
    /// `prev_zxid` from the header.
    prev: Zxid,
    /// Zxid of the last record.
    last: Zxid,
    /// Bytes in the file.
    len: u64,
}

/// [`Storage`] in a directory: segmented txn log with group commit, checksummed
/// snapshots, atomically replaced epochs. See the [module docs](self) for the
/// format and the crash-safety argument.
///
/// Calls are checked exactly as [`MemoryStorage`](super::MemoryStorage) checks
/// them; a refused call returns [`io::ErrorKind::InvalidInput`] and changes
/// nothing. `save_snapshot` and `truncate_after` flush buffered appends first.
/// Dropping the store without [`Storage::flush`] discards buffered appends, as
/// a crash would.
///
/// One directory must be used by one `DirStorage` at a time.
///
/// ```no_run
/// use bytes::Bytes;
/// use zk_testserver::storage::{DirOptions, DirStorage, LogEntry, Storage};
///
/// let mut store = DirStorage::open("/var/lib/zk-testserver/member-1", DirOptions::default())?;
/// let recovered = store.recover()?;
/// let next = recovered.log.last().map_or(1, |e| e.zxid + 1);
/// store.append(&[LogEntry { zxid: next, payload: Bytes::from_static(b"txn") }])?;
/// store.flush()?; // now the entry may be acknowledged
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug)]
pub struct DirStorage {
    root: PathBuf,
    options: DirOptions,
    generation: u64,
    gen_dir: PathBuf,
    epochs: Epochs,
    /// Zxids of the snapshot files, ascending; the newest one has been read back.
    snapshots: Vec<Zxid>,
    /// The log, oldest segment first.
    segments: Vec<Segment>,
    /// Append handle of the last segment, opened on demand.
    active: Option<File>,
    /// Appended, not yet flushed.
    pending: Vec<LogEntry>,
    /// What the last scan found, until `recover` takes it or the state changes.
    recovered: Option<Recovered>,
    /// Set by a failed write: the files may not match the index any more.
    failed: bool,
}

impl DirStorage {
    /// Opens (creating if needed) the store in directory `path`, recovering and
    /// repairing it as described in the [module docs](self). The state found is
    /// returned by the first [`Storage::recover`] call without reading it again.
    ///
    /// Fails with [`io::ErrorKind::InvalidData`] when acknowledged data is
    /// damaged or missing.
    pub fn open(path: impl AsRef<Path>, options: DirOptions) -> io::Result<Self> {
        let root = path.as_ref().to_path_buf();
        if !root.is_dir() {
            fs::create_dir_all(&root)?;
            // Make the new directory's own entry durable too.
            let parent = root.parent().filter(|p| !p.as_os_str().is_empty());
            if let (true, Some(parent)) = (options.fsync, parent) {
                sync_dir(parent)?;
            }
        }
        let mut store = DirStorage {
            gen_dir: root.join(codec::generation_name(0)),
            root,
            options,
            generation: 0,
            epochs: Epochs::default(),
            snapshots: Vec::new(),
            segments: Vec::new(),
            active: None,
            pending: Vec::new(),
            recovered: None,
            failed: false,
        };
        let recovered = store.load()?;
        store.recovered = Some(recovered);
        Ok(store)
    }

    /// The directory this store lives in.
    pub fn path(&self) -> &Path {
        &self.root
    }

    /// The options the store was opened with.
    pub fn options(&self) -> &DirOptions {
        &self.options
    }

    /// Zxid of the last appended entry (flushed or not); if the log is empty,
    /// that of the newest snapshot; 0 for a fresh store.
    pub fn last_zxid(&self) -> Zxid {
        self.pending
            .last()
            .map_or_else(|| self.durable_zxid(), |e| e.zxid)
    }

    /// Zxid of the last flushed entry (or of the newest snapshot, or 0).
    pub fn durable_zxid(&self) -> Zxid {
        let log = self.segments.last().map(|s| s.last);
        let snap = self.newest_snapshot();
        log.max(snap).unwrap_or(0)
    }

    /// Number of appended entries not yet flushed.
    pub fn unflushed_len(&self) -> usize {
        self.pending.len()
    }

    /// Number of log segment files.
    pub fn segment_count(&self) -> usize {
        self.segments.len()
    }

    fn newest_snapshot(&self) -> Option<Zxid> {
        self.snapshots.last().copied()
    }

    /// Runs a write operation; any error marks the store failed.
    fn guarded<T>(&mut self, op: impl FnOnce(&mut Self) -> io::Result<T>) -> io::Result<T> {
        self.check_usable()?;
        let result = op(self);
        if result.is_err() {
            self.failed = true;
            self.active = None;
        }
        result
    }

    fn check_usable(&self) -> io::Result<()> {
        if self.failed {
            return Err(io::Error::other(format!(
                "{}: an earlier storage operation failed; reopen the directory",
                self.root.display()
            )));
        }
        Ok(())
    }

    // -----------------------------------------------------------------------
    // Recovery
    // -----------------------------------------------------------------------

    /// Scans the directory, repairs what can be repaired, rebuilds the index and
    /// returns the durable state. Buffered appends are kept.
    fn load(&mut self) -> io::Result<Recovered> {
        self.active = None;
        let (generation, gen_dir) = self.load_root()?;
        let mut changed = false;
        let (mut snapshots, segment_files) = list_generation(&gen_dir, &mut changed)?;
        let present: Vec<Zxid> = segment_files.iter().map(|(z, _)| *z).collect();
        let (mut segments, mut contents) = self.read_segments(segment_files, &mut changed)?;
        // The newest segment must still be there.
        self.check_head(&gen_dir, &present, &segments)?;
        let snapshot = newest_snapshot(&gen_dir, &mut snapshots, &mut changed)?;
        let start = snapshot.as_ref().map_or(0, |s| s.zxid);
        if generation > 0 && snapshot.is_none() {
            return Err(invalid_data(
                &gen_dir,
                "no readable snapshot in a history that starts from an installed snapshot",
            ));
        }
        chain_to_snapshot(&mut segments, &mut contents, start, &mut changed)?;
        if changed && self.options.fsync {
            sync_dir(&gen_dir)?;
        }
        let log = entries_after(&contents, start);

        self.generation = generation;
        self.gen_dir = gen_dir;
        self.snapshots = snapshots;
        self.segments = segments;
        debug!(
            dir = %self.root.display(),
            generation,
            snapshot = start,
            segments = self.segments.len(),
            last = self.durable_zxid(),
            "storage recovered"
        );
        Ok(Recovered {
            epochs: self.epochs,
            snapshot,
            log,
        })
    }

    /// Recovery step 1, the root: reads the epochs, removes leftovers of
    /// interrupted writes and superseded generations, and returns the
    /// newest generation (created if there is none) and its directory.
    fn load_root(&mut self) -> io::Result<(u64, PathBuf)> {
        let mut generations = Vec::new();
        let mut root_changed = false;
        for entry in fs::read_dir(&self.root)? {
            let entry = entry?;
            let path = entry.path();
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if name == EPOCHS_FILE {
                continue;
            } else if let Some(n) = codec::parse_name(&name, "gen") {
                generations.push(n);
            } else if name.ends_with(".tmp") {
                warn!(path = %path.display(), "removing leftover of an interrupted write");
                if entry.file_type()?.is_dir() {
                    fs::remove_dir_all(&path)?;
                } else {
                    remove_file(&path)?;
                }
                root_changed = true;
            } else {
                debug!(path = %path.display(), "ignoring unknown file in storage directory");
            }
        }
        let epochs_path = self.root.join(EPOCHS_FILE);
        self.epochs = match fs::read(&epochs_path) {
            Ok(bytes) => codec::decode_epochs(&bytes).map_err(|e| invalid_data(&epochs_path, e))?,
            Err(e) if e.kind() == io::ErrorKind::NotFound => Epochs::default(),
            Err(e) => return Err(e),
        };
        generations.sort_unstable();
        let generation = generations.pop().unwrap_or(0);
        let gen_dir = self.root.join(codec::generation_name(generation));
        if !gen_dir.is_dir() {
            fs::create_dir(&gen_dir)?;
            root_changed = true;
        }
        for old in generations {
            let path = self.root.join(codec::generation_name(old));
            warn!(path = %path.display(), "removing generation superseded by an installed snapshot");
            fs::remove_dir_all(&path)?;
            root_changed = true;
        }
        if root_changed && self.options.fsync {
            sync_dir(&self.root)?;
        }
        Ok((generation, gen_dir))
    }

    /// Recovery step 3: reads and checks every segment, oldest first,
    /// cutting a torn tail of the last one and removing it if its header
    /// is torn or it holds no record.
    fn read_segments(
        &self,
        segment_files: Vec<SegmentFile>,
        changed: &mut bool,
    ) -> io::Result<(Vec<Segment>, Vec<SegmentContents>)> {
        let mut segments = Vec::new();
        let mut contents = Vec::new();
        let count = segment_files.len();
        for (i, (name_zxid, path)) in segment_files.into_iter().enumerate() {
            let is_last = i + 1 == count;
            if let Some((segment, content)) =
                self.read_segment(name_zxid, path, is_last, changed)?
            {
                segments.push(segment);
                contents.push(content);
            }
        }
        Ok((segments, contents))
    }

    /// One segment of step 3; `None` if it was removed.
    fn read_segment(
        &self,
        name_zxid: Zxid,
        path: PathBuf,
        is_last: bool,
        changed: &mut bool,
    ) -> io::Result<Option<(Segment, SegmentContents)>> {
        let buf = Bytes::from(fs::read(&path)?);
        let scan = match codec::scan_segment(&buf) {
            Ok(scan) => scan,
            Err(bad) if is_last && !bad.records_follow => {
                warn!(path = %path.display(), "removing log segment with a torn header");
                remove_file(&path)?;
                *changed = true;
                return Ok(None);
            }
            Err(_) => return Err(invalid_data(&path, "damaged log segment header")),
        };
        let mut len = buf.len() as u64;
        match scan.tail {
            Tail::Clean => {}
            Tail::Torn { offset, reason } if is_last => {
                warn!(
                    path = %path.display(),
                    offset,
                    dropped_bytes = buf.len() - offset,
                    reason,
                    "cutting torn tail of the txn log"
                );
                let file = OpenOptions::new().write(true).open(&path)?;
                file.set_len(offset as u64)?;
                if self.options.fsync {
                    file.sync_all()?;
                }
                len = offset as u64;
            }
            Tail::Torn { offset, reason } | Tail::Corrupt { offset, reason } => {
                return Err(invalid_data(
                    &path,
                    format_args!("{reason} at offset {offset}, followed by acknowledged records"),
                ));
            }
        }
        let Some(&(first, _)) = scan.records.first() else {
            if is_last {
                debug!(path = %path.display(), "removing empty log segment");
                remove_file(&path)?;
                *changed = true;
                return Ok(None);
            }
            return Err(invalid_data(&path, "empty log segment before others"));
        };
        if first != name_zxid {
            return Err(invalid_data(
                &path,
                format_args!("first record has zxid {first:#x}, not the one in the name"),
            ));
        }
        let segment = Segment {
            path,
            first,
            prev: scan.prev,
            last: scan.last_zxid(),
            len,
        };
        Ok(Some((segment, (buf, scan))))
    }

    // -----------------------------------------------------------------------
    // Log writing
    // -----------------------------------------------------------------------

    /// Writes the buffered appends as one batch and syncs it.
    fn write_pending(&mut self) -> io::Result<()> {
        let Some(first) = self.pending.first().map(|e| e.zxid) else {
            return Ok(());
        };
        self.recovered = None;
        let fsync = self.options.fsync;
        let full = self
            .segments
            .last()
            .is_none_or(|s| s.len >= self.options.segment_size);
        if full {
            self.start_segment(first)?;
        }
        let (Some(segment), Some(last)) = (self.segments.last_mut(), self.pending.last()) else {
            return Ok(());
        };
        let last = last.zxid;
        let mut file = match self.active.take() {
            Some(file) => file,
            None => OpenOptions::new().append(true).open(&segment.path)?,
        };
        let batch_start = segment.len;
        let size: usize = self
            .pending
            .iter()
            .map(|e| RECORD_HEADER_LEN + e.payload.len())
            .sum();
        let mut buf = Vec::with_capacity(size);
        for entry in &self.pending {
            codec::encode_record(&mut buf, entry, batch_start);
        }
        file.write_all(&buf)?;
        if fsync {
            file.sync_data()?;
        }
        segment.len += buf.len() as u64;
        segment.last = last;
        self.active = Some(file);
        self.pending.clear();
        Ok(())
    }

    /// Creates an empty segment for a batch starting at `first`, with its header
    /// durable before any record is written into it.
    fn start_segment(&mut self, first: Zxid) -> io::Result<()> {
        self.active = None;
        let prev = match self.segments.last() {
            Some(s) => s.last,
            None => self.newest_snapshot().unwrap_or(0),
        };
        let path = self.gen_dir.join(codec::segment_name(first));
        let mut file = OpenOptions::new()
            .append(true)
            .create_new(true)
            .open(&path)?;
        file.write_all(&codec::encode_segment_header(prev))?;
        if self.options.fsync {
            file.sync_data()?;
            sync_dir(&self.gen_dir)?;
        }
        debug!(path = %path.display(), prev, "started log segment");
        write_head(&self.gen_dir, first, self.options.fsync)?;
        self.segments.push(Segment {
            path,
            first,
            prev,
            last: prev,
            len: SEGMENT_HEADER_LEN as u64,
        });
        self.active = Some(file);
        Ok(())
    }

    fn truncate_log(&mut self, zxid: Zxid) -> io::Result<()> {
        self.recovered = None;
        self.pending.retain(|e| e.zxid <= zxid);
        self.write_pending()?;
        let fsync = self.options.fsync;

        // Whole segments after the cut, newest first, then one directory sync
        // before touching the segment that keeps a prefix. The head first
        // names the segment that will be the newest.
        let newest_kept = self
            .segments
            .iter()
            .rev()
            .find(|s| s.first <= zxid)
            .map_or(0, |s| s.first);
        if self.segments.last().is_some_and(|s| s.first > zxid) {
            write_head(&self.gen_dir, newest_kept, fsync)?;
        }
        let mut removed = 0;
        while let Some(segment) = self.segments.last() {
            if segment.first <= zxid {
                break;
            }
            self.active = None;
            remove_file(&segment.path)?;
            debug!(path = %segment.path.display(), "truncate: removed log segment");
            self.segments.pop();
            removed += 1;
        }
        if removed > 0 && fsync {
            sync_dir(&self.gen_dir)?;
        }

        let Some(segment) = self.segments.last_mut() else {
            return Ok(());
        };
        if segment.last <= zxid {
            return Ok(());
        }
        self.active = None;
        let buf = fs::read(&segment.path)?;
        let scan = codec::scan_segment(&buf)
            .map_err(|_| invalid_data(&segment.path, "damaged log segment header"))?;
        let keep = scan.records.partition_point(|r| r.0 <= zxid);
        let cut = scan
            .records
            .get(keep)
            .map_or(scan.valid_len, |r| r.1.start - RECORD_HEADER_LEN);
        let last = keep
            .checked_sub(1)
            .and_then(|i| scan.records.get(i))
            .map_or(scan.prev, |r| r.0);
        let file = OpenOptions::new().write(true).open(&segment.path)?;
        file.set_len(cut as u64)?;
        if fsync {
            file.sync_all()?;
        }
        debug!(path = %segment.path.display(), cut, last, "truncate: cut log segment");
        segment.len = cut as u64;
        segment.last = last;
        Ok(())
    }

    // -----------------------------------------------------------------------
    // Snapshots
    // -----------------------------------------------------------------------

    fn write_snapshot(&mut self, snapshot: &Snapshot) -> io::Result<()> {
        self.recovered = None;
        self.write_pending()?;
        let name = codec::snapshot_name(snapshot.zxid);
        write_atomic(&self.gen_dir, &name, self.options.fsync, |out| {
            codec::write_snapshot_file(out, snapshot)
        })?;
        debug!(dir = %self.gen_dir.display(), zxid = snapshot.zxid, "snapshot saved");
        if self.newest_snapshot() != Some(snapshot.zxid) {
            self.snapshots.push(snapshot.zxid);
        }
        self.purge()
    }

    /// Keeps the newest snapshots and the log segments they need.
    fn purge(&mut self) -> io::Result<()> {
        let keep = self.options.snapshots_to_keep.max(1);
        let mut changed = false;
        let excess = self.snapshots.len().saturating_sub(keep);
        for zxid in self.snapshots.drain(..excess) {
            let path = self.gen_dir.join(codec::snapshot_name(zxid));
            remove_file(&path)?;
            debug!(path = %path.display(), "purged snapshot");
            changed = true;
        }
        if let Some(&oldest) = self.snapshots.first() {
            let covered = self
                .segments
                .iter()
                .take(self.segments.len().saturating_sub(1))
                .take_while(|s| s.last <= oldest)
                .count();
            for segment in self.segments.drain(..covered) {
                remove_file(&segment.path)?;
                debug!(path = %segment.path.display(), "purged log segment");
                changed = true;
            }
        }
        if changed && self.options.fsync {
            sync_dir(&self.gen_dir)?;
        }
        Ok(())
    }

    fn install(&mut self, snapshot: &Snapshot) -> io::Result<()> {
        self.recovered = None;
        self.pending.clear();
        self.active = None;
        let fsync = self.options.fsync;
        let next = self.generation + 1;
        let final_dir = self.root.join(codec::generation_name(next));
        let tmp_dir = self
            .root
            .join(format!("{}.tmp", codec::generation_name(next)));
        if tmp_dir.exists() {
            fs::remove_dir_all(&tmp_dir)?;
        }
        fs::create_dir(&tmp_dir)?;
        {
            let mut file = File::create(tmp_dir.join(codec::snapshot_name(snapshot.zxid)))?;
            codec::write_snapshot_file(&mut file, snapshot)?;
            if fsync {
                file.sync_all()?;
            }
        }
        if fsync {
            sync_dir(&tmp_dir)?;
        }
        fs::rename(&tmp_dir, &final_dir)?;
        if fsync {
            sync_dir(&self.root)?;
        }
        // Committed: the new generation is what recovery will find.
        let old_dir = std::mem::replace(&mut self.gen_dir, final_dir);
        self.generation = next;
        self.snapshots = vec![snapshot.zxid];
        self.segments.clear();
        debug!(dir = %self.gen_dir.display(), zxid = snapshot.zxid, "snapshot installed");
        if let Err(e) = fs::remove_dir_all(&old_dir) {
            // Harmless: recovery removes superseded generations.
            warn!(path = %old_dir.display(), error = %e, "could not remove old generation");
        }
        Ok(())
    }
}

impl DirStorage {
    /// Fails if the segment `head` names was not found in the generation
    /// (`present`: the segment files there before recovery touched them);
    /// rewrites `head` when recovery left another segment newest.
    fn check_head(&self, gen_dir: &Path, present: &[Zxid], segments: &[Segment]) -> io::Result<()> {
        let path = gen_dir.join(HEAD_FILE);
        let named = match fs::read(&path) {
            Ok(bytes) => match codec::decode_head(&bytes) {
                Ok(z) => Some(z),
                Err(problem) => {
                    warn!(path = %path.display(), problem, "ignoring damaged head file");
                    None
                }
            },
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => return Err(e),
        };
        if let Some(z) = named.filter(|z| *z != 0 && !present.contains(z)) {
            return Err(invalid_data(
                &gen_dir.join(codec::segment_name(z)),
                "the newest log segment is missing: the transactions it held were \
                 acknowledged and are lost; restore the file, or wipe this member's \
                 storage so that it catches up from the others",
            ));
        }
        let newest = segments.last().map_or(0, |s| s.first);
        if named.is_some_and(|z| z != newest) {
            write_head(gen_dir, newest, self.options.fsync)?;
        }
        Ok(())
    }
}

/// A segment's bytes and what scanning them found.
type SegmentContents = (Bytes, codec::ScannedSegment);

/// A log segment file: the zxid in its name, and its path.
type SegmentFile = (Zxid, PathBuf);

/// Recovery step 2: the generation's snapshots and log segments (both
/// ascending), removing leftovers of interrupted writes.
fn list_generation(
    gen_dir: &Path,
    changed: &mut bool,
) -> io::Result<(Vec<Zxid>, Vec<SegmentFile>)> {
    let mut snapshots = Vec::new();
    let mut segment_files = Vec::new();
    for entry in fs::read_dir(gen_dir)? {
        let entry = entry?;
        let path = entry.path();
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if let Some(z) = codec::parse_name(&name, "log") {
            segment_files.push((z as Zxid, path));
        } else if let Some(z) = codec::parse_name(&name, "snap") {
            snapshots.push(z as Zxid);
        } else if name.ends_with(".tmp") {
            warn!(path = %path.display(), "removing leftover of an interrupted write");
            remove_file(&path)?;
            *changed = true;
        } else if name != HEAD_FILE && !name.ends_with(".corrupt") {
            debug!(path = %path.display(), "ignoring unknown file in storage directory");
        }
    }
    snapshots.sort_unstable();
    segment_files.sort_unstable();
    Ok((snapshots, segment_files))
}

/// Recovery step 4: the newest readable snapshot; damaged ones are set
/// aside (and dropped from `snapshots`) in favour of the one before.
fn newest_snapshot(
    gen_dir: &Path,
    snapshots: &mut Vec<Zxid>,
    changed: &mut bool,
) -> io::Result<Option<Snapshot>> {
    while let Some(&zxid) = snapshots.last() {
        let path = gen_dir.join(codec::snapshot_name(zxid));
        let buf = Bytes::from(fs::read(&path)?);
        let problem = match codec::decode_snapshot(&buf) {
            Ok(s) if s.zxid == zxid => return Ok(Some(s)),
            Ok(_) => "zxid differs from the file name",
            Err(e) => e,
        };
        let aside = gen_dir.join(format!("{}.corrupt", codec::snapshot_name(zxid)));
        warn!(
            path = %path.display(),
            problem,
            "setting aside damaged snapshot; falling back to the previous one"
        );
        fs::rename(&path, &aside)?;
        *changed = true;
        snapshots.pop();
    }
    Ok(None)
}

/// Recovery step 5: the log must chain back to the snapshot at `start`;
/// older segments left over by a purge are removed.
fn chain_to_snapshot(
    segments: &mut Vec<Segment>,
    contents: &mut Vec<SegmentContents>,
    start: Zxid,
    changed: &mut bool,
) -> io::Result<()> {
    let mut chain_start = segments.len().saturating_sub(1);
    while chain_start > 0 && segments[chain_start - 1].last == segments[chain_start].prev {
        chain_start -= 1;
    }
    if let Some(first) = segments.get(chain_start) {
        if first.prev > start {
            return Err(invalid_data(
                &first.path,
                format_args!(
                    "the log continues from {:#x} but the newest readable snapshot is at \
                     {start:#x}: the entries in between are missing",
                    first.prev
                ),
            ));
        }
    }
    for stale in segments.drain(..chain_start) {
        warn!(path = %stale.path.display(), "removing log segment left over by a purge");
        remove_file(&stale.path)?;
        *changed = true;
    }
    contents.drain(..chain_start);
    Ok(())
}

/// The logged entries after the snapshot at `start`, in order.
fn entries_after(contents: &[SegmentContents], start: Zxid) -> Vec<LogEntry> {
    contents
        .iter()
        .flat_map(|(buf, scan)| {
            scan.records
                .iter()
                .filter(|(zxid, _)| *zxid > start)
                .map(|(zxid, range)| LogEntry {
                    zxid: *zxid,
                    payload: buf.slice(range.clone()),
                })
        })
        .collect()
}

/// Replaces a generation's `head` with `newest` (the first zxid of its newest
/// segment, 0 for none).
fn write_head(gen_dir: &Path, newest: Zxid, fsync: bool) -> io::Result<()> {
    write_atomic(gen_dir, HEAD_FILE, fsync, |out| {
        out.write_all(&codec::encode_head(newest))
    })
}

impl Storage for DirStorage {
    fn recover(&mut self) -> io::Result<Recovered> {
        self.guarded(|s| match s.recovered.take() {
            Some(recovered) => Ok(recovered),
            None => s.load(),
        })
    }

    fn append(&mut self, entries: &[LogEntry]) -> io::Result<()> {
        self.check_usable()?;
        rules::check_append(self.last_zxid(), entries)?;
        self.pending.extend_from_slice(entries);
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.guarded(Self::write_pending)
    }

    fn truncate_after(&mut self, zxid: Zxid) -> io::Result<()> {
        self.check_usable()?;
        rules::check_truncate(zxid, self.newest_snapshot())?;
        self.guarded(|s| s.truncate_log(zxid))
    }

    fn save_epochs(&mut self, epochs: Epochs) -> io::Result<()> {
        self.guarded(|s| {
            s.recovered = None;
            write_atomic(&s.root, EPOCHS_FILE, s.options.fsync, |out| {
                out.write_all(&codec::encode_epochs(epochs))
            })?;
            s.epochs = epochs;
            Ok(())
        })
    }

    fn save_snapshot(&mut self, snapshot: &Snapshot) -> io::Result<()> {
        self.check_usable()?;
        rules::check_save_snapshot(snapshot.zxid, self.newest_snapshot(), self.last_zxid())?;
        self.guarded(|s| s.write_snapshot(snapshot))
    }

    fn install_snapshot(&mut self, snapshot: &Snapshot) -> io::Result<()> {
        self.check_usable()?;
        rules::check_install_snapshot(snapshot.zxid)?;
        self.guarded(|s| s.install(snapshot))
    }

    fn usage(&self) -> StorageUsage {
        let mut usage = StorageUsage::default();
        let Ok(entries) = std::fs::read_dir(&self.gen_dir) else {
            return usage;
        };
        for entry in entries.flatten() {
            let len = entry.metadata().map_or(0, |m| m.len());
            if entry.file_name().to_string_lossy().starts_with("snap.") {
                usage.snapshots += len;
            } else {
                usage.log += len;
            }
        }
        usage
    }
}
