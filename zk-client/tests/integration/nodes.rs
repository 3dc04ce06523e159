//! Node operations, Stat semantics, create modes and their error paths.

use crate::common::within;
use crate::ns;
use bytes::Bytes;
use std::time::Duration;
use zk_client::{CreateMode, CreateOptions, ErrorCode, ErrorKind, EventType, WatchEvent};

#[tokio::test]
async fn create_read_update_delete_with_exact_stats() {
    let ns = ns!();
    let c = ns.client().await;
    let (path, st) = c
        .create("/n", "hello", CreateMode::Persistent)
        .await
        .unwrap();
    assert_eq!(path, "/n");
    assert_eq!(st.czxid, st.mzxid);
    assert_eq!(st.czxid, st.pzxid);
    assert_eq!(st.ctime, st.mtime);
    assert_eq!((st.version, st.cversion, st.aversion), (0, 0, 0));
    assert_eq!(
        (st.data_length, st.num_children, st.ephemeral_owner),
        (5, 0, 0)
    );
    assert!(c.last_zxid() >= st.czxid);

    let (data, st2) = c.get_data("/n").await.unwrap();
    assert_eq!(data, Bytes::from_static(b"hello"));
    assert_eq!(st2, st);
    assert_eq!(c.exists("/n").await.unwrap(), Some(st.clone()));

    let st3 = c.set_data("/n", "hi", Some(0)).await.unwrap();
    assert_eq!(st3.version, 1);
    assert!(st3.mzxid > st.mzxid);
    assert_eq!(st3.czxid, st.czxid);
    assert_eq!(st3.pzxid, st.pzxid, "data changes leave pzxid");
    assert_eq!(st3.data_length, 2);
    assert!(st3.mtime >= st.mtime);
    let unconditional = c.set_data("/n", "", None).await.unwrap();
    assert_eq!(unconditional.version, 2);
    assert_eq!(unconditional.data_length, 0);

    let err = c.set_data("/n", "x", Some(7)).await.unwrap_err();
    assert!(err.is_bad_version(), "{err}");
    assert_eq!(err.path(), Some("/n"));
    let err = c.delete("/n", Some(0)).await.unwrap_err();
    assert!(err.is_bad_version());
    c.delete("/n", Some(2)).await.unwrap();
    assert_eq!(c.exists("/n").await.unwrap(), None);
    assert!(c.get_data("/n").await.unwrap_err().is_no_node());
    assert!(c.set_data("/n", "", None).await.unwrap_err().is_no_node());
    assert!(c.delete("/n", None).await.unwrap_err().is_no_node());
}

#[tokio::test]
async fn children_and_parent_stats() {
    let ns = ns!();
    let c = ns.client().await;
    let (_, parent) = c.create("/p", "", CreateMode::Persistent).await.unwrap();
    let (_, a) = c.create("/p/a", "", CreateMode::Persistent).await.unwrap();
    let (_, b) = c.create("/p/b", "", CreateMode::Persistent).await.unwrap();
    let (mut kids, st) = c.get_children2("/p").await.unwrap();
    kids.sort();
    assert_eq!(kids, vec!["a", "b"]);
    assert_eq!(st.num_children, 2);
    assert_eq!(st.cversion, 2);
    assert_eq!(st.pzxid, b.czxid, "pzxid follows the last child change");
    assert_eq!(st.mzxid, parent.mzxid, "child changes leave mzxid");
    assert!(a.czxid < b.czxid);
    assert!(c
        .create("/p/a", "", CreateMode::Persistent)
        .await
        .unwrap_err()
        .is_node_exists());
    let err = c.delete("/p", None).await.unwrap_err();
    assert!(err.is(ErrorCode::NotEmpty), "{err}");
    c.delete("/p/a", None).await.unwrap();
    let (kids, st) = c.get_children2("/p").await.unwrap();
    assert_eq!(kids, vec!["b"]);
    assert_eq!(st.num_children, 1);
    assert_eq!(st.cversion, 3, "a delete also moves the visible cversion");
    assert!(st.pzxid > b.czxid);
    assert!(c.get_children("/none").await.unwrap_err().is_no_node());
    let err = c
        .create("/none/x", "", CreateMode::Persistent)
        .await
        .unwrap_err();
    assert!(err.is_no_node(), "parent missing: {err}");
    assert_eq!(c.get_all_children_number("/").await.unwrap(), 2);
    c.create("/p/b/deep", "", CreateMode::Persistent)
        .await
        .unwrap();
    assert_eq!(c.get_all_children_number("/p").await.unwrap(), 2);
    assert!(c
        .get_all_children_number("/none")
        .await
        .unwrap_err()
        .is_no_node());
}

