//! Curator's `DistributedQueue` (also with a lock path), `DistributedPriorityQueue`,
//! `DistributedDelayQueue`, `DistributedIdQueue` and `SimpleDistributedQueue`
//! against zk-recipes' [`Queue`] (and [`Queue::take_locked`]), [`DelayQueue`],
//! [`IdQueue`] and [`SimpleQueue`] (twin: `Queues.java`).

use super::harness::{item, show, Harness, Result};
use bytes::Bytes;
use std::sync::Arc;
use std::time::Duration;
use zk_client::Client;
use zk_recipes::{DelayQueue, IdQueue, Queue, SimpleQueue};

/// Items per directional run.
const ITEMS: usize = 12;

/// The priority of item `i` (lower first), as in Java.
fn priority(i: usize) -> i32 {
    (i * 37 % 7) as i32 - 3
}

/// The delay of item `i` (delay queue): later items are due earlier, so
/// they come out reversed.
fn delay(i: usize) -> Duration {
    Duration::from_millis(300 + (ITEMS - i) as u64 * 40)
}

/// The id item `REMOVED` is removed by before it is taken (id queue).
const REMOVED: usize = 5;

/// What a consumer must see, in order.
fn expected(kind: &str) -> Vec<Vec<u8>> {
    let mut order: Vec<usize> = (0..ITEMS).collect();
    match kind {
        "priority-queue" => order.sort_by_key(|i| priority(*i)), // stable: FIFO within a priority
        "delay-queue" => order.reverse(),
        "id-queue" => order.retain(|i| *i != REMOVED),
        _ => {}
    }
    order.into_iter().map(|i| item("p", i)).collect()
}

/// One of the queue kinds.
enum AnyQueue {
    /// A `Queue`; whether it is a priority queue.
    Curator(Queue, bool),
    /// A `Queue` taken with locks under `<path>-locks` (Curator's
    /// `lockPath`): an item stays until its consumer acknowledges it.
    Locked(Queue),
    Simple(SimpleQueue),
    /// Due times count from the instant (one base for all items, so
    /// their order is fixed).
    Delay(DelayQueue, std::time::SystemTime),
    Ids(IdQueue),
}

impl AnyQueue {
    fn new(c: &Client, kind: &str, path: String) -> AnyQueue {
        match kind {
            "priority-queue" => AnyQueue::Curator(Queue::priority(c, path), true),
            "simple-queue" => AnyQueue::Simple(SimpleQueue::new(c, path)),
            "delay-queue" => {
                AnyQueue::Delay(DelayQueue::new(c, path), std::time::SystemTime::now())
            }
            "id-queue" => AnyQueue::Ids(IdQueue::new(c, path)),
            "locked-queue" => {
                let locks = format!("{path}-locks");
                AnyQueue::Locked(Queue::new(c, path).with_lock_path(locks))
            }
            _ => AnyQueue::Curator(Queue::new(c, path), false),
        }
    }

    /// Puts item `i` (priority, delay and id derived from `i`).
    async fn put(&self, data: Vec<u8>, i: usize) -> Result<()> {
        match self {
            AnyQueue::Curator(q, true) => {
                q.put_with_priority(data, priority(i)).await?;
            }
            AnyQueue::Delay(q, base) => {
                q.put(data, *base + delay(i)).await?;
            }
            AnyQueue::Ids(q) => {
                q.put(data, &format!("id-{i}")).await?;
            }
            AnyQueue::Curator(q, false) | AnyQueue::Locked(q) => {
                q.put(data).await?;
            }
            AnyQueue::Simple(q) => {
                q.offer(data).await?;
            }
        }
        Ok(())
    }

    async fn take(&self) -> Result<Bytes> {
        Ok(match self {
            AnyQueue::Curator(q, _) => q.take().await?,
            AnyQueue::Locked(q) => {
                let item = q.take_locked().await?;
                let data = item.data().clone();
                item.ack().await?;
                data
            }
            AnyQueue::Simple(q) => q.take().await?,
            AnyQueue::Delay(q, _) => q.take().await?,
            AnyQueue::Ids(q) => q.take().await?,
        })
    }
}

