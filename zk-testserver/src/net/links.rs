//! The in-process network between members, with faults under test control.
//!
//! Every ordered pair of members has a link that delivers [`ZabMessage`]s in
//! FIFO order. A link can be cut (one way), delayed, or made lossy (each
//! message dropped with a probability drawn from one seeded generator, so a
//! run with the same seed and the same message order drops the same
//! messages). Partitions are sets of cuts.
//!
//! Killing a member [`detaches`](Network::detach) it: messages to it are
//! dropped, and every peer still linked to it learns of the reset (as a TCP
//! connection reports a dead process), after the messages the dead member
//! sent before. A cut link carries no reset: a partition is only noticed by
//! timeouts, as on a real network.

use crate::zab::{MemberId, ZabMessage};
use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::Instant;

/// What arrives in a member's mailbox.
#[derive(Debug)]
pub enum PeerInput {
    /// A message from a peer.
    Message {
        /// The sender.
        from: MemberId,
        /// The message.
        msg: ZabMessage,
    },
    /// The link from `from` was reset: its process died.
    Reset {
        /// The dead peer.
        from: MemberId,
    },
}

/// The settings of one directed link.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct LinkFaults {
    /// Nothing gets through.
    pub cut: bool,
    /// Every message is held this long (order is kept).
    pub delay: Duration,
    /// Probability that a message is lost.
    pub drop_rate: f64,
}

/// The network shared by the members of one ensemble (a cheap handle).
#[derive(Clone)]
pub struct Network {
    inner: Arc<Mutex<Inner>>,
}

struct Mailbox {
    incarnation: u64,
    tx: mpsc::UnboundedSender<PeerInput>,
}

struct Delayed {
    due: Instant,
    incarnation: u64,
    input: PeerInput,
}

#[derive(Default)]
struct Link {
    faults: LinkFaults,
    /// Messages waiting in the link's delivery task.
    in_flight: usize,
    last_due: Option<Instant>,
    queue: Option<mpsc::UnboundedSender<Delayed>>,
}

struct Inner {
    rng: Xoshiro256PlusPlus,
    next_incarnation: u64,
    mailboxes: BTreeMap<MemberId, Mailbox>,
    links: BTreeMap<(MemberId, MemberId), Link>,
    members: Vec<MemberId>,
}

impl std::fmt::Debug for Network {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Network").finish_non_exhaustive()
    }
}

