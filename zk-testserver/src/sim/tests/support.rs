//! Helpers for scripted simulations.

use crate::sim::{Sim, SimConfig, SimSession};
use crate::zab::MemberId;
use std::time::Duration;
use zk_client::proto::{Acl, CreateRequest, Request, Response};

pub const S: Duration = Duration::from_secs(1);

/// A quiet three-member simulation (no workload, no faults), quiescent.
pub fn quiet(seed: u64, tweak: impl FnOnce(&mut SimConfig)) -> Sim {
    let mut cfg = SimConfig::for_seed(seed);
    cfg.members = 3;
    cfg.observers = 0;
    cfg.faults = false;
    cfg.flush = Duration::from_millis(2);
    cfg.slow_flush = Duration::from_millis(2);
    cfg.keep_events = 0;
    cfg.print_events = std::env::var_os("SIM_TRACE").is_some();
    tweak(&mut cfg);
    let mut sim = Sim::new(cfg);
    assert!(
        sim.wait(10 * S, Sim::quiescent),
        "no quiescence: {}",
        sim.describe()
    );
    sim
}

pub fn create(path: &str, flags: i32) -> Request {
    Request::Create(CreateRequest {
        path: path.into(),
        data: None,
        acl: Acl::open_unsafe(),
        flags,
    })
}

/// Creates `path` and insists on success.
pub fn must_create(sim: &mut Sim, s: &SimSession, path: &str, flags: i32) -> i64 {
    match sim.call(s, create(path, flags), 10 * S) {
        Some(Ok((zxid, Response::Create(_)))) => zxid,
        other => panic!("create {path}: {other:?}\n{}", sim.describe()),
    }
}

/// Whether `path` is in member `m`'s tree.
pub fn has(sim: &Sim, m: MemberId, path: &str) -> bool {
    sim.nodes[(m - 1) as usize]
        .machine
        .as_ref()
        .is_some_and(|x| x.server().database().tree.get(path).is_some())
}

/// Whether some member has an ephemeral at `path`.
pub fn ephemeral_anywhere(sim: &Sim, path: &str) -> Vec<MemberId> {
    sim.views()
        .into_iter()
        .filter(|v| v.ephemerals.contains_key(path))
        .map(|v| v.id)
        .collect()
}

/// The member ids other than `leader`.
pub fn others(sim: &Sim, leader: MemberId) -> Vec<MemberId> {
    (1..=sim.cfg.members as u64)
        .filter(|&m| m != leader)
        .collect()
}

/// Whether `members` serve under one of them as leader.
pub fn serving_among(sim: &Sim, members: &[MemberId]) -> bool {
    sim.leader().is_some_and(|l| members.contains(&l)) && members.iter().all(|&m| sim.serving(m))
}
