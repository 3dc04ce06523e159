//! Watch trigger rules for every watch kind, removal, and event order.

use crate::common::within;
use crate::ns;
use futures::StreamExt;
use zk_client::{
    AddWatchMode, CreateMode, ErrorCode, EventType, OneshotWatch, PersistentWatch, WatchEvent,
    WatcherType,
};

async fn fired(w: OneshotWatch) -> (EventType, String) {
    match within("watch", w).await {
        WatchEvent::Node(e) => (e.event_type, e.path),
        other => panic!("unexpected watch event {other:?}"),
    }
}

async fn next(s: &mut PersistentWatch) -> (EventType, String) {
    match within("persistent watch", s.next()).await {
        Some(WatchEvent::Node(e)) => (e.event_type, e.path),
        other => panic!("unexpected stream item {other:?}"),
    }
}

fn is_pending(w: &mut OneshotWatch) -> bool {
    futures::FutureExt::now_or_never(w).is_none()
}

#[tokio::test]
async fn data_watch_fires_on_change_and_delete() {
    let ns = ns!();
    let c = ns.client().await;
    c.create("/d", "", CreateMode::Persistent).await.unwrap();
    let (_, _, w) = c.get_data_watch("/d").await.unwrap();
    c.set_data("/d", "1", None).await.unwrap();
    assert_eq!(fired(w).await, (EventType::NodeDataChanged, "/d".into()));
    let (_, _, w) = c.get_data_watch("/d").await.unwrap();
    c.delete("/d", None).await.unwrap();
    assert_eq!(fired(w).await, (EventType::NodeDeleted, "/d".into()));
    // getData on a missing node fails and leaves no watch.
    assert!(c.get_data_watch("/d").await.unwrap_err().is_no_node());
}

#[tokio::test]
async fn exist_watch_fires_on_create_change_and_delete() {
    let ns = ns!();
    let c = ns.client().await;
    let (stat, w) = c.exists_watch("/x").await.unwrap();
    assert!(stat.is_none());
    c.create("/x", "", CreateMode::Persistent).await.unwrap();
    assert_eq!(fired(w).await, (EventType::NodeCreated, "/x".into()));
    let (stat, w) = c.exists_watch("/x").await.unwrap();
    assert!(stat.is_some());
    c.set_data("/x", "v", None).await.unwrap();
    assert_eq!(fired(w).await, (EventType::NodeDataChanged, "/x".into()));
    let (_, w) = c.exists_watch("/x").await.unwrap();
    c.delete("/x", None).await.unwrap();
    assert_eq!(fired(w).await, (EventType::NodeDeleted, "/x".into()));
}

#[tokio::test]
async fn child_watch_fires_on_child_changes_not_data() {
    let ns = ns!();
    let c = ns.client().await;
    c.create("/c", "", CreateMode::Persistent).await.unwrap();
    let (_, mut w) = c.get_children_watch("/c").await.unwrap();
    c.set_data("/c", "data changes do not fire child watches", None)
        .await
        .unwrap();
    c.sync("/").await.unwrap();
    assert!(is_pending(&mut w));
    c.create("/c/k", "", CreateMode::Persistent).await.unwrap();
    assert_eq!(
        fired(w).await,
        (EventType::NodeChildrenChanged, "/c".into())
    );
    let (_, w) = c.get_children_watch("/c").await.unwrap();
    c.delete("/c/k", None).await.unwrap();
    assert_eq!(
        fired(w).await,
        (EventType::NodeChildrenChanged, "/c".into())
    );
    let (_, _, w) = c.get_children2_watch("/c").await.unwrap();
    c.delete("/c", None).await.unwrap();
    assert_eq!(fired(w).await, (EventType::NodeDeleted, "/c".into()));
}

#[tokio::test]
async fn one_shot_watches_fire_once_and_for_every_waiter() {
    let ns = ns!();
    let c = ns.client().await;
    c.create("/o", "", CreateMode::Persistent).await.unwrap();
    let (_, _, w1) = c.get_data_watch("/o").await.unwrap();
    let (_, w2) = c.exists_watch("/o").await.unwrap();
    c.set_data("/o", "1", None).await.unwrap();
    assert_eq!(fired(w1).await.0, EventType::NodeDataChanged);
    assert_eq!(fired(w2).await.0, EventType::NodeDataChanged);
    let (_, _, w3) = c.get_data_watch("/o").await.unwrap();
    c.set_data("/o", "2", None).await.unwrap();
    c.set_data("/o", "3", None).await.unwrap();
    assert_eq!(fired(w3).await.0, EventType::NodeDataChanged);
    // Nothing is left registered afterwards.
    let err = c.check_watches("/o", WatcherType::Data).await.unwrap_err();
    assert!(err.is(ErrorCode::NoWatcher), "{err}");
}

