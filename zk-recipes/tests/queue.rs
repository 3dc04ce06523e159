//! Queue (pitfall 8): FIFO and priority order, a large backlog with a
//! bounded number of watches, surviving session expiry, at-least-once
//! delivery with the locking consumer.

mod common;

use common::*;
use std::collections::HashSet;
use std::time::Duration;
use zk_client::proto::OpCode;
use zk_recipes::Queue;

#[tokio::test]
async fn fifo_and_priority_order() {
    let Some(env) = env().await else { return };
    let c = env.client().await;
    let q = Queue::new(&c, "/q/fifo");
    assert!(q.try_take().await.unwrap().is_none());
    for i in 0..5 {
        q.put(format!("item-{i}")).await.unwrap();
    }
    assert_eq!(q.len().await.unwrap(), 5);
    for i in 0..5 {
        assert_eq!(q.take().await.unwrap(), format!("item-{i}").as_bytes());
    }
    assert!(q.is_empty().await.unwrap());
    assert!(q.take_timeout(Duration::from_millis(100)).await.is_err());

    let p = Queue::priority(&c, "/q/prio");
    p.put_with_priority("five", 5).await.unwrap();
    p.put_with_priority("minus", -2).await.unwrap();
    p.put_with_priority("one-a", 1).await.unwrap();
    let first = p.take().await.unwrap();
    assert_eq!(first, "minus".as_bytes());
    // Put later, but more urgent than what is left.
    p.put_with_priority("zero", 0).await.unwrap();
    p.put_with_priority("one-b", 1).await.unwrap();
    let rest: Vec<String> = {
        let mut v = Vec::new();
        for _ in 0..4 {
            v.push(String::from_utf8(p.take().await.unwrap().to_vec()).unwrap());
        }
        v
    };
    assert_eq!(rest, vec!["zero", "one-a", "one-b", "five"]);
}

