//! Lock: behaviour and the pitfalls of DESIGN.md §4 (1–5, 9, 10).

mod common;

use common::*;
use std::collections::HashSet;
use std::time::Duration;
use tokio::time::Instant;
use zk_client::proto::OpCode;
use zk_client::ConnectionState;
use zk_recipes::{ConnectionPolicy, Lock, LossReason};
use zk_testserver::proxy::{Fault, Match};

#[tokio::test]
async fn exclusion_try_acquire_timeout_and_fencing() {
    let env = env().await;
    let a = env.client().await;
    let b = env.client().await;
    let la = Lock::new(&a, "/locks/basic");
    let lb = Lock::new(&b, "/locks/basic");

    let g1 = la.acquire().await.unwrap();
    assert!(g1.node_path().contains("/_c_") && g1.node_path().contains("-lock-"));
    assert_eq!(g1.stat().ephemeral_owner, a.session_id());
    assert!(lb.try_acquire().await.unwrap().is_none());
    let err = lb
        .acquire_timeout(Duration::from_millis(300))
        .await
        .unwrap_err();
    // The error names the lock (trap 6 of issue 16).
    match &err {
        zk_recipes::Error::Timeout { path, after } => {
            assert_eq!(path, "/locks/basic");
            assert_eq!(*after, Duration::from_millis(300));
            assert!(err.to_string().contains("/locks/basic"), "{err}");
        }
        other => panic!("{other:?}"),
    }
    // Neither the failed try nor the timed-out wait left a node behind.
    env.wait_children(&a, "/locks/basic", |c| c.len() == 1)
        .await;

    let t1 = g1.fencing_token();
    let waiter = tokio::spawn(async move { lb.acquire().await });
    env.wait_children(&a, "/locks/basic", |c| c.len() == 2)
        .await;
    g1.release().await.unwrap();
    let g2 = within(PATIENCE, waiter).await.unwrap().unwrap();
    assert!(g2.fencing_token() > t1);
    assert!(!g2.is_lost());
    drop(g2);
    env.wait_children(&a, "/locks/basic", |c| c.is_empty())
        .await;
}

/// Pitfall 1: the create reached the server but its reply was lost.
#[tokio::test]
async fn pitfall1_lost_create_reply_finds_own_node() {
    let env = env().await;
    let (proxy, builder) = env.proxied().await;
    let client = builder.connect().await.unwrap();
    // The directory exists, so the lock node's create succeeds on the server.
    client
        .create_all("/locks/p1", "", zk_client::CreateMode::Persistent)
        .await
        .unwrap();
    let lost = proxy.inject(
        Match::op(OpCode::Create2).path_contains("-lock-"),
        Fault::DropBeforeReply,
    );
    let lock = Lock::new(&client, "/locks/p1");
    let guard = within(PATIENCE, lock.acquire()).await.unwrap();
    let hit = lost.triggered().await;
    assert!(
        hit.path.unwrap_or_default().contains("-lock-"),
        "the fault hit the lock's create"
    );
    let children = env.children(&client, "/locks/p1").await;
    assert_eq!(children.len(), 1, "exactly one node: {children:?}");
    assert!(guard.node_path().ends_with(&children[0]));
    assert_eq!(guard.stat().ephemeral_owner, client.session_id());
    guard.release().await.unwrap();
}

/// Pitfall 2: after the session was lost (as this client sees it) a node of
/// the old session is still there, with our protected prefix. It must not be
/// adopted: nothing is held through a node of another session.
#[tokio::test]
async fn pitfall2_stale_node_of_old_session_is_not_adopted() {
    let env = env().await;
    let (proxy, builder) = env.proxied().await;
    let client = builder.connect().await.unwrap();
    let mut states = client.state_stream();
    let s1 = client.session_id();
    let password = client.session_password();

    // The create reaches the server; its reply is held.
    let held = proxy.inject(
        Match::op(OpCode::Create2).path_contains("-lock-"),
        Fault::HoldReply,
    );
    client
        .create_all("/locks/p2", "", zk_client::CreateMode::Persistent)
        .await
        .unwrap();
    let lock = Lock::new(&client, "/locks/p2");
    let acquiring = tokio::spawn(async move { lock.acquire().await });
    held.triggered().await;
    // Cut the client off, and keep its session alive from elsewhere: the
    // client will declare the session lost while the server keeps it (and
    // the node) — the window in which the stale node exists.
    proxy.partition();
    let keeper = env.attach(s1, password).await;
    within(PATIENCE, async {
        use futures::StreamExt;
        while let Some(s) = states.next().await {
            if s == ConnectionState::Lost {
                break;
            }
        }
    })
    .await;
    let stale = env.children(&keeper, "/locks/p2").await;
    assert_eq!(stale.len(), 1, "the old session's node is still there");
    proxy.heal();

    let guard = within(PATIENCE, acquiring).await.unwrap().unwrap();
    let s2 = client.session_id();
    assert_ne!(s2, s1);
    assert_eq!(
        guard.stat().ephemeral_owner,
        s2,
        "held through our session's node"
    );
    assert!(
        !guard.node_path().ends_with(&stale[0]),
        "stale node adopted"
    );
    keeper.close().await.unwrap();
    let children = env
        .wait_children(&client, "/locks/p2", |c| c.len() == 1)
        .await;
    assert!(guard.node_path().ends_with(&children[0]));
    guard.release().await.unwrap();
}

