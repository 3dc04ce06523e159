//! The recipes whose twin is a Curator recipe and that came with the
//! interop suite (scripts/interop proves the formats against real
//! Curator): their fault handling, and the layout facts the suite found.

mod common;

use common::*;
use futures::StreamExt;
use zk_client::proto::OpCode;
use zk_client::{Client, CreateMode, EventType, WatchEvent};
use zk_recipes::{
    attempt_revoke, delete_guaranteed, CacheWatchMode, ChildEvent, CuratorCache, DelayQueue,
    DistributedAtomicInteger, DistributedAtomicLong, DownInstancePolicy, GuaranteedDelete, IdQueue,
    Lock, PathChildrenCache, PersistentNode, PersistentTtlNode, ProtectedCreate, ProviderStrategy,
    ReentrantLock, ServiceDiscovery, ServiceInstance, ServicePayload, ServiceType, SimpleQueue,
    REVOKE_MESSAGE, TTL_TOUCH_CHILD,
};
use zk_testserver::proxy::{Fault, Match};

/// Waits until `path` is deleted (the container reaper's doing).
async fn reaped(client: &Client, path: &str) {
    within(PATIENCE, async {
        loop {
            let (stat, watch) = client.exists_watch(path).await.unwrap();
            if stat.is_none() {
                return;
            }
            if let WatchEvent::Node(e) = watch.await {
                if e.event_type == EventType::NodeDeleted {
                    return;
                }
            }
        }
    })
    .await;
}

#[tokio::test]
async fn atomic_long_uses_curators_format_and_counts() {
    let env = env().await;
    let client = env.client().await;
    let n = DistributedAtomicLong::new(&client, "/counters/hits");
    assert_eq!(n.get().await.unwrap(), 0, "missing reads as 0");
    let first = n.add(41).await.unwrap();
    assert!(first.succeeded);
    assert_eq!((first.pre, first.post), (0, 41));
    assert_eq!(n.increment().await.unwrap().post, 42);
    let (raw, _) = client.get_data("/counters/hits").await.unwrap();
    assert_eq!(raw.as_ref(), 42i64.to_be_bytes(), "8 bytes, big-endian");
    assert!(!n.compare_and_set(7, 8).await.unwrap().succeeded);
    assert!(n.compare_and_set(42, -1).await.unwrap().succeeded);
    assert_eq!(n.decrement().await.unwrap().post, -2);
    assert!(!n.initialize(5).await.unwrap(), "exists already");
    n.force_set(i64::MAX).await.unwrap();
    assert_eq!(
        n.increment().await.unwrap().post,
        i64::MIN,
        "wraps as Java does"
    );

    let i = DistributedAtomicInteger::new(&client, "/counters/small");
    assert!(i.initialize(3).await.unwrap());
    assert_eq!(i.add(4).await.unwrap().post, 7);
    let (raw, _) = client.get_data("/counters/small").await.unwrap();
    assert_eq!(raw.as_ref(), 7i32.to_be_bytes(), "4 bytes");
    // A value of the wrong width is bad data, not a silent zero.
    assert!(DistributedAtomicLong::new(&client, "/counters/small")
        .get()
        .await
        .is_err());
}

/// Contenders with a single optimistic try each are promoted to the lock
/// and still every increment lands exactly once.
#[tokio::test]
async fn atomic_long_promoted_to_lock_under_contention() {
    let env = env().await;
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let client = env.client().await;
        tasks.push(tokio::spawn(async move {
            let n = DistributedAtomicLong::new(&client, "/c/n")
                .optimistic_tries(1)
                .promoted_to_lock(zk_recipes::PromotedToLock::new("/c/lock", PATIENCE).tries(50));
            let mut promoted = 0;
            for _ in 0..10 {
                loop {
                    let o = n.increment().await.unwrap();
                    promoted += o.stats.promoted_tries;
                    if o.succeeded {
                        break;
                    }
                }
            }
            promoted
        }));
    }
    let mut promoted = 0;
    for t in tasks {
        promoted += within(PATIENCE, t).await.unwrap();
    }
    let client = env.client().await;
    assert_eq!(
        DistributedAtomicLong::new(&client, "/c/n")
            .get()
            .await
            .unwrap(),
        40
    );
    assert!(promoted > 0, "contention promoted some changes to the lock");
}

