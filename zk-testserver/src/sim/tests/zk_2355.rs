//! ZOOKEEPER-2355: "Ephemeral node is never deleted if follower fails while
//! reading the proposal packet".
//!
//! The original scenario (ZooKeeper's `EphemeralNodeDeletionTest`): three
//! servers; a session creates ephemeral `/e1`; a follower is made to fail
//! right after reading the PROPOSAL of the session's closeSession (a socket
//! timeout: it drops the packet and goes back to the election, keeping its
//! in-memory database); the leader commits the close with the other
//! follower. Once the faulty follower is back: `/e1` must be gone there too;
//! then `/e1` is created again by another session and that session closed,
//! and `/e1` must be gone on every server. Before the fix the faulty
//! follower kept the first `/e1` forever, and so also missed the second
//! deletion.
//!
//! Here the follower fails at [`Failpoint::CloseSessionProposal`] with
//! [`Action::Rejoin`] (the message is dropped unprocessed, the link to the
//! leader is reset, the member rejoins with its memory), and, as variants,
//! crashes there, or is partitioned from the leader during the close, or the
//! leader crashes right after proposing the close.

use super::support::*;
use crate::check::members::check_digests;
use crate::failpoint::{Action, Failpoint};
use crate::sim::Sim;
use crate::zab::MemberId;

/// Runs the scenario with `fault` applied to the faulty follower (or the
/// leader) before the first session closes; `restore` undoes it after.
fn scenario(
    seed: u64,
    fault: impl FnOnce(&mut Sim, MemberId, MemberId),
    restore: impl FnOnce(&mut Sim, MemberId, MemberId),
) {
    let mut sim = quiet(seed, |_| {});
    let leader = sim.leader().expect("leader");
    let followers = others(&sim, leader);
    let (home, faulty) = (followers[0], followers[1]);
    // 1: a session on a follower creates /e1.
    let s1 = sim.session_on(Some(home), 5 * S).expect("session 1");
    must_create(&mut sim, &s1, "/e1", 1);
    assert!(sim.wait(5 * S, Sim::quiescent));
    assert_eq!(ephemeral_anywhere(&sim, "/e1").len(), 3);
    // 2: the fault, 3: close the session.
    fault(&mut sim, leader, faulty);
    sim.close_session(&s1, 5 * S);
    sim.run_for(2 * S);
    restore(&mut sim, leader, faulty);
    // The faulty member is back and in sync.
    assert!(
        sim.wait(30 * S, Sim::quiescent),
        "no recovery: {}",
        sim.describe()
    );
    let gone_after = sim.elapsed();
    // Problem 1 of the original report: the faulty follower kept /e1.
    assert!(
        ephemeral_anywhere(&sim, "/e1").is_empty(),
        "/e1 left behind at {gone_after:?} on {:?}",
        ephemeral_anywhere(&sim, "/e1")
    );
    // Problem 2: /e1 made again by another session, that session closed.
    let leader = sim.leader().expect("leader");
    let s2 = sim.session_on(Some(leader), 5 * S).expect("session 2");
    must_create(&mut sim, &s2, "/e1", 1);
    assert!(sim.close_session(&s2, 5 * S));
    assert!(sim.wait(10 * S, Sim::quiescent));
    assert!(
        ephemeral_anywhere(&sim, "/e1").is_empty(),
        "second /e1 left on {:?}",
        ephemeral_anywhere(&sim, "/e1")
    );
    let views = sim.views();
    check_digests(&views).unwrap_or_else(|v| panic!("{v}"));
    for v in &views {
        assert!(!v.sessions.contains(&s1_id(&s1)), "member {}", v.id);
    }
}

fn s1_id(s: &crate::sim::SimSession) -> i64 {
    crate::workload::Session::session_id(s)
}

#[test]
fn follower_failing_on_the_close_session_proposal_rejoins_without_the_ephemeral() {
    scenario(
        2355,
        |sim, _, faulty| sim.arm(faulty, Failpoint::CloseSessionProposal, Action::Rejoin),
        |sim, _, faulty| {
            let m = sim.nodes[(faulty - 1) as usize]
                .machine
                .as_ref()
                .expect("up");
            assert_eq!(m.failpoints().hits(), 1, "the failpoint fired");
            assert!(m.sync_counts().diff >= 2, "rejoined and synced again");
        },
    );
}

#[test]
fn follower_crashing_on_the_close_session_proposal_restarts_without_the_ephemeral() {
    scenario(
        2356,
        |sim, _, faulty| sim.arm(faulty, Failpoint::CloseSessionProposal, Action::Crash),
        |sim, _, faulty| {
            assert!(!sim.nodes[(faulty - 1) as usize].is_up(), "crashed");
            sim.start(faulty);
        },
    );
}

#[test]
fn follower_partitioned_from_the_leader_during_the_close_catches_up() {
    scenario(
        2357,
        |sim, leader, faulty| {
            sim.set_cut(leader, faulty, true);
            sim.set_cut(faulty, leader, true);
        },
        |sim, leader, faulty| {
            sim.set_cut(leader, faulty, false);
            sim.set_cut(faulty, leader, false);
        },
    );
}

#[test]
fn leader_crashing_after_proposing_the_close_leaves_the_session_to_expire() {
    scenario(
        2358,
        |sim, leader, _| sim.arm(leader, Failpoint::CloseSessionProposal, Action::Crash),
        |sim, leader, _| {
            assert!(!sim.nodes[(leader - 1) as usize].is_up(), "crashed");
            sim.start(leader);
            // The close never became durable anywhere: the session lives on
            // until the new leader expires it.
            let timeout = sim.cfg.max_session_timeout() * 2;
            sim.run_for(timeout);
        },
    );
}
