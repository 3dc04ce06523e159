//! The cancellation harness (issue 16): every public async fn of
//! zk-recipes is polled N times and then dropped, for N = 1, 2, … until it
//! completes within N polls — once dropping it right after its N-th poll
//! (its requests in flight), once at the wake-up that follows (a reply
//! delivered but not yet read). After each drop the recipe's invariant is
//! checked: no queue item lost or stranded, no znode left behind, nothing
//! held without a guard, and the next call works.
//!
//! The drop points are counted in polls, not in time, so a run does not
//! depend on the machine's speed; background cleanups are awaited on
//! watches. (The client's timers run on tokio's clock and the in-process
//! ensemble serves from its own runtime over real sockets, so a paused
//! clock would let the client time its own session out while it waits for
//! replies: these tests run on the real clock.)

mod common;

use bytes::Bytes;
use common::*;
use futures::task::ArcWake;
use futures::StreamExt;
use std::collections::BTreeSet;
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::sync::Notify;
use zk_client::Client;
use zk_recipes::{
    attempt_revoke, delete_guaranteed, Barrier, ConfigNode, CuratorCache, DelayQueue,
    DistributedAtomicLong, DoubleBarrier, GroupMember, IdQueue, LeaderElection, LeaderLatch, Lock,
    MultiLock, NodeCache, NonBlockingLease, PathChildrenCache, PersistentNode, PromotedToLock,
    ProtectedCreate, ProviderStrategy, Queue, ReadWriteLock, ReentrantLock, Semaphore,
    ServiceDiscovery, ServiceInstance, SetPartitioner, SharedCounter, SharedValue, SimpleQueue,
    TreeCache,
};

/// More polls than any recipe call takes here (a call still pending after
/// this many is reported as a hang).
const MAX_POLLS: usize = 400;

/// Where the future is dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DropAt {
    /// Right after its N-th poll returned `Pending`.
    AfterPoll,
    /// At the wake-up after its N-th poll, before it is polled again.
    AtWake,
}

/// One drop point: after `polls` polls, `at`.
#[derive(Debug, Clone, Copy)]
struct Cut {
    polls: usize,
    at: DropAt,
    /// Tells the iterations' node paths apart.
    run: usize,
}

/// Wakes the harness when the future under test is woken.
struct Woken(Notify);

impl ArcWake for Woken {
    fn wake_by_ref(this: &Arc<Self>) {
        this.0.notify_one();
    }
}

/// How long the harness waits for a future under test to be woken before
/// it drops it where it waits (for an event the scenario does not cause).
const IDLE: Duration = Duration::from_secs(2);

impl Cut {
    /// Polls `fut` up to the drop point and drops it there; its output if
    /// it completed before.
    async fn run<T>(&self, fut: impl Future<Output = T>) -> Option<T> {
        let woken = Arc::new(Woken(Notify::new()));
        let waker = futures::task::waker(woken.clone());
        let mut fut = std::pin::pin!(fut);
        for polls in 1..=self.polls {
            if let Poll::Ready(out) = fut.as_mut().poll(&mut Context::from_waker(&waker)) {
                return Some(out);
            }
            if polls == self.polls && self.at == DropAt::AfterPoll {
                return None;
            }
            // The next step: the wake-up (a reply, a watch, a timer).
            if tokio::time::timeout(IDLE, woken.0.notified())
                .await
                .is_err()
            {
                return None;
            }
        }
        None
    }

    /// A path of its own for this drop point.
    fn path(&self, base: &str) -> String {
        format!("{base}-{}", self.run)
    }
}

static RUNS: AtomicUsize = AtomicUsize::new(0);

/// Runs `scenario` at every drop point of the call it makes: it returns
/// whether the call completed before its drop point.
async fn at_every_drop_point<F, Fut>(what: &str, mut scenario: F)
where
    F: FnMut(Cut) -> Fut,
    Fut: Future<Output = bool>,
{
    let mut points = 0;
    for at in [DropAt::AfterPoll, DropAt::AtWake] {
        for polls in 1.. {
            assert!(
                polls <= MAX_POLLS,
                "{what}: not done after {MAX_POLLS} polls"
            );
            let cut = Cut {
                polls,
                at,
                run: RUNS.fetch_add(1, Ordering::Relaxed),
            };
            let completed = within(PATIENCE, scenario(cut)).await;
            if completed {
                break;
            }
            points += 1;
        }
    }
    eprintln!("{what}: dropped at {points} points, invariant held at each");
}

/// Waits until `dir` has no children (or does not exist): every node a
/// dropped call of `actor` made is gone. A round trip of `actor` first puts
/// the check behind every request the dropped call sent.
async fn no_nodes_left(env: &Env, actor: &Client, observer: &Client, dir: &str) {
    actor.exists("/").await.unwrap();
    env.wait_children(observer, dir, |c| c.is_empty()).await;
}

/// Runs `call` to its drop point, with `unblock` (what the call waits for,
/// such as a holder's release) run once `blocked` says the call waits, or
/// once the call was dropped or completed.
async fn unblocked<T>(
    cut: &Cut,
    call: impl Future<Output = T>,
    blocked: impl Future<Output = ()>,
    unblock: impl Future<Output = ()>,
) -> Option<T> {
    let done = Notify::new();
    let (got, ()) = tokio::join!(
        async {
            let got = cut.run(call).await;
            done.notify_one();
            got
        },
        async {
            tokio::select! {
                () = blocked => {}
                () = done.notified() => {}
            }
            unblock.await;
        }
    );
    got
}

// ----- locks -----

