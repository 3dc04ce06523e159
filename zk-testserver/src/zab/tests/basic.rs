//! Election, broadcast, sync() and application messages on a healthy network.

use bytes::Bytes;
use std::time::Duration;

use crate::storage::{Epochs, LogEntry};
use crate::zab::harness::{ZabHarness, ZabHarnessConfig, Store};
use crate::zab::{make_zxid, Role};

const S: Duration = Duration::from_secs(1);
const MS: Duration = Duration::from_millis(1);

fn store(epoch: u32, entries: &[(u32, u32)]) -> Store {
    Store {
        epochs: Epochs {
            accepted: epoch,
            current: epoch,
        },
        snapshot: None,
        log: entries
            .iter()
            .map(|&(e, c)| LogEntry {
                zxid: make_zxid(e, c),
                payload: Bytes::from(format!("{e}.{c}")),
            })
            .collect(),
    }
}

fn epoch1(n: u32) -> Vec<(u32, u32)> {
    (1..=n).map(|c| (1, c)).collect()
}

#[test]
fn single_member_leads_alone() {
    let mut sim = ZabHarness::new(1, 1, ZabHarnessConfig::default());
    assert_eq!(sim.leader(), Some(1), "a lone member elects itself at once");
    let zxid = sim.propose("a").expect("leader accepts");
    assert_eq!(zxid, make_zxid(1, 1), "first zxid of epoch 1 has counter 1");
    assert!(sim.run_until(S, |s| s.payloads(1) == ["a"]));
}

#[test]
fn three_members_elect_and_commit() {
    let mut sim = ZabHarness::new(3, 1, ZabHarnessConfig::default());
    assert!(sim.settle(5 * S), "no leader");
    assert_eq!(sim.leader(), Some(3), "highest id wins a fresh election");
    for i in 0..10 {
        assert!(sim.propose(&format!("w{i}")).is_some());
    }
    assert!(sim.run_until(5 * S, ZabHarness::converged));
    let expected: Vec<String> = (0..10).map(|i| format!("w{i}")).collect();
    for id in 1..=3 {
        assert_eq!(sim.payloads(id), expected, "member {id}");
    }
}

#[test]
fn five_members_elect_and_commit() {
    let mut sim = ZabHarness::new(5, 2, ZabHarnessConfig::default());
    assert!(sim.settle(5 * S));
    assert_eq!(sim.leader(), Some(5));
    let epoch = sim.nodes[&5].m().epoch();
    for id in 1..=4 {
        let m = sim.nodes[&id].m();
        assert_eq!(
            (m.role(), m.leader(), m.epoch()),
            (Role::Following, Some(5), epoch)
        );
    }
    for i in 0..20 {
        sim.propose(&format!("w{i}"));
        sim.run_for(3 * MS);
    }
    assert!(sim.run_until(5 * S, ZabHarness::converged));
    assert_eq!(sim.payloads(1).len(), 20);
}

#[test]
fn vote_order_epoch_beats_zxid() {
    let mut sim = ZabHarness::with_stores(3, 3, ZabHarnessConfig::default(), |id| match id {
        1 => store(2, &[(1, 1), (1, 2), (2, 1)]),
        2 => store(1, &epoch1(5)),
        _ => store(1, &epoch1(2)),
    });
    assert!(sim.settle(5 * S));
    assert_eq!(
        sim.leader(),
        Some(1),
        "higher currentEpoch wins over a longer log"
    );
    assert!(sim.run_until(5 * S, ZabHarness::converged));
    assert_eq!(
        sim.payloads(2),
        ["1.1", "1.2", "2.1"],
        "member 2's extra entries are truncated"
    );
    assert!(sim.count(2, "Trunc") >= 1);
}

