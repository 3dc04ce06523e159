//! ZOOKEEPER-3911: "Data inconsistency caused by DIFF sync uncommitted log".
//!
//! The original report (ZooKeeper's `DIFFSyncConsistencyTest`): with both
//! followers down, a client's create reaches the leader, which logs it but
//! cannot commit it. The followers come back and are synced by DIFF, the
//! uncommitted proposal included; they ACK NEWLEADER — but ZooKeeper's
//! followers persisted DIFF proposals only after UPTODATE — and fail right
//! after (at UPTODATE). The leader, holding a quorum of NEWLEADER ACKs,
//! commits the create and clients see it. Then every server goes down and
//! only the two former followers come back: the create must still be
//! there. Before the fix it was gone.
//!
//! Reproduction: the followers are cut off and killed while the create is
//! logged on the leader; they crash at [`Failpoint::AfterNewLeaderAck`],
//! armed for their restart; the leader commits and applies `/zk`; it is
//! then killed and the followers restarted without it.

use super::support::*;
use crate::check::members::check_digests;
use crate::failpoint::{Action, Failpoint};
use crate::sim::Sim;
use crate::workload::Session;

#[test]
fn diff_proposals_are_durable_before_the_newleader_ack() {
    let mut sim = quiet(3911, |_| {});
    let a = sim.leader().expect("leader");
    let rest = others(&sim, a);
    let (b, c) = (rest[0], rest[1]);
    let s = sim.session_on(Some(a), 5 * S).expect("session");
    must_create(&mut sim, &s, "/base", 0);
    // The followers are cut off (then die); the create reaches the leader,
    // logged only there. (Killing them first would reset the leader's
    // links and make it give up at once; a cut leaves it leading for
    // syncLimit, as the original test's longer tick did.)
    sim.set_isolated(a, true);
    let logged_before = sim.nodes[(a - 1) as usize]
        .machine
        .as_ref()
        .expect("a")
        .last_logged_zxid();
    {
        let s = s.clone();
        sim.spawn(async move {
            s.call(create("/zk", 0)).await.ok();
        });
    }
    assert!(
        sim.wait(2 * S, |s| s.nodes[(a - 1) as usize].storage.durable_zxid()
            > logged_before),
        "the leader logged the create"
    );
    sim.kill(b, false);
    sim.kill(c, false);
    sim.set_isolated(a, false);
    assert!(!has(&sim, a, "/zk"), "not committed without a quorum");
    // The followers come back, armed to fail right after their NEWLEADER ACK.
    for m in [b, c] {
        sim.arm(m, Failpoint::AfterNewLeaderAck, Action::Crash);
        sim.start(m);
    }
    assert!(
        sim.wait(20 * S, |s| has(s, a, "/zk")),
        "the leader committed /zk: {}",
        sim.describe()
    );
    assert!(
        sim.wait(5 * S, |s| !s.nodes[(b - 1) as usize].is_up()
            && !s.nodes[(c - 1) as usize].is_up()),
        "both followers failed after their ACK: {}",
        sim.describe()
    );
    // Everyone goes down; only the former followers come back.
    sim.kill(a, false);
    sim.start(b);
    sim.start(c);
    assert!(
        sim.wait(20 * S, |s| serving_among(s, &[b, c])),
        "{}",
        sim.describe()
    );
    for m in [b, c] {
        assert!(has(&sim, m, "/zk"), "member {m} lost the committed /zk");
        assert!(has(&sim, m, "/base"));
    }
    sim.start(a);
    assert!(sim.wait(20 * S, Sim::quiescent));
    check_digests(&sim.views()).unwrap_or_else(|v| panic!("{v}"));
}
