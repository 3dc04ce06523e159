//! Network faults between members: an isolated minority stops and catches up
//! by DIFF once healed, an uncommitted proposal is truncated, lossy and slow
//! links lose no acknowledged write, and `sync` waits for the leader.

mod common;

use common::cluster::*;
use common::{create, new_session, Raw};
use std::time::Duration;
use zk_client::CreateMode;

/// Waits until `member` no longer serves.
async fn wait_stopped(zk: &zk_testserver::Ensemble, member: u64) {
    zk.wait_for_status("the member to stop serving", |s| {
        !s[member as usize - 1].serving
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn isolated_leader_stops_majority_goes_on_and_heal_catches_up_by_diff() {
    let zk = builder(3).start().await.unwrap();
    let old = zk.wait_for_leader().await.unwrap();
    let majority: Vec<u64> = (1..=3).filter(|&m| m != old).collect();
    let stranded = client_of(&zk, old).await;
    stranded
        .create("/before", "", CreateMode::Persistent)
        .await
        .unwrap();
    zk.partition(&[&[old], &majority]);
    // The old leader gives up within syncLimit and refuses clients.
    wait_stopped(&zk, old).await;
    let (mut raw, resp) =
        Raw::handshake(&zk.addr(old).unwrap().to_string(), new_session(2000)).await;
    assert!(resp.is_none(), "a member without quorum accepted a session");
    assert!(raw.closed().await);
    // The majority elects a leader and keeps serving writes.
    let new = zk.wait_for_quorum().await.unwrap();
    assert!(majority.contains(&new));
    let c = client_of(&zk, majority[0]).await;
    let mut written = Vec::new();
    for i in 0..20 {
        let p = format!("/during{i}");
        c.create(&p, "", CreateMode::Persistent).await.unwrap();
        written.push(p);
    }
    // Nothing new reached the minority.
    let applied_before_heal = zk.last_zxid(old).await.unwrap();
    assert!(applied_before_heal < zk.last_zxid(new).await.unwrap());
    zk.heal();
    zk.wait_until_converged().await.unwrap();
    let s = zk.status(old).unwrap();
    assert!(s.syncs.diff >= 1, "caught up by DIFF: {s:?}");
    assert_eq!(s.syncs.snap, 0);
    assert_everywhere(&zk, &written).await;
}

#[tokio::test]
async fn uncommitted_proposal_is_truncated_when_its_member_rejoins() {
    let zk = builder(3).start().await.unwrap();
    let old = zk.wait_for_leader().await.unwrap();
    let majority: Vec<u64> = (1..=3).filter(|&m| m != old).collect();
    let mut raw = Raw::connect(&zk.addr(old).unwrap().to_string()).await;
    zk.partition(&[&[old], &majority]);
    // The isolated leader logs this proposal but can never commit it.
    raw.send(&create("/lost", b"", 0)).await;
    zk.wait_for_status("the proposal logged", |s| {
        s[old as usize - 1].last_logged_zxid > s[old as usize - 1].last_committed_zxid
    })
    .await
    .unwrap();
    assert!(raw.closed().await, "no reply, connection closed");
    wait_stopped(&zk, old).await;
    zk.wait_for_quorum().await.unwrap();
    let c = client_of(&zk, majority[0]).await;
    c.create("/after", "", CreateMode::Persistent)
        .await
        .unwrap();
    zk.heal();
    zk.wait_until_converged().await.unwrap();
    let s = zk.status(old).unwrap();
    assert!(s.syncs.trunc >= 1, "rejoined by TRUNC: {s:?}");
    assert_nowhere(&zk, "/lost").await;
    assert_everywhere(&zk, &["/after".to_string()]).await;
}

#[tokio::test]
async fn lossy_and_slow_links_lose_no_acknowledged_write() {
    // A member resyncing after a lost sync message may take initLimit; keep
    // sessions long enough (4 s) to outlast a few of those.
    let zk = builder(3)
        .seed(42)
        .max_session_timeout(Duration::from_secs(10))
        .start()
        .await
        .unwrap();
    let leader = zk.wait_for_leader().await.unwrap();
    let follower = (1..=3).find(|&m| m != leader).unwrap();
    // Writes enter through the follower, whose links to the leader lose
    // messages both ways; the third member's link is slow.
    let c = client_of(&zk, follower).await;
    zk.drop_rate(follower, leader, 0.05);
    zk.drop_rate(leader, follower, 0.05);
    let third = (1..=3).find(|&m| m != leader && m != follower).unwrap();
    zk.delay(leader, third, Duration::from_millis(5));
    let (load, _) = write_load(&c, "lossy", 60);
    let acked = within("the load", load).await.unwrap();
    zk.heal();
    zk.wait_until_converged().await.unwrap();
    assert_everywhere(&zk, &acked).await;
}

#[tokio::test]
async fn sync_on_a_lagging_follower_waits_for_the_leader() {
    let zk = builder(3).start().await.unwrap();
    let leader = zk.wait_for_leader().await.unwrap();
    let lagging = (1..=3).find(|&m| m != leader).unwrap();
    let reader = client_of(&zk, lagging).await;
    let writer = client_of(&zk, leader).await;
    // Everything from the leader reaches `lagging` late (within syncLimit,
    // so it keeps following); the third member acknowledges, so writes
    // commit without it.
    zk.delay(leader, lagging, Duration::from_millis(150));
    writer
        .create("/fresh", "", CreateMode::Persistent)
        .await
        .unwrap();
    assert!(
        reader.exists("/fresh").await.unwrap().is_none(),
        "the follower serves its own (older) state"
    );
    reader.sync("/fresh").await.unwrap();
    assert!(
        reader.exists("/fresh").await.unwrap().is_some(),
        "sync caught up"
    );
    zk.heal();
    zk.wait_until_converged().await.unwrap();
}

#[tokio::test]
async fn a_one_way_cut_from_the_leader_stops_that_follower_until_healed() {
    let zk = builder(3).start().await.unwrap();
    let leader = zk.wait_for_leader().await.unwrap();
    let cut_off = (1..=3).find(|&m| m != leader).unwrap();
    let other = (1..=3).find(|&m| m != leader && m != cut_off).unwrap();
    // The follower still reaches the leader, but hears nothing back.
    zk.cut(leader, cut_off);
    wait_stopped(&zk, cut_off).await;
    let c = client_of(&zk, other).await;
    c.create("/one-way", "", CreateMode::Persistent)
        .await
        .unwrap();
    assert_eq!(zk.leader(), Some(leader), "the leader kept its quorum");
    zk.heal();
    zk.wait_until_converged().await.unwrap();
    assert_everywhere(&zk, &["/one-way".to_string()]).await;
}
