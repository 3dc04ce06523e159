//! Membership change: the voter set a leader counts acks against and an
//! election decides by is the committed configuration.

use std::time::Duration;

use super::three_voters_and;
use crate::zab::harness::ZabHarness;
use crate::zab::Role;

const S: Duration = Duration::from_secs(1);

fn committed_everywhere(sim: &ZabHarness, ids: &[u64], payload: &str) -> bool {
    ids.iter()
        .all(|id| sim.is_up(*id) && sim.payloads(*id).iter().any(|p| p == payload))
}

/// The old voters but the leader are replaced by the spares; once that
/// commits, the old ones can go and writes still commit (acks of 4 and 5
/// count), and when the leader goes too, 4 and 5 elect one of themselves.
#[test]
fn replaced_voters_leave_and_the_new_quorum_commits_and_elects() {
    for seed in 0..4 {
        let (mut sim, leader) = three_voters_and(2, 100 + seed);
        let old: Vec<u64> = [1, 2, 3].into_iter().filter(|&m| m != leader).collect();
        assert!(sim.propose("before").is_some());
        sim.propose_reconfig(vec![leader, 4, 5], old.clone())
            .expect("leader accepts the reconfiguration");
        assert!(
            sim.run_until(5 * S, |s| s.config.0 == vec![leader, 4, 5]),
            "seed {seed}: the reconfiguration commits"
        );
        for &m in &old {
            sim.crash(m, false);
        }
        assert!(sim.propose("after").is_some(), "seed {seed}: still leads");
        assert!(
            sim.run_until(5 * S, |s| committed_everywhere(s, &[leader, 4, 5], "after")),
            "seed {seed}: a write commits with the new voters only\n{}",
            sim.describe()
        );
        sim.crash(leader, false);
        assert!(sim.settle(10 * S), "seed {seed}: 4 and 5 elect a leader");
        let next = sim.leader().expect("leader");
        assert!([4, 5].contains(&next), "seed {seed}: leader {next}");
        assert!(sim.propose("last").is_some());
        assert!(sim.run_until(5 * S, |s| committed_everywhere(s, &[4, 5], "last")));
    }
}

/// Until the new voters have it, neither the reconfiguration nor anything
/// after it commits, though the old quorum acked both.
#[test]
fn entries_from_a_pending_reconfig_on_need_the_new_quorum_too() {
    let (mut sim, leader) = three_voters_and(2, 7);
    sim.isolate(4);
    sim.isolate(5);
    let zxid = sim
        .propose_reconfig(vec![leader, 4, 5], vec![])
        .expect("accepted");
    assert!(sim.propose("behind").is_some());
    sim.run_for(S / 2);
    let committed = sim.nodes[&leader].m().last_committed_zxid();
    assert!(committed < zxid, "committed without the new quorum");
    assert_eq!(sim.config.0, vec![1, 2, 3]);
    sim.heal();
    assert!(
        sim.run_until(5 * S, |s| committed_everywhere(
            s,
            &[leader, 4, 5],
            "behind"
        )),
        "both commit once the new voters ack"
    );
}

/// A removed follower stops serving; the two left are the quorum.
#[test]
fn removed_follower_stops_serving_and_two_voters_go_on() {
    let (mut sim, leader) = three_voters_and(2, 9);
    let gone = [1, 2, 3].into_iter().find(|&m| m != leader).unwrap();
    let kept: Vec<u64> = [1, 2, 3].into_iter().filter(|&m| m != gone).collect();
    sim.propose_reconfig(kept.clone(), vec![4, 5])
        .expect("accepted");
    assert!(sim.run_until(5 * S, |s| {
        s.nodes[&gone].m().role() == Role::Looking && !s.nodes[&gone].m().is_serving()
    }));
    assert!(sim.propose("two").is_some());
    assert!(sim.run_until(5 * S, |s| committed_everywhere(s, &kept, "two")));
    assert!(
        !sim.payloads(gone).iter().any(|p| p == "two"),
        "the removed member learns nothing more"
    );
    // Two voters: losing either one loses the quorum.
    let other = kept.iter().copied().find(|&m| m != leader).unwrap();
    sim.crash(other, false);
    assert!(sim.run_until(5 * S, |s| s.leader().is_none()));
}

/// A second reconfiguration is refused while one is pending.
#[test]
fn one_reconfig_at_a_time() {
    let (mut sim, leader) = three_voters_and(2, 11);
    sim.isolate(4);
    assert!(sim.propose_reconfig(vec![leader, 4, 5], vec![]).is_some());
    assert!(sim.propose_reconfig(vec![1, 2, 3, 4], vec![]).is_none());
}
