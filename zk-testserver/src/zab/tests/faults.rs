//! Crashes, partitions and the three ways a member catches up.

use std::time::Duration;

use crate::zab::harness::{ZabHarness, ZabHarnessConfig};
use crate::zab::{Member, Role};

const S: Duration = Duration::from_secs(1);
const MS: Duration = Duration::from_millis(1);

fn write(sim: &mut ZabHarness, prefix: &str, n: usize) {
    for i in 0..n {
        assert!(
            sim.propose(&format!("{prefix}{i}")).is_some(),
            "no serving leader for {prefix}{i}"
        );
        sim.run_for(2 * MS);
    }
}

fn settled(seed: u64, n: u64, cfg: ZabHarnessConfig) -> ZabHarness {
    let mut sim = ZabHarness::new(n, seed, cfg);
    assert!(sim.settle(5 * S), "no leader");
    sim
}

#[test]
fn leader_crash_elects_a_leader_with_every_commit() {
    let mut sim = settled(10, 3, ZabHarnessConfig::default());
    write(&mut sim, "a", 10);
    assert!(sim.run_until(5 * S, ZabHarness::converged));
    let old = sim.leader().expect("leader");
    sim.crash(old, false);
    assert!(sim.settle(5 * S), "no new leader");
    let new = sim.leader().expect("leader");
    assert_ne!(new, old);
    assert_eq!(sim.payloads(new).len(), 10);
    write(&mut sim, "b", 5);
    sim.start(old);
    assert!(sim.run_until(10 * S, ZabHarness::converged));
    assert_eq!(sim.payloads(old).len(), 15, "restarted leader caught up");
    assert_eq!(sim.nodes[&old].m().role(), Role::Following);
    assert!(sim.count(old, "Diff") >= 1, "caught up by DIFF");
}

#[test]
fn partitioned_minority_stops_and_majority_goes_on() {
    let mut sim = settled(11, 5, ZabHarnessConfig::default());
    write(&mut sim, "a", 5);
    assert!(sim.run_until(5 * S, ZabHarness::converged));
    let old = sim.leader().expect("leader");
    let buddy = if old == 1 { 2 } else { 1 };
    let majority: Vec<u64> = (1..=5).filter(|&id| id != old && id != buddy).collect();
    sim.partition(&[&[old, buddy], &majority]);
    // Within sync_limit the old leader notices it lost its quorum.
    sim.run_for(S);
    for id in [old, buddy] {
        let m = sim.nodes[&id].m();
        assert!(!m.is_serving(), "minority member {id} still serves");
    }
    assert!(sim.propose_at(old, "minority").is_none());
    assert!(sim.settle(5 * S) || sim.leader().is_some());
    let new = sim.leader().expect("majority leader");
    assert!(majority.contains(&new));
    let before = sim.nodes[&old].tree.len();
    write(&mut sim, "b", 10);
    sim.run_for(S);
    assert_eq!(
        sim.nodes[&old].tree.len(),
        before,
        "minority applied nothing new"
    );
    for &id in &majority {
        assert_eq!(sim.payloads(id).len(), 15);
    }
    sim.heal();
    assert!(sim.run_until(15 * S, ZabHarness::converged));
    for id in [old, buddy] {
        assert_eq!(sim.payloads(id).len(), 15);
        assert!(sim.count(id, "Diff") >= 1, "member {id} caught up by DIFF");
        assert_eq!(sim.count(id, "Snap"), 0);
    }
}

#[test]
fn uncommitted_proposal_is_truncated_on_rejoin() {
    let mut sim = settled(12, 3, ZabHarnessConfig::default());
    write(&mut sim, "a", 3);
    assert!(sim.run_until(5 * S, ZabHarness::converged));
    let old = sim.leader().expect("leader");
    sim.isolate(old);
    let lost = sim
        .propose_at(old, "lost")
        .expect("isolated leader still accepts for a moment");
    assert!(
        sim.run_until(S, |s| s.nodes[&old].store.last() == lost),
        "proposal logged"
    );
    assert!(sim.run_until(10 * S, |s| s.leader().is_some_and(|l| l != old)));
    write(&mut sim, "b", 3);
    sim.heal();
    assert!(sim.run_until(15 * S, ZabHarness::converged));
    assert!(sim.count(old, "Trunc") >= 1, "rejoined by TRUNC");
    for id in 1..=3 {
        assert!(
            !sim.payloads(id).contains(&"lost".to_string()),
            "member {id} applied the lost write"
        );
        assert_eq!(sim.payloads(id).len(), 6);
    }
    assert!(
        sim.nodes[&old].store.log.iter().all(|e| e.zxid != lost),
        "lost entry still in storage"
    );
}