/// A write whose reply is lost is not repeated: the call reports the
/// connection loss and the value moved at most once (a retried
/// compare-and-set would meet its own write as a conflict and add again).
#[tokio::test]
async fn atomic_long_lost_write_reply_is_not_applied_twice() {
    let env = env().await;
    let (proxy, builder) = env.proxied().await;
    let client = builder.connect().await.unwrap();
    let n = DistributedAtomicLong::new(&client, "/lost/n");
    n.initialize(10).await.unwrap();
    let lost = proxy.inject(Match::op(OpCode::SetData), Fault::DropBeforeReply);
    let result = within(PATIENCE, n.increment()).await;
    lost.triggered().await;
    let err = result.expect_err("the outcome of the write is unknown");
    assert!(err.is_connection_loss(), "{err}");
    connected(&client).await;
    assert_eq!(
        n.get().await.unwrap(),
        11,
        "applied once, by the lost write"
    );
}

#[tokio::test]
async fn atomic_long_survives_session_expiry() {
    let env = env().await;
    let (proxy, builder) = env.proxied().await;
    let client = builder.connect().await.unwrap();
    let n = DistributedAtomicLong::new(&client, "/exp/n");
    n.add(2).await.unwrap();
    env.expire(&proxy, &client).await;
    assert_eq!(within(PATIENCE, n.add(3)).await.unwrap().post, 5);
}

#[tokio::test]
async fn simple_queue_is_curators_layout_and_fifo() {
    let env = env().await;
    let client = env.client().await;
    let q = SimpleQueue::new(&client, "/jobs/q");
    for i in 0..5 {
        q.offer(format!("job-{i}")).await.unwrap();
    }
    let mut names = client.get_children("/jobs/q").await.unwrap();
    names.sort();
    assert!(
        names.iter().all(|n| n.starts_with("qn-") && n.len() == 13),
        "{names:?}"
    );
    assert_eq!(q.peek().await.unwrap().unwrap().as_ref(), b"job-0");
    for i in 0..5 {
        assert_eq!(q.take().await.unwrap(), format!("job-{i}").as_bytes());
    }
    assert_eq!(q.poll().await.unwrap(), None);
    // The queue directory (and its parent) are containers: gone once empty.
    reaped(&client, "/jobs").await;
    // A waiting consumer gets an item offered later, with the directory
    // re-created.
    let waiter = tokio::spawn({
        let q = q.clone();
        async move { q.take().await }
    });
    q.offer("late").await.unwrap();
    assert_eq!(
        within(PATIENCE, waiter).await.unwrap().unwrap().as_ref(),
        b"late"
    );
}

/// The delete of a taken item is applied but its reply lost: the item is
/// skipped (at-most-once), never returned by two consumers, and the take
/// goes on to the next item.
#[tokio::test]
async fn simple_queue_lost_delete_reply_skips_the_item() {
    let env = env().await;
    let (proxy, builder) = env.proxied().await;
    let client = builder.connect().await.unwrap();
    let q = SimpleQueue::new(&client, "/q");
    q.offer("one").await.unwrap();
    q.offer("two").await.unwrap();
    let lost = proxy.inject(Match::op(OpCode::Delete), Fault::DropBeforeReply);
    let got = within(PATIENCE, q.take()).await.unwrap();
    lost.triggered().await;
    assert_eq!(got.as_ref(), b"two", "the first item's fate was unknown");
    connected(&client).await;
    assert_eq!(q.poll().await.unwrap(), None, "the first item was deleted");
}

/// Curator writes static instances as persistent nodes and the service
/// directories as containers; a POJO payload carries its class.
#[tokio::test]
async fn discovery_static_instances_persist_and_directories_are_containers() {
    let env = env().await;
    let client = env.client().await;
    let owner = env.client().await;
    let d = ServiceDiscovery::new(&owner, "/svc");
    let payload =
        ServicePayload::typed("com.example.Details", &serde_json::json!({"weight": 3})).unwrap();
    let dynamic = ServiceInstance::new("api")
        .with_id("dyn")
        .with_payload(payload.clone());
    let fixed = ServiceInstance::new("api")
        .with_id("static")
        .with_type(ServiceType::Static);
    d.register(&dynamic).await.unwrap();
    d.register(&fixed).await.unwrap();
    let stat = client.exists("/svc/api/static").await.unwrap().unwrap();
    assert_eq!(stat.ephemeral_owner, 0, "static instances are persistent");
    let (raw, _) = client.get_data("/svc/api/dyn").await.unwrap();
    let json: serde_json::Value = serde_json::from_slice(&raw).unwrap();
    assert_eq!(
        json["payload"],
        serde_json::json!({"@class": "com.example.Details", "weight": 3})
    );
    assert_eq!(
        d.instance("api", "dyn").await.unwrap().unwrap().payload,
        Some(payload)
    );
    owner.close().await.unwrap();
    client.sync("/svc/api").await.unwrap();
    assert!(client.exists("/svc/api/static").await.unwrap().is_some());
    client.delete("/svc/api/static", None).await.unwrap();
    reaped(&client, "/svc").await;
}

