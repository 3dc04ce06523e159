//! The simulator's own tests: a quiet run, runs under faults, and
//! determinism (a seed run twice gives the same event fingerprint).

use crate::sim::{run, SimConfig};
use std::time::Duration;

fn short(seed: u64) -> SimConfig {
    let mut cfg = SimConfig::for_seed(seed);
    cfg.duration = Duration::from_secs(5);
    cfg
}

#[test]
fn a_quiet_run_passes_every_checker() {
    let mut cfg = short(1);
    cfg.faults = false;
    let out = run(cfg);
    let summary = out.result.unwrap_or_else(|v| panic!("{v}"));
    assert!(summary.ops > 100, "{summary:?}");
    assert!(summary.linearized > 20 && summary.ids > 5, "{summary:?}");
    assert_eq!(out.faults, 0);
}

#[test]
fn the_same_seed_replays_bit_for_bit() {
    for seed in [2, 3] {
        let a = run(short(seed));
        let b = run(short(seed));
        assert_eq!(
            (a.hash, a.events, a.ops),
            (b.hash, b.events, b.ops),
            "seed {seed}"
        );
        assert!(a.faults > 0);
    }
    assert_ne!(run(short(4)).hash, run(short(5)).hash);
}
