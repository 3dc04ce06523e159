//! Whole-path operations: `create_all_with_parents` (container ancestors,
//! Curator's `creatingParentContainersIfNeeded`) and `delete_all`.

use crate::common::within;
use crate::ns;
use zk_client::{CreateMode, EventType, WatchEvent};

#[tokio::test]
async fn container_parents_are_reaped_once_emptied() {
    let ns = ns!();
    let c = ns.client().await;
    c.create_all_with_parents(
        "/a/b/leaf",
        "x",
        CreateMode::Ephemeral,
        CreateMode::Container,
    )
    .await
    .unwrap();
    assert_eq!(c.get_data("/a/b/leaf").await.unwrap().0.as_ref(), b"x");
    // An existing path is left alone and its stat returned.
    let again = c
        .create_all_with_parents(
            "/a/b/leaf",
            "y",
            CreateMode::Ephemeral,
            CreateMode::Container,
        )
        .await
        .unwrap();
    assert_eq!(again.data_length, 1);
    let (_, a_gone) = c.exists_watch("/a").await.unwrap();
    c.delete("/a/b/leaf", None).await.unwrap();
    // /a/b goes in one reaper pass, /a (emptied by that) in a later one.
    match within("container ancestors reaped", a_gone).await {
        WatchEvent::Node(e) => assert_eq!(e.event_type, EventType::NodeDeleted),
        other => panic!("unexpected {other:?}"),
    }
    assert!(c.exists("/a").await.unwrap().is_none());

    // Persistent parents stay (what create_all does).
    c.create_all("/p/q/leaf", "", CreateMode::Ephemeral)
        .await
        .unwrap();
    c.delete("/p/q/leaf", None).await.unwrap();
    let canary_gone = {
        c.create("/canary", "", CreateMode::Container)
            .await
            .unwrap();
        c.create("/canary/c", "", CreateMode::Persistent)
            .await
            .unwrap();
        let (_, w) = c.exists_watch("/canary").await.unwrap();
        c.delete("/canary/c", None).await.unwrap();
        w
    };
    within("a reaper pass", canary_gone).await;
    assert!(c.exists("/p/q").await.unwrap().is_some());

    let bad = c
        .create_all_with_parents("/e/x", "", CreateMode::Persistent, CreateMode::Ephemeral)
        .await
        .unwrap_err();
    assert!(bad.to_string().contains("parents"), "{bad}");
}

#[tokio::test]
async fn delete_all_removes_a_subtree_and_tolerates_absence() {
    let ns = ns!();
    let c = ns.client().await;
    for p in ["/t/a/x", "/t/a/y", "/t/b", "/t/c/d/e/f"] {
        c.create_all(p, "v", CreateMode::Persistent).await.unwrap();
    }
    c.create("/t/a/s-", "", CreateMode::EphemeralSequential)
        .await
        .unwrap();
    c.create("/keep", "", CreateMode::Persistent).await.unwrap();
    c.delete_all("/t").await.unwrap();
    assert!(c.exists("/t").await.unwrap().is_none());
    assert!(c.exists("/keep").await.unwrap().is_some());
    c.delete_all("/t").await.unwrap();
    c.delete_all("/keep").await.unwrap();
    assert!(c.exists("/keep").await.unwrap().is_none());
    assert!(c.delete_all("/").await.is_err());
}