#[tokio::test]
async fn sequential_numbering_follows_the_parent_cversion() {
    let ns = ns!();
    let c = ns.client().await;
    c.create("/q", "", CreateMode::Persistent).await.unwrap();
    let (p0, _) = c
        .create("/q/item-", "", CreateMode::PersistentSequential)
        .await
        .unwrap();
    let (p1, _) = c
        .create("/q/item-", "", CreateMode::PersistentSequential)
        .await
        .unwrap();
    assert_eq!(p0, "/q/item-0000000000");
    assert_eq!(p1, "/q/item-0000000001");
    c.create("/q/plain", "", CreateMode::Persistent)
        .await
        .unwrap();
    c.delete(&p0, None).await.unwrap();
    // Plain creates count; deletes do not.
    let (p3, _) = c
        .create("/q/item-", "", CreateMode::PersistentSequential)
        .await
        .unwrap();
    assert_eq!(p3, "/q/item-0000000003");
    // A name may end in '/' for sequential nodes: the suffix is the name.
    let (p4, _) = c
        .create("/q/", "", CreateMode::EphemeralSequential)
        .await
        .unwrap();
    assert_eq!(p4, "/q/0000000004");
    let (_, st) = c.get_children2("/q").await.unwrap();
    assert_eq!(st.num_children, 4);
    // Visible cversion: every create and delete counted.
    assert_eq!(st.cversion, 6);
}