/// Curator's StickyStrategy and DownInstancePolicy.
#[tokio::test]
async fn providers_stick_and_skip_down_instances() {
    let env = env().await;
    let client = env.client().await;
    let d = ServiceDiscovery::new(&client, "/svc");
    let all: Vec<ServiceInstance> = ["a", "b", "c"]
        .iter()
        .map(|id| ServiceInstance::new("web").with_id(*id))
        .collect();
    for i in &all {
        d.register(i).await.unwrap();
    }
    let sticky = d
        .provider(
            "web",
            ProviderStrategy::sticky(ProviderStrategy::RoundRobin),
        )
        .await
        .unwrap();
    let first = sticky.instance().unwrap();
    for _ in 0..5 {
        assert_eq!(sticky.instance().unwrap().id, first.id, "sticks");
    }
    assert_eq!(sticky.sticky_choices(), 1);
    // Marked down (2 errors, Curator's default threshold): another one.
    sticky.note_error(&first);
    assert_eq!(
        sticky.instance().unwrap().id,
        first.id,
        "one error is not down"
    );
    sticky.note_error(&first);
    let second = sticky.instance().unwrap();
    assert_ne!(second.id, first.id);
    assert!(sticky.instances().iter().all(|i| i.id != first.id));
    assert_eq!(sticky.sticky_choices(), 2);
    // Unregistered: the cache drops it and the provider moves on.
    let mut changes = sticky.cache().subscribe();
    d.unregister(&second).await.unwrap();
    within(
        PATIENCE,
        changes.wait_for(|v| v.iter().all(|i| i.id != second.id)),
    )
    .await
    .unwrap();
    let third = sticky.instance().unwrap();
    assert!(third.id != first.id && third.id != second.id);

    // Errors older than the policy's timeout do not count.
    let lenient = d
        .provider("web", ProviderStrategy::RoundRobin)
        .await
        .unwrap()
        .with_down_instance_policy(DownInstancePolicy {
            timeout: std::time::Duration::ZERO,
            error_threshold: 1,
        });
    lenient.note_error(&third);
    assert!(lenient.instances().iter().any(|i| i.id == third.id));
}

/// A PersistentNode comes back after a delete and after its session
/// expired, with its latest data; close deletes it.
#[tokio::test]
async fn persistent_node_survives_deletes_and_expiry() {
    let env = env().await;
    let (proxy, builder) = env.proxied().await;
    let client = builder.connect().await.unwrap();
    let admin = env.client().await;
    let node = PersistentNode::new(&client, "/members/m1", CreateMode::Ephemeral, "v1");
    node.start();
    assert!(node.wait_for_initial_create(PATIENCE).await.unwrap());
    assert_eq!(node.actual_path().as_deref(), Some("/members/m1"));
    admin.sync("/members").await.unwrap();
    let (data, stat) = admin.get_data("/members/m1").await.unwrap();
    assert_eq!(
        (data.as_ref(), stat.ephemeral_owner),
        (&b"v1"[..], client.session_id())
    );

    node.set_data("v2").await.unwrap();
    admin.delete("/members/m1", None).await.unwrap();
    wait_for_data(&admin, "/members/m1", b"v2").await;

    let old = client.session_id();
    env.expire(&proxy, &client).await;
    wait_for_data(&admin, "/members/m1", b"v2").await;
    let stat = admin.exists("/members/m1").await.unwrap().unwrap();
    assert_ne!(stat.ephemeral_owner, old, "re-created in the new session");

    node.close().await.unwrap();
    admin.sync("/members").await.unwrap();
    assert!(admin.exists("/members/m1").await.unwrap().is_none());
}

