//! The one catalogue of faults both fault injectors draw from: a pure
//! function from a random stream and a snapshot of the ensemble to the next
//! fault, with no I/O and no clock.
//!
//! Two executors carry the faults out: the simulator's nemesis
//! (`sim/faults.rs`, on simulated members, links and disks) and the chaos
//! nemesis (`chaos/nemesis.rs`, through the [`Ensemble`](crate::Ensemble)
//! API). Each tells the plan what it can do ([`Abilities`]); a kind it
//! cannot carry out is never drawn, so the two worlds share weights and
//! ranges instead of keeping two lists.
//!
//! Durations are drawn in ticks of the ensemble, so the same plan paces a
//! simulated ensemble on 100 ms ticks and a real one on 25 ms ticks alike.
//!
//! Adding a fault: a [`Kind`] with its weight in [`WEIGHTS`], a [`Fault`]
//! variant drawn in [`FaultPlan::draw`], an ability if not every executor
//! can do it, and an arm in each executor.

use crate::failpoint::{Action, Failpoint};
use crate::zab::MemberId;
use rand::seq::SliceRandom;
use rand::{Rng, RngExt};
use std::time::Duration;

/// A client process of the simulator (the real ensemble cannot address
/// one client's connection).
pub(crate) type ClientId = usize;

/// One fault, with everything random about it already drawn.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Fault {
    /// A member crashes (what it had not flushed is lost; with `wipe`, its
    /// whole disk), and starts again after `down`.
    Crash {
        member: MemberId,
        wipe: bool,
        down: Duration,
    },
    /// Several members lose power at once, each coming back after its own
    /// pause.
    PowerLoss { members: Vec<(MemberId, Duration)> },
    /// A member that is down starts again.
    Restart { member: MemberId },
    /// The members split in two groups that cannot reach each other (the
    /// first group may be the leader alone).
    Partition {
        sides: [Vec<MemberId>; 2],
        heal_after: Duration,
    },
    /// Messages from `from` to `to` are lost (one way).
    OneWay {
        from: MemberId,
        to: MemberId,
        heal_after: Duration,
    },
    /// Messages from `from` to `to` are lost with probability `loss`.
    Lossy {
        from: MemberId,
        to: MemberId,
        loss: f64,
        heal_after: Duration,
    },
    /// Messages from `from` to `to` are late by `delay`.
    Slow {
        from: MemberId,
        to: MemberId,
        delay: Duration,
        heal_after: Duration,
    },
    /// The leader expires a session.
    Expire { session: i64 },
    /// A member drops every client connection.
    DropConnections { member: MemberId },
    /// A client cannot reach a member (what was in flight is held, as TCP
    /// would).
    ClientCut {
        client: ClientId,
        member: MemberId,
        heal_after: Duration,
    },
    /// A member stops for a while (a GC pause, a stopped VM).
    Pause { member: MemberId, pause: Duration },
    /// A failpoint armed on a member.
    Failpoint {
        member: MemberId,
        point: Failpoint,
        action: Action,
    },
    /// A member's disk flushes slowly for a while.
    SlowDisk {
        member: MemberId,
        flush: Duration,
        heal_after: Duration,
    },
}

/// The kinds of fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Crash,
    PowerLoss,
    CrashWipe,
    Restart,
    Partition,
    IsolateLeader,
    OneWay,
    Lossy,
    Slow,
    Expire,
    DropConnections,
    ClientCut,
    Pause,
    Failpoint,
    SlowDisk,
    /// An observer crashes (a quarter of the time with its disk).
    CrashObserver,
    /// An observer is cut off from every other member.
    IsolateObserver,
}

/// How often each kind is drawn, relative to the others.
pub(crate) const WEIGHTS: [(Kind, u32); 17] = [
    (Kind::Crash, 8),
    (Kind::PowerLoss, 3),
    (Kind::CrashWipe, 3),
    (Kind::Restart, 5),
    (Kind::Partition, 6),
    (Kind::IsolateLeader, 5),
    (Kind::OneWay, 4),
    (Kind::Lossy, 4),
    (Kind::Slow, 3),
    (Kind::Expire, 5),
    (Kind::DropConnections, 4),
    (Kind::ClientCut, 4),
    (Kind::Pause, 4),
    (Kind::Failpoint, 6),
    (Kind::SlowDisk, 3),
    (Kind::CrashObserver, 4),
    (Kind::IsolateObserver, 4),
];

/// What an executor can carry out beyond what every executor can.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Abilities {
    /// Cut one client off from one member.
    pub(crate) client_cut: bool,
    /// Pause a member.
    pub(crate) pause: bool,
    /// Slow a member's disk.
    pub(crate) slow_disk: bool,
}