#[tokio::test]
async fn lock() {
    let env = env().await;
    let (c, observer) = (env.client().await, env.client().await);
    let (env, c, observer) = (&env, &c, &observer);

    for contended in [false, true] {
        at_every_drop_point(
            &format!("Lock::acquire (contended: {contended})"),
            |cut| async move {
                let dir = cut.path("/lock/acquire");
                let holder = if contended {
                    Some(Lock::new(observer, &dir).acquire().await.unwrap())
                } else {
                    None
                };
                let held = holder.is_some();
                let watched = dir.clone();
                let blocked = async move {
                    if held {
                        env.wait_children(observer, &watched, |c| c.len() == 2)
                            .await;
                    }
                };
                let unblock = async move {
                    if let Some(h) = holder {
                        h.release().await.unwrap();
                    }
                };
                let lock = Lock::new(c, &dir);
                let got = unblocked(&cut, lock.acquire(), blocked, unblock).await;
                let completed = got.is_some();
                if let Some(guard) = got {
                    guard.unwrap().release().await.unwrap();
                }
                no_nodes_left(env, c, observer, &dir).await;
                let next = Lock::new(observer, &dir).try_acquire().await.unwrap();
                next.expect("the lock is free").release().await.unwrap();
                completed
            },
        )
        .await;
    }

    at_every_drop_point("Lock::try_acquire / acquire_timeout", |cut| async move {
        let dir = cut.path("/lock/try");
        let holder = Lock::new(observer, &dir).acquire().await.unwrap();
        let lock = Lock::new(c, &dir);
        let tried = cut.run(lock.try_acquire()).await;
        let timed = cut
            .run(lock.acquire_timeout(Duration::from_millis(50)))
            .await;
        let completed = tried.is_some() && timed.is_some();
        if let Some(t) = tried {
            assert!(t.unwrap().is_none(), "held by another");
        }
        if let Some(t) = timed {
            assert!(t.is_err(), "held by another");
        }
        c.exists("/").await.unwrap();
        env.wait_children(observer, &dir, |c| c.len() == 1).await;
        holder.release().await.unwrap();
        no_nodes_left(env, c, observer, &dir).await;
        completed
    })
    .await;

    at_every_drop_point(
        "LockGuard::release / Lock::participants",
        |cut| async move {
            let dir = cut.path("/lock/release");
            let lock = Lock::new(c, &dir);
            let guard = lock.acquire().await.unwrap();
            let listed = cut.run(lock.participants()).await;
            if let Some(p) = &listed {
                assert_eq!(p.as_ref().unwrap().len(), 1);
            }
            let released = cut.run(guard.release()).await;
            if let Some(r) = &released {
                r.as_ref().unwrap();
            }
            no_nodes_left(env, c, observer, &dir).await;
            let again = lock.try_acquire().await.unwrap().expect("free again");
            again.release().await.unwrap();
            listed.is_some() && released.is_some()
        },
    )
    .await;
}

#[tokio::test]
async fn read_write_lock() {
    let env = env().await;
    let (c, observer) = (env.client().await, env.client().await);
    let (env, c, observer) = (&env, &c, &observer);

    // Each of read/write under contention from a writer that lets go.
    for write in [false, true] {
        at_every_drop_point(
            &format!("ReadWriteLock::{}", if write { "write" } else { "read" }),
            |cut| async move {
                let dir = cut.path("/rw/acquire");
                let holder = ReadWriteLock::new(observer, &dir).write().await.unwrap();
                let blocked = env.wait_children(observer, &dir, |c| c.len() == 2);
                let unblock = async {
                    holder.release().await.unwrap();
                };
                let rw = ReadWriteLock::new(c, &dir);
                let fut = async {
                    if write {
                        rw.write().await
                    } else {
                        rw.read().await
                    }
                };
                let got = unblocked(
                    &cut,
                    fut,
                    async {
                        blocked.await;
                    },
                    unblock,
                )
                .await;
                let completed = got.is_some();
                if let Some(g) = got {
                    g.unwrap().release().await.unwrap();
                }
                no_nodes_left(env, c, observer, &dir).await;
                completed
            },
        )
        .await;
    }

    at_every_drop_point(
        "ReadWriteLock::try_read / try_write / read_timeout / write_timeout / participants",
        |cut| async move {
            let dir = cut.path("/rw/try");
            let holder = ReadWriteLock::new(observer, &dir).write().await.unwrap();
            let rw = ReadWriteLock::new(c, &dir);
            let short = Duration::from_millis(30);
            let a = cut.run(rw.try_read()).await;
            let b = cut.run(rw.try_write()).await;
            let d = cut.run(rw.read_timeout(short)).await;
            let e = cut.run(rw.write_timeout(short)).await;
            let f = cut.run(rw.participants()).await;
            let completed = a.is_some() && b.is_some() && d.is_some() && e.is_some() && f.is_some();
            assert!(a.is_none_or(|r| r.unwrap().is_none()));
            assert!(b.is_none_or(|r| r.unwrap().is_none()));
            assert!(d.is_none_or(|r| r.is_err()));
            assert!(e.is_none_or(|r| r.is_err()));
            c.exists("/").await.unwrap();
            env.wait_children(observer, &dir, |c| c.len() == 1).await;
            holder.release().await.unwrap();
            no_nodes_left(env, c, observer, &dir).await;
            completed
        },
    )
    .await;

    at_every_drop_point("ReadWriteLock::downgrade", |cut| async move {
        let dir = cut.path("/rw/downgrade");
        let rw = ReadWriteLock::new(c, &dir);
        let w = rw.write().await.unwrap();
        let got = cut.run(rw.downgrade(w)).await;
        let completed = got.is_some();
        if let Some(r) = got {
            let r = r.unwrap();
            // Only the read lock is left, and no writer can get in.
            c.exists("/").await.unwrap();
            env.wait_children(observer, &dir, |c| c.len() == 1).await;
            assert!(ReadWriteLock::new(observer, &dir)
                .try_write()
                .await
                .unwrap()
                .is_none());
            r.release().await.unwrap();
        }
        // Dropped half-way: nothing is held (and nothing left behind).
        no_nodes_left(env, c, observer, &dir).await;
        completed
    })
    .await;
}