/// Polls (on data watches) until `path` holds `want`.
async fn wait_for_data(client: &Client, path: &str, want: &[u8]) {
    within(PATIENCE, async {
        loop {
            match client.get_data_watch(path).await {
                Ok((data, _, _)) if data.as_ref() == want => return,
                Ok((_, _, watch)) => {
                    let _ = watch.await;
                }
                Err(e) if e.is_no_node() => {
                    let (stat, watch) = client.exists_watch(path).await.unwrap();
                    if stat.is_none() {
                        let _ = watch.await;
                    }
                }
                Err(e) => panic!("{e}"),
            }
        }
    })
    .await;
}

/// A sequential PersistentNode's create reply is lost: protection finds
/// the node, so exactly one exists.
#[tokio::test]
async fn persistent_sequential_node_lost_create_reply_leaves_one_node() {
    let env = env().await;
    let (proxy, builder) = env.proxied().await;
    let client = builder.connect().await.unwrap();
    client
        .create_all("/seq", "", CreateMode::Persistent)
        .await
        .unwrap();
    let lost = proxy.inject(
        Match::op(OpCode::Create2).path_contains("/seq/"),
        Fault::DropBeforeReply,
    );
    let node = PersistentNode::new(&client, "/seq/w-", CreateMode::EphemeralSequential, "x");
    node.start();
    assert!(node.wait_for_initial_create(PATIENCE).await.unwrap());
    lost.triggered().await;
    let children = env.children(&client, "/seq").await;
    assert_eq!(children.len(), 1, "{children:?}");
    assert!(children[0].starts_with("_c_") && children[0].contains("-w-"));
    assert_eq!(node.actual_path().unwrap(), format!("/seq/{}", children[0]));
}

/// ProtectedCreate and delete_guaranteed for users' own nodes.
#[tokio::test]
async fn protected_create_and_guaranteed_delete() {
    let env = env().await;
    let (proxy, builder) = env.proxied().await;
    let client = builder.connect().await.unwrap();
    let lost = proxy.inject(Match::op(OpCode::Create2), Fault::DropBeforeReply);
    let create = ProtectedCreate::new("/own/job");
    let (path, _) = within(PATIENCE, create.run(&client, "d", CreateMode::Persistent))
        .await
        .unwrap();
    lost.triggered().await;
    assert_eq!(path, format!("/own/{}", create.prefix()));
    assert_eq!(env.children(&client, "/own").await.len(), 1);
    assert_eq!(create.find(&client).await.unwrap().unwrap().0, path);

    let dropped = proxy.inject(Match::op(OpCode::Delete), Fault::DropBeforeRequest);
    let outcome = delete_guaranteed(&client, &path, None).await.unwrap();
    dropped.triggered().await;
    assert_eq!(outcome, GuaranteedDelete::InBackground);
    let admin = env.client().await;
    within(PATIENCE, async {
        loop {
            let (stat, watch) = admin.exists_watch(&path).await.unwrap();
            if stat.is_none() {
                return;
            }
            let _ = watch.await;
        }
    })
    .await;
    assert_eq!(
        delete_guaranteed(&client, &path, None).await.unwrap(),
        GuaranteedDelete::Deleted
    );
}

/// A guaranteed delete kept up in the background does not keep the session
/// open: once the application drops its client, the session ends (its
/// ephemeral node goes) and the pending delete is abandoned. A task holding
/// a strong client would keep the session, reconnect and delete after the
/// application let go (checked: that mutation fails here).
#[tokio::test]
async fn guaranteed_delete_in_background_lets_the_session_go() {
    let env = env().await;
    let (proxy, builder) = env.proxied().await;
    let client = builder.connect().await.unwrap();
    let (mark, kept) = ("/let-go/mark", "/let-go/kept");
    client
        .create_all(mark, "", CreateMode::Ephemeral)
        .await
        .unwrap();
    client
        .create(kept, "", CreateMode::Persistent)
        .await
        .unwrap();

    let admin = env.client().await;
    let owner = admin.exists(mark).await.unwrap().map(|s| s.ephemeral_owner);
    assert_eq!(owner, Some(client.session_id()));

    proxy.refuse();
    proxy.drop_connections();
    let outcome = delete_guaranteed(&client, kept, None).await.unwrap();
    assert_eq!(outcome, GuaranteedDelete::InBackground);
    drop(client);
    // Reachable again well within the session timeout: a client still held
    // would reconnect, keep the session and finish the delete.
    proxy.heal();

    within(PATIENCE, async {
        loop {
            let (stat, watch) = admin.exists_watch(mark).await.unwrap();
            if stat.is_none() {
                return;
            }
            let _ = watch.await;
        }
    })
    .await;
    assert!(
        admin.exists(kept).await.unwrap().is_some(),
        "the abandoned delete ran after the client was dropped"
    );
}

