//! Tests of the directory backend on real files, and the agreement test
//! between the two backends.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

use super::*;

/// A fresh directory under the system temp dir, removed on drop.
struct TestDir(PathBuf);

impl TestDir {
    fn new(tag: &str) -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "zk-storage-{tag}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = fs::remove_dir_all(&path);
        fs::create_dir_all(&path).unwrap();
        TestDir(path)
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TestDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn fast() -> DirOptions {
    DirOptions::default().fsync(false)
}

fn e(zxid: Zxid) -> LogEntry {
    LogEntry {
        zxid,
        payload: Bytes::from(format!("txn-{zxid}")),
    }
}

fn entries(zxids: impl IntoIterator<Item = Zxid>) -> Vec<LogEntry> {
    zxids.into_iter().map(e).collect()
}

fn snap(zxid: Zxid) -> Snapshot {
    Snapshot {
        zxid,
        data: Bytes::from(format!("tree@{zxid}")).into(),
    }
}

fn zxids(log: &[LogEntry]) -> Vec<Zxid> {
    log.iter().map(|e| e.zxid).collect()
}

/// The single generation directory of a store.
fn gen_dir(root: &Path) -> PathBuf {
    let mut gens: Vec<_> = fs::read_dir(root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    assert_eq!(gens.len(), 1, "{gens:?}");
    gens.pop().unwrap()
}

/// Files of the current generation whose name starts with `prefix`, sorted.
fn files(root: &Path, prefix: &str) -> Vec<PathBuf> {
    let mut out: Vec<_> = fs::read_dir(gen_dir(root))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(prefix))
        })
        .collect();
    out.sort();
    out
}

/// A store holding `1..=n`, one flush per entry, each entry one record.
fn store_with_flushes(dir: &TestDir, n: Zxid) -> DirStorage {
    let mut s = DirStorage::open(dir.path(), fast()).unwrap();
    for z in 1..=n {
        s.append(&[e(z)]).unwrap();
        s.flush().unwrap();
    }
    s
}

/// Length in bytes of the framed record of `e(zxid)`.
fn record_len(zxid: Zxid) -> u64 {
    (codec::RECORD_HEADER_LEN + e(zxid).payload.len()) as u64
}

// ---------------------------------------------------------------------------
// Basic durability
// ---------------------------------------------------------------------------

#[test]
fn dir_recover_after_append_and_flush() {
    let dir = TestDir::new("basic");
    let epochs = Epochs {
        accepted: 3,
        current: 2,
    };
    {
        let mut s = DirStorage::open(dir.path(), DirOptions::default()).unwrap();
        assert_eq!(s.recover().unwrap(), Recovered::default());
        s.append(&entries([1, 2])).unwrap();
        s.append(&entries([0x1_0000_0001])).unwrap();
        s.flush().unwrap();
        s.save_epochs(epochs).unwrap();
        assert_eq!(s.last_zxid(), 0x1_0000_0001);
        // A second recover() on the live store reads the files again.
        assert_eq!(zxids(&s.recover().unwrap().log), [1, 2, 0x1_0000_0001]);
    }
    let mut s = DirStorage::open(dir.path(), DirOptions::default()).unwrap();
    let r = s.recover().unwrap();
    assert_eq!(r.epochs, epochs);
    assert_eq!(r.snapshot, None);
    assert_eq!(r.log, entries([1, 2, 0x1_0000_0001]));
    assert_eq!(files(dir.path(), "log").len(), 1, "one segment");
}

#[test]
fn dir_unflushed_appends_are_lost_when_dropped() {
    let dir = TestDir::new("unflushed");
    {
        let mut s = DirStorage::open(dir.path(), fast()).unwrap();
        s.append(&entries([1, 2])).unwrap();
        s.flush().unwrap();
        s.append(&entries([3])).unwrap();
        assert_eq!(
            (s.last_zxid(), s.durable_zxid(), s.unflushed_len()),
            (3, 2, 1)
        );
        // recover() reports what is durable and keeps the buffer.
        assert_eq!(zxids(&s.recover().unwrap().log), [1, 2]);
        assert_eq!(s.unflushed_len(), 1);
    }
    let mut s = DirStorage::open(dir.path(), fast()).unwrap();
    assert_eq!(zxids(&s.recover().unwrap().log), [1, 2]);
    // The lost entry's zxid may be reused by the new history.
    s.append(&[LogEntry {
        zxid: 3,
        payload: Bytes::from_static(b"other"),
    }])
    .unwrap();
    s.flush().unwrap();
    drop(s);
    let log = DirStorage::open(dir.path(), fast())
        .unwrap()
        .recover()
        .unwrap()
        .log;
    assert_eq!(log[2].payload, Bytes::from_static(b"other"));
}