#[test]
fn vote_order_zxid_beats_id() {
    let mut sim = ZabHarness::with_stores(3, 4, ZabHarnessConfig::default(), |id| match id {
        1 => store(1, &epoch1(5)),
        _ => store(1, &epoch1(3)),
    });
    assert!(sim.settle(5 * S));
    assert_eq!(sim.leader(), Some(1), "same epoch: the longer log wins");
    assert!(sim.run_until(5 * S, ZabHarness::converged));
    assert_eq!(sim.payloads(3).len(), 5);
    assert!(sim.count(3, "Diff") >= 1);
}

#[test]
fn vote_order_id_breaks_ties() {
    let mut sim = ZabHarness::with_stores(5, 5, ZabHarnessConfig::default(), |id| match id {
        2 | 4 => store(1, &epoch1(4)),
        _ => store(1, &epoch1(3)),
    });
    assert!(sim.settle(5 * S));
    assert_eq!(
        sim.leader(),
        Some(4),
        "equal epoch and zxid: the higher id wins"
    );
}

#[test]
fn new_leader_zxids_start_a_new_epoch() {
    let mut sim = ZabHarness::with_stores(3, 6, ZabHarnessConfig::default(), |_| store(3, &[(3, 1)]));
    assert!(sim.settle(5 * S));
    let zxid = sim.propose("x").expect("serving leader");
    assert_eq!(zxid, make_zxid(4, 1));
    assert!(sim.run_until(5 * S, ZabHarness::converged));
    assert_eq!(
        sim.payloads(1),
        ["3.1", "x"],
        "recovered history is committed by the new leader"
    );
}

#[test]
fn sync_waits_for_outstanding_commits() {
    let mut sim = ZabHarness::new(3, 7, ZabHarnessConfig::default());
    assert!(sim.settle(5 * S));
    let leader = sim.leader().expect("leader");
    // Slow storage on the leader and one follower keeps the next write outstanding.
    for id in 1..=3 {
        sim.nodes.get_mut(&id).expect("node").flush_delay = (200 * MS, 200 * MS);
    }
    let zxid = sim.propose("w").expect("proposed");
    let follower = if leader == 1 { 2 } else { 1 };
    assert!(sim.sync(follower, 7));
    assert!(sim.sync(leader, 8));
    sim.run_for(50 * MS);
    assert!(
        sim.nodes[&follower].syncs_done.is_empty(),
        "sync answered before the write committed"
    );
    assert!(sim.nodes[&leader].syncs_done.is_empty());
    assert!(sim.run_until(5 * S, |s| !s.nodes[&follower].syncs_done.is_empty()));
    assert_eq!(sim.nodes[&follower].syncs_done, [7]);
    assert!(
        sim.nodes[&follower].tree_zxid() >= zxid,
        "SyncDone before the commit was applied"
    );
    assert!(sim.run_until(S, |s| s.nodes[&leader].syncs_done == [8]));
}

#[test]
fn sync_and_app_refused_when_not_serving() {
    let mut sim = ZabHarness::new(3, 8, ZabHarnessConfig::default());
    sim.isolate(1);
    sim.isolate(2);
    sim.isolate(3);
    sim.run_for(S);
    let now = sim.now;
    let m = sim
        .nodes
        .get_mut(&1)
        .and_then(|n| n.member.as_mut())
        .expect("member");
    assert_eq!(m.role(), Role::Looking);
    assert!(m.sync(now, 1).is_err());
    assert!(m.propose(now, Bytes::new()).is_err());
    assert!(m.send_to_leader(Bytes::new()).is_err());
}

#[test]
fn app_messages_reach_the_leader() {
    let mut sim = ZabHarness::new(3, 9, ZabHarnessConfig::default());
    assert!(sim.settle(5 * S));
    let m = sim
        .nodes
        .get_mut(&1)
        .and_then(|n| n.member.as_mut())
        .expect("member");
    assert_eq!(m.send_to_leader(Bytes::from_static(b"fwd")), Ok(3));
    sim.drain();
    sim.run_for(100 * MS);
    assert_eq!(sim.nodes[&3].delivered, [(1, Bytes::from_static(b"fwd"))]);
}