#[tokio::test]
async fn take_blocks_until_put() {
    let Some(env) = env().await else { return };
    let c = env.client().await;
    let producer = env.client().await;
    let q = Queue::new(&c, "/q/block");
    let taker = {
        let q = q.clone();
        tokio::spawn(async move { q.take().await })
    };
    // Wait until the consumer watches the empty queue.
    within(PATIENCE, async {
        while q.stats().watches_set == 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
    Queue::new(&producer, "/q/block")
        .put("hello")
        .await
        .unwrap();
    assert_eq!(
        within(PATIENCE, taker).await.unwrap().unwrap(),
        "hello".as_bytes()
    );
}

/// Pitfall 8a: a backlog of many items (100 000 by default; set
/// QUEUE_ITEMS to change) is consumed completely with a bounded number of
/// watches and listings, by many concurrent takers on one handle.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pitfall8_large_backlog_bounded_watches() {
    let Some(env) = env().await else { return };
    let items: usize = std::env::var("QUEUE_ITEMS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(100_000);
    // 100 000 names do not fit ZooKeeper's default 1 MiB frame.
    let big = || env.builder().max_frame(16 << 20);
    let producer = big().connect().await.unwrap();
    // The consumer goes through a proxy, which counts the watches it asks for.
    let (proxy, builder) = env.proxied().await;
    let consumer = builder.max_frame(16 << 20).connect().await.unwrap();
    let started = std::time::Instant::now();
    let q = Queue::new(&producer, "/q/big");
    q.put("first").await.unwrap();
    let mut tasks = Vec::new();
    const PRODUCERS: usize = 64;
    for t in 0..PRODUCERS {
        let q = q.clone();
        tasks.push(tokio::spawn(async move {
            for i in (t..items).step_by(PRODUCERS) {
                q.put(i.to_string()).await.unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let put_time = started.elapsed();

    let cq = Queue::new(&consumer, "/q/big");
    assert_eq!(cq.take().await.unwrap(), "first".as_bytes());
    let mut takers = Vec::new();
    const TAKERS: usize = 16;
    let per = items / TAKERS;
    for t in 0..TAKERS {
        let cq = cq.clone();
        let n = if t == TAKERS - 1 {
            items - per * (TAKERS - 1)
        } else {
            per
        };
        takers.push(tokio::spawn(async move {
            let mut got = Vec::with_capacity(n);
            for _ in 0..n {
                got.push(cq.take().await.unwrap());
            }
            got
        }));
    }
    let mut seen = HashSet::with_capacity(items);
    let mut duplicates = 0u64;
    for t in takers {
        for item in within(Duration::from_secs(600), t).await.unwrap() {
            let s = String::from_utf8(item.to_vec()).unwrap();
            if !seen.insert(s) {
                duplicates += 1;
            }
        }
    }
    // A put repeated after a connection loss may have queued its item twice,
    // and a take whose delete outcome is unknown skips its item; without
    // connection losses (the normal case) delivery is exactly once.
    let put_stats = q.stats();
    let take_stats = cq.stats();
    assert!(
        duplicates <= put_stats.put_retries,
        "{duplicates} duplicates but only {} put retries",
        put_stats.put_retries
    );
    assert!(
        seen.len() as u64 + take_stats.unknown_takes >= items as u64,
        "{} items lost ({} unknown takes)",
        items - seen.len(),
        take_stats.unknown_takes
    );
    assert!(cq.is_empty().await.unwrap());
    let stats = cq.stats();
    eprintln!(
        "queue backlog: {items} items, put {put_time:?}, consumed in {:?}, {stats:?}",
        started.elapsed() - put_time
    );
    assert_eq!(stats.taken, seen.len() as u64 + duplicates + 1);
    assert!(stats.watches_set <= 2, "watches bounded: {stats:?}");
    assert!(stats.listings <= 4, "listings bounded: {stats:?}");
    let requests = proxy.requests();
    let watches = requests.iter().filter(|o| o.watch).count();
    let listings = requests
        .iter()
        .filter(|o| matches!(o.op, OpCode::GetChildren | OpCode::GetChildren2))
        .count();
    eprintln!(
        "consumer sent {} requests: {watches} watches, {listings} listings",
        requests.len()
    );
    assert!(watches <= 2, "the server saw {watches} watch requests");
    assert!(listings <= 4, "the server saw {listings} listings");
}

/// Pitfall 8b: a consumer blocked on an empty queue survives the expiry of
/// its session.
#[tokio::test]
async fn pitfall8_consumer_survives_session_expiry() {
    let Some(env) = env().await else { return };
    let (proxy, builder) = env.proxied().await;
    let consumer = builder.connect().await.unwrap();
    let producer = env.client().await;
    let q = Queue::new(&consumer, "/q/expiry");
    let taker = {
        let q = q.clone();
        tokio::spawn(async move { q.take().await })
    };
    within(PATIENCE, async {
        while q.stats().watches_set == 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
    env.expire(&proxy, &consumer).await;
    Queue::new(&producer, "/q/expiry")
        .put("after")
        .await
        .unwrap();
    assert_eq!(
        within(PATIENCE, taker).await.unwrap().unwrap(),
        "after".as_bytes()
    );
}

/// Pitfall 8c: with the locking consumer an item whose consumer died before
/// acknowledging it is delivered again; an acknowledged one is not.
#[tokio::test]
async fn pitfall8_locking_consumer_at_least_once() {
    let Some(env) = env().await else { return };
    let (proxy, builder) = env.proxied().await;
    let a = builder.connect().await.unwrap();
    let b = env.client().await;
    let qa = Queue::new(&a, "/q/locked");
    let qb = Queue::new(&b, "/q/locked");
    qa.put("one").await.unwrap();
    qa.put("two").await.unwrap();

    let first = qa.take_locked().await.unwrap();
    assert_eq!(first.data(), "one".as_bytes());
    // B skips the locked item.
    let second = qb.take_locked().await.unwrap();
    assert_eq!(second.data(), "two".as_bytes());
    second.ack().await.unwrap();
    // Nothing unlocked is left: B waits...
    let waiting = {
        let qb = qb.clone();
        tokio::spawn(async move { qb.take_locked().await })
    };
    // ...until A dies holding "one".
    env.expire(&proxy, &a).await;
    let again = within(PATIENCE, waiting).await.unwrap().unwrap();
    assert_eq!(again.data(), "one".as_bytes());
    assert!(first.ack().await.is_err(), "A's lock is gone");
    again.ack().await.unwrap();
    assert!(qb.is_empty().await.unwrap());

    // Release hands the item to the next consumer at once.
    qa.put("three").await.unwrap();
    let t = qa.take_locked().await.unwrap();
    t.release().await.unwrap();
    let t = within(PATIENCE, qb.take_locked()).await.unwrap();
    assert_eq!(t.data(), "three".as_bytes());
    t.ack().await.unwrap();
    // B acknowledged; A may be connected to another member of an ensemble,
    // which can be behind until A syncs (ZooKeeper orders each client's
    // view, not views across clients).
    a.sync("/q/locked").await.unwrap();
    assert!(qa.is_empty().await.unwrap());
}
