//! Mutex, semaphore, read/write lock and multi-lock against Curator's
//! `InterProcessMutex`, `InterProcessSemaphoreV2`,
//! `InterProcessReadWriteLock` and `InterProcessMultiLock`: exclusion
//! checked with ephemeral markers (twin: `Locks.java`).

use super::harness::{hold, Harness, Result};
use zk_client::CreateMode;
use zk_recipes::{attempt_revoke, Lock, MultiLock, ReadWriteLock, ReentrantLock, Semaphore};

/// `mutex`: 4 + 4 contenders take turns; two holders at once is a violation.
pub async fn mutex(h: &Harness, phase: &str) -> Result<()> {
    if phase == "layout" {
        let c = h.new_client().await?;
        let root = h.layout_root(&c).await?;
        let guard = Lock::new(&c, format!("{root}/app/lock")).acquire().await?;
        h.dump(&c, &root).await?;
        guard.release().await?;
        return h.dump_after_reaping(&c, &root).await;
    }
    let first = h.new_client().await?;
    h.gate(&first, "start").await?;
    h.herd(|k| {
        let h = h.clone();
        async move {
            let c = h.new_client().await?;
            let lock = Lock::new(&c, h.path("lock"));
            let who = h.who(k);
            for _ in 0..h.rounds {
                let guard = lock.acquire().await?;
                h.enter(&c, "held", &who).await?;
                h.log(&c, &format!("{who} holds")).await?;
                hold().await;
                h.leave(&c, "held").await?;
                guard.release().await?;
            }
            Ok(())
        }
    })
    .await;
    h.expect_log(&first, h.peers * h.contenders * h.rounds)
        .await
}

/// `semaphore`: 2 leases among 4 + 4 contenders; `semaphore-mutex`
/// (`max` 1): the twin of Curator's `InterProcessSemaphoreMutex`. More
/// holders than leases is a violation.
pub async fn semaphore(h: &Harness, phase: &str, max: usize) -> Result<()> {
    if phase == "layout" {
        let c = h.new_client().await?;
        let root = h.layout_root(&c).await?;
        let lease = Semaphore::new(&c, format!("{root}/app/sem"), max)?
            .acquire()
            .await?;
        h.dump(&c, &root).await?;
        lease.release().await?;
        return h.dump_after_reaping(&c, &root).await;
    }
    let first = h.new_client().await?;
    let _ = first
        .create_all(&h.path("holders"), "", CreateMode::Persistent)
        .await;
    h.gate(&first, "start").await?;
    h.herd(|k| {
        let h = h.clone();
        async move {
            let c = h.new_client().await?;
            let sem = Semaphore::new(&c, h.path("sem"), max)?;
            let who = h.who(k);
            for _ in 0..h.rounds {
                let lease = sem.acquire().await?;
                let (marker, _) = c
                    .create(
                        &h.path("holders/h-"),
                        who.clone(),
                        CreateMode::EphemeralSequential,
                    )
                    .await?;
                let holders = c.get_children(&h.path("holders")).await?.len();
                h.check(holders <= max, || {
                    format!("{who} sees {holders} lease holders (max {max})")
                });
                h.log(&c, &format!("{who} leases")).await?;
                hold().await;
                c.delete(&marker, None).await?;
                lease.release().await?;
            }
            Ok(())
        }
    })
    .await;
    h.expect_log(&first, h.peers * h.contenders * h.rounds)
        .await
}

/// `rwlock`: even contenders write, odd ones read; a writer alongside any
/// other holder is a violation.
pub async fn rwlock(h: &Harness, phase: &str) -> Result<()> {
    if phase == "layout" {
        let c = h.new_client().await?;
        let root = h.layout_root(&c).await?;
        let rw = ReadWriteLock::new(&c, format!("{root}/app/rw"));
        let w = rw.write().await?;
        h.dump(&c, &root).await?;
        w.release().await?;
        let r = rw.read().await?;
        h.dump(&c, &root).await?;
        r.release().await?;
        return h.dump_after_reaping(&c, &root).await;
    }
    let first = h.new_client().await?;
    let _ = first
        .create_all(&h.path("readers"), "", CreateMode::Persistent)
        .await;
    h.gate(&first, "start").await?;
    h.herd(|k| {
        let h = h.clone();
        async move {
            let c = h.new_client().await?;
            let rw = ReadWriteLock::new(&c, h.path("rw"));
            let who = h.who(k);
            for _ in 0..h.rounds {
                if k % 2 == 0 {
                    let guard = rw.write().await?;
                    h.enter(&c, "writer", &who).await?;
                    let readers = c.get_children(&h.path("readers")).await?.len();
                    h.check(readers == 0, || {
                        format!("{who} writes while {readers} read")
                    });
                    h.log(&c, &format!("{who} writes")).await?;
                    hold().await;
                    h.leave(&c, "writer").await?;
                    guard.release().await?;
                } else {
                    let guard = rw.read().await?;
                    let (marker, _) = c
                        .create(
                            &h.path("readers/r-"),
                            who.clone(),
                            CreateMode::EphemeralSequential,
                        )
                        .await?;
                    let writer = c.exists(&h.path("writer")).await?;
                    h.check(writer.is_none(), || {
                        format!("{who} reads while a writer writes")
                    });
                    h.log(&c, &format!("{who} reads")).await?;
                    hold().await;
                    c.delete(&marker, None).await?;
                    guard.release().await?;
                }
            }
            Ok(())
        }
    })
    .await;
    h.expect_log(&first, h.peers * h.contenders * h.rounds)
        .await
}