#[tokio::test]
async fn semaphore() {
    let env = env().await;
    let (c, observer) = (env.client().await, env.client().await);
    let (env, c, observer) = (&env, &c, &observer);

    at_every_drop_point("Semaphore::acquire (one lease busy)", |cut| async move {
        let path = cut.path("/sem/acquire");
        let other = Semaphore::new(observer, &path, 1).unwrap();
        let holder = other.acquire().await.unwrap();
        let leases = format!("{path}/leases");
        let blocked = async {
            env.wait_children(observer, &leases, |c| c.len() == 2).await;
        };
        let unblock = async {
            holder.release().await.unwrap();
        };
        let sem = Semaphore::new(c, &path, 1).unwrap();
        let got = unblocked(&cut, sem.acquire(), blocked, unblock).await;
        let completed = got.is_some();
        if let Some(lease) = got {
            lease.unwrap().release().await.unwrap();
        }
        no_nodes_left(env, c, observer, &leases).await;
        no_nodes_left(env, c, observer, &format!("{path}/locks")).await;
        other
            .try_acquire()
            .await
            .unwrap()
            .expect("free")
            .release()
            .await
            .unwrap();
        completed
    })
    .await;

    at_every_drop_point(
        "Semaphore::try_acquire / acquire_timeout / acquire_many / participants / Lease::release",
        |cut| async move {
            let path = cut.path("/sem/others");
            let sem = Semaphore::new(c, &path, 2).unwrap();
            let a = cut.run(sem.try_acquire()).await;
            let b = cut.run(sem.acquire_timeout(Duration::from_secs(5))).await;
            let completed_ab = a.is_some() && b.is_some();
            let mut held: Vec<_> = a.into_iter().filter_map(|r| r.unwrap()).collect();
            held.extend(b.map(|r| r.unwrap()));
            let listed = cut.run(sem.participants()).await;
            if let (Some(l), true) = (&listed, completed_ab) {
                assert_eq!(l.as_ref().unwrap().len(), held.len());
            }
            let mut released = true;
            for lease in held {
                released &= cut.run(lease.release()).await.is_some();
            }
            let many = cut.run(sem.acquire_many(2)).await;
            let completed_many = many.is_some();
            if let Some(m) = many {
                for lease in m.unwrap() {
                    lease.release().await.unwrap();
                }
            }
            no_nodes_left(env, c, observer, &format!("{path}/leases")).await;
            no_nodes_left(env, c, observer, &format!("{path}/locks")).await;
            completed_ab && listed.is_some() && released && completed_many
        },
    )
    .await;
}

#[tokio::test]
async fn multi_lock() {
    let env = env().await;
    let (c, observer) = (env.client().await, env.client().await);
    let (env, c, observer) = (&env, &c, &observer);
    at_every_drop_point(
        "MultiLock::acquire / try_acquire / acquire_timeout / MultiLockGuard::release",
        |cut| async move {
            let (a, b) = (cut.path("/multi/a"), cut.path("/multi/b"));
            let multi = MultiLock::new(vec![Lock::new(c, &a), Lock::new(c, &b)]);
            let mut completed = true;
            for step in 0..3 {
                let got = match step {
                    0 => cut.run(multi.acquire()).await.map(|g| Some(g.unwrap())),
                    1 => cut.run(multi.try_acquire()).await.map(|g| g.unwrap()),
                    _ => cut
                        .run(multi.acquire_timeout(Duration::from_secs(5)))
                        .await
                        .map(|g| Some(g.unwrap())),
                };
                match got {
                    Some(guard) => {
                        let guard = guard.expect("free");
                        completed &= cut.run(guard.release()).await.is_some();
                    }
                    None => completed = false,
                }
                no_nodes_left(env, c, observer, &a).await;
                no_nodes_left(env, c, observer, &b).await;
            }
            completed
        },
    )
    .await;
}

// ----- elections -----

#[tokio::test]
async fn leader_latch() {
    let env = env().await;
    let (c, observer) = (env.client().await, env.client().await);
    let (env, c, observer) = (&env, &c, &observer);
    at_every_drop_point(
        "LeaderLatch::joined / await_leadership / await_leadership_timeout / participants / leader",
        |cut| async move {
            let path = cut.path("/latch/waits");
            let latch = LeaderLatch::new(c, &path, "me");
            latch.start();
            let mut completed = cut.run(latch.joined()).await.is_some();
            completed &= cut.run(latch.await_leadership()).await.is_some();
            completed &= cut
                .run(latch.await_leadership_timeout(Duration::from_secs(5)))
                .await
                .is_some();
            completed &= cut.run(latch.participants()).await.is_some();
            completed &= cut.run(latch.leader()).await.is_some();
            // Nothing changed for the latch: it still works.
            within(PATIENCE, latch.await_leadership()).await.unwrap();
            assert_eq!(latch.participants().await.unwrap().len(), 1);
            latch.close().await.unwrap();
            no_nodes_left(env, c, observer, &path).await;
            completed
        },
    )
    .await;

    at_every_drop_point("LeaderLatch::close", |cut| async move {
        let path = cut.path("/latch/close");
        let latch = LeaderLatch::new(c, &path, "me");
        latch.start();
        latch.await_leadership().await.unwrap();
        let completed = cut.run(latch.close()).await.is_some();
        assert!(!latch.is_leader());
        no_nodes_left(env, c, observer, &path).await;
        let next = LeaderLatch::new(observer, &path, "next");
        next.start();
        within(PATIENCE, next.await_leadership()).await.unwrap();
        next.close().await.unwrap();
        completed
    })
    .await;
}

#[tokio::test]
async fn leader_election() {
    let env = env().await;
    let (c, observer) = (env.client().await, env.client().await);
    let (env, c, observer) = (&env, &c, &observer);
    at_every_drop_point(
        "ElectionHandle::stop / Leadership::lost",
        |cut| async move {
            let path = cut.path("/election");
            let (lost_tx, lost_rx) = tokio::sync::oneshot::channel();
            let lost_tx = std::sync::Mutex::new(Some(lost_tx));
            let handle = LeaderElection::new(c, &path).run(move |leadership| {
                let tx = lost_tx.lock().unwrap().take();
                async move {
                    if let Some(tx) = tx {
                        let _ = tx.send(leadership);
                    }
                    std::future::pending::<()>().await
                }
            });
            let leadership = within(PATIENCE, lost_rx).await.unwrap();
            // The lost() future of a term, dropped while it waits: harmless.
            let mut lost = Box::pin(leadership.lost());
            assert!(futures::poll!(lost.as_mut()).is_pending(), "still leading");
            drop(lost);
            let completed = cut.run(handle.stop()).await.is_some();
            no_nodes_left(env, c, observer, &path).await;
            completed
        },
    )
    .await;
}

// ----- queue -----

/// Takes everything left (items a dropped take kept first), then checks
/// that `expected` items were delivered exactly once in all.
async fn drain(q: &Queue, mut delivered: Vec<String>, expected: &BTreeSet<String>) {
    while let Some(item) = q.try_take().await.unwrap() {
        delivered.push(String::from_utf8(item.to_vec()).unwrap());
    }
    let distinct: BTreeSet<String> = delivered.iter().cloned().collect();
    assert_eq!(
        distinct.len(),
        delivered.len(),
        "delivered twice: {delivered:?}"
    );
    assert_eq!(&distinct, expected, "items lost");
    assert!(q.is_empty().await.unwrap());
}

