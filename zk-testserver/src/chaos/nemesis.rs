//! Faults on a real ensemble, chosen by a seeded random stream at random
//! intervals; each is undone after a while, and everything is undone at the
//! end.

use crate::ensemble::Ensemble;
use crate::failpoint::{Action, Failpoint};
use crate::zab::MemberId;
use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};
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
        mean: Duration,
        running: Rc<Cell<bool>>,
        log: Rc<RefCell<FaultLog>>,
    ) -> Nemesis {
        Nemesis {
            zk,
            rng: Xoshiro256PlusPlus::seed_from_u64(seed ^ 0x6e65_6d65_7369_7300),
            started: Instant::now(),
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

    fn members(&self) -> Vec<MemberId> {
        self.zk.members()
    }

    fn pick(&mut self, items: &[MemberId]) -> Option<MemberId> {
        if items.is_empty() {
            return None;
        }
        items.get(self.rng.random_range(0..items.len())).copied()
    }

    fn ms(&mut self, lo: u64, hi: u64) -> Duration {
        Duration::from_millis(self.rng.random_range(lo..=hi))
    }

    /// Injects faults until the run stops.
    pub(super) async fn run(mut self) {
        while self.running.get() {
            let u: f64 = self.rng.random_range(0.0001..1.0);
            let gap = Duration::from_secs_f64((-u.ln() * self.mean.as_secs_f64()).min(3.0));
            tokio::time::sleep(gap).await;
            if !self.running.get() {
                return;
            }
            self.one().await;
        }
    }

    async fn one(&mut self) {
        if let Some(a) = self.amnesiac {
            if self.zk.status(a).is_ok_and(|s| s.serving) {
                self.amnesiac = None;
            }
        }
        let members = self.members();
        let running: Vec<MemberId> = members
            .iter()
            .copied()
            .filter(|m| self.zk.status(*m).is_ok_and(|s| s.running))
            .collect();
        let down: Vec<MemberId> = members
            .iter()
            .copied()
            .filter(|m| !running.contains(m))
            .collect();
        let zk = self.zk.clone();
        match self.rng.random_range(0..100) {
            0..12 => {
                let Some(m) = self.pick(&running) else { return };
                self.note(format!("kill {m}"));
                zk.kill(m).await.ok();
                let back = self.ms(100, 2500);
                tokio::task::spawn_local(async move {
                    tokio::time::sleep(back).await;
                    if !zk.status(m).is_ok_and(|s| s.running) {
                        zk.restart(m).await.ok();
                    }
                });
            }
            12..16 => {
                let Some(m) = self.pick(&running) else { return };
                if !self.wipe_allowed(m) {
                    return;
                }
                self.note(format!("restart {m} with its storage wiped"));
                self.amnesiac = Some(m);
                zk.restart_wiped(m).await.ok();
            }
            16..24 => {
                let Some(m) = self.pick(&down) else { return };
                self.note(format!("restart {m}"));
                zk.restart(m).await.ok();
            }
            24..36 => {
                let mut ids = members.clone();
                for k in (1..ids.len()).rev() {
                    let j = self.rng.random_range(0..=k);
                    ids.swap(k, j);
                }
                let split = self.rng.random_range(1..ids.len());
                let (a, b) = ids.split_at(split);
                self.note(format!("partition {a:?} | {b:?}"));
                zk.partition(&[a, b]);
                self.heal_later(200, 2500);
            }
            36..46 => {
                let Some(l) = zk.leader() else { return };
                let others: Vec<MemberId> = members.iter().copied().filter(|m| *m != l).collect();
                self.note(format!("isolate leader {l}"));
                zk.partition(&[&[l], &others]);
                self.heal_later(200, 2500);
            }
            46..52 => {
                let (Some(a), Some(b)) = (self.pick(&members), self.pick(&members)) else {
                    return;
                };
                if a == b {
                    return;
                }
                self.note(format!("cut {a} -> {b}"));
                zk.cut(a, b);
                self.heal_later(200, 2500);
            }
            52..58 => {
                let (Some(a), Some(b)) = (self.pick(&members), self.pick(&members)) else {
                    return;
                };
                if a == b {
                    return;
                }
                let d = self.ms(10, 300);
                self.note(format!("delay {a} -> {b} by {d:?}"));
                zk.delay(a, b, d);
                self.heal_later(200, 2500);
            }
            58..64 => {
                let (Some(a), Some(b)) = (self.pick(&members), self.pick(&members)) else {
                    return;
                };
                if a == b {
                    return;
                }
                let p = f64::from(self.rng.random_range(5..50u32)) / 100.0;
                self.note(format!("drop {a} -> {b} with p={p}"));
                zk.drop_rate(a, b, p);
                self.heal_later(200, 2500);
            }
            64..74 => {
                let Ok(sessions) = zk.sessions().await else {
                    return;
                };
                if sessions.is_empty() {
                    return;
                }
                let s = sessions[self.rng.random_range(0..sessions.len())].id;
                self.note(format!("expire session {s:#x}"));
                zk.expire_session(s).await.ok();
            }
            74..84 => {
                let Some(m) = self.pick(&running) else { return };
                self.note(format!("drop the client connections of {m}"));
                zk.drop_client_connections(m).await.ok();
            }
            84..88 => {
                self.note("heal".into());
                zk.heal();
            }
            _ => {
                let Some(m) = self.pick(&members) else { return };
                let point = Failpoint::ALL[self.rng.random_range(0..Failpoint::ALL.len())];
                let action = match self.rng.random_range(0..10) {
                    0..5 => Action::Crash,
                    5..8 => Action::Pause(self.ms(50, 1000)),
                    _ => Action::Rejoin,
                };
                self.note(format!("arm {point} {action:?} on {m}"));
                zk.set_failpoint(m, point, action).await.ok();
            }
        }
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
            && self.members().into_iter().filter(|o| *o != m).all(|o| {
                self.zk.status(o).is_ok_and(|s| {
                    s.running
                        && s.serving
                        && s.epoch == me.epoch
                        && s.last_zxid >= me.last_logged_zxid
                })
            })
    }

    fn heal_later(&mut self, lo: u64, hi: u64) {
        let d = self.ms(lo, hi);
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
