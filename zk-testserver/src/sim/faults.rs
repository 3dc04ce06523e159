//! The nemesis of the simulator: faults drawn from the run's random
//! stream at random intervals while the workload runs, each undone after a
//! while, and all undone when the workload ends.

use super::exec::ClientId;
use super::world::{Event, Sim};
use crate::failpoint::{Action, Failpoint};
use crate::zab::MemberId;
use rand::RngExt;
use std::collections::BTreeSet;
use std::time::Duration;

/// A timed fault to undo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Undo {
    /// Start a crashed member again (from its storage).
    Restart(MemberId),
    /// Restore these links.
    Links(Vec<(MemberId, MemberId)>),
    /// Let a client reach a member again.
    ClientCut(ClientId, MemberId),
    /// Give a member its normal disk back.
    Disk(MemberId, Duration),
}

/// The kinds of fault, with their weights.
const KINDS: [(Kind, u32); 15] = [
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
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
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
}

impl Sim {
    /// Schedules the first fault; faults go on until [`Sim::heal_all`].
    pub(super) fn start_faults(&mut self) {
        self.faulting = true;
        let d = self.fault_gap();
        self.schedule(self.now + d, Event::Fault);
    }

    fn fault_gap(&mut self) -> Duration {
        let mean = self.cfg.fault_interval.as_secs_f64();
        let u: f64 = self.rng.random_range(0.0001..1.0);
        Duration::from_secs_f64((-u.ln() * mean).min(mean * 6.0))
    }

