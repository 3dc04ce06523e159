//! Observers: learners without a vote learn every committed entry but never
//! acknowledge one, and nothing they send counts toward a quorum.

use std::time::Duration;

use super::three_voters_and;
use crate::zab::ZabMessage;

const S: Duration = Duration::from_secs(1);

/// The observer applies every write, and sends neither an ACK nor a
/// PINGREPLY with a durable point, while every voter acknowledges.
#[test]
fn an_observer_learns_every_entry_and_acknowledges_none() {
    for seed in 0..3 {
        let (mut sim, leader) = three_voters_and(1, 300 + seed);
        for i in 0..20 {
            assert!(sim.propose(&format!("w{i}")).is_some());
            sim.run_for(S / 20);
        }
        assert!(
            sim.run_until(5 * S, |s| s.converged()),
            "seed {seed}: the observer catches up\n{}",
            sim.describe()
        );
        assert!(sim.payloads(4).iter().any(|p| p == "w19"), "seed {seed}");
        // Heartbeats went on for a while after the last write.
        sim.run_for(S);
        assert_eq!(
            sim.acks_sent.get(&4).copied().unwrap_or(0),
            0,
            "seed {seed}: the observer acknowledged"
        );
        for voter in [1, 2, 3].into_iter().filter(|&v| v != leader) {
            assert!(sim.acks_sent.get(&voter).copied().unwrap_or(0) > 0);
        }
    }
}

/// With the voters' acks cut off from the leader, an ACK from the observer
/// (forged: a real one never sends it) commits nothing.
#[test]
fn an_observers_ack_counts_for_nothing() {
    let (mut sim, leader) = three_voters_and(1, 7);
    let voters: Vec<u64> = [1, 2, 3].into_iter().filter(|&v| v != leader).collect();
    for &v in &voters {
        sim.cut_one_way(v, leader);
    }
    let zxid = sim.propose("uncommitted").expect("the leader proposes");
    sim.forge(4, leader, ZabMessage::Ack(zxid));
    sim.forge(4, leader, ZabMessage::PingReply { acked: zxid });
    // Less than syncLimit: the leader still leads.
    sim.run_for(S / 4);
    assert_eq!(sim.leader(), Some(leader));
    assert!(
        sim.nodes[&leader].m().last_committed_zxid() < zxid,
        "an observer's ack completed a quorum"
    );
    sim.heal();
    assert!(
        sim.run_until(5 * S, |s| s.payloads(4).iter().any(|p| p == "uncommitted")),
        "the write commits with the voters' acks"
    );
}
