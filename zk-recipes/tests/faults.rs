//! Connection loss and session expiry for the recipes that had no such test
//! (issue 16, trap 13): ReadWriteLock, Semaphore, MultiLock, Barrier,
//! DoubleBarrier, SharedCounter, ConfigNode.

mod common;

use common::*;
use futures::StreamExt;
use std::time::Duration;
use zk_client::proto::OpCode;
use zk_recipes::{
    Barrier, ConfigNode, DoubleBarrier, Error, Lock, LossReason, MultiLock, ReadWriteLock,
    Semaphore, SharedCounter,
};
use zk_testserver::proxy::{Fault, Match};

/// A reader survives a dropped connection; when its session expires its
/// guard is lost, the waiting writer gets in, and the reader can read again
/// in its new session.
#[tokio::test]
async fn read_write_lock_under_connection_loss_and_expiry() {
    let env = env().await;
    let (proxy, builder) = env.proxied().await;
    let reader = builder.connect().await.unwrap();
    let writer = env.client().await;
    let rw = ReadWriteLock::new(&reader, "/rw");
    let read = rw.read().await.unwrap();

    proxy.drop_connections();
    reaches(&reader, zk_client::ConnectionState::Reconnected).await;
    assert!(
        !read.is_lost(),
        "a reconnect within the grace keeps the lock"
    );

    let writing = {
        let rw = ReadWriteLock::new(&writer, "/rw");
        tokio::spawn(async move { rw.write().await })
    };
    env.wait_children(&writer, "/rw", |c| c.len() == 2).await;
    let lost = read.lost();
    env.expire(&proxy, &reader).await;
    assert_eq!(within(PATIENCE, lost).await, LossReason::SessionExpired);
    let w = within(PATIENCE, writing).await.unwrap().unwrap();
    assert!(matches!(read.release().await, Err(Error::Lost { .. })));
    w.release().await.unwrap();
    let again = within(PATIENCE, rw.read()).await.unwrap();
    assert_eq!(again.stat().ephemeral_owner, reader.session_id());
    again.release().await.unwrap();
    env.wait_children(&writer, "/rw", |c| c.is_empty()).await;
}

/// A lease whose create reply is lost is found again (one lease node);
/// when the holder's session expires its lease is lost and the waiter
/// gets it.
#[tokio::test]
async fn semaphore_under_lost_reply_and_expiry() {
    let env = env().await;
    let (proxy, builder) = env.proxied().await;
    let holder = builder.connect().await.unwrap();
    let other = env.client().await;
    let sem = Semaphore::new(&holder, "/sem", 1).unwrap();
    let lost_reply = proxy.inject(
        Match::op(OpCode::Create2).path_contains("-lease-"),
        Fault::DropBeforeReply,
    );
    let lease = within(PATIENCE, sem.acquire()).await.unwrap();
    lost_reply.triggered().await;
    assert_eq!(env.children(&other, "/sem/leases").await.len(), 1);
    let first = lease.fencing_token();

    let waiting = {
        let sem = Semaphore::new(&other, "/sem", 1).unwrap();
        tokio::spawn(async move { sem.acquire().await })
    };
    env.wait_children(&other, "/sem/leases", |c| c.len() == 2)
        .await;
    let lost = lease.lost();
    env.expire(&proxy, &holder).await;
    assert_eq!(within(PATIENCE, lost).await, LossReason::SessionExpired);
    let next = within(PATIENCE, waiting).await.unwrap().unwrap();
    assert!(
        next.fencing_token() > first,
        "a later lease, a larger token"
    );
    assert!(matches!(lease.release().await, Err(Error::Lost { .. })));
    next.release().await.unwrap();
    env.wait_children(&other, "/sem/leases", |c| c.is_empty())
        .await;
}

/// A multi-lock is lost when its session expires, and a rival takes all
/// its locks.
#[tokio::test]
async fn multi_lock_under_expiry() {
    let env = env().await;
    let (proxy, builder) = env.proxied().await;
    let holder = builder.connect().await.unwrap();
    let other = env.client().await;
    let both =
        |c: &zk_client::Client| MultiLock::new(vec![Lock::new(c, "/ml/a"), Lock::new(c, "/ml/b")]);
    let guard = both(&holder).acquire().await.unwrap();
    let rival = {
        let m = both(&other);
        tokio::spawn(async move { m.acquire().await })
    };
    env.wait_children(&other, "/ml/a", |c| c.len() == 2).await;
    let lost = guard.lost();
    env.expire(&proxy, &holder).await;
    assert_eq!(within(PATIENCE, lost).await, LossReason::SessionExpired);
    assert!(guard.is_lost());
    let taken = within(PATIENCE, rival).await.unwrap().unwrap();
    assert!(matches!(guard.release().await, Err(Error::Lost { .. })));
    taken.release().await.unwrap();
}