#[tokio::test]
async fn queue() {
    let env = env().await;
    let (c, observer) = (env.client().await, env.client().await);
    let (env, c, observer) = (&env, &c, &observer);
    let items = |n: usize| -> BTreeSet<String> { (0..n).map(|i| format!("item-{i}")).collect() };

    at_every_drop_point("Queue::take / try_take / take_timeout", |cut| async move {
        let q = Queue::new(c, cut.path("/queue/take"));
        for i in items(3) {
            q.put(i).await.unwrap();
        }
        let mut delivered = Vec::new();
        let mut completed = true;
        for step in 0..3 {
            let got = match step {
                0 => cut.run(q.take()).await.map(Result::unwrap),
                1 => cut.run(q.try_take()).await.map(|t| t.unwrap().unwrap()),
                _ => cut
                    .run(q.take_timeout(Duration::from_secs(5)))
                    .await
                    .map(Result::unwrap),
            };
            match got {
                Some(item) => delivered.push(String::from_utf8(item.to_vec()).unwrap()),
                None => completed = false,
            }
        }
        drain(&q, delivered, &items(3)).await;
        completed
    })
    .await;

    at_every_drop_point(
        "Queue::take (waiting on an empty queue)",
        |cut| async move {
            let path = cut.path("/queue/wait");
            let q = Queue::new(c, &path);
            let producer = Queue::new(observer, &path);
            let put_later = async {
                tokio::task::yield_now().await;
                producer.put("late").await.unwrap();
            };
            let (got, ()) = tokio::join!(cut.run(q.take()), put_later);
            let delivered: Vec<String> = got
                .map(|g| String::from_utf8(g.unwrap().to_vec()).unwrap())
                .into_iter()
                .collect();
            let completed = !delivered.is_empty();
            // The producer wrote through another session (on an ensemble,
            // maybe another member): sync before reading what is left.
            c.sync(&path).await.unwrap();
            drain(&q, delivered, &["late".to_string()].into()).await;
            completed
        },
    )
    .await;

    at_every_drop_point(
        "Queue::put / put_with_priority / len / is_empty",
        |cut| async move {
            let path = cut.path("/queue/put");
            let q = Queue::priority(c, &path);
            let a = cut.run(q.put("a")).await;
            let b = cut.run(q.put_with_priority("b", -1)).await;
            let n = cut.run(q.len()).await;
            let e = cut.run(q.is_empty()).await;
            // Once polled, a put is applied: both items arrive, once each.
            env.wait_children(observer, &path, |c| c.len() == 2).await;
            drain(&q, Vec::new(), &["a".to_string(), "b".to_string()].into()).await;
            a.is_some() && b.is_some() && n.is_some() && e.is_some()
        },
    )
    .await;

    at_every_drop_point("Queue::take_locked / try_take_locked", |cut| async move {
        let path = cut.path("/queue/locked");
        let locks = format!("{path}-locks");
        let q = Queue::new(c, &path);
        q.put("x").await.unwrap();
        // The lock directory exists from here on, so "no lock left" is
        // "the directory is empty".
        q.take_locked().await.unwrap().release().await.unwrap();
        let mut completed = true;
        for blocking in [true, false] {
            let got = if blocking {
                cut.run(q.take_locked()).await.map(|i| Some(i.unwrap()))
            } else {
                cut.run(q.try_take_locked()).await.map(Result::unwrap)
            };
            match got {
                Some(item) => item.expect("unlocked").release().await.unwrap(),
                None => completed = false,
            }
            // No lock left: the item is takeable by anyone.
            no_nodes_left(env, c, observer, &locks).await;
        }
        let item = Queue::new(observer, &path)
            .try_take_locked()
            .await
            .unwrap()
            .expect("takeable");
        item.ack().await.unwrap();
        completed
    })
    .await;

    at_every_drop_point("QueueItem::ack / QueueItem::release", |cut| async move {
        let path = cut.path("/queue/ack");
        let locks = format!("{path}-locks");
        let q = Queue::new(c, &path);
        q.put("y").await.unwrap();
        let item = q.take_locked().await.unwrap();
        let released = cut.run(item.release()).await.is_some();
        no_nodes_left(env, c, observer, &locks).await;
        let item = q.take_locked().await.unwrap();
        let acked = cut.run(item.ack()).await;
        if let Some(a) = &acked {
            a.as_ref().unwrap();
        }
        // Acked (gone), or unlocked and delivered again: never stranded.
        no_nodes_left(env, c, observer, &locks).await;
        if acked.is_none() {
            if let Some(again) = q.try_take_locked().await.unwrap() {
                again.ack().await.unwrap();
            }
        }
        assert!(q.is_empty().await.unwrap());
        released && acked.is_some()
    })
    .await;
}

// ----- barriers -----

#[tokio::test]
async fn barrier() {
    let env = env().await;
    let (c, observer) = (env.client().await, env.client().await);
    let (c, observer) = (&c, &observer);
    at_every_drop_point(
        "Barrier::set / is_set / wait / wait_timeout / remove",
        |cut| async move {
            let path = cut.path("/barrier");
            let b = Barrier::new(c, &path);
            let other = Barrier::new(observer, &path);
            let set = cut.run(b.set()).await;
            // Idempotent: set again, whatever the dropped call did.
            b.set().await.unwrap();
            let is_set = cut.run(b.is_set()).await;
            assert!(is_set.as_ref().is_none_or(|s| *s.as_ref().unwrap()));
            let timed = cut.run(b.wait_timeout(Duration::from_millis(20))).await;
            assert!(timed.as_ref().is_none_or(|t| !t.as_ref().unwrap()));
            let remove_later = async {
                tokio::task::yield_now().await;
                other.remove().await.unwrap();
            };
            let (waited, ()) = tokio::join!(cut.run(b.wait()), remove_later);
            b.set().await.unwrap();
            let removed = cut.run(b.remove()).await;
            b.remove().await.unwrap();
            assert!(!b.is_set().await.unwrap());
            within(PATIENCE, b.wait()).await.unwrap();
            set.is_some()
                && is_set.is_some()
                && timed.is_some()
                && waited.is_some()
                && removed.is_some()
        },
    )
    .await;
}

