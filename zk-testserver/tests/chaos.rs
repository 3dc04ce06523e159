//! A small fixed set of chaos seeds, simulated and real; the long runs are
//! `cargo run --release -p zk-testserver --example chaos -- --seeds N`.

use std::time::Duration;
use zk_testserver::chaos::{self, RealConfig};
use zk_testserver::sim::{self, SimConfig};

#[test]
fn simulated_seeds_keep_every_promise() {
    let mut ops = 0;
    let mut faults = 0;
    let mut with_observers = Vec::new();
    for seed in 1..=12 {
        let cfg = SimConfig::for_seed(seed);
        if cfg.observers > 0 {
            with_observers.push(seed);
        }
        let out = sim::run(cfg);
        if let Err(v) = &out.result {
            panic!("seed {seed} (replay: --sim --seed {seed}):\n{v}");
        }
        ops += out.ops;
        faults += out.faults;
    }
    assert!(ops > 10_000 && faults > 50, "ops={ops} faults={faults}");
    // Some of these seeds run an observer, which the nemesis crashes,
    // wipes and cuts off too.
    assert!(!with_observers.is_empty());
    eprintln!("seeds with an observer: {with_observers:?}");
}

#[test]
fn real_ensemble_seeds_keep_every_promise() {
    for seed in [1, 2] {
        let mut cfg = RealConfig::for_seed(seed);
        cfg.duration = Duration::from_secs(2);
        let out = chaos::run_blocking(cfg);
        if let Err(v) = &out.result {
            panic!(
                "seed {seed} (replay: --real --seed {seed}):\n{v}\nfaults:\n{}",
                out.faults_log.join("\n")
            );
        }
        assert!(out.ops > 100, "seed {seed}: {} ops", out.ops);
    }
}
