//! The client's retry layer and deadlines against lost and late replies,
//! injected by the [`FaultProxy`] in front of an in-process ensemble.
//!
//! A reply lost after the server applied the request is the case retrying
//! gets wrong: the retry meets the first attempt's effect. These tests
//! pin what `zk_client::Client` promises for each kind of write, and that
//! `with_deadline` and `request_timeout` bound a call whose reply never
//! comes.

use std::time::{Duration, Instant};
use zk_client::proto::OpCode;
use zk_client::{Client, CreateMode};
use zk_testserver::proxy::{Fault, FaultProxy, Match};
use zk_testserver::Ensemble;

/// An ensemble and a proxy in front of it (the ensemble must outlive the
/// test, so it is returned too). Its tick allows sessions of 4 s: a held
/// reply (which holds the pings too) makes the client give the connection
/// up for dead only after about 2.7 s, far past the 300 ms deadlines below.
async fn proxied() -> (Ensemble, FaultProxy) {
    let zk = Ensemble::builder()
        .tick(Duration::from_millis(200))
        .start()
        .await
        .expect("ensemble starts");
    let first = zk.connect_string();
    let first = first.split(',').next().unwrap_or_default().to_string();
    let proxy = FaultProxy::start_for(&first).await.expect("proxy starts");
    (zk, proxy)
}

/// Well before the client would give up a connection whose replies are held
/// (two thirds of the 4 s session), well after a 300 ms deadline.
const GIVE_UP: Duration = Duration::from_secs(2);

/// A client through the proxy with the default retry policy.
async fn client(proxy: &FaultProxy) -> Client {
    Client::builder(proxy.connect_string())
        .session_timeout(Duration::from_secs(4))
        .connect()
        .await
        .expect("connects")
}

/// Bounds a call that should end by itself, so a broken deadline fails the
/// test instead of hanging it.
async fn bounded<T>(what: &str, f: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(10), f)
        .await
        .unwrap_or_else(|_| panic!("{what} did not end"))
}

#[tokio::test]
async fn ephemeral_create_whose_reply_is_lost_succeeds_once() {
    let (_zk, proxy) = proxied().await;
    let c = client(&proxy).await;
    let lost = proxy.inject(
        Match::op(OpCode::Create2).path_contains("/eph"),
        Fault::DropBeforeReply,
    );
    let (path, stat) = bounded("create", c.create("/eph", "x", CreateMode::Ephemeral))
        .await
        .expect("the retry recognises the lost attempt's node as its own");
    assert_eq!(path, "/eph");
    assert_eq!(stat.ephemeral_owner, c.session_id());
    lost.triggered().await;
    let creates = proxy
        .requests()
        .into_iter()
        .filter(|o| o.op == OpCode::Create2)
        .count();
    assert_eq!(creates, 2, "the create was sent again after the loss");
}

#[tokio::test]
async fn persistent_create_whose_reply_is_lost_says_it_was_retried() {
    let (_zk, proxy) = proxied().await;
    let c = client(&proxy).await;
    proxy.inject(
        Match::op(OpCode::Create2).path_contains("/p"),
        Fault::DropBeforeReply,
    );
    let err = bounded("create", c.create("/p", "x", CreateMode::Persistent))
        .await
        .expect_err("the retry meets the node the lost attempt created");
    // Anyone could have created a persistent node: the client cannot prove
    // it was the first attempt, so it says the error came after a retry.
    assert!(err.is_node_exists(), "{err:?}");
    assert!(err.after_retry(), "{err:?}");
    assert!(c.exists("/p").await.unwrap().is_some());
}

#[tokio::test]
async fn delete_whose_reply_is_lost_succeeds() {
    let (_zk, proxy) = proxied().await;
    let c = client(&proxy).await;
    c.create("/d", "x", CreateMode::Persistent).await.unwrap();
    let lost = proxy.inject(
        Match::op(OpCode::Delete).path_contains("/d"),
        Fault::DropBeforeReply,
    );
    bounded("delete", c.delete("/d", None))
        .await
        .expect("a retried delete that finds the node gone succeeded");
    lost.triggered().await;
    assert!(c.exists("/d").await.unwrap().is_none());
}

#[tokio::test]
async fn sequential_create_whose_reply_is_lost_is_not_repeated() {
    let (_zk, proxy) = proxied().await;
    let c = client(&proxy).await;
    c.create("/q", "", CreateMode::Persistent).await.unwrap();
    proxy.inject(
        Match::op(OpCode::Create2).path_contains("/q/item-"),
        Fault::DropBeforeReply,
    );
    let err = bounded(
        "create",
        c.create("/q/item-", "x", CreateMode::PersistentSequential),
    )
    .await
    .expect_err("the loss is reported, not retried");
    assert!(err.is_connection_loss(), "{err:?}");
    // A retry would have made a second node: exactly one exists.
    let children = c.get_children("/q").await.unwrap();
    assert_eq!(children.len(), 1, "{children:?}");
}

#[tokio::test]
async fn with_deadline_ends_a_call_whose_reply_never_comes() {
    let (_zk, proxy) = proxied().await;
    let c = client(&proxy).await;
    c.create("/h", "x", CreateMode::Persistent).await.unwrap();
    let held = proxy.inject(
        Match::op(OpCode::GetData).path_contains("/h"),
        Fault::HoldReply,
    );
    let started = Instant::now();
    let err = bounded(
        "get_data",
        c.with_deadline(Duration::from_millis(300)).get_data("/h"),
    )
    .await
    .expect_err("the reply is held past the deadline");
    assert!(err.is_timeout(), "{err:?}");
    // Ended by the deadline, not by the dead connection's loss (which the
    // retry layer would also turn into a timeout, seconds later).
    assert!(started.elapsed() < GIVE_UP, "{:?}", started.elapsed());
    held.release();
    // The handle without a deadline still works on the same session.
    assert_eq!(&c.get_data("/h").await.unwrap().0[..], b"x");
}

#[tokio::test]
async fn request_timeout_bounds_every_call_of_the_client() {
    let (_zk, proxy) = proxied().await;
    let c = Client::builder(proxy.connect_string())
        .session_timeout(Duration::from_secs(4))
        .request_timeout(Duration::from_millis(300))
        .connect()
        .await
        .expect("connects");
    c.create("/t", "x", CreateMode::Persistent).await.unwrap();
    let held = proxy.inject(
        Match::op(OpCode::GetData).path_contains("/t"),
        Fault::HoldReply,
    );
    let started = Instant::now();
    let err = bounded("get_data", c.get_data("/t"))
        .await
        .expect_err("the reply is held past the request timeout");
    assert!(err.is_timeout(), "{err:?}");
    assert!(started.elapsed() < GIVE_UP, "{:?}", started.elapsed());
    held.release();
}
