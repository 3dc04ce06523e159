//! ZooKeeper's per-session promises: a session never goes back in time.
//!
//! - **Monotonic zxids**: the zxids of a session's replies never decrease
//!   (a server behind the session's last seen zxid refuses it).
//! - **Sequentially consistent reads**: per session and register, the
//!   version read never decreases, and never falls below a version the
//!   session wrote itself (read your writes) — a session never sees the past
//!   after seeing the future.
//! - **No phantom values**: every value read was written by some write (or
//!   is the initial 0), at the version that write produced.
//! - **Watch streams**: the zxids of the events of one watch stream strictly
//!   increase (events fired while re-registering a watch carry -1 and are
//!   left out).

use super::history::{Call, History, HistoryOp, ProcessId, Ret};
use super::violation::Violation;
use std::collections::BTreeMap;

const NAME: &str = "sessions";

/// What was checked.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SessionStats {
    /// Sessions seen.
    pub sessions: usize,
    /// Reads checked.
    pub reads: usize,
}

/// Checks zxid monotonicity and read consistency of every session.
pub fn check(history: &History) -> Result<SessionStats, Violation> {
    let mut by_session: BTreeMap<i64, Vec<&HistoryOp>> = BTreeMap::new();
    for op in history.ops() {
        if op.session != 0 {
            by_session.entry(op.session).or_default().push(op);
        }
    }
    let writes = acked_writes(history)?;
    let mut stats = SessionStats {
        sessions: by_session.len(),
        reads: 0,
    };
    for ops in by_session.values() {
        monotonic_zxids(ops)?;
        stats.reads += reads_move_forward(ops, &writes)?;
    }
    Ok(stats)
}

fn monotonic_zxids(ops: &[&HistoryOp]) -> Result<(), Violation> {
    let mut done: Vec<&HistoryOp> = ops
        .iter()
        .copied()
        .filter(|o| o.complete.is_some() && o.zxid.is_some_and(|z| z > 0))
        .collect();
    done.sort_by_key(|o| (o.complete, o.id));
    let mut last: Option<&HistoryOp> = None;
    for op in done {
        if let Some(prev) = last {
            if op.zxid < prev.zxid {
                return Err(Violation::new(
                    NAME,
                    format!(
                        "session {:#x} went back in time: zxid {:#x} after {:#x}",
                        op.session,
                        op.zxid.unwrap_or(0),
                        prev.zxid.unwrap_or(0)
                    ),
                )
                .with_ops([prev, op]));
            }
        }
        last = Some(op);
    }
    Ok(())
}

/// Values written with a known version: (key, value) → (version, op).
type Written<'a> = BTreeMap<(&'a str, u64), (Option<i32>, &'a HistoryOp)>;

fn acked_writes(history: &History) -> Result<Written<'_>, Violation> {
    let mut out: Written<'_> = BTreeMap::new();
    for op in history.ops() {
        let (key, value) = match &op.call {
            Call::Write { key, value } | Call::Cas { key, value, .. } => (key.as_str(), *value),
            _ => continue,
        };
        let version = match &op.ret {
            Ret::Register { version, .. } => Some(*version),
            Ret::Unknown | Ret::Pending => None,
            _ => continue,
        };
        if let Some((_, other)) = out.insert((key, value), (version, op)) {
            return Err(Violation::new(
                NAME,
                format!("value {value} written twice to {key}: values must be unique"),
            )
            .with_ops([other, op]));
        }
    }
    Ok(out)
}

fn reads_move_forward(ops: &[&HistoryOp], writes: &Written<'_>) -> Result<usize, Violation> {
    let mut ordered: Vec<&HistoryOp> = ops.to_vec();
    ordered.sort_by_key(|o| (o.invoke, o.id));
    // Per key: the highest version this session saw or wrote, and where.
    let mut floor: BTreeMap<&str, (i32, &HistoryOp)> = BTreeMap::new();
    let mut reads = 0;
    for op in ordered {
        match (&op.call, &op.ret) {
            (Call::Write { key, .. } | Call::Cas { key, .. }, Ret::Register { version, .. }) => {
                raise(&mut floor, key, *version, op);
            }
            (Call::Read { key }, Ret::Register { value, version }) => {
                reads += 1;
                if let Some(&(seen, at)) = floor.get(key.as_str()) {
                    if *version < seen {
                        return Err(Violation::new(
                            NAME,
                            format!(
                                "session {:#x} read version {version} of {key} after having \
                                 seen version {seen}",
                                op.session
                            ),
                        )
                        .with_ops([at, op]));
                    }
                }
                explained(key, *value, *version, op, writes)?;
                raise(&mut floor, key, *version, op);
            }
            _ => {}
        }
    }
    Ok(reads)
}

fn raise<'a>(
    floor: &mut BTreeMap<&'a str, (i32, &'a HistoryOp)>,
    key: &'a str,
    v: i32,
    op: &'a HistoryOp,
) {
    let e = floor.entry(key).or_insert((v, op));
    if v >= e.0 {
        *e = (v, op);
    }
}