#[test]
fn group_commit_writes_one_batch() {
    let dir = TestDir::new("group");
    let mut s = DirStorage::open(dir.path(), fast()).unwrap();
    for z in 1..=50 {
        s.append(&[e(z)]).unwrap();
    }
    s.flush().unwrap();
    // Every record names the same batch start: one write, one sync.
    let buf = fs::read(&files(dir.path(), "log")[0]).unwrap();
    let mut off = codec::SEGMENT_HEADER_LEN;
    for z in 1..=50 {
        let batch = u64::from_be_bytes(buf[off + 16..off + 24].try_into().unwrap());
        assert_eq!(batch, codec::SEGMENT_HEADER_LEN as u64);
        off += record_len(z) as usize;
    }
    assert_eq!(off, buf.len());
}

#[test]
fn epochs_survive_reopen_and_damage_is_an_error() {
    let dir = TestDir::new("epochs");
    let epochs = Epochs {
        accepted: 9,
        current: 8,
    };
    DirStorage::open(dir.path(), DirOptions::default())
        .unwrap()
        .save_epochs(epochs)
        .unwrap();
    let mut s = DirStorage::open(dir.path(), DirOptions::default()).unwrap();
    assert_eq!(s.recover().unwrap().epochs, epochs);
    drop(s);
    let path = dir.path().join("epochs");
    let mut bytes = fs::read(&path).unwrap();
    bytes[9] ^= 0x01;
    fs::write(&path, bytes).unwrap();
    let err = DirStorage::open(dir.path(), fast()).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidData);
}

// ---------------------------------------------------------------------------
// Damaged log tails
// ---------------------------------------------------------------------------

#[test]
fn torn_tail_at_every_offset_of_the_last_record() {
    let last_len = record_len(4);
    for cut in 0..last_len {
        let dir = TestDir::new("torn");
        drop(store_with_flushes(&dir, 4));
        let segment = files(dir.path(), "log").pop().unwrap();
        let full = fs::metadata(&segment).unwrap().len();
        let start = full - last_len;
        fs::OpenOptions::new()
            .write(true)
            .open(&segment)
            .unwrap()
            .set_len(start + cut)
            .unwrap();

        let mut s = DirStorage::open(dir.path(), fast()).unwrap();
        assert_eq!(zxids(&s.recover().unwrap().log), [1, 2, 3], "cut {cut}");
        assert_eq!(fs::metadata(&segment).unwrap().len(), start, "cut {cut}");
        s.append(&entries([4, 5])).unwrap();
        s.flush().unwrap();
        drop(s);
        let r = DirStorage::open(dir.path(), fast())
            .unwrap()
            .recover()
            .unwrap();
        assert_eq!(r.log, entries(1..=5), "cut {cut}");
    }
}

#[test]
fn torn_new_segment_at_every_offset() {
    // One record per segment: a crash while starting the last segment, cut
    // anywhere in its header or its first record.
    let options = fast().segment_size(1);
    let size = codec::SEGMENT_HEADER_LEN as u64 + record_len(3);
    for cut in 0..size {
        let dir = TestDir::new("tornseg");
        let mut s = DirStorage::open(dir.path(), options.clone()).unwrap();
        for z in 1..=3 {
            s.append(&[e(z)]).unwrap();
            s.flush().unwrap();
        }
        drop(s);
        let segments = files(dir.path(), "log");
        assert_eq!(segments.len(), 3);
        fs::OpenOptions::new()
            .write(true)
            .open(&segments[2])
            .unwrap()
            .set_len(cut)
            .unwrap();

        let mut s = DirStorage::open(dir.path(), options.clone()).unwrap();
        assert_eq!(zxids(&s.recover().unwrap().log), [1, 2], "cut {cut}");
        assert_eq!(files(dir.path(), "log").len(), 2, "cut {cut}");
        s.append(&entries([3, 4])).unwrap();
        s.flush().unwrap();
        drop(s);
        let r = DirStorage::open(dir.path(), options.clone())
            .unwrap()
            .recover()
            .unwrap();
        assert_eq!(r.log, entries(1..=4), "cut {cut}");
    }
}