/// A server with TTL nodes: `ZK_CONNECT`, or an in-process one with quick
/// container checks.
async fn ttl_server() -> (String, Option<zk_testserver::Ensemble>) {
    match std::env::var("ZK_CONNECT") {
        Ok(h) if !h.trim().is_empty() => (h, None),
        _ => {
            let e = zk_testserver::Ensemble::builder()
                .extended_types(true)
                .tick(std::time::Duration::from_millis(200))
                .container_check_interval(std::time::Duration::from_millis(100))
                .start()
                .await
                .unwrap();
            (e.connect_string(), Some(e))
        }
    }
}

/// PersistentTtlNode on a server with TTL nodes: alive while touched,
/// expired after close (child first, then the node).
#[tokio::test]
async fn persistent_ttl_node_lives_while_touched() {
    let (hosts, _ensemble) = ttl_server().await;
    let client = Client::connect(hosts).await.unwrap();
    let root = format!("/ttl-it/{}", uuid::Uuid::new_v4());
    let path = format!("{root}/session");
    let ttl = std::time::Duration::from_millis(400);
    let node = PersistentTtlNode::new(&client, path.clone(), ttl, "state");
    node.start();
    assert!(node.wait_for_initial_create(PATIENCE).await.unwrap());
    // Touched at least twice (3 TTLs of life) and still there.
    let child = format!("{path}/{TTL_TOUCH_CHILD}");
    let mut touches = 0;
    let mut last = None;
    within(PATIENCE, async {
        while touches < 3 {
            if let Some(stat) = client.exists(&child).await.unwrap() {
                if last != Some(stat.mzxid) {
                    touches += 1;
                    last = Some(stat.mzxid);
                }
            }
            let (_, watch) = client.exists_watch(&child).await.unwrap();
            let _ = tokio::time::timeout(ttl, watch).await;
        }
    })
    .await;
    assert_eq!(client.get_data(&path).await.unwrap().0.as_ref(), b"state");
    node.close().await.unwrap();
    within(PATIENCE, async {
        while client.exists(&path).await.unwrap().is_some() {
            let (_, watch) = client.exists_watch(&path).await.unwrap();
            let _ = tokio::time::timeout(ttl, watch).await;
        }
    })
    .await;
}

/// PersistentTtlNode under faults: cut off for longer than its TTL (but
/// not its session), its touch child expires and the reaper takes the
/// node; once back it re-creates both. Then through a session expiry (its
/// node is not the session's) it keeps touching.
#[tokio::test]
async fn persistent_ttl_node_recovers_from_reaping_and_expiry() {
    let (hosts, _ensemble) = ttl_server().await;
    let first_host = hosts.split(['/', ',']).next().unwrap_or_default();
    let proxy = zk_testserver::proxy::FaultProxy::start_for(first_host)
        .await
        .unwrap();
    // ZooKeeper's default maximum with a 200 ms tick.
    let session = std::time::Duration::from_secs(4);
    let client = Client::builder(proxy.connect_string())
        .session_timeout(session)
        .renew_session_on_expiry(true)
        .connect()
        .await
        .unwrap();
    let observer = Client::connect(hosts.clone()).await.unwrap();
    let path = format!("/ttl-faults/{}/n", uuid::Uuid::new_v4());
    let (path, ttl) = (path.as_str(), std::time::Duration::from_millis(400));
    let child = format!("{path}/{TTL_TOUCH_CHILD}");
    let node = PersistentTtlNode::new(&client, path, ttl, "state");
    node.start();
    assert!(node.wait_for_initial_create(PATIENCE).await.unwrap());
    touched_again(&observer, &child, ttl).await;

    // Cut off until the node is reaped (the session usually outlives that;
    // if not, the renewed one must recover the node all the same).
    proxy.refuse();
    proxy.drop_connections();
    within(PATIENCE, async {
        while observer.exists(path).await.unwrap().is_some() {
            let (_, watch) = observer.exists_watch(path).await.unwrap();
            let _ = watch.await;
        }
    })
    .await;
    proxy.heal();
    touched_again(&observer, &child, ttl).await;

    // Expire the session: attach to it directly and close it, while the
    // proxy keeps the first client away.
    connected(&client).await;
    let old = client.session_id();
    let lost = client.wait_for_state(|s| s == zk_client::ConnectionState::Lost);
    proxy.refuse();
    proxy.drop_connections();
    Client::builder(hosts.clone())
        .session_timeout(session)
        .attach_session(old, client.session_password())
        .connect()
        .await
        .unwrap()
        .close()
        .await
        .unwrap();
    proxy.heal();
    within(PATIENCE, lost).await;
    connected(&client).await;
    assert_ne!(client.session_id(), old, "a new session");
    touched_again(&observer, &child, ttl).await;
    assert!(observer.exists(path).await.unwrap().is_some());
    node.close().await.unwrap();
}

