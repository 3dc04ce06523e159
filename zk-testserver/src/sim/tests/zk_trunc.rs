//! An interrupted TRUNC: a former leader with proposals nobody else has is
//! told to truncate them when it rejoins, and fails right after the
//! truncation (crash, pause, or a dropped link) before the rest of the sync.
//! When it comes back, the truncated proposals must be gone for good (never
//! applied, never resurrected by its own log), and it must converge with the
//! new history.

use super::support::*;
use crate::check::members::check_digests;
use crate::failpoint::{Action, Failpoint};
use crate::sim::Sim;
use crate::storage::Storage;
use crate::workload::Session;
use crate::zab::{zxid_epoch, MemberId};
use std::time::Duration;

fn scenario(seed: u64, action: Action) {
    let mut sim = quiet(seed, |_| {});
    let a = sim.leader().expect("leader");
    let s = sim.session_on(Some(a), 5 * S).expect("session");
    let base = must_create(&mut sim, &s, "/t0", 0);
    let old_epoch = zxid_epoch(base);
    // The leader is cut off; writes reach it and are logged there only.
    sim.set_isolated(a, true);
    for i in 1..=3 {
        let s = s.clone();
        sim.spawn(async move {
            s.call(create(&format!("/u{i}"), 0)).await.ok();
        });
    }
    assert!(
        sim.wait(2 * S, |s| s.nodes[(a - 1) as usize].storage.durable_zxid()
            > base),
        "the isolated leader logged the writes"
    );
    // The others elect a leader and move on.
    let rest: Vec<MemberId> = others(&sim, a);
    assert!(
        sim.wait(20 * S, |s| serving_among(s, &rest)),
        "{}",
        sim.describe()
    );
    let leader = sim.leader().expect("new leader");
    let s2 = sim.session_on(Some(leader), 5 * S).expect("session");
    for i in 1..=5 {
        must_create(&mut sim, &s2, &format!("/v{i}"), 0);
    }
    // The old leader rejoins and is told to truncate; it fails right after.
    sim.arm(a, Failpoint::AfterTrunc, action);
    sim.set_isolated(a, false);
    let fired = |s: &Sim| {
        let n = &s.nodes[(a - 1) as usize];
        !n.is_up()
            || n.machine
                .as_ref()
                .is_some_and(|m| m.failpoints().hits() > 0)
    };
    assert!(
        sim.wait(20 * S, fired),
        "no TRUNC reached {a}: {}",
        sim.describe()
    );
    // The truncation is on its disk.
    let log = sim.nodes[(a - 1) as usize]
        .storage
        .clone()
        .recover()
        .expect("recover")
        .log;
    assert!(
        log.iter()
            .all(|e| zxid_epoch(e.zxid) != old_epoch || e.zxid <= base),
        "truncated proposals still on disk"
    );
    if action == Action::Crash {
        sim.start(a);
    }
    assert!(sim.wait(30 * S, Sim::quiescent), "{}", sim.describe());
    for m in 1..=3 {
        for i in 1..=3 {
            assert!(!has(&sim, m, &format!("/u{i}")), "/u{i} resurrected on {m}");
        }
        for i in 1..=5 {
            assert!(has(&sim, m, &format!("/v{i}")), "/v{i} missing on {m}");
        }
    }
    check_digests(&sim.views()).unwrap_or_else(|v| panic!("{v}"));
}

#[test]
fn a_crash_right_after_trunc_keeps_the_truncation() {
    scenario(71, Action::Crash);
}

#[test]
fn a_pause_right_after_trunc_delays_the_sync_only() {
    scenario(72, Action::Pause(Duration::from_secs(2)));
}

#[test]
fn a_link_failure_right_after_trunc_resyncs() {
    scenario(73, Action::Rejoin);
}