impl Abilities {
    fn allow(&self, kind: Kind) -> bool {
        match kind {
            Kind::ClientCut => self.client_cut,
            Kind::Pause => self.pause,
            Kind::SlowDisk => self.slow_disk,
            _ => true,
        }
    }
}

/// The ensemble as the executor sees it when a fault is due.
#[derive(Debug, Clone, Default)]
pub(crate) struct Snapshot {
    /// Every member, in id order.
    pub(crate) members: Vec<MemberId>,
    /// The members that run.
    pub(crate) up: Vec<MemberId>,
    /// The leader, if one serves.
    pub(crate) leader: Option<MemberId>,
    /// Live sessions (candidates for expiry).
    pub(crate) sessions: Vec<i64>,
    /// Live clients and the member each is connected to (simulator only).
    pub(crate) clients: Vec<(ClientId, Option<MemberId>)>,
    /// Members that may lose their disk now: the others can stand in for
    /// them (the executor knows how to tell).
    pub(crate) may_wipe: Vec<MemberId>,
    /// The members without a vote (observers), in id order.
    pub(crate) observers: Vec<MemberId>,
}

impl Snapshot {
    /// Whether faults of `kind` can have a target in this ensemble at all:
    /// the observer faults only where there are observers (so a seed of an
    /// ensemble without them draws what it drew before they existed).
    fn offers(&self, kind: Kind) -> bool {
        match kind {
            Kind::CrashObserver | Kind::IsolateObserver => !self.observers.is_empty(),
            _ => true,
        }
    }

    fn down(&self) -> Vec<MemberId> {
        self.members
            .iter()
            .copied()
            .filter(|m| !self.up.contains(m))
            .collect()
    }
}

/// The fault schedule's parameters: a pure function of its inputs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct FaultPlan {
    /// The ensemble's tick: every duration is drawn in ticks.
    pub(crate) tick: Duration,
    /// Mean time between two faults.
    pub(crate) mean_gap: Duration,
    /// What the executor can do.
    pub(crate) abilities: Abilities,
}

impl FaultPlan {
    /// The pause before the next fault: exponential around the mean (faults
    /// come in bursts and lulls), capped at six means.
    pub(crate) fn gap(&self, rng: &mut impl Rng) -> Duration {
        let mean = self.mean_gap.as_secs_f64();
        let u: f64 = rng.random_range(0.0001..1.0);
        Duration::from_secs_f64((-u.ln() * mean).min(mean * 6.0))
    }

    /// The next fault, or None when the kind drawn has no target now (no
    /// member down to restart, no leader to isolate, ...).
    pub(crate) fn draw(&self, rng: &mut impl Rng, now: &Snapshot) -> Option<Fault> {
        let kind = self.kind(rng, now);
        self.fault(kind, rng, now)
    }

    fn kind(&self, rng: &mut impl Rng, now: &Snapshot) -> Kind {
        let allowed = WEIGHTS
            .iter()
            .filter(|(k, _)| self.abilities.allow(*k) && now.offers(*k));
        let total: u32 = allowed.clone().map(|(_, w)| w).sum();
        let mut r = rng.random_range(0..total.max(1));
        for &(k, w) in allowed {
            if r < w {
                return k;
            }
            r -= w;
        }
        Kind::Crash
    }

    /// Between `lo` and `hi` ticks.
    fn ticks(&self, rng: &mut impl Rng, lo: f64, hi: f64) -> Duration {
        self.tick.mul_f64(rng.random_range(lo..=hi))
    }

