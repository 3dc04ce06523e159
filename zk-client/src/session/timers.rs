//! The session machine's timers: a small table of deadlines whose minimum is
//! the machine's `poll_timeout()`.

use std::time::Instant;

/// A kind of deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Timer {
    /// The handshake must complete by then.
    Handshake,
    /// Send a ping if nothing was sent since.
    Ping,
    /// The connection is dead if nothing arrived since.
    Read,
    /// The session is lost if no server answered since.
    SessionLoss,
    /// Give up waiting for the closeSession reply.
    Close,
}

const COUNT: usize = 5;

/// Deadlines by kind.
#[derive(Debug, Default, Clone)]
pub(crate) struct Timers([Option<Instant>; COUNT]);

impl Timers {
    pub(crate) fn set(&mut self, timer: Timer, at: Instant) {
        self.0[timer as usize] = Some(at);
    }

    pub(crate) fn stop(&mut self, timer: Timer) {
        self.0[timer as usize] = None;
    }

    pub(crate) fn get(&self, timer: Timer) -> Option<Instant> {
        self.0[timer as usize]
    }

    /// Whether `timer` is set and due at `now`.
    pub(crate) fn expired(&self, timer: Timer, now: Instant) -> bool {
        self.get(timer).is_some_and(|at| at <= now)
    }

    pub(crate) fn next(&self) -> Option<Instant> {
        self.0.iter().flatten().min().copied()
    }

    pub(crate) fn clear(&mut self) {
        self.0 = [None; COUNT];
    }
}
