//! Deterministic tests of the ZAB member, driven by the simulation harness.

mod basic;
mod faults;
mod observers;
mod races;
mod random;
mod reconfig;
mod retention;
mod robust;

use crate::zab::harness::{ZabHarness, ZabHarnessConfig};
use std::time::Duration;

/// Three voters and `learners` learners without a vote (ids 4, 5, ...: no
/// configuration names them, so they are observers until a reconfiguration
/// adds them), settled on a leader; returns the harness and the leader.
fn three_voters_and(learners: u64, seed: u64) -> (ZabHarness, u64) {
    let mut sim = ZabHarness::with_spares(3, learners, seed, ZabHarnessConfig::default());
    assert!(sim.settle(Duration::from_secs(5)), "no leader");
    let leader = sim.leader().expect("leader");
    (sim, leader)
}