impl Network {
    /// A network for `members`, all links perfect; `seed` drives the drops.
    pub fn new(members: &[MemberId], seed: u64) -> Network {
        Network {
            inner: Arc::new(Mutex::new(Inner {
                rng: Xoshiro256PlusPlus::seed_from_u64(seed),
                next_incarnation: 1,
                mailboxes: BTreeMap::new(),
                links: BTreeMap::new(),
                members: members.to_vec(),
            })),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        lock(&self.inner)
    }

    /// Connects (a new incarnation of) member `id`; its inputs arrive on the
    /// returned receiver.
    pub fn attach(&self, id: MemberId) -> mpsc::UnboundedReceiver<PeerInput> {
        let (tx, rx) = mpsc::unbounded_channel();
        let mut g = self.lock();
        let incarnation = g.next_incarnation;
        g.next_incarnation += 1;
        g.mailboxes.insert(id, Mailbox { incarnation, tx });
        rx
    }

    /// Disconnects member `id` (it was killed): nothing more reaches it, and
    /// every peer whose link from `id` is not cut gets a reset.
    pub fn detach(&self, id: MemberId) {
        let others: Vec<MemberId> = {
            let mut g = self.lock();
            g.mailboxes.remove(&id);
            g.mailboxes.keys().copied().collect()
        };
        for to in others {
            self.deliver(id, to, PeerInput::Reset { from: id }, false);
        }
    }

    /// Sends `msg` from `from` to `to`, subject to the link's faults.
    pub fn send(&self, from: MemberId, to: MemberId, msg: ZabMessage) {
        self.deliver(from, to, PeerInput::Message { from, msg }, true);
    }

    fn deliver(&self, from: MemberId, to: MemberId, input: PeerInput, lossy: bool) {
        let mut g = self.lock();
        let g = &mut *g;
        let link = g.links.entry((from, to)).or_default();
        if link.faults.cut {
            return;
        }
        if lossy && link.faults.drop_rate > 0.0 && g.rng.random_bool(link.faults.drop_rate.min(1.0))
        {
            tracing::trace!(from, to, "message dropped by the network");
            return;
        }
        let Some(mailbox) = g.mailboxes.get(&to) else {
            return;
        };
        if link.faults.delay.is_zero() && link.in_flight == 0 {
            let _ = mailbox.tx.send(input);
            return;
        }
        let now = Instant::now();
        let due = link
            .last_due
            .map_or(now + link.faults.delay, |d| d.max(now + link.faults.delay));
        link.last_due = Some(due);
        link.in_flight += 1;
        let queue = link.queue.get_or_insert_with(|| {
            let (tx, rx) = mpsc::unbounded_channel();
            tokio::spawn(run_link(Arc::downgrade(&self.inner), from, to, rx));
            tx
        });
        let _ = queue.send(Delayed {
            due,
            incarnation: mailbox.incarnation,
            input,
        });
    }

    /// The faults of the link from `from` to `to`.
    pub fn faults(&self, from: MemberId, to: MemberId) -> LinkFaults {
        self.lock()
            .links
            .get(&(from, to))
            .map(|l| l.faults)
            .unwrap_or_default()
    }

    fn update(&self, from: MemberId, to: MemberId, f: impl FnOnce(&mut LinkFaults)) {
        if from == to {
            return;
        }
        let mut g = self.lock();
        f(&mut g.links.entry((from, to)).or_default().faults);
    }

    /// Cuts the link from `from` to `to` (one way; messages in flight on it
    /// are lost).
    pub fn cut(&self, from: MemberId, to: MemberId) {
        self.update(from, to, |l| l.cut = true);
    }

    /// Splits the members into `groups`: every link between two groups is cut
    /// both ways; a member in no group is cut off from everyone.
    pub fn partition(&self, groups: &[&[MemberId]]) {
        let members = self.lock().members.clone();
        let group_of = |id: MemberId| groups.iter().position(|g| g.contains(&id));
        for &a in &members {
            for &b in &members {
                if a != b && (group_of(a).is_none() || group_of(a) != group_of(b)) {
                    self.cut(a, b);
                }
            }
        }
    }

    /// Holds every message from `from` to `to` for `delay` (order is kept).
    pub fn delay(&self, from: MemberId, to: MemberId, delay: Duration) {
        self.update(from, to, |l| l.delay = delay);
    }

    /// Drops each message from `from` to `to` with probability `p`.
    pub fn drop_rate(&self, from: MemberId, to: MemberId, p: f64) {
        self.update(from, to, |l| l.drop_rate = p.clamp(0.0, 1.0));
    }

    /// Restores every link: no cuts, delays or drops.
    pub fn heal(&self) {
        let mut g = self.lock();
        for link in g.links.values_mut() {
            link.faults = LinkFaults::default();
        }
    }
}

fn lock(inner: &Mutex<Inner>) -> MutexGuard<'_, Inner> {
    // Every critical section leaves the state consistent.
    inner.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Delivers a delayed link's messages in order, each at its due time.
async fn run_link(
    inner: Weak<Mutex<Inner>>,
    from: MemberId,
    to: MemberId,
    mut rx: mpsc::UnboundedReceiver<Delayed>,
) {
    while let Some(d) = rx.recv().await {
        tokio::time::sleep_until(d.due).await;
        let Some(inner) = inner.upgrade() else {
            return;
        };
        let mut g = lock(&inner);
        let g = &mut *g;
        let Some(link) = g.links.get_mut(&(from, to)) else {
            continue;
        };
        link.in_flight = link.in_flight.saturating_sub(1);
        if link.faults.cut {
            continue;
        }
        if let Some(mb) = g.mailboxes.get(&to) {
            if mb.incarnation == d.incarnation {
                let _ = mb.tx.send(d.input);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ping(n: i64) -> ZabMessage {
        ZabMessage::Ping {
            last: n,
            committed: 0,
        }
    }

    fn got(rx: &mut mpsc::UnboundedReceiver<PeerInput>) -> Vec<i64> {
        let mut v = Vec::new();
        while let Ok(PeerInput::Message {
            msg: ZabMessage::Ping { last, .. },
            ..
        }) = rx.try_recv()
        {
            v.push(last);
        }
        v
    }

    #[tokio::test]
    async fn cuts_delays_drops_and_resets() {
        let net = Network::new(&[1, 2, 3], 7);
        let _r1 = net.attach(1);
        let mut r2 = net.attach(2);
        let mut r3 = net.attach(3);
        net.send(1, 2, ping(1));
        assert_eq!(got(&mut r2), [1]);
        // One-way cut.
        net.cut(1, 2);
        net.send(1, 2, ping(2));
        net.send(2, 1, ping(3));
        assert!(got(&mut r2).is_empty());
        // Delay keeps order, also when the delay is lifted midway.
        net.heal();
        net.delay(1, 2, Duration::from_millis(50));
        net.send(1, 2, ping(4));
        net.delay(1, 2, Duration::ZERO);
        net.send(1, 2, ping(5));
        assert!(got(&mut r2).is_empty());
        let mut late = Vec::new();
        while late.len() < 2 {
            let next = tokio::time::timeout(Duration::from_secs(5), r2.recv()).await;
            if let Ok(Some(PeerInput::Message {
                msg: ZabMessage::Ping { last, .. },
                ..
            })) = next
            {
                late.push(last);
            } else {
                panic!("delayed messages not delivered: {next:?}");
            }
        }
        assert_eq!(late, [4, 5]);
        // Drops: all or nothing at the extremes.
        net.drop_rate(1, 3, 1.0);
        net.send(1, 3, ping(6));
        assert!(got(&mut r3).is_empty());
        net.drop_rate(1, 3, 0.0);
        // A partition isolates the minority both ways.
        net.partition(&[&[1], &[2, 3]]);
        net.send(2, 1, ping(7));
        net.send(2, 3, ping(8));
        assert_eq!(got(&mut r3), [8]);
        net.heal();
        // A killed member's peers get a reset.
        net.detach(1);
        assert!(matches!(r2.try_recv(), Ok(PeerInput::Reset { from: 1 })));
        net.send(2, 1, ping(9));
    }
}
