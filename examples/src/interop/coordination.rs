//! Barrier, double barrier, shared count and value, atomic long and group
//! member against Curator's `DistributedBarrier`, `DistributedDoubleBarrier`,
//! `SharedCount`, `SharedValue`, `DistributedAtomicLong` and `GroupMember`
//! (twin: `Coordination.java`).

use super::harness::{Harness, Result};
use bytes::Bytes;
use std::collections::BTreeMap;
use std::time::Duration;
use zk_recipes::{
    Barrier, DistributedAtomicLong, DoubleBarrier, GroupMember, PromotedToLock, SharedCounter,
    SharedValue,
};

/// `barrier` (directional: setter or waiter).
pub async fn barrier(h: &Harness, phase: &str) -> Result<()> {
    let c = h.new_client().await?;
    if phase == "layout" {
        let root = h.layout_root(&c).await?;
        let b = Barrier::new(&c, format!("{root}/app/barrier"));
        b.set().await?;
        h.dump(&c, &root).await?;
        b.remove().await?;
        return h.dump_after_reaping(&c, &root).await;
    }
    let b = Barrier::new(&c, h.path("barrier"));
    if h.role == "setter" {
        b.set().await?;
        h.gate(&c, "set").await?;
        let until = tokio::time::Instant::now() + Duration::from_secs(60);
        while h.count(&c, "log").await? < h.contenders && tokio::time::Instant::now() < until {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        let _ = c
            .create(&h.path("removed"), "", zk_client::CreateMode::Persistent)
            .await;
        b.remove().await?;
        return h.gate(&c, "done").await;
    }
    h.gate(&c, "set").await?;
    h.herd(|k| {
        let h = h.clone();
        async move {
            let mine = h.new_client().await?;
            let who = h.who(k);
            let waiting = Barrier::new(&mine, h.path("barrier"));
            h.log(&mine, &format!("{who} waits")).await?;
            if !waiting.wait_timeout(Duration::from_secs(60)).await? {
                h.violation(format!("{who} still waiting after 60s"));
            }
            let removed = mine.exists(&h.path("removed")).await?;
            h.check(removed.is_some(), || {
                format!("{who} passed the barrier before it was removed")
            });
            Ok(())
        }
    })
    .await;
    h.gate(&c, "done").await
}

/// `double-barrier`: 4 + 4 members; nobody passes `enter` (`leave`)
/// before all have entered (are leaving).
pub async fn double_barrier(h: &Harness, phase: &str) -> Result<()> {
    let first = h.new_client().await?;
    if phase == "layout" {
        let root = h.layout_root(&first).await?;
        let b = DoubleBarrier::new(&first, format!("{root}/app/dbl"), 1);
        b.enter().await?;
        h.dump(&first, &root).await?;
        b.leave().await?;
        return h.dump_after_reaping(&first, &root).await;
    }
    let members = h.peers * h.contenders;
    h.gate(&first, "start").await?;
    h.herd(|k| {
        let h = h.clone();
        async move {
            let c = h.new_client().await?;
            let who = h.who(k);
            let b = DoubleBarrier::new(&c, h.path("dbl"), members);
            h.log_to(&c, "entering", who.clone().into_bytes()).await?;
            if !b.enter_timeout(Duration::from_secs(60)).await? {
                h.violation(format!("{who} could not enter within 60s"));
                return Ok(());
            }
            let entered = h.count(&c, "entering").await?;
            h.check(entered == members, || {
                format!("{who} entered when {entered} of {members} had arrived")
            });
            h.log_to(&c, "leaving", who.clone().into_bytes()).await?;
            tokio::time::timeout(Duration::from_secs(60), b.leave()).await??;
            let left = h.count(&c, "leaving").await?;
            h.check(left == members, || {
                format!("{who} left when {left} of {members} were leaving")
            });
            Ok(())
        }
    })
    .await;
    Ok(())
}

/// `shared-count`: 4 + 4 contenders each add 1 `rounds` times.
pub async fn shared_count(h: &Harness, phase: &str) -> Result<()> {
    let first = h.new_client().await?;
    if phase == "layout" {
        let root = h.layout_root(&first).await?;
        let count = SharedCounter::new(&first, format!("{root}/app/count"), 7);
        count.get().await?;
        h.dump(&first, &root).await?;
        first.delete(&format!("{root}/app/count"), None).await?;
        return h.dump_after_reaping(&first, &root).await;
    }
    h.gate(&first, "start").await?;
    h.herd(|_| {
        let h = h.clone();
        async move {
            let c = h.new_client().await?;
            let count = SharedCounter::new(&c, h.path("count"), 0);
            for _ in 0..h.rounds {
                count.add(1).await?;
            }
            Ok(())
        }
    })
    .await;
    h.gate(&first, "done").await?;
    let (raw, _) = first.get_data(&h.path("count")).await?;
    let want = h.peers * h.contenders * h.rounds;
    let total = <[u8; 4]>::try_from(raw.as_ref())
        .ok()
        .map(i32::from_be_bytes);
    h.check(total == Some(want as i32), || {
        format!("shared count is {raw:?}, expected {want} as 4 bytes")
    });
    Ok(())
}

/// `shared-value`: arbitrary bytes; each contender appends its tokens
/// with compare-and-set, and in the end the value holds every token of
/// both sides exactly once.
pub async fn shared_value(h: &Harness, phase: &str) -> Result<()> {
    let first = h.new_client().await?;
    if phase == "layout" {
        let root = h.layout_root(&first).await?;
        let value = SharedValue::new(&first, format!("{root}/app/value"), &b"\0s\xff"[..]);
        value.get().await?;
        h.dump(&first, &root).await?;
        first.delete(&format!("{root}/app/value"), None).await?;
        return h.dump_after_reaping(&first, &root).await;
    }
    h.gate(&first, "start").await?;
    h.herd(|k| {
        let h = h.clone();
        async move {
            let c = h.new_client().await?;
            let value = SharedValue::new(&c, h.path("value"), Bytes::new());
            for r in 0..h.rounds {
                let token = format!("{}-{r};", h.who(k));
                loop {
                    let current = value.get().await?;
                    let mut next = current.value.to_vec();
                    next.extend_from_slice(token.as_bytes());
                    if value.try_set(next, current.version).await? {
                        break;
                    }
                }
            }
            Ok(())
        }
    })
    .await;
    h.gate(&first, "done").await?;
    let (raw, _) = first.get_data(&h.path("value")).await?;
    let all = String::from_utf8_lossy(&raw);
    let mut got: Vec<&str> = all.split(';').filter(|t| !t.is_empty()).collect();
    got.sort_unstable();
    let mut want = Vec::new();
    for side in ["java", "rust"] {
        for k in 0..h.contenders {
            for r in 0..h.rounds {
                want.push(format!("{side}-{k}-{r}"));
            }
        }
    }
    want.sort_unstable();
    h.check(got == want, || {
        format!(
            "shared value holds {} tokens {got:?}, expected {}",
            got.len(),
            want.len()
        )
    });
    Ok(())
}

/// Two optimistic tries, then promoted to the lock (20 tries under it), as
/// the Java side.
fn atomic_long(c: &zk_client::Client, path: String, lock_path: String) -> DistributedAtomicLong {
    DistributedAtomicLong::new(c, path)
        .optimistic_tries(2)
        .promoted_to_lock(PromotedToLock::new(lock_path, Duration::from_secs(30)).tries(20))
}

/// `atomic-long`: 4 + 4 contenders each increment `rounds` times;
/// contention promotes some to the shared lock.
pub async fn atomic(h: &Harness, phase: &str) -> Result<()> {
    let first = h.new_client().await?;
    if phase == "layout" {
        let root = h.layout_root(&first).await?;
        let n = atomic_long(
            &first,
            format!("{root}/app/n"),
            format!("{root}/app/n-lock"),
        );
        let v = n.add(5).await?;
        h.check(v.succeeded && v.post == 5, || "layout add failed".into());
        h.dump(&first, &root).await?;
        first.delete(&format!("{root}/app/n"), None).await?;
        return h.dump_after_reaping(&first, &root).await;
    }
    h.gate(&first, "start").await?;
    h.herd(|_| {
        let h = h.clone();
        async move {
            let c = h.new_client().await?;
            let n = atomic_long(&c, h.path("n"), h.path("n-lock"));
            for _ in 0..h.rounds {
                while !n.increment().await?.succeeded {}
            }
            Ok(())
        }
    })
    .await;
    h.gate(&first, "done").await?;
    let (raw, _) = first.get_data(&h.path("n")).await?;
    let want = (h.peers * h.contenders * h.rounds) as i64;
    let total = <[u8; 8]>::try_from(raw.as_ref())
        .ok()
        .map(i64::from_be_bytes);
    h.check(total == Some(want), || {
        format!("atomic long is {raw:?}, expected {want} as 8 bytes")
    });
    Ok(())
}

/// `group-member`: 4 + 4 members; each sees all 8 with their payloads.
pub async fn group_member(h: &Harness, phase: &str) -> Result<()> {
    let first = h.new_client().await?;
    if phase == "layout" {
        let root = h.layout_root(&first).await?;
        let m = GroupMember::new(&first, format!("{root}/app/group"), "m1", "p");
        m.start().await?;
        h.dump(&first, &root).await?;
        m.close().await?;
        return h.dump_after_reaping(&first, &root).await;
    }
    let members = h.peers * h.contenders;
    h.gate(&first, "start").await?;
    h.herd(|k| {
        let h = h.clone();
        async move {
            let c = h.new_client().await?;
            let who = h.who(k);
            let m = GroupMember::new(&c, h.path("group"), who.clone(), format!("{who} payload"));
            m.start().await?;
            let until = tokio::time::Instant::now() + Duration::from_secs(60);
            let mut seen = m.members().await?;
            while !complete(&seen, members) && tokio::time::Instant::now() < until {
                tokio::time::sleep(Duration::from_millis(50)).await;
                seen = m.members().await?;
            }
            h.check(complete(&seen, members), || {
                format!("{who} sees {:?}", seen.keys().collect::<Vec<_>>())
            });
            h.gate_as(&c, "seen", &who, members).await?;
            m.close().await?;
            Ok(())
        }
    })
    .await;
    Ok(())
}

fn complete(seen: &BTreeMap<String, bytes::Bytes>, members: usize) -> bool {
    seen.len() == members
        && seen
            .iter()
            .all(|(id, payload)| payload.as_ref() == format!("{id} payload").as_bytes())
}