/// Waits until `child` has been touched (written) three more times.
async fn touched_again(observer: &Client, child: &str, ttl: std::time::Duration) {
    let mut seen = std::collections::BTreeSet::new();
    within(PATIENCE, async {
        while seen.len() < 3 {
            if let Some(stat) = observer.exists(child).await.unwrap() {
                seen.insert(stat.mzxid);
            }
            let (_, watch) = observer.exists_watch(child).await.unwrap();
            let _ = tokio::time::timeout(ttl, watch).await;
        }
    })
    .await;
}

/// Waits until `cond` holds, re-checking on each change of `version`.
async fn until(version: &mut tokio::sync::watch::Receiver<u64>, cond: impl Fn() -> bool) {
    within(PATIENCE, version.wait_for(|_| cond()))
        .await
        .expect("cache alive");
}

#[tokio::test]
async fn path_children_cache_follows_children_and_their_data() {
    let env = env().await;
    let client = env.client().await;
    let writer = env.client().await;
    let cache = PathChildrenCache::start(&client, "/workers").await.unwrap();
    assert!(cache.current().is_empty(), "no parent yet");
    let mut version = cache.version();
    let mut events = Box::pin(cache.events());
    writer
        .create_all("/workers/a", "1", CreateMode::Persistent)
        .await
        .unwrap();
    writer
        .create("/workers/b", "2", CreateMode::Persistent)
        .await
        .unwrap();
    until(&mut version, || cache.current().len() == 2).await;
    writer.set_data("/workers/a", "1b", None).await.unwrap();
    until(&mut version, || {
        cache.get("a").is_some_and(|d| d.data.as_ref() == b"1b")
    })
    .await;
    writer
        .create("/workers/a/deeper", "", CreateMode::Persistent)
        .await
        .unwrap();
    writer.delete("/workers/b", None).await.unwrap();
    until(&mut version, || cache.get("b").is_none()).await;
    assert_eq!(
        cache.current().keys().collect::<Vec<_>>(),
        vec!["a"],
        "children only"
    );
    let first = within(PATIENCE, events.next()).await.unwrap();
    assert!(
        matches!(first, ChildEvent::Added(ref n, _) if n == "a" || n == "b"),
        "{first:?}"
    );
    // The parent goes and comes back.
    writer.delete_all("/workers").await.unwrap();
    until(&mut version, || cache.current().is_empty()).await;
    writer
        .create_all("/workers/c", "3", CreateMode::Persistent)
        .await
        .unwrap();
    until(&mut version, || cache.get("c").is_some()).await;
}

