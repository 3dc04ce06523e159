//! Every queue between the network or a caller and the client is bounded,
//! and overflow is explicit (issue 16, trap 10).

use crate::common::within;
use crate::ns;
use futures::{FutureExt, StreamExt};
use std::time::Duration;
use zk_client::{AddWatchMode, CreateMode, EventType, WatchEvent};

/// Waits (yielding, bounded) until `cond` holds.
pub async fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    within(what, async {
        while !cond() {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    })
    .await
}

#[tokio::test]
async fn a_slow_reader_of_a_busy_recursive_watch_gets_a_gap_marker() {
    let ns = ns!();
    let reader = ns.builder().watch_buffer(16).connect().await.unwrap();
    let writer = ns.client().await;
    writer
        .create("/busy", "", CreateMode::Persistent)
        .await
        .unwrap();
    // On an ensemble the reader's member may not have applied the create
    // yet; its watch would then see a NodeCreated first.
    reader.sync("/busy").await.unwrap();
    let mut stream = reader
        .add_watch("/busy", AddWatchMode::PersistentRecursive)
        .await
        .unwrap();
    // 300 changes while the reader reads nothing.
    let writes = (0..300).map(|i| writer.set_data("/busy", i.to_string(), None));
    futures::future::try_join_all(writes).await.unwrap();
    // The notifications reach the reader's connection before this reply.
    reader.sync("/busy").await.unwrap();
    let mut held = Vec::new();
    while let Some(Some(event)) = stream.next().now_or_never() {
        held.push(event);
    }
    // The stream held 16 events, then marks the gap, instead of holding 300.
    assert_eq!(held.len(), 17, "{held:?}");
    assert!(
        held[..16].iter().all(|e| e
            .node()
            .is_some_and(|n| n.event_type == EventType::NodeDataChanged)),
        "{held:?}"
    );
    assert_eq!(held[16], WatchEvent::Resync);
    // After the gap, events flow again.
    writer.set_data("/busy", "after", None).await.unwrap();
    match within("event after the gap", stream.next()).await {
        Some(WatchEvent::Node(e)) => assert_eq!(e.path, "/busy"),
        other => panic!("{other:?}"),
    }
    // Another session's write: on an ensemble the reader's member may not
    // have applied it yet (ZooKeeper reads are not linearizable) until the
    // reader syncs.
    reader.sync("/busy").await.unwrap();
    assert_eq!(reader.get_data("/busy").await.unwrap().0, "after");
}

#[tokio::test]
async fn abandoned_calls_on_a_stalled_connection_do_not_pile_up() {
    let ns = ns!();
    let (proxy, builder) = ns.proxied_builder().await;
    let c = builder
        .max_pending_requests(8)
        .retry(zk_client::retry::NoRetry)
        .connect()
        .await
        .unwrap();
    proxy.stall();
    // Each call is abandoned by its timeout; without a bound every one
    // would leave a request behind.
    let calls = (0..500).map(|_| tokio::time::timeout(Duration::from_millis(30), c.get_data("/")));
    let outcomes = futures::future::join_all(calls).await;
    assert!(outcomes.iter().all(|o| o.is_err()), "the server is stalled");
    assert!(
        c.pending_requests() <= 8,
        "{} requests held",
        c.pending_requests()
    );
    // Once the connection is replaced, the held requests fail and the
    // client works again.
    proxy.heal();
    proxy.drop_connections();
    eventually("pending requests released", || c.pending_requests() == 0).await;
    within("a call after the stall", c.get_data("/"))
        .await
        .unwrap();
}

/// Concurrent calls from one task reach the server in the order they were
/// started, also past tokio's cooperative budget (128 polls per task turn)
/// and while they wait for room in the bounded request queue. ZooKeeper
/// applies one session's requests in the order they arrive, and a caller
/// that starts writes one after another without awaiting each
/// (`try_join_all`) expects them applied in that order.
#[tokio::test]
async fn calls_waiting_for_room_keep_their_call_order() {
    let ns = ns!();
    let c = ns
        .builder()
        .max_pending_requests(4)
        .connect()
        .await
        .unwrap();
    c.create("/order", "", CreateMode::Persistent)
        .await
        .unwrap();
    // More calls than the client holds (4) plus its request queue (256).
    let creates =
        (0..600).map(|i| c.create("/order/n-", i.to_string(), CreateMode::PersistentSequential));
    let created = futures::future::try_join_all(creates).await.unwrap();
    // The server numbers sequential nodes in arrival order: call i got i.
    for (i, (path, _)) in created.iter().enumerate() {
        assert_eq!(path, &format!("/order/n-{i:010}"), "call {i}");
    }
    let sets = (0..600).map(|i| c.set_data("/order", i.to_string(), None));
    futures::future::try_join_all(sets).await.unwrap();
    assert_eq!(c.get_data("/order").await.unwrap().0, "599");
}