    fn between(&mut self, lo_ms: u64, hi_ms: u64) -> Duration {
        Duration::from_millis(self.rng.random_range(lo_ms..=hi_ms))
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> Option<T> {
        if items.is_empty() {
            return None;
        }
        let i = self.random_below(items.len() as u64) as usize;
        items.get(i).copied()
    }

    fn ids(&self) -> Vec<MemberId> {
        (1..=self.cfg.members as u64).collect()
    }

    fn up(&self) -> Vec<MemberId> {
        self.nodes
            .iter()
            .filter(|n| n.is_up())
            .map(|n| n.id)
            .collect()
    }

    /// Injects one fault and schedules the next (while the workload runs).
    pub(super) fn fault(&mut self) {
        if !self.faulting {
            return;
        }
        let total: u32 = KINDS.iter().map(|(_, w)| w).sum();
        let mut r = self.rng.random_range(0..total);
        let mut kind = Kind::Crash;
        for (k, w) in KINDS {
            if r < w {
                kind = k;
                break;
            }
            r -= w;
        }
        if self.inject(kind) {
            self.faults += 1;
        }
        let d = self.fault_gap();
        self.schedule(self.now + d, Event::Fault);
    }

    fn inject(&mut self, kind: Kind) -> bool {
        match kind {
            Kind::Crash | Kind::CrashWipe => {
                let wipe = kind == Kind::CrashWipe;
                let candidates: Vec<MemberId> = self
                    .up()
                    .into_iter()
                    .filter(|&id| !wipe || self.wipe_allowed(id))
                    .collect();
                let Some(id) = self.pick(&candidates) else {
                    return false;
                };
                self.crash_member(id, wipe);
                if wipe {
                    self.amnesiac.insert(id);
                }
                let d = self.between(50, 3000);
                self.schedule(self.now + d, Event::Undo(Undo::Restart(id)));
            }
            Kind::PowerLoss => {
                // Several members (perhaps all) lose power at once: each
                // loses what its disk had not flushed.
                let up = self.up();
                if up.len() < 2 {
                    return false;
                }
                let n = 2 + self.random_below(up.len() as u64 - 1) as usize;
                let mut victims = up;
                for k in (1..victims.len()).rev() {
                    let j = self.random_below(k as u64 + 1) as usize;
                    victims.swap(k, j);
                }
                victims.truncate(n);
                self.log_event(format_args!("FAULT power loss {victims:?}"), &[]);
                for id in victims {
                    self.crash_member(id, false);
                    let d = self.between(50, 2000);
                    self.schedule(self.now + d, Event::Undo(Undo::Restart(id)));
                }
            }
            Kind::Restart => {
                let down: Vec<MemberId> = self
                    .ids()
                    .into_iter()
                    .filter(|&id| !self.nodes[(id - 1) as usize].is_up())
                    .collect();
                let Some(id) = self.pick(&down) else {
                    return false;
                };
                self.restart(id);
            }
            Kind::Partition => {
                let mut ids = self.ids();
                for k in (1..ids.len()).rev() {
                    let j = self.random_below(k as u64 + 1) as usize;
                    ids.swap(k, j);
                }
                let split = 1 + self.random_below(ids.len() as u64 - 1) as usize;
                let (a, b) = ids.split_at(split);
                let mut pairs = Vec::new();
                for &x in a {
                    for &y in b {
                        pairs.push((x, y));
                        pairs.push((y, x));
                    }
                }
                self.cut_for(pairs, 300, 4000);
            }
            Kind::IsolateLeader => {
                let Some(l) = self.leader() else {
                    return false;
                };
                let pairs = self
                    .ids()
                    .into_iter()
                    .filter(|&o| o != l)
                    .flat_map(|o| [(l, o), (o, l)])
                    .collect();
                self.cut_for(pairs, 300, 4000);
            }
            Kind::OneWay => {
                let ids = self.ids();
                let (Some(a), Some(b)) = (self.pick(&ids), self.pick(&ids)) else {
                    return false;
                };
                if a == b {
                    return false;
                }
                self.cut_for(vec![(a, b)], 300, 3000);
            }
            Kind::Lossy | Kind::Slow => {
                let ids = self.ids();
                let (Some(a), Some(b)) = (self.pick(&ids), self.pick(&ids)) else {
                    return false;
                };
                if a == b {
                    return false;
                }
                let link = self.links.entry((a, b)).or_default();
                if kind == Kind::Lossy {
                    link.loss = 0.05 + 0.4 * (self.rng.random_range(0..100) as f64 / 100.0);
                } else {
                    link.delay = Duration::from_millis(self.rng.random_range(20..400));
                }
                self.log_event(format_args!("FAULT {kind:?} {a}->{b}"), &[]);
                let d = self.between(300, 3000);
                self.schedule(self.now + d, Event::Undo(Undo::Links(vec![(a, b)])));
            }
            Kind::Expire => {
                let Some(l) = self.leader() else {
                    return false;
                };
                let now = self.now;
                let node = &mut self.nodes[(l - 1) as usize];
                let sessions: Vec<i64> = node
                    .machine
                    .as_ref()
                    .map(|m| m.sessions().into_iter().map(|(id, _)| id).collect())
                    .unwrap_or_default();
                let Some(s) = self.pick(&sessions) else {
                    return false;
                };
                self.log_event(format_args!("FAULT expire {s:#x}"), &[]);
                if let Some(m) = self.nodes[(l - 1) as usize].machine.as_mut() {
                    m.expire_session(now, s);
                }
            }
            Kind::DropConnections => {
                let up = self.up();
                let Some(id) = self.pick(&up) else {
                    return false;
                };
                self.log_event(format_args!("FAULT drop connections of {id}"), &[]);
                if let Some(m) = self.nodes[(id - 1) as usize].machine.as_mut() {
                    m.drop_client_connections();
                }
            }
            Kind::ClientCut => {
                let live: Vec<ClientId> = self
                    .clients
                    .iter()
                    .filter(|c| !c.is_done())
                    .map(|c| c.id)
                    .collect();
                let Some(c) = self.pick(&live) else {
                    return false;
                };
                let member = match self.clients[c].conn.and_then(|k| self.conns.get(&k)) {
                    Some(conn) => conn.member,
                    None => {
                        let ids = self.ids();
                        self.pick(&ids).unwrap_or(1)
                    }
                };
                self.log_event(format_args!("FAULT cut client {c} from {member}"), &[]);
                self.client_cuts.insert((c, member));
                let d = self.between(200, 3000);
                self.schedule(self.now + d, Event::Undo(Undo::ClientCut(c, member)));
            }
            Kind::Pause => {
                let up = self.up();
                let Some(id) = self.pick(&up) else {
                    return false;
                };
                let d = self.between(50, 2000);
                self.log_event(format_args!("FAULT pause {id} {d:?}"), &[]);
                self.pause_member(id, d);
            }
            Kind::Failpoint => {
                let ids = self.ids();
                let Some(id) = self.pick(&ids) else {
                    return false;
                };
                let point = self.pick(&Failpoint::ALL).unwrap_or(Failpoint::BeforeAck);
                let action = match self.rng.random_range(0..10) {
                    0..5 => Action::Crash,
                    5..8 => Action::Pause(self.between(50, 1500)),
                    _ => Action::Rejoin,
                };
                self.log_event(format_args!("FAULT arm {point} {action:?} on {id}"), &[]);
                let node = &mut self.nodes[(id - 1) as usize];
                match node.machine.as_mut() {
                    Some(m) => m.set_failpoint(point, action),
                    None => node.arm_on_start.arm(point, action),
                }
            }
            Kind::SlowDisk => {
                let ids = self.ids();
                let Some(id) = self.pick(&ids) else {
                    return false;
                };
                let old = self.nodes[(id - 1) as usize].flush_delay;
                let slow = self.between(100, 800);
                self.nodes[(id - 1) as usize].flush_delay = slow;
                self.log_event(format_args!("FAULT slow disk {id} {slow:?}"), &[]);
                let d = self.between(500, 4000);
                self.schedule(self.now + d, Event::Undo(Undo::Disk(id, old)));
            }
        }
        true
    }

    fn cut_for(&mut self, pairs: Vec<(MemberId, MemberId)>, lo: u64, hi: u64) {
        self.log_event(format_args!("FAULT cut {pairs:?}"), &[]);
        for &(a, b) in &pairs {
            self.links.entry((a, b)).or_default().cut = true;
        }
        let d = self.between(lo, hi);
        self.schedule(self.now + d, Event::Undo(Undo::Links(pairs)));
    }

    /// A member may lose its disk only if the others can stand in for it: a
    /// quorum of them has durably every entry it has and epochs at least as
    /// high (so no acknowledged write and no epoch promise lives only on its
    /// disk), and no other member is still catching up from a wipe.
    fn wipe_allowed(&self, id: MemberId) -> bool {
        if !self.amnesiac.is_empty() {
            return false;
        }
        let me = &self.nodes[(id - 1) as usize].storage;
        let (last, epochs) = (me.last_zxid(), me.epochs());
        let covering = self
            .nodes
            .iter()
            .filter(|n| n.id != id)
            .filter(|n| {
                let e = n.storage.epochs();
                n.storage.durable_zxid() >= last
                    && e.accepted >= epochs.accepted
                    && e.current >= epochs.current
            })
            .count();
        covering > self.cfg.members / 2
    }

    /// Starts a down member (no-op if it runs).
    pub(super) fn restart(&mut self, id: MemberId) {
        if self.nodes[(id - 1) as usize].machine.is_some() {
            if self.nodes[(id - 1) as usize].is_up() {
                return;
            }
            // Crashed at a failpoint: clean up as a kill would.
            self.crash_member(id, false);
        }
        self.start_member(id);
    }

    pub(super) fn undo(&mut self, undo: Undo) {
        self.log_event(format_args!("UNDO {undo:?}"), &[]);
        match undo {
            Undo::Restart(id) => self.restart(id),
            Undo::Links(pairs) => {
                for p in pairs {
                    if let Some(l) = self.links.get_mut(&p) {
                        l.heal();
                    }
                }
            }
            Undo::ClientCut(c, m) => {
                self.client_cuts.remove(&(c, m));
                self.release_held(c, m);
            }
            Undo::Disk(id, d) => self.nodes[(id - 1) as usize].flush_delay = d,
        }
    }

    /// Undoes every fault: links, client cuts, slow disks, pauses, armed
    /// failpoints; restarts every member that is down.
    pub(super) fn heal_all(&mut self) {
        self.log_event(format_args!("HEAL"), &[]);
        self.faulting = false;
        for l in self.links.values_mut() {
            l.heal();
        }
        let cuts = std::mem::take(&mut self.client_cuts);
        for (c, m) in cuts {
            self.release_held(c, m);
        }
        let flush = self.cfg.flush;
        for id in self.ids() {
            let node = &mut self.nodes[(id - 1) as usize];
            node.flush_delay = node.flush_delay.min(flush.max(self.cfg.slow_flush));
            node.arm_on_start = Default::default();
            if let Some(m) = node.machine.as_mut() {
                for p in Failpoint::ALL {
                    m.clear_failpoint(p);
                }
            }
            if node.paused_until.is_some() {
                node.paused_until = Some(self.now);
                let incarnation = node.incarnation;
                self.schedule(
                    self.now,
                    Event::Resume {
                        member: id,
                        incarnation,
                    },
                );
            }
            self.restart(id);
        }
    }

    /// Forgets wiped members that are whole again (serving).
    pub(super) fn note_recovered(&mut self) {
        let whole: BTreeSet<MemberId> = self
            .amnesiac
            .iter()
            .copied()
            .filter(|&id| {
                self.nodes[(id - 1) as usize]
                    .machine
                    .as_ref()
                    .is_some_and(|m| m.is_serving())
            })
            .collect();
        for id in whole {
            self.amnesiac.remove(&id);
        }
    }
}
