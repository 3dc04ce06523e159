//! NodeCache, TreeCache, ConfigNode, SharedCounter, SharedValue.

mod common;

use common::*;
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use zk_client::CreateMode;
use zk_recipes::{ConfigNode, NodeCache, SharedCounter, SharedValue, TreeCache, TreeEvent};

#[tokio::test]
async fn node_cache_follows_one_node_and_resyncs() {
    let env = env().await;
    let (proxy, builder) = env.proxied().await;
    let watcher = builder.connect().await.unwrap();
    let writer = env.client().await;
    let cache = NodeCache::start(&watcher, "/n").await.unwrap();
    assert!(cache.current().is_none());
    let mut rx = cache.subscribe();
    writer
        .create("/n", "1", CreateMode::Persistent)
        .await
        .unwrap();
    within(
        PATIENCE,
        rx.wait_for(|n| n.as_ref().is_some_and(|n| &n.data[..] == b"1")),
    )
    .await
    .unwrap();
    // A child does not change the node's data.
    writer
        .create("/n/c", "", CreateMode::Persistent)
        .await
        .unwrap();
    writer.set_data("/n", "2", None).await.unwrap();
    within(
        PATIENCE,
        rx.wait_for(|n| n.as_ref().is_some_and(|n| &n.data[..] == b"2")),
    )
    .await
    .unwrap();
    // A change made while the watcher is disconnected is picked up after
    // the reconnect (Resync), and after a session expiry.
    proxy.refuse();
    writer.set_data("/n", "3", None).await.unwrap();
    proxy.heal();
    within(
        PATIENCE,
        rx.wait_for(|n| n.as_ref().is_some_and(|n| &n.data[..] == b"3")),
    )
    .await
    .unwrap();
    env.expire(&proxy, &watcher).await;
    writer.set_data("/n", "4", None).await.unwrap();
    within(
        PATIENCE,
        rx.wait_for(|n| n.as_ref().is_some_and(|n| &n.data[..] == b"4")),
    )
    .await
    .unwrap();
    writer.delete("/n/c", None).await.unwrap();
    writer.delete("/n", None).await.unwrap();
    within(PATIENCE, rx.wait_for(|n| n.is_none()))
        .await
        .unwrap();
}

