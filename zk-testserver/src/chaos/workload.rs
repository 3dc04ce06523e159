//! What a chaos run drives: the [`Workload`] trait, and [`Mixed`], the
//! built-in workload of raw-request processes.

use super::world::RealWorld;
use crate::check::members::closed_sessions;
use crate::check::{HistoryOp, MemberView, Recorder, Violation};
use crate::workload::{self, Plan, Process, Session, Summary, Watches, World};
use std::future::Future;
use std::time::Duration;

/// Client processes a chaos run drives while the nemesis injects faults,
/// and the checks of what they recorded.
///
/// The run calls [`Workload::setup`] once the ensemble is up,
/// [`Workload::processes`] to start the processes, which must return soon
/// after [`RealWorld::running`] turns false; after the faults are healed,
/// the processes ended, the ensemble converged, every abandoned session
/// expired and every session of [`Workload::closed_sessions`] ended, it
/// calls [`Workload::verdict`] with every member's view.
///
/// Outside this crate a workload drives what it likes — `zk-recipes`' tests
/// drive the real recipes — over clients from
/// [`RealWorld::client_builder`], records into a [`Recorder`] and judges
/// with the [checkers](crate::check).
pub trait Workload: 'static {
    /// Creates what the processes need; retried (after 50 ms) until it
    /// returns `Ok`, for at most 30 s.
    fn setup(&mut self, world: &RealWorld) -> impl Future<Output = Result<(), String>>;
    /// The processes to run (on the run's `LocalSet`).
    fn processes(&mut self, world: &RealWorld) -> Vec<Process>;
    /// Reads the final state and runs the checkers; `views` are every
    /// member's view at quiescence.
    fn verdict(
        &mut self,
        world: &RealWorld,
        views: &[MemberView],
    ) -> impl Future<Output = Result<Summary, Violation>>;
    /// Sessions the workload closed that its checks take as ended: before
    /// reading the members' views the run waits (up to 30 s) until no
    /// member holds any of them, for a close the client could not confirm
    /// ends the session at the server only when it times out
    /// ([`crate::check::members::closed_sessions`]). None by default.
    fn closed_sessions(&self) -> Vec<i64> {
        Vec::new()
    }
    /// Operations recorded so far.
    fn ops(&self) -> usize;
    /// Operations still waiting for their outcome (named when the
    /// processes do not finish).
    fn pending(&self) -> Vec<HistoryOp>;
}

/// The built-in workload: the [`Plan`]'s processes of
/// [`crate::workload`] (CAS registers, ids, ephemerals; the raw-request
/// queue and lock too if the plan asks for them) and every checker over
/// their history and watch streams.
#[derive(Debug, Clone)]
pub struct Mixed {
    plan: Plan,
    seed: u64,
    recorder: Recorder,
    watches: Watches,
}

impl Mixed {
    /// The processes of `plan`, their random streams derived from `seed`.
    pub fn new(plan: Plan, seed: u64) -> Mixed {
        Mixed {
            plan,
            seed,
            recorder: Recorder::new(),
            watches: Watches::default(),
        }
    }
}

impl Workload for Mixed {
    fn setup(&mut self, world: &RealWorld) -> impl Future<Output = Result<(), String>> {
        let (world, plan) = (world.clone(), self.plan.clone());
        async move {
            let s = world.connect().await.map_err(|e| e.to_string())?;
            let r = workload::setup(&s, &plan).await.map_err(|e| e.to_string());
            s.close().await.ok();
            r
        }
    }

    fn processes(&mut self, world: &RealWorld) -> Vec<Process> {
        workload::processes(world, &self.recorder, &self.watches, &self.plan, self.seed)
    }

    fn verdict(
        &mut self,
        world: &RealWorld,
        views: &[MemberView],
    ) -> impl Future<Output = Result<Summary, Violation>> {
        let this = self.clone();
        let world = world.clone();
        let views = views.to_vec();
        async move {
            let reader = async {
                loop {
                    if let Ok(s) = world.connect().await {
                        let at = world.elapsed();
                        let plan = &this.plan;
                        if let Ok(f) = workload::read_finals(&s, plan, &this.recorder, 0, at).await
                        {
                            s.close().await.ok();
                            return f;
                        }
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            };
            let finals = tokio::time::timeout(Duration::from_secs(30), reader)
                .await
                .map_err(|_| Violation::new("liveness", "the final state could not be read"))?;
            let history = this.recorder.snapshot();
            workload::verdict(&history, &this.watches.streams(), &finals, &views)
        }
    }

    fn closed_sessions(&self) -> Vec<i64> {
        closed_sessions(&self.recorder.snapshot())
            .into_keys()
            .collect()
    }

    fn ops(&self) -> usize {
        self.recorder.snapshot().len()
    }

    fn pending(&self) -> Vec<HistoryOp> {
        self.recorder.pending()
    }
}