/// A read of (value, version) must come from a write of that value.
fn explained(
    key: &str,
    value: u64,
    version: i32,
    op: &HistoryOp,
    writes: &Written<'_>,
) -> Result<(), Violation> {
    if value == 0 {
        return if version == 0 {
            Ok(())
        } else {
            Err(Violation::new(
                NAME,
                format!("read of {key} shows the initial value at version {version}"),
            )
            .with_ops([op]))
        };
    }
    match writes.get(&(key, value)) {
        None => Err(Violation::new(
            NAME,
            format!("read of {key} shows value {value}, which no write wrote"),
        )
        .with_ops([op])),
        Some((Some(v), w)) if *v != version => Err(Violation::new(
            NAME,
            format!(
                "read of {key} shows value {value} at version {version}; it was written at {v}"
            ),
        )
        .with_ops([*w, op])),
        Some(_) => Ok(()),
    }
}

/// The events one watch stream delivered: its owner and their zxids, in
/// delivery order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchStream {
    /// The process that watched.
    pub process: ProcessId,
    /// The session the watch lived in.
    pub session: i64,
    /// The watched path.
    pub path: String,
    /// Zxids of the delivered node events (-1 for re-registration events).
    pub zxids: Vec<i64>,
}

/// Checks that the zxids of every watch stream strictly increase.
pub fn check_watch_streams(streams: &[WatchStream]) -> Result<usize, Violation> {
    let mut events = 0;
    for s in streams {
        let mut last = i64::MIN;
        for (i, &z) in s.zxids.iter().enumerate() {
            if z < 0 {
                continue;
            }
            events += 1;
            if z <= last {
                return Err(Violation::new(
                    NAME,
                    format!(
                        "watch stream of p{} (session {:#x}) on {}: event {i} has zxid {z:#x} \
                         after {last:#x}",
                        s.process, s.session, s.path
                    ),
                ));
            }
            last = z;
        }
    }
    Ok(events)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn at(ms: u64) -> Duration {
        Duration::from_millis(ms)
    }

    fn read() -> Call {
        Call::Read { key: "r".into() }
    }

    fn write(value: u64) -> Call {
        Call::Write {
            key: "r".into(),
            value,
        }
    }

    fn reg(value: u64, version: i32) -> Ret {
        Ret::Register { value, version }
    }

    #[test]
    fn accepts_stale_but_monotonic_reads_on_a_follower() {
        let mut h = History::new();
        // p1 writes twice; p2's session reads from a lagging follower: stale
        // (the initial value, then version 1) but never going back.
        h.record(1, 10, write(5), at(0), reg(5, 1), Some(0x101));
        h.record(1, 10, write(6), at(1), reg(6, 2), Some(0x102));
        h.record(2, 20, read(), at(2), reg(0, 0), Some(0x100));
        h.record(2, 20, read(), at(3), reg(5, 1), Some(0x101));
        h.record(2, 20, read(), at(4), reg(5, 1), Some(0x101));
        // p1 reads its own write.
        h.record(1, 10, read(), at(5), reg(6, 2), Some(0x102));
        let stats = check(&h).expect("consistent");
        assert_eq!((stats.sessions, stats.reads), (2, 4));
    }

    #[test]
    fn detects_a_session_that_reads_the_past_after_the_future() {
        let mut h = History::new();
        h.record(1, 10, write(5), at(0), reg(5, 1), Some(0x101));
        h.record(1, 10, write(6), at(1), reg(6, 2), Some(0x102));
        h.record(2, 20, read(), at(2), reg(6, 2), Some(0x102));
        // After reconnecting to a lagging member (which must have refused).
        h.record(2, 20, read(), at(3), reg(5, 1), Some(0x102));
        let v = check(&h).unwrap_err();
        assert!(v.message.contains("after having seen version 2"), "{v}");
    }

    #[test]
    fn detects_a_read_missing_the_sessions_own_write() {
        let mut h = History::new();
        h.record(1, 10, write(5), at(0), reg(5, 1), Some(0x101));
        h.record(1, 10, read(), at(1), reg(0, 0), Some(0x101));
        assert!(check(&h).is_err());
    }

    #[test]
    fn detects_zxids_going_backwards_and_phantom_values() {
        let mut h = History::new();
        h.record(1, 10, read(), at(0), reg(0, 0), Some(0x105));
        h.record(1, 10, read(), at(1), reg(0, 0), Some(0x104));
        let v = check(&h).unwrap_err();
        assert!(v.message.contains("went back in time"), "{v}");
        let mut h = History::new();
        h.record(1, 10, read(), at(0), reg(77, 3), Some(0x105));
        let v = check(&h).unwrap_err();
        assert!(v.message.contains("no write wrote"), "{v}");
        let mut h = History::new();
        h.record(1, 10, write(7), at(0), reg(7, 1), Some(0x105));
        h.record(2, 20, read(), at(1), reg(7, 2), Some(0x106));
        assert!(check(&h).is_err(), "value read at the wrong version");
    }

    #[test]
    fn watch_streams_must_move_forward() {
        let ok = WatchStream {
            process: 1,
            session: 10,
            path: "/w".into(),
            zxids: vec![0x101, -1, 0x102, 0x200],
        };
        assert_eq!(check_watch_streams(std::slice::from_ref(&ok)), Ok(3));
        let mut bad = ok;
        bad.zxids.push(0x150);
        assert!(check_watch_streams(&[bad]).is_err());
    }
}