/// A waiter keeps waiting through a dropped connection and a session
/// expiry, and is released when the barrier goes.
#[tokio::test]
async fn barrier_waiter_survives_connection_loss_and_expiry() {
    let env = env().await;
    let (proxy, builder) = env.proxied().await;
    let waiter = builder.connect().await.unwrap();
    let admin = env.client().await;
    let barrier = Barrier::new(&admin, "/barrier");
    barrier.set().await.unwrap();
    let waiting = {
        let b = Barrier::new(&waiter, "/barrier");
        tokio::spawn(async move { b.wait().await })
    };
    // The waiter's exists watch is in place once the request was sent.
    within(PATIENCE, async {
        while !proxy
            .requests()
            .iter()
            .any(|o| o.op == OpCode::Exists && o.watch)
        {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
    proxy.drop_connections();
    reaches(&waiter, zk_client::ConnectionState::Reconnected).await;
    env.expire(&proxy, &waiter).await;
    assert!(!waiting.is_finished(), "still set: still waiting");
    barrier.remove().await.unwrap();
    within(PATIENCE, waiting).await.unwrap().unwrap();
}

/// A member whose session expires while it waits to enter enters again
/// with a new node; the group completes and dissolves.
#[tokio::test]
async fn double_barrier_member_expires_while_entering() {
    let env = env().await;
    let (proxy, builder) = env.proxied().await;
    let a = builder.connect().await.unwrap();
    let b = env.client().await;
    let entering = {
        let member = DoubleBarrier::new(&a, "/double", 2);
        tokio::spawn(async move {
            member.enter().await?;
            member.leave().await
        })
    };
    let node = env.wait_children(&b, "/double", |c| c.len() == 1).await;
    let node = format!("/double/{}", node[0]);
    let old_session = a.session_id();
    env.expire(&proxy, &a).await;
    // The expiry took the node; the member creates it again in its new
    // session (so the other member counts it).
    within(PATIENCE, async {
        loop {
            let (stat, watch) = b.exists_watch(&node).await.unwrap();
            if stat.is_some_and(|s| s.ephemeral_owner != old_session) {
                return;
            }
            let _ = watch.await;
        }
    })
    .await;
    let other = DoubleBarrier::new(&b, "/double", 2);
    within(PATIENCE, other.enter()).await.unwrap();
    within(PATIENCE, other.leave()).await.unwrap();
    within(PATIENCE, entering).await.unwrap().unwrap();
    env.wait_children(&b, "/double", |c| c.iter().all(|n| n == "ready"))
        .await;
}

/// An add whose write reply is lost never adds twice: it succeeds or says
/// the outcome is unknown, and the value moved by exactly one delta. The
/// counter's watch goes on after the session expires.
#[tokio::test]
async fn shared_counter_under_lost_reply_and_expiry() {
    let env = env().await;
    let (proxy, builder) = env.proxied().await;
    let c = builder.connect().await.unwrap();
    let other = env.client().await;
    let counter = SharedCounter::new(&c, "/counter", 10);
    assert_eq!(counter.get().await.unwrap().value, 10);
    let lost_reply = proxy.inject(
        Match::op(OpCode::SetData).path_contains("/counter"),
        Fault::DropBeforeReply,
    );
    match within(PATIENCE, counter.add(1)).await {
        Ok(11) | Err(Error::OutcomeUnknown { .. }) => {}
        other => panic!("{other:?}"),
    }
    lost_reply.triggered().await;
    assert_eq!(
        SharedCounter::new(&other, "/counter", 0)
            .get()
            .await
            .unwrap()
            .value,
        11,
        "added exactly once"
    );

    let mut values = Box::pin(counter.watch().await.unwrap());
    assert_eq!(values.next().await.unwrap().unwrap(), 11);
    env.expire(&proxy, &c).await;
    SharedCounter::new(&other, "/counter", 0)
        .set(42)
        .await
        .unwrap();
    within(PATIENCE, async {
        while let Some(v) = values.next().await {
            if v.unwrap() == 42 {
                return;
            }
        }
        panic!("the watch ended");
    })
    .await;
}

#[derive(serde::Serialize, serde::Deserialize, Clone, Debug, PartialEq)]
struct Limits {
    max: u32,
}

/// An update whose write reply is lost is applied once; the cached value
/// follows changes made after the session expired.
#[tokio::test]
async fn config_node_under_lost_reply_and_expiry() {
    let env = env().await;
    let (proxy, builder) = env.proxied().await;
    let c = builder.connect().await.unwrap();
    let other = env.client().await;
    let config = ConfigNode::<Limits>::start(&c, "/config").await.unwrap();
    config.set(&Limits { max: 1 }).await.unwrap();
    let lost_reply = proxy.inject(
        Match::op(OpCode::SetData).path_contains("/config"),
        Fault::DropBeforeReply,
    );
    let bump = |old: Option<Limits>| Limits {
        max: old.map_or(0, |l| l.max) + 1,
    };
    match within(PATIENCE, config.update(bump)).await {
        Ok(v) => assert_eq!(v.value.max, 2),
        Err(Error::OutcomeUnknown { .. }) => {}
        Err(e) => panic!("{e}"),
    }
    lost_reply.triggered().await;
    let remote = ConfigNode::<Limits>::start(&other, "/config")
        .await
        .unwrap();
    assert_eq!(remote.read().await.unwrap().unwrap().value.max, 2, "once");

    let mut changes = Box::pin(config.changes());
    env.expire(&proxy, &c).await;
    remote.set(&Limits { max: 7 }).await.unwrap();
    within(PATIENCE, async {
        while let Some(v) = changes.next().await {
            if v.unwrap().is_some_and(|v| v.value.max == 7) {
                return;
            }
        }
        panic!("the changes ended");
    })
    .await;
    assert_eq!(config.current().unwrap().unwrap().value.max, 7);
}
