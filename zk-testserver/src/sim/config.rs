//! Settings of one simulated run.

use crate::workload::Plan;
use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};
use std::time::Duration;

/// Everything one simulated run depends on; with the same value, a run
/// repeats exactly.
#[derive(Debug, Clone, PartialEq)]
pub struct SimConfig {
    /// The seed of every random choice.
    pub seed: u64,
    /// Voting members of the ensemble (ids 1 to `members`).
    pub members: usize,
    /// Observers (non-voting members), ids after the voters'.
    pub observers: usize,
    /// ZooKeeper's tickTime (also ZAB's tick).
    pub tick: Duration,
    /// ZAB's initLimit, in ticks.
    pub init_limit: u32,
    /// ZAB's syncLimit, in ticks.
    pub sync_limit: u32,
    /// Committed entries a leader keeps for DIFF (fewer: more SNAPs).
    pub diff_retention: usize,
    /// Transactions between snapshots of a member.
    pub snapshot_every: u64,
    /// Session timeout clients ask for.
    pub session_timeout: Duration,
    /// One-way network delay range (members and clients).
    pub net_delay: (Duration, Duration),
    /// Longest flush of a normal disk.
    pub flush: Duration,
    /// Longest flush of a slow disk (some members get one).
    pub slow_flush: Duration,
    /// The workload processes.
    pub plan: Plan,
    /// How long the workload and the faults run.
    pub duration: Duration,
    /// Whether faults are injected.
    pub faults: bool,
    /// Mean time between two faults.
    pub fault_interval: Duration,
    /// Longest the ensemble may take to converge once healed.
    pub settle_limit: Duration,
    /// Event lines kept for a failure report (0: none).
    pub keep_events: usize,
    /// Print every event to stderr.
    pub print_events: bool,
}

impl SimConfig {
    /// The configuration of `seed`: its ensemble size, observers,
    /// retention, snapshot frequency, delays and disks are drawn from the
    /// seed.
    pub fn for_seed(seed: u64) -> SimConfig {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed ^ 0x5eed_c0f1_9000_0000);
        let ms = Duration::from_millis;
        let mut cfg = SimConfig {
            seed,
            members: if rng.random_bool(0.7) { 3 } else { 5 },
            observers: 0,
            tick: ms(100),
            init_limit: 10,
            sync_limit: 5,
            diff_retention: rng.random_range(5..200),
            snapshot_every: rng.random_range(20..400),
            session_timeout: ms(rng.random_range(600..2000)),
            net_delay: (ms(1), ms(rng.random_range(2..25))),
            flush: ms(rng.random_range(1..10)),
            slow_flush: ms(rng.random_range(20..200)),
            plan: Plan::default(),
            duration: Duration::from_secs(20),
            faults: true,
            fault_interval: ms(rng.random_range(700..2500)),
            settle_limit: Duration::from_secs(120),
            keep_events: 0,
            print_events: false,
        };
        // Drawn last, so the draws before it stay what they were.
        cfg.observers = if rng.random_bool(0.35) { 1 } else { 0 };
        cfg
    }

    /// Every member's id: the voters', then the observers'.
    pub fn ids(&self) -> Vec<u64> {
        (1..=(self.members + self.observers) as u64).collect()
    }

    /// The observers' ids.
    pub fn observer_ids(&self) -> Vec<u64> {
        (self.members as u64 + 1..=(self.members + self.observers) as u64).collect()
    }

    /// The largest session timeout the ensemble grants (20 ticks).
    pub fn max_session_timeout(&self) -> Duration {
        self.tick * 20
    }
}