#[tokio::test]
async fn double_barrier() {
    let env = env().await;
    let (c, observer) = (env.client().await, env.client().await);
    let (env, c, observer) = (&env, &c, &observer);
    at_every_drop_point("DoubleBarrier::enter", |cut| async move {
        let path = cut.path("/double/enter");
        let me = DoubleBarrier::new(c, &path, 2);
        let other = DoubleBarrier::new(observer, &path, 2);
        // If `me` is dropped, a third member completes the group instead.
        let third = DoubleBarrier::new(observer, &path, 2);
        let (mine, theirs) = tokio::join!(
            async {
                let mine = cut.run(me.enter()).await;
                if mine.is_none() {
                    third.enter().await.unwrap();
                }
                mine
            },
            other.enter()
        );
        theirs.unwrap();
        let completed = mine.is_some();
        let mine_left = async {
            match mine {
                Some(entered) => {
                    entered.unwrap();
                    me.leave().await.unwrap();
                }
                None => third.leave().await.unwrap(),
            }
        };
        let (left, ()) = tokio::join!(other.leave(), mine_left);
        left.unwrap();
        // A dropped enter left no member node behind.
        env.wait_children(observer, &path, |c| c.iter().all(|n| n == "ready"))
            .await;
        completed
    })
    .await;

    at_every_drop_point("DoubleBarrier::enter_timeout", |cut| async move {
        let path = cut.path("/double/timeout");
        let me = DoubleBarrier::new(c, &path, 2);
        let timed = cut.run(me.enter_timeout(Duration::from_millis(20))).await;
        assert!(timed.as_ref().is_none_or(|t| !t.as_ref().unwrap()));
        no_nodes_left(env, c, observer, &path).await;
        timed.is_some()
    })
    .await;

    at_every_drop_point("DoubleBarrier::leave", |cut| async move {
        let path = cut.path("/double/leave");
        let (a, b) = (
            DoubleBarrier::new(c, &path, 2),
            DoubleBarrier::new(observer, &path, 2),
        );
        let (ra, rb) = tokio::join!(a.enter(), b.enter());
        ra.unwrap();
        rb.unwrap();
        let (left, rb) = tokio::join!(cut.run(a.leave()), b.leave());
        rb.unwrap();
        let completed = left.is_some();
        if let Some(l) = left {
            l.unwrap();
        }
        // Dropped or not, `a` has left: its node is gone, so `b` got out.
        env.wait_children(observer, &path, |c| c.iter().all(|n| n == "ready"))
            .await;
        completed
    })
    .await;
}

// ----- data -----

#[derive(serde::Serialize, serde::Deserialize, Clone, Debug, PartialEq)]
struct Limits {
    max: u32,
}

#[tokio::test]
async fn config_node() {
    let env = env().await;
    let c = env.client().await;
    let c = &c;
    at_every_drop_point(
        "ConfigNode::start / read / set / compare_and_set / update",
        |cut| async move {
            let path = cut.path("/config");
            let started = cut.run(ConfigNode::<Limits>::start(c, &path)).await;
            let config = ConfigNode::<Limits>::start(c, &path).await.unwrap();
            let read = cut.run(config.read()).await;
            let set = cut.run(config.set(&Limits { max: 1 })).await;
            // A dropped set may or may not have applied; the next one does.
            let v1 = config.set(&Limits { max: 1 }).await.unwrap();
            let cas = cut
                .run(config.compare_and_set(&Limits { max: 2 }, Some(v1)))
                .await;
            let now = config.read().await.unwrap().unwrap();
            // Applied at most once: either still 1 at v1, or 2 at v1 + 1.
            assert!(
                (now.value.max == 1 && now.version == v1)
                    || (now.value.max == 2 && now.version == v1 + 1),
                "{now:?}"
            );
            let updated = cut
                .run(config.update(|old| Limits {
                    max: old.map_or(0, |o| o.max) + 10,
                }))
                .await;
            let after = config.read().await.unwrap().unwrap();
            assert!(
                after.value.max == now.value.max
                    || (after.value.max == now.value.max + 10 && after.version == now.version + 1),
                "update applied at most once: {now:?} then {after:?}"
            );
            started.is_some()
                && read.is_some()
                && set.is_some()
                && cas.is_some()
                && updated.is_some()
        },
    )
    .await;
}

#[tokio::test]
async fn shared_value() {
    let env = env().await;
    let c = env.client().await;
    let c = &c;
    at_every_drop_point(
        "SharedValue::get / set / try_set / watch",
        |cut| async move {
            let value = SharedValue::new(c, cut.path("/value"), "seed");
            let got = cut.run(value.get()).await;
            assert_eq!(value.get().await.unwrap().value.as_ref(), b"seed");
            let set = cut.run(value.set("a")).await;
            value.set("a").await.unwrap();
            let v = value.get().await.unwrap();
            let tried = cut.run(value.try_set("b", v.version)).await;
            let now = value.get().await.unwrap().value;
            assert!(now.as_ref() == b"a" || now.as_ref() == b"b", "{now:?}");
            let watched = cut.run(value.watch()).await;
            // The next watch works.
            let mut stream = Box::pin(value.watch().await.unwrap());
            assert_eq!(stream.next().await.unwrap().unwrap(), now);
            got.is_some() && set.is_some() && tried.is_some() && watched.is_some()
        },
    )
    .await;
}

#[tokio::test]
async fn shared_counter() {
    let env = env().await;
    let c = env.client().await;
    let c = &c;
    at_every_drop_point(
        "SharedCounter::get / set / try_set / add / watch",
        |cut| async move {
            let path = cut.path("/counter");
            let counter = SharedCounter::new(c, &path, 5);
            let got = cut.run(counter.get()).await;
            let before = counter.get().await.unwrap();
            assert_eq!(before.value, 5);
            let set = cut.run(counter.set(7)).await;
            counter.set(7).await.unwrap();
            let v = counter.get().await.unwrap();
            let tried = cut.run(counter.try_set(8, v.version)).await;
            let base = counter.get().await.unwrap().value;
            assert!(base == 7 || base == 8, "{base}");
            let added = cut.run(counter.add(100)).await;
            let after = counter.get().await.unwrap().value;
            assert!(
                after == base || after == base + 100,
                "add applied at most once: {base} then {after}"
            );
            let watched = cut.run(counter.watch()).await;
            if let Some(w) = watched.as_ref() {
                assert!(w.is_ok());
            }
            // The next watch works.
            let mut stream = Box::pin(counter.watch().await.unwrap());
            assert_eq!(stream.next().await.unwrap().unwrap(), after);
            got.is_some()
                && set.is_some()
                && tried.is_some()
                && added.is_some()
                && watched.is_some()
        },
    )
    .await;
}