    /// A fault of `kind` on targets drawn from `now`, or None without one.
    /// The draws' order is part of a seed's replay: keep it.
    fn fault(&self, kind: Kind, rng: &mut impl Rng, now: &Snapshot) -> Option<Fault> {
        Some(match kind {
            Kind::Crash => Fault::Crash {
                member: pick(rng, &now.up)?,
                wipe: false,
                down: self.ticks(rng, 0.5, 30.0),
            },
            Kind::CrashWipe => Fault::Crash {
                member: pick(rng, &now.may_wipe)?,
                wipe: true,
                down: self.ticks(rng, 0.5, 30.0),
            },
            Kind::PowerLoss => self.power_loss(rng, now)?,
            Kind::Restart => Fault::Restart {
                member: pick(rng, &now.down())?,
            },
            Kind::Partition => self.partition(rng, now)?,
            Kind::IsolateLeader => {
                let leader = now.leader?;
                let others = now.members.iter().copied().filter(|m| *m != leader);
                Fault::Partition {
                    sides: [vec![leader], others.collect()],
                    heal_after: self.ticks(rng, 3.0, 40.0),
                }
            }
            Kind::OneWay => {
                let (from, to) = two_members(rng, now)?;
                Fault::OneWay {
                    from,
                    to,
                    heal_after: self.ticks(rng, 3.0, 30.0),
                }
            }
            Kind::Lossy => {
                let (from, to) = two_members(rng, now)?;
                Fault::Lossy {
                    from,
                    to,
                    loss: rng.random_range(0.05..0.45),
                    heal_after: self.ticks(rng, 3.0, 30.0),
                }
            }
            Kind::Slow => {
                let (from, to) = two_members(rng, now)?;
                Fault::Slow {
                    from,
                    to,
                    delay: self.ticks(rng, 0.2, 4.0),
                    heal_after: self.ticks(rng, 3.0, 30.0),
                }
            }
            Kind::Expire => Fault::Expire {
                session: pick(rng, &now.sessions)?,
            },
            Kind::DropConnections => Fault::DropConnections {
                member: pick(rng, &now.up)?,
            },
            Kind::ClientCut => self.client_cut(rng, now)?,
            Kind::Pause => Fault::Pause {
                member: pick(rng, &now.up)?,
                pause: self.ticks(rng, 0.5, 20.0),
            },
            Kind::Failpoint => self.failpoint(rng, now)?,
            Kind::SlowDisk => Fault::SlowDisk {
                member: pick(rng, &now.members)?,
                flush: self.ticks(rng, 1.0, 8.0),
                heal_after: self.ticks(rng, 5.0, 40.0),
            },
            Kind::CrashObserver => {
                let up: Vec<MemberId> = now
                    .observers
                    .iter()
                    .copied()
                    .filter(|o| now.up.contains(o))
                    .collect();
                Fault::Crash {
                    member: pick(rng, &up)?,
                    // Its log counts toward no quorum: it may always go.
                    wipe: rng.random_bool(0.25),
                    down: self.ticks(rng, 0.5, 30.0),
                }
            }
            Kind::IsolateObserver => {
                let observer = pick(rng, &now.observers)?;
                let others = now.members.iter().copied().filter(|m| *m != observer);
                Fault::Partition {
                    sides: [vec![observer], others.collect()],
                    heal_after: self.ticks(rng, 3.0, 40.0),
                }
            }
        })
    }
    /// Two or more running members lose power at once, each down for its
    /// own while.
    fn power_loss(&self, rng: &mut impl Rng, now: &Snapshot) -> Option<Fault> {
        if now.up.len() < 2 {
            return None;
        }
        let n = rng.random_range(2..=now.up.len());
        let mut victims = now.up.clone();
        victims.shuffle(rng);
        victims.truncate(n);
        Some(Fault::PowerLoss {
            members: victims
                .into_iter()
                .map(|m| (m, self.ticks(rng, 0.5, 20.0)))
                .collect(),
        })
    }

    /// The members split into two random non-empty sides.
    fn partition(&self, rng: &mut impl Rng, now: &Snapshot) -> Option<Fault> {
        if now.members.len() < 2 {
            return None;
        }
        let mut ids = now.members.clone();
        ids.shuffle(rng);
        let split = rng.random_range(1..ids.len());
        let b = ids.split_off(split);
        Some(Fault::Partition {
            sides: [ids, b],
            heal_after: self.ticks(rng, 3.0, 40.0),
        })
    }

    /// A client cut off from its member (any member if it has none).
    fn client_cut(&self, rng: &mut impl Rng, now: &Snapshot) -> Option<Fault> {
        let (client, on) = pick(rng, &now.clients)?;
        let member = match on {
            Some(m) => m,
            None => pick(rng, &now.members)?,
        };
        Some(Fault::ClientCut {
            client,
            member,
            heal_after: self.ticks(rng, 2.0, 30.0),
        })
    }

    /// A failpoint armed on a member: crash (half the time), pause or rejoin.
    fn failpoint(&self, rng: &mut impl Rng, now: &Snapshot) -> Option<Fault> {
        let member = pick(rng, &now.members)?;
        let point = pick(rng, &Failpoint::ALL)?;
        let action = match rng.random_range(0..10) {
            0..5 => Action::Crash,
            5..8 => Action::Pause(self.ticks(rng, 0.5, 15.0)),
            _ => Action::Rejoin,
        };
        Some(Fault::Failpoint {
            member,
            point,
            action,
        })
    }
}

/// Two distinct members (None if the two drawn are the same).
fn two_members(rng: &mut impl Rng, now: &Snapshot) -> Option<(MemberId, MemberId)> {
    let from = pick(rng, &now.members)?;
    let to = pick(rng, &now.members)?;
    (from != to).then_some((from, to))
}

