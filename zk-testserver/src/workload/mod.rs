//! Workloads that exercise the ensemble and record what they see.
//!
//! A workload is a set of client processes (async tasks), each looping over
//! operations of one kind of use — a CAS register, unique ids, a queue, a
//! fenced lock, ephemeral nodes — and recording every operation in a
//! [`crate::check::Recorder`] for the [checkers](crate::check).
//!
//! The same workload code runs in two worlds, behind the [`World`] and
//! [`Session`] traits:
//!
//! - the deterministic simulator ([`crate::sim`]), where a session is a pure
//!   `zk_client` session machine whose bytes travel over the simulated
//!   network, and time is simulated;
//! - a real in-process ensemble ([`crate::chaos`]), where a session is a
//!   real [`zk_client::Client`] over TCP and time is tokio's.
//!
//! Processes only ever use raw requests ([`Session::call`]), so what is
//! recorded is exactly what the wire said.
//!
//! The lock and queue processes are small raw-request versions of those
//! algorithms (protected lock creates, delete-as-claim takes, retried puts)
//! for the simulator, where `zk_recipes` cannot run: the recipes need a
//! `zk_client::Client` on tokio's clock and sockets. They judge the
//! server's side of the algorithms under replayable faults; the real
//! `zk_recipes` types are judged on the real ensemble by `zk-recipes`'
//! chaos tests, through [`crate::chaos::Workload`], and the real-ensemble
//! plan of [`crate::chaos::RealConfig`] leaves these processes out.

mod ctx;
mod ephemeral;
mod finals;
mod ids;
mod lock;
mod outcome;
mod queue;
mod register;
mod verdict;

pub use finals::{read_finals, Finals};
pub use verdict::{verdict, Summary};

use crate::check::{Recorder, WatchStream};
use ctx::Ctx;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use zk_client::proto::{Request, Response};
use zk_client::Error;

/// One ZooKeeper session, as a workload process uses it.
pub trait Session: Clone + 'static {
    /// Sends one request and waits for its reply: the reply header's zxid and
    /// the body, or the error (carrying the reply's zxid when there was one).
    fn call(&self, request: Request) -> impl Future<Output = Result<(i64, Response), Error>>;
    /// The session id.
    fn session_id(&self) -> i64;
    /// Adds a persistent recursive watch on `path`; its events' zxids are
    /// appended to the returned log as they arrive.
    fn watch(&self, path: &str) -> impl Future<Output = Result<WatchLog, Error>>;
    /// Closes the session (its ephemerals go).
    fn close(&self) -> impl Future<Output = Result<(), Error>>;
    /// Stops using the session without closing it, as a crashed client
    /// process would: the ensemble expires it after its timeout. (A world
    /// that cannot crash a client closes the session instead.)
    fn abandon(&self);
}

/// Where workload processes run: time and new sessions.
pub trait World: Clone + 'static {
    /// The sessions of this world.
    type Session: Session;
    /// Time since the run started (history timestamps).
    fn elapsed(&self) -> Duration;
    /// Waits for `d`.
    fn sleep(&self, d: Duration) -> impl Future<Output = ()>;
    /// Opens a new session (waits until it is established).
    fn connect(&self) -> impl Future<Output = Result<Self::Session, Error>>;
    /// Whether processes should go on issuing operations.
    fn running(&self) -> bool;
}

/// The zxids of one watch stream's events, in delivery order (a cheap
/// shared handle: the session appends, the run reads at the end).
#[derive(Debug, Clone, Default)]
pub struct WatchLog {
    zxids: Arc<Mutex<Vec<i64>>>,
}

impl WatchLog {
    /// An empty log.
    pub fn new() -> WatchLog {
        WatchLog::default()
    }

    /// Appends an event's zxid.
    pub fn push(&self, zxid: i64) {
        self.zxids
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(zxid);
    }

