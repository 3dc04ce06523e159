//! The recipes whose twin is a kazoo recipe (scripts/interop/kazoo_twins.py
//! proves the layouts against real kazoo): NonBlockingLease and
//! SetPartitioner.

mod common;

use common::*;
use std::collections::BTreeSet;
use std::time::Duration;
use zk_client::proto::OpCode;
use zk_recipes::{NonBlockingLease, PartitionState, SetPartitioner};
use zk_testserver::proxy::{Fault, Match};

const HOUR: Duration = Duration::from_secs(3600);

#[tokio::test]
async fn lease_is_exclusive_until_its_end_and_renewable() {
    let env = env().await;
    let a = env.client().await;
    let b = env.client().await;
    assert!(NonBlockingLease::obtain(&a, "/leases/job", HOUR, "host-a")
        .await
        .unwrap());
    assert!(!NonBlockingLease::obtain(&b, "/leases/job", HOUR, "host-b")
        .await
        .unwrap());
    assert!(
        NonBlockingLease::obtain(&a, "/leases/job", HOUR, "host-a")
            .await
            .unwrap(),
        "renewed"
    );
    let (raw, _) = a.get_data("/leases/job/lease_holder").await.unwrap();
    let held: serde_json::Value = serde_json::from_slice(&raw).unwrap();
    assert_eq!(held["version"], 1);
    assert_eq!(held["holder"], "host-a");
    assert_eq!(held["end"].as_str().unwrap().len(), 19, "%Y-%m-%dT%H:%M:%S");
    // A lease renewed for no time has ended: another host gets it.
    assert!(
        NonBlockingLease::obtain(&a, "/leases/job", Duration::ZERO, "host-a")
            .await
            .unwrap()
    );
    assert!(NonBlockingLease::obtain(&b, "/leases/job", HOUR, "host-b")
        .await
        .unwrap());
    // The lock nodes are gone; only the holder node stays.
    let children = env.children(&a, "/leases/job").await;
    assert_eq!(children, vec!["lease_holder"]);
    // Two slots (MultiNonBlockingLease).
    assert_eq!(
        NonBlockingLease::obtain_any(&a, "/multi", 2, HOUR, "x")
            .await
            .unwrap(),
        Some(0)
    );
    assert_eq!(
        NonBlockingLease::obtain_any(&b, "/multi", 2, HOUR, "y")
            .await
            .unwrap(),
        Some(1)
    );
    assert_eq!(
        NonBlockingLease::obtain_any(&b, "/multi", 2, HOUR, "z")
            .await
            .unwrap(),
        None
    );
}

/// The holder node's create is applied but its reply lost: the retry
/// finds it and the lease counts as obtained (not an error, not a second
/// holder).
#[tokio::test]
async fn lease_lost_create_reply_still_obtains() {
    let env = env().await;
    let (proxy, builder) = env.proxied().await;
    let client = builder.connect().await.unwrap();
    let lost = proxy.inject(
        Match::op(OpCode::Create2).path_contains("lease_holder"),
        Fault::DropBeforeReply,
    );
    let got = within(
        PATIENCE,
        NonBlockingLease::obtain(&client, "/l", HOUR, "me"),
    )
    .await;
    lost.triggered().await;
    assert!(got.unwrap(), "obtained");
    let other = env.client().await;
    assert!(!NonBlockingLease::obtain(&other, "/l", HOUR, "other")
        .await
        .unwrap());
}

async fn acquired(p: &SetPartitioner) -> Vec<String> {
    within(PATIENCE, p.wait_for_acquire()).await.unwrap()
}

#[tokio::test]
async fn set_partitioner_divides_and_redivides() {
    let env = env().await;
    let items: Vec<String> = (0..7).map(|i| format!("item-{i}")).collect();
    let boundary = Duration::from_millis(200);
    let mut members = Vec::new();
    for w in 1..=3 {
        let client = env.client().await;
        members.push(
            SetPartitioner::start(&client, "/work", items.clone(), format!("w{w}"))
                .unwrap()
                .with_time_boundary(boundary),
        );
    }
    let check = |shares: &[Vec<String>], n: usize| {
        let all: BTreeSet<&String> = shares.iter().flatten().collect();
        assert_eq!(all.len(), items.len(), "every item owned: {shares:?}");
        assert_eq!(
            shares.iter().map(Vec::len).sum::<usize>(),
            items.len(),
            "once"
        );
        assert_eq!(shares.len(), n);
    };
    // A member may acquire a division made before all had joined; wait
    // until everyone holds a division of the full group.
    let shares = within(PATIENCE, async {
        loop {
            let mut shares = Vec::new();
            for m in &members {
                shares.push(acquired(m).await);
            }
            if shares.iter().all(|s| s.len() <= 3) {
                return shares;
            }
            for m in &members {
                if *m.state().borrow() == PartitionState::Release {
                    m.release_set().await.unwrap();
                }
            }
        }
    })
    .await;
    check(&shares, 3);
    // One leaves: the others are told to release, then divide again.
    let gone = members.pop().unwrap();
    gone.finish().await.unwrap();
    assert_eq!(*gone.state().borrow(), PartitionState::Failure);
    for m in &members {
        within(
            PATIENCE,
            m.state().wait_for(|s| *s == PartitionState::Release),
        )
        .await
        .unwrap();
        m.release_set().await.unwrap();
    }
    let mut shares = Vec::new();
    for m in &members {
        shares.push(acquired(m).await);
    }
    check(&shares, 2);
}

/// A member whose session expires fails (its locks went with the session),
/// as kazoo's does.
#[tokio::test]
async fn set_partitioner_fails_on_session_loss() {
    let env = env().await;
    let (proxy, builder) = env.proxied().await;
    let client = builder.connect().await.unwrap();
    let items = vec!["a".to_string(), "b".to_string()];
    let p = SetPartitioner::start(&client, "/w", items, "solo")
        .unwrap()
        .with_time_boundary(Duration::from_millis(100));
    assert_eq!(acquired(&p).await.len(), 2);
    env.expire(&proxy, &client).await;
    within(
        PATIENCE,
        p.state().wait_for(|s| *s == PartitionState::Failure),
    )
    .await
    .unwrap();
    assert!(p.partition().is_empty());
}