#[tokio::test]
async fn persistent_watch_sees_node_and_child_events_and_stays() {
    let ns = ns!();
    let c = ns.client().await;
    let mut w = c.add_watch("/p", AddWatchMode::Persistent).await.unwrap();
    c.create("/p", "", CreateMode::Persistent).await.unwrap();
    assert_eq!(next(&mut w).await, (EventType::NodeCreated, "/p".into()));
    c.set_data("/p", "1", None).await.unwrap();
    assert_eq!(
        next(&mut w).await,
        (EventType::NodeDataChanged, "/p".into())
    );
    c.create("/p/k", "", CreateMode::Persistent).await.unwrap();
    assert_eq!(
        next(&mut w).await,
        (EventType::NodeChildrenChanged, "/p".into())
    );
    c.set_data("/p/k", "grandchild data is not reported", None)
        .await
        .unwrap();
    c.delete("/p/k", None).await.unwrap();
    assert_eq!(
        next(&mut w).await,
        (EventType::NodeChildrenChanged, "/p".into())
    );
    c.delete("/p", None).await.unwrap();
    assert_eq!(next(&mut w).await, (EventType::NodeDeleted, "/p".into()));
    c.create("/p", "", CreateMode::Persistent).await.unwrap();
    assert_eq!(next(&mut w).await, (EventType::NodeCreated, "/p".into()));
    // ZooKeeper 3.9 checks and removes persistent watches on the server;
    // 3.8 servers refuse those watcher types (MarshallingError), so the
    // client removes them locally there.
    match c.check_watches("/p", WatcherType::Persistent).await {
        Ok(()) => c
            .remove_watches("/p", WatcherType::Persistent)
            .await
            .unwrap(),
        Err(e) if e.is(ErrorCode::MarshallingError) => c
            .remove_watches_locally("/p", WatcherType::Persistent)
            .await
            .unwrap(),
        Err(e) => panic!("{e}"),
    }
    assert_eq!(within("removal", w.next()).await, Some(WatchEvent::Removed));
    assert_eq!(w.next().await, None);
}

#[tokio::test]
async fn recursive_watch_sees_the_subtree_but_no_child_events() {
    let ns = ns!();
    let c = ns.client().await;
    c.create("/r", "", CreateMode::Persistent).await.unwrap();
    let mut w = c
        .add_watch("/r", AddWatchMode::PersistentRecursive)
        .await
        .unwrap();
    c.create("/r/a", "", CreateMode::Persistent).await.unwrap();
    assert_eq!(next(&mut w).await, (EventType::NodeCreated, "/r/a".into()));
    c.create("/r/a/b", "", CreateMode::Persistent)
        .await
        .unwrap();
    assert_eq!(
        next(&mut w).await,
        (EventType::NodeCreated, "/r/a/b".into())
    );
    c.set_data("/r/a/b", "x", None).await.unwrap();
    assert_eq!(
        next(&mut w).await,
        (EventType::NodeDataChanged, "/r/a/b".into())
    );
    c.delete("/r/a/b", None).await.unwrap();
    assert_eq!(
        next(&mut w).await,
        (EventType::NodeDeleted, "/r/a/b".into())
    );
    c.set_data("/r", "x", None).await.unwrap();
    assert_eq!(
        next(&mut w).await,
        (EventType::NodeDataChanged, "/r".into())
    );
    // Outside the subtree: nothing.
    c.create("/rx", "", CreateMode::Persistent).await.unwrap();
    c.set_data("/r", "y", None).await.unwrap();
    assert_eq!(
        next(&mut w).await,
        (EventType::NodeDataChanged, "/r".into())
    );
}