/// A queue scenario (`queue`, `locked-queue`, `priority-queue`,
/// `simple-queue`, `delay-queue`, `id-queue`).
pub async fn run(h: &Harness, kind: &str, phase: &str) -> Result<()> {
    let c = h.new_client().await?;
    match phase {
        "layout" => {
            let root = h.layout_root(&c).await?;
            let q = AnyQueue::new(&c, kind, format!("{root}/app/queue"));
            q.put(item("p", 1), 1).await?;
            h.dump(&c, &root).await?;
            let got = tokio::time::timeout(Duration::from_secs(30), q.take()).await??;
            h.check(got.as_ref() == item("p", 1), || {
                "layout item not taken back".into()
            });
            h.dump_after_reaping(&c, &root).await
        }
        "mixed" => mixed(h, &c, kind).await,
        _ if h.role == "producer" => {
            let q = AnyQueue::new(&c, kind, h.path("queue"));
            for i in 0..ITEMS {
                q.put(item("p", i), i).await?;
            }
            if let AnyQueue::Ids(q) = &q {
                let removed = q.remove(&format!("id-{REMOVED}")).await?;
                h.check(removed == 1, || format!("id-{REMOVED} not removed"));
            }
            h.gate(&c, "produced").await?;
            h.gate(&c, "consumed").await
        }
        _ => {
            h.gate(&c, "produced").await?;
            let q = AnyQueue::new(&c, kind, h.path("queue"));
            for (i, want) in expected(kind).iter().enumerate() {
                match tokio::time::timeout(Duration::from_secs(30), q.take()).await {
                    Ok(got) => {
                        let got = got?;
                        h.check(got.as_ref() == want.as_slice(), || {
                            format!(
                                "{kind}: item {i} is {}, expected {}",
                                show(&got),
                                show(want)
                            )
                        });
                    }
                    Err(_) => {
                        h.violation(format!("{kind}: item {i} never arrived"));
                        break;
                    }
                }
            }
            h.gate(&c, "consumed").await
        }
    }
}

/// 4 + 4 producers and consumers; each taken item is logged under
/// `taken/` with its bytes; every item put is taken exactly once.
async fn mixed(h: &Harness, first: &Client, kind: &str) -> Result<()> {
    let total = h.peers * h.contenders * h.rounds;
    h.gate(first, "start").await?;
    let producers = {
        let h = h.clone();
        let kind = kind.to_string();
        tokio::spawn(async move {
            h.herd(|k| {
                let h = h.clone();
                let kind = kind.clone();
                async move {
                    let c = h.new_client().await?;
                    let q = AnyQueue::new(&c, &kind, h.path("queue"));
                    for i in 0..h.rounds {
                        q.put(item(&h.who(k), i), i).await?;
                    }
                    Ok(())
                }
            })
            .await
        })
    };
    let done = Arc::new(tokio::sync::Notify::new());
    let watcher = {
        let (h, c, done) = (h.clone(), first.clone(), done.clone());
        tokio::spawn(async move {
            while h.count(&c, "taken").await.unwrap_or(0) < total {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            done.notify_waiters();
        })
    };
    h.herd(|_| {
        let (h, done) = (h.clone(), done.clone());
        let kind = kind.to_string();
        async move {
            let c = h.new_client().await?;
            let q = AnyQueue::new(&c, &kind, h.path("queue"));
            loop {
                let finished = done.notified();
                tokio::pin!(finished);
                finished.as_mut().enable();
                if h.count(&c, "taken").await? >= total {
                    return Ok(());
                }
                tokio::select! {
                    got = q.take() => h.log_to(&c, "taken", got?.to_vec()).await?,
                    _ = &mut finished => return Ok(()),
                }
            }
        }
    })
    .await;
    producers.await?;
    watcher.abort();
    h.gate(first, "consumed").await?;
    let mut taken = Vec::new();
    for child in first.get_children(&h.path("taken")).await? {
        let (data, _) = first.get_data(&h.path(&format!("taken/{child}"))).await?;
        taken.push(show(&data));
    }
    let mut want = Vec::new();
    for side in ["java", "rust"] {
        for k in 0..h.contenders {
            for i in 0..h.rounds {
                want.push(show(&item(&format!("{side}-{k}"), i)));
            }
        }
    }
    taken.sort();
    want.sort();
    h.check(taken == want, || {
        format!(
            "{kind}: taken items differ from the items put: {} taken, {} put",
            taken.len(),
            want.len()
        )
    });
    Ok(())
}
