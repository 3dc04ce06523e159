//! Randomized fault schedules over a real in-process [`Ensemble`]: real TCP
//! client ports, real [`zk_client::Client`] sessions, tokio time; the same
//! workloads and checkers as the simulator ([`crate::sim`]).
//!
//! One run ([`run`], or [`run_blocking`] from synchronous code) starts an
//! ensemble seeded with the run's seed, creates the workload's nodes,
//! runs the workload processes while a nemesis injects faults — member
//! kills and restarts (a minority with a wiped disk), partitions, leader
//! isolation, one-way cuts, slow and lossy links, session expiry, dropped
//! client connections, failpoints (crash, pause, rejoin), observers killed
//! or cut off — then heals
//! everything, waits until the ensemble is quiescent, every abandoned
//! session has expired and every session the workload closed has ended at
//! the server, reads the final state and runs every checker.
//!
//! [`run`] drives the built-in [`Mixed`] workload of raw-request processes;
//! [`run_workload`] drives any [`Workload`] under the same faults and
//! healing — `zk-recipes`' `tests/chaos.rs` drives the real `Lock`, `Queue`,
//! `LeaderLatch` and `Semaphore` through it and judges them with the same
//! [checkers](crate::check).
//!
//! # Replaying a seed
//!
//! The seed fixes every choice the run makes itself: the ensemble's size
//! and settings, the nemesis's faults and their timing, each process's
//! operations, the members' election jitter and link losses. It does not
//! fix what tokio, the kernel and the clock decide: which task runs first,
//! when a TCP segment arrives, how long a flush takes. So a failing seed
//! reruns the same schedule of faults and operations, but interleavings can
//! differ and a rare race may not show again; the printed fault log and
//! history excerpt say what happened in the failing run. For exact replay,
//! reproduce the scenario in the simulator.
//!
//! ```no_run
//! use zk_testserver::chaos::{run_blocking, RealConfig};
//!
//! let out = run_blocking(RealConfig::for_seed(42));
//! if let Err(violation) = &out.result {
//!     eprintln!("seed 42: {violation}");
//!     for line in &out.faults_log {
//!         eprintln!("  {line}");
//!     }
//! }
//! ```

mod nemesis;
mod settle;
mod workload;
mod world;

pub use workload::{Mixed, Workload};
pub use world::{RealSession, RealWorld};

use crate::check::{MemberView, Violation};
use crate::ensemble::Ensemble;
use crate::workload::{Plan, Summary};
use nemesis::{heal_all, FaultLog, Nemesis};
use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};
use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::{Duration, Instant};

/// Settings of one run on a real ensemble.
#[derive(Debug, Clone, PartialEq)]
pub struct RealConfig {
    /// The seed of every choice the run makes.
    pub seed: u64,
    /// Voting members.
    pub members: usize,
    /// Observers (non-voting members; the nemesis crashes and isolates
    /// them too).
    pub observers: usize,
    /// The ensemble's tick.
    pub tick: Duration,
    /// Session timeout clients ask for.
    pub session_timeout: Duration,
    /// Longest a request waits for its reply.
    pub request_deadline: Duration,
    /// The processes of the built-in [`Mixed`] workload ([`run`]); other
    /// workloads ([`run_workload`]) bring their own.
    pub plan: Plan,
    /// How long the workload and the faults run.
    pub duration: Duration,
    /// Whether faults are injected.
    pub faults: bool,
    /// Mean time between faults.
    pub fault_interval: Duration,
}

impl RealConfig {
    /// The configuration of `seed`.
    pub fn for_seed(seed: u64) -> RealConfig {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed ^ 0x7265_616c_0000_0000);
        let ms = Duration::from_millis;
        let mut cfg = RealConfig {
            seed,
            members: if rng.random_bool(0.75) { 3 } else { 5 },
            observers: 0,
            tick: ms(25),
            session_timeout: ms(rng.random_range(300..500)),
            request_deadline: Duration::from_secs(2),
            // The lock and the queue run as the real `zk_recipes` types in
            // zk-recipes' chaos tests ([`Workload`]); the raw-request
            // copies of them are left to the simulator.
            plan: Plan {
                think: ms(20),
                lock_wait: Duration::from_secs(1),
                producers: 0,
                consumers: 0,
                lockers: 0,
                ..Plan::small()
            },
            duration: Duration::from_secs(3),
            faults: true,
            fault_interval: ms(rng.random_range(150..500)),
        };
        // Drawn last, so the draws before it stay what they were.
        cfg.observers = if rng.random_bool(0.35) { 1 } else { 0 };
        cfg
    }
}

/// What one run did and what the checkers said.
#[derive(Debug)]
pub struct RealOutcome {
    /// The seed.
    pub seed: u64,
    /// Operations recorded.
    pub ops: usize,
    /// Faults injected.
    pub faults: u64,
    /// The faults, one line each, with their times.
    pub faults_log: Vec<String>,
    /// The checkers' verdict.
    pub result: Result<Summary, Violation>,
    /// Real time the run took.
    pub took: Duration,
}