#[test]
fn flipped_byte_in_the_last_record_recovers_the_prefix() {
    let last_len = record_len(4);
    for i in 0..last_len {
        let dir = TestDir::new("fliplast");
        drop(store_with_flushes(&dir, 4));
        let segment = files(dir.path(), "log").pop().unwrap();
        let mut bytes = fs::read(&segment).unwrap();
        let at = bytes.len() - last_len as usize + i as usize;
        bytes[at] ^= 0x20;
        fs::write(&segment, &bytes).unwrap();

        let mut s = DirStorage::open(dir.path(), fast()).unwrap();
        assert_eq!(zxids(&s.recover().unwrap().log), [1, 2, 3], "byte {i}");
        s.append(&entries([4])).unwrap();
        s.flush().unwrap();
        drop(s);
        let r = DirStorage::open(dir.path(), fast())
            .unwrap()
            .recover()
            .unwrap();
        assert_eq!(r.log, entries(1..=4), "byte {i}");
    }
}

#[test]
fn flipped_byte_in_a_middle_record_is_invalid_data() {
    let dir = TestDir::new("flipmid");
    drop(store_with_flushes(&dir, 4));
    let segment = files(dir.path(), "log").pop().unwrap();
    let original = fs::read(&segment).unwrap();
    let second = codec::SEGMENT_HEADER_LEN + record_len(1) as usize;
    for at in second..second + record_len(2) as usize {
        let mut bytes = original.clone();
        bytes[at] ^= 0x20;
        fs::write(&segment, &bytes).unwrap();
        let err = DirStorage::open(dir.path(), fast()).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData, "byte {at}: {err}");
        // Nothing was cut: the damage stays for someone to look at.
        assert_eq!(fs::read(&segment).unwrap(), bytes);
    }
}

#[test]
fn damage_inside_the_last_flush_is_a_torn_tail() {
    // 1 and 2 flushed separately, then 3, 4, 5 in one flush whose record 4 is
    // damaged: that flush may not have completed, so 3 survives, 4 and 5 go.
    let dir = TestDir::new("lastbatch");
    let mut s = store_with_flushes(&dir, 2);
    s.append(&entries([3, 4, 5])).unwrap();
    s.flush().unwrap();
    drop(s);
    let segment = files(dir.path(), "log").pop().unwrap();
    let mut bytes = fs::read(&segment).unwrap();
    let fourth =
        codec::SEGMENT_HEADER_LEN + (record_len(1) + record_len(2) + record_len(3)) as usize;
    bytes[fourth + codec::RECORD_HEADER_LEN + 1] ^= 0xFF; // in the payload of 4
    fs::write(&segment, &bytes).unwrap();
    let r = DirStorage::open(dir.path(), fast())
        .unwrap()
        .recover()
        .unwrap();
    assert_eq!(zxids(&r.log), [1, 2, 3]);
}

#[test]
fn damage_in_an_earlier_segment_is_invalid_data() {
    let dir = TestDir::new("earlyseg");
    let mut s = DirStorage::open(dir.path(), fast().segment_size(1)).unwrap();
    for z in 1..=3 {
        s.append(&[e(z)]).unwrap();
        s.flush().unwrap();
    }
    drop(s);
    let segments = files(dir.path(), "log");
    assert_eq!(segments.len(), 3);
    // Cutting the last record of a segment that is not the last one.
    let first = &segments[0];
    let len = fs::metadata(first).unwrap().len();
    fs::OpenOptions::new()
        .write(true)
        .open(first)
        .unwrap()
        .set_len(len - 1)
        .unwrap();
    let err = DirStorage::open(dir.path(), fast()).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidData);
}

#[test]
fn torn_segment_header_is_removed() {
    let dir = TestDir::new("tornheader");
    drop(store_with_flushes(&dir, 2));
    // A crash while starting a new segment: a few bytes of its header.
    let path = gen_dir(dir.path()).join(codec::segment_name(3));
    fs::write(&path, &codec::encode_segment_header(2)[..7]).unwrap();
    let mut s = DirStorage::open(dir.path(), fast()).unwrap();
    assert!(!path.exists());
    assert_eq!(zxids(&s.recover().unwrap().log), [1, 2]);
    s.append(&entries([3])).unwrap();
    s.flush().unwrap();
    drop(s);
    let r = DirStorage::open(dir.path(), fast())
        .unwrap()
        .recover()
        .unwrap();
    assert_eq!(r.log, entries(1..=3));
}

// ---------------------------------------------------------------------------
// Truncation
// ---------------------------------------------------------------------------