/// Pitfall 3: a holder partitioned past the session timeout learns it lost
/// the lock before a rival can acquire it — in fact before the server can
/// have expired its session.
#[tokio::test]
async fn pitfall3_partitioned_holder_lost_fires_before_rival_acquires() {
    for policy in [ConnectionPolicy::Session, ConnectionPolicy::Strict] {
        let env = env().await;
        let (proxy, builder) = env.proxied().await;
        let holder = builder
            .session_timeout(Duration::from_secs(3))
            .connect()
            .await
            .unwrap();
        let rival = env.client().await;
        let guard = Lock::new(&holder, "/locks/p3")
            .with_policy(policy)
            .acquire()
            .await
            .unwrap();
        let rival_lock = Lock::new(&rival, "/locks/p3");
        let waiting = tokio::spawn(async move {
            let g = rival_lock.acquire().await;
            (Instant::now(), g)
        });
        env.wait_children(&rival, "/locks/p3", |c| c.len() == 2)
            .await;

        let timeout = holder.session_timeout();
        let lost = guard.lost();
        proxy.partition();
        let reason = within(PATIENCE, lost).await;
        let lost_at = Instant::now();
        assert!(matches!(
            reason,
            LossReason::Suspended | LossReason::SessionExpired
        ));
        // The policy gives up before the server can expire the session (the
        // client suspends at most 2/3 of the timeout after it last heard from
        // the server). This is a timing property: a starved test machine can
        // delay the client's timers, so it is reported, not asserted; what
        // must hold regardless is the order checked below.
        let last_heard_by_server = Instant::from_std(proxy.last_forwarded().unwrap());
        if lost_at >= last_heard_by_server + timeout {
            eprintln!(
                "{policy:?}: lost() fired {:?} after the server last heard from the holder \
                 (session timeout {timeout:?}): late timers on a loaded machine",
                lost_at - last_heard_by_server
            );
        }
        let (acquired_at, rival_guard) = within(PATIENCE, waiting).await.unwrap();
        let rival_guard = rival_guard.unwrap();
        assert!(
            lost_at < acquired_at,
            "{policy:?}: rival acquired before lost()"
        );
        rival_guard.release().await.unwrap();
    }
}

/// Pitfall 4: the release's delete is lost with the connection; it is
/// retried in the background and the next acquire succeeds.
#[tokio::test]
async fn pitfall4_release_during_connection_drop_is_retried() {
    let env = env().await;
    let (proxy, builder) = env.proxied().await;
    let client = builder.connect().await.unwrap();
    let other = env.client().await;
    let lock = Lock::new(&client, "/locks/p4");

    // Explicit release.
    let guard = lock.acquire().await.unwrap();
    let dropped = proxy.inject(
        Match::op(OpCode::Delete).path_contains("-lock-"),
        Fault::DropBeforeRequest,
    );
    within(PATIENCE, guard.release()).await.unwrap();
    dropped.triggered().await;
    let next = within(
        Duration::from_secs(10),
        Lock::new(&other, "/locks/p4").acquire(),
    )
    .await
    .unwrap();
    next.release().await.unwrap();

    // Release by drop.
    let guard = lock.acquire().await.unwrap();
    let dropped = proxy.inject(
        Match::op(OpCode::Delete).path_contains("-lock-"),
        Fault::DropBeforeRequest,
    );
    drop(guard);
    dropped.triggered().await;
    let next = within(
        Duration::from_secs(10),
        Lock::new(&other, "/locks/p4").acquire(),
    )
    .await
    .unwrap();
    next.release().await.unwrap();
}