#[tokio::test]
async fn tree_cache_mirrors_a_subtree() {
    let env = env().await;
    let (proxy, builder) = env.proxied().await;
    let watcher = builder.connect().await.unwrap();
    let writer = env.client().await;
    writer
        .create("/t", "root", CreateMode::Persistent)
        .await
        .unwrap();
    writer
        .create("/t/a", "a", CreateMode::Persistent)
        .await
        .unwrap();
    // On an ensemble the watcher's member may not have applied the writer's
    // creates yet (ZooKeeper orders reads per client, not across clients).
    watcher.sync("/t").await.unwrap();
    let tree = TreeCache::start(&watcher, "/t").await.unwrap();
    assert_eq!(tree.snapshot().len(), 2);
    assert_eq!(tree.children("/t"), vec!["a"]);
    let mut events = tree.events();
    let mut version = tree.version();

    writer
        .create("/t/a/x", "x", CreateMode::Persistent)
        .await
        .unwrap();
    let ev = within(PATIENCE, events.recv()).await.unwrap();
    assert!(
        matches!(ev, TreeEvent::Added(ref p, _) if p == "/t/a/x"),
        "{ev:?}"
    );
    writer.set_data("/t/a", "a2", None).await.unwrap();
    let ev = within(PATIENCE, events.recv()).await.unwrap();
    assert!(matches!(ev, TreeEvent::Updated(ref p, ref d) if p == "/t/a" && &d.data[..] == b"a2"));

    // Changes while disconnected: found by the reload after the reconnect.
    proxy.refuse();
    writer
        .create("/t/b", "b", CreateMode::Persistent)
        .await
        .unwrap();
    writer.delete("/t/a/x", None).await.unwrap();
    proxy.heal();
    within(
        PATIENCE,
        version.wait_for(|_| tree.get("/t/b").is_some() && tree.get("/t/a/x").is_none()),
    )
    .await
    .unwrap();
    assert_eq!(tree.children("/t"), vec!["a", "b"]);
    writer.delete("/t/b", None).await.unwrap();
    within(PATIENCE, version.wait_for(|_| tree.get("/t/b").is_none()))
        .await
        .unwrap();
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Settings {
    limit: u32,
    name: String,
}

#[tokio::test]
async fn config_node_typed_watch_and_cas() {
    let env = env().await;
    let a = env.client().await;
    let b = env.client().await;
    let ca = ConfigNode::<Settings>::start(&a, "/cfg/settings")
        .await
        .unwrap();
    let cb = ConfigNode::<Settings>::start(&b, "/cfg/settings")
        .await
        .unwrap();
    assert!(ca.current().unwrap().is_none());
    let mut changes = cb.changes();
    assert!(changes.next().await.unwrap().unwrap().is_none());

    let v0 = Settings {
        limit: 1,
        name: "x".into(),
    };
    assert_eq!(ca.compare_and_set(&v0, None).await.unwrap(), Some(0));
    assert_eq!(ca.compare_and_set(&v0, None).await.unwrap(), None, "exists");
    let seen = within(PATIENCE, changes.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(seen.value, v0);
    assert_eq!(seen.version, 0);

    // CAS with a stale version fails; update() retries until it applies.
    let v1 = Settings {
        limit: 2,
        ..v0.clone()
    };
    assert_eq!(cb.compare_and_set(&v1, Some(0)).await.unwrap(), Some(1));
    assert_eq!(ca.compare_and_set(&v0, Some(0)).await.unwrap(), None);
    let updated = ca
        .update(|old| {
            let mut s = old.unwrap();
            s.limit += 10;
            s
        })
        .await
        .unwrap();
    assert_eq!(updated.value.limit, 12);
    within(PATIENCE, async {
        loop {
            if let Some(Ok(Some(v))) = changes.next().await {
                if v.value.limit == 12 {
                    break;
                }
            }
        }
    })
    .await;

    // Data that is not a Settings is an error, not a panic.
    a.set_data("/cfg/settings", "garbage", None).await.unwrap();
    within(PATIENCE, async {
        loop {
            if let Some(Err(_)) = changes.next().await {
                break;
            }
        }
    })
    .await;
    assert!(cb.read().await.is_err());
    cb.set(&v0).await.unwrap();
    assert_eq!(cb.read().await.unwrap().unwrap().value, v0);
}

#[tokio::test]
async fn shared_value_keeps_bytes_and_compares_versions() {
    let env = env().await;
    let (a, b) = (env.client().await, env.client().await);
    let va = SharedValue::new(&a, "/shared/v", &b"\x00seed\xff"[..]);
    let vb = SharedValue::new(&b, "/shared/v", "other seed");
    let first = vb.get().await.unwrap();
    assert_eq!(
        first.value.as_ref(),
        b"other seed",
        "created by the first user"
    );
    assert_eq!(va.get().await.unwrap(), first);
    let mut changes = Box::pin(va.watch().await.unwrap());
    assert_eq!(changes.next().await.unwrap().unwrap(), first.value);

    assert!(va.try_set(&b"\x01\x02"[..], first.version).await.unwrap());
    assert!(
        !vb.try_set("late", first.version).await.unwrap(),
        "stale version"
    );
    let (raw, _) = a.get_data("/shared/v").await.unwrap();
    assert_eq!(raw.as_ref(), b"\x01\x02", "the bytes as they are");
    vb.set("").await.unwrap();
    within(PATIENCE, async {
        while !changes.next().await.unwrap().unwrap().is_empty() {}
    })
    .await;
}

#[tokio::test]
async fn shared_counter_curator_encoding_and_cas() {
    let env = env().await;
    let a = env.client().await;
    let b = env.client().await;
    let ca = SharedCounter::new(&a, "/counter/c", 7);
    let cb = SharedCounter::new(&b, "/counter/c", 7);
    let v = ca.get().await.unwrap();
    assert_eq!(v.value, 7);
    let (raw, _) = a.get_data("/counter/c").await.unwrap();
    assert_eq!(&raw[..], &7i32.to_be_bytes());
    let mut stream = Box::pin(cb.watch().await.unwrap());
    assert_eq!(stream.next().await.unwrap().unwrap(), 7);

    assert!(ca.try_set(8, v.version).await.unwrap());
    assert!(!cb.try_set(9, v.version).await.unwrap(), "stale version");
    let mut tasks = Vec::new();
    for c in [ca.clone(), cb.clone()] {
        tasks.push(tokio::spawn(async move {
            for _ in 0..10 {
                c.add(1).await.unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(ca.get().await.unwrap().value, 28);
    within(PATIENCE, async {
        while stream.next().await.unwrap().unwrap() != 28 {}
    })
    .await;
    cb.set(-5).await.unwrap();
    let (raw, _) = a.get_data("/counter/c").await.unwrap();
    assert_eq!(&raw[..], &(-5i32).to_be_bytes());
    a.set_data("/counter/c", "xx", None).await.unwrap();
    assert!(ca.get().await.is_err(), "bad encoding is an error");
}

/// Issue 16, trap 7: `ConfigNode::changes()` delivers the latest value
/// after each change, deliberately coalesced (ZooKeeper's notifications
/// carry no data): versions only grow, nothing older follows something
/// newer, and the last value always arrives.
#[tokio::test]
async fn config_changes_are_coalesced_in_order_and_end_with_the_last_value() {
    let env = env().await;
    let a = env.client().await;
    let config = ConfigNode::<Settings>::start(&a, "/coalesce")
        .await
        .unwrap();
    let mut changes = Box::pin(config.changes());
    assert!(
        changes.next().await.unwrap().unwrap().is_none(),
        "unset at first"
    );
    let writer = ConfigNode::<Settings>::start(&env.client().await, "/coalesce")
        .await
        .unwrap();
    for limit in 1..=5 {
        writer
            .set(&Settings {
                limit,
                name: "n".into(),
            })
            .await
            .unwrap();
    }
    let mut seen = Vec::new();
    within(PATIENCE, async {
        while let Some(value) = changes.next().await {
            let value = value.unwrap().unwrap();
            seen.push((value.version, value.value.limit));
            if value.value.limit == 5 {
                break;
            }
        }
    })
    .await;
    eprintln!("5 quick sets seen as {} values: {seen:?}", seen.len());
    assert!(seen.windows(2).all(|w| w[0].0 < w[1].0), "{seen:?}");
    assert!(
        seen.iter().all(|(v, limit)| *v + 1 == *limit as i32),
        "{seen:?}"
    );
    assert_eq!(seen.last(), Some(&(4, 5)));
}

/// Issue 16, trap 11: a reader that falls behind a busy `TreeCache` by
/// more than its buffer gets an explicit `Gap` with the number of events
/// it missed, then the rest in order — never a silent skip.
#[tokio::test]
async fn tree_cache_reports_a_gap_to_a_slow_reader() {
    let env = env().await;
    const NODES: usize = TreeCache::EVENT_BUFFER + 100;
    // The cache itself must keep up with the server: with the client's
    // default watch buffer it may fall behind the burst below and reload
    // (a Resync), which this test is not about.
    let c = env
        .builder()
        .watch_buffer(4 * NODES)
        .connect()
        .await
        .unwrap();
    c.create("/gap", "", CreateMode::Persistent).await.unwrap();
    let tree = TreeCache::start(&c, "/gap").await.unwrap();
    let mut slow = tree.events();
    let mut version = tree.version();
    for chunk in (0..NODES).collect::<Vec<_>>().chunks(100) {
        let ops = chunk
            .iter()
            .map(|i| zk_client::Op::create(format!("/gap/n{i:05}"), "", CreateMode::Persistent))
            .collect();
        c.multi(ops).await.unwrap();
    }
    within(PATIENCE, version.wait_for(|v| *v >= NODES as u64))
        .await
        .unwrap();
    assert_eq!(tree.children("/gap").len(), NODES);
    // The slow reader starts reading only now.
    let first = slow.recv().await.unwrap();
    let TreeEvent::Gap { missed } = first else {
        panic!("expected a gap first, got {first:?}")
    };
    let mut delivered = 0u64;
    let mut last = None;
    while delivered + missed < NODES as u64 {
        match within(PATIENCE, slow.recv()).await.unwrap() {
            TreeEvent::Added(path, _) => {
                assert!(last.as_ref().is_none_or(|l: &String| *l < path), "in order");
                last = Some(path);
                delivered += 1;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(delivered, TreeCache::EVENT_BUFFER as u64);
    assert_eq!(
        last.as_deref(),
        Some(format!("/gap/n{:05}", NODES - 1).as_str())
    );
}
