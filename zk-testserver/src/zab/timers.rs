//! Timers are data: a small table of deadlines, one per kind.

use std::time::Instant;

/// The kinds of timer a member arms.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Timer {
    /// LOOKING: resend notifications. LEADING: ping followers and check the quorum.
    Heartbeat,
    /// LOOKING: a quorum agrees; decide unless a better vote arrived.
    Finalize,
    /// FOLLOWING: the leader has gone silent. LEADING: discovery/sync took too long.
    Deadline,
}

const KINDS: usize = 3;

impl Timer {
    fn index(self) -> usize {
        match self {
            Timer::Heartbeat => 0,
            Timer::Finalize => 1,
            Timer::Deadline => 2,
        }
    }

    const ALL: [Timer; KINDS] = [Timer::Heartbeat, Timer::Finalize, Timer::Deadline];
}

/// Deadline per timer kind; the earliest is the member's `poll_timeout`.
#[derive(Debug, Default)]
pub(crate) struct Timers {
    table: [Option<Instant>; KINDS],
}

impl Timers {
    pub(crate) fn set(&mut self, timer: Timer, at: Instant) {
        self.table[timer.index()] = Some(at);
    }

    pub(crate) fn stop(&mut self, timer: Timer) {
        self.table[timer.index()] = None;
    }

    pub(crate) fn clear(&mut self) {
        self.table = [None; KINDS];
    }

    pub(crate) fn get(&self, timer: Timer) -> Option<Instant> {
        self.table[timer.index()]
    }

    pub(crate) fn next(&self) -> Option<Instant> {
        self.table.iter().flatten().min().copied()
    }

    /// Disarms and returns the timers that are due at `now`.
    pub(crate) fn expired(&mut self, now: Instant) -> Vec<Timer> {
        let mut due = Vec::new();
        for timer in Timer::ALL {
            if self.get(timer).is_some_and(|at| at <= now) {
                self.stop(timer);
                due.push(timer);
            }
        }
        due
    }
}