/// Changes made while the cache's session expired are found by the reload
/// in the new session (the one-shot watches died with the session).
#[tokio::test]
async fn one_shot_caches_reload_after_session_expiry() {
    let env = env().await;
    let (proxy, builder) = env.proxied().await;
    let client = builder.connect().await.unwrap();
    let writer = env.client().await;
    writer
        .create_all("/tree/a/x", "1", CreateMode::Persistent)
        .await
        .unwrap();
    let tree = CuratorCache::start_one_shot(&client, "/tree")
        .await
        .unwrap();
    assert_eq!(tree.mode(), CacheWatchMode::OneShot);
    let children = PathChildrenCache::start(&client, "/tree").await.unwrap();
    assert!(tree.get("/tree/a/x").is_some());
    let mut tree_version = tree.version();
    let mut children_version = children.version();

    proxy.refuse();
    let other = env
        .attach(client.session_id(), client.session_password())
        .await;
    other.close().await.unwrap();
    writer.delete("/tree/a/x", None).await.unwrap();
    writer
        .create_all("/tree/b/y/z", "2", CreateMode::Persistent)
        .await
        .unwrap();
    proxy.heal();
    until(&mut tree_version, || {
        tree.get("/tree/a/x").is_none() && tree.get("/tree/b/y/z").is_some()
    })
    .await;
    until(&mut children_version, || children.get("b").is_some()).await;
    // And the new session's watches work.
    writer.set_data("/tree/b/y/z", "3", None).await.unwrap();
    until(&mut tree_version, || {
        tree.get("/tree/b/y/z")
            .is_some_and(|d| d.data.as_ref() == b"3")
    })
    .await;
}

#[tokio::test]
async fn curator_cache_uses_persistent_watches_where_the_server_has_them() {
    let env = env().await;
    let client = env.client().await;
    let cache = CuratorCache::start(&client, "/cfg").await.unwrap();
    assert_eq!(cache.mode(), CacheWatchMode::PersistentRecursive);
    let mut version = cache.version();
    client
        .create_all("/cfg/db/url", "pg", CreateMode::Persistent)
        .await
        .unwrap();
    until(&mut version, || cache.get("/cfg/db/url").is_some()).await;
    assert_eq!(cache.snapshot().len(), 3);
}

#[tokio::test]
async fn delay_queue_holds_items_until_due_in_due_order() {
    let env = env().await;
    let client = env.client().await;
    let q = DelayQueue::new(&client, "/delayed");
    let start = std::time::Instant::now();
    q.put_after("late", std::time::Duration::from_millis(400))
        .await
        .unwrap();
    q.put_after("soon", std::time::Duration::from_millis(150))
        .await
        .unwrap();
    q.put_after("now", std::time::Duration::ZERO).await.unwrap();
    let names = env.children(&client, "/delayed").await;
    assert!(
        names
            .iter()
            .all(|n| n.starts_with("queue-|") && n.matches('|').count() == 2),
        "{names:?}"
    );
    let (raw, _) = client
        .get_data(&format!("/delayed/{}", names[0]))
        .await
        .unwrap();
    assert_eq!(&raw[..4], [0, 1, 0, 1], "Curator's framing");
    assert_eq!(within(PATIENCE, q.take()).await.unwrap().as_ref(), b"now");
    assert_eq!(within(PATIENCE, q.take()).await.unwrap().as_ref(), b"soon");
    assert!(
        start.elapsed() >= std::time::Duration::from_millis(150),
        "not before due"
    );
    assert_eq!(q.poll().await.unwrap(), None, "late is not due yet");
    assert_eq!(within(PATIENCE, q.take()).await.unwrap().as_ref(), b"late");
    assert!(start.elapsed() >= std::time::Duration::from_millis(400));
}

#[tokio::test]
async fn id_queue_is_fifo_with_removal_by_id() {
    let env = env().await;
    let client = env.client().await;
    let q = IdQueue::new(&client, "/ids");
    for i in 0..5 {
        q.put(format!("m{i}"), &format!("id/{}", i % 3))
            .await
            .unwrap();
    }
    let names = env.children(&client, "/ids").await;
    assert!(
        names.iter().any(|n| n.starts_with("queue-|id_1|")),
        "{names:?}"
    );
    assert_eq!(q.remove("id/1").await.unwrap(), 2, "m1 and m4");
    let mut got = Vec::new();
    while let Some(item) = q.poll().await.unwrap() {
        got.push(String::from_utf8(item.to_vec()).unwrap());
    }
    assert_eq!(got, ["m0", "m2", "m3"]);
}