#[test]
fn truncate_after_across_segment_boundaries() {
    let dir = TestDir::new("truncate");
    // About three records per segment.
    let options = fast().segment_size(3 * record_len(10));
    let mut s = DirStorage::open(dir.path(), options.clone()).unwrap();
    for pair in (1..=20).collect::<Vec<_>>().chunks(2) {
        s.append(&entries(pair.iter().copied())).unwrap();
        s.flush().unwrap();
    }
    let before = s.segment_count();
    assert!(before >= 5, "{before} segments");

    // In the middle of a segment, several segments back.
    s.truncate_after(7).unwrap();
    assert!(s.segment_count() < before);
    assert_eq!(s.last_zxid(), 7);
    assert_eq!(
        zxids(&s.recover().unwrap().log),
        (1..=7).collect::<Vec<_>>()
    );

    // Unflushed appends after the cut go too; those before it are flushed.
    s.append(&entries([8, 9])).unwrap();
    s.truncate_after(8).unwrap();
    assert_eq!((s.unflushed_len(), s.durable_zxid()), (0, 8));

    // Exactly at the end of a segment.
    let segments = files(dir.path(), "log");
    let boundary = {
        let name = segments[1].file_name().unwrap().to_str().unwrap();
        codec::parse_name(name, "log").unwrap() as Zxid - 1
    };
    s.truncate_after(boundary).unwrap();
    assert_eq!(files(dir.path(), "log").len(), 1);
    assert_eq!(s.last_zxid(), boundary);

    // Later appends continue cleanly and everything survives a reopen.
    s.append(&entries([boundary + 1, 30])).unwrap();
    s.flush().unwrap();
    drop(s);
    let mut s = DirStorage::open(dir.path(), options).unwrap();
    let mut expected: Vec<Zxid> = (1..=boundary + 1).collect();
    expected.push(30);
    assert_eq!(zxids(&s.recover().unwrap().log), expected);

    // Down to nothing.
    s.truncate_after(0).unwrap();
    assert_eq!(s.segment_count(), 0);
    assert_eq!(s.last_zxid(), 0);
    s.append(&entries([1])).unwrap();
    s.flush().unwrap();
    assert_eq!(zxids(&s.recover().unwrap().log), [1]);
}

// ---------------------------------------------------------------------------
// Snapshots
// ---------------------------------------------------------------------------

/// `1..=30`, flushed in threes into small segments, snapshots at `snaps`.
fn store_with_snapshots(dir: &TestDir, options: DirOptions, snaps: &[Zxid]) -> DirStorage {
    let mut s = DirStorage::open(dir.path(), options).unwrap();
    for chunk in (1..=30).collect::<Vec<_>>().chunks(3) {
        s.append(&entries(chunk.iter().copied())).unwrap();
        s.flush().unwrap();
        for &z in snaps.iter().filter(|&&z| chunk.contains(&z)) {
            s.save_snapshot(&snap(z)).unwrap();
        }
    }
    s
}

#[test]
fn snapshots_purge_the_log_and_recover() {
    let dir = TestDir::new("snap");
    let options = fast().segment_size(2 * record_len(10)).snapshots_to_keep(2);
    let s = store_with_snapshots(&dir, options.clone(), &[6, 12, 21, 27]);
    drop(s);
    // Two snapshots kept; segments before the older one (21) are gone.
    let snaps = files(dir.path(), "snap");
    assert_eq!(
        snaps
            .iter()
            .map(|p| p.file_name().unwrap().to_str().unwrap().to_owned())
            .collect::<Vec<_>>(),
        [codec::snapshot_name(21), codec::snapshot_name(27)]
    );
    let mut s = DirStorage::open(dir.path(), options).unwrap();
    let r = s.recover().unwrap();
    assert_eq!(r.snapshot, Some(snap(27)));
    assert_eq!(zxids(&r.log), [28, 29, 30]);
    let segments = files(dir.path(), "log");
    let first = segments[0].file_name().unwrap().to_str().unwrap();
    let first = codec::parse_name(first, "log").unwrap() as Zxid;
    assert!(first <= 22 && first > 12, "first segment starts at {first}");
}

#[test]
fn damaged_newest_snapshot_falls_back_to_the_previous_one() {
    let dir = TestDir::new("snapfall");
    let options = fast().segment_size(2 * record_len(10));
    drop(store_with_snapshots(&dir, options.clone(), &[9, 18]));
    let newest = files(dir.path(), "snap").pop().unwrap();
    let mut bytes = fs::read(&newest).unwrap();
    bytes[30] ^= 0x01;
    fs::write(&newest, &bytes).unwrap();

    let mut s = DirStorage::open(dir.path(), options.clone()).unwrap();
    let r = s.recover().unwrap();
    assert_eq!(r.snapshot, Some(snap(9)));
    assert_eq!(zxids(&r.log), (10..=30).collect::<Vec<_>>());
    assert!(!newest.exists());
    assert!(PathBuf::from(format!("{}.corrupt", newest.display())).exists());
    // The store goes on from the older snapshot.
    s.save_snapshot(&snap(30)).unwrap();
    drop(s);
    let r = DirStorage::open(dir.path(), options)
        .unwrap()
        .recover()
        .unwrap();
    assert_eq!((r.snapshot, r.log.len()), (Some(snap(30)), 0));
}