#[tokio::test]
async fn one_event_per_change_even_with_several_watch_kinds() {
    let ns = ns!();
    let c = ns.client().await;
    c.create("/m", "", CreateMode::Persistent).await.unwrap();
    let mut p = c.add_watch("/m", AddWatchMode::Persistent).await.unwrap();
    let mut r = c
        .add_watch("/", AddWatchMode::PersistentRecursive)
        .await
        .unwrap();
    let (_, _, d) = c.get_data_watch("/m").await.unwrap();
    c.set_data("/m", "1", None).await.unwrap();
    c.set_data("/m", "2", None).await.unwrap();
    assert_eq!(fired(d).await.0, EventType::NodeDataChanged);
    assert_eq!(next(&mut p).await.0, EventType::NodeDataChanged);
    assert_eq!(next(&mut p).await.0, EventType::NodeDataChanged);
    assert_eq!(
        next(&mut r).await,
        (EventType::NodeDataChanged, "/m".into())
    );
    assert_eq!(
        next(&mut r).await,
        (EventType::NodeDataChanged, "/m".into())
    );
    // A sentinel change proves no duplicate is queued before it.
    c.create("/sentinel", "", CreateMode::Persistent)
        .await
        .unwrap();
    assert_eq!(
        next(&mut r).await,
        (EventType::NodeCreated, "/sentinel".into())
    );
}

#[tokio::test]
async fn events_arrive_before_the_reply_of_the_write_that_caused_them() {
    let ns = ns!();
    let c = ns.client().await;
    let writer = ns.client().await;
    c.create("/ord", "", CreateMode::Persistent).await.unwrap();
    let (_, _, mut w) = c.get_data_watch("/ord").await.unwrap();
    // The same session writes: its watch event precedes its reply.
    c.set_data("/ord", "1", None).await.unwrap();
    assert!(!is_pending(&mut w), "event delivered before the reply");
    // Another session writes: after our next reply, the event is here.
    let (_, _, mut w) = c.get_data_watch("/ord").await.unwrap();
    writer.set_data("/ord", "2", None).await.unwrap();
    c.sync("/").await.unwrap();
    c.get_data("/ord").await.unwrap();
    assert!(!is_pending(&mut w));
}

#[tokio::test]
async fn remove_and_check_watches_by_type() {
    let ns = ns!();
    let c = ns.client().await;
    c.create("/w", "", CreateMode::Persistent).await.unwrap();
    let err = c.check_watches("/w", WatcherType::Any).await.unwrap_err();
    assert!(err.is(ErrorCode::NoWatcher));
    let err = c.remove_watches("/w", WatcherType::Data).await.unwrap_err();
    assert!(err.is(ErrorCode::NoWatcher));
    let (_, _, d) = c.get_data_watch("/w").await.unwrap();
    let (_, mut k) = c.get_children_watch("/w").await.unwrap();
    c.check_watches("/w", WatcherType::Data).await.unwrap();
    c.check_watches("/w", WatcherType::Children).await.unwrap();
    c.remove_watches("/w", WatcherType::Data).await.unwrap();
    assert_eq!(within("removed", d).await, WatchEvent::Removed);
    assert!(is_pending(&mut k), "child watch untouched");
    // The server no longer fires the data watch; the child watch still works.
    c.set_data("/w", "x", None).await.unwrap();
    c.create("/w/k", "", CreateMode::Persistent).await.unwrap();
    assert_eq!(fired(k).await.0, EventType::NodeChildrenChanged);
    let (_, _, d) = c.get_data_watch("/w").await.unwrap();
    let (_, k) = c.get_children_watch("/w").await.unwrap();
    c.remove_watches("/w", WatcherType::Any).await.unwrap();
    assert_eq!(within("removed", d).await, WatchEvent::Removed);
    assert_eq!(within("removed", k).await, WatchEvent::Removed);
}

#[tokio::test]
async fn dropping_a_watch_handle_unregisters_it() {
    let ns = ns!();
    let c = ns.client().await;
    c.create("/u", "", CreateMode::Persistent).await.unwrap();
    let w = c.add_watch("/u", AddWatchMode::Persistent).await.unwrap();
    drop(w);
    // Unregistering is asynchronous; the server-side removal follows it.
    within("server watch removed", async {
        loop {
            match c.check_watches("/u", WatcherType::Persistent).await {
                Err(e) if e.is(ErrorCode::NoWatcher) => break,
                _ => tokio::task::yield_now().await,
            }
        }
    })
    .await;
}
