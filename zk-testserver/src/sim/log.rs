//! The event log of a simulation: a running hash of every event (the
//! determinism fingerprint) and, on demand, the events as text.

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::time::Duration;

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// FNV-1a over `bytes`, continuing from `hash` (stable across Rust versions
/// and platforms, unlike the standard hasher).
pub fn fnv1a(mut hash: u64, bytes: &[u8]) -> u64 {
    for b in bytes {
        hash ^= u64::from(*b);
        hash = hash.wrapping_mul(FNV_PRIME);
    }
    hash
}

/// Hash and count of the events, and the last lines when asked to keep them.
#[derive(Debug, Clone)]
pub struct EventLog {
    hash: u64,
    count: u64,
    keep: usize,
    tail: VecDeque<String>,
    line: String,
    print: bool,
}

impl EventLog {
    /// A log keeping the last `keep` lines (0: none) and printing every
    /// line to stderr if `print`.
    pub fn new(keep: usize, print: bool) -> EventLog {
        EventLog {
            hash: FNV_OFFSET,
            count: 0,
            keep,
            tail: VecDeque::new(),
            line: String::new(),
            print,
        }
    }

    /// Records one event at `at`, described by `what`, and `payload` bytes
    /// that go into the hash only.
    pub fn record(&mut self, at: Duration, what: std::fmt::Arguments<'_>, payload: &[u8]) {
        self.line.clear();
        let _ = write!(self.line, "{:>10.6} {what}", at.as_secs_f64());
        self.hash = fnv1a(self.hash, self.line.as_bytes());
        self.hash = fnv1a(self.hash, payload);
        self.count += 1;
        if self.print {
            eprintln!("{}", self.line);
        }
        if self.keep > 0 {
            if self.tail.len() == self.keep {
                self.tail.pop_front();
            }
            self.tail.push_back(self.line.clone());
        }
    }

    /// The fingerprint of every event so far.
    pub fn hash(&self) -> u64 {
        self.hash
    }

    /// How many events were recorded.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// The last lines kept.
    pub fn tail(&self) -> Vec<String> {
        self.tail.iter().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hash_depends_on_every_event_and_their_order() {
        let mut a = EventLog::new(2, false);
        let mut b = EventLog::new(0, false);
        a.record(Duration::ZERO, format_args!("x {}", 1), b"p");
        a.record(Duration::ZERO, format_args!("y"), b"");
        b.record(Duration::ZERO, format_args!("y"), b"");
        b.record(Duration::ZERO, format_args!("x {}", 1), b"p");
        assert_ne!(a.hash(), b.hash());
        assert_eq!(a.count(), 2);
        assert_eq!(a.tail().len(), 2);
        assert!(b.tail().is_empty());
        assert_eq!(fnv1a(FNV_OFFSET, b""), FNV_OFFSET);
    }
}