/// Runs one seed of the built-in [`Mixed`] workload on a fresh
/// current-thread runtime (the ensemble has its own).
pub fn run_blocking(cfg: RealConfig) -> RealOutcome {
    let workload = Mixed::new(cfg.plan.clone(), cfg.seed);
    run_workload_blocking(cfg, workload)
}

/// Runs one seed of `workload` on a fresh current-thread runtime (the
/// ensemble has its own).
pub fn run_workload_blocking<W: Workload>(cfg: RealConfig, workload: W) -> RealOutcome {
    let seed = cfg.seed;
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            return RealOutcome {
                seed,
                ops: 0,
                faults: 0,
                faults_log: Vec::new(),
                result: Err(Violation::new("harness", format!("no runtime: {e}"))),
                took: Duration::ZERO,
            }
        }
    };
    let local = tokio::task::LocalSet::new();
    local.block_on(&runtime, run_workload(cfg, workload))
}

/// Runs one seed of the built-in [`Mixed`] workload; must be called within
/// a `LocalSet`.
pub async fn run(cfg: RealConfig) -> RealOutcome {
    let workload = Mixed::new(cfg.plan.clone(), cfg.seed);
    run_workload(cfg, workload).await
}

/// Runs one seed of `workload`; must be called within a `LocalSet`.
pub async fn run_workload<W: Workload>(cfg: RealConfig, mut workload: W) -> RealOutcome {
    let started = Instant::now();
    let log = Rc::new(RefCell::new(FaultLog::default()));
    let result = drive(&cfg, &mut workload, &log).await;
    let log = log.take();
    RealOutcome {
        seed: cfg.seed,
        ops: workload.ops(),
        faults: log.count,
        faults_log: log.lines,
        result,
        took: started.elapsed(),
    }
}

fn liveness(what: impl Into<String>) -> Violation {
    Violation::new("liveness", what)
}

async fn drive<W: Workload>(
    cfg: &RealConfig,
    workload: &mut W,
    log: &Rc<RefCell<FaultLog>>,
) -> Result<Summary, Violation> {
    let zk = Ensemble::builder()
        .members(cfg.members)
        .observers(cfg.observers)
        .tick(cfg.tick)
        .seed(cfg.seed)
        .diff_retention(50)
        .snapshot_every(200)
        .wait_timeout(Duration::from_secs(30))
        .start()
        .await
        .map_err(|e| liveness(format!("the ensemble did not start: {e}")))?;
    let zk = Rc::new(zk);
    let running = Rc::new(Cell::new(true));
    let world = RealWorld {
        connect_string: zk.connect_string(),
        session_timeout: cfg.session_timeout,
        deadline: cfg.request_deadline,
        started: Instant::now(),
        running: running.clone(),
    };
    let setup = async {
        loop {
            match workload.setup(&world).await {
                Ok(()) => return,
                Err(e) => tracing::debug!(error = %e, "chaos setup failed; retrying"),
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(30), setup)
        .await
        .map_err(|_| liveness("setup did not finish"))?;
    let handles: Vec<_> = workload
        .processes(&world)
        .into_iter()
        .map(tokio::task::spawn_local)
        .collect();
    let nemesis = cfg.faults.then(|| {
        let n = Nemesis::new(
            zk.clone(),
            cfg.seed,
            cfg.tick,
            cfg.fault_interval,
            running.clone(),
            log.clone(),
        );
        tokio::task::spawn_local(n.run())
    });
    tokio::time::sleep(cfg.duration).await;
    running.set(false);
    if let Some(n) = nemesis {
        n.await.ok();
    }
    heal_all(&zk).await;
    let drain = async {
        for h in handles {
            h.await.ok();
        }
    };
    tokio::time::timeout(Duration::from_secs(30), drain)
        .await
        .map_err(|_| {
            liveness("processes did not finish after healing").with_ops(&workload.pending())
        })?;
    converge(&zk).await?;
    // Abandoned sessions expire within their timeout (at most 20 ticks).
    tokio::time::sleep(cfg.tick * 20 + cfg.tick * 4).await;
    // A close the client could not confirm ends the session only when it
    // times out, late on a starved machine: wait for it (see `settle`).
    let closed = workload.closed_sessions();
    let read = || read_views(&zk);
    let views = settle::views_once_ended(read, &closed, cfg.tick, Duration::from_secs(30)).await?;
    let summary = workload.verdict(&world, &views).await?;
    converge(&zk).await?;
    Ok(summary)
}

/// Every member's view, once the ensemble has converged.
async fn read_views(zk: &Ensemble) -> Result<Vec<MemberView>, Violation> {
    converge(zk).await?;
    let mut views = Vec::new();
    for m in zk.members() {
        views.push(
            zk.view(m)
                .await
                .map_err(|e| liveness(format!("member {m}: {e}")))?,
        );
    }
    Ok(views)
}

async fn converge(zk: &Ensemble) -> Result<u64, Violation> {
    zk.wait_until_converged().await.map_err(|e| match e {
        crate::ensemble::Error::Diverged { .. } => Violation::new("members", e.to_string()),
        other => liveness(format!("no convergence after healing: {other}")),
    })
}
