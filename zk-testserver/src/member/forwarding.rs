//! Numbering of forwarded writes: the follower's outbound stream and the
//! leader's check of each follower's stream.
//!
//! A lost forward cannot be replayed (the follower does not keep it), and a
//! client request must not be left unanswered silently. When the leader sees
//! a hole in a stream, it drops that follower as a learner; the follower then
//! stops hearing from it, rejoins, and in doing so stops serving, which
//! closes its client connections and so fails every request it had in
//! flight (clients reconnect and retry, as after any connection loss).

use crate::zab::MemberId;
use std::collections::BTreeMap;

/// A follower's numbering of what it forwards to its current leader.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Outbound {
    pub(crate) epoch: u32,
    pub(crate) stream: u64,
    pub(crate) last_seq: u64,
}

impl Outbound {
    pub(crate) fn new(epoch: u32, stream: u64) -> Outbound {
        Outbound {
            epoch,
            stream,
            last_seq: 0,
        }
    }

    /// The number of the next forward.
    pub(crate) fn next(&mut self) -> u64 {
        self.last_seq += 1;
        self.last_seq
    }
}

/// What the leader makes of a numbered message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// In order: act on it.
    Accept,
    /// Something before it was lost: drop the follower.
    Gap,
    /// From a stream already found broken: ignore.
    Ignore,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stream {
    Open { stream: u64, expected: u64 },
    Broken { stream: u64 },
}

/// The leader's view of every follower's stream.
#[derive(Debug, Default)]
pub(crate) struct Inbound {
    streams: BTreeMap<MemberId, Stream>,
}

impl Inbound {
    /// Forgets every stream (a new leadership).
    pub(crate) fn clear(&mut self) {
        self.streams.clear();
    }

    fn current(&mut self, from: MemberId, stream: u64) -> &mut Stream {
        let s = self.streams.entry(from).or_insert(Stream::Open {
            stream,
            expected: 1,
        });
        let known = match *s {
            Stream::Open { stream, .. } | Stream::Broken { stream } => stream,
        };
        if known != stream {
            *s = Stream::Open {
                stream,
                expected: 1,
            };
        }
        s
    }

    /// A forward numbered `seq`.
    pub(crate) fn forward(&mut self, from: MemberId, stream: u64, seq: u64) -> Verdict {
        let s = self.current(from, stream);
        match *s {
            Stream::Broken { .. } => Verdict::Ignore,
            Stream::Open { expected, .. } if seq == expected => {
                *s = Stream::Open {
                    stream,
                    expected: expected + 1,
                };
                Verdict::Accept
            }
            Stream::Open { .. } => {
                *s = Stream::Broken { stream };
                Verdict::Gap
            }
        }
    }

    /// A touch report saying the stream's last forward was `last_seq`.
    pub(crate) fn touch(&mut self, from: MemberId, stream: u64, last_seq: u64) -> Verdict {
        let s = self.current(from, stream);
        match *s {
            Stream::Broken { .. } => Verdict::Ignore,
            Stream::Open { expected, .. } if last_seq < expected => Verdict::Accept,
            Stream::Open { .. } => {
                *s = Stream::Broken { stream };
                Verdict::Gap
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gaps_are_found_by_forwards_and_touches() {
        let mut i = Inbound::default();
        assert_eq!(i.touch(2, 10, 0), Verdict::Accept);
        assert_eq!(i.forward(2, 10, 1), Verdict::Accept);
        assert_eq!(i.forward(2, 10, 2), Verdict::Accept);
        assert_eq!(i.touch(2, 10, 2), Verdict::Accept);
        // Forward 3 was lost; the touch says 3 was sent.
        assert_eq!(i.touch(2, 10, 3), Verdict::Gap);
        assert_eq!(i.forward(2, 10, 4), Verdict::Ignore);
        // A new stream (the follower rejoined) starts afresh.
        assert_eq!(i.forward(2, 11, 1), Verdict::Accept);
        assert_eq!(i.forward(2, 11, 3), Verdict::Gap);
        // Another follower is independent.
        assert_eq!(i.forward(3, 1, 2), Verdict::Gap);
        let mut o = Outbound::new(1, 5);
        assert_eq!((o.next(), o.next(), o.last_seq), (1, 2, 2));
    }
}