#[test]
fn no_readable_snapshot_before_a_purged_log_is_a_gap() {
    let dir = TestDir::new("gap");
    let options = fast().segment_size(2 * record_len(10));
    drop(store_with_snapshots(&dir, options.clone(), &[12]));
    let only = files(dir.path(), "snap").pop().unwrap();
    fs::write(&only, b"garbage").unwrap();
    let err = DirStorage::open(dir.path(), options).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidData, "{err}");
    assert!(err.to_string().contains("missing"), "{err}");
}

#[test]
fn missing_middle_segment_is_a_gap() {
    let dir = TestDir::new("hole");
    let options = fast().segment_size(1);
    drop(store_with_flushes(&dir, 0));
    let mut s = DirStorage::open(dir.path(), options.clone()).unwrap();
    for z in 1..=4 {
        s.append(&[e(z)]).unwrap();
        s.flush().unwrap();
    }
    drop(s);
    fs::remove_file(&files(dir.path(), "log")[1]).unwrap();
    let err = DirStorage::open(dir.path(), options).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidData, "{err}");
}

#[test]
fn missing_newest_segment_is_reported_not_a_shorter_log() {
    for keep_older in [true, false] {
        let dir = TestDir::new("deleted-newest");
        let options = fast().segment_size(1);
        let mut s = DirStorage::open(dir.path(), options.clone()).unwrap();
        for z in 1..=4 {
            s.append(&[e(z)]).unwrap();
            s.flush().unwrap();
        }
        drop(s);
        let logs = files(dir.path(), "log");
        let doomed = if keep_older { &logs[3..] } else { &logs[..] };
        for f in doomed {
            fs::remove_file(f).unwrap();
        }
        let err = DirStorage::open(dir.path(), options).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData, "{err}");
        assert!(
            err.to_string().contains("newest log segment is missing"),
            "{err}"
        );
    }
}

#[test]
fn the_head_follows_truncates_and_torn_segments() {
    let dir = TestDir::new("head");
    let options = fast().segment_size(1);
    let mut s = DirStorage::open(dir.path(), options.clone()).unwrap();
    for z in 1..=4 {
        s.append(&[e(z)]).unwrap();
        s.flush().unwrap();
    }
    // Segments after the cut go; the head names the one kept.
    s.truncate_after(2).unwrap();
    drop(s);
    assert_eq!(files(dir.path(), "log").len(), 2);
    let mut s = DirStorage::open(dir.path(), options.clone()).unwrap();
    assert_eq!(zxids(&s.recover().unwrap().log), vec![1, 2]);
    s.truncate_after(0).unwrap();
    drop(s);
    let mut s = DirStorage::open(dir.path(), options.clone()).unwrap();
    assert!(s.recover().unwrap().log.is_empty());
    // A new segment whose header was torn is removed; the head moves back.
    for z in 1..=2 {
        s.append(&[e(z)]).unwrap();
        s.flush().unwrap();
    }
    drop(s);
    let newest = files(dir.path(), "log").pop().unwrap();
    fs::write(&newest, b"ZKTS").unwrap();
    let mut s = DirStorage::open(dir.path(), options.clone()).unwrap();
    assert_eq!(zxids(&s.recover().unwrap().log), vec![1]);
    drop(s);
    let mut s = DirStorage::open(dir.path(), options).unwrap();
    assert_eq!(zxids(&s.recover().unwrap().log), vec![1]);
}

#[test]
fn leftover_segments_of_an_interrupted_purge_are_removed() {
    let dir = TestDir::new("leftover");
    let options = fast().segment_size(1).snapshots_to_keep(1);
    let mut s = DirStorage::open(dir.path(), options.clone()).unwrap();
    for z in 1..=4 {
        s.append(&[e(z)]).unwrap();
        s.flush().unwrap();
    }
    let segments = files(dir.path(), "log");
    let saved = fs::read(&segments[1]).unwrap();
    s.save_snapshot(&snap(3)).unwrap();
    drop(s);
    assert_eq!(files(dir.path(), "log").len(), 1);
    // The purge of segments 1..=3 was only partly durable: segment 2 is back.
    fs::write(&segments[1], saved).unwrap();
    let mut s = DirStorage::open(dir.path(), options).unwrap();
    let r = s.recover().unwrap();
    assert_eq!((r.snapshot, zxids(&r.log)), (Some(snap(3)), vec![4]));
    assert_eq!(files(dir.path(), "log").len(), 1);
}

