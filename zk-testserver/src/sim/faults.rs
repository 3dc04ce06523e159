//! The nemesis of the simulator: the simulator's executor of the shared
//! [fault plan](crate::fault_plan). Faults are drawn from the run's random
//! stream at random intervals while the workload runs, each undone after a
//! while, and all undone when the workload ends.

use super::exec::ClientId;
use super::world::{Event, Sim};
use crate::failpoint::Failpoint;
use crate::fault_plan::{Abilities, Fault, FaultPlan, Snapshot};
use crate::zab::MemberId;
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

impl Sim {
    /// The fault plan of this run: the shared catalogue, on this
    /// ensemble's tick, with everything the simulator can do.
    fn plan(&self) -> FaultPlan {
        FaultPlan {
            tick: self.cfg.tick,
            mean_gap: self.cfg.fault_interval,
            abilities: Abilities {
                client_cut: true,
                pause: true,
                slow_disk: true,
            },
        }
    }

    /// Schedules the first fault; faults go on until [`Sim::heal_all`].
    pub(super) fn start_faults(&mut self) {
        self.faulting = true;
        let d = self.plan().gap(&mut self.rng);
        self.schedule(self.now + d, Event::Fault);
    }

    fn ids(&self) -> Vec<MemberId> {
        self.cfg.ids()
    }

    fn up(&self) -> Vec<MemberId> {
        self.nodes
            .iter()
            .filter(|n| n.is_up())
            .map(|n| n.id)
            .collect()
    }

    /// What the plan sees: members up, the leader and its sessions, live
    /// clients and where they are connected, members that may lose a disk.
    fn snapshot(&self) -> Snapshot {
        let leader = self.leader();
        let sessions = leader
            .and_then(|l| self.nodes[(l - 1) as usize].machine.as_ref())
            .map(|m| m.sessions().into_iter().map(|(id, _)| id).collect())
            .unwrap_or_default();
        let clients = self
            .clients
            .iter()
            .filter(|c| !c.is_done())
            .map(|c| {
                (
                    c.id,
                    c.conn.and_then(|k| self.conns.get(&k)).map(|k| k.member),
                )
            })
            .collect();
        let up = self.up();
        let may_wipe = up
            .iter()
            .copied()
            .filter(|&m| self.wipe_allowed(m))
            .collect();
        Snapshot {
            members: self.ids(),
            up,
            leader,
            sessions,
            clients,
            may_wipe,
            observers: self.cfg.observer_ids(),
        }
    }

    /// Injects one fault and schedules the next (while the workload runs).
    pub(super) fn fault(&mut self) {
        if !self.faulting {
            return;
        }
        let plan = self.plan();
        let snapshot = self.snapshot();
        if let Some(fault) = plan.draw(&mut self.rng, &snapshot) {
            self.inject(fault);
            self.faults += 1;
        }
        let d = plan.gap(&mut self.rng);
        self.schedule(self.now + d, Event::Fault);
    }

    /// Carries out one fault of the plan on the simulated ensemble.
    fn inject(&mut self, fault: Fault) {
        self.log_event(format_args!("FAULT {fault:?}"), &[]);
        let now = self.now;
        match fault {
            Fault::Crash { member, wipe, down } => {
                self.crash_member(member, wipe);
                if wipe {
                    self.amnesiac.insert(member);
                }
                self.undo_after(down, Undo::Restart(member));
            }
            Fault::PowerLoss { members } => {
                for (member, down) in members {
                    self.crash_member(member, false);
                    self.undo_after(down, Undo::Restart(member));
                }
            }
            Fault::Restart { member } => self.restart(member),
            Fault::Partition { sides, heal_after } => {
                let mut pairs = Vec::new();
                for &x in &sides[0] {
                    for &y in &sides[1] {
                        pairs.push((x, y));
                        pairs.push((y, x));
                    }
                }
                self.cut_for(pairs, heal_after);
            }
            Fault::OneWay {
                from,
                to,
                heal_after,
            } => self.cut_for(vec![(from, to)], heal_after),
            Fault::Lossy {
                from,
                to,
                loss,
                heal_after,
            } => {
                self.links.entry((from, to)).or_default().loss = loss;
                self.undo_after(heal_after, Undo::Links(vec![(from, to)]));
            }
            Fault::Slow {
                from,
                to,
                delay,
                heal_after,
            } => {
                self.links.entry((from, to)).or_default().delay = delay;
                self.undo_after(heal_after, Undo::Links(vec![(from, to)]));
            }
            Fault::Expire { session } => {
                let leader = self.leader();
                if let Some(m) = leader.and_then(|l| self.nodes[(l - 1) as usize].machine.as_mut())
                {
                    m.expire_session(now, session);
                }
            }
            Fault::DropConnections { member } => {
                if let Some(m) = self.nodes[(member - 1) as usize].machine.as_mut() {
                    m.drop_client_connections();
                }
            }
            Fault::ClientCut {
                client,
                member,
                heal_after,
            } => {
                self.client_cuts.insert((client, member));
                self.undo_after(heal_after, Undo::ClientCut(client, member));
            }
            Fault::Pause { member, pause } => self.pause_member(member, pause),
            Fault::Failpoint {
                member,
                point,
                action,
            } => {
                let node = &mut self.nodes[(member - 1) as usize];
                match node.machine.as_mut() {
                    Some(m) => m.set_failpoint(point, action),
                    None => node.arm_on_start.arm(point, action),
                }
            }
            Fault::SlowDisk {
                member,
                flush,
                heal_after,
            } => {
                let node = &mut self.nodes[(member - 1) as usize];
                let old = std::mem::replace(&mut node.flush_delay, flush);
                self.undo_after(heal_after, Undo::Disk(member, old));
            }
        }
    }

    fn undo_after(&mut self, d: Duration, undo: Undo) {
        self.schedule(self.now + d, Event::Undo(undo));
    }

    fn cut_for(&mut self, pairs: Vec<(MemberId, MemberId)>, heal_after: Duration) {
        for &(a, b) in &pairs {
            self.links.entry((a, b)).or_default().cut = true;
        }
        self.undo_after(heal_after, Undo::Links(pairs));
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
        // Only the voters' disks count: an observer's stands in for nothing.
        let covering = self
            .nodes
            .iter()
            .filter(|n| n.id != id && n.id <= self.cfg.members as u64)
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