#[test]
fn member_away_past_retention_catches_up_by_snap() {
    let cfg = ZabHarnessConfig {
        diff_retention: 5,
        ..ZabHarnessConfig::default()
    };
    let mut sim = settled(13, 3, cfg);
    write(&mut sim, "a", 3);
    assert!(sim.run_until(5 * S, ZabHarness::converged));
    let away = if sim.leader() == Some(1) { 2 } else { 1 };
    sim.crash(away, false);
    write(&mut sim, "b", 20);
    sim.run_for(100 * MS);
    sim.start(away);
    assert!(sim.run_until(10 * S, ZabHarness::converged));
    assert!(sim.count(away, "Snap") >= 1, "caught up by SNAP");
    assert_eq!(sim.payloads(away).len(), 23);
    // Its storage now holds the snapshot; a restart recovers from it.
    sim.crash(away, false);
    sim.start(away);
    assert_eq!(
        sim.nodes[&away].tree.len(),
        sim.nodes[&away].store.snapshot.as_ref().map_or(0, |s| {
            crate::zab::harness::decode_tree(&s.data.to_bytes()).len()
        })
    );
    assert!(sim.run_until(10 * S, ZabHarness::converged));
    write(&mut sim, "c", 2);
    assert!(sim.run_until(5 * S, ZabHarness::converged));
    assert_eq!(sim.payloads(away).len(), 25);
}

#[test]
fn wiped_member_rejoins() {
    let mut sim = settled(14, 3, ZabHarnessConfig::default());
    write(&mut sim, "a", 8);
    assert!(sim.run_until(5 * S, ZabHarness::converged));
    let wiped = if sim.leader() == Some(1) { 2 } else { 1 };
    sim.crash(wiped, true);
    sim.start(wiped);
    assert!(sim.run_until(10 * S, ZabHarness::converged));
    assert_eq!(sim.payloads(wiped).len(), 8);
}

#[test]
fn restarted_ensemble_recovers_logs_and_snapshots() {
    let mut sim = settled(15, 3, ZabHarnessConfig::default());
    write(&mut sim, "a", 10);
    assert!(sim.run_until(5 * S, ZabHarness::converged));
    sim.take_snapshot(1);
    write(&mut sim, "b", 5);
    assert!(sim.run_until(5 * S, ZabHarness::converged));
    let before = sim.payloads(3);
    for id in 1..=3 {
        sim.crash(id, false);
    }
    for id in 1..=3 {
        sim.start(id);
        let m: &Member = sim.nodes[&id].m();
        assert_eq!(
            m.last_logged_zxid(),
            sim.nodes[&id].store.last(),
            "member {id} recovered its log"
        );
        assert!(
            m.last_committed_zxid() == sim.nodes[&id].tree_zxid(),
            "nothing committed before sync beyond the snapshot"
        );
    }
    assert_eq!(
        sim.payloads(1).len(),
        10,
        "member 1 restarted from its snapshot"
    );
    assert_eq!(
        sim.payloads(2).len(),
        0,
        "member 2 applies nothing until synced"
    );
    assert!(sim.run_until(10 * S, ZabHarness::converged));
    assert_eq!(sim.payloads(2), before);
    write(&mut sim, "c", 3);
    assert!(sim.run_until(5 * S, ZabHarness::converged));
    assert_eq!(sim.payloads(1).len(), 18);
}

