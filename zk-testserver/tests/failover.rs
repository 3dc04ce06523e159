//! Failover of a 3-member ensemble under a real client: the leader killed
//! under a write load, a client's member killed under it.

mod common;

use common::cluster::*;
use zk_client::{ConnectionState, CreateMode, EventType, WatchEvent};

#[tokio::test]
async fn leader_killed_under_load_keeps_every_acknowledged_write() {
    let zk = builder(3).start().await.unwrap();
    let old = zk.wait_for_leader().await.unwrap();
    let c = client(&zk).await;
    let (load, mut acked_so_far) = write_load(&c, "w", 150);
    within("first writes", acked_so_far.wait_for(|n| *n >= 20))
        .await
        .unwrap();
    zk.kill(old).await.unwrap();
    let acked = within("the load", load).await.unwrap();
    assert_eq!(acked.len(), 150);
    let new = zk.wait_for_leader().await.unwrap();
    assert_ne!(new, old);
    let digest = zk.wait_until_converged().await.unwrap();
    assert_everywhere(&zk, &acked).await;
    // The old leader comes back as a follower with everything.
    zk.restart(old).await.unwrap();
    assert_eq!(zk.wait_until_converged().await.unwrap(), digest);
    assert_eq!(zk.leader(), Some(new));
    assert_everywhere(&zk, &acked).await;
}

#[tokio::test]
async fn client_of_a_killed_member_moves_with_its_session_and_watches() {
    let zk = builder(3).start().await.unwrap();
    let c = client(&zk).await;
    let id = c.session_id();
    c.create("/eph", "", CreateMode::Ephemeral).await.unwrap();
    c.create("/watched", "v0", CreateMode::Persistent)
        .await
        .unwrap();
    let (_, _, watch) = c.get_data_watch("/watched").await.unwrap();
    let victim = zk.member_at(c.connected_server().unwrap()).unwrap();
    zk.kill(victim).await.unwrap();
    within(
        "reconnected",
        c.wait_for_state(|s| s == ConnectionState::Reconnected),
    )
    .await;
    assert_eq!(c.session_id(), id, "same session");
    let now_on = zk.member_at(c.connected_server().unwrap()).unwrap();
    assert_ne!(now_on, victim);
    assert!(c.exists("/eph").await.unwrap().is_some(), "ephemeral kept");
    // The watch was carried over: a change made through another member fires it.
    let other = (1..=3).find(|m| *m != victim && *m != now_on).unwrap();
    let writer = client_of(&zk, other).await;
    writer.set_data("/watched", "v1", None).await.unwrap();
    match within("the watch", watch).await {
        WatchEvent::Node(e) => assert_eq!(e.event_type, EventType::NodeDataChanged),
        other => panic!("{other:?}"),
    }
    zk.wait_until_converged().await.unwrap();
}
