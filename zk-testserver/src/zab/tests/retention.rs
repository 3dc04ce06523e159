//! A short DIFF retention: the leader drops committed entries from memory
//! soon after they commit, but never one a learner still lacks.

use std::time::Duration;

use crate::zab::harness::{ZabHarness, ZabHarnessConfig};

const S: Duration = Duration::from_secs(1);
const MS: Duration = Duration::from_millis(1);

/// Three voters, observer 4, and a retention of two committed entries.
/// The voters' acks are cut while the leader proposes six entries, so the
/// six commit together when acks flow again (the next PINGREPLY): more
/// than the retention at once. The observer must still get each of them,
/// in order, as INFORMs. Informed only after the commit had trimmed the
/// history, it got the last two with the `prev` of the last entry it had,
/// saw no gap, and applied a history with four entries missing (chaos
/// seed 984: an observer at the leader's zxid with another digest).
#[test]
fn an_observer_behind_by_more_than_the_retention_gets_every_entry() {
    let cfg = ZabHarnessConfig {
        diff_retention: 2,
        ..ZabHarnessConfig::default()
    };
    let mut sim = ZabHarness::with_spares(3, 1, 41, cfg);
    assert!(sim.settle(5 * S), "no leader");
    let leader = sim.leader().expect("leader");
    assert!(sim.propose("before").is_some());
    assert!(sim.run_until(5 * S, ZabHarness::converged), "{}", sim.describe());
    for voter in [1, 2, 3].into_iter().filter(|&v| v != leader) {
        sim.cut_one_way(voter, leader);
    }
    for i in 0..6 {
        assert!(sim.propose(&format!("w{i}")).is_some());
        sim.run_for(MS);
    }
    // Less than syncLimit: the leader keeps its followers.
    sim.run_for(S / 4);
    let lm = sim.nodes[&leader].m();
    assert!(
        lm.last_committed_zxid() < lm.last_logged_zxid(),
        "the writes committed without the voters' acks"
    );
    let snaps = sim.count(4, "Snap");
    sim.heal();
    assert!(
        sim.run_until(5 * S, ZabHarness::converged),
        "{}",
        sim.describe()
    );
    assert_eq!(sim.payloads(4), sim.payloads(leader));
    assert_eq!(
        sim.count(4, "Snap"),
        snaps,
        "the observer was synced again instead of informed"
    );
}