#[test]
fn install_snapshot_replaces_everything() {
    let dir = TestDir::new("install");
    let options = fast().segment_size(2 * record_len(10));
    let mut s = store_with_snapshots(&dir, options.clone(), &[9]);
    s.save_epochs(Epochs {
        accepted: 2,
        current: 2,
    })
    .unwrap();
    s.append(&entries([31])).unwrap(); // unflushed: discarded by the install
    s.install_snapshot(&snap(20)).unwrap();
    assert_eq!(s.last_zxid(), 20);
    let r = s.recover().unwrap();
    assert_eq!((r.snapshot.as_ref(), r.log.len()), (Some(&snap(20)), 0));
    assert_eq!(r.epochs.accepted, 2, "epochs are not part of the install");
    s.append(&entries([21, 22])).unwrap();
    s.flush().unwrap();
    drop(s);

    let mut s = DirStorage::open(dir.path(), options).unwrap();
    let r = s.recover().unwrap();
    assert_eq!(r.snapshot, Some(snap(20)));
    assert_eq!(r.log, entries([21, 22]));
    // Only the new generation is left, holding one snapshot and one segment.
    assert!(gen_dir(dir.path()).ends_with(codec::generation_name(1)));
    assert_eq!(files(dir.path(), "snap").len(), 1);
    let segments = files(dir.path(), "log");
    assert_eq!(segments.len(), 1);
    // The new log continues from the installed snapshot.
    let header = fs::read(&segments[0]).unwrap();
    assert_eq!(header[8..16], 20i64.to_be_bytes());
}

/// A database with `n` nodes of 100 bytes, applied up to zxid `n`.
fn database(n: usize) -> crate::server::Database {
    use crate::tree::NodeKind;
    use zk_client::proto::Acl;
    let mut db = crate::server::Database::default();
    for i in 0..n {
        let data = Some(Bytes::from(vec![b'x'; 100]));
        let path = format!("/n{i}");
        db.tree
            .create(
                &path,
                data,
                &Acl::open_unsafe(),
                NodeKind::Persistent,
                i as i32,
                i as i64 + 1,
                0,
            )
            .unwrap();
    }
    db.sessions.insert(0x77, 4000);
    db.last_zxid = n as Zxid;
    db
}

#[test]
fn an_image_snapshot_is_written_and_read_back_as_its_encoding() {
    // Large enough that the directory store writes the file in many pieces.
    let mut db = database(5000);
    let zxid = db.last_zxid;
    let image = Snapshot {
        zxid,
        data: SnapshotData::image_of(&db),
    };
    let encoded = db.snapshot();
    assert!(encoded.len() > 3 * crate::server::database::SNAPSHOT_PIECE);
    assert_eq!(image.data.encoded_len(), encoded.len());

    let dir = TestDir::new("image");
    let mut d = DirStorage::open(dir.path(), fast()).unwrap();
    let mut m = MemoryStorage::new();
    d.append(&entries(1..=zxid)).unwrap();
    d.flush().unwrap();
    m.append(&entries(1..=zxid)).unwrap();
    m.flush().unwrap();
    d.save_snapshot(&image).unwrap();
    m.save_snapshot(&image).unwrap();
    // The live database moves on; the saved image does not.
    db.tree.delete("/n0", zxid + 1).unwrap();
    drop(d);

    let mut d = DirStorage::open(dir.path(), fast()).unwrap();
    for r in [d.recover().unwrap(), m.recover().unwrap()] {
        let got = r.snapshot.unwrap();
        assert_eq!(got.zxid, zxid);
        assert_eq!(got.data.to_bytes(), encoded);
        let back = got.data.to_database().unwrap();
        assert!(back.tree.get("/n0").is_some());
        assert_eq!(back.sessions, [(0x77, 4000)].into_iter().collect());
    }
    // An encoded snapshot goes through the file format unchanged.
    let short = Snapshot {
        zxid,
        data: Bytes::from_static(b"abc").into(),
    };
    let mut out = Vec::new();
    codec::write_snapshot_file(&mut out, &short).unwrap();
    assert_eq!(codec::decode_snapshot(&Bytes::from(out)).unwrap(), short);
}

/// Copies every file of directory `from` into a new directory `to`.
fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
    }
}