/// Pitfall 5: an acquire future dropped at any await point leaves no node.
#[tokio::test]
async fn pitfall5_dropped_acquire_leaves_no_orphan() {
    let env = env().await;
    let (proxy, builder) = env.proxied().await;
    let client = builder.connect().await.unwrap();
    let holder_client = env.client().await;
    let holder = Lock::new(&holder_client, "/locks/p5")
        .acquire()
        .await
        .unwrap();
    let lock = Lock::new(&client, "/locks/p5");

    // Dropped before the first poll.
    drop(lock.acquire());

    // Dropped while each of its requests is in flight.
    for op in [OpCode::Create2, OpCode::GetChildren, OpCode::GetData] {
        let held = proxy.inject(Match::op(op).path_contains("/locks/p5"), Fault::HoldReply);
        let task = {
            let lock = lock.clone();
            tokio::spawn(async move { lock.acquire().await })
        };
        held.triggered().await;
        task.abort();
        assert!(task.await.unwrap_err().is_cancelled());
        held.release();
        env.wait_children(&holder_client, "/locks/p5", |c| c.len() == 1)
            .await;
    }

    // Dropped while waiting for the node ahead.
    proxy.clear_requests();
    let task = {
        let lock = lock.clone();
        tokio::spawn(async move { lock.acquire().await })
    };
    env.wait_children(&holder_client, "/locks/p5", |c| c.len() == 2)
        .await;
    within(PATIENCE, async {
        while !proxy
            .requests()
            .iter()
            .any(|o| o.op == OpCode::GetData && o.watch)
        {
            tokio::task::yield_now().await;
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
    task.abort();
    let _ = task.await;
    env.wait_children(&holder_client, "/locks/p5", |c| c.len() == 1)
        .await;

    // A timed-out acquire is a dropped one too.
    assert!(lock
        .acquire_timeout(Duration::from_millis(200))
        .await
        .is_err());
    env.wait_children(&holder_client, "/locks/p5", |c| c.len() == 1)
        .await;
    holder.release().await.unwrap();
}

/// Pitfall 9: after the session is lost, a waiting acquire starts over in
/// the new session and completes within a deadline; a holder whose session
/// expired learns it and can take the lock again.
#[tokio::test]
async fn pitfall9_acquire_completes_after_session_loss() {
    let env = env().await;
    let holder_client = env.client().await;
    let (proxy, builder) = env.proxied().await;
    let contender_client = builder.connect().await.unwrap();
    let holder = Lock::new(&holder_client, "/locks/p9")
        .acquire()
        .await
        .unwrap();
    let lock = Lock::new(&contender_client, "/locks/p9");
    let waiting = {
        let lock = lock.clone();
        tokio::spawn(async move { lock.acquire().await })
    };
    env.wait_children(&holder_client, "/locks/p9", |c| c.len() == 2)
        .await;
    env.expire(&proxy, &contender_client).await;
    holder.release().await.unwrap();
    let guard = within(Duration::from_secs(10), waiting)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(guard.stat().ephemeral_owner, contender_client.session_id());

    // The holder's own session expires.
    let lost = guard.lost();
    env.expire(&proxy, &contender_client).await;
    assert_eq!(within(PATIENCE, lost).await, LossReason::SessionExpired);
    assert!(guard.is_lost());
    drop(guard);
    let again = within(Duration::from_secs(10), lock.acquire())
        .await
        .unwrap();
    assert_eq!(again.stat().ephemeral_owner, contender_client.session_id());
    again.release().await.unwrap();
}

/// Pitfall 10: every waiter watches only the node just ahead of it, and a
/// release wakes only the next waiter.
#[tokio::test]
async fn pitfall10_no_herd_effect() {
    let env = env().await;
    let (proxy, _builder) = env.proxied().await;
    let holder_client = env.client().await;
    let holder = Lock::new(&holder_client, "/locks/p10")
        .acquire()
        .await
        .unwrap();
    const WAITERS: usize = 5;
    let mut tasks = Vec::new();
    let mut clients = Vec::new();
    for i in 0..WAITERS {
        let c = builder_clone(&env, &proxy).connect().await.unwrap();
        clients.push(c.clone());
        let lock = Lock::new(&c, "/locks/p10");
        tasks.push(tokio::spawn(async move { lock.acquire().await }));
        env.wait_children(&holder_client, "/locks/p10", |c| c.len() == i + 2)
            .await;
    }
    let order = Lock::new(&holder_client, "/locks/p10")
        .participants()
        .await
        .unwrap();
    // Wait until every waiter has set its watch.
    within(PATIENCE, async {
        while proxy.requests().iter().filter(|o| o.watch).count() < WAITERS {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
    let watches: Vec<_> = proxy.requests().into_iter().filter(|o| o.watch).collect();
    assert_eq!(watches.len(), WAITERS, "one watch per waiter: {watches:?}");
    let watched: HashSet<String> = watches
        .iter()
        .map(|o| {
            assert_eq!(o.op, OpCode::GetData, "only node watches: {o:?}");
            o.path.clone().unwrap_or_default()
        })
        .collect();
    for ahead in &order[..WAITERS] {
        assert!(
            watched.iter().any(|p| p.ends_with(ahead.as_str())),
            "{ahead} is watched by the waiter behind it: {watched:?}"
        );
    }
    // A release wakes the next waiter only.
    proxy.clear_requests();
    holder.release().await.unwrap();
    let first = within(PATIENCE, tasks.remove(0)).await.unwrap().unwrap();
    let conns: HashSet<u64> = proxy.requests().iter().map(|o| o.conn).collect();
    assert_eq!(
        conns.len(),
        1,
        "only the next waiter acted: {:?}",
        proxy.requests()
    );
    first.release().await.unwrap();
    for t in tasks {
        within(PATIENCE, t)
            .await
            .unwrap()
            .unwrap()
            .release()
            .await
            .unwrap();
    }
    drop(clients);
}

fn builder_clone(env: &Env, proxy: &zk_testserver::proxy::FaultProxy) -> zk_client::ClientBuilder {
    zk_client::Client::builder(format!("{}{}", proxy.connect_string(), env.root))
        .session_timeout(SESSION)
        .renew_session_on_expiry(true)
}

/// Watches that session `session` holds on paths containing `part` (server
/// paths: the test's chroot comes first), as the server it is connected to
/// lists them (`wchc`).
async fn server_watches(addr: std::net::SocketAddr, session: i64, part: &str) -> Vec<String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(b"wchc").await.unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    let ours = format!("0x{session:x}");
    let mut current = String::new();
    let mut paths = Vec::new();
    for line in out.lines() {
        match line.strip_prefix('\t') {
            Some(path) if current == ours && path.contains(part) => paths.push(path.to_string()),
            Some(_) => {}
            None => current = line.trim().to_string(),
        }
    }
    paths
}

/// Releasing (now or by dropping the guard) leaves no watch on the server:
/// the holder's monitor stops before the delete is sent, so its exists
/// watch cannot reach the server after the delete and stay registered on
/// the deleted path for the rest of the session.
#[tokio::test]
async fn release_leaves_no_watch_on_the_server() {
    let env = env().await;
    let client = env.client().await;
    let observer = env.client().await;
    let dir = "/locks/no-stale-watch";
    let lock = Lock::new(&client, dir);
    for _ in 0..20 {
        lock.acquire().await.unwrap().release().await.unwrap();
        drop(lock.acquire().await.unwrap());
        env.wait_children(&observer, dir, |c| c.is_empty()).await;
    }
    client.sync(dir).await.unwrap();
    let addr = client.connected_server().unwrap();
    let stale = server_watches(addr, client.session_id(), &format!("{dir}/")).await;
    assert!(
        stale.is_empty(),
        "watches left on released nodes: {stale:?}"
    );
}

/// Issue 16, bug 3: the connection stalls while the hold monitor's first
/// exists watch is in flight (its reply is held, then the holder is
/// partitioned). The monitor used to sit in the client's retries with its
/// grace timer never armed, so `lost()` fired only when the client gave the
/// session up (`SessionExpired`, at the session timeout: as late as the
/// server's expiry, after which a rival acquires). The grace timer runs
/// while a request is in flight, so `lost()` fires with `Suspended`, before
/// the rival gets the lock.
#[tokio::test]
async fn lost_fires_in_time_when_the_monitors_first_request_stalls() {
    let env = env().await;
    let (proxy, builder) = env.proxied().await;
    // The grace timer gives up a twelfth of the session timeout before the
    // client would count the session lost; a long timeout keeps that
    // margin (500 ms) above the scheduling delays of a loaded machine.
    let holder = builder
        .session_timeout(Duration::from_secs(6))
        .connect()
        .await
        .unwrap();
    let rival = env.client().await;
    let held = proxy.inject(
        Match::op(OpCode::Exists).path_contains("/locks/stall/"),
        Fault::HoldReply,
    );
    let guard = Lock::new(&holder, "/locks/stall").acquire().await.unwrap();
    held.triggered().await;
    proxy.partition();
    let lost = guard.lost();
    let rival_lock = Lock::new(&rival, "/locks/stall");
    let waiting = tokio::spawn(async move {
        let g = rival_lock.acquire().await;
        (Instant::now(), g)
    });
    let reason = within(PATIENCE, lost).await;
    let lost_at = Instant::now();
    assert_eq!(reason, LossReason::Suspended, "given up by the grace timer");
    let (acquired_at, rival_guard) = within(PATIENCE, waiting).await.unwrap();
    assert!(lost_at < acquired_at, "rival acquired before lost()");
    rival_guard.unwrap().release().await.unwrap();
    assert!(matches!(
        guard.release().await,
        Err(zk_recipes::Error::Lost {
            reason: LossReason::Suspended,
            ..
        })
    ));
}

/// Issue 16, traps 5 and 6: after the session expired, `lost()` reports
/// `SessionExpired` whether or not the client renews sessions — also when
/// the hold monitor's exists watch was in flight across the expiry (it
/// used to come back in the new session, find the node gone and report
/// `NodeDeleted`) — and releasing the lost guard fails with `Error::Lost`.
#[tokio::test]
async fn loss_reason_after_expiry_is_session_expired() {
    let env = env().await;
    // Expired as the reporter saw it: by the server while the client is
    // connected (its node's deletion reaches the client before the
    // expiry); only the in-process ensemble can do that on demand.
    if let Some(ensemble) = env.ensemble.clone() {
        for renew in [true, false] {
            let client = env
                .builder()
                .session_timeout(Duration::from_secs(4))
                .renew_session_on_expiry(renew)
                .connect()
                .await
                .unwrap();
            let guard = Lock::new(&client, "/locks/p5s").acquire().await.unwrap();
            let lost = guard.lost();
            ensemble.expire_session(client.session_id()).await.unwrap();
            assert_eq!(
                within(PATIENCE, lost).await,
                LossReason::SessionExpired,
                "server-side expiry, renew {renew}"
            );
            assert!(matches!(
                guard.release().await,
                Err(zk_recipes::Error::Lost { .. })
            ));
            client.close().await.ok();
        }
    } else {
        eprintln!("no in-process ensemble: the server-side expiry case is not run");
    }
    for renew in [true, false] {
        for in_flight in [false, true] {
            let (proxy, builder) = env.proxied().await;
            // A long session, so the grace timer (¼ of it) cannot end the
            // hold first while the expiry is staged.
            let client = builder
                .session_timeout(Duration::from_secs(4))
                .renew_session_on_expiry(renew)
                .connect()
                .await
                .unwrap();
            let held = in_flight.then(|| {
                proxy.inject(
                    Match::op(OpCode::Exists).path_contains("/locks/p5r/"),
                    Fault::HoldReply,
                )
            });
            let guard = Lock::new(&client, "/locks/p5r").acquire().await.unwrap();
            if let Some(held) = &held {
                held.triggered().await;
            }
            let lost = guard.lost();
            env.expire(&proxy, &client).await;
            let reason = within(PATIENCE, lost).await;
            assert_eq!(
                reason,
                LossReason::SessionExpired,
                "renew {renew}, request in flight {in_flight}"
            );
            match guard.release().await {
                Err(zk_recipes::Error::Lost { path, reason }) => {
                    assert!(path.contains("/locks/p5r/"), "{path}");
                    assert_eq!(reason, LossReason::SessionExpired);
                }
                other => panic!("release of a lost guard: {other:?}"),
            }
            client.close().await.ok();
        }
    }
}

/// The other side of trap 5: a lock node deleted by someone else (an
/// operator) while the session lives is reported as `NodeDeleted`.
#[tokio::test]
async fn lock_node_deleted_by_someone_else_is_node_deleted() {
    let env = env().await;
    let client = env.client().await;
    let admin = env.client().await;
    let guard = Lock::new(&client, "/locks/deleted")
        .acquire()
        .await
        .unwrap();
    let lost = guard.lost();
    admin.delete(guard.node_path(), None).await.unwrap();
    assert_eq!(within(PATIENCE, lost).await, LossReason::NodeDeleted);
    assert!(matches!(
        guard.release().await,
        Err(zk_recipes::Error::Lost {
            reason: LossReason::NodeDeleted,
            ..
        })
    ));
}
