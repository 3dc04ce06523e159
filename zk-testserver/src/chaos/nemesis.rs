//! Faults on a real ensemble: the `Ensemble` executor of the shared
//! [fault plan](crate::fault_plan), drawing from a seeded random stream at
//! random intervals; each fault is undone after a while, and everything is
//! undone at the end.

use crate::ensemble::Ensemble;
use crate::failpoint::Failpoint;
use crate::fault_plan::{Abilities, Fault, FaultPlan, Snapshot};
use crate::zab::MemberId;
use rand::rngs::Xoshiro256PlusPlus;
use rand::SeedableRng;
use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::{Duration, Instant};

/// What the nemesis did, for the report.
#[derive(Debug, Default)]
pub struct FaultLog {
    /// One line per fault, with its time since the start.
    pub lines: Vec<String>,
    /// Faults injected.
    pub count: u64,
}

pub(super) struct Nemesis {
    pub(super) zk: Rc<Ensemble>,
    pub(super) rng: Xoshiro256PlusPlus,
    pub(super) started: Instant,
    pub(super) tick: Duration,
    pub(super) mean: Duration,
    pub(super) running: Rc<Cell<bool>>,
    pub(super) log: Rc<RefCell<FaultLog>>,
    /// A member wiped and not yet serving again.
    amnesiac: Option<MemberId>,
}

impl Nemesis {
    pub(super) fn new(
        zk: Rc<Ensemble>,
        seed: u64,
        tick: Duration,
        mean: Duration,
        running: Rc<Cell<bool>>,
        log: Rc<RefCell<FaultLog>>,
    ) -> Nemesis {
        Nemesis {
            zk,
            rng: Xoshiro256PlusPlus::seed_from_u64(seed ^ 0x6e65_6d65_7369_7300),
            started: Instant::now(),
            tick,
            mean,
            running,
            log,
            amnesiac: None,
        }
    }

    fn note(&self, what: String) {
        let line = format!("{:>8.3}s {what}", self.started.elapsed().as_secs_f64());
        tracing::info!(fault = %line, "nemesis");
        let mut log = self.log.borrow_mut();
        log.lines.push(line);
        log.count += 1;
    }

    /// The shared fault plan on this ensemble's tick: everything but the
    /// faults the `Ensemble` API cannot aim (one client's connection, a
    /// pause, a slow disk).
    fn plan(&self) -> FaultPlan {
        FaultPlan {
            tick: self.tick,
            mean_gap: self.mean,
            abilities: Abilities::default(),
        }
    }

    /// Injects faults until the run stops.
    pub(super) async fn run(mut self) {
        while self.running.get() {
            let gap = self.plan().gap(&mut self.rng);
            tokio::time::sleep(gap).await;
            if !self.running.get() {
                return;
            }
            let snapshot = self.snapshot().await;
            if let Some(fault) = self.plan().draw(&mut self.rng, &snapshot) {
                self.inject(fault).await;
            }
        }
    }

    /// What the plan sees, from the members' status.
    async fn snapshot(&mut self) -> Snapshot {
        if let Some(a) = self.amnesiac {
            if self.zk.status(a).is_ok_and(|s| s.serving) {
                self.amnesiac = None;
            }
        }
        let members = self.zk.members();
        let up: Vec<MemberId> = members
            .iter()
            .copied()
            .filter(|m| self.zk.status(*m).is_ok_and(|s| s.running))
            .collect();
        let may_wipe = up
            .iter()
            .copied()
            .filter(|&m| self.wipe_allowed(m))
            .collect();
        let sessions = match self.zk.sessions().await {
            Ok(s) => s.into_iter().map(|s| s.id).collect(),
            Err(_) => Vec::new(),
        };
        Snapshot {
            leader: self.zk.leader(),
            members,
            up,
            sessions,
            clients: Vec::new(),
            may_wipe,
            observers: self.zk.observers(),
        }
    }