fn pick<T: Clone>(rng: &mut impl Rng, items: &[T]) -> Option<T> {
    if items.is_empty() {
        return None;
    }
    items.get(rng.random_range(0..items.len())).cloned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::Xoshiro256PlusPlus;
    use rand::SeedableRng;

    fn snapshot() -> Snapshot {
        Snapshot {
            members: vec![1, 2, 3],
            up: vec![1, 2],
            leader: Some(1),
            sessions: vec![0x10, 0x20],
            clients: vec![(0, Some(2)), (1, None)],
            may_wipe: vec![2],
            observers: vec![],
        }
    }

    fn plan(abilities: Abilities) -> FaultPlan {
        FaultPlan {
            tick: Duration::from_millis(100),
            mean_gap: Duration::from_secs(1),
            abilities,
        }
    }

    fn draws(plan: &FaultPlan, seed: u64, n: usize) -> Vec<Fault> {
        draws_on(plan, seed, n, &snapshot())
    }

    fn draws_on(plan: &FaultPlan, seed: u64, n: usize, now: &Snapshot) -> Vec<Fault> {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
        (0..n).filter_map(|_| plan.draw(&mut rng, now)).collect()
    }

    #[test]
    fn observer_faults_aim_at_observers_where_there_are_some() {
        let with = Snapshot {
            members: vec![1, 2, 3, 4],
            up: vec![1, 2, 4],
            observers: vec![4],
            ..snapshot()
        };
        // Only the observer faults wipe member 4 (not in may_wipe).
        let wiped_4 = |f: &Fault| {
            matches!(
                f,
                Fault::Crash {
                    member: 4,
                    wipe: true,
                    ..
                }
            )
        };
        let faults = draws_on(&plan(Abilities::default()), 9, 3000, &with);
        assert!(faults.iter().filter(|f| wiped_4(f)).count() > 5);
        let isolated_4 = faults
            .iter()
            .filter(|f| matches!(f, Fault::Partition { sides, .. } if sides[0] == [4]))
            .count();
        assert!(isolated_4 > 20, "{isolated_4}");
        let without = Snapshot {
            observers: vec![],
            ..with
        };
        let faults = draws_on(&plan(Abilities::default()), 9, 3000, &without);
        assert!(!faults.iter().any(wiped_4));
    }

    #[test]
    fn the_same_seed_draws_the_same_faults() {
        let all = Abilities {
            client_cut: true,
            pause: true,
            slow_disk: true,
        };
        assert_eq!(draws(&plan(all), 5, 200), draws(&plan(all), 5, 200));
        assert_ne!(draws(&plan(all), 5, 200), draws(&plan(all), 6, 200));
    }

    #[test]
    fn faults_target_only_what_the_snapshot_allows() {
        let faults = draws(&plan(Abilities::default()), 1, 2000);
        assert!(faults.len() > 1000, "{}", faults.len());
        for f in &faults {
            match f {
                Fault::Crash { member, wipe, .. } => {
                    assert!([1, 2].contains(member));
                    assert!(!wipe || *member == 2, "{f:?}");
                }
                Fault::Restart { member } => assert_eq!(*member, 3),
                Fault::Partition { sides, .. } => {
                    assert!(!sides[0].is_empty() && !sides[1].is_empty(), "{f:?}");
                    assert_eq!(sides[0].len() + sides[1].len(), 3);
                }
                Fault::OneWay { from, to, .. }
                | Fault::Lossy { from, to, .. }
                | Fault::Slow { from, to, .. } => assert_ne!(from, to),
                Fault::ClientCut { .. } | Fault::Pause { .. } | Fault::SlowDisk { .. } => {
                    panic!("drawn without the ability: {f:?}")
                }
                _ => {}
            }
        }
        let kinds = |pred: fn(&Fault) -> bool| faults.iter().filter(|f| pred(f)).count();
        assert!(kinds(|f| matches!(f, Fault::Crash { wipe: true, .. })) > 0);
        assert!(kinds(|f| matches!(f, Fault::PowerLoss { .. })) > 0);
        assert!(kinds(|f| matches!(f, Fault::Failpoint { .. })) > 0);
        assert!(kinds(|f| matches!(f, Fault::Expire { .. })) > 0);
    }

    #[test]
    fn durations_scale_with_the_tick() {
        let mut fast = plan(Abilities::default());
        fast.tick = Duration::from_millis(25);
        let slow = plan(Abilities::default());
        for (a, b) in draws(&fast, 3, 300).iter().zip(draws(&slow, 3, 300)) {
            if let (Fault::Crash { down: x, .. }, Fault::Crash { down: y, .. }) = (a, &b) {
                assert!((x.as_nanos() * 4).abs_diff(y.as_nanos()) < 8, "{a:?} {b:?}");
            }
        }
    }
}
