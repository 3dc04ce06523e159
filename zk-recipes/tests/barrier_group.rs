//! Barrier, DoubleBarrier, GroupMember.

mod common;

use common::*;
use std::time::Duration;
use zk_recipes::{Barrier, DoubleBarrier, GroupMember};

#[tokio::test]
async fn barrier_blocks_until_removed() {
    let env = env().await;
    let a = env.client().await;
    let b = env.client().await;
    let barrier = Barrier::new(&a, "/b/gate");
    barrier.wait().await.unwrap(); // not set: passes
    barrier.set().await.unwrap();
    barrier.set().await.unwrap();
    assert!(barrier.is_set().await.unwrap());
    let waiter = {
        let b = Barrier::new(&b, "/b/gate");
        tokio::spawn(async move { b.wait().await })
    };
    assert!(!Barrier::new(&b, "/b/gate")
        .wait_timeout(Duration::from_millis(100))
        .await
        .unwrap());
    assert!(!waiter.is_finished());
    barrier.remove().await.unwrap();
    within(PATIENCE, waiter).await.unwrap().unwrap();
}

#[tokio::test]
async fn double_barrier_enter_and_leave_together() {
    let env = env().await;
    const N: usize = 3;
    let mut tasks = Vec::new();
    let (entered_tx, mut entered_rx) = tokio::sync::mpsc::unbounded_channel();
    let (go_tx, go_rx) = tokio::sync::watch::channel(false);
    for i in 0..N {
        let c = env.client().await;
        let entered_tx = entered_tx.clone();
        let mut go = go_rx.clone();
        tasks.push(tokio::spawn(async move {
            let barrier = DoubleBarrier::new(&c, "/b/double", N);
            barrier.enter().await.unwrap();
            entered_tx.send(i).unwrap();
            go.wait_for(|g| *g).await.unwrap();
            barrier.leave().await.unwrap();
        }));
        if i < N - 1 {
            // Not enough members yet: nobody is in.
            let admin = env.client().await;
            env.wait_children(&admin, "/b/double", |c| c.len() == i + 1)
                .await;
            assert!(entered_rx.try_recv().is_err());
        }
    }
    for _ in 0..N {
        within(PATIENCE, entered_rx.recv()).await.unwrap();
    }
    // One member cannot leave alone.
    let lonely = env.client().await;
    let extra = DoubleBarrier::new(&lonely, "/b/double2", 2);
    assert!(!extra
        .enter_timeout(Duration::from_millis(200))
        .await
        .unwrap());
    assert!(env.children(&lonely, "/b/double2").await.is_empty());

    go_tx.send_replace(true);
    for t in tasks {
        within(PATIENCE, t).await.unwrap();
    }
}

#[tokio::test]
async fn group_membership_follows_members_and_survives_expiry() {
    let env = env().await;
    let (proxy, builder) = env.proxied().await;
    let a = builder.connect().await.unwrap();
    let b = env.client().await;
    let ma = GroupMember::new(&a, "/group", "a", "pa");
    let mb = GroupMember::new(&b, "/group", "b", "pb");
    ma.start().await.unwrap();
    let (_cache, mut members) = mb.watch_members().await.unwrap();
    mb.start().await.unwrap();
    within(PATIENCE, members.wait_for(|m| m.len() == 2))
        .await
        .unwrap();
    assert_eq!(&mb.members().await.unwrap()["a"][..], b"pa");

    ma.set_payload("pa2").await.unwrap();
    within(
        PATIENCE,
        members.wait_for(|m| m.get("a").is_some_and(|p| &p[..] == b"pa2")),
    )
    .await
    .unwrap();

    // After expiry the member is back, with its latest payload.
    env.expire(&proxy, &a).await;
    within(PATIENCE, async {
        loop {
            if let Ok(Some(stat)) = b.exists("/group/a").await {
                if stat.ephemeral_owner == a.session_id() {
                    break;
                }
            }
            members.changed().await.unwrap();
        }
    })
    .await;
    assert_eq!(&mb.members().await.unwrap()["a"][..], b"pa2");

    // Deleted by someone: re-created.
    b.delete("/group/a", None).await.unwrap();
    within(PATIENCE, async {
        while b.exists("/group/a").await.unwrap().is_none() {
            members.changed().await.unwrap();
        }
    })
    .await;

    ma.close().await.unwrap();
    within(PATIENCE, members.wait_for(|m| m.len() == 1))
        .await
        .unwrap();
    mb.close().await.unwrap();
}

/// Issue 16, trap 3: dropping every handle of a group member (without
/// `close`) removes its node in the background, and its keeper does not
/// keep the session open once the application drops its client.
#[tokio::test]
async fn dropping_a_member_leaves_the_group_and_the_session_closes() {
    let env = env().await;
    let observer = env.client().await;
    let c = env.client().await;
    let me = GroupMember::new(&c, "/group-drop", "m1", "x");
    me.start().await.unwrap();
    let clone = me.clone();
    drop(me);
    env.wait_children(&observer, "/group-drop", |c| c.len() == 1)
        .await;
    drop(clone);
    env.wait_children(&observer, "/group-drop", |c| c.is_empty())
        .await;

    let other = GroupMember::new(&c, "/group-drop", "m2", "y");
    other.start().await.unwrap();
    let weak = c.downgrade();
    drop(other);
    drop(c);
    let state = within(PATIENCE, weak.wait_for_state(|s| s.is_terminal())).await;
    assert_eq!(state, zk_client::ConnectionState::Closed);
    env.wait_children(&observer, "/group-drop", |c| c.is_empty())
        .await;
}