#[test]
fn install_interrupted_before_the_commit_keeps_the_old_state() {
    let dir = TestDir::new("installpre");
    let options = fast().segment_size(2 * record_len(10));
    drop(store_with_snapshots(&dir, options.clone(), &[9]));
    let before = DirStorage::open(dir.path(), options.clone())
        .unwrap()
        .recover()
        .unwrap();
    // The new generation was being written when the crash came.
    let tmp = dir
        .path()
        .join(format!("{}.tmp", codec::generation_name(1)));
    fs::create_dir(&tmp).unwrap();
    fs::write(
        tmp.join(codec::snapshot_name(99)),
        codec::encode_snapshot(&snap(99)),
    )
    .unwrap();
    let mut s = DirStorage::open(dir.path(), options).unwrap();
    assert_eq!(s.recover().unwrap(), before);
    assert!(!tmp.exists());
}

#[test]
fn install_interrupted_after_the_commit_keeps_the_new_state() {
    let dir = TestDir::new("installpost");
    let options = fast().segment_size(2 * record_len(10));
    let mut s = store_with_snapshots(&dir, options.clone(), &[9]);
    let old = gen_dir(dir.path());
    let saved = dir.path().join("saved");
    copy_dir(&old, &saved);
    s.install_snapshot(&snap(5)).unwrap();
    drop(s);
    // The crash came before the old generation was deleted.
    fs::rename(&saved, &old).unwrap();
    let mut s = DirStorage::open(dir.path(), options).unwrap();
    let r = s.recover().unwrap();
    assert_eq!((r.snapshot, r.log.len()), (Some(snap(5)), 0));
    assert!(!old.exists());
}

#[test]
fn a_failed_write_makes_the_store_refuse_further_calls() {
    let dir = TestDir::new("failed");
    let mut s = DirStorage::open(dir.path(), fast()).unwrap();
    fs::remove_dir_all(gen_dir(dir.path())).unwrap();
    s.append(&entries([1])).unwrap();
    assert!(s.flush().is_err());
    let err = s.append(&entries([2])).unwrap_err();
    assert!(err.to_string().contains("reopen"), "{err}");
    assert!(s.recover().is_err());
    // Reopening starts afresh.
    let mut s = DirStorage::open(dir.path(), fast()).unwrap();
    assert_eq!(s.recover().unwrap(), Recovered::default());
}

// ---------------------------------------------------------------------------
// Agreement between the backends
// ---------------------------------------------------------------------------

/// How often each operation succeeded and was refused, over a whole run.
#[derive(Default)]
struct Coverage {
    ops: std::collections::BTreeMap<&'static str, [u32; 2]>,
    /// Most log segments seen at once.
    max_segments: usize,
    /// Reopens that recovered a snapshot and a non-empty log.
    rich_reopens: u32,
}

/// Asserts that both results are equal values or errors of the same kind;
/// true if they are values.
fn same<T: PartialEq + std::fmt::Debug>(context: &str, m: io::Result<T>, d: io::Result<T>) -> bool {
    match (m, d) {
        (Ok(m), Ok(d)) => {
            assert_eq!(m, d, "{context}");
            true
        }
        (Err(m), Err(d)) => {
            assert_eq!(m.kind(), d.kind(), "{context}: {m} / {d}");
            false
        }
        (m, d) => panic!("{context}: memory {m:?}, dir {d:?}"),
    }
}