    /// Carries out one fault of the plan through the `Ensemble` API.
    async fn inject(&mut self, fault: Fault) {
        self.note(format!("{fault:?}"));
        let zk = self.zk.clone();
        match fault {
            Fault::Crash {
                member, wipe: true, ..
            } => {
                // The `Ensemble` API wipes a disk only as it restarts the
                // member, so a wiped member comes back at once: wiping it
                // later, when the others may no longer stand in for it,
                // would lose acknowledged data the checkers then blame on
                // the server.
                self.amnesiac = Some(member);
                zk.restart_wiped(member).await.ok();
            }
            Fault::Crash {
                member,
                wipe: false,
                down,
            } => {
                zk.kill(member).await.ok();
                self.restart_later(member, down);
            }
            Fault::PowerLoss { members } => {
                for (member, down) in members {
                    zk.kill(member).await.ok();
                    self.restart_later(member, down);
                }
            }
            Fault::Restart { member } => {
                zk.restart(member).await.ok();
            }
            Fault::Partition { sides, heal_after } => {
                zk.partition(&[&sides[0], &sides[1]]);
                self.heal_later(heal_after);
            }
            Fault::OneWay {
                from,
                to,
                heal_after,
            } => {
                zk.cut(from, to);
                self.heal_later(heal_after);
            }
            Fault::Lossy {
                from,
                to,
                loss,
                heal_after,
            } => {
                zk.drop_rate(from, to, loss);
                self.heal_later(heal_after);
            }
            Fault::Slow {
                from,
                to,
                delay,
                heal_after,
            } => {
                zk.delay(from, to, delay);
                self.heal_later(heal_after);
            }
            Fault::Expire { session } => {
                zk.expire_session(session).await.ok();
            }
            Fault::DropConnections { member } => {
                zk.drop_client_connections(member).await.ok();
            }
            Fault::Failpoint {
                member,
                point,
                action,
            } => {
                zk.set_failpoint(member, point, action).await.ok();
            }
            // Not in this executor's abilities, so never drawn.
            Fault::ClientCut { .. } | Fault::Pause { .. } | Fault::SlowDisk { .. } => {}
        }
    }

    /// Starts a killed member again after `down`, unless something else
    /// started it first.
    fn restart_later(&self, member: MemberId, down: Duration) {
        let zk = self.zk.clone();
        tokio::task::spawn_local(async move {
            tokio::time::sleep(down).await;
            if !zk.status(member).is_ok_and(|s| s.running) {
                zk.restart(member).await.ok();
            }
        });
    }

    /// Restarting a member on an empty disk is safe only where the others
    /// can stand in for it: every other member running and serving in the
    /// same epoch, at least as far along as it, and no other wiped member
    /// still catching up.
    fn wipe_allowed(&self, m: MemberId) -> bool {
        if self.amnesiac.is_some() {
            return false;
        }
        let Ok(me) = self.zk.status(m) else {
            return false;
        };
        me.serving
            && self.zk.members().into_iter().filter(|o| *o != m).all(|o| {
                self.zk.status(o).is_ok_and(|s| {
                    s.running
                        && s.serving
                        && s.epoch == me.epoch
                        && s.last_zxid >= me.last_logged_zxid
                })
            })
    }

    fn heal_later(&self, d: Duration) {
        let zk = self.zk.clone();
        let running = self.running.clone();
        tokio::task::spawn_local(async move {
            tokio::time::sleep(d).await;
            if running.get() {
                zk.heal();
            }
        });
    }
}

/// Undoes every fault: links healed, failpoints disarmed, every member
/// running.
pub(super) async fn heal_all(zk: &Ensemble) {
    zk.heal();
    for m in zk.members() {
        for p in Failpoint::ALL {
            zk.clear_failpoint(m, p).await.ok();
        }
        if !zk.status(m).is_ok_and(|s| s.running) {
            zk.restart(m).await.ok();
        }
    }
}