/// Consumers of the delay and id queues wait through a connection loss
/// and a session expiry: the delayed item comes once due (not before), and
/// an item put while the consumer was cut off is taken.
#[tokio::test]
async fn delay_and_id_queue_consumers_wait_through_loss_and_expiry() {
    let env = env().await;
    let (proxy, builder) = env.proxied().await;
    let consumer = builder.connect().await.unwrap();
    let producer = env.client().await;

    let delay = std::time::Duration::from_millis(900);
    let start = std::time::Instant::now();
    DelayQueue::new(&producer, "/faults/dq")
        .put_after("due", delay)
        .await
        .unwrap();
    let delayed = DelayQueue::new(&consumer, "/faults/dq");
    let taking = tokio::spawn(async move { delayed.take().await });
    env.expire(&proxy, &consumer).await;
    let item = within(PATIENCE, taking).await.unwrap().unwrap();
    assert_eq!(item.as_ref(), b"due");
    assert!(start.elapsed() >= delay, "taken before due");

    let ids = IdQueue::new(&consumer, "/faults/iq");
    ids.put("first", "a").await.unwrap();
    assert_eq!(ids.take().await.unwrap().as_ref(), b"first");
    let taking = tokio::spawn(async move { ids.take().await });
    proxy.refuse();
    proxy.drop_connections();
    IdQueue::new(&producer, "/faults/iq")
        .put("while cut off", "b")
        .await
        .unwrap();
    proxy.heal();
    let item = within(PATIENCE, taking).await.unwrap().unwrap();
    assert_eq!(item.as_ref(), b"while cut off");
}

#[tokio::test]
async fn reentrant_lock_reenters_per_owner_and_excludes_others() {
    let env = env().await;
    let client = env.client().await;
    let owner = ReentrantLock::new(&client, "/re/lock");
    let outer = owner.acquire().await.unwrap();
    let inner = within(PATIENCE, owner.clone().acquire()).await.unwrap();
    assert_eq!(inner.node_path(), outer.node_path());
    assert_eq!(owner.hold_count(), 2);
    assert_eq!(
        env.children(&client, "/re/lock").await.len(),
        1,
        "no second node"
    );
    // Another owner (same session, other handle) waits.
    let other = ReentrantLock::new(&client, "/re/lock");
    assert!(
        tokio::time::timeout(std::time::Duration::from_millis(200), other.acquire())
            .await
            .is_err()
    );
    inner.release().await.unwrap();
    // The timed-out contender's node goes in the background; ours stays.
    let left = env
        .wait_children(&client, "/re/lock", |c| c.len() == 1)
        .await;
    assert!(outer.node_path().ends_with(&left[0]), "still held");
    drop(outer); // the last entry: released in the background
    let theirs = within(PATIENCE, other.acquire()).await.unwrap();
    assert_ne!(theirs.fencing_token(), 0);
    assert_eq!(owner.hold_count(), 0);
    theirs.release().await.unwrap();
}

/// After the session that held it expired, the owner does not re-enter a
/// lost lock: it acquires anew.
#[tokio::test]
async fn reentrant_lock_does_not_reenter_a_lost_hold() {
    let env = env().await;
    let (proxy, builder) = env.proxied().await;
    let client = builder.connect().await.unwrap();
    let owner = ReentrantLock::new(&client, "/re/lost");
    let first = owner.acquire().await.unwrap();
    let lost = first.lost();
    env.expire(&proxy, &client).await;
    within(PATIENCE, lost).await;
    let again = within(PATIENCE, owner.acquire()).await.unwrap();
    assert_ne!(again.node_path(), first.node_path(), "a new node");
    let stat = client.exists(again.node_path()).await.unwrap().unwrap();
    assert_eq!(stat.ephemeral_owner, client.session_id());
}

#[tokio::test]
async fn revocation_asks_the_holder_to_release() {
    let env = env().await;
    let holder = env.client().await;
    let wanter = env.client().await;
    let guard = Lock::new(&holder, "/rev").acquire().await.unwrap();
    let asked = guard.revoke_requested();
    let waiting = tokio::spawn({
        let wanter = wanter.clone();
        async move { Lock::new(&wanter, "/rev").acquire().await }
    });
    let holder_node = guard.node_path().to_string();
    attempt_revoke(&wanter, &holder_node).await.unwrap();
    within(PATIENCE, asked).await;
    let (data, _) = holder.get_data(&holder_node).await.unwrap();
    assert_eq!(data.as_ref(), REVOKE_MESSAGE);
    guard.release().await.unwrap();
    let theirs = within(PATIENCE, waiting).await.unwrap().unwrap();
    theirs.release().await.unwrap();
    // Revoking a node that is gone is fine.
    attempt_revoke(&wanter, &holder_node).await.unwrap();
}
