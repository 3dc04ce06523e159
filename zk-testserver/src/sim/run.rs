//! One simulated run: start the ensemble, set up and run the workload under
//! faults, heal, wait for quiescence, read the final state, check.

use super::config::SimConfig;
use super::world::Sim;
use crate::check::{Recorder, Violation};
use crate::workload::{self, read_finals, Finals, Session, Summary, Watches, World};
use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::Duration;

/// What one seed did and what the checkers said.
#[derive(Debug, Clone)]
pub struct SimOutcome {
    /// The seed.
    pub seed: u64,
    /// Operations recorded.
    pub ops: usize,
    /// Faults injected.
    pub faults: u64,
    /// Events processed.
    pub events: u64,
    /// Fingerprint of every event (equal for equal seeds).
    pub hash: u64,
    /// Simulated time the run took.
    pub simulated: Duration,
    /// The checkers' verdict.
    pub result: Result<Summary, Violation>,
    /// The last events, when the configuration keeps them.
    pub tail: Vec<String>,
}

fn liveness(what: String) -> Violation {
    Violation::new("liveness", what)
}

/// Runs one seed to its verdict.
pub fn run(cfg: SimConfig) -> SimOutcome {
    let mut sim = Sim::new(cfg.clone());
    let recorder = Recorder::new();
    let watches = Watches::default();
    let result = drive(&mut sim, &cfg, &recorder, &watches);
    let history = recorder.snapshot();
    let result = result.and_then(|(finals, views)| {
        if let Some(a) = sim.anomalies.first() {
            return Err(Violation::new("anomaly", a.clone()));
        }
        workload::verdict(&history, &watches.streams(), &finals, &views)
    });
    SimOutcome {
        seed: cfg.seed,
        ops: history.len(),
        faults: sim.faults,
        events: sim.log.count(),
        hash: sim.log.hash(),
        simulated: sim.elapsed(),
        result,
        tail: sim.log.tail(),
    }
}

type Ready = (Finals, Vec<crate::check::MemberView>);

fn drive(
    sim: &mut Sim,
    cfg: &SimConfig,
    recorder: &Recorder,
    watches: &Watches,
) -> Result<Ready, Violation> {
    let limit = |sim: &Sim| sim.now + cfg.settle_limit;
    let until = limit(sim);
    if !sim.run_until(until, Sim::quiescent) {
        return Err(liveness(
            "the ensemble never became quiescent at start".into(),
        ));
    }
    // Setup, as process 0.
    let world = sim.world();
    let done = Rc::new(Cell::new(false));
    {
        let (world, done, plan) = (world.clone(), done.clone(), cfg.plan.clone());
        sim.spawn(async move {
            while let Ok(s) = world.connect().await {
                if workload::setup(&s, &plan).await.is_ok() {
                    s.close().await.ok();
                    done.set(true);
                    return;
                }
            }
        });
    }
    let until = limit(sim);
    if !sim.run_until(until, |_| done.get()) {
        return Err(liveness("setup did not finish".into()));
    }
    // The workload, under faults.
    let processes = workload::processes(&world, recorder, watches, &cfg.plan, cfg.seed);
    let total = processes.len();
    let finished = Rc::new(Cell::new(0usize));
    for p in processes {
        let finished = finished.clone();
        sim.spawn(async move {
            p.await;
            finished.set(finished.get() + 1);
        });
    }
    if cfg.faults {
        sim.start_faults();
    }
    sim.run_for(cfg.duration);
    // Heal; let every process finish its last operation and the ensemble
    // settle; let abandoned sessions expire.
    sim.shared.borrow_mut().running = false;
    sim.heal_all();
    let until = limit(sim);
    if !sim.run_until(until, |s| finished.get() == total && s.quiescent()) {
        let pending = recorder.pending();
        return Err(liveness(format!(
            "no convergence after healing ({} of {total} processes done; quiescent: {}; {})",
            finished.get(),
            sim.quiescent(),
            sim.describe()
        ))
        .with_ops(&pending));
    }
    sim.run_for(cfg.max_session_timeout() * 2 + cfg.tick * 4);
    let until = limit(sim);
    if !sim.run_until(until, Sim::quiescent) {
        return Err(liveness(format!(
            "no convergence after the sessions expired: {}",
            sim.describe()
        )));
    }
    // The final state, read through a fresh session.
    let finals: Rc<RefCell<Option<Finals>>> = Rc::new(RefCell::new(None));
    {
        let (world, out, plan, rec) = (
            world.clone(),
            finals.clone(),
            cfg.plan.clone(),
            recorder.clone(),
        );
        sim.spawn(async move {
            while let Ok(s) = world.connect().await {
                let at = world.elapsed();
                if let Ok(f) = read_finals(&s, &plan, &rec, 0, at).await {
                    *out.borrow_mut() = Some(f);
                    s.close().await.ok();
                    return;
                }
            }
        });
    }
    let until = limit(sim);
    let got = sim.run_until(until, |_| finals.borrow().is_some());
    let Some(finals) = finals.borrow_mut().take().filter(|_| got) else {
        return Err(liveness("the final state could not be read".into()));
    };
    let until = limit(sim);
    if !sim.run_until(until, Sim::quiescent) {
        return Err(liveness(format!(
            "no convergence after the final reads: {}",
            sim.describe()
        )));
    }
    Ok((finals, sim.views()))
}