#[tokio::test]
async fn caches_and_group() {
    let env = env().await;
    let (c, observer) = (env.client().await, env.client().await);
    let (env, c, observer) = (&env, &c, &observer);
    at_every_drop_point("NodeCache::start / TreeCache::start", |cut| async move {
        let path = cut.path("/cache");
        let node = cut.run(NodeCache::start(c, &path)).await;
        let tree = cut.run(TreeCache::start(c, &path)).await;
        // Nothing is created; the next start works.
        assert!(c.exists(&path).await.unwrap().is_none());
        let cache = NodeCache::start(c, &path).await.unwrap();
        assert!(cache.current().is_none());
        node.is_some() && tree.is_some()
    })
    .await;

    at_every_drop_point(
        "GroupMember::start / set_payload / members / watch_members / close",
        |cut| async move {
            let path = cut.path("/group");
            let member = GroupMember::new(c, &path, "m", "p0");
            let started = cut.run(member.start()).await;
            // Once polled, start joins all the same.
            env.wait_children(observer, &path, |c| c.len() == 1).await;
            let payload = cut.run(member.set_payload("p1")).await;
            member.set_payload("p1").await.unwrap();
            let members = cut.run(member.members()).await;
            let watched = cut.run(member.watch_members()).await;
            assert_eq!(
                member.members().await.unwrap().get("m").map(|p| p.to_vec()),
                Some(b"p1".to_vec())
            );
            let closed = cut.run(member.close()).await;
            // Once polled, close leaves all the same.
            no_nodes_left(env, c, observer, &path).await;
            drop(watched);
            started.is_some() && payload.is_some() && members.is_some() && closed.is_some()
        },
    )
    .await;
}

#[tokio::test]
async fn service_discovery() {
    let env = env().await;
    let (c, observer) = (env.client().await, env.client().await);
    let (env, c, observer) = (&env, &c, &observer);
    at_every_drop_point(
        "ServiceDiscovery::register / update / instances / instance / names / cache / provider / unregister",
        |cut| async move {
            let base = cut.path("/services");
            let discovery = ServiceDiscovery::new(c, &base);
            let instance = ServiceInstance::new("api").with_id("i1");
            let registered = cut.run(discovery.register(&instance)).await;
            // Registering again is harmless, whatever the dropped call did.
            discovery.register(&instance).await.unwrap();
            let updated = cut.run(discovery.update(&instance)).await;
            let listed = cut.run(discovery.instances("api")).await;
            let one = cut.run(discovery.instance("api", "i1")).await;
            let names = cut.run(discovery.names()).await;
            let cache = cut.run(discovery.cache("api")).await;
            let provider = cut.run(discovery.provider("api", ProviderStrategy::RoundRobin)).await;
            assert_eq!(discovery.instances("api").await.unwrap().len(), 1);
            let unregistered = cut.run(discovery.unregister(&instance)).await;
            discovery.unregister(&instance).await.unwrap();
            no_nodes_left(env, c, observer, &format!("{base}/api")).await;
            drop((cache, provider));
            registered.is_some()
                && updated.is_some()
                && listed.is_some()
                && one.is_some()
                && names.is_some()
                && unregistered.is_some()
        },
    )
    .await;
}

// ----- under the fault proxy -----

/// The same drops, each followed at once by a dropped connection: the work
/// a dropped call left to the background (a cleanup, a removal, an unlock)
/// must cope with the connection loss. A take whose delete's outcome the
/// connection loss hid is skipped and counted (`unknown_takes`: the one
/// case where a plain take is at most once); nothing else may be lost.
#[tokio::test]
async fn under_connection_drops() {
    let env = env().await;
    let (proxy, builder) = env.proxied().await;
    let c = builder.connect().await.unwrap();
    let observer = env.client().await;
    let (env, c, observer, proxy) = (&env, &c, &observer, &proxy);
    let reconnected = || async {
        connected(c).await;
        c.exists("/").await.unwrap();
    };

    at_every_drop_point(
        "Lock::acquire, connection dropped after",
        |cut| async move {
            let dir = cut.path("/faulty/lock");
            let lock = Lock::new(c, &dir);
            let got = cut.run(lock.acquire()).await;
            proxy.drop_connections();
            reconnected().await;
            let completed = got.is_some();
            if let Some(g) = got {
                // Released (or lost with the connection: then released anyway).
                let _ = g.unwrap().release().await;
            }
            no_nodes_left(env, c, observer, &dir).await;
            completed
        },
    )
    .await;

    at_every_drop_point("Queue::take, connection dropped after", |cut| async move {
        let q = Queue::new(c, cut.path("/faulty/take"));
        for i in 0..2 {
            q.put(format!("item-{i}")).await.unwrap();
        }
        let got = cut.run(q.take()).await;
        proxy.drop_connections();
        reconnected().await;
        let completed = got.is_some();
        let mut delivered: Vec<String> = got
            .map(|g| String::from_utf8(g.unwrap().to_vec()).unwrap())
            .into_iter()
            .collect();
        while let Some(item) = q.try_take().await.unwrap() {
            delivered.push(String::from_utf8(item.to_vec()).unwrap());
        }
        let distinct: BTreeSet<&String> = delivered.iter().collect();
        assert_eq!(distinct.len(), delivered.len(), "delivered twice");
        assert_eq!(
            delivered.len() as u64 + q.stats().unknown_takes,
            2,
            "lost: {delivered:?}, {:?}",
            q.stats()
        );
        assert!(q.is_empty().await.unwrap());
        completed
    })
    .await;

    at_every_drop_point(
        "Queue::take_locked, connection dropped after",
        |cut| async move {
            let path = cut.path("/faulty/locked");
            let q = Queue::new(c, &path);
            q.put("x").await.unwrap();
            q.take_locked().await.unwrap().release().await.unwrap();
            let got = cut.run(q.take_locked()).await;
            proxy.drop_connections();
            reconnected().await;
            let completed = got.is_some();
            if let Some(item) = got {
                item.unwrap().release().await.unwrap();
            }
            // A create retried after the reconnect may still land: the
            // item becomes takeable once the background work unlocks it.
            let item = within(PATIENCE, Queue::new(observer, &path).take_locked())
                .await
                .unwrap();
            item.ack().await.unwrap();
            no_nodes_left(env, c, observer, &format!("{path}-locks")).await;
            completed
        },
    )
    .await;

    at_every_drop_point(
        "LeaderLatch::close, connection dropped after",
        |cut| async move {
            let path = cut.path("/faulty/latch");
            let latch = LeaderLatch::new(c, &path, "me");
            latch.start();
            latch.await_leadership().await.unwrap();
            let completed = cut.run(latch.close()).await.is_some();
            proxy.drop_connections();
            reconnected().await;
            no_nodes_left(env, c, observer, &path).await;
            completed
        },
    )
    .await;
}

