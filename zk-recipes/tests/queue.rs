//! Queue (pitfall 8): FIFO and priority order, a large backlog with a
//! bounded number of watches, surviving session expiry, at-least-once
//! delivery with the locking consumer.

mod common;

use common::*;
use std::collections::HashSet;
use std::time::Duration;
use zk_client::proto::OpCode;
use zk_recipes::Queue;
use zk_testserver::proxy::{Fault, Match};

#[tokio::test]
async fn fifo_and_priority_order() {
    let env = env().await;
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
    let env = env().await;
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
    let env = env().await;
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
    let env = env().await;
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
    let env = env().await;
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

/// Issue 16, bug 1: `take_timeout` lost items whose delete was applied
/// after the deadline. The deadline stops waiting, never a removal under
/// way, and a dropped `take` keeps what it removed for the next take.
#[tokio::test]
async fn take_timeout_loses_no_item() {
    let env = env().await;
    let c = env.client().await;
    let q = Queue::new(&c, "/q/timeouts");
    const ITEMS: usize = 200;
    for i in 0..ITEMS {
        q.put(i.to_string()).await.unwrap();
    }
    // The reporter's loop: deadlines of 20–420 µs, about a round trip.
    let mut got = Vec::new();
    let mut i = 0u64;
    while got.len() < ITEMS {
        match q
            .take_timeout(Duration::from_micros(20 + i * 37 % 400))
            .await
        {
            Ok(item) => got.push(String::from_utf8(item.to_vec()).unwrap()),
            Err(zk_recipes::Error::Timeout { .. }) => {
                if q.is_empty().await.unwrap() {
                    break;
                }
            }
            Err(e) => panic!("{e}"),
        }
        i += 1;
    }
    let distinct: HashSet<&String> = got.iter().collect();
    assert_eq!(distinct.len(), got.len(), "no item twice");
    assert_eq!(got.len(), ITEMS, "{} items lost", ITEMS - got.len());
}

/// Bug 1, deterministic: the delete of the item is applied by the server
/// and its reply held past the deadline. `take_timeout` returns that item
/// (after the deadline); a plain `take` dropped at that point leaves it to
/// the next take.
#[tokio::test]
async fn take_dropped_during_its_delete_keeps_the_item() {
    let env = env().await;
    let (proxy, builder) = env.proxied().await;
    let c = builder.connect().await.unwrap();
    let q = Queue::new(&c, "/q/held-delete");
    q.put("a").await.unwrap();
    q.put("b").await.unwrap();

    // take_timeout: the deadline passes while the delete is in flight. The
    // deadline is long enough for the listing and the read before the
    // delete on a loaded machine; the reply is held until it has passed.
    let held = proxy.inject(
        Match::op(OpCode::Delete).path_contains("/q/held-delete/"),
        Fault::HoldReply,
    );
    let timeout = Duration::from_secs(1);
    let started = tokio::time::Instant::now();
    let taking = {
        let q = q.clone();
        tokio::spawn(async move { q.take_timeout(timeout).await })
    };
    within(PATIENCE, held.triggered()).await;
    assert!(
        !taking.is_finished(),
        "the take ended before its delete was answered"
    );
    tokio::time::sleep_until(started + timeout + Duration::from_millis(50)).await;
    held.release();
    let item = within(PATIENCE, taking).await.unwrap().unwrap();
    assert_eq!(item, "a".as_bytes());

    // A take dropped while its delete is in flight.
    let held = proxy.inject(
        Match::op(OpCode::Delete).path_contains("/q/held-delete/"),
        Fault::HoldReply,
    );
    let seen = drop_when_held(q.take(), &held).await;
    assert!(seen.path.unwrap().ends_with("queue-0000000001"));
    held.release();
    // The item was removed from the queue by the dropped take...
    c.sync("/q/held-delete").await.unwrap();
    // ...and the next take on the handle returns it.
    let item = within(PATIENCE, q.try_take()).await.unwrap();
    assert_eq!(item.as_deref(), Some("b".as_bytes()), "the item was lost");
    assert!(q.is_empty().await.unwrap());
}

/// A take abandoned after its delete, on a handle that is then dropped:
/// the item is put back into the queue.
#[tokio::test]
async fn items_of_abandoned_takes_are_put_back_when_the_handle_goes() {
    let env = env().await;
    let (proxy, builder) = env.proxied().await;
    let c = builder.connect().await.unwrap();
    let observer = env.client().await;
    let q = Queue::new(&c, "/q/put-back");
    q.put("x").await.unwrap();
    let held = proxy.inject(
        Match::op(OpCode::Delete).path_contains("/q/put-back/"),
        Fault::HoldReply,
    );
    drop_when_held(q.take(), &held).await;
    drop(q);
    held.release();
    let children = env
        .wait_children(&observer, "/q/put-back", |c| c.len() == 1)
        .await;
    assert_ne!(children[0], "queue-0000000000", "a new node");
    let item = Queue::new(&observer, "/q/put-back").take().await.unwrap();
    assert_eq!(item, "x".as_bytes());
}

/// Issue 16, bug 2: a `take_locked` dropped between creating the item's
/// lock node and reading the item used to strand the item (locked by a live
/// session, with nobody to ack or release it). Now the lock is removed and
/// the item stays takeable — also when the drop comes during the create.
#[tokio::test]
async fn dropped_take_locked_strands_no_item() {
    let env = env().await;
    let (proxy, builder) = env.proxied().await;
    let c = builder.connect().await.unwrap();
    let observer = env.client().await;
    let q = Queue::new(&c, "/q/strand");
    q.put("only").await.unwrap();
    for (op, part) in [
        (OpCode::GetData, "/q/strand/queue-"),
        (OpCode::Create2, "/q/strand-locks/queue-"),
    ] {
        let held = proxy.inject(Match::op(op).path_contains(part), Fault::HoldReply);
        let task = {
            let q = q.clone();
            tokio::spawn(async move { q.take_locked().await })
        };
        held.triggered().await;
        task.abort();
        assert!(task.await.unwrap_err().is_cancelled());
        held.release();
        // The lock node goes (it existed at least while the read was held).
        env.wait_children(&observer, "/q/strand-locks", |c| c.is_empty())
            .await;
        let item = within(Duration::from_secs(5), q.try_take_locked())
            .await
            .unwrap()
            .expect("the item is takeable again");
        assert_eq!(item.data(), "only".as_bytes());
        item.release().await.unwrap();
        env.wait_children(&observer, "/q/strand-locks", |c| c.is_empty())
            .await;
    }
    assert_eq!(q.len().await.unwrap(), 1);
}

/// Issue 16, trap 13 (documented, not removed): consumers of an empty
/// queue all watch its children, so one put wakes every waiting consumer
/// session; one of them takes the item and the others list the queue again
/// and go back to waiting (one watch each). Curator's `DistributedQueue`
/// behaves the same; the cost is a listing per waiting session per put,
/// never a watch per item.
#[tokio::test]
async fn a_put_wakes_every_waiting_consumer_and_one_takes_it() {
    let env = env().await;
    let producer = env.client().await;
    let mut queues = Vec::new();
    let mut takers = Vec::new();
    for _ in 0..3 {
        let q = Queue::new(&env.client().await, "/q/herd");
        let taker = {
            let q = q.clone();
            tokio::spawn(async move { q.take().await })
        };
        queues.push(q);
        takers.push(taker);
    }
    let watches = |queues: &[Queue]| {
        queues
            .iter()
            .map(|q| q.stats().watches_set)
            .collect::<Vec<_>>()
    };
    within(PATIENCE, async {
        while watches(&queues).contains(&0) {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
    Queue::new(&producer, "/q/herd").put("one").await.unwrap();
    // Exactly one consumer gets it...
    let (done, index, rest) = within(PATIENCE, futures::future::select_all(takers)).await;
    assert_eq!(done.unwrap().unwrap(), "one".as_bytes());
    // ...and the others were woken too: each listed the queue again and
    // set a new watch.
    within(PATIENCE, async {
        loop {
            let w = watches(&queues);
            if w.iter().enumerate().all(|(i, w)| i == index || *w >= 2) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
    for t in &rest {
        assert!(!t.is_finished(), "the others wait again");
    }
    for t in rest {
        t.abort();
    }
}