/// A follower with slow storage gets many entries by DIFF. It must not ack
/// NEWLEADER until they and its new currentEpoch are durable (the harness
/// asserts that on every AckNewLeader; ZOOKEEPER-3911 broke exactly this).
#[test]
fn newleader_ack_waits_for_persistence() {
    let mut sim = settled(16, 3, ZabHarnessConfig::default());
    write(&mut sim, "a", 2);
    assert!(sim.run_until(5 * S, ZabHarness::converged));
    let slow = if sim.leader() == Some(1) { 2 } else { 1 };
    sim.crash(slow, false);
    write(&mut sim, "b", 20);
    sim.run_for(100 * MS);
    sim.nodes.get_mut(&slow).expect("node").flush_delay = (2 * S, 2 * S);
    let seen = sim.count(slow, "NewLeader");
    sim.start(slow);
    assert!(sim.run_until(5 * S, |s| s.count(slow, "NewLeader") > seen));
    let m = sim.nodes[&slow].m();
    assert!(
        m.last_durable_zxid() < m.last_logged_zxid(),
        "scenario must leave the sync undurable\n{}",
        sim.describe()
    );
    assert!(!m.is_serving());
    let leader = sim.leader().expect("leader");
    let acks_before = sim.count(leader, "AckNewLeader");
    sim.run_for(500 * MS);
    assert_eq!(
        sim.count(leader, "AckNewLeader"),
        acks_before,
        "acked before the flush completed"
    );
    assert!(sim.run_until(10 * S, ZabHarness::converged));
    assert_eq!(sim.payloads(slow).len(), 22);
}

/// The same with a snapshot followed by outstanding proposals: the install is
/// synchronous, and the proposals after it must be durable before the ack
/// (ZOOKEEPER-3642 acked a SNAP sync whose state was not yet on disk).
#[test]
fn newleader_ack_after_snap_waits_for_persistence() {
    let cfg = ZabHarnessConfig {
        diff_retention: 3,
        ..ZabHarnessConfig::default()
    };
    let mut sim = settled(17, 3, cfg);
    let leader = sim.leader().expect("leader");
    let slow = if leader == 1 { 2 } else { 1 };
    let third = 6 - leader - slow;
    sim.crash(slow, true);
    write(&mut sim, "a", 10);
    sim.run_for(100 * MS);
    for id in [slow, third] {
        sim.nodes.get_mut(&id).expect("node").flush_delay = (S, S);
    }
    write(&mut sim, "b", 2);
    let seen = sim.count(slow, "NewLeader");
    sim.start(slow);
    assert!(sim.run_until(S, |s| s.count(slow, "NewLeader") > seen));
    assert!(sim.count(slow, "Snap") >= 1);
    let m = sim.nodes[&slow].m();
    assert!(
        m.last_durable_zxid() < m.last_logged_zxid(),
        "proposals must follow the snapshot\n{}",
        sim.describe()
    );
    assert!(sim.run_until(10 * S, ZabHarness::converged));
    assert_eq!(sim.payloads(slow).len(), 12);
}

#[test]
fn one_way_cut_from_leader_makes_follower_rejoin() {
    let mut sim = settled(18, 3, ZabHarnessConfig::default());
    write(&mut sim, "a", 3);
    let leader = sim.leader().expect("leader");
    let f = if leader == 1 { 2 } else { 1 };
    sim.cut_one_way(leader, f);
    assert!(
        sim.run_until(5 * S, |s| s.nodes[&f].m().role() == Role::Looking
            || !s.nodes[&f].m().is_serving())
    );
    write(&mut sim, "b", 3);
    sim.heal();
    assert!(sim.run_until(15 * S, ZabHarness::converged));
    assert_eq!(sim.payloads(f).len(), 6);
}

#[test]
fn lossy_network_still_converges() {
    let cfg = ZabHarnessConfig {
        drop_prob: 0.02,
        ..ZabHarnessConfig::default()
    };
    let mut sim = settled(19, 5, cfg);
    for i in 0..50 {
        sim.propose(&format!("w{i}"));
        sim.run_for(20 * MS);
    }
    sim.cfg.drop_prob = 0.0;
    assert!(sim.run_until(20 * S, ZabHarness::converged), "{}", sim.describe());
}

#[test]
fn link_reset_makes_followers_elect_at_once() {
    let mut sim = settled(14, 3, ZabHarnessConfig::default());
    write(&mut sim, "a", 3);
    let old = sim.leader().expect("leader");
    sim.crash(old, false);
    let now = sim.now;
    for id in (1..=3).filter(|&id| id != old) {
        if let Some(m) = sim.nodes.get_mut(&id).and_then(|n| n.member.as_mut()) {
            m.peer_disconnected(now, old);
        }
    }
    sim.drain();
    // Well within sync_limit (5 ticks): the reset, not a timeout, started it.
    assert!(
        sim.run_until(300 * MS, |s| s.leader().is_some()),
        "{}",
        sim.describe()
    );
    assert_ne!(sim.leader(), Some(old));
}