/// Runs one random history against both backends, comparing every result,
/// the introspection counters, and the recovered state after reopening.
/// Panics with the seed and step, so a failure replays.
fn agree(seed: u64, steps: usize, fsync: bool, coverage: &mut Coverage) {
    let mut rng = StdRng::seed_from_u64(seed);
    let dir = TestDir::new("agree");
    let options = DirOptions::default()
        .fsync(fsync)
        .segment_size(rng.random_range(40..400))
        .snapshots_to_keep(rng.random_range(1..=3));
    let memory = MemoryStorage::new();
    let mut mem = memory.clone();
    let mut disk = DirStorage::open(dir.path(), options.clone()).unwrap();

    let payload = |rng: &mut StdRng| {
        let mut bytes = vec![0u8; rng.random_range(0..48)];
        rng.fill(&mut bytes[..]);
        Bytes::from(bytes)
    };

    for step in 0..steps {
        let last = memory.last_zxid();
        let newest = memory.snapshot_zxid();
        let roll = rng.random_range(0..100);
        let (what, ok) = match roll {
            0..=39 => {
                let mut zxid = if rng.random_bool(0.05) {
                    last // refused: not increasing
                } else if rng.random_bool(0.1) {
                    (((last >> 32) + 1) << 32) | 1 // a new epoch
                } else {
                    last + rng.random_range(1..=3)
                };
                let mut batch = Vec::new();
                for _ in 0..rng.random_range(1..=5) {
                    batch.push(LogEntry {
                        zxid,
                        payload: payload(&mut rng),
                    });
                    zxid += rng.random_range(1..=2);
                }
                let context = format!("seed {seed} step {step}: append {:?}", zxids(&batch));
                (
                    "append",
                    same(&context, mem.append(&batch), disk.append(&batch)),
                )
            }
            40..=54 => {
                let context = format!("seed {seed} step {step}: flush");
                ("flush", same(&context, mem.flush(), disk.flush()))
            }
            55..=61 => {
                let zxid = if rng.random_bool(0.15) {
                    newest.unwrap_or(0) - 1
                } else {
                    (last - rng.random_range(0..=8)).max(0)
                };
                let context = format!("seed {seed} step {step}: truncate_after({zxid})");
                let ok = same(
                    &context,
                    mem.truncate_after(zxid),
                    disk.truncate_after(zxid),
                );
                ("truncate_after", ok)
            }
            62..=66 => {
                let epochs = Epochs {
                    accepted: rng.random_range(0..10),
                    current: rng.random_range(0..10),
                };
                let context = format!("seed {seed} step {step}: save_epochs");
                let ok = same(&context, mem.save_epochs(epochs), disk.save_epochs(epochs));
                ("save_epochs", ok)
            }
            67..=74 => {
                let low = newest.unwrap_or(0) - 1;
                let s = Snapshot {
                    zxid: rng.random_range(low..=last + 1),
                    data: payload(&mut rng).into(),
                };
                let context = format!("seed {seed} step {step}: save_snapshot({})", s.zxid);
                let ok = same(&context, mem.save_snapshot(&s), disk.save_snapshot(&s));
                ("save_snapshot", ok)
            }
            75..=77 => {
                let s = Snapshot {
                    zxid: if rng.random_bool(0.1) {
                        -1 // refused
                    } else {
                        rng.random_range((last - 20).max(0)..=last + 20)
                    },
                    data: payload(&mut rng).into(),
                };
                let context = format!("seed {seed} step {step}: install_snapshot({})", s.zxid);
                let ok = same(
                    &context,
                    mem.install_snapshot(&s),
                    disk.install_snapshot(&s),
                );
                ("install_snapshot", ok)
            }
            78..=87 => {
                let context = format!("seed {seed} step {step}: recover");
                ("recover", same(&context, mem.recover(), disk.recover()))
            }
            _ => {
                memory.crash();
                drop(disk);
                disk = DirStorage::open(dir.path(), options.clone())
                    .unwrap_or_else(|e| panic!("seed {seed} step {step}: reopen: {e}"));
                let (m, d) = (mem.recover(), disk.recover());
                if matches!(&m, Ok(r) if r.snapshot.is_some() && !r.log.is_empty()) {
                    coverage.rich_reopens += 1;
                }
                let context = format!("seed {seed} step {step}: crash, reopen, recover");
                ("reopen", same(&context, m, d))
            }
        };
        coverage.ops.entry(what).or_default()[usize::from(!ok)] += 1;
        coverage.max_segments = coverage.max_segments.max(disk.segment_count());
        assert_eq!(
            (
                memory.last_zxid(),
                memory.durable_zxid(),
                memory.unflushed_len()
            ),
            (disk.last_zxid(), disk.durable_zxid(), disk.unflushed_len()),
            "seed {seed} step {step}: counters after {what}"
        );
    }
    memory.crash();
    drop(disk);
    let mut disk = DirStorage::open(dir.path(), options).unwrap();
    same(
        &format!("seed {seed}: final reopen"),
        mem.recover(),
        disk.recover(),
    );
}

#[test]
fn backends_agree_on_random_histories() {
    let mut coverage = Coverage::default();
    for seed in 0..40 {
        agree(seed, 300, false, &mut coverage);
    }
    eprintln!(
        "coverage: {:?}, max segments {}, reopens with snapshot and log {}",
        coverage.ops, coverage.max_segments, coverage.rich_reopens
    );
    // The histories must reach the interesting cases, or the test proves little.
    let count =
        |op: &str, refused: bool| coverage.ops.get(op).map_or(0, |c| c[usize::from(refused)]);
    for op in ["append", "truncate_after", "save_snapshot"] {
        assert!(
            count(op, false) >= 100,
            "{op} succeeded {}",
            count(op, false)
        );
        assert!(count(op, true) >= 20, "{op} refused {}", count(op, true));
    }
    assert!(count("install_snapshot", false) >= 50);
    assert!(count("install_snapshot", true) >= 2);
    assert!(count("reopen", false) >= 200);
    assert!(coverage.rich_reopens >= 50, "{}", coverage.rich_reopens);
    assert!(coverage.max_segments >= 5, "{}", coverage.max_segments);
}

#[test]
fn backends_agree_with_fsync() {
    agree(1_000, 120, true, &mut Coverage::default());
}