#[tokio::test]
async fn ephemerals_belong_to_their_session() {
    let ns = ns!();
    let c = ns.client().await;
    let other = ns.client().await;
    let (_, st) = c.create("/e", "", CreateMode::Ephemeral).await.unwrap();
    assert_eq!(st.ephemeral_owner, c.session_id());
    let err = c
        .create("/e/child", "", CreateMode::Persistent)
        .await
        .unwrap_err();
    assert!(err.is(ErrorCode::NoChildrenForEphemerals), "{err}");
    c.create("/e2", "", CreateMode::EphemeralSequential)
        .await
        .unwrap();
    let mut mine = c.get_ephemerals("/").await.unwrap();
    mine.sort();
    assert_eq!(mine, vec!["/e".to_string(), "/e20000000001".to_string()]);
    assert_eq!(
        c.get_ephemerals("/e2").await.unwrap(),
        vec!["/e20000000001"]
    );
    assert!(other.get_ephemerals("/").await.unwrap().is_empty());
    // Closing the session deletes them, and others see it.
    let (_, watch) = other.exists_watch("/e").await.unwrap();
    c.close().await.unwrap();
    match within("ephemeral deletion", watch).await {
        WatchEvent::Node(e) => assert_eq!(e.event_type, EventType::NodeDeleted),
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(other.exists("/e").await.unwrap(), None);
    assert!(c.get_data("/").await.unwrap_err().is_closed());
}

#[tokio::test]
async fn containers_vanish_once_emptied() {
    let ns = ns!();
    let c = ns.client().await;
    let (_, st) = c.create("/box", "", CreateMode::Container).await.unwrap();
    assert_eq!(st.ephemeral_owner, 0, "containers show no owner");
    c.create("/box/item", "", CreateMode::Persistent)
        .await
        .unwrap();
    let (_, gone) = c.exists_watch("/box").await.unwrap();
    c.delete("/box/item", None).await.unwrap();
    match within("container removal", gone).await {
        WatchEvent::Node(e) => assert_eq!(e.event_type, EventType::NodeDeleted),
        other => panic!("unexpected {other:?}"),
    }
    // A container that never had a child stays.
    c.create("/empty-box", "", CreateMode::Container)
        .await
        .unwrap();
    c.create("/marker", "", CreateMode::Container)
        .await
        .unwrap();
    c.create("/marker/x", "", CreateMode::Persistent)
        .await
        .unwrap();
    let (_, gone) = c.exists_watch("/marker").await.unwrap();
    c.delete("/marker/x", None).await.unwrap();
    within("second container removal", gone).await;
    assert!(c.exists("/empty-box").await.unwrap().is_some());
}

#[tokio::test]
async fn ttl_nodes_expire_when_idle() {
    let ns = ns!();
    let c = ns.client().await;
    let opts = CreateOptions::new(CreateMode::PersistentWithTtl).ttl(Duration::from_millis(300));
    let (_, st) = c.create("/ttl", "x", opts.clone()).await.unwrap();
    assert_eq!(st.ephemeral_owner, 0, "TTL nodes show no owner");
    let (_, gone) = c.exists_watch("/ttl").await.unwrap();
    match within("ttl expiry", gone).await {
        WatchEvent::Node(e) => assert_eq!(e.event_type, EventType::NodeDeleted),
        other => panic!("unexpected {other:?}"),
    }
    let seq =
        CreateOptions::new(CreateMode::PersistentSequentialWithTtl).ttl(Duration::from_secs(60));
    let (p, _) = c.create("/ttl-", "", seq).await.unwrap();
    assert!(p.starts_with("/ttl-00000000"), "{p}");
    // Arguments are checked before anything is sent.
    let err = c
        .create(
            "/bad",
            "",
            CreateOptions::new(CreateMode::PersistentWithTtl),
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    let err = c
        .create(
            "/bad",
            "",
            CreateOptions::new(CreateMode::Persistent).ttl(Duration::from_secs(1)),
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
}

#[tokio::test]
async fn invalid_paths_are_refused_locally_and_by_the_server() {
    let ns = ns!();
    let c = ns.client().await;
    for bad in ["", "x", "/a/", "/a//b", "/a/./b", "/a/../b", "/a\u{0}b"] {
        let err = c.create(bad, "", CreateMode::Persistent).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{bad:?}");
        assert_eq!(
            c.get_data(bad).await.unwrap_err().kind(),
            ErrorKind::InvalidArgument
        );
    }
    // Raw requests reach the server. A path ending in '/' is only caught
    // after the parent lookup: with the parent present, BadArguments ...
    let raw = zk_client::proto::Request::Create2(zk_client::proto::CreateRequest {
        path: format!("{}/", ns.root),
        data: None,
        acl: zk_client::Acl::open_unsafe(),
        flags: 0,
    });
    let err = c.raw_request(raw).await.unwrap_err();
    assert!(err.is(ErrorCode::BadArguments), "{err}");
    // ... and with the parent missing, NoNode wins.
    let raw = zk_client::proto::Request::Create2(zk_client::proto::CreateRequest {
        path: format!("{}/missing/", ns.root),
        data: None,
        acl: zk_client::Acl::open_unsafe(),
        flags: 0,
    });
    let err = c.raw_request(raw).await.unwrap_err();
    assert!(err.is_no_node(), "{err}");
    // Deleting the root or /zookeeper is refused.
    let root = ns.root_client().await;
    assert!(root
        .delete("/", None)
        .await
        .unwrap_err()
        .is(ErrorCode::BadArguments));
    let err = root.delete("/zookeeper", None).await.unwrap_err();
    assert!(err.is(ErrorCode::BadArguments), "{err}");
}

#[tokio::test]
async fn chroot_maps_every_path() {
    let ns = ns!();
    let c = ns.client().await;
    let root = ns.root_client().await;
    let (p, _) = c.create("/x", "", CreateMode::Persistent).await.unwrap();
    assert_eq!(p, "/x");
    // On an ensemble the two clients may read from different members:
    // ZooKeeper orders reads per client, so the reader syncs first.
    root.sync(&ns.root).await.unwrap();
    assert!(root
        .exists(&format!("{}/x", ns.root))
        .await
        .unwrap()
        .is_some());
    let (p, _) = c
        .create("/x/s-", "", CreateMode::EphemeralSequential)
        .await
        .unwrap();
    assert_eq!(p, "/x/s-0000000000");
    assert_eq!(
        c.get_ephemerals("/x").await.unwrap(),
        vec!["/x/s-0000000000"]
    );
    let (_, st) = c.get_data("/").await.unwrap();
    assert_eq!(st.num_children, 1, "/ is the chroot");
    let (_, _, w) = c.get_data_watch("/x").await.unwrap();
    root.set_data(&format!("{}/x", ns.root), "y", None)
        .await
        .unwrap();
    match within("chrooted watch", w).await {
        WatchEvent::Node(e) => assert_eq!(e.path, "/x"),
        other => panic!("unexpected {other:?}"),
    }
    let results = c
        .multi(vec![zk_client::Op::create(
            "/x/m",
            "",
            CreateMode::Persistent,
        )])
        .await
        .unwrap();
    assert!(matches!(&results[0], zk_client::OpResult::Create { path, .. } if path == "/x/m"));
}

#[tokio::test]
async fn create_all_makes_parents() {
    let ns = ns!();
    let c = ns.client().await;
    let st = c
        .create_all("/a/b/c", "leaf", CreateMode::Persistent)
        .await
        .unwrap();
    assert_eq!(st.data_length, 4);
    assert_eq!(c.get_data("/a/b").await.unwrap().0.len(), 0);
    // Idempotent.
    let again = c
        .create_all("/a/b/c", "other", CreateMode::Persistent)
        .await
        .unwrap();
    assert_eq!(again.czxid, st.czxid);
}

#[tokio::test]
async fn sync_who_am_i_and_config() {
    let ns = ns!();
    let c = ns.client().await;
    c.sync("/").await.unwrap();
    let ids = c.who_am_i().await.unwrap();
    assert_eq!(ids.len(), 1);
    assert_eq!(ids[0].auth_scheme, "ip");
    assert_eq!(ids[0].user, "127.0.0.1");
    c.add_auth("digest", "alice:pw").await.unwrap();
    let mut ids = c.who_am_i().await.unwrap();
    ids.sort_by(|a, b| a.auth_scheme.cmp(&b.auth_scheme));
    assert_eq!(ids[0].auth_scheme, "digest");
    assert_eq!(ids[0].user, "alice");
    // getConfig reads /zookeeper/config regardless of the chroot.
    let (_, st) = c.get_config().await.unwrap();
    assert!(st.aversion >= -1);
}

#[tokio::test]
async fn data_up_to_the_packet_limit() {
    let ns = ns!();
    let c = ns.client().await;
    let big = vec![7u8; 1024 * 1000];
    c.create("/big", big.clone(), CreateMode::Persistent)
        .await
        .unwrap();
    let (data, st) = c.get_data("/big").await.unwrap();
    assert_eq!(data.len(), big.len());
    assert_eq!(st.data_length as usize, big.len());
    // Over jute.maxbuffer the server drops the connection; the request fails
    // (and is not retried into a loop: create is retried only a bounded number of times).
    let huge = vec![1u8; 1024 * 1024 + 10];
    let c2 = c.with_retry(zk_client::retry::NoRetry);
    let err = c2
        .create("/huge", huge, CreateMode::Persistent)
        .await
        .unwrap_err();
    assert!(err.is_connection_loss(), "{err}");
    // The session survives: the client reconnects.
    assert!(c.exists("/big").await.unwrap().is_some());
    assert_eq!(c.exists("/huge").await.unwrap(), None);
}
