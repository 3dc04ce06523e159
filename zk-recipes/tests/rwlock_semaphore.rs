//! ReadWriteLock (pitfall 6), Semaphore and MultiLock.

mod common;

use common::*;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use zk_recipes::{Lock, MultiLock, ReadWriteLock, Semaphore};

/// Pitfall 6: W1 held, R queued, W2 queued → R gets the lock before W2,
/// W2 gets it after R, and nothing deadlocks.
#[tokio::test]
async fn pitfall6_reader_queued_before_writer_goes_first() {
    let env = env().await;
    let c1 = env.client().await;
    let c2 = env.client().await;
    let c3 = env.client().await;
    let w1 = ReadWriteLock::new(&c1, "/rw").write().await.unwrap();
    let order = Arc::new(Mutex::new(Vec::new()));

    let reader = {
        let order = order.clone();
        let rw = ReadWriteLock::new(&c2, "/rw");
        tokio::spawn(async move {
            let g = rw.read().await.unwrap();
            order.lock().unwrap().push("R acquired");
            g
        })
    };
    env.wait_children(&c1, "/rw", |c| c.len() == 2).await;
    let writer = {
        let order = order.clone();
        let rw = ReadWriteLock::new(&c3, "/rw");
        tokio::spawn(async move {
            let g = rw.write().await.unwrap();
            order.lock().unwrap().push("W2 acquired");
            g
        })
    };
    env.wait_children(&c1, "/rw", |c| c.len() == 3).await;
    assert!(order.lock().unwrap().is_empty());

    w1.release().await.unwrap();
    let r = within(PATIENCE, reader).await.unwrap();
    // W2 still waits for R.
    assert_eq!(*order.lock().unwrap(), vec!["R acquired"]);
    assert!(!writer.is_finished());
    order.lock().unwrap().push("R released");
    r.release().await.unwrap();
    let w2 = within(PATIENCE, writer).await.unwrap();
    assert_eq!(
        *order.lock().unwrap(),
        vec!["R acquired", "R released", "W2 acquired"]
    );
    w2.release().await.unwrap();
}

#[tokio::test]
async fn readers_share_writers_exclude_and_downgrade() {
    let env = env().await;
    let a = env.client().await;
    let b = env.client().await;
    let rw_a = ReadWriteLock::new(&a, "/rw2");
    let rw_b = ReadWriteLock::new(&b, "/rw2");
    let r1 = rw_a.read().await.unwrap();
    let r2 = within(PATIENCE, rw_b.read()).await.unwrap();
    assert!(rw_b.try_write().await.unwrap().is_none());
    r1.release().await.unwrap();
    r2.release().await.unwrap();

    let w = rw_a.write().await.unwrap();
    assert!(rw_b.try_read().await.unwrap().is_none());
    let node = w.node_path().to_string();
    assert!(node.contains("__WRIT__"));
    // Downgrade: the read lock is granted past our own writer at once.
    let r = within(Duration::from_secs(5), rw_a.downgrade(w))
        .await
        .unwrap();
    assert!(r.node_path().contains("__READ__"));
    assert!(a.exists(&node).await.unwrap().is_none(), "write released");
    // Other readers may join now; writers may not.
    let r3 = within(PATIENCE, rw_b.read()).await.unwrap();
    assert!(rw_b.try_write().await.unwrap().is_none());
    r.release().await.unwrap();
    r3.release().await.unwrap();
    let w = within(PATIENCE, rw_b.write()).await.unwrap();
    w.release().await.unwrap();
}

#[tokio::test]
async fn semaphore_bounds_holders() {
    let env = env().await;
    let clients = [env.client().await, env.client().await, env.client().await];
    let sems: Vec<_> = clients
        .iter()
        .map(|c| Semaphore::new(c, "/sem", 2).unwrap())
        .collect();
    assert!(Semaphore::new(&clients[0], "/sem", 0).is_err());
    let l1 = sems[0].acquire().await.unwrap();
    let l2 = sems[1].acquire().await.unwrap();
    assert!(l1.node_path().contains("/sem/leases/_c_") && l1.node_path().contains("-lease-"));
    assert!(sems[2].try_acquire().await.unwrap().is_none());
    assert_eq!(sems[2].participants().await.unwrap().len(), 2);
    let waiting = {
        let s = sems[2].clone();
        tokio::spawn(async move { s.acquire().await })
    };
    env.wait_children(&clients[0], "/sem/leases", |c| c.len() == 3)
        .await;
    assert!(!waiting.is_finished());
    l1.release().await.unwrap();
    let l3 = within(PATIENCE, waiting).await.unwrap().unwrap();
    assert_eq!(sems[0].participants().await.unwrap().len(), 2);
    drop(l2);
    let many = within(PATIENCE, sems[0].acquire_many(1)).await.unwrap();
    assert!(sems[0].acquire_many(3).await.is_err());
    assert!(sems[1]
        .acquire_timeout(Duration::from_millis(200))
        .await
        .is_err());
    for l in many {
        l.release().await.unwrap();
    }
    l3.release().await.unwrap();
    env.wait_children(&clients[0], "/sem/leases", |c| c.is_empty())
        .await;
}

#[tokio::test]
async fn multi_lock_all_or_nothing() {
    let env = env().await;
    let a = env.client().await;
    let b = env.client().await;
    let m = MultiLock::new(vec![Lock::new(&a, "/m/x"), Lock::new(&a, "/m/y")]);
    let g = m.acquire().await.unwrap();
    assert_eq!(g.guards().len(), 2);
    assert!(!g.is_lost());
    let only_y = Lock::new(&b, "/m/y");
    assert!(only_y.try_acquire().await.unwrap().is_none());
    g.release().await.unwrap();

    let held_y = only_y.acquire().await.unwrap();
    let m_b = MultiLock::new(vec![Lock::new(&b, "/m/x"), Lock::new(&b, "/m/y")]);
    assert!(m_b.try_acquire().await.unwrap().is_none());
    // x was given back when y could not be taken.
    env.wait_children(&a, "/m/x", |c| c.is_empty()).await;
    held_y.release().await.unwrap();
    let g = within(PATIENCE, m_b.acquire()).await.unwrap();
    g.release().await.unwrap();
}