    /// The zxids so far.
    pub fn zxids(&self) -> Vec<i64> {
        self.zxids
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// How many processes of each kind a run has, and how busy they are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// Registers (znodes under `/reg`).
    pub registers: usize,
    /// Processes reading, writing and CAS-ing registers (each also watches
    /// `/reg` recursively).
    pub register_workers: usize,
    /// Processes creating sequential ids.
    pub id_workers: usize,
    /// Queue producers.
    pub producers: usize,
    /// Queue consumers.
    pub consumers: usize,
    /// Processes taking the lock and writing the resource it guards.
    pub lockers: usize,
    /// Processes creating ephemerals and closing or abandoning sessions.
    pub ephemeral_workers: usize,
    /// Longest pause between two operations of a process.
    pub think: Duration,
    /// Longest a process waits for the lock before giving up the attempt.
    pub lock_wait: Duration,
}

impl Default for Plan {
    fn default() -> Self {
        Plan {
            registers: 2,
            register_workers: 3,
            id_workers: 2,
            producers: 2,
            consumers: 2,
            lockers: 3,
            ephemeral_workers: 2,
            think: Duration::from_millis(60),
            lock_wait: Duration::from_secs(3),
        }
    }
}

impl Plan {
    /// Every process kind with one process (a small, quick mix).
    pub fn small() -> Plan {
        Plan {
            registers: 1,
            register_workers: 2,
            id_workers: 1,
            producers: 1,
            consumers: 1,
            lockers: 2,
            ephemeral_workers: 1,
            ..Plan::default()
        }
    }

    /// The register paths, as (checker key, znode path).
    pub fn registers(&self) -> Vec<(String, String)> {
        (0..self.registers)
            .map(|i| (format!("r{i}"), format!("/reg/r{i}")))
            .collect()
    }
}

/// A watch stream being recorded: process, session, path and log.
type Watched = (u32, i64, String, WatchLog);

/// The watch streams opened by a run's processes.
#[derive(Debug, Clone, Default)]
pub struct Watches {
    inner: Arc<Mutex<Vec<Watched>>>,
}

impl Watches {
    fn add(&self, process: u32, session: i64, path: &str, log: WatchLog) {
        self.inner
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push((process, session, path.to_string(), log));
    }

    /// Every stream with the zxids it delivered.
    pub fn streams(&self) -> Vec<WatchStream> {
        self.inner
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .map(|(process, session, path, log)| WatchStream {
                process: *process,
                session: *session,
                path: path.clone(),
                zxids: log.zxids(),
            })
            .collect()
    }
}

/// A process of a run: a future to drive to completion.
pub type Process = Pin<Box<dyn Future<Output = ()>>>;

/// Creates the nodes every workload needs (idempotent).
pub async fn setup<S: Session>(session: &S, plan: &Plan) -> Result<(), Error> {
    let mut paths: Vec<String> = ["/reg", "/ids", "/queue", "/lock", "/lockres", "/eph"]
        .iter()
        .map(|p| p.to_string())
        .collect();
    paths.extend(plan.registers().into_iter().map(|(_, p)| p));
    for path in paths {
        let req = outcome::create(&path, Some(b"0"), 0);
        match session.call(req).await {
            Ok(_) => {}
            Err(e) if e.is_node_exists() => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// The processes of `plan`, numbered from 1, each with its own random
/// stream derived from `seed`.
pub fn processes<W: World>(
    world: &W,
    recorder: &Recorder,
    watches: &Watches,
    plan: &Plan,
    seed: u64,
) -> Vec<Process> {
    let mut out: Vec<Process> = Vec::new();
    let mut next = 0u32;
    let mut ctx = || {
        next += 1;
        Ctx::new(world.clone(), recorder.clone(), watches.clone(), next, seed)
    };
    for _ in 0..plan.register_workers {
        out.push(Box::pin(register::run(ctx(), plan.clone())));
    }
    for _ in 0..plan.id_workers {
        out.push(Box::pin(ids::run(ctx(), plan.clone())));
    }
    for _ in 0..plan.producers {
        out.push(Box::pin(queue::produce(ctx(), plan.clone())));
    }
    for _ in 0..plan.consumers {
        out.push(Box::pin(queue::consume(ctx(), plan.clone())));
    }
    for _ in 0..plan.lockers {
        out.push(Box::pin(lock::run(ctx(), plan.clone())));
    }
    for _ in 0..plan.ephemeral_workers {
        out.push(Box::pin(ephemeral::run(ctx(), plan.clone())));
    }
    out
}