// ----- the interop suite's recipes (Curator and kazoo twins) -----

#[tokio::test]
async fn atomic_long() {
    let env = env().await;
    let (c, observer) = (env.client().await, env.client().await);
    let (env, c, observer) = (&env, &c, &observer);
    at_every_drop_point(
        "DistributedAtomicLong::add / try_set / compare_and_set / force_set / initialize",
        |cut| async move {
            let path = cut.path("/atomic/n");
            let lock = cut.path("/atomic/lock");
            let n = DistributedAtomicLong::new(c, &path)
                .optimistic_tries(1)
                .promoted_to_lock(PromotedToLock::new(&lock, PATIENCE));
            n.initialize(10).await.unwrap();
            let added = cut.run(n.add(5)).await;
            let v = n.get().await.unwrap();
            assert!(v == 10 || v == 15, "add applied at most once: {v}");
            let set = cut.run(n.try_set(100)).await;
            let v = n.get().await.unwrap();
            assert!(v == 100 || set.is_none(), "{v}");
            n.force_set(1).await.unwrap();
            let cas = cut.run(n.compare_and_set(1, 2)).await;
            let v = n.get().await.unwrap();
            assert!(v == 1 || v == 2, "{v}");
            let forced = cut.run(n.force_set(7)).await;
            let init = cut.run(n.initialize(3)).await;
            if let Some(i) = &init {
                assert!(!i.as_ref().unwrap(), "exists");
            }
            // Nothing of a dropped promotion is left; the next change works.
            no_nodes_left(env, c, observer, &lock).await;
            assert!(n.increment().await.unwrap().succeeded);
            added.is_some() && set.is_some() && cas.is_some() && forced.is_some() && init.is_some()
        },
    )
    .await;
}

/// Delivered items never repeat, and an item goes missing only for a
/// take or poll dropped while its delete was in flight (as documented).
fn check_drained(delivered: &[Bytes], at_least_queued: usize, dropped_takes: usize) {
    let unique: BTreeSet<&Bytes> = delivered.iter().collect();
    assert_eq!(
        unique.len(),
        delivered.len(),
        "no item twice: {delivered:?}"
    );
    assert!(
        delivered.len() + dropped_takes >= at_least_queued,
        "lost only by dropped takes: {delivered:?}, {dropped_takes} dropped"
    );
}

#[tokio::test]
async fn simple_delay_and_id_queues() {
    let env = env().await;
    let c = env.client().await;
    let c = &c;
    at_every_drop_point(
        "SimpleQueue / DelayQueue / IdQueue put, poll, take",
        |cut| async move {
            let simple = SimpleQueue::new(c, cut.path("/sq"));
            let delay = DelayQueue::new(c, cut.path("/dq"));
            let ids = IdQueue::new(c, cut.path("/iq"));
            let offered = cut.run(simple.offer("s0")).await;
            simple.offer("s1").await.unwrap();
            let put = cut.run(delay.put_after("d0", Duration::ZERO)).await;
            delay.put_after("d1", Duration::ZERO).await.unwrap();
            let id_put = cut.run(ids.put("i0", "a")).await;
            ids.put("i1", "b").await.unwrap();
            let removed = cut.run(ids.remove("b")).await;
            let mut completed = offered.is_some() && put.is_some() && id_put.is_some();
            completed &= removed.is_some();
            for (kind, polled, took, rest) in [
                (
                    "simple",
                    cut.run(simple.poll()).await,
                    cut.run(simple.take()).await,
                    {
                        let mut rest = Vec::new();
                        while let Some(i) = simple.poll().await.unwrap() {
                            rest.push(i);
                        }
                        rest
                    },
                ),
                (
                    "delay",
                    cut.run(delay.poll()).await,
                    cut.run(delay.take()).await,
                    {
                        let mut rest = Vec::new();
                        while let Some(i) = delay.poll().await.unwrap() {
                            rest.push(i);
                        }
                        rest
                    },
                ),
            ] {
                let mut delivered: Vec<Bytes> = rest;
                let mut dropped = 0;
                if let Some(p) = polled {
                    delivered.extend(p.unwrap());
                } else {
                    dropped += 1;
                }
                if let Some(t) = took {
                    delivered.push(t.unwrap());
                } else {
                    dropped += 1;
                }
                completed &= dropped == 0;
                // A dropped put may or may not have queued its item.
                let first_put_done = if kind == "simple" {
                    offered.is_some()
                } else {
                    put.is_some()
                };
                check_drained(&delivered, if first_put_done { 2 } else { 1 }, dropped);
            }
            let taken = cut.run(ids.take()).await;
            completed &= taken.is_some();
            // The next put and take work.
            simple.offer("next").await.unwrap();
            assert_eq!(simple.take().await.unwrap().as_ref(), b"next");
            completed
        },
    )
    .await;
}

#[tokio::test]
async fn reentrant_lock_and_revocation() {
    let env = env().await;
    let (c, observer) = (env.client().await, env.client().await);
    let (env, c, observer) = (&env, &c, &observer);
    at_every_drop_point(
        "ReentrantLock::acquire / ReentrantGuard::release / attempt_revoke",
        |cut| async move {
            let dir = cut.path("/reentrant");
            let owner = ReentrantLock::new(c, &dir);
            let first = cut.run(owner.acquire()).await;
            let again = cut.run(owner.acquire()).await;
            let revoked = match &first {
                Some(Ok(g)) => cut
                    .run(attempt_revoke(observer, g.node_path()))
                    .await
                    .is_some(),
                _ => true,
            };
            let completed = first.is_some() && again.is_some() && revoked;
            for g in [first, again].into_iter().flatten() {
                let released = cut.run(g.unwrap().release()).await;
                let _ = released;
            }
            no_nodes_left(env, c, observer, &dir).await;
            let next = ReentrantLock::new(observer, &dir).acquire().await.unwrap();
            next.release().await.unwrap();
            completed
        },
    )
    .await;
}

