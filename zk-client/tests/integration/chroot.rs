//! A chroot that does not exist: created on first use by default, else
//! named in every NoNode it causes (issue 16, trap 1).

use crate::ns;
use zk_client::{AddWatchMode, Client, CreateMode, Op, ReadOp};

#[tokio::test]
async fn a_missing_chroot_is_created_on_first_use() {
    let ns = ns!();
    let chroot = format!("{}/fresh/deep", ns.root);
    let c = Client::builder(format!("{}{chroot}", ns.target.connect))
        .connect()
        .await
        .unwrap();
    // The first call is a read: the chroot is there before it runs.
    assert!(c.get_children("/").await.unwrap().is_empty());
    c.create("/x", "1", CreateMode::Persistent).await.unwrap();
    let root = ns.root_client().await;
    assert_eq!(root.get_data(&format!("{chroot}/x")).await.unwrap().0, "1");
    // Deleted under the client's feet: the next create makes it again.
    c.delete("/x", None).await.unwrap();
    root.delete(&chroot, None).await.unwrap();
    c.create("/y", "", CreateMode::Persistent).await.unwrap();
    assert!(root.exists(&format!("{chroot}/y")).await.unwrap().is_some());
}

#[tokio::test]
async fn every_no_node_a_missing_chroot_causes_names_it() {
    let ns = ns!();
    let chroot = format!("{}/missing", ns.root);
    let c = Client::builder(format!("{}{chroot}", ns.target.connect))
        .create_chroot(false)
        .connect()
        .await
        .unwrap();
    let says = format!("the chroot {chroot} does not exist");
    let check = |what: &str, err: zk_client::Error| {
        assert!(err.is_no_node(), "{what}: {err}");
        assert!(err.to_string().contains(&says), "{what}: {err}");
        assert!(
            err.to_string().contains("create_chroot(true)"),
            "{what}: {err}"
        );
    };
    check(
        "create",
        c.create("/x", "", CreateMode::Persistent)
            .await
            .unwrap_err(),
    );
    check(
        "create_all",
        c.create_all("/a/b", "", CreateMode::Persistent)
            .await
            .unwrap_err(),
    );
    check("get_data", c.get_data("/x").await.unwrap_err());
    check("get_children /", c.get_children("/").await.unwrap_err());
    check("set_data", c.set_data("/x", "", None).await.unwrap_err());
    check("get_acl", c.get_acl("/x").await.unwrap_err());
    check("get_data_watch", c.get_data_watch("/x").await.unwrap_err());
    check(
        "get_children_watch",
        c.get_children_watch("/").await.unwrap_err(),
    );
    check(
        "multi",
        c.multi(vec![Op::create("/x", "", CreateMode::Persistent)])
            .await
            .unwrap_err(),
    );
    let reads = c
        .multi_read(vec![ReadOp::GetData("/x".into())])
        .await
        .unwrap();
    check("multi_read", reads.into_iter().next().unwrap().unwrap_err());
    // What is not an error stays so: the node is missing, the watch waits.
    assert!(c.exists("/x").await.unwrap().is_none());
    let _w = c.add_watch("/", AddWatchMode::Persistent).await.unwrap();
    // Nothing was created.
    let root = ns.root_client().await;
    assert!(root.exists(&chroot).await.unwrap().is_none());
}

#[tokio::test]
async fn no_node_under_an_existing_chroot_does_not_blame_it() {
    let ns = ns!();
    let c = ns.builder().create_chroot(false).connect().await.unwrap();
    let err = c.get_data("/nope").await.unwrap_err();
    assert!(err.is_no_node());
    assert!(!err.to_string().contains("chroot"), "{err}");
    let err = c
        .create("/nope/child", "", CreateMode::Persistent)
        .await
        .unwrap_err();
    assert!(!err.to_string().contains("chroot"), "{err}");
}
