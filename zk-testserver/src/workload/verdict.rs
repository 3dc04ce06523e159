//! Running every checker over one run.

use super::Finals;
use crate::check::{
    ids, linearizable, lock, lost, members, queue, sessions, History, MemberView, Violation,
    WatchStream,
};

/// What the checkers saw in one run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    /// Operations in the history.
    pub ops: usize,
    /// Operations with an unknown outcome.
    pub unknown: usize,
    /// Register operations searched for a linearization.
    pub linearized: usize,
    /// Registers whose search ran out of budget (no verdict).
    pub inconclusive: usize,
    /// Reads checked for per-session consistency.
    pub reads: usize,
    /// Watch events checked.
    pub watch_events: usize,
    /// Ids acknowledged.
    pub ids: usize,
    /// Queue items delivered.
    pub delivered: usize,
    /// Lock acquisitions.
    pub acquisitions: usize,
    /// Leadership terms won (leader latches).
    pub leaderships: usize,
    /// Semaphore leases granted.
    pub leases: usize,
    /// Successful writes fenced by a lock, a leadership or a lease.
    pub fenced_writes: usize,
    /// Ephemerals checked on members.
    pub ephemerals: usize,
}

impl std::ops::AddAssign<&Summary> for Summary {
    /// Adds another run's counts (totals over many seeds).
    fn add_assign(&mut self, other: &Summary) {
        // Destructured, so that a new field cannot be left out of totals.
        let Summary {
            ops,
            unknown,
            linearized,
            inconclusive,
            reads,
            watch_events,
            ids,
            delivered,
            acquisitions,
            leaderships,
            leases,
            fenced_writes,
            ephemerals,
        } = other;
        self.ops += ops;
        self.unknown += unknown;
        self.linearized += linearized;
        self.inconclusive += inconclusive;
        self.reads += reads;
        self.watch_events += watch_events;
        self.ids += ids;
        self.delivered += delivered;
        self.acquisitions += acquisitions;
        self.leaderships += leaderships;
        self.leases += leases;
        self.fenced_writes += fenced_writes;
        self.ephemerals += ephemerals;
    }
}

/// Runs every checker; the first violation found, if any.
pub fn verdict(
    history: &History,
    streams: &[WatchStream],
    finals: &Finals,
    views: &[MemberView],
) -> Result<Summary, Violation> {
    let lin = linearizable::check(history)?;
    let sess = sessions::check(history)?;
    let watch_events = sessions::check_watch_streams(streams)?;
    lost::check(history, &finals.registers)?;
    let ids = ids::check(history, &finals.ids)?;
    let q = queue::check(history, &finals.queue)?;
    let l = lock::check(history)?;
    members::check_digests(views)?;
    let ephemerals = members::check_ephemerals(history, views)?;
    Ok(Summary {
        ops: history.len(),
        unknown: history.unknown_count(),
        linearized: lin.ops,
        inconclusive: lin.inconclusive.len(),
        reads: sess.reads,
        watch_events,
        ids,
        delivered: q.delivered,
        acquisitions: l.acquired,
        fenced_writes: l.writes,
        ephemerals,
        ..Summary::default()
    })
}
