//! Sessions in a replicated ensemble: the leader owns expiry, followers keep
//! their clients' sessions alive by reporting activity, expiry deletes
//! ephemerals on every member, and sessions reattach on any member.

mod common;

use common::cluster::*;
use common::{new_session, Raw};
use std::time::Duration;
use zk_client::proto::ConnectRequest;
use zk_client::{ConnectionState, CreateMode};

#[tokio::test]
async fn expiry_by_the_leader_removes_ephemerals_on_every_member() {
    let zk = builder(3).start().await.unwrap();
    let leader = zk.wait_for_leader().await.unwrap();
    let follower = (1..=3).find(|&m| m != leader).unwrap();
    let c = client_of(&zk, follower).await;
    c.create("/eph", "", CreateMode::Ephemeral).await.unwrap();
    zk.wait_until_converged().await.unwrap();
    assert_everywhere(&zk, &["/eph".to_string()]).await;
    zk.expire_session(c.session_id()).await.unwrap();
    within("lost", c.wait_for_state(|s| s == ConnectionState::Lost)).await;
    zk.wait_until_converged().await.unwrap();
    assert_nowhere(&zk, "/eph").await;
    assert!(zk.sessions().await.unwrap().is_empty());
}

#[tokio::test]
async fn silent_session_on_a_follower_expires_and_an_active_one_lives() {
    let zk = builder(3).start().await.unwrap();
    let leader = zk.wait_for_leader().await.unwrap();
    let follower = (1..=3).find(|&m| m != leader).unwrap();
    let addr = zk.addr(follower).unwrap().to_string();
    // A 10-tick session kept alive by the client's pings through the
    // follower's touch reports. (Not the 2-tick minimum: on a loaded CI
    // machine a 100 ms session can miss its pings for real.)
    let active = zk_client::Client::builder(&addr)
        .session_timeout(Duration::from_millis(500))
        .connect()
        .await
        .unwrap();
    active
        .create("/active", "", CreateMode::Ephemeral)
        .await
        .unwrap();
    // A raw session (shortest timeout too) that never speaks again.
    let (mut silent, resp) = Raw::handshake(&addr, new_session(100)).await;
    assert_eq!(resp.unwrap().timeout_ms, 100);
    let r = silent.call(&common::create("/silent", b"", 1)).await;
    assert_eq!(r.header.err, 0);
    assert!(
        silent.closed().await,
        "expired by the leader, closed by the follower"
    );
    zk.wait_until_converged().await.unwrap();
    assert_nowhere(&zk, "/silent").await;
    // Three of its session timeouts later the active session is still
    // there.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(active.state(), ConnectionState::Connected);
    assert_everywhere(&zk, &["/active".to_string()]).await;
}

#[tokio::test]
async fn session_reattaches_on_another_member_and_wrong_passwords_are_refused() {
    let zk = builder(3).start().await.unwrap();
    let (a, b) = (
        zk.addr(1).unwrap().to_string(),
        zk.addr(2).unwrap().to_string(),
    );
    let (first, resp) = Raw::handshake(&a, new_session(2000)).await;
    let resp = resp.unwrap();
    drop(first);
    let reattach = |password: bytes::Bytes| ConnectRequest {
        protocol_version: 0,
        last_zxid_seen: 0,
        timeout_ms: 2000,
        session_id: resp.session_id,
        password,
        read_only: Some(false),
    };
    let (_moved, again) = Raw::handshake(&b, reattach(resp.password.clone())).await;
    assert_eq!(again.unwrap().session_id, resp.session_id);
    let (_bad, refused) = Raw::handshake(&b, reattach(bytes::Bytes::from_static(&[7; 16]))).await;
    assert_eq!(refused.unwrap().timeout_ms, 0, "expired reply");
    // A client that has seen more than a member applied is turned away there.
    let mut ahead = new_session(2000);
    ahead.last_zxid_seen = i64::MAX;
    let (mut c, none) = Raw::handshake(&a, ahead).await;
    assert!(none.is_none());
    assert!(c.closed().await);
}
