//! The quickstart's narrative, checked: a lock handoff with increasing
//! fencing tokens, one leader at a time, discovery sees the registered
//! instances, a watched config change, and the client's session unchanged
//! after the ensemble's leader is killed.

use examples::quickstart::{run, AppConfig};
use examples::target::Target;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quickstart_tour_holds_its_promises() {
    let target = Target::embedded(3).await.expect("ensemble");
    let report = run(&target).await.expect("the tour runs");
    assert_eq!(report.fencing_tokens.len(), 2);
    assert!(
        report.fencing_tokens[0] < report.fencing_tokens[1],
        "fencing tokens increase: {:?}",
        report.fencing_tokens
    );
    assert_eq!(report.max_simultaneous_leaders, 1, "one leader at a time");
    assert_eq!(report.leaders.len(), 2);
    assert_ne!(report.leaders[0], report.leaders[1]);
    assert_eq!(report.discovered, vec!["api-1", "api-2"]);
    assert_eq!(
        report
            .config_seen
            .iter()
            .map(|c| c.replicas)
            .collect::<Vec<_>>(),
        vec![3, 5]
    );
    assert!(report.config_seen.iter().all(|c: &AppConfig| !c.beta));
    assert!(report.failover_ran, "the leader was killed");
    assert_ne!(report.session_before, 0);
    assert_eq!(
        report.session_before, report.session_after,
        "the session survives the leader failure"
    );
    assert!(
        report.lock_survived,
        "the lock stays held through the failure"
    );
    assert!(report.leadership_survived, "the latch leader keeps leading");
}