#[tokio::test]
async fn lease_and_protected_create() {
    let env = env().await;
    let (c, observer) = (env.client().await, env.client().await);
    let (env, c, observer) = (&env, &c, &observer);
    at_every_drop_point(
        "NonBlockingLease::obtain / ProtectedCreate::run / delete_guaranteed",
        |cut| async move {
            let path = cut.path("/lease");
            let hour = Duration::from_secs(3600);
            let got = cut
                .run(NonBlockingLease::obtain(c, &path, hour, "me"))
                .await;
            // No lock node left behind; the lease is free or ours.
            c.exists("/").await.unwrap();
            env.wait_children(observer, &path, |c| c.iter().all(|n| n == "lease_holder"))
                .await;
            assert!(NonBlockingLease::obtain(c, &path, hour, "me")
                .await
                .unwrap());
            let create = ProtectedCreate::new(&cut.path("/own/node"));
            let made = cut
                .run(create.run(c, "x", zk_client::CreateMode::Ephemeral))
                .await;
            let (node, _) = create
                .run(c, "x", zk_client::CreateMode::Ephemeral)
                .await
                .unwrap();
            let deleted = cut.run(delete_guaranteed(c, &node, None)).await;
            delete_guaranteed(c, &node, None).await.unwrap();
            no_nodes_left(env, c, observer, &cut.path("/own")).await;
            got.is_some() && made.is_some() && deleted.is_some()
        },
    )
    .await;
}

#[tokio::test]
async fn persistent_node_and_caches() {
    let env = env().await;
    let (c, observer) = (env.client().await, env.client().await);
    let (env, c, observer) = (&env, &c, &observer);
    at_every_drop_point(
        "PersistentNode::set_data / close / wait_for_initial_create, PathChildrenCache / CuratorCache::start",
        |cut| async move {
            let dir = cut.path("/pn");
            let node = PersistentNode::new(c, format!("{dir}/n"), zk_client::CreateMode::Ephemeral, "a");
            node.start();
            let waited = cut.run(node.wait_for_initial_create(PATIENCE)).await;
            node.wait_for_initial_create(PATIENCE).await.unwrap();
            let set = cut.run(node.set_data("b")).await;
            let children = cut.run(PathChildrenCache::start(c, &dir)).await;
            let tree = cut.run(CuratorCache::start(c, &dir)).await;
            let closed = cut.run(node.close()).await;
            node.close().await.unwrap();
            no_nodes_left(env, c, observer, &dir).await;
            // Caches start afresh.
            let fresh = PathChildrenCache::start(c, &dir).await.unwrap();
            assert!(fresh.current().is_empty());
            waited.is_some() && set.is_some() && children.is_some() && tree.is_some() && closed.is_some()
        },
    )
    .await;
}

/// The calls no scenario above makes: the atomic value's thin wrappers,
/// kazoo's multi-lease and partitioner, `ProtectedCreate::find`,
/// `SimpleQueue::peek`, the one-shot `CuratorCache` and its event reader.
#[tokio::test]
async fn remaining_calls() {
    let env = env().await;
    let (c, observer) = (env.client().await, env.client().await);
    let (env, c, observer) = (&env, &c, &observer);
    at_every_drop_point(
        "DistributedAtomicLong::subtract / decrement, NonBlockingLease::obtain_any, \
         ProtectedCreate::find, SimpleQueue::peek, CuratorCache::start_one_shot, TreeEvents::recv, \
         SetPartitioner::wait_for_acquire / release_set / finish",
        |cut| async move {
            let n = DistributedAtomicLong::new(c, cut.path("/rest/n"));
            n.initialize(10).await.unwrap();
            let subtracted = cut.run(n.subtract(3)).await;
            let decremented = cut.run(n.decrement()).await;
            let v = n.get().await.unwrap();
            assert!([6, 7, 9, 10].contains(&v), "each applied at most once: {v}");

            let leases = cut.path("/rest/leases");
            let hour = Duration::from_secs(3600);
            let any = cut
                .run(NonBlockingLease::obtain_any(c, &leases, 2, hour, "me"))
                .await;
            let again = NonBlockingLease::obtain_any(c, &leases, 2, hour, "me");
            assert!(again.await.unwrap().is_some(), "a lease is free or ours");

            let create = ProtectedCreate::new(&cut.path("/rest/own/node"));
            let (node, _) = create
                .run(c, "x", zk_client::CreateMode::Ephemeral)
                .await
                .unwrap();
            let found = cut.run(create.find(c)).await;
            let again = create.find(c).await.unwrap().map(|(path, _)| path);
            assert_eq!(again.as_deref(), Some(node.as_str()));
            c.delete(&node, None).await.unwrap();

            let q = SimpleQueue::new(c, cut.path("/rest/q"));
            q.offer("head").await.unwrap();
            let peeked = cut.run(q.peek()).await;
            assert_eq!(q.poll().await.unwrap().as_deref(), Some(&b"head"[..]));

            let dir = cut.path("/rest/tree");
            let started = cut.run(CuratorCache::start_one_shot(c, &dir)).await;
            let cache = CuratorCache::start_one_shot(c, &dir).await.unwrap();
            let mut events = cache.events();
            c.create_all(&format!("{dir}/x"), "", zk_client::CreateMode::Persistent)
                .await
                .unwrap();
            let received = cut.run(events.recv()).await;
            if received.is_none() {
                // Not taken by the dropped call: still there for the next.
                assert!(within(PATIENCE, events.recv()).await.is_some());
            }

            let part = cut.path("/rest/part");
            let p = SetPartitioner::start(c, &part, vec!["a".into(), "b".into()], "w1")
                .unwrap()
                .with_time_boundary(Duration::from_millis(10));
            let acquired = cut.run(p.wait_for_acquire()).await;
            assert_eq!(
                within(PATIENCE, p.wait_for_acquire()).await.unwrap().len(),
                2
            );
            let released = cut.run(p.release_set()).await;
            let finished = cut.run(p.finish()).await;
            p.finish().await.unwrap();
            no_nodes_left(env, c, observer, &format!("{part}/party")).await;

            [
                subtracted.is_some(),
                decremented.is_some(),
                any.is_some(),
                found.is_some(),
                peeked.is_some(),
                started.is_some(),
                received.is_some(),
                acquired.is_some(),
                released.is_some(),
                finished.is_some(),
            ]
            .iter()
            .all(|done| *done)
        },
    )
    .await;
}
