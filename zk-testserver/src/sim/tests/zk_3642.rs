//! ZOOKEEPER-3642: "Data inconsistency when the leader crashes right after
//! sending SNAP sync".
//!
//! The original report: a leader crashes after sending a SNAP to a learner
//! but before NEWLEADER; the learner has not saved the snapshot (ZooKeeper
//! took it only at NEWLEADER) yet advanced its last processed zxid to the
//! snapshot's, X. The next leader resyncs it with a DIFF from X (which
//! triggers no snapshot), so the data up to X lives only in the learner's
//! memory; when the learner restarts, everything up to X is silently lost.
//!
//! Reproduction: three members, C down while A (leader) and B commit more
//! than the leader keeps for DIFF, so C needs a SNAP. A crashes right after
//! sending it ([`Failpoint::SnapSent`]). B leads and resyncs C by DIFF; B
//! and C commit more. Then B and C are killed and C comes back with A only:
//! C (the most recent member) leads, and every write — those from before
//! the snapshot included — must be there. As a variant, C itself crashes
//! after receiving the snapshot but before persisting it
//! ([`Failpoint::SnapReceived`]): it must then not claim the snapshot's
//! zxid when it comes back.

use super::support::*;
use crate::check::members::check_digests;
use crate::failpoint::{Action, Failpoint};
use crate::sim::Sim;
use crate::storage::Storage;

fn setup() -> (Sim, u64, u64, u64, Vec<String>) {
    let mut sim = quiet(3642, |cfg| {
        cfg.diff_retention = 5;
        cfg.snapshot_every = 1_000_000;
    });
    let a = sim.leader().expect("leader");
    let rest = others(&sim, a);
    // C has the lower id: with equal zxids B wins the next election, and C
    // follows it (the original report's learner is resynced by the next
    // leader).
    let (b, c) = (rest[1], rest[0]);
    sim.kill(c, false);
    let s = sim.session_on(Some(a), 5 * S).expect("session");
    let mut paths = Vec::new();
    for i in 0..30 {
        let p = format!("/w{i}");
        must_create(&mut sim, &s, &p, 0);
        paths.push(p);
    }
    (sim, a, b, c, paths)
}

#[test]
fn a_snapshot_is_durable_before_a_later_diff_builds_on_it() {
    let (mut sim, a, b, c, mut paths) = setup();
    sim.arm(a, Failpoint::SnapSent, Action::Crash);
    sim.start(c);
    assert!(
        sim.wait(5 * S, |s| !s.nodes[(a - 1) as usize].is_up()),
        "the leader crashed after sending the SNAP"
    );
    // C received the SNAP: it is on C's disk before C does anything else.
    let got_snap = |s: &Sim| {
        s.nodes[(c - 1) as usize]
            .machine
            .as_ref()
            .is_some_and(|m| m.sync_counts().snap >= 1)
    };
    assert!(sim.wait(5 * S, got_snap), "C got the SNAP");
    let snap = sim.nodes[(c - 1) as usize].storage.snapshot_zxid();
    assert!(snap.is_some(), "SNAP persisted at once");
    // B leads, C follows, synced by DIFF from the snapshot's zxid.
    assert!(
        sim.wait(20 * S, |s| serving_among(s, &[b, c])),
        "{}",
        sim.describe()
    );
    let cm = sim.nodes[(c - 1) as usize].machine.as_ref().expect("c");
    assert!(
        cm.sync_counts().diff >= 1,
        "resynced by DIFF: {:?}",
        cm.sync_counts()
    );
    let leader = sim.leader().expect("leader");
    let s = sim.session_on(Some(leader), 5 * S).expect("session");
    for i in 0..10 {
        let p = format!("/v{i}");
        must_create(&mut sim, &s, &p, 0);
        paths.push(p);
    }
    // Kill B and C; C restarts with A, from its own disk.
    sim.kill(b, false);
    sim.kill(c, false);
    let recovered = sim.nodes[(c - 1) as usize]
        .storage
        .clone()
        .recover()
        .expect("recover");
    assert_eq!(
        recovered.snapshot.map(|s| s.zxid),
        snap,
        "C restarts from the snapshot it got by SNAP"
    );
    sim.start(c);
    sim.start(a);
    assert!(
        sim.wait(20 * S, |s| serving_among(s, &[a, c])),
        "{}",
        sim.describe()
    );
    assert_eq!(sim.leader(), Some(c), "the most recent member leads");
    for p in &paths {
        assert!(has(&sim, c, p) && has(&sim, a, p), "{p} lost");
    }
    sim.start(b);
    assert!(sim.wait(20 * S, Sim::quiescent));
    check_digests(&sim.views()).unwrap_or_else(|v| panic!("{v}"));
}

#[test]
fn a_learner_crashing_before_persisting_a_snapshot_does_not_claim_it() {
    let (mut sim, a, _b, c, paths) = setup();
    sim.arm(c, Failpoint::SnapReceived, Action::Crash);
    sim.start(c);
    assert!(
        sim.wait(5 * S, |s| !s.nodes[(c - 1) as usize].is_up()),
        "C crashed on the SNAP"
    );
    assert_eq!(
        sim.nodes[(c - 1) as usize].storage.snapshot_zxid(),
        None,
        "nothing of the SNAP reached the disk"
    );
    assert_eq!(sim.leader(), Some(a));
    sim.start(c);
    assert!(sim.wait(20 * S, Sim::quiescent), "{}", sim.describe());
    let cm = sim.nodes[(c - 1) as usize].machine.as_ref().expect("c");
    assert!(cm.sync_counts().snap >= 1, "synced by SNAP again");
    for p in &paths {
        assert!(has(&sim, c, p), "{p} missing on C");
    }
    check_digests(&sim.views()).unwrap_or_else(|v| panic!("{v}"));
}