/// `multilock`: all contenders take the locks `a` and `b` together.
pub async fn multilock(h: &Harness, phase: &str) -> Result<()> {
    if phase == "layout" {
        let c = h.new_client().await?;
        let root = h.layout_root(&c).await?;
        let m = MultiLock::new(vec![
            Lock::new(&c, format!("{root}/app/a")),
            Lock::new(&c, format!("{root}/app/b")),
        ]);
        let guard = m.acquire().await?;
        h.dump(&c, &root).await?;
        guard.release().await?;
        return h.dump_after_reaping(&c, &root).await;
    }
    let first = h.new_client().await?;
    h.gate(&first, "start").await?;
    h.herd(|k| {
        let h = h.clone();
        async move {
            let c = h.new_client().await?;
            let m = MultiLock::new(vec![Lock::new(&c, h.path("a")), Lock::new(&c, h.path("b"))]);
            let who = h.who(k);
            for _ in 0..h.rounds {
                let guard = m.acquire().await?;
                h.enter(&c, "held", &who).await?;
                h.log(&c, &format!("{who} holds")).await?;
                hold().await;
                h.leave(&c, "held").await?;
                guard.release().await?;
            }
            Ok(())
        }
    })
    .await;
    h.expect_log(&first, h.peers * h.contenders * h.rounds)
        .await
}

/// `reentrant-mutex`: Curator's mutex is re-entrant per thread, ours per
/// owner; each contender takes the lock twice (one node only).
pub async fn reentrant(h: &Harness, phase: &str) -> Result<()> {
    if phase == "layout" {
        let c = h.new_client().await?;
        let root = h.layout_root(&c).await?;
        let owner = ReentrantLock::new(&c, format!("{root}/app/lock"));
        let outer = owner.acquire().await?;
        let inner = owner.acquire().await?;
        h.dump(&c, &root).await?;
        inner.release().await?;
        outer.release().await?;
        return h.dump_after_reaping(&c, &root).await;
    }
    let first = h.new_client().await?;
    h.gate(&first, "start").await?;
    h.herd(|k| {
        let h = h.clone();
        async move {
            let c = h.new_client().await?;
            let owner = ReentrantLock::new(&c, h.path("lock"));
            let who = h.who(k);
            for _ in 0..h.rounds {
                let outer = owner.acquire().await?;
                h.enter(&c, "held", &who).await?;
                let inner = owner.acquire().await?;
                h.log(&c, &format!("{who} holds twice")).await?;
                hold().await;
                inner.release().await?;
                h.leave(&c, "held").await?;
                outer.release().await?;
            }
            Ok(())
        }
    })
    .await;
    h.expect_log(&first, h.peers * h.contenders * h.rounds)
        .await
}

/// `revocation` (directional): the holder releases when asked (Curator's
/// revocation protocol); the revoker asks and then gets the lock.
pub async fn revocation(h: &Harness, _phase: &str) -> Result<()> {
    let c = h.new_client().await?;
    let lock_path = h.path("lock");
    if h.role == "holder" {
        let guard = Lock::new(&c, lock_path).acquire().await?;
        let asked = guard.revoke_requested();
        c.create_all(&h.path("held"), "", CreateMode::Persistent)
            .await?;
        if tokio::time::timeout(std::time::Duration::from_secs(60), asked)
            .await
            .is_err()
        {
            h.violation("never asked to release");
        }
        h.log(&c, "holder released on request").await?;
        guard.release().await?;
        return h.gate(&c, "done").await;
    }
    let until = tokio::time::Instant::now() + std::time::Duration::from_secs(60);
    while c.exists(&h.path("held")).await?.is_none() && tokio::time::Instant::now() < until {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let nodes = c.get_children(&lock_path).await?;
    h.check(nodes.len() == 1, || format!("lock nodes {nodes:?}"));
    attempt_revoke(&c, &format!("{lock_path}/{}", nodes[0])).await?;
    let mine = Lock::new(&c, lock_path)
        .acquire_timeout(std::time::Duration::from_secs(60))
        .await?;
    let released = h.count(&c, "log").await?;
    h.check(released == 1, || {
        "acquired before the holder released".into()
    });
    mine.release().await?;
    h.gate(&c, "done").await
}
