//! Mutex, semaphore, read/write lock and multi-lock against Curator's
//! `InterProcessMutex`, `InterProcessSemaphoreV2`,
//! `InterProcessReadWriteLock` and `InterProcessMultiLock`: exclusion
//! checked with ephemeral markers (twin: `Locks.java`).

use super::harness::{hold, Harness, Result};
use zk_client::CreateMode;
use zk_recipes::{Lock, MultiLock, ReadWriteLock, Semaphore};

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

/// `semaphore`: 2 leases among 4 + 4 contenders; a third holder is a
/// violation.
pub async fn semaphore(h: &Harness, phase: &str) -> Result<()> {
    if phase == "layout" {
        let c = h.new_client().await?;
        let root = h.layout_root(&c).await?;
        let lease = Semaphore::new(&c, format!("{root}/app/sem"), 2)?
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
            let sem = Semaphore::new(&c, h.path("sem"), 2)?;
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
                h.check(holders <= 2, || {
                    format!("{who} sees {holders} lease holders (max 2)")
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
